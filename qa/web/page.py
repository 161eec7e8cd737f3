"""The page: header, introduction, the library bar (library.py), the three tabs, the public API.

Programs call the engine through the named endpoints "/ask" (question, k, report) -> answer dict
and "/compare" (question, reports) -> rows; every other event of the page is private.  Both, like
the chat and compare tabs, count against the client's question limit (access.py).
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..errors import AccessError
from .access import Access
from .chat import chat_tab
from .compare import compare_tab
from .figures_tab import figures_tab
from .library import library_bar
from .render import esc
from .uploads import Uploads

HERE = Path(__file__).parent
CSS = (HERE / "page.css").read_text(encoding="utf-8")
PAGE_JS = (HERE / "page.js").read_text(encoding="utf-8")
# Local fonts only: the page must not fetch web fonts (it works offline), and Chinese comes first.
FONTS = ["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
         "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "Consolas", "Noto Sans Mono CJK SC", "monospace"]
# Sessions whose state Gradio keeps (the least recently used go first).  Gradio makes a session for
# every API call without one (each plain HTTP /ask) and copies the page's configuration into it:
# 0.12 MB a call here, so its default of 10,000 sessions grew the server by 1.1 GB over 10,000 calls
# in a trial.  256 sessions hold ~30 MB; the page keeps nothing in its session that it cannot lose
# (the conversation is in the browser, pickers accept any id, an upload's question has a token).
SESSIONS = 256


def header(shelf, picked=None) -> str:
    """The title and which reports are loaded and asked."""
    reports = shelf.reports()
    known = {r.id for r in reports}
    picked = [p for p in picked or [] if p in known]
    asking = (f"提问范围：所选 {len(picked)} 份 · Asking the {len(picked)} picked"
              if picked else "提问范围：全部报告 · Asking all of them (or those a question names)")
    if not reports:
        loaded = "资料库里还没有报告 · The library has no reports yet: upload one"
    else:
        names = "、".join(r.title or r.id for r in reports[:3]) + (" 等 …" if len(reports) > 3 else "")
        loaded = f"已载入 {len(reports)} 份报告 {len(reports)} report{'s' if len(reports) != 1 else ''} loaded: {esc(names)}"
    return (f'<header class="qa-header"><h1>报告问答 Report Q&amp;A</h1>'
            f'<p class="qa-status" id="qa-status">{loaded} · {asking}</p></header>')


def blocks_with_api_defaults():
    """gr.Blocks whose API endpoints fill in the defaults of parameters a call leaves out, as
    gradio_client does: a plain HTTP call `{"data": [question]}` then asks with the default k."""

    import inspect

    from gradio.components.api_component import Api

    class Blocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
            missing = block_fn.inputs[len(inputs):]
            if missing and all(isinstance(c, Api) for c in missing) and defaulted(block_fn.fn, len(inputs)):
                inputs = list(inputs) + [c.value for c in missing]
            return await super().preprocess_data(block_fn, inputs, state, explicit_call)

    def defaulted(fn, given: int) -> bool:
        # Api keeps a default of None like no default at all (history=None), so ask the function.
        params = list(inspect.signature(fn).parameters.values())[given:]
        return all(p.default is not inspect.Parameter.empty for p in params)

    return Blocks


def build_ui(shelf, access: Access, uploads: Uploads):
    def ask(question: str, k: int = shelf.top_k, report: str = "", history: list[str] | None = None,
            request: gr.Request = None) -> dict:
        """Answer one question from the library.

        `report` is "" (every report, or those the question names), a report id, or ids separated by
        commas.  `history` is the conversation's earlier questions, oldest first: the question may follow
        up on them ("那去年呢？").  Returns the answer as a dict: question, resolved (the standalone
        question answered), found, text (the verbatim answer span, "" when not found), report (the id of
        the report it quotes), confidence (the probability it is right), message (why nothing was
        found), reason (a decline's code), scope (the reports asked), citations (report, section, quote,
        start, end, span_start, span_end, chunk_id), passages (chunk_id, report, text, section, start,
        end, score, dense, lexical), others (the other reports' answers when the question named no one
        report) and error (None, or why the question could not be asked: empty, too long, bad k,
        unknown report, too many questions lately).
        """
        try:
            access.check_ask(request)
        except AccessError as e:
            return shelf.refused(question, e)
        return shelf.ask_dict(question, k, report, history)

    def compare(question: str, reports: str = "", request: gr.Request = None) -> dict:
        """Ask one question of each report: `reports` is "" (all) or ids separated by commas.

        Returns {question, rows, error}: one row per report, in order, each an answer dict as /ask
        gives it with `report` (the report asked) and `title`.
        """
        try:
            access.check_ask(request)
        except AccessError as e:
            return {"question": question if isinstance(question, str) else "", "rows": [], "error": str(e)}
        return shelf.compare_dict(question, reports)

    with blocks_with_api_defaults()(title="报告问答 Report Q&A", analytics_enabled=False) as demo:
        head = gr.HTML(header(shelf), elem_id="qa-head", js_on_load=None)
        picker, who_may = library_bar(shelf, access, uploads)
        with gr.Tabs():
            with gr.Tab("问答 Chat", elem_id="qa-tab-chat"):
                restore = chat_tab(shelf, picker, access)
            with gr.Tab("对比 Compare", elem_id="qa-tab-compare"):
                compare_tab(shelf, picker, access)
            with gr.Tab("主要指标 Key figures", elem_id="qa-tab-figures"):
                refresh_figures, figure_outputs = figures_tab(shelf, picker)
        picker.change(lambda picked: header(shelf, picked), inputs=picker, outputs=head, api_visibility="private",
                      show_progress="hidden")
        # Each page load sees the library as it is now (another tab may have uploaded a report).
        demo.load(lambda: (gr.update(choices=shelf.choices()), header(shelf)), outputs=[picker, head],
                  api_visibility="private", show_progress="hidden")
        demo.load(**restore)
        demo.load(**who_may)
        demo.load(lambda: refresh_figures([]), outputs=figure_outputs, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=4)
        gr.api(compare, api_name="compare", concurrency_limit=2)
    return demo


def launch_options() -> dict:
    """What demo.launch needs besides the address and who may do what: the page's look, its
    scripts, and how many sessions it keeps."""
    # The Soft theme's indigo labels, primary button and grey placeholders fall below WCAG AA's 4.5:1.
    theme = gr.themes.Soft(font=FONTS, font_mono=MONO).set(
        block_label_text_color="*primary_800", block_title_text_color="*primary_800",
        input_placeholder_color="*neutral_500", button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800", button_primary_text_color="white",
        checkbox_label_background_fill_selected="*primary_700", checkbox_label_text_color_selected="white")
    return dict(footer_links=["api"], css=CSS, js=PAGE_JS, theme=theme, state_session_capacity=SESSIONS)
