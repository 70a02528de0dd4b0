"""Slow-moving stock and material usage variance on the bike factory, worked by hand (SQLite and PostgreSQL).

Bike factory: opening stock loaded on its today, 2026-12-01, valued at the items' costs, made items at their
BOM roll-up: WHEEL = RIM 8 + SPOKE 36 x 1.02 x 0.2 (7.344) + TIRE 6 = 21.344; BIKE = FRAME 50 + 2 WHEEL
(42.688) + SEAT 10 = 102.688. Stock: BIKE 2, WHEEL 4, FRAME 10, RIM 6, SPOKE 300, TIRE 20, SEAT 4, SEAT-B 3.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.helpers import call, confirm_as, do, release_new_production_order
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE
from tools.context import open_context
from tools.registry import call_tool


def propose_on(url: str, today: date, tool: str, **args: Any) -> dict[str, Any]:
    with open_context(url, clock=lambda: today) as ctx:
        return call_tool(ctx, tool, args)


def released_order(url: str, **order: Any) -> str:
    if order:
        return release_new_production_order(url, PLANNER, items=[order])
    return release_new_production_order(url, PLANNER, sales_orders=["SO-100"])


# ---------------------------------------------------------------- slow-moving stock


def test_slow_moving_stock_with_a_fixed_clock(bike_url: str) -> None:
    code = released_order(bike_url)  # SO-100: 12 BIKE, needs FRAME 12, WHEEL 24, SEAT 12
    # 3 frames are issued on 2027-01-10: FRAME moved then, everything else last moved on 2026-12-01
    prop = propose_on(
        bike_url, date(2027, 1, 10), "propose_material_issue", order=code, lines=[{"item": "FRAME", "qty": 3}]
    )
    confirm_as(bike_url, prop["proposal_id"], WAREHOUSE)

    out = call(bike_url, "get_slow_moving_stock", today=date(2027, 3, 15), days=90)
    # cutoff 2027-03-15 - 90 days = 2026-12-15: FRAME (moved 01-10) is not slow, the rest is
    assert out["cutoff"] == "2026-12-15"
    rows = {r["item"]: r for r in out["items"]}
    assert list(rows) == ["BIKE", "TIRE", "WHEEL", "SPOKE", "RIM", "SEAT", "SEAT-B"]  # highest value first
    assert {k: (r["qty"], r["unit_cost"], r["value"]) for k, r in rows.items()} == {
        "BIKE": (2, 102.688, 205.376),  # 2 x 102.688
        "TIRE": (20, 6, 120),
        "WHEEL": (4, 21.344, 85.376),  # 4 x 21.344
        "SPOKE": (300, 0.2, 60),
        "RIM": (6, 8, 48),
        "SEAT": (4, 10, 40),
        "SEAT-B": (3, 12, 36),
    }
    # 205.376 + 120 + 85.376 + 60 + 48 + 40 + 36
    assert out["total_value"] == pytest.approx(594.752)
    # 2026-12-01 to 2027-03-15: to Jan 1 31 days, to Feb 1 31, to Mar 1 28, to Mar 15 14: 104 days
    assert {r["last_move_date"] for r in rows.values()} == {"2026-12-01"}
    assert {r["days_idle"] for r in rows.values()} == {104}
    assert rows["BIKE"]["last_move_type"] == "adjustment"  # the opening balance
    # where used, multi-level; SEAT-B is only a substitute of SEAT in the bike
    assert (rows["RIM"]["used_in"], rows["RIM"]["top_items"]) == (["WHEEL", "BIKE"], ["BIKE"])
    assert (rows["BIKE"]["used_in"], rows["SEAT-B"]["used_in"], rows["SEAT-B"]["substitute_in"]) == (
        [],
        [],
        ["BIKE"],
    )
    # still wanted: SO-100 12 BIKE; the order's components: WHEEL 24, SEAT 12
    assert (
        rows["BIKE"]["open_demand_qty"],
        rows["WHEEL"]["open_demand_qty"],
        rows["SEAT"]["open_demand_qty"],
    ) == (
        12,
        24,
        12,
    )

    # 60 days: cutoff 2027-01-14, so the frames issued on 01-10 are slow too: 10 - 3 = 7 at 50 = 350,
    # idle from 01-10: 31 (to 02-10) + 28 (to 03-10) + 5 = 64 days
    later = {
        r["item"]: r
        for r in call(bike_url, "get_slow_moving_stock", today=date(2027, 3, 15), days=60)["items"]
    }
    assert (later["FRAME"]["qty"], later["FRAME"]["value"], later["FRAME"]["days_idle"]) == (7, 350, 64)
    assert later["FRAME"]["last_move_type"] == "issue"
    # on the day of the load nothing has been idle for 90 days
    assert call(bike_url, "get_slow_moving_stock", days=90)["total"] == 0


# ---------------------------------------------------------------- material usage variance


def test_usage_variance_after_an_over_issue_with_a_reason(bike_url: str) -> None:
    # 2 bikes to stock: FRAME 2, WHEEL 4, SEAT 2
    code = released_order(bike_url, item="BIKE", qty=2, due_date="2026-12-10")
    do(
        bike_url,
        "propose_material_issue",
        WAREHOUSE,
        order=code,
        lines=[{"item": "FRAME", "qty": 2}, {"item": "WHEEL", "qty": 4}, {"item": "SEAT", "qty": 2}],
    )
    # one more frame than required: an over-issue, with its reason, approved by a planner
    do(
        bike_url,
        "propose_material_issue",
        PLANNER,
        order=code,
        lines=[{"item": "FRAME", "qty": 1}],
        reason="frame scratched, replaced",
    )
    # a seat goes back and another comes out: net 2 seats, as required
    do(
        bike_url,
        "propose_material_return",
        WAREHOUSE,
        order=code,
        lines=[{"item": "SEAT", "qty": 1}],
        reason="seat damaged in handling",
    )
    do(bike_url, "propose_material_issue", WAREHOUSE, order=code, lines=[{"item": "SEAT", "qty": 1}])
    do(bike_url, "propose_completion_receipt", WAREHOUSE, order=code, qty=2)

    out = call(bike_url, "get_material_usage_variance", production_order=code)
    [order] = out["orders"]
    assert (order["status"], order["completed_qty"], order["in_process_qty"], order["issues_recorded"]) == (
        "completed",
        2,
        0,
        True,
    )
    lines = {ln["item"]: ln for ln in order["lines"]}
    # FRAME: standard 1 per bike x 2 = 2, actual 2 + 1 = 3, variance +1 (50 %), at 50: +50
    frame = lines["FRAME"]
    assert (frame["per_unit"], frame["standard_qty"], frame["actual_qty"], frame["variance_qty"]) == (
        1,
        2,
        3,
        1,
    )
    assert (frame["variance_pct"], frame["unit_cost"], frame["standard_value"], frame["actual_value"]) == (
        50,
        50,
        100,
        150,
    )
    assert frame["variance_value"] == 50
    [why] = frame["reasons"]
    assert (why["qty"], why["over_issue"], why["reason"]) == (1, True, "frame scratched, replaced")
    # WHEEL: 2 x 2 = 4 issued, no variance, at the moving average 21.344: 4 x 21.344 = 85.376
    wheel = lines["WHEEL"]
    assert (wheel["standard_qty"], wheel["actual_qty"], wheel["variance_qty"], wheel["actual_value"]) == (
        4,
        4,
        0,
        85.376,
    )
    assert wheel["reasons"] == []
    # SEAT: 2 + 1 - 1 = 2 net of the return: no variance; the return and its reason are listed
    seat = lines["SEAT"]
    assert (seat["standard_qty"], seat["actual_qty"], seat["variance_qty"]) == (2, 2, 0)
    assert [(r["mode"], r["qty"], r["reason"]) for r in seat["reasons"]] == [
        ("return", -1, "seat damaged in handling")
    ]
    assert (order["variance_value"], out["variance_value"]) == (50, 50)

    # the default list holds completed orders with issues; only_variances keeps the frame alone
    listed = call(bike_url, "get_material_usage_variance", only_variances=True)
    assert [o["production_order"] for o in listed["orders"]] == [code]
    assert [ln["item"] for ln in listed["orders"][0]["lines"]] == ["FRAME"]


def test_usage_variance_of_an_unknown_order_is_not_found(bike_url: str) -> None:
    from tools.errors import ToolError

    with pytest.raises(ToolError) as err:
        call(bike_url, "get_material_usage_variance", production_order="MO-404")
    assert err.value.code == "not_found"
