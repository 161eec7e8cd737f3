"""FaissLibrary: a library of reports in a directory, searched with FAISS and bm25s (store/index.py).

A library directory holds generations and a CURRENT file naming the live one:

    CURRENT                  "gen-…"
    LOCK                     writers take it in turn (fcntl); readers never wait
    gen-…/manifest.json      format, model, chunking, the reports, a sha256 for every file below
    gen-…/reports/ID.txt     a report's text as read from its file: the source of truth
    gen-…/reports/ID.chunks.npy, ID.sentences.npy      its vectors (float16)
    gen-…/dense.faiss, bm25/, glossary.json, sentences.npy   assembled over all reports
    texts/SHA.txt            a second copy of every text, named by its checksum
    originals/SHA.pdf        the file each report was added from (.pdf, .docx, .txt), named by its checksum
    changes.jsonl            the change log: one JSON line per report added or removed, appended only

A write (add, remove, rebuild) embeds outside the lock, then under it re-reads
the live generation, writes a new one beside it and swaps CURRENT in one atomic
rename, so two writers both land and a crash leaves the old library usable.
Everything but the texts is derived: a file whose checksum fails, or vectors made
by another model, chunking or parser, are made again from the texts on open.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError, LibraryBusyError
from ..ingest.chunks import ChunkingParams, chunks_sha256, renumbered, sentence_chunks
from ..ingest.document import text_sha256
from ..ingest.pipeline import Entry, embed, reopen
from .catalog import Change
from ..schema import Chunk
from .base import Library, Part, parts_of
from .index import Index
from .vectors import DTYPE, Stored, npy_layout, save_vectors

log = logging.getLogger(__name__)

# Bump whenever what is derived and stored changes (vectors, glossary rules, sentence map, layout).
FORMAT_VERSION = 7
# The previous generation is kept after a swap: a reader that read CURRENT just before it may still
# be loading it.  Older ones, and any a crash left half-written, go at the next write.
KEEP_GENERATIONS = 2
# How long a writer waits for another writer's lock before it gives up (REPORT_QA_LOCK_WAIT, seconds).
# An add or remove holds it 1-3 s (the write itself: embedding is done before); a rebuild embeds every
# report under it, ~3.5 min for the 33 reports here; 5 min lets that finish.
LOCK_WAIT = 300.0
LOCK_POLL = 0.2           # seconds between tries while waiting
# Every report's text is also kept once, outside the generations, named by its sha256: the second
# copy that a damaged text is restored from.
TEXTS = "texts"
# The files reports were added from, named by their checksum, so the page can show a PDF's page.
ORIGINALS = "originals"
CHANGES = "changes.jsonl"
# Less free space than this after a failed write means the disk filled: a library of 11 reports takes
# 13 MB on disk (README, Scaling out), and a failed write has freed what it had written.
FULL_DISK_BYTES = 32 << 20


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FaissLibrary(Library):
    def __init__(self, root: str | Path, embedder, params: ChunkingParams = ChunkingParams()):
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

    def address(self) -> dict:
        return {"library": str(self.root.resolve()), "store": "faiss"}

    def changed(self) -> bool:
        """Another process has written a new generation since this one was loaded."""
        return self.live() != self.generation

    def open(self, seeds: list[Path] = (), progress: bool = True) -> "FaissLibrary":
        """Load the live generation; repair what is damaged or stale from the stored texts; a library
        never written before starts with `seeds`."""
        if self.root.exists() and not self.root.is_dir():
            raise IndexStoreError(f"{self.root} is a file, not a library directory: give --library a directory "
                                  "(a new one starts empty).")
        self._check_not_newer()
        self._sweep()
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

    def _sweep(self) -> None:
        """Remove what writes that were killed left behind (generations without a manifest, half-written
        copies), when no writer is at work: it would be writing one of them."""
        if not (self.root / "LOCK").exists():
            return
        try:
            with open(self.root / "LOCK", "a+") as handle:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                try:
                    live = self.live()
                    for g in self.root.glob("gen-*"):
                        if g.name != live and not (g / "manifest.json").exists():
                            shutil.rmtree(g, ignore_errors=True)
                    for tmp in [*self.root.glob(f"{TEXTS}/*.tmp"), *self.root.glob(f"{ORIGINALS}/*.tmp")]:
                        tmp.unlink(missing_ok=True)
                finally:
                    fcntl.flock(handle, fcntl.LOCK_UN)
        except OSError:          # a writer holds the lock, or the library is read-only: leave it be
            pass

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
            entry = reopen(raw, rec, self.params, first_chunk)
            chunks, doc = entry.chunks, entry.doc
            first_chunk += len(chunks)
            if rid in stale:
                pass
            elif setup:
                stale[rid] = setup
            elif rec.get("chunks_sha256") not in (chunks_sha256(chunks), chunks_sha256(chunks, relative=False)):
                # (the second: libraries written before the checksum ignored where a report's chunks start)
                stale[rid] = "the parser or chunker has changed"
            elif {f"reports/{rid}.chunks.npy", f"reports/{rid}.sentences.npy"} & bad:
                stale[rid] = "its vectors are damaged"
            else:
                vectors = _load_vectors(gen, rid, len(chunks), len(doc.sentences))
                if vectors is None:
                    stale[rid] = "its vectors do not fit its text"
                else:
                    entry.chunk_vectors, entry.sentence_vectors = vectors
            entries.append(entry)
        self.entries, self.generation, self.index = entries, name, None
        if not stale and bad - {f for f in files if f.startswith("reports/")}:
            stale["*"] = "the combined index is damaged"
        if not stale and entries:       # an empty library is a library, with nothing to search
            chunks, parts, owners = _layout(entries)
            self.index = Index.load(gen, chunks, owners, parts)
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

    # -- writing ---------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self):
        """One writer at a time.  A writer that finds the lock taken says which process holds it (each
        holder writes its pid and command into the lock file) and gives up after LOCK_WAIT seconds."""
        handle = self._lock_file()
        with handle:
            _acquire(handle, self.root, lock_wait())
            try:
                handle.truncate(0)
                handle.write(json.dumps({"pid": os.getpid(), "command": " ".join(sys.argv)[:300]}))
                handle.flush()
                yield
            finally:
                handle.truncate(0)
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _lock_file(self):
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            return open(self.root / "LOCK", "a+", encoding="utf-8")
        except OSError as e:
            raise IndexStoreError(f"Cannot write the library in {self.root}: {e.strerror or e}.") from None

    def check(self) -> None:
        """The lock file can be opened for writing, so an unwritable library fails at once (before any
        embedding); the lock itself is taken only for the write."""
        self._lock_file().close()

    @contextlib.contextmanager
    def write_lock(self):
        with self._locked():
            self._reload_if_changed()
            yield

    def commit(self, entries: list[Entry], added: list[Entry], removed: list[Entry], progress: bool) -> None:
        self._write(entries, progress=progress)

    def append_log(self, changes: list[Change]) -> None:
        lines = "".join(json.dumps(c.to_dict(), ensure_ascii=False) + "\n" for c in changes)
        try:
            with open(self.root / CHANGES, "a", encoding="utf-8") as f:
                f.write(lines)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise IndexStoreError(f"The change was made, but the change log in {self.root} could not be "
                                  f"written: {_cause(e, self.root)}") from None

    def log(self) -> list[Change]:
        try:
            lines = (self.root / CHANGES).read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        except (OSError, UnicodeDecodeError) as e:
            raise IndexStoreError(f"Cannot read the change log in {self.root}: {e}") from None
        out = []
        for n, line in enumerate(lines, 1):
            try:
                out.append(Change(**json.loads(line)))
            except (ValueError, TypeError):      # a line a crash cut short
                log.warning("Line %d of %s is damaged; it is left out.", n, self.root / CHANGES)
        return out

    def original_of(self, rid: str) -> Path | None:
        """The report's file as it was added, when it is kept and intact (its name is its checksum)."""
        name = self.entry(rid).original
        path = self.root / ORIGINALS / name
        if not name or not _intact(path, name.split(".")[0]):
            return None
        return path

    def rebuild(self, progress: bool = True) -> None:
        with self.write_lock():
            self._write(self.entries, progress=progress, redo={e.report.id for e in self.entries})

    def _reload_if_changed(self) -> None:
        if self.changed() and self._generations():
            loaded = self._load_any()
            if loaded and loaded[2]:
                self._write(self.entries, progress=False, redo=set(loaded[2]))

    def _renumbered(self, entries: list[Entry], progress: bool, redo: set[str]) -> list[Entry]:
        """The entries with their chunks numbered through the library, embedded where needed."""
        first, out = 0, []
        for e in entries:
            chunks = renumbered(e.chunks, first)
            first += len(chunks)
            if e.chunk_vectors is None or e.report.id in redo:
                cv, sv = embed(self.embedder, e.doc, chunks, progress)
            else:
                cv, sv = e.chunk_vectors, e.sentence_vectors
            out.append(replace(e, chunks=chunks, chunk_vectors=cv, sentence_vectors=sv))
        return out

    def _write(self, entries: list[Entry], progress: bool, redo: set[str] = frozenset()) -> None:
        """Write `entries` as a new generation and make it live (the caller holds the lock)."""
        numbered = self._renumbered(entries, progress, redo)
        index = _assemble(numbered) if numbered else None
        gen = self._new_generation(numbered, index)
        self.entries, self.index, self.generation = numbered, index, gen.name
        self._drop_old_generations()

    def _new_generation(self, entries: list[Entry], index: Index | None) -> Path:
        gen = None
        try:
            gen = Path(tempfile.mkdtemp(prefix="gen-", dir=self.root))
            for e in entries:
                _keep_text(self.root, e.raw)
                if e.source is not None:
                    e.original = _keep_original(self.root, e.source) if e.source.data else ""
                    e.source = None           # its bytes are on disk now, not kept in memory
            files = _write_generation(gen, entries, index)
            manifest = dict(self._expected(), built_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
                            reports=[dict(e.report.to_dict(), chunks_sha256=chunks_sha256(e.chunks),
                                          original=e.original) for e in entries], files=files)
            # Written last: a generation without a manifest is never loaded.
            _write_file(gen / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1))
            _point(self.root, gen.name)
        except (OSError, RuntimeError) as e:    # faiss reports a full disk as RuntimeError
            if gen is not None:
                shutil.rmtree(gen, ignore_errors=True)
            raise IndexStoreError(f"Cannot write the library in {self.root}: {_cause(e, self.root)}") from None
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
        originals = {e.original for e in self.entries}
        for kept in (self.root / ORIGINALS).glob("*"):
            if kept.name not in originals:
                kept.unlink(missing_ok=True)


def _setup_change(manifest: dict, expected: dict) -> str:
    """Why vectors stored under `manifest` cannot be used now ("" when they can)."""
    changed = [k for k, v in expected.items() if manifest.get(k) != v]
    if "model_id" in changed:
        return f"built with the model {manifest.get('model_id')!r}, not {expected['model_id']!r}"
    if "format_version" in changed:
        return f"written in the older format {manifest.get('format_version')}"
    return f"built with other settings ({', '.join(changed)})" if changed else ""


def _intact_text(path: Path, sha: str) -> bool:
    try:
        return text_sha256(path.read_text(encoding="utf-8")) == sha
    except (OSError, UnicodeDecodeError):
        return False


def _keep_text(root: Path, raw: str) -> None:
    """The second copy of a text, written once (atomically) and never changed."""
    spare = root / TEXTS / f"{text_sha256(raw)}.txt"
    if spare.exists():
        return
    spare.parent.mkdir(exist_ok=True)
    tmp = spare.with_suffix(".tmp")
    _write_file(tmp, raw)
    os.replace(tmp, spare)


def lock_wait() -> float:
    try:
        return float(os.environ.get("REPORT_QA_LOCK_WAIT", LOCK_WAIT))
    except ValueError:
        return LOCK_WAIT


def _acquire(handle, root: Path, wait: float) -> None:
    """Take the lock on `handle`; while another process holds it, say once who, and give up after `wait` s."""
    deadline, said = time.monotonic() + wait, False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        holder = _holder(root)
        if not said:
            log.warning("Waiting for the library in %s: %s is changing it (giving up after %.0f s).",
                        root, holder, wait)
            said = True
        if time.monotonic() >= deadline:
            raise LibraryBusyError(f"The library in {root} is being changed by {holder} and has been for over "
                                   f"{wait:.0f} s; try again later (REPORT_QA_LOCK_WAIT sets how long to wait).")
        time.sleep(LOCK_POLL)


def _holder(root: Path) -> str:
    """"process 1234 (python -m qa add …)", as the lock's holder wrote it."""
    try:
        held = json.loads((root / "LOCK").read_text(encoding="utf-8"))
        return f"process {held['pid']} ({held['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"


def _cause(e: BaseException, root: Path) -> str:
    """Why a write failed, in words: a full disk said as such (faiss reports one as a RuntimeError that
    gives only byte counts, and OSError's own words are easy to miss among the paths)."""
    try:
        free = shutil.disk_usage(root).free
    except OSError:
        free = None
    if getattr(e, "errno", None) == errno.ENOSPC or (free is not None and free < FULL_DISK_BYTES):
        left = f" ({free / 2**20:.1f} MB free)" if free is not None else ""
        return f"the disk is full{left}; free some space and try again."
    return str(e)


def _keep_original(root: Path, source) -> str:
    """The file a report came from, kept once (atomically) under its checksum; returns its name."""
    name = source.original
    kept = root / ORIGINALS / name
    if not kept.exists():
        kept.parent.mkdir(exist_ok=True)
        tmp = kept.with_name(name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(source.data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, kept)
    return name


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
        index.save(gen)
    return {str(p.relative_to(gen)): _sha256_file(p) for p in sorted(gen.rglob("*")) if p.is_file()}
