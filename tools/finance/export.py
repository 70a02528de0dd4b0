"""A month's vouchers as a table in a documented layout (docs/vouchers.md), written to CSV or Excel.

``standard``: one row per voucher line with every dimension, English column names (CSV or .xlsx).
``preset``: the voucher import sheet Chinese small-business packages (用友 / 金蝶 style) accept: 凭证日期, 凭证字,
凭证号, 摘要, 科目编码, 科目名称, 借方金额, 贷方金额 and the auxiliary dimensions (辅助核算) each account tracks.
Both read back through the overhead import (propose_overhead_import): 科目编码 / account, 借方金额 / debit,
贷方金额 / credit, 部门 / cost_center.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from sqlmodel import Session, col, select

from data_model.tables import LedgerAccount, Voucher, VoucherAccountRule, VoucherLine
from tools.errors import ToolError
from tools.finance.ledger import AUX_FIELDS, voucher_lines

Layout = Literal["standard", "preset"]
Cell = str | int | float | date | None

STANDARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("date", "凭证日期 voucher date"),
    ("period", "会计期间 period YYYY-MM"),
    ("voucher_no", "凭证编号 voucher code, e.g. 记-2026-11-0001"),
    ("word", "凭证字 voucher word"),
    ("number", "凭证号 number within the period"),
    ("line_no", "分录号 line number"),
    ("account", "科目编码 account code"),
    ("account_name", "科目名称 account name"),
    ("debit", "借方金额 debit"),
    ("credit", "贷方金额 credit"),
    ("summary", "摘要 line summary"),
    ("cost_center", "部门 / 成本中心 cost center"),
    ("work_center", "工作中心 work center"),
    ("item", "存货 item"),
    ("supplier", "供应商 supplier"),
    ("customer", "客户 customer"),
    ("production_order", "项目 / 生产订单 production order"),
    ("doc_type", "单据类型 document type"),
    ("doc_ref", "单据号 document"),
    ("stock_move_ids", "库存流水 stock move ids"),
    ("voucher_status", "凭证状态 draft / posted / reversed"),
    ("voucher_kind", "凭证类型 document / close / reversal"),
    ("event", "业务 business event, e.g. purchase_receipt"),
)

AUX_LABELS = {
    "cost_center": "部门",
    "work_center": "工作中心",
    "item": "存货",
    "supplier": "供应商",
    "customer": "客户",
    "production_order": "项目",
}
PRESET_COLUMNS: tuple[str, ...] = (
    "凭证日期",
    "凭证字",
    "凭证号",
    "分录号",
    "摘要",
    "科目编码",
    "科目名称",
    "借方金额",
    "贷方金额",
    "部门",
    "项目",
    "存货",
    "供应商",
    "客户",
    "辅助核算",
    "制单人",
    "业务单据",
)
PRESET_SHEET = "凭证"
STANDARD_SHEET = "vouchers"
MONEY_COLUMNS = {"debit", "credit", "借方金额", "贷方金额"}


@dataclass(frozen=True)
class VoucherTable:
    layout: str
    headers: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


def _money(value: Decimal) -> float:
    return float(Decimal(value).quantize(Decimal("0.01")))


def _aux_of(accounts: dict[str, LedgerAccount], code: str) -> tuple[str, ...]:
    row = accounts.get(code)
    if row is None:
        return AUX_FIELDS
    return tuple(a.strip() for a in row.aux.split(",") if a.strip())


def load_vouchers(
    session: Session, period: str, status: str | None = None, account_prefix: str | None = None
) -> list[tuple[Voucher, list[VoucherLine]]]:
    """The period's vouchers in number order with their lines (only lines under ``account_prefix``)."""
    query = select(Voucher).where(Voucher.period == period).order_by(col(Voucher.number))
    if status:
        query = query.where(Voucher.status == status)
    vouchers = session.exec(query).all()
    lines = voucher_lines(session, [v.id or 0 for v in vouchers])
    out = []
    for v in vouchers:
        mine = [ln for ln in lines[v.id or 0] if not account_prefix or ln.account.startswith(account_prefix)]
        if mine:
            out.append((v, mine))
    return out


def voucher_table(
    session: Session,
    period: str,
    layout: Layout = "standard",
    status: str | None = None,
    account_prefix: str | None = None,
) -> VoucherTable:
    """The period's voucher lines in ``layout`` (see the module docstring and docs/vouchers.md)."""
    rows: list[tuple[Cell, ...]] = []
    data = load_vouchers(session, period, status, account_prefix)
    if layout == "standard":
        for v, lines in data:
            for ln in lines:
                rows.append(
                    (
                        v.voucher_date,
                        v.period,
                        v.code,
                        v.word,
                        v.number,
                        ln.line_no,
                        ln.account,
                        ln.account_name,
                        _money(ln.debit),
                        _money(ln.credit),
                        ln.summary,
                        ln.cost_center,
                        ln.work_center,
                        ln.item,
                        ln.supplier,
                        ln.customer,
                        ln.production_order,
                        ln.doc_type,
                        ln.doc_ref,
                        ln.stock_move_ids,
                        v.status,
                        v.kind,
                        ln.event,
                    )
                )
        return VoucherTable(layout, tuple(name for name, _ in STANDARD_COLUMNS), tuple(rows))
    accounts = {a.code: a for a in session.exec(select(LedgerAccount)).all()}
    for v, lines in data:
        for ln in lines:
            tracked = _aux_of(accounts, ln.account)
            value = {dim: getattr(ln, dim) if dim in tracked else "" for dim in AUX_FIELDS}
            aux_text = ";".join(f"{AUX_LABELS[dim]}:{value[dim]}" for dim in AUX_FIELDS if value[dim])
            rows.append(
                (
                    v.voucher_date,
                    v.word,
                    v.number,
                    ln.line_no,
                    ln.summary,
                    ln.account,
                    ln.account_name,
                    _money(ln.debit),
                    _money(ln.credit),
                    value["cost_center"],
                    value["production_order"],
                    value["item"],
                    value["supplier"],
                    value["customer"],
                    aux_text,
                    v.created_by,
                    ln.doc_ref,
                )
            )
    return VoucherTable(layout, PRESET_COLUMNS, tuple(rows))


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def write_table(table: VoucherTable, path: Path, fmt: Literal["csv", "xlsx"]) -> None:
    """Write the table: CSV in UTF-8 with a BOM (Excel opens it), or one worksheet of an .xlsx workbook."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(table.headers)
            for row in table.rows:
                writer.writerow([_csv_cell(v) for v in row])
        return
    write_sheets(
        path, [(PRESET_SHEET if table.layout == "preset" else STANDARD_SHEET, table.headers, table.rows)]
    )


def write_sheets(path: Path, sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]]) -> None:
    """An .xlsx workbook with one sheet per (title, headers, rows): bold headers, frozen, money to 2 places."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, headers, rows in sheets:
        sheet = book.create_sheet(title)
        sheet.append(list(headers))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        money = [i + 1 for i, h in enumerate(headers) if h in MONEY_COLUMNS]
        for row in rows:
            sheet.append(list(row))
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if cell.column in money:
                    cell.number_format = "#,##0.00"
                elif isinstance(cell.value, date):
                    cell.number_format = "yyyy-mm-dd"
        for i, header in enumerate(headers, start=1):
            width = max([len(str(header))] + [len(str(r[i - 1])) for r in rows[:200] if r[i - 1] is not None])
            sheet.column_dimensions[sheet.cell(row=1, column=i).column_letter].width = min(
                max(width + 2, 8), 40
            )
    book.save(path)


ACCOUNT_COLUMNS = ("code", "name", "aux", "active", "note")
RULE_COLUMNS = (
    "role",
    "event",
    "item_category",
    "location_kind",
    "cost_element",
    "doc_type",
    "pool",
    "account",
    "account_name",
    "active",
    "note",
)


def write_rules_workbook(session: Session, path: Path) -> tuple[int, int]:
    """The chart of accounts and voucher account rules in the layout propose_voucher_account_rules reads."""
    accounts = session.exec(select(LedgerAccount).order_by(col(LedgerAccount.code))).all()
    rules = session.exec(
        select(VoucherAccountRule).order_by(col(VoucherAccountRule.role), col(VoucherAccountRule.id))
    ).all()
    names = {a.code: a.name for a in accounts}
    if path.suffix.lower() != ".xlsx":
        raise ToolError(
            "invalid_input", f"{path.name}: the rules are written to an .xlsx workbook", {"field": "out"}
        )
    write_sheets(
        path,
        [
            ("accounts", ACCOUNT_COLUMNS, [(a.code, a.name, a.aux, a.active, a.note) for a in accounts]),
            (
                "rules",
                RULE_COLUMNS,
                [
                    (
                        r.role,
                        r.event,
                        r.item_category,
                        r.location_kind,
                        r.cost_element,
                        r.doc_type,
                        r.pool,
                        r.account,
                        names.get(r.account, ""),
                        r.active,
                        r.note,
                    )
                    for r in rules
                ],
            ),
        ],
    )
    return len(accounts), len(rules)
