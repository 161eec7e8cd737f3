"""The quality gate, against eval/thresholds.json: the held-out figures of `python -m eval.run` (11
reports, each answered with answer-step weights fitted without it), and of the conversation and trap
sets' test split (ten reports nothing was fitted or shaped on)."""
import json
from pathlib import Path

import pytest

from eval.gold import contains_gold, evaluate, load_all_gold, load_gold, load_loro, open_library, report_file, squash

THRESHOLDS = json.loads((Path(__file__).resolve().parent.parent / "eval" / "thresholds.json")
                        .read_text(encoding="utf-8"))
GATES = THRESHOLDS["gates"]


@pytest.fixture(scope="module")
def gold():
    return load_all_gold()


@pytest.fixture(scope="module")
def summary(gold):
    qa = open_library(list(dict.fromkeys(g["report"] for g in gold)))
    return evaluate(qa, gold, "hybrid", load_loro())["summary"]


@pytest.mark.parametrize("name", sorted(GATES))
def test_held_out_quality_does_not_regress(summary, name):
    group, metric = name.rsplit(".", 1)
    value = summary[group][metric]
    gate = GATES[name]
    ok = value <= gate["max"] if "max" in gate else value >= gate["min"]
    assert ok, f"{name} = {value:.3f}, gate {gate}"


def test_fusion_beats_each_side_alone(qa):
    gold = [g for g in load_gold() if g["lang"] == "zh" and g["answers"]]
    hit1 = {m: sum(contains_gold(qa.search(g["question"], k=1, mode=m)[0].text, g["answers"])
                   for g in gold) / len(gold) for m in ("bm25", "dense", "hybrid")}
    assert hit1["hybrid"] > hit1["bm25"] + 0.02 and hit1["hybrid"] > hit1["dense"] + 0.1, hit1


def test_gold_strings_occur_in_their_reports(gold):
    texts = {}
    for g in gold:
        if g["report"] not in texts:
            texts[g["report"]] = squash(report_file(g["report"]).read_text(encoding="utf-8"))
        for a in g["answers"]:
            assert squash(a) in texts[g["report"]], (g["id"], a)


def test_the_gold_set_spans_eleven_reports_with_english_and_near_misses(gold):
    reports = {g["report"] for g in gold}
    assert len(reports) == 11 and sum(r.startswith("national") for r in reports) >= 2
    for r in reports - {"henan-2024"}:
        mine = [g for g in gold if g["report"] == r]
        assert len(mine) >= 25 and sum(g["lang"] == "en" for g in mine) * 3 >= len(mine)
        assert sum(not g["answers"] for g in mine) >= 5


@pytest.fixture(scope="module")
def dialogue_summary():
    """The test split's dialogues, on ten reports nothing was fitted or shaped on."""
    from eval import dialogues
    held = dialogues.load_dialogues("test")
    qa = open_library(dialogues.reports_of(held), root=dialogues.LIBRARIES["test"])
    return dialogues.evaluate(qa, held, load_loro())["summary"]


@pytest.fixture(scope="module")
def trap_summary():
    """The test split's trap sets and unscoped questions, on the same ten reports."""
    from eval import dialogues, traps
    held, unscoped = traps.load_traps("test"), traps.load_unscoped("test")
    library = traps.reports_of(held, unscoped)
    qa = open_library(library, root=dialogues.LIBRARIES["test"])
    return traps.evaluate(qa, held, unscoped, library, load_loro())["summary"]


@pytest.mark.parametrize("name", sorted(THRESHOLDS["dialogue_gates"]))
def test_held_out_conversations_do_not_regress(dialogue_summary, name):
    value, gate = dialogue_summary[name]["right"], THRESHOLDS["dialogue_gates"][name]
    assert value >= gate["min"], f"{name} = {value:.3f}, gate {gate}"


@pytest.mark.parametrize("name", sorted(THRESHOLDS["trap_gates"]))
def test_held_out_traps_do_not_regress(trap_summary, name):
    group, measure = name.split(".", 1)
    value, gate = trap_summary[group][measure]["right"], THRESHOLDS["trap_gates"][name]
    assert value >= gate["min"], f"{name} = {value:.3f}, gate {gate}"


def test_gold_strings_of_dialogues_and_traps_occur_in_their_reports():
    from eval import dialogues, traps
    rows = [(t["report"], a) for split in ("dev", "test") for d in dialogues.load_dialogues(split)
            for t in d["turns"] if t.get("report") for a in t["answers"]]
    rows += [(t["report"], a) for split in ("dev", "test") for t in traps.load_traps(split) if t.get("report")
             for a in t["answers"]]
    rows += [(rid, a) for split in ("dev", "test") for u in traps.load_unscoped(split)
             for rid, answers in u["answers"].items() for a in answers]
    texts = {}
    for rid, answer in rows:
        if rid not in texts:
            texts[rid] = squash(report_file(rid).read_text(encoding="utf-8"))
        assert squash(answer) in texts[rid], (rid, answer)
