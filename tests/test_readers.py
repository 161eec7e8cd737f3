"""Report files of every accepted kind read back as the report's text; anything else is refused.

The PDFs and .docx files are made here from two of the repository's reports (see report_files.py), so the
reader meets what real report files carry: hard-wrapped lines, page footers, running headers.
"""
from __future__ import annotations

import codecs
import os
import re
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from qa.errors import ReportError
from qa.ingest.readers import MAX_BYTES, detect_format, read_text
from tests.report_files import make_docx, make_pdf, make_scanned_pdf, report_lines

from eval.gold import REPORTS as CORPUS

REPORTS = ["zhejiang-2025", "national-2025"]
FOOTER_RE = re.compile(r"^[-—]\s*\d+\s*[-—]$|^第\s*\d+\s*页$|^\d+$")



def squash(text: str) -> str:
    return re.sub(r"\s", "", text)


def source(name: str) -> str:
    return (CORPUS / f"{name}.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module", params=REPORTS)
def report(request, tmp_path_factory):
    """(name, source text, paragraph lines, PDF made from them)."""
    name = request.param
    lines = report_lines(CORPUS / f"{name}.txt")
    # The running header is the report's first line, so it also stands in the body on page 1.
    pdf = make_pdf(lines, tmp_path_factory.mktemp(name) / f"{name}.pdf", header=lines[0])
    return name, source(name), lines, pdf


def test_pdf_keeps_every_character_in_order_and_no_header_footer_or_page_number(report):
    name, text, lines, pdf = report
    got = read_text(pdf).splitlines()
    assert squash("".join(got)) == squash(text)
    assert not [ln for ln in got if FOOTER_RE.match(ln)]
    # The header repeats on every page but one; only the body's own copies are left.
    assert got.count(lines[0]) == lines.count(lines[0])
    # Lines come as the page wraps them, for the parser to re-join.
    assert len(got) > 2 * len(lines) and max(map(len, got)) < 60


@pytest.mark.parametrize("footer", ["- {} -", "第{}页", "{}", "第 {} 页 共 99 页"])
def test_pdf_page_number_styles_are_dropped(footer, tmp_path):
    lines = report_lines(CORPUS / "national-2025.txt")
    pdf = make_pdf(lines, tmp_path / "r.pdf", header="2025年政府工作报告", footer=footer)
    got = read_text(pdf)
    assert squash(got) == squash(source("national-2025"))


def test_single_page_pdf_drops_its_page_number(tmp_path):
    """One page: nothing recurs, so the page number is known by its form alone."""
    lines = report_lines(CORPUS / "zhejiang-2025.txt")[:5]
    got = read_text(make_pdf(lines, tmp_path / "short.pdf", header="", footer="— {} —"))
    assert got.splitlines()[-1] != "— 1 —"
    assert squash(got) == squash("".join(lines))


def test_pdf_under_another_extension_is_read_as_pdf(report, tmp_path):
    _, text, _, pdf = report
    renamed = tmp_path / "report.txt"
    renamed.write_bytes(pdf.read_bytes())
    assert detect_format(renamed) == "pdf"
    assert squash(read_text(renamed)) == squash(text)


def test_pdf_encrypted_without_a_user_password_is_read(report, tmp_path):
    """An owner password only restricts editing; the text is readable, so it is read."""
    _, text, _, pdf = report
    path = _encrypted(pdf, tmp_path / "owner.pdf", user_password="")
    assert squash(read_text(path)) == squash(text)


@pytest.mark.parametrize("name", REPORTS)
def test_docx_gives_paragraphs_in_order_one_per_line_without_header_or_footer(name, tmp_path):
    lines = report_lines(CORPUS / f"{name}.txt")
    path = make_docx(lines, tmp_path / f"{name}.docx", header="政府工作报告 页眉")
    assert detect_format(path) == "docx"
    assert read_text(path).splitlines() == lines


def test_docx_tables_row_by_row_merged_cells_once(tmp_path):
    import docx

    lines = report_lines(CORPUS / "zhejiang-2025.txt")
    document = docx.Document()
    document.add_paragraph(lines[0])
    table = document.add_table(rows=3, cols=2)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "主要指标"
    for row, cells in enumerate([("生产总值增长", "5.5%"), ("居民收入增长", "4.3%")], start=1):
        for col, value in enumerate(cells):
            table.cell(row, col).text = value
    document.add_paragraph(lines[1])
    document.save(tmp_path / "t.docx")
    assert read_text(tmp_path / "t.docx").splitlines() == [
        lines[0], "主要指标", "生产总值增长", "5.5%", "居民收入增长", "4.3%", lines[1]]


ENCODINGS = {
    "utf-8": lambda t: t.encode("utf-8"),
    "utf-8 with BOM": lambda t: t.encode("utf-8-sig"),
    "utf-16-le with BOM": lambda t: codecs.BOM_UTF16_LE + t.encode("utf-16-le"),
    "utf-16-be with BOM": lambda t: codecs.BOM_UTF16_BE + t.encode("utf-16-be"),
    "gb18030": lambda t: t.encode("gb18030"),
    "gbk": lambda t: t.encode("gbk"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("name", REPORTS)
def test_txt_in_any_common_encoding_reads_back_identical(name, encoding, tmp_path):
    text = source(name)
    path = tmp_path / "report"                 # no extension: read as text
    path.write_bytes(ENCODINGS[encoding](text.replace("\n", "\r\n")))
    assert read_text(path) == "\n".join(text.splitlines())


def test_reading_text_does_not_import_the_pdf_or_docx_libraries():
    code = ("import sys; from qa.ingest.readers import read_text; "
            f"read_text({str(CORPUS / 'zhejiang-2025.txt')!r}); "
            "print(sorted(m for m in ('pypdfium2', 'docx') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _png() -> bytes:
    """A real 1x1 PNG, written by hand."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def _encrypted(pdf: Path, path: Path, user_password: str) -> Path:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pdf)
    writer.encrypt(user_password=user_password, owner_password="owner")
    with path.open("wb") as f:
        writer.write(f)
    return path


def _sparse(path: Path, size: int) -> Path:
    with path.open("wb") as f:
        f.truncate(size)
    return path


def _write(name: str, data: bytes):
    def make(tmp: Path) -> Path:
        (tmp / name).write_bytes(data)
        return tmp / name
    return make


def _fifo(tmp: Path) -> Path:
    os.mkfifo(tmp / "pipe.txt")
    return tmp / "pipe.txt"


ENGLISH = ("It was the best of times, it was the worst of times, it was the age of wisdom, "
           "it was the age of foolishness. 第一章\n" * 200).encode()
ZHEJIANG = CORPUS / "zhejiang-2025.txt"

BAD_INPUTS = {
    "missing": (lambda tmp: tmp / "nope.txt", r"^Report file not found: .*nope\.txt; check the path\.$"),
    "directory": (lambda tmp: tmp, r"is a directory; give a \.txt, \.pdf or \.docx file\.$"),
    "fifo": (_fifo, r"not a regular file \(a device, pipe or socket\)"),
    "dev-zero": (lambda tmp: Path("/dev/zero"), r"not a regular file"),
    "too-big": (lambda tmp: _sparse(tmp / "huge.txt", MAX_BYTES + 1),
                r"is too large for a report \(67,108,865 bytes; the limit is 64 MB\): check that"),
    "empty": (_write("empty.txt", b""), r"^The report file .*empty\.txt is empty\.$"),
    "blank": (_write("blank.txt", " \n\u3000\n".encode()), r"is empty\.$"),
    "png-as-txt": (_write("scan.txt", _png()), r"is a PNG image, not a report; add the report as"),
    "png": (_write("scan.png", _png()), r"\.png files are not supported; add the report as "
                                        r"\.txt, \.pdf or \.docx\.$"),
    "binary": (_write("data.txt", bytes(range(256)) * 8), r"not text in a known encoding"),
    "doc": (_write("report.doc", b"\xd0\xcf\x11\xe0" + bytes(60)), r"\.doc files are not supported"),
    "xlsx": (_write("report.xlsx", b"PK\x03\x04" + bytes(60)), r"\.xlsx files are not supported"),
    "doc-as-txt": (_write("report.txt", b"\xd0\xcf\x11\xe0" + bytes(60)), r"save it as \.docx"),
    "english": (_write("novel.txt", ENGLISH), r"does not look like a Chinese report \(only \d+% of"),
    "scanned": (lambda tmp: make_scanned_pdf(tmp / "scan.pdf"),
                r"has no text layer on 1 of its 1 pages \(it looks scanned\): it needs OCR"),
    "encrypted": (lambda tmp: _encrypted(make_pdf(report_lines(ZHEJIANG)[:3], tmp / "p.pdf", ""),
                                         tmp / "locked.pdf", user_password="secret"),
                  r"is password-protected: save an unprotected copy and add that\.$"),
    "broken-pdf": (_write("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 4),
                   r"cannot be read as a PDF .*: check that the file is complete"),
    "broken-docx": (_write("broken.docx", b"PK\x03\x04 not really a zip"),
                    r"cannot be read as a \.docx file .*save it again as \.docx\.$"),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_what_is_not_a_report_is_a_clear_one_line_error(case, tmp_path):
    make, message = BAD_INPUTS[case]
    with pytest.raises(ReportError, match=message) as error:
        read_text(make(tmp_path))
    assert "\n" not in str(error.value)


RECIPE = ("红烧肉的做法：五花肉切块，冷水下锅焯水，捞出洗净。锅中放少许油，加入冰糖小火炒出糖色，放入五花肉翻炒上色，"
          "加入葱姜、八角、桂皮、料酒、生抽、老抽，加开水没过肉，大火烧开后转小火炖一个小时，最后大火收汁即可。")


def test_chinese_text_that_is_not_a_work_report_is_refused(tmp_path):
    path = tmp_path / "recipe.txt"
    path.write_text(RECIPE * 30, encoding="utf-8")
    with pytest.raises(ReportError, match="does not look like a government work report"):
        read_text(path)
    opening = tmp_path / "opening.txt"     # a report's first lines are too short to judge, and pass
    opening.write_text("\n".join(report_lines(Path(__file__).resolve().parents[1] / "qa" / "data" /
                                              "henan-2024-government-work-report.txt")[:10]), encoding="utf-8")
    assert read_text(opening)


def test_a_report_in_traditional_characters_is_read_as_a_report(tmp_path):
    """The opening of a report (its first 15 lines, 941 Chinese characters) in Traditional characters
    uses only 3 of the check words in their Simplified form."""
    opencc = pytest.importorskip("opencc", reason="the dev extra is not installed: pip install -e \".[dev]\"")
    path = tmp_path / "jilin-2025-traditional.txt"
    opening = "\n".join(report_lines(CORPUS / "jilin-2025.txt")[:15])
    path.write_text(opencc.OpenCC("s2t").convert(opening), encoding="utf-8")
    text = read_text(path)
    assert "發展" in text and squash(text) == squash(path.read_text(encoding="utf-8"))


def test_a_cover_that_runs_on_is_cut_to_a_title(tmp_path):
    """One huge PDF page: its text has no sentence end until far in, so the cover ran to thousands of
    characters; the title is its first line, at most TITLE_MAX characters."""
    from qa.ingest.document import parse
    from qa.ingest.metadata import TITLE_MAX
    lines = report_lines(ZHEJIANG)
    body = [ln for ln in lines[1:60] if not re.search(r"月\s*\d+\s*日|省长|市长|主席|来源", ln)]
    first = lines[0] + "".join(body).translate(str.maketrans(dict.fromkeys("。！？；：!?;:", "，")))
    doc = parse(first + "\n" + "\n".join(lines[60:]), source="huge-page.pdf")
    assert len(first) > 1000 and doc.meta.title == first[:TITLE_MAX]
    a, b = doc.meta.spans["title"]
    assert doc.text[a:b] == doc.meta.title
