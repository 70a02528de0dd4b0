"""Wording of the offline answers: numbers and dates exactly as the tools gave them, in Chinese or English."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from assistant.offline.numbers import format_qty

Language = Literal["zh", "en"]
# Record fields that describe a record best, in the order they are tried.
TEXT_KEYS = ("message", "description", "reason", "detail", "summary", "text")
ID_KEYS = ("item", "code", "order", "demand", "supply", "ref", "work_center", "resource", "kind", "type")
LIST_LIMIT = 12


def tr(lang: Language, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def qty(value: Any) -> str:
    """A quantity as the tool gave it, without trailing zeros (25.0 → 25)."""
    return format_qty(value)


def num_arg(value: Decimal) -> int | float:
    """A quantity for a tool argument: an int when whole, so the recorded call reads naturally."""
    return int(value) if value == value.to_integral_value() else float(value)


def day(value: Any) -> str:
    """A date as the tool gave it (ISO 2026-12-15); '—' when there is none."""
    return str(value) if value else "—"


def join(lang: Language, parts: Iterable[str]) -> str:
    return ("；" if lang == "zh" else "; ").join(p for p in parts if p)


def more(lang: Language, total: int, shown: int) -> str:
    if total <= shown:
        return ""
    return tr(lang, f"（另有 {total - shown} 条未列出）", f" (and {total - shown} more)")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float | Decimal):
        return qty(value)
    return str(value)


def describe(record: Any) -> str:
    """A compact description of a record whose shape this backend does not know field by field.

    A text field is used when there is one; else the identifying fields, then the other scalar fields,
    as ``key value`` pairs — every value exactly as the tool returned it.
    """
    if not isinstance(record, dict):
        return _scalar(record)
    for key in TEXT_KEYS:
        if isinstance(record.get(key), str) and record[key].strip():
            ids = [_scalar(record[k]) for k in ID_KEYS if isinstance(record.get(k), str | int | float)]
            text = record[key].strip()
            return f"{' '.join(ids)}: {text}" if ids and not any(i in text for i in ids) else text
    parts = [_scalar(record[k]) for k in ID_KEYS if isinstance(record.get(k), str | int | float)]
    for key, value in record.items():
        if key in ID_KEYS or value is None or isinstance(value, dict | list):
            continue
        parts.append(f"{key} {_scalar(value)}")
    return " ".join(parts)


def bullet_list(lines: Sequence[str], limit: int = LIST_LIMIT) -> str:
    return "\n".join(f"- {line}" for line in lines[:limit])


def first_value(record: dict[str, Any], keys: Sequence[str]) -> Any:
    """The first of ``keys`` present (not None) in ``record``."""
    for key in keys:
        if record.get(key) is not None:
            return record[key]
    return None
