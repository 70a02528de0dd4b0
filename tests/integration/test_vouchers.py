"""Vouchers from the documents of a hand-worked month on the bike factory (SQLite and PostgreSQL): every voucher
line by line, balanced, traceable to its documents and stock moves; generated once (idempotent re-runs);
red-ink reversals; the export files in their documented layouts; and the round trip with the overhead import.

The month (three-level costing bike of test_costing_close, plus purchases and a customer's seats):
  11-02 RN-00001  PO-F1 10 FRAME @ 50 into QC           11-02 SC-1 sends 20 RIM to the polisher POL
  11-03 RN-00002  PO-S1 5 SEAT @ 10 into stock           11-03 IQ-00001 accepts 9 FRAME, returns 1
  11-04 RN-00003  城市单车 (CITY) sends 12 SEAT of its own 11-05 SC-1 receives 20 RIM-P (fee 1.5 a rim)
  11-06 MI-00001  MO-W20: 20 RIM-P, 734.4 SPOKE, 20 TIRE  11-10 CR-00001 20 WHEEL
  11-11 MI-00002  RW-1 reworks 2 WHEEL with 2 TIRE        11-12 CR-00002 2 WHEEL
  11-15 MI-00003  MO-B10: 10 FRAME, 20 WHEEL, 10 SEAT     11-26 CR-00003 8 BIKE
  labor MO-W20 5 h, RW-1 1 h at WHL (40/h), MO-B10 8 h at ASM (50/h); overhead 制造费用 420 by labor hours.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from sqlmodel import select
from typer.testing import CliRunner

from cli.finance import app as vouchers_cli
from data_model.tables import CostResult, CostRun, StockMove, Voucher
from tests.helpers import call, confirm_as, do
from tests.integration.test_costing_close import MANAGER, collect, november, three_level_data
from tests.integration.test_costing_collection import load
from tests.integration.test_production_helpers import PLANNER, QUALITY, WAREHOUSE
from tools.context import open_context
from tools.errors import ToolError

PERIOD = "2026-11"


def month_data() -> dict[str, Any]:
    data = three_level_data()
    data["suppliers"] += [{"code": "FRAMECO", "name": "车架厂"}, {"code": "SEATCO", "name": "车座厂"}]
    data["customers"] = [{"code": "CITY", "name": "城市单车"}]
    data["sales_orders"][0]["customer"] = "CITY"
    data["purchase_orders"] = [
        {
            "id": "PO-F1",
            "supplier": "FRAMECO",
            "item": "FRAME",
            "qty": 10,
            "due": "2026-11-02",
            "unit_price": 50,
        },
        {
            "id": "PO-S1",
            "supplier": "SEATCO",
            "item": "SEAT",
            "qty": 5,
            "due": "2026-11-03",
            "unit_price": 10,
        },
        {
            "id": "PO-S2",
            "supplier": "SEATCO",
            "item": "SEAT-B",
            "qty": 3,
            "due": "2026-11-28",
            "unit_price": 12,
        },
    ]
    return data


def run_month(url: str) -> None:
    """The month's documents, through the propose tools, and its cost period collected and closed."""
    do(url, "propose_purchase_receipt", WAREHOUSE, purchase_order="PO-F1", lines=[{"item": "FRAME", "qty": 10}],
       inspect=True, receipt_date="2026-11-02")  # fmt: skip
    do(url, "propose_purchase_receipt", WAREHOUSE, purchase_order="PO-S1", lines=[{"item": "SEAT", "qty": 5}],
       receipt_date="2026-11-03")  # fmt: skip
    do(url, "propose_inspection_result", QUALITY, inspection="IQ-00001", accepted_qty=9, rejected_qty=1,
       defect_reason="车架弯曲", inspection_date="2026-11-03")  # fmt: skip
    do(url, "propose_customer_material_receipt", WAREHOUSE, customer="CITY", receipt_date="2026-11-04",
       lines=[{"item": "SEAT", "qty": 12}])  # fmt: skip
    november(url)
    collect(url)
    do(url, "propose_period_close", PLANNER, period=PERIOD)


def seed(url: str) -> None:
    out = call(url, "propose_voucher_account_rules", defaults=True)
    assert (len(out["accounts"]), len(out["rules"])) == (19, 18)
    confirm_as(url, out["proposal_id"], PLANNER)


def generate(url: str, period: str = PERIOD) -> dict[str, Any]:
    out = call(url, "propose_voucher_generation", period=period)
    done = confirm_as(url, out["proposal_id"], PLANNER)
    assert done["status"] == "confirmed", done
    return out


def closed_month(url: str, data: dict[str, Any]) -> str:
    """``data`` loaded, its month's documents run and the month costed and closed, voucher rules seeded."""
    load(url, data)
    run_month(url)
    seed(url)
    return url


@pytest.fixture
def month(db_url: str) -> str:
    return closed_month(db_url, month_data())


def dims(line: dict[str, Any]) -> str:
    return "/".join(line[k] for k in ("item", "supplier", "production_order", "cost_center") if line[k])


def voucher_lines(url: str, code: str) -> list[tuple[str, float, float, str]]:
    out = call(url, "get_voucher", voucher=code)
    assert out["debit_total"] == out["credit_total"]
    assert sum(ln["debit"] for ln in out["lines"]) == pytest.approx(out["debit_total"], abs=1e-9)
    assert sum(ln["credit"] for ln in out["lines"]) == pytest.approx(out["credit_total"], abs=1e-9)
    return [(ln["account"], ln["debit"], ln["credit"], dims(ln)) for ln in out["lines"]]


def move_ids(url: str, doc_ref: str) -> list[int]:
    with open_context(url) as ctx:
        return [m.id for m in ctx.session.exec(select(StockMove).where(StockMove.doc_ref == doc_ref)
                                               .order_by(StockMove.id))]  # fmt: skip


# Every voucher of the month, worked by hand. Values are qty × the move's unit cost, in cents:
#   moving averages: RIM (50 × 8 + 50 × 8.4) / 100 = 8.2, SPOKE 0.21, TIRE 6.25, FRAME 50, SEAT 10;
#   RIM-P comes in at (20 × 8.2 + 20 × 1.5) / 20 = 9.7; a completion receipt is valued at the order's material
#   per unit so far: WHEEL (194 + 154.224 + 125) / 20 = 23.6612, BIKE 50 + 2 × 23.525 + 10 = 107.05;
#   WHEEL's average after CR-00001: 4 opening wheels at the roll-up standard 22.844 (RIM-P 8 + 1.5, SPOKE
#   36.72 × 0.2, TIRE 6) and 20 at 23.6612 → (91.376 + 473.224) / 24 = 23.525.
EXPECTED: dict[str, tuple[str, str, list[tuple[str, float, float, str]]]] = {
    "记-2026-11-0001": ("2026-11-02", "采购入库 RN-00001(PO-F1)", [
        ("1403", 500, 0, "FRAME"),  # 10 × 50, into QC: still our raw material
        ("2202.02", 0, 500, "FRAMECO"),  # owed to the supplier until the invoice (暂估)
    ]),
    "记-2026-11-0002": ("2026-11-02", "委外发料 SC-1", [
        ("1408.01", 164, 0, "RIM/POL"),  # 20 × 8.2 now at the polisher
        ("1403", 0, 164, "RIM"),
    ]),
    "记-2026-11-0003": ("2026-11-03", "采购入库 RN-00002(PO-S1)", [
        ("1403", 50, 0, "SEAT"),  # 5 × 10
        ("2202.02", 0, 50, "SEATCO"),
    ]),
    # IQ-00001: 9 FRAME QC → stock is the same account (no entry); 1 goes back at its price 50
    "记-2026-11-0004": ("2026-11-03", "采购退货 IQ-00001(PO-F1)", [
        ("2202.02", 50, 0, "FRAMECO"),
        ("1403", 0, 50, "FRAME"),
    ]),
    "记-2026-11-0005": ("2026-11-05", "委外入库 SC-1", [
        ("1408.02", 164, 0, "RIM/POL/SC-1"),  # 20 RIM used by the polisher
        ("1403", 194, 0, "RIM-P"),  # 20 RIM-P × 9.7
        ("1408.02", 30, 0, "RIM-P/POL/SC-1"),  # fee 20 × 1.5
        ("1408.01", 0, 164, "RIM/POL"),
        ("1408.02", 0, 194, "RIM-P/POL/SC-1"),
        ("2202.02", 0, 30, "POL"),
    ]),
    "记-2026-11-0006": ("2026-11-06", "生产领料 MI-00001(MO-W20)", [
        ("5001.01", 194, 0, "RIM-P/MO-W20/WHL"),  # 20 × 9.7
        ("5001.01", 154.22, 0, "SPOKE/MO-W20/WHL"),  # 734.4 × 0.21 = 154.224
        ("5001.01", 125, 0, "TIRE/MO-W20/WHL"),  # 20 × 6.25
        ("1403", 0, 194, "RIM-P"),
        ("1403", 0, 154.22, "SPOKE"),
        ("1403", 0, 125, "TIRE"),
    ]),
    "记-2026-11-0007": ("2026-11-10", "完工入库 CR-00001(MO-W20)", [
        ("1405", 473.22, 0, "WHEEL"),  # 20 × 23.6612 = 473.224
        ("5001.01", 0, 473.22, "WHEEL/MO-W20/WHL"),
    ]),
    "记-2026-11-0008": ("2026-11-11", "生产领料 MI-00002(RW-1)", [
        ("5001.01", 47.05, 0, "WHEEL/RW-1/WHL"),  # 2 × 23.525
        ("5001.01", 12.5, 0, "TIRE/RW-1/WHL"),  # 2 × 6.25
        ("1405", 0, 47.05, "WHEEL"),
        ("1403", 0, 12.5, "TIRE"),
    ]),
    "记-2026-11-0009": ("2026-11-12", "完工入库 CR-00002(RW-1)", [
        ("1405", 47.05, 0, "WHEEL"),  # the reworked wheels come back at their value
        ("5001.01", 0, 47.05, "WHEEL/RW-1/WHL"),
    ]),
    "记-2026-11-0010": ("2026-11-15", "生产领料 MI-00003(MO-B10)", [
        ("5001.01", 500, 0, "FRAME/MO-B10/ASM"),
        ("5001.01", 470.5, 0, "WHEEL/MO-B10/ASM"),  # 20 × 23.525
        ("5001.01", 100, 0, "SEAT/MO-B10/ASM"),
        ("1403", 0, 500, "FRAME"),
        ("1405", 0, 470.5, "WHEEL"),
        ("1403", 0, 100, "SEAT"),
    ]),
    "记-2026-11-0011": ("2026-11-26", "完工入库 CR-00003(MO-B10)", [
        ("1405", 856.4, 0, "BIKE"),  # 8 × 107.05
        ("5001.01", 0, 856.4, "BIKE/MO-B10/ASM"),
    ]),
    # The closing, from the cost run (test_costing_close): labor of the month into each order's WIP …
    "记-2026-11-0012": ("2026-11-30", "2026-11 分配直接人工", [
        ("5001.02", 400, 0, "BIKE/MO-B10/ASM"),  # 8 h × 50
        ("5001.02", 200, 0, "WHEEL/MO-W20/WHL"),  # 5 h × 40
        ("5001.02", 40, 0, "WHEEL/RW-1/WHL"),  # 1 h × 40
        ("2211.01", 0, 400, "ASM"),
        ("2211.01", 0, 200, "WHL"),
        ("2211.01", 0, 40, "WHL"),
    ]),
    # … overhead 420 / 14 h = 30 an hour …
    "记-2026-11-0013": ("2026-11-30", "2026-11 分配制造费用", [
        ("5001.03", 240, 0, "BIKE/MO-B10/ASM"),
        ("5001.03", 150, 0, "WHEEL/MO-W20/WHL"),
        ("5001.03", 30, 0, "WHEEL/RW-1/WHL"),
        ("5101", 0, 240, "ASM"),
        ("5101", 0, 150, "WHL"),
        ("5101", 0, 30, "WHL"),
    ]),
    # … and every order's WIP brought to the costing's ending WIP, the rest to its product:
    # MO-B10 used its 20 wheels at MO-W20's actual cost 905.724 (45.2862 each), issued at 470.50: 435.22 more
    # out of WHEEL. Its ending WIP is material 301.1448, labor 44.444444, overhead 26.666667, so
    #   5001.01: 1,070.50 - 856.40 + 435.22 - 301.14 = 348.18;  5001.02: 400 - 44.44 = 355.56;
    #   5001.03: 240 - 26.67 = 213.33  → BIKE 917.07 (856.40 + 917.07 = 1,773.47, the costing's 1,773.468089).
    # MO-W20 completed everything: labor 200 and overhead 150 go to WHEEL; RW-1's 12.50 + 40 + 30 = 82.50 too
    # (the rework is the reworked wheels' cost). WHEEL: 473.22 + 350 + 82.50 = 905.72 made, all used by MO-B10
    # (470.50 + 435.22). SC-1: 164 + 30 - 194 = 0 left at the polisher.
    "记-2026-11-0014": ("2026-11-30", "2026-11 结转完工产品成本", [
        ("5001.01", 435.22, 0, "WHEEL/MO-B10/ASM"),
        ("1405", 917.07, 0, "BIKE"),
        ("1405", 350, 0, "WHEEL"),
        ("1405", 82.5, 0, "WHEEL"),
        ("1405", 0, 435.22, "WHEEL"),
        ("5001.01", 0, 348.18, "BIKE/MO-B10/ASM"),
        ("5001.02", 0, 355.56, "BIKE/MO-B10/ASM"),
        ("5001.03", 0, 213.33, "BIKE/MO-B10/ASM"),
        ("5001.02", 0, 200, "WHEEL/MO-W20/WHL"),
        ("5001.03", 0, 150, "WHEEL/MO-W20/WHL"),
        ("5001.01", 0, 12.5, "WHEEL/RW-1/WHL"),
        ("5001.02", 0, 40, "WHEEL/RW-1/WHL"),
        ("5001.03", 0, 30, "WHEEL/RW-1/WHL"),
    ]),
}  # fmt: skip


def test_every_voucher_of_the_month_line_by_line(month: str) -> None:
    out = generate(month)
    assert out["voucher_count"] == 14 and out["close_status"] == "generated"
    # The customer's seats are listed, not booked; opening balances and QC → stock need no entry.
    assert [(m["item"], m["qty"], m["customer"], m["doc_ref"]) for m in out["memos"]] == [
        ("SEAT", 12, "CITY", "RN-00003")
    ]
    assert out["no_entry"] == 12  # 11 opening balances + 9 FRAME from QC to stock
    listed = call(month, "list_vouchers", period=PERIOD)
    assert [v["voucher"] for v in listed["vouchers"]] == list(EXPECTED)
    for v in listed["vouchers"]:
        date, summary, lines = EXPECTED[v["voucher"]]
        assert (v["voucher_date"], v["summary"], v["status"]) == (date, summary, "draft"), v["voucher"]
        assert voucher_lines(month, v["voucher"]) == lines, v["voucher"]
        assert v["debit_total"] == v["credit_total"] == pytest.approx(sum(d for _, d, _, _ in lines))
    # Nothing is left in WIP but MO-B10's ending WIP: 301.14 + 44.44 + 26.67 (per account, in cents).
    wip: dict[str, D] = {}
    for code in EXPECTED:
        for account, debit, credit, _ in voucher_lines(month, code):
            if account.startswith(("5001", "1408.02")):
                wip[account] = wip.get(account, D(0)) + D(str(debit)) - D(str(credit))
    assert wip == {"5001.01": D("301.14"), "5001.02": D("44.44"), "5001.03": D("26.67"), "1408.02": D(0)}


def test_vouchers_trace_their_documents_and_stock_moves(month: str) -> None:
    generate(month)
    receipt = call(month, "get_voucher", voucher="记-2026-11-0005")
    (consumed, fee_and_goods) = move_ids(month, "SC-1")[1:3]
    assert (receipt["source_type"], receipt["source_ref"], receipt["kind"]) == ("subcontract_order", "SC-1",
                                                                                 "document")  # fmt: skip
    assert {(s["source_kind"], s["source_id"], s["event"]) for s in receipt["sources"]} == {
        ("stock_move", consumed, "subcontract_consume"),
        ("stock_move", fee_and_goods, "subcontract_receipt"),
    }
    assert [
        (ln["doc_type"], ln["doc_ref"], ln["stock_move_ids"], ln["summary"]) for ln in receipt["lines"]
    ] == [
        ("subcontract_order", "SC-1", [consumed], "委外耗用 SC-1 RIM"),
        ("subcontract_order", "SC-1", [fee_and_goods], "委外入库 SC-1 RIM-P"),
        ("subcontract_order", "SC-1", [fee_and_goods], "委外加工费 SC-1 RIM-P"),
        ("subcontract_order", "SC-1", [consumed], "委外耗用 SC-1 RIM"),
        ("subcontract_order", "SC-1", [fee_and_goods], "委外入库 SC-1 RIM-P"),
        ("subcontract_order", "SC-1", [fee_and_goods], "委外加工费 SC-1"),
    ]
    # The documents' vouchers can be found from the document.
    by_doc = call(month, "list_vouchers", doc_ref="MO-B10")
    assert [v["voucher"] for v in by_doc["vouchers"]] == [
        "记-2026-11-0010", "记-2026-11-0011", "记-2026-11-0012", "记-2026-11-0013", "记-2026-11-0014"]  # fmt: skip
    by_account = call(month, "list_vouchers", period=PERIOD, account="1408")
    assert [v["voucher"] for v in by_account["vouchers"]] == ["记-2026-11-0002", "记-2026-11-0005"]
    status = call(month, "get_voucher_status", period=PERIOD)
    assert status["production_generated"] and status["close_status"] == "done"
    assert {g["group"]: (g["vouchers"], g["pending"]) for g in status["groups"]} == {
        "purchase": (3, 0), "production": (6, 0), "subcontract": (2, 0), "close": (3, 0)}  # fmt: skip
    assert [(m["item"], m["customer"]) for m in status["memos"]] == [("SEAT", "CITY")]


def test_generation_is_idempotent_and_a_reversal_corrects(month: str) -> None:
    before = call(month, "get_voucher_status", period=PERIOD)
    assert not before["production_generated"] and before["pending_documents"] == 11
    assert before["close_status"] == "generated"  # the closing would be generated with them
    generate(month)
    with pytest.raises(ToolError) as again:
        call(month, "propose_voucher_generation", period=PERIOD)
    assert again.value.code == "conflict" and again.value.message.startswith(
        "nothing to generate for 2026-11"
    )
    # A late November delivery: the next run vouchers it alone (a purchase touches no WIP: no warning). Of two
    # generations proposed on the same data only the first can be confirmed (the second would double it).
    do(month, "propose_purchase_receipt", WAREHOUSE, purchase_order="PO-S2", lines=[{"item": "SEAT-B", "qty": 3}],
       receipt_date="2026-11-28")  # fmt: skip
    late = call(month, "propose_voucher_generation", period=PERIOD)
    twin = call(month, "propose_voucher_generation", period=PERIOD)
    assert [(v["voucher"], v["summary"], v["debit_total"]) for v in late["vouchers"]] == [
        ("记-2026-11-0015", "采购入库 RN-00005(PO-S2)", 36)]  # 3 × 12  # fmt: skip
    assert (late["skipped"], late["warnings"]) == (30, [])  # the month's 30 other moves are left alone
    confirm_as(month, late["proposal_id"], PLANNER)
    with pytest.raises(ToolError) as stale:
        confirm_as(month, twin["proposal_id"], PLANNER)
    assert stale.value.code == "conflict" and stale.value.details["stale"]
    with open_context(month) as ctx:
        assert len(ctx.session.exec(select(Voucher)).all()) == 15

    # The seats of RN-00002 were booked at the wrong price: reverse the voucher (red ink, same date) …
    with pytest.raises(ToolError) as forbidden:
        confirm_as(month, call(month, "propose_voucher_reversal", voucher="记-2026-11-0003",
                                  reason="单价有误")["proposal_id"], WAREHOUSE)  # fmt: skip
    assert forbidden.value.code == "forbidden"
    out = call(month, "propose_voucher_reversal", voucher="记-2026-11-0003", reason="单价有误")
    assert out["reversal"]["voucher"] == "记-2026-11-0016" and out["reversal_date"] == "2026-11-03"
    assert [(ln["account"], ln["debit"], ln["credit"]) for ln in out["reversal"]["lines"]] == [
        ("1403", -50, 0), ("2202.02", 0, -50)]  # fmt: skip
    confirm_as(month, out["proposal_id"], PLANNER)
    original = call(month, "get_voucher", voucher="记-2026-11-0003")
    reversal = call(month, "get_voucher", voucher="记-2026-11-0016")
    assert (original["status"], original["reversed_by"]) == ("reversed", "记-2026-11-0016")
    assert (reversal["kind"], reversal["reversal_of"], reversal["summary"]) == (
        "reversal", "记-2026-11-0003", "冲销 记-2026-11-0003:单价有误")  # fmt: skip
    assert reversal["debit_total"] == reversal["credit_total"] == -50
    # … and the receipt is due again: the next generation vouchers it anew; nothing else.
    redo = generate(month)
    assert [(v["voucher"], v["summary"], v["debit_total"]) for v in redo["vouchers"]] == [
        ("记-2026-11-0017", "采购入库 RN-00002(PO-S1)", 50)]  # fmt: skip
    for code, reason in (("记-2026-11-0003", "again"), ("记-2026-11-0016", "undo")):
        with pytest.raises(ToolError) as refused:
            call(month, "propose_voucher_reversal", voucher=code, reason=reason)
        assert refused.value.code == "conflict"


def test_the_database_refuses_an_unbalanced_voucher(month: str) -> None:
    with pytest.raises(sa.exc.IntegrityError), open_context(month) as ctx:
        ctx.session.add(Voucher(code="记-2026-11-9999", number=9999, period=PERIOD, voucher_date=date(2026, 11, 30),
                                debit_total=D(1), credit_total=D(2)))  # fmt: skip
        ctx.session.flush()


# ---------------------------------------------------------------- exports


STANDARD_HEADER = [
    "date", "period", "voucher_no", "word", "number", "line_no", "account", "account_name", "debit", "credit",
    "summary", "cost_center", "work_center", "item", "supplier", "customer", "production_order", "doc_type",
    "doc_ref", "stock_move_ids", "voucher_status", "voucher_kind", "event",
]  # fmt: skip
PRESET_HEADER = [
    "凭证日期", "凭证字", "凭证号", "分录号", "摘要", "科目编码", "科目名称", "借方金额", "贷方金额", "部门", "项目",
    "存货", "供应商", "客户", "辅助核算", "制单人", "业务单据",
]  # fmt: skip


def export(url: str, tmp_path: Path, fmt: str, *extra: str) -> Path:
    target = tmp_path / f"v-{fmt}.{'csv' if fmt == 'csv' else 'xlsx'}"
    result = CliRunner().invoke(vouchers_cli, ["export", PERIOD, "--format", fmt, "--out", str(target),
                                               "--db", url, *extra])  # fmt: skip
    assert result.exit_code == 0, result.output
    return target


def test_export_files_match_the_documented_layout(month: str, tmp_path: Path) -> None:
    generate(month)
    lines = sum(len(lines) for _, _, lines in EXPECTED.values())
    assert lines == 61

    with export(month, tmp_path, "csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == STANDARD_HEADER and len(rows) == 1 + lines
    first = dict(zip(STANDARD_HEADER, rows[1], strict=True))
    assert first == {
        "date": "2026-11-02", "period": "2026-11", "voucher_no": "记-2026-11-0001", "word": "记", "number": "1",
        "line_no": "1", "account": "1403", "account_name": "原材料", "debit": "500.00", "credit": "0.00",
        "summary": "采购入库 PO-F1 FRAME", "cost_center": "", "work_center": "", "item": "FRAME", "supplier": "",
        "customer": "", "production_order": "", "doc_type": "purchase_order", "doc_ref": "PO-F1",
        "stock_move_ids": str(move_ids(month, "PO-F1")[0]), "voucher_status": "draft", "voucher_kind": "document",
        "event": "purchase_receipt",
    }  # fmt: skip
    assert sum(D(r[8]) for r in rows[1:]) == sum(D(r[9]) for r in rows[1:]) == D("6976.73")

    book = load_workbook(export(month, tmp_path, "xlsx"))
    sheet = book["vouchers"]
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == STANDARD_HEADER and len(values) == 1 + lines
    assert [c if not hasattr(c, "isoformat") else c.date().isoformat() for c in values[1][:10]] == [
        "2026-11-02", "2026-11", "记-2026-11-0001", "记", 1, 1, "1403", "原材料", 500, 0]  # fmt: skip

    preset = load_workbook(export(month, tmp_path, "preset"))
    assert preset.sheetnames == ["凭证"]
    rows = [
        dict(zip(PRESET_HEADER, r, strict=True)) for r in list(preset["凭证"].iter_rows(values_only=True))[1:]
    ]
    assert list(next(preset["凭证"].iter_rows(values_only=True))) == PRESET_HEADER and len(rows) == lines
    # Only the dimensions each account tracks: 5001.01 部门 + 项目, 1403 存货, 2202.02 供应商.
    issue = [r for r in rows if r["凭证号"] == 10]
    assert [
        (r["科目编码"], r["借方金额"], r["贷方金额"], r["部门"], r["项目"], r["存货"], r["辅助核算"])
        for r in issue[:2] + issue[3:4]
    ] == [
        ("5001.01", 500, 0, "ASM", "MO-B10", None, "部门:ASM;项目:MO-B10"),
        ("5001.01", 470.5, 0, "ASM", "MO-B10", None, "部门:ASM;项目:MO-B10"),
        ("1403", 0, 500, None, None, "FRAME", "存货:FRAME"),
    ]
    assert (issue[0]["凭证日期"].date().isoformat(), issue[0]["凭证字"], issue[0]["摘要"], issue[0]["制单人"],
            issue[0]["业务单据"]) == ("2026-11-15", "记", "生产领料 MO-B10 FRAME", "pat", "MO-B10")  # fmt: skip
    supplier = next(r for r in rows if r["凭证号"] == 1 and r["科目编码"] == "2202.02")
    assert (supplier["供应商"], supplier["辅助核算"], supplier["科目名称"]) == ("FRAMECO", "供应商:FRAMECO",
                                                                                "应付账款-暂估")  # fmt: skip

    # Filters: only posted vouchers (none yet), only lines on an account.
    only = export(month, tmp_path, "csv", "--account", "5101")
    with only.open(encoding="utf-8-sig") as handle:
        assert [(r["voucher_no"], r["credit"]) for r in csv.DictReader(handle)] == [
            ("记-2026-11-0013", "240.00"), ("记-2026-11-0013", "150.00"), ("记-2026-11-0013", "30.00")]  # fmt: skip
    result = CliRunner().invoke(vouchers_cli, ["export", PERIOD, "--format", "pdf", "--db", month])
    assert result.exit_code == 1


# ---------------------------------------------------------------- the round trip with the overhead import


def results(url: str) -> list[tuple[int, str, D, D, D]]:
    with open_context(url) as ctx:
        run = ctx.session.exec(select(CostRun).where(CostRun.status == "current")).one()
        rows = ctx.session.exec(select(CostResult).where(CostResult.run_id == run.id)).all()
        return sorted((r.production_order_id, r.element, D(r.completed), D(r.wip), D(r.transferred_in))
                      for r in rows)  # fmt: skip


def test_round_trip_overhead_lines_back_through_the_gl_import(month: str, tmp_path: Path) -> None:
    first = generate(month)
    before = results(month)
    overhead = next(v for v in first["vouchers"] if v["event"] == "overhead_allocation")["voucher"]
    # The accountant takes the overhead charged to production (生产成本-制造费用) from the exported vouchers …
    with export(month, tmp_path, "csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = [
            r for r in csv.DictReader(handle) if r["voucher_no"] == overhead and r["account"] == "5001.03"
        ]
    assert [(r["cost_center"], r["production_order"], r["debit"]) for r in rows] == [
        ("ASM", "MO-B10", "240.00"), ("WHL", "MO-W20", "150.00"), ("WHL", "RW-1", "30.00")]  # fmt: skip
    lines = tmp_path / "overhead-lines.csv"
    with lines.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    # … and the same lines from the 用友/金蝶 sheet read the same way (科目编码, 借方金额, 贷方金额, 部门).
    preset = load_workbook(export(month, tmp_path, "preset"))["凭证"]
    values = list(preset.iter_rows(values_only=True))
    number = int(overhead.rsplit("-", 1)[1])
    sheet_lines = [values[0]] + [r for r in values[1:] if r[2] == number and r[5] == "5001.03"]
    book = Workbook()
    for r in sheet_lines:
        book.active.append(list(r))
    sheet_file = tmp_path / "overhead-lines.xlsx"
    book.save(sheet_file)

    do(
        month,
        "propose_account_mapping",
        PLANNER,
        mappings=[{"account": "5001.03", "pool": "制造费用", "basis": "labor_hours"}],
    )
    do(month, "propose_period_reopen", MANAGER, period=PERIOD, reason="overhead from the ledger")
    from_sheet = call(month, "propose_overhead_import", period=PERIOD, file=str(sheet_file))
    imported = call(month, "propose_overhead_import", period=PERIOD, file=str(lines))
    for out in (from_sheet, imported):
        assert out["source"] == "ledger"
        assert [(p["name"], p["amount"], p["basis"], p["before"]) for p in out["pools"]] == [
            ("制造费用", 420, "labor_hours", 420)]  # fmt: skip
    confirm_as(month, imported["proposal_id"], PLANNER)
    do(month, "propose_period_close", PLANNER, period=PERIOD)
    assert results(month) == before  # the cost results are unchanged

    # The reopened closing's vouchers are reversed and the new closing's are the same.
    again = generate(month)
    assert [(v["voucher"], v["kind"], v["reversal_of"]) for v in again["vouchers"]] == [
        ("记-2026-11-0015", "reversal", "记-2026-11-0012"),
        ("记-2026-11-0016", "reversal", "记-2026-11-0013"),
        ("记-2026-11-0017", "reversal", "记-2026-11-0014"),
        ("记-2026-11-0018", "close", None),
        ("记-2026-11-0019", "close", None),
        ("记-2026-11-0020", "close", None),
    ]
    for old, new in (("0012", "0018"), ("0013", "0019"), ("0014", "0020")):
        assert voucher_lines(month, f"记-2026-11-{new}") == voucher_lines(month, f"记-2026-11-{old}")


def test_the_offline_assistant_says_whether_the_production_vouchers_are_generated(month: str) -> None:
    from assistant.service import ask

    def answer(question: str) -> str:
        reply = ask(question, backend="offline", db_url=month, thread_id=f"t-{question[:6]}-{len(question)}")
        assert [(c.name, c.args) for c in reply.tool_calls] == [("get_voucher_status", {"period": PERIOD})]
        return reply.answer

    # The dataset's clock is 2026-11-30: this month is November. Issues and receipts: MI ×3, CR ×3; subcontract:
    # SC-1 ×2 (8 production documents); with the purchases, 11 documents; the cost period is closed.
    before = answer("本月生产成本凭证生成了吗？")
    assert before.startswith("2026-11 的生产成本凭证还没有全部生成：单据凭证已生成 0 张，还有 8 张单据待生成")
    assert "待生成的单据共 11 张" in before and "客供料 1 笔只备查、不入账" in before
    generate(month)
    after = answer("have this month's production vouchers been generated?")
    assert after.startswith("Yes: 2026-11's production cost vouchers are all generated — 8 for issues")
    assert "The month has 14 voucher(s) (14 draft, 0 posted)" in after


def test_rules_seeded_exported_to_excel_and_imported_back(db_url: str, tmp_path: Path) -> None:
    load(db_url, month_data())
    seeded = CliRunner().invoke(vouchers_cli, ["seed", "--db", db_url])
    assert seeded.exit_code == 0, seeded.output
    confirm_as(db_url, json.loads(seeded.output)["proposal_id"], PLANNER)
    again = CliRunner().invoke(vouchers_cli, ["seed", "--db", db_url])
    assert again.exit_code == 1 and "the default chart is already in place" in again.output

    path = tmp_path / "rules.xlsx"
    written = CliRunner().invoke(vouchers_cli, ["rules", "--out", str(path), "--db", db_url])
    assert written.output.strip() == f"wrote 19 account(s) and 18 rule(s) to {path}"
    book = load_workbook(path)
    assert book.sheetnames == ["accounts", "rules"]
    rules_sheet = book["rules"]
    header = [c.value for c in rules_sheet[1]]
    assert header == ["role", "event", "item_category", "location_kind", "cost_element", "doc_type", "pool",
                      "account", "account_name", "active", "note"]  # fmt: skip
    # Bought items received on purchase go to a sub-account of 原材料 (named in the rules sheet, so it is added
    # to the chart); GR/IR moves to 在途物资 1402.
    for row in rules_sheet.iter_rows(min_row=2):
        if row[0].value == "gr_ir":
            row[7].value = "1402"
    rules_sheet.append(["inventory", "purchase_receipt", "buy", None, None, None, None, "1403.01", "原材料-外购",
                        True, "外购件"])  # fmt: skip
    book.save(path)
    out = call(db_url, "propose_voucher_account_rules", file=str(path))
    assert [(a["code"], a["name"], a["change"]) for a in out["accounts"] if a["change"] != "unchanged"] == [
        ("1403.01", "原材料-外购", "new")]  # fmt: skip
    assert [
        (r["role"], r["event"], r["item_category"], r["account"], r["change"])
        for r in out["rules"]
        if r["change"] != "unchanged"
    ] == [
        ("gr_ir", "", "", "1402", "changed"),
        ("inventory", "purchase_receipt", "buy", "1403.01", "new"),
    ]
    confirm_as(db_url, out["proposal_id"], PLANNER)
    listed = call(db_url, "list_voucher_account_rules")
    assert len(listed["rules"]) == 19 and listed["events"]["purchase_receipt"] == "采购入库"
    do(db_url, "propose_purchase_receipt", WAREHOUSE, purchase_order="PO-S1", lines=[{"item": "SEAT", "qty": 5}],
       receipt_date="2026-11-03")  # fmt: skip
    preview = call(db_url, "propose_voucher_generation", period=PERIOD)
    (receipt,) = [v for v in preview["vouchers"] if v["event"] == "purchase_receipt"]
    assert [(ln["account"], ln["account_name"], ln["debit"], ln["credit"]) for ln in receipt["lines"]] == [
        ("1403.01", "原材料-外购", 50, 0), ("1402", "在途物资", 0, 50)]  # fmt: skip

    # A bad file is refused whole, each bad row named; a rule on an account outside the chart too.
    bad = tmp_path / "bad.csv"
    bad.write_text("角色,业务,科目编码\nstock,,1403\ninventory,shipping,1405\nwip,,9999\n", encoding="utf-8")
    with pytest.raises(ToolError) as refused:
        call(db_url, "propose_voucher_account_rules", file=str(bad))
    assert refused.value.code == "invalid_input"
    assert [(e["row"], e["field"]) for e in refused.value.details["errors"]] == [(2, "role"), (3, "event")]
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("role,account\nwip,9999\n", encoding="utf-8")
    with pytest.raises(ToolError) as outside:
        call(db_url, "propose_voucher_account_rules", file=str(unknown))
    assert outside.value.message.endswith("wip → 9999: account '9999' is not in the chart of accounts")


def test_the_most_specific_rule_wins() -> None:
    from tools.finance.chart import DEFAULT_RULES
    from tools.finance.rules import AccountRule, RuleQuery, find_rule

    def account(role: str, **keys: Any) -> str | None:
        found = find_rule(DEFAULT_RULES, RuleQuery(role, **keys))
        return found.account if found is not None else None

    # An item's own category beats its source; a location at a subcontractor beats either (key order).
    assert account("inventory", item_categories=("", "buy")) == "1403"
    assert account("inventory", item_categories=("", "make")) == "1405"
    assert account("inventory", item_categories=("周转材料", "make")) == "1411"
    assert account("inventory", item_categories=("", "make"), location_kind="supplier") == "1408.01"
    # A subcontract order's WIP stays with the subcontracted material, whatever the element.
    assert account("wip", cost_element="labor") == "5001.02"
    assert account("wip", cost_element="labor", doc_type="subcontract_order") == "1408.02"
    assert account("cost_of_sales") == "6401" and account("nonsense") is None
    # More matching keys win over fewer.
    rules = (*DEFAULT_RULES, AccountRule("wip", "5001.09", event="material_issue", cost_element="material"))
    found = find_rule(rules, RuleQuery("wip", event="material_issue", cost_element="material"))
    assert found is not None and found.account == "5001.09"
