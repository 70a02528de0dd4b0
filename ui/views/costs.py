"""Costs: one-click costing of a period and each production order's cost report with its composition chart."""

from __future__ import annotations

import re
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.charts import cost_figure
from ui.gateway import Gateway
from ui.html import code_link, esc, fmt_money, fmt_num, heading, kpi, kpis, link, notice, records_table, table
from ui.i18n import status_label, t
from ui.suggestions import previous_period
from ui.views.common import NotSignedIn, Shell, error_html, require

PERIOD_PATTERN = r"^\d{4}-\d{2}$"


@dataclass
class CostsView:
    period: gr.Textbox
    run: gr.Button
    orders: gr.HTML
    picker: gr.Dropdown
    report: gr.HTML
    chart: gr.Plot
    details: gr.HTML

    @property
    def report_outputs(self) -> list[Any]:
        return [self.report, self.chart, self.details]


def build(shell: Shell) -> CostsView:
    labels = shell.labels
    gateway = shell.gateway
    with gr.Row(elem_classes=["op-controls"]):
        period = labels.make(gr.Textbox, {"label": "costs_period"}, value="", max_lines=1, scale=1)
        run = labels.make(
            gr.Button, {"value": "costs_run"}, variant="primary", scale=1, elem_id="op-run-costing"
        )
        picker = labels.make(
            gr.Dropdown, {"label": "costs_pick"}, choices=[], allow_custom_value=True, scale=2
        )
    orders = gr.HTML(elem_id="op-costs-orders")
    report = gr.HTML(elem_id="op-cost-report")
    chart = gr.Plot(show_label=False, visible=False, elem_id="op-cost-chart")
    details = gr.HTML(elem_id="op-cost-details")
    view = CostsView(period, run, orders, picker, report, chart, details)

    def on_run(
        actor: Actor | None, lang: str, p: str, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, Any]:
        return render_costing(gateway, actor, lang, p, progress)

    run.click(on_run, [shell.session, shell.lang, period], [orders, picker], show_progress="full")
    picker.input(
        lambda a, lang, p, order: render_report(gateway, a, lang, p, order),
        [shell.session, shell.lang, period, picker],
        view.report_outputs,
    )
    return view


def default_period(gateway: Gateway, actor: Actor | None) -> str:
    """The month before the planning clock's (the period normally being closed)."""
    if actor is None:
        return ""
    return previous_period(gateway.today(actor))


def _period(value: str | None) -> str:
    text = (value or "").strip()
    return text if re.match(PERIOD_PATTERN, text) else ""


def orders_html(costing: dict[str, Any], lang: str, items: Container[str]) -> str:
    rows = [
        [
            link("cost", o["production_order"]),
            code_link(o["item"], items),
            esc(fmt_num(o.get("completed_qty"))),
            esc(fmt_money(o.get("material"))),
            esc(fmt_money(o.get("labor"))),
            esc(fmt_money(o.get("overhead"))),
            esc(fmt_money(o.get("subcontract"))),
            esc(fmt_money(o.get("total"))),
            esc(fmt_money(o.get("unit_cost"))),
            esc(fmt_money((o.get("wip") or {}).get("total"))),
        ]
        for o in costing.get("orders", [])
    ]
    headers = [
        t(lang, "col_order"), t(lang, "col_item"), t(lang, "col_completed"), t(lang, "cost_material"),
        t(lang, "cost_labor"), t(lang, "cost_overhead"), t(lang, "cost_subcontract"), t(lang, "col_total"),
        t(lang, "col_unit_cost"), t(lang, "col_wip"),
    ]  # fmt: skip
    problems = costing.get("problems") or []
    problem_html = (
        heading(t(lang, "costs_problems"), 4) + records_table(problems, lang, items) if problems else ""
    )
    hint = f"<p class='op-muted'>{esc(t(lang, 'costs_choose'))}</p>"
    return (
        heading(t(lang, "costs_orders"), 4)
        + hint
        + table(headers, rows, empty=t(lang, "none"))
        + problem_html
    )


def render_costing(
    gateway: Gateway, actor: Actor | None, lang: str, period: str | None, progress: Any
) -> tuple[str, Any]:
    """Cost every production order of the period (with progress); the table and the order picker."""
    try:
        actor = require(actor)
        chosen = _period(period) or default_period(gateway, actor)
        progress(0.2, desc=t(lang, "progress_planning"))
        costing = gateway.call(actor, "run_costing", {"period": chosen})
        items = gateway.items(actor)
        progress(0.9, desc=t(lang, "progress_rendering"))
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), gr.update()
    choices = [o["production_order"] for o in costing.get("orders", [])]
    return orders_html(costing, lang, items), gr.update(choices=choices)


def report_html(report: dict[str, Any], lang: str, items: Container[str]) -> tuple[str, str]:
    """The head (title, item, key figures) and the details (outputs, allocations, elements, checks)."""
    wip = report.get("wip") or {}
    head = heading(
        t(lang, "costs_report_title", order=report["production_order"], period=report.get("period", "")), 3
    )
    figures = kpis(
        [
            kpi(t(lang, "col_completed"), fmt_num(report.get("completed_qty"))),
            kpi(t(lang, "col_total"), fmt_money(report.get("total"))),
            kpi(t(lang, "col_unit_cost"), fmt_money(report.get("unit_cost"))),
            kpi(
                t(lang, "cost_ending_wip"),
                f"{fmt_num(wip.get('qty'))} · {fmt_money(wip.get('total'))}",
                "muted",
            ),
        ]
    )
    item = (
        f"<p>{code_link(report.get('item'), items)} · {esc(status_label(lang, report.get('kind', '')))}</p>"
    )
    parts: list[str] = []
    for key, title in (
        ("outputs", "cost_outputs"),
        ("allocations", "cost_allocations"),
        ("elements", "cost_elements"),
        ("checks", "cost_checks"),
    ):
        rows = report.get(key) or []
        if rows:
            parts.append(heading(t(lang, title), 4) + records_table(rows, lang, items))
    warnings = report.get("warnings") or []
    if warnings:
        parts.append(heading(t(lang, "cost_warnings"), 4))
        parts.extend(notice(str(w), "warn") for w in warnings)
    return head + item + figures, "".join(parts)


def render_report(
    gateway: Gateway, actor: Actor | None, lang: str, period: str | None, order: str | None
) -> tuple[str, Any, str]:
    """One production order's cost report in the period: head, composition chart, details."""
    if not order:
        return notice(t(lang, "costs_choose"), "info"), gr.update(visible=False), ""
    try:
        actor = require(actor)
        chosen = _period(period) or default_period(gateway, actor)
        report = gateway.call(actor, "get_cost_report", {"production_order": order.strip(), "period": chosen})
        items = gateway.items(actor)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), gr.update(visible=False), ""
    report.setdefault("period", chosen)
    head, details = report_html(report, lang, items)
    return head, gr.update(value=cost_figure(report, lang), visible=True), details
