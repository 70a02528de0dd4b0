"""Order progress tracking: sales order full flow, production and subcontract tracking, warnings, exports.

Figures are worked by hand from the datasets (arithmetic in the comments). The bike factory
(/work/shared/acceptance/bike_factory.yaml) has every day working, today 2026-12-01: BIKE = FRAME 1 +
WHEEL 2 + SEAT 1 (lead 1); WHEEL = RIM 1 + SPOKE 36 (+2 % scrap) + TIRE 1 (lead 1); FRAME buy lead 5,
SEAT buy 3, RIM 3, SPOKE 2, TIRE 4. Stock BIKE 2, WHEEL 4, FRAME 10, SEAT 4. SO-100: 12 BIKE due 12-15.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.model import Demand, DemandKind, Supply, SupplyKind
from planning.shortages import ComponentRequirement, OrderKind, OrderRequirements, analyze_shortages
from tests.helpers import call, do, load_data, release_new_production_order
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE
from tools.context import open_context
from tools.registry import call_tool
from tools.reports.export import read_back, rows_as_text, run_report, write_table
from tools.reports.pegging import PegDemand, peg_item

D = Decimal


def _line(out: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(ln for ln in out["lines"] if ln["line"] == ref)


def _kinds(risks: list[dict[str, Any]]) -> set[tuple[str, str, str | None]]:
    return {(r["kind"], r["record"], r["item"]) for r in risks}


def so100_in_production(url: str) -> str:
    """SO-100's order through the propose tools: made to order, released, part issued, 2 bikes received."""
    code = release_new_production_order(url, PLANNER, sales_orders=["SO-100"])
    do(
        url,
        "propose_material_issue",
        WAREHOUSE,
        order=code,
        lines=[{"item": "FRAME", "qty": 10}, {"item": "WHEEL", "qty": 4}],
    )
    do(url, "propose_completion_receipt", WAREHOUSE, order=code, qty=2)
    return code


# ---------------------------------------------------------------- sales order full flow (bike)


def test_so100_tracking_follows_its_production_order(bike_url: str) -> None:
    code = so100_in_production(bike_url)
    out = call(bike_url, "get_sales_order_tracking", sales_order="SO-100")
    assert (out["total"], out["at_risk"]) == (1, 0)
    ln = _line(out, "SO-100/1")
    assert (ln["qty"], ln["shipped_qty"], ln["open_qty"]) == (12, 0, 12)
    assert (ln["requested_date"], ln["promised_date"], ln["owed_date"]) == ("2026-12-15", None, "2026-12-15")
    # the 2 bikes received on its order wait in stock for it; the order's other 10 are in progress
    assert (ln["ready_qty"], ln["in_production_qty"], ln["planned_qty"], ln["uncovered_qty"]) == (2, 10, 0, 0)
    assert ln["stage"] == "in_production"
    [mo] = ln["production_orders"]
    assert (mo["code"], mo["status"], mo["qty"], mo["completed_qty"], mo["open_qty"]) == (
        code,
        "in_progress",
        12,
        2,
        10,
    )
    # issued/required: FRAME 10/12, WHEEL 4/24, SEAT 0/12 -> (0.833333 + 0.166667 + 0) / 3 = 0.333333
    assert mo["issue_progress"] == pytest.approx(0.333333)
    # received 2 of 12 = 0.166667
    assert mo["receipt_progress"] == pytest.approx(0.166667)
    comps = {c["item"]: c for c in mo["components"]}
    assert {k: (c["required"], c["issued"], c["remaining"]) for k, c in comps.items()} == {
        "FRAME": (12, 10, 2),
        "WHEEL": (24, 4, 20),
        "SEAT": (12, 0, 12),
    }
    # SEAT: 4 in stock go to it, 8 are not ordered yet; FRAME 10 - 10 issued = 0 left, WHEEL 4 - 4 = 0
    assert (comps["SEAT"]["from_stock"], comps["SEAT"]["uncovered"]) == (4, 8)
    assert (comps["FRAME"]["uncovered"], comps["WHEEL"]["uncovered"]) == (2, 20)
    # nothing ordered yet, but with time: FRAME from scratch takes 5 days (12-06), WHEEL 1 + max(RIM 3,
    # SPOKE 2, TIRE 4) = 5 days (12-06), SEAT 3 (12-04), all before the start 12-14 (due 12-15 - 1 day):
    # on plan, finish on the due date, and the line with it
    assert {c["ready_date"] for c in comps.values()} == {"2026-12-14"}
    assert (mo["start_date"], mo["due_date"], mo["projected_finish"], mo["late"]) == (
        "2026-12-14",
        "2026-12-15",
        "2026-12-15",
        False,
    )
    assert (ln["projected_date"], ln["days_late"], ln["at_risk"], ln["risks"]) == ("2026-12-15", 0, False, [])


def test_so100_after_its_date_is_overdue_with_its_order(bike_url: str) -> None:
    code = so100_in_production(bike_url)
    out = call(bike_url, "get_sales_order_tracking", today=date(2026, 12, 17), sales_order="SO-100")
    ln = _line(out, "SO-100/1")
    # owed 12-15, 12 still open on 12-17; its order was due 12-15 with 10 open
    assert ln["at_risk"] is True
    assert _kinds(ln["risks"]) >= {("overdue", "SO-100/1", "BIKE"), ("linked_order_overdue", code, "BIKE")}
    overdue = next(r for r in ln["risks"] if r["kind"] == "overdue")
    assert (overdue["qty"], overdue["date"]) == (12, "2026-12-15")
    linked = next(r for r in ln["risks"] if r["kind"] == "linked_order_overdue")
    assert (linked["qty"], linked["date"], linked["via"]) == (10, "2026-12-15", [])
    # on 12-17 FRAME from scratch is 12-22 (5 days), later than the start it was needed on: the order
    # finishes 1 day after its material, 12-23, and the line with it: 12-23 - 12-15 = 8 days late
    assert ln["projected_date"] == "2026-12-23"
    assert ln["days_late"] == 8


def test_production_order_tracking_of_so100_order(bike_url: str) -> None:
    code = so100_in_production(bike_url)
    out = call(bike_url, "get_production_order_tracking", production_order=code)
    [mo] = out["orders"]
    assert (mo["status"], mo["completed_qty"], mo["qty"], mo["sales_order_line"]) == (
        "in_progress",
        2,
        12,
        "SO-100/1",
    )
    assert (mo["planned_finish"], mo["projected_finish"], mo["late"], mo["days_late"]) == (
        "2026-12-15",
        "2026-12-15",
        False,
        0,
    )
    assert mo["operations_recorded"] is False
    assert "not recorded" in out["note"]
    assert mo["in_inspection_qty"] == 0


def test_unknown_sales_order_is_not_found(bike_url: str) -> None:
    from tools.errors import ToolError

    with pytest.raises(ToolError) as err:
        call(bike_url, "get_sales_order_tracking", sales_order="SO-999")
    assert err.value.code == "not_found"


# ---------------------------------------------------------------- a small plant: late purchase, warnings

# 2026-12-01 is a Tuesday; Monday to Friday.
CHAIRS = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: CHAIR, name: 椅子, source: make, lead_time_days: 2}
  - {code: LEGSET, name: 椅腿, source: buy, lead_time_days: 5, unit_cost: 10}
  - {code: SEATP, name: 座板, source: buy, lead_time_days: 3, unit_cost: 20}
customers: [{code: ACME, name: Acme}]
suppliers: [{code: S1, name: Supplier One}]
boms:
  - parent: CHAIR
    lines: [{component: LEGSET, qty: 1}, {component: SEATP, qty: 1}]
stock:
  - {item: LEGSET, qty: 5}
  - {item: SEATP, qty: 30}
purchase_orders:
  - {id: PO-A, supplier: S1, item: LEGSET, qty: 20, due: 2026-12-10}
  - {id: PO-B, supplier: S1, item: SEATP, qty: 10, due: 2026-11-27}
production_orders:
  - {id: MO-A, item: CHAIR, qty: 20, due: 2026-12-08, status: released, sales_order: SO-A/1}
sales_orders:
  - {id: SO-A, customer: ACME, lines: [{item: CHAIR, qty: 20, due: 2026-12-09}]}
"""


@pytest.fixture
def chairs_url(db_url: str) -> str:
    load_data(db_url, yaml.safe_load(CHAIRS), source="chairs")
    return db_url


def test_late_purchase_makes_the_order_and_its_sales_line_late(chairs_url: str) -> None:
    # MO-A needs 20 LEGSET on its start, 12-08 less 2 working days = Fri 12-04: 5 from stock, 15 from PO-A
    # on 12-10, late; it then needs its 2 days: Thu 12-10 + 2 working days = Mon 12-14
    out = call(chairs_url, "get_production_order_tracking", production_order="MO-A")
    [mo] = out["orders"]
    assert (mo["need_date"], mo["material_ready_date"], mo["projected_finish"]) == (
        "2026-12-04",
        "2026-12-10",
        "2026-12-14",
    )
    assert (mo["late"], mo["days_late"]) == (True, 6)  # 12-14 - 12-08
    legs = next(c for c in mo["components"] if c["item"] == "LEGSET")
    assert (legs["remaining"], legs["from_stock"], legs["incoming"], legs["uncovered"]) == (20, 5, 15, 0)
    [supply] = [s for s in mo["pegged_supply"] if s["item"] == "LEGSET"]
    assert (supply["supply"], supply["qty"], supply["needed"], supply["projected"], supply["late"]) == (
        "PO-A",
        15,
        "2026-12-04",
        "2026-12-10",
        True,
    )
    assert _kinds(mo["risks"]) == {("projected_late", "MO-A", "CHAIR"), ("late_supply", "PO-A", "LEGSET")}
    out = call(chairs_url, "get_sales_order_tracking", sales_order="SO-A")
    ln = _line(out, "SO-A/1")
    # made to order: the whole line waits for MO-A, owed 12-09, projected 12-14: 5 days late
    assert (ln["projected_date"], ln["days_late"], ln["stage"]) == ("2026-12-14", 5, "waiting_for_material")
    assert [p["supply"] for p in ln["purchases"]] == ["PO-A"]
    assert ln["purchases"][0]["for_record"] == "MO-A"
    late = next(r for r in ln["risks"] if r["kind"] == "late_supply")
    assert (late["record"], late["via"]) == ("PO-A", ["MO-A"])
    assert _kinds(ln["risks"]) == {("projected_late", "SO-A/1", "CHAIR"), ("late_supply", "PO-A", "LEGSET")}


def test_warnings_of_the_chair_plant(chairs_url: str) -> None:
    out = call(chairs_url, "get_warnings", days=7)
    by_kind = {w["kind"]: w for w in out["warnings"]}
    assert out["counts"] == {
        "purchase_overdue": 1,
        "sales_projected_late": 1,
        "purchase_late_for_need": 1,
        "production_due_soon": 1,
    }
    # PO-B was due 11-27: 4 days overdue, 10 SEATP not received
    po_b = by_kind["purchase_overdue"]
    assert (po_b["record"], po_b["qty"], po_b["date"], po_b["days"], po_b["severity"]) == (
        "PO-B",
        10,
        "2026-11-27",
        4,
        "high",
    )
    # PO-A is due 12-10 but MO-A needs 15 of it on 12-04: 6 days late for its need
    po_a = by_kind["purchase_late_for_need"]
    assert (
        po_a["record"],
        po_a["records"],
        po_a["qty"],
        po_a["date"],
        po_a["projected_date"],
        po_a["days"],
    ) == (
        "PO-A",
        ["PO-A", "MO-A"],
        15,
        "2026-12-04",
        "2026-12-10",
        6,
    )
    so = by_kind["sales_projected_late"]
    assert (so["record"], so["date"], so["projected_date"], so["days"]) == (
        "SO-A/1",
        "2026-12-09",
        "2026-12-14",
        5,
    )
    assert "PO-A" in so["records"] and "MO-A" in so["records"]
    # MO-A is due 12-08, within 7 days (7 days away), 0 of 20 done
    soon = by_kind["production_due_soon"]
    assert (soon["record"], soon["days"], soon["qty"], soon["severity"]) == ("MO-A", 7, 20, "low")
    # most severe first
    assert [w["severity"] for w in out["warnings"]] == ["high", "high", "medium", "low"]
    # with a 6-day look-ahead MO-A is not due soon any more
    assert "production_due_soon" not in call(chairs_url, "get_warnings", days=6)["counts"]


# ---------------------------------------------------------------- the demo factory's orders at risk


def test_demo_orders_at_risk_are_flagged_with_their_reasons(demo_url: str) -> None:
    out = call(demo_url, "get_sales_order_tracking", at_risk_only=True)
    flagged = {ln["line"] for ln in out["lines"]}
    assert {"SO-1006/1", "SO-1009/1", "SO-1020/1", "SO-1008/1"} <= flagged
    # SO-1006: 40 - 25 shipped = 15 standing desks owed since 11-25
    so1006 = _line(out, "SO-1006/1")
    overdue = next(r for r in so1006["risks"] if r["kind"] == "overdue")
    assert (overdue["qty"], overdue["date"]) == (15, "2026-11-25")
    # SO-1009: its lift frames need 40 x 2 = 80 lifting columns: 4 in stock, 60 on PO-2611-01 (overdue since
    # 11-26), 80 - 4 - 60 = 16 covered by nothing, on MO-2612-02, which feeds MO-2612-01, made for the line
    so1009 = _line(out, "SO-1009/1")
    assert ("supply_overdue", "PO-2611-01", "LIFT-COL") in _kinds(so1009["risks"])
    short = next(r for r in so1009["risks"] if r["kind"] == "uncovered_shortage" and r["item"] == "LIFT-COL")
    assert (short["record"], short["qty"], short["via"]) == ("MO-2612-02", 16, ["MO-2612-01"])
    assert "PO-2611-01" in {p["supply"] for p in so1009["purchases"]}
    # SO-1020: MO-2612-05 needs coated frames from its start 11-30; SC-2612-01 brings them 12-04; and
    # 100 - 25 in stock - 70 still to make on MO-2612-05 = 5 desks nothing covers
    so1020 = _line(out, "SO-1020/1")
    late = next(r for r in so1020["risks"] if r["kind"] == "late_supply")
    assert (late["record"], late["item"], late["via"]) == ("SC-2612-01", "FRAME-D1200", ["MO-2612-05"])
    assert (so1020["ready_qty"], so1020["in_production_qty"], so1020["uncovered_qty"]) == (25, 70, 5)
    assert [o["code"] for o in so1020["production_orders"]] == ["MO-2612-05"]
    # SO-1008: the coating order SC-2612-02 needs 60 welded shells: 10 in stock + 40 still to weld on
    # MO-2612-07 leave 60 - 10 - 40 = 10 uncovered; it feeds MO-2612-06, made for the line
    so1008 = _line(out, "SO-1008/1")
    shells = next(
        r for r in so1008["risks"] if r["kind"] == "uncovered_shortage" and r["record"] == "SC-2612-02"
    )
    assert (shells["item"], shells["qty"], shells["via"]) == ("CAB-SHELL-W", 10, ["MO-2612-06"])
    assert so1008["projected_date"] > so1008["owed_date"]


def test_one_order_and_every_order_agree(demo_url: str) -> None:
    every = call(demo_url, "get_sales_order_tracking", limit=1000)
    for ref in ("SO-1006/1", "SO-1008/1", "SO-1009/1", "SO-1020/1", "SO-1014/2"):
        one = call(demo_url, "get_sales_order_tracking", sales_order=ref.split("/")[0])
        assert _line(one, ref) == _line(every, ref)


def test_subcontract_tracking_of_the_demo(demo_url: str) -> None:
    out = call(demo_url, "get_subcontract_tracking", subcontract_order="SC-2612-01")
    [sc] = out["orders"]
    # 120 welded frames sent; 40 coated frames received used 40; 120 - 40 = 80 still at the coater
    [m] = sc["materials"]
    assert (m["item"], m["sent"], m["consumed"], m["supplier_scrap"], m["at_supplier"]) == (
        "FRAME-W1200",
        120,
        40,
        0,
        80,
    )
    assert (sc["received_qty"], sc["open_qty"], sc["due_date"], sc["overdue"]) == (
        40,
        80,
        "2026-12-04",
        False,
    )
    out = call(demo_url, "get_subcontract_tracking", supplier="S-LIANGLI")
    [late] = out["orders"]
    # SC-2611-03 was due 11-27: 4 days late on 12-01
    assert (late["code"], late["overdue"], late["days_late"]) == ("SC-2611-03", True, 4)


# ---------------------------------------------------------------- exports


def test_excel_and_csv_exports_hold_the_same_rows(bike_url: str, tmp_path: Path) -> None:
    so100_in_production(bike_url)
    with open_context(bike_url) as ctx:
        table = run_report(ctx, "sales-order-tracking")
    xlsx, csv_file = tmp_path / "t.xlsx", tmp_path / "t.csv"
    write_table(table, xlsx, "xlsx")
    write_table(table, csv_file, "csv")
    expected = rows_as_text(table)
    assert read_back(xlsx) == expected
    assert read_back(csv_file) == expected
    header, row = expected
    assert header[0] == "销售订单 Sales order"
    cells = dict(zip(header, row, strict=True))
    assert (cells["销售订单 Sales order"], cells["未发 Open"], cells["预计完成 Projected"]) == (
        "SO-100",
        "12",
        "2026-12-15",
    )
    assert cells["生产单 Production orders"].startswith("MO-00001 in_progress 2/12")


def test_report_command_writes_the_file(bike_url: str, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from cli.reports import app

    main = typer.Typer()
    main.add_typer(app, name="report")

    @main.command()
    def other() -> None:
        """A second command, so that `report` is a sub-command as in orderpilot."""

    target = tmp_path / "w.csv"
    result = CliRunner().invoke(
        main,
        [
            "report",
            "warnings",
            "--format",
            "csv",
            "--out",
            str(target),
            "--db",
            bike_url,
            "--args",
            '{"days": 30}',
        ],
    )
    assert result.exit_code == 0, result.output
    rows = read_back(target)
    assert rows[0][0] == "级别 Severity"
    result = CliRunner().invoke(main, ["report", "nope", "--db", bike_url])
    assert result.exit_code == 1


# ---------------------------------------------------------------- pegging in one pass = shortage analysis


@settings(max_examples=60, deadline=None)
@given(
    stock=st.integers(0, 30),
    supplies=st.lists(st.tuples(st.integers(1, 20), st.integers(-5, 20)), max_size=4),
    demands=st.lists(
        st.tuples(st.integers(1, 20), st.integers(0, 20), st.integers(1, 3)), min_size=1, max_size=6
    ),
)
def test_one_pass_pegging_agrees_with_shortage_analysis(
    stock: int, supplies: list[tuple[int, int]], demands: list[tuple[int, int, int]]
) -> None:
    today = date(2026, 12, 1)
    day = lambda n: date.fromordinal(today.toordinal() + n)  # noqa: E731
    sup = [Supply(f"PO-{i}", "X", D(q), day(d), SupplyKind.PURCHASE) for i, (q, d) in enumerate(supplies)]
    dem = [Demand(f"SO-{i}/1", "X", D(q), day(d), DemandKind.SALES, p) for i, (q, d, p) in enumerate(demands)]
    pegged = peg_item("X", D(stock), sup, [PegDemand(d.id, d.qty, d.due, d.priority) for d in dem])
    for d in dem:
        req = OrderRequirements(
            d.id,
            OrderKind.SALES,
            d.due,
            (ComponentRequirement("X", d.qty, D(0), d.due),),
            d.priority,
            frozenset({d.id}),
        )
        [c] = analyze_shortages(req, {"X": D(stock)}, sup, dem, today).components
        mine = pegged.by_demand[d.id]
        assert (mine.from_stock, mine.uncovered) == (c.available, c.uncovered)
        assert [(r.supply.id, r.qty, r.late) for r in mine.receipts] == [
            (r.supply, r.qty, r.late) for r in c.expected_receipts
        ]


def test_ledger_balances_equal_on_hand(demo_url: str) -> None:
    from data_model.stock import on_hand
    from tools.reports.flow import FlowStore

    with open_context(demo_url) as ctx:
        store = FlowStore(ctx.session, ctx.today)
        stock, qc = store._ledger_balances()
        assert stock == on_hand(ctx.session)
        assert qc == on_hand(ctx.session, kinds=("inspection",))
        assert qc  # the demo has gas lifts and fabric in inspection


def test_capacity_check_adds_promisings_estimate(demo_url: str) -> None:
    plain = call(demo_url, "get_sales_order_tracking", sales_order="SO-1020")
    assert _line(plain, "SO-1020/1")["capacity_checked_date"] is None
    checked = call(demo_url, "get_sales_order_tracking", sales_order="SO-1020", capacity_check=True)
    estimate = call(demo_url, "estimate_delivery_date", sales_order="SO-1020")
    assert _line(checked, "SO-1020/1")["capacity_checked_date"] == estimate["lines"][0]["estimated_date"]
    from tools.errors import ToolError

    with pytest.raises(ToolError) as err:
        call(demo_url, "get_sales_order_tracking", capacity_check=True)
    assert err.value.code == "invalid_input"


def test_stock_reserved_by_a_promise_stays_with_its_line(bike_url: str) -> None:
    from tools.context import SYSTEM_ACTOR
    from tools.dataset_io import load_dataset
    from tools.proposals import confirm

    with open_context(bike_url) as ctx:
        prop = call_tool(ctx, "propose_order_promise", {"sales_order": "SO-100"})
    with open_context(bike_url) as ctx:
        confirm(ctx.session, prop["proposal_id"], SYSTEM_ACTOR)
    # a more important order for 2 bikes comes in after the promise
    rush = {
        "sales_orders": [
            {
                "id": "SO-101",
                "customer": "城市单车",
                "priority": 1,
                "lines": [{"item": "BIKE", "qty": 2, "due": "2026-12-05"}],
            }
        ]
    }
    with open_context(bike_url) as ctx:
        load_dataset(ctx.session, rush, reset=False, source="rush")
    out = call(bike_url, "get_sales_order_tracking")
    so100, so101 = _line(out, "SO-100/1"), _line(out, "SO-101/1")
    # the promise reserved the 2 bikes in stock for SO-100: they stay with it although SO-101 ranks first
    assert (so100["stock_reserved"], so100["ready_qty"]) == (2, 2)
    assert {"item": "BIKE", "qty": 2, "supply": "stock"} in so100["reservations"]
    assert (so101["ready_qty"], so101["uncovered_qty"]) == (0, 2)
