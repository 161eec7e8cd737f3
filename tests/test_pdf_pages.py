"""A passage of a report's cleaned text found again on the pages of the PDF it was read from."""
from __future__ import annotations

import re

import pypdfium2
import pytest

from eval.gold import REPORTS
from qa.ingest.document import read_report
from qa.ingest.pdf_pages import IGNORED, PdfPages
from tests.report_files import make_pdf, report_lines


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    """The first 60 paragraphs of a report of reports/ as a PDF with page numbers and a running header."""
    lines = report_lines(REPORTS / "hunan-2025.txt")[:60]
    return make_pdf(lines, tmp_path_factory.mktemp("pdf") / "hunan.pdf", header="2025年湖南省政府工作报告")


def _page_texts(path) -> list[str]:
    doc = pypdfium2.PdfDocument(str(path))
    try:
        return [IGNORED.sub("", doc[i].get_textpage().get_text_range()) for i in range(len(doc))]
    finally:
        doc.close()


def test_every_sentence_is_found_on_the_pages_that_hold_it(pdf):
    doc = read_report(pdf)
    pages = PdfPages(pdf)
    texts = _page_texts(pdf)
    across = 0
    for s in doc.sentences:
        found = pages.locate(doc.text, s.start, s.end)
        wanted = IGNORED.sub("", doc.text[s.start:s.end])
        assert found, wanted
        first, last = texts[found[0].page - 1], texts[found[-1].page - 1]
        if len(found) == 1:
            assert wanted in first
        else:                                # its start ends one page, the rest opens the next
            assert found[-1].page == found[0].page + 1
            assert any(wanted[:k] in first and wanted[k:] in last for k in range(1, len(wanted)))
        for place in found:
            assert place.boxes and all(0 <= b.left < b.right <= place.width and 0 <= b.bottom < b.top <= place.height
                                       for b in place.boxes)
        across += len(found) > 1
    assert across >= 3                       # sentences broken by a page's footer and the next one's header


def test_a_passage_that_is_not_in_the_pdf_is_not_found(pdf):
    doc = read_report(pdf)
    pages = PdfPages(pdf)
    assert pages.locate("这一句话不在这份报告里。" + doc.text, 0, 12) == []
    assert pages.locate(doc.text, 5, 5) == []


def test_the_page_is_rendered(pdf):
    image = PdfPages(pdf).render(2, 600)
    assert image.size[0] == 600 and image.size[1] > 800
    assert re.match(r"RGB", image.mode)
