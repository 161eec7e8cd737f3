"""Store: what retrieval and the answer step read, whichever engine holds the vectors and words.

Two stores implement it: `Index` (store/index.py: FAISS + bm25s in the process, the default) and
`MilvusStore` (store/milvus.py: a Milvus Lite file, a Milvus server or a cluster).  A store only
finds and returns numbers: scores for chunks, vectors for sentences.  Fusion, the year penalty,
the sentence ranking and the decision to answer are the retriever's and the extractor's, and they
do not know which store served them.

Rows are positions: chunk i is `store.chunks[i]`; the chunks of a report are contiguous, and so are
its sentences (`Part`), so a report filter is a range of rows.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from ..language.glossary import Glossary
from ..schema import Chunk


@dataclass
class Part:
    """One report's share of the index: its chunks and sentences are these ranges of rows."""
    report: str
    chunks: range
    sentences: range


class Store(ABC):
    """The interface the retriever and the extractor use.  Subclasses hold `chunks`, `parts`,
    `sentence_chunks` (the chunk row each sentence starts in) and `glossary`."""
    chunks: list[Chunk]
    parts: list[Part]
    sentence_chunks: np.ndarray
    glossary: Glossary

    # -- what is searched --------------------------------------------------------
    @property
    @abstractmethod
    def vocab(self) -> set[str]:
        """Every lexical token of the indexed chunks (a question's words outside it are not searched)."""

    @abstractmethod
    def lexical_scores(self, tokens: list[str], reports: set[str] | None = None) -> np.ndarray:
        """BM25 score of every chunk row for `tokens` (0 where none matches); rows outside `reports`
        may be left at 0."""

    @abstractmethod
    def dense_search(self, qvec: np.ndarray, k: int) -> np.ndarray:
        """The rows of the k chunks most similar to `qvec` (inner product), best first."""

    @abstractmethod
    def cosines(self, qvec: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        """Inner product of `qvec` with the chunks `ids` (every chunk when None), as float64."""

    @abstractmethod
    def sentence_rows(self, rows: np.ndarray) -> np.ndarray:
        """The vectors of sentence rows `rows`, in that order."""

    # -- where things are --------------------------------------------------------
    def part(self, report: str) -> Part:
        for p in self.parts:
            if p.report == report:
                return p
        raise KeyError(report)

    def chunk_mask(self, reports: set[str] | None) -> np.ndarray | None:
        """True for the chunks of `reports`; None when every report is searched."""
        if not reports:
            return None
        mask = np.zeros(len(self.chunks), dtype=bool)
        for p in self.parts:
            if p.report in reports:
                mask[p.chunks.start:p.chunks.stop] = True
        return mask

    def sentence_vector(self, report: str, i: int) -> np.ndarray:
        """The vector of sentence i of `report`."""
        return self.sentence_rows(np.array([self.part(report).sentences.start + i]))[0]


def parts_of(reports: list[tuple[str, int, int]]) -> list[Part]:
    """Parts for reports given in order as (id, chunks, sentences)."""
    out, c0, s0 = [], 0, 0
    for rid, n_chunks, n_sentences in reports:
        out.append(Part(rid, range(c0, c0 + n_chunks), range(s0, s0 + n_sentences)))
        c0, s0 = c0 + n_chunks, s0 + n_sentences
    return out
