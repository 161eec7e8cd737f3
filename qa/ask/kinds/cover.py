"""Cover questions: who delivered the report, when, at which meeting, which newspaper carried it, and
who holds an office the cover names ("北京市市长是谁？").  The cover lines say it, so the answer is
their span, cited like any other; a report whose text has no such line (Wikisource's national
reports have no cover) says so instead of guessing.

Cover and frame lines (the title, the 来源 line, "各位代表：", "我代表…向大会报告政府工作") answer
only these questions: the passage kind never picks them (features.ReportView.frame).
"""
from __future__ import annotations

import re

from ...ingest.document import Document
from ...schema import Answer, Citation
from .base import Context, Kind

# The question is about the report itself, not about a person or date inside it.
ABOUT_REPORT = re.compile(r"报告|作的|做的|宣读|讲话|报告人|他|她|\bhis\b|\bher\b|deliver|present|report|speech|speak|address|\bgave\b|\bgiven\b", re.I)
# Who delivered it: a person question about the report's speaker, not about someone it mentions.
DELIVERED = re.compile(r"作|做|宣读|发表|讲话|报告人|deliver|present|\bgave\b|\bgive\b|\bgiven\b|speaker|\bspoke\b",
                       re.I)
# Which newspaper: the source line answers without the word "report" ("哪家报纸刊登的？").
NEWSPAPER = re.compile(r"报纸|哪家报|哪份报|什么报|刊登|刊载|刊发|newspaper|\bcarried\b|\bpublished\b", re.I)
NO_COVER = "报告文本中没有这一信息。The report's text does not say (it has no cover line with {what})."
# (the question's flag, the cover's field, what the field is, in words)
FIELDS = (("wants_person", "speaker", "the speaker's name"), ("wants_date", "date", "a date"),
          ("wants_meeting", "meeting", "the meeting"), ("wants_source", "publisher", "a source line"),
          ("wants_post", "office", "the speaker's office"))
# How far before the speaker's name the cover states the office ("北京市市长 殷勇").
OFFICE_REACH = 12


class Cover(Kind):
    name = "cover"

    def answer(self, ctx: Context) -> Answer | None:
        q, rid = ctx.q, ctx.only
        if rid is None or not q.wants_cover:
            return None
        doc = ctx.docs[rid]
        if q.office and not ABOUT_REPORT.search(q.text):
            # "北京市市长是谁？": the cover answers when its speaker line states that office.
            span = doc.meta.spans.get("speaker")
            if q.wants_person and span and q.office in doc.text[max(0, span[0] - OFFICE_REACH):span[0]]:
                return cited(q.text, rid, doc, span, "cover")
            return None
        if not (ABOUT_REPORT.search(q.text) or q.wants_source and NEWSPAPER.search(q.text)):
            return None
        if q.wants_person and not q.office and not DELIVERED.search(q.text):
            return None          # "报告提到要弘扬哪位人物的精神？" asks about someone in the report
        for flag, field, what in FIELDS:
            if getattr(q, flag):
                span = doc.meta.spans.get(field)
                if span is None:
                    return Answer(q.text, False, "", message=NO_COVER.format(what=what), reason="not_on_cover")
                return cited(q.text, rid, doc, span, "cover")
        return None


def cited(question: str, rid: str, doc: Document, span: tuple[int, int], section: str = "") -> Answer:
    """An answer that is a span of a heading or cover line, cited with its paragraph."""
    para = next(p for p in doc.paragraphs if p.start <= span[0] < p.end + 1)
    quote = doc.text[para.start:para.end]
    citation = Citation(rid, para.path, quote, para.start, para.end, -1, span[0], span[1])
    return Answer(question, True, doc.text[span[0]:span[1]], [citation], confidence=1.0)
