"""The compare tab: one question asked of each picked report, a row per report."""
from __future__ import annotations

import gradio as gr

from ..errors import ReportQAError
from .render import render_compare, render_error

COMPARE_QUESTION = "经济增长预期目标是多少？"


def compare_tab(shelf, picker, access):
    gr.Markdown("同一个问题，逐份报告回答（所选报告，不选即全部）。 One question, answered by each picked report "
                "(none picked = all).")
    with gr.Row():
        question = gr.Textbox(value=COMPARE_QUESTION, label="问题 Question", scale=8, lines=1,
                              elem_id="qa-compare-question")
        go = gr.Button("比较 Compare", variant="primary", scale=1, min_width=90, elem_id="qa-compare-ask")
    table = gr.HTML(render_compare("", [], shelf), elem_id="qa-compare-table", js_on_load=None)

    def run(q, picked, request: gr.Request):
        try:
            access.check_ask(request)
            return render_compare(q, shelf.compare(q, picked), shelf)
        except ReportQAError as e:
            return render_error(e, q)

    gr.on([question.submit, go.click], run, inputs=[question, picker], outputs=table, concurrency_id="compare",
          concurrency_limit=2, trigger_mode="once", api_visibility="private")
