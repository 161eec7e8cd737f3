"""Sentence vectors: held as float16, in memory while small, read by rows from their file beyond.

Every sentence of every report has a vector, but a question reads only a few thousand of them: the
sentences of its candidate chunks and of the retriever's fixed sample.  At 1,000 reports they are
343,400 vectors, 498 MiB as float32 (eval/bench.md, scale), more than the rest of the index and the
model's share of a 1 GiB budget allows.  So they are stored as float16 (half the bytes; a cosine moves
by at most ~1e-3, see tests/test_scale.py), kept in memory up to RESIDENT_MAX_BYTES and otherwise
read from the generation's file with pread when asked for.

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
# Libraries whose sentence vectors take up to this much are read into memory whole: 64 MiB is ~87,000
# sentences, ~250 reports of ~340 sentences (the 33-report library holds 7 MiB).  Beyond it they are
# read from the file by rows.
RESIDENT_MAX_BYTES = 64 << 20
# Rows read from the file are kept up to this much: the retriever's sample (2,048 chunks, ~7,000
# sentence rows, 5 MiB at 384-d) is read by every question at scale and so stays in memory after the
# first; the rest fills with the candidates of the first questions.
CACHE_MAX_BYTES = 32 << 20


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
    def __init__(self, vectors: np.ndarray):
        self.data = np.ascontiguousarray(vectors, dtype=DTYPE)
        self.shape = self.data.shape

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return self.data[rows].astype(np.float32)


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
    """Rows of a float16 .npy file, read with pread; rows once read are kept up to CACHE_MAX_BYTES."""

    def __init__(self, path: Path, cache_max_bytes: int = CACHE_MAX_BYTES):
        shape, dtype, self.offset = npy_layout(path)
        if dtype != DTYPE or len(shape) != 2:
            raise ValueError(f"{path.name} holds {dtype} {shape}, not float16 rows")
        self.path, self.shape = path, shape
        self.fd = os.open(path, os.O_RDONLY)
        weakref.finalize(self, os.close, self.fd)
        self.row_bytes = shape[1] * np.dtype(DTYPE).itemsize
        self.slot = np.full(shape[0], -1, dtype=np.int32)      # where a row sits in the cache, or -1
        self.cache = np.empty((cache_max_bytes // self.row_bytes, shape[1]), dtype=DTYPE)
        self.cached = 0
        self.lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self.cache.nbytes + self.slot.nbytes

    def rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.shape[1]), dtype=np.float32)
        with self.lock:
            slots = self.slot[rows]
            hit = slots >= 0
            out[hit] = self.cache[slots[hit]]
            if not hit.all():
                wanted = np.unique(rows[~hit])
                fresh = self._read(wanted)
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


def open_vectors(path: Path, resident_max_bytes: int = RESIDENT_MAX_BYTES) -> SentenceVectors:
    """A generation's sentence vectors: read into memory while small (so a damaged file cannot hurt a
    running process at all), else read from the file by rows."""
    shape, dtype, _ = npy_layout(path)
    if int(np.prod(shape)) * dtype.itemsize <= resident_max_bytes:
        return InMemory(np.load(path))
    return OnFile(path)


def save_vectors(path: Path, vectors) -> None:
    np.save(path, vectors.data if isinstance(vectors, InMemory) else np.ascontiguousarray(vectors, dtype=DTYPE))


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
