"""Reaching Milvus: a client for a Milvus Lite file or a server, and each way that fails said in one
line (the extra not installed, credentials in a URI or refused, a Lite file open in another process
or damaged, a server out of reach).  Apart from store/milvus.py, which reads and writes a library."""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path

from ..errors import IndexStoreError, StoreDamagedError, StoreInUseError

CONNECT_TIMEOUT = 5.0         # seconds; a server that is down fails fast


def redact(uri: str) -> str:
    """The URI without any user:password@ part, for messages and logs."""
    return re.sub(r"//[^/@]*@", "//", str(uri))


def one_line(e: BaseException) -> str:
    msg = getattr(e, "message", None) or getattr(e, "_message", None) or str(e) or type(e).__name__
    return re.sub(r"\s+", " ", str(msg)).strip()


def credentials() -> dict:
    """Credentials for a server, from the environment only."""
    if os.environ.get("MILVUS_TOKEN"):
        return {"token": os.environ["MILVUS_TOKEN"]}
    if os.environ.get("MILVUS_USER"):
        return {"user": os.environ["MILVUS_USER"], "password": os.environ.get("MILVUS_PASSWORD", "")}
    return {}


def connect(uri: str, timeout: float = CONNECT_TIMEOUT):
    """A MilvusClient for `uri`, or an IndexStoreError that says in one line why not."""
    try:
        from pymilvus import MilvusClient
        # pymilvus logs each failed call with its traceback; the IndexStoreError below says it in one line.
        logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
    except ImportError:
        raise IndexStoreError("A Milvus store needs the milvus extra: pip install -e \".[milvus]\"") from None
    uri = str(uri)
    if re.search(r"//[^/@]*:[^/@]*@", uri):
        raise IndexStoreError("Put Milvus credentials in MILVUS_TOKEN (or MILVUS_USER and MILVUS_PASSWORD), "
                              "not in the store's URI.")
    try:
        if uri.endswith(".db") and "://" not in uri:
            # Milvus Lite serves the file over gRPC inside this process; its server logs calls that
            # pymilvus makes and Lite does not implement (AllocTimestamp) as errors, harmlessly.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            # Milvus Lite logs a failed start with its traceback; the error below says it in one line.
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
            path = Path(uri).expanduser().resolve()
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                return MilvusClient(uri=str(path))
            except Exception as e:
                if lite_in_use(path):
                    raise StoreInUseError(
                        f"The Milvus Lite file {path} is open in another process: Milvus Lite serves one process "
                        "per file. Stop that process, or serve several from a Milvus server "
                        "(REPORT_QA_STORE=http://host:19530).") from None
                raise StoreDamagedError(f"Cannot open the Milvus Lite file {path} ({one_line(e)}): it may be "
                                        f"damaged; `python -m qa repair --store {path}` sets it aside and starts "
                                        "a new library, to which the report files are added again.") from None
        return MilvusClient(uri=uri, timeout=timeout, **credentials())
    except ImportError:
        raise IndexStoreError("A Milvus Lite file needs the milvus extra: pip install -e \".[milvus]\"") from None
    except IndexStoreError:
        raise
    except Exception as e:  # pymilvus raises MilvusException, grpc errors or OSError
        if refused := _refused(e):
            raise IndexStoreError(f"Milvus at {redact(uri)} refused the credentials in MILVUS_TOKEN (or "
                                  f"MILVUS_USER and MILVUS_PASSWORD): {refused}") from None
        raise IndexStoreError(f"Cannot reach Milvus at {redact(uri)}: {one_line(e)}") from None


def set_aside(path: Path) -> Path:
    """Move a damaged Milvus Lite file out of the way (kept, for whoever can salvage it)."""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, aside)
    return aside


def lite_in_use(path: Path) -> bool:
    """Another process holds the Milvus Lite file `path` (Milvus Lite locks its LOCK file while open)."""
    import fcntl
    from milvus_lite.db import LOCK_FILENAME
    try:
        fd = os.open(path / LOCK_FILENAME, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def _refused(e: BaseException) -> str | None:
    """The server's words when it refused the credentials: pymilvus reports that as failing to
    connect ("server unavailable"), with the gRPC status further down the exception's chain."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        code = getattr(e, "code", None)
        if callable(code) and getattr(code(), "name", "") in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
            return " ".join(str(e.details()).split()) if callable(getattr(e, "details", None)) else one_line(e)
        e = e.__cause__ or e.__context__
    return None
