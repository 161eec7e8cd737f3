"""The chat tab: the conversation, the question box, example questions.

The conversation is a list of turns ({"q": the question typed, cut short; "chars": its length;
"html": the reply as rendered; "asked": the standalone question the engine answered, "" for a
refusal}) that the
browser keeps in its tab's sessionStorage: it survives a reload, each tab has its own, and Clear
forgets it.  Each reply carries its own evidence (the [n] links open its citations in place), so
nothing in the page depends on which answer came last.  The earlier questions, as the engine
understood them, go to it as the conversation's history, so a follow-up ("那去年呢？") is read in their
light.
"""
from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

from ..errors import ReportQAError
from ..schema import Citation
from .render import render_answer, render_error, render_internal, render_turn
from .shelf import echo, report_ids
from . import pdf, render

log = logging.getLogger(__name__)

MAX_TURNS = 40               # turns kept (the oldest go first): sessionStorage holds ~5 MB
HISTORY_TURNS = 8            # earlier questions passed to the engine
STORAGE_KEY = "report-qa-chat"
SEARCHING = '<div class="qa-reply qa-pending" role="status">正在查找… Searching the reports…</div>'
EMPTY_LOG = ('<p class="qa-empty">用中文或英文提问关于报告的问题；答案都是报告原文，并附出处。 '
             'Ask about the reports in Chinese or English; every answer is quoted from a report, with its source.</p>')
JS = Path(__file__).with_name("chat.js").read_text(encoding="utf-8")
# The turns, kept in this tab's sessionStorage once a turn is done; read back when the page loads.
SAVE_JS = f"(turns) => {{ sessionStorage.setItem('{STORAGE_KEY}', JSON.stringify(turns || [])); }}"
LOAD_JS = f"() => [JSON.parse(sessionStorage.getItem('{STORAGE_KEY}') || '[]')]"
# After a reply, its first line (the answer's headline) is brought into view.
SHOW_REPLY_JS = """
() => {
  const replies = document.querySelectorAll('#qa-chat .qa-reply');
  if (replies.length) replies[replies.length - 1].scrollIntoView({block: 'start'});
}
"""


INTRO_TEXT = """\
<p>一个只根据政府工作报告原文回答问题的助手。答案都是报告中的<b>原文摘录</b>，注明出处；点 [1] 可在原文中查看。
报告没有提到的内容，它会直接说明“报告中没有答案”，不会编造。</p>
<p>An assistant that answers only from the reports. Every answer is a <b>verbatim quotation</b> with its source:
click [1] to see it in the report. When the reports do not say, it tells you so instead of making something up.</p>
<p>先在上方选择报告（不选即全部），或上传一份报告；用中文或英文提问，或点击示例问题。
Pick reports above (none = all) or upload one; ask in Chinese or English, or click an example question.</p>"""


class Intro:
    """The introduction: open on a new conversation, folded to its summary line once there is one."""

    def __init__(self):
        self.component = gr.HTML(self(False), elem_id="qa-intro", js_on_load=None)

    def __call__(self, folded: bool) -> str:
        return (f'<details class="qa-intro"{"" if folded else " open"}><summary>这是什么？ What is this?</summary>'
                f'{INTRO_TEXT}</details>')


def render_log(turns: list[dict], pending: str | None = None) -> str:
    items = [render_turn(i, t["q"], t["html"], t["chars"]) for i, t in enumerate(turns, 1)]
    if pending is not None:
        items.append(render_turn(len(turns) + 1, pending, SEARCHING))
    body = "".join(items) or EMPTY_LOG
    return f'<section class="qa-log" role="log" aria-label="对话 Conversation">{body}</section>'


def clean_turns(turns) -> list[dict]:
    """The stored turns as the browser sent them back, keeping only what the page wrote."""
    if not isinstance(turns, list):
        return []
    return [{"q": str(t.get("q", "")), "html": str(t.get("html", "")), "asked": str(t.get("asked") or ""),
             "chars": t["chars"] if isinstance(t.get("chars"), int) else 0}
            for t in turns if isinstance(t, dict)][-MAX_TURNS:]


def reply_to(shelf, question: str, picked, turns: list[dict], turn: int, limit=None) -> tuple[str, str]:
    """The reply's HTML for one question, and the standalone question the engine answered ("" for a
    refusal, which is no turn of the conversation).  `limit()` raises when the client may not ask now."""
    history = [t["asked"] for t in turns if t["asked"]][-HISTORY_TURNS:]
    try:
        if limit:
            limit()
        ans = shelf.ask(question, report=picked, history=history)
        return render_answer(ans, shelf, turn, asked=len(report_ids(picked) or ()), typed=question), ans.resolved
    except ReportQAError as e:
        return render_error(e, question), ""
    except Exception as e:  # never leave the page with a spinner and a locked box; the log has it
        log.exception("Internal error answering %r", question[:200])
        return render_internal(type(e).__name__), ""


def more(shelf, args) -> str:
    """What a citation's button brings in: the whole report text, or the PDF page."""
    try:
        act, rid, start, end, span_start, span_end = args
        start, end, span_start, span_end = (int(x) for x in (start, end, span_start, span_end))
        if act == "pdf":
            return pdf.page_view(shelf, rid, start, end, span_start, span_end)
        return render.full_text(shelf.text_of(rid), [Citation(rid, "", "", start, end, -1, span_start, span_end)])
    except ReportQAError:
        return '<div class="qa-empty">这份报告已不在资料库中。 This report is no longer in the library.</div>'
    except (TypeError, ValueError):
        return ""


def chat_tab(shelf, picker, access):
    """The introduction, the conversation, the question box and the examples; returns the event the
    page's load runs to bring back this tab's conversation."""
    turns = gr.JSON(value=[], visible=False)
    intro = Intro()

    def more_of_report(args):
        return more(shelf, args)

    with gr.Row(elem_id="qa-chat-tools"):
        gr.HTML('<h2 class="qa-h2" id="qa-chat-title">对话 Conversation</h2>', js_on_load=None)
        clear_btn = gr.Button("清空对话 Clear", variant="secondary", size="sm", min_width=80, scale=0,
                              elem_id="qa-clear")
    log_html = gr.HTML(render_log([]), elem_id="qa-chat", js_on_load=JS, server_functions=[more_of_report])
    with gr.Row(elem_id="qa-ask-row", equal_height=True):
        box = gr.Textbox(label="问题 Question", show_label=False, placeholder=shelf.placeholder(), lines=1,
                         max_lines=4, scale=8, min_width=160, elem_id="qa-question", autofocus=False,
                         submit_btn=False, container=False)
        send = gr.Button("提问 Ask", variant="primary", scale=0, min_width=72, elem_id="qa-ask")
    shown = shelf.examples()
    examples = gr.Dataset(label="示例问题（点击即问） Example questions (click to ask)", components=[box],
                          samples=[[q] for q in shown], type="index", elem_id="qa-examples",
                          samples_per_page=max(1, len(shown)), visible=bool(shown))

    def respond(question, picked, stored, request: gr.Request):
        question = question if isinstance(question, str) else ""
        done = clean_turns(stored)
        yield (render_log(done, pending=question), gr.update(value="", interactive=False),
               gr.update(interactive=False), gr.update(), gr.update())
        reply, asked = reply_to(shelf, question, picked, done, len(done) + 1, limit=lambda: access.check_ask(request))
        done = (done + [{"q": echo(question), "html": reply, "asked": asked, "chars": len(question)}])[-MAX_TURNS:]
        yield (render_log(done), gr.update(value="", interactive=True), gr.update(interactive=True), done,
               intro(folded=True))

    def respond_example(index, picked, stored, request: gr.Request):
        yield from respond(shown[index] if isinstance(index, int) and 0 <= index < len(shown) else "",
                           picked, stored, request)

    def clear():
        return render_log([]), gr.update(value="", interactive=True), gr.update(interactive=True), [], intro(False)

    def restore(stored):
        """The tab's earlier conversation after a reload.  Nothing stored: nothing changed, so that a
        page load's restore that ends late (behind the page's other load events on a busy server)
        cannot wipe an answer to a question asked at once (a browser test lost one so, twice)."""
        done = clean_turns(stored)
        if not done:
            return gr.skip(), gr.skip(), gr.skip()
        return render_log(done), done, intro(folded=True)

    outputs = [log_html, box, send, turns, intro.component]
    common = dict(outputs=outputs, concurrency_id="chat", concurrency_limit=4, trigger_mode="once",
                  api_visibility="private", show_progress="hidden")
    gr.on([box.submit, send.click], respond, inputs=[box, picker, turns], **common).then(
        None, inputs=[turns], js=SAVE_JS).then(None, js=SHOW_REPLY_JS)
    examples.click(respond_example, inputs=[examples, picker, turns], **common).then(
        None, inputs=[turns], js=SAVE_JS).then(None, js=SHOW_REPLY_JS)
    clear_btn.click(clear, outputs=outputs, api_visibility="private", show_progress="hidden").then(
        None, inputs=[turns], js=SAVE_JS)
    return dict(fn=restore, inputs=[turns], outputs=[log_html, turns, intro.component], js=LOAD_JS,
                api_visibility="private", show_progress="hidden")
