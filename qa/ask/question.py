"""Question: what a question asks for, worked out once and handed to retrieval, verification and
the answer step.

The question gets the care the document gets: its language, its words (for BM25,
all of them; for matching, the content words), the report words it stands for
(English through the glossary and the bilingual vocabulary of government work
reports; Chinese variants such as 固投 → 固定资产投资), the places and years it
names (今年 / 去年 resolved per report, since each report has its own year), and
the kind of answer wanted.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..figures import MEASURES
from ..language.glossary import Glossary
from ..language.segmenter import STOPWORDS, content_words, is_chinese, tagged, words
from ..language.vocabulary import Concept, Region, Vocabulary
from ..language.years import years_in
from .cues import FILLER_EN, FILLER_ZH, FRAME_EN, FRAME_ZH, POST_QUESTION, SOURCE_QUESTION, office_asked

FIGURE_QUESTION = re.compile(
    r"多少|几[个家项条所万亿%％倍]?|目标|比例|比重|占比|增速|增幅|幅度|百分|产量|规模|数量|总量|排名|第几|达到|"
    r"how (many|much)|what (percentage|share|proportion|rate|number)|\btarget|\bgrowth\b|\brate\b|\bnumber\b|"
    r"\bpercent|\bfigure\b|\bhow (fast|large|big|high)|\btotal\b|\bamount\b|\bvolume\b|\bin yuan\b|"
    r"\baim(?:s|ing|ed)? (?:for|at)\b|\bintensity\b|\bratio\b|\bproportion\b|\blevel\b", re.I)
# Asks for an amount: the answer must then state one.
AMOUNT_QUESTION = re.compile(r"多少|(?<!哪)几[个家项条所万亿倍次届辆人]|百分之几|第几|how (many|much)|by how much|"
                             r"what (percentage|share|proportion)", re.I)
# Asks for reasons, ways or lists: the answer is the sentence, even when a figure is mentioned.
EXPLAIN_QUESTION = re.compile(r"为什么|为何|怎么|怎样|如何|哪些|哪几|why|how (?!many|much|fast|large|big|high|long)", re.I)
# Asks for a reason or a basis: a sentence that gives one answers ("主要考虑", "是为了", "综合考虑了…").
REASON_QUESTION = re.compile(r"为什么|为何|原因|考虑|依据|根据什么|出于|\bwhy\b|\breason|\bbasis\b|\bbased on\b", re.I)
# Who, when and where (which meeting) questions want a person, a date or the meeting: the cover says.
WHO_QUESTION = re.compile(r"谁|哪位|\bwho\b", re.I)
WHEN_QUESTION = re.compile(r"什么时候|何时|哪天|几月|日期|\bwhen\b|what date|which day|\bon what day", re.I)
MEETING_QUESTION = re.compile(r"什么会议|哪次会议|哪个会议|在哪.{0,4}(?:会议|作|做|发表)|"
                              r"(?:which|what) (?:meeting|session|congress)|\bwhere\b.*\b(?:deliver|present|given)", re.I)
# "第二部分讲什么", "what is part two about": answered by the part's heading.
PART_QUESTION = re.compile(r"第([一二三四五六七八九十\d])部分|\bpart (one|two|three|four|five|\d)\b|"
                           r"\b(first|second|third|fourth|fifth) part\b", re.I)
# "第（五）项", "section (七)", "（九）方面": a numbered section of the report.
SECTION_QUESTION = re.compile(r"[（(]([一二三四五六七八九十]+|\d{1,2})[）)]|\bsection (\d{1,2})\b|"
                              r"第([一二三四五六七八九十]+)(?:项|个方面|方面)", re.I)
NUMERALS = "一二三四五六七八九十"
# A one-character unit is a measure word ("多少辆"); "多少高技能人才" names what is counted, not a unit.
UNIT = re.compile(r"多少((?:万亿|亿|万)?美元|亿元|万元|万人|万吨|亿斤|万亩|公里|微克|[" +
                  "".join(m for m in MEASURES if len(m) == 1) + "]|亿|万)")
# The kind of quantity asked for.  A rate ("覆盖率是多少", "what share") is answered by a percentage;
# money ("总额是多少", "in yuan") by an amount in 元; a count ("how many", "多少家") by a number
# that is not a percentage.  A growth question ("增长多少", "by how much") may be either.
RATE_QUESTION = re.compile(r"(?:率|比重|占比|比例|强度)(?:是|为|达到|要达到|达|将达到)?(?:多少|几)|百分之几|"
                           r"what (?:percentage|share|proportion)|\brate\b(?! of growth)|\bratio\b", re.I)
MONEY_QUESTION = re.compile(r"(?:总额|总值|收入|金额|资金|投资额|营业收入)(?:是|为|达到|有)?多少(?!人|家|个)|多少(?:亿元|万元|元|钱)|"
                            r"\bin (?:yuan|rmb)\b|how much money|\bworth\b|\bvalue of\b", re.I)
COUNT_QUESTION = re.compile(r"how many|多少(?:个|家|人|项|所|座|辆|条|次|名|户|套|件|处|万人|万户|万家)|"
                            r"(?<!哪)几(?:个|家|项|所|座|条|名)", re.I)
GROWTH_QUESTION = re.compile(r"增长|增速|增幅|涨幅|降幅|上涨|涨了|下降|降低|提高|提升|增加|减少|增产|减产|grow|growth|rise|increase|"
                             r"decrease|drop|fall|cut|reduce|by how much|\bup\b|\bdown\b|\badded\b|\bextra\b|\badditional\b", re.I)
GENERIC_UNITS = set("是呢啊吗年钱的")
RELATIVE_YEARS = {"今年": 0, "this year": 0, "本年": 0, "去年": -1, "上年": -1, "过去一年": -1, "last year": -1,
                  "previous year": -1, "past year": -1, "明年": 1, "next year": 1}
# A period of years before the report's own: a five-year review.
RELATIVE_PERIODS = {"过去五年": range(-5, 0), "五年来": range(-5, 0), "past five years": range(-5, 0),
                    "last five years": range(-5, 0)}
CAPITALISED = re.compile(r"\b[A-Z][a-z]+(?:[ -][A-Z][a-z]+)*")
# Without a year, the tense says which part of a report answers: a plan or target is this year's
# (the report's own), something done is last year's (the review).
PLANNED = re.compile(r"要|将|计划|拟|目标|预期|力争|打算|\b(?:will|plan|plans|planned|aim|aims|target|targets|"
                     r"goal|expected|intend|set to|going to)\b", re.I)
# Asks what actually happened: a report cannot state that for the year it plans.
ACTUAL = re.compile(r"实际|最终|全年实现了|\bactual(?:ly)?\b|\bend(?:ed)? up\b|\bturn(?:ed)? out\b|\bdid\b.*\brecord", re.I)
# Asks for a target or plan: a result of the same year does not answer it.
TARGET_QUESTION = re.compile(r"目标|预期|计划|规划|定的|定了|设定|力争|\b(?:target|targets|targeted|targeting|goal|goals|aim|aims|aiming|aimed|"
                             r"planned|plan|plans|set for|strive|striving)\b", re.I)
DONE = re.compile(r"了|已经|已|\b(?:did|was|were|had|has been|have been|achieved|reached)\b", re.I)
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
                "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}


@dataclass(frozen=True)
class Question:
    text: str
    lang: str                        # "zh" or "en"
    own_words: tuple[str, ...]       # the question's own content words (Chinese questions)
    search_words: tuple[str, ...]    # what BM25 looks for: every word, translations, vocabulary variants
    words: tuple[str, ...]           # what the answer should contain: content words, or an English one's dictionary words
    concepts: tuple[Concept, ...]    # indicators and policy terms it names (the vocabulary's)
    regions: tuple[Region, ...]      # provinces (or the country) it names
    places: tuple[str, ...]          # other places it names (cities, ports), in the reports' Chinese
    explicit_years: frozenset[int]
    relative_years: frozenset[int]   # 0 for 今年, -1 for 去年, resolved against each report's year
    tense_years: frozenset[int]      # the same from the tense alone, when it names no year: a preference
    unit: str                        # the unit after "多少" (亿元, 辆, 人), if any
    part: int | None                 # "第二部分": which part it asks about
    section: str                     # "（五）": which numbered section it asks about, "" if none
    wants_figure: bool               # "多少", "目标", "growth": the clause with the figure answers
    wants_amount: bool               # "多少", "how many": an answer without a figure is no answer
    wants_explanation: bool          # "为什么", "哪些", "how does": the whole sentence answers
    wants_reason: bool               # "为什么", "why", "考虑了什么": a sentence that gives a reason
    wants_person: bool
    wants_date: bool
    wants_meeting: bool
    wants_change: bool               # "增长多少", "how fast did it grow": a change, not a level
    wants_actual: bool               # "实际", "actually": what happened, not what was planned
    quantity: str                    # "rate", "money", "count" or "" (any): what kind of figure answers
    known: bool                      # it names something the reports contain (a word, a term, a place)
    subject: tuple[str, ...] = ()    # what it is about: its words once the frame is taken away (cues.py)
    framed: bool = False             # it says what it asks (多少, 是什么, how many), beyond 呢 / "and"
    wants_source: bool = False       # which newspaper carried it (the cover's 来源 line)
    office: str = ""                 # the office a who question names (总理, 市长), in Chinese
    wants_post: bool = False         # the office the speaker holds ("他的职务是？")
    wants_target: bool = False       # a target or plan ("目标是多少", "what target"), not a result
    done: bool = False               # asked in the past tense ("增长了多少", "did"): what happened

    @classmethod
    def parse(cls, text: str, glossary: Glossary, known: set[str] | frozenset[str] = frozenset(),
              vocabulary: Vocabulary | None = None) -> "Question":
        """`known` holds the library's words: only those are worth looking for."""
        vocabulary = vocabulary or Vocabulary.load()
        zh = is_chinese(text)
        own = content_words(text) if zh else []
        concepts = tuple(vocabulary.chinese(text) if zh else vocabulary.english(text))
        variants = [v for c in concepts for v in c.zh]
        # The vocabulary knows the reports' terms; the dictionary tries only the words it leaves.
        foreign = " ".join(w for w in own if w.isascii() and w not in known) if zh else vocabulary.english_rest(text)
        translated = glossary.translate(foreign)
        # Variants are alternatives: BM25 may look for any of them, but the words an answer should
        # contain are the question's own (and its dictionary words); concept_match says the rest.
        lexical = (list(words(text)) if zh else []) + translated + _variant_words(variants, known)
        unit = UNIT.search(text)
        figure, amount = bool(FIGURE_QUESTION.search(text)), bool(AMOUNT_QUESTION.search(text))
        explain, reason = bool(EXPLAIN_QUESTION.search(text)), bool(REASON_QUESTION.search(text))
        return cls(text=text, lang="zh" if zh else "en", own_words=tuple(own),
                   search_words=tuple(dict.fromkeys(lexical)),
                   words=tuple(dict.fromkeys(own + ([] if zh else _named_terms(concepts, known))
                                             + [w for w in translated if w in known and w not in STOPWORDS])),
                   concepts=concepts, regions=tuple(vocabulary.regions(text)),
                   places=_places(text, zh, glossary, vocabulary),
                   explicit_years=years_in(text), relative_years=_relative_years(text),
                   tense_years=_tense_years(text),
                   unit=unit.group(1) if unit and unit.group(1)[0] not in GENERIC_UNITS else "",
                   part=_part(text), section=_section(text),
                   wants_figure=figure, wants_amount=amount,
                   wants_explanation=explain or reason, wants_reason=reason,
                   wants_person=bool(WHO_QUESTION.search(text)),
                   wants_date=bool(WHEN_QUESTION.search(text)),
                   wants_meeting=bool(MEETING_QUESTION.search(text)),
                   wants_change=bool(GROWTH_QUESTION.search(text)),
                   wants_actual=bool(ACTUAL.search(text)),
                   quantity=_quantity(text) if amount or figure and not explain else "",
                   # A one-character dictionary word ("hello": 好) names nothing in particular.
                   known=bool(concepts) or any(w in known and w not in STOPWORDS for w in own)
                   or any(w in known and w not in STOPWORDS and len(w) > 1 for w in translated),
                   subject=_subject(text, zh, own, concepts, vocabulary),
                   framed=bool(FRAMING.search(text)) or figure or explain or reason,
                   wants_source=bool(SOURCE_QUESTION.search(text)), office=office_asked(text),
                   wants_post=bool(POST_QUESTION.search(text)),
                   wants_target=bool(TARGET_QUESTION.search(text)) and not ACTUAL.search(text),
                   done=bool(DONE.search(text)) and not PLANNED.search(text))

    def years(self, report_year: int | None) -> frozenset[int]:
        """The years asked about, with 今年 / 去年 / "last year" resolved against a report's year."""
        relative = {report_year + d for d in self.relative_years} if report_year else set()
        return self.explicit_years | relative

    def preferred_years(self, report_year: int | None) -> frozenset[int]:
        """The years asked about, or else those the tense points to (for ranking, never for declining)."""
        years = self.years(report_year)
        if years or not report_year:
            return years
        return frozenset(report_year + d for d in self.tense_years)

    @property
    def focus(self) -> list[str]:
        """The last word before "多少" names what is asked ("比重是多少")."""
        return [w for w in self.own_words if len(w) > 1][-1:]

    @property
    def wants_cover(self) -> bool:
        return self.wants_person or self.wants_date or self.wants_meeting or self.wants_source or self.wants_post

    @property
    def names_structure(self) -> bool:
        """It asks about a part or a numbered section of the report."""
        return self.part is not None or bool(self.section)

    @property
    def has_content(self) -> bool:
        """It names something a report could answer: a subject, a place, a year, a part or section,
        an office, or what the report itself is (who delivered it, when, where, which newspaper).
        "然后呢", "多少？", "Tell me more" have none."""
        return bool(self.subject or self.regions or self.explicit_years or self.relative_years
                    or self.names_structure or self.office or self.wants_cover or self.places)


# A question that says what it asks; "浙江呢？", "And in 2023?" do not.
FRAMING = re.compile(r"多少|几|什么|哪|谁|何时|怎么|怎样|如何|为什么|为何|是否|吗|有没有|目标|计划|\b(?:what|which|who|"
                     r"whom|when|where|why|how|did|does|do|is|are|was|were|will|has|have|can|could)\b", re.I)
ENGLISH_WORD = re.compile(r"[a-z][a-z0-9&.'-]*")


def _subject(text: str, zh: bool, own: list[str], concepts, vocabulary: Vocabulary) -> tuple[str, ...]:
    """What the question is about: its topical concepts and the words that are neither frame, filler,
    place nor year.  "那2023年实际增长了多少？" has none; "失业率呢？" has 失业率."""
    topical = [c for c in Vocabulary.topical(concepts) if c.key not in REPORT_ITSELF]
    if zh:
        # Search-mode words overlap (国务, 国务院): a word inside a place's name or a concept's
        # variant belongs to it.
        taken = [z for r in vocabulary.regions(text) for z in r.zh if z in text] + \
                [v for c in topical for v in c.zh if v in text] + \
                [p for p in list(RELATIVE_YEARS) + list(RELATIVE_PERIODS) if p in text]
        rest = [w for w in own if w not in FRAME_ZH and w not in FILLER_ZH and w not in PRONOUN_WORDS
                and not NUMBERING.fullmatch(w) and not any(w in t for t in taken)]
    else:
        names = {w for r in vocabulary.regions(text) for n in r.en for w in n.lower().split()}
        covered = {w for c in concepts for v in c.en for w in v.lower().split()}
        rest = [w.strip("'.-") for w in ENGLISH_WORD.findall(re.sub(r"'s\b", "", text.lower().replace("’", "'")))]
        rest = [w for w in rest if len(w) > 1 and w not in FRAME_EN and w not in FILLER_EN and w not in names
                and w not in STOPWORDS and w not in covered and not w.isdigit()]
    return tuple(dict.fromkeys([c.key for c in topical] + rest))


# Concepts that name the report or its speaker: a question about them is about the report itself.
REPORT_ITSELF = frozenset({"government_work_report", "leaders"})
# Years, ordinals and numerals (2023, 第二, 三 of "（三）") say which, not what.
NUMBERING = re.compile(r"\d+|第?[一二三四五六七八九十百]*[项个件条]?|[a-z]")
# Pronouns that stand for an earlier subject; conversation.py replaces them.
PRONOUN_WORDS = frozenset("他 她 他们 它 它们 其 这个 这项 这一 该 此 这些 那个 那些 上述 这方面 该项 这一指标 这个指标".split())


def _named_terms(concepts, known) -> list[str]:
    """An English question's terms in the reports' words: for each topical concept it names, the
    first of its Chinese variants the reports use (the vocabulary lists the usual one first), so an
    English question is matched word for word as a Chinese one is (中欧班列, not "China-Europe")."""
    out = []
    for c in Vocabulary.topical(concepts):
        term = next((v for v in c.zh if v in known), None)
        if term is None:
            term = next((w for v in c.zh for w in words(v) if w in known and w not in STOPWORDS and len(w) > 1), None)
        if term:
            out.append(term)
    return out


def _variant_words(variants: list[str], known) -> list[str]:
    """The report words of a vocabulary variant: itself if the reports use it, else its words."""
    out = []
    for v in variants:
        out += [v] if v in known else [w for w in words(v) if w in known and w not in STOPWORDS]
    return out


def _places(text: str, zh: bool, glossary: Glossary, vocabulary: Vocabulary) -> tuple[str, ...]:
    """Place names other than provinces: jieba's place tag on a Chinese question; for an English one,
    its capitalised words (not the first) that the glossary turns into a Chinese place name."""
    if zh:
        found = [w.word for w in tagged(text) if w.flag == "ns" and len(w.word) > 1]
    else:
        names = CAPITALISED.findall(text)[1:] if text[:1].isupper() else CAPITALISED.findall(text)
        found = [w for name in names for w in glossary.translate(name)
                 if any(t.flag == "ns" for t in tagged(w))]
    # 城镇, 农村 are tagged as places but are the vocabulary's common nouns; 全省 / 城乡 name no place.
    return tuple(dict.fromkeys(w for w in found if not vocabulary.regions(w) and not vocabulary.variants(w)
                               and w[0] not in "全城"))


def _quantity(text: str) -> str:
    if RATE_QUESTION.search(text):
        return "rate"
    if GROWTH_QUESTION.search(text):
        return ""
    if MONEY_QUESTION.search(text):
        return "money"
    return "count" if COUNT_QUESTION.search(text) else ""


def _tense_years(text: str) -> frozenset[int]:
    if years_in(text) or _relative_years(text):
        return frozenset()
    if ACTUAL.search(text):
        return frozenset({-1})
    if PLANNED.search(text):
        return frozenset({0})
    return frozenset({-1}) if DONE.search(text) else frozenset()


def _relative_years(text: str) -> frozenset[int]:
    low = text.lower()
    periods = {d for phrase, span in RELATIVE_PERIODS.items() if phrase in low for d in span}
    # "过去五年" holds "过去一年"'s words no more than "五年来" does: a period, when named, is the years asked.
    return frozenset(periods or {d for phrase, d in RELATIVE_YEARS.items() if phrase in low})


def _section(text: str) -> str:
    """The section's number as the report writes it: （九）, also when asked as "(9)" or "section 9"."""
    m = SECTION_QUESTION.search(text)
    if not m:
        return ""
    token = m.group(1) or m.group(2) or m.group(3)
    if not token.isdigit():
        return token
    n = int(token)
    if not 1 <= n <= 99:
        return ""
    tens, ones = divmod(n, 10)
    return ("" if tens < 2 else NUMERALS[tens - 1]) + ("十" if tens else "") + (NUMERALS[ones - 1] if ones else "")


def _part(text: str) -> int | None:
    m = PART_QUESTION.search(text)
    if not m:
        return None
    token = (m.group(1) or m.group(2) or m.group(3)).lower()
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token) or "一二三四五六七八九十".index(token) + 1
