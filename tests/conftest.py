"""Shared fixtures: the real report, the real model, the real index (built once per checkout)."""
from __future__ import annotations

import pytest

from qa import ReportQA
from qa.ingest.document import read_report
from qa.engine import BUNDLED_REPORT
from eval.gold import REPORTS


@pytest.fixture(scope="session")
def qa() -> ReportQA:
    return ReportQA.load()


@pytest.fixture(scope="session")
def doc():
    return read_report(BUNDLED_REPORT)


@pytest.fixture(scope="session")
def small_report(tmp_path_factory):
    """The report's first pages (title to the end of part one's section 2), as the PDF gave them."""
    lines = BUNDLED_REPORT.read_text(encoding="utf-8").splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip().startswith("（三）产业升级"))
    path = tmp_path_factory.mktemp("report") / "small.txt"
    path.write_text("\n".join(lines[:end]) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def library():
    """The evaluation's library: the bundled report and the ten reports of reports/ in the gold set
    (built once per checkout in index/eval-library, as `python -m eval.run` uses it)."""
    from eval.gold import load_all_gold, open_library
    return open_library(list(dict.fromkeys(g["report"] for g in load_all_gold())))


@pytest.fixture(scope="session")
def jilin_part(tmp_path_factory):
    """The first part of a report of reports/ (one paragraph per line): a second, small report."""
    lines = (REPORTS / "jilin-2025.txt").read_text(encoding="utf-8").splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.startswith("二、2025年工作安排"))
    path = tmp_path_factory.mktemp("jilin") / "jilin-2025.txt"
    path.write_text("\n".join(lines[:end + 3]) + "\n", encoding="utf-8")
    return path
