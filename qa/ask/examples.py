"""Example questions a library answers: drawn from its reports, and each asked before it is offered.

An example that the library does not answer, or answers with less than EXAMPLE_CONFIDENCE, is not
shown: a page's own example that gets a wrong answer is the worst first impression.  One question
the reports cannot answer is kept (when it is declined), to show what a decline looks like.
"""
from __future__ import annotations

import time
from typing import Callable

from ..language.vocabulary import Vocabulary
from ..schema import Answer, Report

# Held out, answers shown at >= 0.95 were right ~98 % of the time (eval/report.md): an example must be
# at least that sure.
EXAMPLE_CONFIDENCE = 0.95
SHOWN = 6
# The bundled report's own examples: a fact, a target, a plan, English, and one it cannot answer.
BUNDLED = ["2024年经济增长的预期目标是多少？", "技术合同成交额增长了多少？", "城镇新增就业目标是多少？",
           "新能源汽车产业集群有哪些重点项目？", "What was Henan's GDP growth in 2023?",
           "How much did PM2.5 concentration fall in 2023?"]
BUNDLED_DECLINED = "2024年河南省常住人口是多少？"
# Questions every work report answers, about one report's place and year.
GENERAL = ["{place}{year}年经济增长的预期目标是多少？", "{place}{last}年粮食产量是多少？", "{place}城镇新增就业目标是多少？",
           "What was {place_en}'s GDP growth in {last}?", "What is {place_en}'s {year} target for new urban jobs?",
           "{place}{year}年居民消费价格涨幅目标是多少？", "How many new urban jobs did {place_en} add in {last}?"]
GENERAL_DECLINED = "{place}{year}年常住人口是多少？"


def candidates(reports: list[Report], bundled: str) -> tuple[list[str], list[str]]:
    """(questions to answer, questions to decline) for a library's reports."""
    if any(r.id == bundled for r in reports):
        return BUNDLED, [BUNDLED_DECLINED]
    out, declined = [], []
    for report in reports[:3]:
        fill = _fill(report)
        out += [q.format(**fill) for q in GENERAL]
        declined.append(GENERAL_DECLINED.format(**fill))
    return list(dict.fromkeys(out)), declined


def _fill(report: Report) -> dict:
    regions = Vocabulary.load().regions(report.region) if report.region else []
    national = not regions or regions[0].code == "national"
    year = report.year or time.localtime().tm_year
    return {"place": "全国" if national else report.region, "year": year, "last": year - 1,
            "place_en": "China" if national else regions[0].en[0].title()}


def verified(ask: Callable[[str], Answer], reports: list[Report], bundled: str, shown: int = SHOWN) -> list[str]:
    """The examples the library answers surely (and one it declines), at most `shown`."""
    answer, decline = candidates(reports, bundled)
    good = []
    for q in answer:
        a = ask(q)
        if a.found and a.confidence >= EXAMPLE_CONFIDENCE and not a.others:
            good.append(q)
        if len(good) == shown - 1:
            break
    good += [q for q in decline if not ask(q).found][:1]
    return good
