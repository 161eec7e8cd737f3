"""The gold set: where its reports are, loading its questions, the evaluation library, and scoring.

The gold set spans 11 reports: the bundled one (eval/gold.jsonl) and ten of the repository's
reports/ (eval/gold/*.jsonl, written from the report texts before the engine answered them).
`python -m eval.run` reports with these; tests/test_quality.py gates CI on them.  A chunk "hits"
when it contains a gold string; an answer is right when the short answer contains one; a citation
is right when its quote contains one (whitespace removed).  On unanswerable questions the right
outcome is found=False.
"""
from __future__ import annotations

import json
import re
import statistics
import time
from pathlib import Path

from qa import ReportQA
from qa.engine import BUNDLED_ID, BUNDLED_REPORT

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# The reports the gold set, the tests, the benchmarks and the README use, in the repository.
REPORTS = ROOT / "reports"
GOLD = HERE / "gold.jsonl"                 # the bundled report's questions
GOLD_DIR = HERE / "gold"                   # one file per report of reports/
# Questions on reports nothing was fitted on, written later from their text: answered with the
# shipped calibration (fitted on all 11 gold reports), as a user's new report would be.
FRESH_DIR = HERE / "fresh"
FRESH_LIBRARY = ROOT / "index" / "fresh-library"
LORO = HERE / "calibration_loro.json"
LIBRARY = ROOT / "index" / "eval-library"
# The bundled set's older category names, in the other sets' terms.
CATEGORY = {"result_2023": "result", "target_2024": "target", "plan_2024": "plan", "english": "descriptive"}
CATEGORIES = ["result", "target", "plan", "descriptive", "entity", "cover", "structure", "unanswerable"]
WARMUP = 5


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def contains_gold(text: str, answers: list[str]) -> bool:
    t = squash(text)
    return any(squash(a) in t for a in answers)


def load_gold(path: Path = GOLD) -> list[dict]:
    """One gold file; the bundled report's by default."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for r in rows:
        r.setdefault("report", BUNDLED_ID)
        r["category"] = "unanswerable" if not r["answers"] else CATEGORY.get(r["category"], r["category"])
    return rows


def load_all_gold() -> list[dict]:
    rows = load_gold(GOLD)
    for path in sorted(GOLD_DIR.glob("*.jsonl")):
        rows += load_gold(path)
    return rows


def report_file(report: str) -> Path:
    return BUNDLED_REPORT if report == BUNDLED_ID else REPORTS / f"{report}.txt"


def open_library(reports: list[str], root: Path = LIBRARY, model: str | None = None) -> ReportQA:
    """A library holding every gold report (built once, then reused)."""
    qa = ReportQA.load(library=root, model=model)
    have = {r.id for r in qa.reports()}
    for rid in reports:
        if rid not in have:
            added = qa.add(report_file(rid))
            assert added.id == rid, f"{report_file(rid)} was added as {added.id}, not {rid}"
    return qa


def load_loro(path: Path = LORO) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def score_one(qa: ReportQA, item: dict, mode: str, k: int = 5) -> dict:
    t0 = time.perf_counter()
    ans = qa.ask(item["question"], k=k, mode=mode, report=item["report"])
    latency = time.perf_counter() - t0
    gold = item["answers"]
    q = qa.question(item["question"])
    hit_rank = next((r for r, p in enumerate(ans.passages) if gold and contains_gold(p.text, gold)), None)
    return {
        "id": item["id"], "report": item["report"], "question": item["question"], "category": item["category"],
        "lang": item["lang"], "answerable": bool(gold), "figure": q.wants_figure or q.wants_amount, "gold": gold, "found": ans.found, "answer": ans.text,
        "confidence": round(ans.confidence, 4), "hit_rank": hit_rank, "message": ans.message,
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
            "mrr": mean(1 / (r["hit_rank"] + 1) if r["hit_rank"] is not None else 0 for r in ans),
            "answer_acc": mean(r["answer_ok"] for r in ans),
            "citation_acc": mean(r["citation_ok"] for r in ans),
            "false_abstain": mean(not r["found"] for r in ans),
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


def evaluate(qa: ReportQA, gold: list[dict], mode: str = "hybrid", loro: dict | None = None) -> dict:
    """Every question of `gold`, each report answered with the weights fitted without it (`loro`)."""
    qa.embedder.clear_cache()   # latency is measured on questions not seen before
    for item in gold[:WARMUP]:
        qa.ask(item["question"], mode=mode, report=item["report"])
    rows = []
    for report in dict.fromkeys(g["report"] for g in gold):
        qa.use_calibration((loro or {}).get(report))
        rows += [score_one(qa, item, mode) for item in gold if item["report"] == report]
    qa.use_calibration(None)
    return {"mode": mode, "held_out": bool(loro), "summary": summaries(rows), "rows": rows}


def summaries(rows: list[dict]) -> dict:
    groups = {"overall": rows, "zh": [r for r in rows if r["lang"] == "zh"],
              "en": [r for r in rows if r["lang"] == "en"],
              "unanswerable": [r for r in rows if not r["answerable"]]}
    for report in dict.fromkeys(r["report"] for r in rows):
        for lang in ("zh", "en"):
            groups[f"{report}.{lang}"] = [r for r in rows if r["report"] == report and r["lang"] == lang]
    others = [r for r in rows if r["report"] != BUNDLED_ID]
    groups.update({"bundled.zh": [r for r in rows if r["report"] == BUNDLED_ID and r["lang"] == "zh"],
                   "bundled.en": [r for r in rows if r["report"] == BUNDLED_ID and r["lang"] == "en"],
                   "others.zh": [r for r in others if r["lang"] == "zh"],
                   "others.en": [r for r in others if r["lang"] == "en"]})
    groups.update({f"category.{c}": [r for r in rows if r["category"] == c] for c in CATEGORIES})
    # What the key-figures table answers and declines: questions that ask for a figure.
    groups.update({"figure questions": [r for r in rows if r.get("figure") and r["answerable"]],
                   "figure near misses": [r for r in rows if r.get("figure") and not r["answerable"]]})
    return {g: summarise(rs) for g, rs in groups.items() if rs}


def fresh_gold() -> list[dict]:
    """The fresh questions (eval/fresh/), on reports nothing was fitted on."""
    return [row for path in sorted(FRESH_DIR.glob("*.jsonl")) for row in load_gold(path)]
