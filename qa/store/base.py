"""Store and Library: what retrieval reads, and how a library of reports is changed, whichever
engine holds the vectors and words.

Two stores implement it: `Index` (store/index.py: FAISS + bm25s in the process, the default) and
`MilvusStore` (store/milvus.py: a Milvus Lite file, a Milvus server or a cluster).  A store only
finds and returns numbers: scores for chunks, vectors for sentences.  Fusion, the year penalty,
the sentence ranking and the decision to answer are the retriever's and the extractor's, and they
do not know which store served them.

Rows are positions: chunk i is `store.chunks[i]`; the chunks of a report are contiguous, and so are
its sentences (`Part`), so a report filter is a range of rows.

`Library` is the write side: the reports a store keeps (a `Catalog`) and adding and removing them.
A backend implements open, changed, check, write_lock, commit and rebuild; `add` and `remove` are
written once, here, over the ingest pipeline, so every store reads, limits, parses, chunks and
embeds a report the same way, once per add, and refuses the same files with the same errors.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import ContextManager, Iterable

import numpy as np

from ..ingest.chunks import ChunkingParams
from ..errors import SameTitleError
from ..ingest.pipeline import Entry, Source, embedded, named, prepare, read_all, same_title
from ..language.glossary import Glossary
from ..language.segmenter import words
from ..schema import Chunk, Report
from .catalog import Catalog, Change


@dataclass
class Part:
    """One report's share of the index: its chunks and sentences are these ranges of rows."""
    report: str
    chunks: range
    sentences: range


def lexical_tokens(chunk: Chunk) -> list[str]:
    """The words a chunk is found by lexically (BM25), in every store."""
    # Around words' cache: a chunk is segmented once, and 4,096 chunks' words held 35-55 MiB there
    # at 1,000 reports, pushing out the questions it is for.
    return list(words.__wrapped__(chunk.context))


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

    def ready_for_questions(self) -> None:
        """Called when a retriever is made over the store: the store may set itself up for answering
        one question at a time."""

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


class Library(Catalog, ABC):
    """The write side of a store: its reports (`entries`, whose chunks `index` searches), and changes.

    Subclasses set `embedder`, `params` (ChunkingParams), `root` (how messages name the library),
    `entries`, `index` (a Store, None while the library is empty) and `generation` (changes whenever
    a writer changes the library), and implement the abstract methods."""
    embedder: object
    params: ChunkingParams
    root: object
    index: Store | None
    generation: str

    # -- what a store implements ---------------------------------------------------
    @abstractmethod
    def open(self, seeds: Iterable[Path] = (), progress: bool = True) -> "Library":
        """Load the live library, repairing what is damaged or stale; a library never written before
        starts with the report files `seeds`."""

    @abstractmethod
    def changed(self) -> bool:
        """Another process (or another handle) has changed the library since it was loaded."""

    @abstractmethod
    def check(self) -> None:
        """Raise IndexStoreError now if the library cannot be written (before anything is embedded)."""

    @abstractmethod
    def write_lock(self) -> ContextManager[None]:
        """One writer at a time; inside it, `entries` are the live library's."""

    @abstractmethod
    def commit(self, entries: list[Entry], added: list[Entry], removed: list[Entry], progress: bool) -> None:
        """Make `entries` the library, atomically where the store can (add and remove call it inside
        write_lock): `added` are new and embedded, `removed` are gone.  Afterwards `entries`, `index`
        and `generation` are the new library's."""

    @abstractmethod
    def rebuild(self, progress: bool = True) -> None:
        """Embed every report again (after a model change, or on request)."""

    @abstractmethod
    def append_log(self, changes: list[Change]) -> None:
        """Add `changes` to the library's change log (called inside write_lock, after commit)."""

    @abstractmethod
    def log(self) -> list[Change]:
        """The library's change log, oldest first."""

    def address(self) -> dict | None:
        """How another process opens this same library while this one has it open (ReportQA.load's
        `library` and `store`), for writes in a child process (qa/writer.py); None where the store
        writes in process (see writer.py)."""
        return None

    def original_of(self, rid: str) -> Path | None:
        """The file the report was added from, as the store keeps it; None where the store keeps none."""
        self.entry(rid)
        return None

    # -- the same for every store --------------------------------------------------
    def add(self, files: Iterable[str | Path | Source], progress: bool = True, user: str = "cli",
            replace: bool = False, keep_both: bool = False) -> list[Report]:
        """Add report files (or sources already read); a file whose text is already in the library is
        recognised by its checksum and not stored twice.  A report with the title and year of one in
        the library but another text is refused (SameTitleError) unless `replace` (it takes the other's
        place) or `keep_both`.  Every file is read and checked first, so a bad one among several stores
        none; reports are embedded outside the lock, so another writer waits only for the write."""
        if replace and keep_both:
            raise ValueError("replace and keep_both exclude each other")
        self.check()
        sources = read_all(files)
        ready: dict[str, Entry] = {}
        for s in sources:
            if self.with_text(s.sha256) is None and s.sha256 not in ready:
                entry = prepare(s, self.params)
                _rival(entry, self.entries, replace, keep_both)      # refused before the embedding
                ready[s.sha256] = embedded(entry, self.embedder, progress)
        with self.write_lock():
            entries, added, removed, out = list(self.entries), [], [], []
            for s in sources:
                same = next((e for e in entries if e.report.sha256 == s.sha256), None)
                if same is None:
                    # (Not in `ready` when the report was in the library before the lock, and another
                    # writer has removed it since.)
                    same = ready.pop(s.sha256, None) or embedded(prepare(s, self.params), self.embedder, progress)
                    rival = _rival(same, entries, replace, keep_both)
                    if rival is not None and replace:
                        entries = [e for e in entries if e is not rival]
                        removed.append(rival)
                    same = named(same, {e.report.id for e in entries})
                    entries.append(same)
                    added.append(same)
                out.append(same.report)
            if added:
                self.commit(entries, added, removed, progress)
                self.append_log([Change.of("remove", e, user) for e in removed] +
                                [Change.of("add", e, user) for e in added])
        return out

    def remove(self, rid: str, user: str = "cli") -> Report:
        self.check()
        with self.write_lock():
            gone = self.entry(rid)
            self.commit([e for e in self.entries if e is not gone], [], [gone], progress=False)
            self.append_log([Change.of("remove", gone, user)])
        return gone.report


def _rival(entry: Entry, entries: list[Entry], replace: bool, keep_both: bool) -> Entry | None:
    """The report `entry` would replace (see same_title); SameTitleError when the caller said neither
    to replace it nor to keep both."""
    rival = same_title(entry, entries)
    if rival is not None and not (replace or keep_both):
        r = rival.report
        name = entry.source.name if entry.source else entry.report.source
        raise SameTitleError(f"{name}: the library already has {r.id} ({r.title}) with another text; "
                             f"add it with --replace to put it in that report's place, or with --keep-both "
                             f"to keep both. 资料库已有同名同年的另一版本 {r.id}：请选择替换或两者都保留。",
                             report=r.id, title=r.title)
    return rival
