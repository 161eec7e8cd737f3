"""Where a passage of a report's cleaned text stands on the pages of the PDF it was read from.

The cleaned text keeps every visible character of the PDF's text layer, in order (document.py
only re-lays whitespace); the reader drops running headers, footers and page numbers.  So the
passage's visible characters, whitespace removed, are found again among the PDF's visible
characters: the same occurrence counted from the start (a running header can add occurrences
only of text it holds, the title), else the occurrence nearest the passage's share of the text.
Each character found gives its box on its page, and the boxes of one line are joined.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

# Characters the cleaned text drops or re-lays; the PDF's are dropped too before matching.
IGNORED = re.compile(r"[\s\u200b-\u200d\u2060\ufeff\x00-\x1f]")
# A passage is looked for by its first characters, then followed character by character; where the
# PDF holds more (a running header and a page number between two pages, up to MAX_GAP characters),
# the next GAP_PIECE characters of the passage are looked for after them.
HEAD, GAP_PIECE, MAX_GAP = 12, 6, 120
# Two character boxes are on one line when their vertical middles are this close (in points).
SAME_LINE = 3.0


@dataclass(frozen=True)
class Box:
    """A rectangle on a page, in PDF points from the page's bottom-left corner."""
    left: float
    bottom: float
    right: float
    top: float


@dataclass(frozen=True)
class Place:
    """Where a passage stands: its page (1-based), the page's size in points, its line boxes."""
    page: int
    width: float
    height: float
    boxes: tuple[Box, ...]


class PdfPages:
    """A PDF's visible characters with their pages and boxes, read once."""

    def __init__(self, path: str | Path):
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        self.path = Path(path)
        chars, where, sizes = [], [], []
        pdf = pdfium.PdfDocument(str(self.path))
        try:
            for index in range(len(pdf)):
                page = pdf[index]
                sizes.append(page.get_size())
                textpage = page.get_textpage()
                try:
                    for i in range(textpage.count_chars()):
                        ch = chr(pdfium_c.FPDFText_GetUnicode(textpage, i))
                        if IGNORED.match(ch):
                            continue
                        chars.append(ch)
                        where.append((index, textpage.get_charbox(i, loose=True)))
                finally:
                    textpage.close()
                    page.close()
        finally:
            pdf.close()
        self.stream = "".join(chars)
        self.where = where
        self.sizes = sizes

    def locate(self, text: str, start: int, end: int) -> list[Place]:
        """The pages and boxes of text[start:end] (the cleaned text the PDF was read into); [] when
        the passage cannot be found on the pages."""
        wanted = IGNORED.sub("", text[start:end])
        if not wanted:
            return []
        before = IGNORED.sub("", text[:start])
        head = wanted[:HEAD]
        share = len(before) / max(1, len(IGNORED.sub("", text)))
        hits = [m.start() for m in re.finditer(re.escape(head), self.stream)]
        # The same occurrence as in the cleaned text first, then the others nearest the passage's share.
        counted = before.count(head)
        order = ([hits[counted]] if counted < len(hits) else []) + \
            sorted(hits, key=lambda h: abs(h - share * len(self.stream)))
        for at in order:
            found = self._follow(wanted, at)
            if found:
                return self._places(found)
        return []

    def _follow(self, wanted: str, at: int) -> list[int] | None:
        """The stream positions of `wanted` read from `at`, stepping over what the cleaned text
        does not hold (a running header, a page number at a page break); None if it parts."""
        found, i, p = [], 0, at
        while i < len(wanted):
            if p < len(self.stream) and self.stream[p] == wanted[i]:
                found.append(p)
                i, p = i + 1, p + 1
                continue
            piece = wanted[i:i + GAP_PIECE]
            p = self.stream.find(piece, p, p + MAX_GAP + len(piece))
            if p < 0 or not found:
                return None
        return found

    def _places(self, positions: list[int]) -> list[Place]:
        pages: dict[int, list] = {}
        for index, box in (self.where[p] for p in positions):
            pages.setdefault(index, []).append(box)
        return [Place(index + 1, *self.sizes[index], tuple(_lines(boxes))) for index, boxes in pages.items()]

    def render(self, page: int, width_px: int = 900):
        """Page `page` (1-based) as a PIL image `width_px` wide."""
        import pypdfium2 as pdfium

        pdf = pdfium.PdfDocument(str(self.path))
        try:
            p = pdf[page - 1]
            try:
                return p.render(scale=width_px / p.get_width()).to_pil()
            finally:
                p.close()
        finally:
            pdf.close()


def _lines(boxes) -> list[Box]:
    """Character boxes (left, bottom, right, top) joined into one box per line, in reading order."""
    lines: list[list[float]] = []
    for left, bottom, right, top in boxes:
        middle = (bottom + top) / 2
        last = lines[-1] if lines else None
        if last and abs((last[1] + last[3]) / 2 - middle) <= SAME_LINE:
            last[0], last[1], last[2], last[3] = min(last[0], left), min(last[1], bottom), \
                max(last[2], right), max(last[3], top)
        else:
            lines.append([left, bottom, right, top])
    return [Box(*line) for line in lines]


@lru_cache(maxsize=8)
def _pages(path: str, mtime_ns: int) -> PdfPages:
    return PdfPages(path)


def pdf_pages(path: str | Path) -> PdfPages:
    """The PdfPages of the file at `path`, kept while the file is unchanged (a few recent files)."""
    path = Path(path)
    return _pages(str(path), path.stat().st_mtime_ns)
