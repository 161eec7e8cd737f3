"""Score the questions people really type, and the traps a careless system falls into.

    python -m eval.traps                  # the test split (reports nothing was shaped on)
    python -m eval.traps --split dev      # the dev split (the rules were shaped on it)
    python -m eval.traps --show           # every miss

Sets (eval/traps/<set>-<split>.jsonl, eval/unscoped/<split>.jsonl), written from the report texts
before the engine answered them:
    contentless   filler, greetings, bare interrogatives ("然后呢", "Tell me more"): always declined
    cover         the cover and frame lines answer only questions about the report itself
    person        people and offices: named in the report, or not
    near_miss     a neighbouring figure nearly answers (another year or kind, another measured thing,
                  another unit, an indicator never quantified), each paired with the question it does answer
    english       English as news reports phrase it
    unscoped      a question naming no report, in a library of several: each report's answer must be
                  among Answer and Answer.others, and never one report's answer alone
A question with gold answers is right when the answer contains one and quotes the report asked; one
whose answers are [] is right when it is declined.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from qa import ReportQA

from .dialogues import LIBRARIES
from .gold import contains_gold, load_loro, mean, open_library
from .run import OUT

HERE = Path(__file__).resolve().parent
TRAPS = HERE / "traps"
UNSCOPED = HERE / "unscoped"
# A second dev set on four more reports (chongqing, gansu, jiangxi 2025; national 2018): questions of
# every kind, near misses and content-less ones among them; scored with the dev split.
DEV2 = HERE / "dev2" / "questions.jsonl"
DEV2_REPORTS = ("chongqing-2025", "gansu-2025", "jiangxi-2025", "national-2018")
SETS = ("contentless", "cover", "person", "near_miss", "english")
SCORED = SETS + ("dev2",)
FILES = {"contentless": "contentless", "cover": "cover", "person": "person", "near_miss": "nearmiss",
         "english": "english"}


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def load_traps(split: str) -> list[dict]:
    rows = [row for s in SETS for row in load_jsonl(TRAPS / f"{FILES[s]}-{split}.jsonl")]
    if split == "dev":
        rows += [dict(t, set="dev2") for t in load_jsonl(DEV2)]
    return rows


def load_unscoped(split: str) -> list[dict]:
    return load_jsonl(UNSCOPED / f"{split}.jsonl")


def reports_of(traps: list[dict], unscoped: list[dict]) -> list[str]:
    return list(dict.fromkeys([t["report"] for t in traps if t.get("report")] +
                              [r for u in unscoped for r in u["library"]]))


def score_trap(qa: ReportQA, t: dict, library: list[str]) -> dict:
    ans = qa.ask(t["question"], report=t["report"] or library)
    gold = t["answers"]
    right = (ans.found and contains_gold(ans.text, gold) and (not t["report"] or ans.report == t["report"])) \
        if gold else not ans.found
    return {"id": t["id"], "set": t["set"], "kind": t["kind"], "lang": t["lang"], "report": t["report"],
            "question": t["question"], "gold": gold, "found": ans.found, "answer": ans.text,
            "answer_report": ans.report, "confidence": round(ans.confidence, 4), "reason": ans.reason,
            "message": ans.message, "right": bool(right)}


def score_unscoped(qa: ReportQA, u: dict) -> dict:
    ans = qa.ask(u["question"], report=u["library"])
    by_report = {a.report: a for a in [ans] + ans.others if a.report}
    cells = []
    for rid, gold in u["answers"].items():
        a = by_report.get(rid)
        found = bool(a and a.found)
        cells.append({"report": rid, "stated": bool(gold), "found": found,
                      "right": (found and contains_gold(a.text, gold)) if gold else not found,
                      "answer": a.text if a else ""})
    return {"id": u["id"], "lang": u["lang"], "question": u["question"], "cells": cells,
            "all_shown": set(ans.scope) == set(u["library"]) and len(by_report) == len(u["library"]),
            "lead": ans.report, "lead_found": ans.found}


def summarise(rows: list[dict], unscoped: list[dict]) -> dict:
    def rate(rs, key="right"):
        return {"n": len(rs), "right": mean(r[key] for r in rs)}
    out = {}
    for s in SCORED:
        mine = [r for r in rows if r["set"] == s]
        if not mine:
            continue
        pos, neg = [r for r in mine if r["gold"]], [r for r in mine if not r["gold"]]
        out[s] = {"all": rate(mine), "answerable right": rate(pos), "declines right": rate(neg),
                  "answerable declined": {"n": len(pos), "right": mean(not r["found"] for r in pos)},
                  "zh": rate([r for r in mine if r["lang"] == "zh"]), "en": rate([r for r in mine if r["lang"] == "en"])}
        kinds = defaultdict(list)
        for r in mine:
            kinds[r["kind"]].append(r)
        out[s]["by kind"] = {k: rate(rs) for k, rs in sorted(kinds.items())}
    cells = [c for u in unscoped for c in u["cells"]]
    if unscoped:
        stated = [c for c in cells if c["stated"]]
        out["unscoped"] = {"questions": {"n": len(unscoped), "right": mean(u["all_shown"] for u in unscoped)},
                           "stated answers found": rate(stated),
                           "not stated, declined": rate([c for c in cells if not c["stated"]]),
                           "zh": rate([c for u in unscoped if u["lang"] == "zh" for c in u["cells"] if c["stated"]]),
                           "en": rate([c for u in unscoped if u["lang"] == "en" for c in u["cells"] if c["stated"]])}
    return out


def evaluate(qa: ReportQA, traps: list[dict], unscoped: list[dict], library: list[str],
             loro: dict | None = None) -> dict:
    """Each question asked with the answer step fitted without its report, where there is such a
    fit (the dev split's reports are in the fit; the test split's never are)."""
    rows = []
    for report in dict.fromkeys(t["report"] for t in traps):
        qa.use_calibration((loro or {}).get(report))
        rows += [score_trap(qa, t, library) for t in traps if t["report"] == report]
    qa.use_calibration(None)
    un = [score_unscoped(qa, u) for u in unscoped]
    return {"summary": summarise(rows, un), "rows": rows, "unscoped": un}


def table(summary: dict) -> str:
    lines = ["| set | measure | n | rate |", "|---|---|---|---|"]
    for s, measures in summary.items():
        for name, v in measures.items():
            if name == "by kind":
                lines += [f"| {s} | kind {k} | {x['n']} | {x['right']:.3f} |" for k, x in v.items()]
            else:
                lines.append(f"| {s} | {name} | {v['n']} | {v['right']:.3f} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--show", action="store_true", help="print every miss")
    a = ap.parse_args(argv)
    traps, unscoped = load_traps(a.split), load_unscoped(a.split)
    library = reports_of(traps, unscoped)
    qa = open_library(library, root=LIBRARIES[a.split])
    result = evaluate(qa, traps, unscoped, library, load_loro())
    OUT.mkdir(exist_ok=True)
    (OUT / f"traps-{a.split}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if a.show:
        for r in result["rows"]:
            if not r["right"]:
                print(f"XX {r['set']}/{r['kind']} {r['report']} {r['question']}\n      = {r['answer'] or '(' + r['reason'] + ')'}"
                      f" [{r['confidence']}]  gold {r['gold'][:2]}")
        for u in result["unscoped"]:
            for c in u["cells"]:
                if not c["right"]:
                    print(f"XX unscoped {u['id']} {c['report']} {u['question']} = {c['answer']!r} stated={c['stated']}")
    print(table(result["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def section(split: str = "test") -> tuple[str, dict, list[tuple[float, bool]]]:
    """eval/report.md's part for the trap sets and unscoped questions of a split, its summary, and
    every answer given as (confidence, right) for the reliability table."""
    traps, unscoped = load_traps(split), load_unscoped(split)
    library = reports_of(traps, unscoped)
    from .dialogues import LIBRARIES
    qa = open_library(library, root=LIBRARIES[split])
    result = evaluate(qa, traps, unscoped, library, load_loro())
    OUT.mkdir(exist_ok=True)
    (OUT / f"traps-{split}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    given = [(r["confidence"], r["right"]) for r in result["rows"] if r["found"]]
    text = (f"## Questions people type, and traps ({split} split)\n\n"
            f"`python -m eval.traps --split {split}`: {len(traps)} questions and {len(unscoped)} questions that "
            "name no report, written from the report texts before the engine answered them"
            + (", on ten reports nothing was fitted or shaped on" if split == "test" else "") + ". "
            "*answerable right*: the answer holds a gold string; *declines right*: a question the report does "
            "not answer is declined; for unscoped questions, *stated answers found*: each report that states "
            "it has its answer among `Answer` and `Answer.others`.\n\n" + table(result["summary"]) + "\n")
    return text, result["summary"], given
