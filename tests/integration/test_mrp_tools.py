"""run_mrp and analyze_shortages through the tool layer: the bike acceptance case and the shop, worked by hand."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import call
from tools.errors import ToolError


def table(out: dict[str, Any]) -> list[tuple]:
    return [(s["item"], s["action"], s["qty"], s["release_date"], s["due_date"]) for s in out["suggestions"]]


# ---------------------------------------------------------------- run_mrp


def test_run_mrp_bike_factory_acceptance(bike_url: str) -> None:
    out = call(bike_url, "run_mrp")
    # bike_factory.md: BIKE 12 - 2 = 10; WHEEL 20 - 4 = 16; SEAT 10 - 4 = 6; RIM 16 - 6 = 10;
    # SPOKE 16 x 36 x 1.02 = 587.52 - 300 = 287.52 -> minimum 500; FRAME and TIRE need nothing.
    # Earliest release first: RIM 12-10, SEAT and SPOKE 12-11, WHEEL 12-13, BIKE 12-14.
    assert table(out) == [
        ("RIM", "buy", 10, "2026-12-10", "2026-12-13"),
        ("SEAT", "buy", 6, "2026-12-11", "2026-12-14"),
        ("SPOKE", "buy", 500, "2026-12-11", "2026-12-13"),
        ("WHEEL", "make", 16, "2026-12-13", "2026-12-14"),
        ("BIKE", "make", 10, "2026-12-14", "2026-12-15"),
    ]
    assert (out["today"], out["horizon_days"], out["horizon_end"]) == ("2026-12-01", 90, "2027-03-01")
    assert (out["total_suggestions"], out["truncated"], out["exceptions"]) == (5, False, [])
    spoke = out["suggestions"][2]
    assert (spoke["net_qty"], spoke["name"], spoke["uom"], spoke["late"]) == (287.52, "辐条", "pcs", False)
    assert spoke["pegging"] == [
        {"demand": "PL-WHEEL-1", "kind": "planned", "item": "WHEEL", "qty": 287.52, "due": "2026-12-13"}
    ]
    bike = out["suggestions"][4]
    assert bike["pegging"] == [
        {"demand": "SO-100/1", "kind": "sales", "item": "BIKE", "qty": 10, "due": "2026-12-15"}
    ]


def test_run_mrp_for_one_item_and_with_a_limit(bike_url: str) -> None:
    spoke = call(bike_url, "run_mrp", item="SPOKE")
    assert table(spoke) == [("SPOKE", "buy", 500, "2026-12-11", "2026-12-13")]
    assert spoke["item"] == "SPOKE" and spoke["total_suggestions"] == 1
    first_two = call(bike_url, "run_mrp", limit=2)
    assert [s["item"] for s in first_two["suggestions"]] == ["RIM", "SEAT"]
    assert (first_two["total_suggestions"], first_two["truncated"]) == (5, True)


def test_run_mrp_short_horizon_and_late_release(bike_url: str) -> None:
    # a 10-day horizon ends 12-11: the sales order due 12-15 is outside it
    assert call(bike_url, "run_mrp", horizon_days=10)["suggestions"] == []
    # seen from 12-12, BIKE's components are late: WHEEL due 12-14 is released 12-13 (still in time);
    # RIM due 12-13 needed 3 days earlier (12-10) -> released today 12-12, ready 12-15 at the earliest
    from datetime import date

    out = call(bike_url, "run_mrp", today=date(2026, 12, 12))
    rim = next(s for s in out["suggestions"] if s["item"] == "RIM")
    assert (rim["release_date"], rim["due_date"], rim["late"]) == ("2026-12-12", "2026-12-13", True)
    late = [e for e in out["exceptions"] if e["kind"] == "late"]
    assert {e["item"] for e in late} == {"RIM", "SEAT", "SPOKE"}
    rim_late = next(e for e in late if e["item"] == "RIM")
    assert (rim_late["ref"], rim_late["suggested_date"], rim_late["demands"]) == (
        "PL-RIM-1",
        "2026-12-15",
        ["PL-WHEEL-1"],
    )
    assert out["exception_counts"] == {"late": 3}


def test_run_mrp_errors(bike_url: str) -> None:
    with pytest.raises(ToolError) as err:
        call(bike_url, "run_mrp", item="NOPE")
    assert err.value.code == "not_found"
    with pytest.raises(ToolError) as err:
        call(bike_url, "run_mrp", horizon_days=0)
    assert err.value.code == "invalid_input"


def test_run_mrp_on_the_shop(shop_url: str) -> None:
    out = call(shop_url, "run_mrp")
    # DESK-A: SO-2 5 (Sat 12-12) from MO-2; SO-1 50 (Sun 12-20) -> make 50, 2 working days back: Thu 12-17
    # TOP-A: MO-2 needs 5 on Mon 12-07 from MO-1's 10; 12-17: 50 - 5 left = 45, released Wed 12-16
    # LEG: 30 on hand -> SO-1/2 6 (12-03) + MO-2 20 (12-07), 4 left; 12-17 needs 200:
    #      4 + 8 in QC + PO-2/2 10 + PO-1 40 = 62 -> 138 short -> multiple of 50 -> 150 (min 100, max 200),
    #      5 working days before Thu 12-17 -> Thu 12-10
    # BOARD: MO-1 still needs 6 on Fri 12-04: 5 on hand + 1 of PO-2/1 (15 open); 12-16: 45 - 14 = 31, 3 days -> 12-11
    # SCREW: MO-2's 80 on 12-07 and 50 x 16 = 800 on 12-17 (no lead time)
    assert table(out) == [
        ("SCREW", "buy", 80, "2026-12-07", "2026-12-07"),
        ("LEG", "buy", 150, "2026-12-10", "2026-12-17"),
        ("BOARD", "buy", 31, "2026-12-11", "2026-12-16"),
        ("TOP-A", "make", 45, "2026-12-16", "2026-12-17"),
        ("DESK-A", "make", 50, "2026-12-17", "2026-12-20"),
        ("SCREW", "buy", 800, "2026-12-17", "2026-12-17"),
    ]
    leg = out["suggestions"][1]
    assert (leg["net_qty"], leg["pegging"][0]["demand"], leg["pegging"][0]["qty"]) == (
        138,
        "PL-DESK-A-1",
        138,
    )
    # open supply arriving before it is needed; the 8 LEG in inspection are not rescheduled
    assert sorted((e["kind"], e["ref"], e["date"], e["suggested_date"]) for e in out["exceptions"]) == [
        ("reschedule_out", "MO-2", "2026-12-09", "2026-12-12"),
        ("reschedule_out", "PO-1", "2026-12-10", "2026-12-17"),
        ("reschedule_out", "PO-2/2", "2026-12-08", "2026-12-17"),
    ]


# ---------------------------------------------------------------- analyze_shortages


def component(out: dict[str, Any], item: str) -> dict[str, Any]:
    return next(c for c in out["components"] if c["item"] == item)


def test_analyze_shortages_of_the_bike_sales_order(bike_url: str) -> None:
    out = call(bike_url, "analyze_shortages", sales_order="SO-100")
    # 12 bikes, 2 in stock, nothing on order: 10 short, none covered
    (bike,) = out["shortages"]
    assert (bike["item"], bike["required"], bike["available"], bike["short"], bike["uncovered"]) == (
        "BIKE",
        12,
        2,
        10,
        10,
    )
    assert (bike["expected_receipts"], bike["covered_date"], out["ready_date"]) == ([], None, None)
    assert (out["kind"], out["need_date"], out["status"]) == ("sales", "2026-12-15", "confirmed")


def test_analyze_shortages_of_a_production_order(shop_url: str) -> None:
    out = call(shop_url, "analyze_shortages", production_order="MO-2")
    assert (out["item"], out["status"], out["need_date"]) == ("DESK-A", "planned", "2026-12-07")
    leg, top, screw = component(out, "LEG"), component(out, "TOP-A"), component(out, "SCREW")
    # LEG: 30 on hand, SO-1/2 (priority 1) holds its 6 -> 24 free for the 20 needed
    assert (leg["on_hand"], leg["allocated_to_others"], leg["available"], leg["short"]) == (30, 6, 20, 0)
    assert leg["allocations"] == [{"demand": "SO-1/2", "qty": 6, "priority": 1, "due": "2026-12-03"}]
    # TOP-A: none in stock; MO-1 brings 10 on 12-05, before MO-2 starts on 12-07
    assert (top["short"], top["uncovered"], top["covered_date"]) == (5, 0, "2026-12-05")
    assert top["expected_receipts"] == [
        {"supply": "MO-1", "kind": "production", "qty": 5, "due": "2026-12-05", "late": False}
    ]
    # SCREW: 80 needed, none in stock or on order
    assert (screw["short"], screw["uncovered"], screw["covered_date"]) == (80, 80, None)
    assert [c["item"] for c in out["shortages"]] == ["TOP-A", "SCREW"]
    assert out["ready_date"] is None


def test_analyze_shortages_counts_what_was_issued(shop_url: str) -> None:
    out = call(shop_url, "analyze_shortages", production_order="MO-1")
    (board,) = out["components"]
    # 10 required, 4 issued -> 6 to issue; 5 in stock; PO-2 (15 open) brings 1 on 12-04, the day MO-1 starts
    assert (board["required"], board["issued"], board["remaining"], board["available"], board["short"]) == (
        10,
        4,
        6,
        5,
        1,
    )
    assert [(r["supply"], r["qty"], r["late"]) for r in board["expected_receipts"]] == [("PO-2", 1, False)]
    assert out["ready_date"] == "2026-12-04"


def test_analyze_shortages_of_a_sales_order_by_priority(shop_url: str) -> None:
    out = call(shop_url, "analyze_shortages", sales_order="SO-1")
    desk, leg = component(out, "DESK-A"), component(out, "LEG")
    # SO-1 has priority 1: MO-2's 5 desks go to it before SO-2; 50 - 5 = 45 not on order
    assert (desk["short"], desk["uncovered"]) == (50, 45)
    assert [(r["supply"], r["qty"]) for r in desk["expected_receipts"]] == [("MO-2", 5)]
    # LEG line: 8 ordered, 2 shipped -> 6, from 30 in stock
    assert (leg["issued"], leg["remaining"], leg["short"]) == (2, 6, 0)


def test_analyze_shortages_errors(shop_url: str) -> None:
    cases = [
        ({"production_order": "MO-9"}, "not_found"),
        ({"sales_order": "SO-9"}, "not_found"),
        ({"production_order": "MO-0"}, "conflict"),  # completed
        ({"sales_order": "SO-3"}, "conflict"),  # done
        ({}, "invalid_input"),
        ({"production_order": "MO-1", "sales_order": "SO-1"}, "invalid_input"),
    ]
    for args, code in cases:
        with pytest.raises(ToolError) as err:
            call(shop_url, "analyze_shortages", **args)
        assert err.value.code == code, args
