"""Ingest: a report file made into a library entry, once, the same way for every store.

    read -> parse -> name -> chunk -> record -> embed

`read` reads a file once and applies every limit a report must meet (the readers' size, memory,
type, encoding, emptiness, MAX_REPORT_CHARS and "is it a Chinese work report" checks); `prepare`
parses, names, chunks and records it, and `embedded` embeds it.  They run outside any store's
lock: they are the slow part of an add.  A store then gives the entry its final id (`named`, under its lock, since
the ids taken depend on the library as it is then) and keeps it.  The stores' shared write side
(store/base.py) is the only caller, so the FAISS and the Milvus library refuse the same files
with the same errors and parse and chunk a report once per add.
"""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable

from ..errors import ReportError
from ..schema import Chunk, Report
from .chunks import ChunkingParams, chunk_document, embed_texts, renumbered
from .document import Document, parse, text_sha256
from .metadata import TITLE_WORDS
from .readers import MAX_REPORT_CHARS, read_bytes, text_of  # noqa: F401  (the limit, for callers)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """A report file, read once: every later step works from this."""
    path: str           # as given: messages name it, and a year may be read from its name
    raw: str            # the text as the readers gave it: the library's source of truth
    sha256: str         # of `raw`: the same text added twice is recognised by it
    data: bytes = field(default=b"", repr=False)     # the file as it came (a store may keep it)

    @property
    def name(self) -> str:
        """The file's name, as the report's record keeps it."""
        return Path(self.path).name

    @property
    def original(self) -> str:
        """The name a store keeps the file's bytes under: their checksum, and the file's suffix."""
        return hashlib.sha256(self.data).hexdigest() + Path(self.path).suffix.lower() if self.data else ""


@dataclass
class Entry:
    """A report of a library in memory: its record, text, parsed document, chunks and vectors."""
    report: Report
    raw: str
    doc: Document
    chunks: list[Chunk]
    # Array-likes of one row per chunk and per sentence (in memory, or a store's file), or None while
    # the report is still to be embedded.
    chunk_vectors: Any = None
    sentence_vectors: Any = None
    source: Source | None = None      # while it is being added: the file it came from
    original: str = ""                # the file it came from, as its store keeps it ("" if none)


def read(path: str | Path) -> Source:
    """A report file's text, once it has passed every limit a report must meet."""
    data = read_bytes(path)
    raw = text_of(data, path)
    return Source(str(path), raw, text_sha256(raw), data)


def read_all(paths: Iterable[str | Path | Source]) -> list[Source]:
    """Every file read before any is stored, so a bad one among several stores none; every bad one
    is named at once (one message line each), so a long list is fixed in one go."""
    sources, problems = [], []
    for path in paths:
        try:
            sources.append(path if isinstance(path, Source) else read(path))
        except ReportError as e:
            problems.append(e)
    if len(problems) == 1:
        raise problems[0]               # as the reader raised it: its class, code and details
    if problems:
        raise ReportError("\n".join(map(str, problems)), code=problems[0].code)
    return sources


def report_id(doc: Document, source: str, taken: Iterable[str] = ()) -> str:
    """"henan-2024" from the region and year; else the file's name; "-2" where that is taken."""
    m = doc.meta
    base = f"{m.region_code}-{m.year}" if m.region_code and m.year else \
        re.sub(r"[^a-z0-9]+", "-", Path(source).stem.lower()).strip("-") or "report"
    taken = set(taken)
    rid, n = base, 2
    while rid in taken:
        rid, n = f"{base}-{n}", n + 1
    return rid


def record(rid: str, doc: Document, chunks: list[Chunk], source: str) -> Report:
    """The report as the library lists it."""
    m = doc.meta
    return Report(id=rid, title=m.name, region=m.region, year=m.year, date=m.date, speaker=m.speaker,
                  chars=len(doc.text), sha256=doc.sha256, source=Path(source).name if source else "",
                  chunks=len(chunks), sentences=len(doc.sentences))


def embed(embedder, doc: Document, chunks: list[Chunk], progress: bool = True):
    """A report's chunk vectors and sentence vectors, in one pass of the model."""
    log.info("Embedding %d chunks and %d sentences with %s", len(chunks), len(doc.sentences), embedder.model_id)
    vectors = embedder.passages(embed_texts(doc, chunks), progress=progress)
    return vectors[:len(chunks)], vectors[len(chunks):]


def prepare(source: Source, params: ChunkingParams) -> Entry:
    """Parse, name, chunk and record a report that has been read; its id is provisional until a store
    takes it (`named`)."""
    doc = parse(source.raw, source=source.path)
    rid = report_id(doc, source.path)
    chunks = chunk_document(doc, params, rid)
    return Entry(record(rid, doc, chunks, source.path), source.raw, doc, chunks, source=source)


def embedded(entry: Entry, embedder, progress: bool = True) -> Entry:
    """The entry with its vectors."""
    cv, sv = embed(embedder, entry.doc, entry.chunks, progress)
    return replace(entry, chunk_vectors=cv, sentence_vectors=sv)


def named(entry: Entry, taken: Iterable[str]) -> Entry:
    """The entry under an id no other report of the library has ("jilin-2025-2" beside "jilin-2025")."""
    rid = report_id(entry.doc, entry.report.source, taken)
    if rid == entry.report.id:
        return entry
    first = entry.chunks[0].chunk_id if entry.chunks else 0
    return replace(entry, report=replace(entry.report, id=rid), chunks=renumbered(entry.chunks, first, rid))


def reopen(raw: str, stored: dict, params: ChunkingParams, first_id: int = 0) -> Entry:
    """A stored report parsed and chunked again from its text (a store keeps texts, not parses), numbered
    from `first_id`; its record as stored, or made again when the store lost it (`stored` holds only
    "id" and "source" then).  Its vectors are the store's to attach."""
    rid = stored["id"]
    doc = parse(raw, source=stored.get("source", ""))
    chunks = chunk_document(doc, params, rid, first_id)
    report = Report(**{k: stored[k] for k in Report.__dataclass_fields__ if k in stored}) \
        if "sha256" in stored else record(rid, doc, chunks, stored.get("source", ""))
    return Entry(report, raw, doc, chunks, original=stored.get("original", ""))


def same_title(entry: Entry, entries: Iterable[Entry]) -> Entry | None:
    """Another report of `entries` with the same title and year as `entry` and another text: most likely
    a second version of one report (a corrected, or a doctored, copy), which a library must not keep
    beside the first without being told to.  Reports whose title says nothing of their own (no year,
    or no region and no cover title) are not compared."""
    r = entry.report
    if not r.year or r.title == f"{r.year}年{TITLE_WORDS}":
        return None
    return next((e for e in entries if e.report.sha256 != r.sha256 and (e.report.title, e.report.year) ==
                 (r.title, r.year)), None)
