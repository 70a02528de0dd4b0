"""Shortage analysis: allocation by priority and date, receipts covering the rest, substitutes, phantoms."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.bom import BomIndex
from planning.dataset import plant_from_dict
from planning.errors import InvalidInputError
from planning.model import Demand, DemandKind, Substitute, Supply, SupplyKind
from planning.shortages import (
    ComponentRequirement,
    OrderKind,
    OrderRequirements,
    analyze_shortages,
    explode_phantom_demands,
    explode_phantoms,
)
from tests.helpers import bike_plant

TODAY = date(2026, 12, 1)


def day(n: int) -> date:
    return date(2026, 12, n)


def mo(components, need: date = day(5), priority: int = 5) -> OrderRequirements:
    return OrderRequirements("MO-1", OrderKind.PRODUCTION, need, tuple(components), priority=priority)


OTHERS = [
    Demand("MO-2", "C", D(30), day(10), DemandKind.DEPENDENT, priority=1),
    Demand("MO-3", "C", D(50), day(3), DemandKind.DEPENDENT, priority=5),
    Demand("MO-4", "C", D(40), day(20), DemandKind.DEPENDENT, priority=5),
    Demand("FC-1", "C", D(999), day(2), DemandKind.FORECAST),
    Demand("MO-1", "C", D(100), day(5), DemandKind.DEPENDENT),  # the analysed order itself
]
RECEIPTS = [
    Supply("PO-2", "C", D(100), day(8)),
    Supply("PO-1", "C", D(40), day(4)),
    Supply("PO-3", "C", D(10), day(30)),
]


def test_stock_goes_to_orders_ranked_ahead_then_receipts_cover_the_rest():
    report = analyze_shortages(
        mo([ComponentRequirement("C", D(120), issued_qty=D(20))]), {"C": D(100)}, RECEIPTS, OTHERS, TODAY
    )
    (c,) = report.components
    # ranking: MO-2 (priority 1), MO-3 (priority 5, due 12-03), MO-1 (priority 5, 12-05), then MO-4 (12-20);
    # the forecast holds no stock. Stock 100: MO-2 30, MO-3 50 -> 20 left for MO-1.
    # MO-1 still needs 120 - 20 issued = 100 -> short 80
    assert (c.required, c.issued, c.remaining, c.on_hand) == (D(120), D(20), D(100), D(100))
    assert (c.allocated_to_others, c.available, c.short) == (D(80), D(20), D(80))
    assert [(a.demand, a.qty) for a in c.allocations] == [("MO-2", D(30)), ("MO-3", D(50))]
    # receipts earliest first: PO-1 40 on 12-04 (in time), PO-2 40 of 100 on 12-08 (late for 12-05)
    assert [(r.supply, r.qty, r.due, r.late) for r in c.expected_receipts] == [
        ("PO-1", D(40), day(4), False),
        ("PO-2", D(40), day(8), True),
    ]
    assert (c.uncovered, c.covered_date) == (D(0), day(8))
    assert report.shortages == (c,)
    assert report.ready_date == day(8)


def test_orders_ahead_take_receipts_first():
    report = analyze_shortages(mo([ComponentRequirement("C", D(100))]), {"C": D(10)}, RECEIPTS, OTHERS, TODAY)
    (c,) = report.components
    # stock 10 -> MO-2 (needs 30, still 20); MO-3 needs 50; MO-1 gets nothing: short 100
    # PO-1 40: MO-2 20, MO-3 20; PO-2 100: MO-3 30, MO-1 70; PO-3 10: MO-1 10 -> 20 never covered
    assert (c.available, c.short) == (D(0), D(100))
    assert [(a.demand, a.qty) for a in c.allocations] == [
        ("MO-2", D(10)),
        ("MO-2", D(20)),
        ("MO-3", D(20)),
        ("MO-3", D(30)),
    ]
    assert [(r.supply, r.qty) for r in c.expected_receipts] == [("PO-2", D(70)), ("PO-3", D(10))]
    assert (c.uncovered, c.covered_date) == (D(20), None)
    assert report.ready_date is None


def test_a_more_urgent_order_is_ahead_of_the_others():
    report = analyze_shortages(
        mo([ComponentRequirement("C", D(100))], priority=1, need=day(2)),
        {"C": D(100)},
        RECEIPTS,
        OTHERS,
        TODAY,
    )
    # priority 1 due 12-02 ranks before MO-2 (priority 1, 12-10): all 100 in stock is free
    (c,) = report.components
    assert (c.allocated_to_others, c.available, c.short, c.covered_date) == (D(0), D(100), D(0), TODAY)
    assert report.shortages == ()
    assert report.ready_date == TODAY


def test_substitutes_cover_a_shortage_in_priority_order():
    line = ComponentRequirement(
        "X", D(30), substitutes=(Substitute("Y", D("1.25"), 1), Substitute("Z", D(1), 2))
    )
    others = [Demand("SO-7/1", "Y", D(10), day(2), priority=3)]
    stock = {"X": D(0), "Y": D(50), "Z": D(100)}
    plain = analyze_shortages(mo([line]), stock, [], others, TODAY)
    assert plain.components[0].short == D(30)
    report = analyze_shortages(mo([line]), stock, [], others, TODAY, use_substitutes=True)
    (x,) = report.components
    # Y: 50 - 10 for SO-7/1 (ahead) = 40 free, covering 40 / 1.25 = 32 X; 30 needed -> 37.5 Y
    assert [(s.item, s.qty, s.covers) for s in x.substitutes] == [("Y", D("37.5"), D(30))]
    assert (x.available, x.short, x.covered_date) == (D(30), D(0), TODAY)


def test_several_rows_of_one_item_are_added_up():
    report = analyze_shortages(
        mo([ComponentRequirement("C", D(10)), ComponentRequirement("C", D(15), D(5), need_date=day(3))]),
        {"C": D(12)},
        [],
        [],
        TODAY,
    )
    (c,) = report.components
    # 10 + 15 required, 5 issued -> 20 to issue, earliest need 12-03; 12 in stock -> short 8
    assert (c.required, c.remaining, c.need_date, c.short) == (D(25), D(20), day(3), D(8))


def test_sales_order_lines_are_analysed_like_components():
    so = OrderRequirements(
        "SO-100",
        OrderKind.SALES,
        day(15),
        (ComponentRequirement("BIKE", D(12), issued_qty=D(1)),),
        priority=5,
        demand_ids=frozenset({"SO-100/1"}),
    )
    demands = [Demand("SO-100/1", "BIKE", D(11), day(15)), Demand("SO-050/1", "BIKE", D(1), day(10))]
    supplies = [Supply("MO-9", "BIKE", D(20), day(14), SupplyKind.PRODUCTION)]
    (bike,) = analyze_shortages(so, {"BIKE": D(2)}, supplies, demands, TODAY).components
    # 12 - 1 shipped = 11; SO-050 (due earlier) takes 1 of 2 -> 1 free, short 10, MO-9 brings 10 on 12-14
    assert (bike.available, bike.short) == (D(1), D(10))
    assert [(r.supply, r.kind, r.qty, r.late) for r in bike.expected_receipts] == [
        ("MO-9", SupplyKind.PRODUCTION, D(10), False)
    ]


def test_order_without_components_is_invalid():
    with pytest.raises(InvalidInputError):
        analyze_shortages(mo([]), {}, [], [], TODAY)


PHANTOM = """
today: 2026-12-01
items:
  - {code: A, source: make}
  - {code: P, source: make, phantom: true}
  - {code: C, source: buy}
  - {code: D, source: buy}
boms:
  - {parent: A, lines: [{component: P, qty: 2}, {component: D, qty: 1}]}
  - {parent: P, lines: [{component: C, qty: 3}]}
"""


def test_phantoms_are_exploded_into_their_components():
    index = BomIndex.for_plant(plant_from_dict(yaml.safe_load(PHANTOM)))
    rows = explode_phantoms([ComponentRequirement("P", D(8), D(2)), ComponentRequirement("D", D(4))], index)
    # P 8 (2 issued) -> C 24 (6 issued)
    assert [(r.item, r.required_qty, r.issued_qty) for r in rows] == [("C", D(24), D(6)), ("D", D(4), D(0))]
    demands = explode_phantom_demands([Demand("MO-5", "P", D(2), day(4), DemandKind.DEPENDENT)], index)
    assert [(d.id, d.item, d.qty) for d in demands] == [("MO-5", "C", D(6))]


def test_bike_factory_sales_order_shortage():
    plant = bike_plant()
    so = OrderRequirements(
        "SO-100",
        OrderKind.SALES,
        day(15),
        (ComponentRequirement("BIKE", D(12)),),
        demand_ids=frozenset({"SO-100/1"}),
    )
    (bike,) = analyze_shortages(so, plant.on_hand, plant.supplies, plant.demands, plant.today).components
    # 12 bikes, 2 in stock, no open supply -> 10 short, none covered
    assert (bike.available, bike.short, bike.uncovered, bike.covered_date) == (D(2), D(10), D(10), None)


@settings(max_examples=100, deadline=None)
@given(
    stock=st.integers(0, 100),
    others=st.lists(st.tuples(st.integers(1, 60), st.integers(1, 9), st.integers(1, 28)), max_size=6),
    receipts=st.lists(st.tuples(st.integers(1, 80), st.integers(1, 28)), max_size=4),
    required=st.integers(1, 120),
    issued=st.integers(0, 30),
    priority=st.integers(1, 9),
)
def test_quantities_are_conserved(stock, others, receipts, required, issued, priority):
    demands = [
        Demand(f"MO-{n + 2}", "C", D(q), day(d), DemandKind.DEPENDENT, priority=p)
        for n, (q, p, d) in enumerate(others)
    ]
    supplies = [Supply(f"PO-{n}", "C", D(q), day(d)) for n, (q, d) in enumerate(receipts)]
    order = mo([ComponentRequirement("C", D(required), D(min(issued, required)))], priority=priority)
    (c,) = analyze_shortages(order, {"C": D(stock)}, supplies, demands, TODAY).components
    assert c.available + c.short == c.remaining
    assert c.allocated_to_others + c.available <= stock
    # stock is only held back for orders ahead, and only up to what they need
    assert c.allocated_to_others == min(
        D(stock),
        sum((d.qty for d in demands if (d.priority, d.due, d.id) < (priority, day(5), "MO-1")), D(0)),
    )
    assert sum((r.qty for r in c.expected_receipts), D(0)) + c.uncovered == c.short
    assert sum((r.qty for r in c.expected_receipts), D(0)) <= sum((s.qty for s in supplies), D(0))
    assert (c.covered_date is None) == (c.uncovered > 0)
