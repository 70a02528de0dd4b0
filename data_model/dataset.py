"""The dataset format (CONTRACT.md plus extensions): typed schema, validation with locations, YAML and xlsx."""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# ---------------------------------------------------------------- errors


class DatasetProblem(BaseModel):
    sheet: str
    row: int | None = None  # 1-based record number in YAML; the spreadsheet row in xlsx
    field: str = ""
    message: str

    def __str__(self) -> str:
        where = f"sheet '{self.sheet}'"
        if self.row is not None:
            where += f" row {self.row}"
        if self.field:
            where += f" field '{self.field}'"
        return f"{where}: {self.message}"


class DatasetError(Exception):
    """The dataset is refused as a whole; ``problems`` says where and why."""

    def __init__(self, problems: list[DatasetProblem]) -> None:
        self.problems = problems
        head = str(problems[0]) if problems else "invalid dataset"
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(head + more)


# ---------------------------------------------------------------- schema

class _Rec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    row_: int | None = Field(default=None, alias="_row", exclude=True)


class CalendarIn(_Rec):
    workdays: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    holidays: list[date] = Field(default_factory=list)

    @field_validator("workdays")
    @classmethod
    def _known_days(cls, v: list[str]) -> list[str]:
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        out = []
        for d in v:
            key = str(d).strip().lower()[:3]
            if key not in names:
                raise ValueError(f"unknown weekday {d!r}; use mon … sun")
            out.append(key)
        if not out:
            raise ValueError("at least one working weekday is needed")
        return sorted(set(out), key=names.index)


class ItemIn(_Rec):
    code: str = Field(min_length=1, max_length=64)
    name: str = ""
    aliases: list[str] = Field(default_factory=list)
    description: str = ""
    category: str = ""
    uom: str = "pcs"
    source: Literal["make", "buy", "subcontract"] = "buy"
    lead_time_days: int = Field(default=0, ge=0)
    safety_stock: Decimal = Field(default=Decimal(0), ge=0)
    min_order_qty: Decimal = Field(default=Decimal(0), ge=0)
    order_multiple: Decimal = Field(default=Decimal(0), ge=0)
    max_order_qty: Decimal = Field(default=Decimal(0), ge=0)
    unit_cost: Decimal = Field(default=Decimal(0), ge=0)
    phantom: bool = False
    inspection_required: bool = False

    @field_validator("code")
    @classmethod
    def _strip(cls, v: str) -> str:
        v = str(v).strip()
        if not v:
            raise ValueError("a code may not be blank")
        return v


class SubstituteIn(_Rec):
    item: str
    ratio: Decimal = Field(default=Decimal(1), gt=0)


class BomLineIn(_Rec):
    component: str
    qty: Decimal = Field(gt=0)
    scrap_rate: Decimal = Field(default=Decimal(0), ge=0, lt=1)
    issue_method: Literal["manual", "backflush", "kit"] = "manual"
    allow_mix: bool = True
    substitutes: list[SubstituteIn] = Field(default_factory=list)


class BomIn(_Rec):
    parent: str
    version: str = "1"
    output_qty: Decimal = Field(default=Decimal(1), gt=0)
    effective_from: date | None = None
    effective_to: date | None = None
    lines: list[BomLineIn] = Field(min_length=1)


class StockIn(_Rec):
    item: str
    qty: Decimal = Field(ge=0)
    location: str = "STOCK"
    unit_cost: Decimal | None = Field(default=None, ge=0)


class LocationIn(_Rec):
    code: str
    name: str = ""
    kind: Literal["stock", "inspection", "supplier", "transit"] = "stock"
    supplier: str | None = None


class CustomerIn(_Rec):
    code: str
    name: str = ""
    aliases: list[str] = Field(default_factory=list)


class SupplierIn(_Rec):
    code: str
    name: str = ""
    subcontractor: bool = False
    lead_time_days: int | None = Field(default=None, ge=0)


class PriceListIn(_Rec):
    supplier: str
    item: str
    kind: Literal["purchase", "subcontract"] = "purchase"
    price: Decimal = Field(ge=0)
    min_qty: Decimal = Field(default=Decimal(0), ge=0)
    lead_time_days: int | None = Field(default=None, ge=0)
    valid_from: date | None = None
    valid_to: date | None = None
    preferred: bool = False


class PurchaseLineIn(_Rec):
    item: str
    qty: Decimal = Field(gt=0)
    due: date
    received_qty: Decimal = Field(default=Decimal(0), ge=0)
    unit_price: Decimal = Field(default=Decimal(0), ge=0)


class PurchaseOrderIn(_Rec):
    """A purchase order: flat (item, qty, due) for one line, or ``lines`` for several."""

    id: str
    supplier: str | None = None
    status: Literal["draft", "confirmed", "partial", "received", "closed", "cancelled"] = "confirmed"
    order_date: date | None = None
    item: str | None = None
    qty: Decimal | None = Field(default=None, gt=0)
    due: date | None = None
    received_qty: Decimal = Field(default=Decimal(0), ge=0)
    unit_price: Decimal = Field(default=Decimal(0), ge=0)
    lines: list[PurchaseLineIn] = Field(default_factory=list)

    def all_lines(self) -> list[PurchaseLineIn]:
        if self.lines:
            return self.lines
        return [PurchaseLineIn(item=self.item or "", qty=self.qty or Decimal(0), due=self.due or date.min,
                               received_qty=self.received_qty, unit_price=self.unit_price, _row=self.row_)]

    def model_post_init(self, _ctx: Any) -> None:
        if not self.lines:
            missing = [f for f in ("item", "qty", "due") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"needs {', '.join(missing)} (or a list of lines)")


class ComponentIn(_Rec):
    item: str
    required: Decimal = Field(ge=0)
    issued: Decimal = Field(default=Decimal(0), ge=0)
    issue_method: Literal["manual", "backflush", "kit"] = "manual"


class ProductionOrderIn(_Rec):
    id: str
    item: str
    qty: Decimal = Field(gt=0)
    due: date
    status: Literal["planned", "released", "in_progress", "completed", "closed", "cancelled"] = "released"
    start: date | None = None
    kind: Literal["production", "subcontract", "rework"] = "production"
    supplier: str | None = None
    completed_qty: Decimal = Field(default=Decimal(0), ge=0)
    sales_order: str | None = None  # "SO-1/1": order and line number
    parent_order: str | None = None
    priority: int = Field(default=5, ge=0)
    components: list[ComponentIn] = Field(default_factory=list)


class SalesLineIn(_Rec):
    item: str
    qty: Decimal = Field(gt=0)
    due: date
    promised: date | None = None
    shipped_qty: Decimal = Field(default=Decimal(0), ge=0)
    unit_price: Decimal = Field(default=Decimal(0), ge=0)


class SalesOrderIn(_Rec):
    id: str
    customer: str
    priority: int = Field(default=5, ge=0)
    status: Literal["draft", "confirmed", "in_progress", "done", "cancelled"] = "confirmed"
    order_date: date | None = None
    note: str = ""
    lines: list[SalesLineIn] = Field(min_length=1)


class ForecastIn(_Rec):
    item: str
    qty: Decimal = Field(gt=0)
    date: date


class WorkCenterIn(_Rec):
    code: str
    name: str = ""
    machines: int = Field(default=1, gt=0)
    hours_per_day: Decimal = Field(default=Decimal(8), gt=0, le=24)
    cost_per_hour: Decimal = Field(default=Decimal(0), ge=0)
    overtime_hours_per_day: Decimal = Field(default=Decimal(0), ge=0)


class OperationIn(_Rec):
    seq: int
    work_center: str
    setup_minutes: Decimal = Field(default=Decimal(0), ge=0)
    run_minutes_per_unit: Decimal = Field(default=Decimal(0), ge=0)
    name: str = ""


class RoutingIn(_Rec):
    item: str
    operations: list[OperationIn] = Field(min_length=1)


class OverheadPoolIn(_Rec):
    name: str
    amount: Decimal = Field(ge=0)
    basis: Literal["labor_hours", "output_qty", "material_cost"] = "labor_hours"


class CompletionIn(_Rec):
    material: Decimal = Field(default=Decimal(1), ge=0, le=1)
    conversion: Decimal = Field(default=Decimal(0), ge=0, le=1)


class OpeningWipIn(_Rec):
    material: Decimal = Field(default=Decimal(0), ge=0)
    conversion: Decimal = Field(default=Decimal(0), ge=0)


class OrderCostIn(_Rec):
    production_order: str
    completed_qty: Decimal = Field(default=Decimal(0), ge=0)
    wip_qty: Decimal = Field(default=Decimal(0), ge=0)
    wip_completion: CompletionIn = Field(default_factory=CompletionIn)
    opening_wip: OpeningWipIn = Field(default_factory=OpeningWipIn)
    material_cost: Decimal = Field(default=Decimal(0), ge=0)
    labor_cost: Decimal = Field(default=Decimal(0), ge=0)
    labor_hours: Decimal = Field(default=Decimal(0), ge=0)
    subcontract_cost: Decimal = Field(default=Decimal(0), ge=0)


class JointOutputIn(_Rec):
    item: str
    qty: Decimal = Field(gt=0)
    coefficient: Decimal | None = Field(default=None, gt=0)
    sales_value: Decimal | None = Field(default=None, ge=0)


class ByProductIn(_Rec):
    item: str
    qty: Decimal = Field(gt=0)
    unit_value: Decimal = Field(ge=0)


class JointProductsIn(_Rec):
    production_order: str
    outputs: list[JointOutputIn] = Field(min_length=1)
    by_products: list[ByProductIn] = Field(default_factory=list)


class CostingIn(_Rec):
    period: str
    overhead_pools: list[OverheadPoolIn] = Field(default_factory=list)
    orders: list[OrderCostIn] = Field(default_factory=list)
    joint_products: list[JointProductsIn] = Field(default_factory=list)

    @field_validator("period", mode="before")
    @classmethod
    def _period_text(cls, v: Any) -> str:
        if isinstance(v, date):
            return v.strftime("%Y-%m")
        return str(v)


class Dataset(BaseModel):
    """One factory's data; every key optional. Lists are validated record by record."""

    model_config = ConfigDict(extra="forbid")
    today: date | None = None
    calendar: CalendarIn | None = None
    items: list[ItemIn] = Field(default_factory=list)
    customers: list[CustomerIn] = Field(default_factory=list)
    suppliers: list[SupplierIn] = Field(default_factory=list)
    locations: list[LocationIn] = Field(default_factory=list)
    price_lists: list[PriceListIn] = Field(default_factory=list)
    boms: list[BomIn] = Field(default_factory=list)
    stock: list[StockIn] = Field(default_factory=list)
    purchase_orders: list[PurchaseOrderIn] = Field(default_factory=list)
    production_orders: list[ProductionOrderIn] = Field(default_factory=list)
    sales_orders: list[SalesOrderIn] = Field(default_factory=list)
    forecasts: list[ForecastIn] = Field(default_factory=list)
    work_centers: list[WorkCenterIn] = Field(default_factory=list)
    routings: list[RoutingIn] = Field(default_factory=list)
    costing: list[CostingIn] = Field(default_factory=list)

    @field_validator("costing", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        if v is None:
            return []
        return [v] if isinstance(v, dict) else v


LIST_KEYS = [name for name, f in Dataset.model_fields.items() if name not in ("today", "calendar")]


def _problem_from_error(err: dict[str, Any], raw: dict[str, Any]) -> DatasetProblem:
    loc = list(err["loc"])
    sheet = str(loc[0]) if loc else "(dataset)"
    row: int | None = None
    field_parts: list[str] = []
    node: Any = raw.get(sheet) if loc else None
    if sheet == "costing" and isinstance(node, dict):
        node = [node]
    i = 1
    if len(loc) > 1 and isinstance(loc[1], int) and isinstance(node, list):
        index = loc[1]
        record = node[index] if index < len(node) else {}
        row = record.get("_row", index + 1) if isinstance(record, dict) else index + 1
        node = record
        i = 2
    # descend into nested lists (lines, operations…) to report the innermost spreadsheet row
    while i < len(loc):
        part = loc[i]
        if isinstance(part, int) and isinstance(node, list):
            sub = node[part] if part < len(node) else {}
            if isinstance(sub, dict) and "_row" in sub:
                row = sub["_row"]
            field_parts[-1:] = [f"{field_parts[-1]}[{part + 1}]" if field_parts else f"[{part + 1}]"]
            node = sub
        else:
            field_parts.append(str(part))
            node = node.get(part) if isinstance(node, dict) else None
        i += 1
    message = err["msg"]
    if err["type"] == "extra_forbidden":
        message = "unknown field"
    elif err["type"] == "missing":
        message = "required field is missing"
    return DatasetProblem(sheet=sheet, row=row, field=".".join(field_parts), message=message)


def parse_dataset(raw: Any) -> Dataset:
    """Validate a raw dict (from YAML or xlsx); every problem found is reported, none of it is written."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise DatasetError([DatasetProblem(sheet="(dataset)", message="a dataset is a mapping of sheet names to rows")])
    try:
        return Dataset.model_validate(raw)
    except ValidationError as exc:
        problems = [_problem_from_error(e, raw) for e in exc.errors(include_url=False)]
        raise DatasetError(problems[:50]) from None


# ---------------------------------------------------------------- reading and writing files


class _Loader(yaml.SafeLoader):
    """Dates stay text so that a malformed one is reported by the schema with its row and field."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DatasetError([DatasetProblem(sheet="(file)", message=f"not valid YAML{where}: "
                                           f"{getattr(exc, 'problem', exc)}")]) from None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def dump_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(_plain(data), allow_unicode=True, sort_keys=False, width=110)


# Spreadsheet layout: one sheet per key; nested lists flattened to one row per innermost record with the
# parent's fields repeated. (sheet, parent fields, child list key, child fields, grandchild).
_FLAT_NESTED: dict[str, tuple[str, str]] = {
    "boms": ("parent", "lines"),
    "sales_orders": ("id", "lines"),
    "routings": ("item", "operations"),
    "purchase_orders": ("id", "lines"),
}
_LIST_FIELDS = {"aliases"}


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, Decimal):
        return _plain(value)
    return value


def _format_substitutes(subs: list[dict[str, Any]]) -> str:
    return "; ".join(f"{s['item']}:{_plain(Decimal(str(s.get('ratio', 1))))}" for s in subs)


def _parse_substitutes(text: Any) -> list[dict[str, Any]]:
    out = []
    for part in str(text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        item, _, ratio = part.partition(":")
        out.append({"item": item.strip(), "ratio": ratio.strip() or 1})
    return out


def dataset_to_sheets(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The canonical dict as spreadsheet rows per sheet."""
    sheets: dict[str, list[dict[str, Any]]] = {}
    meta = [{"key": "today", "value": data["today"]}] if data.get("today") else []
    if data.get("calendar"):
        cal = data["calendar"]
        meta.append({"key": "workdays", "value": ", ".join(cal.get("workdays", []))})
        for h in cal.get("holidays", []):
            meta.append({"key": "holiday", "value": h})
    if meta:
        sheets["meta"] = meta
    for key in LIST_KEYS:
        rows = data.get(key)
        if not rows:
            continue
        if key == "costing":
            _costing_to_sheets(rows if isinstance(rows, list) else [rows], sheets)
            continue
        flat: list[dict[str, Any]] = []
        for rec in rows:
            if key in _FLAT_NESTED and rec.get(_FLAT_NESTED[key][1]):
                child_key = _FLAT_NESTED[key][1]
                head = {k: _cell(v) for k, v in rec.items() if k != child_key}
                for child in rec[child_key]:
                    row = dict(head)
                    for k, v in child.items():
                        row[k] = _format_substitutes(v) if k == "substitutes" else _cell(v)
                    flat.append(row)
            elif key == "production_orders" and rec.get("components"):
                head = {k: _cell(v) for k, v in rec.items() if k != "components"}
                for comp in rec["components"]:
                    flat.append({**head, **{f"component_{k}": _cell(v) for k, v in comp.items()}})
            else:
                flat.append({k: _cell(v) for k, v in rec.items()})
        sheets[key] = flat
    return sheets


def _costing_to_sheets(periods: list[dict[str, Any]], sheets: dict[str, list[dict[str, Any]]]) -> None:
    for p in periods:
        period = p["period"]
        for pool in p.get("overhead_pools", []):
            sheets.setdefault("costing_overhead_pools", []).append({"period": period, **pool})
        for o in p.get("orders", []):
            row = {"period": period, **{k: v for k, v in o.items() if k not in ("wip_completion", "opening_wip")}}
            for k, v in (o.get("wip_completion") or {}).items():
                row[f"wip_completion_{k}"] = v
            for k, v in (o.get("opening_wip") or {}).items():
                row[f"opening_wip_{k}"] = v
            sheets.setdefault("costing_orders", []).append(row)
        for jp in p.get("joint_products", []):
            for out in jp.get("outputs", []):
                sheets.setdefault("costing_joint_products", []).append(
                    {"period": period, "production_order": jp["production_order"], "type": "output", **out})
            for bp in jp.get("by_products", []):
                sheets.setdefault("costing_joint_products", []).append(
                    {"period": period, "production_order": jp["production_order"], "type": "by_product", **bp})


def write_xlsx(data: dict[str, Any], path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in dataset_to_sheets(data).items():
        ws = wb.create_sheet(name)
        columns: list[str] = []
        for row in rows:
            for k in row:
                if k not in columns:
                    columns.append(k)
        ws.append(columns)
        for row in rows:
            ws.append([_plain(row.get(c)) for c in columns])
    wb.save(path)


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def read_xlsx(path: Path | io.BytesIO) -> dict[str, Any]:
    """Read a workbook with one sheet per key back into the canonical dict (rows keep their ``_row``)."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise DatasetError([DatasetProblem(sheet="(file)", message=f"not a readable .xlsx workbook: {exc}")]) from None
    sheets: dict[str, list[dict[str, Any]]] = {}
    for ws in wb.worksheets:
        rows = ws.iter_rows(values_only=True)
        header = next(rows, None)
        if not header:
            continue
        names = [str(h).strip() if h is not None else "" for h in header]
        records = []
        for n, values in enumerate(rows, start=2):
            rec = {names[i]: _xl_value(v) for i, v in enumerate(values) if i < len(names) and names[i] and not _blank(v)}
            if rec:
                rec["_row"] = n
                records.append(rec)
        sheets[ws.title] = records
    wb.close()
    return sheets_to_dataset(sheets)


def _xl_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _split_list(v: Any) -> list[str]:
    return [p.strip() for p in str(v).split(";") if p.strip()] if not _blank(v) else []


def sheets_to_dataset(sheets: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for rec in sheets.pop("meta", []):
        key, value = str(rec.get("key", "")).strip(), rec.get("value")
        if key == "today":
            data["today"] = value
        elif key == "workdays":
            data.setdefault("calendar", {})["workdays"] = [d.strip() for d in str(value).split(",") if d.strip()]
        elif key == "holiday":
            data.setdefault("calendar", {}).setdefault("holidays", []).append(value)
    costing_sheets = {k: sheets.pop(k) for k in list(sheets) if k.startswith("costing_")}
    for key, rows in sheets.items():
        if key in _FLAT_NESTED:
            data[key] = _group_nested(key, rows)
        elif key == "production_orders":
            data[key] = _group_components(rows)
        else:
            for rec in rows:
                for f in _LIST_FIELDS & rec.keys():
                    rec[f] = _split_list(rec[f])
            data[key] = rows
    if costing_sheets:
        data["costing"] = _sheets_to_costing(costing_sheets)
    return data


def _group_nested(key: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parent_key, child_key = _FLAT_NESTED[key]
    child_fields = {
        "boms": {"component", "qty", "scrap_rate", "issue_method", "allow_mix", "substitutes"},
        "sales_orders": {"item", "qty", "due", "promised", "shipped_qty", "unit_price"},
        "routings": {"seq", "work_center", "setup_minutes", "run_minutes_per_unit", "name"},
        "purchase_orders": {"item", "qty", "due", "received_qty", "unit_price"},
    }[key]
    grouped: dict[Any, dict[str, Any]] = {}
    order: list[Any] = []
    for rec in rows:
        group_key: Any = rec.get(parent_key)
        if key == "boms":
            group_key = (rec.get("parent"), str(rec.get("version", "1")))
        head = {k: v for k, v in rec.items() if k not in child_fields}
        child = {k: v for k, v in rec.items() if k in child_fields}
        child["_row"] = rec["_row"]
        if "substitutes" in child:
            child["substitutes"] = [{**s, "_row": rec["_row"]} for s in _parse_substitutes(child["substitutes"])]
        if group_key not in grouped:
            grouped[group_key] = {**head, child_key: []}
            order.append(group_key)
        grouped[group_key][child_key].append(child)
    out = [grouped[k] for k in order]
    if key == "purchase_orders":
        # a one-line purchase order is written flat, as in CONTRACT.md
        out = [{**{k: v for k, v in po.items() if k != "lines"}, **{k: v for k, v in po["lines"][0].items()
                                                                    if k != "_row"}}
               if len(po["lines"]) == 1 else po for po in out]
    return out


def _group_components(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    grouped: dict[Any, dict[str, Any]] = {}
    for rec in rows:
        head = {k: v for k, v in rec.items() if not k.startswith("component_")}
        comp = {k[len("component_"):]: v for k, v in rec.items() if k.startswith("component_")}
        order = grouped.setdefault(rec.get("id"), {**head})
        if comp:
            comp["_row"] = rec["_row"]
            order.setdefault("components", []).append(comp)
    return list(grouped.values())


def _sheets_to_costing(sheets: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    periods: dict[str, dict[str, Any]] = defaultdict(dict)

    def period_of(rec: dict[str, Any]) -> dict[str, Any]:
        p = str(rec.pop("period", ""))
        return periods[p] if p in periods else periods.setdefault(p, {"period": p})

    for rec in sheets.get("costing_overhead_pools", []):
        period_of(rec).setdefault("overhead_pools", []).append(rec)
    for rec in sheets.get("costing_orders", []):
        order = {k: v for k, v in rec.items() if not k.startswith(("wip_completion_", "opening_wip_"))}
        completion = {k[len("wip_completion_"):]: v for k, v in rec.items() if k.startswith("wip_completion_")}
        opening = {k[len("opening_wip_"):]: v for k, v in rec.items() if k.startswith("opening_wip_")}
        if completion:
            order["wip_completion"] = completion
        if opening:
            order["opening_wip"] = opening
        period_of(order).setdefault("orders", []).append(order)
    for rec in sheets.get("costing_joint_products", []):
        p = period_of(rec)
        kind = rec.pop("type", "output")
        mo = rec.pop("production_order", None)
        group = next((g for g in p.setdefault("joint_products", []) if g["production_order"] == mo), None)
        if group is None:
            group = {"production_order": mo, "outputs": [], "_row": rec.get("_row")}
            p["joint_products"].append(group)
        group.setdefault("by_products" if kind == "by_product" else "outputs", []).append(rec)
    return list(periods.values())


def read_dataset_file(path: Path) -> dict[str, Any]:
    """Read a YAML or .xlsx dataset file into the canonical dict (not yet validated)."""
    if not path.exists():
        raise DatasetError([DatasetProblem(sheet="(file)", message=f"no such file: {path}")])
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    raw = read_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise DatasetError([DatasetProblem(sheet="(file)", message="a dataset is a mapping of sheet names to rows")])
    return raw


def iter_codes(records: Iterable[Any], attr: str = "code") -> Iterable[str]:
    for rec in records:
        yield getattr(rec, attr)
