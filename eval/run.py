"""Score the engine on the gold questions, held out, through the same ReportQA API users call.

    python -m eval.run                       # hybrid, held out per report; writes eval/out/
    python -m eval.run --publish             # also rewrite the tracked eval/report.md, results.json, metrics.png
    python -m eval.run --mode all            # bm25, dense and hybrid side by side
    python -m eval.run --separate            # also each report in a library of its own (library vs one index each)
    python -m eval.run --fresh               # the fresh questions on reports nothing was fitted on (eval/fresh/)

The gold set (eval/gold.py) spans 11 reports: the bundled one (eval/gold.jsonl) and ten of
reports/ (eval/gold/*.jsonl, written from the report texts before the engine answered them).
Every report is asked in one library, with the question scoped to its report, and
answered with answer-step weights fitted on the *other* reports
(eval/calibration_loro.json, made by `python -m eval.calibrate`): the figures are
held out.  A chunk "hits" when it contains a gold string; an answer is right when
the short answer contains one; a citation is right when its quote contains one
(whitespace removed).  On unanswerable questions the right outcome is found=False.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from qa import ReportQA
from qa.ask.retriever import MODES

from .gold import (FRESH_DIR, FRESH_LIBRARY, LIBRARY, evaluate, fresh_gold, load_all_gold, load_loro,
                   mean, open_library, report_file, summaries)

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"                         # untracked; --publish writes the tracked report


COLUMNS = [("n", "n", "{:d}"), ("hit@1", "hit@1", "{:.3f}"), ("hit@3", "hit@3", "{:.3f}"),
           ("answer_acc", "answer", "{:.3f}"), ("citation_acc", "citation", "{:.3f}"),
           ("false_abstain", "declined (answerable)", "{:.3f}"), ("abstain_recall", "declined (near miss)", "{:.3f}"),
           ("abstain_precision", "abst. P", "{:.3f}"), ("overall_acc", "all right", "{:.3f}"),
           ("answer_chars", "ans. chars", "{:.1f}"), ("p50_ms", "p50 ms", "{:.1f}")]


def table(result: dict, groups: list[str] | None = None) -> str:
    head = "| group | " + " | ".join(c[1] for c in COLUMNS) + " |"
    lines = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for group, s in result["summary"].items():
        if groups is not None and group not in groups:
            continue
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
                   f"  - answer: {r['answer'] or '—'} {r['message'][-80:] if not r['found'] else ''}\n"
                   f"  - top passage: {r['top_passage'][:120]}")
    return "\n".join(out) or "none"


def plot(results: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    res = results[-1]
    reports = [g[:-3] for g in res["summary"] if g.endswith(".zh") and g.count(".") == 1
               and g.split(".")[0] not in ("bundled", "others", "overall")]
    fig, ax = plt.subplots(figsize=(13, 4.5))
    width = 0.27
    for j, (metric, label) in enumerate((("zh", "Chinese answers"), ("en", "English answers"))):
        vals = [res["summary"].get(f"{r}.{metric}", {}).get("answer_acc", 0) for r in reports]
        ax.bar([i + j * width for i in range(len(reports))], vals, width, label=label)
    una = [mean(not x["found"] for x in res["rows"] if x["report"] == r and not x["answerable"]) for r in reports]
    ax.bar([i + 2 * width for i in range(len(reports))], una, width, label="near misses declined")
    ax.set_xticks([i + width for i in range(len(reports))], reports, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title(f"held-out answers per report ({res['mode']})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(results: list[dict], model_id: str, out: Path, seconds: float, extra: str = "") -> None:
    n = results[0]["summary"]["overall"]["n"]
    reports = sorted({r["report"] for r in results[0]["rows"]})
    parts = [f"# Evaluation\n\nGold set: {n} questions over {len(reports)} reports ({', '.join(reports)}): "
             f"`eval/gold.jsonl` and `eval/gold/*.jsonl`. Model: `{model_id}`. Run took {seconds:.0f} s. "
             "Produced by `python -m eval.run --publish`.\n\n"
             "Every figure is **held out**: each report's questions are answered with answer-step weights "
             "fitted on the other reports' questions only (leave one report out, `eval/calibration_loro.json`). "
             "All reports sit in one library; each question is asked of its own report.\n"]
    for res in results:
        groups = ["overall", "zh", "en", "bundled.zh", "bundled.en", "others.zh", "others.en", "unanswerable",
                  "figure questions", "figure near misses"]
        parts.append(f"## Mode: {res['mode']}\n\n{table(res, groups)}\n")
    res = results[-1]
    per_report = [g for g in res["summary"] if g.count(".") == 1 and g.split(".")[0] in reports]
    parts.append(f"## Per report and language ({res['mode']})\n\n{table(res, per_report)}\n")
    cats = [g for g in res["summary"] if g.startswith("category.")]
    parts.append(f"## Per kind of question ({res['mode']})\n\n{table(res, cats)}\n")
    parts.append(extra)
    parts.append("![held-out answers per report](metrics.png)\n")
    parts.append(f"## Misses ({res['mode']})\n\n{misses(res)}\n")
    (out / "report.md").write_text("\n".join(parts), encoding="utf-8")


def trust_sections(res: dict) -> str:
    """The conversation and trap sets (test split, then dev), and how far the confidence shown can be
    trusted: per band of confidence, how often the answers given were right, held out."""
    from . import dialogues, traps
    from .calibrate import reliability
    parts, given = [], {"gold set (held out per report)": [(r["confidence"], r["answer_ok"])
                                                         for r in res["rows"] if r["found"]]}
    for split in ("test", "dev"):
        for module in (dialogues, traps):
            text, _, answered = module.section(split)
            parts.append(text)
            if split == "test":
                given[f"{module.__name__.split('.')[-1]}, test split"] = answered
    rows = ["| answers | n | Brier | " + " | ".join(f"≥{lo:g}" for lo in (0.5, 0.7, 0.9, 0.95)) + " |",
            "|---|---|---|---|---|---|---|"]
    for name, pairs in given.items():
        rel = reliability(pairs)
        cells = []
        for lo in (0.5, 0.7, 0.9, 0.95):
            band = [ok for p, ok in pairs if p >= lo]
            cells.append(f"{sum(band) / len(band):.3f} of {len(band)}" if band else "—")
        rows.append(f"| {name} | {rel['answers']} | {rel['brier']} | " + " | ".join(cells) + " |")
    bands = reliability([p for pairs in given.values() for p in pairs])["bands"]
    curve = ["| confidence | answers | mean confidence | right |", "|---|---|---|---|"] + \
        [f"| {b['from']:g}–{b['to']:g} | {b['answers']} | {b['mean_confidence']:.3f} | {b['right']:.3f} |" for b in bands]
    parts.append("## How far the confidence can be trusted\n\nThe confidence shown with an answer is the probability "
                 "that it is right, fitted on held-out outcomes (`python -m eval.calibrate`). Of the answers given "
                 "at or above each confidence, the share that was right (none of these questions played a part in "
                 "fitting what answered them):\n\n" + "\n".join(rows) +
                 "\n\nThe reliability curve over all of them:\n\n" + "\n".join(curve) + "\n")
    return "\n".join(parts)


def separate(gold: list[dict], mode: str, loro: dict, model: str | None = None) -> dict:
    """Each report in a library of its own (ReportQA.load(report=...)), for comparison with one library."""
    rows = []
    for report in dict.fromkeys(g["report"] for g in gold):
        qa = ReportQA.load(report=report_file(report), model=model, progress=False)
        rows += evaluate(qa, [g for g in gold if g["report"] == report], mode, loro)["rows"]
    return {"mode": mode, "held_out": bool(loro), "summary": summaries(rows), "rows": rows}


def library_vs_separate(together: dict, apart: dict) -> str:
    """Per report and language: answer accuracy in one library against one library each."""
    lines = ["| report | answers, one library | answers, a library each | near misses declined, one / each |",
             "|---|---|---|---|"]
    for group in together["summary"]:
        if group.count(".") == 1 and group.split(".")[0] not in ("bundled", "others", "category", "overall"):
            a, b = together["summary"][group], apart["summary"].get(group, {})
            una = [r for r in together["rows"] if f"{r['report']}.{r['lang']}" == group and not r["answerable"]]
            una_b = [r for r in apart["rows"] if f"{r['report']}.{r['lang']}" == group and not r["answerable"]]
            lines.append(f"| {group} | {a.get('answer_acc', float('nan')):.3f} | {b.get('answer_acc', float('nan')):.3f}"
                         f" | {mean(not r['found'] for r in una):.2f} / {mean(not r['found'] for r in una_b):.2f} |")
    return "\n".join(lines)


def fresh(a) -> int:
    """The fresh questions, in a library of their reports, with the shipped calibration."""
    gold = fresh_gold()
    if not gold:
        raise SystemExit(f"no fresh questions in {FRESH_DIR}")
    qa = open_library(list(dict.fromkeys(g["report"] for g in gold)), FRESH_LIBRARY, a.model)
    res = evaluate(qa, gold, a.mode if a.mode != "all" else "hybrid")
    groups = ["overall", "zh", "en", "unanswerable", "figure questions", "figure near misses"] + \
        [g for g in res["summary"] if g.startswith("category.") or g.count(".") == 1 and "-" in g]
    report = (f"# Fresh questions\n\n{len(gold)} questions on {len(set(g['report'] for g in gold))} reports "
              "that no weight, threshold or rule was fitted on (`eval/fresh/`), written from the report text "
              "before the engine answered them; answered with the shipped calibration. Produced by "
              f"`python -m eval.run --fresh`.\n\n{table(res, groups)}\n\n## Misses\n\n{misses(res)}\n")
    out = HERE if a.publish else Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fresh.md").write_text(report, encoding="utf-8")
    print(table(res, groups))
    print(f"\nwrote {out / 'fresh.md'}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Evaluate report-qa on the gold questions, held out per report.")
    ap.add_argument("--mode", default="hybrid", choices=list(MODES) + ["all"])
    ap.add_argument("--model", default=None, help="a sentence-transformers name or path (default: e5-small)")
    ap.add_argument("--library", default=str(LIBRARY), help="where the evaluation library is kept")
    ap.add_argument("--publish", action="store_true", help="rewrite the tracked eval/report.md and friends")
    ap.add_argument("--out", default=str(OUT), help="where report.md, results.json and metrics.png go")
    ap.add_argument("--separate", action="store_true", help="also each report in a library of its own")
    ap.add_argument("--fresh", action="store_true",
                    help="only the fresh questions (eval/fresh/) on reports nothing was fitted on")
    a = ap.parse_args(argv)
    if a.fresh:
        return fresh(a)
    t0 = time.perf_counter()
    gold = load_all_gold()
    qa = open_library(list(dict.fromkeys(g["report"] for g in gold)), Path(a.library), a.model)
    loro = load_loro()
    modes = list(MODES[::-1]) if a.mode == "all" else [a.mode]
    results = [evaluate(qa, gold, m, loro) for m in modes]
    for res in results:
        print(f"\nmode: {res['mode']}\n{table(res, ['overall', 'zh', 'en', 'bundled.zh', 'bundled.en', 'others.zh', 'others.en', 'unanswerable'])}")
    from .figures_eval import key_figures_section
    extra = key_figures_section() + trust_sections(results[-1])
    if a.separate:
        apart = separate(gold, results[-1]["mode"], loro, a.model)
        extra += ("## One library or a library each\n\nThe same questions, each report in a library of its own "
                  f"(`ReportQA.load(report=...)`):\n\n{library_vs_separate(results[-1], apart)}\n")
    out = HERE if a.publish else Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(
        {"model": qa.embedder.model_id, "results": results}, ensure_ascii=False, indent=1), encoding="utf-8")
    plot(results, out / "metrics.png")
    write_report(results, qa.embedder.model_id, out, time.perf_counter() - t0, extra)
    print(f"\nwrote {out / 'report.md'}, {out / 'results.json'}, {out / 'metrics.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
