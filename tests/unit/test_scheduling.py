"""Finite-capacity scheduling: hand-worked schedules, the what-if, the JSSP loader and schedule invariants."""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import ROUND_CEILING, Decimal
from itertools import pairwise
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.calendar import Calendar
from planning.capacity import window_minutes
from planning.dataset import plant_from_dict
from planning.errors import DataError, InvalidInputError
from planning.model import Item, Operation, Plant, Routing, Source, WorkCenter
from planning.scheduling import (
    Binding,
    NewOrder,
    ScheduleOrder,
    ScheduleSettings,
    collect_production_orders,
    compute_work_center_load,
    evaluate_new_order,
    priority_weight,
    retime_schedule,
    schedule_orders,
)

FAST = ScheduleSettings(time_limit_seconds=5.0, random_seed=1, num_workers=2)
D = Decimal

# 2026-12-04 is a Friday, 2026-12-07 a Monday; Tuesday 2026-12-08 is a holiday in this plant.
PLANT_YAML = """
today: 2026-12-04
calendar: {workdays: [mon, tue, wed, thu, fri], holidays: [2026-12-08]}
items:
  - {code: A, source: make}
  - {code: L1, source: make, lead_time_days: 1}
  - {code: SUB, source: make, lead_time_days: 1}
  - {code: TOP, source: make}
  - {code: TWO, source: make}
  - {code: NOROUTE, source: make, lead_time_days: 2}
  - {code: PLAIN, source: make}
work_centers:
  - {code: CNC, machines: 1, hours_per_day: 8}
  - {code: PAR, machines: 2, hours_per_day: 8}
  - {code: LONG, machines: 1, hours_per_day: 16}
routings:
  - item: A
    operations: [{seq: 10, work_center: CNC, setup_minutes: 30, run_minutes_per_unit: 6}]
  - item: L1
    operations: [{seq: 10, work_center: CNC, run_minutes_per_unit: 6}]
  - item: SUB
    operations: [{seq: 10, work_center: CNC, run_minutes_per_unit: 1}]
  - item: PLAIN
    operations: [{seq: 10, work_center: CNC, run_minutes_per_unit: 1}]
  - item: TOP
    operations: [{seq: 10, work_center: PAR, run_minutes_per_unit: 1}]
  - item: TWO
    operations:
      - {seq: 10, work_center: LONG, run_minutes_per_unit: 1}
      - {seq: 20, work_center: CNC, run_minutes_per_unit: 1}
"""


def make_plant(today: date | None = None, **changes: object) -> Plant:
    data = yaml.safe_load(PLANT_YAML)
    data.update(changes)
    return plant_from_dict(data, today=today)


def only_cnc(plant: Plant) -> Plant:
    """The plant reduced to its CNC work center, so the axis day is CNC's 8 hours (480 minutes)."""
    return Plant(
        today=plant.today,
        items=plant.items,
        calendar=plant.calendar,
        work_centers={"CNC": plant.work_centers["CNC"]},
        routings={k: r for k, r in plant.routings.items() if k in ("A", "L1", "SUB", "PLAIN")},
    )


def ops_of(schedule, order_id):
    return [op for op in schedule.operations if op.order == order_id]


def test_two_orders_share_one_machine_shortest_first():
    plant = only_cnc(make_plant())
    # MO-1: 30 + 20 × 6 = 150 min; MO-2: 30 + 10 × 6 = 90 min; both fit in Friday's 480 minutes.
    orders = [
        ScheduleOrder("MO-1", "A", D(20), due=date(2026, 12, 4)),
        ScheduleOrder("MO-2", "A", D(10), due=date(2026, 12, 4)),
    ]
    schedule = schedule_orders(plant, orders, FAST)
    assert schedule.status == "OPTIMAL" and schedule.proven_optimal
    # No tardiness either way; makespan 240 either way; total completion 90 + 240 = 330 (MO-2 first)
    # beats 150 + 240 = 390, so MO-2 runs 08:00–09:30 and MO-1 09:30–12:00.
    (mo2,) = ops_of(schedule, "MO-2")
    (mo1,) = ops_of(schedule, "MO-1")
    assert (mo2.start, mo2.end) == (datetime(2026, 12, 4, 8, 0), datetime(2026, 12, 4, 9, 30))
    assert (mo1.start, mo1.end) == (datetime(2026, 12, 4, 9, 30), datetime(2026, 12, 4, 12, 0))
    assert (mo1.start_minute, mo1.end_minute) == (90, 240)
    assert mo1.setup_minutes == 30 and mo1.duration_minutes == 150
    assert mo1.wait_minutes == 90  # could have started at 0, waited for MO-2 on CNC
    assert all(o.on_time for o in schedule.orders)
    assert schedule.objective.weighted_tardiness == 0
    assert schedule.objective.makespan_minutes == 240


def test_retimed_schedule_keeps_each_sequence_on_more_hours():
    plant = only_cnc(make_plant())
    # Friday 2026-12-04 on 8 h: MO-1 (30 + 75 × 6 = 480 min) is due today and runs first, 08:00–16:00;
    # MO-2 (30 + 20 × 6 = 150 min) follows on Monday 08:00–10:30.
    orders = [
        ScheduleOrder("MO-1", "A", D(75), due=date(2026, 12, 4), priority=1),
        ScheduleOrder("MO-2", "A", D(20), due=date(2026, 12, 9), priority=5),
    ]
    baseline = schedule_orders(plant, orders, FAST)
    assert [(op.order, op.start, op.end) for op in baseline.operations] == [
        ("MO-1", datetime(2026, 12, 4, 8, 0), datetime(2026, 12, 4, 16, 0)),
        ("MO-2", datetime(2026, 12, 7, 8, 0), datetime(2026, 12, 7, 10, 30)),
    ]
    cnc = plant.work_centers["CNC"]
    longer = replace(plant, work_centers={"CNC": replace(cnc, hours_per_day=D(10))})
    retimed = retime_schedule(longer, orders, baseline)
    # 10 h (600 min) a day: MO-1 still 08:00–16:00; MO-2 follows it at once, 120 min on Friday 16:00–18:00
    # and the other 30 on Monday 08:00–08:30.
    assert retimed.method == "retimed"
    assert [(op.order, op.start, op.end) for op in retimed.operations] == [
        ("MO-1", datetime(2026, 12, 4, 8, 0), datetime(2026, 12, 4, 16, 0)),
        ("MO-2", datetime(2026, 12, 4, 16, 0), datetime(2026, 12, 7, 8, 30)),
    ]
    assert [o.completion_date for o in retimed.orders] == [date(2026, 12, 4), date(2026, 12, 7)]
    with pytest.raises(InvalidInputError):
        retime_schedule(longer, orders[:1], baseline)


def test_operation_spans_the_weekend_and_lead_time_skips_the_holiday():
    plant = only_cnc(make_plant())
    # L1: 100 × 6 = 600 min on an 8 h day: Fri 08:00–16:00 (480) + Mon 08:00–10:00 (120).
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "L1", D(100), due=date(2026, 12, 7))], FAST)
    (op,) = schedule.operations
    assert op.start == datetime(2026, 12, 4, 8, 0)
    assert op.end == datetime(2026, 12, 7, 10, 0)
    assert (op.start_minute, op.end_minute) == (0, 600)  # Fri = minutes 0–480, Mon = 480–960
    outcome = schedule.order("MO-1")
    assert outcome.finish == datetime(2026, 12, 7, 10, 0)
    # lead_time_days 1 after Monday: Tuesday 12-08 is a holiday, so it ships Wednesday 12-09, 2 days late.
    assert outcome.completion_date == date(2026, 12, 9)
    assert outcome.days_late == 2 and not outcome.on_time
    # completion 600 + 1 day × 480 = 1080; due 12-07 is day 1, ending at minute 960: 120 minutes late.
    assert outcome.tardiness_minutes == 120
    assert [p.kind for p in schedule.problems] == ["late"]
    load = {(row.work_center, row.day): row.load_minutes for row in compute_work_center_load(schedule, plant)}
    assert load == {("CNC", date(2026, 12, 4)): 480, ("CNC", date(2026, 12, 7)): 120}


def test_operation_spans_a_holiday():
    plant = only_cnc(make_plant(today=date(2026, 12, 7)))
    # 1000 min from Monday 08:00: Mon 480, Tue is a holiday, Wed 480, Thu 40 → Thu 08:40.
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "SUB", D(1000))], FAST)
    (op,) = schedule.operations
    assert op.start == datetime(2026, 12, 7, 8, 0)
    assert op.end == datetime(2026, 12, 10, 8, 40)
    # SUB's lead time of one working day: Friday 12-11.
    assert schedule.order("MO-1").completion_date == date(2026, 12, 11)


def test_nothing_starts_before_today_on_a_weekend():
    plant = only_cnc(make_plant(today=date(2026, 12, 5)))  # a Saturday
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "A", D(1))], FAST)
    assert schedule.operations[0].start == datetime(2026, 12, 7, 8, 0)  # Monday's opening


def test_two_machines_in_parallel():
    plant = make_plant(today=date(2026, 12, 14))  # a Monday, no holiday that week
    # Three orders of 300 min on PAR (2 machines, 8 h). The axis day is LONG's 16 h (960 min);
    # PAR is open for its first 480. Two run 08:00–13:00 side by side; the third 13:00–16:00 (180)
    # and Tuesday 08:00–10:00 (120), i.e. axis minutes 300 to 960 + 120 = 1080.
    orders = [ScheduleOrder(f"MO-{i}", "TOP", D(300)) for i in (1, 2, 3)]
    schedule = schedule_orders(plant, orders, FAST)
    ops = sorted(schedule.operations, key=lambda o: (o.end_minute, o.order))
    assert [o.end_minute for o in ops] == [300, 300, 1080]
    assert ops[0].machine != ops[1].machine
    assert ops[2].start == datetime(2026, 12, 14, 13, 0) and ops[2].end == datetime(2026, 12, 15, 10, 0)
    assert schedule.objective.makespan_minutes == 1080 and schedule.proven_optimal
    load = {
        row.day: (row.load_minutes, row.capacity_minutes)
        for row in compute_work_center_load(schedule, plant)
        if row.work_center == "PAR"
    }
    assert load == {date(2026, 12, 14): (780, 960), date(2026, 12, 15): (120, 960)}


def test_work_centers_with_different_hours():
    plant = make_plant(today=date(2026, 12, 14))
    # TWO: 600 min on LONG (16 h: 08:00–24:00) Mon 08:00–18:00, then 600 min on CNC (8 h: 08:00–16:00).
    # CNC is closed at 18:00, so it starts Tue 08:00 (axis 960) and runs Tue 480 + Wed 120 → Wed 10:00.
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "TWO", D(600))], FAST)
    first, second = ops_of(schedule, "MO-1")
    assert (first.start, first.end) == (datetime(2026, 12, 14, 8, 0), datetime(2026, 12, 14, 18, 0))
    assert (second.start, second.end) == (datetime(2026, 12, 15, 8, 0), datetime(2026, 12, 16, 10, 0))
    # Axis: Tue starts at 960; Wed starts at 1920, + 120 = 2040.
    assert (second.start_minute, second.end_minute) == (960, 2040)
    assert second.wait_minutes == 0  # waiting for the next opening is not waiting for capacity
    assert schedule.order("MO-1").binding is Binding.PROCESSING


def test_long_operation_round_the_clock_and_a_due_date_long_past():
    plant = Plant(
        today=date(2026, 12, 14),
        items={"X": Item("X", source=Source.MAKE, lead_time_days=3)},
        work_centers={"OVEN": WorkCenter("OVEN", hours_per_day=D(24))},
        routings={"X": Routing("X", (Operation(10, "OVEN", D(0), D(3000)),))},
    )
    # 3000 min on a 24 h work center (every day working, days start at 00:00): two days and 2 hours.
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "X", D(1), due=date(2026, 9, 1))], FAST)
    (op,) = schedule.operations
    assert (op.start, op.end) == (datetime(2026, 12, 14, 0, 0), datetime(2026, 12, 16, 2, 0))
    outcome = schedule.order("MO-1")
    assert outcome.completion_date == date(2026, 12, 19)  # finishes Wed 12-16, + 3 days of lead time
    assert outcome.days_late == (date(2026, 12, 19) - date(2026, 9, 1)).days == 109
    assert {p.kind for p in schedule.problems} == {"late", "due_in_past"}


def test_priority_decides_who_is_late():
    plant = only_cnc(make_plant(today=date(2026, 12, 14)))
    # Two orders of 300 min due today, one machine open 480 min: whichever goes second ends at 600.
    orders = [
        ScheduleOrder("MO-1", "PLAIN", D(300), due=date(2026, 12, 14), priority=5),
        ScheduleOrder("MO-2", "PLAIN", D(300), due=date(2026, 12, 14), priority=1),
    ]
    schedule = schedule_orders(plant, orders, FAST)
    high, low = schedule.order("MO-2"), schedule.order("MO-1")
    # Priority 1 first: 16 (weight of 5) × 120 = 1,920 beats 256 (weight of 1) × 120 = 30,720.
    assert high.on_time and high.finish == datetime(2026, 12, 14, 13, 0)
    assert low.tardiness_minutes == 600 - 480 == 120
    assert low.finish == datetime(2026, 12, 15, 10, 0) and low.completion_date == date(2026, 12, 15)
    assert low.days_late == 1
    assert schedule.objective.weighted_tardiness == 16 * 120
    assert low.binding is Binding.CAPACITY and low.binding_work_center == "CNC"
    late = [p for p in schedule.problems if p.kind == "late"]
    assert [(p.order, p.work_center) for p in late] == [("MO-1", "CNC")]


def test_priority_weights():
    assert [priority_weight(p) for p in (1, 2, 5, 9, 12)] == [256, 128, 16, 1, 1]


def test_release_date_holds_the_order_back():
    plant = only_cnc(make_plant(today=date(2026, 12, 14)))
    schedule = schedule_orders(
        plant, [ScheduleOrder("MO-1", "A", D(1), release_date=date(2026, 12, 16))], FAST
    )
    assert schedule.operations[0].start == datetime(2026, 12, 16, 8, 0)
    assert schedule.order("MO-1").binding is Binding.MATERIAL


def test_sub_assembly_order_precedes_its_parent():
    plant = make_plant(today=date(2026, 12, 14))
    # SUB (CNC, 240 min) Mon 08:00–12:00, then its 1-day lead time: the axis day is 960 min (LONG's 16 h),
    # so the output is there at minute 240 + 960 = 1200 = Tue 12:00. TOP on PAR then runs 12:00–13:00.
    orders = [
        ScheduleOrder("PARENT", "TOP", D(60)),
        ScheduleOrder("CHILD", "SUB", D(240), parent="PARENT"),
    ]
    schedule = schedule_orders(plant, orders, FAST)
    (top,) = ops_of(schedule, "PARENT")
    assert top.start == datetime(2026, 12, 15, 12, 0) and top.end == datetime(2026, 12, 15, 13, 0)
    assert schedule.order("PARENT").binding is Binding.MATERIAL


def test_in_progress_order_skips_finished_operations():
    plant = make_plant(today=date(2026, 12, 14))
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "TWO", D(60), done_through_seq=10)], FAST)
    assert [(op.seq, op.work_center) for op in schedule.operations] == [(20, "CNC")]


def test_order_without_routing_uses_lead_time():
    plant = make_plant(today=date(2026, 12, 14))
    schedule = schedule_orders(plant, [ScheduleOrder("MO-1", "NOROUTE", D(5), due=date(2026, 12, 15))], FAST)
    outcome = schedule.order("MO-1")
    # lead_time_days 2 from Monday: Wednesday 12-16, one day after the due date.
    assert outcome.completion_date == date(2026, 12, 16) and not outcome.routed
    assert outcome.days_late == 1
    assert {p.kind for p in schedule.problems} == {"no_routing", "late"}


def test_new_order_of_higher_priority_takes_the_machine():
    plant = only_cnc(make_plant(today=date(2026, 12, 14)))
    existing = [ScheduleOrder("MO-1", "SUB", D(300), due=date(2026, 12, 16), priority=5)]
    result = evaluate_new_order(plant, existing, NewOrder("SUB", D(300), priority=1), FAST)
    # Nothing protects MO-1 (priority 5 > 1): NEW runs 08:00–13:00 and ships Tue (lead 1 day).
    assert result.finish == datetime(2026, 12, 14, 13, 0)
    assert result.completion_date == date(2026, 12, 15)
    assert result.binding is Binding.PROCESSING and result.binding_work_center is None
    # MO-1 moves from 0–300 to 300–600: it finishes Tue 10:00 and ships Wed 12-16 instead of Tue, on time.
    (impact,) = result.impacts
    assert (impact.order, impact.slip_minutes, impact.late_after) == ("MO-1", 300, False)
    assert impact.completion_before == date(2026, 12, 15) and impact.completion_after == date(2026, 12, 16)


def test_new_order_of_equal_priority_waits_for_existing():
    plant = only_cnc(make_plant(today=date(2026, 12, 14)))
    existing = [ScheduleOrder("MO-1", "SUB", D(300), due=date(2026, 12, 16), priority=5)]
    result = evaluate_new_order(
        plant, existing, NewOrder("SUB", D(300), priority=5, earliest_start=date(2026, 12, 14)), FAST
    )
    # MO-1 is protected: it keeps 0–300; NEW runs 300–600 = Mon 13:00–16:00 + Tue 08:00–10:00.
    assert result.finish == datetime(2026, 12, 15, 10, 0)
    assert result.completion_date == date(2026, 12, 16)  # + 1 working day of lead time
    assert result.binding is Binding.CAPACITY and result.binding_work_center == "CNC"
    assert result.impacts == ()
    assert [op.wait_minutes for op in result.waits] == [300]


def test_invalid_inputs_are_reported():
    plant = make_plant()
    with pytest.raises(InvalidInputError):
        schedule_orders(plant, [ScheduleOrder("MO-1", "A", D(0))], FAST)
    with pytest.raises(InvalidInputError):
        schedule_orders(plant, [ScheduleOrder("MO-1", "A", D(1)), ScheduleOrder("MO-1", "A", D(2))], FAST)
    with pytest.raises(DataError):
        schedule_orders(plant, [ScheduleOrder("MO-1", "GHOST", D(1))], FAST)
    with pytest.raises(DataError) as cycle:
        schedule_orders(
            plant,
            [ScheduleOrder("X", "A", D(1), parent="Y"), ScheduleOrder("Y", "A", D(1), parent="X")],
            FAST,
        )
    assert cycle.value.details["path"][0] == cycle.value.details["path"][-1]
    bad_routing = Plant(
        today=plant.today,
        items=plant.items,
        work_centers=plant.work_centers,
        routings={"A": Routing("A", (Operation(10, "NOWHERE", D(0), D(1)),))},
    )
    with pytest.raises(DataError):
        schedule_orders(bad_routing, [ScheduleOrder("MO-1", "A", D(1))], FAST)
    with pytest.raises(InvalidInputError):
        evaluate_new_order(plant, [], NewOrder("GHOST", D(1)), FAST)


def test_collect_production_orders_from_plant():
    data = yaml.safe_load(PLANT_YAML)
    data["production_orders"] = [
        {"id": "MO-9", "item": "A", "qty": 4, "due": "2026-12-10", "status": "released"}
    ]
    plant = plant_from_dict(data)
    (order,) = collect_production_orders(plant)
    assert (order.id, order.item, order.qty, order.due) == ("MO-9", "A", D(4), date(2026, 12, 10))


# ------------------------------------------------------------------------------------------- JSSP loader


def _load_bench_jssp():
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_jssp.py"
    spec = importlib.util.spec_from_file_location("bench_jssp_under_test", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_ft06_through_the_scheduler_is_55():
    bench = _load_bench_jssp()
    if not (bench.DEFAULT_INSTANCE_DIR / "ft06.txt").exists():
        pytest.skip("JSSP instances not available")
    instance = bench.load_instance("ft06")
    assert (len(instance.jobs), instance.machines, instance.optimum) == (6, 6, 55)
    result = bench.solve_instance(instance, time_limit_seconds=5.0)
    assert result.makespan == 55 and result.proven_optimal and result.gap_percent == 0


# ----------------------------------------------------------------------------------- schedule invariants


def _ceil(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _walk(start: datetime, minutes: int, calendar: Calendar, day_start: time, window: int) -> datetime:
    """End of ``minutes`` of work from ``start`` counted directly on the calendar (independent of the axis)."""
    day = start.date()
    opening = datetime.combine(day, day_start)
    assert calendar.is_workday(day), f"{start} is not on a working day"
    assert opening <= start < opening + timedelta(minutes=window), f"{start} is outside the working hours"
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
def scheduling_cases(draw):
    today = date(2026, 11, 30) + timedelta(days=draw(st.integers(0, 6)))
    workdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
    holidays = draw(st.frozensets(st.dates(today, today + timedelta(days=20)), max_size=3))
    calendar = Calendar(workdays=workdays, holidays=holidays)
    n_centers = draw(st.integers(1, 3))
    centers = {
        f"W{c}": WorkCenter(
            f"W{c}",
            machines=draw(st.integers(1, 2)),
            hours_per_day=D(draw(st.sampled_from(["4", "7.5", "8", "16", "24"]))),
        )
        for c in range(n_centers)
    }
    n_orders = draw(st.integers(1, 5))
    items, routings, orders = {}, {}, []
    for n in range(n_orders):
        code = f"I{n}"
        items[code] = Item(code, source=Source.MAKE, lead_time_days=draw(st.integers(0, 2)))
        ops = tuple(
            Operation(
                seq=10 * (k + 1),
                work_center=draw(st.sampled_from(sorted(centers))),
                setup_minutes=D(draw(st.integers(0, 60))),
                run_minutes_per_unit=D(draw(st.sampled_from(["0.5", "1", "7", "45"]))),
            )
            for k in range(draw(st.integers(1, 3)))
        )
        routings[code] = Routing(code, ops)
        release = draw(st.none() | st.dates(today - timedelta(days=3), today + timedelta(days=10)))
        due = draw(st.none() | st.dates(today, today + timedelta(days=15)))
        parent = draw(st.none() | st.sampled_from([f"MO-{m}" for m in range(n + 1, n_orders)] or [None]))
        orders.append(
            ScheduleOrder(
                f"MO-{n}",
                code,
                D(draw(st.integers(1, 20))),
                due=due,
                priority=draw(st.integers(1, 9)),
                release_date=release,
                parent=parent,
            )
        )
    plant = Plant(today=today, items=items, calendar=calendar, work_centers=centers, routings=routings)
    return plant, orders


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheduling_cases())
def test_schedules_respect_capacity_precedence_and_calendar(case):
    plant, orders = case
    schedule = schedule_orders(plant, orders, ScheduleSettings(time_limit_seconds=2.0, random_seed=3))
    assert schedule.status in ("OPTIMAL", "FEASIBLE")
    _assert_valid(plant, orders, schedule)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scheduling_cases(), st.integers(0, 2), st.sampled_from(["1", "2", "4"]))
def test_retimed_on_more_hours_is_valid_and_nothing_finishes_later(case, center, more):
    plant, orders = case
    schedule = schedule_orders(plant, orders, ScheduleSettings(time_limit_seconds=2.0, random_seed=3))
    code = sorted(plant.work_centers)[center % len(plant.work_centers)]
    wc = plant.work_centers[code]
    longer = replace(
        plant,
        work_centers={
            **plant.work_centers,
            code: replace(wc, hours_per_day=min(wc.hours_per_day + D(more), D(24))),
        },
    )
    retimed = retime_schedule(longer, orders, schedule)
    _assert_valid(longer, orders, retimed)
    before = {o.order: o for o in schedule.orders}
    for outcome in retimed.orders:
        assert outcome.completion_date <= before[outcome.order].completion_date
        if outcome.finish is not None:
            assert outcome.finish <= before[outcome.order].finish


def _assert_valid(plant: Plant, orders: list[ScheduleOrder], schedule) -> None:
    """Capacity, routing order, sub-assemblies, release dates and the calendar hold in ``schedule``."""
    by_id = {o.id: o for o in orders}
    axis = schedule.axis
    for op in schedule.operations:
        order = by_id[op.order]
        wc = plant.work_centers[op.work_center]
        routing_op = next(r for r in plant.routings[order.item].operations if r.seq == op.seq)
        assert op.duration_minutes == _ceil(
            routing_op.setup_minutes + routing_op.run_minutes_per_unit * order.qty
        )
        # the calendar: start inside working hours of a working day, end after exactly the working minutes
        assert op.end == _walk(
            op.start, op.duration_minutes, plant.calendar, axis.day_start, window_minutes(wc)
        )
        assert op.start.date() >= plant.today
        if order.release_date:
            assert op.start.date() >= order.release_date
        assert 0 <= op.machine < wc.machines
    for code, wc in plant.work_centers.items():
        ops = [op for op in schedule.operations if op.work_center == code]
        for op in ops:  # at no start are more operations running than there are machines
            running = [o for o in ops if o.start <= op.start < o.end]
            assert len(running) <= wc.machines
            assert len({o.machine for o in running}) == len(running)
    outcomes = {o.order: o for o in schedule.orders}
    for order in orders:
        ops = sorted((op for op in schedule.operations if op.order == order.id), key=lambda o: o.seq)
        for before, after in pairwise(ops):
            assert after.start >= before.end
        if order.parent and ops:
            parent_ops = [op for op in schedule.operations if op.order == order.parent]
            if parent_ops:
                assert min(op.start_minute for op in parent_ops) >= outcomes[order.id].completion_minute
        outcome = outcomes[order.id]
        assert plant.calendar.is_workday(outcome.completion_date)
        if order.due:
            assert outcome.on_time == (outcome.completion_date <= order.due)
            assert outcome.days_late == max(0, (outcome.completion_date - order.due).days)
