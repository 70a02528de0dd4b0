"""Planning: MRP suggestions with their pegging, shortages of an order, and the schedule as a Gantt chart."""

from __future__ import annotations

from collections import Counter
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.charts import gantt_figure
from ui.gateway import Gateway
from ui.html import badge, code_link, esc, fmt_num, heading, notice, table
from ui.i18n import TEXTS, status_label, t
from ui.views.common import NotSignedIn, Shell, error_html, require
from ui.views.orders import render_shortages

SCHEDULE_TOOL = "get_schedule"
MAX_MRP_ROWS = 60  # the most urgent first; "late only" narrows it
ACTION_TONES = {"buy": "info", "make": "ok", "subcontract": "warn"}
EXCEPTION_TONES = {
    "late": "bad",
    "past_due_demand": "bad",
    "past_due_supply": "warn",
    "reschedule_in": "warn",
}


@dataclass
class PlanningView:
    horizon: gr.Number
    only_late: gr.Checkbox
    run_mrp: gr.Button
    mrp_summary: gr.HTML
    mrp_suggestions: gr.HTML
    mrp_exceptions: gr.HTML
    shortage_picker: gr.Dropdown
    use_substitutes: gr.Checkbox
    shortage_button: gr.Button
    shortages: gr.HTML
    schedule_button: gr.Button
    schedule_summary: gr.HTML
    gantt: gr.Plot
    schedule_problems: gr.HTML


def build(shell: Shell) -> PlanningView:
    labels = shell.labels
    gateway = shell.gateway
    with gr.Tabs(elem_id="op-planning-tabs"):
        with labels.make(gr.Tab, {"label": "mrp_title"}, id="mrp"):
            with gr.Row(elem_classes=["op-controls"]):
                horizon = labels.make(
                    gr.Number, {"label": "mrp_horizon"}, value=90, precision=0, minimum=1, maximum=730
                )
                only_late = labels.make(gr.Checkbox, {"label": "mrp_only_late"}, value=False)
                run_mrp = labels.make(
                    gr.Button, {"value": "mrp_run"}, variant="primary", elem_id="op-run-mrp"
                )
            mrp_summary = gr.HTML(elem_id="op-mrp-summary")
            mrp_suggestions = gr.HTML(elem_id="op-mrp-suggestions")
            mrp_exceptions = gr.HTML()
        with labels.make(gr.Tab, {"label": "shortage_title"}, id="shortages", elem_id="op-tab-shortages"):
            with gr.Row(elem_classes=["op-controls"]):
                shortage_picker = labels.make(
                    gr.Dropdown, {"label": "shortage_pick"}, choices=[], allow_custom_value=True, scale=3
                )
                use_substitutes = labels.make(gr.Checkbox, {"label": "use_substitutes"}, value=False, scale=1)
                shortage_button = labels.make(gr.Button, {"value": "shortages_button"}, scale=1)
            shortages = gr.HTML()
        with labels.make(gr.Tab, {"label": "schedule_title"}, id="schedule", elem_id="op-tab-schedule"):
            schedule_button = labels.make(
                gr.Button, {"value": "schedule_run"}, variant="primary", elem_id="op-run-schedule"
            )
            schedule_summary = gr.HTML(elem_id="op-schedule-summary")
            gantt = gr.Plot(show_label=False, elem_id="op-gantt", visible=False)
            schedule_problems = gr.HTML()
    view = PlanningView(
        horizon, only_late, run_mrp, mrp_summary, mrp_suggestions, mrp_exceptions,
        shortage_picker, use_substitutes, shortage_button, shortages,
        schedule_button, schedule_summary, gantt, schedule_problems,
    )  # fmt: skip

    def on_run_mrp(
        actor: Actor | None, lang: str, days: float | None, late: bool, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, str, str]:
        return render_mrp(gateway, actor, lang, int(days or 90), late, progress)

    def on_schedule(
        actor: Actor | None, lang: str, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, Any, str]:
        return render_schedule(gateway, actor, lang, progress)

    run_mrp.click(
        on_run_mrp,
        [shell.session, shell.lang, horizon, only_late],
        [mrp_summary, mrp_suggestions, mrp_exceptions],
        show_progress="full",
    )
    shortage_button.click(
        lambda a, lang, code, subs: render_shortages(gateway, a, lang, code, subs),
        [shell.session, shell.lang, shortage_picker, use_substitutes],
        [shortages],
    )
    schedule_button.click(
        on_schedule,
        [shell.session, shell.lang],
        [schedule_summary, gantt, schedule_problems],
        show_progress="full",
    )
    return view


def shortage_choices(gateway: Gateway, actor: Actor | None) -> Any:
    """Open sales and production orders for the shortage picker."""
    if actor is None:
        return gr.update(choices=[])
    try:
        sales = gateway.call(actor, "list_sales_orders", {"open_only": True, "limit": 500})["orders"]
        production = gateway.call(actor, "list_production_orders", {"open_only": True, "limit": 500})[
            "orders"
        ]
    except ToolError:
        return gr.update()
    choices = [(f"{o['code']} · {o.get('customer_name') or o['customer']}", o["code"]) for o in sales]
    choices += [(f"{o['code']} · {o['item']} {o.get('item_name', '')}", o["code"]) for o in production]
    return gr.update(choices=choices)


def suggestions_html(
    suggestions: list[dict[str, Any]], lang: str, items: Container[str], only_late: bool
) -> str:
    rows = []
    shown = [s for s in suggestions if s.get("late") or not only_late]
    for s in shown[:MAX_MRP_ROWS]:
        pegging = "<br>".join(
            code_link(p["demand"], items) + f" <span class='op-muted'>{esc(fmt_num(p['qty']))}</span>"
            for p in s.get("pegging", [])
        )
        rows.append(
            [
                esc(s["id"]),
                badge(status_label(lang, s["action"]), ACTION_TONES.get(s["action"], "muted")),
                code_link(s["item"], items) + f" <span class='op-muted'>{esc(s.get('name', ''))}</span>",
                esc(f"{fmt_num(s['qty'])} {s.get('uom', '')}"),
                esc(s["release_date"]),
                esc(s["due_date"]),
                badge(t(lang, "col_late"), "bad") if s.get("late") else "",
                pegging,
            ]
        )
    headers = ["ID", t(lang, "col_action"), t(lang, "col_item"), t(lang, "col_qty"), t(lang, "col_release"),
               t(lang, "col_due"), t(lang, "col_late"), t(lang, "col_pegging")]  # fmt: skip
    more = len(shown) - len(rows)
    tail = f"<p class='op-muted'>{esc(t(lang, 'more_rows', n=more))}</p>" if more > 0 else ""
    return table(headers, rows, empty=t(lang, "none"), cls="op-mrp") + tail


def exceptions_html(exceptions: list[dict[str, Any]], lang: str, items: Container[str]) -> str:
    rows = [
        [
            badge(exception_label(lang, e["kind"]), EXCEPTION_TONES.get(e["kind"], "muted")),
            code_link(e.get("ref"), items),
            code_link(e.get("item"), items),
            esc(fmt_num(e.get("qty"))),
            esc(e.get("date") or ""),
            esc(e.get("suggested_date") or ""),
            " ".join(code_link(d, items) for d in e.get("demands", [])),
        ]
        for e in exceptions
    ]  # fmt: skip
    headers = ["", t(lang, "col_order"), t(lang, "col_item"), t(lang, "col_qty"), t(lang, "col_date"),
               t(lang, "col_suggested"), t(lang, "col_pegging")]  # fmt: skip
    return heading(t(lang, "mrp_exceptions"), 4) + table(headers, rows, empty=t(lang, "none"))


def exception_label(lang: str, kind: str) -> str:
    key = f"flag_{kind}"
    return t(lang, key) if key in TEXTS else kind


def render_mrp(
    gateway: Gateway, actor: Actor | None, lang: str, horizon_days: int, only_late: bool, progress: Any
) -> tuple[str, str, str]:
    """Run MRP (with progress) and show the summary, the suggestions with pegging and the exceptions."""
    try:
        actor = require(actor)
        progress(0.1, desc=t(lang, "progress_loading"))
        items = gateway.items(actor)
        progress(0.3, desc=t(lang, "progress_planning"))
        mrp = gateway.call(actor, "run_mrp", {"horizon_days": max(1, min(horizon_days, 730)), "limit": 5000})
        progress(0.9, desc=t(lang, "progress_rendering"))
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), "", ""
    suggestions = mrp.get("suggestions", [])
    actions = Counter(s["action"] for s in suggestions)
    summary = t(
        lang,
        "mrp_summary",
        today=mrp.get("today", ""),
        days=mrp.get("horizon_days", horizon_days),
        total=mrp.get("total_suggestions", len(suggestions)),
        actions=", ".join(f"{status_label(lang, a)} {n}" for a, n in sorted(actions.items())),
        late=sum(1 for s in suggestions if s.get("late")),
        exceptions=len(mrp.get("exceptions", [])),
    )
    return (
        notice(summary, "info"),
        suggestions_html(suggestions, lang, items, only_late),
        exceptions_html(mrp.get("exceptions", []), lang, items),
    )


def _problem_label(lang: str, kind: str) -> str:
    key = f"problem_{kind}"
    return t(lang, key) if key in TEXTS else kind


def render_schedule(gateway: Gateway, actor: Actor | None, lang: str, progress: Any) -> tuple[str, Any, str]:
    """The schedule as a Gantt chart from ``get_schedule`` when this build has it; else say it is missing."""
    if not gateway.has_tool(SCHEDULE_TOOL):
        return notice(t(lang, "schedule_unavailable"), "warn"), gr.update(visible=False), ""
    try:
        actor = require(actor)
        progress(0.1, desc=t(lang, "progress_loading"))
        items = gateway.items(actor)
        progress(0.3, desc=t(lang, "progress_planning"))
        schedule = gateway.call(actor, SCHEDULE_TOOL, {})
        progress(0.9, desc=t(lang, "progress_rendering"))
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), gr.update(visible=False), ""
    figure = gantt_figure(schedule, lang)
    if figure is None:
        return notice(t(lang, "schedule_empty"), "info"), gr.update(visible=False), ""
    orders = schedule.get("orders") or []
    summary = t(
        lang,
        "schedule_summary",
        ops=len(schedule.get("operations") or []),
        orders=len(orders),
        late=sum(1 for o in orders if o.get("on_time") is False),
        status=schedule.get("status", ""),
    )
    problems = schedule.get("problems") or []
    problems_html = (
        heading(t(lang, "schedule_problems"), 4)
        + table(
            [t(lang, "col_kind"), t(lang, "col_order"), t(lang, "col_message")],
            [
                [esc(p.get("kind", "")), code_link(p.get("order"), items), esc(p.get("message", ""))]
                for p in problems
            ],
        )
        if problems
        else ""
    )
    return notice(summary, "info"), gr.update(value=figure, visible=True), problems_html
