"""Real report files for the reader tests: a report of reports/ laid out as a PDF and as a .docx.

The PDF uses reportlab's built-in CID font STSong-Light, so no font file is needed, and draws
what real report PDFs carry and a reader must drop: a footer "— N —" on every page and a running
header (the report's title) on every page after the first.
"""
from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

FONT = "STSong-Light"


def report_lines(path: Path) -> list[str]:
    """The report's non-blank lines, stripped: one paragraph each."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [ln.strip() for ln in lines if ln.strip()]


def make_pdf(lines: list[str], path: Path, header: str, footer: str = "— {} —") -> Path:
    """`lines` as paragraphs on A4; `footer` (the page number in its braces) on every page,
    `header` on every page after the first."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    style = ParagraphStyle("body", fontName=FONT, fontSize=12, leading=18,
                           firstLineIndent=24, wordWrap="CJK")
    width, height = A4

    def first_page(canvas, doc):
        canvas.setFont(FONT, 10)
        canvas.drawCentredString(width / 2, 30, footer.format(doc.page))

    def later_page(canvas, doc):
        first_page(canvas, doc)
        canvas.drawCentredString(width / 2, height - 40, header)

    story = [Paragraph(escape(ln), style) for ln in lines]
    SimpleDocTemplate(str(path), pagesize=A4).build(
        story, onFirstPage=first_page, onLaterPages=later_page)
    return path


def make_scanned_pdf(path: Path) -> Path:
    """A PDF page with only a drawn shape, as a scan looks to a text extractor."""
    from reportlab.pdfgen.canvas import Canvas

    canvas = Canvas(str(path))
    canvas.rect(100, 100, 300, 500, fill=1)
    canvas.showPage()
    canvas.save()
    return path


def make_docx(lines: list[str], path: Path, header: str = "") -> Path:
    """`lines` as paragraphs; `header` as the page header and a page-number footer, which
    live outside the body and must not be read."""
    import docx

    document = docx.Document()
    for ln in lines:
        document.add_paragraph(ln)
    if header:
        document.sections[0].header.paragraphs[0].text = header
        document.sections[0].footer.paragraphs[0].text = "— 1 —"
    document.save(str(path))
    return path
