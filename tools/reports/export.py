"""The tracking and stock reports as tables, written to Excel (.xlsx) or CSV from one list of rows.

Each report is a read tool; its spec here names the tool, the list in its output that holds the rows, and
the columns (headers in Chinese and English). Nested lists (an order's production orders, a line's risks)
become one cell of text, so a row of the table is a row of the report.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import call_tool

Cell = str | int | float | None
Row = dict[str, Any]
ExportFormat = Literal["xlsx", "csv"]


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Row], Any]


@dataclass(frozen=True)
class ReportSpec:
    """A report: the tool that computes it, how to get its rows from the output, and its columns."""

    name: str
    tool: str
    title: str
    rows: Callable[[Row], list[Row]]
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class ReportTable:
    name: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _f(key: str) -> Callable[[Row], Any]:
    return lambda row: row.get(key)


def _pct(key: str) -> Callable[[Row], Any]:
    return lambda row: None if row.get(key) is None else round(float(row[key]) * 100, 2)


def _yes(key: str) -> Callable[[Row], Any]:
    return lambda row: "yes 是" if row.get(key) else ""


def _join(key: str, fmt: Callable[[Row], str]) -> Callable[[Row], str]:
    return lambda row: "; ".join(fmt(x) for x in row.get(key) or [])


def _num(value: Any) -> str:
    return _text(_cell(value))


def _order(o: Row) -> str:
    finish = f" → {o['projected_finish']}" if o.get("projected_finish") else ""
    return (
        f"{o['code']} {o['status']} {_num(o['completed_qty'])}/{_num(o['qty'])}, "
        f"issued {round(float(o['issue_progress']) * 100)}%, due {o['due_date']}{finish}"
    )


def _supply(s: Row) -> str:
    return f"{s['supply']} {s['item']} {_num(s['qty'])} {s['projected']} (for {s['for_record']})"


def _risk(r: Row) -> str:
    return f"[{r['kind']}] {r['message']}"


def _component(c: Row) -> str:
    return f"{c['item']} {_num(c['issued'])}/{_num(c['required'])}"


def _material(m: Row) -> str:
    return (
        f"{m['item']} sent {_num(m['sent'])}, consumed {_num(m['consumed'])}, scrap {_num(m['supplier_scrap'])}, "
        f"returned {_num(m['returned'])}, at supplier {_num(m['at_supplier'])}"
    )


def _variance_rows(out: Row) -> list[Row]:
    return [
        {**line, "order": order} for order in out.get("orders") or [] for line in order.get("lines") or []
    ]


REPORTS: dict[str, ReportSpec] = {
    spec.name: spec
    for spec in (
        ReportSpec(
            "sales-order-tracking",
            "get_sales_order_tracking",
            "销售订单全流程跟踪表 Sales order tracking",
            lambda out: out.get("lines") or [],
            (
                Column("销售订单 Sales order", _f("sales_order")),
                Column("行 Line", _f("line_no")),
                Column("客户 Customer", _f("customer")),
                Column("物料 Item", _f("item")),
                Column("名称 Name", _f("item_name")),
                Column("数量 Qty", _f("qty")),
                Column("已发 Shipped", _f("shipped_qty")),
                Column("未发 Open", _f("open_qty")),
                Column("要求交期 Requested", _f("requested_date")),
                Column("承诺交期 Promised", _f("promised_date")),
                Column("阶段 Stage", _f("stage")),
                Column("库存可发 Ready", _f("ready_qty")),
                Column("生产中 In production", _f("in_production_qty")),
                Column("未开工 Planned", _f("planned_qty")),
                Column("在途 Incoming", _f("incoming_qty")),
                Column("未覆盖 Uncovered", _f("uncovered_qty")),
                Column("生产单 Production orders", _join("production_orders", _order)),
                Column("委外单 Subcontract orders", _join("subcontract_orders", _order)),
                Column("采购 Purchases", _join("purchases", _supply)),
                Column("检验 Inspections", _join("inspections", lambda i: f"{i['code']} {i['status']}")),
                Column("预计完成 Projected", _f("projected_date")),
                Column("延迟天数 Days late", _f("days_late")),
                Column("有风险 At risk", _yes("at_risk")),
                Column("原因 Reasons", _join("risks", _risk)),
            ),
        ),
        ReportSpec(
            "production-order-tracking",
            "get_production_order_tracking",
            "生产任务单跟踪表 Production order tracking",
            lambda out: out.get("orders") or [],
            (
                Column("生产单 Order", _f("code")),
                Column("类型 Kind", _f("kind")),
                Column("物料 Item", _f("item")),
                Column("名称 Name", _f("item_name")),
                Column("状态 Status", _f("status")),
                Column("数量 Qty", _f("qty")),
                Column("已完工 Completed", _f("completed_qty")),
                Column("未完工 Open", _f("open_qty")),
                Column("领料进度% Issued %", _pct("issue_progress")),
                Column("入库进度% Received %", _pct("receipt_progress")),
                Column("待检 In QC", _f("in_inspection_qty")),
                Column("开工 Start", _f("start_date")),
                Column("计划完工 Planned finish", _f("planned_finish")),
                Column("预计完工 Projected finish", _f("projected_finish")),
                Column("延期 Late", _yes("late")),
                Column("延迟天数 Days late", _f("days_late")),
                Column("销售订单 Sales order line", _f("sales_order_line")),
                Column("用料 Components", _join("components", _component)),
                Column("原因 Reasons", _join("risks", _risk)),
            ),
        ),
        ReportSpec(
            "subcontract-tracking",
            "get_subcontract_tracking",
            "委外加工单跟踪表 Subcontract tracking",
            lambda out: out.get("orders") or [],
            (
                Column("委外单 Order", _f("code")),
                Column("加工商 Subcontractor", _f("supplier")),
                Column("物料 Item", _f("item")),
                Column("状态 Status", _f("status")),
                Column("数量 Qty", _f("qty")),
                Column("已收 Received", _f("received_qty")),
                Column("合格 Accepted", _f("accepted_qty")),
                Column("不合格 Rejected", _f("rejected_qty")),
                Column("待检 In QC", _f("in_inspection_qty")),
                Column("未交 Open", _f("open_qty")),
                Column("交期 Due", _f("due_date")),
                Column("预计完成 Projected", _f("projected_finish")),
                Column("逾期 Overdue", _yes("overdue")),
                Column("延迟天数 Days late", _f("days_late")),
                Column("发料与结存 Materials", _join("materials", _material)),
                Column("原因 Reasons", _join("risks", _risk)),
            ),
        ),
        ReportSpec(
            "warnings",
            "get_warnings",
            "预警 Warnings",
            lambda out: out.get("warnings") or [],
            (
                Column("级别 Severity", _f("severity")),
                Column("类型 Kind", _f("kind")),
                Column("单据 Record", _f("record")),
                Column("物料 Item", _f("item")),
                Column("数量 Qty", _f("qty")),
                Column("日期 Date", _f("date")),
                Column("预计 Projected", _f("projected_date")),
                Column("天数 Days", _f("days")),
                Column("相关单据 Records", lambda r: ", ".join(r.get("records") or [])),
                Column("原因 Cause", _f("cause")),
            ),
        ),
        ReportSpec(
            "slow-moving-stock",
            "get_slow_moving_stock",
            "呆滞料查询表 Slow-moving stock",
            lambda out: out.get("items") or [],
            (
                Column("物料 Item", _f("item")),
                Column("名称 Name", _f("item_name")),
                Column("类别 Category", _f("category")),
                Column("单位 UoM", _f("uom")),
                Column("数量 Qty", _f("qty")),
                Column("仓库数量 In stock", _f("in_stock_qty")),
                Column("单价 Unit cost", _f("unit_cost")),
                Column("金额 Value", _f("value")),
                Column("最后移动 Last move", _f("last_move_date")),
                Column("移动类型 Move type", _f("last_move_type")),
                Column("呆滞天数 Days idle", _f("days_idle")),
                Column("使用于 Used in", lambda r: ", ".join(r.get("used_in") or [])),
                Column("替代料用于 Substitute in", lambda r: ", ".join(r.get("substitute_in") or [])),
                Column("未结需求 Open demand", _f("open_demand_qty")),
            ),
        ),
        ReportSpec(
            "material-usage-variance",
            "get_material_usage_variance",
            "领料差异分析表 Material usage variance",
            _variance_rows,
            (
                Column("生产单 Order", lambda r: r["order"]["production_order"]),
                Column("产品 Product", lambda r: r["order"]["item"]),
                Column("状态 Status", lambda r: r["order"]["status"]),
                Column("完工 Completed", lambda r: r["order"]["completed_qty"]),
                Column("物料 Component", _f("item")),
                Column("名称 Name", _f("item_name")),
                Column("替代 Substitute for", _f("substitute_for")),
                Column("单位用量 Per unit", _f("per_unit")),
                Column("标准用量 Standard", _f("standard_qty")),
                Column("实际用量 Actual", _f("actual_qty")),
                Column("差异 Variance", _f("variance_qty")),
                Column("差异% Variance %", _f("variance_pct")),
                Column("单价 Unit cost", _f("unit_cost")),
                Column("标准金额 Standard value", _f("standard_value")),
                Column("实际金额 Actual value", _f("actual_value")),
                Column("差异金额 Variance value", _f("variance_value")),
                Column(
                    "原因 Reasons",
                    _join(
                        "reasons",
                        lambda x: f"{x['document']} {x['mode']} {_num(x['qty'])} {x['reason']}".strip(),
                    ),
                ),
            ),
        ),
    )
}


def report_names() -> list[str]:
    return sorted(REPORTS)


def find_report(name: str) -> ReportSpec:
    """A report by its name or by its tool's name."""
    key = name.strip().lower().replace("_", "-")
    for spec in REPORTS.values():
        if key in (spec.name, spec.tool.replace("_", "-")):
            return spec
    raise ToolError(
        "not_found", f"no report named {name!r}", {"kind": "report", "key": name, "available": report_names()}
    )


def _cell(value: Any) -> Cell:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "yes 是" if value else ""
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    return str(value)


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float):
        return repr(cell)
    return str(cell)


def build_table(spec: ReportSpec, output: Row) -> ReportTable:
    """The report's rows from its tool's JSON output."""
    rows = tuple(tuple(_cell(col.value(row)) for col in spec.columns) for row in spec.rows(output))
    return ReportTable(spec.name, spec.title, tuple(col.header for col in spec.columns), rows)


def run_report(ctx: ToolContext, name: str, args: Row | None = None) -> ReportTable:
    """Call the report's tool with ``args`` and lay its output out as a table."""
    spec = find_report(name)
    return build_table(spec, call_tool(ctx, spec.tool, args or {}))


def write_csv(table: ReportTable, path: Path) -> None:
    """UTF-8 with a byte-order mark, so that Excel opens the Chinese headers correctly."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(table.headers)
        writer.writerows([_text(c) for c in row] for row in table.rows)


def write_xlsx(table: ReportTable, path: Path) -> None:
    """One sheet named after the report, headers bold and frozen, columns sized to their content."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = table.name[:31]
    sheet.append(list(table.headers))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in table.rows:
        sheet.append(list(row))
    sheet.freeze_panes = "A2"
    for index, header in enumerate(table.headers, start=1):
        width = max([len(header), *(len(_text(r[index - 1])) for r in table.rows[:200])])
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    book.save(path)


def write_table(table: ReportTable, path: Path, fmt: ExportFormat) -> None:
    (write_xlsx if fmt == "xlsx" else write_csv)(table, path)


def read_back(path: Path) -> list[list[str]]:
    """The cells of a written report as text (header row first), whichever the format: for checks."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        sheet = load_workbook(path, read_only=True).worksheets[0]
        return [[_text(_cell(v)) for v in row] for row in sheet.iter_rows(values_only=True)]
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [list(row) for row in csv.reader(fh)]


def rows_as_text(table: ReportTable) -> list[list[str]]:
    return [list(table.headers), *([_text(c) for c in row] for row in table.rows)]


def export_names(names: Iterable[str]) -> Sequence[str]:
    return [find_report(n).name for n in names]
