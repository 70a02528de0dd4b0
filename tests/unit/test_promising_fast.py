"""Promising's fast paths against the solver: a new order inserted into free capacity, and memoized promises."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from planning import promising
from planning.calendar import Calendar
from planning.capacity import BusySpan, CapacityProfile, plant_minute_of, window_minutes, work_minute_at
from planning.dataset import plant_from_dict
from planning.model import Item, Operation, Plant, Routing, Source, WorkCenter
from planning.promising import PromiseMemo, PromiseRequest, promise_order
from planning.scheduling import (
    NewOrder,
    Schedule,
    ScheduleOrder,
    ScheduleSettings,
    capacity_profile,
    collect_production_orders,
    evaluate_new_order,
    insert_new_order,
    schedule_orders,
)

D = Decimal
SOLVER = ScheduleSettings(time_limit_seconds=5.0, random_seed=0, num_workers=1)

# ------------------------------------------------------------------------------------------ insertion


@st.composite
def shops(draw):
    """A few work centers and routed items, open orders (some feeding others) and one new order."""
    today = date(2026, 11, 30) + timedelta(days=draw(st.integers(0, 6)))
    calendar = Calendar(
        workdays=draw(st.sampled_from([frozenset(range(5)), frozenset(range(6)), frozenset(range(7))]))
    )
    centers = {
        f"W{i}": WorkCenter(
            f"W{i}", machines=draw(st.integers(1, 2)), hours_per_day=D(draw(st.sampled_from([4, 8, 16])))
        )
        for i in range(draw(st.integers(1, 3)))
    }
    items, routings = {}, {}
    for i in range(draw(st.integers(1, 3))):
        code = f"P{i}"
        items[code] = Item(code, source=Source.MAKE, lead_time_days=draw(st.integers(0, 2)))
        ops = tuple(
            Operation(
                seq=10 * (k + 1),
                work_center=draw(st.sampled_from(sorted(centers))),
                setup_minutes=D(draw(st.integers(0, 60))),
                run_minutes_per_unit=D(draw(st.integers(1, 40))),
            )
            for k in range(draw(st.integers(1, 3)))
        )
        routings[code] = Routing(code, ops)
    orders: list[ScheduleOrder] = []
    for n in range(draw(st.integers(0, 5))):
        parent = None
        if orders and draw(st.booleans()) and draw(st.booleans()):
            parent = orders[draw(st.integers(0, len(orders) - 1))].id
        orders.append(
            ScheduleOrder(
                id=f"MO-{n}",
                item=draw(st.sampled_from(sorted(items))),
                qty=D(draw(st.integers(1, 20))),
                due=today + timedelta(days=draw(st.integers(0, 8))),
                priority=draw(st.integers(1, 9)),
                release_date=today + timedelta(days=draw(st.integers(0, 3))) if draw(st.booleans()) else None,
            )
        )
        if parent is not None:
            # A sub-assembly order: the later one feeds the earlier (no cycles by construction).
            orders[-1] = ScheduleOrder(**{**_fields(orders[-1]), "parent": parent})
    plant = Plant(today=today, items=items, calendar=calendar, work_centers=centers, routings=routings)
    new = NewOrder(
        item=draw(st.sampled_from(sorted(items))),
        qty=D(draw(st.integers(1, 20))),
        priority=draw(st.integers(1, 9)),
        earliest_start=today + timedelta(days=draw(st.integers(0, 3))),
        due=today + timedelta(days=draw(st.integers(0, 8))),
    )
    return plant, orders, new


def _fields(order: ScheduleOrder) -> dict:
    return {name: getattr(order, name) for name in ScheduleOrder.__slots__}


def _check_feasible(plant: Plant, schedule: Schedule) -> None:
    """Capacity on every work center's axis of working minutes, and every order's operations in sequence."""
    day = schedule.axis.day_minutes
    spans: dict[str, list[tuple[int, int]]] = {}
    for op in schedule.operations:
        window = window_minutes(plant.work_centers[op.work_center])
        start = work_minute_at(op.start_minute, day, window)
        assert plant_minute_of(start, day, window) == op.start_minute  # starts while the work center is open
        spans.setdefault(op.work_center, []).append((start, start + op.duration_minutes))
    for code, found in spans.items():
        for start, _ in found:
            busy = sum(1 for s, e in found if s <= start < e)
            assert busy <= plant.work_centers[code].machines, (code, start)
    by_order: dict[str, list] = {}
    for op in schedule.operations:
        by_order.setdefault(op.order, []).append(op)
    for ops in by_order.values():
        ops.sort(key=lambda o: o.seq)
        for a, b in pairwise(ops):
            assert b.start_minute >= a.end_minute


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shops())
def test_insertion_completes_when_the_solver_does(case):
    plant, orders, new = case
    baseline = schedule_orders(plant, orders, SOLVER)
    inserted = insert_new_order(plant, orders, new, baseline)
    solved = evaluate_new_order(plant, orders, new, SOLVER, baseline, keep_slots=True)
    # The solver's first goal is the new order's completion: compare only where it proved it.
    assume(solved.schedule.phases and solved.schedule.phases[0].status == "OPTIMAL")
    if inserted is None:
        return  # it would wait for an order that may itself move: the solver answers
    fast = inserted.evaluation
    assert fast.completion_date == solved.completion_date
    assert fast.schedule.order(new.id).completion_minute == solved.schedule.order(new.id).completion_minute
    _check_feasible(plant, fast.schedule)
    before = {o.order: o for o in baseline.orders}
    before_ops = {(op.order, op.seq): op for op in baseline.operations}
    for op in fast.schedule.operations:
        if op.order == new.id:
            continue
        old = before_ops[(op.order, op.seq)]
        if before[op.order].priority <= new.priority:
            assert op.start_minute == old.start_minute  # protected orders keep their slots
        else:
            assert op.start_minute >= old.start_minute  # the others only give way
    _check_moves_needed(plant, orders, baseline, fast.schedule)
    for impact in fast.impacts:
        assert impact.priority > new.priority and impact.slip_minutes > 0
    # A second order goes into the schedule with the first, as the builds of one promise do.
    first = ScheduleOrder(new.id, new.item, new.qty, new.due, new.priority, release_date=new.earliest_start)
    second = NewOrder(new.item, new.qty, new.priority, new.earliest_start, new.due, id="NEW-2")
    chained = insert_new_order(plant, [*orders, first], second, fast.schedule, inserted.profile)
    if chained is not None:
        solved_again = evaluate_new_order(
            plant, [*orders, first], second, SOLVER, fast.schedule, keep_slots=True
        )
        if solved_again.schedule.phases[0].status == "OPTIMAL":
            assert chained.evaluation.completion_date == solved_again.completion_date
            _check_feasible(plant, chained.evaluation.schedule)
    # The profile handed on is the new schedule's.
    again = capacity_profile(plant, fast.schedule)
    for code in plant.work_centers:
        assert sorted((s.start, s.end, s.order, s.seq) for s in inserted.profile.spans(code)) == sorted(
            (s.start, s.end, s.order, s.seq) for s in again.spans(code)
        )


def _check_moves_needed(plant: Plant, orders, baseline: Schedule, after: Schedule) -> None:
    """An operation that moved could not have stayed: its order or a sub-assembly ends too late for its old
    start, or its old slot is full of other operations."""
    day = after.axis.day_minutes
    old = {(op.order, op.seq): op for op in baseline.operations}
    now = {(op.order, op.seq): op for op in after.operations}
    completion = {o.order: o.completion_minute for o in after.orders}
    for key, op in now.items():
        was = old.get(key)
        if was is None or was.start_minute == op.start_minute:
            continue
        earlier = [o for o in now.values() if o.order == op.order and o.seq < op.seq]
        kids = [o.id for o in orders if o.parent == op.order]
        if any(o.end_minute > was.start_minute for o in earlier if o.seq == max(e.seq for e in earlier)):
            continue
        if not earlier and any(completion[kid] > was.start_minute for kid in kids):
            continue
        window = window_minutes(plant.work_centers[op.work_center])
        start = work_minute_at(was.start_minute, day, window)
        others = []
        for other_key, other in now.items():
            if other_key != key and other.work_center == op.work_center:
                begin = work_minute_at(other.start_minute, day, window)
                others.append((begin, begin + other.duration_minutes))
        busiest = max(
            (
                sum(1 for s, e in others if s <= minute < e)
                for minute in range(start, start + was.duration_minutes)
            ),
            default=0,
        )
        assert busiest >= plant.work_centers[op.work_center].machines, key


def test_earliest_fit_on_two_machines():
    profile = CapacityProfile(
        {"W": 2},
        {"W": [_span(0, 5, "A"), _span(10, 15, "B"), _span(3, 12, "C")]},
    )
    # Two operations at once in [3, 5) and [10, 12): 6 minutes fit only from 12, when C is done.
    assert profile.earliest_fit("W", 0, 6) == 12
    # 4 minutes fit in [5, 10) beside C.
    assert profile.earliest_fit("W", 0, 4) == 5
    assert profile.earliest_fit("W", 0, 6, skip=lambda s: s.order == "C") == 0


def _span(start: int, end: int, order: str) -> BusySpan:
    return BusySpan(start, end, order, 10)


@settings(max_examples=100, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=12),
    extra=st.lists(st.tuples(st.integers(0, 60), st.integers(1, 20)), max_size=3),
    machines=st.integers(1, 3),
    earliest=st.integers(0, 40),
    duration=st.integers(0, 25),
    skipped=st.sets(st.integers(0, 11)),
)
def test_earliest_fit_is_the_first_minute_that_fits(spans, extra, machines, earliest, duration, skipped):
    busy = [BusySpan(a, a + n, f"O{i}", 10) for i, (a, n) in enumerate(spans)]
    more = [BusySpan(a, a + n, f"X{i}", 10) for i, (a, n) in enumerate(extra)]
    profile = CapacityProfile({"W": machines}, {"W": busy})
    counted = [s for i, s in enumerate(busy) if i not in skipped] + more

    def fits(start: int) -> bool:
        # Minute by minute: fewer spans than machines at every minute of [start, start + duration).
        return all(
            sum(s.start <= m < s.end for s in counted) < machines for m in range(start, start + duration)
        )

    expected = next(t for t in range(earliest, 200) if fits(t))
    found = profile.earliest_fit(
        "W", earliest, duration, skip=lambda s: int(s.order[1:]) in skipped and s.order[0] == "O", extra=more
    )
    assert found == expected


# ---------------------------------------------------------------------------------------- memoized promises


@st.composite
def sold_plants(draw):
    """A two-level product on one work center, stock, a purchase and several sales lines of mixed priority."""
    today = date(2026, 11, 30) + timedelta(days=draw(st.integers(0, 6)))
    data = {
        "today": today.isoformat(),
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"]},
        "items": [
            {"code": "TOP", "source": "make", "lead_time_days": draw(st.integers(0, 2))},
            {"code": "SUB", "source": "make", "lead_time_days": draw(st.integers(0, 2))},
            {"code": "A", "source": "buy", "lead_time_days": draw(st.integers(1, 6))},
            {"code": "B", "source": "buy", "lead_time_days": draw(st.integers(1, 6)), "min_order_qty": 5},
        ],
        "boms": [
            {"parent": "TOP", "lines": [{"component": "SUB", "qty": 1}, {"component": "A", "qty": 1}]},
            {"parent": "SUB", "lines": [{"component": "B", "qty": 2}]},
        ],
        "stock": [{"item": code, "qty": draw(st.integers(0, 30))} for code in ("TOP", "SUB", "A", "B")],
        "purchase_orders": [
            {"id": "PO-1", "item": "A", "qty": draw(st.integers(1, 30)), "due": (today + timedelta(days=draw(st.integers(0, 8)))).isoformat()}
        ],
        "work_centers": [{"code": "W", "machines": draw(st.integers(1, 2)), "hours_per_day": 8, "overtime_hours_per_day": 2}],
        "routings": [
            {"item": "TOP", "operations": [{"seq": 10, "work_center": "W", "run_minutes_per_unit": draw(st.integers(5, 60))}]},
            {"item": "SUB", "operations": [{"seq": 10, "work_center": "W", "run_minutes_per_unit": draw(st.integers(5, 60))}]},
        ],
        "production_orders": [
            {"id": f"MO-{n}", "item": draw(st.sampled_from(["TOP", "SUB"])), "qty": draw(st.integers(1, 20)),
             "due": (today + timedelta(days=draw(st.integers(0, 6)))).isoformat(), "priority": draw(st.integers(1, 9))}
            for n in range(draw(st.integers(0, 3)))
        ],
        "sales_orders": [
            {"id": f"SO-{n}", "customer": "C", "priority": draw(st.integers(1, 9)), "lines": [
                {"item": draw(st.sampled_from(["TOP", "SUB"])), "qty": draw(st.integers(1, 20)),
                 "due": (today + timedelta(days=draw(st.integers(-2, 12)))).isoformat()}]}
            for n in range(draw(st.integers(1, 5)))
        ],
    }  # fmt: skip
    requests = [
        PromiseRequest(
            "TOP",
            D(draw(st.integers(1, 30))),
            today + timedelta(days=draw(st.integers(0, 12))),
            priority=draw(st.integers(1, 9)),
        )
        for _ in range(draw(st.integers(1, 3)))
    ]
    return plant_from_dict(data), requests


def _reallocate_all(ctx, protected, ledger):
    """Every unprotected line allocated again, from scratch: what the traced re-allocation must equal."""
    again = promising._Commitments(ctx, ledger)
    for demand in protected.unprotected:
        yield demand, again.allocate(demand)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sold_plants())
def test_memoized_promises_answer_as_alone(case):
    plant, requests = case
    orders = collect_production_orders(plant)
    baseline = schedule_orders(plant, orders, SOLVER)
    alone = [promise_order(plant, r, production_orders=orders, baseline=baseline) for r in requests]
    memo = PromiseMemo()
    shared = [
        promise_order(plant, r, production_orders=orders, baseline=baseline, memo=memo) for r in requests
    ]
    # Same answers, impacts and levers included, whatever was promised on the snapshot before.
    assert shared == alone
    again = [
        promise_order(plant, r, production_orders=orders, baseline=baseline, memo=memo) for r in requests
    ]
    assert again == alone


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sold_plants())
def test_lines_followed_along_their_trace_complete_as_allocated_again(case):
    plant, requests = case
    orders = collect_production_orders(plant)
    baseline = schedule_orders(plant, orders, SOLVER)
    traced = [promise_order(plant, r, production_orders=orders, baseline=baseline) for r in requests]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(promising, "_reallocate", _reallocate_all)
        full = [promise_order(plant, r, production_orders=orders, baseline=baseline) for r in requests]
    # Impacts on lines of lower priority included.
    assert traced == full


def test_a_memo_belongs_to_one_snapshot():
    shop = {"today": "2026-12-01", "items": [{"code": "X", "source": "buy", "lead_time_days": 2}]}
    memo = PromiseMemo()
    promise_order(plant_from_dict(shop), PromiseRequest("X", D(1), date(2026, 12, 3)), memo=memo)
    with pytest.raises(ValueError):
        promise_order(plant_from_dict(shop), PromiseRequest("X", D(1), date(2026, 12, 3)), memo=memo)
