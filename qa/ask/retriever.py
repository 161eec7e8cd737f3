"""Retrieve: score every chunk densely and lexically, then fuse the two.

Lexical and dense retrieval fail on different questions, so they are fused:
the dense similarity as a z-score over the report's chunks, plus BM25 as a
share of the best BM25 score.  On the gold set this beat reciprocal-rank
fusion at every k tried (top-1 0.93 vs 0.86-0.89 on Chinese questions), as it
keeps how far ahead the best match is.  An English question shares only stray
tokens (years, acronyms) with the Chinese text, so it is ranked densely alone.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model.embedder import Embedder
from ..schema import Passage
from ..store.base import Store
from ..ingest.document import SEPARATOR
from ..language.years import implied_years
from .question import Question

MODES = ("hybrid", "dense", "bm25")
DENSE_WEIGHT = 0.5
LEXICAL_SCALE = 3.0     # a top BM25 match counts as much as a chunk three deviations above the mean
# English questions match lexically through the vocabulary and the dictionary.  With the bilingual
# vocabulary their words are as good as a Chinese question's: lexical weight 0.5 (like Chinese) gave
# English top-1 0.835 on five reports' questions against 0.694 at the old 0.3, and held on the other
# six (0.838 vs 0.716).
FULL_SCORING_MAX = 20_000   # chunks; the bundled report has ~100, 1,000 reports ~100,000
CANDIDATES = 100            # from each side, at scale
STATS_SAMPLE = 2_048        # chunks whose similarities stand for the whole index, at scale
# A chunk that speaks of other years than the question ("去年" in a report of 2024 is 2023; part
# one reviews 2023, parts two and three plan 2024) is pushed down by this much of the fused score.
YEAR_PENALTY = 1.0


@dataclass
class Scores:
    """For the chunks `ids`: cosine similarity, BM25 score, and the fused score that ranks."""
    ids: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray


def zscore(x: np.ndarray, ref: np.ndarray | None = None) -> np.ndarray:
    """Standard scores of `x` against `ref` (by default, against itself)."""
    ref = x if ref is None else ref
    return (x - ref.mean()) / (ref.std() + 1e-9)


def fuse(dense: np.ndarray, lexical: np.ndarray, dense_weight: float = DENSE_WEIGHT) -> np.ndarray:
    """Dense z-scores plus BM25 as a share of its best score (none when nothing matched)."""
    if lexical.max() <= 0:
        return dense
    return dense_weight * dense + (1 - dense_weight) * LEXICAL_SCALE * lexical / lexical.max()


class Retriever:
    """Scores every chunk of a report-sized index; beyond FULL_SCORING_MAX chunks (hundreds of
    reports) only the top candidates of each side, against statistics from a fixed sample."""

    def __init__(self, index: Store, embedder: Embedder, full_scoring_max: int = FULL_SCORING_MAX,
                 candidates: int = CANDIDATES, report_years: dict[str, int | None] | None = None):
        index.ready_for_questions()
        self.index, self.embedder = index, embedder
        self.vocab = index.vocab
        n = len(index.chunks)
        self.full, self.k_candidates = n <= full_scoring_max, min(candidates, n - 1)
        self.full_scoring_max = full_scoring_max
        self.sample = np.unique(np.linspace(0, n - 1, min(n, STATS_SAMPLE)).astype(np.int64))
        years = report_years or {}
        self.chunk_report_year = [years.get(c.report) for c in index.chunks]
        self.chunk_years = [implied_years(c.section.split(SEPARATOR)[0], c.section + c.text, years.get(c.report))
                            for c in index.chunks]

    def year_mismatch(self, q: Question, ids: np.ndarray) -> np.ndarray:
        """1 for each chunk that speaks of none of the years the question asks about (今年 is each
        chunk's own report's year; a chunk in the review part speaks of the year before)."""
        if not (q.explicit_years or q.relative_years or q.tense_years):
            return np.zeros(len(ids))
        return np.array([bool(asked) and not (self.chunk_years[i] & asked)
                         for i in ids for asked in [q.preferred_years(self.chunk_report_year[i])]], dtype=np.float64)

    def candidates(self, qvec: np.ndarray, lexical: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, bool]:
        """The chunks worth scoring, and whether they are scored in full: every chunk (of the reports
        asked) while that is cheap, else the best of each side at scale."""
        if mask is not None and mask.sum() <= self.full_scoring_max:
            return np.flatnonzero(mask), True
        if self.full:
            return np.arange(len(self.index.chunks)), True
        k = self.k_candidates
        ids = self.index.dense_search(qvec, k)
        lex = np.argpartition(-lexical, k)[:k] if lexical.max() > 0 else []
        ids = np.union1d(ids, lex).astype(np.int64)
        return (ids if mask is None else ids[mask[ids]]), False

    def cosines(self, qvec: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        return self.index.cosines(qvec, ids)

    def best_sentences(self, qvec: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence similarity (-1 for a chunk in which no sentence starts)."""
        owners = self.index.sentence_chunks
        starts, ends = np.searchsorted(owners, ids, "left"), np.searchsorted(owners, ids, "right")
        lengths = ends - starts
        best = np.full(len(ids), -1.0)
        if lengths.sum() == 0:
            return best
        offsets = np.cumsum(lengths) - lengths
        rows = np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())
        sims = np.asarray(self.index.sentence_rows(rows) @ qvec, dtype=np.float64)
        has = lengths > 0
        best[has] = np.maximum.reduceat(sims, offsets[has])
        return best

    def dense_scores(self, qvec: np.ndarray, ids: np.ndarray | None = None,
                     cosines: np.ndarray | None = None, full: bool | None = None) -> np.ndarray:
        """How well each chunk matches as a whole and through its best sentence, as a z-score.
        The best sentence catches a short fact that a long chunk's vector dilutes."""
        ids = np.arange(len(self.index.chunks)) if ids is None else ids
        chunk = self.cosines(qvec, ids) if cosines is None else cosines
        best = self.best_sentences(qvec, ids)
        if self.full if full is None else full:
            return zscore(zscore(chunk) + zscore(best))
        ref_chunk, ref_best = self.cosines(qvec, self.sample), self.best_sentences(qvec, self.sample)
        ref = zscore(ref_chunk) + zscore(ref_best)
        combined = zscore(chunk, ref_chunk) + zscore(best, ref_best)
        return zscore(combined, ref)

    def question(self, text: str) -> Question:
        return Question.parse(text, self.index.glossary, self.vocab)

    def lexical_scores(self, q: Question, reports: set[str] | None = None) -> np.ndarray:
        tokens = [w for w in q.search_words if w in self.vocab]
        if not tokens:
            return np.zeros(len(self.index.chunks))
        return self.index.lexical_scores(tokens, reports)

    def scores(self, q: Question, qvec: np.ndarray, mode: str = "hybrid",
               reports: set[str] | None = None) -> Scores:
        lexical_all = self.lexical_scores(q, reports)
        mask = self.index.chunk_mask(reports)
        if mask is not None:
            lexical_all = np.where(mask, lexical_all, 0.0)
        ids, full = self.candidates(qvec, lexical_all, mask)
        cosines = self.cosines(qvec, ids)
        dense, lexical = self.dense_scores(qvec, ids, cosines, full), lexical_all[ids]
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            fused = fuse(dense, lexical, DENSE_WEIGHT)
            fused = fused - YEAR_PENALTY * self.year_mismatch(q, ids)
        return Scores(ids, cosines, lexical, fused)

    def retrieve(self, q: Question | str, k: int = 5, mode: str = "hybrid", qvec: np.ndarray | None = None,
                 reports: set[str] | None = None) -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"Unknown retrieval mode {mode!r}: choose one of {', '.join(MODES)}.")
        q = self.question(q) if isinstance(q, str) else q
        qvec = self.embedder.query(q.text) if qvec is None else qvec
        s = self.scores(q, qvec, mode, reports)
        order = np.argsort(-s.fused, kind="stable")[:k]
        return [Passage(self.index.chunks[s.ids[i]], float(s.fused[i]), float(s.dense[i]), float(s.lexical[i]))
                for i in order]
