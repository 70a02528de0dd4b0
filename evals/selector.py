"""A small JSONPath-like selector for tool outputs: ``shortages[?item=LIFT-COL].short``, ``lines[*].qty``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

Reduce = Literal["count", "sum", "min", "max", "first", "last"]
_STEP = re.compile(r"\.?([^.\[\]]+)|\[(\*|-?\d+|\?[^\]=]+(?:=|!=)[^\]]*)\]")


class SelectorError(ValueError):
    """A path that cannot be read, or that selects nothing from the output."""


@dataclass(frozen=True)
class Step:
    kind: Literal["key", "index", "all", "filter"]
    key: str = ""
    index: int = 0
    value: str = ""
    negate: bool = False


def parse_path(path: str) -> tuple[Step, ...]:
    """``a.b[0].c[*].d[?item=X].e`` as steps; a leading ``$`` or ``$.`` is allowed."""
    text = path.strip()
    text = text[1:] if text.startswith("$") else text
    steps: list[Step] = []
    pos = 0
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or m.end() == pos:
            raise SelectorError(f"cannot read path {path!r} at {text[pos:]!r}")
        key, bracket = m.groups()
        if key is not None:
            steps.append(Step("key", key=key.strip()))
        elif bracket == "*":
            steps.append(Step("all"))
        elif bracket.startswith("?"):
            negate = "!=" in bracket
            field, value = bracket[1:].split("!=" if negate else "=", 1)
            steps.append(Step("filter", key=field.strip(), value=value.strip().strip("'\""), negate=negate))
        else:
            steps.append(Step("index", index=int(bracket)))
        pos = m.end()
    return tuple(steps)


def _same(actual: Any, wanted: str) -> bool:
    if isinstance(actual, bool):
        return str(actual).lower() == wanted.lower()
    if isinstance(actual, int | float | Decimal):
        try:
            return Decimal(str(actual)) == Decimal(wanted)
        except ArithmeticError:
            return False
    return str(actual) == wanted


def select(data: Any, path: str) -> list[Any]:
    """Every value ``path`` reaches in ``data`` (one for a plain path, any number through ``[*]`` or a filter)."""
    current: list[Any] = [data]
    for step in parse_path(path):
        found: list[Any] = []
        for value in current:
            if step.kind == "key":
                if isinstance(value, dict) and step.key in value:
                    found.append(value[step.key])
            elif step.kind == "index":
                if isinstance(value, list) and -len(value) <= step.index < len(value):
                    found.append(value[step.index])
            elif step.kind == "all":
                if isinstance(value, list):
                    found.extend(value)
                elif isinstance(value, dict):
                    found.extend(value.values())
            elif isinstance(value, list):
                found.extend(
                    v
                    for v in value
                    if isinstance(v, dict) and (_same(v.get(step.key), step.value) != step.negate)
                )
        current = found
    return current


def reduce_values(values: list[Any], how: Reduce | None) -> list[Any]:
    """The selected values as facts: all of them, or one reduced value."""
    if how is None:
        return values
    if how == "count":
        return [len(values)]
    if not values:
        return []
    if how == "first":
        return [values[0]]
    if how == "last":
        return [values[-1]]
    numbers = [Decimal(str(v)) for v in values]
    if how == "sum":
        return [sum(numbers, Decimal(0))]
    return [min(numbers) if how == "min" else max(numbers)]
