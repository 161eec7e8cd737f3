"""The scale section of eval.bench: synthetic corpora of N reports, built by the product's own
Index.assemble and searched by its Retriever; cost and agreement against exact search."""
from __future__ import annotations

import random
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from eval.gold import load_gold
from eval.timing import WARMUP, child, fmt, latencies, ms, pct, peak_rss_mib, rss_mib, say, spread
from qa.store.vectors import SentenceVectors


# --------------------------------------------------------------------------
# 5. scale: synthetic corpora, built and searched by the product's own Index and Retriever
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
    from qa.ingest.chunks import sentence_chunks, sentence_context
    doc = read_report(BUNDLED_REPORT)
    chunks = chunk_document(doc, ChunkingParams(), "henan-2024", 0)
    return chunks, [sentence_context(doc, i) for i in range(len(doc.sentences))], sentence_chunks(doc, chunks)


def synthetic_report(base, r: int):
    """Report r: the bundled report with its sections in a shuffled order, every figure altered and
    the province renamed (report 0 is the bundled report). Returns its chunks as (base chunk, text,
    lead, section) in the report's order, and its sentences as (base sentence, text, position
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
        out_chunks.append((j, text, lead, rename(c.section)))
    by_position = sorted(range(len(sentences)), key=lambda i: position[int(owners[i])])    # stable
    out_sents = [(i, alter(sentences[i]), position[int(owners[i])]) for i in by_position]
    return out_chunks, out_sents


def synthetic_corpus(n_reports: int):
    """n synthetic reports as one corpus: qa.schema.Chunk objects (report "synthetic-r", offsets into
    that report's text), the sentence texts, the chunk each sentence starts in (nondecreasing), the
    reports' parts, and for every chunk and sentence its (report, position in the bundled report)."""
    from qa.schema import Chunk
    from qa.store.base import Part
    base = base_report()
    chunks, sents, owners, chunk_src, sent_src, parts = [], [], [], [], [], []
    for r in range(n_reports):
        first, s0, offset = len(chunks), len(sents), 0
        out_chunks, out_sents = synthetic_report(base, r)
        for j, text, lead, section in out_chunks:
            chunks.append(Chunk(len(chunks), text, offset, offset + len(text), section, lead,
                                f"synthetic-{r}", base[0][j].paragraph))
            chunk_src.append((r, j))
            offset += len(text) + 1
        for i, text, pos in out_sents:
            sents.append(text)
            owners.append(first + pos)
            sent_src.append((r, i))
        parts.append(Part(f"synthetic-{r}", range(first, len(chunks)), range(s0, len(sents))))
    return (chunks, sents, np.asarray(owners, dtype=np.int64), parts,
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


def corpus_vectors(n_reports: int, corpus, work: Path, real: bool, pool_path: str, sigma: float, emb) -> dict:
    """The corpus's chunk and sentence vectors: embedded for real (and kept as the pool, by report and
    position), or drawn from the pool."""
    chunks, sents, _, _, chunk_src, sent_src = corpus
    t0 = time.perf_counter()
    if real:
        vecs = emb.passages([c.context for c in chunks] + sents)     # what ReportQA.add embeds
        cv, sv = vecs[:len(chunks)], vecs[len(chunks):]
        for name, v, src in (("chunks", cv, chunk_src), ("sentences", sv, sent_src)):
            by_position = np.zeros((n_reports, src[:, 1].max() + 1, v.shape[1]), dtype=np.float32)
            by_position[src[:, 0], src[:, 1]] = v
            np.save(work / f"real_{name}.npy", by_position)
        seconds = time.perf_counter() - t0
        return {"cv": cv, "sv": sv, "embed_s": seconds, "embed_texts_per_s": len(vecs) / seconds}
    pool_chunks, pool_sents = np.load(f"{pool_path}_chunks.npy"), np.load(f"{pool_path}_sentences.npy")
    rng = np.random.default_rng(n_reports)
    source = rng.integers(0, len(pool_chunks), n_reports)   # the real report each one is drawn from
    cv = draw_vectors(pool_chunks, source[chunk_src[:, 0]], chunk_src[:, 1], sigma, rng)
    sv = draw_vectors(pool_sents, source[sent_src[:, 0]], sent_src[:, 1], sigma, rng)
    return {"cv": cv, "sv": sv, "embed_s": float("nan"), "embed_texts_per_s": float("nan")}


def trimmed_rss() -> dict:
    """RSS (and its anonymous and file-backed parts) once garbage is collected and the heap the build
    freed is handed back to the OS (malloc_trim): what a process that loaded the index from a library,
    rather than built it, would hold."""
    import ctypes
    import gc
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:         # not glibc: the figure then includes what the build freed
        pass
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return {k: int(status[key].split()[0]) / 1024 for k, key in
            (("rss", "VmRSS"), ("anon", "RssAnon"), ("file", "RssFile")) if key in status}


def serve_from_file(index, work: Path) -> Path:
    """Sentence vectors written and read back as the library does with a generation (qa/store/faiss.py):
    in memory while small, read from the file by rows beyond RESIDENT_MAX_BYTES."""
    from qa.store.vectors import open_vectors, save_vectors
    path = work / "sentences.npy"
    save_vectors(path, index.sentence_vectors)
    index.sentence_vectors = open_vectors(path)
    return path


def memory_of(index, path: Path) -> dict:
    import faiss
    dense = faiss.serialize_index(index.dense).nbytes / 2**20
    bm25 = sum(v.nbytes for v in index.bm25.scores.values() if hasattr(v, "nbytes")) / 2**20
    resident = index.sentence_vectors.nbytes / 2**20
    return {"dense_mib": dense, "bm25_mib": bm25, "sentences_resident_mib": resident,
            "sentences_file_mib": path.stat().st_size / 2**20, "vectors_mib": dense + resident,
            "sentence_store": type(index.sentence_vectors).__name__}


def child_scale(n_reports: int, work: str, real_max: int, pool_path: str, sigma: float, runs: int) -> dict:
    """Build a corpus of n reports with Index.assemble (embedding real text when n <= real_max), serve
    its sentence vectors as the library would, then search it through Retriever in the same process.
    The float32 vectors wait on disk for the references, built after the serving figures are taken."""
    import cProfile

    import qa.store.index as qindex
    from qa.model.embedder import Embedder
    emb = Embedder()
    emb.queries(["预热"])
    rss_model = trimmed_rss()
    corpus = synthetic_corpus(n_reports)
    chunks, sents, owners, parts, chunk_src, _ = corpus
    work = Path(work)
    work.mkdir(parents=True, exist_ok=True)
    real = n_reports <= real_max
    n_sentences = len(sents)
    vec = corpus_vectors(n_reports, corpus, work, real, pool_path, sigma, emb)
    corpus = sents = None       # the sentence texts: an index holds none
    np.save(work / "chunks32.npy", vec["cv"])
    np.save(work / "sentences32.npy", vec["sv"])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    index = prof.runcall(qindex.Index.assemble, chunks, vec["cv"], vec["sv"], owners, parts)
    assemble_s = time.perf_counter() - t0
    steps = {key: 0.0 for key in ASSEMBLE_STEPS.values()} | cumulative(prof, ASSEMBLE_STEPS)
    build = {"n_reports": n_reports, "chunks": len(chunks), "sentences": n_sentences, "real_embedding": real,
             "index_kind": type(index.dense).__name__, "embed_s": vec["embed_s"],
             "embed_texts_per_s": vec["embed_texts_per_s"], "assemble_s": assemble_s, **steps,
             "peak_rss_build_mib": peak_rss_mib()}
    vec = None
    build |= memory_of(index, serve_from_file(index, work))
    build |= {"rss_model_mib": rss_model["rss"], "rss_model": rss_model, "rss_built": trimmed_rss()}
    return {"build": build, "search": scale_search(index, emb, chunk_src[:, 1], runs, work)}


def top_ids(retriever, questions: list[str], qvecs: np.ndarray, k: int = 5) -> list[list[int]]:
    return [[p.chunk.chunk_id for p in retriever.retrieve(q, k=k, qvec=v)] for q, v in zip(questions, qvecs)]


def agreement_of(got: list[list], truth: list[list]) -> dict:
    """Top-k lists against reference lists: the mean share of each reference list's distinct items
    found in the other, and the shares of identical lists and identical first items."""
    return {"top5_overlap": float(np.mean([len(set(a) & set(b)) / len(set(b)) for a, b in zip(got, truth)])),
            "same_top5": float(np.mean([a == b for a, b in zip(got, truth)])),
            "same_top1": float(np.mean([a[0] == b[0] for a, b in zip(got, truth)]))}


class Float32Rows(SentenceVectors):
    """Sentence vectors as the index held them before float16 storage: float32, all in memory."""

    def __init__(self, vectors: np.ndarray):
        self.data, self.shape = vectors, vectors.shape

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    def rows(self, rows: np.ndarray) -> np.ndarray:
        return self.data[rows]


def float32_dense(vectors: np.ndarray, flat_max: int):
    """The dense index as it was before float16 storage: IndexFlatIP, IndexHNSWFlat beyond flat_max."""
    import faiss
    import qa.store.index as qindex
    if len(vectors) <= flat_max:
        index = faiss.IndexFlatIP(vectors.shape[1])
    else:
        index = faiss.IndexHNSWFlat(vectors.shape[1], qindex.HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = qindex.HNSW_EF_CONSTRUCTION
    index.add(vectors)
    return qindex.tuned(index)


def recall_at_10(index, truth: np.ndarray, qvecs: np.ndarray) -> float:
    got = index.search(qvecs, 10)[1]
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got)]))


def scale_search(index, emb, passage: np.ndarray, runs: int, work: Path) -> dict:
    """Search a built corpus through Retriever; then compare with exact search over the float32 vectors,
    scoring every chunk, and with the product as it was before float16 storage (float32 vectors, the
    same index kinds) on the same corpus."""
    import dataclasses

    import qa.store.index as qindex
    import qa.ask.retriever as qretriever
    retriever = qretriever.Retriever(index, emb)
    qs = [g["question"] for g in load_gold()]
    qvecs = np.stack([emb.query(q) for q in qs])      # one at a time, as served: no batch-sized arena
    search_times(retriever, index, qs, qvecs, 1)      # every question once, as a served index has been
    out = {"rss_answering": trimmed_rss()}            # before the references below are built
    out["rss_answering_mib"] = out["rss_answering"]["rss"]
    out["sentence_rows_cached"] = int(getattr(index.sentence_vectors, "cached", len(index.sentence_vectors)))
    product_top = top_ids(retriever, qs, qvecs)
    cv, sv = np.load(work / "chunks32.npy"), Float32Rows(np.load(work / "sentences32.npy"))
    # The exact reference: the float32 vectors in an IndexFlatIP, every chunk scored.
    exact_index = dataclasses.replace(index, dense=float32_dense(cv, EXACT), sentence_vectors=sv)
    exact = qretriever.Retriever(exact_index, emb, full_scoring_max=EXACT)
    exact_top = top_ids(exact, qs, qvecs)
    before_index = dataclasses.replace(index, dense=float32_dense(cv, qindex.FLAT_MAX), sentence_vectors=sv)
    before = qretriever.Retriever(before_index, emb)
    before_top = top_ids(before, qs, qvecs)
    # The same, by the passage of the bundled report each chunk copies: a large synthetic corpus holds
    # many near-identical copies of each passage, which only noise orders among themselves.
    by_passage = lambda tops: [passage[a].tolist() for a in tops]     # noqa: E731
    agree = {"chunks": agreement_of(product_top, exact_top),
             "passages": agreement_of(by_passage(product_top), by_passage(exact_top)),
             "float32 before vs exact, by chunk": agreement_of(before_top, exact_top),
             "float32 before vs exact, by passage": agreement_of(by_passage(before_top), by_passage(exact_top)),
             "product vs float32 before, by chunk": agreement_of(product_top, before_top)}
    if not retriever.full:      # the candidate scoring alone: the product's retriever over the flat index
        agree["candidates over the flat index"] = agreement_of(
            top_ids(qretriever.Retriever(exact_index, emb), qs, qvecs), exact_top)
    full = [latencies(lambda i: exact.retrieve(qs[i], k=5, qvec=qvecs[i]), range(0, len(qs), 3)) for _ in range(runs)]
    truth = exact_index.dense.search(qvecs, 10)[1]
    now_times, before_times = interleaved([(retriever, index), (before, before_index)], qs, qvecs, runs)
    out |= now_times
    return {**out, **agree["chunks"], "agreement": agree, "full_p50": spread([statistics.median(x) for x in full]),
            "recall@10": recall_at_10(index.dense, truth, qvecs),
            "before": {"recall@10": recall_at_10(before_index.dense, truth, qvecs),
                       "index_kind": type(before_index.dense).__name__,
                       "search_p50": before_times["search_p50"], "search_p95": before_times["search_p95"]},
            "index_kind": type(index.dense).__name__, "chunks": len(index.chunks), "n_questions": len(qs),
            "scoring": "every chunk" if retriever.full else f"top {retriever.k_candidates} of each side",
            "peak_rss_mib": peak_rss_mib()}


def interleaved(pairs: list[tuple], qs: list[str], qvecs: np.ndarray, runs: int) -> list[dict]:
    """search_times of several (retriever, index) pairs, run by run in turn, so that the machine's load
    (shared, 2 cores) falls on each alike."""
    per_run = [[search_times(r, ix, qs, qvecs, 1) for r, ix in pairs] for _ in range(runs)]
    return [{k: spread([run[j][k]["median"] for run in per_run]) for k in per_run[0][j]} for j in range(len(pairs))]


def search_times(retriever, index, qs: list[str], qvecs: np.ndarray, runs: int) -> dict:
    """Retriever.retrieve, its lexical side and the dense index alone, per question."""
    questions = [retriever.question(q) for q in qs]
    for q, v in zip(questions[:WARMUP], qvecs):
        retriever.retrieve(q, k=5, qvec=v)
    res: dict[str, list] = {k: [] for k in ("search_p50", "search_p95", "lexical_p50", "dense_p50")}
    for _ in range(runs):
        lat, lx, dl = [], [], []
        for q, v in zip(questions, qvecs):
            t0 = time.perf_counter(); retriever.retrieve(q, k=5, qvec=v); lat.append(ms(t0))
            t0 = time.perf_counter(); retriever.lexical_scores(q); lx.append(ms(t0))
            t0 = time.perf_counter(); index.dense.search(v[None, :], 10); dl.append(ms(t0))
        res["search_p50"].append(statistics.median(lat)); res["search_p95"].append(pct(lat, 0.95))
        res["lexical_p50"].append(statistics.median(lx)); res["dense_p50"].append(statistics.median(dl))
    return {k: spread(v) for k, v in res.items()}


def scale(sizes: list[int], real_max: int, runs: int) -> dict:
    import qa.store.index as qindex
    import qa.ask.retriever as qretriever
    work_root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    rows, pool = [], ("", 0.0, float("nan"))
    try:
        for n in sorted(sizes):
            work = work_root / f"n{n}"
            if n > real_max and not pool[0]:
                pool = _make_pool(work_root, real_max)
            say(f"scale: {n} reports ({'real' if n <= real_max else 'drawn'} vectors)...")
            rows.append(child("scale", str(n), str(work), str(real_max), pool[0], str(pool[1]), str(runs)))
            if n <= real_max:
                _keep_real(work, work_root, n)
            shutil.rmtree(work, ignore_errors=True)
    finally:
        shutil.rmtree(work_root, ignore_errors=True)
    return {"rows": rows, "sigma": pool[1], "pool_cos": pool[2], "real_max": real_max, "flat_max": qindex.FLAT_MAX,
            "hnsw": {"M": qindex.HNSW_M, "efConstruction": qindex.HNSW_EF_CONSTRUCTION, "efSearch": qindex.HNSW_EF_SEARCH},
            "full_scoring_max": qretriever.FULL_SCORING_MAX, "candidates": qretriever.CANDIDATES}


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






def plot_scale(sc: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = sc["rows"]
    n = [r["build"]["n_reports"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    series = [(axes[0], "vectors held: FAISS + sentence vectors (MiB)", [r["build"]["vectors_mib"] for r in rows], None),
              (axes[1], "RSS serving: model + index (MiB)", [r["search"]["rss_answering_mib"] for r in rows], GIB),
              (axes[2], "search p50 (ms), Retriever.retrieve", [r["search"]["search_p50"]["median"] for r in rows], 50)]
    for ax, title, ys, limit in series:
        ax.plot(n, ys, "o-", color="tab:blue")
        if limit:
            ax.axhline(limit, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log"); ax.set_yscale("log")
        ax.set_xlabel("reports in the corpus"); ax.set_title(title, fontsize=10)
    axes[2].plot(n, [r["search"]["full_p50"]["median"] for r in rows], "--", color="tab:red",
                 label="exact: IndexFlatIP, every chunk scored")
    axes[2].legend(fontsize=7)
    fig.suptitle("Cost against corpus size (the first size embedded for real, larger ones drawn vectors)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)




GIB = 1024     # MiB: the target for 1,000 reports, resident


def md_scale(sc: dict) -> list[str]:
    L = ["## Scale: synthetic corpora through `Index.assemble` and `Retriever`\n",
         f"Report *r* is the bundled report with its sections shuffled, every figure altered and the province renamed. "
         f"The first {sc['real_max']} reports are embedded for real; larger corpora use drawn vectors (a real vector of "
         f"the same passage plus Gaussian noise, σ = {sc['sigma']:.4f}). Built by `Index.assemble` (float16 vectors: "
         f"flat up to {sc['flat_max']:,} chunks, HNSW beyond), its sentence vectors written and read back as the library "
         "does (`qa.store.vectors.open_vectors`: in memory while small, read from the file by rows beyond), and searched "
         "by `Retriever(index, embedder)` in the same process. RSS is taken after the searches, once the heap the build "
         "freed is handed back (`malloc_trim`), so it is what a process serving the index holds: the model, the chunks "
         "and the indexes (not the reports' texts, which the answer step also keeps). *Before* is the product as it was "
         "before float16 storage (float32 vectors in IndexFlatIP / IndexHNSWFlat, float32 sentence vectors in memory) "
         "on the same corpus and draw; the two are timed run by run in turn, after every question has been asked once.\n",
         "| reports | chunks | dense index | scoring | sentence vectors | vectors held MiB | sentence file MiB | "
         "RSS serving MiB | search p50 ms | search p95 ms | before p50 ms | exact p50 ms | assemble s |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sc["rows"]:
        b, s = r["build"], r["search"]
        rss = s["rss_answering_mib"]
        L.append(f"| {b['n_reports']:,} | {b['chunks']:,} | {b['index_kind']} | {s['scoring']} | "
                 f"{b.get('sentence_store', '—')} | {b['vectors_mib']:.0f} | {b.get('sentences_file_mib', float('nan')):.0f} | "
                 f"**{rss:.0f}**{'' if rss < GIB else ' (over 1 GiB)'} | **{fmt(s['search_p50'], digits=2)}** | "
                 f"{fmt(s['search_p95'], digits=2)} | {fmt(s.get('before', {}).get('search_p50', {}), digits=2)} | "
                 f"{fmt(s['full_p50'], digits=1)} | {b['assemble_s']:.1f} |")
    L += ["", *md_scale_agreement(sc), "", *md_scale_memory(sc), "", "![cost against corpus size](bench_scale.png)", ""]
    return L


def md_scale_agreement(sc: dict) -> list[str]:
    L = ["Agreement with the exact reference (the float32 vectors in an IndexFlatIP, every chunk scored), now and "
         "before float16 storage, and the product's top five against the float32 product's, by chunk:\n",
         "| reports | recall@10 now / before | top-5 overlap now / before | same top 1 now / before | "
         "same top 1, now vs before | same top 5, now vs before |", "|---|---|---|---|---|---|"]
    for r in sc["rows"]:
        s = r["search"]
        a = s["agreement"]
        old, vs = a.get("float32 before vs exact, by chunk"), a.get("product vs float32 before, by chunk")
        if not old:
            continue
        L.append(f"| {r['build']['n_reports']:,} | {s['recall@10']:.3f} / {s['before']['recall@10']:.3f} | "
                 f"{s['top5_overlap']:.3f} / {old['top5_overlap']:.3f} | {s['same_top1']:.3f} / {old['same_top1']:.3f} | "
                 f"{vs['same_top1']:.3f} | {vs['same_top5']:.3f} |")
    big = [r for r in sc["rows"] if "candidates over the flat index" in r["search"]["agreement"]]
    if big:
        L += ["", "Where the product takes the scaled path (HNSW, candidate scoring), by passage of the bundled report "
              "each chunk copies (a synthetic corpus holds near-identical copies of every passage, which only the noise "
              "orders):\n", "| reports | compared | top-5 overlap | same top 5 | same top 1 |", "|---|---|---|---|---|"]
        for r in big:
            for name, key in (("product vs exact, by passage", "passages"),
                              ("before vs exact, by passage", "float32 before vs exact, by passage"),
                              ("candidates over the flat index vs exact, by chunk", "candidates over the flat index")):
                g = r["search"]["agreement"][key]
                L.append(f"| {r['build']['n_reports']:,} | {name} | {g['top5_overlap']:.3f} | {g['same_top5']:.3f} | "
                         f"{g['same_top1']:.3f} |")
    return L


def md_scale_memory(sc: dict) -> list[str]:
    L = ["Where the serving RSS goes, MiB (model: the process after loading the embedder and one query; the rest: "
         "chunk objects, jieba's dictionary, the glossary, the retriever's per-chunk years):\n",
         "| reports | model | dense index | BM25 | sentence vectors held | the rest | RSS serving | of it anonymous / file |",
         "|---|---|---|---|---|---|---|---|"]
    for r in sc["rows"]:
        b, s = r["build"], r["search"]
        if "rss_model" not in b:
            continue
        rss, model = s["rss_answering"], b["rss_model"]["rss"]
        rest = rss["rss"] - model - b["dense_mib"] - b["bm25_mib"] - b["sentences_resident_mib"]
        L.append(f"| {b['n_reports']:,} | {model:.0f} | {b['dense_mib']:.0f} | {b['bm25_mib']:.0f} | "
                 f"{b['sentences_resident_mib']:.0f} | {rest:.0f} | **{rss['rss']:.0f}** | "
                 f"{rss.get('anon', float('nan')):.0f} / {rss.get('file', float('nan')):.0f} |")
    return L
