"""Library: the reports a user has added, on disk, with one index over all of them.

A library directory holds generations and a CURRENT file naming the live one:

    CURRENT                  "gen-…"
    LOCK                     writers take it in turn (fcntl); readers never wait
    gen-…/manifest.json      format, model, chunking, the reports, a sha256 for every file below
    gen-…/reports/ID.txt     a report's text as read from its file: the source of truth
    gen-…/reports/ID.chunks.npy, ID.sentences.npy      its vectors (float16)
    gen-…/dense.faiss, bm25/, glossary.json, sentences.npy   assembled over all reports
    texts/SHA.txt            a second copy of every text, named by its checksum

A write (add, remove, rebuild) embeds outside the lock, then under it re-reads
the live generation, writes a new one beside it and swaps CURRENT in one atomic
rename, so two writers both land and a crash leaves the old library usable.
Everything but the texts is derived: a file whose checksum fails, or vectors made
by another model, chunking or parser, are made again from the texts on open.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from .errors import IndexStoreError, ReportError
from .ingest.chunks import ChunkingParams, chunk_document
from .ingest.document import Document, parse
from .ingest.readers import read_text
from .language.glossary import Glossary
from .model.embedder import Embedder
from .schema import Chunk, Report
from .store.base import Part, parts_of
from .store.index import Index, embed_texts, sentence_chunks, tuned
from .store.vectors import DTYPE, Stored, npy_layout, open_vectors, save_vectors

log = logging.getLogger(__name__)

# Bump whenever what is derived and stored changes (vectors, glossary rules, sentence map, layout).
FORMAT_VERSION = 7
# The previous generation is kept after a swap: a reader that read CURRENT just before it may still
# be loading it.  Older ones, and any a crash left half-written, go at the next write.
KEEP_GENERATIONS = 2
# The 33 reports here have 10,400-28,000 characters; embedding runs at ~4,000 characters a second on
# two cores, so ten times the longest still indexes in about a minute, and a wrong file is stopped.
MAX_REPORT_CHARS = 300_000
# Every report's text is also kept once, outside the generations, named by its sha256: the second
# copy that a damaged text is restored from.
TEXTS = "texts"
# Every report's sentence vectors in one file, in the index's row order, read by rows at scale.
SENTENCES = "sentences.npy"


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def chunks_sha256(chunks: list[Chunk]) -> str:
    blob = json.dumps([c.to_dict() for c in chunks], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class Entry:
    """A report of the library in memory: its record, parsed text, chunks and vectors."""
    report: Report
    raw: str
    doc: Document
    chunks: list[Chunk]
    chunk_vectors: np.ndarray
    sentence_vectors: np.ndarray


def report_id(doc: Document, source: str, taken: set[str]) -> str:
    """"henan-2024" from the region and year; else the file's name; "-2" where that is taken."""
    m = doc.meta
    base = f"{m.region_code}-{m.year}" if m.region_code and m.year else \
        re.sub(r"[^a-z0-9]+", "-", Path(source).stem.lower()).strip("-") or "report"
    rid, n = base, 2
    while rid in taken:
        rid, n = f"{base}-{n}", n + 1
    return rid


def _record(rid: str, raw: str, doc: Document, chunks: list[Chunk], source: str) -> Report:
    m = doc.meta
    return Report(id=rid, title=m.name, region=m.region, year=m.year, date=m.date, speaker=m.speaker,
                  chars=len(doc.text), sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                  source=Path(source).name if source else "", chunks=len(chunks), sentences=len(doc.sentences))


class Catalog:
    """The reports of a library, whatever store keeps it."""
    entries: list[Entry]

    @property
    def reports(self) -> list[Report]:
        return [e.report for e in self.entries]

    def entry(self, rid: str) -> Entry:
        for e in self.entries:
            if e.report.id == rid:
                return e
        known = ", ".join(e.report.id for e in self.entries) or "none"
        raise ReportError(f"No report {rid!r} in the library (reports: {known}).", code="unknown_report")


class Library(Catalog):
    def __init__(self, root: str | Path, embedder: Embedder, params: ChunkingParams = ChunkingParams()):
        self.root, self.embedder, self.params = Path(root), embedder, params
        self.entries: list[Entry] = []
        self.index: Index | None = None
        self.generation = ""

    # -- reading ---------------------------------------------------------------
    def _expected(self) -> dict:
        return {"format_version": FORMAT_VERSION, "model_id": self.embedder.model_id,
                "chunking": self.params.to_dict()}

    def live(self) -> str:
        try:
            return (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return ""

    def changed(self) -> bool:
        """Another process has written a new generation since this one was loaded."""
        return self.live() != self.generation

    def open(self, seeds: list[Path] = (), progress: bool = True) -> "Library":
        """Load the live generation; repair what is damaged or stale from the stored texts; a library
        never written before starts with `seeds`."""
        self._check_not_newer()
        loaded = self._load_any()
        if loaded is None:
            if self._ever_written():
                log.warning("The library in %s is damaged beyond its texts; starting it afresh.", self.root)
            if seeds:
                self.add(seeds, progress=progress)
            return self
        gen, manifest, stale = loaded
        if gen != self.live() and not stale:
            with self._locked():
                if not self._loadable(self.live()):     # still broken: point CURRENT at what loaded
                    _point(self.root, gen)
        if stale:
            log.warning("Repairing the library in %s: %s", self.root,
                        "; ".join(f"{rid}: {why}" for rid, why in stale.items()))
            try:
                with self._locked():
                    self._write(self.entries, progress=progress, redo=set(stale))
            except IndexStoreError as e:     # a read-only library is repaired for this process only
                log.warning("%s Answering from a repair kept in memory.", e)
                self.entries = self._renumbered(self.entries, progress, set(stale))
                self.index = _assemble(self.entries) if self.entries else None
        return self

    def _check_not_newer(self) -> None:
        """Refuse a library a newer report-qa wrote: rewriting it in this older format would undo
        that version's work at every command (and it would undo ours)."""
        try:
            version = json.loads((self.root / self.live() / "manifest.json").read_text(encoding="utf-8"))["format_version"]
        except (OSError, ValueError, KeyError, TypeError):
            return                          # no live manifest, or a damaged one: open() repairs it
        if isinstance(version, int) and version > FORMAT_VERSION:
            raise IndexStoreError(f"The library in {self.root} was written by a newer report-qa (format {version}; "
                                  f"this one reads format {FORMAT_VERSION}): upgrade report-qa, or give this one "
                                  "another --library.")

    def _loadable(self, name: str) -> bool:
        return bool(name) and (self.root / name / "manifest.json").exists()

    def _ever_written(self) -> bool:
        return (self.root / "CURRENT").exists() or any(self.root.glob("gen-*"))

    def _generations(self) -> list[str]:
        """The live generation first, then the others with a manifest, newest first."""
        live = self.live()
        others = sorted((g for g in self.root.glob("gen-*") if (g / "manifest.json").exists()),
                        key=lambda g: g.stat().st_mtime, reverse=True)
        names = [live] if live and (self.root / live / "manifest.json").exists() else []
        return names + [g.name for g in others if g.name != live]

    def _load_any(self):
        """The newest generation whose texts are intact, with the reports that must be re-embedded."""
        for name in self._generations():
            try:
                return self._load(name)
            except IndexStoreError as e:
                log.warning("%s", e)
        return None

    def _load(self, name: str):
        gen = self.root / name
        manifest, files, records, stale = self._manifest(gen)
        bad = {rel for rel, digest in files.items() if not _intact(gen / rel, digest)}
        setup = _setup_change(manifest, self._expected())
        entries, first_chunk = [], 0
        for rec in records:
            rid = rec["id"]
            raw = self._text(gen, rid, files, bad, rec.get("sha256", ""))
            if raw is not None and f"reports/{rid}.txt" in bad:
                stale.setdefault("*", "a report's text was damaged and restored from another generation")
            if raw is None:
                log.error("The text of report %s is damaged in every copy of the library in %s; "
                          "it is left out: add its file again.", rid, self.root)
                stale["*"] = "a report's text was lost"
                continue
            doc = parse(raw, source=rec.get("source", ""))
            chunks = chunk_document(doc, self.params, rid, first_chunk)
            first_chunk += len(chunks)
            vectors = None
            if rid in stale:
                pass
            elif setup:
                stale[rid] = setup
            elif chunks_sha256(chunks) != rec.get("chunks_sha256"):
                stale[rid] = "the parser or chunker has changed"
            elif {f"reports/{rid}.chunks.npy", f"reports/{rid}.sentences.npy"} & bad:
                stale[rid] = "its vectors are damaged"
            else:
                vectors = _load_vectors(gen, rid, len(chunks), len(doc.sentences))
                if vectors is None:
                    stale[rid] = "its vectors do not fit its text"
            cv, sv = vectors or (None, None)
            report = Report(**{k: rec[k] for k in Report.__dataclass_fields__ if k in rec}) \
                if "sha256" in rec else _record(rid, raw, doc, chunks, rec.get("source", ""))
            entries.append(Entry(report, raw, doc, chunks, cv, sv))
        self.entries, self.generation, self.index = entries, name, None
        if not stale and bad - {f for f in files if f.startswith("reports/")}:
            stale["*"] = "the combined index is damaged"
        if not stale and entries:       # an empty library is a library, with nothing to search
            self.index = self._combined(gen, manifest)
        return name, manifest, stale

    def _manifest(self, gen: Path) -> tuple[dict, dict, list, dict]:
        """The manifest; when it is damaged, the reports are read back from the texts in the
        generation (nothing derived is trusted then)."""
        try:
            manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
            return manifest, manifest["files"], manifest["reports"], {}
        except (OSError, ValueError, KeyError, TypeError) as e:
            texts = sorted((gen / "reports").glob("*.txt"))
            if not texts:
                raise IndexStoreError(f"The library generation {gen} is damaged ({type(e).__name__}).") from None
            log.warning("The manifest of %s is damaged; reading its %d report texts again.", gen, len(texts))
            records = [{"id": t.stem, "source": ""} for t in texts]
            return {}, {}, records, {t.stem: "the manifest was damaged" for t in texts}

    def _text(self, gen: Path, rid: str, files: dict, bad: set, sha: str) -> str | None:
        """A report's text; a damaged copy is replaced by the library's second copy (texts/SHA.txt,
        named by its checksum) or an intact one from another generation."""
        rel = f"reports/{rid}.txt"
        if rel not in bad:
            return (gen / rel).read_text(encoding="utf-8")
        spare = self.root / TEXTS / f"{sha}.txt"
        if sha and _intact_text(spare, sha):
            return spare.read_text(encoding="utf-8")
        for g in self.root.glob("gen-*"):
            if g != gen and _intact(g / rel, files.get(rel, "")):
                return (g / rel).read_text(encoding="utf-8")
        return None

    def _combined(self, gen: Path, manifest: dict) -> Index:
        try:
            dense = tuned(faiss.read_index(str(gen / "dense.faiss")))
            bm25 = bm25s.BM25.load(str(gen / "bm25"), show_progress=False)
            glossary = Glossary.from_json(json.loads((gen / "glossary.json").read_text(encoding="utf-8")))
            sentences = open_vectors(gen / SENTENCES)
        except Exception as e:   # any damage the checksums missed means: do not use it
            raise IndexStoreError(f"The index in {gen} is damaged ({type(e).__name__}: {e}).") from None
        chunks, parts, owners = _layout(self.entries)
        if dense.ntotal != len(chunks) or bm25.scores["num_docs"] != len(chunks) or \
                len(sentences) != len(owners):
            raise IndexStoreError(f"The index in {gen} is inconsistent: its parts disagree in size.")
        return Index(chunks, dense, bm25, sentences, owners, glossary, parts)

    # -- writing ---------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        """One writer at a time; the lock file is checked first, so an unwritable library fails at once."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = open(self.root / "LOCK", "a+")
        except OSError as e:
            raise IndexStoreError(f"Cannot write the library in {self.root}: {e.strerror or e}.") from None
        with handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def check_writable(self) -> None:
        with self._locked():
            pass

    def add(self, paths: list[str | Path], progress: bool = True) -> list[Report]:
        """Add report files; a file whose text is already in the library is recognised, not stored twice."""
        self.check_writable()
        read = []
        for path in paths:
            raw = read_text(path)
            if len(raw) > MAX_REPORT_CHARS:
                raise ReportError(f"{Path(path).name} has {len(raw):,} characters of text; a government work "
                                  f"report has 10,000-30,000, and this one would take long to index: "
                                  f"check that it is the right file (the limit is {MAX_REPORT_CHARS:,}).", code="report_too_long")
            read.append((raw, parse(raw, source=str(path)), str(path)))
        fresh = [r for r in read if _sha(r[0]) not in {e.report.sha256 for e in self.entries}]
        vectors = {id(doc): self._embed(doc, chunk_document(doc, self.params), progress) for _, doc, _ in fresh}
        with self._locked():
            self._reload_if_changed()
            entries = list(self.entries)
            known = {e.report.sha256: e.report for e in entries}
            added = []
            for raw, doc, source in read:
                if _sha(raw) in known:
                    added.append(known[_sha(raw)])
                    continue
                rid = report_id(doc, source, {e.report.id for e in entries})
                chunks = chunk_document(doc, self.params, rid)
                cv, sv = vectors.get(id(doc)) or self._embed(doc, chunks, progress)
                entry = Entry(_record(rid, raw, doc, chunks, source), raw, doc, chunks, cv, sv)
                entries.append(entry)
                known[entry.report.sha256] = entry.report
                added.append(entry.report)
            if len(entries) != len(self.entries):
                self._write(entries, progress=progress)
        return added

    def remove(self, rid: str) -> Report:
        self.check_writable()
        with self._locked():
            self._reload_if_changed()
            gone = self.entry(rid)
            self._write([e for e in self.entries if e is not gone], progress=False)
        return gone.report

    def rebuild(self, progress: bool = True) -> None:
        """Embed every report again (after a model change, or on request)."""
        with self._locked():
            self._reload_if_changed()
            self._write(self.entries, progress=progress, redo={e.report.id for e in self.entries})

    def _reload_if_changed(self) -> None:
        if self.changed() and self._generations():
            loaded = self._load_any()
            if loaded and loaded[2]:
                self._write(self.entries, progress=False, redo=set(loaded[2]))

    def _embed(self, doc: Document, chunks: list[Chunk], progress: bool) -> tuple[np.ndarray, np.ndarray]:
        log.info("Embedding %d chunks and %d sentences with %s", len(chunks), len(doc.sentences),
                 self.embedder.model_id)
        vectors = self.embedder.passages(embed_texts(doc, chunks), progress=progress)
        return vectors[:len(chunks)], vectors[len(chunks):]

    def _renumbered(self, entries: list[Entry], progress: bool, redo: set[str]) -> list[Entry]:
        """The entries with their chunks numbered through the library, embedded where needed."""
        first, out = 0, []
        for e in entries:
            chunks = chunk_document(e.doc, self.params, e.report.id, first)
            first += len(chunks)
            if e.chunk_vectors is None or e.report.id in redo:
                cv, sv = self._embed(e.doc, chunks, progress)
            else:
                cv, sv = e.chunk_vectors, e.sentence_vectors
            out.append(Entry(e.report, e.raw, e.doc, chunks, cv, sv))
        return out

    def _write(self, entries: list[Entry], progress: bool, redo: set[str] = frozenset()) -> None:
        """Write `entries` as a new generation and make it live (the caller holds the lock)."""
        renumbered = self._renumbered(entries, progress, redo)
        index = _assemble(renumbered) if renumbered else None
        gen = self._new_generation(renumbered, index)
        self.entries, self.index, self.generation = renumbered, index, gen.name
        self._drop_old_generations()

    def _new_generation(self, entries: list[Entry], index: Index | None) -> Path:
        gen = None
        try:
            gen = Path(tempfile.mkdtemp(prefix="gen-", dir=self.root))
            for e in entries:
                _keep_text(self.root, e.raw)
            files = _write_generation(gen, entries, index)
            manifest = dict(self._expected(), built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                            reports=[dict(e.report.to_dict(), chunks_sha256=chunks_sha256(e.chunks))
                                     for e in entries], files=files)
            # Written last: a generation without a manifest is never loaded.
            _write_file(gen / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            _point(self.root, gen.name)
        except (OSError, RuntimeError) as e:    # faiss reports a full disk as RuntimeError
            if gen is not None:
                shutil.rmtree(gen, ignore_errors=True)
            raise IndexStoreError(f"Cannot write the library in {self.root}: {e}") from None
        return gen

    def _drop_old_generations(self) -> None:
        live = self.live()
        gens = sorted(self.root.glob("gen-*"), key=lambda g: g.stat().st_mtime, reverse=True)
        previous = [g.name for g in gens if (g / "manifest.json").exists() and g.name != live]
        keep = {live, *previous[:KEEP_GENERATIONS - 1]}
        for g in gens:
            if g.name not in keep:
                shutil.rmtree(g, ignore_errors=True)
        wanted = {f"{e.report.sha256}.txt" for e in self.entries}
        for spare in (self.root / TEXTS).glob("*.txt"):
            if spare.name not in wanted:
                spare.unlink(missing_ok=True)


def _setup_change(manifest: dict, expected: dict) -> str:
    """Why vectors stored under `manifest` cannot be used now ("" when they can)."""
    changed = [k for k, v in expected.items() if manifest.get(k) != v]
    if "model_id" in changed:
        return f"built with the model {manifest.get('model_id')!r}, not {expected['model_id']!r}"
    if "format_version" in changed:
        return f"written in the older format {manifest.get('format_version')}"
    return f"built with other settings ({', '.join(changed)})" if changed else ""


def _sha(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _intact_text(path: Path, sha: str) -> bool:
    try:
        return _sha(path.read_text(encoding="utf-8")) == sha
    except (OSError, UnicodeDecodeError):
        return False


def _keep_text(root: Path, raw: str) -> None:
    """The second copy of a text, written once (atomically) and never changed."""
    spare = root / TEXTS / f"{_sha(raw)}.txt"
    if spare.exists():
        return
    spare.parent.mkdir(exist_ok=True)
    tmp = spare.with_suffix(".tmp")
    _write_file(tmp, raw)
    os.replace(tmp, spare)


def _intact(path: Path, digest: str) -> bool:
    try:
        return _sha256_file(path) == digest
    except OSError:
        return False


def _load_vectors(gen: Path, rid: str, n_chunks: int, n_sentences: int):
    """A report's vectors, as their files (checksummed already), read only when a new generation is
    written: the index serves them from dense.faiss and sentences.npy, and at 1,000 reports a second
    copy in memory would be 74 MiB of chunk and 249 MiB of sentence vectors."""
    out = []
    for kind, n in (("chunks", n_chunks), ("sentences", n_sentences)):
        path = gen / "reports" / f"{rid}.{kind}.npy"
        try:
            shape, dtype, _ = npy_layout(path)
        except (OSError, ValueError):
            return None
        if shape[0] != n or dtype != DTYPE:
            return None
        out.append(Stored(path, shape))
    return tuple(out)


def _layout(entries: list[Entry]) -> tuple[list[Chunk], list[Part], np.ndarray]:
    """All reports' chunks in order, each report's share of the rows, and each sentence's chunk."""
    chunks = [c for e in entries for c in e.chunks]
    parts = parts_of([(e.report.id, len(e.chunks), len(e.doc.sentences)) for e in entries])
    owners = np.concatenate([sentence_chunks(e.doc, e.chunks) for e in entries])
    return chunks, parts, owners


def _assemble(entries: list[Entry]) -> Index:
    chunks, parts, owners = _layout(entries)
    return Index.assemble(chunks, np.concatenate([np.asarray(e.chunk_vectors, dtype=np.float32) for e in entries]),
                          np.concatenate([np.asarray(e.sentence_vectors, dtype=DTYPE) for e in entries]),
                          owners, parts)


def _point(root: Path, name: str) -> None:
    """Make generation `name` live, in one atomic rename."""
    _write_file(root / "CURRENT.tmp", name + "\n")
    os.replace(root / "CURRENT.tmp", root / "CURRENT")


def _write_file(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _write_vectors(gen: Path, e: Entry) -> None:
    """A report's vectors as float16; from now on the entry reads them from this generation, which
    lives as long as the entry may be written again."""
    stored = []
    for kind, vectors in (("chunks", e.chunk_vectors), ("sentences", e.sentence_vectors)):
        path = gen / "reports" / f"{e.report.id}.{kind}.npy"
        save_vectors(path, vectors)
        stored.append(Stored(path, (len(vectors), e.chunk_vectors.shape[1])))
    e.chunk_vectors, e.sentence_vectors = stored


def _write_generation(gen: Path, entries: list[Entry], index: Index | None) -> dict[str, str]:
    """Every file of a generation; returns their checksums, relative to `gen`."""
    (gen / "reports").mkdir()
    for e in entries:
        rid = e.report.id
        (gen / "reports" / f"{rid}.txt").write_text(e.raw, encoding="utf-8")
        _write_vectors(gen, e)
    if index is not None:
        # Written, then served from the file: a large library holds no second copy in memory.
        save_vectors(gen / SENTENCES, index.sentence_vectors)
        index.sentence_vectors = open_vectors(gen / SENTENCES)
        faiss.write_index(index.dense, str(gen / "dense.faiss"))
        index.bm25.save(str(gen / "bm25"), show_progress=False)
        (gen / "glossary.json").write_text(json.dumps(index.glossary.to_json(), ensure_ascii=False),
                                           encoding="utf-8")
    return {str(p.relative_to(gen)): _sha256_file(p) for p in sorted(gen.rglob("*")) if p.is_file()}
