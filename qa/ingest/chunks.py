"""Chunk: pack a paragraph's sentences into retrieval units that respect the report's structure."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, replace

import numpy as np

from .document import Document
from ..schema import Chunk

CLAUSE_END = re.compile(r"(?<=[；，])")


@dataclass(frozen=True)
class ChunkingParams:
    max_chars: int = 200     # a chunk's text; e5 needs ~1 token per Chinese character
    hard_max: int = 320      # a single sentence longer than this is cut at clause ends

    def to_dict(self) -> dict:
        return asdict(self)


def _pieces(doc: Document, start: int, end: int, hard_max: int) -> list[tuple[int, int]]:
    """A sentence, or its clause-aligned parts when it is too long to embed well."""
    if end - start <= hard_max:
        return [(start, end)]
    out, s = [], start
    for m in CLAUSE_END.finditer(doc.text, start, end):
        if m.start() - s >= hard_max // 2:
            out.append((s, m.start()))
            s = m.start()
    out.append((s, end))
    return out


def chunk_document(doc: Document, params: ChunkingParams = ChunkingParams(), report: str = "",
                   first_id: int = 0) -> list[Chunk]:
    """The chunks of one report, numbered from `first_id` (a library numbers all its chunks)."""
    chunks: list[Chunk] = []
    by_paragraph: dict[int, list[tuple[int, int]]] = {}
    # The cover page's lines make one chunk together, keyed by its first line.
    cover = next((i for i, p in enumerate(doc.paragraphs) if p.kind == "title"), None)
    for s in doc.sentences:
        key = cover if doc.paragraphs[s.paragraph].kind == "title" else s.paragraph
        by_paragraph.setdefault(key, []).extend(_pieces(doc, s.start, s.end, params.hard_max))
    for p_idx, spans in by_paragraph.items():
        para = doc.paragraphs[p_idx]
        group: list[tuple[int, int]] = []
        for span in spans + [None]:
            if group and (span is None or span[1] - group[0][0] > params.max_chars):
                start, end = group[0][0], group[-1][1]
                chunks.append(Chunk(first_id + len(chunks), doc.text[start:end], start, end, para.path,
                                    para.lead, report, p_idx))
                group = []
            if span is not None:
                group.append(span)
    return chunks


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


def renumbered(chunks: list[Chunk], first_id: int, report: str | None = None) -> list[Chunk]:
    """The same chunks numbered from `first_id` (and labelled with `report`): what chunk_document would
    give for the report at that place in a library, without chunking it again."""
    report = chunks[0].report if report is None and chunks else report
    if not chunks or (chunks[0].chunk_id == first_id and chunks[0].report == report):
        return chunks
    return [replace(c, chunk_id=first_id + i, report=report) for i, c in enumerate(chunks)]


def chunks_sha256(chunks: list[Chunk], relative: bool = True) -> str:
    """What the parser and chunker made of a report, whatever number its first chunk has (stores keep
    it to notice a parser or chunker change).  `relative=False` counts the numbers as they are: how
    FAISS libraries written before this function checked it."""
    first = chunks[0].chunk_id if chunks and relative else 0
    blob = json.dumps([dict(c.to_dict(), chunk_id=c.chunk_id - first) for c in chunks],
                      ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
