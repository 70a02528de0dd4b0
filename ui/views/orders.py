"""Orders: sales orders with dates, progress and risks; one order's lines, linked orders and shortages."""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway
from ui.html import badge, code_link, esc, fmt_num, heading, notice, progress, table
from ui.i18n import TEXTS, status_label, t
from ui.links import linkify_html
from ui.tracking import LinkedOrder, OrderTracking, RiskFlag, track_orders
from ui.views.common import NotSignedIn, Shell, error_html, require

FLAG_TONES = {"overdue": "bad", "late": "bad", "projected_late": "bad", "supply_overdue": "bad"}
MAX_CHAIN_ORDERS = 20


@dataclass
class OrdersView:
    open_only: gr.Checkbox
    refresh_button: gr.Button
    listing: gr.HTML
    picker: gr.Dropdown
    detail: gr.HTML
    use_substitutes: gr.Checkbox
    shortages_button: gr.Button
    shortages: gr.HTML

    @property
    def list_outputs(self) -> list[Any]:
        return [self.listing, self.picker]

    @property
    def detail_outputs(self) -> list[Any]:
        return [self.detail, self.shortages]


def build(shell: Shell) -> OrdersView:
    labels = shell.labels
    with gr.Row(elem_classes=["op-controls"]):
        labels.make(gr.Markdown, {"value": lambda lang: f"### {t(lang, 'orders_title')}"})
        open_only = labels.make(
            gr.Checkbox, {"label": "orders_open_only"}, value=True, scale=0, min_width=160
        )
        refresh_button = labels.make(gr.Button, {"value": "refresh"}, size="sm", scale=0, min_width=90)
    listing = gr.HTML(elem_id="op-orders-list")
    with gr.Row(elem_classes=["op-controls"]):
        picker = labels.make(
            gr.Dropdown, {"label": "order_pick"}, choices=[], allow_custom_value=True, elem_id="op-order-pick"
        )
        use_substitutes = labels.make(gr.Checkbox, {"label": "use_substitutes"}, value=False, scale=0)
        shortages_button = labels.make(gr.Button, {"value": "shortages_button"}, scale=0, min_width=140)
    detail = gr.HTML(elem_id="op-order-detail")
    shortages = gr.HTML(elem_id="op-order-shortages")
    view = OrdersView(
        open_only, refresh_button, listing, picker, detail, use_substitutes, shortages_button, shortages
    )
    gateway = shell.gateway
    refresh_button.click(
        lambda actor, lang, only: render_list(gateway, actor, lang, only),
        [shell.session, shell.lang, open_only],
        view.list_outputs,
    )
    open_only.change(
        lambda actor, lang, only: render_list(gateway, actor, lang, only),
        [shell.session, shell.lang, open_only],
        view.list_outputs,
    )
    picker.input(
        lambda actor, lang, code: render_detail(gateway, actor, lang, code),
        [shell.session, shell.lang, picker],
        view.detail_outputs,
    )
    shortages_button.click(
        lambda actor, lang, code, subs: render_shortages(gateway, actor, lang, code, subs),
        [shell.session, shell.lang, picker, use_substitutes],
        [shortages],
    )
    return view


# ---------------------------------------------------------------- pieces


def flag_label(flag: RiskFlag, lang: str) -> str:
    key = f"flag_{flag.kind}"
    return t(lang, key) if key in TEXTS else flag.kind.replace("_", " ")


def stage_label(lang: str, stage: str) -> str:
    key = f"stage_{stage}"
    return t(lang, key) if key in TEXTS else status_label(lang, stage)


def flag_badges(flags: Iterable[RiskFlag], lang: str, items: Container[str], limit: int = 6) -> str:
    """Each risk as a badge with the record it comes from; the same kind and record only once."""
    seen: set[tuple[str, str]] = set()
    shown: list[str] = []
    hidden = 0
    flags = list(flags)
    kinds = {f.kind for f in flags}
    for flag in flags:
        if flag.kind == "past_due_demand" and "overdue" in kinds:
            continue  # the same fact as "overdue"
        key = (flag.kind, flag.ref)
        if key in seen:
            continue
        seen.add(key)
        if len(shown) >= limit:
            hidden += 1
            continue
        ref = "" if flag.ref.startswith("SO-") else " " + code_link(flag.ref, items)
        item = f" ({code_link(flag.item, items)})" if flag.item else ""
        title = f' title="{esc(flag.message)}"' if flag.message else ""
        shown.append(
            f'<span class="op-flag"{title}>{badge(flag_label(flag, lang), FLAG_TONES.get(flag.kind, "warn"))}'
            f"{ref}{item}</span>"
        )
    if hidden:
        shown.append(f'<span class="op-muted">+{hidden}</span>')
    return " ".join(shown)


def linked_progress(order: OrderTracking, kind: str) -> str:
    done, total = order.progress(kind)
    return progress(done, total) if total > 0 else '<span class="op-muted">—</span>'


def list_html(orders: list[OrderTracking], lang: str, items: Container[str]) -> str:
    headers = [
        t(lang, "col_order"),
        t(lang, "col_customer"),
        t(lang, "col_status"),
        t(lang, "col_priority"),
        t(lang, "col_requested"),
        t(lang, "col_promised"),
        t(lang, "col_projected"),
        t(lang, "col_shipped"),
        t(lang, "col_production"),
        t(lang, "col_subcontract"),
        t(lang, "col_risk"),
    ]
    rows = []
    for order in orders:
        promised = esc(order.promised or "—")
        if order.promised and order.requested and order.promised > order.requested:
            promised = f'<span class="op-late">{promised}</span>'
        requested = esc(order.requested or "—")
        if order.overdue:
            requested = f'<span class="op-late">{requested}</span>'
        rows.append(
            [
                code_link(order.code, items),
                esc(order.customer_name or order.customer),
                esc(status_label(lang, order.status)),
                esc(order.priority),
                requested,
                promised,
                _projected(order),
                progress(order.shipped_qty, order.total_qty),
                linked_progress(order, "production"),
                linked_progress(order, "subcontract"),
                flag_badges(order.flags, lang, items, limit=3) if order.flags else badge("✓", "ok"),
            ]
        )
    return table(headers, rows, empty=t(lang, "order_no_flags"), cls="op-orders")


def _projected(order: OrderTracking) -> str:
    """The projected ready date, red when after the promised (else requested) date."""
    if not order.projected or not order.is_open:
        return '<span class="op-muted">—</span>'
    owed = order.promised or order.requested
    late = owed is not None and order.projected > owed
    return f'<span class="op-late">{esc(order.projected)}</span>' if late else esc(order.projected)


def render_list(gateway: Gateway, actor: Actor | None, lang: str, open_only: bool) -> tuple[str, Any]:
    """The order list and the picker's choices."""
    try:
        actor = require(actor)
        report = track_orders(gateway, actor, open_only=open_only)
        items = gateway.items(actor)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), gr.update()
    hint = (
        f"<p class='op-muted'>{esc(t(lang, 'as_of', today=report.today.isoformat()))} · "
        + esc(t(lang, "order_choose"))
        + "</p>"
    )
    choices = [(f"{o.code} · {o.customer_name or o.customer}", o.code) for o in report.orders]
    return hint + list_html(report.orders, lang, items), gr.update(choices=choices)


def _chain(gateway: Gateway, actor: Actor, start: list[LinkedOrder]) -> list[LinkedOrder]:
    """The orders made for a sales order and, below them, the production and subcontract orders expected to
    supply their components (from each order's shortage analysis); for when no tracking tool gives them."""
    found: list[LinkedOrder] = []
    seen: set[str] = set()
    queue: list[tuple[int, str, str | None]] = [(0, o.code, None) for o in start]
    while queue and len(found) < MAX_CHAIN_ORDERS:
        depth, code, parent = queue.pop(0)
        if code in seen:
            continue
        seen.add(code)
        order = gateway.call(actor, "get_production_order", {"order": code})
        found.append(LinkedOrder.model_validate({**order, "level": depth, "for_record": parent}))
        if order["status"] in ("completed", "closed", "cancelled"):
            continue
        analysis = gateway.call(actor, "analyze_shortages", {"production_order": code})
        for shortage in analysis.get("shortages", []):
            for receipt in shortage.get("expected_receipts", []):
                if receipt.get("kind") in ("production", "subcontract", "rework"):
                    queue.append((depth + 1, receipt["supply"], code))
    return found


def _line_rows(
    so: dict[str, Any], tracked: OrderTracking | None, lang: str, items: Container[str]
) -> list[list[str]]:
    by_line = {line.line_no: line for line in tracked.lines} if tracked else {}
    rows = []
    for line in so["lines"]:
        delay = line.get("promise_delay_days")
        track = by_line.get(line["line_no"])
        projected = track.projected_date if track and line["open_qty"] > 0 else None
        owed = line.get("promised_date") or line.get("requested_date")
        late = projected is not None and owed is not None and projected > owed
        rows.append(
            [
                esc(line["line_no"]),
                code_link(line["item"], items),
                esc(line.get("item_name", "")),
                esc(fmt_num(line["qty"])),
                progress(line["shipped_qty"], line["qty"]),
                esc(fmt_num(line["open_qty"])),
                esc(line.get("requested_date") or "—"),
                esc(line.get("promised_date") or "—"),
                f'<span class="op-late">{esc(delay)}</span>' if delay else "",
                (f'<span class="op-late">{esc(projected)}</span>' if late else esc(projected or "—")),
                esc(stage_label(lang, track.stage))
                if track and track.stage
                else esc(status_label(lang, line.get("line_status", ""))),
            ]
        )
    return rows


def render_detail(gateway: Gateway, actor: Actor | None, lang: str, code: str | None) -> tuple[str, str]:
    """One sales order: header, risks, lines (requested, promised, projected, stage) and the orders working
    for it down its supply chain."""
    if not code:
        return notice(t(lang, "order_choose"), "info"), ""
    try:
        actor = require(actor)
        so = gateway.call(actor, "get_sales_order", {"order": code.strip()})
        report = track_orders(gateway, actor, open_only=False, sales_order=so["code"])
        items = gateway.items(actor)
        tracked = next((o for o in report.orders if o.code == so["code"]), None)
        linked = tracked.linked if tracked else []
        chain = linked if report.source != "composed" else _chain(gateway, actor, linked)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), ""
    head = (
        f"<div class='op-record-head'><span class='op-record-code'>{esc(so['code'])}</span> "
        f"{esc(so.get('customer_name') or so['customer'])} · {badge(status_label(lang, so['status']), 'info')} "
        f"· {esc(t(lang, 'col_priority'))} {esc(so['priority'])}</div>"
    )
    flags = (
        flag_badges(tracked.flags, lang, items, limit=12)
        if tracked and tracked.flags
        else esc(t(lang, "order_no_flags"))
    )
    messages = "".join(
        f"<li>{linkify_html(f.message, items)}</li>" for f in (tracked.flags if tracked else []) if f.message
    )
    lines = table(
        [
            t(lang, "col_line"), t(lang, "col_item"), t(lang, "col_name"), t(lang, "col_qty"),
            t(lang, "col_shipped"), t(lang, "col_open"), t(lang, "col_requested"), t(lang, "col_promised"),
            t(lang, "col_delay"), t(lang, "col_projected"), t(lang, "col_stage"),
        ],
        _line_rows(so, tracked, lang, items),
    )  # fmt: skip
    chain_rows = []
    for order in sorted(chain, key=lambda o: o.level):
        indent = "&nbsp;&nbsp;&nbsp;" * order.level + ("↳ " if order.level else "")
        chain_rows.append(
            [
                indent + code_link(order.code, items),
                esc(status_label(lang, order.kind)),
                code_link(order.item, items),
                progress(order.completed_qty, order.qty),
                esc(status_label(lang, order.status)),
                esc(order.due_date or ""),
                (
                    f'<span class="op-late">{esc(order.projected)}</span>'
                    if order.late
                    else esc(order.projected or "")
                ),
                code_link(order.for_record, items) if order.for_record else "",
            ]
        )
    linked_table = table(
        [
            t(lang, "col_order"), t(lang, "col_kind"), t(lang, "col_item"), t(lang, "col_progress"),
            t(lang, "col_status"), t(lang, "col_due"), t(lang, "col_projected"), t(lang, "col_for"),
        ],
        chain_rows,
        empty=t(lang, "order_no_production"),
    )  # fmt: skip
    return (
        head
        + heading(t(lang, "order_flags"), 4)
        + f"<div class='op-flags'>{flags}</div>"
        + (f"<ul class='op-messages'>{messages}</ul>" if messages else "")
        + heading(t(lang, "order_lines"), 4)
        + lines
        + heading(t(lang, "order_production"), 4)
        + linked_table
    ), ""


def shortages_html(analysis: dict[str, Any], lang: str, items: Container[str]) -> str:
    order = analysis.get("order", "")
    shortages = analysis.get("shortages", [])
    if not shortages:
        return notice(t(lang, "shortages_none", order=order), "ok")
    rows = []
    for s in shortages:
        receipts = ", ".join(
            code_link(r["supply"], items)
            + f" {esc(fmt_num(r['qty']))} {esc(r.get('due') or '')}"
            + (f" {badge(t(lang, 'col_late'), 'bad')}" if r.get("late") else "")
            for r in s.get("expected_receipts", [])
        )
        substitutes = ", ".join(
            code_link(sub.get("item"), items) + f" {esc(fmt_num(sub.get('qty')))}"
            for sub in s.get("substitutes", [])
            if isinstance(sub, dict)
        )
        covered = s.get("covered_date")
        late_cover = covered and s.get("need_date") and covered > s["need_date"]
        rows.append(
            [
                code_link(s["item"], items),
                esc(s.get("name", "")),
                esc(fmt_num(s["required"])),
                esc(fmt_num(s["available"])),
                f'<b class="op-late">{esc(fmt_num(s["short"]))}</b>',
                esc(fmt_num(s.get("uncovered"))),
                esc(s.get("need_date") or ""),
                f'<span class="op-late">{esc(covered)}</span>' if late_cover else esc(covered or "—"),
                receipts or "—",
                substitutes or "—",
            ]
        )
    headers = [
        t(lang, "col_item"),
        t(lang, "col_name"),
        t(lang, "col_required"),
        t(lang, "col_available"),
        t(lang, "col_short"),
        t(lang, "col_uncovered"),
        t(lang, "col_need_date"),
        t(lang, "col_covered"),
        t(lang, "col_receipts"),
        t(lang, "col_substitutes"),
    ]
    return heading(t(lang, "shortages_title", order=order), 4) + table(headers, rows)


def shortage_args(code: str, use_substitutes: bool) -> dict[str, Any]:
    """analyze_shortages arguments for a sales order (SO-…) or a production order (anything else)."""
    key = "sales_order" if code.startswith("SO-") else "production_order"
    return {key: code, "use_substitutes": use_substitutes}


def render_shortages(
    gateway: Gateway, actor: Actor | None, lang: str, code: str | None, use_substitutes: bool
) -> str:
    if not code:
        return notice(t(lang, "order_choose"), "info")
    try:
        actor = require(actor)
        analysis = gateway.call(actor, "analyze_shortages", shortage_args(code.strip(), use_substitutes))
        items = gateway.items(actor)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc)
    return shortages_html(analysis, lang, items)
