"""Bar charts drawn by the browser: HTML bars with their labels as text.

Images drawn on the server showed empty boxes for Chinese wherever the plotting library's font
cache predated the machine's CJK font; here every label is page text in the page's own fonts,
so it renders wherever the rest of the page does, and screen readers read it.
"""
from __future__ import annotations

from .render import esc

PAIRS_CHARTED = 12           # indicators in the actual → target chart (one small panel each)


def _bar(label: str, number: float, top: float, stated: str, cls: str) -> str:
    width = 0 if not top else max(1.5, 100 * abs(number) / top)
    return (f'<div class="qa-bar-row"><span class="qa-bar-label">{esc(label)}</span>'
            f'<span class="qa-bar-track"><span class="qa-bar {cls}" style="width:{width:.1f}%"></span>'
            f'<span class="qa-bar-value">{esc(stated)}</span></span></div>')


def pairs_chart(pairs, title: str) -> str:
    """Last year's actual and this year's target, one small panel per indicator (each its own scale,
    as units differ)."""
    if not pairs:
        return ""
    panels = []
    for a, t in pairs[:PAIRS_CHARTED]:
        top = max(abs(a.number), abs(t.number))
        panels.append(f'<div class="qa-chart-panel"><div class="qa-chart-name">{esc(a.indicator)}</div>'
                      + _bar(f"{a.year or ''} 实际 actual", a.number, top, a.stated, "qa-bar-actual")
                      + _bar(f"{t.year or ''} 目标 target", t.number, top, t.stated, "qa-bar-target") + "</div>")
    more = len(pairs) - PAIRS_CHARTED
    note = f'<div class="qa-meta">另有 {more} 个指标见下表 {more} more in the table below</div>' if more > 0 else ""
    return (f'<figure class="qa-chart qa-chart-pairs"><figcaption>{esc(title)}</figcaption>'
            f'<div class="qa-chart-grid">{"".join(panels)}</div>{note}</figure>')


def across_chart(rows, shelf, title: str) -> str:
    """One indicator's value in each report: bars of the unit most of them use."""
    units = [f.unit for f in rows if f.number is not None]
    if not units:
        return ""
    unit = max(set(units), key=units.count)
    rows = [f for f in rows if f.unit == unit and f.number is not None]
    top = max(abs(f.number) for f in rows)
    bars = "".join(_bar(shelf.label(f.report), f.number, top, f"{f.stated} {f.qualifier}".strip(), "qa-bar-target")
                   for f in rows)
    return (f'<figure class="qa-chart qa-chart-across"><figcaption>{esc(title)}（单位 unit: {esc(unit or "—")}）'
            f'</figcaption>{bars}</figure>')
