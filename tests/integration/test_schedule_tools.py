"""Scheduling tools: the demo's schedule, the dispatch list round trip, and schedule invariants on the tool output."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.calendar import WEEKDAY_NAMES, Calendar
from tests.helpers import call, confirm_as
from tools.context import Actor, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError

PLANNER = Actor("pia", "planner")
SALES = Actor("sam", "sales")


def test_demo_schedule(demo_url: str) -> None:
    out = call(demo_url, "get_schedule")
    assert out["status"] in ("OPTIMAL", "FEASIBLE") and out["method"] == "cp_sat"
    # The ten open production orders of the demo (subcontract orders are made at the supplier).
    assert len(out["orders"]) == 10
    orders = {o["order"]: o for o in out["orders"]}
    # MO-2612-05: 70 DSK-1200 left, 10 + 70 × 8 = 570 min on ASSY from Tue 12-01 08:00: 480 min Tuesday,
    # 90 Wednesday → Wed 09:30; one day of lead time → Thu 12-03, due 12-08.
    mo = orders["MO-2612-05"]
    assert (mo["qty"], mo["priority"], mo["status"]) == (70.0, 1, "in_progress")
    (op,) = [o for o in out["operations"] if o["order"] == "MO-2612-05"]
    assert (op["work_center"], op["start"], op["end"], op["duration_minutes"]) == (
        "ASSY",
        "2026-12-01T08:00:00",
        "2026-12-02T09:30:00",
        570,
    )
    assert mo["completion_date"] == "2026-12-03" and mo["on_time"] is True
    # MO-2612-01 may not start before its planned start, Fri 12-11.
    assert min(o["start"] for o in out["operations"] if o["order"] == "MO-2612-01") >= "2026-12-11"
    assert out["late_orders"] == sum(1 for o in out["orders"] if not o["on_time"])
    for row in out["load"]:
        assert 0 <= row["load_minutes"] <= row["capacity_minutes"]

    assembly = call(demo_url, "get_schedule", work_center="ASSY", horizon_days=7)
    assert assembly["operations"] and {o["work_center"] for o in assembly["operations"]} == {"ASSY"}
    assert all(o["start"] < "2026-12-08" for o in assembly["operations"])
    assert {row["work_center"] for row in assembly["load"]} == {"ASSY"}
    with pytest.raises(ToolError) as missing:
        call(demo_url, "get_schedule", work_center="PAINT")
    assert missing.value.code == "not_found"


def test_dispatch_list_round_trip(demo_url: str) -> None:
    assert call(demo_url, "get_dispatch_list")["entries"] == []
    first = call(demo_url, "propose_schedule", horizon_days=10)
    assert first["status"] == "pending" and first["kind"] == "dispatch_list" and first["entries"]
    assert all(e["start"] < "2026-12-11" for e in first["entries"])
    assert call(demo_url, "get_dispatch_list")["entries"] == []  # nothing before confirmation
    with pytest.raises(ToolError) as refused:
        confirm_as(demo_url, first["proposal_id"], SALES)
    assert refused.value.code == "forbidden"

    done = confirm_as(demo_url, first["proposal_id"], PLANNER)
    assert done["result"]["dispatch_list"] == "DL-00001" and done["result"]["superseded_entries"] == 0
    active = call(demo_url, "get_dispatch_list")
    assert active["dispatch_list"] == "DL-00001" and active["proposal_id"] == first["proposal_id"]
    frozen = sorted((e["order"], e["seq"], e["work_center"], e["start"], e["end"]) for e in active["entries"])
    proposed = sorted(
        (e["order"], e["seq"], e["work_center"], e["start"], e["end"]) for e in first["entries"]
    )
    assert frozen == proposed

    edge = call(demo_url, "get_dispatch_list", work_center="EDGE", day="2026-12-01")
    assert edge["entries"] and all(e["work_center"] == "EDGE" for e in edge["entries"])
    assert all(e["start"][:10] <= "2026-12-01" <= e["end"][:10] for e in edge["entries"])

    second = call(demo_url, "propose_schedule", horizon_days=5)
    replaced = confirm_as(demo_url, second["proposal_id"], PLANNER)
    assert replaced["result"]["dispatch_list"] == "DL-00002"
    assert replaced["result"]["superseded_entries"] == len(first["entries"])
    assert call(demo_url, "get_dispatch_list")["dispatch_list"] == "DL-00002"
    old = call(demo_url, "get_dispatch_list", dispatch_list="DL-00001")
    assert old["status"] == "superseded" and len(old["entries"]) == len(first["entries"])
    with pytest.raises(ToolError) as unknown:
        call(demo_url, "get_dispatch_list", dispatch_list="DL-09999")
    assert unknown.value.code == "not_found"


# ------------------------------------------------------------------------------------------------ property


def _window(hours: Decimal) -> int:
    return int((hours * 60).to_integral_value(rounding=ROUND_FLOOR))


def _walk(start: datetime, minutes: int, calendar: Calendar, day_start: time, window: int) -> datetime:
    """End of ``minutes`` of work from ``start``, counted on the calendar (independently of the scheduler)."""
    day = start.date()
    opening = datetime.combine(day, day_start)
    assert calendar.is_workday(day), f"{start} is not on a working day"
    assert opening <= start < opening + timedelta(minutes=window), f"{start} is outside working hours"
    now, left = start, minutes
    while True:
        closing = datetime.combine(day, day_start) + timedelta(minutes=window)
        step = min(left, int((closing - now).total_seconds() // 60))
        now, left = now + timedelta(minutes=step), left - step
        if left == 0:
            return now
        day = calendar.next_workday(day + timedelta(days=1))
        now = datetime.combine(day, day_start)


@st.composite
def factories(draw: st.DrawFn) -> dict[str, Any]:
    today = date(2026, 11, 30) + timedelta(days=draw(st.integers(0, 6)))
    workdays = sorted(draw(st.frozensets(st.integers(0, 6), min_size=1)))
    holidays = sorted(draw(st.frozensets(st.dates(today, today + timedelta(days=20)), max_size=2)))
    centers = [
        {
            "code": f"W{c}",
            "machines": draw(st.integers(1, 2)),
            "hours_per_day": draw(st.sampled_from(["4", "7.5", "8", "16", "24"])),
        }
        for c in range(draw(st.integers(1, 3)))
    ]
    n_orders = draw(st.integers(1, 5))
    items, routings, orders = [], [], []
    for n in range(n_orders):
        items.append({"code": f"I{n}", "source": "make", "lead_time_days": draw(st.integers(0, 2))})
        routings.append(
            {
                "item": f"I{n}",
                "operations": [
                    {
                        "seq": 10 * (k + 1),
                        "work_center": draw(st.sampled_from([c["code"] for c in centers])),
                        "setup_minutes": draw(st.integers(0, 60)),
                        "run_minutes_per_unit": draw(st.sampled_from(["0.5", "1", "7", "45"])),
                    }
                    for k in range(draw(st.integers(1, 3)))
                ],
            }
        )
        due = today + timedelta(days=draw(st.integers(0, 15)))
        order: dict[str, Any] = {
            "id": f"MO-{n}",
            "item": f"I{n}",
            "qty": draw(st.integers(1, 20)),
            "due": due,
            "status": draw(st.sampled_from(["planned", "released", "in_progress"])),
            "priority": draw(st.integers(1, 9)),
        }
        if draw(st.booleans()):
            order["start"] = min(due, today + timedelta(days=draw(st.integers(-3, 8))))
        if n + 1 < n_orders and draw(st.booleans()):
            order["parent_order"] = f"MO-{draw(st.integers(n + 1, n_orders - 1))}"
        orders.append(order)
    return {
        "today": today,
        "calendar": {"workdays": [WEEKDAY_NAMES[d] for d in workdays], "holidays": holidays},
        "items": items,
        "work_centers": centers,
        "routings": routings,
        "production_orders": orders,
    }


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(factories())
def test_tool_schedules_respect_machines_precedence_calendar_and_today(
    sqlite_url: str, data: dict[str, Any]
) -> None:
    with open_context(sqlite_url) as ctx:
        load_dataset(ctx.session, data, reset=True, source="hypothesis")
    out = call(sqlite_url, "get_schedule", time_limit_seconds=2)
    assert out["status"] in ("OPTIMAL", "FEASIBLE") or out["method"] == "dispatch"

    today: date = data["today"]
    calendar = Calendar(
        workdays=frozenset(WEEKDAY_NAMES.index(d) for d in data["calendar"]["workdays"]),
        holidays=frozenset(data["calendar"]["holidays"]),
    )
    centers = {c["code"]: c for c in data["work_centers"]}
    windows = {code: _window(Decimal(c["hours_per_day"])) for code, c in centers.items()}
    day_minutes = max(windows.values())
    opening = min(8 * 60, 24 * 60 - day_minutes)  # the axis moves the day start so a day ends by midnight
    day_start = time(opening // 60, opening % 60)
    orders = {o["id"]: o for o in data["production_orders"]}
    ops = [
        {**op, "start": datetime.fromisoformat(op["start"]), "end": datetime.fromisoformat(op["end"])}
        for op in out["operations"]
    ]
    for op in ops:
        order = orders[op["order"]]
        assert op["start"].date() >= today  # never before today
        if order.get("start"):
            assert op["start"].date() >= order["start"]  # nor before the planned start
        # the calendar: inside working hours of working days, ending after exactly its working minutes
        assert op["end"] == _walk(
            op["start"], op["duration_minutes"], calendar, day_start, windows[op["work_center"]]
        )
        assert 0 <= op["machine"] < centers[op["work_center"]]["machines"]
    for center, machine in {(op["work_center"], op["machine"]) for op in ops}:  # no overlap on a machine
        booked = sorted(
            (op["start"], op["end"]) for op in ops if (op["work_center"], op["machine"]) == (center, machine)
        )
        for (_, end), (start, _) in pairwise(booked):
            assert start >= end
    finish = {o["order"]: o for o in out["orders"]}
    for oid, order in orders.items():
        mine = sorted((op for op in ops if op["order"] == oid), key=lambda op: op["seq"])
        for before, after in pairwise(mine):  # routing precedence
            assert after["start"] >= before["end"]
        parent = order.get("parent_order")
        parent_ops = [op for op in ops if op["order"] == parent]
        if parent and mine and parent_ops:  # a sub-assembly order finishes before its parent starts
            assert min(op["start"] for op in parent_ops) >= mine[-1]["end"]
        outcome = finish[oid]
        completion = date.fromisoformat(outcome["completion_date"])
        assert completion >= today and calendar.is_workday(completion)
        assert outcome["on_time"] == (completion <= order["due"])
    for row in out["load"]:
        assert 0 <= row["load_minutes"] <= row["capacity_minutes"]
