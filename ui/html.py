"""HTML pieces of the views: tables, badges, progress bars and a generic view of any tool output (escaped)."""

from __future__ import annotations

import html
from collections.abc import Container, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from ui.i18n import field_label, status_label
from ui.links import classify, href, linkify_html

MAX_ROWS = 200
# Fields whose values are statuses (shown translated) and those never shown in the generic view.
STATUS_FIELDS = frozenset({"status", "line_status", "kind", "action", "source", "element", "basis"})
CODE_FIELDS = frozenset(
    {"code", "item", "order", "ref", "supply", "demand", "sales_order", "production_order", "parent_order"}
)


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value))


def link(kind: str, key: str, text: str | None = None) -> str:
    return f'<a class="op-link" href="{esc(href(kind, key))}">{esc(text or key)}</a>'


def code_link(code: str | None, items: Container[str]) -> str:
    """``code`` as a link when it is a record id (``SO-1006/3`` links its order), else escaped text."""
    if not code:
        return ""
    head, sep, tail = str(code).partition("/")
    kind = classify(head, items)
    return (link(kind, head) + esc(sep + tail)) if kind else esc(code)


def badge(text: str, tone: str = "muted") -> str:
    """A small label; tone is ok, warn, bad, info or muted."""
    return f'<span class="op-badge op-{esc(tone)}">{esc(text)}</span>'


def fmt_num(value: Any, places: int = 3) -> str:
    """A quantity without trailing zeros (at most ``places`` decimals), with thousands separators."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return str(value)
    number = Decimal(str(value)).quantize(Decimal(1).scaleb(-places))
    text = f"{number:,f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_money(value: Any) -> str:
    if value is None or value == "":
        return ""
    return f"{Decimal(str(value)):,.2f}"


def progress(done: float, total: float, label: str | None = None) -> str:
    """A bar with ``done`` of ``total`` and the figures beside it."""
    pct = 0.0 if total <= 0 else max(0.0, min(100.0, 100.0 * done / total))
    text = label if label is not None else f"{fmt_num(done)} / {fmt_num(total)}"
    tone = "ok" if pct >= 99.999 else "info"
    return (
        f'<div class="op-progress" title="{pct:.0f}%"><div class="op-bar op-{tone}" '
        f'style="width:{pct:.1f}%"></div></div><span class="op-progress-text">{esc(text)}</span>'
    )


def table(headers: Sequence[str], rows: Iterable[Sequence[str]], *, empty: str = "", cls: str = "") -> str:
    """A table of cells that are HTML already (escape values with ``esc``)."""
    body = ["<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows]
    if not body:
        return f'<p class="op-empty">{esc(empty)}</p>' if empty else ""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    return (
        f'<div class="op-table-wrap"><table class="op-table {esc(cls)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def heading(text: str, level: int = 3) -> str:
    return f"<h{level} class='op-h'>{esc(text)}</h{level}>"


def notice(text: str, tone: str = "info", *, raw: bool = False) -> str:
    """A message box; ``raw`` when ``text`` is HTML already."""
    return f'<div class="op-notice op-{esc(tone)}">{text if raw else esc(text)}</div>'


def kpi(label: str, value: Any, tone: str = "info") -> str:
    return (
        f'<div class="op-kpi op-{esc(tone)}"><div class="op-kpi-value">{esc(value)}</div>'
        f'<div class="op-kpi-label">{esc(label)}</div></div>'
    )


def kpis(cards: Iterable[str]) -> str:
    return f'<div class="op-kpis">{"".join(cards)}</div>'


# ---------------------------------------------------------------- any tool output


def value_html(name: str, value: Any, lang: str, items: Container[str]) -> str:
    """One field's value: codes as links, statuses translated, numbers formatted, lists joined."""
    if value is None or value == []:
        return '<span class="op-muted">—</span>'
    if isinstance(value, bool):
        return "✓" if value else "—"
    if isinstance(value, int | float | Decimal):
        return esc(fmt_num(value, 6 if name in ("share",) else 3))
    if isinstance(value, str):
        if name in STATUS_FIELDS:
            return esc(status_label(lang, value))
        if name in CODE_FIELDS:
            return code_link(value, items)
        return linkify_html(value, items)
    if isinstance(value, list) and all(not isinstance(v, dict | list) for v in value):
        return ", ".join(value_html(name, v, lang, items) for v in value)
    if isinstance(value, dict) and all(not isinstance(v, dict | list) for v in value.values()):
        return ", ".join(
            f"{esc(field_label(lang, k))} {value_html(k, v, lang, items)}" for k, v in value.items()
        )
    return f"<details><summary>…</summary>{record(value, lang, items)}</details>"


def records_table(rows: Sequence[Mapping[str, Any]], lang: str, items: Container[str]) -> str:
    """A list of objects as a table: one column per field (first seen first), nested lists folded."""
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    shown = rows[:MAX_ROWS]
    body = [[value_html(c, row.get(c), lang, items) for c in columns] for row in shown]
    return table([field_label(lang, c) for c in columns], body)


def record(data: Any, lang: str, items: Container[str], *, skip: Container[str] = ()) -> str:
    """Any JSON-like tool output for people: fields as a grid, lists of objects as tables."""
    if isinstance(data, list):
        if data and all(isinstance(r, dict) for r in data):
            return records_table(data, lang, items)
        return value_html("", data, lang, items)
    if not isinstance(data, dict):
        return value_html("", data, lang, items)
    fields: list[str] = []
    sections: list[str] = []
    for key, value in data.items():
        if key in skip:
            continue
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            sections.append(heading(field_label(lang, key), 4) + records_table(value, lang, items))
        elif isinstance(value, dict) and any(isinstance(v, dict | list) for v in value.values()):
            sections.append(heading(field_label(lang, key), 4) + record(value, lang, items))
        else:
            fields.append(
                f'<div class="op-field"><span class="op-field-name">{esc(field_label(lang, key))}</span>'
                f'<span class="op-field-value">{value_html(key, value, lang, items)}</span></div>'
            )
    grid = f'<div class="op-fields">{"".join(fields)}</div>' if fields else ""
    return grid + "".join(sections)
