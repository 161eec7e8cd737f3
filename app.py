"""Web chat over the report: `python app.py`, then open the printed address.

A Gradio page on top of the ReportQA facade; it adds no retrieval logic, only
presentation.  Every piece of text that comes from the user or from the report
goes through `html.escape` before it is put into any HTML we render, so a
question such as `<img src=x onerror=alert(1)>` is shown literally.

Programs can call the same engine through the named API endpoint "/ask"
(question, k) -> answer dict, e.g. with gradio_client.
"""
from __future__ import annotations

import time

STARTED = time.monotonic()

import argparse  # noqa: E402
import html  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import logging  # noqa: E402
import threading  # noqa: E402

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from qa import Answer, ReportQA, ReportQAError  # noqa: E402  (light: the model loads in ReportQA.load)
from qa.ask.extractor import NOT_FOUND  # noqa: E402
from qa.cli import configure_logging  # noqa: E402
from qa.engine import MAX_K, MAX_QUESTION_CHARS, clean_question  # noqa: E402
from qa.errors import QuestionError  # noqa: E402

EXAMPLES = [
    "2024年经济增长的预期目标是多少？",
    "技术合同成交额增长了多少？",
    "城镇新增就业目标是多少？",
    "新能源汽车产业集群有哪些重点项目？",
    "What was Henan's GDP growth in 2023?",
    "How much did PM2.5 concentration fall in 2023?",
    "2024年河南省常住人口是多少？",
]
NOT_FOUND_SHOWN = 3          # closest passages quoted in the chat when there is no answer
EXCERPT_CHARS = 220          # how much of each of those passages the chat shows
CONTEXT_PARAGRAPHS = 1       # paragraphs shown before and after a cited one
USER_SHOWN_CHARS = 600       # a longer question is shown cut short in the chat
log = logging.getLogger("app")

INTRO = """\
<div class="qa-intro">
<p><b>这是什么 What this is:</b> 一个只根据报告原文回答问题的助手。答案都是报告中的<b>原文摘录</b>，
并注明出处章节；报告没有提到的内容，它会直接说明“报告中没有答案”，并列出最接近的段落供参考，不会编造。
<br>An assistant that answers only from the report. Every answer is a <b>verbatim quotation</b> with its
section; when the report does not say, it tells you so and shows the closest passages instead of making
something up.</p>
<p>用中文或英文提问，或点击下方的示例问题。Ask in Chinese or English, or click an example question.</p>
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


def render_answer(ans, text: str) -> str:
    """The chat reply for one Answer: the span, then its numbered citations; or the not-found statement."""
    if not ans.found:
        return render_not_found(ans)
    refs = "".join(f"<sup>[{i}]</sup>" for i in range(1, len(ans.citations) + 1))
    parts = ['<div class="qa-reply">',
             '<div class="qa-label">答案 Answer</div>',
             f'<div class="qa-answer">{esc(ans.text)} {refs}</div>']
    for i, c in enumerate(ans.citations, 1):
        parts.append(
            f'<div class="qa-cite"><b>[{i}]</b> 「{_marked(text, c.start, c.end, [c])}」'
            f'<div class="qa-section">出处 Section: {esc(c.section or "—")}'
            f' · 第 {c.start:,}–{c.end:,} 字 characters</div></div>')
    parts.append(f'<div class="qa-meta">置信度 Confidence {ans.confidence:.0%} · '
                 '答案为报告原文摘录 The answer is quoted verbatim from the report · '
                 '来源与原文位置见下方 Sources and the passage in context are below</div></div>')
    return "".join(parts)


def render_not_found(ans) -> str:
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
            parts.append(f'<li><span class="qa-section">{esc(p.section or "—")}</span><br>'
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


def render_sources(ans) -> str:
    if ans is None or not ans.passages:
        return '<div class="qa-empty">提问后，这里会列出检索到的段落。 The retrieved passages appear here after a question.</div>'
    cited = {c.chunk_id for c in ans.citations}
    items = []
    for i, p in enumerate(ans.passages, 1):
        badge = ' <span class="qa-badge">被引用 cited</span>' if p.chunk_id in cited else ""
        items.append(
            f'<li><b>{esc(p.section or "—")}</b>{badge}<br>'
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


def render_context(ans, text: str) -> str:
    """The cited passage in its place: the paragraphs around it, then the whole report, highlighted."""
    if ans is None or not ans.citations:
        note = ("报告中没有这个问题的答案，所以没有引用；最接近的段落见「来源」。 The report does not "
                "answer this question, so there is no citation; the closest passages are under Sources."
                if ans is not None else
                "提问后，这里会显示被引用的原文及其上下文。 After a question, the cited passage appears here in context.")
        return f'<div class="qa-empty">{esc(note)}</div>'
    c0 = ans.citations[0]
    lo, hi = min(c.start for c in ans.citations), max(c.end for c in ans.citations)
    lo, hi = _paragraph_start(text, lo), _paragraph_end(text, hi)
    for _ in range(CONTEXT_PARAGRAPHS):            # widen by whole paragraphs on each side
        lo = _paragraph_start(text, lo - 1) if lo > 0 else 0
        hi = _paragraph_end(text, hi + 1) if hi < len(text) else hi
    sections = " ; ".join(dict.fromkeys(esc(c.section or "—") for c in ans.citations))
    return (
        f'<div class="qa-section">出处 Section: {sections} · 第 {c0.start:,}–{c0.end:,} 字，全文共 '
        f'{len(text):,} 字 characters {c0.start:,}–{c0.end:,} of {len(text):,}</div>'
        f'<div class="qa-label">上下文 In context (淡黄色为引用句，深黄色为答案 '
        'pale = quoted sentence, dark = answer):</div>'
        f'<div class="qa-context">{"…" if lo > 0 else ""}{_marked(text, lo, hi, ans.citations)}'
        f'{"…" if hi < len(text) else ""}</div>'
        '<details><summary>展开报告全文 Show the full report</summary>'
        f'<div class="qa-fulltext">{_marked(text, 0, len(text), ans.citations, anchor=True)}</div>'
        '</details>')


# -------------------------------------------------------------------- engine

class Engine:
    """The ReportQA facade behind a lock: the web server answers from many threads."""

    def __init__(self, qa, top_k: int):
        self.qa, self.top_k = qa, top_k
        self._lock = threading.Lock()

    def ask(self, question, k: int | None = None):
        with self._lock:
            return self.qa.ask(question, k=self.top_k if k is None else k)

    def ask_dict(self, question, k: int | None = None) -> dict:
        """The answer as JSON-ready data; a question the engine refuses gives `error` instead of raising."""
        try:
            return {**self.ask(question, k).to_dict(), "error": None}
        except ReportQAError as e:
            refused = Answer(question if isinstance(question, str) else "", False, "", message=str(e))
            return {**refused.to_dict(), "error": str(e)}


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


def build_ui(engine: Engine):
    import gradio as gr

    text = engine.qa.text
    doc = getattr(engine.qa, "doc", None)
    title = getattr(doc, "title", "") or "政府工作报告 Government work report"

    def respond(question, history):
        """One chat turn.  `history` is this session's server-side list, changed in place, so turns
        queued one after another never overwrite each other."""
        question = question if isinstance(question, str) else ""
        history.append({"role": "user", "content": render_user(question) if question.strip()
                        else '<div class="qa-user qa-empty">（空 empty）</div>'})
        history.append({"role": "assistant", "content": "正在查找… Searching the report…"})
        yield (list(history), gr.update(value="", interactive=False), gr.update(interactive=False),
               gr.update(), gr.update(), history)
        ans = None
        try:
            ans = engine.ask(question)
            reply = render_answer(ans, text)
        except ReportQAError as e:
            reply = render_error(str(e), question)
        except Exception as e:  # never leave the page with a spinner and a disabled box
            log.exception("Internal error answering %r", question[:200])
            reply = render_error(f"Internal error: {type(e).__name__}. 内部错误，请重试。", "x")
        history[-1] = {"role": "assistant", "content": reply}
        yield (list(history), gr.update(value="", interactive=True), gr.update(interactive=True),
               render_sources(ans), render_context(ans, text), history)

    def respond_example(index, history):
        yield from respond(EXAMPLES[index] if isinstance(index, int) and 0 <= index < len(EXAMPLES) else "",
                           history)

    def clear(history):
        history.clear()
        return [], gr.update(value="", interactive=True), gr.update(interactive=True), \
            render_sources(None), render_context(None, text), history

    def ask(question: str, k: int = engine.top_k) -> dict:
        """Answer one question about the report.

        Returns the answer as a dict: question, found, text (the verbatim answer span, "" when not
        found), confidence, message (why nothing was found), citations (section, quote, start, end,
        span_start, span_end, chunk_id), passages (chunk_id, text, section, start, end, score, dense,
        lexical) and error (None, or why the question could not be asked: empty, too long, bad k).
        """
        return engine.ask_dict(question, k)

    with blocks_with_api_defaults(gr)(title="报告问答 Report Q&A", analytics_enabled=False) as demo:
        gr.Markdown(f"# 报告问答 Report Q&A\n**{esc(title)}**")
        gr.HTML(INTRO, js_on_load=None)
        history = gr.State([])
        # No floating label over the messages: on a small screen it covered the chat's text.
        chatbot = gr.Chatbot(
            label="对话 Chat", show_label=False, autoscroll=False, height=520, latex_delimiters=[], buttons=["copy", "copy_all"],
            feedback_options=None, elem_id="qa-chat", layout="bubble",
            placeholder="用中文或英文提问关于报告的问题。<br>Ask a question about the report in Chinese or English.")
        with gr.Row():
            box = gr.Textbox(label="问题 Question", placeholder="例如：技术合同成交额增长了多少？  e.g. "
                             "What is the 2024 economic growth target?", lines=1, max_lines=4,
                             scale=8, elem_id="qa-question", autofocus=False, submit_btn=False)
            send = gr.Button("提问 Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
            clear_btn = gr.Button("清空 Clear", variant="secondary", scale=1, min_width=90,
                                  elem_id="qa-clear")
        examples = gr.Dataset(label="示例问题（点击即问） Example questions (click to ask)",
                              components=[box], samples=[[q] for q in EXAMPLES], type="index",
                              elem_id="qa-examples", samples_per_page=len(EXAMPLES))
        with gr.Accordion("来源：检索到的段落 Sources: retrieved passages", open=False,
                          elem_id="qa-sources-panel"):
            sources = gr.HTML(render_sources(None), js_on_load=None, elem_id="qa-sources")
        with gr.Accordion("原文定位：引用在报告中的位置 The cited passage in the full report", open=False,
                          elem_id="qa-context-panel"):
            context = gr.HTML(render_context(None, text), js_on_load=SCROLL_JS, elem_id="qa-context")

        outputs = [chatbot, box, send, sources, context, history]
        common = dict(outputs=outputs, concurrency_id="chat", concurrency_limit=1, trigger_mode="once",
                      api_visibility="private", show_progress="hidden")
        gr.on([box.submit, send.click], respond, inputs=[box, history], **common).then(
            None, js=SHOW_REPLY_JS)
        examples.click(respond_example, inputs=[examples, history], **common).then(None, js=SHOW_REPLY_JS)
        for trigger in (clear_btn.click, chatbot.clear):
            trigger(clear, inputs=[history], outputs=outputs, concurrency_id="chat", concurrency_limit=1,
                    api_visibility="private", show_progress="hidden")
        gr.api(ask, api_name="ask", concurrency_limit=4)
    return demo


# ---------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python app.py",
        description="Web chat over the report (报告问答): answers are verbatim quotations with their "
                    "section. The first start builds the index (and converts the model) if missing; "
                    "later starts reuse the cache.")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 for all)")
    p.add_argument("--port", type=int, default=None,
                   help="port to listen on (default: 7860, or the next free port)")
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
        qa = ReportQA.load(report=args.report, index_dir=args.index_dir, model=args.model)
    except ReportQAError as e:
        print(f"Cannot start: {e}", file=sys.stderr)
        return 2
    engine = Engine(qa, args.top_k)
    engine.ask(EXAMPLES[0])          # warm up the model so the first visitor does not wait
    print(f"Engine ready in {time.monotonic() - STARTED:.1f} s; starting the web server…", flush=True)
    demo = build_ui(engine)
    demo.queue(max_size=256)
    import gradio as gr
    try:
        _, url, _ = demo.launch(server_name=args.host, server_port=args.port, quiet=True,
                                prevent_thread_lock=True, show_error=False, ssr_mode=False,
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
