"""The page: header, introduction, report picker and upload, the three tabs, the public API.

Programs call the engine through the named endpoints "/ask" (question, k, report) -> answer dict
and "/compare" (question, reports) -> rows; every other event of the page is private.
"""
from __future__ import annotations

import logging
from pathlib import Path

from ..errors import ReportQAError
from .chat import chat_tab
from .compare import compare_tab
from .figures_tab import figures_tab
from .render import esc, render_upload
from .texts import INTERNAL, NO_FILE, upload_refusal

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
CSS = (HERE / "page.css").read_text(encoding="utf-8")
PAGE_JS = (HERE / "page.js").read_text(encoding="utf-8")
# Local fonts only: the page must not fetch web fonts (it works offline), and Chinese comes first.
FONTS = ["system-ui", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", "WenQuanYi Micro Hei",
         "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "Consolas", "Noto Sans Mono CJK SC", "monospace"]
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


def blocks_with_api_defaults(gr):
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


def library_bar(gr, shelf):
    """The report picker, the upload button and the upload's message (where its progress shows)."""
    with gr.Row(equal_height=True, elem_id="qa-library-row"):
        picker = gr.Dropdown(choices=shelf.choices(), value=[], multiselect=True, scale=4, min_width=300,
                             label="报告 Reports（不选 = 全部 none picked = all）", elem_id="qa-picker")
        # No file_types: Gradio would refuse another type in the browser with a pop-up; the readers
        # refuse it on the server, and the page says why.
        upload = gr.UploadButton("上传报告 Upload (.txt .pdf .docx)", file_count="single", type="filepath",
                                 scale=1, min_width=150, elem_id="qa-upload")
    status = gr.HTML("", elem_id="qa-upload-status", js_on_load=None, min_height=0)

    def add(path, picked, progress=gr.Progress(track_tqdm=True)):
        """One uploaded file into the library; the page says what happened, never with a pop-up."""
        if not path:
            return render_upload(False, *NO_FILE), gr.update()
        name = Path(path).name
        progress(0, desc=f"读取并嵌入 Reading and embedding {name}…")
        try:
            report = shelf.add(path)
        except ReportQAError as e:
            log.info("Upload of %s refused (%s): %s", name, e.code, e)
            return render_upload(False, *upload_refusal(e, name)), gr.update()
        except Exception as e:  # never a traceback on the page; the log has it
            log.exception("Internal error adding %s", name)
            return render_upload(False, f"{name}：{INTERNAL[0]}", f"{name}: {INTERNAL[1]} ({type(e).__name__})"), \
                gr.update()
        label = shelf.label(report.id)
        return (render_upload(True, f"{label} · {report.chars:,} 字 · {report.chunks} 段。现在可以提问。",
                              f"{report.chars:,} characters, {report.chunks} passages. Ask it now."),
                gr.update(choices=shelf.choices(), value=[report.id]))     # picked: the next question asks it

    upload.upload(add, inputs=[upload, picker], outputs=[status, picker], concurrency_id="upload",
                  concurrency_limit=2, api_visibility="private", show_progress="full", show_progress_on=[status])
    return picker


def build_ui(shelf):
    import gradio as gr

    def ask(question: str, k: int = shelf.top_k, report: str = "", history: list[str] | None = None) -> dict:
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
        unknown report).
        """
        return shelf.ask_dict(question, k, report, history)

    def compare(question: str, reports: str = "") -> dict:
        """Ask one question of each report: `reports` is "" (all) or ids separated by commas.

        Returns {question, rows, error}: one row per report, in order, each an answer dict as /ask
        gives it with `report` (the report asked) and `title`.
        """
        return shelf.compare_dict(question, reports)

    with blocks_with_api_defaults(gr)(title="报告问答 Report Q&A", analytics_enabled=False) as demo:
        head = gr.HTML(header(shelf), elem_id="qa-head", js_on_load=None)
        picker = library_bar(gr, shelf)
        with gr.Tabs():
            with gr.Tab("问答 Chat", elem_id="qa-tab-chat"):
                restore = chat_tab(gr, shelf, picker)
            with gr.Tab("对比 Compare", elem_id="qa-tab-compare"):
                compare_tab(gr, shelf, picker)
            with gr.Tab("主要指标 Key figures", elem_id="qa-tab-figures"):
                refresh_figures, figure_outputs = figures_tab(gr, shelf, picker)
        picker.change(lambda picked: header(shelf, picked), inputs=picker, outputs=head, api_visibility="private",
                      show_progress="hidden")
        # Each page load sees the library as it is now (another tab may have uploaded a report).
        demo.load(lambda: (gr.update(choices=shelf.choices()), header(shelf)), outputs=[picker, head],
                  api_visibility="private", show_progress="hidden")
        demo.load(**restore)
        demo.load(lambda: refresh_figures([]), outputs=figure_outputs, api_visibility="private")
        gr.api(ask, api_name="ask", concurrency_limit=4)
        gr.api(compare, api_name="compare", concurrency_limit=2)
    return demo


def launch_options(gr) -> dict:
    """What demo.launch needs besides the address: the page's look and its scripts."""
    # The Soft theme's indigo labels, primary button and grey placeholders fall below WCAG AA's 4.5:1.
    theme = gr.themes.Soft(font=FONTS, font_mono=MONO).set(
        block_label_text_color="*primary_800", block_title_text_color="*primary_800",
        input_placeholder_color="*neutral_500", button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800", button_primary_text_color="white",
        checkbox_label_background_fill_selected="*primary_700", checkbox_label_text_color_selected="white")
    return dict(footer_links=["api"], css=CSS, js=PAGE_JS, theme=theme)
