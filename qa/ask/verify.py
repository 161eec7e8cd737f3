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

from ..language.segmenter import STOPWORDS, tagged
from ..language.vocabulary import Vocabulary, stated, stated_alone
from .cues import FILLER_ZH, FRAME_ZH, body_asked
from ..figures import LEAD_FLOW
from .features import CHINESE_FIGURE, DATE, FIGURE, ReportView, figure_missing, has_figure
from .table import SAME_UNIT
from .question import NUMBERING, Question

PERCENT = re.compile(r"\d\s*[%％‰]|百分点")
MONEY = re.compile(r"\d\s*(?:万亿|亿|万|千)?元|\d\s*(?:万亿|亿)(?!斤|吨|千瓦|人|户|亩|立方)")


# A change ("增长6.2%", "下降5%") where an amount is asked ("成交额是多少"): not the amount.  A change
# that lands on a level ("提高到15.3%", "降至") states the level.
CHANGE = re.compile(r"(?:增长|下降|提高|降低|增加|减少|上涨|回落|增幅|增速|涨幅|降幅|同比|比上年|再提高|多|少)\s*(?:了)?\s*$")
TO_LEVEL = re.compile(r"(?:提高|增加|增长|下降|降低|上升|扩大)(?:到|至)\s*$|降至\s*$|达到?\s*$")
# Offices and honorifics a report names people with.
TITLE = (r"(?:总书记|主席|总理|书记|省长|市长|区长|县长|州长|主任|部长|厅长|局长|委员长|秘书长|委员|院士|同志|"
         r"代表|先生|女士|教授|将军|劳模|英雄|烈士|科学家|专家|精神)")
# A figure reached or a total ("经济总量达到", "突破"), and words that make a figure a change.
LEVEL_MARK = re.compile(r"(?:达到?|突破|超过|总量|总额|规模)\s*$")
RATE_AFTER = re.compile(r"\s*(?:%|％|‰|个百分点)")
CHANGED = re.compile(r"增长|下降|提高|降低|增加|减少|上涨|回落|增幅|增速|涨幅|降幅|同比|比上年|增产|减产|新增|多|少")
# A figure, not a name with digits in it (PM2.5, 5G).
NUMBER = re.compile(r"(?<![A-Za-z.\d])\d+(?:\.\d+)?(?![A-Za-z\d])|[一二三四五六七八九十两百千万亿]+(?=[个项家所条])")
# Words that say how far an indicator reaches, not what it measures (全省 工业投资 is 工业投资).
SCOPE_WORDS = frozenset("全省 全市 全区 全国 全年 全社会 地方 本地 我省 我市 我区 总体 整体 年度".split())
# A clause that states a target, not a result: what a target question about a reviewed year needs.
TARGET_STATED = re.compile(r"目标|预期|计划|力争|确定|定为")
TARGET_REACH = 8            # characters before the answer's clause that may say it was the target
# Qualifiers that make another figure of the same indicator: (asked, stated instead).
PER_HEAD = re.compile(r"人均|per[ -]capita|per person|per head", re.I)
QUALIFIERS = ((re.compile(r"名义|nominal", re.I), re.compile(r"实际")),
              (PER_HEAD, re.compile(r"^(?!.*人均)", re.S)),
              (re.compile(r"年末|年底|末|end of|year-end", re.I), re.compile(r"平均")),
              (re.compile(r"平均|average", re.I), re.compile(r"年末|年底")))
# What was added (新增, 新建: figures.LEAD_FLOW) is a flow; a question that does not ask for one asks
# for the total.
NEW_ASKED = re.compile(r"新增|新建|新开|新引进|增加|增长|新|\bnew\b|\badd(?:ed|s)?\b|\bcreated?\b", re.I)
TOTAL_ASKED = re.compile(r"\btotal\b|\boverall\b|\baltogether\b|\bin all\b", re.I)
# A ranking ("居全国第3位") answers only a question about one.
RANK = re.compile(r"第\s*\d+\s*[位名]|第[一二三四五六七八九十]+[位名]|居.{0,8}(?:首位|前列|第)|排名")
RANK_ASKED = re.compile(r"第几|排名|排第|位次|名次|\brank|\bplace\b|\bposition\b", re.I)
# Indicators whose figure is itself a rate of change (prices, an index, a share): "CPI控制在多少" is
# answered by 涨幅2%.
RATE_LIKE = re.compile(r"价格|物价|CPI|指数|率|比重|强度|涨幅|增速|增幅|降幅", re.I)
# A running total since some earlier time is not one year's figure.
CUMULATIVE = re.compile(r"累计|累积|总计")
CUMULATIVE_ASKED = re.compile(r"累计|累积|总计|总共|一共|cumulative|in total|so far|to date|altogether", re.I)
# Part-of-speech tags of the words that name what is measured (nouns, Latin terms); verbal nouns
# (建设, 投资) say what is done and are as often stated by another verb (新建, 完成).
NAMING_TAGS = ("n", "eng", "nz", "nt", "nl", "ng")


def verify(q: Question, view: ReportView, sentence: int, span: tuple[int, int]) -> list[str]:
    text = view.doc.text[span[0]:span[1]]
    context = view.sentence_text(sentence) + "\n" + view.headings_of(sentence)
    if not q.known:
        return ["the question names nothing the reports speak of"]
    # A place may be named earlier in the sentence's paragraph ("郑州…。到2025年经济总量突破…").
    para = view.doc.paragraphs[view.doc.sentences[sentence].paragraph]
    around = view.doc.text[para.start:view.doc.sentences[sentence].end] + "\n" + context
    checks = (_amount(q, view, span), _unit(q, text), _quantity(q, text), _place(q, view, around),
              _year(q, view, sentence), _planned(q, view), _subject(q, view, context, view.sentence_text(sentence)),
              _target_year(q, view, sentence, span), _level(q, view, span), _change(q, view, span),
              _terms(q, view, context),
              _person(q, view, text, context), _qualified(q, text), _row_of(q, view, span))
    return [c for c in checks if c]


def _change(q: Question, view: ReportView, span: tuple[int, int]) -> str:
    """A change asked ("增长多少", "What was Sichuan's GDP growth?") is not answered by an amount
    reached ("经济总量达到64697亿元"): when every figure of the answer is a level reached or a
    total, and none a change, the change is in another clause or not stated."""
    if not q.wants_change or q.wants_explanation or not (q.wants_figure or q.wants_amount):
        return ""
    text = view.doc.text[span[0]:span[1]]
    figures = list(NUMBER.finditer(DATE.sub(lambda d: " " * len(d.group()), text)))
    # A rate reached ("力争达到8%") may be the growth asked; an amount reached ("达到64697亿元") is not.
    levels = [LEVEL_MARK.search(text[max(0, m.start() - 8):m.start()]) and not
              CHANGED.search(text[max(0, m.start() - 8):m.start()]) and not RATE_AFTER.match(text[m.end():])
              for m in figures]
    if figures and all(levels):
        return "the passage gives the amount, not its change"
    return ""


def _target_year(q: Question, view: ReportView, sentence: int, span: tuple[int, int]) -> str:
    """A target is answered by a target: asked for a year the report only reviews ("河北2024年生产总值
    增长目标" of the 2025 report), or for no year (then the year the report plans), it is not answered
    by a result stated where the report reviews the past, unless the clause says it was the target."""
    if not q.wants_target or not view.year:
        return ""
    asked = q.years(view.year)
    if asked and max(asked) >= view.year:
        return ""
    if not asked and view.year in view.years_of(sentence):
        return ""
    s = view.doc.sentences[sentence]
    if TARGET_STATED.search(view.doc.text[max(s.start, span[0] - TARGET_REACH):span[1]]):
        return ""
    return f"the report gives {max(asked) if asked else 'a past year'}'s result, not its target"


def _row_of(q: Question, view: ReportView, span: tuple[int, int]) -> str:
    """The figures of the answer, as the key-figures table reads them, must include one of what a
    Chinese figure question asks about (规上工业单位增加值能耗 is energy use, not value added), and a
    total asked is not answered by what was added (新增风光装机 is no installed capacity)."""
    if not (q.wants_figure or q.wants_amount) or q.wants_explanation:
        return ""
    rows = view.table.within(span)
    topical = Vocabulary.topical(q.concepts)
    if q.lang == "zh" and rows and \
            not any(view.table.names(q, f) or any(stated(c, f.indicator) for c in topical) for f in rows):
        return "the passage's figure is of something else"
    # An English question asks for the total only when it says so ("How many … will it build" asks
    # for what is added, "total installed capacity" does not).
    total = q.lang == "zh" or bool(TOTAL_ASKED.search(q.text))
    if rows and total and not NEW_ASKED.search(q.text) and all(LEAD_FLOW.match(f.indicator) for f in rows):
        return "the passage gives what was added, not the total"
    return ""


def _qualified(q: Question, text: str) -> str:
    """A nominal growth is not answered by a real one, a year-end rate not by an average, one year's
    figure not by a running total."""
    for asked, other in QUALIFIERS:
        if asked.search(q.text) and other.search(text) and not asked.search(text):
            return "the passage gives another measure of it"
    if (q.explicit_years or q.relative_years) and CUMULATIVE.search(text) and not CUMULATIVE_ASKED.search(q.text):
        return "the passage gives a running total, not one year's"
    if _per_head(q, text):
        return "the passage gives a figure per head, not the total"
    if (q.wants_figure or q.wants_amount) and RANK.search(text) and not RANK_ASKED.search(q.text) \
            and not NUMBER.search(RANK.sub("", DATE.sub("", text))):
        return "the passage gives a ranking, not the figure"
    return ""


def _per_head(q: Question, text: str) -> bool:
    """A figure question about a total answered by the clause of a figure per head (人均地区生产总值
    for "How big was Gansu's economy"); 人均 inside a term the question names (人均预期寿命) is
    that term."""
    if not (q.wants_figure or q.wants_amount) or PER_HEAD.search(q.text) or \
            any("人均" in v for c in q.concepts for v in c.zh):
        return False
    clause = next((c for c in re.split(r"[，,；;。]", text) if NUMBER.search(c)), "")
    return "人均" in clause


def _level(q: Question, view: ReportView, span: tuple[int, int]) -> str:
    """An amount asked without a change ("成交额是多少", "PM2.5浓度是多少") is not answered by a
    change ("增长34.8%", "下降5%"): every figure of the answer would be a change."""
    # A target is mostly set as a growth rate ("社零增长5%"): a target question is answered by one.
    if not q.wants_amount or q.wants_change or q.wants_target or q.quantity == "rate" or RATE_LIKE.search(q.text):
        return ""
    text = view.doc.text[span[0]:span[1]]
    figures = [m for m in NUMBER.finditer(DATE.sub(lambda d: " " * len(d.group()), text))]
    if figures and all(CHANGE.search(text[max(0, m.start() - 6):m.start()]) and
                       not TO_LEVEL.search(text[max(0, m.start() - 6):m.start()]) for m in figures):
        return "the passage gives a change, not the amount"
    return ""


def _terms(q: Question, view: ReportView, context: str) -> str:
    """The noun that names what a Chinese figure question measures (its last naming word: 销量 of
    新能源汽车销量) must be stated in the answer's sentence or headings: 产量 does not answer 销量.
    A head the vocabulary covers is the subject check's; a word the report never uses is left to
    the other checks (a segmentation slip like 家规 of 多少家规上企业 names nothing)."""
    if q.lang != "zh" or not (q.wants_figure or q.wants_amount):
        return ""
    nouns = _naming_words(q)
    if nouns and nouns[-1][1] and nouns[-1][0] in view.idf and nouns[-1][0] not in context:
        return f"the passage does not state {nouns[-1][0]}"
    return ""


def _naming_words(q: Question) -> list[tuple[str, bool]]:
    """The question's nouns in order, each with whether it is its own (no vocabulary term covers
    it), with a vocabulary term that ends after them standing last (as not its own); frame,
    scope, place and year words left out."""
    covered = [v for c in q.concepts for v in c.zh if v in q.text]
    places = [z for r in q.regions for z in r.zh] + list(q.places)
    out, at = [], 0
    for w in tagged(q.text):
        at += len(w.word)
        if len(w.word) > 1 and w.flag.startswith(NAMING_TAGS) and w.word not in FRAME_ZH \
                and w.word not in FILLER_ZH and w.word not in STOPWORDS and w.word not in SCOPE_WORDS \
                and not NUMBERING.fullmatch(w.word) and not any(w.word in p or p in w.word for p in places):
            out.append((w.word, not any(w.word in c or c in w.word for c in covered), at))
    last_term = max((q.text.find(v) + len(v) for c in Vocabulary.topical(q.concepts) for v in c.zh if v in q.text),
                    default=-1)
    if out and last_term > out[-1][2]:
        out.append(("", False, last_term))
    return [(w, own) for w, own, _ in out]


def _person(q: Question, view: ReportView, span_text: str, context: str) -> str:
    """A who question is answered by a person's name; one about an office ("国务院总理是谁？") by a
    name beside that office; a who or when question about a person the report names ("嘎玛泽登是
    什么时候…") by a passage that names them."""
    if not (q.wants_person or q.wants_date):
        return ""
    vocabulary = Vocabulary.load()
    for w in tagged(q.text):
        if w.flag.startswith("nr") and len(w.word) > 1 and w.word in view.doc.text and w.word not in context \
                and not vocabulary.variants(w.word):
            return f"the passage does not name {w.word}"
    if not q.wants_person:
        return ""
    # A report names a person with an office ("李强总理", "习近平总书记") or as its speaker; jieba also
    # tags words of slogans as names ("实干谱写华章": 华章), which answer no who question.
    speaker = view.doc.meta.speaker or ""
    names = [w.word for w in tagged(span_text) if w.flag.startswith("nr") and len(w.word) > 1
             and (w.word in speaker or re.search(rf"{re.escape(w.word)}.{{0,12}}{TITLE}|{TITLE}.{{0,2}}{re.escape(w.word)}",
                                                 span_text))]
    if not names:
        return "the passage names no person"
    if q.office and not any(re.search(rf"{re.escape(q.office)}.{{0,3}}{re.escape(n)}|{re.escape(n)}.{{0,3}}"
                                      rf"{re.escape(q.office)}", context) for n in names):
        return f"the passage does not say who is {q.office}"
    body = body_asked(q.text)
    # 主席, 书记, 主任 belong to many bodies: the one asked must be named with the office (总理, 省长 to one).
    if q.office in ("主席", "书记", "主任", "委员长", "秘书长") and body and body != "政府" \
            and not re.search(rf"{body}.{{0,12}}{re.escape(q.office)}", context):
        return f"the passage does not say who holds that office of {body}"
    return ""


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
    own = any(r.code == mine for r in q.regions)
    for region in q.regions:
        if region.code == "national" and own:
            continue        # "Henan's … compared with the national target": the country qualifies, Henan is asked
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
    # A period asked ("过去五年…年均增长多少") is answered where the report sums up several years.
    if len(asked) > 1 and view.sums_up(sentence):
        return ""
    return f"the passage is not about {'/'.join(map(str, sorted(asked)))}"


def _planned(q: Question, view: ReportView) -> str:
    """What actually happened in the year a report plans (or later) is not in that report: asked
    with 实际 / "actually", or in the past tense ("增长了多少", "did … grow") without a target."""
    asked = q.years(view.year)
    actual = q.wants_actual or (q.done and not q.wants_target and (q.wants_figure or q.wants_amount)
                                and not q.wants_explanation)
    if not actual or not view.year or not asked or min(asked) < view.year:
        return ""
    return f"the report plans {min(asked)}; it cannot say what actually happened then"


def _subject(q: Question, view: ReportView, context: str, sentence: str) -> str:
    """Every term a Chinese figure question names (its topical concepts) must be stated: the
    new-energy vehicles of "新能源汽车零售额" are not enough, its 零售额 must be stated too."""
    if not (q.wants_figure or q.wants_amount):
        return ""
    # A Chinese question's terms are its own words; an English one's are the vocabulary's reading of
    # its words, looser, so only the most specific must be stated, and only when the question names
    # it in a term of more than one word: a single English word ("cargo", "grid", "land") stands for
    # many Chinese ones.
    if q.lang == "zh":
        terms = Vocabulary.topical(q.concepts)
    else:
        named = Vocabulary.load().english_named(q.text)
        terms = [c for c in [view.rarest_concept(q)] if c and named.get(c.key, 0) > 1]
    for concept in terms:
        # Its words apart state it within the sentence only: a heading's "拼经济稳增长" states no GDP growth.
        if not (stated_alone(concept, context, q.concepts) or _stated_apart(concept, sentence)):
            return f"the passage does not state {concept.zh[0]}"
    return ""


def _stated_apart(concept, context: str) -> bool:
    """Every word of a variant in one sentence ("国内生产总值达到…，增长8.1%" states GDP growth), but
    not a variant found only inside a longer word (出口 in 进出口)."""
    return any(v not in context and stated(type(concept)(concept.key, concept.en, (v,)), context)
               for v in concept.zh)
