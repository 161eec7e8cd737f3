"""Structure questions: what part two, or section （五）, is about.  The headings say it: the answer
is the heading, cited.  A part the report does not have is declined with how many it has."""
from __future__ import annotations

import re

from ...ingest.document import Document
from ...language.years import implied_years
from ...schema import Answer
from .base import Context, Kind
from .cover import cited


class Structure(Kind):
    name = "structure"

    def answer(self, ctx: Context) -> Answer | None:
        q, rid = ctx.q, ctx.only
        # A heading says what a part is about, never why ("为什么把扩大内需作为第一项重点工作？").
        if rid is None or q.wants_reason:
            return None
        if q.section and not q.wants_amount:
            return _section(q, rid, ctx.docs[rid])
        if q.part is not None and not q.wants_figure:
            return _part(q, rid, ctx.docs[rid])
        return None


def _part(q, rid: str, doc: Document) -> Answer:
    parts = [i for i, p in enumerate(doc.paragraphs) if p.kind == "part"]
    if not 1 <= q.part <= len(parts):
        return Answer(q.text, False, "", message=f"报告只有 {len(parts)} 个部分。The report has {len(parts)} parts.",
                      reason="no_such_part")
    p = doc.paragraphs[parts[q.part - 1]]
    return cited(q.text, rid, doc, (p.start, p.end))


def _section(q, rid: str, doc: Document) -> Answer | None:
    """The heading of section （N）: of the part the question names, else the one its year or tense
    points to, else of the last part that has one (the plan comes after the review)."""
    marker = re.compile(rf"^[（(]{q.section}[）)]")
    heads = [p for p in doc.paragraphs if p.section and marker.match(p.section)
             and doc.text[p.start:p.end].startswith(p.section[:4])]
    if not heads:
        return None
    parts = list(dict.fromkeys(p.part for p in doc.paragraphs if p.kind != "title" and p.part))
    if q.part is not None and 1 <= q.part <= len(parts):
        in_part = [p for p in heads if p.part == parts[q.part - 1]]
        heads = in_part or heads
    years = q.preferred_years(doc.year)
    fitting = [p for p in heads if years & implied_years(p.part, p.section, doc.year)] if years else []
    p = (fitting or heads)[-1]
    return cited(q.text, rid, doc, (p.start, p.start + len(p.section)))
