"""Plotly charts of the views: the schedule as a Gantt chart and the composition of a production order's cost."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ui.i18n import t

FONT = "Noto Sans CJK SC, Noto Sans SC, Source Han Sans SC, Microsoft YaHei, PingFang SC, sans-serif"
PALETTE = (
    "#2563eb", "#16a34a", "#f59e0b", "#9333ea", "#0891b2", "#dc2626", "#65a30d", "#db2777",
    "#4f46e5", "#ea580c", "#0d9488", "#a16207",
)  # fmt: skip
COMPLETED_ELEMENTS = ("material", "labor", "overhead", "subcontract", "other_conversion", "rework")
WIP_ELEMENTS = ("material", "conversion", "subcontract")
ELEMENT_COLORS = {
    "material": "#2563eb",
    "labor": "#16a34a",
    "overhead": "#f59e0b",
    "subcontract": "#9333ea",
    "other_conversion": "#0891b2",
    "rework": "#dc2626",
    "conversion": "#65a30d",
}


def _layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        font={"family": FONT, "size": 13},
        paper_bgcolor="white",
        plot_bgcolor="white",
        legend={"orientation": "h", "y": -0.12},
    )
    return fig


def gantt_figure(schedule: Mapping[str, Any], lang: str) -> go.Figure | None:
    """The schedule's operations as bars per work center (and machine), one colour per order, late orders
    outlined in red; None when there is nothing to draw.

    Reads ``operations`` ({order, work_center, start, end, optional machine, item, seq}) and ``orders``
    ({order, on_time}) of the schedule tool's output.
    """
    operations: Sequence[Mapping[str, Any]] = schedule.get("operations") or []
    if not operations:
        return None
    late = {o.get("order") for o in schedule.get("orders") or [] if o.get("on_time") is False}
    machines = {(op["work_center"], op.get("machine", 0) or 0) for op in operations}
    multi = {wc for wc, m in machines if m > 0}

    def resource(op: Mapping[str, Any]) -> str:
        wc = str(op["work_center"])
        return f"{wc} #{int(op.get('machine', 0) or 0) + 1}" if wc in multi else wc

    orders = sorted({str(op["order"]) for op in operations})
    colors = {order: PALETTE[i % len(PALETTE)] for i, order in enumerate(orders)}
    fig = go.Figure()
    for order in orders:
        ops = [op for op in operations if str(op["order"]) == order]
        fig.add_trace(
            go.Bar(
                name=order,
                orientation="h",
                y=[resource(op) for op in ops],
                base=[op["start"] for op in ops],
                x=[_duration_ms(op["start"], op["end"]) for op in ops],
                marker={
                    "color": colors[order],
                    "line": {
                        "color": "#dc2626" if order in late else "white",
                        "width": 2 if order in late else 1,
                    },
                },
                customdata=[[op.get("item", ""), op.get("seq", ""), op["start"], op["end"]] for op in ops],
                hovertemplate=f"<b>{order}</b> %{{customdata[0]}} #%{{customdata[1]}}<br>"
                "%{customdata[2]} → %{customdata[3]}<extra></extra>",
            )
        )
    resources = sorted({resource(op) for op in operations})
    fig.update_layout(barmode="overlay", bargap=0.3)
    fig.update_xaxes(type="date", showgrid=True, gridcolor="#e5e7eb")
    fig.update_yaxes(
        title=t(lang, "gantt_resource"), categoryorder="array", categoryarray=resources[::-1], showgrid=False
    )
    return _layout(fig, max(320, 60 + 42 * len(resources)))


def _duration_ms(start: str, end: str) -> float:
    """Bar length on a date axis: plotly measures it in milliseconds."""
    return (datetime.fromisoformat(str(end)) - datetime.fromisoformat(str(start))).total_seconds() * 1000


def cost_figure(report: Mapping[str, Any], lang: str) -> go.Figure:
    """What the completed output cost, by element (donut), beside the completed output and ending WIP (bars)."""
    fig = make_subplots(
        rows=1,
        cols=2,
        specs=[[{"type": "domain"}, {"type": "xy"}]],
        column_widths=[0.45, 0.55],
        subplot_titles=(t(lang, "cost_composition"), t(lang, "cost_split")),
    )
    parts = [(e, float(report.get(e) or 0)) for e in COMPLETED_ELEMENTS]
    parts = [(e, v) for e, v in parts if abs(v) > 1e-9]
    fig.add_trace(
        go.Pie(
            labels=[t(lang, f"cost_{e}") for e, _ in parts],
            values=[v for _, v in parts],
            marker={"colors": [ELEMENT_COLORS[e] for e, _ in parts]},
            hole=0.45,
            sort=False,
            textinfo="label+percent",
            hovertemplate="%{label}: %{value:,.2f}<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    wip = report.get("wip") or {}
    bars = [
        (t(lang, "cost_completed_output"), {e: float(report.get(e) or 0) for e in COMPLETED_ELEMENTS}),
        (t(lang, "cost_ending_wip"), {e: float(wip.get(e) or 0) for e in WIP_ELEMENTS}),
    ]
    for element in (*COMPLETED_ELEMENTS, "conversion"):
        values = [b[1].get(element, 0.0) for b in bars]
        if not any(abs(v) > 1e-9 for v in values):
            continue
        fig.add_trace(
            go.Bar(
                name=t(lang, f"cost_{element}"),
                x=[b[0] for b in bars],
                y=values,
                marker={"color": ELEMENT_COLORS[element]},
                hovertemplate="%{x} · " + t(lang, f"cost_{element}") + ": %{y:,.2f}<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_layout(barmode="stack")
    return _layout(fig, 380)
