"""Do the FAISS library and the Milvus library give the same answers?  Every gold question, both stores.

    python -m eval.milvus_eval                          # Milvus Lite file index/milvus-eval.db
    python -m eval.milvus_eval --store http://host:19530   # a Milvus server (MILVUS_TOKEN from the environment)
    python -m eval.milvus_eval --limit 60               # the first questions of each report only

Both libraries hold the gold set's 11 reports, added in the same order; each question is asked of
its own report (`ask(q, report=...)`) with the shipped answer-step weights.  Agreement is counted on
the top-1 passage (same report and offsets) and on the answer (same found/declined and the same
text).  Writes eval/out/milvus_eval.md and .json, and prints the figures.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from qa import ReportQA
from .gold import LIBRARY, load_all_gold, open_library, report_file
from .run import OUT

HERE = Path(__file__).resolve().parent
DEFAULT_STORE = HERE.parent / "index" / "milvus-eval.db"


def _top(ans) -> tuple | None:
    p = ans.passages[0] if ans.passages else None
    return (p.report, p.chunk.start, p.chunk.end) if p else None


def _answer(ans) -> tuple:
    c = ans.citations[0] if ans.citations else None
    return ans.found, ans.text, (c.report, c.span_start, c.span_end) if c else None


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def open_milvus(store: str, reports: list[str]) -> tuple[ReportQA, list[float]]:
    qa = ReportQA.load(library="eval", store=store, progress=False)
    have, seconds = {r.id for r in qa.reports()}, []
    for rid in reports:
        if rid not in have:
            t0 = time.perf_counter()
            added = qa.add(report_file(rid), progress=False)
            seconds.append(time.perf_counter() - t0)
            assert added.id == rid, f"{report_file(rid)} was added as {added.id}, not {rid}"
    return qa, seconds


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", default=str(DEFAULT_STORE), help="a Milvus Lite .db file or a server URI")
    ap.add_argument("--library", default=str(LIBRARY), help="the FAISS library to compare with")
    ap.add_argument("--limit", type=int, default=0, help="at most this many questions per report")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args(argv)
    gold = load_all_gold()
    reports = list(dict.fromkeys(g["report"] for g in gold))
    if a.limit:
        gold = [g for r in reports for g in [x for x in gold if x["report"] == r][:a.limit]]
    faiss_qa = open_library(reports, Path(a.library))
    milvus_qa, add_seconds = open_milvus(a.store, reports)
    rows, lat = [], {"faiss": [], "milvus": []}
    for g in gold:
        answers = {}
        for name, qa in (("faiss", faiss_qa), ("milvus", milvus_qa)):
            t0 = time.perf_counter()
            answers[name] = qa.ask(g["question"], report=g["report"])
            lat[name].append((time.perf_counter() - t0) * 1000)
        f, m = answers["faiss"], answers["milvus"]
        rows.append({"id": g["id"], "report": g["report"], "lang": g["lang"], "question": g["question"],
                     "same_top1": _top(f) == _top(m), "same_answer": _answer(f) == _answer(m),
                     "faiss": f.text if f.found else "(declined)", "milvus": m.text if m.found else "(declined)"})
    n = len(rows)
    summary = {
        "store": "Milvus Lite" if a.store.endswith(".db") else "Milvus server",
        "questions": n, "reports": len(reports),
        "top1_agreement": sum(r["same_top1"] for r in rows) / n,
        "answer_agreement": sum(r["same_answer"] for r in rows) / n,
        "by_lang": {lang: {"n": len(rs), "top1": sum(r["same_top1"] for r in rs) / len(rs),
                           "answer": sum(r["same_answer"] for r in rs) / len(rs)}
                    for lang in ("zh", "en") for rs in [[r for r in rows if r["lang"] == lang]] if rs},
        "ask_ms": {k: {"p50": statistics.median(v), "p95": pct(v, 0.95)} for k, v in lat.items()},
        "milvus_add_s_per_report": statistics.mean(add_seconds) if add_seconds else None,
        "max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "milvus_eval.json").write_text(json.dumps({"summary": summary, "rows": rows}, ensure_ascii=False,
                                                     indent=1), encoding="utf-8")
    diffs = [r for r in rows if not (r["same_top1"] and r["same_answer"])]
    lines = [f"# FAISS vs {summary['store']}: the same answers?\n",
             f"{n} gold questions over {len(reports)} reports, each asked of its own report on both stores "
             "(`python -m eval.milvus_eval`).\n",
             "| | agreement |", "|---|---|",
             f"| top-1 passage | {summary['top1_agreement']:.3f} |",
             f"| answer (found, text, span) | {summary['answer_agreement']:.3f} |"]
    lines += [f"| {lang} ({s['n']}): top-1 / answer | {s['top1']:.3f} / {s['answer']:.3f} |"
              for lang, s in summary["by_lang"].items()]
    lines += ["", "| store | ask p50 ms | ask p95 ms |", "|---|---|---|"]
    lines += [f"| {k} | {v['p50']:.1f} | {v['p95']:.1f} |" for k, v in summary["ask_ms"].items()]
    lines += ["", "## Differences", ""]
    lines += [f"- {r['id']} {r['question']}: FAISS {r['faiss']!r} / Milvus {r['milvus']!r}" for r in diffs] or ["none"]
    (out / "milvus_eval.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[:12 + len(summary["by_lang"])]))
    print(f"\nwrote {out / 'milvus_eval.md'} and {out / 'milvus_eval.json'}")
    return 0 if summary["answer_agreement"] >= 0.98 else 1


if __name__ == "__main__":
    raise SystemExit(main())
