#!/usr/bin/env python3
"""Score the engine on the gold questions through the same ReportQA API users call.

    python eval/run.py                      # hybrid, writes eval/report.md, eval/results.json, eval/metrics.png
    python eval/run.py --mode all           # bm25, dense and hybrid side by side
    python eval/run.py --model PATH_OR_NAME # another sentence-transformers model

A chunk "hits" when it contains a gold string; an answer is right when the
short answer contains one; a citation is right when its quote contains one
(all compared with whitespace removed).  On unanswerable questions the right
outcome is found=False.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from qa import ReportQA  # noqa: E402
from qa.ask.retriever import MODES  # noqa: E402

GOLD = HERE / "gold.jsonl"
CATEGORIES = ["result_2023", "target_2024", "plan_2024", "descriptive", "entity", "english", "unanswerable"]
WARMUP = 5


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def contains_gold(text: str, answers: list[str]) -> bool:
    t = squash(text)
    return any(squash(a) in t for a in answers)


def load_gold(path: Path = GOLD) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def score_one(qa: ReportQA, item: dict, mode: str, k: int = 5) -> dict:
    t0 = time.perf_counter()
    ans = qa.ask(item["question"], k=k, mode=mode)
    latency = time.perf_counter() - t0
    gold = item["answers"]
    hit_rank = next((r for r, p in enumerate(ans.passages) if gold and contains_gold(p.text, gold)), None)
    return {
        "id": item["id"], "question": item["question"], "category": item["category"], "lang": item["lang"],
        "answerable": bool(gold), "gold": gold, "found": ans.found, "answer": ans.text,
        "confidence": round(ans.confidence, 4), "hit_rank": hit_rank,
        "answer_ok": (ans.found and contains_gold(ans.text, gold)) if gold else not ans.found,
        "citation_ok": bool(gold) and ans.found and contains_gold(ans.citations[0].quote, gold),
        "quote": ans.citations[0].quote if ans.citations else "",
        "top_passage": ans.passages[0].text if ans.passages else "",
        "latency_ms": latency * 1000,
    }


def mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def summarise(rows: list[dict]) -> dict:
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]
    abstained = [r for r in rows if not r["found"]]
    lat = sorted(r["latency_ms"] for r in rows)
    out = {"n": len(rows), "answerable": len(ans)}
    if ans:
        out.update({
            "hit@1": mean(r["hit_rank"] == 0 for r in ans),
            "hit@3": mean(r["hit_rank"] is not None and r["hit_rank"] < 3 for r in ans),
            "hit@5": mean(r["hit_rank"] is not None and r["hit_rank"] < 5 for r in ans),
            "mrr": mean(1 / (r["hit_rank"] + 1) if r["hit_rank"] is not None else 0 for r in ans),
            "answer_acc": mean(r["answer_ok"] for r in ans),
            "citation_acc": mean(r["citation_ok"] for r in ans),
            "answer_chars": mean(len(r["answer"]) for r in ans if r["found"]),
        })
    if una:
        out["abstain_recall"] = mean(not r["found"] for r in una)
        out["abstain_precision"] = (sum(not r["answerable"] for r in abstained) / len(abstained)
                                    if abstained else float("nan"))
    out["overall_acc"] = mean(r["answer_ok"] for r in rows)
    if lat:
        out["p50_ms"] = statistics.median(lat)
        out["p95_ms"] = lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))]
    return out


def evaluate(qa: ReportQA, gold: list[dict], mode: str = "hybrid") -> dict:
    qa.embedder.clear_cache()   # latency is measured on questions not seen before
    for item in gold[:WARMUP]:
        qa.ask(item["question"], mode=mode)
    rows = [score_one(qa, item, mode) for item in gold]
    groups = {"overall": rows, "zh": [r for r in rows if r["lang"] == "zh"],
              "en": [r for r in rows if r["lang"] == "en"]}
    groups.update({c: [r for r in rows if r["category"] == c] for c in CATEGORIES})
    return {"mode": mode, "summary": {g: summarise(rs) for g, rs in groups.items() if rs}, "rows": rows}


COLUMNS = [("n", "n", "{:d}"), ("hit@1", "hit@1", "{:.3f}"), ("hit@3", "hit@3", "{:.3f}"),
           ("hit@5", "hit@5", "{:.3f}"), ("mrr", "MRR", "{:.3f}"), ("answer_acc", "answer", "{:.3f}"),
           ("citation_acc", "citation", "{:.3f}"), ("abstain_precision", "abst. P", "{:.3f}"),
           ("abstain_recall", "abst. R", "{:.3f}"), ("overall_acc", "all right", "{:.3f}"),
           ("answer_chars", "ans. chars", "{:.1f}"), ("p50_ms", "p50 ms", "{:.1f}"), ("p95_ms", "p95 ms", "{:.1f}")]


def table(result: dict) -> str:
    head = "| group | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for group, s in result["summary"].items():
        cells = [fmt.format(s[key]) if key in s else "" for key, _, fmt in COLUMNS]
        lines.append(f"| {group} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def misses(result: dict) -> str:
    out = []
    for r in result["rows"]:
        if r["answer_ok"]:
            continue
        gold = " / ".join(r["gold"]) or "(not in the report)"
        out.append(f"- **{r['id']}** [{r['category']}] {r['question']}\n"
                   f"  - gold: {gold}; found={r['found']} conf={r['confidence']:.2f} hit rank={r['hit_rank']}\n"
                   f"  - answer: {r['answer'] or '—'}\n"
                   f"  - top passage: {r['top_passage'][:120]}")
    return "\n".join(out) or "none"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = CATEGORIES
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.5))
    for ax, metric, title in ((axes[0], "hit@1", "top-1 chunk hit"), (axes[1], "answer_acc", "answer accuracy")):
        width = 0.8 / len(results)
        for j, res in enumerate(results):
            vals = [res["summary"].get(g, {}).get(metric if g != "unanswerable" else "abstain_recall", 0)
                    for g in groups]
            ax.bar([i + j * width for i in range(len(groups))], vals, width, label=res["mode"])
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(groups))], groups, rotation=30, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(title + " (unanswerable: abstention recall)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(results: list[dict], model_id: str, out: Path, seconds: float) -> None:
    parts = [f"# Evaluation\n\nGold set: `eval/gold.jsonl` ({results[0]['summary']['overall']['n']} questions). "
             f"Model: `{model_id}`. Run took {seconds:.0f} s. Produced by `python eval/run.py`.\n"]
    for res in results:
        parts.append(f"## Mode: {res['mode']}\n\n{table(res)}\n")
    parts.append("![metrics per category and mode](metrics.png)\n")
    for res in results:
        parts.append(f"## Misses ({res['mode']})\n\n{misses(res)}\n")
    (out / "report.md").write_text("\n".join(parts), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate report-qa on the gold questions.")
    ap.add_argument("--mode", default="hybrid", choices=list(MODES) + ["all"])
    ap.add_argument("--model", default=None, help="a sentence-transformers name or path (default: e5-small)")
    ap.add_argument("--index-dir", default=None, help="index directory for this model")
    ap.add_argument("--gold", default=str(GOLD))
    ap.add_argument("--out", default=str(HERE), help="where report.md, results.json and metrics.png go")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    qa = ReportQA.load(model=a.model, index_dir=a.index_dir)
    gold = load_gold(Path(a.gold))
    modes = list(MODES[::-1]) if a.mode == "all" else [a.mode]
    results = [evaluate(qa, gold, m) for m in modes]
    for res in results:
        print(f"\nmode: {res['mode']}\n{table(res)}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"model": qa.embedder.model_id, "results": results}, ensure_ascii=False, indent=1), encoding="utf-8")
    plot(results, out / "metrics.png")
    write_report(results, qa.embedder.model_id, out, time.perf_counter() - t0)
    print(f"\nwrote {out / 'report.md'}, {out / 'results.json'}, {out / 'metrics.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
