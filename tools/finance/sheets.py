"""Reading a chart of accounts and voucher account rules from Excel (.xlsx) or CSV, headers in English or Chinese.

A workbook holds a sheet ``accounts`` (科目) and / or a sheet ``rules`` (凭证规则); a single sheet or a CSV is
taken for rules when it has a ``role`` column, else for accounts. A rules row may name its account
(``account_name``): the account is added to the chart, or renamed.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from tools.errors import ToolError

ALIASES = {
    "科目编码": "code",
    "科目代码": "code",
    "科目名称": "name",
    "名称": "name",
    "辅助核算": "aux",
    "启用": "active",
    "备注": "note",
    "角色": "role",
    "科目角色": "role",
    "业务": "event",
    "业务类型": "event",
    "事件": "event",
    "物料类别": "item_category",
    "存货类别": "item_category",
    "category": "item_category",
    "库位类型": "location_kind",
    "仓位类型": "location_kind",
    "成本要素": "cost_element",
    "成本项目": "cost_element",
    "单据类型": "doc_type",
    "费用池": "pool",
    "科目": "account",
}
ACCOUNT_SHEETS = ("accounts", "科目", "会计科目")
RULE_SHEETS = ("rules", "凭证规则", "科目规则", "voucher_rules")

Rows = list[tuple[int, dict[str, Any]]]


def _header(name: object, rules: bool) -> str:
    text = str(name or "").strip().lower().replace(" ", "_").replace("-", "_")
    key = ALIASES.get(text, text)
    if rules and key == "code":
        return "account"  # a rule's 科目编码 is its account
    if rules and key == "name":
        return "account_name"
    return key


def _cell(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime):
        return value.date()
    return value


def _records(header: list[object], rows: list[tuple[object, ...]], rules: bool) -> Rows:
    names = [_header(h, rules) for h in header]
    out: Rows = []
    for number, cells in enumerate(rows, start=2):
        rec = {
            names[i]: _cell(v).strip() if isinstance(_cell(v), str) else _cell(v)  # type: ignore[union-attr]
            for i, v in enumerate(cells)
            if i < len(names) and names[i] and v is not None and str(v).strip() != ""
        }
        if rec:
            out.append((number, rec))
    return out


def _is_rules(header: list[object]) -> bool:
    return "role" in {_header(h, True) for h in header}


def read_rule_file(path_text: str) -> tuple[Rows, Rows, str, str]:
    """(account rows, rule rows, account sheet name, rule sheet name) from a .csv or .xlsx file."""
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ToolError("invalid_input", f"{path.name}: give a .csv or .xlsx file", {"field": "file"})
    if not path.is_file():
        raise ToolError("not_found", f"no such file: {path_text}", {"kind": "file", "key": path_text})
    if suffix == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            text = path.read_text(encoding="gb18030")  # saved by a Chinese Excel
        table = list(csv.reader(io.StringIO(text)))
        if not table:
            raise ToolError("invalid_input", f"{path.name} is empty", {"field": "file"})
        header, body = list(table[0]), [tuple(r) for r in table[1:]]
        if _is_rules(header):
            return [], _records(header, body, True), "", path.name
        return _records(header, body, False), [], path.name, ""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ToolError(
            "invalid_input", f"{path.name} is not a readable workbook: {exc}", {"field": "file"}
        ) from None
    try:
        sheets = {ws.title: ws for ws in book.worksheets}
        account_sheet = next((sheets[n] for n in ACCOUNT_SHEETS if n in sheets), None)
        rule_sheet = next((sheets[n] for n in RULE_SHEETS if n in sheets), None)
        if account_sheet is None and rule_sheet is None:
            first = book.worksheets[0]
            values = list(first.iter_rows(values_only=True))
            if values and _is_rules(list(values[0])):
                rule_sheet = first
            else:
                account_sheet = first
        accounts: Rows = []
        rules: Rows = []
        for ws, is_rules in ((account_sheet, False), (rule_sheet, True)):
            if ws is None:
                continue
            values = list(ws.iter_rows(values_only=True))
            if not values:
                continue
            records = _records(list(values[0]), values[1:], is_rules)
            if is_rules:
                rules = records
            else:
                accounts = records
        return (
            accounts,
            rules,
            account_sheet.title if account_sheet is not None else "",
            rule_sheet.title if rule_sheet is not None else "",
        )
    finally:
        book.close()
