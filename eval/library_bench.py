"""The library at scale: the bundled report and the 32 reports of reports/ in one library, through the public API.

    python -m qa add qa/data/henan-2024-government-work-report.txt reports/*.txt --library /tmp/lib33
    python -m eval.library_bench /tmp/lib33            # prints a markdown table; --json for the raw figures

Measures: ask latency over the whole library and with a report filter (the 614 gold questions,
medians of several runs), compare over every report, the serving process's memory, and a fresh
process's first answer (median of several fresh processes).  The add time per report comes from the
`add` run itself (its wall time over the reports added).
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from qa import ReportQA

from .gold import load_all_gold

RUNS = 3
FIRST_ANSWER = ("import time; t = time.perf_counter(); from qa import ReportQA; "
                "qa = ReportQA.load(library={lib!r}, progress=False); qa.ask('吉林2025年经济增长的预期目标是多少？'); "
                "print(time.perf_counter() - t)")


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p * (len(xs) - 1))))]


def ask_latencies(qa: ReportQA, gold: list[dict], scoped: bool) -> list[float]:
    qa.embedder.clear_cache()       # every run embeds its questions, as a user's new question is
    out = []
    for g in gold:
        t = time.perf_counter()
        qa.ask(g["question"], report=g["report"] if scoped else None)
        out.append((time.perf_counter() - t) * 1000)
    return out


def runs(fn, n: int = RUNS) -> dict:
    """p50 / p95 of each run, and their medians over the runs."""
    p50s, p95s = [], []
    for _ in range(n):
        xs = fn()
        p50s.append(statistics.median(xs))
        p95s.append(percentile(xs, 0.95))
    return {"p50_ms": statistics.median(p50s), "p95_ms": statistics.median(p95s),
            "p50_spread": [min(p50s), max(p50s)]}


def first_answer(lib: str, n: int = RUNS) -> dict:
    times = [float(subprocess.run([sys.executable, "-c", FIRST_ANSWER.format(lib=lib)], capture_output=True,
                                  text=True, check=True).stdout.strip().splitlines()[-1]) for _ in range(n)]
    return {"median_s": statistics.median(times), "spread": [min(times), max(times)]}


def measure(lib: str) -> dict:
    qa = ReportQA.load(library=lib, progress=False)
    gold = [g for g in load_all_gold() if g["report"] in {r.id for r in qa.reports()}]
    for g in gold[:10]:
        qa.ask(g["question"], report=g["report"])     # each report's first question builds its view
    out = {"reports": len(qa.reports()), "chunks": sum(r.chunks for r in qa.reports()), "questions": len(gold)}
    out["ask_all"] = runs(lambda: ask_latencies(qa, gold, scoped=False))
    out["ask_one_report"] = runs(lambda: ask_latencies(qa, gold, scoped=True))
    t = time.perf_counter()
    answers = qa.compare("经济增长的预期目标是多少？")
    out["compare_all_s"] = time.perf_counter() - t
    out["compare_found"] = sum(a.found for a in answers)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["first_answer"] = first_answer(lib)
    return out


def markdown(m: dict) -> str:
    rows = [("ask over all reports, p50 / p95", f"{m['ask_all']['p50_ms']:.1f} / {m['ask_all']['p95_ms']:.1f} ms"),
            ("ask with a report filter, p50 / p95",
             f"{m['ask_one_report']['p50_ms']:.1f} / {m['ask_one_report']['p95_ms']:.1f} ms"),
            (f"compare one question over all {m['reports']} reports",
             f"{m['compare_all_s']:.2f} s ({m['compare_found']} answered)"),
            ("serving process, peak resident memory", f"{m['peak_rss_mib']:.0f} MiB"),
            ("fresh process to first answer", f"{m['first_answer']['median_s']:.2f} s "
                                               f"({m['first_answer']['spread'][0]:.2f}-{m['first_answer']['spread'][1]:.2f})")]
    head = f"{m['reports']} reports, {m['chunks']} chunks, {m['questions']} gold questions; medians of {RUNS} runs\n\n"
    return head + "| | measured |\n|---|---|\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("library")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    m = measure(a.library)
    print(json.dumps(m, indent=1) if a.json else markdown(m))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
