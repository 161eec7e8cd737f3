"""Hostile files are refused within fixed memory and time: a zip bomb in a .docx, a flate bomb in a
PDF, thousands of pages, one enormous page, 60 MB of text.  Each is made here and read in a process
of its own, whose peak memory (its own and its children's) is measured."""
import json
import subprocess
import sys
import zlib
import zipfile
from pathlib import Path

import pytest

PEAK_MAX_MB = 1536          # the bound: 1.5 GB
SECONDS_MAX = 90

READ = """
import json, resource, sys, time
from qa.ingest.readers import read_text
from qa.errors import ReportError
t0 = time.monotonic()
try:
    read_text(sys.argv[1])
    out = {"error": None}
except ReportError as e:
    out = {"error": str(e), "type": type(e).__name__, "code": getattr(e, "code", "")}
# This process's own peak from /proc (getrusage's counts what the parent had when it forked this one),
# its reader children's from getrusage (they fork from this small process).
own = int(next(ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")).split()[1])
peak = max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(json.dumps(dict(out, seconds=time.monotonic() - t0, peak_mb=peak / 1024)))
"""


def _read(path: Path) -> dict:
    r = subprocess.run([sys.executable, "-c", READ, str(path)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def _zip_bomb(path: Path) -> Path:
    """A .docx whose document.xml unpacks to 1 GiB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with z.open("word/document.xml", "w", force_zip64=True) as f:
            block = b" " * (1 << 20)
            for _ in range(1024):
                f.write(block)
    return path


def _pdf(objects: list[bytes]) -> bytes:
    """A PDF of the numbered objects (1: catalog), with a correct cross-reference table."""
    out, offsets = bytearray(b"%PDF-1.7\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _flate_bomb(path: Path) -> Path:
    """One page whose content stream inflates to 2 GiB of drawing operators."""
    z, packed = zlib.compressobj(9), bytearray()
    block = b"0 0 m " * (1 << 17)
    for _ in range(2048 * (1 << 20) // len(block)):
        packed += z.compress(block)
    packed += z.flush()
    path.write_bytes(_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                           b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                           b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R >>",
                           b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + bytes(packed)
                           + b"\nendstream"]))
    return path


def _many_pages(path: Path) -> Path:
    import pypdfium2
    pdf = pypdfium2.PdfDocument.new()
    for _ in range(5000):
        pdf.new_page(595, 842)
    pdf.save(str(path))
    return path


def _enormous_page(path: Path) -> Path:
    """One 200 x 200 inch page (PDF's largest) carrying 640,000 characters of text."""
    line = b"(" + b"0123456789" * 20 + b") Tj 0 -4.5 Td\n"
    content = b"BT /F1 4 Tf 10 14390 Td\n" + line * 3200 + b"ET"
    packed = zlib.compress(content)
    path.write_bytes(_pdf([b"<< /Type /Catalog /Pages 2 0 R >>",
                           b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                           b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] /Contents 4 0 R "
                           b"/Resources << /Font << /F1 5 0 R >> >> >>",
                           b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream",
                           b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]))
    return path


def _big_text(path: Path) -> Path:
    line = "各位代表：政府工作报告坚持稳中求进，推动高质量发展。\n".encode("utf-8")
    with path.open("wb") as f:
        for _ in range(60 * (1 << 20) // len(line)):
            f.write(line)
    return path


HOSTILE = {
    "zip-bomb.docx": (_zip_bomb, "unpacks to 1,024 MB"),
    "flate-bomb.pdf": (_flate_bomb, "needs more than 512 MB of memory"),
    "many-pages.pdf": (_many_pages, "it has 5,000 pages"),
    "enormous-page.pdf": (_enormous_page, "holds more text than a report"),
    "big.txt": (_big_text, "MB of text"),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_file_is_refused_within_memory_and_time(name, tmp_path):
    make, words = HOSTILE[name]
    got = _read(make(tmp_path / name))
    assert got["error"] and words in got["error"], got
    assert got["code"] == "file_too_large" and "\n" not in got["error"] and "未读取" in got["error"], got
    assert got["peak_mb"] < PEAK_MAX_MB and got["seconds"] < SECONDS_MAX, got


def test_a_report_pdf_still_reads_within_the_child_s_memory(tmp_path):
    from eval.gold import REPORTS
    from tests.report_files import make_pdf, report_lines
    lines = report_lines(REPORTS / "national-2025.txt")
    got = _read(make_pdf(lines, tmp_path / "national-2025.pdf", header="2025年政府工作报告"))
    assert got["error"] is None and got["peak_mb"] < PEAK_MAX_MB, got
