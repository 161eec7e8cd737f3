"""Chunk: pack a paragraph's sentences into retrieval units that respect the report's structure."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

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
