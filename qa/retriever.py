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

from .embedder import Embedder
from .index import Index
from .schema import Passage
from .segmenter import is_chinese, words

MODES = ("hybrid", "dense", "bm25")
DENSE_WEIGHT = 0.4
LEXICAL_SCALE = 3.0     # a top BM25 match counts as much as a chunk three deviations above the mean


@dataclass
class Scores:
    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray


def fuse(dense: np.ndarray, lexical: np.ndarray, lexical_votes: bool) -> np.ndarray:
    z = (dense - dense.mean()) / (dense.std() + 1e-9)
    if not lexical_votes or lexical.max() <= 0:
        return z
    return DENSE_WEIGHT * z + (1 - DENSE_WEIGHT) * LEXICAL_SCALE * lexical / lexical.max()


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
            fused = fuse(dense, lexical, lexical_votes=is_chinese(query))
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
