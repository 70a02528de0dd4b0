"""Cost collection on the bike factory: material issues at moving-average cost, labor reports, receipts, WIP,
hand-entered figures kept, customer-supplied material at zero, subcontract fees; overhead from a CSV of
voucher lines through account mappings, from the dataset's pool sheet, and by hand (SQLite and PostgreSQL)."""

from __future__ import annotations

import copy
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlmodel import select

from data_model.tables import (
    AuditLog,
    CostFigureSource,
    CostPeriod,
    OrderCostInput,
    OverheadPool,
    ProductionOrder,
)
from tests.helpers import bike_factory_data, call, confirm_as, do, load_data
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE
from tools.context import Actor, open_context
from tools.errors import ToolError

SALES = Actor("sam", "sales")
NOV_30 = date(2026, 11, 30)


# The bike factory with stock bought at two prices, so moving averages are not the list prices:
#   RIM   50 @ 8    + 50 @ 8.4   = 820 / 100  → 8.2
#   SPOKE 3,000 @ 0.2 + 1,000 @ 0.24 = 840 / 4,000 → 0.21
#   TIRE  60 @ 6    + 60 @ 6.5   = 750 / 120  → 6.25
# a wheel line WHL at 40 an hour (no routing, so WHEEL's BOM standard stays 21.344) and MO-100, 100 wheels.
def bike_costing_data() -> dict[str, Any]:
    data = bike_factory_data()
    data["today"] = "2026-11-30"
    data["stock"] = [row for row in data["stock"] if row["item"] not in ("RIM", "SPOKE", "TIRE")] + [
        {"item": "RIM", "qty": 50, "unit_cost": 8},
        {"item": "RIM", "qty": 50, "unit_cost": 8.4},
        {"item": "SPOKE", "qty": 3000, "unit_cost": 0.2},
        {"item": "SPOKE", "qty": 1000, "unit_cost": 0.24},
        {"item": "TIRE", "qty": 60, "unit_cost": 6},
        {"item": "TIRE", "qty": 60, "unit_cost": 6.5},
    ]
    data["work_centers"] = [{"code": "WHL", "name": "车轮线", "cost_per_hour": 40}]
    data["production_orders"] = [
        {
            "id": "MO-100",
            "item": "WHEEL",
            "qty": 100,
            "start": "2026-11-02",
            "due": "2026-11-30",
            "status": "released",
            "components": [
                {"item": "RIM", "required": 100},
                {"item": "SPOKE", "required": 3672},
                {"item": "TIRE", "required": 100},
            ],
        }
    ]
    return data


def load(url: str, data: dict[str, Any]) -> None:
    load_data(url, copy.deepcopy(data), source="bike-costing")


def inputs(url: str, period: str, order: str) -> dict[str, D]:
    with open_context(url) as ctx:
        row = ctx.session.exec(
            select(OrderCostInput)
            .join(CostPeriod, CostPeriod.id == OrderCostInput.period_id)
            .join(ProductionOrder, ProductionOrder.id == OrderCostInput.production_order_id)
            .where(CostPeriod.code == period, ProductionOrder.code == order)
        ).one()
        return {
            k: D(str(v)).normalize()
            for k, v in row.model_dump().items()
            if k not in ("id", "period_id", "production_order_id")
        }


def sources(url: str, order: str) -> dict[str, str]:
    with open_context(url) as ctx:
        mo = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == order)).one()
        rows = ctx.session.exec(select(CostFigureSource).where(CostFigureSource.production_order_id == mo.id))
        return {r.figure: r.source for r in rows}


def run_wheel_documents(url: str) -> None:
    """November on MO-100: issues, a return, a supplement, labor, 90 received; a December labor report."""
    do(
        url,
        "propose_material_issue",
        WAREHOUSE,
        order="MO-100",
        issue_date="2026-11-03",
        lines=[{"item": "RIM", "qty": 100}, {"item": "SPOKE", "qty": 3672}, {"item": "TIRE", "qty": 100}],
    )
    do(
        url,
        "propose_material_return",
        WAREHOUSE,
        order="MO-100",
        return_date="2026-11-20",
        reason="surplus",
        lines=[{"item": "TIRE", "qty": 2}],
    )
    do(
        url,
        "propose_supplementary_issue",
        PLANNER,
        order="MO-100",
        issue_date="2026-11-21",
        reason="3 spokes bent",
        lines=[{"item": "SPOKE", "qty": 3}],
    )
    do(
        url,
        "propose_labor_report",
        PLANNER,
        lines=[
            {"production_order": "MO-100", "report_date": "2026-11-10", "work_center": "WHL", "hours": 6},
            {
                "production_order": "MO-100",
                "report_date": "2026-11-15",
                "employee_group": "装配班",
                "hours": 4,
                "rate": 35,
            },
            {
                "production_order": "MO-100",
                "report_date": "2026-11-28",
                "employee_group": "质检",
                "labor_cost": 20,
            },
        ],
    )
    do(url, "propose_completion_receipt", WAREHOUSE, order="MO-100", qty=90, receipt_date="2026-11-25")
    do(
        url,
        "propose_labor_report",
        PLANNER,
        lines=[{"production_order": "MO-100", "report_date": "2026-12-02", "work_center": "WHL", "hours": 2}],
    )


@pytest.fixture
def bike(db_url: str) -> str:
    load(db_url, bike_costing_data())
    return db_url


def test_collection_from_issues_labor_and_receipts(bike: str) -> None:
    run_wheel_documents(bike)
    out = call(
        bike,
        "propose_cost_collection",
        period="2026-11",
        completion=[{"production_order": "MO-100", "conversion": 0.4}],
    )
    assert out["kind"] == "cost_collection" and out["status"] == "pending"
    assert out["summary_en"] == "Collect costs of 2026-11: 1 order(s), 1 changed (MO-100)."
    (wheel,) = out["orders"]
    assert wheel["new"] and wheel["item"] == "WHEEL"
    figures = {f["figure"]: (f["after"], f["source"]) for f in wheel["figures"]}
    # Material at the moving averages on the moves:
    #   RIM 100 × 8.2 = 820; SPOKE 3,672 × 0.21 = 771.12; TIRE 100 × 6.25 = 625   → 2,216.12
    #   less the return of 2 TIRE at the order's 6.25 = 12.50; plus the supplement 3 SPOKE × 0.21 = 0.63
    #   → 2,216.12 - 12.50 + 0.63 = 2,204.25
    # Labor: 6 h × 40 (WHL's cost per hour) = 240; 4 h × 35 = 140; 20 entered as a cost → 400 over 10 hours
    # (the December report of 2 h is not November's).
    # 90 received of 100 released → 10 in WIP; conversion 0.4 given, material 1.0 by default.
    assert figures == {
        "completed_qty": (90, "collected"),
        "wip_qty": (10, "collected"),
        "wip_completion_material": (1, "default"),
        "wip_completion_conversion": (0.4, "manual"),
        "opening_wip_material": (0, "collected"),
        "opening_wip_conversion": (0, "collected"),
        "material_cost": (2204.25, "collected"),
        "labor_cost": (400, "collected"),
        "labor_hours": (10, "collected"),
        "subcontract_cost": (0, "collected"),
    }
    with open_context(bike) as ctx:  # nothing is written before confirmation
        assert ctx.session.exec(select(OrderCostInput)).all() == []
    assert confirm_as(bike, out["proposal_id"], PLANNER)["status"] == "confirmed"
    assert inputs(bike, "2026-11", "MO-100") == {
        "completed_qty": 90,
        "wip_qty": 10,
        "wip_completion_material": 1,
        "wip_completion_conversion": D("0.4"),
        "opening_wip_material": 0,
        "opening_wip_conversion": 0,
        "material_cost": D("2204.25"),
        "labor_cost": 400,
        "labor_hours": 10,
        "subcontract_cost": 0,
    }
    assert sources(bike, "MO-100")["material_cost"] == "collected"
    assert sources(bike, "MO-100")["wip_completion_conversion"] == "manual"

    # With overhead of 300 by labor hours MO-100 is costed like MO-7 of bike_costing.yaml:
    #   material 2,204.25 / (90 + 10 × 1.0) = 22.0425 a unit; conversion (400 + 300) / (90 + 10 × 0.4) = 7.446809
    #   → unit cost 29.489309; completed 90 × 22.0425 = 1,983.825 + 700 × 90 / 94 = 670.212766 → 2,654.037766
    do(bike, "propose_overhead_pools", PLANNER, period="2026-11", pools=[{"name": "制造费用", "amount": 300}])
    report = call(bike, "get_cost_report", production_order="MO-100")
    assert report["period"] == "2026-11" and not report["closed"]
    assert report["unit_cost"] == pytest.approx(29.489309, abs=1e-6)
    assert report["total"] == pytest.approx(2654.037766, abs=1e-6)
    assert report["wip"]["total"] == pytest.approx(2204.25 + 700 - 2654.037766, abs=1e-6)


def test_hand_entered_figures_are_kept_unless_asked(bike: str) -> None:
    run_wheel_documents(bike)
    do(bike, "propose_cost_collection", PLANNER, period="2026-11")
    # Default WIP conversion completion: 0.5 (the setting's default).
    assert inputs(bike, "2026-11", "MO-100")["wip_completion_conversion"] == D("0.5")
    do(
        bike,
        "propose_order_cost_input",
        PLANNER,
        period="2026-11",
        production_order="MO-100",
        material_cost=2300,
        wip_completion_conversion=0.6,
    )
    assert sources(bike, "MO-100")["material_cost"] == "manual"
    # More labor, then a new collection: labor follows the documents, the hand-entered figures stay.
    do(
        bike,
        "propose_labor_report",
        PLANNER,
        lines=[{"production_order": "MO-100", "report_date": "2026-11-29", "work_center": "WHL", "hours": 1}],
    )
    out = call(bike, "propose_cost_collection", period="2026-11")
    actions = {f["figure"]: (f["before"], f["after"], f["action"]) for f in out["orders"][0]["figures"]}
    assert actions["material_cost"] == (2300, 2300, "kept_manual")
    assert actions["wip_completion_conversion"] == (0.6, 0.6, "kept_manual")
    assert actions["labor_cost"] == (400, 440, "set")  # + 1 h × 40
    assert actions["labor_hours"] == (10, 11, "set")
    assert actions["completed_qty"] == (90, 90, "unchanged")
    assert out["summary_en"] == (
        "Collect costs of 2026-11: 1 order(s), 1 changed (MO-100); 2 hand-entered figure(s) kept."
    )
    confirm_as(bike, out["proposal_id"], PLANNER)
    got = inputs(bike, "2026-11", "MO-100")
    assert (got["material_cost"], got["labor_cost"], got["wip_completion_conversion"]) == (
        2300,
        440,
        D("0.6"),
    )
    # Asked to overwrite: the documents win again, and the figure is collected from then on.
    do(bike, "propose_cost_collection", PLANNER, period="2026-11", overwrite_manual=True)
    got = inputs(bike, "2026-11", "MO-100")
    assert (got["material_cost"], got["wip_completion_conversion"]) == (D("2204.25"), D("0.5"))
    assert sources(bike, "MO-100")["material_cost"] == "collected"
    # A figure can also be handed back to collection by itself.
    do(bike, "propose_order_cost_input", PLANNER, period="2026-11", production_order="MO-100", labor_hours=12)
    do(
        bike,
        "propose_order_cost_input",
        PLANNER,
        period="2026-11",
        production_order="MO-100",
        release=["labor_hours"],
    )
    assert sources(bike, "MO-100")["labor_hours"] == "collected"
    do(bike, "propose_cost_collection", PLANNER, period="2026-11")
    assert inputs(bike, "2026-11", "MO-100")["labor_hours"] == 11
    with open_context(bike) as ctx:
        actions_logged = {(r.action, r.entity) for r in ctx.session.exec(select(AuditLog))}
    assert {("collect", "order_cost_input"), ("enter", "order_cost_input")} <= actions_logged


def test_labor_report_rules(bike: str) -> None:
    with pytest.raises(ToolError) as err:
        call(bike, "propose_labor_report", lines=[{"production_order": "MO-100", "hours": 2}])
    assert err.value.code == "invalid_input" and err.value.details["field"] == "lines.0.work_center"
    with pytest.raises(ToolError) as err:
        call(
            bike,
            "propose_labor_report",
            lines=[{"production_order": "MO-100", "employee_group": "装配班", "hours": 2}],
        )
    assert err.value.details["field"] == "lines.0.rate"  # no work center, so no rate to default to
    with pytest.raises(ToolError) as err:
        call(
            bike,
            "propose_labor_report",
            lines=[{"production_order": "MO-404", "work_center": "WHL", "hours": 1}],
        )
    assert err.value.code == "not_found" and err.value.details["field"] == "lines.0.production_order"
    out = call(
        bike,
        "propose_labor_report",
        lines=[
            {"production_order": "MO-100", "report_date": "2026-11-10", "work_center": "WHL", "hours": 2.5}
        ],
    )
    assert out["lines"][0]["rate"] == 40 and out["labor_cost"] == 100  # 2.5 h × 40
    with pytest.raises(ToolError) as err:
        confirm_as(bike, out["proposal_id"], SALES)
    assert err.value.code == "forbidden"
    confirm_as(bike, out["proposal_id"], PLANNER)
    listed = call(bike, "list_labor_reports", production_order="MO-100", period="2026-11")
    assert [(r["code"], r["hours"], r["labor_cost"]) for r in listed["reports"]] == [("LR-00001", 2.5, 100)]


def test_customer_supplied_material_and_subcontract_fees(db_url: str) -> None:
    data = bike_costing_data()
    # SO-100 (城市单车) sends its own SEATs; MO-B12 builds its 12 bikes. RIM-P is a rim polished by POL at a
    # fee of 1.5 a rim (SC-P1, 20 rims of RIM).
    data["customers"] = [{"code": "CITY", "name": "城市单车"}]
    data["sales_orders"][0]["customer"] = "CITY"
    data["items"].append({"code": "RIM-P", "name": "抛光轮圈", "source": "subcontract", "unit_cost": 1.5})
    data["boms"].append({"parent": "RIM-P", "lines": [{"component": "RIM", "qty": 1}]})
    data["suppliers"] = [{"code": "POL", "name": "抛光厂", "subcontractor": True}]
    data["production_orders"] += [
        {
            "id": "MO-B12",
            "item": "BIKE",
            "qty": 12,
            "due": "2026-11-30",
            "status": "released",
            "sales_order": "SO-100/1",
            "components": [
                {"item": "FRAME", "required": 12},
                {"item": "WHEEL", "required": 24},
                {"item": "SEAT", "required": 12},
            ],
        },
        {
            "id": "SC-P1",
            "item": "RIM-P",
            "kind": "subcontract",
            "supplier": "POL",
            "qty": 20,
            "due": "2026-11-20",
            "status": "released",
            "components": [{"item": "RIM", "required": 20}],
        },
    ]
    load(db_url, data)
    do(
        db_url,
        "propose_customer_material_receipt",
        WAREHOUSE,
        customer="CITY",
        receipt_date="2026-11-05",
        lines=[{"item": "SEAT", "qty": 12}],
    )
    do(
        db_url,
        "propose_customer_material_consumption",
        WAREHOUSE,
        customer="CITY",
        production_order="MO-B12",
        issue_date="2026-11-06",
        lines=[{"item": "SEAT", "qty": 12}],
    )
    do(
        db_url,
        "propose_material_issue",
        WAREHOUSE,
        order="MO-B12",
        issue_date="2026-11-06",
        lines=[{"item": "FRAME", "qty": 10}],
    )
    do(db_url, "propose_subcontract_shipment", WAREHOUSE, order="SC-P1", shipment_date="2026-11-08")
    do(
        db_url,
        "propose_subcontract_receipt",
        WAREHOUSE,
        order="SC-P1",
        qty=18,
        receipt_date="2026-11-18",
        scrap=[{"item": "RIM", "qty": 1, "reason": "cracked"}],
    )
    out = call(db_url, "propose_cost_collection", period="2026-11")
    orders = {o["production_order"]: o for o in out["orders"]}
    bike = {f["figure"]: f["after"] for f in orders["MO-B12"]["figures"]}
    # 10 FRAME × 50 (our own); the 12 SEATs are the customer's: no value. Nothing received: 12 in WIP.
    assert (bike["material_cost"], bike["completed_qty"], bike["wip_qty"]) == (500, 0, 12)
    assert "customer-supplied material 12 used at no cost" in orders["MO-B12"]["notes"]
    polish = {f["figure"]: f["after"] for f in orders["SC-P1"]["figures"]}
    # 18 rims consumed + 1 scrapped at the subcontractor, 19 × 8.2 = 155.8; fee 18 × 1.5 = 27; no WIP of its own.
    assert (polish["material_cost"], polish["subcontract_cost"]) == (155.8, 27)
    assert (polish["completed_qty"], polish["wip_qty"]) == (18, 0)


# ---------------------------------------------------------------- overhead


VOUCHERS_CSV = """科目,成本中心,金额,期间
5101.01,WHL,1200.00,2026-11
5101.01,WHL,-200,2026-11
5101.02,WHL,350.5,2026/11
5101.02,PNT,99.5,202611
6602.01,,800,2026-11
"""


def test_overhead_from_ledger_vouchers_through_account_mappings(bike: str, tmp_path: Path) -> None:
    # 5101.01 (depreciation) goes to 折旧 by output; everything else under 5101 to 制造费用 by labor hours,
    # except cost center PNT's, which is 涂装费用; 6602 (admin) is mapped, by prefix, to 管理费用 by material.
    mapping = do(
        bike,
        "propose_account_mapping",
        PLANNER,
        mappings=[
            {"account": "5101", "match_type": "prefix", "pool": "制造费用"},
            {"account": "5101.01", "pool": "折旧", "basis": "output_qty"},
            {"account": "5101", "match_type": "prefix", "cost_center": "PNT", "pool": "涂装费用"},
            {"account": "6602", "match_type": "prefix", "pool": "管理费用", "basis": "material_cost"},
        ],
    )["result"]
    assert len(mapping["mappings"]) == 4
    path = tmp_path / "vouchers.csv"
    path.write_text(VOUCHERS_CSV, encoding="utf-8")
    out = call(bike, "propose_overhead_import", period="2026-11", file=str(path))
    # 折旧 1,200 - 200 = 1,000 (rows 2, 3); 制造费用 350.5 (row 4); 涂装费用 99.5 (row 5); 管理费用 800 (row 6)
    assert [(p["name"], p["amount"], p["basis"], p["rows"]) for p in out["pools"]] == [
        ("折旧", 1000, "output_qty", [2, 3]),
        ("制造费用", 350.5, "labor_hours", [4]),
        ("涂装费用", 99.5, "labor_hours", [5]),
        ("管理费用", 800, "material_cost", [6]),
    ]
    assert out["source"] == "ledger" and out["total"] == 2250
    confirm_as(bike, out["proposal_id"], PLANNER)
    with open_context(bike) as ctx:
        pools = {p.name: (D(p.amount).normalize(), p.basis) for p in ctx.session.exec(select(OverheadPool))}
    assert pools == {
        "折旧": (1000, "output_qty"),
        "制造费用": (D("350.5"), "labor_hours"),
        "涂装费用": (D("99.5"), "labor_hours"),
        "管理费用": (800, "material_cost"),
    }


def test_bad_voucher_lines_are_named_and_nothing_is_imported(bike: str, tmp_path: Path) -> None:
    do(
        bike,
        "propose_account_mapping",
        PLANNER,
        mappings=[{"account": "5101", "match_type": "prefix", "pool": "制造费用"}],
    )
    path = tmp_path / "bad.csv"
    path.write_text(
        "account,cost_center,amount,period\n5101.01,,100,2026-11\n6601,,50,2026-11\n5101.02,,12a,2026-11\n"
        "5101.03,,10,2026-10\n,,5,2026-11\n",
        encoding="utf-8",
    )
    with pytest.raises(ToolError) as err:
        call(bike, "propose_overhead_import", period="2026-11", file=str(path))
    assert err.value.code == "invalid_input"
    # Every bad line at once, by row: 6601 is not mapped, 12a is no amount, a line of October, no account.
    assert err.value.message == (
        "overhead import refused, nothing written: 4 problem(s); row 3, field account: account 6601 is not "
        "mapped to an overhead pool: add an account mapping (propose_account_mapping)"
    )
    assert [(e["row"], e["field"]) for e in err.value.details["errors"]] == [
        (3, "account"),
        (4, "amount"),
        (5, "period"),
        (6, "account"),
    ]
    with open_context(bike) as ctx:
        assert ctx.session.exec(select(OverheadPool)).all() == []


def test_overhead_from_the_dataset_pool_sheet_and_by_hand(bike: str, tmp_path: Path) -> None:
    book = Workbook()
    sheet = book.active
    sheet.title = "costing_overhead_pools"
    sheet.append(["period", "name", "amount", "basis"])
    sheet.append(["2026-10", "制造费用", 999, "labor_hours"])  # another month: skipped
    sheet.append(["2026-11", "制造费用", 300, "labor_hours"])
    sheet.append(["2026-11", "物料管理费", 120.5, "material_cost"])
    path = tmp_path / "pools.xlsx"
    book.save(path)
    out = call(bike, "propose_overhead_import", period="2026-11", file=str(path))
    assert out["source"] == "pools"
    assert [(p["name"], p["amount"], p["basis"], p["rows"]) for p in out["pools"]] == [
        ("制造费用", 300, "labor_hours", [3]),
        ("物料管理费", 120.5, "material_cost", [4]),
    ]
    confirm_as(bike, out["proposal_id"], PLANNER)
    # merge: 物料管理费 replaced, 制造费用 kept; replace: only what is given remains.
    do(
        bike,
        "propose_overhead_pools",
        PLANNER,
        period="2026-11",
        mode="merge",
        pools=[{"name": "物料管理费", "amount": 100, "basis": "material_cost"}],
    )
    period = call(bike, "get_cost_period", period="2026-11")
    assert [(p["name"], p["amount"]) for p in period["pools"]] == [("制造费用", 300), ("物料管理费", 100)]
    out = call(bike, "propose_overhead_pools", period="2026-11", pools=[{"name": "制造费用", "amount": 280}])
    assert out["removed"] == ["物料管理费"] and out["pools"][0]["before"] == 300
    confirm_as(bike, out["proposal_id"], PLANNER)
    period = call(bike, "get_cost_period", period="2026-11")
    assert [(p["name"], p["amount"]) for p in period["pools"]] == [("制造费用", 280)]
    with pytest.raises(ToolError) as err:
        call(bike, "propose_overhead_pools", period="2026-13", pools=[])
    assert err.value.code == "invalid_input" and err.value.details["field"] == "period"
