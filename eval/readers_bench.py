"""Measure the PDF text extractors, and the readers end to end, on the repository's reports (reports/).

Each report is laid out as a PDF (reportlab, STSong-Light, footer "— N —" on every page, the
title as running header on later pages) and as a .docx, then read back.  Prints the tables in
eval/readers.md.  Run: python -m eval.readers_bench [/path/to/corpus/reports]
"""
from __future__ import annotations

import difflib
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from qa.ingest.readers import read_text
from tests.report_files import make_docx, make_pdf, report_lines

from .gold import REPORTS

CORPUS = Path(sys.argv[1]) if len(sys.argv) > 1 else REPORTS
RUNS = 3


def squash(text: str) -> str:
    """The visible characters: no whitespace, no zero-width format characters (U+200B in
    national-2021.txt), which a PDF does not show and pypdfium2 does not extract."""
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch) != "Cf")


def with_pypdf(path: Path) -> str:
    import pypdf

    return "\n".join(page.extract_text() for page in pypdf.PdfReader(path).pages)


def with_pypdfium2(path: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(path)
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


def fastest(fn, path: Path) -> tuple[str, float]:
    times, text = [], ""
    for _ in range(RUNS):
        start = time.perf_counter()
        text = fn(path)
        times.append(time.perf_counter() - start)
    return text, min(times)


def main() -> None:
    extractors = {"pypdf": with_pypdf, "pypdfium2": with_pypdfium2, "read_text (pypdfium2 + cleaning)": read_text}
    rows = {name: [] for name in extractors}
    exact = {"pdf": 0, "docx": 0, "gb18030": 0}
    reports = sorted(CORPUS.glob("*.txt"))
    with tempfile.TemporaryDirectory() as tmp:
        for report in reports:
            source = squash(report.read_text(encoding="utf-8"))
            lines = report_lines(report)
            pdf = make_pdf(lines, Path(tmp) / f"{report.stem}.pdf", header=lines[0])
            for name, fn in extractors.items():
                text, seconds = fastest(fn, pdf)
                got = squash(text)
                ratio = difflib.SequenceMatcher(None, source, got, autojunk=False).ratio()
                rows[name].append((len(source), len(got), ratio, seconds))
                exact["pdf"] += name.startswith("read_text") and got == source
            docx = make_docx(lines, Path(tmp) / f"{report.stem}.docx")
            exact["docx"] += squash(read_text(docx)) == source
            gb = Path(tmp) / f"{report.stem}.txt"
            gb.write_bytes(report.read_text(encoding="utf-8").encode("gb18030"))
            exact["gb18030"] += squash(read_text(gb)) == source
    print(f"{len(reports)} reports, {sum(r[0] for r in rows['pypdf'])} source characters (no whitespace)\n")
    print("| extractor | characters kept | extra characters | similarity, mean (min) | time per report, median |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        kept = sum(r_[1] for r_ in r)
        src = sum(r_[0] for r_ in r)
        ratios = [r_[2] for r_ in r]
        print(f"| {name} | {kept:,} | {kept - src:+,} | {statistics.mean(ratios):.4f} ({min(ratios):.4f}) "
              f"| {statistics.median(r_[3] for r_ in r) * 1000:.0f} ms |")
    print(f"\nexact (every non-whitespace character, in order, nothing else): "
          + ", ".join(f"{k} {v}/{len(reports)}" for k, v in exact.items()))


if __name__ == "__main__":
    main()
