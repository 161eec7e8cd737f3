"""Cover and structure questions: who delivered the report, when, at which meeting, and what a part
is about.  The cover lines and the headings say it, so the answer is their span, cited like any other;
a report whose text has no cover (Wikisource's national reports) says so instead of guessing.
"""
from __future__ import annotations

import re

from ..ingest.document import Document
from ..schema import Answer, Citation
from ..language.years import implied_years
from .question import Question

# The question is about the report itself, not about a person or date inside it.
ABOUT_REPORT = re.compile(r"报告|作的|做的|宣读|deliver|present|report|speech|speak|address", re.I)
NO_COVER = "报告文本中没有这一信息。The report's text does not say (it has no cover with {what})."
FIELDS = (("wants_person", "speaker", "the speaker's name"), ("wants_date", "date", "a date"),
          ("wants_meeting", "meeting", "the meeting"))


def answer_from_cover(q: Question, docs: dict[str, Document], scope: set[str] | None) -> Answer | None:
    """An answer from one report's cover or headings, or None when the question is not of that kind
    (or it is not clear which report it asks about)."""
    ids = sorted(scope) if scope else sorted(docs)
    if len(ids) != 1:
        return None
    rid, doc = ids[0], docs[ids[0]]
    if q.part is not None and not q.wants_figure:
        return _part_answer(q, rid, doc)
    if q.section and not q.wants_amount:
        return _section_answer(q, rid, doc)
    if not (q.wants_cover and ABOUT_REPORT.search(q.text)):
        return None
    for flag, field, what in FIELDS:
        if getattr(q, flag):
            span = doc.meta.spans.get(field)
            if span is None:
                return Answer(q.text, False, "", message=NO_COVER.format(what=what))
            return _cited(q, rid, doc, span)
    return None


def _part_answer(q: Question, rid: str, doc: Document) -> Answer | None:
    parts = [i for i, p in enumerate(doc.paragraphs) if p.kind == "part"]
    if not 1 <= q.part <= len(parts):
        return Answer(q.text, False, "", message=f"报告只有 {len(parts)} 个部分。The report has {len(parts)} parts.")
    p = doc.paragraphs[parts[q.part - 1]]
    return _cited(q, rid, doc, (p.start, p.end))


def _section_answer(q: Question, rid: str, doc: Document) -> Answer | None:
    """The heading of section （N）: of the part the question's year or tense points to, else of the
    last part that has one (the plan comes after the review)."""
    marker = re.compile(rf"^[（(]{q.section}[）)]")
    heads = [p for p in doc.paragraphs if p.section and marker.match(p.section)
             and doc.text[p.start:p.end].startswith(p.section[:4])]
    if not heads:
        return None
    years = q.preferred_years(doc.year)
    fitting = [p for p in heads if years & implied_years(p.part, p.section, doc.year)] if years else []
    p = (fitting or heads)[-1]
    return _cited(q, rid, doc, (p.start, p.start + len(p.section)))


def _cited(q: Question, rid: str, doc: Document, span: tuple[int, int]) -> Answer:
    para = next(p for p in doc.paragraphs if p.start <= span[0] < p.end + 1)
    quote = doc.text[para.start:para.end]
    citation = Citation(rid, para.path, quote, para.start, para.end, -1, span[0], span[1])
    return Answer(q.text, True, doc.text[span[0]:span[1]], [citation], confidence=1.0)
