"""What the page says when the engine declines: its words for the reason code, the engine's own
reason once and whole, on real answers of the real engine (the page's rendering, without a browser)."""
from qa.web.render import render_answer
from qa.web.shelf import Shelf


def test_a_question_with_nothing_to_follow_or_no_content_is_said_once(qa):
    shelf = Shelf(qa, 5)
    for question in ("那去年呢？", "然后呢"):
        html = render_answer(qa.ask(question), shelf, typed=question)
        assert html.count("please ask") + html.count("please type") <= 1, html
        assert "原因 Why" not in html


def test_the_engine_s_reason_keeps_its_own_brackets(library):
    """"its reports: henan-2024 (2024)" lost its last bracket to a strip of the outer pair."""
    shelf = Shelf(library, 5)
    ans = library.ask("河南2025年经济增长目标是多少？")
    assert ans.reason in ("year_not_covered", "place_not_in_library"), ans.reason
    html = render_answer(ans, shelf, typed=ans.question)
    assert "原因 Why:" in html and "henan-2024 (2024)" in html, html
