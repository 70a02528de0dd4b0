"""Home: today's figures and the overdue / at-risk warnings, each linked to its order."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway
from ui.html import badge, code_link, esc, fmt_num, heading, kpi, kpis, notice, table
from ui.i18n import TEXTS, t
from ui.links import linkify_html
from ui.tracking import WarningsReport, track_orders, warnings
from ui.views.common import NotSignedIn, Shell, error_html, require

SUPPLY_OVERDUE = ("purchase_overdue", "subcontract_overdue", "production_overdue", "supply_overdue")
SEVERITIES = ("high", "medium", "low")
SEVERITY_TONES = {"high": "bad", "medium": "warn", "low": "info"}


@dataclass
class HomeView:
    figures: gr.HTML
    warnings: gr.HTML
    refresh_button: gr.Button

    @property
    def outputs(self) -> list[Any]:
        return [self.figures, self.warnings]


def build(shell: Shell) -> HomeView:
    with gr.Row():
        shell.labels.make(gr.Markdown, {"value": lambda lang: f"### {t(lang, 'home_title')}"})
        refresh_button = shell.labels.make(gr.Button, {"value": "refresh"}, size="sm", scale=0, min_width=90)
    figures = gr.HTML(elem_id="op-home-figures")
    warnings = gr.HTML(elem_id="op-home-warnings")
    view = HomeView(figures, warnings, refresh_button)
    refresh_button.click(
        lambda actor, lang: render(shell.gateway, actor, lang),
        [shell.session, shell.lang],
        view.outputs,
    )
    return view


def render(gateway: Gateway, actor: Actor | None, lang: str) -> tuple[str, str]:
    """The figures and the warnings for ``actor`` in ``lang``."""
    try:
        actor = require(actor)
        report = track_orders(gateway, actor, open_only=True)
        found = gateway.memo(actor, ("warnings",), lambda: warnings(gateway, actor, report))
        pending = gateway.proposals(actor, "pending")
        items = gateway.items(actor)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), ""
    mine = [p for p in pending if actor.role in p.approver_roles]
    open_orders = [o for o in report.orders if o.is_open]
    overdue = [o for o in open_orders if o.overdue]
    at_risk = [o for o in open_orders if o.at_risk and not o.overdue]
    supply = [w for w in found.warnings if w.kind in SUPPLY_OVERDUE]
    figures = kpis(
        [
            kpi(t(lang, "kpi_open_orders"), len(open_orders), "info"),
            kpi(t(lang, "kpi_overdue"), len(overdue), "bad" if overdue else "ok"),
            kpi(t(lang, "kpi_at_risk"), len(at_risk), "warn" if at_risk else "ok"),
            kpi(t(lang, "kpi_late_supply"), len(supply), "warn" if supply else "ok"),
            kpi(t(lang, "kpi_pending"), len(mine), "info"),
        ]
    )
    return (
        f"<p class='op-muted'>{esc(t(lang, 'as_of', today=report.today.isoformat()))}</p>" + figures,
        warnings_html(found, lang, items),
    )


def warning_label(lang: str, kind: str) -> str:
    key = f"warning_{kind}"
    return t(lang, key) if key in TEXTS else kind.replace("_", " ")


def warnings_html(report: WarningsReport, lang: str, items: Container[str]) -> str:
    """Each warning with its severity, kind, the records involved, dates and cause (most severe first)."""
    if not report.warnings:
        return heading(t(lang, "warnings_title")) + notice(t(lang, "no_warnings"), "ok")
    rows = []
    for w in report.warnings:
        others = [r for r in dict.fromkeys(w.records) if r and r != w.record]
        cause = linkify_html(w.cause, items) if w.cause else ""
        rows.append(
            [
                badge(t(lang, f"severity_{w.severity}") if w.severity in SEVERITIES else w.severity,
                      SEVERITY_TONES.get(w.severity, "muted")),
                esc(warning_label(lang, w.kind)),
                code_link(w.record, items),
                code_link(w.item, items) if w.item else "",
                esc(fmt_num(w.qty)),
                esc(w.date or ""),
                esc(w.projected_date or ""),
                " ".join(code_link(r, items) for r in others[:6]),
                f"<span class='op-muted'>{cause}</span>",
            ]
        )  # fmt: skip
    headers = ["", t(lang, "col_warning"), t(lang, "col_order"), t(lang, "col_item"), t(lang, "col_qty"),
               t(lang, "col_date"), t(lang, "col_projected"), t(lang, "col_related"), t(lang, "col_cause")]  # fmt: skip
    return heading(t(lang, "warnings_title")) + table(headers, rows, cls="op-warnings")
