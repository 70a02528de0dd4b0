"""Order promising: hand-worked promises from stock, lead time, capacity and priority, levers, the bike factory."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.calendar import Calendar
from planning.dataset import plant_from_dict
from planning.model import Item, Plant, Source
from planning.promising import (
    ConstraintKind,
    ImpactKind,
    LeverKind,
    PromiseLine,
    PromiseRequest,
    ReservedSupply,
    SourceKind,
    estimate_delivery,
    promise_lines,
    promise_order,
)
from planning.scheduling import ScheduleOrder
from tests.helpers import BIKE_YAML

D = Decimal
WEEKDAYS = {"workdays": ["mon", "tue", "wed", "thu", "fri"]}


def plant(text: str) -> Plant:
    return plant_from_dict(yaml.safe_load(text))


def bike(**changes: object) -> Plant:
    data = yaml.safe_load(BIKE_YAML.read_text())
    data.update(changes)
    return plant_from_dict(data)


def lines_of(result) -> list[tuple[Decimal, date]]:
    return [(p.qty, p.date) for p in result.promise]


# ------------------------------------------------------------------------------------------- stock and lead time

# 2026-12-01 is a Tuesday; Mon–Fri.
SHOP = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: X, source: buy, lead_time_days: 5, min_order_qty: 10}
stock:
  - {item: X, qty: 10}
"""


def test_stock_only():
    result = promise_order(plant(SHOP), PromiseRequest("X", D(6), date(2026, 12, 3)))
    # 6 of the 10 in stock, available today: on time.
    assert result.on_time
    assert lines_of(result) == [(D(6), date(2026, 12, 3))]
    assert result.qty_by_due == 6 and result.earliest_full_date == date(2026, 12, 1)
    ((source),) = result.sources
    assert (source.kind, source.item, source.qty, source.available_date) == (
        SourceKind.STOCK,
        "X",
        D(6),
        date(2026, 12, 1),
    )
    assert result.binding_constraints == () and result.impacts == () and result.levers == ()


def test_stock_plus_lead_time_over_a_weekend():
    shop = plant(
        SHOP.replace("today: 2026-12-01", "today: 2026-12-02").replace(
            "{item: X, qty: 10}", "{item: X, qty: 4}"
        )
    )
    result = promise_order(shop, PromiseRequest("X", D(10), date(2026, 12, 4)))
    # 4 from stock by Friday 12-04; 6 bought today (Wed 12-02): 5 working days = Thu 3, Fri 4, Mon 7, Tue 8, Wed 9.
    assert not result.on_time
    assert lines_of(result) == [(D(4), date(2026, 12, 4)), (D(6), date(2026, 12, 9))]
    assert result.earliest_full_date == date(2026, 12, 9)
    purchase = next(s for s in result.sources if s.kind is SourceKind.PURCHASE)
    # The minimum order quantity 10 makes the purchase 10, of which this order uses 6.
    assert (purchase.qty, purchase.order_qty, purchase.release_date, purchase.available_date) == (
        D(6),
        D(10),
        date(2026, 12, 2),
        date(2026, 12, 9),
    )
    (constraint,) = result.binding_constraints
    assert constraint.kind is ConstraintKind.LEAD_TIME and constraint.item == "X"
    assert (constraint.shortfall_qty, constraint.lead_time_days) == (D(6), 5)
    assert (constraint.need_date, constraint.resolves_on, constraint.critical) == (
        date(2026, 12, 4),
        date(2026, 12, 9),
        True,
    )
    # Shipping the 4 on Friday is the partial-shipment lever.
    (lever,) = result.levers
    assert lever.kind is LeverKind.PARTIAL_SHIPMENT and lever.qty_by_due == 4


def test_nothing_ships_before_today():
    result = promise_order(plant(SHOP), PromiseRequest("X", D(6), date(2026, 11, 27)))
    # Due last Friday: the stock ships today at the earliest.
    assert not result.on_time
    assert lines_of(result) == [(D(6), date(2026, 12, 1))]
    (constraint,) = result.binding_constraints
    assert constraint.kind is ConstraintKind.DUE_IN_PAST and constraint.critical


# ---------------------------------------------------------------------------------------------------- capacity

# Wednesday 2026-12-02; CNC works 8 h (480 min) a day; M takes 60 min per unit: 8 units a day.
CAPACITY = """
today: 2026-12-02
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: M, source: make}
  - {code: N, source: make}
work_centers:
  - {code: CNC, machines: 1, hours_per_day: 8}
routings:
  - {item: M, operations: [{seq: 10, work_center: CNC, run_minutes_per_unit: 60}]}
  - {item: N, operations: [{seq: 10, work_center: CNC, run_minutes_per_unit: 60}]}
"""


def test_capacity_alone_is_enough():
    result = promise_order(plant(CAPACITY), PromiseRequest("M", D(20), date(2026, 12, 4)))
    # 20 × 60 = 1,200 min: Wed 480 + Thu 480 + Fri 240 → done Friday 12:00, ships Friday.
    assert result.on_time and lines_of(result) == [(D(20), date(2026, 12, 4))]
    (build,) = result.sources
    assert build.kind is SourceKind.PRODUCTION and build.available_date == date(2026, 12, 4)
    assert [(op.work_center, op.start.date(), op.end.date()) for op in build.operations] == [
        ("CNC", date(2026, 12, 2), date(2026, 12, 4))
    ]


def test_capacity_bound_split_over_a_weekend():
    # MO-1 (priority 1, 8 × 60 = 480 min) keeps Wednesday: the new order (priority 5) may not move it.
    existing = [ScheduleOrder("MO-1", "N", D(8), due=date(2026, 12, 2), priority=1)]
    result = promise_order(
        plant(CAPACITY), PromiseRequest("M", D(20), date(2026, 12, 4)), production_orders=existing
    )
    # Thu + Fri = 960 min = 16 units by Friday; the other 4 (240 min) run Monday 08:00–12:00.
    assert not result.on_time
    assert lines_of(result) == [(D(16), date(2026, 12, 4)), (D(4), date(2026, 12, 7))]
    builds = sorted((s.qty, s.available_date) for s in result.sources)
    assert builds == [(D(4), date(2026, 12, 7)), (D(16), date(2026, 12, 4))]
    (constraint,) = result.binding_constraints
    assert (constraint.kind, constraint.work_center, constraint.shortfall_qty) == (
        ConstraintKind.CAPACITY,
        "CNC",
        D(4),
    )
    assert constraint.resolves_on == date(2026, 12, 7) and constraint.critical
    assert result.impacts == ()  # MO-1 keeps its Wednesday


def test_overtime_lever_moves_the_open_orders_up_and_fits_the_request():
    # CNC may work 2 h overtime: 10 h (600 min) a day. MO-1 (priority 1) keeps its sequence and its Wednesday
    # 08:00–16:00; the 1,200 minutes of M then run Wed 16:00–18:00 (120), Thu 600 and Fri 08:00–16:00 (480).
    overtime = CAPACITY.replace("hours_per_day: 8}", "hours_per_day: 8, overtime_hours_per_day: 2}")
    existing = [ScheduleOrder("MO-1", "N", D(8), due=date(2026, 12, 2), priority=1)]
    result = promise_order(
        plant(overtime), PromiseRequest("M", D(20), date(2026, 12, 4)), production_orders=existing
    )
    assert lines_of(result) == [(D(16), date(2026, 12, 4)), (D(4), date(2026, 12, 7))]  # on 8 h days
    partial, lever = result.levers  # a higher priority would not help: MO-1 is priority 1 too
    assert partial.kind is LeverKind.PARTIAL_SHIPMENT and partial.qty_by_due == D(16)
    assert (lever.kind, lever.work_center, lever.overtime_hours_per_day) == (LeverKind.OVERTIME, "CNC", D(2))
    assert lever.on_time and lever.qty_by_due == D(20) and lever.earliest_full_date == date(2026, 12, 4)
    assert lever.impacts == ()  # MO-1 still completes on Wednesday


def test_higher_priority_new_order_takes_the_machine():
    existing = [ScheduleOrder("MO-1", "N", D(8), due=date(2026, 12, 3), priority=5)]
    result = promise_order(
        plant(CAPACITY), PromiseRequest("M", D(8), date(2026, 12, 2), priority=1), production_orders=existing
    )
    # Priority 1 goes first: M runs Wednesday; MO-1 moves from Wednesday to Thursday (still due Thursday).
    assert result.on_time
    (impact,) = result.impacts
    assert (impact.kind, impact.order, impact.date_before, impact.date_after, impact.late_after) == (
        ImpactKind.PRODUCTION_ORDER,
        "MO-1",
        date(2026, 12, 2),
        date(2026, 12, 3),
        False,
    )


# ---------------------------------------------------------------------------------------------------- priority

PRIORITY = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: X, source: buy, lead_time_days: 10}
stock:
  - {item: X, qty: 10}
sales_orders:
  - {id: SO-1, customer: A, priority: 5, lines: [{item: X, qty: 10, due: 2026-12-03}]}
"""


def test_an_equal_priority_order_keeps_its_supply():
    result = promise_order(plant(PRIORITY), PromiseRequest("X", D(10), date(2026, 12, 2)))
    # SO-1 is due Thursday, inside X's 10-day lead time: it keeps the stock. A new purchase arrives
    # 10 working days after Tue 12-01: 2, 3, 4, 7, 8, 9, 10, 11, 14, 15 → 12-15.
    assert lines_of(result) == [(D(10), date(2026, 12, 15))]
    assert result.impacts == ()
    (lever,) = [lv for lv in result.levers if lv.kind is LeverKind.RAISE_PRIORITY]
    # At priority 1 it would take the stock and ship on time, and SO-1 would wait for the purchase.
    assert lever.on_time and lever.priority == 1
    (impact,) = lever.impacts
    assert (impact.order, impact.date_before, impact.date_after) == (
        "SO-1/1",
        date(2026, 12, 3),
        date(2026, 12, 15),
    )


def test_a_higher_priority_order_takes_supply_and_lists_impacts():
    result = promise_order(plant(PRIORITY), PromiseRequest("X", D(10), date(2026, 12, 2), priority=1))
    assert result.on_time and lines_of(result) == [(D(10), date(2026, 12, 2))]
    (impact,) = result.impacts
    assert impact.kind is ImpactKind.SALES_ORDER and impact.order == "SO-1/1" and impact.priority == 5
    # Without the new order SO-1 ships on its due date; after it, when the purchase arrives, late.
    assert (impact.date_before, impact.date_after, impact.late_after) == (
        date(2026, 12, 3),
        date(2026, 12, 15),
        True,
    )


def test_a_line_holding_a_reservation_keeps_its_supply():
    held = [ReservedSupply("SO-1/1", "X", "stock", D(10))]
    result = promise_order(
        plant(PRIORITY), PromiseRequest("X", D(10), date(2026, 12, 2), priority=1), reservations=held
    )
    # The 10 in stock are SO-1's whatever the priorities; SO-1, covered by them, does not move.
    assert lines_of(result) == [(D(10), date(2026, 12, 15))] and result.impacts == ()
    # Estimating SO-1 itself: its reservation is its own.
    (line,) = estimate_delivery(
        plant(PRIORITY), [PromiseRequest("X", D(10), date(2026, 12, 3), 5, "SO-1/1")], reservations=held
    ).lines
    assert line.on_time and [(s.kind, s.qty) for s in line.sources] == [(SourceKind.STOCK, D(10))]


def test_a_commitment_due_beyond_the_lead_time_holds_nothing():
    later = plant(PRIORITY.replace("due: 2026-12-03", "due: 2026-12-31"))
    # SO-1 (due 12-31) can be bought again in time (by 12-15): the stock is free for the new order.
    result = promise_order(later, PromiseRequest("X", D(10), date(2026, 12, 2)))
    assert result.on_time and result.impacts == ()


# -------------------------------------------------------------------------------------------------- substitutes

SUBSTITUTE = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: P, source: make, lead_time_days: 1}
  - {code: C, source: buy, lead_time_days: 5}
  - {code: S, source: buy, lead_time_days: 5}
boms:
  - {parent: P, lines: [{component: C, qty: 1, substitutes: [{item: S, ratio: 1}]}]}
stock:
  - {item: C, qty: 2}
  - {item: S, qty: 5}
"""


def test_substitute_lever():
    result = promise_order(plant(SUBSTITUTE), PromiseRequest("P", D(5), date(2026, 12, 3)))
    # C is needed Wed 12-02 (one day before Thursday): 2 in stock build 2 by Wed; 3 more C arrive in 5 working
    # days (Tue 12-08), so the other 3 P are done Wed 12-09.
    assert lines_of(result) == [(D(2), date(2026, 12, 3)), (D(3), date(2026, 12, 9))]
    critical = [c for c in result.binding_constraints if c.critical]
    assert [(c.kind, c.item, c.shortfall_qty, c.resolves_on) for c in critical] == [
        (ConstraintKind.LEAD_TIME, "C", D(3), date(2026, 12, 8))
    ]
    kinds = [lever.kind for lever in result.levers]
    assert kinds == [LeverKind.PARTIAL_SHIPMENT, LeverKind.USE_SUBSTITUTE]
    lever = result.levers[1]
    # With S for the missing C, all 5 start today and are done Wednesday.
    assert lever.substitutes == ("S",) and lever.on_time
    (line,) = lever.lines
    assert (line.qty_by_due, line.earliest_full_date) == (D(5), date(2026, 12, 2))
    # The lever is only a what-if: the promise itself used no substitute.
    assert not any(s.substitute_for for s in result.sources)


# ----------------------------------------------------------------------------------------------- bike factory


def test_bike_from_stock():
    result = promise_order(bike(), PromiseRequest("BIKE", D(2), date(2026, 12, 2)))
    # SO-100 (12 BIKE due 12-15) is beyond BIKE's cumulative lead time (1 + FRAME 5 = 6 days: 12-07), so it
    # can be built in time and holds nothing: the 2 bikes in stock ship.
    assert result.on_time and lines_of(result) == [(D(2), date(2026, 12, 2))]
    assert [(s.kind, s.item, s.qty) for s in result.sources] == [(SourceKind.STOCK, "BIKE", D(2))]


def test_bike_twelve_like_so_100():
    result = promise_order(bike(), PromiseRequest("BIKE", D(12), date(2026, 12, 15)))
    # 2 from stock; 10 built: FRAME 10 and SEAT 4 in stock + 6 bought (12-04); WHEEL 4 in stock + 16 built
    # when the 10 RIM bought today arrive (3 days: 12-04), done 12-05; the bikes start 12-05, done 12-06.
    assert result.on_time and result.earliest_full_date == date(2026, 12, 6)
    top = sorted(
        ((s.kind, s.qty, s.available_date) for s in result.sources if s.level == 0), key=lambda s: s[2]
    )
    assert top == [
        (SourceKind.STOCK, D(2), date(2026, 12, 1)),
        (SourceKind.PRODUCTION, D(10), date(2026, 12, 6)),
    ]
    spoke = next(s for s in result.sources if s.item == "SPOKE" and s.kind is SourceKind.PURCHASE)
    # 16 wheels × 36.72 = 587.52 spokes; 300 in stock, 287.52 bought as the minimum order of 500.
    assert (spoke.qty, spoke.order_qty) == (D("287.52"), D(500))


def test_bike_so_100_inside_the_lead_time_keeps_its_supply():
    early = bike(sales_orders=[{"id": "SO-100", "customer": "城市单车", "lines": [
        {"item": "BIKE", "qty": 12, "due": "2026-12-04"}]}])  # fmt: skip
    # SO-100 due 12-04 is inside the 6-day cumulative lead time: it keeps BIKE 2, FRAME 10, WHEEL 4, SEAT 4,
    # RIM 6, SPOKE 300 and TIRE 16. Two more bikes need FRAME bought today (5 days: 12-06), built 12-07.
    result = promise_order(early, PromiseRequest("BIKE", D(2), date(2026, 12, 2)))
    assert lines_of(result) == [(D(2), date(2026, 12, 7))]
    (critical,) = [c for c in result.binding_constraints if c.critical]
    assert (critical.kind, critical.item, critical.lead_time_days, critical.resolves_on) == (
        ConstraintKind.LEAD_TIME,
        "FRAME",
        5,
        date(2026, 12, 6),
    )
    # At priority 1 the stock is the new order's: SO-100 then needs 2 more FRAME (12-06), built 12-07
    # instead of 12-06 (its own baseline, already 2 days late).
    urgent = promise_order(early, PromiseRequest("BIKE", D(2), date(2026, 12, 2), priority=1))
    assert urgent.on_time
    (impact,) = urgent.impacts
    assert (impact.order, impact.date_before, impact.date_after, impact.late_after) == (
        "SO-100/1",
        date(2026, 12, 6),
        date(2026, 12, 7),
        True,
    )


def test_bike_lines_share_components():
    order = promise_lines(
        bike(),
        [PromiseRequest("BIKE", D(4), date(2026, 12, 2)), PromiseRequest("WHEEL", D(4), date(2026, 12, 2))],
    )
    bikes, wheels = order.lines
    # BIKE: 2 in stock + 2 built today from FRAME, SEAT and the 4 WHEEL in stock, done 12-02.
    assert bikes.on_time and ("WHEEL", SourceKind.STOCK, D(4)) in [
        (s.item, s.kind, s.qty) for s in bikes.sources
    ]
    # The wheel stock is gone: the 4 WHEEL are built from RIM, SPOKE and TIRE in stock, done 12-02.
    assert wheels.on_time and [(s.kind, s.qty) for s in wheels.sources if s.level == 0] == [
        (SourceKind.PRODUCTION, D(4))
    ]
    assert order.on_time and order.earliest_full_date == date(2026, 12, 2)


def test_estimate_delivery_of_so_100():
    (demand,) = [d for d in bike().demands if d.id == "SO-100/1"]
    estimate = estimate_delivery(
        bike(), [PromiseRequest(demand.item, demand.qty, demand.due, demand.priority, demand.id)]
    )
    (line,) = estimate.lines
    # Nothing is ahead of it: the same as a new order of 12 (see test_bike_twelve_like_so_100).
    assert line.on_time and line.earliest_full_date == date(2026, 12, 6)


def test_promises_repeat():
    first = promise_order(plant(CAPACITY), PromiseRequest("M", D(30), date(2026, 12, 4)))
    second = promise_order(plant(CAPACITY), PromiseRequest("M", D(30), date(2026, 12, 4)))
    assert first == second
    # 30 × 60 min: 24 by Friday (Wed, Thu, Fri), 6 on Monday.
    assert lines_of(first) == [(D(24), date(2026, 12, 4)), (D(6), date(2026, 12, 7))]


# ---------------------------------------------------------------------------------------------------- property


@st.composite
def small_plants(draw):
    today = date(2026, 11, 30) + timedelta(days=draw(st.integers(0, 6)))
    calendar = Calendar(workdays=draw(st.frozensets(st.integers(0, 6), min_size=1)))
    items = {
        "TOP": Item("TOP", source=Source.MAKE, lead_time_days=draw(st.integers(0, 3))),
        "A": Item("A", source=Source.BUY, lead_time_days=draw(st.integers(0, 6))),
        "B": Item("B", source=Source.BUY, lead_time_days=draw(st.integers(0, 6)), min_order_qty=D(5)),
    }
    data = {
        "today": today,
        "boms": [{"parent": "TOP", "lines": [{"component": "A", "qty": 1}, {"component": "B", "qty": 2}]}],
        "stock": [{"item": code, "qty": draw(st.integers(0, 20))} for code in ("TOP", "A", "B")],
        "purchase_orders": [
            {"id": "PO-1", "item": "A", "qty": draw(st.integers(1, 20)), "due": today + timedelta(days=draw(st.integers(-3, 10)))}
        ],
        "sales_orders": [
            {"id": "SO-1", "customer": "C", "priority": draw(st.integers(1, 9)), "lines": [
                {"item": "TOP", "qty": draw(st.integers(1, 20)), "due": today + timedelta(days=draw(st.integers(0, 10)))}]}
        ],
    }  # fmt: skip
    base = plant_from_dict(data)
    shop = Plant(
        today=today, items=items, boms=base.boms, on_hand=base.on_hand, supplies=base.supplies,
        demands=base.demands, calendar=calendar,
    )  # fmt: skip
    request = PromiseRequest(
        "TOP",
        D(draw(st.integers(1, 30))),
        today + timedelta(days=draw(st.integers(-2, 12))),
        priority=draw(st.integers(1, 9)),
    )
    return shop, request


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_plants())
def test_promise_invariants(case):
    shop, request = case
    result = promise_order(shop, request)
    assert sum(p.qty for p in result.promise) == request.qty
    assert sum(p.qty for p in result.deliveries) == request.qty
    assert result.on_time == (result.qty_by_due == request.qty)
    assert result.earliest_full_date >= shop.today and shop.calendar.is_workday(result.earliest_full_date)
    for delivery in result.deliveries:
        assert delivery.date >= shop.today and shop.calendar.is_workday(delivery.date)
    if result.qty_by_due:
        assert result.promise[0] == PromiseLine(result.qty_by_due, request.due_date)
    if not result.on_time:
        assert result.promise[-1].date == result.earliest_full_date > request.due_date
        assert any(c.critical for c in result.binding_constraints)
    top = sum(s.qty for s in result.sources if s.level == 0)
    assert top == request.qty
