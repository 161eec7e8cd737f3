"""Index: the persisted dense (FAISS) and lexical (BM25 over jieba words) indexes of a report.

On disk an index directory holds generations and a CURRENT file naming the live
one.  A build writes a new generation beside the old and then replaces CURRENT
in one atomic rename, so a crash mid-build leaves the previous index usable.
The manifest records what the index was built from; `matches` compares it with
what the caller has now, so a stale or foreign index is rebuilt, never used.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from ..ingest.chunks import ChunkingParams
from ..ingest.document import Document
from ..model.embedder import Embedder
from ..errors import IndexStoreError
from ..language.glossary import Glossary
from ..schema import Chunk
from ..language.segmenter import words

# Bump whenever what is derived and stored changes (vectors, glossary rules, sentence map).
FORMAT_VERSION = 5
log = logging.getLogger(__name__)


def chunks_sha256(chunks: list[Chunk]) -> str:
    blob = json.dumps([c.to_dict() for c in chunks], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def expected_manifest(doc: Document, chunks: list[Chunk], model_id: str,
                      params: ChunkingParams) -> dict:
    """The fields that must agree for an index on disk to be used."""
    return {"format_version": FORMAT_VERSION, "corpus_sha256": doc.sha256,
            "chunks_sha256": chunks_sha256(chunks), "model_id": model_id,
            "chunking": params.to_dict()}


def lexical_tokens(chunk: Chunk) -> list[str]:
    return list(words(chunk.context))


# Exact search while it is cheap; beyond, HNSW, which kept recall@10 0.933 at 1,000 reports
# (eval/bench.md) with a top-10 search in ~1 ms.
FLAT_MAX = 50_000
HNSW_M, HNSW_EF_CONSTRUCTION, HNSW_EF_SEARCH = 32, 80, 1024


def dense_index(vectors: np.ndarray, flat_max: int = FLAT_MAX) -> faiss.Index:
    if len(vectors) <= flat_max:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return _tuned(index)


def _tuned(index: faiss.Index) -> faiss.Index:
    if isinstance(index, faiss.IndexHNSWFlat):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return index


@dataclass
class Index:
    manifest: dict
    chunks: list[Chunk]
    dense: faiss.Index
    bm25: bm25s.BM25
    sentence_vectors: np.ndarray     # one row per sentence of the document, in order
    sentence_chunks: np.ndarray      # the chunk each sentence starts in
    glossary: Glossary               # English words to the report's Chinese words

    def matches(self, expected: dict) -> bool:
        return all(self.manifest.get(k) == v for k, v in expected.items())

    @classmethod
    def build(cls, doc: Document, chunks: list[Chunk], embedder: Embedder,
              params: ChunkingParams, progress: bool = True) -> "Index":
        if not chunks:
            raise IndexStoreError("The report has no text to index.")
        t0 = time.perf_counter()
        texts = [c.context for c in chunks] + [sentence_context(doc, s) for s in range(len(doc.sentences))]
        log.info("Embedding %d chunks and %d sentences with %s", len(chunks), len(doc.sentences), embedder.model_id)
        vectors = embedder.passages(texts, progress=progress)
        index = cls.assemble(chunks, vectors[:len(chunks)], vectors[len(chunks):], sentence_chunks(doc, chunks),
                             expected_manifest(doc, chunks, embedder.model_id, params))
        index.manifest.update(source=doc.source, build_seconds=round(time.perf_counter() - t0, 2))
        return index

    @classmethod
    def assemble(cls, chunks: list[Chunk], chunk_vectors: np.ndarray, sentence_vectors: np.ndarray,
                 owners: np.ndarray, manifest: dict, flat_max: int = FLAT_MAX) -> "Index":
        """Everything but the embedding: the dense and lexical indexes and the glossary."""
        tokens = [lexical_tokens(c) or ["∅"] for c in chunks]
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        glossary = Glossary.build({t for doc_tokens in tokens for t in doc_tokens})
        manifest = dict(manifest, dim=int(chunk_vectors.shape[1]), chunks=len(chunks),
                        sentences=len(sentence_vectors), built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        return cls(manifest, chunks, dense_index(chunk_vectors, flat_max), bm25,
                   np.ascontiguousarray(sentence_vectors, dtype=np.float32), owners, glossary)

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.dense.reconstruct_batch(np.asarray(ids, dtype=np.int64))

    def save(self, root: str | Path) -> Path:
        root = Path(root)
        try:
            root.mkdir(parents=True, exist_ok=True)
            gen = Path(tempfile.mkdtemp(prefix="gen-", dir=root))
            self._write(gen)
            pointer = root / "CURRENT.tmp"
            pointer.write_text(gen.name + "\n", encoding="utf-8")
            os.replace(pointer, root / "CURRENT")
        except OSError as e:
            raise IndexStoreError(f"Cannot write the index to {root}: {e}") from None
        for stale in root.glob("gen-*"):     # the old generation, and any a crash left behind
            if stale.name != gen.name:
                shutil.rmtree(stale, ignore_errors=True)
        return gen

    def _write(self, gen: Path) -> None:
        (gen / "chunks.json").write_text(
            json.dumps([c.to_dict() for c in self.chunks], ensure_ascii=False), encoding="utf-8")
        faiss.write_index(self.dense, str(gen / "dense.faiss"))
        np.save(gen / "sentences.npy", self.sentence_vectors)
        np.save(gen / "sentence_chunks.npy", self.sentence_chunks)
        (gen / "glossary.json").write_text(json.dumps(self.glossary.to_json(), ensure_ascii=False),
                                          encoding="utf-8")
        self.bm25.save(str(gen / "bm25"), show_progress=False)
        # Written last: a generation without a manifest is never loaded.
        (gen / "manifest.json").write_text(json.dumps(self.manifest, ensure_ascii=False, indent=2),
                                           encoding="utf-8")

    @classmethod
    def load(cls, root: str | Path) -> "Index":
        """The live generation under `root`; IndexStoreError if it is missing or damaged."""
        root = Path(root)
        name = _current(root)
        if not name:
            raise IndexStoreError(f"No index in {root}.")
        gen = root / name
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
            if manifest.get("format_version") != FORMAT_VERSION:
                raise IndexStoreError(f"The index in {gen} was written in format "
                                      f"{manifest.get('format_version')}; this version reads {FORMAT_VERSION}.")
            chunks = [Chunk(**c) for c in json.loads((gen / "chunks.json").read_text(encoding="utf-8"))]
            dense = _tuned(faiss.read_index(str(gen / "dense.faiss")))
            # Memory-mapped: at 1,000 reports the sentence vectors are most of the index.
            sentences = np.load(gen / "sentences.npy", mmap_mode="r")
            owners = np.load(gen / "sentence_chunks.npy")
            glossary = Glossary.from_json(json.loads((gen / "glossary.json").read_text(encoding="utf-8")))
            bm25 = bm25s.BM25.load(str(gen / "bm25"), show_progress=False)
        except IndexStoreError:
            raise
        except Exception as e:  # any damage means: do not use it
            raise IndexStoreError(f"The index in {gen} is damaged ({type(e).__name__}: {e}).") from None
        if dense.ntotal != len(chunks) or not len(sentences) == len(owners) == manifest.get("sentences"):
            raise IndexStoreError(f"The index in {gen} is inconsistent: its parts disagree in size.")
        return cls(manifest, chunks, dense, bm25, sentences, owners, glossary)


def _current(root: Path) -> str:
    try:
        return (root / "CURRENT").read_text(encoding="utf-8").strip()
    except OSError:
        return ""


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
    return np.clip(owners, 0, len(chunks) - 1).astype(np.int64)
