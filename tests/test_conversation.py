"""Conversations: follow-ups resolved from the turns before, through the public API and the CLI, on
the real reports and the real model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _turns(chat, questions):
    return [chat.ask(q) for q in questions]


def test_the_issues_chain_on_the_bundled_report(qa):
    """The chain a new user tried: each follow-up is understood, shown and answered, or declined."""
    target, year, last, jobless, grain, its = _turns(qa.chat(), [
        "2024年经济增长的预期目标是多少？", "那2023年实际增长了多少？", "那去年呢？", "失业率呢？",
        "And the grain output?", "它的目标是多少？"])
    assert target.found and "5.5%" in target.text and not target.carried
    assert year.carried and "2023" in year.resolved and "经济增长" in year.resolved
    assert year.found and "4.1%" in year.text
    assert last.found and "4.1%" in last.text and "去年" in last.resolved
    # The report gives unemployment only as 2024's target: last year's is not stated.
    assert jobless.carried and "失业率" in jobless.resolved and not jobless.found
    assert grain.carried and "粮食产量" in grain.resolved and grain.found and "1324.9" in grain.text
    # A target asked of "it" is this year's: 粮食产量 1300亿斤以上.
    assert its.carried and "粮食产量" in its.resolved and its.found and "1300亿斤以上" in its.text


@pytest.mark.parametrize("first, follow_up, carried, answer", [
    ("2024年经济增长的预期目标是多少？", "城镇新增就业呢？", "城镇新增就业", "110万人以上"),       # indicator
    ("2023年技术合同成交额增长了多少？", "那发明专利授权量呢？", "发明专利授权量", "20.3%"),     # indicator, kept year
    ("城镇调查失业率的预期目标是多少？", "What about grain output?", "粮食产量", "1300亿斤以上"),  # across languages
    ("第三部分讲的是什么？", "那（四）呢？", "第三部分（四）", "乡村振兴"),                      # section of that part
    ("谁作的报告？", "When?", "哪天", "1 月 28 日"),                                        # cover
    # A rate after a growth target is asked as its level, not its growth ("失业率增长"):
    ("2024年经济增长的预期目标是多少？", "失业率呢？", "2024年失业率的预期目标", "5.5%左右"),
    ("2024年经济增长的预期目标是多少？", "研发经费投入强度呢？", "研发经费投入强度的预期目标", "2.1%"),
])
def test_each_kind_of_follow_up_is_carried_and_answered(qa, first, follow_up, carried, answer):
    chat = qa.chat()
    chat.ask(first)
    ans = chat.ask(follow_up)
    assert ans.carried and carried in ans.resolved, ans.resolved
    assert ans.found and answer in ans.text, (ans.resolved, ans.text)
    assert ans.to_dict()["resolved"] == ans.resolved


def test_planned_and_actual_flip_to_the_year_of_their_kind(qa):
    chat = qa.chat()
    chat.ask("2024年经济增长的预期目标是多少？")
    actual = chat.ask("实际呢？")
    assert actual.carried and "实际" in actual.resolved and actual.found and "4.1%" in actual.text
    target = chat.ask("目标呢？")
    assert target.carried and "目标" in target.resolved and target.found and "5.5%" in target.text


def test_a_complete_question_after_a_chain_takes_nothing(qa):
    chat = qa.chat()
    _turns(chat, ["2023年生产总值增长了多少？", "那发明专利授权量呢？"])
    shift = chat.ask("今年城镇新增就业目标是多少？")
    assert not shift.carried and shift.found and "110万人以上" in shift.text


@pytest.mark.parametrize("question", ["那去年呢？", "失业率呢？", "And Sichuan?", "它的目标是多少？", "What about the target?"])
def test_a_follow_up_with_nothing_before_it_is_declined(qa, question):
    ans = qa.ask(question)
    assert not ans.found and ans.reason == "orphan_follow_up" and "whole question" in ans.message


@pytest.mark.parametrize("question", ["然后呢", "多少？", "ok", "Tell me more", "谢谢", "？？"])
def test_a_question_with_no_content_is_declined_with_or_without_history(qa, question):
    alone = qa.ask(question)
    after = qa.ask(question, history=["2024年经济增长的预期目标是多少？"])
    for ans in (alone, after):
        assert not ans.found and ans.reason == "no_content" and not ans.passages


def test_history_as_strings_or_answers_gives_the_same_answer(qa):
    first = qa.ask("2024年经济增长的预期目标是多少？")
    by_string = qa.ask("那去年呢？", history=["2024年经济增长的预期目标是多少？"])
    by_answer = qa.ask("那去年呢？", history=[first])
    assert by_string.to_dict() == by_answer.to_dict()
    with pytest.raises(Exception) as e:
        qa.ask("那去年呢？", history=[42])
    assert getattr(e.value, "code", "") == "bad_history"


def test_reset_forgets_the_conversation(qa):
    chat = qa.chat()
    chat.ask("2024年经济增长的预期目标是多少？")
    chat.reset()
    assert chat.ask("那去年呢？").reason == "orphan_follow_up"


def test_in_a_library_a_follow_up_moves_between_reports_by_place(library):
    chat = library.chat()
    zhejiang, jilin, hebei = _turns(chat, ["浙江2025年经济增长的预期目标是多少？", "吉林呢？", "And Hebei?"])
    assert zhejiang.scope == ["zhejiang-2025"] and "5.5%左右" in zhejiang.text
    assert jilin.scope == ["jilin-2025"] and jilin.report == "jilin-2025" and "5.5％左右" in jilin.text
    assert hebei.scope == ["hebei-2025"] and hebei.report == "hebei-2025" and "5%以上" in hebei.text
    # A question after them that names no place stays with the report of the turn before.
    jobs = chat.ask("城镇新增就业目标是多少？")
    assert jobs.scope == ["hebei-2025"] and "86万人" in jobs.text and "河北" in jobs.resolved


def test_a_question_naming_no_report_shows_every_reports_answer(library):
    ids = ["henan-2024", "jilin-2025", "zhejiang-2025", "national-2025"]
    ans = library.ask("经济增长的预期目标是多少？", report=ids)
    shown = {a.report: a for a in [ans] + ans.others}
    assert set(ans.scope) == set(ids) == set(shown) and len(ans.others) == 3
    assert "5.5%" in shown["henan-2024"].text and "5%左右" in shown["national-2025"].text
    assert ans.found and ans.confidence >= max(o.confidence for o in ans.others if o.found)
    assert [o["report"] for o in ans.to_dict()["others"]] == [o.report for o in ans.others]
    # A follow-up naming a place narrows to that report.
    narrowed = library.ask("浙江呢？", report=ids, history=[ans])
    assert narrowed.scope == ["zhejiang-2025"] and not narrowed.others and "5.5%左右" in narrowed.text


def test_a_place_or_year_the_library_lacks_is_declined_with_the_reason(library):
    ans = library.ask("江苏2025年经济增长目标是多少？")
    assert not ans.found and ans.reason == "place_not_in_library" and "江苏" in ans.message
    ans = library.ask("2019年浙江经济增长目标是多少？")
    assert not ans.found and ans.reason == "year_not_covered"


def _cli(*args, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "qa", *args], input=stdin, capture_output=True, text=True,
                          encoding="utf-8", cwd=ROOT, env=env, timeout=600)


def test_cli_chat_json_answers_each_line_as_one_conversation(qa):
    proc = _cli("chat", "--json", stdin="2024年经济增长的预期目标是多少？\n那去年呢？\n\n然后呢\n/reset\n那去年呢？\n")
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(line) for line in proc.stdout.splitlines()]      # stdout is JSON lines only
    assert [a["reason"] for a in answers] == ["", "", "no_content", "orphan_follow_up"]
    assert answers[1]["resolved"] != answers[1]["question"] and "4.1%" in answers[1]["text"]


def test_cli_ask_with_history_shows_what_it_understood(qa):
    proc = _cli("ask", "失业率呢？", "--history", "2024年经济增长的预期目标是多少？")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("理解为 Understood as: 2024年失业率") and "5.5%左右" in proc.stdout
    proc = _cli("ask", "那去年呢？", "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["reason"] == "orphan_follow_up"


def test_an_english_follow_up_that_flips_planned_and_actual_keeps_the_place(library):
    chat = library.chat()
    chat.ask("What is Zhejiang's GDP growth target for 2025?")
    ans = chat.ask("And last year's actual growth?")
    assert "Zhejiang" in ans.resolved, ans.resolved
    assert ans.found and ans.report == "zhejiang-2025" and "5.5%" in ans.text, (ans.report, ans.text)
