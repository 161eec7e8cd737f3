#!/usr/bin/env python3
"""Where the time goes, against the strongest peers, and how cost grows with the corpus.

    python -m eval.bench                  # everything; writes eval/bench.md, eval/bench.json, eval/bench_scale.png
    python -m eval.bench --runs 3 --sizes 10,100 --no-peers      # quicker
    python -m eval.bench --only warm,agreement --out /tmp/b      # some sections only
    python -m eval.bench --only scale     # re-measure the scale table, keep the other sections
    python -m eval.bench --render         # rewrite bench.md and the plot from bench.json (raw figures)

Everything is measured through the product's public API: ReportQA.load/ask/search/add, Embedder,
OnnxEncoder, Retriever(index, embedder, full_scoring_max=..., candidates=...) and
Index.assemble(..., flat_max=...).  The int8 query graph (on by default; Embedder.ranked redoes a
close call in fp32) is switched by its public switch, REPORT_QA_QUERY_INT8 (read when
ReportQA.load makes its Embedder) or Embedder(query_int8=...).

Every figure is the median of several runs with its spread (min-max over runs), measured on this
machine with its core count and load average printed beside it; other processes share the machine,
so comparisons (int8 vs fp32, ours vs the peers) are ratios measured in the same run, interleaved.

Sections:
  warm       warm ask() on the bundled report, the default (int8 queries, close calls redone in
             fp32) and fp32 queries only, interleaved; and the stages of the default run
             (embedder.query, retriever.retrieve, the fp32 redo of close calls, extractor.answer).
  paths      query-embedding latency by path (int8, fp32; 1 and 2 threads, sleeping or spinning;
             alone and with another process busy; torch).
  agreement  the default against fp32 queries on all gold questions of the 11-report library:
             query cosine, same top-1 chunk, same five passages, same answer; how often a close
             call is redone in fp32, and what int8 alone would have changed.
  agreement_fresh  the same on the fresh questions (eval/fresh/): reports nothing, RANK_MARGIN
             included, was fitted on.
  first      `python app.py` from empty caches to `Ready:` (model preparation and the bundled report
             indexed), and a later start with everything cached; peak memory (eval/bench_first.py).
  cold       a fresh process to its first answer, library and model cached (subprocess).
  memory     peak RSS of a process that loads and answers every bundled gold question (subprocess).
  ingest     ReportQA.add of the bundled report into an empty library, and passages/s by batch size,
             threads and spinning, alone and with another process busy.
  scale      synthetic corpora of N reports built by Index.assemble and searched by Retriever.
  peers      the gold questions through Haystack (default BM25, and BM25 fed jieba words), a plain
             FAISS + bm25s reciprocal-rank fusion on our chunks, and ours: latency, hit@1/3 per language.

A run of some sections only (--only, --no-scale, --no-peers) replaces those sections in an
existing bench.json and keeps the others.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.bench_first import child_first, first_start, md_first
from eval.bench_scale import child_scale, md_scale, plot_scale, scale
from eval.gold import FRESH_LIBRARY, contains_gold, fresh_gold, load_all_gold, load_gold, open_library
from eval.timing import (WARMUP, busy_core, child, cpu_model, environ, fmt, interleaved, latencies, loadavg, ms,
                         peak_rss_mib, rss_mib, say, spread, summarise_runs, version)

HERE = Path(__file__).resolve().parent

SECTIONS = ("warm", "paths", "agreement", "agreement_fresh", "first", "cold", "memory", "ingest", "scale", "peers")
INT8_ENV = "REPORT_QA_QUERY_INT8"


def load_qa(int8: bool, **kwargs):
    """ReportQA.load with the int8 query graph switched on or off."""
    from qa import ReportQA
    with environ(**{INT8_ENV: int(int8)}):
        return ReportQA.load(progress=False, **kwargs)


# --------------------------------------------------------------------------
# 1. warm ask(): int8 query graph against fp32, and the stages
# --------------------------------------------------------------------------
DEFAULT, FP32 = "int8 queries, fp32 on close calls (default)", "fp32 queries (REPORT_QA_QUERY_INT8=0)"


def warm_ask(gold: list[dict], runs: int) -> dict:
    qas = {DEFAULT: load_qa(True), FP32: load_qa(False)}
    assert qas[DEFAULT].embedder.query_backend == "onnx-int8", "the int8 graph is unavailable"
    questions = [g["question"] for g in gold]
    variants = {name: qa.ask for name, qa in qas.items()}
    out = {"ask": interleaved(variants, questions, runs, before=lambda n: qas[n].embedder.clear_cache()),
           "stages": stages(qas[DEFAULT], questions, runs), "n_questions": len(questions)}
    out["p50_ratio_int8_vs_fp32"] = out["ask"][DEFAULT]["p50"]["median"] / out["ask"][FP32]["p50"]["median"]
    out["redone"] = redone_share(qas[DEFAULT], [(q, None) for q in questions])
    return out


def redone_share(qa, asked: list[tuple[str, str | None]]) -> float:
    """The share of questions whose int8 ranking is a close call, redone in fp32 by ask()."""
    from qa.model.embedder import CHECKED_RANKS, close_call
    r, n = qa.reader(), 0
    for text, report in asked:
        q = qa.question(text)
        scope = {report} if report else None
        n += close_call(r.retriever.retrieve(q, k=CHECKED_RANKS, qvec=qa.embedder.query(q.text), reports=scope))
    return n / len(asked)


def stages(qa, questions: list[str], runs: int) -> dict:
    """ask()'s steps called in turn through the public pieces, query cache cleared: the int8 query,
    retrieval, the fp32 query and retrieval again when that ranking is a close call (0 otherwise)."""
    from qa.model.embedder import close_call
    names = ("embed", "retrieve", "redo", "extract")
    per_run = {s: [] for s in names}
    for _ in range(runs):
        qa.embedder.clear_cache()
        t = {s: [] for s in names}
        for text in questions:
            q = qa.question(text)
            t0 = time.perf_counter(); qvec = qa.embedder.query(q.text); t["embed"].append(ms(t0))
            t0 = time.perf_counter(); passages = qa.retriever.retrieve(q, k=5, qvec=qvec); t["retrieve"].append(ms(t0))
            t0 = time.perf_counter()
            if close_call(passages):
                qvec = qa.embedder.query_exact(q.text)
                passages = qa.retriever.retrieve(q, k=5, qvec=qvec)
            t["redo"].append(ms(t0))
            t0 = time.perf_counter(); qa.extractor.answer(q, qvec, passages); t["extract"].append(ms(t0))
        for s in names:
            per_run[s].append(t[s])
    return summarise_runs(per_run)


BUSY = ", another process busy"


def embed_paths(gold: list[dict], runs: int, torch: bool = True) -> dict:
    """Query-embedding latency, the same questions through each path, interleaved run by run."""
    from qa.model.cache import ONNX_FILE, QUERY_INT8_FILE, WORD_TABLE, default_model_dir, onnx_dir, query_int8_dir
    from qa.model.embedder import Embedder
    from qa.model.encoder import OnnxEncoder
    emb = Embedder(query_int8=False)
    prefix = emb.prompts.get("query", "")
    graphs = {"int8": query_int8_dir() / QUERY_INT8_FILE, "fp32": onnx_dir() / ONNX_FILE}
    paths = {}
    for threads, spin, busy in ((1, False, False), (2, False, False), (2, True, False),
                                (1, False, True), (2, False, True), (2, True, True)):
        for name, path in graphs.items():
            enc = OnnxEncoder(path, default_model_dir(), threads=threads, table=onnx_dir() / WORD_TABLE, spin=spin)
            label = f"onnx {name}, {threads} thread{'s' if threads > 1 else ''}"
            label += (", spinning" if spin else ", sleeping") * (threads > 1) + BUSY * busy
            paths[label] = lambda q, enc=enc: enc.encode([prefix + q])
    if torch:
        torch_emb = Embedder(backend="torch")
        paths["torch fp32 (sentence-transformers)"] = lambda q: torch_emb.st.encode(
            [q], prompt_name="query", normalize_embeddings=True)
    out = interleaved(paths, [g["question"] for g in gold], runs, around=lambda name: busy_core(BUSY in name))
    base = out["onnx fp32, 1 thread"]["p50"]["median"]
    for r in out.values():
        r["p50_vs_fp32_1thread"] = r["p50"]["median"] / base
    return out


# --------------------------------------------------------------------------
# 2. agreement of the int8 query graph with fp32, through ask() on every gold question
# --------------------------------------------------------------------------
def agreement(gold: list[dict], library: Path | None = None) -> dict:
    reports = list(dict.fromkeys(g["report"] for g in gold))
    where = {"root": library} if library else {}
    with environ(**{INT8_ENV: 1}):
        fast = open_library(reports, **where)
    with environ(**{INT8_ENV: 0}):
        ref = open_library(reports, **where)
    assert fast.embedder.query_backend == "onnx-int8" and ref.embedder.query_backend == "onnx"
    questions = [g["question"] for g in gold]
    cos = (fast.embedder.queries(questions) * ref.embedder.queries(questions)).sum(axis=1)
    rows = [compare_answers(fast, ref, g) for g in gold]
    n = len(rows)
    out = {"n": n, "reports": len(reports), "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
           "differ": [r for r in rows if not (r["same_top1"] and r["same_answer"])],
           "redone": redone_share(fast, [(g["question"], g["report"]) for g in gold]),
           **int8_alone(fast, ref, gold)}
    for key in ("same_top1", "same_top5", "same_answer", "same_found", "right_fast", "right_ref"):
        out[key] = sum(r[key] for r in rows) / n
    return out


def int8_alone(fast, ref, gold: list[dict]) -> dict:
    """What the int8 vector alone, without the fp32 redo, does to the top chunk and the top three."""
    same1 = same3 = 0
    for g in gold:
        q, scope = fast.question(g["question"]), {g["report"]}
        a, b = (qa.reader().retriever.retrieve(q, k=3, qvec=qa.embedder.query(q.text), reports=scope)
                for qa in (fast, ref))
        ids = [[p.chunk.chunk_id for p in x] for x in (a, b)]
        same1 += ids[0][:1] == ids[1][:1]
        same3 += set(ids[0]) == set(ids[1])
    return {"int8_alone_same_top1": same1 / len(gold), "int8_alone_same_top3": same3 / len(gold)}


def compare_answers(fast, ref, g: dict) -> dict:
    a, b = (qa.ask(g["question"], report=g["report"]) for qa in (fast, ref))
    ids = [[p.chunk.chunk_id for p in x.passages] for x in (a, b)]
    right = [(x.found and contains_gold(x.text, g["answers"])) if g["answers"] else not x.found for x in (a, b)]
    return {"id": g.get("id"), "report": g["report"], "question": g["question"],
            "same_top1": ids[0][:1] == ids[1][:1], "same_top5": ids[0] == ids[1],
            "same_answer": a.text == b.text and a.found == b.found, "same_found": a.found == b.found,
            "right_fast": right[0], "right_ref": right[1],
            "int8": [a.found, a.text[:80]], "fp32": [b.found, b.text[:80]]}


# --------------------------------------------------------------------------
# 3. cold start, memory (children)
# --------------------------------------------------------------------------
def child_cold() -> dict:
    t_start = time.time()
    t0 = time.perf_counter()
    from qa import ReportQA
    t_import = time.perf_counter() - t0
    t0 = time.perf_counter()
    qa = ReportQA.load(progress=False)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    ans = qa.ask("技术合同成交额增长了多少？")
    t_ask = time.perf_counter() - t0
    return {"t_start": t_start, "t_answer": time.time(), "import_qa_s": t_import, "load_s": t_load,
            "first_ask_s": t_ask, "answer": ans.text, "torch_imported": "torch" in sys.modules,
            "query_backend": qa.embedder.query_backend}


def child_memory() -> dict:
    from qa import ReportQA
    qa = ReportQA.load(progress=False)
    after_load = rss_mib()
    for g in load_gold():
        qa.ask(g["question"])
    return {"rss_after_load_mib": after_load, "rss_after_answers_mib": rss_mib(),
            "peak_rss_mib": peak_rss_mib(), "query_backend": qa.embedder.query_backend,
            "torch_imported": "torch" in sys.modules}


VARIANTS = {DEFAULT: {INT8_ENV: "1"}, FP32: {INT8_ENV: "0"}}


def cold_start(runs: int) -> dict:
    out = {}
    for label, env in VARIANTS.items():
        rows = []
        for _ in range(runs):
            r = child("cold", env=env)
            r["to_first_answer_s"] = r["t_answer"] - r["spawn_time"]
            r["interpreter_s"] = r["t_start"] - r["spawn_time"]
            rows.append(r)
        out[label] = {k: spread([r[k] for r in rows]) for k in
                      ("to_first_answer_s", "interpreter_s", "import_qa_s", "load_s", "first_ask_s")}
        out[label]["torch_imported"] = rows[0]["torch_imported"]
    return out


def memory(runs: int) -> dict:
    out = {}
    for label, env in VARIANTS.items():
        rows = [child("memory", env=env) for _ in range(runs)]
        out[label] = {k: spread([r[k] for r in rows]) for k in
                      ("rss_after_load_mib", "rss_after_answers_mib", "peak_rss_mib")}
        out[label]["torch_imported"] = rows[0]["torch_imported"]
    return out


# --------------------------------------------------------------------------
# 4. ingest: a report added to an empty library, and passages/s by batch size
# --------------------------------------------------------------------------
def ingest(runs: int) -> dict:
    """ReportQA.add of the bundled report into an empty library, model loaded (target <= 2 s per
    ~20,000 characters)."""
    from qa import ReportQA
    from qa.engine import BUNDLED_REPORT
    chars = len(BUNDLED_REPORT.read_text(encoding="utf-8"))
    texts = [t.removeprefix("passage: ") for t in report_texts()]
    rows, embed = [], []
    for _ in range(runs):
        tmp = tempfile.mkdtemp(prefix="bench-ingest-")
        try:
            qa = ReportQA.load(library=tmp, progress=False)
            t0 = time.perf_counter()
            report = qa.add(BUNDLED_REPORT, progress=False)
            rows.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            qa.embedder.passages(texts)       # what the add embedded, alone: the rest is indexing
            embed.append(time.perf_counter() - t0)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    add = spread(rows)
    return {"chars": chars, "chunks": report.chunks, "sentences": report.sentences, "add_s": add,
            "s_per_20k_chars": spread([r * 20000 / chars for r in rows]), "embed_s": spread(embed),
            "rest_s": spread([a - e for a, e in zip(rows, embed)]), "batches": batch_sizes(runs)}


def report_texts() -> list[str]:
    """What an add embeds for the bundled report, prompt prepended."""
    from qa.engine import BUNDLED_REPORT
    from qa.ingest.chunks import ChunkingParams, chunk_document, embed_texts
    from qa.ingest.document import read_report
    doc = read_report(BUNDLED_REPORT)
    return ["passage: " + t for t in embed_texts(doc, chunk_document(doc, ChunkingParams(), "henan-2024", 0))]


BATCH_TOKENS = (256, 512, 1024)


# (batch tokens, threads, threads spin while they wait, another process busy on one core)
BATCH_VARIANTS = [(b, t, False, False) for t in (1, 2) for b in BATCH_TOKENS] + [
    (1024, 2, True, False), (1024, 1, False, True), (1024, 2, False, True), (1024, 2, True, True)]


def batch_sizes(runs: int) -> dict:
    """Passages/s of the fp32 graph by batch budget (tokens per batch, padding included), threads,
    spinning, and with another process busy, texts sorted by length; cosine to one text at a time."""
    from qa.model.cache import ONNX_FILE, default_model_dir, onnx_dir
    from qa.model.encoder import OnnxEncoder
    texts = report_texts()
    encoders = {key: OnnxEncoder(onnx_dir() / ONNX_FILE, default_model_dir(), threads=key[1], batch_tokens=key[0],
                                 spin=key[2]) for key in BATCH_VARIANTS}
    single = OnnxEncoder(onnx_dir() / ONNX_FILE, default_model_dir(), threads=1)
    ref = np.stack([single.encode([t])[0] for t in texts[::5]])
    times = {key: [] for key in encoders}
    for _ in range(runs):
        for key, enc in encoders.items():
            with busy_core(key[3]):
                t0 = time.perf_counter()
                enc.encode(texts)
                times[key].append(time.perf_counter() - t0)
    cos = {key: float((enc.encode(texts[::5]) * ref).sum(axis=1).min()) for key, enc in encoders.items()}
    return {"texts": len(texts), "rows": [
        {"batch_tokens": b, "threads": t, "spin": spin, "busy": busy, "seconds": spread(times[key]),
         "texts_per_s": len(texts) / statistics.median(times[key]), "min_cos_vs_single": cos[key]}
        for key in encoders for b, t, spin, busy in [key]]}


# --------------------------------------------------------------------------
# 6. peers: Haystack (default and jieba-fed BM25), plain FAISS + bm25s RRF, and ours
# --------------------------------------------------------------------------
RRF_K = 60          # reciprocal-rank fusion's usual constant, as Haystack's DocumentJoiner uses it


def jieba_words(text: str) -> list[str]:
    import jieba
    return [w for w in jieba.lcut_for_search(text.lower()) if w.strip()]


def haystack_pipelines(model: str, chunks) -> dict:
    """The same Haystack hybrid pipeline twice: BM25 on the raw text (its default tokenizer) and BM25
    on jieba-segmented text (documents and queries); embeddings of the raw text in both."""
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    from haystack import Document
    from haystack.document_stores.in_memory import InMemoryDocumentStore
    from haystack_integrations.components.embedders.sentence_transformers import (
        SentenceTransformersDocumentEmbedder)
    embedder = SentenceTransformersDocumentEmbedder(model=model, prefix="passage: ", progress_bar=False,
                                                    normalize_embeddings=True, local_files_only=True)
    embedder.warm_up()
    t0 = time.perf_counter()
    docs = embedder.run([Document(id=str(c.chunk_id), content=c.context, meta={"report": c.report})
                         for c in chunks])["documents"]
    index_s = time.perf_counter() - t0
    out = {}
    for name, segment in (("Haystack, default BM25", False), ("Haystack, BM25 on jieba words", True)):
        store = InMemoryDocumentStore()
        store.write_documents([Document(id=d.id, content=" ".join(jieba_words(d.content)) if segment else d.content,
                                        embedding=d.embedding, meta=d.meta) for d in docs])
        out[name] = haystack_search(model, store, segment)
    return out, index_s


def haystack_search(model: str, store, segment: bool):
    from haystack import Pipeline
    from haystack.components.joiners import DocumentJoiner
    from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
    from haystack_integrations.components.embedders.sentence_transformers import SentenceTransformersTextEmbedder
    pipe = Pipeline()
    pipe.add_component("text_embedder", SentenceTransformersTextEmbedder(
        model=model, prefix="query: ", progress_bar=False, normalize_embeddings=True, local_files_only=True))
    pipe.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=5))
    pipe.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=5))
    pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=5))
    pipe.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
    pipe.connect("embedding_retriever", "joiner")
    pipe.connect("bm25_retriever", "joiner")

    def search(g: dict) -> list[int]:
        flt = {"field": "meta.report", "operator": "==", "value": g["report"]}
        query = " ".join(jieba_words(g["question"])) if segment else g["question"]
        res = pipe.run({"text_embedder": {"text": g["question"]},
                        "embedding_retriever": {"filters": flt},
                        "bm25_retriever": {"query": query, "filters": flt}})
        return [int(d.id) for d in res["joiner"]["documents"]]
    return search


class PlainRRF:
    """The plain baseline on our chunks: per report, an exact FAISS inner-product index of the chunk
    vectors (the library's own) and bm25s over jieba words, fused by reciprocal rank; questions
    embedded by the same Embedder."""

    def __init__(self, index, embedder):
        import bm25s
        import faiss
        self.embedder, self.parts = embedder, {}
        for part in index.parts:
            ids = np.arange(part.chunks.start, part.chunks.stop)
            dense = faiss.IndexFlatIP(embedder.dim)
            dense.add(np.ascontiguousarray(index.chunk_vectors(ids), dtype=np.float32))
            bm25 = bm25s.BM25()
            bm25.index([jieba_words(index.chunks[i].context) or ["∅"] for i in ids], show_progress=False)
            self.parts[part.report] = (ids, dense, bm25)

    def __call__(self, g: dict, k: int = 5) -> list[int]:
        ids, dense, bm25 = self.parts[g["report"]]
        n = min(len(ids), 20)
        _, by_dense = dense.search(self.embedder.query(g["question"])[None, :], n)
        docs, _ = bm25.retrieve([jieba_words(g["question"]) or ["∅"]], k=n, show_progress=False)
        score: dict[int, float] = {}
        for ranking in (by_dense[0], docs[0]):
            for rank, j in enumerate(ranking):
                score[int(j)] = score.get(int(j), 0.0) + 1 / (RRF_K + rank + 1)
        return [int(ids[j]) for j in sorted(score, key=lambda j: -score[j])[:k]]


def peers(gold: list[dict], runs: int) -> dict:
    reports = list(dict.fromkeys(g["report"] for g in gold))
    qa = open_library(reports)
    chunks = qa.index.chunks
    assert all(c.chunk_id == i for i, c in enumerate(chunks))
    systems = {"ours: ReportQA.search": lambda g: [p.chunk.chunk_id for p in qa.search(g["question"], report=g["report"])],
               "plain FAISS + bm25s RRF, our chunks": PlainRRF(qa.index, qa.embedder)}
    out = {"answerable": sum(bool(g["answers"]) for g in gold), "n": len(gold)}
    try:
        hay, out["haystack_index_s"] = haystack_pipelines(str(qa.embedder.path), chunks)
        systems.update(hay)
        out["haystack_version"] = version("haystack-ai")
    except ImportError as e:
        out["haystack_skipped"] = f"{e}; pip install -e '.[bench]'"
    out["systems"] = {name: peer_figures(f, gold, chunks, runs, qa.embedder) for name, f in systems.items()}
    out["ask"] = summarise_runs({"ask": [latencies(lambda g: qa.ask(g["question"], report=g["report"]), gold)
                                         for _ in range(runs)]})["ask"]
    return out


def peer_figures(search, gold: list[dict], chunks, runs: int, embedder) -> dict:
    """Latency (query cache cleared) and hit@1/hit@3 per language of one system."""
    def timed(g):
        embedder.clear_cache()
        return search(g)
    for g in gold[:WARMUP]:
        timed(g)
    lat = [latencies(timed, gold) for _ in range(runs)]
    ranks = {}
    for g in gold:
        if g["answers"]:
            got = search(g)
            ranks.setdefault(g["lang"], []).append(
                next((r for r, i in enumerate(got) if contains_gold(chunks[i].text, g["answers"])), None))
    ranks["all"] = [r for lang in list(ranks) for r in ranks[lang]]
    hits = {f"{lang}.hit@{k}": sum(r is not None and r < k for r in rs) / len(rs)
            for lang, rs in ranks.items() for k in (1, 3)}
    return {**summarise_runs({"x": lat})["x"], **hits, **{f"{lang}.n": len(rs) for lang, rs in ranks.items()}}


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def met(value: float, target: float, lower_is_better: bool = True) -> str:
    return "yes" if (value <= target if lower_is_better else value >= target) else "**no**"


def md_targets(res: dict) -> list[str]:
    L = ["## Against the targets\n", "| | target | measured (median) | met |", "|---|---|---|---|"]
    for name, a in res.get("warm", {}).get("ask", {}).items():
        L.append(f"| warm `ask()` p50, bundled report, {name} | ≤ 5 ms | {a['p50']['median']:.1f} ms | {met(a['p50']['median'], 5)} |")
        L.append(f"| warm `ask()` p95, bundled report, {name} | ≤ 15 ms | {a['p95']['median']:.1f} ms | {met(a['p95']['median'], 15)} |")
    paths = res.get("paths", {})
    if "onnx int8, 1 thread" in paths:
        r = paths["onnx int8, 1 thread"]["p50_vs_fp32_1thread"]
        L.append(f"| query embedding p50, int8 graph vs fp32 (1 thread) | ≤ 0.5× | {r:.2f}× | {met(r, 0.5)} |")
    for key, what in (("agreement", "gold"), ("agreement_fresh", "fresh")):
        if key in res:
            g = res[key]
            L.append(f"| default queries: same top-1 chunk as fp32, {g['n']} {what} questions | ≥ 99 % | {100 * g['same_top1']:.1f} % | {met(g['same_top1'], 0.99, False)} |")
            L.append(f"| default queries: same answer as fp32, {g['n']} {what} questions | ≥ 99 % | {100 * g['same_answer']:.1f} % | {met(g['same_answer'], 0.99, False)} |")
    if "ingest" in res:
        s = res["ingest"]["s_per_20k_chars"]["median"]
        L.append(f"| ingest: `ReportQA.add`, per 20,000 characters | ≤ 2 s | {s:.1f} s | {met(s, 2)} |")
    if "peers" in res and "Haystack, BM25 on jieba words" in res["peers"]["systems"]:
        sy = res["peers"]["systems"]
        ours, peer = sy["ours: ReportQA.search"], sy["Haystack, BM25 on jieba words"]
        r = peer["p50"]["median"] / ours["p50"]["median"]
        L.append(f"| vs Haystack with jieba BM25: speed | ≥ 2× faster | {r:.1f}× | {met(r, 2, False)} |")
        L.append(f"| vs Haystack with jieba BM25: hit@1 | ahead | {ours['all.hit@1']:.3f} vs {peer['all.hit@1']:.3f} | {met(ours['all.hit@1'], peer['all.hit@1'] + 1e-9, False)} |")
    return L + [""]


def md_warm(w: dict) -> list[str]:
    L = [f"## Warm `ask()` on the bundled report\n\n{w['n_questions']} gold questions, query cache cleared before each "
         "run; the two variants interleaved run by run (target p50 ≤ 5 ms, p95 ≤ 15 ms).\n",
         "| questions embedded by | p50 ms | p95 ms | mean ms |", "|---|---|---|---|"]
    for name, r in w["ask"].items():
        L.append(f"| {name} | {fmt(r['p50'], digits=2)} | {fmt(r['p95'], digits=2)} | {fmt(r['mean'], digits=2)} |")
    L += [f"\np50 ratio default / fp32: {w['p50_ratio_int8_vs_fp32']:.2f}×; "
          f"{100 * w.get('redone', 0):.0f} % of these questions are close calls redone in fp32.\n",
          "Stages of the default run, called in turn through the public pieces:\n",
          "| stage | p50 ms | p95 ms | mean ms |", "|---|---|---|---|"]
    names = {"embed": "query embedding, int8 (`embedder.query`)", "retrieve": "retrieval (`retriever.retrieve`)",
             "redo": "close call: fp32 query and retrieval again (0 otherwise)",
             "extract": "span extraction (`extractor.answer`)"}
    for s, r in w["stages"].items():
        L.append(f"| {names[s]} | {fmt(r['p50'], digits=2)} | {fmt(r['p95'], digits=2)} | {fmt(r['mean'], digits=2)} |")
    return L + [""]


def md_paths(p: dict) -> list[str]:
    L = ["## Query embedding by path\n\nSame questions, paths interleaved run by run.\n",
         "| path | p50 ms | p95 ms | p50 vs onnx fp32, 1 thread |", "|---|---|---|---|"]
    for name, r in p.items():
        L.append(f"| {name} | {fmt(r['p50'], digits=2)} | {fmt(r['p95'], digits=2)} | {r['p50_vs_fp32_1thread']:.2f}× |")
    return L + [""]


def md_agreement(g: dict, fresh: bool = False) -> list[str]:
    head = (f"### The same on the {g['n']} fresh questions (`eval/fresh/`: {g['reports']} reports nothing, "
            "RANK_MARGIN included, was fitted on)\n\nThe fresh questions, " if fresh else
            "## Agreement: the default (int8 queries, close calls in fp32) against fp32 queries\n\n"
            f"All {g['n']} gold questions over {g['reports']} reports, ")
    L = [head + "each asked of its own report (`ReportQA.ask(q, report=...)`) in one library, once with "
         "`REPORT_QA_QUERY_INT8=1` (the default) and once with `=0`: int8 query cosine min "
         f"{g['cos_min']:.4f} (mean {g['cos_mean']:.5f}); same top-1 chunk {100 * g['same_top1']:.1f} %; "
         f"same five passages {100 * g['same_top5']:.1f} %; same answer {100 * g['same_answer']:.1f} %; "
         f"same found/abstain {100 * g['same_found']:.1f} %; answers right {g['right_fast']:.3f} (int8) vs "
         f"{g['right_ref']:.3f} (fp32), default answer-step weights. "
         f"{100 * g.get('redone', 0):.1f} % of the questions were close calls redone in fp32; the int8 vector "
         f"alone would have kept the top chunk on {100 * g.get('int8_alone_same_top1', 0):.1f} % and the top three "
         f"on {100 * g.get('int8_alone_same_top3', 0):.1f} %.\n", "Questions whose top chunk or answer differ:\n"]
    for d in g["differ"]:
        L.append(f"- {d['id']} ({d['report']}): {d['question']} — default {d['int8']}, fp32 {d['fp32']}")
    return L + [""]


def md_cold_memory(res: dict) -> list[str]:
    L = []
    if "cold" in res:
        L += ["## Cold start: fresh process to first answer\n\nLibrary and model cached.\n",
              "| variant | to first answer s | import qa s | ReportQA.load s | first ask s | torch imported |",
              "|---|---|---|---|---|---|"]
        for name, r in res["cold"].items():
            L.append(f"| {name} | **{fmt(r['to_first_answer_s'], digits=2)}** | {fmt(r['import_qa_s'], digits=2)} | "
                     f"{fmt(r['load_s'], digits=2)} | {fmt(r['first_ask_s'], digits=3)} | {r['torch_imported']} |")
        L.append("")
    if "memory" in res:
        L += ["## Memory of a process that loads and answers the bundled gold questions\n",
              "| variant | RSS after load MiB | RSS after answers MiB | peak RSS MiB |", "|---|---|---|---|"]
        for name, r in res["memory"].items():
            L.append(f"| {name} | {fmt(r['rss_after_load_mib'], digits=0)} | {fmt(r['rss_after_answers_mib'], digits=0)} | "
                     f"**{fmt(r['peak_rss_mib'], digits=0)}** |")
        L.append("")
    return L


def md_ingest(i: dict) -> list[str]:
    L = [f"## Ingest\n\n`ReportQA.add` of the bundled report ({i['chars']:,} characters, {i['chunks']} chunks, "
         f"{i['sentences']} sentences) into an empty library, model loaded: **{fmt(i['add_s'], ' s', 2)}**, "
         f"{fmt(i['s_per_20k_chars'], ' s', 2)} per 20,000 characters (target ≤ 2 s). "
         + (f"Embedding its {i['chunks'] + i['sentences']} texts alone (`embedder.passages`, same runs): "
            f"{fmt(i['embed_s'], ' s', 2)}; the rest of the add (parsing, chunking, glossary, BM25, FAISS, "
            f"writing the generation) is the difference of the medians, "
            f"{i['add_s']['median'] - i['embed_s']['median']:.2f} s.\n" if "embed_s" in i else "\n"),
         f"The fp32 graph on the {i['batches']['texts']} texts an add embeds, sorted by length, by batch budget "
         "(tokens per batch, padding included), threads, how idle threads wait, and with another process "
         "spinning on one core (the default: every core, sleeping, 1024):\n",
         "| batch tokens | threads | waiting threads | another process busy | seconds | texts/s | "
         "min cosine vs one at a time |", "|---|---|---|---|---|---|---|"]
    for r in i["batches"]["rows"]:
        waiting = "—" if r["threads"] == 1 else ("spin" if r.get("spin") else "sleep")
        L.append(f"| {r['batch_tokens']} | {r['threads']} | {waiting} | {'yes' if r.get('busy') else 'no'} | "
                 f"{fmt(r['seconds'], digits=2)} | {r['texts_per_s']:.0f} | {r['min_cos_vs_single']:.6f} |")
    return L + [""]


def md_peers(p: dict) -> list[str]:
    L = [f"## Peers, side by side in one run\n\nAll {p['n']} gold questions over the 11 reports, each searched within its "
         f"own report; hits over the {p['answerable']} answerable ones (a chunk hits when its text contains a gold "
         "string). Latency per question, query cache cleared. Haystack runs `InMemoryBM25Retriever` + "
         "`InMemoryEmbeddingRetriever` (sentence-transformers, same converted model, fp32 torch) joined by "
         "reciprocal-rank fusion, top 5, filtered to the report; once with its default BM25 and once with BM25 fed "
         "jieba words (documents and queries). The plain baseline fuses an exact FAISS search of our stored chunk "
         "vectors with bm25s over jieba words by reciprocal rank (k=60), queries through our embedder.\n"]
    if p.get("haystack_skipped"):
        L.append(f"Haystack skipped: {p['haystack_skipped']}\n")
    L += ["| system | p50 ms | p95 ms | hit@1 | hit@3 | zh hit@1 | zh hit@3 | en hit@1 | en hit@3 | p50 vs ours |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    ours = p["systems"]["ours: ReportQA.search"]["p50"]["median"]
    for name, r in p["systems"].items():
        L.append(f"| {name} | {fmt(r['p50'], digits=2)} | {fmt(r['p95'], digits=2)} | {r['all.hit@1']:.3f} | "
                 f"{r['all.hit@3']:.3f} | {r.get('zh.hit@1', 0):.3f} | {r.get('zh.hit@3', 0):.3f} | "
                 f"{r.get('en.hit@1', 0):.3f} | {r.get('en.hit@3', 0):.3f} | {r['p50']['median'] / ours:.2f}× |")
    L.append(f"\nOurs `ask()` (retrieval and answer) over the same questions: p50 {fmt(p['ask']['p50'], ' ms', 2)}, "
             f"p95 {fmt(p['ask']['p95'], ' ms', 2)}.\n")
    return L


def write_md(res: dict, out: Path) -> None:
    m = res["machine"]
    L = ["# Performance\n",
         f"Produced by `python -m eval.bench` ({res['seconds']:.0f} s). Machine: **{m['cores']} cores** ({m['cpu']}), "
         f"{m['mem_gib']:.0f} GiB, **shared with other processes** (load average {m['load_start']} at the start, "
         f"{m['load_end']} at the end): absolute times move with the load; ratios within one run much less. "
         f"Python {m['python']}, onnxruntime {m['onnxruntime']}, faiss {m['faiss']}, bm25s {m['bm25s']}. "
         f"Questions embedded by: **{m['query_backend']}** ({m.get('query_threads', m['threads'])} intra-op thread), "
         f"passages and close calls by onnx fp32 ({m['threads']} intra-op threads, sleeping while they wait).\n",
         f"Every figure is the median over {res['runs']} runs, with the min–max over runs in brackets; a section "
         "re-measured since (listed at the end) over the runs its own command gave.\n"]
    L += md_targets(res)
    for key, render in (("warm", md_warm), ("paths", md_paths), ("agreement", md_agreement),
                        ("agreement_fresh", lambda g: md_agreement(g, fresh=True)), ("ingest", md_ingest)):
        if key in res:
            L += render(res[key])
    if "first" in res:
        L += md_first(res["first"])
    L += md_cold_memory(res)
    for key, render in (("peers", md_peers), ("scale", md_scale)):
        if key in res:
            L += render(res[key])
    for key, r in res.get("reruns", {}).items():
        runs = (f"--runs {r['runs']}: {r['runs']} runs of warm and paths, {slow_runs(r['runs'])} of ingest, first, "
                f"cold, peers and scale, {MEMORY_RUNS} of memory, " if "runs" in r else "")
        L.append(f"*{key}* re-measured by `python -m eval.bench {r['args']}` on {r['date']} ({runs}{r['seconds']:.0f} s; "
                 f"load average {r['load_start']} → {r['load_end']}).\n")
    (out / "bench.md").write_text("\n".join(L) + "\n", encoding="utf-8")


def merge_partial(old: dict, new: dict, args: str) -> dict:
    """A run of some sections only: its sections replace theirs in the previous bench.json, the
    others are kept, and each re-run section says when and how it was measured."""
    old["machine"].update({k: new["machine"][k] for k in ("query_backend", "threads", "query_threads", "onnxruntime")
                           if k in new["machine"]})
    for key, value in new.items():
        if key in ("runs", "machine", "seconds", "reruns"):
            continue
        old[key] = value
        old.setdefault("reruns", {})[key] = {
            "args": args, "date": time.strftime("%Y-%m-%d %H:%M"), "seconds": new["seconds"], "runs": new["runs"],
            "load_start": new["machine"]["load_start"], "load_end": new["machine"]["load_end"]}
    return old


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def run_child(role: str, args: list[str]) -> dict:
    if role == "cold":
        return child_cold()
    if role == "memory":
        return child_memory()
    if role == "first":
        return child_first()
    if role == "scale":
        return child_scale(int(args[0]), args[1], int(args[2]), args[3], float(args[4]), int(args[5]))
    raise SystemExit(f"unknown child role {role}")


def machine() -> dict:
    import faiss  # noqa: F401  (version only)
    from qa.model.embedder import Embedder
    emb = Embedder()
    threads = {name: enc.session.get_session_options().intra_op_num_threads
               for name, enc in (("threads", emb.onnx), ("query_threads", emb.query_onnx)) if enc is not None}
    return {"cores": os.cpu_count(), "cpu": cpu_model(), "load_start": loadavg(),
            "mem_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
            "python": platform.python_version(), "onnxruntime": version("onnxruntime"),
            "faiss": version("faiss-cpu"), "bm25s": version("bm25s"),
            "query_backend": emb.query_backend, **threads}


# Each memory run is a process of its own that answers every bundled question.
MEMORY_RUNS = 2


def slow_runs(runs: int) -> int:
    """Runs of the slow sections (ingest, first start, cold start, peers, scale): about half of --runs, at least 3."""
    return max(3, runs // 2 + 1)


def run_sections(only: set[str], a) -> dict:
    res = {"runs": a.runs, "machine": machine()}
    bundled, gold = load_gold(), load_all_gold()
    steps = [("warm", lambda: warm_ask(bundled, a.runs)), ("paths", lambda: embed_paths(bundled, a.runs)),
             ("agreement", lambda: agreement(gold)),
             ("agreement_fresh", lambda: agreement(fresh_gold(), FRESH_LIBRARY)), ("ingest", lambda: ingest(slow_runs(a.runs))),
             ("first", lambda: first_start(slow_runs(a.runs))),
             ("cold", lambda: cold_start(slow_runs(a.runs))), ("memory", lambda: memory(MEMORY_RUNS)),
             ("peers", lambda: peers(gold, slow_runs(a.runs))),
             ("scale", lambda: scale([int(s) for s in a.sizes.split(",")], a.real_max, slow_runs(a.runs)))]
    for name, f in steps:
        if name in only:
            say(f"{name}...")
            res[name] = f()
    res["machine"]["load_end"] = loadavg()
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Measure report-qa's speed, memory and scaling against its peers.")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median and spread)")
    ap.add_argument("--sizes", default="10,100,1000", help="corpus sizes in reports for the scale table")
    ap.add_argument("--real-max", type=int, default=10, help="embed real text up to this many reports")
    ap.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated sections, from: {','.join(SECTIONS)}")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--render", action="store_true", help="rewrite bench.md and the plot from bench.json")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    out = Path(a.out)
    if a.child:
        print(json.dumps(run_child(a.child[0], a.child[1:]), ensure_ascii=False))
        return 0
    if a.render:
        res = json.loads((out / "bench.json").read_text(encoding="utf-8"))
    else:
        t0 = time.perf_counter()
        only = set(a.only.split(",")) - ({"scale"} if a.no_scale else set()) - ({"peers"} if a.no_peers else set())
        res = run_sections(only, a)
        res["seconds"] = time.perf_counter() - t0
        if only != set(SECTIONS) and (out / "bench.json").exists():
            res = merge_partial(json.loads((out / "bench.json").read_text(encoding="utf-8")), res,
                                " ".join(sys.argv[1:] if argv is None else argv))
        (out / "bench.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    if "scale" in res and "vectors_mib" in res["scale"]["rows"][0]["build"]:
        plot_scale(res["scale"], out / "bench_scale.png")
    write_md(res, out)
    say(f"wrote {out / 'bench.md'}, {out / 'bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
