"""`orderpilot costing …`: a cost period's reports as an Excel workbook, for people (the lead registers the app)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import DbOption, fail, run_in_context

app = typer.Typer(
    help="Cost accounting for people: export a period's cost reports to Excel.", no_args_is_help=True
)


@app.callback()
def costing() -> None:
    """Cost accounting for people: export a period's cost reports to Excel."""


MONEY_FORMAT = "#,##0.00"
QTY_FORMAT = "#,##0.######"
RATE_FORMAT = "0.00%"
UNIT_COST_FORMAT = "#,##0.000000"

# (header, key, number format); a key with dots reads a nested value.
# The completed quantity and the cost elements, alike in the cost report and the composition.
ELEMENT_COLUMNS: list[tuple[str, str, str]] = [
    ("完工数量 completed", "completed_qty", QTY_FORMAT),
    ("材料 material", "material", MONEY_FORMAT),
    ("其中转入 transferred in", "transferred_in", MONEY_FORMAT),
    ("人工 labor", "labor", MONEY_FORMAT),
    ("制造费用 overhead", "overhead", MONEY_FORMAT),
    ("委外加工费 subcontract", "subcontract", MONEY_FORMAT),
]
COST_COLUMNS: list[tuple[str, str, str]] = [
    ("生产订单 order", "production_order", ""),
    ("物料 item", "item", ""),
    ("类型 kind", "kind", ""),
    ("层级 level", "level", "0"),
    *ELEMENT_COLUMNS,
    ("其他加工费 other", "other_conversion", MONEY_FORMAT),
    ("返工 rework", "rework", MONEY_FORMAT),
    ("完工成本 total", "total", MONEY_FORMAT),
    ("单位成本 unit cost", "unit_cost", UNIT_COST_FORMAT),
    ("在制数量 WIP qty", "wip.qty", QTY_FORMAT),
    ("在制材料 WIP material", "wip.material", MONEY_FORMAT),
    ("在制加工费 WIP conversion", "wip.conversion", MONEY_FORMAT),
    ("在制委外 WIP subcontract", "wip.subcontract", MONEY_FORMAT),
    ("在制合计 WIP total", "wip.total", MONEY_FORMAT),
]
COMPOSITION_COLUMNS: list[tuple[str, str, str]] = [
    ("分组 group", "key", ""),
    ("名称 name", "name", ""),
    ("生产订单 orders", "orders", ""),
    *ELEMENT_COLUMNS,
    ("其他 other", "other_conversion", MONEY_FORMAT),
    ("返工 rework", "rework", MONEY_FORMAT),
    ("合计 total", "total", MONEY_FORMAT),
    ("单位成本 unit cost", "unit_cost", UNIT_COST_FORMAT),
    ("材料占比 material %", "shares.material", RATE_FORMAT),
    ("人工占比 labor %", "shares.labor", RATE_FORMAT),
    ("制造费用占比 overhead %", "shares.overhead", RATE_FORMAT),
    ("委外占比 subcontract %", "shares.subcontract", RATE_FORMAT),
    ("期末在制 WIP", "wip_total", MONEY_FORMAT),
]
VARIANCE_COLUMNS: list[tuple[str, str, str]] = [
    ("生产订单 order", "production_order", ""),
    ("物料 item", "item", ""),
    ("完工数量 qty", "qty", QTY_FORMAT),
    ("标准来源 standard from", "standard_from", ""),
    ("标准单位成本 standard unit", "standard_unit_cost", UNIT_COST_FORMAT),
    ("实际单位成本 actual unit", "actual_unit_cost", UNIT_COST_FORMAT),
    ("标准成本 standard", "standard_total", MONEY_FORMAT),
    ("实际成本 actual", "actual_total", MONEY_FORMAT),
    ("差异 variance", "variance", MONEY_FORMAT),
    ("差异率 variance %", "variance_rate", RATE_FORMAT),
]
PROFIT_COLUMNS: list[tuple[str, str, str]] = [
    ("销售订单 sales order", "sales_order", ""),
    ("客户 customer", "customer", ""),
    ("行 line", "line_no", "0"),
    ("物料 item", "item", ""),
    ("数量 qty", "qty", QTY_FORMAT),
    ("数量口径 basis", "qty_basis", ""),
    ("单价 unit price", "unit_price", MONEY_FORMAT),
    ("收入 revenue", "revenue", MONEY_FORMAT),
    ("单位成本 unit cost", "unit_cost", UNIT_COST_FORMAT),
    ("成本 cost", "cost", MONEY_FORMAT),
    ("毛利 margin", "margin", MONEY_FORMAT),
    ("毛利率 margin %", "margin_rate", RATE_FORMAT),
    ("成本来源 cost source", "cost_source", ""),
]
PROBLEM_COLUMNS: list[tuple[str, str, str]] = [
    ("级别 severity", "severity", ""),
    ("代码 code", "code", ""),
    ("生产订单 order", "production_order", ""),
    ("说明 message", "message", ""),
]


def _value(row: dict[str, Any], key: str) -> Any:
    value: Any = row
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def _sheet(
    book: Any, title: str, columns: Sequence[tuple[str, str, str]], rows: Sequence[dict[str, Any]]
) -> None:
    from openpyxl.styles import Font

    ws = book.create_sheet(title)
    ws.append([header for header, _, _ in columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for row in rows:
        ws.append([_value(row, key) for _, key, _ in columns])
        for cell, (_, _, number_format) in zip(ws[ws.max_row], columns, strict=True):
            if number_format and isinstance(cell.value, int | float):
                cell.number_format = number_format
    ws.freeze_panes = "A2"
    for index, (header, _, _) in enumerate(columns, start=1):
        ws.column_dimensions[ws.cell(1, index).column_letter].width = max(12, min(40, len(header) + 4))


def build_workbook(reports: dict[str, Any]) -> Any:
    """The workbook of a period's cost reports (tool outputs as JSON): one sheet per report."""
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    costing = reports["run_costing"]
    _sheet(book, "成本计算单 Cost report", COST_COLUMNS, costing["orders"])
    if "by_level" in reports:
        by_level = reports["by_level"]
        _sheet(book, "成本构成-层级 By level", COMPOSITION_COLUMNS, [*by_level["groups"], by_level["totals"]])
        _sheet(book, "成本构成-物料 By item", COMPOSITION_COLUMNS, reports["by_item"]["groups"])
    if "variance" in reports:
        _sheet(book, "成本差异 Variance", VARIANCE_COLUMNS, reports["variance"]["orders"])
    if "profitability" in reports:
        rows = [
            {**line, "sales_order": so["sales_order"], "customer": so["customer"]}
            for so in reports["profitability"]["sales_orders"]
            for line in so["lines"]
        ]
        _sheet(book, "订单利润 Profitability", PROFIT_COLUMNS, rows)
    pools = [
        {"pool": p["pool"], "basis": p["basis"], "amount": p["amount"], "total_basis": p["total_basis"],
         "production_order": s["production_order"], "basis_qty": s["basis_qty"], "share": s["share"],
         "allocated": s["amount_cents"]}
        for p in costing["pools"]
        for s in p["shares"]
    ]  # fmt: skip
    _sheet(
        book,
        "制造费用分配 Overhead",
        [
            ("费用 pool", "pool", ""),
            ("分配基础 basis", "basis", ""),
            ("金额 amount", "amount", MONEY_FORMAT),
            ("基础合计 total basis", "total_basis", QTY_FORMAT),
            ("生产订单 order", "production_order", ""),
            ("基础数量 basis qty", "basis_qty", QTY_FORMAT),
            ("比例 share", "share", RATE_FORMAT),
            ("分配额 allocated", "allocated", MONEY_FORMAT),
        ],
        pools,
    )
    _sheet(book, "问题 Problems", PROBLEM_COLUMNS, costing["problems"])
    return book


def collect_reports(db: str | None, period: str) -> dict[str, Any]:
    """Every cost report of ``period`` through the tools; only costing and problems when it cannot be costed."""
    from tools.registry import call_tool

    def collect(ctx: Any) -> dict[str, Any]:
        reports = {"run_costing": call_tool(ctx, "run_costing", {"period": period})}
        if reports["run_costing"]["ok"]:
            reports["by_level"] = call_tool(ctx, "get_cost_composition", {"period": period, "by": "level"})
            reports["by_item"] = call_tool(ctx, "get_cost_composition", {"period": period, "by": "item"})
            reports["variance"] = call_tool(ctx, "get_cost_variance", {"period": period})
            reports["profitability"] = call_tool(ctx, "get_order_profitability", {"period": period})
        return reports

    return run_in_context(db, collect, as_json=False)


@app.command("export")
def export(
    period: Annotated[str, typer.Argument(help="Cost period, e.g. 2026-11.")],
    out: Annotated[Path, typer.Option("--out", help="Workbook to write (.xlsx).")],
    db: DbOption = None,
) -> None:
    """Write PERIOD's cost reports to an Excel workbook: cost calculation per order, composition by level and
    by item, standard against actual, order profitability, overhead allocation and problems."""
    if out.suffix.lower() != ".xlsx":
        fail("invalid_input", f"--out must be an .xlsx file, got {out.name!r}", as_json=False)
    reports = collect_reports(db, period)
    build_workbook(reports).save(out)
    costing = reports["run_costing"]
    if not costing["ok"]:
        errors = [p for p in costing["problems"] if p["severity"] == "error"]
        typer.echo(
            f"error: {period} cannot be costed ({len(errors)} error(s), see sheet Problems): {out}", err=True
        )
        raise typer.Exit(1)
    typer.echo(
        f"exported {period} ({len(costing['orders'])} orders, completed {costing['completed']:,.2f}, "
        f"WIP {costing['wip']:,.2f}) to {out}"
    )
