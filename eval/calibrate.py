#!/usr/bin/env python3
"""Fit the answer step's two small logistic models on the gold set and write qa/ask/calibration.json.

    python eval/calibrate.py            # fit, report 5-fold cross-validated figures, write
    python eval/calibrate.py --dry-run  # fit and report only

`rank` orders the candidate sentences of the retrieved passages (label: the
sentence contains a gold string); `accept` decides whether the best one
answers at all (label: the question is answerable).  Both are fitted per
language from a handful of general signals, never from individual questions;
the cross-validated figures show how much of the fit carries to unseen ones.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from run import contains_gold, load_gold  # noqa: E402

from qa import ReportQA  # noqa: E402
from qa.ask.extractor import ACCEPT_FEATURES, CALIBRATION, FEATURES
from qa.language.segmenter import is_chinese  # noqa: E402

RIDGE = 0.05
FOLDS = 5


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


def collect(qa: ReportQA, gold: list[dict]) -> list[dict]:
    """Per question: its candidates' features and which of them hold a gold string."""
    items = []
    for g in gold:
        qvec = qa.embedder.query(g["question"])
        passages = qa.retriever.retrieve(g["question"], k=5, qvec=qvec)
        cands = qa.extractor.candidates(qa.extractor.question(g["question"]), qvec, passages)
        labels = [bool(g["answers"]) and contains_gold(qa.extractor.sentence_text(c.sentence), g["answers"])
                  for c in cands]
        items.append({"gold": g, "cands": cands, "labels": labels,
                      "lang": "zh" if is_chinese(g["question"]) else "en"})
    return items


def fit_lang(qa: ReportQA, items: list[dict], lang: str) -> dict:
    rows = [(c.feats, lab) for it in items for c, lab in zip(it["cands"], it["labels"])
            if it["gold"]["answers"]]
    X = np.array([[f[n] for n in FEATURES] for f, _ in rows])
    rank = as_weights(FEATURES, fit_logistic(X, np.array([lab for _, lab in rows], float)))
    params = {"rank": rank, "accept": {}, "threshold": 0.5}
    qa.extractor.calibrator.params[lang] = params
    acc = [qa.extractor.accept_features(qa.extractor.question(it["gold"]["question"]), _rescore(qa, it, lang))
           for it in items]
    Xa = np.array([[a[n] for n in ACCEPT_FEATURES] for a in acc])
    ya = np.array([bool(it["gold"]["answers"]) for it in items], float)
    params["accept"] = as_weights(ACCEPT_FEATURES, fit_logistic(Xa, ya))
    params["threshold"] = best_threshold(qa, items, lang)
    return params


def _rescore(qa: ReportQA, item: dict, lang: str):
    for c in item["cands"]:
        c.score = qa.extractor.calibrator.rank_score(lang, c.feats)
    order = sorted(range(len(item["cands"])), key=lambda i: -item["cands"][i].score)
    item["cands"] = [item["cands"][i] for i in order]
    item["labels"] = [item["labels"][i] for i in order]
    return item["cands"]


def outcomes(qa: ReportQA, items: list[dict], lang: str) -> list[tuple[float, bool, bool]]:
    """(confidence, answerable, best sentence right) per question under the current params."""
    out = []
    for it in items:
        cands = _rescore(qa, it, lang)
        q = qa.extractor.question(it["gold"]["question"])
        conf = qa.extractor.calibrator.confidence(lang, qa.extractor.accept_features(q, cands))
        out.append((conf, bool(it["gold"]["answers"]), bool(it["labels"] and it["labels"][0])))
    return out


def right(outs, threshold: float) -> float:
    return float(np.mean([(c >= threshold and ok) if ans else c < threshold for c, ans, ok in outs]))


def best_threshold(qa: ReportQA, items: list[dict], lang: str) -> float:
    outs = outcomes(qa, items, lang)
    grid = np.round(np.arange(0.05, 0.96, 0.01), 2)
    scores = [right(outs, t) for t in grid]
    best = max(scores)
    # The middle of the best plateau is the least tuned to the exact set.
    ties = [t for t, s in zip(grid, scores) if s == best]
    return float(ties[len(ties) // 2])


def cross_validate(qa: ReportQA, items: list[dict], lang: str) -> float:
    rng = np.random.default_rng(0)
    folds = np.array_split(rng.permutation(len(items)), FOLDS)
    scores = []
    for f in folds:
        test = set(f.tolist())
        fit_lang(qa, [it for i, it in enumerate(items) if i not in test], lang)
        held = [it for i, it in enumerate(items) if i in test]
        scores.append(right(outcomes(qa, held, lang), qa.extractor.calibrator.threshold(lang)) * len(held))
    return sum(scores) / len(items)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args(argv)
    qa = ReportQA.load()
    items = collect(qa, load_gold())
    out = {"model": qa.embedder.model_id, "fitted_on": "eval/gold.jsonl"}
    for lang in ("zh", "en"):
        mine = [it for it in items if it["lang"] == lang]
        cv = cross_validate(qa, mine, lang)
        params = fit_lang(qa, mine, lang)
        params["measured"] = {"questions": len(mine), "right_in_sample": round(right(outcomes(qa, mine, lang),
                              params["threshold"]), 4), "right_5fold_cv": round(cv, 4)}
        out[lang] = params
        print(lang, json.dumps(params, ensure_ascii=False))
    if not a.dry_run:
        CALIBRATION.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print("wrote", CALIBRATION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
