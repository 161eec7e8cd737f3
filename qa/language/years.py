"""Years: the ones a text names, and the ones a passage speaks of by where it stands.

A report of 2025 reviews 2024 in its first part ("一、2024年工作回顾", or just
"过去一年工作回顾") and plans 2025 in the others, mostly without repeating the
year in each sentence; a national report may also review five years.
"""
from __future__ import annotations

import re

YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
REVIEW = re.compile(r"回顾|过去一年|过去五年")
FIVE_YEARS = re.compile(r"过去五年|五年来")
# A paragraph that sums up several years ("五年来，…年均增长5.2%") speaks of a period, not of the
# year its part reviews: only the years it names count.
SEVERAL_YEARS = re.compile(r"五年来|过去五年|十年来|过去十年|新时代十年|年均")
OPENING = 12      # characters of a paragraph that say what period it sums up ("五年来，")


def years_in(text: str) -> frozenset[int]:
    """The years a text names (2023, 2025), as numbers."""
    return frozenset(int(y) for y in YEAR.findall(text))


def implied_years(part: str, text: str, report_year: int | None, opening: str = "",
                  several: bool = False) -> frozenset[int]:
    """The years a passage speaks of: those it and its part heading name; where the heading names
    none, the year its part is about (a review: the year before the report's, or the five before),
    unless the passage, its paragraph's opening (`opening`) or where it stands (`several`: a
    stretch of paragraphs that a "过去五年" opening leads) sums up several years."""
    named = years_in(text) | years_in(part)
    if several or SEVERAL_YEARS.search(opening + text):
        # Within a review of several years, a paragraph that opens on one ("刚刚过去的2017年，…") speaks
        # of that year.
        return frozenset(years_in(text) | years_in(opening))
    if report_year and not years_in(part):
        if FIVE_YEARS.search(part):
            named |= set(range(report_year - 5, report_year))
        elif REVIEW.search(part):
            named |= {report_year - 1}
        else:
            named |= {report_year}
    return frozenset(named)
