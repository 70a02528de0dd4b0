"""MRP: netting, scrap, safety stock, lot sizing, lead-time offsetting, forecasts, pegging, phantoms, exceptions."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning import mrp
from planning.calendar import Calendar
from planning.errors import BomCycleError, InvalidInputError
from planning.model import Bom, BomLine, Demand, DemandKind, Item, Plant, Source, Supply, SupplyKind
from planning.mrp import (
    Action,
    ExceptionKind,
    MrpOptions,
    MrpResult,
    PegKind,
    consume_forecasts,
    replan_mrp,
    run_mrp,
    trace_pegging,
)
from tests.helpers import BIKE_YAML, plant_of

TODAY = date(2026, 12, 1)  # a Tuesday


def rows(result: MrpResult, item: str | None = None) -> list[tuple]:
    """(item, action, qty, release, due) of each suggestion, in the result's order."""
    return [
        (s.item, str(s.action), s.qty, s.release_date.isoformat(), s.due_date.isoformat())
        for s in result.suggestions
        if item is None or s.item == item
    ]


def pegs(result: MrpResult, item: str) -> list[list[tuple[str, D]]]:
    return [[(p.demand, p.qty) for p in s.pegging] for s in result.suggestions if s.item == item]


def kinds(result: MrpResult, item: str | None = None) -> list[str]:
    return [str(e.kind) for e in result.exceptions if item is None or e.item == item]


# ------------------------------------------------------------------------------------ acceptance


def test_bike_factory_acceptance(bike):
    result = run_mrp(bike, 90)
    # BIKE: 12 ordered - 2 on hand = 10, due 12-15, lead 1 -> release 12-14
    # WHEEL: 2 x 10 = 20 - 4 = 16, due 12-14 (BIKE release), lead 1 -> 12-13
    # SEAT: 10 - 4 = 6, due 12-14, lead 3 -> 12-11 (substitute SEAT-B not planned)
    # RIM: 16 - 6 = 10, due 12-13 (WHEEL release), lead 3 -> 12-10
    # SPOKE: 16 x 36 x 1.02 = 587.52 - 300 = 287.52 net -> minimum 500, due 12-13, lead 2 -> 12-11
    # FRAME: 10 - 10 = 0; TIRE: 16 - 20 < 0: nothing
    assert sorted(rows(result)) == sorted(
        [
            ("BIKE", "make", D(10), "2026-12-14", "2026-12-15"),
            ("WHEEL", "make", D(16), "2026-12-13", "2026-12-14"),
            ("SEAT", "buy", D(6), "2026-12-11", "2026-12-14"),
            ("RIM", "buy", D(10), "2026-12-10", "2026-12-13"),
            ("SPOKE", "buy", D(500), "2026-12-11", "2026-12-13"),
        ]
    )
    spoke = result.suggestions_for("SPOKE")[0]
    assert spoke.net_qty == D("287.52")
    assert result.exceptions == ()


def test_bike_factory_pegging(bike):
    result = run_mrp(bike, 90)
    assert pegs(result, "BIKE") == [[("SO-100/1", D(10))]]
    assert pegs(result, "WHEEL") == [[("PL-BIKE-1", D(16))]]
    assert pegs(result, "SPOKE") == [[("PL-WHEEL-1", D("287.52"))]]
    seat = result.suggestions_for("SEAT")[0].pegging[0]
    assert (seat.kind, seat.item, seat.due) == (PegKind.PLANNED, "BIKE", date(2026, 12, 14))
    # through WHEEL and BIKE, all 287.52 spokes serve the sales order
    (end,) = trace_pegging(result, "PL-SPOKE-1")
    assert (end.demand, end.qty, end.kind) == ("SO-100/1", D("287.52"), PegKind.SALES)


# ------------------------------------------------------------------------------------ netting

NETTING = """
today: 2026-12-01
items:
  - {code: A, source: buy, lead_time_days: 0}
stock:
  - {item: A, qty: 30}
purchase_orders:
  - {id: PO-1, item: A, qty: 20, due: 2026-12-10}
sales_orders:
  - {id: SO-1, lines: [{item: A, qty: 25, due: 2026-12-03}]}
  - {id: SO-2, lines: [{item: A, qty: 40, due: 2026-12-10}]}
"""


def test_netting_uses_stock_then_open_supply_then_plans_the_rest():
    result = run_mrp(plant_of(NETTING), 90)
    # 12-03: 30 on hand - 25 = 5 left; 12-10: 5 + PO-1 20 = 25 < 40 -> plan 15 due 12-10
    assert rows(result) == [("A", "buy", D(15), "2026-12-10", "2026-12-10")]
    assert pegs(result, "A") == [[("SO-2/1", D(15))]]
    (use,) = result.supply_uses
    assert (use.supply, use.used_qty, use.needed_date) == ("PO-1", D(20), date(2026, 12, 10))
    assert [(p.demand, p.qty) for p in use.pegging] == [("SO-2/1", D(20))]
    assert result.exceptions == ()


def test_requirements_of_one_day_make_one_order():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        sales_orders:
          - {id: SO-1, lines: [{item: A, qty: 4, due: 2026-12-05}, {item: A, qty: 6, due: 2026-12-05}]}
    """)
    result = run_mrp(plant, 30)
    # 4 + 6 = 10 on the same day: one order, pegged to both lines
    assert rows(result) == [("A", "buy", D(10), "2026-12-05", "2026-12-05")]
    assert pegs(result, "A") == [[("SO-1/1", D(4)), ("SO-1/2", D(6))]]


def test_open_production_orders_components_are_dependent_demand():
    plant = plant_of("""
        today: 2026-12-01
        items:
          - {code: A, source: make, lead_time_days: 2}
          - {code: C, source: buy, lead_time_days: 1}
        boms: [{parent: A, lines: [{component: C, qty: 3}]}]
        production_orders:
          - {id: MO-1, item: A, qty: 10, due: 2026-12-10, status: released}
    """)
    result = run_mrp(plant, 30)
    # MO-1 starts 12-10 - 2 = 12-08 and still needs 10 x 3 = 30 C then -> buy 30 due 12-08, release 12-07
    # MO-1 itself is open supply of A with nothing needing it -> excess
    assert rows(result) == [("C", "buy", D(30), "2026-12-07", "2026-12-08")]
    peg = result.suggestions_for("C")[0].pegging[0]
    assert (peg.demand, peg.qty, peg.kind) == ("MO-1", D(30), PegKind.DEPENDENT)
    assert kinds(result, "A") == ["excess"]


def test_several_lines_of_one_component_add_up():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: make}, {code: C, source: buy}]
        boms: [{parent: A, lines: [{component: C, qty: 2}, {component: C, qty: 1}]}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 5, due: 2026-12-05}]}]
    """)
    # 5 x (2 + 1) = 15
    assert rows(run_mrp(plant, 30), "C") == [("C", "buy", D(15), "2026-12-05", "2026-12-05")]


def test_demand_beyond_the_horizon_is_ignored():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        sales_orders:
          - {id: SO-1, lines: [{item: A, qty: 5, due: 2026-12-11}, {item: A, qty: 7, due: 2026-12-12}]}
    """)
    # horizon 10 days ends 12-11 (included): only the first line
    assert rows(run_mrp(plant, 10)) == [("A", "buy", D(5), "2026-12-11", "2026-12-11")]


# ------------------------------------------------------------------------------------ scrap


def test_scrap_and_bom_output_quantity():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: make}, {code: B, source: make}, {code: C, source: buy, uom: kg}]
        boms:
          - {parent: A, lines: [{component: C, qty: 2, scrap_rate: 0.05}]}
          - {parent: B, output_qty: 4, lines: [{component: C, qty: 6}]}
        sales_orders:
          - {id: SO-1, lines: [{item: A, qty: 10, due: 2026-12-05}, {item: B, qty: 10, due: 2026-12-06}]}
    """)
    result = run_mrp(plant, 30)
    # A: 10 x 2 x 1.05 = 21 kg; B: 10 x 6 / 4 = 15 kg
    assert rows(result, "C") == [
        ("C", "buy", D(21), "2026-12-05", "2026-12-05"),
        ("C", "buy", D(15), "2026-12-06", "2026-12-06"),
    ]


def test_countable_items_are_ordered_in_whole_units():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: make}, {code: C, source: buy, uom: pcs}]
        boms: [{parent: A, lines: [{component: C, qty: 1, scrap_rate: 0.03}]}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 10, due: 2026-12-05}]}]
    """)
    (order,) = run_mrp(plant, 30).suggestions_for("C")
    # 10 x 1.03 = 10.3 pcs -> 11, pegged 10.3
    assert (order.qty, order.net_qty, order.pegging[0].qty) == (D(11), D("10.3"), D("10.3"))


# ------------------------------------------------------------------------------------ safety stock


def test_safety_stock_is_kept():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, safety_stock: 20}]
        stock: [{item: A, qty: 50}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 40, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30)
    # 50 on hand - 40 = 10 < 20 safety stock -> 10 due 12-05
    assert rows(result) == [("A", "buy", D(10), "2026-12-05", "2026-12-05")]
    # stock holds the 20 of safety stock first, the order completes the sales order
    assert pegs(result, "A") == [[("SO-1/1", D(10))]]


def test_stock_below_safety_stock_is_replenished_today_and_late():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, lead_time_days: 3, safety_stock: 20}]
        stock: [{item: A, qty: 5}]
    """)
    result = run_mrp(plant, 30)
    # 20 - 5 = 15 needed today; release today - 3 days is in the past -> released today, late
    assert rows(result) == [("A", "buy", D(15), "2026-12-01", "2026-12-01")]
    (order,) = result.suggestions
    assert order.late and order.pegging[0].kind is PegKind.SAFETY
    (late,) = result.exceptions
    # released today, 3 working days -> ready 12-04
    assert (late.kind, late.ref, late.suggested_date) == (ExceptionKind.LATE, order.id, date(2026, 12, 4))
    assert late.demands == ("safety stock A",)


# ------------------------------------------------------------------------------------ lot sizing in MRP


def test_lot_multiple_surplus_carries_forward_and_pegs_later_demands():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, order_multiple: 10}]
        sales_orders:
          - id: SO-1
            lines:
              - {item: A, qty: 7, due: 2026-12-02}
              - {item: A, qty: 7, due: 2026-12-04}
              - {item: A, qty: 7, due: 2026-12-06}
    """)
    result = run_mrp(plant, 30)
    # 12-02: need 7 -> 10 (3 left); 12-04: 3 + need 4 -> 10 (6 left); 12-06: 6 + need 1 -> 10 (9 left)
    assert [(r[2], r[4]) for r in rows(result)] == [
        (D(10), "2026-12-02"),
        (D(10), "2026-12-04"),
        (D(10), "2026-12-06"),
    ]
    assert [s.net_qty for s in result.suggestions] == [D(7), D(4), D(1)]
    assert pegs(result, "A") == [
        [("SO-1/1", D(7)), ("SO-1/2", D(3))],
        [("SO-1/2", D(4)), ("SO-1/3", D(6))],
        [("SO-1/3", D(1))],
    ]


def test_minimum_order_quantity():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, min_order_qty: 100}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 30, due: 2026-12-02}, {item: A, qty: 50, due: 2026-12-09}]}]
    """)
    result = run_mrp(plant, 30)
    # 12-02: 30 -> minimum 100 (70 left) covers 12-09's 50 too
    assert rows(result) == [("A", "buy", D(100), "2026-12-02", "2026-12-02")]
    assert pegs(result, "A") == [[("SO-1/1", D(30)), ("SO-1/2", D(50))]]


def test_maximum_splits_into_several_orders():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: make, lead_time_days: 1, max_order_qty: 100}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 250, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30)
    # 250 with maximum 100 -> 100 + 100 + 50, all due 12-05 and released 12-04
    assert rows(result) == [("A", "make", q, "2026-12-04", "2026-12-05") for q in (D(100), D(100), D(50))]
    assert pegs(result, "A") == [[("SO-1/1", D(100))], [("SO-1/1", D(100))], [("SO-1/1", D(50))]]


def test_conflicting_lot_sizes_are_reported():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, min_order_qty: 50, max_order_qty: 20}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 30, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30)
    # the maximum wins: 20 + min(10 -> 50 capped at 20) = 20 + 20
    assert [r[2] for r in rows(result)] == [D(20), D(20)]
    assert kinds(result) == ["lot_size_conflict"]


# ------------------------------------------------------------------------------------ lead times

WORKWEEK = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri], holidays: [2026-12-25]}
items:
  - {code: A, source: make, lead_time_days: 3}
  - {code: C, source: buy, lead_time_days: 2}
boms: [{parent: A, lines: [{component: C, qty: 1}]}]
sales_orders: [{id: SO-1, lines: [{item: A, qty: 5, due: 2026-12-28}]}]
"""


def test_lead_time_offsets_skip_weekends_and_holidays():
    result = run_mrp(plant_of(WORKWEEK), 60)
    # A due Mon 12-28, 3 working days back: (Sun 27, Sat 26, Fri 25 holiday) Thu 24, Wed 23, Tue 22
    # C due Tue 12-22 (A's release), 2 working days back: Mon 21, (Sun, Sat) Fri 18
    assert rows(result) == [
        ("C", "buy", D(5), "2026-12-18", "2026-12-22"),
        ("A", "make", D(5), "2026-12-22", "2026-12-28"),
    ]


def test_release_in_the_past_is_released_today_and_late():
    plant = plant_of("""
        today: 2026-12-01
        calendar: {workdays: [mon, tue, wed, thu, fri]}
        items: [{code: A, source: buy, lead_time_days: 5}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 8, due: 2026-12-03}]}]
    """)
    result = run_mrp(plant, 30)
    # due Thu 12-03, 5 working days back = Thu 11-26 < today -> release today 12-01, due kept 12-03
    assert rows(result) == [("A", "buy", D(8), "2026-12-01", "2026-12-03")]
    (late,) = result.exceptions
    # released Tue 12-01 + 5 working days -> Tue 12-08 at the earliest
    assert (late.kind, late.date, late.suggested_date, late.demands) == (
        ExceptionKind.LATE,
        date(2026, 12, 3),
        date(2026, 12, 8),
        ("SO-1/1",),
    )
    assert "2026-11-26" in late.message


def test_demand_due_before_today_counts_as_due_today():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 4, due: 2026-11-20}]}]
    """)
    result = run_mrp(plant, 30)
    assert rows(result) == [("A", "buy", D(4), "2026-12-01", "2026-12-01")]
    (late,) = result.exceptions
    assert (late.kind, late.ref, late.date) == (ExceptionKind.PAST_DUE_DEMAND, "SO-1/1", date(2026, 11, 20))


# ------------------------------------------------------------------------------------ forecasts


def test_consume_forecasts_by_sales_orders_of_the_same_month():
    demands = [
        Demand("FC-1", "A", D(30), date(2026, 12, 1), DemandKind.FORECAST),
        Demand("FC-2", "A", D(50), date(2026, 12, 15), DemandKind.FORECAST),
        Demand("FC-3", "A", D(40), date(2027, 1, 1), DemandKind.FORECAST),
        Demand("FC-4", "B", D(10), date(2026, 12, 1), DemandKind.FORECAST),
        Demand("SO-1", "A", D(45), date(2026, 12, 20)),
        Demand("SO-2", "A", D(60), date(2027, 1, 31)),
    ]
    left = {d.id: d.qty for d in consume_forecasts(demands) if d.kind is DemandKind.FORECAST}
    # December A: 45 sold consumes FC-1 30 (earliest first), then 15 of FC-2 -> 35 left
    # January A: 60 sold > FC-3 40 -> nothing left; B has no sales: FC-4 whole
    assert left == {"FC-2": D(35), "FC-4": D(10)}


def test_forecast_excess_is_planned():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        sales_orders:
          - {id: SO-1, lines: [{item: A, qty: 60, due: 2026-12-20}, {item: A, qty: 30, due: 2027-01-05}]}
          - {id: SO-2, lines: [{item: A, qty: 10, due: 2026-11-28}]}
        forecasts:
          - {item: A, qty: 100, date: 2026-12-31}
          - {item: A, qty: 80, date: 2027-01-31}
          - {item: A, qty: 70, date: 2026-11-15}
    """)
    result = run_mrp(plant, 90)
    # SO-2 (November, past due) -> 10 today; November's forecast is stale
    # December: forecast 100 - sold 60 = 40 on 12-31; January: 80 - 30 = 50 on 01-31
    assert [(r[2], r[4]) for r in rows(result)] == [
        (D(10), "2026-12-01"),
        (D(60), "2026-12-20"),
        (D(40), "2026-12-31"),
        (D(30), "2027-01-05"),
        (D(50), "2027-01-31"),
    ]
    assert pegs(result, "A")[2] == [("FC-1", D(40))]
    assert result.suggestions[2].pegging[0].kind is PegKind.FORECAST


# ------------------------------------------------------------------------------------ phantoms

PHANTOM = """
today: 2026-12-01
items:
  - {code: A, source: make, lead_time_days: 2}
  - {code: P, source: make, lead_time_days: 4, phantom: true}
  - {code: C, source: buy, lead_time_days: 1}
boms:
  - {parent: A, lines: [{component: P, qty: 2}]}
  - {parent: P, lines: [{component: C, qty: 3}]}
stock: [{item: P, qty: 5}]
sales_orders: [{id: SO-1, lines: [{item: A, qty: 10, due: 2026-12-10}]}]
"""


def test_phantom_is_exploded_through_at_the_same_date():
    result = run_mrp(plant_of(PHANTOM), 30)
    # A 10 due 12-10, release 12-08 -> P 20 needed 12-08, never stocked or planned (its 5 on hand ignored)
    # -> C 20 x 3 = 60 due 12-08 (no offset for P's lead time), release 12-07
    assert rows(result) == [
        ("C", "buy", D(60), "2026-12-07", "2026-12-08"),
        ("A", "make", D(10), "2026-12-08", "2026-12-10"),
    ]
    assert pegs(result, "C") == [[("PL-A-1", D(60))]]
    assert kinds(result) == ["phantom_stock"]


def test_phantom_in_an_open_order_passes_its_demand_through():
    plant = plant_of(
        PHANTOM.replace(
            "sales_orders: [{id: SO-1, lines: [{item: A, qty: 10, due: 2026-12-10}]}]",
            "production_orders: [{id: MO-1, item: A, qty: 4, due: 2026-12-10, start: 2026-12-06}]",
        )
    )
    result = run_mrp(plant, 30)
    # MO-1 still needs 4 x 2 = 8 P on 12-06 -> 8 x 3 = 24 C on 12-06, pegged to MO-1
    c = [s for s in result.suggestions if s.item == "C"]
    assert [(s.qty, s.due_date) for s in c] == [(D(24), date(2026, 12, 6))]
    assert c[0].pegging[0].demand == "MO-1"


# ------------------------------------------------------------------------------------ open supply exceptions


def test_open_supply_due_too_late_is_expedited_not_duplicated():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, lead_time_days: 2}]
        purchase_orders: [{id: PO-1, item: A, qty: 50, due: 2026-12-12}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 50, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30)
    # PO-1 is pulled in from 12-12 to 12-05 instead of buying 50 more
    assert result.suggestions == ()
    (exc,) = result.exceptions
    assert (exc.kind, exc.ref, exc.date, exc.suggested_date, exc.demands) == (
        ExceptionKind.RESCHEDULE_IN,
        "PO-1",
        date(2026, 12, 12),
        date(2026, 12, 5),
        ("SO-1/1",),
    )


def test_open_supply_outside_the_reschedule_window_is_replaced_and_excess():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy, lead_time_days: 2}]
        purchase_orders: [{id: PO-1, item: A, qty: 50, due: 2026-12-12}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 50, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30, MrpOptions(reschedule_in_window_days=3))
    # 12-12 is more than 3 working days after 12-05 (12-08): buy 50 new; PO-1 is then not needed at all
    assert rows(result) == [("A", "buy", D(50), "2026-12-03", "2026-12-05")]
    (exc,) = result.exceptions
    assert (exc.kind, exc.ref, exc.qty) == (ExceptionKind.EXCESS, "PO-1", D(50))
    assert exc.message.startswith("cancel")


def test_open_supply_due_too_early_is_postponed():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        purchase_orders: [{id: PO-1, item: A, qty: 30, due: 2026-12-03}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 30, due: 2026-12-10}]}]
    """)
    result = run_mrp(plant, 30)
    (exc,) = result.exceptions
    assert (exc.kind, exc.date, exc.suggested_date) == (
        ExceptionKind.RESCHEDULE_OUT,
        date(2026, 12, 3),
        date(2026, 12, 10),
    )
    # within a tolerance of 7 working days (12-03 + 7 = 12-10) it is left alone
    assert run_mrp(plant, 30, MrpOptions(reschedule_out_tolerance_days=7)).exceptions == ()


def test_open_supply_larger_than_needed_is_excess():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        purchase_orders: [{id: PO-1, item: A, qty: 100, due: 2026-12-05}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 40, due: 2026-12-05}]}]
    """)
    (exc,) = run_mrp(plant, 30).exceptions
    # 100 - 40 = 60 not needed in the horizon
    assert (exc.kind, exc.ref, exc.qty) == (ExceptionKind.EXCESS, "PO-1", D(60))
    assert exc.message.startswith("reduce it by 60")


def test_past_due_open_supply_counts_from_today():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        purchase_orders: [{id: PO-1, item: A, qty: 10, due: 2026-11-25}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 10, due: 2026-12-01}]}]
    """)
    result = run_mrp(plant, 30)
    assert result.suggestions == ()
    (exc,) = result.exceptions
    assert (exc.kind, exc.ref, exc.suggested_date) == (ExceptionKind.PAST_DUE_SUPPLY, "PO-1", TODAY)


def test_open_supply_beyond_the_horizon_is_not_excess():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: buy}]
        purchase_orders: [{id: PO-1, item: A, qty: 10, due: 2027-03-01}]
    """)
    assert run_mrp(plant, 30).exceptions == ()


# ------------------------------------------------------------------------------------ master data


def test_make_item_without_bom_is_planned_and_reported():
    plant = plant_of("""
        today: 2026-12-01
        items: [{code: A, source: make}, {code: S, source: subcontract, lead_time_days: 2}, {code: M, source: buy}]
        boms: [{parent: S, lines: [{component: M, qty: 1}]}]
        sales_orders: [{id: SO-1, lines: [{item: A, qty: 3, due: 2026-12-05}, {item: S, qty: 2, due: 2026-12-05}]}]
    """)
    result = run_mrp(plant, 30)
    assert sorted(rows(result)) == [
        ("A", "make", D(3), "2026-12-05", "2026-12-05"),
        # a subcontract item's materials are due when it is sent out
        ("M", "buy", D(2), "2026-12-03", "2026-12-03"),
        ("S", "subcontract", D(2), "2026-12-03", "2026-12-05"),
    ]
    assert result.suggestions_for("S")[0].action is Action.SUBCONTRACT
    assert kinds(result) == ["missing_bom"]


def test_unknown_items_are_reported_not_raised():
    plant = Plant(
        today=TODAY,
        items={"A": Item("A", source=Source.MAKE)},
        boms={"A": Bom("A", (BomLine("GHOST", D(1)),))},
        demands=(Demand("SO-1", "A", D(2), TODAY), Demand("SO-2", "NOPE", D(1), TODAY)),
        supplies=(Supply("PO-1", "NADA", D(1), TODAY),),
    )
    result = run_mrp(plant, 10)
    assert rows(result) == [("A", "make", D(2), "2026-12-01", "2026-12-01")]
    assert sorted((e.item, str(e.kind)) for e in result.exceptions) == [
        ("GHOST", "unknown_item"),
        ("NADA", "unknown_item"),
        ("NOPE", "unknown_item"),
    ]


def test_bom_cycle_raises_with_its_path():
    plant = Plant(
        today=TODAY,
        items={c: Item(c, source=Source.MAKE) for c in "ABC"},
        boms={
            "A": Bom("A", (BomLine("B", D(1)),)),
            "B": Bom("B", (BomLine("C", D(1)),)),
            "C": Bom("C", (BomLine("A", D(1)),)),
        },
    )
    with pytest.raises(BomCycleError) as err:
        run_mrp(plant, 10)
    assert err.value.path == ["A", "B", "C", "A"]


def test_horizon_must_be_positive(bike):
    with pytest.raises(InvalidInputError):
        run_mrp(bike, 0)


# ------------------------------------------------------------------------------------ net change


def test_net_change_replans_only_below_the_changed_item(bike):
    first = run_mrp(bike, 90)
    # the sales order grows from 12 to 15 bikes
    changed = plant_of(BIKE_YAML.read_text().replace("qty: 12,", "qty: 15,"))
    quick = replan_mrp(changed, first, ["BIKE"])
    full = run_mrp(changed, 90)
    assert quick.suggestions == full.suggestions and quick.exceptions == full.exceptions
    # 15 - 2 = 13 bikes; wheels 26 - 4 = 22; SEAT-B is not below BIKE's primary lines and is not replanned
    assert rows(quick, "BIKE") == [("BIKE", "make", D(13), "2026-12-14", "2026-12-15")]
    assert rows(quick, "WHEEL") == [("WHEEL", "make", D(22), "2026-12-13", "2026-12-14")]
    assert "SEAT-B" not in quick.replanned_items and "SPOKE" in quick.replanned_items


def test_net_change_of_a_component_keeps_its_parents_plan(bike):
    first = run_mrp(bike, 90)
    # 200 more spokes arrive: SPOKE is replanned, BIKE and WHEEL keep their orders and feed SPOKE
    more = plant_of(BIKE_YAML.read_text().replace("{item: SPOKE, qty: 300}", "{item: SPOKE, qty: 500}"))
    quick = replan_mrp(more, first, ["SPOKE"])
    assert quick.replanned_items == frozenset({"SPOKE"})
    # 587.52 - 500 = 87.52 -> minimum 500
    (spoke,) = quick.suggestions_for("SPOKE")
    assert (spoke.qty, spoke.net_qty) == (D(500), D("87.52"))
    assert quick.suggestions_for("WHEEL") == first.suggestions_for("WHEEL")
    assert quick.suggestions == run_mrp(more, 90).suggestions


# ------------------------------------------------------------------------------------ properties

CALENDAR = Calendar(workdays=frozenset(range(5)), holidays=frozenset({date(2026, 12, 8)}))
HORIZON_DAYS = 30
LEVELS = (("F1", "F2"), ("S1", "S2", "S3"), ("R1", "R2", "R3"))


@st.composite
def small_plants(draw) -> Plant:
    """Three levels: finished goods, sub-assemblies (one may be a phantom, one subcontracted), bought parts."""
    qty = st.sampled_from([D(1), D(2), D("0.5"), D(3)])
    items = {}
    for level, codes in enumerate(LEVELS):
        for code in codes:
            if level == 2:
                source = Source.BUY
            elif code == "S3":
                source = Source.SUBCONTRACT
            else:
                source = Source.MAKE
            items[code] = Item(
                code,
                source=source,
                lead_time_days=draw(st.integers(0, 4)),
                safety_stock=draw(st.sampled_from([D(0), D(0), D(5), D("2.5")])),
                min_order_qty=draw(st.sampled_from([D(0), D(0), D(10)])),
                order_multiple=draw(st.sampled_from([D(0), D(0), D(4)])),
                max_order_qty=draw(st.sampled_from([D(0), D(0), D(25)])),
                phantom=code == "S2" and draw(st.booleans()),
                uom=draw(st.sampled_from(["pcs", "kg"])),
            )
    boms = {}
    for level, codes in enumerate(LEVELS[:2]):
        below = [c for lower in LEVELS[level + 1 :] for c in lower]
        for code in codes:
            comps = draw(st.lists(st.sampled_from(below), min_size=1, max_size=3))
            boms[code] = Bom(
                code,
                tuple(
                    BomLine(c, draw(qty), scrap_rate=draw(st.sampled_from([D(0), D("0.1")]))) for c in comps
                ),
            )
    codes = list(items)
    day = st.integers(-3, HORIZON_DAYS + 5).map(lambda n: TODAY + timedelta(days=n))
    demands = tuple(
        Demand(
            f"D{i}",
            draw(st.sampled_from(codes)),
            D(draw(st.integers(1, 40))),
            draw(day),
            draw(st.sampled_from([DemandKind.SALES, DemandKind.DEPENDENT])),
            priority=draw(st.integers(1, 3)),
        )
        for i in range(draw(st.integers(1, 8)))
    )
    supplies = tuple(
        Supply(f"O{i}", draw(st.sampled_from(codes)), D(draw(st.integers(1, 60))), draw(day))
        for i in range(draw(st.integers(0, 5)))
    )
    on_hand = {c: D(draw(st.integers(0, 30))) for c in draw(st.lists(st.sampled_from(codes), max_size=5))}
    return Plant(
        today=TODAY,
        items=items,
        boms=boms,
        on_hand=on_hand,
        supplies=supplies,
        demands=demands,
        calendar=CALENDAR,
    )


def explode_into(plant: Plant, item: str, qty: D, day: date, into: dict[str, list[tuple[date, D]]]) -> None:
    """Requirement of ``qty`` ``item`` on ``day``; a phantom passes it to its components the same day."""
    if plant.items[item].phantom:
        bom = plant.boms[item]
        for line in bom.lines:
            explode_into(plant, line.component, qty * bom.qty_per_parent(line), day, into)
    else:
        into[item].append((day, qty))


def projected_shortfalls(plant: Plant, result: MrpResult) -> list[tuple[str, date, D]]:
    """(item, day, balance - safety stock) wherever the balance dips below safety stock within the horizon,
    with every suggestion received on its due date and every supply message (expedite, postpone,
    reduce) applied. Worked out from the plant, independently of the MRP code."""
    today, end = plant.today, result.horizon_end
    needs: dict[str, list[tuple[date, D]]] = defaultdict(list)
    gets: dict[str, list[tuple[date, D]]] = defaultdict(list)
    for d in plant.demands:
        if d.due <= end:
            explode_into(plant, d.item, d.qty, max(d.due, today), needs)
    for s in result.suggestions:
        gets[s.item].append((s.due_date, s.qty))
        if plant.items[s.item].source is not Source.BUY and s.item in plant.boms:
            bom = plant.boms[s.item]
            for line in bom.lines:
                explode_into(plant, line.component, s.qty * bom.qty_per_parent(line), s.release_date, needs)
    moved = {
        e.ref: e.suggested_date
        for e in result.exceptions
        if e.kind in (ExceptionKind.RESCHEDULE_IN, ExceptionKind.RESCHEDULE_OUT)
    }
    cut = {e.ref: e.qty for e in result.exceptions if e.kind is ExceptionKind.EXCESS}
    for o in plant.supplies:
        if not plant.items[o.item].phantom:
            gets[o.item].append((moved.get(o.id, max(o.due, today)), o.qty - cut.get(o.id, D(0))))
    problems = []
    for code, item in plant.items.items():
        if item.phantom:
            continue
        moves: dict[date, D] = defaultdict(D)
        moves[today] += 0  # the opening balance is checked too, after today's receipts
        for day, q in gets[code]:
            moves[day] += q
        for day, q in needs[code]:
            moves[day] -= q
        balance = plant.on_hand.get(code, D(0))
        for day in sorted(moves):
            balance += moves[day]
            if day <= end and balance < item.safety_stock:
                problems.append((code, day, balance - item.safety_stock))
    return problems


@settings(max_examples=80, deadline=None)
@given(plant=small_plants())
def test_after_all_suggestions_no_balance_is_below_safety_stock(plant):
    result = run_mrp(plant, HORIZON_DAYS)
    assert projected_shortfalls(plant, result) == []
    for s in result.suggestions:
        assert TODAY <= s.release_date <= s.due_date <= result.horizon_end
        assert not plant.items[s.item].phantom
        assert D(0) < s.net_qty <= s.qty
        assert s.net_qty <= sum(p.qty for p in s.pegging) <= s.qty
        assert s.late == (CALENDAR.subtract_workdays(s.due_date, s.lead_time_days) < TODAY)


@settings(max_examples=60, deadline=None)
@given(
    plant=small_plants(),
    extra=st.integers(1, 30),
    item=st.sampled_from(["F1", "S1", "S3", "R2"]),
    offset=st.integers(0, HORIZON_DAYS),
)
def test_net_change_equals_a_regenerative_run(plant, extra, item, offset):
    first = run_mrp(plant, HORIZON_DAYS)
    changed = replace(
        plant, demands=(*plant.demands, Demand("NEW", item, D(extra), TODAY + timedelta(days=offset)))
    )
    quick = replan_mrp(changed, first, [item])
    full = run_mrp(changed, HORIZON_DAYS)
    assert quick.suggestions == full.suggestions
    assert quick.exceptions == full.exceptions
    assert quick.supply_uses == full.supply_uses


def run_day_by_day(plant: Plant, horizon_days: int) -> MrpResult:
    """The same run with the closed-form netting switched off: every item is netted day by day."""
    engine = mrp._Engine(plant, horizon_days, MrpOptions(), vectorize=False)
    reqs = engine.run(None, None)
    return engine.result(mrp.RunMode.REGENERATIVE, frozenset(plant.items), None, reqs)


@settings(max_examples=60, deadline=None)
@given(plant=small_plants())
def test_closed_form_netting_equals_day_by_day_netting(plant):
    fast, slow = run_mrp(plant, HORIZON_DAYS), run_day_by_day(plant, HORIZON_DAYS)
    assert fast.suggestions == slow.suggestions
    assert fast.exceptions == slow.exceptions
    assert fast.supply_uses == slow.supply_uses


def test_goods_in_inspection_or_transit_get_no_reschedule_messages():
    plant = Plant(
        today=TODAY,
        items={"A": Item("A")},
        supplies=(
            Supply("QC/A", "A", D(8), TODAY, SupplyKind.INSPECTION),
            Supply("TR-1", "A", D(5), date(2026, 12, 2), SupplyKind.TRANSIT),
        ),
        demands=(Demand("SO-1", "A", D(20), date(2026, 12, 10)),),
    )
    result = run_mrp(plant, 30)
    # 8 in inspection + 5 in transit, used on 12-10 (not postponed); 20 - 13 = 7 to buy
    assert rows(result) == [("A", "buy", D(7), "2026-12-10", "2026-12-10")]
    assert result.exceptions == ()
    assert [(u.supply, u.used_qty, u.needed_date) for u in result.supply_uses] == [
        ("QC/A", D(8), date(2026, 12, 10)),
        ("TR-1", D(5), date(2026, 12, 10)),
    ]


# ------------------------------------------------------------------------------------ result views

SURPLUS = """
today: 2026-12-01
items:
  - {code: A, source: make, lead_time_days: 1, order_multiple: 10}
  - {code: C, source: buy, lead_time_days: 2}
boms: [{parent: A, lines: [{component: C, qty: 2}]}]
sales_orders:
  - {id: SO-1, lines: [{item: A, qty: 4, due: 2026-12-10}, {item: A, qty: 3, due: 2026-12-20}]}
"""


def test_trace_pegging_reaches_the_end_demands_through_the_parents():
    result = run_mrp(plant_of(SURPLUS), 30)
    # A: 4 on 12-10 -> a lot of 10 (6 left), the 12-20 line takes 3 of them; 3 are lot-size surplus
    (a,) = result.suggestions_for("A")
    assert [(p.demand, p.qty) for p in a.pegging] == [("SO-1/1", D(4)), ("SO-1/2", D(3))]
    # C: 10 x 2 = 20, all for PL-A-1; through A: 8 for SO-1/1, 6 for SO-1/2, 6 for A's surplus
    ends = {(p.demand, p.kind): p.qty for p in trace_pegging(result, "PL-C-1")}
    assert ends == {
        ("SO-1/1", PegKind.SALES): D(8),
        ("SO-1/2", PegKind.SALES): D(6),
        ("PL-A-1", PegKind.PLANNED): D(6),
    }
    with pytest.raises(InvalidInputError):
        trace_pegging(result, "PL-C-9")


def test_result_views_page_without_building_everything():
    plant = plant_of("""
        today: 2026-12-01
        items:
          - {code: A, source: buy, lead_time_days: 3}
          - {code: B, source: buy, lead_time_days: 0}
        purchase_orders: [{id: PO-1, item: B, qty: 5, due: 2026-12-02}]
        sales_orders:
          - {id: SO-1, lines: [{item: A, qty: 1, due: 2026-12-02}, {item: A, qty: 1, due: 2026-12-03},
                               {item: B, qty: 1, due: 2026-12-09}, {item: A, qty: 1, due: 2026-12-20}]}
    """)
    result = run_mrp(plant, 30)
    # A: 12-02 and 12-03 are late (3 working days back is before today), 12-20 is not; B: PO-1 covers 1
    assert (result.suggestion_count, result.late_count(), result.planned_items) == (3, 2, ("A",))
    first = result.earliest_suggestions(2)
    # both late ones are released today; then by item and due date
    assert [(s.id, s.release_date) for s in first] == [("PL-A-1", TODAY), ("PL-A-2", TODAY)]
    assert result.order("PL-A-3").due_date == date(2026, 12, 20)
    assert result.order("PL-A-4") is None and result.order("PO-1") is None
    page, counts = result.exception_page(2)
    # 4 exceptions: 2 late (12-02, 12-03), PO-1 postponed 12-02 -> 12-09 and 4 of it excess
    assert counts == {"excess": 1, "late": 2, "reschedule_out": 1}
    assert [(e.kind, e.ref, e.date) for e in page] == [
        (ExceptionKind.LATE, "PL-A-1", date(2026, 12, 2)),
        (ExceptionKind.EXCESS, "PO-1", date(2026, 12, 2)),
    ]
    assert [e.kind for e in result.exception_page(10, item="B")[0]] == [
        ExceptionKind.EXCESS,
        ExceptionKind.RESCHEDULE_OUT,
    ]
