"""Question: what a question asks for, worked out once before the answer step uses it."""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..language.segmenter import content_words, is_chinese

FIGURE_QUESTION = re.compile(
    r"多少|几[个家项条所万亿%％倍]?|目标|比例|比重|占比|增速|增幅|幅度|百分|产量|规模|数量|总量|排名|第几|达到|"
    r"how (many|much)|what (percentage|share|proportion|rate|number)|\btarget|\bgrowth\b|\brate\b|\bnumber\b|"
    r"\bpercent|\bfigure\b|\bhow (fast|large|big|high)", re.I)
# Asks for an amount: the answer must then state one.
AMOUNT_QUESTION = re.compile(r"多少|(?<!哪)几[个家项条所万亿倍次届辆人]|百分之几|第几|how (many|much)|by how much|"
                             r"what (percentage|share|proportion)", re.I)
# Asks for reasons, ways or lists: the answer is the sentence, even when a figure is mentioned.
EXPLAIN_QUESTION = re.compile(r"为什么|为何|怎么|怎样|如何|哪些|哪几|why|how (?!many|much|fast|large|big|high|long)", re.I)
# Who and when questions want a person or a date.
WHO_QUESTION = re.compile(r"谁|哪位|\bwho\b", re.I)
WHEN_QUESTION = re.compile(r"什么时候|何时|哪天|几月|日期|\bwhen\b|what date|which day", re.I)
UNIT = re.compile(r"多少(亿元|万元|[\u4e00-\u9fff])")
GENERIC_UNITS = set("是呢啊吗年")
YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
RELATIVE_YEARS = {"今年": 0, "this year": 0, "去年": -1, "上年": -1, "过去一年": -1, "last year": -1,
                  "明年": 1, "next year": 1}


@dataclass(frozen=True)
class Question:
    text: str
    lang: str                  # "zh" or "en"
    own_words: list[str]       # the question's own content words (Chinese questions)
    words: list[str]           # what to look for in the report: own words plus translations
    years: frozenset[int]      # years it names, "去年" and "this year" resolved
    unit: str                  # the unit after "多少" (亿元, 辆, 人), if any
    wants_figure: bool         # "多少", "目标", "growth": the clause with the figure answers
    wants_amount: bool         # "多少", "how many": an answer without a figure is no answer
    wants_explanation: bool    # "为什么", "哪些", "how does": the whole sentence answers
    wants_person: bool
    wants_date: bool

    @classmethod
    def parse(cls, text: str, glossary, vocabulary, report_year: int | None) -> "Question":
        """`vocabulary` holds the report's words: only those are worth looking for."""
        zh = is_chinese(text)
        own = content_words(text) if zh else []
        translated = glossary.translate(" ".join(w for w in own if w not in vocabulary) if zh else text)
        unit = UNIT.search(text)
        return cls(text=text, lang="zh" if zh else "en", own_words=own,
                   words=list(dict.fromkeys(own + [w for w in translated if w in vocabulary])),
                   years=question_years(text, report_year),
                   unit=unit.group(1) if unit and unit.group(1)[0] not in GENERIC_UNITS else "",
                   wants_figure=bool(FIGURE_QUESTION.search(text)),
                   wants_amount=bool(AMOUNT_QUESTION.search(text)),
                   wants_explanation=bool(EXPLAIN_QUESTION.search(text)),
                   wants_person=bool(WHO_QUESTION.search(text)),
                   wants_date=bool(WHEN_QUESTION.search(text)))

    @property
    def focus(self) -> list[str]:
        """The last word before "多少" names what is asked ("比重是多少")."""
        return [w for w in self.own_words if len(w) > 1][-1:]


def years_in(text: str) -> frozenset[int]:
    """The years a text names (2023, 2025), as numbers."""
    return frozenset(int(y) for y in YEAR.findall(text))


def report_year(title: str) -> int | None:
    """A report's own year, from its title ("——2024 年 1 月 28 日在…"): what 今年 means in it."""
    years = YEAR.findall(title)
    return int(years[0]) if years else None


def question_years(text: str, report_year: int | None) -> frozenset[int]:
    """The years a question names, with 今年 / 去年 / "last year" resolved against the report's year."""
    years = set(years_in(text))
    if report_year:
        low = text.lower()
        years |= {report_year + d for phrase, d in RELATIVE_YEARS.items() if phrase in low}
    return frozenset(years)
