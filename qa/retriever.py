"""Retrieve: score every chunk densely and lexically, then fuse the two rankings.

Lexical and dense retrieval fail on different questions, so they are fused by
reciprocal rank.  A side with no signal (an English question shares no word
with the Chinese text) gets no vote instead of voting with ties.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .embedder import Embedder
from .index import Index
from .schema import Passage
from .segmenter import is_chinese, words

MODES = ("hybrid", "dense", "bm25")
RRF_K = 20          # small k: trust the top of each ranking, as the report has ~100 chunks


@dataclass
class Scores:
    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray


def rrf(scores: np.ndarray, k: int = RRF_K) -> np.ndarray:
    """1/(k + rank) for chunks with any signal, 0 for the rest."""
    out = np.zeros_like(scores, dtype=np.float64)
    if not np.any(scores > 0):
        return out
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    out = 1.0 / (k + 1 + ranks)
    out[scores <= 0] = 0.0
    return out


class Retriever:
    def __init__(self, index: Index, embedder: Embedder):
        self.index, self.embedder = index, embedder
        self.vocab = set(index.bm25.vocab_dict) if hasattr(index.bm25, "vocab_dict") else None

    def dense_scores(self, qvec: np.ndarray) -> np.ndarray:
        n = self.index.dense.ntotal
        sims, ids = self.index.dense.search(qvec[None, :].astype(np.float32), n)
        out = np.zeros(n, dtype=np.float64)
        out[ids[0]] = sims[0]
        return out

    def lexical_scores(self, query: str) -> np.ndarray:
        tokens = [w for w in words(query) if self.vocab is None or w in self.vocab]
        if not tokens:
            return np.zeros(len(self.index.chunks))
        return np.asarray(self.index.bm25.get_scores(tokens), dtype=np.float64)

    def scores(self, query: str, qvec: np.ndarray, mode: str = "hybrid") -> Scores:
        dense, lexical = self.dense_scores(qvec), self.lexical_scores(query)
        if mode == "dense":
            fused = dense
        elif mode == "bm25":
            fused = lexical
        else:
            # Dense similarities are all positive; rank them against their spread instead of 0.
            # Lexical matching only speaks for questions in the report's own script: an English
            # question shares stray tokens (years, acronyms) with the text, which is noise.
            fused = rrf(dense - dense.min() + 1e-6) + (rrf(lexical) if is_chinese(query) else 0.0)
        return Scores(dense, lexical, fused)

    def retrieve(self, query: str, k: int = 5, mode: str = "hybrid",
                 qvec: np.ndarray | None = None) -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"Unknown retrieval mode {mode!r}: choose one of {', '.join(MODES)}.")
        qvec = self.embedder.query(query) if qvec is None else qvec
        s = self.scores(query, qvec, mode)
        order = np.argsort(-s.fused, kind="stable")[:k]
        return [Passage(self.index.chunks[i], float(s.fused[i]), float(s.dense[i]), float(s.lexical[i]))
                for i in order]
