"""What a question asks for, parsed once, and the answers that follow from it on real reports:
cover and structure questions, verification of near misses, and a library that answers a question
naming a place and year from that report."""
import pytest

HENAN, JILIN, NATIONAL = "henan-2024", "jilin-2025", "national-2025"


def test_the_question_is_parsed_once_with_what_it_asks_for(library):
    q = library.question("What GDP growth target did Henan set for 2024?")
    assert q.lang == "en" and [r.code for r in q.regions] == ["henan"] and q.explicit_years == {2024}
    assert "gdp_growth" in [c.key for c in q.concepts] and "经济" in q.search_words
    q = library.question("今年固投预计增长多少？")
    assert q.relative_years == {0} and q.years(2025) == {2025} and q.years(2024) == {2024}
    assert "固定资产投资" in q.search_words or {"固定资产", "投资"} <= set(q.search_words)
    assert library.question("森林覆盖率是多少？").quantity == "rate"
    assert library.question("2023年河南进出口总额是多少？").quantity == "money"
    assert library.question("How many tourists visited Jilin?").quantity == "count"
    assert library.question("河南要实施什么工程？").tense_years == {0}


@pytest.mark.parametrize("question, report, span", [
    ("谁作的政府工作报告？", HENAN, "王凯"),
    ("报告是哪天作的？", HENAN, "2024 年 1 月 28 日"),
    ("这份报告是在什么会议上作的？", HENAN, "河南省第十四届人民代表大会第二次会议"),
    ("Who delivered Jilin's government work report?", JILIN, "胡玉亭"),
    ("第二部分讲什么？", HENAN, "二、2024年工作总体要求和主要目标"),
    ("What is part three of the report about?", JILIN, "三、锲而不舍加强政府自身建设"),
    ("What is section (七) of this year's government tasks about?", NATIONAL, "深入推进乡村全面振兴"),
])
def test_cover_and_structure_questions_are_answered_from_the_cover_and_headings(library, question, report, span):
    ans = library.ask(question, report=report)
    assert ans.found and span in ans.text, ans.text
    c = ans.citations[0]
    assert library.text_of(report)[c.start:c.end] == c.quote and span in c.quote


def test_a_report_without_a_cover_says_it_does_not_name_its_speaker(library):
    ans = library.ask("Who delivered this report?", report=NATIONAL)
    assert not ans.found and "does not say" in ans.message


@pytest.mark.parametrize("question, report, why", [
    ("2023年河南进出口总额是多少？", HENAN, "no amount of money"),       # only a count of firms is given
    ("What was Henan's total GDP in 2023, in yuan?", HENAN, "no amount of money"),   # only its growth
    ("What was Zhengzhou city's GDP growth in 2023?", HENAN, "not about 郑州"),        # the province's, not the city's
    ("2024年吉林森林覆盖率是多少？", JILIN, ""),                             # never stated
    ("2023年吉林粮食产量是多少？", JILIN, ""),                               # a year the report does not review
])
def test_near_misses_are_declined_not_answered_with_the_nearest_figure(library, question, report, why):
    ans = library.ask(question, report=report)
    assert not ans.found, ans.text
    assert why in ans.message and ans.passages, "the closest passages still come back, labelled as such"


def test_a_question_naming_a_place_and_year_is_answered_from_that_report(library):
    ans = library.ask("吉林2025年经济增长的预期目标是多少？")
    assert ans.found and ans.report == JILIN and "5.5％左右" in ans.text
    ans = library.ask("What was Henan's GDP growth in 2023?")
    assert ans.found and ans.report == HENAN and "4.1%" in ans.text


def test_a_plan_question_is_answered_from_the_plan_not_the_review(library):
    ans = library.ask("为改善入黄河水质，河南要实施什么工程？", report=HENAN)
    assert ans.found and "清水入黄河" in ans.text


def test_a_huge_question_is_refused_without_being_walked_or_echoed(library):
    from qa.errors import QuestionError
    with pytest.raises(QuestionError) as e:
        library.ask("问" * 10_000_000)
    assert len(str(e.value)) < 200 and "10,000,000" in str(e.value)


@pytest.mark.parametrize("nonsense", ["12345", "😀😀😀", "弲雛嘓溦崗赪螈該纗棟娃豲", "asdf qwer", "？？？", "hello"])
def test_nonsense_is_declined(library, nonsense):
    assert not library.ask(nonsense, report=HENAN).found
