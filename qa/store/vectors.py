"""Sentence vectors: stored as float16, in memory while small, read by rows from their file beyond.

Every sentence of every report has a vector, but a question reads only a few thousand of them: the
sentences of its candidate chunks and of the retriever's fixed sample.  At 1,000 reports they are
343,400 vectors, 498 MiB as float32 (eval/bench.md, scale), more than the rest of the index and the
model's share of a 1 GiB budget allows.  So they are stored as float16 (half the bytes on disk; a
cosine moves by at most ~1e-3, see tests/test_scale.py), kept in memory up to RESIDENT_MAX_BYTES and
otherwise read from the generation's file with pread when asked for.  Rows in memory are decoded to
float32 once: numpy converts float16 at ~4 ns a number, which made scoring every sentence of 100
reports 30 ms slower a question, and the bundled report's 340 rows 0.3 ms.

pread, not mmap: a mapped file that is truncated under a running process kills it with SIGBUS, and
pages touched through a mapping count in its resident size; a short read is an error that can be
raised, and pages read stay in the kernel's page cache, outside the process.  A generation is never
modified in place, and the open descriptor keeps a file readable after its generation is deleted.
"""
from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

import numpy as np

from ..errors import IndexStoreError

DTYPE = np.float16
# Libraries whose sentence vectors take up to this much on disk are read into memory whole (as float32,
# twice that): 64 MiB is ~87,000 sentences, ~250 reports of ~340 sentences, so every library small
# enough for the retriever to score every chunk (FULL_SCORING_MAX, 20,000 chunks, ~68,000 sentences)
# holds them in memory; the 33-report library's take 7 MiB.  Beyond it they are read by rows.
RESIDENT_MAX_BYTES = 64 << 20
# Rows read from the file are kept, as float32, up to this much: the retriever's sample (2,048 chunks,
# ~7,000 sentence rows, 10 MiB) is read by every question at scale and so stays in memory after the
# first; the rest fills with the candidates of the first questions.
CACHE_MAX_BYTES = 16 << 20


class SentenceVectors:
    """One row per sentence, report after report; `rows` returns float32 for the rows asked."""
    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def dtype(self):
        return np.dtype(DTYPE)

    @property
    def nbytes(self) -> int:
        """Bytes held in memory."""
        raise NotImplementedError

    def rows(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def __array__(self, dtype=None, copy=None):
        out = self.rows(np.arange(len(self)))
        return out if dtype is None else out.astype(dtype, copy=False)


class InMemory(SentenceVectors):
    """Float16 values (rounded as stored), decoded to float32 when first read: an index that is
    written and then served from its file (qa/store/faiss.py) never holds the float32 copy."""

    def __init__(self, vectors: np.ndarray):
        self.stored = np.ascontiguousarray(vectors, dtype=DTYPE)
        self.shape = self.stored.shape
        self._decoded: np.ndarray | None = None
        self._lock = threading.Lock()

    @property
    def data(self) -> np.ndarray:
        if self._decoded is None:
            with self._lock:
                if self._decoded is None:
                    self._decoded, self.stored = self.stored.astype(np.float32), None
        return self._decoded

    @property
    def nbytes(self) -> int:
        return (self.stored if self._decoded is None else self._decoded).nbytes

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return self.data[rows]

    def float16(self) -> np.ndarray:
        return self.stored if self._decoded is None else self._decoded.astype(DTYPE)


def npy_layout(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a .npy file, from its header alone."""
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
        if fortran:
            raise ValueError("a Fortran-ordered array")
        return shape, dtype, f.tell()


class OnFile(SentenceVectors):
    """Rows of a float16 .npy file, read with pread; rows once read are kept up to CACHE_MAX_BYTES.
    (The model's word-embedding table is read the same way: qa/model/encoder.py.)"""

    def __init__(self, path: Path, cache_max_bytes: int = CACHE_MAX_BYTES):
        shape, dtype, self.offset = npy_layout(path)
        if dtype != DTYPE or len(shape) != 2:
            raise ValueError(f"{path.name} holds {dtype} {shape}, not float16 rows")
        self.path, self.shape = path, shape
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        self.row_bytes = shape[1] * np.dtype(DTYPE).itemsize
        self.slot = np.full(shape[0], -1, dtype=np.int32)      # where a row sits in the cache, or -1
        self.cache = np.empty((cache_max_bytes // (4 * shape[1]), shape[1]), dtype=np.float32)
        self.cached = 0
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.cache.nbytes + self.slot.nbytes

    def rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        with self.lock:
            slots = self.slot[rows]
            hit = slots >= 0
            # One gather for all rows (a miss takes row 0 until it is read): copying the hits through a
            # mask cost 4.8 ms for the sample's 7,000 rows, the gather alone 0.9 ms.
            out = self.cache[np.where(hit, slots, 0)] if len(self.cache) else \
                np.empty((len(rows), self.shape[1]), dtype=np.float32)
            if not hit.all():
                wanted = np.unique(rows[~hit])
                fresh = self._read(wanted).astype(np.float32)
                out[~hit] = fresh[np.searchsorted(wanted, rows[~hit])]
                self._keep(wanted, fresh)
        return out

    def _read(self, wanted: np.ndarray) -> np.ndarray:
        """Sorted distinct rows, one pread per run of consecutive rows."""
        out = np.empty((len(wanted), self.shape[1]), dtype=DTYPE)
        view, size = memoryview(out).cast("B"), self.row_bytes
        breaks = np.flatnonzero(np.diff(wanted) != 1) + 1
        for a, b in zip([0, *breaks.tolist()], [*breaks.tolist(), len(wanted)]):
            n = os.preadv(self.fd, [view[a * size:b * size]], self.offset + int(wanted[a]) * size)
            if n != (b - a) * size:
                raise IndexStoreError(f"The sentence vectors in {self.path} are damaged (the file is shorter "
                                      "than its header says); open the library again to repair it.")
        return out

    def _keep(self, wanted: np.ndarray, fresh: np.ndarray) -> None:
        room = min(len(wanted), len(self.cache) - self.cached)
        if room > 0:
            self.cache[self.cached:self.cached + room] = fresh[:room]
            self.slot[wanted[:room]] = np.arange(self.cached, self.cached + room, dtype=np.int32)
            self.cached += room


def open_vectors(path: Path, resident_max_bytes: int | None = None) -> SentenceVectors:
    """A generation's sentence vectors: read into memory while small (so a damaged file cannot hurt a
    running process at all), else read from the file by rows."""
    shape, dtype, _ = npy_layout(path)
    limit = RESIDENT_MAX_BYTES if resident_max_bytes is None else resident_max_bytes
    if int(np.prod(shape)) * dtype.itemsize <= limit:
        return InMemory(np.load(path))
    return OnFile(path)


def save_vectors(path: Path, vectors) -> None:
    np.save(path, vectors.float16() if isinstance(vectors, InMemory) else np.ascontiguousarray(vectors, dtype=DTYPE))


class Stored:
    """A report's vectors in its file, read when they are needed (a new generation is written), so a
    library's reports do not hold every vector in memory as well as its index."""

    def __init__(self, path: Path, shape: tuple[int, ...]):
        self.path, self.shape = path, shape

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        try:
            out = np.load(self.path)
        except (OSError, ValueError) as e:
            raise IndexStoreError(f"The vectors in {self.path} are damaged ({e}).") from None
        if out.shape != self.shape:
            raise IndexStoreError(f"The vectors in {self.path} are damaged (shape {out.shape}).")
        return out if dtype is None else out.astype(dtype, copy=False)
