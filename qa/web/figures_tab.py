"""The key-figures tab: every figure of the picked reports as a table to work with, one report's
actual → target chart, and one indicator across the reports.

The table is plain HTML sorted and filtered in the browser (a click on a header sorts; values sort
by number within their unit); a row, clicked or opened with Enter, asks the server for its clause
in its paragraph through a direct call (no queue), so the quote shows at once.  The CSV is made
when its button is pressed, the same way, and saved by the browser: no file is written on the
server (a file per page load filled the disk: 140 MB in 200 loads).
"""
from __future__ import annotations

import time
from pathlib import Path

import gradio as gr

from ..cli import to_csv
from ..engine import BUNDLED_ID
from ..figures import COLUMNS, actual_target_pairs, across_reports, shared_indicators
from .charts import across_chart, pairs_chart
from .render import esc, render_across, render_figure, render_pairs, section_name

KIND_NAMES = {"actual": "实际 actual", "target": "目标 target", "goal": "远期 goal", "other": "其他 other"}
# (header, sort type): "text", "num", or "value" (by unit, then by number).
HEADERS = [("报告 Report", "text"), ("指标 Indicator", "text"), ("数值 Value", "value"), ("限定 Qualifier", "text"),
           ("类型 Kind", "text"), ("年份 Year", "num"), ("出处 Section", "text"), ("位置 Position", "num")]
CSV_IDS_NAMED = 3            # a CSV of more reports than this is named by their number
JS = Path(__file__).with_name("figures.js").read_text(encoding="utf-8")


def _td(shown: str, key, cls: str = "", tip: str = "") -> str:
    """A cell: `shown` is HTML already escaped; `key` is what the browser sorts it by."""
    attrs = (f' class="{cls}"' if cls else "") + (f' title="{esc(tip)}"' if tip else "")
    return f'<td data-sort="{esc(key)}"{attrs}>{shown}</td>'


def figure_row(f, titles: dict[str, str]) -> str:
    """A figure as a table row; the row's data attributes find the figure again on the server."""
    number = "" if f.number is None else f.number
    cells = [_td(esc(f.report), f.report, tip=titles.get(f.report, "")), _td(esc(f.indicator), f.indicator),
             _td(esc(f.stated), f"{f.unit}\t{number}", "qa-value"), _td(esc(f.qualifier), f.qualifier),
             _td(esc(KIND_NAMES[f.kind]), f.kind), _td(esc(f.year or ""), f.year or ""),
             _td(section_name(f.section), f.section, "qa-fig-section", f.section), _td(f"{f.start:,}", f.start)]
    return (f'<tr tabindex="0" data-report="{esc(f.report)}" data-start="{f.start}" data-value="{esc(f.value)}">'
            f'{"".join(cells)}</tr>')


def render_table(figures, shelf, ids: list[str]) -> str:
    """The figures of the reports `ids` as a sortable table, with the button that saves them as CSV."""
    if not figures:
        return '<div class="qa-empty">所选报告中没有数字。 The picked reports state no figures.</div>'
    heads = "".join(f'<th scope="col" aria-sort="none"><button type="button" data-col="{i}" data-type="{kind}">'
                    f'{esc(name)}</button></th>' for i, (name, kind) in enumerate(HEADERS))
    titles = {r.id: r.title for r in shelf.reports()}
    rows = "".join(figure_row(f, titles) for f in figures)
    return (f'<div class="qa-fig-tools"><label for="qa-fig-search">搜索 Search</label>'
            '<input id="qa-fig-search" type="search" autocomplete="off" placeholder="指标、数值、出处… '
            'indicator, value, section…"><span class="qa-fig-count" aria-live="polite">'
            f'{len(figures):,} 行 rows</span><button type="button" id="qa-figures-csv" class="qa-csv" '
            f'data-ids="{esc(",".join(ids))}">下载 CSV Download CSV</button></div>'
            '<div class="qa-fig-scroll"><table class="qa-table qa-figtable" aria-label="主要指标 Key figures">'
            '<colgroup><col class="c-report"><col class="c-indicator"><col class="c-value"><col class="c-qualifier">'
            '<col class="c-kind"><col class="c-year"><col class="c-section"><col class="c-position"></colgroup>'
            f'<thead><tr>{heads}</tr></thead><tbody>{rows}</tbody></table></div>'
            f'<div id="qa-figure-place" aria-live="polite">{render_figure(None, shelf)}</div>')


def csv_name(ids: list[str]) -> str:
    """key-figures-<report ids, or "N-reports">-<today>.csv"""
    named = "-".join(ids) if len(ids) <= CSV_IDS_NAMED else f"{len(ids)}-reports"
    return f"key-figures-{named}-{time.strftime('%Y-%m-%d')}.csv"


def figures_csv(shelf, ids) -> list[str]:
    """[file name, CSV text] for the reports `ids` (those still in the library, else all), with the
    CLI's columns; the browser adds the BOM that lets spreadsheet programs read the Chinese."""
    known = [r.id for r in shelf.reports()]
    ids = [i for i in (ids.split(",") if isinstance(ids, str) else []) if i in known] or known
    return [csv_name(ids), to_csv(COLUMNS, [f.row() for f in shelf.figures(ids)]) + "\n"]


def find_figure(shelf, args):
    """The figure a clicked row names: (report, position, value)."""
    try:
        rid, start, value = args
        start = int(start)
    except (TypeError, ValueError):
        return None
    hits = [f for f in shelf.figures([rid]) if f.report == rid and f.start == start]
    return next((f for f in hits if f.value == value), hits[0] if hits else None)


def figures_tab(shelf, picker):
    """Returns the refresh that fills the tab for the picked reports, and its outputs."""
    gr.Markdown("所选报告中的每个数字（不选即全部）：点击列名排序，搜索框筛选，点击一行查看原文位置。 "
                "Every figure of the picked reports (none = all): click a column name to sort, search to filter, "
                "click a row to see it in its report.")

    def figure_place(args):
        return render_figure(find_figure(shelf, args), shelf)

    def figure_rows_csv(ids):
        return figures_csv(shelf, ids)

    table = gr.HTML(elem_id="qa-figures-table", js_on_load=JS, server_functions=[figure_place, figure_rows_csv])
    gr.Markdown("### 去年实际 → 今年目标 Last year's actual → this year's target")
    # allow_custom_value: the choices a session was given are forgotten with its state (page.py
    # SESSIONS); the value is checked here, not by Gradio.
    pair_report = gr.Dropdown(label="报告 Report", elem_id="qa-pairs-report", allow_custom_value=True)
    pairs_plot = gr.HTML(elem_id="qa-pairs-chart", js_on_load=None)
    pairs_table = gr.HTML(elem_id="qa-pairs-table", js_on_load=None)
    gr.Markdown("### 一个指标，各份报告 One indicator across the reports")
    with gr.Row():
        indicator = gr.Dropdown(label="指标 Indicator", scale=3, elem_id="qa-across-indicator",
                                allow_custom_value=True)
        kind = gr.Radio([("目标 target", "target"), ("实际 actual", "actual")], value="target",
                        label="类型 Kind", scale=2, elem_id="qa-across-kind")
    across_plot = gr.HTML(elem_id="qa-across-chart", js_on_load=None)
    across_table = gr.HTML(elem_id="qa-across-table", js_on_load=None)

    def pairs(rid):
        rid = rid if rid in {r.id for r in shelf.reports()} else None
        found = actual_target_pairs(shelf.figures([rid])) if rid else []
        return pairs_chart(found, shelf.label(rid) if rid else ""), render_pairs(found)

    def across(picked, key, kind):
        rows = across_reports(shelf.figures(picked), key, kind) if key else []
        return across_chart(rows, shelf, f"{key} · {KIND_NAMES.get(kind, kind)}"), render_across(rows, shelf)

    def refresh(picked):
        figures = shelf.figures(picked)
        known = [r.id for r in shelf.reports()]
        ids = [i for i in picked or [] if i in known] or known
        rid = BUNDLED_ID if not picked and BUNDLED_ID in ids else ids[0] if ids else None
        shared = shared_indicators(figures)          # the most widely stated first
        key = shared[0] if shared else None
        return (render_table(figures, shelf, ids),
                gr.update(choices=[(shelf.label(i), i) for i in ids], value=rid), *pairs(rid),
                gr.update(choices=shared, value=key), *across(picked, key, "target"), gr.update(value="target"))

    outputs = [table, pair_report, pairs_plot, pairs_table, indicator, across_plot,
               across_table, kind]
    quiet = dict(api_visibility="private")
    picker.change(refresh, inputs=picker, outputs=outputs, **quiet)
    pair_report.input(pairs, inputs=pair_report, outputs=[pairs_plot, pairs_table], **quiet)
    gr.on([indicator.input, kind.input], across, inputs=[picker, indicator, kind],
          outputs=[across_plot, across_table], **quiet)
    return refresh, outputs
