"""Read a report file into text lines: .txt in any common encoding, .pdf with a text layer, .docx.

A PDF gives its lines as the page shows them, without running headers, footers and page
numbers; the parser re-joins the hard-wrapped lines.  A .docx gives one paragraph (or table
cell) per line.  Anything that is not a Chinese report raises ReportError with a one-line
message saying what to do.  The PDF and .docx libraries are imported only when such a file is
read, so answering questions never loads them.

Every reader works within fixed memory and time, whatever the file: a text is refused by its size
before it is decoded, a .docx by the sizes its zip directory declares before anything is unpacked,
and a PDF is read in a child process with capped memory, stopped after READ_SECONDS (pdf_text.py),
with its pages and characters counted as they are read.  One file is read at a time.
"""
from __future__ import annotations

import codecs
import io
import json
import logging
import math
import os
import re
import stat
import subprocess
import sys
import threading
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import ReportError, UnsafeFileError

log = logging.getLogger(__name__)

# A report is 30-150 KB of text and its PDF a few MB; a PDF carrying scanned pages or photos can
# reach tens of MB.  64 MiB leaves room for all of those and stops a wrong file (a video, a disk
# image) from being read into memory.
MAX_BYTES = 64 * 1024 * 1024
# The 33 reports here have 10,400-28,000 characters; embedding runs at ~4,000 characters a second on
# two cores, so ten times the longest still indexes in about a minute, and a wrong file is stopped.
MAX_REPORT_CHARS = 300_000
# A text file of MAX_REPORT_CHARS characters takes at most 4 bytes a character (UTF-32, GB18030's
# four-byte forms): a larger one is refused before it is decoded (a 60 MB text took 2.6 GB to judge).
MAX_TEXT_BYTES = 4 * MAX_REPORT_CHARS + 4
# A PDF's text layer holds the report plus running headers, footers and page numbers: twice the
# report's limit, counted page by page before a page's text is extracted.
MAX_PDF_CHARS = 2 * MAX_REPORT_CHARS
# Reports run to 20-70 pages; a file of thousands is not one, and each page costs time to load.
MAX_PAGES = 1_000
# A .docx unpacks into its XML (a report's document.xml is 0.5-3 MB) and its media; the sizes its zip
# declares are checked before anything is unpacked (a 4.2 MB .docx that expanded to 1 GiB took a server
# to 6.5 GB), and zipfile never unpacks an entry past its declared size.  XML is held as a tree of
# ~10x its size, so 32 MB of it stays within READ_MEMORY; media are held as they are.
MAX_DOCX_XML = 32 << 20
MAX_DOCX_BYTES = 128 << 20
MAX_DOCX_PARTS = 2_000
# The PDF reader's child process may use this much address space: the national 2025 report as a PDF
# reads with a peak of 88 MB (tests/test_hostile_files.py), a 2 GiB flate bomb is stopped at this cap
# in ~2 s; past it pdfium's allocations fail and the child ends: nothing reaches the server.
READ_MEMORY = 512 << 20
# A report PDF reads in 1-3 s on two cores; a reader still busy after this long is stopped
# (REPORT_QA_READ_SECONDS, seconds).
READ_SECONDS = 60.0
ACCEPTED = ".txt, .pdf or .docx"
FORMATS = {".txt": "txt", "": "txt", ".pdf": "pdf", ".docx": "docx"}
# Reports are 84-90% Chinese characters (the 32 of reports/); English text, mojibake and
# text decoded with the wrong encoding are far below this share.
MIN_CJK_SHARE = 0.4
# Words every government work report uses.  Measured: every one of the 33 reports has all 20 in
# full and ≥ 8 in its first 10 lines once those pass 500 characters; a recipe or a novel has 0, a
# news item 3.  A text long enough to judge (JUDGED_CHARS Chinese characters) with fewer than
# MIN_REPORT_WORDS of them is not a report.
REPORT_WORDS = "发展 建设 推进 加强 改革 政府 经济 工作 实施 完善 坚持 推动 提升 创新 服务 保障 全面 项目 增长 企业".split()
# The same words in Traditional characters (OpenCC s2t), so a report in Traditional Chinese (Hong Kong,
# Macao, Taiwan reprints) passes as one; a word counts in either script.
TRADITIONAL_WORDS = "發展 建設 推進 加強 改革 政府 經濟 工作 實施 完善 堅持 推動 提升 創新 服務 保障 全面 項目 增長 企業".split()
JUDGED_CHARS, MIN_REPORT_WORDS = 500, 6
CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"))
# GB18030 is a superset of both, so it decodes whatever the detector calls GBK or GB2312.
GB_FAMILY = {"gb2312", "gbk", "gb18030"}
# File signatures, to name what a binary file is instead of calling it "not text".
SIGNATURES = {b"\x89PNG": "a PNG image", b"\xff\xd8\xff": "a JPEG image", b"GIF8": "a GIF image",
              b"\xd0\xcf\x11\xe0": "an Office 97-2003 file (.doc/.xls): save it as .docx"}
# Running headers and footers sit among the top and bottom two lines of a page.
EDGE_LINES = 2
# A line at a page edge that recurs on this share of pages (at least two) is a running
# header or footer; page numbers recur too once digits are masked.
RUNNING_SHARE = 0.5
PAGE_NUMBER_RE = re.compile(
    r"^[\s\-—–－~·]*(?:第\s*\d+\s*页(?:\s*[/，,]?\s*共\s*\d+\s*页)?"
    r"|\d+(?:\s*/\s*\d+)?|page\s*\d+(?:\s*of\s*\d+)?)[\s\-—–－~·]*$", re.IGNORECASE)
# A page with fewer characters than this has no text layer worth the name (a scan).
MIN_PAGE_CHARS = 10


def read_text(path: str | Path) -> str:
    """The report at `path` as text, one line per line (PDF) or paragraph (.docx, .txt)."""
    path = Path(path)
    return text_of(read_bytes(path), path)


def read_bytes(path: str | Path) -> bytes:
    """The file's bytes, once it is known to be a regular file within MAX_BYTES."""
    path = Path(path)
    _check_file(path)
    with _open(path) as f:
        data = f.read(MAX_BYTES + 1)       # bounded, in case the file grew since stat
    if len(data) > MAX_BYTES:
        raise _too_large(path, len(data))
    return data


# One file is read at a time: two hostile uploads at once would each take a reader's memory.
_READING = threading.Lock()


def text_of(data: bytes, path: str | Path) -> str:
    """The report text of a file's bytes (`path` gives its extension and names it in messages)."""
    path = Path(path)
    reader = {"txt": _read_txt, "pdf": _read_pdf, "docx": _read_docx}[_format_of(path, data)]
    with _READING:
        text = reader(data, path)
    if len(text) > MAX_REPORT_CHARS:
        raise UnsafeFileError(f"{path.name} has {len(text):,} characters of text; a government work report has "
                              f"10,000-30,000, and this one would take long to index: check that it is the right "
                              f"file (the limit is {MAX_REPORT_CHARS:,}). 文字过多，请确认文件无误。", code="report_too_long")
    _check_chinese(text, path)
    return text


def read_seconds() -> float:
    try:
        return float(os.environ.get("REPORT_QA_READ_SECONDS", READ_SECONDS))
    except ValueError:
        return READ_SECONDS


def _unsafe(path: Path, why: str, zh: str) -> UnsafeFileError:
    """A refusal of a file that would take more memory or time than any report, in English and Chinese."""
    return UnsafeFileError(f"{path.name} is not read: {why}. Check that it is the right file. "
                           f"未读取：{zh}，请确认文件无误。")


def detect_format(path: str | Path) -> str:
    """The file's format, "txt", "pdf" or "docx": the extension says whether it is accepted,
    the content which it is."""
    path = Path(path)
    _check_file(path)
    with _open(path) as f:
        return _format_of(path, f.read(8))


def _check_file(path: Path) -> None:
    """Refuse what is not a regular file of a sensible size, without opening it (a FIFO blocks)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ReportError(f"Report file not found: {path}; check the path.", code="file_not_found") from None
    except OSError as e:
        raise ReportError(f"Cannot read the report file {path}: {e.strerror}.", code="unreadable_file") from None
    if stat.S_ISDIR(st.st_mode):
        raise ReportError(f"Cannot read {path}: it is a directory; give a {ACCEPTED} file.", code="not_a_file")
    if not stat.S_ISREG(st.st_mode):
        raise ReportError(f"Cannot read {path}: it is not a regular file (a device, pipe or "
                          f"socket); give a {ACCEPTED} file.", code="not_a_file")
    if st.st_size > MAX_BYTES:
        raise _too_large(path, st.st_size)
    if st.st_size == 0:
        raise ReportError(f"The report file {path} is empty.", code="empty_file")


def _open(path: Path):
    try:
        return path.open("rb")
    except OSError as e:
        raise ReportError(f"Cannot read the report file {path}: {e.strerror}.", code="unreadable_file") from None


def _too_large(path: Path, size: int) -> ReportError:
    return ReportError(f"{path} is too large for a report ({size:,} bytes; the limit is "
                       f"{MAX_BYTES // 2**20} MB): check that it is the right file.", code="file_too_large",
                       size=size, limit=MAX_BYTES)


def _format_of(path: Path, head: bytes) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReportError(f"{path}: {path.suffix} files are not supported; "
                          f"add the report as {ACCEPTED}.", code="unsupported_type", suffix=path.suffix)
    # A report saved under the wrong extension still reads as what it is.
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "docx"
    return fmt


def _check_chinese(text: str, path: Path) -> None:
    chars = sum(1 for ch in text if not ch.isspace())
    if not chars:
        raise ReportError(f"The report file {path} is empty.", code="empty_file")
    share = len(CJK_RE.findall(text)) / chars
    if share < MIN_CJK_SHARE:
        raise ReportError(f"{path} does not look like a Chinese report (only {share:.0%} of its "
                          "characters are Chinese): check that it is the right file.", code="not_chinese")
    used = [w for w, t in zip(REPORT_WORDS, TRADITIONAL_WORDS) if w in text or t in text]
    if len(CJK_RE.findall(text)) >= JUDGED_CHARS and len(used) < MIN_REPORT_WORDS:
        raise ReportError(f"{path} does not look like a government work report (it uses {len(used)} of the "
                          f"{len(REPORT_WORDS)} words every report uses, such as 发展, 建设, 改革): "
                          "check that it is the right file.", code="not_a_report")


# --- .txt ---------------------------------------------------------------------------------

def _read_txt(data: bytes, path: Path) -> str:
    if len(data) > MAX_TEXT_BYTES:
        raise _unsafe(path, f"it holds {len(data) / 2**20:.1f} MB of text; a report's text is under "
                            f"{MAX_TEXT_BYTES / 2**20:.1f} MB ({MAX_REPORT_CHARS:,} characters)", "文字过多")
    return "\n".join(_decode(data, path).splitlines())


def _decode(data: bytes, path: Path) -> str:
    """A byte-order mark, else UTF-8, else what charset-normalizer finds (GB18030 for reports)."""
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return _decode_as(data, encoding, path)
    if b"\x00" in data:                # no text but UTF-16/32 holds NUL bytes
        raise _not_text(data, path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise _not_text(data, path)
    encoding = "gb18030" if best.encoding in GB_FAMILY else best.encoding
    log.info("%s: detected encoding %s", path, encoding)
    return _decode_as(data, encoding, path)


def _decode_as(data: bytes, encoding: str, path: Path) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        raise _not_text(data, path) from None


def _not_text(data: bytes, path: Path) -> ReportError:
    what = next((name for sig, name in SIGNATURES.items() if data.startswith(sig)), None)
    if what:
        return ReportError(f"{path} is {what}, not a report; add the report as {ACCEPTED}.", code="not_text",
                           what=what)
    return ReportError(f"{path} is not text in a known encoding (UTF-8, UTF-16, GB18030): "
                       f"add the report as {ACCEPTED}.", code="not_text")


# --- .pdf ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Line:
    text: str
    y: float | None        # where the line sits on the page, in points from the bottom


def _read_pdf(data: bytes, path: Path) -> str:
    pages = [_drop_page_number(page) for page in _drop_running_lines(_pdf_pages(data, path))]
    _check_text_layer(pages, path)
    return "\n".join(line.text for page in pages for line in page)


def _pdf_pages(data: bytes, path: Path) -> list[list[_Line]]:
    """The PDF's lines, read by pdf_text.py in a child process within READ_MEMORY and READ_SECONDS."""
    script = Path(__file__).with_name("pdf_text.py")
    try:
        done = subprocess.run([sys.executable, "-I", str(script), str(READ_MEMORY), str(MAX_PAGES),
                               str(MAX_PDF_CHARS)], input=data, capture_output=True, timeout=read_seconds())
    except subprocess.TimeoutExpired:
        raise _unsafe(path, f"reading it took over {read_seconds():.0f} s", "读取超时") from None
    try:
        out = json.loads(done.stdout)
    except ValueError:           # the child ran out of memory and was ended by it, or crashed
        raise _unsafe(path, f"reading it needs more than {READ_MEMORY >> 20} MB of memory "
                            "(a compression bomb?)", "解压后过大") from None
    error = out.get("error")
    if error == "password":
        raise ReportError(f"{path} is password-protected: save an unprotected copy and add that.",
                          code="pdf_password")
    if error == "unreadable":
        raise _unreadable_pdf(path, out.get("detail", ""))
    if error == "memory":
        raise _unsafe(path, f"reading it needs more than {READ_MEMORY >> 20} MB of memory "
                            "(a compression bomb?)", "解压后过大")
    if error == "pages":
        raise _unsafe(path, f"it has {out['pages']:,} pages; a report has under 100 (the limit is {MAX_PAGES:,})",
                      "页数过多")
    if error == "chars":
        raise _unsafe(path, f"it holds more text than a report (over {MAX_PDF_CHARS:,} characters by page "
                            f"{out['page']})", "文字过多")
    return [[_Line(text, y) for text, y in page] for page in out["pages"]]


def _unreadable_pdf(path: Path, error) -> ReportError:
    return ReportError(f"{path} cannot be read as a PDF ({error}): check that the file is "
                       "complete, or save it again as PDF.", code="unreadable_pdf")


def _by_height(page: list[_Line]) -> list[_Line]:
    """The page's lines from top to bottom.

    Position, not text order, finds the edges: reportlab, Word and others write the footer
    before the body.
    """
    return sorted((ln for ln in page if ln.y is not None), key=lambda ln: -ln.y)


def _edges(page: list[_Line]) -> list[_Line]:
    """The top and bottom lines: where running headers and footers are."""
    placed = _by_height(page)
    return placed[:EDGE_LINES] + placed[-EDGE_LINES:]


def _running_key(line: _Line) -> tuple[str, int]:
    # Same words at the same height; digits masked so "2025年…报告 第3页" recurs.
    return re.sub(r"\d+", "#", line.text), round(line.y)


def _drop_running_lines(pages: list[list[_Line]]) -> list[list[_Line]]:
    """Drop edge lines that recur at the same height on many pages (running headers, footers).

    The same text elsewhere on a page (the title on page one, under its running header on
    the later pages) stays, since it sits at a different height.
    """
    seen = Counter(key for page in pages for key in {_running_key(ln) for ln in _edges(page)})
    needed = max(2, math.ceil(RUNNING_SHARE * len(pages)))
    running = {key for key, n in seen.items() if n >= needed}
    log.debug("running headers and footers: %s", running)
    return [_without(page, [ln for ln in _edges(page) if _running_key(ln) in running])
            for page in pages]


def _drop_page_number(page: list[_Line]) -> list[_Line]:
    """Drop a page number that is the page's top or bottom line, also when it does not recur.

    Only the outermost lines: a bare figure further in may be a table's.
    """
    placed = _by_height(page)
    return _without(page, [ln for ln in placed[:1] + placed[-1:] if PAGE_NUMBER_RE.match(ln.text)])


def _without(page: list[_Line], dropped: list[_Line]) -> list[_Line]:
    return [ln for ln in page if ln not in dropped]


def _check_text_layer(pages: list[list[_Line]], path: Path) -> None:
    blank = [i + 1 for i, page in enumerate(pages)
             if sum(len(ln.text) for ln in page) < MIN_PAGE_CHARS]
    if len(blank) * 2 > len(pages):
        raise ReportError(f"{path} has no text layer on {len(blank)} of its {len(pages)} pages "
                          "(it looks scanned): it needs OCR first, e.g. with ocrmypdf.", code="scanned_pdf")
    if blank:
        log.warning("%s: pages without text (scanned?) are left out: %s", path, blank)


# --- .docx --------------------------------------------------------------------------------

def _check_zip(data: bytes, path: Path) -> None:
    """Refuse a .docx whose parts would unpack past the limits, from its zip directory alone."""
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return                       # python-docx says it is not a .docx, in its own words below
    xml = sum(p.file_size for p in parts if p.filename.endswith((".xml", ".rels")))
    total = sum(p.file_size for p in parts)
    if len(parts) > MAX_DOCX_PARTS or xml > MAX_DOCX_XML or total > MAX_DOCX_BYTES:
        raise _unsafe(path, f"it unpacks to {total / 2**20:,.0f} MB in {len(parts):,} parts ({xml / 2**20:,.0f} MB "
                            f"of it text and markup; the limits are {MAX_DOCX_BYTES >> 20} MB, "
                            f"{MAX_DOCX_PARTS:,} parts and {MAX_DOCX_XML >> 20} MB)", "解压后过大")


def _read_docx(data: bytes, path: Path) -> str:
    import docx

    _check_zip(data, path)
    try:
        document = docx.Document(io.BytesIO(data))
    # The package raises zip, XML and key errors of its own for a damaged file; each one
    # means the same thing to the user.
    except Exception as e:  # noqa: BLE001
        raise ReportError(f"{path} cannot be read as a .docx file ({type(e).__name__}): "
                          "open it in Word or WPS and save it again as .docx.", code="unreadable_docx") from None
    return "\n".join(_block_lines(document))


def _block_lines(container) -> Iterator[str]:
    """Paragraphs and tables in document order; a soft line break starts a new line too."""
    from docx.table import Table

    for block in container.iter_inner_content():
        if isinstance(block, Table):
            yield from _table_lines(block)
        else:
            yield from (ln for ln in block.text.splitlines() if ln.strip())


def _table_lines(table) -> Iterator[str]:
    """Cells row by row; a merged cell is listed by every row and column it spans, so once."""
    seen = set()                     # holds the cell elements, so their identity is stable
    for row in table.rows:
        for cell in row.cells:
            if cell._tc not in seen:
                seen.add(cell._tc)
                yield from _block_lines(cell)
