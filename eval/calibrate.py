"""Fit the answer step's two small logistic models, leave one report out, and write them.

    python -m eval.calibrate              # fit; write qa/ask/calibration.json and eval/calibration_loro.json
    python -m eval.calibrate --dry-run    # fit and report only

`rank` orders the candidate sentences of the retrieved passages (label: the
sentence contains a gold string); `accept` decides whether the best one answers
at all (label: the question is answerable); `right` says how often an answer
given with its signals is right, fitted on the held-out outcomes of the first
two (so the confidence shown is a probability of being right, not of the report
answering).  All are fitted per language from a handful of general signals
(qa/ask/features.py), never from individual questions, on the gold set and the
dev split of the trap sets (eval/traps/*-dev.jsonl: near misses, English, cover
and person questions on the same reports).  For every report, a fit on the
*other* reports' questions is kept in eval/calibration_loro.json: that is what
`python -m eval.run` answers each report with, so its figures are held out.  The
shipped calibration.json is fitted on all reports, for reports the project has
never seen; the test splits (eval/traps/*-test.jsonl, eval/dialogues/test/) are
on ten other reports and play no part.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass

import numpy as np

from qa import ReportQA
from qa.ask.extractor import CALIBRATION, FEATURES, ACCEPT_FEATURES, RIGHT, Calibrator, right_features
from qa.ask.features import accept_features
from qa.ask.verify import verify

from .gold import LORO, contains_gold, load_all_gold, open_library

RIDGE = 0.05
LANGS = ("zh", "en")
# The trap sets' dev split joins the gold set for fitting (their reports are gold reports, so a
# report's questions of either kind are left out of its own fit alike).
TRAINING_SETS = ("nearmiss", "english", "cover", "person")


def training_questions() -> list[dict]:
    """The gold set, the dev split of the trap sets that ask one report, and the second dev set's
    single questions (four more reports: eval/dev2/questions.jsonl)."""
    from .traps import DEV2, TRAPS, load_jsonl
    rows = load_all_gold()
    for name in TRAINING_SETS:
        rows += [dict(t, category=t["set"]) for t in load_jsonl(TRAPS / f"{name}-dev.jsonl") if t.get("report")]
    rows += [dict(t, category=t["kind"]) for t in load_jsonl(DEV2) if t["kind"] != "contentless"]
    return rows


def fit_logistic(X: np.ndarray, y: np.ndarray, ridge: float = RIDGE) -> np.ndarray:
    """L2-regularised logistic regression by Newton steps; the last weight is the bias."""
    X = np.c_[X, np.ones(len(X))]
    w = np.zeros(X.shape[1])
    reg = ridge * np.eye(X.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(X @ w, -30, 30)))
        grad = X.T @ (p - y) + reg @ w
        hess = (X * (p * (1 - p))[:, None]).T @ X + reg + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w


def as_weights(names: list[str], w: np.ndarray) -> dict:
    return {**{n: round(float(v), 4) for n, v in zip(names, w[:-1])}, "bias": round(float(w[-1]), 4)}


@dataclass
class Item:
    """One gold question: its candidates' signals and which candidates hold a gold string."""
    gold: dict
    question: object
    cands: list
    labels: list[bool]
    qa: object = None        # the library it was asked in (its view, verification, glossary)


def collect(qa: ReportQA, gold: list[dict]) -> list[Item]:
    items = []
    for g in gold:
        q = qa.question(g["question"])
        qvec, passages = qa.embedder.ranked(    # as ask() ranks: int8, close calls again in fp32
            q.text, lambda v, q=q, g=g: qa.retriever.retrieve(q, k=5, qvec=v, reports={g["report"]}))
        cands = qa.extractor.candidates(q, qvec, passages)
        labels = [bool(g["answers"]) and contains_gold(qa.extractor.view(c.report).sentence_text(c.sentence),
                                                        g["answers"]) for c in cands]
        items.append(Item(g, q, cands, labels, qa))
    return items


def ranked(item: Item, cal: Calibrator, lang: str) -> list[tuple[object, bool]]:
    for c in item.cands:
        c.score = cal.rank_score(lang, c.feats)
    return sorted(zip(item.cands, item.labels), key=lambda cl: -cl[0].score)


def accept_row(qa: ReportQA, item: Item, cal: Calibrator, lang: str) -> tuple[dict, bool, bool] | None:
    """The accept signals of the best candidate, whether it holds the gold, and whether it passes
    verification (an answer verify() rejects is declined whatever its confidence)."""
    order = ranked(item, cal, lang)
    if not order:
        return None
    best, ok = order[0]
    qa = item.qa or qa
    view = qa.extractor.view(best.report)
    a, b = qa.extractor.span(item.question, view, best.sentence)
    feats = accept_features(view, item.question, best, order[1][0] if len(order) > 1 else None,
                            view.doc.text[a:b], qa.index.glossary)
    return feats, ok, not verify(item.question, view, best.sentence, (a, b))


def fit(qa: ReportQA, items: list[Item], lang: str) -> dict:
    rows = [(c.feats, lab) for it in items if it.gold["answers"] for c, lab in zip(it.cands, it.labels)]
    X = np.array([[f[n] for n in FEATURES] for f, _ in rows])
    params = {"rank": as_weights(FEATURES, fit_logistic(X, np.array([lab for _, lab in rows], float))),
              "accept": {}, "threshold": 0.5}
    cal = Calibrator(params={lang: params})
    acc = [(accept_row(qa, it, cal, lang), bool(it.gold["answers"])) for it in items]
    acc = [(row[0], answerable) for row, answerable in acc if row is not None and row[2]]
    Xa = np.array([[f[n] for n in ACCEPT_FEATURES] for f, _ in acc])
    params["accept"] = as_weights(ACCEPT_FEATURES, fit_logistic(Xa, np.array([a for _, a in acc], float)))
    params["threshold"] = best_threshold(outcomes(qa, items, Calibrator(params={lang: params}), lang))
    return params


def outcomes(qa: ReportQA, items: list[Item], cal: Calibrator, lang: str) -> list[tuple[float, bool, bool]]:
    """(confidence, answerable, best sentence right) per question under `cal`."""
    out = []
    for it in items:
        row = accept_row(qa, it, cal, lang)
        if row is None:
            out.append((0.0, bool(it.gold["answers"]), False))
            continue
        out.append((cal.confidence(lang, row[0]) if row[2] else 0.0, bool(it.gold["answers"]), row[1]))
    return out


def right(outs, threshold: float) -> float:
    return float(np.mean([(c >= threshold and ok) if ans else c < threshold for c, ans, ok in outs]))


def best_threshold(outs) -> float:
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    scores = [right(outs, t) for t in grid]
    best = max(scores)
    # The middle of the best plateau is the least tuned to the exact set.
    ties = [t for t, s in zip(grid, scores) if s == best]
    return float(ties[len(ties) // 2])


def answered(qa: ReportQA, items: list[Item], cal: Calibrator, lang: str) -> list[tuple[dict, bool]]:
    """(right signals, right) for each question answered under `cal`: passed the threshold and
    verification, with the answer holding a gold string (an answer to a question that has none is
    wrong)."""
    out = []
    for it in items:
        row = accept_row(qa, it, cal, lang)
        if row is None or not row[2]:
            continue
        feats, ok, _ = row
        raw = cal.confidence(lang, feats)
        if raw >= cal.threshold(lang):
            out.append((right_features(raw, feats), bool(it.gold["answers"]) and ok))
    return out


def fit_right(rows: list[tuple[dict, bool]]) -> dict:
    X = np.array([[f[n] for n in RIGHT] for f, _ in rows])
    return as_weights(RIGHT, fit_logistic(X, np.array([r for _, r in rows], float)))


def reliability(pairs: list[tuple[float, bool]], bins=(0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01)) -> dict:
    """Brier score and, per band of confidence, how many answers and how often right."""
    out = {"answers": len(pairs), "brier": round(float(np.mean([(p - r) ** 2 for p, r in pairs])), 4) if pairs else None,
           "bands": []}
    for lo, hi in zip(bins, bins[1:]):
        band = [(p, r) for p, r in pairs if lo <= p < hi]
        if band:
            out["bands"].append({"from": lo, "to": min(hi, 1.0), "answers": len(band),
                                 "mean_confidence": round(float(np.mean([p for p, _ in band])), 4),
                                 "right": round(float(np.mean([r for _, r in band])), 4)})
    return out


def fit_all(qa: ReportQA, items: list[Item]) -> dict:
    return {lang: fit(qa, [it for it in items if it.gold["lang"] == lang], lang) for lang in LANGS}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    gold = training_questions()
    reports = list(dict.fromkeys(g["report"] for g in gold))
    # The gold set's reports in their own library, as eval.run asks them (BM25 weighs words over the
    # library); the second dev set's four in the dev library.
    from .traps import DEV2_REPORTS
    from .dialogues import LIBRARIES
    qa = open_library([r for r in reports if r not in DEV2_REPORTS])
    items = collect(qa, [g for g in gold if g["report"] not in DEV2_REPORTS])
    items += collect(open_library(list(DEV2_REPORTS), root=LIBRARIES["dev"]),
                     [g for g in gold if g["report"] in DEV2_REPORTS])
    loro, held = {}, {lang: [] for lang in LANGS}
    outcome = {lang: {} for lang in LANGS}        # report -> its answers' right signals under its own fold
    for report in reports:
        params = loro[report] = fit_all(qa, [it for it in items if it.gold["report"] != report])
        for lang in LANGS:
            mine = [it for it in items if it.gold["report"] == report and it.gold["lang"] == lang]
            outs = outcomes(qa, mine, Calibrator(params=params), lang)
            held[lang] += [right([o], params[lang]["threshold"]) for o in outs]
            outcome[lang][report] = answered(qa, mine, Calibrator(params=params), lang)
    # How often an answer is right, fitted on every report's held-out outcomes; each fold's right
    # model leaves that report's outcomes out too, so its confidences are held out twice over.
    shown = {lang: [] for lang in LANGS}
    for report in reports:
        for lang in LANGS:
            others = [r for rep, rows in outcome[lang].items() if rep != report for r in rows]
            loro[report][lang]["right"] = fit_right(others)
            cal = Calibrator(params=loro[report])
            shown[lang] += [(1 / (1 + np.exp(-sum(cal.params[lang]["right"].get(k, 0) * v for k, v in f.items())
                                                 - cal.params[lang]["right"]["bias"])), ok)
                            for f, ok in outcome[lang][report]]
    shipped = fit_all(qa, items)
    for lang in LANGS:
        shipped[lang]["right"] = fit_right([r for rows in outcome[lang].values() for r in rows])
        mine = [it for it in items if it.gold["lang"] == lang]
        in_sample = right(outcomes(qa, mine, Calibrator(params=shipped), lang), shipped[lang]["threshold"])
        held_out = float(np.mean(held[lang]))
        shipped[lang]["measured"] = {"questions": len(mine), "reports": len(reports),
                                     "right_in_sample": round(in_sample, 4),
                                     "right_leave_one_report_out": round(held_out, 4),
                                     "confidence_held_out": reliability(shown[lang])}
        print(lang, json.dumps(shipped[lang]["measured"]))
    shipped = {"model": qa.embedder.model_id,
               "fitted_on": "eval/gold.jsonl + eval/gold/*.jsonl + eval/traps/{" + ",".join(TRAINING_SETS) + "}-dev.jsonl",
               **shipped}
    if not a.dry_run:
        CALIBRATION.write_text(json.dumps(shipped, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        LORO.write_text(json.dumps(loro, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print("wrote", CALIBRATION, "and", LORO)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
