"""The web page over a library of reports, end to end: pick, upload, compare, key figures.

One library is built per session from the bundled report and five of reports/ (through the
engine, in a child process so this one does not hold the model), and one app.py serves it with
--library.  The browser is the system Chromium driven by Playwright, as in test_app.py; the
screenshots go to tests/artifacts/, and with UPDATE_SCREENSHOT=1 (or when missing) to docs/.
"""
from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa.figures import COLUMNS
from qa.ingest.readers import MAX_BYTES
from tests.report_files import make_docx, make_pdf, make_scanned_pdf, report_lines
from tests.test_app import (ANSWER_TIMEOUT, ARTIFACTS, CHROMIUM_ARGS, DESKTOP, PHONE, REPLY, ROOT, TOFU_JS,  # noqa: F401
                            VIEWPORTS, chromium, running_app)

from eval.gold import REPORTS

SHARED = ["jilin-2025", "zhejiang-2025", "national-2025", "hebei-2025", "tibet-2025"]
DOCS = ROOT / "docs"
GROWTH_Q = "经济增长预期目标是多少？"
HOSTILE = '<img src=x onerror="window.__xss=3">'
UPLOAD_TIMEOUT = 240_000     # ms: embedding a report's part takes 5-20 s, more on a busy 2-core machine

BUILD = """
import sys
from qa import ReportQA
from qa.engine import BUNDLED_REPORT
qa = ReportQA.load(library=sys.argv[1], progress=False)
for path in [BUNDLED_REPORT, *sys.argv[2:]]:
    qa.add(path, progress=False)
"""


@pytest.fixture(scope="session")
def library(tmp_path_factory):
    root = tmp_path_factory.mktemp("library") / "lib"
    subprocess.run([sys.executable, "-c", BUILD, str(root), *(str(REPORTS / f"{r}.txt") for r in SHARED)],
                   cwd=ROOT, check=True, timeout=600)
    return root


@pytest.fixture(scope="module")
def server(library):
    with running_app("--library", str(library), log_name="app-library.log") as app:
        yield app


@pytest.fixture(scope="module")
def browser(chromium, server):  # noqa: F811  (chromium: the fixture from test_app, skips without it)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client
    return Client(server.url + "/", verbose=False)


def _live_reports(library: Path) -> list[str]:
    gen = (library / "CURRENT").read_text().strip()
    return [r["id"] for r in json.loads((library / gen / "manifest.json").read_text())["reports"]]


class Page:
    """One browser tab on the app: the picker, the tabs, the upload button; dialogs recorded."""

    def __init__(self, browser, url, viewport=DESKTOP):
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(url + "/")
        self.page.locator("#qa-question textarea").wait_for(timeout=ANSWER_TIMEOUT)

    def pick(self, *ids: str):
        box = self.page.locator("#qa-picker input")
        for rid in ids:
            box.click()
            box.fill(rid)
            self.page.get_by_role("option", name=f"({rid})").first.click()
        self.page.keyboard.press("Escape")

    def tab(self, name: str):
        self.page.get_by_role("tab", name=name).click()

    def upload(self, path: Path):
        with self.page.expect_file_chooser() as chooser:
            self.page.locator("#qa-upload").click()
        chooser.value.set_files(str(path))

    def upload_status(self, before: str = "") -> str:
        """The upload's message once it is there (not the progress shown meanwhile), and new."""
        found = "#qa-upload-status .qa-upload-ok, #qa-upload-status .qa-upload-bad"
        self.page.wait_for_function(
            "([sel, b]) => { const s = document.querySelector(sel); return s && s.innerText.trim() !== b; }",
            arg=[found, before], timeout=UPLOAD_TIMEOUT)
        return self.page.locator(found).inner_text().strip()

    def ask(self, question: str):
        replies = self.page.locator(REPLY)
        n = replies.count()
        self.page.locator("#qa-question textarea").fill(question)
        self.page.locator("#qa-question textarea").press("Enter")
        self.page.wait_for_function("([sel, n]) => document.querySelectorAll(sel).length > n",
                                    arg=[REPLY, n], timeout=ANSWER_TIMEOUT)
        self.page.wait_for_function("() => !document.querySelector('#qa-question textarea').disabled",
                                    timeout=ANSWER_TIMEOUT)
        return replies.nth(n)

    def shot(self, name: str, docs: str | None = None):
        self.page.wait_for_timeout(300)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)
        if docs and (os.environ.get("UPDATE_SCREENSHOT") or not (DOCS / docs).exists()):
            self.page.screenshot(path=str(DOCS / docs), full_page=True)

    def assert_clean(self):
        """No pop-up, no error toast, and nothing from a report or a question ran."""
        assert self.dialogs == []
        assert self.page.locator(".toast-body").count() == 0
        assert self.page.evaluate("() => window.__xss") is None
        assert self.page.locator("img[src='x']").count() == 0


# --------------------------------------------------------------------- tests

def test_api_asks_one_report_and_compares(client):
    r = client.predict("粮食产量是多少？", 5, "jilin-2025", api_name="/ask")
    assert r["error"] is None and r["found"] and r["report"] == "jilin-2025"
    assert all(c["report"] == "jilin-2025" for c in r["citations"])
    assert "jilin-2025" in client.predict("x", 5, "nowhere-1999", api_name="/ask")["error"]
    out = client.predict(GROWTH_Q, ",".join(SHARED), api_name="/compare")
    assert out["error"] is None and [row["report"] for row in out["rows"]] == SHARED
    assert sum(row["found"] for row in out["rows"]) >= 4


def test_picked_province_is_the_one_cited(server, browser):
    page = Page(browser, server.url)
    page.pick("jilin-2025")
    reply = page.ask("粮食产量是多少？")
    assert reply.locator(".qa-answer").count() == 1
    assert all("(jilin-2025)" in t for t in reply.locator(".qa-report").all_text_contents())   # sources too
    reply.locator("a.qa-ref").first.click()
    context = reply.locator(".qa-cite").first
    span = context.locator(".qa-context mark.qa-span").first.inner_text()
    assert span and span in (REPORTS / "jilin-2025.txt").read_text(encoding="utf-8").replace("\n", "")
    status = page.page.locator("#qa-status").inner_text()
    assert "已载入" in status and "Asking the 1 picked" in status
    page.assert_clean()
    page.shot("library-chat.png", docs="screenshot-library.png")
    page.page.close()


def test_compare_five_reports_in_one_table(server, browser):
    page = Page(browser, server.url)
    page.pick(*SHARED)
    page.tab("对比 Compare")
    page.page.locator("#qa-compare-question textarea").fill(GROWTH_Q)
    page.page.locator("#qa-compare-ask").click()
    rows = page.page.locator("#qa-compare-table tbody tr")
    rows.first.wait_for(timeout=ANSWER_TIMEOUT)
    assert [rows.nth(i).get_attribute("data-report") for i in range(rows.count())] == SHARED
    for i, rid in enumerate(SHARED):
        row = rows.nth(i)
        assert f"({rid})" in row.locator("td").first.inner_text()
        assert row.locator("mark.qa-span").count() == 1 or "Not stated" in row.inner_text()
    assert rows.locator("mark.qa-span").count() >= 4
    page.assert_clean()
    page.shot("library-compare.png", docs="screenshot-compare.png")
    page.page.close()


def test_compare_on_a_phone_scrolls_in_its_box_not_the_page(server, browser):
    page = Page(browser, server.url, viewport=PHONE)
    page.pick(*SHARED)
    page.tab("对比 Compare")
    page.page.locator("#qa-compare-question textarea").fill(GROWTH_Q)
    page.page.locator("#qa-compare-ask").click()
    page.page.locator("#qa-compare-table tbody tr").first.wait_for(timeout=ANSWER_TIMEOUT)
    # The page never scrolls sideways; a table wider than the screen scrolls in a box of its own
    # that fits the screen, so no column is cut off out of reach.
    fit = page.page.evaluate("""() => {
      const table = document.querySelector('#qa-compare-table table');
      let box = table.parentElement;
      while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowX)) box = box.parentElement;
      return {page: document.documentElement.scrollWidth, screen: innerWidth,
              table: table.getBoundingClientRect().right, box: box && box.getBoundingClientRect().right};
    }""")
    assert fit["page"] <= fit["screen"], fit
    assert fit["table"] <= fit["screen"] or (fit["box"] is not None and fit["box"] <= fit["screen"]), fit
    page.assert_clean()
    page.shot("phone-compare.png")
    page.page.close()


@pytest.mark.parametrize("screen", VIEWPORTS)
def test_key_figures_table_chart_and_across_reports(server, browser, tmp_path, screen):
    page = Page(browser, server.url, viewport=VIEWPORTS[screen])
    page.pick("henan-2024", *SHARED)
    page.tab("主要指标 Key figures")
    p = page.page
    rows = p.locator("#qa-figures-table tbody tr")
    # Each pick refreshes the tab; the last refresh holds the six reports.
    p.wait_for_function("() => new Set([...document.querySelectorAll('#qa-figures-table tbody tr')]"
                        ".map(r => r.dataset.report)).size === 6", timeout=ANSWER_TIMEOUT)
    p.wait_for_function("() => document.querySelector('#qa-pairs-report input')?.value.includes('henan-2024')",
                        timeout=ANSWER_TIMEOUT)
    assert {rows.nth(i).get_attribute("data-report") for i in range(rows.count())} == {"henan-2024", *SHARED}
    # No junk indicator of the kind the extraction used to let through.
    indicators = p.eval_on_selector_all("#qa-figures-table tbody tr td:nth-child(2)", "tds => tds.map(t => t.innerText)")
    assert not [i for i in indicators if i.startswith("是") or i.endswith("第")]
    values = p.eval_on_selector_all("#qa-figures-table tbody tr td:nth-child(3)", "tds => tds.map(t => t.innerText)")
    assert "12345" not in values                                              # a hotline's number
    if screen == "desktop":
        # Every column on screen, none cut off or scrolled out of reach.
        edges = p.evaluate("""() => { const box = document.querySelector('#qa-figures-table .qa-fig-scroll');
            return {heads: [...document.querySelectorAll('#qa-figures-table thead th')]
                      .map(th => th.getBoundingClientRect().right), screen: innerWidth,
                    scrolls: box.scrollWidth > box.clientWidth}; }""")
        assert len(edges["heads"]) == 8 and max(edges["heads"]) <= edges["screen"] and not edges["scrolls"], edges
    else:
        assert p.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    # A click on the value header sorts by number within each unit; again, the other way.
    header = p.locator("#qa-figures-table thead button", has_text="数值 Value")
    for direction in ("ascending", "descending"):
        header.click()
        assert header.locator("xpath=..").get_attribute("aria-sort") == direction
        keys = p.eval_on_selector_all("#qa-figures-table tbody tr td:nth-child(3)", "tds => tds.map(t => t.dataset.sort)")
        by_unit: dict[str, list[float]] = {}
        for key in keys:
            unit, number = key.split("\t")
            if number:
                by_unit.setdefault(unit, []).append(float(number))
        assert by_unit["%"] == sorted(by_unit["%"], reverse=direction == "descending")
        assert all(v == sorted(v, reverse=direction == "descending") for v in by_unit.values())
    # Search filters the rows.
    p.locator("#qa-fig-search").fill("粮食产量")
    shown = [r for r in rows.all() if r.is_visible()]
    assert shown and all("粮食产量" in r.inner_text() for r in shown)
    p.locator("#qa-fig-search").fill("")
    # A row clicked: its quote highlighted in its paragraph, in under 0.3 s.
    row = rows.nth(3)
    row.scroll_into_view_if_needed()
    elapsed = p.evaluate("""(row) => new Promise(done => {
        const t0 = performance.now();
        row.click();
        const look = () => document.querySelector('#qa-figure-place mark.qa-span')
            ? done(performance.now() - t0) : requestAnimationFrame(look);
        look(); })""", row.element_handle())
    assert elapsed < 300, f"{elapsed:.0f} ms from click to quote"
    assert row.get_attribute("data-report") in p.locator("#qa-figure-place .qa-report").first.inner_text()
    # Last year's actual and this year's target of the bundled report: GDP growth 4.1% → 5.5%.
    growth = p.locator("#qa-pairs-table tr", has_text="生产总值").first
    assert "4.1%" in growth.inner_text() and "5.5%" in growth.inner_text()
    # One indicator across the six reports, each value with its quote.
    p.wait_for_function("() => document.querySelectorAll('#qa-across-table tbody tr').length >= 6",
                        timeout=ANSWER_TIMEOUT)
    across = p.locator("#qa-across-table tbody tr")
    assert across.count() == 6 and across.locator("mark.qa-span").count() == 6
    # The charts are drawn by the browser: their labels are page text, in real glyphs (not tofu).
    for chart, names in (("#qa-pairs-chart", ["生产总值", "5.5%"]), ("#qa-across-chart", ["(jilin-2025)"])):
        box = p.locator(chart)
        assert box.locator("img, canvas").count() == 0 and box.locator(".qa-bar").count() >= 2
        assert all(name in box.inner_text() for name in names)
        label = box.locator(".qa-chart-name, .qa-bar-label").first
        assert label.evaluate(TOFU_JS) is False, f"{chart}: Chinese drawn as empty boxes"
    page.assert_clean()
    page.shot(f"library-figures-{screen}.png", docs="screenshot-figures.png" if screen == "desktop" else None)
    # The CSV: the CLI's columns, named by the reports (six: their number) and today's date.
    with p.expect_download() as download:
        p.locator("#qa-figures-csv").click()
    assert download.value.suggested_filename == f"key-figures-6-reports-{time.strftime('%Y-%m-%d')}.csv"
    path = tmp_path / "figures.csv"
    download.value.save_as(path)
    table = list(csv.reader(path.open(encoding="utf-8-sig")))
    assert tuple(table[0]) == COLUMNS and len(table) > 100
    assert {r[0] for r in table[1:]} == {"henan-2024", *SHARED}
    p.close()


def test_uploaded_pdf_is_asked_at_once_and_cited_on_its_page(server, browser, client, library, tmp_path):
    """A PDF of a report that is not in the library (page numbers, a running header, some markup in
    its text), uploaded with one progress indicator, then asked: the citation names its page and
    shows it with the quoted clause boxed.  Its first part only: embedding a whole report on a busy
    2-core machine takes a minute."""
    lines = report_lines(REPORTS / "hunan-2025.txt")
    lines = lines[:next(i for i, ln in enumerate(lines) if "主要预期目标" in ln) + 3]
    lines[-1] += HOSTILE                       # text from a report is text, never markup
    pdf = make_pdf(lines, tmp_path / "hunan-2025.pdf", header="2025年湖南省政府工作报告")
    page = Page(browser, server.url)
    page.upload(pdf)
    # While it is read and embedded: one progress indicator, on the upload's own message.
    progress = page.page.evaluate("""() => new Promise(done => {
        const seen = [];
        const look = () => {
          const tabs = document.querySelector('[role=tablist]').getBoundingClientRect();
          const shown = [...document.querySelectorAll('.progress-text, .eta-bar, .progress-level')]
            .filter(e => e.offsetParent && !e.closest('.hide'))
            .map(e => ({mine: !!e.closest('#qa-upload-status'), text: e.innerText,
                        clear: e.getBoundingClientRect().bottom <= tabs.top + 1}));
          if (shown.length) seen.push(shown);
          if (document.querySelector('#qa-upload-status .qa-upload-ok, #qa-upload-status .qa-upload-bad'))
            return done(seen);
          setTimeout(look, 50);
        };
        look(); })""")
    assert progress, "no progress shown while the upload was read and embedded"
    assert all(bar["mine"] and bar["clear"] for shown in progress for bar in shown), progress  # one, in its place
    said = " ".join(bar["text"] for shown in progress for bar in shown)
    assert re.search(r"Reading and embedding hunan-2025.pdf|Embedding", said) and re.search(r"\d+/\d+ batch", said), said
    status = page.upload_status()
    assert "已添加 Added" in status and "(hunan-2025)" in status, status
    assert page.page.locator("#qa-picker").inner_text().count("hunan-2025") == 1     # picked
    expected = client.predict(GROWTH_Q, 5, "hunan-2025", api_name="/ask")
    assert expected["found"] and expected["report"] == "hunan-2025"
    reply = page.ask(GROWTH_Q)
    assert reply.locator(".qa-answer").inner_text().startswith(expected["text"])
    assert "(hunan-2025)" in reply.locator(".qa-report").first.inner_text()

    # The citation names its page, and shows it: the page the quote is on, the quote boxed on it.
    quote = expected["citations"][0]["quote"]
    cite = reply.locator(".qa-cite").first
    named = re.search(r"第 (\d+)(?:–\d+)? 页 page", cite.locator("summary").inner_text())
    assert named, cite.inner_text()
    on_page = _pdf_page_of(pdf, quote)
    assert int(named.group(1)) == on_page
    reply.locator("a.qa-ref").first.click()
    cite.locator("button[data-act=pdf]").click()
    shown = cite.locator(".qa-pdfpage").first
    shown.locator("img").wait_for(timeout=ANSWER_TIMEOUT)
    assert int(shown.get_attribute("data-page")) == on_page
    assert shown.locator("img").evaluate("i => i.complete && i.naturalWidth > 500")
    boxes = shown.locator(".qa-box-quote")
    assert boxes.count() >= 1
    # The boxes sit on the body of the page, inside it, below the running header's band.
    for b in boxes.all():
        top = float(re.search(r"top:([\d.]+)%", b.get_attribute("style")).group(1))
        assert 5 < top < 95, b.get_attribute("style")
    shown.scroll_into_view_if_needed()
    page.assert_clean()
    page.shot("library-pdf-page.png")
    if os.environ.get("UPDATE_SCREENSHOT") or not (DOCS / "screenshot-pdf.png").exists():
        ask_row = "document.querySelector('#qa-ask-row').style.visibility"
        page.page.evaluate(f"() => {{ {ask_row} = 'hidden'; }}")      # not over the page in the picture
        shown.screenshot(path=str(DOCS / "screenshot-pdf.png"))
        page.page.evaluate(f"() => {{ {ask_row} = ''; }}")
    page.tab("主要指标 Key figures")
    page.page.wait_for_function("() => document.querySelector('#qa-pairs-report input')?.value"
                                ".includes('hunan-2025')", timeout=ANSWER_TIMEOUT)
    assert "hunan-2025" in _live_reports(library)
    page.page.close()


def _pdf_page_of(pdf: Path, quote: str) -> int:
    """The page (1-based) whose text holds the start of `quote`, read with the PDF library directly."""
    import pypdfium2
    head = re.sub(r"\s", "", quote)[:12]
    doc = pypdfium2.PdfDocument(str(pdf))
    try:
        pages = [re.sub(r"\s", "", doc[i].get_textpage().get_text_range()) for i in range(len(doc))]
    finally:
        doc.close()
    return next(i + 1 for i, text in enumerate(pages) if head in text)


def test_a_place_the_library_lacks_is_declined_without_promising_passages(server, browser):
    """A province with no report in the library: said so, and no "closest passages below" over nothing."""
    page = Page(browser, server.url)
    reply = page.ask("湖北省2025年经济增长目标是多少？")
    text = reply.inner_text()
    assert "资料库里没有这个地方的报告" in text and "no report about this place" in text and "湖北" in text
    assert "Closest passages" not in text and "passages are below" not in text
    page.assert_clean()
    page.page.close()


def test_bad_uploads_get_a_message_and_store_nothing(server, browser, library, tmp_path):
    novel = ("It was the best of times, it was the worst of times, it was the age of wisdom, it was the "
             "age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 300
    files = {
        "photo.png": b"\x89PNG\r\n\x1a\n" + bytes(2000),
        "photo.pdf": b"\x89PNG\r\n\x1a\n" + bytes(2000),          # an image under a report's name
        "empty.txt": b"",
        "novel.txt": novel.encode(),
    }
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    make_scanned_pdf(tmp_path / "scanned.pdf")
    with open(tmp_path / "huge.txt", "wb") as f:                 # one byte over the readers' limit
        f.truncate(MAX_BYTES + 1)
    before = _live_reports(library)
    page = Page(browser, server.url, viewport=PHONE)          # the upload on a phone (the PDF test: a desktop)
    reasons = {"photo.png": ".png", "photo.pdf": "PDF", "empty.txt": "empty", "novel.txt": "Chinese",
               "scanned.pdf": "text layer", "huge.txt": "MB"}
    status = ""
    for name, reason in reasons.items():
        page.upload(tmp_path / name)
        status = page.upload_status(before=status)
        assert "未能添加 Not added" in status and reason in status and name in status, (name, status)
        assert "Traceback" not in status and "/tmp/" not in status           # no server paths
        assert "PDFium" not in status and "Data format" not in status and "bytes" not in status  # nor internals
        zh, en = status.split("\n", 1)                                       # in both languages
        assert re.search(r"[\u4e00-\u9fff]", zh.split("：", 1)[-1]) and re.search(r"[a-z]{4}", en), status
    page.assert_clean()
    page.shot("library-bad-upload.png")
    assert _live_reports(library) == before
    page.page.close()


def test_two_uploads_at_once_both_land(server, browser, library, tmp_path):
    """Two tabs upload at the same moment (a .docx and a .txt, first parts of two reports)."""
    files = []
    for rid, make in (("anhui-2025", "docx"), ("guizhou-2025", "txt")):
        lines = report_lines(REPORTS / f"{rid}.txt")
        part = lines[:next(i for i, ln in enumerate(lines) if ln.startswith("二、")) + 3]
        path = tmp_path / f"{rid}.{make}"
        if make == "docx":
            make_docx(part, path)
        else:
            path.write_text("\n".join(part) + "\n", encoding="utf-8")
        files.append((rid, path))
    pages = [Page(browser, server.url) for _ in files]
    # Playwright's sync pages are driven from this thread only: start both uploads, then wait for both.
    for pg, (_, path) in zip(pages, files):
        pg.upload(path)
    for pg, (rid, _) in zip(pages, files):
        status = pg.upload_status()
        assert "已添加 Added" in status and f"({rid})" in status, status
        pg.assert_clean()
        pg.page.close()
    assert {"anhui-2025", "guizhou-2025"} <= set(_live_reports(library))
