"""Web chat over a library of reports: `python app.py [--library DIR]`, then open the printed address.

A Gradio page on top of the ReportQA facade; it adds no retrieval logic, only
presentation: a report picker and an upload button, the chat, a compare view (one
question, one row per report) and the key figures of the picked reports.  Every
piece of text that comes from the user or from a report goes through `html.escape`
before it is put into any HTML we render, so a question (or an uploaded report)
containing `<img src=x onerror=alert(1)>` is shown literally.

Programs can call the same engine through the named API endpoints "/ask"
(question, k, report) -> answer dict and "/compare" (question, reports) -> rows,
e.g. with gradio_client.
"""
from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import csv  # noqa: E402
import html  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from qa import Answer, ReportQA, ReportQAError  # noqa: E402  (light: the model loads in ReportQA.load)
from qa.ask.extractor import NOT_FOUND  # noqa: E402
from qa.cli import configure_logging  # noqa: E402
from qa.engine import BUNDLED_ID, EMPTY_LIBRARY, MAX_K, MAX_QUESTION_CHARS, clean_question  # noqa: E402
from qa.errors import QuestionError, ReportError  # noqa: E402
from qa.figures import BOUND, HEDGE_AFTER, actual_target_pairs, across_reports, shared_indicators  # noqa: E402
from qa.ingest.readers import ACCEPTED, FORMATS, MAX_BYTES  # noqa: E402
from qa.language.vocabulary import Vocabulary  # noqa: E402
from qa.schema import Citation  # noqa: E402

EXAMPLES = [
    "2024年经济增长的预期目标是多少？",
    "技术合同成交额增长了多少？",
    "城镇新增就业目标是多少？",
    "新能源汽车产业集群有哪些重点项目？",
    "What was Henan's GDP growth in 2023?",
    "How much did PM2.5 concentration fall in 2023?",
    "2024年河南省常住人口是多少？",
]
# For a library without the bundled report: questions every work report answers, about the first
# report's place and year (its own English name from the vocabulary's regions).
GENERAL_EXAMPLES = ["{year}年经济增长的预期目标是多少？", "城镇新增就业目标是多少？", "{last}年{place}粮食产量是多少？",
                    "What was {place_en}'s GDP growth in {last}?", "What is the {year} target for new urban jobs?"]
# The page has an upload button: an empty library is filled from there, not from the command line.
UPLOAD_FIRST = ("资料库里还没有报告：请在上方「上传报告」添加（.txt、.pdf 或 .docx）。 The library has no reports yet: "
                "upload one above (.txt, .pdf or .docx).")
NOT_FOUND_SHOWN = 3          # closest passages quoted in the chat when there is no answer
EXCERPT_CHARS = 220          # how much of each of those passages the chat shows
CONTEXT_PARAGRAPHS = 1       # paragraphs shown before and after a cited one
USER_SHOWN_CHARS = 600       # a longer question is shown cut short in the chat
COMPARE_QUESTION = "经济增长预期目标是多少？"
UPLOAD_SUFFIXES = sorted(s for s in FORMATS if s)       # what the readers accept: .docx, .pdf, .txt
UPLOAD_CEILING = 4 * MAX_BYTES # Gradio refuses larger uploads itself (with its own pop-up)
PAIRS_CHARTED = 12           # indicators in the actual → target chart (one small panel each)
CHART_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", "SimHei",
               "DejaVu Sans"]
log = logging.getLogger("app")

INTRO = """\
<div class="qa-intro">
<p><b>这是什么 What this is:</b> 一个只根据政府工作报告原文回答问题的助手。答案都是报告中的<b>原文摘录</b>，
并注明出处章节；报告没有提到的内容，它会直接说明“报告中没有答案”，并列出最接近的段落供参考，不会编造。
<br>An assistant that answers only from the report. Every answer is a <b>verbatim quotation</b> with its
section; when the report does not say, it tells you so and shows the closest passages instead of making
something up.</p>
<p>先在上方选择报告（不选即全部），或上传一份报告；用中文或英文提问，或点击示例问题。
Pick reports above (none = all) or upload one; ask in Chinese or English, or click an example question.</p>
</div>"""

# Local fonts only: the page must not fetch web fonts (it works offline), and Chinese comes first.
FONTS = ["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
         "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "Consolas", "Noto Sans Mono CJK SC", "monospace"]

CSS = """
.qa-intro p { margin: 0.3em 0; }
.qa-user { white-space: pre-wrap; word-break: break-word; }
.qa-label { font-size: 0.85em; opacity: 0.75; margin-top: 0.4em; }
.qa-answer { font-size: 1.35em; font-weight: 700; margin: 0.15em 0 0.4em 0; }
.qa-cite { border-left: 3px solid #d97706; padding: 0.2em 0 0.2em 0.7em; margin: 0.3em 0; }
.qa-section { font-size: 0.85em; opacity: 0.8; }
.qa-meta { font-size: 0.8em; opacity: 0.7; margin-top: 0.4em; }
.qa-notfound-head { font-weight: 700; }
.qa-error { font-weight: 600; }
mark.qa-quote { background: #fef3c7; color: inherit; padding: 0 1px; }
mark.qa-span { background: #fbbf24; color: #111; font-weight: 700; padding: 0 1px; }
.qa-sources ol { padding-left: 1.4em; }
.qa-sources li { margin-bottom: 0.7em; }
.qa-passage { white-space: pre-wrap; }
.qa-badge { font-size: 0.75em; background: #fbbf24; color: #111; border-radius: 4px; padding: 0 4px; }
.qa-context { white-space: pre-wrap; line-height: 1.7; }
.qa-fulltext { white-space: pre-wrap; line-height: 1.7; max-height: 28em; overflow-y: auto;
               border: 1px solid #e5e7eb; padding: 0.5em 0.8em; }
.qa-empty { opacity: 0.7; }
.qa-report { font-size: 0.85em; font-weight: 600; color: #92400e; }
.qa-upload-ok { color: #166534; font-weight: 600; }
.qa-upload-bad { color: #b91c1c; font-weight: 600; }
table.qa-table { border-collapse: collapse; width: 100%; }
table.qa-table th, table.qa-table td { border: 1px solid #e5e7eb; padding: 0.35em 0.55em; vertical-align: top;
                                        text-align: left; }
table.qa-table th { background: #f9fafb; }
.qa-notstated { opacity: 0.75; font-style: italic; }
.qa-value { font-weight: 700; white-space: nowrap; }
table.qa-table td.qa-report { min-width: 10em; }
table.qa-compare td.qa-section { min-width: 9em; }
/* A wide table scrolls inside its box; the page itself never scrolls sideways (a phone). */
.qa-scroll { overflow-x: auto; max-width: 100%; }
table.qa-table td { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  table.qa-table td.qa-report, table.qa-compare td.qa-section { min-width: 5em; }
  table.qa-table th, table.qa-table td { padding: 0.3em 0.35em; }
}
"""

# Scrolls the full-report box to the highlighted citation when the panel's
# content changes or the <details> is opened.
SCROLL_JS = """
const go = () => {
  for (const box of element.querySelectorAll('.qa-fulltext')) {
    const m = box.querySelector('mark');
    if (m) box.scrollTop = Math.max(0, m.offsetTop - box.offsetTop - box.clientHeight / 3);
  }
};
element.addEventListener('toggle', go, true);
watch('value', go);
"""

# On a wide screen the question box takes the focus; on a phone it does not, because focusing it
# would scroll the page away from the title and open the keyboard.
FOCUS_JS = """
() => {
  const box = document.querySelector('#qa-question textarea');
  if (box && window.matchMedia('(min-width: 768px)').matches) box.focus({preventScroll: true});
}
"""

# After a reply, its first line (the answer's headline) is brought into view: a long reply must not
# leave the reader at its end, with the answer above the screen.
SHOW_REPLY_JS = """
() => {
  const replies = document.querySelectorAll('#qa-chat .qa-reply');
  if (replies.length) replies[replies.length - 1].scrollIntoView({block: 'start'});
}
"""


def esc(text) -> str:
    """Text as HTML text: escaped, never markup."""
    return html.escape(str(text), quote=True)


def esc_lines(text) -> str:
    """Escaped, with line breaks kept as <br> (no blank lines: they would end an HTML block in Markdown)."""
    return "<br>".join(esc(line) for line in str(text).split("\n"))


# ----------------------------------------------------------------- rendering

def _marked(text: str, lo: int, hi: int, citations, anchor: bool = False) -> str:
    """text[lo:hi] escaped, each citation's quote in <mark class=qa-quote> and its answer span in
    <mark class=qa-span>; with anchor, the first quote gets id="qa-cited"."""
    cuts = {lo, hi}
    for c in citations:
        cuts.update(x for x in (c.start, c.end, c.span_start, c.span_end) if lo < x < hi)
    cuts = sorted(cuts)
    out, anchored = [], False
    for a, b in zip(cuts, cuts[1:]):
        piece = esc(text[a:b])
        in_span = any(c.span_start <= a and b <= c.span_end for c in citations)
        in_quote = any(c.start <= a and b <= c.end for c in citations)
        if in_span:
            piece = f'<mark class="qa-span">{piece}</mark>'
        elif in_quote:
            piece = f'<mark class="qa-quote">{piece}</mark>'
        if anchor and (in_span or in_quote) and not anchored:
            piece = f'<span id="qa-cited"></span>{piece}'
            anchored = True
        out.append(piece)
    return "".join(out)


def render_user(question: str) -> str:
    """The user's question as they typed it (escaped); a very long one is shown cut short."""
    if len(question) > USER_SHOWN_CHARS:
        return (f'<div class="qa-user">{esc_lines(question[:USER_SHOWN_CHARS])}…'
                f'<div class="qa-meta">（共 {len(question):,} 字 {len(question):,} characters in all）</div></div>')
    return f'<div class="qa-user">{esc_lines(question)}</div>'


def render_answer(ans, shelf, asked: int = 1) -> str:
    """The chat reply for one Answer: the span, then its numbered citations, each naming its report;
    or the not-found statement.  `shelf` gives a report's text and label (the Engine); `asked` is
    how many reports the question was asked of."""
    if not ans.found:
        return render_not_found(ans, shelf)
    refs = "".join(f"<sup>[{i}]</sup>" for i in range(1, len(ans.citations) + 1))
    parts = ['<div class="qa-reply">',
             '<div class="qa-label">答案 Answer</div>',
             f'<div class="qa-answer">{esc(ans.text)} {refs}</div>']
    for i, c in enumerate(ans.citations, 1):
        parts.append(
            f'<div class="qa-cite"><b>[{i}]</b> 「{_marked(shelf.text_of(c.report), c.start, c.end, [c])}」'
            f'<div class="qa-report">报告 Report: {esc(shelf.label(c.report))}</div>'
            f'<div class="qa-section">出处 Section: {esc(c.section or "—")}'
            f' · 第 {c.start:,}–{c.end:,} 字 characters</div></div>')
    if asked > 1:
        parts.append(f'<div class="qa-meta">所选 {asked} 份报告中最好的一个答案；每份报告各一个答案请用「对比」。 '
                     f'The best answer among the {asked} reports asked; for one answer per report, use '
                     'the Compare tab.</div>')
    parts.append(f'<div class="qa-meta">置信度 Confidence {ans.confidence:.0%} · '
                 '答案为报告原文摘录 The answer is quoted verbatim from the report · '
                 '来源与原文位置见下方 Sources and the passage in context are below</div></div>')
    return "".join(parts)


def render_not_found(ans, shelf) -> str:
    parts = ['<div class="qa-reply">',
             '<div class="qa-notfound-head">报告中没有这个问题的答案。 '
             'The report does not answer this question.</div>']
    if ans.message and ans.message != NOT_FOUND:
        parts.append(f'<div class="qa-meta">{esc(ans.message)}</div>')   # a reason beyond "not found"
    if ans.passages:
        parts.append('<div class="qa-label">最接近的段落（仅供参考，不是答案） '
                     'Closest passages (for reference, not an answer):</div><ol>')
        for p in ans.passages[:NOT_FOUND_SHOWN]:
            excerpt = p.text if len(p.text) <= EXCERPT_CHARS else p.text[:EXCERPT_CHARS] + "…"
            parts.append(f'<li><span class="qa-report">{esc(shelf.label(p.report))}</span> · '
                         f'<span class="qa-section">{esc(p.section or "—")}</span><br>'
                         f'「{esc(excerpt)}」</li>')
        parts.append("</ol>")
    parts.append("</div>")
    return "".join(parts)


def refusal_zh(question) -> str:
    """The Chinese half of a refusal, by the engine's own question rule (clean_question)."""
    q = question if isinstance(question, str) else ""
    try:
        clean_question(q[:MAX_QUESTION_CHARS])      # this short a question fails only when blank
    except QuestionError:
        return "请输入一个关于报告的问题。"
    try:
        clean_question(q)
    except QuestionError:
        return f"问题太长（{len(q):,} 字），请控制在 {MAX_QUESTION_CHARS} 字以内，一次问一个问题。"
    return "无法回答这个问题。"


def render_error(message: str, question) -> str:
    zh = refusal_zh(question)
    return (f'<div class="qa-reply"><div class="qa-error">⚠️ {esc(zh)}</div>'
            f'<div>{esc(message)}</div></div>')


def render_sources(ans, shelf) -> str:
    if ans is None or not ans.passages:
        return '<div class="qa-empty">提问后，这里会列出检索到的段落。 The retrieved passages appear here after a question.</div>'
    cited = {c.chunk_id for c in ans.citations}
    items = []
    for i, p in enumerate(ans.passages, 1):
        badge = ' <span class="qa-badge">被引用 cited</span>' if p.chunk_id in cited else ""
        items.append(
            f'<li><b>{esc(p.section or "—")}</b>{badge}<br>'
            f'<span class="qa-report">{esc(shelf.label(p.report))}</span><br>'
            f'<span class="qa-section">分数 Score {p.score:.3f} · 第 {p.chunk.start:,}–{p.chunk.end:,} 字 '
            f'characters · 段落 chunk #{p.chunk_id}</span>'
            f'<div class="qa-passage">{esc(p.text)}</div></li>')
    head = (f'<div>问题 Question: {esc(ans.question)}</div>'
            f'<div class="qa-section">共 {len(ans.passages)} 段，按相关度排序 '
            f'{len(ans.passages)} passages, most relevant first</div>')
    return f'<div class="qa-sources">{head}<ol>{"".join(items)}</ol></div>'


def _paragraph_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1          # paragraphs are separated by single newlines


def _paragraph_end(text: str, i: int) -> int:
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl


def render_context(ans, shelf) -> str:
    """The cited passage in its place: the paragraphs around it, then the whole report, highlighted."""
    if ans is None or not ans.citations:
        note = ("报告中没有这个问题的答案，所以没有引用；最接近的段落见「来源」。 The report does not "
                "answer this question, so there is no citation; the closest passages are under Sources."
                if ans is not None else
                "提问后，这里会显示被引用的原文及其上下文。 After a question, the cited passage appears here in context.")
        return f'<div class="qa-empty">{esc(note)}</div>'
    c0 = ans.citations[0]
    text = shelf.text_of(c0.report)
    cites = [c for c in ans.citations if c.report == c0.report]      # offsets of one report's text
    return (f'<div class="qa-report">报告 Report: {esc(shelf.label(c0.report))}</div>'
            + render_in_text(text, cites))


def render_in_text(text: str, cites) -> str:
    """Citations of one report's `text`: their paragraphs with one more on each side, highlighted,
    then the whole text in a closed <details>, scrolled to the first one."""
    c0 = cites[0]
    lo, hi = min(c.start for c in cites), max(c.end for c in cites)
    lo, hi = _paragraph_start(text, lo), _paragraph_end(text, hi)
    for _ in range(CONTEXT_PARAGRAPHS):            # widen by whole paragraphs on each side
        lo = _paragraph_start(text, lo - 1) if lo > 0 else 0
        hi = _paragraph_end(text, hi + 1) if hi < len(text) else hi
    sections = " ; ".join(dict.fromkeys(esc(c.section or "—") for c in cites))
    return (
        f'<div class="qa-section">出处 Section: {sections} · 第 {c0.start:,}–{c0.end:,} 字，全文共 '
        f'{len(text):,} 字 characters {c0.start:,}–{c0.end:,} of {len(text):,}</div>'
        f'<div class="qa-label">上下文 In context (淡黄色为引用句，深黄色为答案 '
        'pale = quoted sentence, dark = answer):</div>'
        f'<div class="qa-context">{"…" if lo > 0 else ""}{_marked(text, lo, hi, cites)}'
        f'{"…" if hi < len(text) else ""}</div>'
        '<details><summary>展开报告全文 Show the full report</summary>'
        f'<div class="qa-fulltext">{_marked(text, 0, len(text), cites, anchor=True)}</div>'
        '</details>')


def render_compare(question: str, rows, shelf) -> str:
    """One question across reports: a row per report with its verbatim answer, highlighted in its
    sentence, and its section; a report that does not say gets a "not stated" row."""
    if not rows:
        return '<div class="qa-empty">输入一个问题，比较各份报告的回答。 Ask one question to compare the reports.</div>'
    body = []
    for rid, ans in rows:
        if ans.found and ans.citations:
            c = ans.citations[0]
            answer = (f'<div class="qa-value">{esc(ans.text)}</div>'
                      f'「{_marked(shelf.text_of(c.report), c.start, c.end, [c])}」')
            section = esc(c.section or "—")
        else:
            answer = '<span class="qa-notstated">未说明 Not stated: 报告中没有这个问题的答案。</span>'
            section = "—"
        body.append(f'<tr data-report="{esc(rid)}"><td class="qa-report">{esc(shelf.label(rid))}</td>'
                    f'<td>{answer}</td><td class="qa-section">{section}</td></tr>')
    found = sum(ans.found for _, ans in rows)
    return (f'<div class="qa-section">问题 Question: {esc(question)} · {found} / {len(rows)} 份报告有答案 '
            f'reports answer it</div>' + scrolling(
                '<table class="qa-table qa-compare"><thead><tr><th>报告 Report</th><th>答案 Answer (原文 '
                f'verbatim)</th><th>出处 Section</th></tr></thead><tbody>{"".join(body)}</tbody></table>'))


def scrolling(table: str) -> str:
    """A table in a box that scrolls sideways when the screen is narrower than the table."""
    return f'<div class="qa-scroll">{table}</div>'


def figure_citation(fig) -> Citation:
    """A figure as a citation: its clause quoted, its value as the answer span inside it."""
    at = fig.start + max(fig.quote.find(fig.value), 0)
    return Citation(fig.report, fig.section, fig.quote, fig.start, fig.end, -1, at, at + len(fig.value))


def render_figure(fig, shelf) -> str:
    """Where a figure stands in its report: its clause highlighted in its paragraph."""
    if fig is None:
        return '<div class="qa-empty">点击表中的一行，查看它在报告中的位置。 Click a row to see it in its report.</div>'
    return (f'<div class="qa-report">报告 Report: {esc(shelf.label(fig.report))} · 指标 Indicator: '
            f'{esc(fig.indicator)} <span class="qa-value">{esc(fig.value)}{esc(fig.unit)}</span></div>'
            + render_in_text(shelf.text_of(fig.report), [figure_citation(fig)]))


def render_across(rows, shelf) -> str:
    """One indicator across reports, each value with its quote."""
    if not rows:
        return '<div class="qa-empty">所选报告中没有这个指标。 None of the picked reports states this indicator.</div>'
    body = "".join(
        f'<tr><td class="qa-report">{esc(shelf.label(f.report))}</td><td>{esc(f.indicator)}</td>'
        f'<td class="qa-value">{esc(f.value)}{esc(f.unit)}</td><td>{esc(f.qualifier)}</td>'
        f'<td>「{_marked(shelf.text_of(f.report), f.start, f.end, [figure_citation(f)])}」'
        f'<div class="qa-section">{esc(f.section or "—")} · 第 {f.start:,}–{f.end:,} 字</div></td></tr>'
        for f in rows)
    return scrolling('<table class="qa-table qa-across"><thead><tr><th>报告 Report</th><th>指标 Indicator</th>'
                     '<th>数值 Value</th><th>限定 Qualifier</th><th>引文 Quote · 出处 Section</th></tr></thead>'
                     f'<tbody>{body}</tbody></table>')


def stated_value(f) -> str:
    """The value as the report hedges it: "10%以上", "约2.5万亿元", "5%左右"."""
    words = f.qualifier.split()
    before = "".join(w for w in words if w in BOUND.values())
    after = "".join(w for w in words if re.fullmatch(HEDGE_AFTER, w))
    return f"{before}{f.value}{f.unit}{after}"


def render_pairs(pairs, shelf) -> str:
    if not pairs:
        return ('<div class="qa-empty">这份报告中没有同时给出去年实际值和今年目标的指标。 No indicator in this '
                'report has both last year\'s actual value and this year\'s target.</div>')
    body = "".join(
        f'<tr><td>{esc(a.indicator)}</td><td class="qa-value">{esc(stated_value(a))}</td>'
        f'<td class="qa-value">{esc(stated_value(t))}</td><td>「{esc(a.quote)}」<br>「{esc(t.quote)}」</td></tr>'
        for a, t in pairs)
    return scrolling('<table class="qa-table qa-pairs"><thead><tr><th>指标 Indicator</th><th>去年实际 Actual</th>'
                     '<th>今年目标 Target</th><th>引文 Quotes</th></tr></thead>'
                     f'<tbody>{body}</tbody></table>')


def render_upload(ok: bool, message: str) -> str:
    cls = "qa-upload-ok" if ok else "qa-upload-bad"
    return f'<div class="{cls}">{"✅" if ok else "⚠️"} {esc_lines(message)}</div>'


# ------------------------------------------------------------------- figures

FIGURE_HEADERS = ["报告 Report", "指标 Indicator", "数值 Value", "限定 Qualifier", "类型 Kind", "年份 Year",
                  "出处 Section", "位置 Position"]
KIND_NAMES = {"actual": "actual 实际", "target": "target 目标", "goal": "goal 远期", "other": "other 其他"}


def figure_row(fig) -> list:
    """A figure as a table row; the report id and position (first and last cells) find it again."""
    return [fig.report, fig.indicator, f"{fig.value}{fig.unit}", fig.qualifier, KIND_NAMES[fig.kind],
            fig.year or "", fig.section, fig.start]


def write_csv(figures, folder: Path) -> str:
    """The figures as a CSV file (UTF-8 with BOM, so spreadsheet programs read the Chinese)."""
    fd, path = tempfile.mkstemp(prefix="key-figures-", suffix=".csv", dir=folder)
    fields = list(figures[0].to_dict()) if figures else ["report", "indicator", "value"]
    with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as f:
        out = csv.DictWriter(f, fieldnames=fields)
        out.writeheader()
        out.writerows(fig.to_dict() for fig in figures)
    return path


# -------------------------------------------------------------------- charts

def _figure(rows: int):
    """A matplotlib figure (no pyplot: handlers run in many threads) with Chinese fonts and no mathtext,
    so a "$" in a report stays a "$"."""
    import matplotlib
    from matplotlib.figure import Figure as Canvas
    matplotlib.rcParams.update({"font.sans-serif": CHART_FONTS, "font.family": "sans-serif",
                                "axes.unicode_minus": False, "text.parse_math": False})
    return Canvas(figsize=(8, 0.55 * rows + 1.0), layout="constrained")


def pairs_chart(pairs, title: str):
    """Last year's actual and this year's target, one small panel per indicator (each its own scale,
    as units differ), two panels a row."""
    if not pairs:
        return None
    pairs = pairs[:PAIRS_CHARTED]
    rows = (len(pairs) + 1) // 2
    fig = _figure(2 * rows)
    axes = fig.subplots(rows, 2, squeeze=False).ravel()
    for ax, (a, t) in zip(axes, pairs):
        bars = ax.barh([f"{a.year or ''} 实际", f"{t.year or ''} 目标"], [a.number, t.number],
                       color=["#9ca3af", "#f59e0b"])
        ax.bar_label(bars, labels=[stated_value(a), stated_value(t)], padding=3)
        ax.set_title(a.indicator, loc="left", fontsize=10)
        ax.invert_yaxis()
        ax.set_xticks([])
        ax.margins(x=0.3)
        ax.spines[["top", "right", "bottom"]].set_visible(False)
    for ax in axes[len(pairs):]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    return fig


def across_chart(rows, shelf, title: str):
    """One indicator's value in each report, bars of the unit most of them use."""
    units = [f.unit for f in rows if f.number is not None]
    if not units:
        return None
    unit = max(set(units), key=units.count)
    rows = [f for f in rows if f.unit == unit and f.number is not None]
    fig = _figure(len(rows))
    ax = fig.subplots()
    bars = ax.barh([shelf.label(f.report) for f in rows], [f.number for f in rows], color="#f59e0b")
    ax.bar_label(bars, labels=[f"{f.value}{f.unit} {f.qualifier}".strip() for f in rows], padding=3)
    ax.invert_yaxis()
    ax.margins(x=0.3)
    ax.set_xlabel(unit)
    ax.set_title(title, loc="left", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# -------------------------------------------------------------------- engine

def report_ids(report) -> list[str] | None:
    """The API's `report` argument: "" for every report, an id, or ids separated by commas; a
    picker's list passes through.  None means every report."""
    if isinstance(report, str):
        report = report.split(",")
    ids = [r.strip() for r in report or () if isinstance(r, str) and r.strip()]
    return ids or None


def check_upload(path: Path) -> None:
    """Refuse a file by its name and size before anything reads it (the readers' own limits)."""
    suffix = path.suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise ReportError(f"{path.name}: {suffix or 'a file without an extension'} is not accepted; "
                          f"upload a {ACCEPTED} file. 只接受 .txt、.pdf、.docx 文件。")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ReportError(f"{path.name} is {size / 2**20:,.1f} MB, over the {MAX_BYTES // 2**20} MB limit. "
                          f"文件太大（上限 {MAX_BYTES // 2**20} MB）。")


class Engine:
    """The ReportQA facade behind a lock (the web server answers from many threads), and the shelf
    the renderers read reports through: `text_of(id)` and `label(id)`."""

    def __init__(self, qa, top_k: int):
        self.qa, self.top_k = qa, top_k
        self._lock = threading.Lock()
        self.downloads = Path(tempfile.mkdtemp(prefix="report-qa-"))     # CSV files for the page

    # -- the library ------------------------------------------------------------
    def reports(self):
        return self.qa.reports()

    def text_of(self, rid: str) -> str:
        return self.qa.text_of(rid)

    def label(self, rid: str) -> str:
        """"2025年吉林省政府工作报告 (jilin-2025)": how the page names a report."""
        title = next((r.title for r in self.reports() if r.id == rid), "")
        return f"{title} ({rid})" if title else rid

    def choices(self) -> list[tuple[str, str]]:
        return [(self.label(r.id), r.id) for r in self.reports()]

    def add(self, path, progress: bool = True):
        """A report file added to the library (checked first); ReportQAError says why not."""
        path = Path(path)
        check_upload(path)
        report = self.qa.add(path, progress=progress)     # the engine's library serialises writers
        log.info("Added %s from %s", report.id, path.name)
        return report

    def figures(self, ids: list[str] | None) -> list:
        """The figures of the picked reports that are still in the library (another process may have
        removed one since the page was loaded), else of every report."""
        known = [r.id for r in self.reports()]
        return [f for rid in ([i for i in ids or [] if i in known] or known) for f in self.qa.figures(rid)]

    # -- asking -----------------------------------------------------------------
    def ask(self, question, k: int | None = None, report=None):
        with self._lock:
            return self.qa.ask(question, k=self.top_k if k is None else k, report=report_ids(report))

    def compare(self, question, reports=None) -> list[tuple[str, Answer]]:
        """(report id, answer) for each picked report, or for every report."""
        ids = report_ids(reports) or [r.id for r in self.reports()]
        with self._lock:
            return list(zip(ids, self.qa.compare(question, reports=ids, k=self.top_k)))

    def ask_dict(self, question, k: int | None = None, report="") -> dict:
        """The answer as JSON-ready data; a question the engine refuses gives `error` instead of raising."""
        try:
            return {**self.ask(question, k, report).to_dict(), "error": None}
        except ReportQAError as e:
            return {**_refused(question, e).to_dict(), "error": str(e)}

    def compare_dict(self, question, reports="") -> dict:
        try:
            rows = [{**ans.to_dict(), "report": rid, "title": self.label(rid)}
                    for rid, ans in self.compare(question, reports)]
            return {"question": question, "rows": rows, "error": None}
        except ReportQAError as e:
            return {"question": _echo(question), "rows": [], "error": str(e)}


def example_questions(reports) -> list[str]:
    """Example questions the library can be asked: the bundled report's, else ones about its first report."""
    if not reports or any(r.id == BUNDLED_ID for r in reports):
        return EXAMPLES
    first = reports[0]
    regions = Vocabulary.load().regions(first.region) if first.region else []
    place = "全国" if not regions or regions[0].code == "national" else first.region
    place_en = "China" if place == "全国" else regions[0].en[0].title()
    year = first.year or time.localtime().tm_year
    return [q.format(year=year, last=year - 1, place=place, place_en=place_en) for q in GENERAL_EXAMPLES]


def _refused(question, error) -> Answer:
    return Answer(_echo(question), False, "", message=str(error))


def _echo(question) -> str:
    """The question as a refusal repeats it: cut to what the chat would show, so a 10-million-character
    paste is not sent back whole."""
    if not isinstance(question, str):
        return ""
    return question if len(question) <= USER_SHOWN_CHARS else question[:USER_SHOWN_CHARS] + "…"


# ------------------------------------------------------------------------ UI

def blocks_with_api_defaults(gr):
    """gr.Blocks whose API endpoints fill in the defaults of parameters a call leaves out, as
    gradio_client does: a plain HTTP call `{"data": [question]}` then asks with the default k."""

    from gradio.components.api_component import Api

    class Blocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
            missing = block_fn.inputs[len(inputs):]
            if missing and all(isinstance(c, Api) and c.value is not None for c in missing):
                inputs = list(inputs) + [c.value for c in missing]
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)

    return Blocks


def library_bar(gr, engine: Engine):
    """The report picker, the upload button and the upload's message; the upload's handler."""
    with gr.Row(equal_height=True):
        picker = gr.Dropdown(choices=engine.choices(), value=[], multiselect=True, scale=4,
                             label="报告 Reports（不选 = 全部 none picked = all）", elem_id="qa-picker")
        # No file_types: Gradio would refuse another type in the browser with an error pop-up; the
        # server checks the type instead and says why in the page.
        upload = gr.UploadButton("上传报告 Upload a report (.txt .pdf .docx)", file_count="single",
                                 type="filepath", scale=1, elem_id="qa-upload")
    status = gr.HTML("", elem_id="qa-upload-status")

    def add(path, picked, progress=gr.Progress(track_tqdm=True)):
        """One uploaded file into the library; the page says what happened, never with a pop-up."""
        if not path:
            return render_upload(False, "没有收到文件。 No file arrived; please try again."), gr.update()
        name = Path(path).name
        progress(0, desc=f"正在读取并嵌入 Reading and embedding {name}…")
        try:
            report = engine.add(path)
        except ReportQAError as e:     # the readers name the file by its path: Gradio's temp folder
            return render_upload(False, f"未能添加 Not added: {str(e).replace(str(path), name)}"), gr.update()
        except Exception as e:  # never a traceback on the page; the log has it
            log.exception("Internal error adding %s", name)
            return render_upload(False, f"未能添加 Not added: internal error ({type(e).__name__})."), gr.update()
        picked = [report.id]      # the new report is picked, so the next question asks it
        return (render_upload(True, f"已添加 Added: {engine.label(report.id)} · {report.chars:,} 字 characters · "
                                    f"{report.chunks} 段 passages. 现在可以提问。 Ask it now."),
                gr.update(choices=engine.choices(), value=picked))

    upload.upload(add, inputs=[upload, picker], outputs=[status, picker], concurrency_id="upload",
                  concurrency_limit=2, api_visibility="private", show_progress="full")
    return picker


def chat_tab(gr, engine: Engine, picker):
    history = gr.State([])
    # No floating label over the messages: on a small screen it covered the chat's text.
    chatbot = gr.Chatbot(
        label="对话 Chat", show_label=False, autoscroll=False, height=520, latex_delimiters=[],
        buttons=["copy", "copy_all"], feedback_options=None, elem_id="qa-chat", layout="bubble",
        placeholder="用中文或英文提问关于报告的问题。<br>Ask a question about the reports in Chinese or English.")
    with gr.Row():
        box = gr.Textbox(label="问题 Question", placeholder="例如：技术合同成交额增长了多少？  e.g. "
                         "What is the 2024 economic growth target?", lines=1, max_lines=4,
                         scale=8, elem_id="qa-question", autofocus=False, submit_btn=False)
        send = gr.Button("提问 Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
        clear_btn = gr.Button("清空 Clear", variant="secondary", scale=1, min_width=90, elem_id="qa-clear")
    shown = example_questions(engine.reports())
    examples = gr.Dataset(label="示例问题（点击即问） Example questions (click to ask)",
                          components=[box], samples=[[q] for q in shown], type="index",
                          elem_id="qa-examples", samples_per_page=len(shown))
    with gr.Accordion("来源：检索到的段落 Sources: retrieved passages", open=False, elem_id="qa-sources-panel"):
        sources = gr.HTML(render_sources(None, engine), js_on_load=None, elem_id="qa-sources")
    with gr.Accordion("原文定位：引用在报告中的位置 The cited passage in the full report", open=False,
                      elem_id="qa-context-panel"):
        context = gr.HTML(render_context(None, engine), js_on_load=SCROLL_JS, elem_id="qa-context")

    def respond(question, picked, history):
        """One chat turn, asked of the picked reports.  `history` is this session's server-side list,
        changed in place, so turns queued one after another never overwrite each other."""
        question = question if isinstance(question, str) else ""
        history.append({"role": "user", "content": render_user(question) if question.strip()
                        else '<div class="qa-user qa-empty">（空 empty）</div>'})
        history.append({"role": "assistant", "content": "正在查找… Searching the report…"})
        yield (list(history), gr.update(value="", interactive=False), gr.update(interactive=False),
               gr.update(), gr.update(), history)
        ans = None
        try:
            ans = engine.ask(question, report=picked)
            reply = render_answer(ans, engine, asked=len(report_ids(picked) or ()))
        except ReportQAError as e:
            reply = render_error(UPLOAD_FIRST if str(e) == EMPTY_LIBRARY else str(e), question)
        except Exception as e:  # never leave the page with a spinner and a disabled box
            log.exception("Internal error answering %r", question[:200])
            reply = render_error(f"Internal error: {type(e).__name__}. 内部错误，请重试。", "x")
        history[-1] = {"role": "assistant", "content": reply}
        yield (list(history), gr.update(value="", interactive=True), gr.update(interactive=True),
               render_sources(ans, engine), render_context(ans, engine), history)

    def respond_example(index, picked, history):
        yield from respond(shown[index] if isinstance(index, int) and 0 <= index < len(shown) else "",
                           picked, history)

    def clear(history):
        history.clear()
        return [], gr.update(value="", interactive=True), gr.update(interactive=True), \
            render_sources(None, engine), render_context(None, engine), history

    outputs = [chatbot, box, send, sources, context, history]
    common = dict(outputs=outputs, concurrency_id="chat", concurrency_limit=1, trigger_mode="once",
                  api_visibility="private", show_progress="hidden")
    gr.on([box.submit, send.click], respond, inputs=[box, picker, history], **common).then(
        None, js=SHOW_REPLY_JS)
    examples.click(respond_example, inputs=[examples, picker, history], **common).then(None, js=SHOW_REPLY_JS)
    for trigger in (clear_btn.click, chatbot.clear):
        trigger(clear, inputs=[history], outputs=outputs, concurrency_id="chat", concurrency_limit=1,
                api_visibility="private", show_progress="hidden")


def compare_tab(gr, engine: Engine, picker):
    gr.Markdown("同一个问题，逐份报告回答（所选报告，不选即全部）。 One question, answered by each picked report "
                "(none picked = all).")
    with gr.Row():
        question = gr.Textbox(value=COMPARE_QUESTION, label="问题 Question", scale=8, lines=1,
                              elem_id="qa-compare-question")
        go = gr.Button("比较 Compare", variant="primary", scale=1, min_width=90, elem_id="qa-compare-ask")
    table = gr.HTML(render_compare("", [], engine), elem_id="qa-compare-table")

    def run(q, picked):
        try:
            return render_compare(q, engine.compare(q, picked), engine)
        except ReportQAError as e:
            return render_error(str(e), q)

    gr.on([question.submit, go.click], run, inputs=[question, picker], outputs=table, concurrency_id="chat",
          concurrency_limit=1, trigger_mode="once", api_visibility="private")


def figures_tab(gr, engine: Engine, picker):
    """The picked reports' figures: the table (search, sort, CSV, click to see a row in its report), the
    actual → target chart of one report, and one indicator across the reports."""
    gr.Markdown("所选报告中的每个数字（不选即全部）：点击列名排序，搜索框筛选，点击一行查看原文位置。 "
                "Every figure of the picked reports (none = all): click a column to sort, search to filter, "
                "click a row to see it in its report.")
    table = gr.Dataframe(headers=FIGURE_HEADERS, interactive=False, show_search="search", max_height=420,
                         wrap=True, elem_id="qa-figures-table", datatype="str")
    csv_button = gr.DownloadButton("下载 CSV Download CSV", elem_id="qa-figures-csv", size="sm")
    place = gr.HTML(render_figure(None, engine), js_on_load=SCROLL_JS, elem_id="qa-figure-place")
    gr.Markdown("### 去年实际 → 今年目标 Last year's actual → this year's target")
    pair_report = gr.Dropdown(label="报告 Report", elem_id="qa-pairs-report")
    pairs_plot = gr.Plot(show_label=False, elem_id="qa-pairs-chart")
    pairs_table = gr.HTML(elem_id="qa-pairs-table")
    gr.Markdown("### 一个指标，各份报告 One indicator across the reports")
    with gr.Row():
        indicator = gr.Dropdown(label="指标 Indicator", scale=3, elem_id="qa-across-indicator")
        kind = gr.Radio([("目标 target", "target"), ("实际 actual", "actual")], value="target",
                        label="类型 Kind", scale=2, elem_id="qa-across-kind")
    across_plot = gr.Plot(show_label=False, elem_id="qa-across-chart")
    across_table = gr.HTML(elem_id="qa-across-table")

    def pairs(rid):
        found = actual_target_pairs(engine.figures([rid])) if rid else []
        return pairs_chart(found, engine.label(rid)), render_pairs(found, engine)

    def across(picked, key, kind):
        rows = across_reports(engine.figures(picked), key, kind) if key else []
        return across_chart(rows, engine, f"{key} · {kind}"), render_across(rows, engine)

    def refresh(picked):
        figures = engine.figures(picked)
        known = [r.id for r in engine.reports()]
        ids = [i for i in picked or [] if i in known] or known
        rid = BUNDLED_ID if not picked and BUNDLED_ID in ids else ids[0] if ids else None
        shared = shared_indicators(figures)
        key = "经济增长" if "经济增长" in shared else (shared[0] if shared else None)
        return ([figure_row(f) for f in figures], write_csv(figures, engine.downloads),
                render_figure(None, engine), gr.update(choices=[(engine.label(i), i) for i in ids], value=rid),
                *pairs(rid), gr.update(choices=shared, value=key), *across(picked, key, "target"),
                gr.update(value="target"))

    def show(evt):
        """The clicked row in its report; the row names its report (first cell) and position (last)."""
        rid, start, value = evt.row_value[0], evt.row_value[-1], evt.row_value[2]
        hits = [f for f in engine.figures([rid]) if str(f.start) == str(start)]
        return render_figure(next((f for f in hits if f"{f.value}{f.unit}" == value), hits[0] if hits else None),
                             engine)
    # Set here, not written in the signature: with postponed annotations Gradio could not resolve
    # "gr.SelectData" (gradio is imported inside build_ui), and then passes no event.
    show.__annotations__["evt"] = gr.SelectData

    outputs = [table, csv_button, place, pair_report, pairs_plot, pairs_table, indicator, across_plot,
               across_table, kind]
    quiet = dict(api_visibility="private")
    picker.change(refresh, inputs=picker, outputs=outputs, **quiet)
    table.select(show, outputs=place, **quiet)
    pair_report.input(pairs, inputs=pair_report, outputs=[pairs_plot, pairs_table], **quiet)
    gr.on([indicator.input, kind.input], across, inputs=[picker, indicator, kind],
          outputs=[across_plot, across_table], **quiet)
    return refresh, outputs


def build_ui(engine: Engine):
    import gradio as gr

    def ask(question: str, k: int = engine.top_k, report: str = "") -> dict:
        """Answer one question from the library.

        `report` is "" (every report, or those the question names), a report id, or ids separated by
        commas.  Returns the answer as a dict: question, found, text (the verbatim answer span, "" when
        not found), report (the id of the report it quotes), confidence, message (why nothing was found),
        citations (report, section, quote, start, end, span_start, span_end, chunk_id), passages
        (chunk_id, report, text, section, start, end, score, dense, lexical) and error (None, or why the
        question could not be asked: empty, too long, bad k, unknown report).
        """
        return engine.ask_dict(question, k, report)

    def compare(question: str, reports: str = "") -> dict:
        """Ask one question of each report: `reports` is "" (all) or ids separated by commas.

        Returns {question, rows, error}: one row per report, in order, each an answer dict as /ask
        gives it with `report` (the report asked) and `title`.
        """
        return engine.compare_dict(question, reports)

    with blocks_with_api_defaults(gr)(title="报告问答 Report Q&A", analytics_enabled=False) as demo:
        gr.Markdown("# 报告问答 Report Q&A\n政府工作报告：原文摘录作答，注明出处 · "
                    "Government work reports: answers quoted verbatim, with their source")
        gr.HTML(INTRO, js_on_load=None)
        picker = library_bar(gr, engine)
        with gr.Tabs():
            with gr.Tab("问答 Chat", elem_id="qa-tab-chat"):
                chat_tab(gr, engine, picker)
            with gr.Tab("对比 Compare", elem_id="qa-tab-compare"):
                compare_tab(gr, engine, picker)
            with gr.Tab("主要指标 Key figures", elem_id="qa-tab-figures"):
                refresh_figures, figure_outputs = figures_tab(gr, engine, picker)
        # Each page load sees the library as it is now (another tab may have uploaded a report).
        demo.load(lambda: gr.update(choices=engine.choices()), outputs=picker, api_visibility="private")
        demo.load(lambda: refresh_figures([]), outputs=figure_outputs, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=4)
        gr.api(compare, api_name="compare", concurrency_limit=2)
    return demo


# ---------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python app.py",
        description="Web chat over a library of reports (报告问答): answers are verbatim quotations with "
                    "their report and section; reports can be uploaded, compared, and their key figures "
                    "listed. The first start builds the index (and converts the model) if missing; later "
                    "starts reuse the cache.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: 7860, or the next free port)")
    p.add_argument("--library", default=None,
                   help="the library of reports to serve and add uploads to (default: $REPORT_QA_LIBRARY, "
                        "else index/ in a checkout, holding the bundled Henan 2024 report)")
    p.add_argument("--store", metavar="URI", default=None,
                   help="faiss (default), a Milvus Lite .db file, or http://host:19530 for a Milvus server ($REPORT_QA_STORE)")
    p.add_argument("--report", default=None,
                   help="report text/PDF-extracted file to answer from (default: the bundled "
                        "Henan 2024 government work report)")
    p.add_argument("--model", default=None, help="embedding model (default: the embedded default model)")
    p.add_argument("--index-dir", default=None,
                   help="where the index is kept (default: index/ in a checkout, else the user cache; "
                        "or $REPORT_QA_INDEX)")
    p.add_argument("--top-k", type=int, default=5,
                   help=f"passages retrieved per question and shown under Sources (default: 5, max {MAX_K})")
    args = p.parse_args(argv)
    if not 1 <= args.top_k <= MAX_K:
        p.error(f"--top-k must be from 1 to {MAX_K}")
    if args.port is not None and not 0 < args.port < 65536:
        p.error("--port must be from 1 to 65535")
    return args


def _port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def main(argv=None) -> int:
    args = parse_args(argv)
    configure_logging()
    if args.port is not None and _port_taken(args.host, args.port):   # say so before the slow load
        print(f"Cannot start: port {args.port} on {args.host} is in use or not available; "
              "choose another with --port.", file=sys.stderr)
        return 2
    print("Loading the report, model and index (the first start builds what is missing)… "
          "正在加载报告、模型和索引…", flush=True)
    try:
        qa = ReportQA.load(library=args.library, report=args.report, index_dir=args.index_dir, model=args.model,
                           store=args.store)
    except ReportQAError as e:
        print(f"Cannot start: {e}", file=sys.stderr)
        return 2
    engine = Engine(qa, args.top_k)
    if engine.reports():             # warm up the model so the first visitor does not wait
        engine.ask(example_questions(engine.reports())[0])
    print(f"Library: {len(engine.reports())} report(s) in {qa.library.root}", flush=True)
    print(f"Engine ready in {time.monotonic() - STARTED:.1f} s; starting the web server…", flush=True)
    demo = build_ui(engine)
    demo.queue(max_size=256)
    import gradio as gr
    try:
        _, url, _ = demo.launch(server_name=args.host, server_port=args.port, quiet=True,
                                prevent_thread_lock=True, show_error=False, ssr_mode=False,
                                # Far above the readers' limit, which app.py checks with a message in the
                                # page; this only stops a huge upload from filling the disk.
                                max_file_size=UPLOAD_CEILING,
                                footer_links=["api"], css=CSS, js=FOCUS_JS,
                                theme=gr.themes.Soft(font=FONTS, font_mono=MONO))
    except OSError as e:
        print(f"Cannot start the web server: {e}", file=sys.stderr)
        return 2
    shown = url.rstrip("/")
    if args.host in ("0.0.0.0", "::"):
        shown += f"  (listening on all interfaces, port {demo.server_port})"
    print(f"Ready: {shown}   (started in {time.monotonic() - STARTED:.1f} s; Ctrl+C to stop)", flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass
    finally:
        demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
