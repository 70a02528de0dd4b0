"""One-click costing and closing of a period (一键智能核算) on the bike factory: the checks that refuse to close,
a three-level roll-up with a subcontracted part and a rework order, stored results, the lock on a closed
period, reopening by a manager only, and the ending WIP carried into the next month (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from sqlmodel import select

from data_model.stock import post_move
from data_model.tables import AuditLog, CostPeriod, CostResult, CostRun, Item, ProductionOrder
from tests.helpers import BIKE_COSTING_YAML, call, confirm_as, do, load_into
from tests.integration.test_costing_collection import bike_costing_data, inputs, load
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE
from tools.context import Actor, open_context
from tools.errors import ToolError

MANAGER = Actor("max", "manager")


def three_level_data() -> dict[str, Any]:
    """The costing bike factory with a polished rim RIM-P (subcontracted to POL at 1.5 a rim) in the wheel.

    SC-1 polishes 20 RIM; MO-W20 makes 20 WHEEL from RIM-P; RW-1 reworks 2 of its wheels (a new TIRE each);
    MO-B10 builds 10 BIKE on the assembly line ASM (50 an hour). SEAT: 10 in stock at 10.
    """
    data = bike_costing_data()
    data["items"].append({"code": "RIM-P", "name": "抛光轮圈", "source": "subcontract", "unit_cost": 1.5})
    data["boms"].append({"parent": "RIM-P", "lines": [{"component": "RIM", "qty": 1}]})
    for bom in data["boms"]:
        if bom["parent"] == "WHEEL":
            bom["lines"][0]["component"] = "RIM-P"
    data["suppliers"] = [{"code": "POL", "name": "抛光厂", "subcontractor": True}]
    data["stock"] = [row for row in data["stock"] if row["item"] != "SEAT"] + [
        {"item": "SEAT", "qty": 10, "unit_cost": 10}
    ]
    data["work_centers"].append({"code": "ASM", "name": "总装线", "cost_per_hour": 50})
    data["production_orders"] = [
        {"id": "SC-1", "item": "RIM-P", "kind": "subcontract", "supplier": "POL", "qty": 20, "due": "2026-11-05",
         "status": "released", "components": [{"item": "RIM", "required": 20}]},
        {"id": "MO-W20", "item": "WHEEL", "qty": 20, "due": "2026-11-10", "status": "released",
         "components": [{"item": "RIM-P", "required": 20}, {"item": "SPOKE", "required": 734.4},
                        {"item": "TIRE", "required": 20}]},
        {"id": "RW-1", "item": "WHEEL", "kind": "rework", "parent_order": "MO-W20", "qty": 2, "due": "2026-11-12",
         "status": "released", "components": [{"item": "WHEEL", "required": 2}, {"item": "TIRE", "required": 2}]},
        {"id": "MO-B10", "item": "BIKE", "qty": 10, "due": "2026-11-30", "status": "released",
         "components": [{"item": "FRAME", "required": 10}, {"item": "WHEEL", "required": 20},
                        {"item": "SEAT", "required": 10}]},
    ]  # fmt: skip
    return data


def november(url: str, bike_labor: bool = True) -> None:
    """The month's documents; MO-B10's labor only with ``bike_labor``."""
    do(url, "propose_subcontract_shipment", WAREHOUSE, order="SC-1", shipment_date="2026-11-02")
    do(url, "propose_subcontract_receipt", WAREHOUSE, order="SC-1", qty=20, receipt_date="2026-11-05")
    do(
        url,
        "propose_material_issue",
        WAREHOUSE,
        order="MO-W20",
        issue_date="2026-11-06",
        lines=[{"item": "RIM-P", "qty": 20}, {"item": "SPOKE", "qty": 734.4}, {"item": "TIRE", "qty": 20}],
    )
    do(url, "propose_completion_receipt", WAREHOUSE, order="MO-W20", qty=20, receipt_date="2026-11-10")
    do(
        url,
        "propose_material_issue",
        WAREHOUSE,
        order="RW-1",
        issue_date="2026-11-11",
        lines=[{"item": "WHEEL", "qty": 2}, {"item": "TIRE", "qty": 2}],
    )
    do(url, "propose_completion_receipt", WAREHOUSE, order="RW-1", qty=2, receipt_date="2026-11-12")
    do(
        url,
        "propose_material_issue",
        WAREHOUSE,
        order="MO-B10",
        issue_date="2026-11-15",
        lines=[{"item": "FRAME", "qty": 10}, {"item": "WHEEL", "qty": 20}, {"item": "SEAT", "qty": 10}],
    )
    do(url, "propose_completion_receipt", WAREHOUSE, order="MO-B10", qty=8, receipt_date="2026-11-26")
    labor = [
        {"production_order": "MO-W20", "report_date": "2026-11-07", "work_center": "WHL", "hours": 5},
        {"production_order": "RW-1", "report_date": "2026-11-11", "work_center": "WHL", "hours": 1},
    ]
    if bike_labor:
        labor.append(
            {"production_order": "MO-B10", "report_date": "2026-11-20", "work_center": "ASM", "hours": 8}
        )
    do(url, "propose_labor_report", PLANNER, lines=labor)
    do(url, "propose_overhead_pools", PLANNER, period="2026-11", pools=[{"name": "制造费用", "amount": 420}])


def collect(url: str, period: str = "2026-11") -> None:
    do(url, "propose_cost_collection", PLANNER, period=period,
       completion=[{"production_order": "MO-B10", "conversion": 0.5}])  # fmt: skip


@pytest.fixture
def bike(db_url: str) -> str:
    load(db_url, three_level_data())
    return db_url


def problems(out: dict[str, Any]) -> set[tuple[str, str | None, str]]:
    return {(p["code"], p["production_order"], p["severity"]) for p in out["problems"]}


def test_close_is_refused_with_a_clear_list(bike: str) -> None:
    november(bike, bike_labor=False)
    # Nothing collected yet: every order with documents is missing from the period (and the pool has no
    # hours to go by).
    check = call(bike, "check_period_close", period="2026-11")
    assert not check["ok"]
    assert {(c, o) for c, o, s in problems(check) if s == "error"} == {
        ("pool_without_basis", None),
        ("uncollected_order", "SC-1"),
        ("uncollected_order", "MO-W20"),
        ("uncollected_order", "RW-1"),
        ("uncollected_order", "MO-B10"),
    }
    collect(bike)
    check = call(bike, "check_period_close", period="2026-11")
    # MO-B10 has output but no labor hours while overhead goes by labor hours.
    assert ("missing_labor_hours", "MO-B10", "error") in problems(check)
    assert not any(p["code"] == "no_labor_hours" for p in check["problems"])  # the same thing, said once
    with pytest.raises(ToolError) as refused:
        call(bike, "propose_period_close", period="2026-11")
    assert refused.value.code == "conflict"
    assert refused.value.message.startswith("cannot close 2026-11: 1 error(s): MO-B10 has no labor hours")
    assert {p["code"] for p in refused.value.details["problems"]} >= {"missing_labor_hours"}
    # A negative balance in the ledger at the month end is an error too.
    with open_context(bike) as ctx:
        seat = ctx.session.exec(select(Item).where(Item.code == "SEAT-B")).one()
        post_move(ctx.session, item_id=seat.id or 0, qty=D(5), from_code="STOCK", to_code="ADJUSTMENT",
                  move_type="adjustment", move_date=date(2026, 11, 29), allow_negative=True)  # fmt: skip
    check = call(bike, "check_period_close", period="2026-11")
    negative = [p for p in check["problems"] if p["code"] == "negative_stock"]
    assert [(p["item"], p["location"], p["severity"]) for p in negative] == [("SEAT-B", "STOCK", "error")]
    assert negative[0]["message"] == (
        "SEAT-B at STOCK is -2 at the end of 2026-11: post the missing receipts or an adjustment first"
    )  # 3 in stock - 5


def test_three_level_roll_up_close_and_reopen(bike: str) -> None:
    november(bike)
    collect(bike)
    # Collected (hand-checked): SC-1 material 20 RIM × 8.2 = 164 (at the subcontractor), fee 20 × 1.5 = 30.
    # MO-W20: SPOKE 734.4 × 0.21 = 154.224 + TIRE 20 × 6.25 = 125 → 279.224 (RIM-P comes from SC-1 in the
    # roll-up, not at its moving average); RW-1: TIRE 2 × 6.25 = 12.5 (the reworked WHEELs stay MO-W20's).
    assert inputs(bike, "2026-11", "SC-1")["material_cost"] == 164
    assert inputs(bike, "2026-11", "SC-1")["subcontract_cost"] == 30
    assert inputs(bike, "2026-11", "MO-W20")["material_cost"] == D("279.224")
    assert inputs(bike, "2026-11", "RW-1")["material_cost"] == D("12.5")
    assert inputs(bike, "2026-11", "MO-B10")["material_cost"] == 600  # FRAME 10 × 50 + SEAT 10 × 10
    check = call(bike, "check_period_close", period="2026-11")
    assert check["ok"], check["problems"]

    out = call(bike, "propose_period_close", period="2026-11")
    assert out["kind"] == "cost_period_close" and out["orders"] == 4
    # All cost of the month, each counted once: 164 + 30 + 279.224 + 12.5 + 600 + labor (200 + 40 + 400)
    # + overhead 420 = 2,145.724
    assert out["charged"] == pytest.approx(2145.724)
    with pytest.raises(ToolError) as err:
        confirm_as(bike, out["proposal_id"], WAREHOUSE)
    assert err.value.code == "forbidden"
    result = confirm_as(bike, out["proposal_id"], PLANNER)["result"]
    # Overhead 420 over 14 hours = 30 an hour: MO-W20 150, RW-1 30, MO-B10 240.
    # Level 0  SC-1: 164 + 30 = 194 for 20 → 9.7;  RW-1: 12.5 + 40 + 30 = 82.5, to MO-W20's wheels.
    # Level 1  MO-W20: 279.224 + 194 (SC-1) + 200 + 150 + 82.5 (rework) = 905.724 for 20 → 45.2862.
    # Level 2  MO-B10 (8 done, 2 in WIP at material 1.0, conversion 0.5):
    #   material 600 + 905.724 = 1,505.724 / 10 EU = 150.5724 → completed 1,204.5792, WIP 301.1448
    #   conversion 400 + 240 = 640 / 9 EU = 71.111111 → WIP 71.111111, completed 568.888889
    #   → completed 1,773.468089 / 8 = 221.683511; WIP 372.255911
    # (RW-1's own unit cost is the rework per wheel, 82.5 / 2; its cost went to MO-W20.)
    assert result["unit_costs"] == {"SC-1": 9.7, "RW-1": 41.25, "MO-W20": 45.2862, "MO-B10": 221.683511}
    assert result["completed"] == pytest.approx(2145.724 - 372.255911, abs=1e-6)

    report = call(bike, "get_cost_report", production_order="MO-B10")
    assert report["closed"] and report["level"] == 2
    assert (report["transferred_in"], report["material"]) == (905.724, 1204.5792)
    assert (report["labor"], report["overhead"]) == pytest.approx((355.555556, 213.333333), abs=1e-6)
    assert report["wip"]["total"] == pytest.approx(372.255911, abs=1e-6)
    wheel = call(bike, "get_cost_report", production_order="MO-W20")
    assert (wheel["level"], wheel["rework"], wheel["total"]) == (1, 82.5, 905.724)
    run = call(bike, "run_costing", period="2026-11")
    assert [(o["production_order"], o["level"]) for o in run["orders"]] == [
        ("RW-1", 0), ("SC-1", 0), ("MO-W20", 1), ("MO-B10", 2)]  # fmt: skip

    with open_context(bike) as ctx:
        period = ctx.session.exec(select(CostPeriod).where(CostPeriod.code == "2026-11")).one()
        assert period.status == "closed"
        (stored,) = ctx.session.exec(select(CostRun)).all()
        assert (stored.status, stored.closed_by) == ("current", "pat")
        rows = ctx.session.exec(
            select(ProductionOrder.code, CostResult.element, CostResult.completed, CostResult.wip)
            .join(ProductionOrder, ProductionOrder.id == CostResult.production_order_id)
            .where(ProductionOrder.code == "MO-B10")
        ).all()
        # WIP conversion 71.111111 split like the completed one, 400 : 240 → 44.444444 and 26.666667
        got = {e: (round(float(c), 6), round(float(w), 6)) for _, e, c, w in rows}
        assert got == {
            "material": (1204.5792, 301.1448),
            "labor": (355.555556, 44.444444),
            "overhead": (213.333333, 26.666667),
            "other_conversion": (0, 0),
            "subcontract": (0, 0),
            "rework": (0, 0),
        }

    # A closed period refuses collection, overhead and labor dated in it.
    for tool, args in (
        ("propose_cost_collection", {"period": "2026-11"}),
        ("propose_overhead_pools", {"period": "2026-11", "pools": []}),
        ("propose_order_cost_input", {"period": "2026-11", "production_order": "MO-B10", "wip_qty": 3}),
        ("propose_labor_report", {"lines": [{"production_order": "MO-B10", "report_date": "2026-11-30",
                                             "work_center": "ASM", "hours": 1}]}),
        ("propose_period_close", {"period": "2026-11"}),
    ):  # fmt: skip
        with pytest.raises(ToolError) as err:
            call(bike, tool, **args)
        assert err.value.code == "conflict", tool
        assert "closed" in err.value.message

    # Reopening needs a manager (or admin); the stored results are superseded, kept for the record.
    out = call(bike, "propose_period_reopen", period="2026-11", reason="freight invoice came late")
    assert out["closed_by"] == "pat"
    with pytest.raises(ToolError) as err:
        confirm_as(bike, out["proposal_id"], PLANNER)
    assert err.value.code == "forbidden"
    assert confirm_as(bike, out["proposal_id"], MANAGER)["result"]["status"] == "open"
    report = call(bike, "get_cost_report", production_order="MO-B10")
    assert not report["closed"] and report["unit_cost"] == pytest.approx(221.683511, abs=1e-6)
    do(bike, "propose_overhead_pools", PLANNER, period="2026-11", pools=[{"name": "制造费用", "amount": 448}])
    do(bike, "propose_period_close", PLANNER, period="2026-11")
    with open_context(bike) as ctx:
        runs = ctx.session.exec(select(CostRun).order_by(CostRun.id)).all()
        assert [(r.status, r.reopened_by, r.reopen_reason) for r in runs] == [
            ("superseded", "max", "freight invoice came late"),
            ("current", "", ""),
        ]
        logged = [(a.action, a.entity_ref) for a in ctx.session.exec(
            select(AuditLog).where(AuditLog.entity == "cost_period").order_by(AuditLog.id))]  # fmt: skip
        assert logged == [("close", "2026-11"), ("reopen", "2026-11"), ("close", "2026-11")]
    # 448 / 14 h = 32 an hour: MO-B10 now carries 8 × 32 = 256 of overhead.
    report = call(bike, "get_cost_report", production_order="MO-B10")
    assert report["closed"] and report["allocations"][0]["amount"] == 256


def test_ending_wip_is_the_next_months_opening_wip(bike: str) -> None:
    november(bike)
    collect(bike)
    do(bike, "propose_period_close", PLANNER, period="2026-11")
    # December: the last 2 bikes are finished.
    do(
        bike,
        "propose_labor_report",
        PLANNER,
        lines=[{"production_order": "MO-B10", "report_date": "2026-12-02", "work_center": "ASM", "hours": 1}],
    )
    do(bike, "propose_completion_receipt", WAREHOUSE, order="MO-B10", qty=2, receipt_date="2026-12-03")
    out = call(bike, "propose_cost_collection", period="2026-12")
    (b10,) = out["orders"]
    figures = {f["figure"]: (f["after"], f["detail"]) for f in b10["figures"]}
    # November's ending WIP of MO-B10: material 301.1448; conversion 44.444444 + 26.666667 = 71.111111
    assert figures["opening_wip_material"] == (301.1448, "ending WIP of the previous period")
    assert figures["opening_wip_conversion"][0] == pytest.approx(71.111111, abs=1e-6)
    assert (figures["completed_qty"][0], figures["wip_qty"][0], figures["labor_cost"][0]) == (2, 0, 50)


def test_the_contract_example_closes_and_reports_the_same(db_url: str) -> None:
    load_into(db_url, BIKE_COSTING_YAML)
    do(db_url, "propose_period_close", PLANNER, period="2026-11")
    # bike_factory.md: unit cost 28.085106, completed 2,527.66, WIP 232.34 — now from the stored results.
    out = call(db_url, "get_cost_report", production_order="MO-7")
    assert out["closed"] and out["unit_cost"] == pytest.approx(28.085106, abs=1e-6)
    assert out["total"] == pytest.approx(2527.66, abs=0.01) and out["wip"]["total"] == pytest.approx(
        232.34, abs=0.01
    )


def test_collecting_one_order_leaves_what_the_period_makes_to_the_roll_up(bike: str) -> None:
    november(bike)
    out = call(bike, "propose_cost_collection", period="2026-11", orders=["MO-W20"])
    (w20,) = out["orders"]
    figures = {f["figure"]: f["after"] for f in w20["figures"]}
    # SC-1 is not collected yet, but it makes RIM-P in the period: the rims are not charged at their moving
    # average (20 × 9.7 = 194) but left to the roll-up, which charges SC-1's actual cost.
    assert figures["material_cost"] == 279.224
    assert (
        "RIM-P is made by an order of the period: charged at its actual cost by the roll-up "
        "(not at 194 moving average)"
    ) in w20["notes"]
    with pytest.raises(ToolError) as err:
        call(bike, "propose_cost_collection", period="2026-11", orders=["MO-404"])
    assert err.value.code == "not_found" and err.value.details["field"] == "orders"
