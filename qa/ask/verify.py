"""Verify: before an answer is given, check that its span, with its sentence and headings, states
what was asked.

Retrieval always finds a nearest passage, and on a near miss (an indicator the
report never gives, another year, another place) the nearest passage is about
something else.  These checks are general, not per question:

- amount: "多少" / "how many" asks for a figure; a span without one is no answer.
- unit:   "多少亿元" asks in a unit; a span in another unit is no answer.
- quantity: a rate is answered by a percentage, money by an amount in 元, a count by a number
          that is not a percentage ("how many tourists" is not answered by "增长20%").
- place:  a question that names a province other than the report's, or a city, which the
          sentence and its headings do not name.
- year:   a question about a year that neither the sentence nor its part (a part reviews the year
          before the report's own, or names its year) speaks of; or about what actually happened in
          the year the report plans, which no report can say.
- subject: for a figure question, the most specific indicator or policy term it names (of the
          bilingual vocabulary's topical concepts, the one rarest in the report) must be stated in
          the sentence or its headings, by a variant or by all the words of one
          ("国内生产总值达到…，增长8.1%" states GDP growth).

Each returns a short reason, shown to the user with "not found".  A question that names nothing
the reports contain ("12345", "asdf") is not asked of them at all.
"""
from __future__ import annotations

import re

from ..language.vocabulary import stated
from .features import CHINESE_FIGURE, DATE, FIGURE, ReportView, figure_missing, has_figure
from .table import SAME_UNIT
from .question import Question

PERCENT = re.compile(r"\d\s*[%％‰]|百分点")
MONEY = re.compile(r"\d\s*(?:万亿|亿|万|千)?元|\d\s*(?:万亿|亿)(?!斤|吨|千瓦|人|户|亩|立方)")


def verify(q: Question, view: ReportView, sentence: int, span: tuple[int, int]) -> list[str]:
    text = view.doc.text[span[0]:span[1]]
    context = view.sentence_text(sentence) + " " + view.headings_of(sentence)
    if not q.known:
        return ["the question names nothing the reports speak of"]
    checks = (_amount(q, view, span), _unit(q, text), _quantity(q, text), _place(q, view, context),
              _year(q, view, sentence), _planned(q, view), _subject(q, view, context))
    return [c for c in checks if c]


def _amount(q: Question, view: ReportView, span: tuple[int, int]) -> str:
    """An amount asked for must be stated: a figure the key-figures table reads in the span, or a
    Chinese numeral (which the table leaves out).  Digits that name or date ("6.8级地震", "5G",
    "第十四届") are not an amount."""
    text = view.doc.text[span[0]:span[1]]
    if figure_missing(q, text) or q.wants_amount and not (view.table.within(span) or has_figure(text, CHINESE_FIGURE)):
        return "the passage states no figure"
    return ""


def _unit(q: Question, text: str) -> str:
    if not q.unit or q.unit in text or SAME_UNIT.get(q.unit, "\0") in text:
        return ""
    return f"the passage gives no figure in {q.unit}"


def _quantity(q: Question, text: str) -> str:
    bare = DATE.sub("", text)
    if q.quantity == "rate" and not PERCENT.search(bare):
        return "the passage gives no rate"
    if q.quantity == "money" and not MONEY.search(bare):
        return "the passage gives no amount of money"
    if q.quantity == "count" and FIGURE.search(bare) and not FIGURE.search(PERCENT.sub("", bare)):
        return "the passage gives a rate, not a number"
    return ""


def _place(q: Question, view: ReportView, context: str) -> str:
    """A province other than the report's, or a city or port, must be named where the answer stands."""
    mine = view.doc.meta.region_code
    for region in q.regions:
        # "national" in an English question is as often "national-level" (国家级) as the country.
        names = region.zh + (("国家",) if region.code == "national" else ())
        if region.code != mine and not any(z in context for z in names):
            return f"the question is about {region.zh[0]}, the report about {view.doc.meta.region or 'another place'}"
    for place in q.places:
        if place not in context:
            return f"the passage is not about {place}"
    return ""


def _year(q: Question, view: ReportView, sentence: int) -> str:
    asked = q.years(view.year)
    if not asked or asked & view.years_of(sentence):
        return ""
    return f"the passage is not about {'/'.join(map(str, sorted(asked)))}"


def _planned(q: Question, view: ReportView) -> str:
    """What actually happened in the year a report plans (or later) is not in that report."""
    asked = q.years(view.year)
    if not q.wants_actual or not view.year or not asked or min(asked) < view.year:
        return ""
    return f"the report plans {min(asked)}; it cannot say what actually happened then"


def _subject(q: Question, view: ReportView, context: str) -> str:
    """The most specific term the question names (the one rarest in this report) must be stated."""
    concept = view.rarest_concept(q) if q.wants_figure or q.wants_amount else None
    return "" if concept is None or stated(concept, context) else f"the passage does not state {concept.zh[0]}"
