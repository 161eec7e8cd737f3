"""The int8 query graph: the fp32 export with its weights in int8, made once and checked against fp32.

Every MatMul with a constant weight runs in int8, in two ways:
- most run as onnxruntime's quantize_dynamic makes them: weights int8 per output channel,
  activations uint8 per tensor, MatMulInteger on the CPU's int8 dot-product units.  Before that,
  SmoothQuant (Xiao et al. 2023) multiplies each weight row j by s_j and divides its input channel by
  it, s_j = max|X_j|^a / max|W_j|^(1-a), so the few input channels with outliers (LayerNorm outputs)
  no longer set the scale of a whole tensor; max|X_j| is read once from the fp32 graph on the
  bundled report (calibration_texts);
- the FFN outputs, whose GELU inputs have outliers smoothing does not tame, run as MatMulNBits:
  weights in int8 blocks of 32, activations quantised per block of 32 (accuracy_level 4).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .cache import (ONNX_FILE, QUERY_INT8_FILE, QUERY_INT8_VERSION, WORD_TABLE, build_once, default_model_id,
                    onnx_dir, query_int8_dir)
from .encoder import OnnxEncoder

# Measured against fp32 queries: 300 gold questions, one thread, interleaved, idle machine (query
# cosine min, p50 vs fp32); then over all 614 gold questions, each asked of its own report, how
# many top chunks the int8 vector alone moved and the RANK_MARGIN that leaves none moved:
#   v2: quantize_dynamic, FFN outputs fp32                0.99853  0.58-0.60x
#   v3: MatMulNBits everywhere                            0.99986  0.53-0.57x   5 moved, margin 0.03
#       quantize_dynamic everywhere, not smoothed         0.99539  0.31-0.39x
#       the same, smoothed, a = 0.8                       0.99877  0.34-0.41x   9 moved, margin 0.08
#                                                                               (half the questions redone)
#   v4: smoothed dynamic, FFN outputs MatMulNBits         0.99972  0.46x        5 moved, 1 left at 0.03  <- kept
#       the same from the graph written without torch     0.9997   0.63x*       6 moved, 0 left at 0.03
#       (* of a faster fp32 graph: 4.24 ms against 6.70, where v4 took 4.07 against 9.20)
#       smoothing a = 0.5 / 0.9 / 0.95: cosine 0.99612 / 0.99844 / 0.99831 (all dynamic)
#       4 bits (MatMulNBits)                              0.99321  0.56x
# ORT's BERT fusions (Attention, SkipLayerNormalization, BiasGelu) changed nothing beyond noise on
# fp32 and v3; fused into MultiHeadAttention before smoothing, v4 took 3.41 ms against 3.19.
QUERY_INT8_BLOCK = 32
SMOOTH_ALPHA = 0.8
# Every CALIBRATION_STRIDE-th paragraph of the bundled report, as passage and as query, calibrates
# the smoothing.  The texts go through the fp32 graph in batches, with each tensor's channel peaks
# taken inside the graph over the real tokens only: the same peaks as one text at a time, in
# 1.5 s where passing every activation out took 9-11 s (busy 2-core machine).
CALIBRATION_STRIDE = 4
CALIBRATION_REPORT = Path(__file__).resolve().parents[1] / "data" / "henan-2024-government-work-report.txt"
# Lowest cosine of an int8 question vector to its fp32 one, checked once when the graph is made:
# v4 measured 0.99972 at the lowest over 300 gold questions, 0.99979 on the check's texts.  An
# onnxruntime whose quantizer misbehaves, or without 8-bit MatMulNBits, fails this check or the
# load, and questions stay fp32.
QUERY_INT8_MIN_AGREEMENT = 0.999


def quantize_query_graph(model_dir: Path, check_texts: list[str], steps=None, tok=None) -> Path:
    """The int8 query graph, quantised from the fp32 export and checked against it on first use
    (`tok`: the model's tokenizer, if the caller has it; OnnxEncoder)."""
    fp32 = onnx_dir() / ONNX_FILE
    stage = steps or (lambda name: None)

    def make(tmp: Path) -> None:
        stage("quantising the query graph")
        _quantize(fp32, tmp / QUERY_INT8_FILE, model_dir, tok)
        stage("checking it")
        texts = ["query: " + t for t in check_texts]
        ref = OnnxEncoder(fp32, model_dir, tok=tok).encode(texts)
        fast = OnnxEncoder(tmp / QUERY_INT8_FILE, model_dir, table=fp32.parent / WORD_TABLE, tok=tok)
        cosine = float((np.stack([fast.encode([t])[0] for t in texts]) * ref).sum(axis=1).min())
        if cosine < QUERY_INT8_MIN_AGREEMENT:
            raise ModelError(f"The int8 query graph disagrees with fp32 (cosine {cosine:.4f}).")
        (tmp / "quantize.json").write_text(json.dumps(
            {"model_id": default_model_id(), "version": QUERY_INT8_VERSION,
             "min_cosine_vs_fp32": round(cosine, 6)}, indent=2) + "\n", encoding="utf-8")
    return build_once(query_int8_dir(), QUERY_INT8_FILE, make)


def _quantize(src: Path, out: Path, model_dir: Path, tok=None) -> None:
    """The fp32 graph in int8: smoothed MatMulInteger everywhere but the FFN outputs, which take
    int8 blocks (the module's docstring)."""
    import onnx
    wide = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["intermediate_size"]
    model = onnx.load(str(src))
    weights = {i.name: i for i in model.graph.initializer}
    matmuls = [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    blocked = {n.name for n in matmuls if weights[n.input[1]].dims[0] == wide}
    dynamic = [n for n in matmuls if n.name not in blocked]
    peaks = input_peaks(model, model_dir, src.parent / WORD_TABLE, sorted({n.input[0] for n in dynamic}), tok)
    _smooth(model, dynamic, weights, peaks)
    # Shapes inferred before quantising, as onnxruntime's quantizer does: with them its optimizer
    # fuses the int8 graph as it fused the graph v4 was measured with (without, the vectors move by
    # up to 1.3e-4 in cosine).
    _infer_shapes(model)
    _dynamic_quantize(model, {n.name for n in dynamic})
    _block_quantize(model, blocked)
    onnx.save(model, str(out))


def _infer_shapes(model) -> None:
    """The graph's intermediate shapes and types (value_info), inferred in place: on a copy whose
    weights carry their shapes but not their data, which inference does not read (a full copy would
    hold the 86 MB of weights twice)."""
    import onnx
    light = onnx.ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.graph.node.extend(model.graph.node)
    light.graph.input.extend(model.graph.input)
    light.graph.output.extend(model.graph.output)
    light.graph.initializer.extend(onnx.TensorProto(name=i.name, data_type=i.data_type, dims=i.dims)
                                   for i in model.graph.initializer)
    model.graph.value_info.extend(onnx.shape_inference.infer_shapes(light).graph.value_info)


def _dynamic_quantize(model, names: set[str]) -> None:
    """The MatMuls `names` become what onnxruntime's quantize_dynamic (per channel, int8 weights)
    makes of them, node for node and byte for byte: each input quantised at run time
    (DynamicQuantizeLinear, uint8 per tensor), the weight int8 per output channel, MatMulInteger,
    and the int32 result scaled back.  Written here because the quantizer does each of the 36,864
    channels in a Python loop: 2.5 s of a first start, against ~0.1 s for whole matrices."""
    from onnx import TensorProto, helper, numpy_helper
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    quantized = set()                  # inputs already quantised (Q, K and V share theirs)
    nodes = []
    for node in graph.node:
        if node.name not in names:
            nodes.append(node)
            continue
        x, w = node.input[0], weights[node.input[1]]
        if x not in quantized:
            quantized.add(x)
            nodes.append(helper.make_node("DynamicQuantizeLinear", [x], [f"{x}_quantized", f"{x}_scale", f"{x}_zero_point"],
                                          name=f"{x}_QuantizeLinear"))
        q, scale = _int8_channels(numpy_helper.to_array(w))
        graph.initializer.extend([numpy_helper.from_array(q, f"{w.name}_quantized"),
                                  numpy_helper.from_array(scale, f"{w.name}_scale"),
                                  numpy_helper.from_array(np.zeros(len(scale), np.int8), f"{w.name}_zero_point")])
        n = node.name
        nodes += [
            helper.make_node("Mul", [f"{x}_scale", f"{w.name}_scale"], [f"{n}_quant_scales_mul:0"],
                             name=f"{n}_quant_scales_mul"),
            helper.make_node("MatMulInteger", [f"{x}_quantized", f"{w.name}_quantized", f"{x}_zero_point",
                                               f"{w.name}_zero_point"], [f"{node.output[0]}_quantized"], name=f"{n}_quant"),
            helper.make_node("Cast", [f"{node.output[0]}_quantized"], [f"{node.output[0]}_quantized_cast_output"],
                             name=f"{node.output[0]}_quantized_cast", to=TensorProto.FLOAT),
            helper.make_node("Mul", [f"{node.output[0]}_quantized_cast_output", f"{n}_quant_scales_mul:0"],
                             [node.output[0]], name=f"{n}_quant_output_scale_mul")]
    _replace_nodes(graph, nodes)


def _replace_nodes(graph, nodes: list) -> None:
    """The graph's nodes become `nodes`; initializers no node reads any more are dropped."""
    del graph.node[:]
    graph.node.extend(nodes)
    used = {name for n in graph.node for name in n.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)


def _int8_channels(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A [K, N] weight in symmetric int8 per output column, as onnxruntime's quantizer computes it:
    the scale is the column's largest magnitude over 127 (worked in float64, stored as float32), the
    values rounded half to even after dividing in float32 and clipped to int8."""
    weight = weight.astype(np.float32)
    peak = np.maximum(np.abs(np.minimum(weight.min(axis=0), 0)), np.abs(np.maximum(weight.max(axis=0), 0)))
    scale = (2 * peak.astype(np.float64) / 254).astype(np.float32)
    scale = np.where(scale < np.finfo(np.float32).tiny, np.float32(1), scale)   # an all-zero column
    q = np.clip(np.round(weight / scale), -128, 127)
    return q.astype(np.int8), scale


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
    _replace_nodes(graph, nodes)
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


def input_peaks(model, model_dir: Path, table: Path, names: list[str], tok=None) -> dict[str, np.ndarray]:
    """Largest magnitude of each channel of the [batch, tokens, channels] tensors `names` of the
    fp32 graph `model` (left unchanged), over calibration_texts(): padding is masked out, so texts
    are run in batches and give what they give one at a time."""
    from onnx import TensorProto, helper, numpy_helper
    # The probe's nodes are added to the graph for as long as it is serialised (a copy of the whole
    # graph would hold its 86 MB of weights twice), then taken off again.
    graph, kept = model.graph, (len(model.graph.node), len(model.graph.initializer), len(model.graph.output))
    graph.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "peaks/last"))
    graph.node.extend([helper.make_node("Cast", ["attention_mask"], ["peaks/maskf"], to=TensorProto.FLOAT),
                       helper.make_node("Unsqueeze", ["peaks/maskf", "peaks/last"], ["peaks/mask"])])
    outputs = [f"{name}/peak" for name in names]
    for name, out in zip(names, outputs):
        graph.node.extend([helper.make_node("Mul", [name, "peaks/mask"], [f"{name}/real"]),
                           helper.make_node("Abs", [f"{name}/real"], [f"{name}/abs"]),
                           helper.make_node("ReduceMax", [f"{name}/abs"], [out], axes=[0, 1], keepdims=0)])
        graph.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
    probe = model.SerializeToString()
    for field, n in zip((graph.node, graph.initializer, graph.output), kept):
        del field[n:]
    encoder = OnnxEncoder(probe, model_dir, table=table, tok=tok)
    del probe
    peaks = {name: 0.0 for name in names}
    encodings, batches = encoder.batches(calibration_texts())
    for idx in batches:
        for name, peak in zip(names, encoder.run([encodings[i] for i in idx], outputs)):
            peaks[name] = np.maximum(peaks[name], peak)
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
