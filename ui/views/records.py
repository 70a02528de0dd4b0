"""Lookup: any production, subcontract or purchase order, or item, shown from its tool."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway
from ui.html import badge, esc, notice, record
from ui.i18n import status_label, t
from ui.links import classify
from ui.views.common import NotSignedIn, Shell, error_html, require


@dataclass
class RecordsView:
    key: gr.Textbox
    open_button: gr.Button
    detail: gr.HTML


def build(shell: Shell) -> RecordsView:
    labels = shell.labels
    with gr.Row(elem_classes=["op-controls"]):
        key = labels.make(
            gr.Textbox,
            {"label": "record_lookup", "placeholder": "record_placeholder"},
            max_lines=1,
            scale=4,
            elem_id="op-record-key",
        )
        open_button = labels.make(gr.Button, {"value": "open"}, variant="primary", scale=1)
    detail = gr.HTML(elem_id="op-record-detail")
    view = RecordsView(key, open_button, detail)
    inputs = [shell.session, shell.lang, key]
    open_button.click(lambda a, lang, k: render(shell.gateway, a, lang, k), inputs, [detail])
    key.submit(lambda a, lang, k: render(shell.gateway, a, lang, k), inputs, [detail])
    return view


def tool_for(code: str, items: Container[str]) -> tuple[str, dict[str, str]] | None:
    """The tool that shows ``code`` and its arguments, or None for what this view does not show."""
    kind = classify(code, items)
    if kind == "item":
        return "get_item", {"item": code}
    if kind == "mo":
        return ("get_subcontract_order" if code.startswith("SC-") else "get_production_order"), {
            "order": code
        }
    if kind == "po":
        return "get_purchase_order", {"order": code}
    if kind == "so":
        return "get_sales_order", {"order": code}
    return None


def render(gateway: Gateway, actor: Actor | None, lang: str, key: str | None) -> str:
    code = (key or "").strip()
    if not code:
        return ""
    try:
        actor = require(actor)
        items = gateway.items(actor)
        target = tool_for(code, items) or tool_for(code.upper(), items)
        if target is None:
            return notice(t(lang, "record_unknown", key=code), "warn")
        name, args = target
        data = gateway.call(actor, name, args)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc)
    title = data.get("code") or data.get("item") or code
    status = data.get("status")
    head = (
        f"<div class='op-record-head'><span class='op-record-code'>{esc(title)}</span> "
        f"{esc(data.get('name') or data.get('item_name') or '')} "
        f"{badge(status_label(lang, status), 'info') if status else ''}</div>"
    )
    return head + record(data, lang, items, skip=("code",))
