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

from ..figures import DIRECTION, Figure, extract_figures, periods
from ..ingest.document import Document
from ..language.segmenter import tagged, words
from ..store.index import Part, sentence_context
from ..language.years import implied_years
from ..language.vocabulary import Vocabulary, stated
from .question import Question

RANK = ["dense", "dense_gap", "coverage", "sentence_coverage", "clause_coverage", "rank",
        "figure_match", "year_mismatch", "type_match", "heading", "concept_match", "table_match"]
ACCEPT = ["score", "dense", "coverage", "known_words", "year_mismatch", "margin",
          "figure_missing", "unit_missing", "unknown_name", "table_match", "table_absent"]
# A figure: digits, a Chinese numeral with a multiplier (三千), or a Chinese count (八个方面, 九项).
FIGURE = re.compile(r"\d|[０-９]|[一二三四五六七八九十两][十百千万亿]|[一二三四五六七八九十两]+(?:个|项|件|条|大|方面)")
CHINESE_FIGURE = re.compile(r"[一二三四五六七八九十两][十百千万亿]|[一二三四五六七八九十两]+(?:个|项|件|条|大|方面)|第[一二三四五六七八九十]")
ORDINAL = re.compile(r"第[一二三四五六七八九十\d]+")
DATE = re.compile(r"(?:19|20)\d\d\s*年|\d{1,2}\s*[月日]")
CLAUSE = re.compile(r"[^，；：]+")
OPENING = 12      # characters of a paragraph that say what period it sums up ("五年来，")
REASON = re.compile(r"考虑|为了|因为|由于|依据|基于|旨在|目的|原因|之所以|有利于|既.{2,40}又")
# Places and people (jieba's ns/nr tags): naming one the report never mentions is asking about something else.
NAME_TAGS = ("ns", "nr")
# A key-figures row answers a question that names its indicator: at least half of the indicator's
# idf mass in the question's words.  On the gold set's 451 figure questions, the best such row
# quotes the answer for 315 of the 347 answerable ones, and 68 of the 104 near misses have none.
# Where the best candidate's report has no row for the indicator, 27 of 35 questions were near
# misses (0.77, against 0.23 over all figure questions): `table_absent` is an accept signal.
TABLE_MATCH = 0.5
# A row that does not state the question's subject is about something else, however many of its
# words the question shares: it stays under TABLE_MATCH.
OFF_SUBJECT = 0.4
# Single characters that are whole indicators' words (煤 consumption, 粮 output); others are noise.
TABLE_CHARS = set("煤气水电粮油棉糖肉蛋奶")
# Words of an indicator that say how it is measured or its scope, not what: "How many universities"
# asks for 高校总数, "新增托位数" answers "how many places will be added".
MEASURE_WORDS = set("总数 总量 数量 规模 人数 总额 比重 占比 比例 新增 新建 累计 全省 全市 全区 全国 全年 全社会".split())
# How rows that name what is asked are told apart (an order, not a score: each term says which of
# two rows of one sentence answers; eval/report.md measures the answers they give).
ROW_WORDS, ROW_QUANTITY, ROW_CHANGE = 0.5, 0.5, 0.25
PERCENT_UNIT = re.compile(r"%|‰|百分点")
# Measure words that count the same things ("多少名学者" is answered by "180人").
SAME_UNIT = {"名": "人", "人": "名", "位": "人", "座": "个", "所": "个", "家": "个"}


@dataclass
class ReportView:
    """One report as the answer step reads it."""
    report: str
    doc: Document
    part: Part
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

    # -- the key-figures table --------------------------------------------------
    @cached_property
    def figures(self) -> list[Figure]:
        return extract_figures(self.doc, self.report)

    @cached_property
    def _figure_words(self) -> list[list[tuple[str, int]]]:
        """Each figure's indicator words that name what it measures, with where they start."""
        out = []
        for f in self.figures:
            # Search-mode words overlap (播种, 面积, 播种面积): each is placed where it first occurs.
            out.append([(w, f.indicator.find(w)) for w in words(f.indicator)
                        if (len(w) > 1 or w in TABLE_CHARS) and w not in MEASURE_WORDS])
        return out

    @cached_property
    def _rows(self) -> dict[int, list[int]]:
        """Sentence → the figures stated in it (by position in `figures`)."""
        out: dict[int, list[int]] = {}
        for k, f in enumerate(self.figures):
            out.setdefault(self.sentence_at(f.start), []).append(k)
        return out

    def sentence_at(self, offset: int) -> int:
        return max(bisect.bisect_right(self.starts, offset) - 1, 0)

    def indicator_words(self, q: Question, k: int) -> float:
        """The idf share of figure k's indicator words that the question has: its own words, its
        dictionary words, the vocabulary's variants, also inside a longer word or across a
        segmentation (托位 in 新增托|位数)."""
        f, iw = self.figures[k], self._figure_words[k]
        if not iw:
            return 0.0
        terms = {t for t in set(q.words) | {v for c in q.concepts for v in c.zh} if len(t) > 1}
        covered = set()
        for t in terms:
            for m in re.finditer(re.escape(t), f.indicator):
                covered.update(range(m.start(), m.end()))
        text = q.text if q.lang == "zh" else ""
        weights = [self.idf.get(w, self.unseen_idf) for w, _ in iw]
        have = sum(wt for (w, at), wt in zip(iw, weights)
                   if w in text or any(w in t for t in terms) or covered & set(range(at, at + len(w))))
        return have / sum(weights)

    def indicator_match(self, q: Question, k: int) -> float:
        """How far figure k is what the question asks about: its indicator's words, cut below
        TABLE_MATCH when the question's subject (its rarest concept, as verify.py reads it) is not
        stated before the figure in its sentence (a row that refers back, "粮食播种面积…、总产
        130亿斤", takes its subject from there)."""
        f, subject = self.figures[k], self.rarest_concept(q)
        lead = self.doc.text[self.doc.sentences[self.sentence_at(f.start)].start:f.end]
        on_subject = subject is None or stated(subject, f.indicator + f.qualifier + lead)
        return self.indicator_words(q, k) * (1.0 if on_subject else OFF_SUBJECT)

    def _row_fits(self, q: Question, k: int) -> float:
        """The indicator match of figure k, if it is of a year the question asks about (or prefers)."""
        years = q.preferred_years(self.year)
        year = self.figures[k].year
        return self.indicator_match(q, k) if not years or year is None or year in years else 0.0

    def _row_order(self, q: Question, k: int, fits: float) -> float:
        """Among rows that name what is asked, the one that says it: more of the question's words in
        its indicator and qualifier (总投资 of a project count and its total investment), the kind of
        quantity asked (a rate in %), a change when a change is asked (增产 19.6亿斤, not 达 614.8亿斤)."""
        f = self.figures[k]
        label = f.indicator + f.qualifier + f.unit
        changes = any(d in f.qualifier for d in DIRECTION)
        return (fits + ROW_WORDS * self.coverage(q.words, label) + ROW_QUANTITY * quantity_fits(q, f)
                + ROW_CHANGE * (changes == q.wants_change))

    def table_rows(self, q: Question) -> list[tuple[float, Figure]]:
        """The rows that answer a figure question (match, row), best first."""
        if not (q.wants_figure or q.wants_amount) or q.wants_explanation:
            return []
        scored = [(self._row_fits(q, k), k) for k in range(len(self.figures))]
        rows = [(m, k) for m, k in scored if m >= TABLE_MATCH]
        rows.sort(key=lambda r: -self._row_order(q, r[1], r[0]))
        return [(m, self.figures[k]) for m, k in rows]

    def table_row(self, q: Question, i: int) -> tuple[float, Figure | None]:
        """The row of sentence i that best answers a figure question, and its match (0 if none)."""
        if not (q.wants_figure or q.wants_amount) or q.wants_explanation:
            return 0.0, None
        rows = [(self._row_fits(q, k), k) for k in self._rows.get(i, [])]
        rows = [(m, k) for m, k in rows if m >= TABLE_MATCH]
        if not rows:
            return 0.0, None
        m, k = max(rows, key=lambda r: self._row_order(q, r[1], r[0]))
        return m, self.figures[k]

    def figures_within(self, span: tuple[int, int]) -> list[Figure]:
        """The figures whose number lies in text[span[0]:span[1]]."""
        return [f for f in self.figures if span[0] <= f.start and f.end <= span[1]
                or span[0] <= f.start + f.quote.find(f.value) < span[1]]

    def row_span(self, row: Figure) -> tuple[int, int]:
        """A row's quote, run on through the figures whose quotes overlap it: "由9.8%降至" ends where
        "降至7.5%" begins, and the answer is the change from one to the other."""
        end = row.end
        for f in self.figures:          # in text order
            if f.start < end < f.end and f.start >= row.start:
                end = f.end
        return row.start, end

    def table_absent(self, q: Question, i: int) -> bool:
        """A figure question whose indicator no row of the report names, in any year.  The table
        leaves Chinese numerals out, so it is silent when sentence i states one (八个方面)."""
        if not (q.wants_figure or q.wants_amount) or q.wants_explanation or not self.figures:
            return False
        if has_figure(self.sentence_text(i), CHINESE_FIGURE):
            return False
        return all(self.indicator_words(q, k) < TABLE_MATCH for k in range(len(self.figures)))

    def rarest_concept(self, q: Question):
        """Of the topical concepts a question names, the one rarest in this report: its subject."""
        topical = Vocabulary.topical(q.concepts)
        return min(topical, key=lambda c: self.concept_share(c.key, c.zh)) if topical else None

    def states_subject(self, q: Question, i: int) -> bool:
        """Sentence i, with its headings, states the question's subject (True when it names none)."""
        concept = self.rarest_concept(q)
        return concept is None or stated(concept, self.sentence_text(i) + " " + self.headings_of(i))

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
        return " ".join(h for h in (para.part, para.section, para.item, para.lead) if h)

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


def quantity_fits(q: Question, fig: Figure) -> bool:
    """A figure is the kind of quantity asked for: a rate in %, money in 元, a count neither in %
    nor a ranking (第2位), and in the unit the question names."""
    unit = fig.unit
    if q.unit and q.unit not in unit and SAME_UNIT.get(q.unit, "\0") not in unit:
        return False
    percent = bool(PERCENT_UNIT.search(unit))
    count = not percent and "第" not in fig.qualifier
    return {"rate": percent, "money": "元" in unit, "count": count}.get(q.quantity, True)


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
            "table_match": view.table_row(q, i)[0]}


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
            "table_absent": float(view.table_absent(q, best.sentence))}
