"""Conversation: follow-up questions understood without an LLM.

A turn is a question, the standalone question it was resolved to, and the reports it went to.  A
follow-up ("那去年呢？", "失业率呢？", "And Sichuan?", "它的目标是多少？", "When?") lacks parts a
standalone question has; it takes them from the turn before and replaces what it names itself:

    year        那2023年呢 / 去年呢 / And in 2024?        the year (今年 / 去年 of the report asked)
    place       浙江呢 / And Sichuan?                    the place, and so the report
    subject     失业率呢 / what about grain output?        the indicator or topic
    kind        实际呢 / 目标呢 / and the actual figure?  planned vs actual
    section     那（四）呢 / 第三部分呢                     the part or section
    pronoun     它的目标是多少 / How fast did it grow?     stands for the earlier subject

The result is written out as a whole question (shown to the user: "理解为 Understood as: …") and
parsed again, so retrieval, verification and the answer step run on a standalone question.  A
complete question stands alone: it takes only the scope (the reports) of the turn before.  A
follow-up with nothing before it, and a question with no content at all, are declined.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable

from ..ingest.document import Document
from ..language.vocabulary import Concept, Region, Vocabulary
from .question import FRAMING, GROWTH_QUESTION, PRONOUN_WORDS, Question
from .scope import Scope, route

# Leading words that lean on the turn before ("那2023年呢", "And Jiangsu?", "What about the target?").
MARKER = re.compile(r"^\s*(?:那么|那就|那在|那|还有|另外|再问一下|再问|同样|以及|和|跟)\s*|"
                    r"^\s*(?:and\s+what\s+about|and\s+how\s+about|what\s+about|how\s+about|and\s+for|"
                    r"same\s+for|and\s+in|and\s+then|and|also|then|so)\b[\s,]*", re.I)
# "其中第一件是什么？", "Of these, which…": among the things the turn before asked about.
AMONG = re.compile(r"^\s*(?:那么|那)?\s*其中|^\s*(?:of these|of them|among them|among these)\b", re.I)
TRAILING_NE = re.compile(r"呢\s*[?？]?\s*$")
TRAILING = re.compile(r"\s*(?:呢|吗|啊|呀)?\s*[?？。.!！]*\s*$")
# "that" and "this" stand for something only when nothing follows that they qualify ("this year",
# "the governor that delivered" are not pronouns).
PRONOUN_EN = re.compile(r"\b(it|its|they|them|their|those|these)\b|\b(that|this)\b(?=\s*[?？.!]|\s*$|\s+(?:is|was|were|"
                        r"are|did|does|do|has|have|had|will|would|grow|grew|rise|rose|reach|reached|figure|number|"
                        r"indicator|one)\b)", re.I)
PRONOUN_ZH = re.compile("|".join(sorted(PRONOUN_WORDS, key=len, reverse=True)))
TARGET_WORDS = re.compile(r"预期目标|目标|计划|预期|\b(?:target|targets|goal|goals|aim|aims|planned|plan)\b", re.I)
ACTUAL_WORDS = re.compile(r"实际|完成|\b(?:actual|actually|achieved|reached)\b", re.I)
YEAR_ZH = re.compile(r"(?:19|20)\d\d\s*年(?:度)?|今年|去年|明年|上年|本年|当年|过去五年|五年来")
YEAR_EN = re.compile(r"\s*\b(?:in|for|during|of|over)?\s*(?:(?:19|20)\d\d|this year|last year|next year|the previous year|"
                     r"the past five years|the last five years)\b",
                     re.I)
UNDERSTOOD_NOT = ("no_content", "orphan_follow_up")
NUMERALS = "一二三四五六七八九十"
# What an indicator measures, at the end of its name (粮食产量, 人均可支配收入, 失业率).
# A rate or share is asked as its level ("失业率呢？" after a growth target: 失业率的预期目标, not 失业率增长).
RATE = re.compile(r"(?:率|比重|占比|强度|涨幅|指数|rate|share|ratio)$", re.I)
HEAD = re.compile(r"(?:产量|销量|总量|吞吐量|发电量|面积|收入|支出|投资|增加值|总额|规模|人数|比重|占比|强度|涨幅|率|指数|增长|增速|价格|"
                  r"产值|成交额|量)$")
RELATIVE = {0: ("今年", "this year"), -1: ("去年", "last year"), 1: ("明年", "next year")}
# The noun an English follow-up asks for, which the earlier subject qualifies ("the target for …").
MEASURE_EN = re.compile(r"\b(?:target|goal|aim|figure|number|total|rate|amount|level|share|value)\b(?!\s+for\b)", re.I)
COVER_FLAGS = ("wants_post", "wants_person", "wants_date", "wants_meeting", "wants_source")
COVER_ZH = {"wants_person": "是谁作的", "wants_date": "是哪天作的", "wants_meeting": "是在哪次会议上作的",
            "wants_source": "是哪家报纸刊登的", "wants_post": "的报告人是什么职务"}
COVER_EN = {"wants_person": "Who delivered {r}?", "wants_date": "When was {r} delivered?",
            "wants_meeting": "At which meeting was {r} delivered?", "wants_source": "Which newspaper carried {r}?",
            "wants_post": "What office does the speaker of {r} hold?"}
NO_CONTENT = ("请输入一个关于报告的问题。The question has nothing in it to look up: please ask about something "
              "the reports say (e.g. 2024年经济增长的预期目标是多少？).")
ORPHAN = ("这是一个追问，但前面没有可以接续的问题：请把问题问完整。This follows up on nothing: please ask the whole "
          "question (e.g. 2024年城镇调查失业率的预期目标是多少？).")


@dataclass(frozen=True)
class Turn:
    """One question of a conversation, as it was understood."""
    question: str            # as typed
    resolved: str            # the standalone question answered
    q: Question              # `resolved`, parsed
    scope: Scope
    reason: str = ""         # why it is not asked at all ("no_content", "orphan_follow_up", a scope's reason)
    message: str = ""
    # Other readings of a follow-up, asked in turn when the first is not answered: "粮食产量呢？"
    # after a growth asks for grain output's growth, else for grain output.
    alternatives: tuple[str, ...] = ()


class Resolver:
    """Turns a question and the turns before it into a standalone question and its scope."""

    def __init__(self, parse: Callable[[str], Question], docs: dict[str, Document],
                 vocabulary: Vocabulary | None = None):
        self.parse, self.docs = parse, docs
        self.vocabulary = vocabulary or Vocabulary.load()

    def turn(self, text: str, before: list[Turn], picked: list[str] | None = None) -> Turn:
        q = self.parse(text)
        # A turn that was not understood (nothing in it, nothing to follow) is passed over.
        prev = next((t for t in reversed(before) if t.reason not in UNDERSTOOD_NOT), None)
        leans = bool(MARKER.match(text)) or _pronoun(text, q.lang) or bool(AMONG.match(text))
        if not q.has_content and not (_pronoun(text, q.lang) or _kind(text) or AMONG.match(text)):
            return Turn(text, text, q, Scope(()), "no_content", NO_CONTENT)
        if prev is not None and self._follows(text, q, leans):
            resolved, *alternatives = self._carry(text, q, prev)
            turn = self._routed(text, resolved, self.parse(resolved), picked, prev)
            return replace(turn, alternatives=tuple(a for a in alternatives if a != resolved))
        if self._fragment(text, q, leans):
            return Turn(text, text, q, Scope(()), "orphan_follow_up", ORPHAN)
        return self._routed(text, self._placed(text, q, prev), q, picked, prev)

    # -- is it a follow-up? -------------------------------------------------------------------
    def _follows(self, text: str, q: Question, leans: bool) -> bool:
        """It lacks a subject, leans on the turn before by a pronoun, or names a subject without
        asking anything of it ("失业率呢？", "And the grain output?")."""
        return _pronoun(text, q.lang) or bool(AMONG.match(text)) or self._fragment(text, q, leans) \
            or not _asks(text, q)

    def _fragment(self, text: str, q: Question, leans: bool) -> bool:
        """Nothing of its own to ask about: no subject, and not a question about a part, a section,
        an office or the report itself."""
        if q.subject or q.office or q.names_structure:
            # A pronoun beside a subject of its own points inside the question ("Guangxi … its marine
            # economy"); a subject that leans and asks nothing ("失业率呢？", "And the grain output?")
            # stands for the question before.
            leaning = leans or bool(TRAILING_NE.search(text))
            if q.subject:
                return leaning and not _asks(text, q)
            return leaning and not q.names_structure and not q.office
        return not (q.wants_cover and not leans and _about_report(text))

    # -- carrying ------------------------------------------------------------------------------
    def _carry(self, text: str, q: Question, prev: Turn) -> list[str]:
        p = prev.q
        pronoun = _pronoun(text, q.lang)
        own = bool(q.subject) and not pronoun
        # Written in the earlier question's language unless the follow-up brings words of its own
        # that the vocabulary cannot carry across.
        lang = q.lang if q.lang == p.lang or (own and not Vocabulary.topical(q.concepts)) else p.lang
        cover = next((f for f in COVER_FLAGS if getattr(q, f)), "")
        if cover and not own and p.wants_cover:
            return [self._cover_question(cover, self._place(q, prev, lang), _year_words(p.text, p.lang, lang), lang)]
        if q.names_structure and not own:
            return [self._structure(q, p, lang)]
        if not own and not pronoun and not _asks(text, q):
            return [self._swap(p.text, p, q, text, lang, self._tense(q, prev.scope), self._tense(p, prev.scope))]
        # A follow-up that flips planned and actual without a year of its own asks about the year its
        # kind is of ("它的目标是多少？" after last year's output: this year's target).
        flips = _kind(text) and _kind(text) != _kind(p.text) and not _year_words(text, q.lang, q.lang)
        years = "" if flips else _year_words(p.text, p.lang, lang)
        if (not own or pronoun) and lang != q.lang:
            return [_figure_question(self._subject_phrase(p.text, p, lang), self._place(q, prev, lang),
                                     _year_words(text, q.lang, lang) or years, _kind(text) or _kind(p.text), lang)]
        if not own or pronoun:
            # An earlier question without a subject of its own words ("What did the report promise?")
            # leaves the pronoun as it is: "How much money does  set aside" helps nobody.
            return [self._insert(text, q, self._subject_phrase(p.text, p, lang), self._place(q, prev, lang),
                                 years, lang)]
        earlier = self._subject_phrase(p.text, p, lang)
        subject = _with_head(self._subject_phrase(text, q, lang), earlier, lang, self._texts(prev))
        place = self._place(q, prev, lang)
        years = _year_words(text, q.lang, lang) or _year_words(p.text, p.lang, lang)
        kind = _kind(text) or _kind(p.text)
        if _descriptive(p) and lang == p.lang:
            return [_set_place(_set_year(p.text.replace(earlier, subject, 1), years, lang), place, p, lang)]
        # The earlier question asked for a change ("成交额增长了多少", "经济增长实际是多少"): so does this
        # one, first; the figure itself is the other reading (a report gives 粮食产量, not its growth).
        change = (bool(GROWTH_QUESTION.search(p.text.replace(earlier, "") if earlier else p.text)) or
                  bool(re.search(r"(增长|增速|增幅|growth)$", earlier))) and not RATE.search(subject)
        readings = [_figure_question(subject, place, years, kind, lang, change=change)]
        if change:
            readings.append(_figure_question(subject, place, years, kind, lang))
        return readings

    def _texts(self, prev: Turn) -> list[str]:
        """The texts of the reports asked before (else of all): where a completed subject must occur."""
        return [self.docs[r].text for r in prev.scope.reports if r in self.docs] or \
            [d.text for d in self.docs.values()]

    def _tense(self, q: Question, scope: Scope) -> str:
        """"past" when the follow-up moves to a year the report reviews, "present" to the one it plans."""
        years = {self.docs[r].year for r in scope.reports if r in self.docs} - {None}
        if q.relative_years:
            d = min(q.relative_years)
        elif q.explicit_years and len(years) == 1:
            d = min(q.explicit_years) - next(iter(years))
        else:
            return ""
        return "past" if d < 0 else "present" if d == 0 else ""

    def _swap(self, ptext: str, p: Question, q: Question, text: str, lang: str, tense: str, p_tense: str) -> str:
        """The earlier question with the place, year or kind the follow-up names ("浙江呢？", "去年呢？",
        "实际呢？", "And in 2024?"): the rest stays as it was asked."""
        out = ptext if lang == p.lang else _figure_question(self._subject_phrase(ptext, p, lang), "",
                                                            _year_words(ptext, p.lang, lang), _kind(ptext), lang)
        years = _year_words(text, q.lang, lang)
        kind = _kind(text)
        if years and not kind:
            # Moving to the year the report reviews asks what happened; to the year it plans, what is planned.
            kind = "actual" if tense == "past" else "target" if tense == "present" and _kind(out) == "actual" else ""
        if years:
            out = _set_year(out, years, lang)
        elif kind and kind != _kind(out):
            out = _set_year(out, "", lang)      # a kind flipped alone asks about that kind's year
        if kind and kind != _kind(out):
            out = _flip(out, kind, lang, self._subject_phrase(ptext, p, lang), _year_words(out, lang, lang),
                        _name(p.regions[0], lang) if p.regions else "")
        if q.regions:
            if p.wants_cover and not years:
                out = _set_year(out, "", lang)   # another place's report is of its own year
            elif not kind and not _kind(out) and p.explicit_years and p_tense and (p.wants_figure or p.wants_amount):
                # "西藏2024年…增长多少？" asked of a 2025 report asked for a result: so does "河南呢？",
                # though Henan's report plans 2024.
                out = _flip(out, "actual" if p_tense == "past" else "target", lang,
                            self._subject_phrase(ptext, p, lang), _year_words(out, lang, lang))
            out = _set_place(out, _name(q.regions[0], lang), p, lang)
        return out

    def _place(self, q: Question, prev: Turn, lang: str) -> str:
        """The place a follow-up asks about: its own, else that of the one report asked before (an
        English "national total" names no report), else the one the question before named."""
        regions = q.regions
        if not regions and len(prev.scope.reports) == 1 and prev.scope.reports[0] in self.docs:
            code = self.docs[prev.scope.reports[0]].meta.region_code
            regions = tuple(r for r in self.vocabulary.region_list if r.code == code) \
                if prev.q.regions or len(self.docs) > 1 else ()
        regions = regions or prev.q.regions
        return _name(regions[0], lang) if regions else ""

    def _cover_question(self, flag: str, place: str, year: str, lang: str) -> str:
        if lang == "zh":
            return f"{place}{year}政府工作报告{COVER_ZH[flag]}？"
        year = re.sub(r"^\s*(?:in|for)\s+", "", year)
        owner = f"{place}'s " if place else "the "
        return COVER_EN[flag].format(r=f"{owner}{year + ' ' if year else ''}government work report")

    def _structure(self, q: Question, p: Question, lang: str) -> str:
        """"那（四）呢？" after "第三部分讲的是什么？": section （四） of part three."""
        part = q.part if q.part is not None else p.part
        section = q.section or ("" if q.part is not None else p.section)
        if lang == "zh":
            where = (f"第{NUMERALS[part - 1]}部分" if part and part <= 10 else "") + (f"（{section}）" if section else "")
            return f"{where}讲的是什么？"
        where = (f"section ({section})" if section else "") + (f" of part {part}" if part else "")
        return f"What is {where.strip()} about?"

    def _subject_phrase(self, text: str, q: Question, lang: str) -> str:
        """The subject as words of `lang`: as written when the language is the same, else the
        vocabulary's name for it."""
        topical = Vocabulary.topical(q.concepts)
        if q.lang != lang:
            if topical:
                return topical[0].zh[0] if lang == "zh" else topical[0].en[0]
            return " ".join(q.subject)
        return _zh_subject(text, q, topical) if q.lang == "zh" else _en_subject(text, q, topical)

    def _insert(self, text: str, q: Question, subject: str, place: str, years: str, lang: str) -> str:
        """The follow-up's own question with the earlier subject put where it leans: in place of a
        pronoun, else before its question words; the place and year it lacks added."""
        body = TRAILING.sub("", MARKER.sub("", text, count=1))
        own_years = _year_words(text, q.lang, q.lang)
        if q.lang == "zh":
            if subject:     # none: the pronoun stays ("What did the report promise?" came before)
                body = _zh_with_subject(body, subject)
            body = (years if years and not own_years else "") + body
            return (place if place and not q.regions else "") + body + "？"
        if subject:
            body = _en_with_subject(body, subject)
        if place and not q.regions:
            body += f" in {place}"
        if years and not own_years:
            body += f" {years}"
        return body[0].upper() + body[1:] + "?"

    def _placed(self, text: str, q: Question, prev: Turn | None) -> str:
        """A complete question keeps its words; in a library where the turn before was about one
        place, the place it carries into the question's scope is written out."""
        if prev is None or not prev.scope.reports or q.regions or len(self.docs) < 2 or len(prev.scope.reports) != 1:
            return text
        place = self._place(q, prev, q.lang)
        if not place:
            return text
        return f"{place}{text}" if q.lang == "zh" else f"{text.rstrip('?？ ')} ({place})?"

    def _routed(self, text: str, resolved: str, q: Question, picked: list[str] | None, prev: Turn | None) -> Turn:
        scope = route(q, self.docs, picked, prev.scope if prev is not None and prev.scope.reports else None)
        return Turn(text, resolved, q, scope, scope.reason, scope.message)


def _pronoun(text: str, lang: str) -> bool:
    if lang == "zh":
        # 这个报告 / 该报告 is the report itself; 其他, 其中, 尤其 are not 其.
        bare = re.sub(r"(?:这个|这一|该|此)(?=报告|政府工作报告)|其他|其它|其中|尤其|及其|极其|其余|其次", "", text)
        return bool(PRONOUN_ZH.search(bare))
    return bool(PRONOUN_EN.search(text))


def _about_report(text: str) -> bool:
    return bool(re.search(r"报告|report|speech|deliver|present|报纸|newspaper|刊登|来源|source", text, re.I))


def _kind(text: str) -> str:
    """"target" or "actual" when the question names which; "" when it does not."""
    actual, target = ACTUAL_WORDS.search(text), TARGET_WORDS.search(text)
    if actual and not target:
        return "actual"
    if target and not actual:
        return "target"
    return ""


def _name(region: Region, lang: str) -> str:
    if lang == "zh":
        return region.zh[0]
    return region.en[0].title() if region.code != "national" else "China"


def _zh_subject(text: str, q: Question, topical: list[Concept]) -> str:
    """The subject as written in a Chinese question: from the first to the last of its words."""
    spots = [(text.find(v), text.find(v) + len(v)) for c in topical for v in c.zh if v in text]
    spots += [(text.find(w), text.find(w) + len(w)) for w in q.subject if w in text]
    if not spots:
        return ""
    return text[min(a for a, _ in spots):max(b for _, b in spots)]


def _en_subject(text: str, q: Question, topical: list[Concept]) -> str:
    """The subject as written in an English question: the longest run of the vocabulary's terms and
    the question's subject words (function words may join a run: "urban and rural residents")."""
    low = re.sub(r"['’]s\b", "  ", text.lower())
    spots = []
    for c in topical:
        found = [m.span() for v in c.en for m in [re.search(rf"\b{re.escape(v)}s?\b", low)] if m]
        if found:
            spots.append(max(found, key=lambda ab: ab[1] - ab[0]))
    spots += [m.span() for w in q.subject for m in [re.search(rf"\b{re.escape(w)}\b", low)] if m]
    runs: list[list[int]] = []
    for a, b in sorted(spots):
        if runs and (a <= runs[-1][1] or re.fullmatch(r"(?:\s+(?:of|for|and|the|in|on)\b)*\s+", low[runs[-1][1]:a])):
            runs[-1][1] = max(runs[-1][1], b)
        else:
            runs.append([a, b])
    if not runs:
        return ""
    a, b = max(runs, key=lambda ab: ab[1] - ab[0])
    return text[a:b]


def _zh_with_subject(body: str, subject: str) -> str:
    """The earlier subject put where a Chinese follow-up leans: 其中, a pronoun, or its frame."""
    if AMONG.match(body):
        return AMONG.sub(f"{subject}中", body, count=1)
    if PRONOUN_ZH.search(body):
        return PRONOUN_ZH.sub(subject, body, count=1)
    return _zh_before_frame(body, subject)


def _en_with_subject(body: str, subject: str) -> str:
    """The earlier subject put where an English follow-up leans: a pronoun, a measure, how many."""
    if PRONOUN_EN.search(body):
        return PRONOUN_EN.sub(lambda m: subject + ("'s" if m.group(0).lower() in ("its", "their") else ""),
                              body, count=1)
    if MEASURE_EN.search(body):
        return MEASURE_EN.sub(lambda m: f"{m.group()} for {subject}", body, count=1)
    if re.match(r"(how many|how much)\b", body, re.I):
        return re.sub(r"^(how many|how much)\b", lambda m: f"{m.group(1)} {subject}", body, count=1, flags=re.I)
    return f"{body} ({subject})"


def _zh_before_frame(body: str, subject: str) -> str:
    """"2023年实际增长了多少" + 经济增长 → "2023年经济增长实际是多少": the subject goes before the first
    frame word; a growth the subject already states is not asked twice (and the subject stays whole,
    so that it is still the term the vocabulary knows)."""
    m = re.search(r"实际|完成|增长|增速|增幅|下降|提高|目标|计划|预期|是|有|达到|多少|几|怎么|如何", body)
    at = m.start() if m else len(body)
    rest = body[at:]
    if re.search(r"(增长|增速|增幅)$", subject):
        rest = re.sub(r"^(实际)?(?:增长|增速|增幅)了?(?=多少|几)", lambda g: (g.group(1) or "") + "是", rest)
    return body[:at] + subject + rest


def _descriptive(q: Question) -> bool:
    """It asks for ways, lists or reasons (如何推进…, 有哪些举措, why), not for how an indicator did."""
    return q.wants_explanation and not q.wants_figure and not re.search(r"怎么样|如何$|情况|\bhow did\b", q.text)


def _asks(text: str, q: Question) -> bool:
    """The question asks something of its own (多少, 是什么, how many), not only names a subject;
    words of its subject do not count ("粮食产量呢？" names 产量 but asks nothing)."""
    bare = MARKER.sub("", text, count=1)
    for c in Vocabulary.topical(q.concepts):
        for v in sorted(c.zh + c.en, key=len, reverse=True):
            bare = re.sub(re.escape(v), " ", bare, flags=re.I)
    return bool(FRAMING.search(bare))


def _year_words(text: str, lang: str, to: str) -> str:
    """The year phrase a question uses, as written ("2023年", "去年", "in 2024", "last year"), in `to`."""
    m = (YEAR_ZH if lang == "zh" else YEAR_EN).search(text)
    if not m:
        return ""
    phrase = m.group().strip()
    if lang == to:
        return phrase
    digits = re.search(r"(?:19|20)\d\d", phrase)
    if digits:
        return f"{digits.group()}年" if to == "zh" else f"in {digits.group()}"
    for zh, en in RELATIVE.values():
        if zh in phrase or en in phrase.lower():
            return zh if to == "zh" else en
    return ""


def _set_year(text: str, years: str, lang: str) -> str:
    if lang == "zh":
        stripped = YEAR_ZH.sub("", text)
        return years + stripped if years else stripped
    stripped = YEAR_EN.sub("", text).rstrip("?？ ")
    return f"{stripped} {years}?" if years else stripped + "?"


def _set_place(text: str, place: str, p: Question, lang: str) -> str:
    if not place:
        return text
    for r in p.regions:
        for name in sorted(r.zh if lang == "zh" else r.en, key=len, reverse=True):
            pattern = re.escape(name) if lang == "zh" else rf"\b{re.escape(name)}\b"
            if re.search(pattern, text, re.I):
                return re.sub(pattern, place, text, count=1, flags=re.I)
    return place + text if lang == "zh" else f"{text.rstrip('?？ ')} in {place}?"


def _flip(text: str, kind: str, lang: str, subject: str, years: str, place: str = "") -> str:
    """The question asking for the other of planned and actual (an English one written out anew,
    with the place the earlier question named)."""
    if lang == "zh":
        if kind == "actual":
            out = re.sub(r"的?(?:主要)?(?:预期)?目标|计划|预期", "实际", text, count=1)
            return out if out != text else text.replace("多少", "实际是多少", 1) if "多少" in text else text
        out = re.sub(r"实际(增长|增加|下降|提高)了?", r"计划\1", text, count=1)
        out = out.replace("实际", "的预期目标", 1) if out == text else out
        if out == text:
            out = re.sub(r"(是)?(多少|几)", r"的预期目标是\2", text, count=1)
        return out
    return _figure_question(subject, place, years, kind, lang)


def _with_head(subject: str, earlier: str, lang: str, texts: list[str]) -> str:
    """A new subject without a measure gets one: the vocabulary's term it begins ("规上工业" ->
    规上工业增加值), else the earlier subject's when a report writes them together ("秋粮" after
    "粮食产量": 秋粮产量; "PM2.5" after a rate stays PM2.5, no report says "PM2.5率")."""
    if lang != "zh" or not subject or HEAD.search(subject):
        return subject
    vocabulary = Vocabulary.load()
    completed = sorted((v for c in vocabulary.concepts for v in c.zh if v.startswith(subject) and HEAD.search(v)
                        and len(v) > len(subject)), key=len)
    if completed:
        return completed[0]
    head = HEAD.search(earlier)
    return subject + head.group() if head and any(subject + head.group() in t for t in texts) else subject


def _figure_question(subject: str, place: str, years: str, kind: str, lang: str, change: bool = False) -> str:
    """A figure question written out from its parts."""
    if lang == "zh":
        ask = {"target": "的预期目标是多少", "actual": "实际是多少"}.get(kind, "是多少")
        if change and not re.search(r"(增长|增速|增幅)$", subject):
            ask = {"target": "增长的预期目标是多少", "actual": "实际增长了多少"}.get(kind, "增长了多少")
        return f"{place}{years}{subject}{ask}？"
    where = f" of {place}" if place else ""
    when = f" {years}" if years else ""
    if kind == "target":
        return f"What is the target for {subject}{where}{when}?"
    # "figure" asks for a figure: the answer must state one, of what is asked.
    if kind == "actual":
        return f"What was the actual figure for {subject}{where}{when}?"
    return f"What is the figure for {subject}{where}{when}?"
