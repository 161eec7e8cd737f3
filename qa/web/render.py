"""HTML for the page: answers with their evidence, refusals, compare rows, figures in their place.

Every piece of text from a user or a report goes through `esc` before it is put into HTML, so a
question (or an uploaded report) holding `<img src=x onerror=alert(1)>` is shown as typed.  The
renderers read reports through a Shelf (`text_of`, `label`); they decide nothing about answers.
"""
from __future__ import annotations

import html

from ..ask.extractor import NOT_FOUND
from . import pdf
from .shelf import USER_SHOWN_CHARS
from .texts import declined, question_refusal

NOT_FOUND_SHOWN = 3          # closest passages quoted in a not-found reply
EXCERPT_CHARS = 220          # how much of each of those passages is shown
CONTEXT_PARAGRAPHS = 1       # paragraphs shown before and after a cited one
OTHERS_SHOWN = 4             # other reports' answers shown at once; the rest are a click away
# Below this, an answer is worded as unsure: held out, answers under 0.7 were right 0.3-0.75 of the
# time (eval/report.md, the reliability table), where those above were right 0.85 or more.
LOW_CONFIDENCE = 0.7
OPENING = "报告开头 Opening"  # the section of what comes before a report's first heading


def esc(text) -> str:
    """Text as HTML text: escaped, never markup."""
    return html.escape(str(text), quote=True)


def esc_lines(text) -> str:
    """Escaped, with line breaks kept as <br>."""
    return "<br>".join(esc(line) for line in str(text).split("\n"))


def section_name(section: str) -> str:
    return esc(section) if section else OPENING


def marked(text: str, lo: int, hi: int, citations, anchor: bool = False) -> str:
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


def _paragraph_start(text: str, i: int) -> int:
    return text.rfind("\n", 0, i) + 1          # paragraphs are separated by single newlines


def _paragraph_end(text: str, i: int) -> int:
    nl = text.find("\n", i)
    return len(text) if nl < 0 else nl


def in_context(text: str, cites) -> str:
    """Citations of one report's `text` in their paragraphs, with one more paragraph on each side."""
    lo, hi = min(c.start for c in cites), max(c.end for c in cites)
    lo, hi = _paragraph_start(text, lo), _paragraph_end(text, hi)
    for _ in range(CONTEXT_PARAGRAPHS):            # widen by whole paragraphs on each side
        lo = _paragraph_start(text, lo - 1) if lo > 0 else 0
        hi = _paragraph_end(text, hi + 1) if hi < len(text) else hi
    return (f'<div class="qa-context">{"…" if lo > 0 else ""}{marked(text, lo, hi, cites)}'
            f'{"…" if hi < len(text) else ""}</div>')


def full_text(text: str, cites) -> str:
    """The whole report, its citations highlighted; the page scrolls the box to the first one."""
    return f'<div class="qa-fulltext" tabindex="0">{marked(text, 0, len(text), cites, anchor=True)}</div>'


def where(c, shelf, places=None) -> str:
    """A citation's section, characters and, for a report read from a PDF, its page(s)."""
    pages = pdf.pages_named(places if places is not None else pdf.places(shelf, c))
    return (f'<span class="qa-section">出处 Section: {section_name(c.section)} · 第 {c.start:,}–{c.end:,} 字 '
            f'characters{pages}</span>')


def actions(c, places) -> str:
    """Buttons that bring more of the report into the citation: its whole text, its PDF page."""
    data = (f'data-report="{esc(c.report)}" data-start="{c.start}" data-end="{c.end}" '
            f'data-span-start="{c.span_start}" data-span-end="{c.span_end}"')
    out = [f'<button type="button" class="qa-more" data-act="text" {data}>展开报告全文 Show the full report</button>']
    if places:
        out.append(f'<button type="button" class="qa-more" data-act="pdf" {data}>在 PDF 第 {places[0].page} 页上查看 '
                   f'Show on PDF page {places[0].page}</button>')
    return f'<div class="qa-actions">{"".join(out)}</div><div class="qa-more-out" aria-live="polite"></div>'


def evidence(c, i: int, turn: int, shelf) -> str:
    """Citation [i] of an answer: the quote, report and section always shown; opened (by its [i]
    link or its own summary), the quote highlighted in its paragraph and buttons for more."""
    text = shelf.text_of(c.report)
    places = pdf.places(shelf, c)
    return (f'<details class="qa-cite" id="qa-t{turn}-c{i}"><summary>'
            f'<b class="qa-n">[{i}]</b> 「{marked(text, c.start, c.end, [c])}」'
            f'<span class="qa-report">报告 Report: {esc(shelf.label(c.report))}</span>{where(c, shelf, places)}'
            '</summary><div class="qa-label">上下文 In context (淡黄色为引用句，深黄色为答案 pale = quoted sentence, '
            f'dark = answer):</div>{in_context(text, [c])}{actions(c, places)}</details>')


def refs(n: int, turn: int) -> str:
    return "".join(f'<a class="qa-ref" href="#qa-t{turn}-c{i}" aria-controls="qa-t{turn}-c{i}" '
                   f'aria-label="引用 {i} Citation {i}">[{i}]</a>' for i in range(1, n + 1))


def render_user(question: str, chars: int | None = None) -> str:
    """The user's question as they typed it (escaped); a very long one (`chars` long, when the
    question was kept cut short) is shown cut short."""
    chars = max(chars or 0, len(question))
    if not question.strip():
        return '<div class="qa-user qa-empty">（空 empty）</div>'
    if chars > USER_SHOWN_CHARS:
        return (f'<div class="qa-user">{esc_lines(question[:USER_SHOWN_CHARS])}…'
                f'<div class="qa-meta">（共 {chars:,} 字 {chars:,} characters in all）</div></div>')
    return f'<div class="qa-user">{esc_lines(question)}</div>'


def render_turn(turn: int, question: str, reply: str, chars: int | None = None) -> str:
    return (f'<article class="qa-turn" id="qa-t{turn}" aria-label="第 {turn} 问 Question {turn}">'
            f'{render_user(question, chars)}{reply}</article>')


def understood(ans, typed: str) -> str:
    resolved = getattr(ans, "resolved", "") or ""
    if resolved and resolved.strip() != typed.strip():
        return f'<div class="qa-understood">理解为 Understood as: {esc(resolved)}</div>'
    return ""


def render_answer(ans, shelf, turn: int = 1, asked: int = 1, typed: str = "") -> str:
    """The reply for one Answer: the span and its [n] links, then each citation with its evidence,
    the passages it was drawn from, and other reports' answers; or the not-found statement."""
    if not ans.found:
        return render_not_found(ans, shelf, turn, typed)
    parts = ['<div class="qa-reply" role="group" aria-label="回答 Answer">',
             '<div class="qa-label">答案 Answer</div>',
             f'<div class="qa-answer">{esc(ans.text)} {refs(len(ans.citations), turn)}</div>',
             understood(ans, typed or ans.question)]
    parts += [evidence(c, i, turn, shelf) for i, c in enumerate(ans.citations, 1)]
    parts.append(render_others(getattr(ans, "others", None) or [], shelf))
    parts.append(render_sources(ans, shelf))
    if getattr(ans, "others", None):
        parts.append(f'<div class="qa-meta">问题没有指明是哪份报告：上面是最好的答案，下面是其他 {len(ans.others)} 份报告各自的回答。 '
                     f'The question named no one report: the best answer is above, the other {len(ans.others)} '
                     'reports\' answers below.</div>')
    parts.append(f'<div class="qa-meta">{confidence_words(ans.confidence)} · '
                 '答案为报告原文摘录 The answer is quoted verbatim from the report</div></div>')
    return "".join(parts)


def confidence_words(p: float) -> str:
    """The confidence as the probability it is (of the answer being right, calibrated held out), with
    a low one said in words: such answers were right about as often as they claim, so check them."""
    if p < LOW_CONFIDENCE:
        return f'<span class="qa-low">置信度低 {p:.0%}，请核对原文 Low confidence ({p:.0%}): check the quote</span>'
    return f"置信度 Confidence {p:.0%}"


def render_others(others, shelf) -> str:
    """Other reports' answers to the same question, best first: one row each, labelled by report, a
    report that does not say it among them (as Compare shows it)."""
    found = [a for a in others if a.report]
    if not found:
        return ""

    def row(a):
        if not (a.found and a.citations):
            return (f'<li><span class="qa-report">{esc(shelf.label(a.report))}</span> · '
                    '<span class="qa-meta">未说明 Not stated</span></li>')
        return (f'<li><span class="qa-report">{esc(shelf.label(a.report))}</span> · '
                f'<span class="qa-value">{esc(a.text)}</span> · {section_name(a.citations[0].section)} · '
                f'{a.confidence:.0%}</li>')
    shown, rest = found[:OTHERS_SHOWN], found[OTHERS_SHOWN:]
    more = (f'<details class="qa-more-others"><summary>另外 {len(rest)} 份报告 {len(rest)} more reports</summary>'
            f'<ul>{"".join(map(row, rest))}</ul></details>' if rest else "")
    return (f'<div class="qa-others"><div class="qa-label">其他报告的回答 Other reports answer</div>'
            f'<ul>{"".join(map(row, shown))}</ul>{more}</div>')


def render_not_found(ans, shelf, turn: int = 1, typed: str = "") -> str:
    zh, en = declined(getattr(ans, "reason", "") or "not_stated")
    parts = ['<div class="qa-reply" role="group" aria-label="回答 Answer">',
             f'<div class="qa-notfound-head">{esc(zh)} {esc(en)}</div>', understood(ans, typed or ans.question)]
    reason = detail(ans)
    if reason:                       # a reason beyond "not found", without its "passages below"
        parts.append(f'<div class="qa-meta">原因 Why: {esc(reason)}</div>')
    if ans.passages:
        parts.append('<div class="qa-label">最接近的段落如下（仅供参考，不是答案） '
                     'Closest passages below (for reference, not an answer):</div><ol>')
        for p in ans.passages[:NOT_FOUND_SHOWN]:
            excerpt = p.text if len(p.text) <= EXCERPT_CHARS else p.text[:EXCERPT_CHARS] + "…"
            parts.append(f'<li><span class="qa-report">{esc(shelf.label(p.report))}</span> · '
                         f'<span class="qa-section">{section_name(p.section)}</span><br>「{esc(excerpt)}」</li>')
        parts.append("</ol>")
    parts.append(render_others(getattr(ans, "others", None) or [], shelf))
    parts.append("</div>")
    return "".join(parts)


def detail(ans) -> str:
    """The engine's own reason for a decline, when it says more than the page's words for its code:
    "(the passage is not about 2023)" without its brackets; none for a question with no content or
    nothing to follow, whose message is the page's words again."""
    if getattr(ans, "reason", "") in ("no_content", "orphan_follow_up") or not ans.message:
        return ""
    text = ans.message.replace(NOT_FOUND, "").strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]     # only the one pair around it: "its reports: henan-2024 (2024)" keeps its own
    return text.strip()


def render_error(error, question="") -> str:
    """A refused question, in both languages, by the error's reason code."""
    zh, en = question_refusal(error)
    return (f'<div class="qa-reply" role="alert"><div class="qa-error">⚠️ {esc(zh)}</div>'
            f'<div>{esc(en)}</div></div>')


def render_internal(name: str) -> str:
    return (f'<div class="qa-reply" role="alert"><div class="qa-error">⚠️ 内部错误，请重试。</div>'
            f'<div>Internal error ({esc(name)}); please try again.</div></div>')


def render_sources(ans, shelf) -> str:
    """The passages an answer was drawn from, most relevant first, the cited ones marked."""
    if not ans.passages:
        return ""
    cited = {c.chunk_id for c in ans.citations}
    items = []
    for p in ans.passages:
        badge = ' <span class="qa-badge">被引用 cited</span>' if p.chunk_id in cited else ""
        items.append(
            f'<li><b>{section_name(p.section)}</b>{badge}<br>'
            f'<span class="qa-report">{esc(shelf.label(p.report))}</span><br>'
            f'<span class="qa-section">分数 Score {p.score:.3f} · 第 {p.chunk.start:,}–{p.chunk.end:,} 字 '
            f'characters · 段落 chunk #{p.chunk_id}</span>'
            f'<div class="qa-passage">{esc(p.text)}</div></li>')
    return (f'<details class="qa-sources"><summary>来源 Sources: 检索到的 {len(ans.passages)} 段 '
            f'{len(ans.passages)} passages retrieved, most relevant first</summary><ol>{"".join(items)}</ol></details>')


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
                      f'「{marked(shelf.text_of(c.report), c.start, c.end, [c])}」')
            section = section_name(c.section)
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


def render_figure(fig, shelf) -> str:
    """Where a figure stands in its report: its clause highlighted in its paragraph, then the whole text."""
    if fig is None:
        return '<div class="qa-empty">点击表中的一行，查看它在报告中的位置。 Click a row to see it in its report.</div>'
    c = fig.citation()
    text = shelf.text_of(fig.report)
    return (f'<div class="qa-report">报告 Report: {esc(shelf.label(fig.report))} · 指标 Indicator: '
            f'{esc(fig.indicator)} <span class="qa-value">{esc(fig.stated)}</span></div>'
            f'<div>{where(c, shelf)}</div>{in_context(text, [c])}'
            '<details><summary>展开报告全文 Show the full report</summary>'
            f'{full_text(text, [c])}</details>')


def render_across(rows, shelf) -> str:
    """One indicator across reports, each value with its quote."""
    if not rows:
        return '<div class="qa-empty">所选报告中没有这个指标。 None of the picked reports states this indicator.</div>'
    body = "".join(
        f'<tr><td class="qa-report">{esc(shelf.label(f.report))}</td><td>{esc(f.indicator)}</td>'
        f'<td class="qa-value">{esc(f.stated)}</td><td>{esc(f.qualifier)}</td>'
        f'<td>「{marked(shelf.text_of(f.report), f.start, f.end, [f.citation()])}」'
        f'<div class="qa-section">{section_name(f.section)} · 第 {f.start:,}–{f.end:,} 字</div></td></tr>'
        for f in rows)
    return scrolling('<table class="qa-table qa-across"><thead><tr><th>报告 Report</th><th>指标 Indicator</th>'
                     '<th>数值 Value</th><th>限定 Qualifier</th><th>引文 Quote · 出处 Section</th></tr></thead>'
                     f'<tbody>{body}</tbody></table>')


def render_pairs(pairs) -> str:
    if not pairs:
        return ('<div class="qa-empty">这份报告中没有同时给出去年实际值和今年目标的指标。 No indicator in this '
                'report has both last year\'s actual value and this year\'s target.</div>')
    body = "".join(
        f'<tr><td>{esc(a.indicator)}</td><td class="qa-value">{esc(a.stated)}</td>'
        f'<td class="qa-value">{esc(t.stated)}</td><td>「{esc(a.quote)}」<br>「{esc(t.quote)}」</td></tr>'
        for a, t in pairs)
    return scrolling('<table class="qa-table qa-pairs"><thead><tr><th>指标 Indicator</th><th>去年实际 Actual</th>'
                     '<th>今年目标 Target</th><th>引文 Quotes</th></tr></thead>'
                     f'<tbody>{body}</tbody></table>')


def render_upload(ok: bool, zh: str, en: str, head: str | None = None) -> str:
    """The message of an upload or a removal: done (ok) or not, under `head` (default: added / not added)."""
    cls, mark, shown = ("qa-upload-ok", "✅", "已添加 Added") if ok else ("qa-upload-bad", "⚠️", "未能添加 Not added")
    head = head or shown
    return (f'<div class="{cls}" role="{"status" if ok else "alert"}">{mark} {head}: {esc(zh)}'
            f'<br>{esc(en)}</div>')
