"""Index: every report's chunks in one dense (FAISS) and one lexical (BM25 over jieba words) index.

The index spans a whole library; each chunk names its report, and the chunks of
a report are contiguous, so a report filter is a range of chunk ids.  Vectors
are stored per report, so adding a report embeds that report only; the
combined FAISS and BM25 indexes and the glossary are re-assembled from the
stored vectors and words (a few seconds for 33 reports, no embedding).

This module builds, saves and loads what is searched; `store/faiss.py` decides where it lives on
disk (generations swapped atomically, checksums, a writers' lock).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import faiss
import numpy as np

from ..errors import IndexStoreError
from ..language.glossary import Glossary
from ..schema import Chunk
from .base import Part, Store, lexical_tokens
from .vectors import InMemory, SentenceVectors, open_vectors, save_vectors

log = logging.getLogger(__name__)

# Exact search while it is cheap; beyond, HNSW, which kept recall@10 0.933 at 1,000 reports
# (eval/bench.md) with a top-10 search in ~1 ms.
FLAT_MAX = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 1024
# The files of a saved index, in its directory.
DENSE, BM25, GLOSSARY, SENTENCES = "dense.faiss", "bm25", "glossary.json", "sentences.npy"
# Chunk vectors are stored as float16 and searched as such (FAISS decodes while it scans, no float32
# copy): 101,000 chunks take 74 MiB instead of 148 MiB, and a cosine moves by at most ~1e-3.
VECTOR_CODE = faiss.ScalarQuantizer.QT_fp16


def lexical_ids(chunks: list[Chunk]) -> tuple[list[list[int]], dict[str, int]]:
    """Every chunk's words as ids into one vocabulary (a chunk without words gets "∅").  Ids, not
    words: at 1,000 reports the chunks hold ~10 M words; as strings (and bm25s's own lists of ids)
    they took 445 MiB while building and left ~240 MiB of fragmented heap behind."""
    vocab: dict[str, int] = {}
    return [[vocab.setdefault(w, len(vocab)) for w in lexical_tokens(c) or ["∅"]] for c in chunks], vocab


def dense_index(vectors: np.ndarray, flat_max: int = FLAT_MAX) -> faiss.Index:
    d = vectors.shape[1]
    if len(vectors) <= flat_max:
        index = faiss.IndexScalarQuantizer(d, VECTOR_CODE, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexHNSWSQ(d, VECTOR_CODE, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return tuned(index)


def tuned(index: faiss.Index) -> faiss.Index:
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


@dataclass
class Index(Store):
    """The default store: FAISS and bm25s in the process (store/faiss.py keeps it on disk)."""
    chunks: list[Chunk]
    dense: faiss.Index
    bm25: bm25s.BM25
    sentence_vectors: SentenceVectors   # one row per sentence, report after report (float16)
    sentence_chunks: np.ndarray      # the chunk each sentence starts in
    glossary: Glossary               # English words to the reports' Chinese words
    parts: list[Part] = field(default_factory=list)

    @classmethod
    def assemble(cls, chunks: list[Chunk], chunk_vectors: np.ndarray, sentence_vectors,
                 owners: np.ndarray, parts: list[Part] | None = None, flat_max: int = FLAT_MAX,
                 glossary: Glossary | None = None) -> "Index":
        """Everything but the embedding: the dense and lexical indexes and the glossary."""
        if not chunks:
            raise IndexStoreError("There is no text to index: the library has no reports.")
        ids, vocab = lexical_ids(chunks)
        if glossary is None:
            glossary = Glossary.build(set(vocab))
        bm25 = bm25s.BM25()
        bm25.index((ids, vocab), show_progress=False)
        del ids
        if not isinstance(sentence_vectors, SentenceVectors):
            sentence_vectors = InMemory(sentence_vectors)
        parts = parts or [Part(chunks[0].report, range(len(chunks)), range(len(sentence_vectors)))]
        return cls(chunks, dense_index(chunk_vectors, flat_max), bm25, sentence_vectors,
                   np.asarray(owners, dtype=np.int64), glossary, parts)

    def save(self, directory: Path) -> None:
        """Write the index's parts into `directory`, then serve the sentence vectors from their file:
        a large library holds no second copy in memory."""
        save_vectors(directory / SENTENCES, self.sentence_vectors)
        self.sentence_vectors = open_vectors(directory / SENTENCES)
        faiss.write_index(self.dense, str(directory / DENSE))
        self.bm25.save(str(directory / BM25), show_progress=False)
        (directory / GLOSSARY).write_text(json.dumps(self.glossary.to_json(), ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path, chunks: list[Chunk], owners: np.ndarray, parts: list[Part]) -> "Index":
        """The index saved in `directory`, over `chunks` (which the caller parsed from the texts); an
        IndexStoreError if any part is damaged or they disagree in size."""
        try:
            dense = tuned(faiss.read_index(str(directory / DENSE)))
            bm25 = bm25s.BM25.load(str(directory / BM25), show_progress=False)
            glossary = Glossary.from_json(json.loads((directory / GLOSSARY).read_text(encoding="utf-8")))
            sentences = open_vectors(directory / SENTENCES)
        except Exception as e:   # any damage the checksums missed means: do not use it
            raise IndexStoreError(f"The index in {directory} is damaged ({type(e).__name__}: {e}).") from None
        if dense.ntotal != len(chunks) or bm25.scores["num_docs"] != len(chunks) or len(sentences) != len(owners):
            raise IndexStoreError(f"The index in {directory} is inconsistent: its parts disagree in size.")
        return cls(chunks, dense, bm25, sentences, np.asarray(owners, dtype=np.int64), glossary, parts)

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.dense.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    # -- the Store interface (store/base.py) -----------------------------------
    def ready_for_questions(self) -> None:
        # One query at a time: FAISS's threads only fight numpy's for the two cores (11 ms -> 1 ms).
        faiss.omp_set_num_threads(1)

    @property
    def vocab(self) -> set[str]:
        return set(self.bm25.vocab_dict)

    def lexical_scores(self, tokens: list[str], reports: set[str] | None = None) -> np.ndarray:
        if not tokens:
            return np.zeros(len(self.chunks))
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float64)

    def dense_search(self, qvec: np.ndarray, k: int) -> np.ndarray:
        _, ids = self.dense.search(qvec[None, :].astype(np.float32), k)
        return ids[0][ids[0] >= 0]

    def cosines(self, qvec: np.ndarray, ids: np.ndarray | None = None) -> np.ndarray:
        if ids is None or len(ids) == self.dense.ntotal:
            n = self.dense.ntotal
            sims, order = self.dense.search(qvec[None, :].astype(np.float32), n)
            out = np.zeros(n, dtype=np.float64)
            out[order[0]] = sims[0]
            return out if ids is None else out[ids]
        return (self.chunk_vectors(ids) @ qvec).astype(np.float64)

    def sentence_rows(self, rows: np.ndarray) -> np.ndarray:
        return self.sentence_vectors.rows(rows)
