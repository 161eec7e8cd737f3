"""Features: the answer step's signals, in one place, named as in calibration.json.

Each candidate sentence gets the `RANK` signals (how well it matches the
question); the best one gets the `ACCEPT` signals (whether it answers at all).
They are read per report: idf, headings and sentence contexts belong to the
report a sentence comes from, and are worked out the first time a question
reaches that report (a library of 33 reports opens without paying for all).
"""
from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from ..figures import periods
from ..ingest.chunks import sentence_context
from ..ingest.document import Document
from ..language.segmenter import tagged, words
from ..language.years import OPENING, implied_years
from ..language.vocabulary import Vocabulary, stated
from .question import Question
from .table import FigureTable

RANK = ["dense", "dense_gap", "coverage", "sentence_coverage", "clause_coverage", "rank",
        "figure_match", "year_mismatch", "type_match", "heading", "concept_match", "table_match", "table_best"]
ACCEPT = ["score", "dense", "coverage", "known_words", "year_mismatch", "margin",
          "figure_missing", "unit_missing", "unknown_name", "table_match", "table_absent"]
# A figure: digits, a Chinese numeral with a multiplier (三千), or a Chinese count (八个方面, 九项).
FIGURE = re.compile(r"\d|[０-９]|[一二三四五六七八九十两][十百千万亿]|[一二三四五六七八九十两]+(?:个|项|件|条|大|方面)")
CHINESE_FIGURE = re.compile(r"[一二三四五六七八九十两][十百千万亿]|[一二三四五六七八九十两]+(?:个|项|件|条|大|方面)|第[一二三四五六七八九十]")
ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+")
DATE = re.compile(r"(?:19|20)\d\d\s*年|\d{1,2}\s*[月日]")
CLAUSE = re.compile(r"[^，；：]+")
REASON = re.compile(r"考虑|为了|因为|由于|依据|基于|旨在|目的|原因|之所以|有利于|既.{2,40}又")
FRAME_SENTENCE = re.compile(r"^\s*各位代表[！!：:，,。]?\s*$|我代表.{0,30}?(?:人民政府|国务院|政府).{0,4}?向.{0,12}?报告.{0,4}?工作|"
                            r"^\s*(?:来源|稿源)[:：]")
# Places and people (jieba's ns/nr tags): naming one the report never mentions is asking about something else.
NAME_TAGS = ("ns", "nr")


@dataclass
class ReportView:
    """One report as the answer step reads it: built from its text alone, so a view outlives the
    library's generation and is carried into the next one while the text is unchanged."""
    report: str
    doc: Document
    contexts: list[str] = field(init=False)
    headings: set[int] = field(init=False)
    section_heads: set[int] = field(init=False)
    idf: dict[str, float] = field(init=False)
    unseen_idf: float = field(init=False)

    def __post_init__(self):
        doc = self.doc
        self.contexts = [sentence_context(doc, i) for i in range(len(doc.sentences))]
        self.starts = [s.start for s in doc.sentences]
        # A paragraph's lead ("新能源汽车产业集群。") names a topic; it rarely answers by itself.
        # A numbered section's heading ("（四）乡村振兴有力推进。") never does: cover.py answers
        # "what is section (四) about".
        opening = {i: doc.text[s.start:s.end].rstrip("。") for i, s in enumerate(doc.sentences)
                   if s.start == doc.paragraphs[s.paragraph].start}
        self.section_heads = {i for i, t in opening.items() if t == doc.paragraphs[doc.sentences[i].paragraph].section}
        self.headings = self.section_heads | {i for i, t in opening.items()
                                              if t == doc.paragraphs[doc.sentences[i].paragraph].lead}
        # The cover and the frame of the speech (its lines, "各位代表：", "我代表…向大会报告政府工作")
        # say what the report is, not what it says: only a cover question is answered from them.
        self.frame = {i for i, s in enumerate(doc.sentences) if doc.paragraphs[s.paragraph].kind == "title"
                      or FRAME_SENTENCE.search(doc.text[s.start:s.end])}
        df: dict[str, int] = {}
        for ctx in self.contexts:
            for w in set(words(ctx)):
                df[w] = df.get(w, 0) + 1
        n = len(self.contexts)
        self.idf = {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}
        self.unseen_idf = math.log((n + 1) / 0.5)
        self._shares: dict[str, float] = {}

    def concept_share(self, key: str, variants: tuple[str, ...]) -> float:
        """Share of the report's sentences (with their headings) that state a concept."""
        if key not in self._shares:
            self._shares[key] = sum(any(v in c for v in variants) for c in self.contexts) / max(len(self.contexts), 1)
        return self._shares[key]

    @cached_property
    def table(self) -> "FigureTable":
        """The report's key figures, as figure questions are matched against them."""
        return FigureTable(self)

    def sentence_at(self, offset: int) -> int:
        return max(bisect.bisect_right(self.starts, offset) - 1, 0)

    def rarest_concept(self, q: Question):
        """Of the topical concepts a question names, the one rarest in this report: its subject."""
        topical = Vocabulary.topical(q.concepts)
        return min(topical, key=lambda c: self.concept_share(c.key, c.zh)) if topical else None

    def states_subject(self, q: Question, i: int) -> bool:
        """Sentence i, with its headings, states the question's subject (True when it names none)."""
        concept = self.rarest_concept(q)
        return concept is None or stated(concept, self.sentence_text(i) + "\n" + self.headings_of(i))

    @property
    def year(self) -> int | None:
        return self.doc.year

    def sentence_text(self, i: int) -> str:
        s = self.doc.sentences[i]
        return self.doc.text[s.start:s.end]

    def sentences_in(self, start: int, end: int) -> list[int]:
        """The sentences that start in [start, end), and the one `start` falls in."""
        first = self.sentence_at(start)
        last = bisect.bisect_left(self.starts, end)
        return list(range(first, max(last, first + 1)))

    def headings_of(self, i: int) -> str:
        para = self.doc.paragraphs[self.doc.sentences[i].paragraph]
        return "\n".join(h for h in (para.part, para.section, para.item, para.lead) if h)

    # -- signals ---------------------------------------------------------------
    def coverage(self, qwords, text: str) -> float:
        """Share of the question's idf mass whose words the text contains."""
        if not qwords:
            return 0.0
        have = set(words(text))
        weights = [self.idf.get(w, self.unseen_idf) for w in qwords]
        hit = sum(wt for w, wt in zip(qwords, weights) if w in have or (len(w) > 1 and w in text))
        return hit / sum(weights)

    def clause_coverage(self, qwords, text: str) -> float:
        return max((self.coverage(qwords, m.group()) for m in CLAUSE.finditer(text)), default=0.0)

    def known_words(self, q: Question) -> float:
        """Share of a Chinese question's words that occur anywhere in the report."""
        if q.lang == "en" or not q.words:
            return 0.0
        return sum(w in self.idf for w in q.words) / len(q.words)

    def years_of(self, i: int) -> frozenset[int]:
        """The years sentence i speaks of, by what it and its headings name and where it stands."""
        para = self.doc.paragraphs[self.doc.sentences[i].paragraph]
        opening = self.doc.text[para.start:min(para.end, para.start + OPENING)]
        several = self._periods[self.doc.sentences[i].paragraph] == "several"
        return implied_years(para.part, self.sentence_text(i) + para.section, self.year, opening, several)

    def sums_up(self, i: int) -> bool:
        """Sentence i stands where the report sums up several years (a five-year review's stretch)."""
        return self._periods[self.doc.sentences[i].paragraph] == "several"

    @cached_property
    def _periods(self) -> list[str]:
        return periods(self.doc)

    def year_mismatch(self, q: Question, i: int) -> bool:
        """The question names (or its tense points to) a year that the sentence does not speak of."""
        years = q.preferred_years(self.year)
        return bool(years) and not (years & self.years_of(i))

    def unknown_name(self, q: Question, glossary) -> bool:
        """The question names a place or person that the report never mentions."""
        if q.lang == "en":
            return glossary.names_elsewhere(q.text)
        return any(len(w.word) > 1 and w.flag in NAME_TAGS and w.word not in self.doc.text
                   for w in tagged(q.text))


def type_match(q: Question, text: str) -> bool:
    """A who question and a sentence naming a person; a when question and a date; a why question
    and a sentence that gives a reason."""
    if q.wants_person:
        return any(w.flag == "nr" for w in tagged(text))
    if q.wants_reason:
        return bool(REASON.search(text))
    return q.wants_date and bool(DATE.search(text))


def has_figure(text: str, pattern: re.Pattern = FIGURE) -> bool:
    """The text states a figure; a year or a date ("2025年", "1月") is not one."""
    return bool(pattern.search(DATE.sub("", text)))


def figure_missing(q: Question, text: str) -> bool:
    """An amount is asked for ("多少", "第几", "how many") and the text states none."""
    return q.wants_amount and not has_figure(text, ORDINAL if "第几" in q.text else FIGURE)


def rank_features(view: ReportView, q: Question, i: int, rank: int, dense: float) -> dict:
    text = view.sentence_text(i)
    return {"dense": dense,
            "coverage": view.coverage(q.words, view.contexts[i]),
            "sentence_coverage": view.coverage(q.words, text),
            "clause_coverage": view.clause_coverage(q.words, text),
            "rank": float(rank),
            "figure_match": float(q.wants_figure and has_figure(text)),
            "year_mismatch": float(view.year_mismatch(q, i)),
            "type_match": float(type_match(q, text)),
            "heading": float(i in view.headings),
            "concept_match": float(view.states_subject(q, i)),
            "table_match": view.table.row(q, i)[0],
            "table_best": float(_holds(view, i, view.table.best(q)))}


def _holds(view: ReportView, i: int, row) -> bool:
    """Sentence i states `row` (the report's best row for the question)."""
    return row is not None and view.sentence_at(row.start) == i


def accept_features(view: ReportView, q: Question, best, runner_up, span_text: str, glossary) -> dict:
    return {"score": best.score, "dense": best.feats["dense"], "coverage": best.feats["coverage"],
            "known_words": view.known_words(q),
            "year_mismatch": best.feats["year_mismatch"],
            "margin": best.score - runner_up.score if runner_up else 1.0,
            # An amount asked for and none stated, or stated in another unit, is no answer.
            "figure_missing": float(figure_missing(q, view.sentence_text(best.sentence))),
            "unknown_name": float(view.unknown_name(q, glossary)),
            "unit_missing": float(bool(q.unit) and q.unit not in span_text),
            # The key-figures table: a row of the answer's sentence names what is asked; no row names it.
            "table_match": best.feats["table_match"],
            # The table leaves Chinese numerals out, so it is silent when the sentence states one (八个方面).
            "table_absent": float(view.table.absent(q) and not has_figure(view.sentence_text(best.sentence),
                                                                         CHINESE_FIGURE))}
