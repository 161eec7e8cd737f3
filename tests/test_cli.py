"""The command line as a user runs it: `python -m qa …` in a subprocess, with the real model and
real reports.  The library tests use a temporary library of two reports' opening pages (reports/)
(~40 lines each, so embedding stays quick); `figures` reads the bundled report."""
import csv
import io
import json
import re
import shutil
import signal
import subprocess
import sys
import time

import pypdfium2
import pytest

from qa import ReportQA
from qa.cli import FIGURE_COLUMNS

from eval.gold import REPORTS

OPENING_LINES = 40


def _run(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "qa", *map(str, args)], capture_output=True,
                          encoding="utf-8", timeout=timeout)


def _ok(*args) -> str:
    r = _run(*args)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _refused(*args, words: str | list[str]):
    """Bad input: one `error:` line per problem, each naming it; status 2, no traceback, nothing on stdout."""
    r = _run(*args)
    assert r.returncode == 2, (args, r.stdout, r.stderr)
    words = [words] if isinstance(words, str) else words
    lines = r.stderr.strip().splitlines()[-len(words):]
    assert all(ln.startswith("error: ") and w in ln for ln, w in zip(lines, words)), (args, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""


# -- the bundled report, the default library --------------------------------------------------
def test_ask_json_prints_the_answer_dict(qa):
    r = _run("ask", "What was the growth of technology contract turnover in 2023?", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= {"question", "found", "text", "citations", "passages", "confidence", "report"}


def test_ask_prints_answer_and_citation(qa):
    r = _run("ask", "技术合同成交额增长了多少？")
    assert r.returncode == 0, r.stderr
    assert "33.4%" in r.stdout and "（二）创新能力明显提升" in r.stdout
    assert "2024年河南政府工作报告 (henan-2024)" in r.stdout      # the report it quotes


def test_bad_inputs_exit_2_with_a_message_and_no_traceback(tmp_path):
    for args, words in [(["ask", "  "], "empty"),
                        (["ask", "x" * 10_000], "characters long"),
                        (["build", str(tmp_path / "missing.txt"), "--index", str(tmp_path / "i")], "not found")]:
        r = _run(*args)
        assert r.returncode == 2 and words in r.stderr and "Traceback" not in r.stderr


def test_build_another_report_into_its_own_index(small_report, tmp_path):
    r = _run("build", str(small_report), "--index", str(tmp_path / "other"))
    assert r.returncode == 0, r.stderr
    assert "Indexed" in r.stdout and (tmp_path / "other" / "CURRENT").exists()
    built = json.loads(_ok("build", str(small_report), "--index", str(tmp_path / "other"), "--json"))
    assert [r["id"] for r in built["reports"]] == ["henan-2024"] and built["model"]


def test_figures_csv_lists_the_2024_targets_and_2023_results_with_exact_citations(qa):
    rows = list(csv.DictReader(io.StringIO(_ok("figures", "--report", "henan-2024", "--csv"))))
    assert rows and tuple(rows[0]) == FIGURE_COLUMNS
    got = {(r["indicator"], r["value"], r["unit"], r["kind"], r["year"]) for r in rows}
    assert {("经济增长", "5.5", "%", "target", "2024"), ("城镇新增就业", "110", "万人", "target", "2024"),
            ("粮食产量", "1300", "亿斤", "target", "2024"), ("居民消费价格涨幅", "3", "%", "target", "2024"),
            ("生产总值", "4.1", "%", "actual", "2023"), ("城镇新增就业", "119.3", "万人", "actual", "2023"),
            ("粮食产量", "1324.9", "亿斤", "actual", "2023"),
            ("技术合同成交额", "33.4", "%", "actual", "2023")} <= got
    text = qa.text_of("henan-2024")
    assert all(text[int(r["start"]):int(r["end"])] == r["quote"] for r in rows)
    header, *targets = _ok("figures", "--report", "henan-2024", "--kind", "target").splitlines()
    assert header.split() == list(FIGURE_COLUMNS)
    assert len(targets) == sum(r["kind"] == "target" for r in rows)
    assert all(" target " in row for row in targets)


# -- a library of two reports ----------------------------------------------------------------
@pytest.fixture(scope="module")
def library(tmp_path_factory):
    """A library holding the opening pages of the 2025 Jilin and national reports, added by `add`."""
    tmp = tmp_path_factory.mktemp("cli")
    files = []
    for name in ("jilin-2025", "national-2025"):
        lines = (REPORTS / f"{name}.txt").read_text(encoding="utf-8").splitlines()[:OPENING_LINES]
        files.append(tmp / f"{name}-opening.txt")
        files[-1].write_text("\n".join(lines) + "\n", encoding="utf-8")
    root = tmp / "library"
    added = json.loads(_ok("add", *files, "--library", root, "--json"))
    assert [r["id"] for r in added] == ["jilin-2025", "national-2025"]
    return root, files


def test_add_recognises_a_report_already_in_the_library(library):
    root, files = library
    out = _ok("add", files[0], "--library", root)
    assert out.startswith("jilin-2025  2025年吉林省政府工作报告") and "(already in the library)" in out


def test_list_gives_each_report_s_record(library):
    root, _ = library
    reports = json.loads(_ok("list", "--library", root, "--json"))
    assert [r["id"] for r in reports] == ["jilin-2025", "national-2025"]      # each stored once
    jilin = reports[0]
    assert (jilin["id"], jilin["region"], jilin["year"], jilin["date"], jilin["speaker"]) == \
        ("jilin-2025", "吉林", 2025, "2025-01-14", "胡玉亭")
    assert all(r["chars"] > 0 and r["chunks"] > 0 for r in reports)
    table = _ok("list", "--library", root).splitlines()
    assert table[0].split() == ["id", "title", "region", "year", "date", "speaker", "chars", "chunks"]
    assert table[1].startswith("jilin-2025 ") and "2025年吉林省政府工作报告" in table[1]


def test_ask_one_report_says_which_report_it_quotes(library):
    root, _ = library
    out = _ok("ask", "城镇新增就业多少人？", "--report", "national-2025", "--library", root)
    assert out.startswith("城镇新增就业1256万人")
    assert "[1] 2025年全国政府工作报告 (national-2025)" in out


def test_compare_answers_from_each_report_its_own_text(library):
    root, _ = library
    answers = json.loads(_ok("compare", "城镇新增就业多少人？", "--report", "national-2025", "--report", "jilin-2025",
                             "--library", root, "--json"))
    assert [a["report"] for a in answers] == ["national-2025", "jilin-2025"]      # in the order asked
    qa = ReportQA.load(library=root, progress=False)
    for a in answers:
        text, c = qa.text_of(a["report"]), a["citations"][0]
        assert a["found"] and a["text"] in text and text[c["start"]:c["end"]] == c["quote"]
    assert "1256万人" in answers[0]["text"] and "23.35万人" in answers[1]["text"]


def test_compare_table_says_when_a_report_does_not_state_it(library):
    root, _ = library
    rows = _ok("compare", "地区生产总值增长的预期目标是多少？", "--library", root).splitlines()
    assert rows[0].split() == ["report", "answer", "section"]
    assert rows[1].startswith("jilin-2025 ") and "5.5％" in rows[1] and "二、2025年工作安排" in rows[1]
    assert rows[2].startswith("national-2025 ") and rows[2].endswith("—  not stated")


def test_remove_takes_the_report_out(library, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(library[0], root)        # the other tests keep the two-report library
    assert _ok("remove", "national-2025", "--library", root).startswith("Removed national-2025")
    assert [r.id for r in ReportQA.load(library=root, progress=False).reports()] == ["jilin-2025"]
    gone = json.loads(_ok("remove", "jilin-2025", "--library", root, "--json"))     # JSON only on stdout
    assert gone["id"] == "jilin-2025" and gone["region"] == "吉林"
    assert ReportQA.load(library=root, progress=False).reports() == []


def test_bad_library_inputs_are_refused_and_store_nothing(library, tmp_path):
    root, files = library
    live = (root / "CURRENT").read_text()    # any write swaps in a new generation
    good = tmp_path / "good.txt"        # a report not in the library, beside the bad files
    good.write_text("\n".join(files[1].read_text(encoding="utf-8").splitlines()[:20]), encoding="utf-8")
    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    bad = {"missing.txt": (None, "not found"), "photo.png": (png, ".png files are not supported"),
           "photo.txt": (png, "PNG image"), "empty.txt": (b"", "is empty"),
           "novel.txt": (b"It was the best of times, it was the worst of times. " * 40,
                         "does not look like a Chinese report"),
           "scanned.pdf": (_blank_pdf(), "no text layer")}
    for name, (data, _) in bad.items():
        if data is not None:
            (tmp_path / name).write_bytes(data)
    # Every bad file is named, one line each, and the good file beside them is not stored either.
    _refused("add", good, *(tmp_path / name for name in bad), "--library", root,
             words=[words for _, words in bad.values()])
    _refused("ask", "城镇新增就业多少人？", "--report", "nope", "--library", root, words="No report 'nope'")
    _refused("figures", "--kind", "nonsense", "--library", root, words="invalid choice: 'nonsense'")
    _refused("ask", "城镇新增就业多少人？", "--library", tmp_path / "empty-library", words="no reports")
    _refused("compare", "城镇新增就业多少人？", "--library", tmp_path / "empty-library", words="no reports")
    assert (root / "CURRENT").read_text() == live


def _blank_pdf() -> bytes:
    """A PDF page without a text layer, as a scan without OCR is."""
    pdf, out = pypdfium2.PdfDocument.new(), io.BytesIO()
    pdf.new_page(595, 842)
    pdf.save(out)
    return out.getvalue()


def test_an_interrupted_add_says_what_was_added_and_keeps_the_library_whole(library, tmp_path):
    root = tmp_path / "copy"
    shutil.copytree(library[0], root)
    _ok("remove", "national-2025", "--library", root)
    proc = subprocess.Popen([sys.executable, "-m", "qa", "add", str(REPORTS / "hebei-2025.txt"), "--library", str(root)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, encoding="utf-8")
    time.sleep(3)                                  # started, and embedding a whole report (10 s or more)
    proc.send_signal(signal.SIGTERM)               # `kill`, as Ctrl+C would
    out, err = proc.communicate(timeout=120)
    if proc.returncode in (0, -signal.SIGTERM):
        pytest.skip("the signal arrived after the add finished, or before the command had started")
    assert proc.returncode == 130 and "Traceback" not in err
    said = re.search(r"interrupted: added (.+?); the other files were not added", err)
    assert said, err
    ids = [r["id"] for r in json.loads(_ok("list", "--library", root, "--json"))]
    assert ids == ["jilin-2025"] + ([] if said.group(1) == "none" else ["hebei-2025"])   # as it said
