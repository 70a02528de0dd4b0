"""Bounds a dataset's values must keep to fit the database on every backend (SQLite would store them silently,
PostgreSQL refuse them mid-load): number sizes, text lengths and characters, dates and day counts."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from data_model.dataset import Dataset, DatasetProblem
from data_model.tables import Customer, Item, Location, Supplier, WorkCenter

MAX_DECIMAL = Decimal(10) ** 14  # Numeric(20, 6): 14 digits before the point
MIN_DECIMAL = Decimal("0.0000005")  # a non-zero value below it is 0 at 6 decimal places
MAX_INT = 2_000_000_000  # PostgreSQL integer
MAX_DAYS = 3650  # lead times, horizons and other day counts: ten years
MAX_TEXT = 2000
FIRST_DATE, LAST_DATE = date(1900, 1, 1), date(2199, 12, 31)
# text columns whose length the database enforces, by sheet: the record field has the column's name
SHEET_TABLES: dict[str, Any] = {
    "items": Item,
    "customers": Customer,
    "suppliers": Supplier,
    "locations": Location,
    "work_centers": WorkCenter,
}


_BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _bad_character(text: str) -> str | None:
    found = _BAD_CHARACTERS.search(text)
    if found is None:
        return None
    code = ord(found.group())
    if 0xD800 <= code <= 0xDFFF:
        return f"invalid unicode (a lone surrogate U+{code:04X})"
    return f"a control character U+{code:04X}"


def _value_problem(name: str, value: Any, max_length: int | None) -> str | None:
    cls = value.__class__
    if cls is str:
        bad = _bad_character(value)
        if bad:
            return f"contains {bad}"
        limit = max_length or MAX_TEXT
        if len(value) > limit:
            return f"text of {len(value)} characters is too long (at most {limit})"
    elif cls is Decimal:
        if not -MAX_DECIMAL < value < MAX_DECIMAL:
            return f"{value} is too large (at most 14 digits before the decimal point)"
        if value and -MIN_DECIMAL < value < MIN_DECIMAL:
            return f"{value} rounds to 0 at 6 decimal places"
    elif cls is int:
        if name.endswith("_days") and abs(value) > MAX_DAYS:
            return f"{value} days is out of range (at most {MAX_DAYS})"
        if abs(value) > MAX_INT:
            return f"{value} is too large"
    elif cls is date and not FIRST_DATE <= value <= LAST_DATE:
        return f"date {value.isoformat()} is out of range ({FIRST_DATE.year}–{LAST_DATE.year})"
    return None


_SCALARS = frozenset({str, Decimal, int, date})  # the values with bounds (bool and None have none)


Found = list[tuple[int | None, str, str]]  # (row of the nearest record that has one, field path, problem)


def _walk(record: Any, path: str, lengths: dict[str, int], row: int | None) -> Found:
    """Every value out of bounds in a record and the records nested in it; list positions are 1-based,
    as the dataset's own messages write them (``lines[2].qty``)."""
    found: Found = []
    if isinstance(record, BaseModel):
        row = getattr(record, "row_", None) or row
        for name, value in record.__dict__.items():
            cls = value.__class__
            if cls in _SCALARS:
                problem = _value_problem(name, value, lengths.get(name))
                if problem and not name.endswith("_"):
                    found.append((row, f"{path}.{name}" if path else name, problem))
            elif value and isinstance(value, (BaseModel, list, tuple, dict)):
                found.extend(_walk(value, f"{path}.{name}" if path else name, {}, row))
    elif isinstance(record, (list, tuple)):
        for i, value in enumerate(record, start=1):
            if isinstance(value, (BaseModel, list, tuple, dict)):
                found.extend(_walk(value, f"{path}[{i}]", {}, row))
            elif value.__class__ in _SCALARS:
                problem = _value_problem(path.rsplit(".", 1)[-1], value, None)
                if problem:
                    found.append((row, f"{path}[{i}]", problem))
    elif isinstance(record, dict):
        for key, value in record.items():
            if isinstance(value, (BaseModel, list, tuple, dict)):
                found.extend(_walk(value, f"{path}.{key}", {}, row))
            elif value.__class__ in _SCALARS:
                problem = _value_problem(str(key), value, None)
                if problem:
                    found.append((row, f"{path}.{key}", problem))
    return found


def _column_lengths(table: Any) -> dict[str, int]:
    return {c.name: c.type.length for c in table.__table__.columns if getattr(c.type, "length", None)}


def check_limits(ds: Dataset) -> list[DatasetProblem]:
    """Every value out of the database's bounds, named by sheet, row and field."""
    problems = []
    for sheet in type(ds).model_fields:
        records = getattr(ds, sheet)
        if not isinstance(records, list):
            records = [records] if isinstance(records, BaseModel) else []
            rows: list[tuple[int | None, Any]] = [(None, r) for r in records]
        else:
            rows = [(getattr(r, "row_", None) or i, r) for i, r in enumerate(records, start=1)]
        lengths = _column_lengths(SHEET_TABLES[sheet]) if sheet in SHEET_TABLES else {}
        for row, record in rows:
            for at, field, message in _walk(record, "", lengths, row):
                problems.append(DatasetProblem(sheet=sheet, row=at, field=field, message=message))
    return problems
