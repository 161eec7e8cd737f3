"""The default model at run time: tokenizer + word-table rows + an onnxruntime session, texts to
unit vectors, without torch."""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..store.vectors import OnFile
from .cache import WORD_TABLE

ONNX_BATCH = 32
# Texts are batched up to this many tokens (padding included): on CPU, small batches of
# similar length are faster than 32 at a time (441 report texts: 6.4 s against 8.4 s).
ONNX_BATCH_TOKENS = 1024


def onnx_threads(default: int = 1) -> int:
    """Intra-op threads for an onnxruntime session: REPORT_QA_THREADS, else `default`."""
    env = os.environ.get("REPORT_QA_THREADS", "").strip()
    if not env:
        return default
    try:
        return max(1, int(env))
    except ValueError:
        raise ModelError(f"REPORT_QA_THREADS must be a whole number, not {env!r}.") from None


def cores() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:     # not on Linux
        return os.cpu_count() or 1


def onnxruntime_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("onnxruntime") is not None


@functools.lru_cache(maxsize=4)
def tokenizer(model_dir: Path):
    """The model's tokenizer, made once per process: it holds ~290 MiB (XLM-R's 250k pieces) and
    takes 0.6-0.75 s to read, so the fp32 and int8 encoders share one."""
    # The tokenizer's own thread pool would make every later fork (the model build's child, a
    # server's workers) print a warning and switch it off; texts are batched by us instead.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer
    return for_encoding(Tokenizer.from_file(str(model_dir / "tokenizer.json")), model_dir)


def for_encoding(tok, model_dir: Path):
    """A tokenizer set as the encoders use it: truncating to the model's max length, no padding."""
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    st_config = model_dir / "sentence_bert_config.json"
    max_len = (json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
               if st_config.exists() else None) or config.get("max_position_embeddings", 512)
    tok.enable_truncation(int(max_len))
    tok.no_padding()
    return tok


@functools.lru_cache(maxsize=4)
def word_table(path: Path) -> OnFile:
    """The float16 word-embedding table, opened once per process (every graph shares it) and read by
    rows with pread: memory-mapped, the pages questions touched counted in the process's resident
    size (~166 MiB after 267 questions, what kept 1,000 reports over 1 GiB; eval/bench.md)."""
    return OnFile(path)


class OnnxEncoder:
    """Tokenizer + word-table lookup + onnxruntime session: texts (prompts already prepended) to
    unit vectors.  `graph` is an ONNX file or its bytes; `table` defaults to the WORD_TABLE beside
    the file; `spin` lets idle threads spin instead of sleeping (faster on an idle machine, much
    slower on a busy one); `tok`, the model's tokenizer when the caller has it (for_encoding()),
    else it is read from the model's directory."""

    def __init__(self, graph: Path | bytes, model_dir: Path, threads: int | None = None,
                 batch_tokens: int | None = None, table: Path | None = None, spin: bool = False, tok=None):
        import onnxruntime as ort

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.pad_id = int(config.get("pad_token_id", 0))
        self.tokenizer = tok or tokenizer(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or onnx_threads()
        options.inter_op_num_threads = 1
        # Threads that wait by spinning steal the core from whatever else runs (embedder.QUERY_THREADS).
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spin)))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        source = graph if isinstance(graph, bytes) else str(graph)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.table = word_table(Path(table or Path(graph).parent / WORD_TABLE))
        self.dim = int(config["hidden_size"])
        self.batch_tokens = batch_tokens or ONNX_BATCH_TOKENS

    def _feed(self, encodings) -> dict:
        n = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), n), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), n), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        embeds = self.table.rows(ids.ravel()).reshape(ids.shape[0], ids.shape[1], -1)
        return {"inputs_embeds": embeds, "attention_mask": mask}

    def batches(self, texts: list[str], batch_size: int = ONNX_BATCH) -> tuple[list, list[list[int]]]:
        """The texts' encodings and their batches (lists of indices), longest first, each up to
        `batch_size` texts and the token budget, so that little is padding."""
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        batches, i = [], 0
        while i < len(order):
            longest = len(encodings[order[i]].ids)
            size = max(1, min(batch_size, self.batch_tokens // max(longest, 1)))
            batches.append(order[i:i + size])
            i += size
        return encodings, batches

    def run(self, encodings, outputs: list[str] | None = None) -> list[np.ndarray]:
        """The session's outputs (all, or those named) for one batch of encodings."""
        return self.session.run(outputs, self._feed(encodings))

    def encode(self, texts: list[str], batch_size: int = ONNX_BATCH, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if len(texts) == 1:
            out[0] = self.run([self.tokenizer.encode(texts[0])])[0][0]
            return out
        encodings, batches = self.batches(texts, batch_size)
        if progress:
            from tqdm.auto import tqdm
            batches = tqdm(batches, desc="Embedding", unit="batch", file=sys.stderr)
        for idx in batches:
            out[idx] = self.run([encodings[i] for i in idx])[0]
        return out
