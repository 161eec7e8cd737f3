"""Score conversations: follow-up questions resolved from the turns before, through qa.chat().

    python -m eval.dialogues                 # the test split (reports nothing was shaped on)
    python -m eval.dialogues --split dev     # the dev split (the rules were shaped on it)
    python -m eval.dialogues --show          # every turn, as understood and answered

Each dialogue (eval/dialogues/<split>/*.jsonl) is asked turn by turn as a chat limited to its
reports (`qa.chat(report=[...])`): one report, or several that follow-ups move between by place.
A turn with gold answers is right when the answer contains one (and quotes the report named); a turn
whose answers are [] is right when it is declined.  Every turn but the first and topic shifts must
show the standalone question it was understood as (`Answer.resolved` differs from what was typed).
The gold was written from the report texts before the engine answered it.
"""
from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from qa import ReportQA

from .gold import contains_gold, load_loro, mean, open_library
from .run import OUT

HERE = Path(__file__).resolve().parent
DIALOGUES = HERE / "dialogues"
# The dev split's reports (six gold reports and four more) and the test split's, each in a library of
# its own: the gold set's library holds its eleven reports only, as its figures were measured.
LIBRARIES = {"dev": HERE.parent / "index" / "dev-library", "test": HERE.parent / "index" / "heldout-library"}
KINDS = ["first", "year", "place", "indicator", "planned_actual", "section", "pronoun", "shift", "decline", "orphan"]
# Kinds that follow up on the turn before: the answer must show what it was understood as.
FOLLOW_UPS = {"year", "place", "indicator", "planned_actual", "section", "pronoun"}


def load_dialogues(split: str) -> list[dict]:
    rows = []
    for path in sorted((DIALOGUES / split).glob("*.jsonl")):
        rows += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows


def reports_of(dialogues: list[dict]) -> list[str]:
    return list(dict.fromkeys(r for d in dialogues for r in d["library"]))


def run_dialogue(qa: ReportQA, d: dict) -> list[dict]:
    chat = qa.chat(report=d["library"])
    out = []
    for i, t in enumerate(d["turns"]):
        ans = chat.ask(t["q"])
        gold = t["answers"]
        right = (ans.found and contains_gold(ans.text, gold) and (not t.get("report") or ans.report == t["report"])) \
            if gold else not ans.found
        out.append({"dialogue": d["id"], "turn": i, "lang": _lang(t["q"]), "kind": t["kind"], "question": t["q"],
                    "expected": t.get("resolved", ""), "resolved": ans.resolved, "carried": ans.carried,
                    "gold": gold, "found": ans.found, "answer": ans.text, "report": ans.report,
                    "reason": ans.reason, "confidence": round(ans.confidence, 4), "right": bool(right)})
    return out


def _lang(text: str) -> str:
    return "zh" if sum("\u4e00" <= ch <= "\u9fff" for ch in text) >= 2 else "en"


def summarise(rows: list[dict]) -> dict:
    def rate(rs):
        return {"n": len(rs), "right": mean(r["right"] for r in rs)}
    follow = [r for r in rows if r["kind"] in FOLLOW_UPS]
    out = {"turns": rate(rows), "follow-ups": rate(follow),
           "follow-ups zh": rate([r for r in follow if r["lang"] == "zh"]),
           "follow-ups en": rate([r for r in follow if r["lang"] == "en"]),
           "topic shifts": rate([r for r in rows if r["kind"] == "shift"]),
           "declines": rate([r for r in rows if r["kind"] in ("decline", "orphan")]),
           "first turns": rate([r for r in rows if r["kind"] == "first"]),
           "resolved shown on follow-ups": {"n": len(follow), "right": mean(r["carried"] for r in follow)}}
    by_kind = defaultdict(list)
    for r in rows:
        by_kind[(r["kind"], r["lang"])].append(r)
    out["by kind"] = {f"{k} {lang}": rate(rs) for (k, lang), rs in sorted(by_kind.items(),
                                                                          key=lambda kv: (KINDS.index(kv[0][0]), kv[0][1]))}
    return out


def evaluate(qa: ReportQA, dialogues: list[dict], loro: dict | None = None) -> dict:
    """Each dialogue of one report asked with the answer step fitted without that report, where there
    is such a fit (the dev split's reports are in the fit; the test split's never are)."""
    rows = []
    for d in dialogues:
        qa.use_calibration((loro or {}).get(d["library"][0]) if len(d["library"]) == 1 else None)
        rows += run_dialogue(qa, d)
    qa.use_calibration(None)
    return {"summary": summarise(rows), "rows": rows}


def table(summary: dict) -> str:
    lines = ["| | turns | right |", "|---|---|---|"]
    for name, v in summary.items():
        if name != "by kind":
            lines.append(f"| {name} | {v['n']} | {v['right']:.3f} |")
    lines += ["", "| kind | turns | right |", "|---|---|---|"]
    lines += [f"| {name} | {v['n']} | {v['right']:.3f} |" for name, v in summary["by kind"].items()]
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("dev", "test"), default="test")
    ap.add_argument("--show", action="store_true", help="print every turn")
    a = ap.parse_args(argv)
    dialogues = load_dialogues(a.split)
    qa = open_library(reports_of(dialogues), root=LIBRARIES[a.split])
    result = evaluate(qa, dialogues, load_loro())
    OUT.mkdir(exist_ok=True)
    (OUT / f"dialogues-{a.split}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    if a.show:
        for r in result["rows"]:
            mark = "ok " if r["right"] else "XX "
            print(f"{mark}{r['dialogue']}#{r['turn']} {r['kind']:<14} {r['question']}\n      -> {r['resolved']}\n"
                  f"      = {r['answer'] or '(' + r['reason'] + ')'}   gold {r['gold'][:2]}")
    print(table(result["summary"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def section(split: str = "test") -> tuple[str, dict, list[tuple[float, bool]]]:
    """eval/report.md's part for the dialogues of a split, its summary, and every answer given as
    (confidence, right) for the reliability table."""
    dialogues = load_dialogues(split)
    qa = open_library(reports_of(dialogues), root=LIBRARIES[split])
    result = evaluate(qa, dialogues, load_loro())
    OUT.mkdir(exist_ok=True)
    (OUT / f"dialogues-{split}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    given = [(r["confidence"], r["right"]) for r in result["rows"] if r["found"]]
    turns = sum(len(d["turns"]) for d in dialogues)
    text = (f"## Conversations ({split} split)\n\n`python -m eval.dialogues --split {split}`: {len(dialogues)} "
            f"dialogues, {turns} turns, over {len(reports_of(dialogues))} reports"
            + (" nothing was fitted or shaped on" if split == "test" else "") + ", written from the report "
            "texts before the engine answered them. A follow-up is right when its answer holds a gold string "
            "of the report named (or it is declined when the report does not say); *resolved shown*: the "
            "answer says what the follow-up was understood as.\n\n" + table(result["summary"]) + "\n")
    return text, result["summary"], given
