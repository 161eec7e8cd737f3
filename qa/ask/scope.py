"""Scope: which reports a question goes to.

Among the reports the caller picked (the page's picker, `report=`), else among all: those the
question names by place and year ("吉林2025年…"); else, in a conversation, the reports of the turn
before; else every one.  A question that names a place the library has no report about, or a year
no report of that place covers, is declined here with the reason, before anything is searched.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

from ..ingest.document import Document
from ..language.years import years_in
from .question import Question

# A report reviews the year before its own (and a five-year review the five before, when it names
# them); it plans its own.
REVIEWED_YEARS = 5


@dataclass(frozen=True)
class Scope:
    reports: tuple[str, ...]     # the reports asked, in the library's order
    picked: bool = False         # the caller chose them: they win over anything the question names
    named: bool = False          # the question (or the turn it follows) named a place or a year
    reason: str = ""             # why nothing is asked ("place_not_in_library", "year_not_covered")
    message: str = ""

    @property
    def several(self) -> bool:
        return len(self.reports) > 1


def route(q: Question, docs: dict[str, Document], picked: list[str] | None = None,
          previous: Scope | None = None) -> Scope:
    """The reports to answer `q` from (`docs`: the library's reports, by id, in order).  Picked
    reports are the whole library as far as the question is concerned: it is routed among them."""
    if picked:
        chosen = set(picked)
        docs = {rid: d for rid, d in docs.items() if rid in chosen}
    mark = bool(picked)
    if len(docs) == 1:
        return Scope(tuple(docs), picked=mark)
    if q.regions or q.explicit_years:
        s = _named(q, docs)
        return Scope(s.reports, mark, s.named, s.reason, s.message)
    if previous is not None and previous.reports:
        return Scope(tuple(r for r in previous.reports if r in docs) or tuple(docs), picked=mark,
                     named=previous.named)
    return Scope(tuple(docs), picked=mark)


def _named_years(doc: Document) -> frozenset[int]:
    return _years_of_text(doc.text)


@functools.lru_cache(maxsize=64)
def _years_of_text(text: str) -> frozenset[int]:
    return years_in(text)


def _named(q: Question, docs: dict[str, Document]) -> Scope:
    regions = {reg.code for reg in q.regions}
    by_place = [rid for rid, d in docs.items() if d.meta.region_code in regions] if regions else list(docs)
    if regions and not by_place:
        # A province's report speaks of the country, so a national question is never out of place.
        provinces = [reg for reg in q.regions if reg.code != "national"]
        if provinces:
            return Scope((), reason="place_not_in_library",
                         message=f"the library has no report about {'/'.join(r.zh[0] for r in provinces)}; "
                                 f"its reports: {', '.join(docs)}")
        by_place = list(docs)
    years = q.explicit_years
    if not years:
        return Scope(tuple(by_place), named=True)
    # A year picks the report that plans it, else the one after it that reviews it, else one whose
    # review reaches back to it (a five-year review).
    for fits in (lambda y, d: d.year == y, lambda y, d: d.year and d.year - 1 == y,
                 lambda y, d: d.year and d.year - REVIEWED_YEARS <= y < d.year and y in _named_years(d)):
        chosen = [rid for rid in by_place if any(fits(y, docs[rid]) for y in years)]
        if chosen:
            return Scope(tuple(chosen), named=True)
    if regions or len(docs) > 1:
        which = "/".join(str(y) for y in sorted(years))
        place = "/".join(r.zh[0] for r in q.regions) if regions else ""
        return Scope((), reason="year_not_covered",
                     message=f"no report of the library covers {place}{which}; its reports: "
                             + ", ".join(f"{rid} ({docs[rid].year})" for rid in by_place))
    return Scope(tuple(by_place), named=True)
