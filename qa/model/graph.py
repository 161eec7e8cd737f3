"""The default model as one ONNX graph, written from its weights: BERT, mean pooling, normalisation.

The graph is the model's arithmetic written out node by node, in the order and with the operators
that torch's exporter gave it (so onnxruntime fuses it the same way: LayerNormalization, the erf
GELU, attention as MatMul / Mul / Add / Softmax); it is made from the dequantized weights alone,
without torch, which took ~10 s to import, trace and check and ~1.5 GB while it did.  Inputs are the
token vectors (`inputs_embeds`: the word-embedding table stays outside the graph, read by rows) and
the attention mask; the output is the unit sentence vector.
"""
from __future__ import annotations

import numpy as np

OPSET = 17                     # LayerNormalization is an operator from opset 17
OUTPUT = "sentence_embedding"


class _Graph:
    """Nodes and initializers being collected, each node named after its output."""

    def __init__(self):
        from onnx import helper, numpy_helper
        self.helper, self.numpy_helper = helper, numpy_helper
        self.nodes, self.initializers = [], []

    def const(self, name: str, value) -> str:
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name

    def linear(self, x: str, sd: dict, prefix: str) -> str:
        """x @ W.T + b, as MatMul with the transposed weight then Add (what the int8 build looks for:
        a MatMul whose second input is a [in, out] initializer)."""
        w = self.const(f"{prefix}.weight_t", np.ascontiguousarray(sd[f"{prefix}.weight"].T))
        b = self.const(f"{prefix}.bias", sd[f"{prefix}.bias"])
        return self.op("Add", [b, self.op("MatMul", [x, w], f"{prefix}/MatMul")], f"{prefix}/Add")

    def layer_norm(self, x: str, sd: dict, prefix: str, eps: float) -> str:
        return self.op("LayerNormalization", [x, self.const(f"{prefix}.weight", sd[f"{prefix}.weight"]),
                                              self.const(f"{prefix}.bias", sd[f"{prefix}.bias"])],
                       f"{prefix}/LayerNormalization", axis=-1, epsilon=eps)


def bert_graph(config: dict, sd: dict):
    """The ONNX model for a BertModel state dict `sd` (numpy float32, Hugging Face names) and its
    config.json values: embeddings from `inputs_embeds`, the encoder, mean pooling over the mask,
    L2 normalisation."""
    from onnx import TensorProto, helper
    g = _Graph()
    hidden, heads = int(config["hidden_size"]), int(config["num_attention_heads"])
    eps = float(config["layer_norm_eps"])
    one_i64 = g.const("one_i64", np.array(1, np.int64))

    # Embeddings: token vectors + token type 0 + positions 0..T-1, then LayerNorm.
    tokens = g.op("Gather", [g.op("Shape", ["inputs_embeds"], "embeddings/Shape"), one_i64],
                  "embeddings/tokens", axis=0)
    positions = g.op("Range", [g.const("zero_i64", np.array(0, np.int64)), tokens, one_i64], "embeddings/positions")
    x = g.op("Add", ["inputs_embeds", g.const("embeddings.token_type_0",
                                               sd["embeddings.token_type_embeddings.weight"][0])], "embeddings/Add")
    x = g.op("Add", [x, g.op("Gather", [g.const("embeddings.position_embeddings.weight",
                                                sd["embeddings.position_embeddings.weight"]), positions],
                             "embeddings/position_embeddings")], "embeddings/Add_1")
    x = g.layer_norm(x, sd, "embeddings.LayerNorm", eps)

    # The additive attention mask: 0 where a token is, the float32 minimum on padding, [B, 1, 1, T].
    mask = g.op("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    blocked = g.op("Sub", [g.const("one_f32", np.array(1, np.float32)), mask], "mask/blocked")
    additive = g.op("Mul", [blocked, g.const("float_min", np.array(np.finfo(np.float32).min, np.float32))],
                    "mask/additive")
    additive = g.op("Unsqueeze", [additive, g.const("axes_1_2", np.array([1, 2], np.int64))], "mask/additive4")

    for layer in range(int(config["num_hidden_layers"])):
        x = _layer(g, x, sd, f"encoder.layer.{layer}", hidden, heads, eps, additive)

    # Mean pooling over the real tokens, then unit length (what sentence-transformers' Pooling and
    # Normalize modules compute).
    weights = g.op("Unsqueeze", [mask, g.const("axes_last", np.array([-1], np.int64))], "pool/mask")
    axis_1 = g.const("axes_tokens", np.array([1], np.int64))
    summed = g.op("ReduceSum", [g.op("Mul", [x, weights], "pool/masked"), axis_1], "pool/sum", keepdims=0)
    count = g.op("Clip", [g.op("ReduceSum", [weights, axis_1], "pool/count", keepdims=0),
                          g.const("count_min", np.array(1e-9, np.float32))], "pool/count_clipped")
    mean = g.op("Div", [summed, count], "pool/mean")
    norm = g.op("Clip", [g.op("ReduceL2", [mean], "pool/norm", axes=[1], keepdims=1),
                         g.const("norm_min", np.array(1e-12, np.float32))], "pool/norm_clipped")
    g.op("Div", [mean, norm], OUTPUT)

    inputs = [helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", hidden]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"])]
    outputs = [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["batch", hidden])]
    graph = helper.make_graph(g.nodes, "multilingual-e5-small", inputs, outputs, g.initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="report-qa")
    model.ir_version = 8
    return model


def _layer(g: _Graph, x: str, sd: dict, p: str, hidden: int, heads: int, eps: float, additive: str) -> str:
    """One encoder layer: self-attention, then the feed-forward block, each with its residual and
    LayerNorm (post-norm, as BERT)."""
    size = hidden // heads
    split = g.const(f"{p}/split_shape", np.array([0, 0, heads, size], np.int64))     # [B, T, heads, size]

    def heads_of(name: str, perm: list[int]) -> str:
        projected = g.linear(x, sd, f"{p}.attention.self.{name}")
        return g.op("Transpose", [g.op("Reshape", [projected, split], f"{p}/{name}/Reshape")],
                    f"{p}/{name}/Transpose", perm=perm)

    q = heads_of("query", [0, 2, 1, 3])                  # [B, heads, T, size]
    k = heads_of("key", [0, 2, 3, 1])                    # [B, heads, size, T]
    v = heads_of("value", [0, 2, 1, 3])
    scores = g.op("Mul", [g.op("MatMul", [q, k], f"{p}/scores"),
                          g.const(f"{p}/scale", np.array(1 / np.sqrt(size), np.float32))], f"{p}/scaled")
    probs = g.op("Softmax", [g.op("Add", [scores, additive], f"{p}/masked")], f"{p}/probs", axis=-1)
    context = g.op("Transpose", [g.op("MatMul", [probs, v], f"{p}/context")], f"{p}/context/Transpose",
                   perm=[0, 2, 1, 3])
    context = g.op("Reshape", [context, g.const(f"{p}/merge_shape", np.array([0, 0, hidden], np.int64))],
                   f"{p}/context/Reshape")
    attended = g.op("Add", [g.linear(context, sd, f"{p}.attention.output.dense"), x], f"{p}/attention/residual")
    x = g.layer_norm(attended, sd, f"{p}.attention.output.LayerNorm", eps)

    inner = g.linear(x, sd, f"{p}.intermediate.dense")
    # GELU with erf, spelled as torch exports it (x * (1 + erf(x / sqrt 2)) * 0.5), which
    # onnxruntime fuses into one Gelu.
    erf = g.op("Erf", [g.op("Div", [inner, g.const(f"{p}/sqrt2", np.array(np.sqrt(2), np.float32))],
                            f"{p}/gelu/Div")], f"{p}/gelu/Erf")
    gelu = g.op("Mul", [g.op("Mul", [inner, g.op("Add", [erf, g.const(f"{p}/one", np.array(1, np.float32))],
                                                 f"{p}/gelu/Add")], f"{p}/gelu/Mul"),
                        g.const(f"{p}/half", np.array(0.5, np.float32))], f"{p}/gelu/Mul_1")
    out = g.op("Add", [g.linear(gelu, sd, f"{p}.output.dense"), x], f"{p}/output/residual")
    return g.layer_norm(out, sd, f"{p}.output.LayerNorm", eps)
