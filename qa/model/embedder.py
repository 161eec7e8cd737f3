"""Embed: texts to unit vectors, at run time (build.py makes what the default model needs, once).

The default model runs through an ONNX graph of the converted model with onnxruntime and the
`tokenizers` library, without importing torch: a query embeds in about half torch's time, and a
process that answers from a cached index never pays torch's ~5 s import.  The word-embedding table
is not in the graph: it is stored beside it as float16 (cache.WORD_TABLE), read by rows (pread) and
cast to float32; the vectors agree with the fp32 torch path to a cosine of 0.999999.  Every other
sentence-transformers name or path, and the default model when onnxruntime is missing or
REPORT_QA_BACKEND=torch, goes through sentence-transformers (torch).  Nothing is ever downloaded.

Questions are embedded by a second ONNX graph: the same model in int8 (int8.py), which embeds a
question in ~0.46x the fp32 time at a cosine of >= 0.9997 to the fp32 vector.  That alone moved the
top chunk of 0.8 % of the 614 gold questions, so ranked() redoes a question in fp32 whenever its
int8 ranking is a close call at rank 1 or 3 (~25 % of questions): with that, every answer equals
fp32's.  Passages -- whose vectors are stored in the index -- always take the fp32 graph, so the
index and the model id are unchanged.  On by default; REPORT_QA_QUERY_INT8=0 (or
Embedder(query_int8=False)) embeds questions in fp32 only.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .cache import (DEFAULT_MODEL, ONNX_FILE, QUERY_INT8_FILE, WORD_TABLE, default_model_dir, default_model_id,
                    describe, onnx_dir, query_int8_dir)
from .build import default_weights, prepare_default
from .encoder import OnnxEncoder, cores, onnx_threads, onnxruntime_available

log = logging.getLogger(__name__)

BACKENDS = ("auto", "onnx", "torch")
# Threads (REPORT_QA_THREADS overrides both).  The fp32 graph embeds passages in batches and
# redoes close-call questions: it uses every core, its threads sleeping while they wait.  On
# 2 cores, the bundled report's 441 texts: 3.5 s against 6.6 s on one thread; with another process
# busy, 6.2 s, where spinning threads took 8.5 s.  One fp32 question: 5.8 ms against 7.9 ms, and
# 7.8 against 8.6 ms with another process busy.  The int8 query graph embeds one short question,
# where a second sleeping thread costs more to wake than it saves (4.1 ms against 2.9 ms) and a
# spinning one doubled the time whenever another process was busy.
QUERY_THREADS = 1


def load_sentence_transformer(path_or_name: str):
    """A sentence-transformers model from a local directory or the Hugging Face cache, offline."""
    # Before the hub's library is first imported (it reads these once): never reach the network.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as hf_logging
    hf_logging.disable_progress_bar()      # a per-tensor bar on every start is noise
    try:
        return SentenceTransformer(str(path_or_name), device="cpu", local_files_only=True)
    except Exception as e:  # the library raises many kinds; all mean "cannot load"
        raise ModelError(f"Cannot load the embedding model {path_or_name!r} without internet: "
                         f"give a local sentence-transformers directory or a model already in the "
                         f"Hugging Face cache ({type(e).__name__}: {str(e)[:200]})") from None


def _backend_choice(backend: str | None) -> str:
    choice = (backend or os.environ.get("REPORT_QA_BACKEND") or "auto").strip().lower()
    if choice not in BACKENDS:
        raise ModelError(f"Unknown embedding backend {choice!r}: choose one of {', '.join(BACKENDS)}.")
    return choice


def query_int8_wanted(flag: bool | None = None) -> bool:
    """Embed questions with the int8 graph: `flag`, else REPORT_QA_QUERY_INT8 (default on).

    On by default since ranked() checks close calls in fp32: with v4, the answer equals fp32's on
    all 614 gold and 80 fresh questions, and so is the top chunk (eval/bench.md, Agreement).
    v2, without the check, had lowered English hit@3 (0.868 against 0.881) and answers (0.843
    against 0.849)."""
    if flag is not None:
        return bool(flag)
    env = os.environ.get("REPORT_QA_QUERY_INT8", "").strip().lower()
    if env in ("", "1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    raise ModelError(f"REPORT_QA_QUERY_INT8 must be 1 or 0, not {env!r}.")


def _default_onnx(model_dir: Path, required: bool, export_error: str | None) -> "OnnxEncoder | None":
    """The ONNX encoder for the default model; None (torch is used) if it cannot be had and
    was not asked for by name."""
    try:
        if not onnxruntime_available():
            raise ModelError("The ONNX backend needs onnxruntime: pip install onnxruntime")
        if export_error:
            raise ModelError(export_error)
        if not (onnx_dir() / ONNX_FILE).exists():
            raise ModelError("The model's ONNX graph was not made.")
        return OnnxEncoder(onnx_dir() / ONNX_FILE, model_dir, threads=onnx_threads(cores()))
    except Exception as e:  # the graph is missing or will not load: the torch path gives the same vectors
        if required:
            raise e if isinstance(e, ModelError) else ModelError(
                f"Cannot use the ONNX backend ({type(e).__name__}: {str(e)[:200]})") from None
        if onnxruntime_available():
            log.warning("The ONNX backend is unavailable (%s); using torch.", describe(e))
        return None


def _query_int8(model_dir: Path, error: str | None) -> "OnnxEncoder | None":
    """The int8 query encoder; None (questions go through fp32) if it cannot be had."""
    try:
        if error:
            raise ModelError(error)
        return OnnxEncoder(query_int8_dir() / QUERY_INT8_FILE, model_dir,
                           threads=onnx_threads(QUERY_THREADS), table=onnx_dir() / WORD_TABLE)
    except Exception as e:  # fp32 gives the reference vectors; only speed is lost
        log.warning("The int8 query graph is unavailable (%s); questions use fp32.", describe(e))
        return None


# ranked(): the int8 ranking is redone in fp32 when the fused scores of ranks 1 and 2, or of ranks 3
# and 4, are closer than this.  Over the 614 gold questions (11 reports, each asked of its own), the
# int8 vector moved the gap between two such neighbours by 0.005 at the median, 0.024 at the 99th
# percentile, 0.044 at most; int8 alone changed the top chunk of 0.8 % and the top three of 4.7 %.
# Fallback rate / top-1 or top-3 changes left (of 614): 0.01: 11.7 % / 5;  0.02: 18.7 % / 0;
# 0.03: 24.6 % / 0  <- kept, with room above the 99th percentile.  Fitted with the v3 graph; with v4:
# 0.02: 18.9 % / 4;  0.03: 26.1 % / 1 (same answer);  0.04: 31.3 % / 0.  With the graph written
# without torch (onnxruntime fuses its attention residuals too): 0.03: 25.4 % / 0.  Held out, on the
# 80 fresh questions (reports nothing was fitted on): 22.5 % redone, the same top chunk and answer on all 80.
RANK_MARGIN = 0.03
# Ranks whose order ranked() checks: 1 (the answer's passage) and 3 (the top three).
CHECKED_RANKS = 4


def close_call(results: list) -> bool:
    """Whether a ranking's first two, or its third and fourth, are within RANK_MARGIN."""
    scores = [r.score for r in results[:CHECKED_RANKS]]
    return any(a - b < RANK_MARGIN for a, b in zip(scores[::2], scores[1::2]))


class Embedder:
    """An embedding model with its query and passage prompts.

    backend: "auto" (default, or REPORT_QA_BACKEND): onnxruntime for the default model when
    it is installed, else torch; "onnx": the default model through onnxruntime or an error;
    "torch": sentence-transformers.  Other models always go through sentence-transformers.
    query_int8 (default, or REPORT_QA_QUERY_INT8; on): with the ONNX backend, questions go
    through the int8 query graph (query(); ranked() checks close calls in fp32); passages
    always go through fp32.
    """

    def __init__(self, model: str | None = None, backend: str | None = None, query_int8: bool | None = None):
        choice = _backend_choice(backend)
        self._st = None
        self.onnx: OnnxEncoder | None = None
        self._query_onnx: OnnxEncoder | None = None
        self._int8_build = None        # the int8 graph still being made: loaded on the first question
        self._int8_lock = threading.Lock()
        self.default = model in (None, "", DEFAULT_MODEL)
        if self.default:
            self.model_id = default_model_id()
            wants_onnx = choice != "torch" and onnxruntime_available()
            int8 = wants_onnx and query_int8_wanted(query_int8)
            build = prepare_default(onnx=wants_onnx, int8=int8)
            self.path = default_model_dir()
            if choice != "torch":
                self.onnx = _default_onnx(self.path, choice == "onnx", build.first.get("onnx_error"))
            if self.onnx is not None and int8:
                self._int8_build = build
            else:
                build.finish()
        else:
            if choice == "onnx":
                raise ModelError("The ONNX backend serves the default model only; "
                                 "other models go through sentence-transformers (backend 'torch').")
            self.model_id = model
            self.path, self._st = model, load_sentence_transformer(model)
        self.backend = "onnx" if self.onnx is not None else "torch"
        if self.onnx is not None:
            self.prompts = _prompts(Path(self.path))
            self.dim = self.onnx.dim
        else:
            self.prompts = dict(getattr(self.st, "prompts", {}) or {})
            dim = getattr(self.st, "get_embedding_dimension", None) or self.st.get_sentence_embedding_dimension
            self.dim = int(dim())
        self.query_prompt = "query" if "query" in self.prompts else None
        self.passage_prompt = next((p for p in ("passage", "document") if p in self.prompts), None)
        self._query = functools.lru_cache(maxsize=2048)(self._encode_query)

    @property
    def query_onnx(self) -> OnnxEncoder | None:
        """The int8 query graph's encoder, or None (questions go through fp32); on a first start,
        waited for and loaded when the first question comes."""
        if self._int8_build is not None:
            with self._int8_lock:
                if self._int8_build is not None:
                    self._query_onnx = _query_int8(self.path, self._int8_build.finish().get("int8_error"))
                    self._int8_build = None
        return self._query_onnx

    @property
    def query_backend(self) -> str:
        """How questions are embedded: "onnx-int8", "onnx" (fp32) or "torch"."""
        return "onnx-int8" if self.query_onnx is not None else self.backend

    @property
    def st(self):
        """The sentence-transformers model (loaded on first use when the ONNX backend serves)."""
        if self._st is None:
            if self.default:
                default_weights()          # written the first time the torch path is taken
            self._st = load_sentence_transformer(self.path)
        return self._st

    def _encode(self, texts: list[str], prompt: str | None, progress: bool = False,
                batch_size: int = 32) -> np.ndarray:
        if self.onnx is not None:
            prefix = self.prompts.get(prompt, "") if prompt else ""
            return self.onnx.encode([prefix + t for t in texts], batch_size, progress)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.st.encode(texts, prompt_name=prompt, normalize_embeddings=True,
                              convert_to_numpy=True, batch_size=batch_size,
                              show_progress_bar=progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def _encode_questions(self, texts: list[str], exact: bool = False) -> np.ndarray:
        if self.query_onnx is None or exact:
            return self._encode(texts, self.query_prompt)
        prefix = self.prompts.get(self.query_prompt, "") if self.query_prompt else ""
        # One at a time: the int8 graph quantises activations per tensor, so a question batched
        # with others (and their padding) would get a slightly different vector (cosine 0.9998).
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            out[i] = self.query_onnx.encode([prefix + t])[0]
        return out

    def _encode_query(self, text: str, exact: bool = False) -> np.ndarray:
        vec = self._encode_questions([text], exact)[0]
        vec.setflags(write=False)
        return vec

    def query(self, text: str) -> np.ndarray:
        """A question's vector, through the int8 query graph when it is on (see ranked())."""
        return self._query(text, False)

    def query_exact(self, text: str) -> np.ndarray:
        """A question's vector through the fp32 graph, whatever query() uses."""
        return self._query(text, True) if self.query_onnx is not None else self._query(text, False)

    def ranked(self, text: str, rank) -> tuple[np.ndarray, list]:
        """`rank(qvec)` -> results best first, each with a `.score`; returns (qvec, results).

        With the int8 query graph, the question is ranked with its int8 vector first, and again
        with its fp32 vector when the int8 ranking is too close to call at rank 1 or rank 3
        (RANK_MARGIN): so what is shown first and the top three are what fp32 gives (every top chunk
        and answer of the 694 gold and fresh questions; eval/bench.md)."""
        qvec = self.query(text)
        results = rank(qvec)
        if self.query_onnx is not None and close_call(results):
            qvec = self.query_exact(text)
            results = rank(qvec)
        return qvec, results

    def clear_cache(self) -> None:
        """Forget cached query vectors (benchmarks measure the uncached path)."""
        self._query.cache_clear()

    def queries(self, texts: list[str]) -> np.ndarray:
        return self._encode_questions(list(texts))

    def passages(self, texts: list[str], progress: bool = False) -> np.ndarray:
        return self._encode(list(texts), self.passage_prompt, progress=progress)


def _prompts(model_dir: Path) -> dict:
    """The prompts in a sentence-transformers directory's config, as SentenceTransformer reads them."""
    path = model_dir / "config_sentence_transformers.json"
    if not path.exists():
        return {}
    return dict(json.loads(path.read_text(encoding="utf-8")).get("prompts") or {})
