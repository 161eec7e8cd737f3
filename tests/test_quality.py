"""The quality gate: the full gold set through the same API users call, against eval/thresholds.json."""
import importlib.util
import json
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parent.parent / "eval"


def _load_eval():
    spec = importlib.util.spec_from_file_location("eval_run", EVAL / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def summary(qa):
    run = _load_eval()
    return run.evaluate(qa, run.load_gold(), "hybrid")["summary"]


GATES = json.loads((EVAL / "thresholds.json").read_text(encoding="utf-8"))["gates"]


@pytest.mark.parametrize("name", sorted(GATES))
def test_quality_does_not_regress(summary, name):
    group, metric = name.split(".", 1)
    value = summary[group][metric]
    assert value >= GATES[name]["min"], f"{name} = {value:.3f}, gate {GATES[name]['min']}"


def test_fusion_beats_each_side_alone(qa):
    run = _load_eval()
    gold = [g for g in run.load_gold() if g["lang"] == "zh" and g["answers"]]
    hit1 = {m: sum(run.contains_gold(qa.search(g["question"], k=1, mode=m)[0].text, g["answers"])
                   for g in gold) / len(gold) for m in ("bm25", "dense", "hybrid")}
    assert hit1["hybrid"] > hit1["bm25"] + 0.02 and hit1["hybrid"] > hit1["dense"] + 0.1, hit1


def test_gold_strings_occur_in_the_report(qa):
    run = _load_eval()
    text = run.squash(qa.text)
    for g in run.load_gold():
        for a in g["answers"]:
            assert run.squash(a) in text, (g["id"], a)
