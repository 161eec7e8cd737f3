"""A citation on the PDF page it came from: the page rendered, the quoted clause boxed on it.

Only for a report whose original file the library kept and which is a PDF; every other report
gets no page (and the page shows no button for it).
"""
from __future__ import annotations

import base64
import io
import logging

from ..ingest.pdf_pages import pdf_pages

log = logging.getLogger(__name__)

PAGE_WIDTH_PX = 900          # rendered width: sharp on a laptop, ~120 KB a page as JPEG
PAGES_SHOWN = 2              # a quote runs over at most two pages in practice


def _pages_of(shelf, rid: str):
    path = shelf.original_of(rid)
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            if f.read(5) != b"%PDF-":
                return None
        return pdf_pages(path)
    except Exception:  # noqa: BLE001  (a damaged or vanished original: no page view, the answer stands)
        log.warning("Cannot read the original of %s at %s", rid, path, exc_info=True)
        return None


def places(shelf, c) -> list:
    """Where citation `c` stands on its report's PDF pages ([] when there is no PDF to show)."""
    pages = _pages_of(shelf, c.report)
    return pages.locate(shelf.text_of(c.report), c.start, c.end) if pages else []


def pages_named(found) -> str:
    """" · 第 3 页 page 3" (or pages 3–4) for a citation's places; "" for none."""
    if not found:
        return ""
    first, last = found[0].page, found[-1].page
    if first == last:
        return f" · 第 {first} 页 page {first}"
    return f" · 第 {first}–{last} 页 pages {first}–{last}"


def _boxes(place, cls: str) -> str:
    out = []
    for b in place.boxes:
        left, top = 100 * b.left / place.width, 100 * (place.height - b.top) / place.height
        width, height = 100 * (b.right - b.left) / place.width, 100 * (b.top - b.bottom) / place.height
        out.append(f'<span class="qa-box {cls}" style="left:{left:.2f}%;top:{top:.2f}%;'
                   f'width:{width:.2f}%;height:{height:.2f}%"></span>')
    return "".join(out)


def page_view(shelf, rid: str, start: int, end: int, span_start: int, span_end: int) -> str:
    """The PDF page(s) holding text[start:end] of report `rid`, the quote boxed pale and its answer
    span dark; a short note when there is no page to show."""
    pages = _pages_of(shelf, rid)
    text = shelf.text_of(rid)
    quote = pages.locate(text, start, end) if pages else []
    if not quote:
        return ('<div class="qa-empty">这条引文没有可显示的 PDF 页面。 There is no PDF page to show for this '
                'citation.</div>')
    span = {p.page: p for p in pages.locate(text, span_start, span_end)} if span_end > span_start else {}
    out = []
    for place in quote[:PAGES_SHOWN]:
        image = pages.render(place.page, PAGE_WIDTH_PX)
        buf = io.BytesIO()
        image.convert("RGB").save(buf, format="JPEG", quality=80)
        src = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
        marks = _boxes(place, "qa-box-quote") + (_boxes(span[place.page], "qa-box-span") if place.page in span else "")
        out.append(f'<figure class="qa-pdfpage" data-page="{place.page}"><div class="qa-pdfpage-img">'
                   f'<img src="{src}" alt="PDF 第 {place.page} 页，引文已标出 PDF page {place.page}, the quotation '
                   f'marked">{marks}</div><figcaption>PDF 第 {place.page} 页 page {place.page}'
                   '（黄框为引文 the quotation is boxed in yellow）</figcaption></figure>')
    return "".join(out)
