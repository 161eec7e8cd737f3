"""The key-figures table as the answer step reads it: which row a figure question names.

A figure question ("城镇新增就业目标是多少？", "How fast did GDP grow in 2024?") is matched
against the rows `qa.figures.extract_figures` reads from the report: a row whose indicator the
question names (in its own words, dictionary words or the vocabulary's variants), of a year it
asks about, ranks the row's sentence, brings in sentences retrieval missed, and gives the answer
the row's clause.  A figure question whose indicator no row names is a signal to decline.
"""
from __future__ import annotations

import bisect
import functools
import re
from functools import cached_property
from typing import TYPE_CHECKING

from ..figures import DIRECTION, LEAD_FLOW, Figure, extract_figures
from ..language.segmenter import words
from ..language.vocabulary import stated
from .question import Question

if TYPE_CHECKING:
    from .features import ReportView

# A key-figures row answers a question that names its indicator: at least half of the indicator's
# idf mass in the question's words.  On the gold set's 451 figure questions, the best such row
# quotes the answer for 315 of the 347 answerable ones, and 68 of the 104 near misses have none.
# Where the best candidate's report has no row for the indicator, 27 of 35 questions were near
# misses (0.77, against 0.23 over all figure questions): `absent` is an accept signal.
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
ROW_FITS, ROW_WORDS, ROW_QUANTITY, ROW_CHANGE, ROW_FLOW = 2.0, 0.5, 0.5, 0.25, 0.25
# A target and what the report strives for beyond it ("增长7%以上，力争达到8%") are two figures of one
# indicator: the stretch one answers only a question that asks for it.
STRETCH = re.compile(r"力争|争取|\bstriv|\bstretch\b", re.I)
ROW_STRETCH = 1.0
# A question that asks for a flow (新增, "new", "added") rather than a stock.
NEW = re.compile(r"新增|新建|新开|新引进|\bnew\b|\badd(?:ed|s)?\b|\bcreated?\b", re.I)
PERCENT_UNIT = re.compile(r"%|‰|百分点")
# Measure words that count the same things ("多少名学者" is answered by "180人").
SAME_UNIT = {"名": "人", "人": "名", "位": "人", "座": "个", "所": "个", "家": "个"}


class FigureTable:
    """One report's figures (extracted once), and the rows that answer a question."""

    def __init__(self, view: "ReportView"):
        self.view = view
        # The last question's results (its candidates, the answer's span and the accept signals all
        # ask for them): one pair, replaced in one assignment, so a thread never reads another
        # question's memo.
        self._last: tuple[Question | None, dict] = (None, {})

    @cached_property
    def figures(self) -> list[Figure]:
        return extract_figures(self.view.doc, self.view.report)

    @cached_property
    def _figure_words(self) -> list[tuple[list[tuple[str, int]], list[float], int]]:
        """Each figure's indicator words that name what it measures, with where they start; their
        idf weights; and which of them is the head (see indicator_words)."""
        out = []
        for f in self.figures:
            # Search-mode words overlap (播种, 面积, 播种面积): each is placed where it first occurs.
            iw = [(w, f.indicator.find(w)) for w in words(f.indicator)
                  if (len(w) > 1 or w in TABLE_CHARS) and w not in MEASURE_WORDS]
            weights = [self.view.idf.get(w, self.view.unseen_idf) for w, _ in iw]
            head = max(range(len(iw)), key=lambda j: iw[j][1] + len(iw[j][0])) if iw else -1
            out.append((iw, weights, head))
        return out

    @cached_property
    def _indicators(self) -> tuple[str, list[int]]:
        """Every figure's indicator in one string, and where each begins: a question's words are
        looked up in all of them at once."""
        starts, at = [], 0
        for f in self.figures:
            starts.append(at)
            at += len(f.indicator) + 1
        return "\0".join(f.indicator for f in self.figures), starts

    def _covered(self, terms: frozenset[str]) -> dict[int, set[int]]:
        """Figure → the characters of its indicator that one of `terms` spans."""
        text, starts = self._indicators
        out: dict[int, set[int]] = {}
        for t in terms:
            for m in re.finditer(re.escape(t), text):
                k = bisect.bisect_right(starts, m.start()) - 1
                out.setdefault(k, set()).update(range(m.start() - starts[k], m.end() - starts[k]))
        return out

    @cached_property
    def _rows(self) -> dict[int, list[int]]:
        """Sentence → the figures stated in it (by position in `figures`)."""
        out: dict[int, list[int]] = {}
        for k, f in enumerate(self.figures):
            out.setdefault(self.view.sentence_at(f.start), []).append(k)
        return out

    def indicator_words(self, q: Question, k: int) -> float:
        """The idf share of figure k's indicator words that the question has: its own words, its
        dictionary words, the vocabulary's variants, also inside a longer word or across a
        segmentation (托位 in 新增托|位数); under TABLE_MATCH when it lacks the indicator's head."""
        return self._shares(q, self._memo(q))[k]

    def _shares(self, q: Question, memo: dict) -> list[float]:
        """indicator_words of every row, worked out once a question (fits and absent read them)."""
        if "shares" not in memo:
            terms, text, joined = _asked(q)
            covered = self._covered(terms)
            memo["shares"] = [_share(iw, weights, head, text, joined, covered.get(k))
                              for k, (iw, weights, head) in enumerate(self._figure_words)]
        return memo["shares"]

    def indicator_match(self, q: Question, k: int) -> float:
        """How far figure k is what the question asks about: its indicator's words, cut below
        TABLE_MATCH when the question's subject (its rarest concept, as verify.py reads it) is not
        stated before the figure in its sentence (a row that refers back, "粮食播种面积…、总产
        130亿斤", takes its subject from there)."""
        share = self.indicator_words(q, k)
        if not share:
            return 0.0
        f, subject = self.figures[k], self.view.rarest_concept(q)
        lead = self.view.doc.text[self.view.doc.sentences[self.view.sentence_at(f.start)].start:f.end]
        on_subject = subject is None or stated(subject, f.indicator + f.qualifier + lead)
        return share * (1.0 if on_subject else OFF_SUBJECT)

    def _row_order(self, q: Question, k: int, fits: float) -> float:
        """Among rows that name what is asked, the one that says it: more of the question's words in
        its indicator and qualifier (总投资 of a project count and its total investment), the kind of
        quantity asked (a rate in %), a change when a change is asked (增产 19.6亿斤, not 达 614.8亿斤),
        a stock unless a flow is asked (高新技术企业 1.2万家, not 新增高新技术企业 1500家)."""
        f = self.figures[k]
        label = f.indicator + f.qualifier + f.unit
        changes = any(d in f.qualifier for d in DIRECTION)
        flow = bool(LEAD_FLOW.match(f.indicator)) and not NEW.search(q.text)
        stretch = bool(STRETCH.search(self.view.doc.text[max(0, f.start - 4):f.end]))
        return (ROW_FITS * fits + ROW_WORDS * self.view.coverage(q.words, label) + ROW_QUANTITY * quantity_fits(q, f)
                + ROW_CHANGE * (changes == q.wants_change) - ROW_FLOW * flow
                + ROW_STRETCH * (stretch == bool(STRETCH.search(q.text))))

    def _memo(self, q: Question) -> dict:
        """What has been worked out for this question, in this report."""
        last = self._last
        if last[0] is not q:
            last = self._last = (q, {})
        return last[1]

    def _fits(self, q: Question, memo: dict) -> list[float]:
        """Every row's indicator match, if it is of a year the question asks about (or prefers),
        worked out once a question."""
        if "fits" not in memo:
            years = q.preferred_years(self.view.year)
            memo["fits"] = [self.indicator_match(q, k) if not years or f.year is None or f.year in years
                            else 0.0 for k, f in enumerate(self.figures)]
        return memo["fits"]

    def best(self, q: Question) -> Figure | None:
        """The row that best answers a figure question, of all the report's."""
        rows = self.rows(q)
        return rows[0][1] if rows else None

    def rows(self, q: Question) -> list[tuple[float, Figure]]:
        """The rows that answer a figure question (match, row), best first."""
        if not _figure_question(q):
            return []
        memo = self._memo(q)
        if "rows" not in memo:
            rows = [(m, k) for k, m in enumerate(self._fits(q, memo)) if m >= TABLE_MATCH]
            rows.sort(key=lambda r: -self._row_order(q, r[1], r[0]))
            memo["rows"] = [(m, self.figures[k]) for m, k in rows]
        return memo["rows"]

    def row(self, q: Question, i: int) -> tuple[float, Figure | None]:
        """The row of sentence i that best answers a figure question, and its match (0 if none)."""
        if not _figure_question(q):
            return 0.0, None
        fits = self._fits(q, self._memo(q))
        rows = [(fits[k], k) for k in self._rows.get(i, []) if fits[k] >= TABLE_MATCH]
        if not rows:
            return 0.0, None
        m, k = max(rows, key=lambda r: self._row_order(q, r[1], r[0]))
        return m, self.figures[k]

    def names(self, q: Question, fig: Figure) -> bool:
        """The row names what a figure question asks about (its indicator match reaches TABLE_MATCH)."""
        k = next((i for i, f in enumerate(self.figures) if f is fig), None)
        return k is not None and self.indicator_words(q, k) >= TABLE_MATCH

    def within(self, span: tuple[int, int]) -> list[Figure]:
        """The figures whose number lies in text[span[0]:span[1]] (a figure's value is in its quote)."""
        return [f for f in self.figures if span[0] <= f.start + f.quote.find(f.value) < span[1]]

    def span(self, row: Figure) -> tuple[int, int]:
        """A row's quote, run on through the figures whose quotes overlap it: "由9.8%降至" ends where
        "降至7.5%" begins, and the answer is the change from one to the other."""
        end = row.end
        for f in self.figures:          # in text order
            if f.start < end < f.end and f.start >= row.start:
                end = f.end
        return row.start, end

    def absent(self, q: Question) -> bool:
        """A figure question whose indicator no row of the report names, in any year."""
        if not _figure_question(q) or not self.figures:
            return False
        return all(share < TABLE_MATCH for share in self._shares(q, self._memo(q)))


def _share(iw: list[tuple[str, int]], weights: list[float], head: int, text: str, joined: str,
           covered: set[int] | None) -> float:
    """One figure's indicator_words, from its words and what the question names."""
    if not iw:
        return 0.0
    has = [w in text or w in joined or (covered is not None and not covered.isdisjoint(range(at, at + len(w))))
           for w, at in iw]
    share = sum(wt for wt, h in zip(weights, has) if h) / sum(weights)
    # The head of a Chinese noun phrase comes last: 单位生产总值能耗 is energy use, not GDP;
    # 有进出口实绩企业 counts firms, not trade.  A character of it will do (秋粮产量, 增产多少).  An
    # English question names no Chinese verb: a term of its own spanning most of the indicator does
    # (中欧班列 of 中欧班列开行).
    asked = text or joined
    if has[head] or any(ch in asked for ch in iw[head][0]):
        return share
    if not text and covered is not None and len(covered) * 2 >= sum(len(w) for w, _ in iw):
        return share
    return share * OFF_SUBJECT


@functools.lru_cache(maxsize=64)
def _asked(q: Question) -> tuple[frozenset[str], str, str]:
    """What a question names, as an indicator may state it: its words and its concepts' report
    words; its own text (a Chinese question); and the words joined, to find a part of one fast."""
    terms = frozenset(t for t in set(q.words) | {v for c in q.concepts for v in c.zh} if len(t) > 1)
    return terms, q.text if q.lang == "zh" else "", "\0".join(sorted(terms))


def _figure_question(q: Question) -> bool:
    """A figure is asked for, and not an explanation of one."""
    return (q.wants_figure or q.wants_amount) and not q.wants_explanation


def quantity_fits(q: Question, fig: Figure) -> bool:
    """A figure is the kind of quantity asked for: a rate in %, money in 元, a count neither in %
    nor a ranking (第2位), and in the unit the question names."""
    unit = fig.unit
    if q.unit and q.unit not in unit and SAME_UNIT.get(q.unit, "\0") not in unit:
        return False
    percent = bool(PERCENT_UNIT.search(unit))
    count = not percent and "第" not in fig.qualifier
    return {"rate": percent, "money": "元" in unit, "count": count}.get(q.quantity, True)
