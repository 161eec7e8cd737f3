"""Index: every report's chunks in one dense (FAISS) and one lexical (BM25 over jieba words) index.

The index spans a whole library; each chunk names its report, and the chunks of
a report are contiguous, so a report filter is a range of chunk ids.  Vectors
are stored per report, so adding a report embeds that report only; the
combined FAISS and BM25 indexes and the glossary are re-assembled from the
stored vectors and words (a few seconds for 33 reports, no embedding).

This module holds what is searched; `qa.library` holds where it lives on disk
(generations swapped atomically, checksums, a writers' lock).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import bm25s
import faiss
import numpy as np

from ..errors import IndexStoreError
from ..ingest.document import Document
from ..language.glossary import Glossary
from ..language.segmenter import words
from ..schema import Chunk
from .base import Part, Store
from .vectors import InMemory, SentenceVectors

log = logging.getLogger(__name__)

# Exact search while it is cheap; beyond, HNSW, which kept recall@10 0.933 at 1,000 reports
# (eval/bench.md) with a top-10 search in ~1 ms.
FLAT_MAX = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 1024
# Chunk vectors are stored as float16 and searched as such (FAISS decodes while it scans, no float32
# copy): 101,000 chunks take 74 MiB instead of 148 MiB, and a cosine moves by at most ~1e-3.
VECTOR_CODE = faiss.ScalarQuantizer.QT_fp16


def lexical_tokens(chunk: Chunk) -> list[str]:
    # Around words' cache: a chunk is segmented once, and 4,096 chunks' words held 35-55 MiB there
    # at 1,000 reports, pushing out the questions it is for.
    return list(words.__wrapped__(chunk.context))


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


def sentence_context(doc: Document, i: int) -> str:
    """A sentence with the heading it sits under, as embedded for span selection."""
    s = doc.sentences[i]
    para = doc.paragraphs[s.paragraph]
    head = " › ".join(h for h in (para.section or para.part, para.lead) if h)
    return (head + "\n" if head else "") + doc.text[s.start:s.end]


def sentence_chunks(doc: Document, chunks: list[Chunk]) -> np.ndarray:
    """For each sentence, the last chunk that starts at or before it (chunks are in text order)."""
    starts = np.array([c.start for c in chunks])
    owners = np.searchsorted(starts, [s.start for s in doc.sentences], side="right") - 1
    return np.clip(owners, 0, len(chunks) - 1).astype(np.int64) + (chunks[0].chunk_id if chunks else 0)


def embed_texts(doc: Document, chunks: list[Chunk]) -> list[str]:
    """What is embedded for a report: its chunks in context, then its sentences in context."""
    return [c.context for c in chunks] + [sentence_context(doc, s) for s in range(len(doc.sentences))]


@dataclass
class Index(Store):
    """The default store: FAISS and bm25s in the process (qa.library keeps it on disk)."""
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

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.dense.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    # -- the Store interface (store/base.py) -----------------------------------
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
