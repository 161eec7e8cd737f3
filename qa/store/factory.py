"""The one place a store is picked: `library(store, ...)` gives the write-side Library it names.

Each backend is imported only when it is picked, so a Milvus deployment never imports FAISS or
bm25s, and a FAISS one never imports pymilvus.
"""
from __future__ import annotations

import re
from pathlib import Path

from ..errors import IndexStoreError
from ..ingest.chunks import ChunkingParams
from .base import Library

FAISS = "faiss"
# A Milvus Lite file (`*.db`) or a server's address.
MILVUS_URI = re.compile(r"^(https?|tcp|grpc|unix)://|\.db$")
# In a Milvus store a library is a name (its collections' prefix), as Milvus spells collection names.
LIBRARY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def is_milvus_uri(uri) -> bool:
    """A Milvus Lite file (`*.db`) or a server address (`http(s)://`, `tcp://`, `grpc://`, `unix://`)."""
    return bool(uri) and bool(MILVUS_URI.search(str(uri)))


def library(store: str | None, embedder, root: Path | None = None, name: str | None = None,
            params: ChunkingParams = ChunkingParams()) -> Library:
    """The library `store` names, not opened yet: FAISS (None or "faiss") in the directory `root`;
    Milvus (a `.db` file or a server's URI) under the collection prefix `name`."""
    if not store or store == FAISS:
        from .faiss import FaissLibrary
        return FaissLibrary(root, embedder, params)
    from .milvus import MilvusLibrary
    from .milvus_client import redact
    if not is_milvus_uri(store):
        raise IndexStoreError(f"Unknown store {redact(str(store))!r}: give a Milvus Lite file ending in .db, "
                              "a Milvus server's http://host:19530, or faiss (the default).")
    if name is not None and not LIBRARY_NAME.fullmatch(str(name)):
        # A directory given out of habit would otherwise turn silently into a collection name.
        raise IndexStoreError(f"With a Milvus store, --library names the library inside Milvus (letters, digits "
                              f"and _, such as report_qa), not a directory: {str(name)!r}.")
    return MilvusLibrary(str(store), embedder, params, name=name or "report_qa")
