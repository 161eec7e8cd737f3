"""The web chat (app.py), end to end: a real server process, a real browser, real API clients.

One app.py subprocess serves the whole module (the first start may build the index, so the
wait is generous).  The browser is the system Chromium driven by Playwright; screenshots go
to tests/artifacts/ (git-ignored).  Set UPDATE_SCREENSHOT=1 to also refresh docs/screenshot.png.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
DOCS_SCREENSHOT = ROOT / "docs" / "screenshot.png"
# The system Chromium (browsers cannot be downloaded here); REPORT_QA_CHROMIUM names another one.
CHROMIUM = os.environ.get("REPORT_QA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
DESKTOP, PHONE = (1366, 900), (390, 844)
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
START_TIMEOUT = 180
ANSWER_TIMEOUT = 60_000      # ms, Playwright: an answer takes 1-3 s; 30 s ran out once on a 2-core machine
                             # that other work kept busy, right after a PDF upload

TECH_Q = "技术合同成交额增长了多少？"
TECH_SPAN = "33.4%"
TECH_SECTION = "（二）创新能力明显提升"
ENGLISH_Q = "What is the 2024 economic growth target?"
UNANSWERABLE_Q = "2024年河南省常住人口是多少？"
XSS_IMG = '<img src=x onerror="window.__xss=1;alert(1)">'
XSS_SCRIPT = "<script>window.__xss=2;alert(2)</script>"

# Distinct questions whose answers were checked against ReportQA.ask: question -> text the answer
# span must contain.  Several answers look alike (5.5% / 5.5%左右, 7% twice), so each expected
# text carries its own keyword and a mixed-up reply cannot pass.
KNOWN = {
    "2024年经济增长的预期目标是多少？": "经济增长 5.5%",
    "研发经费投入强度目标是多少？": "研发经费投入强度 2.1%",
    "规上工业增加值增长目标是多少？": "规上工业增加值增长 6.5%",
    "固定资产投资增长目标是多少？": "固定资产投资增长 7%",
    "2024年社会消费品零售总额增长目标是多少？": "社会消费品零售总额增长 7%",
    "一般公共预算收入增长目标是多少？": "一般公共预算收入增长 5%",
    "城镇调查失业率目标是多少？": "城镇调查失业率 5.5%左右",
    "2024年城镇新增就业目标是多少？": "110万人",
    "居民消费价格涨幅目标是多少？": "居民消费价格涨幅 3%左右",
    "2024年粮食产量目标是多少？": "1300亿斤",
    "单位生产总值能耗下降目标是多少？": "能耗下降 3%以上",
    "2023年全年生产总值增长多少？": "生产总值增长 4.1%",
    "2023年工业投资增长多少？": "工业投资增长 8.9%",
    "2023年技改投资增长了多少？": "技改投资增长 17.4%",
    "居民人均可支配收入增长多少？": "可支配收入增长 6.1%",
    "2023年粮食产量是多少？": "1324.9",
    "经营主体有多少户？": "1094万户",
    TECH_Q: "技术合同成交额增长 33.4%",
    "发明专利授权量增长了多少？": "发明专利授权量增长 20.3%",
    "战略性新兴产业增加值增长多少？": "战略性新兴产业增加值增长 10.3%",
    "高技术制造业增加值增长多少？": "高技术制造业增加值增长 11.7%",
    "整车产量是多少？": "100万辆",
    "国家级创新平台有多少家？": "172家",
    "全国重点实验室有多少家？": "13 家",
}


# ------------------------------------------------------------------ fixtures

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_app(*args: str, log_name: str = "app.log", port: int | None = None):
    """app.py with `args` on `port` (else a free one), once it says Ready and serves the page; stopped after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    log_path = ARTIFACTS / log_name
    log = open(log_path, "w")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), *args], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"app.py exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() - started > START_TIMEOUT:
                pytest.fail(f"app.py not ready after {START_TIMEOUT} s:\n{log_path.read_text()[-3000:]}")
            if "Ready:" in log_path.read_text():
                try:
                    with urllib.request.urlopen(url + "/", timeout=5) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
            time.sleep(0.5)
        yield SimpleNamespace(url=url, port=port, log=log_path, startup=time.monotonic() - started, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


@pytest.fixture(scope="module")
def server():
    with running_app() as app:
        yield app


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server.url + "/", verbose=False)


@pytest.fixture(scope="module")
def chromium():
    """The browser tests need a Chromium on this machine: without one they skip, saying how to get it."""
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"browser tests need Chromium at {CHROMIUM}: apt-get install chromium "
                    "(or set REPORT_QA_CHROMIUM to a Chromium binary)")
    return CHROMIUM


@pytest.fixture(scope="module")
def browser(chromium, server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


# Whether CJK text in an element is drawn with real glyphs: two different characters drawn in the
# element's own font give different pixels, where tofu (the missing-glyph box) gives the same ones.
TOFU_JS = """(el) => {
  const chars = [...new Set([...el.textContent].filter(c => /[\\u4e00-\\u9fff]/.test(c)))].slice(0, 2);
  if (chars.length < 2) return null;
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 64;
  const ctx = canvas.getContext('2d');
  ctx.font = `40px ${getComputedStyle(el).fontFamily}`;
  const draw = c => { ctx.clearRect(0, 0, 64, 64); ctx.fillText(c, 4, 48);
                      return ctx.getImageData(0, 0, 64, 64).data.join(','); };
  return draw(chars[0]) === draw(chars[1]);
}"""
# Every aria-label on the page: a label is plain text, never markup or escaped markup.
ARIA_LABELS_JS = "() => [...document.querySelectorAll('[aria-label]')].map(e => e.getAttribute('aria-label'))"
REPLY = "#qa-chat .qa-reply:not(.qa-pending)"


def axe_violations(page) -> list:
    """axe-core's WCAG 2.x A/AA violations on the page as it is now (contrast, roles, labels)."""
    import axe_playwright_python
    page.evaluate((Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text())
    found = page.evaluate("axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})")
    return [(v["id"], [n["target"] for n in v["nodes"]][:5]) for v in found["violations"]]


def in_view(page, selector: str) -> bool:
    """`selector`'s element is inside the viewport and nothing covers its middle."""
    return page.evaluate("""(sel) => {
      const e = document.querySelector(sel);
      if (!e) return false;
      const r = e.getBoundingClientRect();
      if (r.top < 0 || r.bottom > innerHeight || r.left < 0 || r.right > innerWidth || !r.height) return false;
      const hit = document.elementFromPoint(r.left + Math.min(r.width, 40) / 2, r.top + r.height / 2);
      return !!hit && (hit === e || e.contains(hit) || hit.contains(e));
    }""", selector)


class Chat:
    """One browser tab on the app, recording every dialog the page tries to open."""

    def __init__(self, browser, url, viewport=DESKTOP, page=None):
        self.page = page or browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.url = url
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.open()
        self.replies = self.page.locator(REPLY)

    def open(self):
        self.page.goto(self.url + "/")
        self.box = self.page.locator("#qa-question textarea")
        self.box.wait_for(timeout=ANSWER_TIMEOUT)
        self.page.wait_for_timeout(800)                    # the page's load events (restore) run

    def _dialog(self, d):
        self.dialogs.append(d.message)
        d.dismiss()

    def submit(self, question: str):
        n = self.replies.count()
        self.box.fill(question)
        self.box.press("Enter")
        return n

    def wait_reply(self, before: int):
        """The reply that follows `before` replies, once the box is usable again."""
        self.page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[REPLY, before], timeout=ANSWER_TIMEOUT)
        self.page.wait_for_function(
            "() => { const t = document.querySelector('#qa-question textarea'); return t && !t.disabled; }",
            timeout=ANSWER_TIMEOUT)
        self.page.wait_for_timeout(300)                    # the turn is stored in the tab
        return self.replies.nth(before)

    def ask(self, question: str):
        return self.wait_reply(self.submit(question))

    def close(self):
        self.page.close()


# --------------------------------------------------------------------- tests

def test_help_lists_the_options():
    out = subprocess.run([sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    for option in ("--host", "--port", "--model", "--index-dir", "--top-k", "--report", "--library", "--store",
                   "--share"):
        assert option in out.stdout
    assert "127.0.0.1" in out.stdout and "default: off" in out.stdout


def test_start_says_when_ready_where_and_with_what(server):
    """The startup line: where to open the page, the library and how many reports it holds."""
    log = server.log.read_text()
    ready = next(line for line in log.splitlines() if line.startswith("Ready:"))
    assert ready.startswith(f"Ready: http://127.0.0.1:{server.port}")
    assert "library " in ready and ": 1 report " in ready and "gradio.live" not in log
    assert "Traceback" not in log


def test_api_endpoints_are_ask_and_compare_alone(client):
    api = client.view_api(return_format="dict", print_info=False)
    assert sorted(api["named_endpoints"]) == ["/ask", "/compare"]    # the page's own events are private
    assert not api["unnamed_endpoints"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]]
    assert params == ["question", "k", "report", "history"]
    params = [p["parameter_name"] for p in api["named_endpoints"]["/compare"]["parameters"]]
    assert params == ["question", "reports"]


def test_api_answer_is_a_cited_quotation(client):
    r = client.predict(TECH_Q, api_name="/ask")
    assert r["error"] is None and r["found"] is True
    assert TECH_SPAN in r["text"]
    c = r["citations"][0]
    assert TECH_SECTION in c["section"]
    assert r["text"] in c["quote"]                          # the span is inside the quoted sentence
    assert c["start"] <= c["span_start"] < c["span_end"] <= c["end"]
    assert len(r["passages"]) == 5                          # --top-k default
    assert len(client.predict(TECH_Q, 2, api_name="/ask")["passages"]) == 2


def test_api_refuses_empty_and_oversized_questions_with_a_message(client):
    for question in ("", "   \n\t ", "x" * 10_000):
        r = client.predict(question, api_name="/ask")
        assert r["found"] is False and r["text"] == "" and r["citations"] == []
        assert r["error"] and r["message"] == r["error"]
    assert "empty" in client.predict("", api_name="/ask")["error"]
    long = client.predict("x" * 10_000, api_name="/ask")
    assert "10,000" in long["error"] and len(long["question"]) <= 601      # not echoed back whole
    assert "k must be" in client.predict(TECH_Q, 0, api_name="/ask")["error"]


def test_api_says_when_the_report_has_no_answer(client):
    r = client.predict(UNANSWERABLE_Q, api_name="/ask")
    assert r["error"] is None and r["found"] is False and r["text"] == ""
    assert r["message"] and r["passages"]                     # why, and the closest passages


def test_concurrent_users_each_get_their_own_answer(server):
    """24 clients (24 sessions) ask 24 different questions at the same moment."""
    from gradio_client import Client
    questions = list(KNOWN)
    barrier = threading.Barrier(len(questions))

    def one(question):
        c = Client(server.url + "/", verbose=False)
        barrier.wait(timeout=60)
        return question, c.predict(question, api_name="/ask")

    with ThreadPoolExecutor(len(questions)) as pool:
        results = list(pool.map(one, questions))
    assert len(results) == len(questions) >= 20
    wrong = [(q, r["question"], r["text"]) for q, r in results
             if r["question"] != q or not r["found"] or KNOWN[q] not in r["text"]]
    assert not wrong


def test_plain_http_call_with_the_question_only_uses_the_default_k(server):
    """The README's curl example: POST {"data": [question]}, then read the event stream."""
    request = urllib.request.Request(server.url + "/gradio_api/call/ask", method="POST",
                                     data=json.dumps({"data": [TECH_Q]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        event_id = json.load(r)["event_id"]
    with urllib.request.urlopen(f"{server.url}/gradio_api/call/ask/{event_id}", timeout=60) as r:
        stream = r.read().decode()
    assert "event: complete" in stream, stream[:2000]
    data = json.loads(stream.split("event: complete", 1)[1].split("data:", 1)[1].strip().splitlines()[0])
    answer = data[0]
    assert answer["error"] is None and TECH_SPAN in answer["text"]
    assert len(answer["passages"]) == 5                        # --top-k, the default k


def test_api_ask_follows_up_on_the_history_it_is_given(client):
    """/ask takes the conversation's earlier questions; a one-argument call stays a question alone."""
    r = client.predict("那去年呢？", 5, "", ["2024年经济增长的预期目标是多少？"], api_name="/ask")
    assert r["error"] is None and r["found"] and "4.1%" in r["text"]
    assert r["resolved"] != r["question"] and "去年" in r["resolved"]
    alone = client.predict("那去年呢？", api_name="/ask")
    assert not alone["found"] and alone["reason"] == "orphan_follow_up"
    bad = client.predict("那去年呢？", 5, "", [3], api_name="/ask")
    assert bad["error"] and not bad["found"]


def test_english_question_gets_the_growth_target(client):
    r = client.predict(ENGLISH_Q, api_name="/ask")
    assert r["found"] and "5.5%" in r["text"]


def test_browser_chat_end_to_end(server, browser, client):
    chat = Chat(browser, server.url)
    page = chat.page
    page.evaluate("() => { delete window.__xss; }")

    # A Chinese question: the span, prominent, with its [1]; the quote with the span marked; the section.
    reply = chat.ask(TECH_Q)
    assert TECH_SPAN in reply.locator(".qa-answer").inner_text()
    assert "答案 Answer" in reply.inner_text()
    cite = reply.locator(".qa-cite").first
    assert TECH_SPAN in cite.locator("summary mark.qa-span").inner_text()
    assert "[1]" in cite.inner_text() and TECH_SECTION in cite.locator(".qa-section").inner_text()
    assert "(henan-2024)" in cite.locator(".qa-report").inner_text()      # which report it quotes

    # [1] opens the citation in place: the sentence highlighted in its paragraph.
    reply.locator("a.qa-ref", has_text="[1]").click()
    assert cite.evaluate("e => e.open")
    assert TECH_SPAN in cite.locator(".qa-context mark.qa-span").inner_text()
    # The passages it was drawn from sit with the answer.
    reply.locator(".qa-sources summary").click()
    sources = reply.locator(".qa-sources")
    assert TECH_SECTION in sources.inner_text() and "分数 Score" in sources.inner_text()
    assert sources.locator("li").count() == 5
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "chat-answer.png"), full_page=True)
    cite.locator("button[data-act=text]").click()                 # the whole report, scrolled to the quote
    cite.locator(".qa-fulltext mark.qa-span").wait_for(timeout=ANSWER_TIMEOUT)
    assert TECH_SPAN in cite.locator(".qa-fulltext mark.qa-span").inner_text()
    page.wait_for_function("() => document.querySelector('#qa-t1-c1 .qa-fulltext').scrollTop > 0", timeout=5000)

    # An English question: the chat shows exactly what the engine answers.
    expected = client.predict(ENGLISH_Q, api_name="/ask")
    reply = chat.ask(ENGLISH_Q)
    if expected["found"]:
        assert reply.locator(".qa-answer").inner_text().startswith(expected["text"])
        assert expected["citations"][0]["section"] in reply.inner_text()
    else:
        assert "The report does not answer this question" in reply.inner_text()

    # A question the report cannot answer: a plain statement, then the closest passages, labelled.
    reply = chat.ask(UNANSWERABLE_Q)
    text = reply.inner_text()
    assert "报告中没有这个问题的答案" in text and "The report does not answer this question" in text
    assert "Closest passages below" in text and reply.locator("li").count() >= 1
    assert reply.locator(".qa-answer").count() == 0

    # HTML in the question is shown as text and nothing in it runs: not in the chat, not in its sources.
    # (It asks about something, so that it is searched and shown with its passages.)
    hostile = f"经济增长目标 {XSS_IMG} {XSS_SCRIPT} **bold** $$x^2$$ ${{7*7}}"
    chat.ask(hostile)
    page.wait_for_timeout(500)
    assert chat.dialogs == []
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#qa-chat script").count() == 0
    user_text = page.locator("#qa-chat .qa-user").last.inner_text()
    assert XSS_IMG in user_text and XSS_SCRIPT in user_text and "**bold** $$x^2$$ ${7*7}" in user_text
    page.screenshot(path=str(ARTIFACTS / "chat-xss.png"), full_page=True)

    # Enter in an empty box sends nothing; blank and 10,000-character questions get a clear message as
    # the reply, in both languages.
    before = chat.replies.count()
    chat.box.fill("")
    chat.box.press("Enter")
    page.wait_for_timeout(1000)
    assert chat.replies.count() == before
    reply = chat.ask("   ")
    assert "请输入一个关于报告的问题" in reply.inner_text() and "empty" in reply.inner_text()
    reply = chat.ask("长" * 10_000)
    assert "问题太长" in reply.inner_text() and "10,000" in reply.inner_text()
    assert "10,000 characters in all" in page.locator("#qa-chat .qa-user").last.inner_text()

    # Rapid repeated submits: one answer, nothing stuck, no error toast.
    before = chat.replies.count()
    chat.box.fill(TECH_Q)
    chat.box.focus()
    for _ in range(6):
        page.keyboard.press("Enter")
    chat.wait_reply(before)
    page.wait_for_timeout(1500)
    new = [chat.replies.nth(i).inner_text() for i in range(before, chat.replies.count())]
    assert new and all(TECH_SPAN in t for t in new), new
    assert "Searching the reports" not in page.locator("#qa-chat").inner_text()
    assert chat.box.is_editable()

    # An example question runs when clicked.
    before = chat.replies.count()
    page.locator("#qa-examples button", has_text="2024年经济增长的预期目标是多少？").click()
    assert "5.5%" in chat.wait_reply(before).locator(".qa-answer").inner_text()
    # A follow-up is read in the light of the conversation, and the answer says how it was understood.
    reply = chat.ask("那去年呢？")
    assert "4.1%" in reply.locator(".qa-answer").inner_text()
    assert "理解为 Understood as" in reply.locator(".qa-understood").inner_text()
    _every_citation_opens_its_own(page)

    # The conversation survives a reload, each answer with its evidence; Clear forgets it.
    shown = "() => [...document.querySelectorAll('#qa-chat .qa-user, #qa-chat .qa-answer, #qa-chat summary')]" \
            ".map(e => e.innerText)"
    turns = page.evaluate(shown)
    chat.open()
    assert len(turns) > 20 and page.evaluate(shown) == turns
    _every_citation_opens_its_own(page)
    page.locator("#qa-clear").click()
    page.wait_for_function("() => document.querySelectorAll('#qa-chat .qa-turn').length === 0",
                           timeout=ANSWER_TIMEOUT)
    page.wait_for_timeout(500)
    chat.open()
    assert page.locator("#qa-chat .qa-turn").count() == 0
    reply = chat.ask("那去年呢？")                       # nothing to follow once the conversation is forgotten
    assert reply.locator(".qa-answer").count() == 0 and "follow-up" in reply.inner_text()
    assert page.locator(".toast-body").count() == 0
    assert chat.dialogs == [] and page.evaluate("() => window.__xss") is None
    chat.close()


def _every_citation_opens_its_own(page):
    """Each [n] of every answer in the conversation, clicked, opens citation n of its own answer."""
    refs = page.locator("#qa-chat a.qa-ref")
    assert refs.count() >= 3
    for i in range(refs.count()):
        ref = refs.nth(i)
        target = ref.get_attribute("href")
        turn = ref.evaluate("a => a.closest('.qa-turn').id")
        page.evaluate("t => document.querySelector(t).open = false", target)
        ref.click()
        opened = page.locator(f"#qa-chat {target}")
        assert opened.evaluate("e => e.open"), target
        assert opened.evaluate("e => e.closest('.qa-turn').id") == turn
        assert opened.locator(".qa-context mark.qa-span").count() >= 1
        box = opened.bounding_box()
        assert box and box["y"] < page.viewport_size["height"] and box["y"] + box["height"] > 0   # brought into view


@pytest.mark.parametrize("screen", VIEWPORTS)
def test_first_screen_shows_the_question_box_and_the_library(server, browser, client, screen):
    """Without scrolling: the question box with a question this library answers, and a header saying
    which reports are loaded; the introduction folds away after the first question."""
    chat = Chat(browser, server.url, viewport=VIEWPORTS[screen])
    page = chat.page
    assert page.evaluate("() => window.scrollY") == 0, "the page must open at its title"
    assert in_view(page, "#qa-question textarea"), "the question box must be in view"
    hint = chat.box.get_attribute("placeholder")
    assert hint.startswith("例如 e.g. ")
    assert client.predict(hint.removeprefix("例如 e.g. "), api_name="/ask")["found"], hint
    status = page.locator("#qa-status").inner_text()
    assert "已载入 1 份报告" in status and "1 report loaded" in status and "2024年河南政府工作报告" in status
    assert "Asking all" in status
    # On a phone the box does not take the focus (the keyboard would cover the page); on a desktop it does.
    focused = page.evaluate("() => document.activeElement?.closest('#qa-question') !== null")
    assert focused == (screen == "desktop")
    assert page.locator("#qa-intro details").evaluate("e => e.open")
    page.screenshot(path=str(ARTIFACTS / f"first-screen-{screen}.png"))

    reply = chat.ask("新能源汽车产业集群有哪些重点项目？")                 # a long reply
    assert not page.locator("#qa-intro details").evaluate("e => e.open")
    page.wait_for_timeout(800)
    # Its headline is in view, and the question box (kept at the screen's bottom) does not cover it.
    headline = reply.locator(".qa-label, .qa-notfound-head").first
    box = headline.bounding_box()
    assert box and 0 <= box["y"] and box["y"] + box["height"] <= VIEWPORTS[screen][1], f"headline off screen: {box}"
    x, y = box["x"] + min(box["width"], 40) / 2, box["y"] + box["height"] / 2
    assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y)?.closest('.qa-reply')", [x, y])
    assert in_view(page, "#qa-question textarea")
    page.screenshot(path=str(ARTIFACTS / f"first-answer-{screen}.png"))
    if screen == "desktop" and (os.environ.get("UPDATE_SCREENSHOT") or not DOCS_SCREENSHOT.exists()):
        chat.ask(TECH_Q)
        page.locator("#qa-chat a.qa-ref").last.click()
        page.wait_for_timeout(400)
        page.screenshot(path=str(DOCS_SCREENSHOT), full_page=True)
    chat.close()


@pytest.mark.parametrize("screen", VIEWPORTS)
def test_keyboard_labels_and_contrast(server, browser, screen):
    """Enter asks and Esc empties the box; labels are plain text; axe-core finds no WCAG A/AA
    violation (contrast, roles, names) with an answer and its citation open."""
    chat = Chat(browser, server.url, viewport=VIEWPORTS[screen])
    page = chat.page
    chat.box.fill("整车产量是多少？")
    chat.box.press("Escape")
    assert chat.box.input_value() == ""
    reply = chat.ask("整车产量是多少？")                                # Enter
    assert "100万辆" in reply.locator(".qa-answer").inner_text()
    reply.locator("a.qa-ref").first.click()
    assert page.locator("#qa-chat [role=log]").count() == 1
    assert reply.get_attribute("role") == "group" and reply.get_attribute("aria-label")
    labels = page.evaluate(ARIA_LABELS_JS)
    assert labels and not [lb for lb in labels if "<" in lb or "&lt;" in lb or "&amp;" in lb or "&gt;" in lb]
    assert axe_violations(page) == []
    page.get_by_role("tab", name="主要指标 Key figures").click()
    page.locator("#qa-figures-table tbody tr").first.wait_for(timeout=ANSWER_TIMEOUT)
    assert axe_violations(page) == []
    chat.close()


def test_browser_sessions_do_not_mix(server, browser):
    """Three tabs ask at the same time; each chat shows only its own question and answer, also after
    a reload (each tab keeps its own conversation)."""
    asks = {"2024年经济增长的预期目标是多少？": "5.5%", TECH_Q: TECH_SPAN, "整车产量是多少？": "100万辆"}
    chats = [Chat(browser, server.url) for _ in asks]
    befores = [chat.submit(q) for chat, q in zip(chats, asks)]
    for chat, before, (question, span) in zip(chats, befores, asks.items()):
        reply = chat.wait_reply(before)
        assert span in reply.locator(".qa-answer").inner_text()
        assert chat.replies.count() == 1
        assert chat.page.locator("#qa-chat .qa-user").all_inner_texts() == [question]
    for chat, question in zip(chats, asks):
        chat.open()
        assert chat.page.locator("#qa-chat .qa-user").all_inner_texts() == [question]
        chat.close()


def test_restart_on_the_same_port_at_once(server):
    """A stopped server's connections wait in TIME_WAIT; the next start on its port must not fail."""
    port = _free_port()
    with running_app(port=port, log_name="app-restart-1.log") as first:
        urllib.request.urlopen(first.url + "/", timeout=10).read()
        urllib.request.urlopen(first.url + "/config", timeout=10).read()
    with running_app(port=port, log_name="app-restart-2.log") as second:
        assert f"Ready: http://127.0.0.1:{port}" in second.log.read_text()


def test_the_page_offers_the_engines_examples(library):
    """The examples and the question box's hint are the engine's, each asked before it is offered."""
    from qa.web.shelf import Shelf
    shelf = Shelf(library, 5)
    assert shelf.examples() == library.examples() and shelf.examples()
    assert shelf.placeholder() == f"例如 e.g. {library.examples()[0]}"


def test_key_figures_of_a_picked_report_removed_meanwhile_fall_back_to_the_library(library):
    """A page loaded before `python -m qa remove` still has the report picked: no error badge."""
    from qa.web.shelf import Shelf
    shelf = Shelf(library, 5)
    assert {f.report for f in shelf.figures(["gone-2020"])} == {r.id for r in library.reports()}
    assert {f.report for f in shelf.figures(["gone-2020", "jilin-2025"])} == {"jilin-2025"}


def test_an_answer_from_several_picked_reports_shows_each_reports_answer(library):
    """A question that names none of the picked reports is answered from each: the best leads, the
    others follow as rows labelled by report, a report that does not say it among them."""
    from qa.web.render import render_answer
    from qa.web.shelf import Shelf
    shelf = Shelf(library, 5)
    ans = shelf.ask("城镇新增就业目标是多少？", report=["henan-2024", "jilin-2025", "national-2019"])
    assert ans.found and len(ans.others) == 2
    html = render_answer(ans, shelf)
    assert "The question named no one report" in html
    for other in ans.others:
        assert shelf.label(other.report).split(" (")[0] in html
    one = shelf.ask("城镇新增就业目标是多少？", report=["henan-2024"])
    assert not one.others and "named no one report" not in render_answer(one, shelf)


def test_actual_to_target_values_keep_their_hedges(qa):
    from qa.figures import actual_target_pairs
    shown = {a.indicator: (a.stated, t.stated) for a, t in actual_target_pairs(qa.figures("henan-2024"))}
    assert shown["工业投资"] == ("8.9%", "10%以上") and shown["粮食产量"] == ("1324.9亿斤", "1300亿斤以上")
    fig = next(f for f in qa.figures("henan-2024") if f.indicator == "工业投资" and f.kind == "target")
    c = fig.citation()
    text = qa.text_of("henan-2024")
    assert text[c.start:c.end] == fig.quote and text[c.span_start:c.span_end] == fig.value


def test_a_refusal_is_told_by_its_reason_code(qa):
    """The page's words for a refused question come from the error's code and details."""
    from qa.errors import ReportQAError
    from qa.web.render import render_error
    for question, zh, en in (("  ", "请输入一个关于报告的问题", "empty"),
                             ("长" * 700, "问题太长（700 字）", "700 characters")):
        with pytest.raises(ReportQAError) as e:
            qa.ask(question)
        shown = render_error(e.value)
        assert zh in shown and en in shown


def test_the_opening_of_a_report_is_named_not_dashed(qa):
    """Passages before a report's first heading have no section: the page calls it the opening."""
    from qa.web.render import OPENING, render_sources
    from qa.web.shelf import Shelf
    ans = qa.ask("向大会报告工作，请予审议")
    assert any(not p.section for p in ans.passages)
    shown = render_sources(ans, Shelf(qa, 5))
    assert OPENING in shown and "<b>—</b>" not in shown
