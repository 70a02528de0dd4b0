"""Kitting (齐套分析): buildable quantity, limiting items, multi-level shortages, combined checks."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ortools.linear_solver import pywraplp

from planning.errors import InvalidInputError
from planning.kitting import check_kitting, check_kitting_multi, free_stock
from planning.model import Bom, BomLine, Item, Plant, Source
from tests.helpers import plant_of


def rows(shortages) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(s.item, s.level, s.required, s.available, s.short) for s in shortages]


def test_bike_buildable_is_limited_by_seat(bike: Plant) -> None:
    result = check_kitting(bike, "BIKE")
    # WHEEL: 4 in stock + 6 buildable (RIM 6; SPOKE 300/36.72 = 8; TIRE 20) = 10 → 5 bikes; FRAME 10; SEAT 4 → 4
    assert result.on_hand == D(2)  # reported, not added
    assert result.buildable_qty == 4
    assert result.limiting_items == ("SEAT",)
    assert rows(result.limiting) == [("SEAT", 1, D(5), D(4), D(1))]
    assert [(b.item, b.qty) for b in result.builds] == [("WHEEL", D(4))]  # 8 wheels − 4 in stock
    assert result.qty is None and result.complete is None and result.shortages == ()


def test_bike_with_substitutes_is_limited_by_wheel_then_rim(bike: Plant) -> None:
    result = check_kitting(bike, "BIKE", use_substitutes=True)
    # SEAT 4 + SEAT-B 3 = 7; wheels 10 → 5 bikes. A 6th needs 12 wheels: 4 + 8 built, RIM 6 of 8 → short 2
    assert result.buildable_qty == 5
    assert result.limiting_items == ("WHEEL", "RIM")
    assert [(s.substitute, s.qty) for s in result.substitutions] == [("SEAT-B", D(1))]


def test_bike_shortages_for_six_list_the_wheel_and_its_leaf_cause(bike: Plant) -> None:
    result = check_kitting(bike, "BIKE", D(6))
    # SEAT 6 needed, 4 on hand → short 2. WHEEL 12 needed: 4 in stock, 8 to build, RIM 6 → only 6 more → short 2.
    assert rows(result.shortages) == [  # by level, then in BOM order
        ("WHEEL", 1, D(12), D(10), D(2)),
        ("SEAT", 1, D(6), D(4), D(2)),
        ("RIM", 2, D(8), D(6), D(2)),
    ]
    wheel = result.shortages[0]
    assert wheel.is_subassembly and wheel.to_build == D(8) and wheel.on_hand == D(4)
    assert result.shortages[2].parents == ("WHEEL",)
    assert result.complete is False and result.buildable_qty == 4


def test_bike_shortages_for_six_with_substitutes(bike: Plant) -> None:
    result = check_kitting(bike, "BIKE", D(6), use_substitutes=True)
    assert rows(result.shortages) == [("WHEEL", 1, D(12), D(10), D(2)), ("RIM", 2, D(8), D(6), D(2))]
    assert [(s.substitute, s.qty) for s in result.substitutions] == [("SEAT-B", D(2))]


def test_committed_stock_is_not_free(bike: Plant) -> None:
    assert free_stock(bike, {"SEAT": D(3), "RIM": D(9)})["SEAT"] == D(1)
    assert "RIM" not in free_stock(bike, {"RIM": D(9)})
    assert check_kitting(bike, "BIKE", committed={"SEAT": D(2)}).buildable_qty == 2
    # the 4 stocked wheels are promised elsewhere: wheels come from RIM 6 only → 3 bikes
    result = check_kitting(bike, "BIKE", committed={"WHEEL": D(4)})
    assert result.buildable_qty == 3
    assert result.limiting_items == ("WHEEL", "RIM")


def test_shared_component_is_counted_once_for_both_sub_assemblies() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: A, source: make}, {code: B, source: make}, {code: X}]
boms:
  - {parent: P, lines: [{component: A, qty: 1}, {component: B, qty: 1}]}
  - {parent: A, lines: [{component: X, qty: 2}]}
  - {parent: B, lines: [{component: X, qty: 3}]}
stock: [{item: X, qty: 20}, {item: A, qty: 2}]
""")
    result = check_kitting(plant, "P")
    # N: X = 2 × (N − 2) + 3 × N ≤ 20 → N = 4 (4 + 12 = 16); N = 5 needs 6 + 15 = 21
    assert result.buildable_qty == 4
    x = next(s for s in result.limiting if s.item == "X")
    assert (x.required, x.short, x.parents) == (D(21), D(1), ("A", "B"))
    assert [(b.item, b.qty) for b in result.builds] == [("A", D(2)), ("B", D(4))]


def test_component_used_on_two_levels_is_netted_once() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: S, source: make}, {code: X}]
boms:
  - {parent: P, lines: [{component: X, qty: 1}, {component: S, qty: 1}]}
  - {parent: S, lines: [{component: X, qty: 1}]}
stock: [{item: X, qty: 3}, {item: S, qty: 1}]
""")
    result = check_kitting(plant, "P")
    # N: X = N (direct) + (N − 1) (through S) ≤ 3 → N = 2. For 3: S 3 = 1 stocked + 2 built, X 3 + 2 = 5 → short 2;
    # the 2 S to build consume 2 X, so all of them may be blocked: S short min(2, 2) × 2 / 2 = 2
    assert result.buildable_qty == 2
    assert rows(result.limiting) == [("S", 1, D(3), D(1), D(2)), ("X", 2, D(5), D(3), D(2))]


def test_output_batch_and_phantom_in_kitting() -> None:
    plant = plant_of("""
items:
  - {code: P, source: make}
  - {code: S, source: make}
  - {code: PH, source: make, phantom: true}
  - {code: X}
  - {code: Y}
boms:
  - {parent: P, lines: [{component: S, qty: 5}, {component: PH, qty: 2}]}
  - {parent: S, output_qty: 10, lines: [{component: X, qty: 1}]}
  - {parent: PH, lines: [{component: Y, qty: 3}]}
stock: [{item: X, qty: 2}, {item: Y, qty: 100}, {item: PH, qty: 50}]
""")
    result = check_kitting(plant, "P")
    # X: 5 S × 1/10 = 0.5 per P → 4; Y: 2 × 3 = 6 per P → 16; the phantom's own stock is never used
    assert result.buildable_qty == 4
    assert result.limiting_items == ("S", "X")
    shortages = check_kitting(plant, "P", D(20)).shortages
    assert "PH" not in {s.item for s in shortages}
    assert ("Y", 1, D(120), D(100), D(20)) in rows(shortages)  # the phantom's component, at its level


def test_large_quantities_are_found_exactly() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: X}]
boms: [{parent: P, lines: [{component: X, qty: 3}]}]
stock: [{item: X, qty: 1000000000}]
""")
    assert check_kitting(plant, "P").buildable_qty == 333_333_333


def test_kitting_rejects_items_without_bom_and_bad_quantities(bike: Plant) -> None:
    with pytest.raises(InvalidInputError):
        check_kitting(bike, "RIM")
    with pytest.raises(InvalidInputError):
        check_kitting(bike, "NOPE")
    with pytest.raises(InvalidInputError):
        check_kitting(bike, "BIKE", D(0))
    with pytest.raises(InvalidInputError):
        check_kitting_multi(bike, [])


def test_multi_product_kit_shares_components_in_order(bike: Plant) -> None:
    result = check_kitting_multi(bike, [("BIKE", D(3)), ("WHEEL", D(5))])
    # 3 bikes: 6 wheels = 4 stocked + 2 built (RIM 2). Then WHEEL orders are built, not taken from stock:
    # RIM 4 left → 4 wheels. Together: RIM 2 + 5 = 7 > 6 → short 1
    assert [(a.item, a.buildable_qty, a.complete) for a in result.requests] == [
        ("BIKE", 3, True),
        ("WHEEL", 4, False),
    ]
    assert rows(result.shortages) == [("RIM", 2, D(7), D(6), D(1))]
    assert result.complete is False and result.limiting_items == ("RIM",)
    reverse = check_kitting_multi(bike, [("WHEEL", D(5)), ("BIKE", D(3))])
    # 5 wheels take 5 RIM; bikes: 4 stocked wheels + 1 built → 2 bikes (2.5 rounded down)
    assert [(a.item, a.buildable_qty) for a in reverse.requests] == [("WHEEL", 5), ("BIKE", 2)]


def test_multi_product_kit_with_a_shared_leaf() -> None:
    plant = plant_of("""
items: [{code: P1, source: make}, {code: P2, source: make}, {code: X}]
boms:
  - {parent: P1, lines: [{component: X, qty: 2}]}
  - {parent: P2, lines: [{component: X, qty: 3}]}
stock: [{item: X, qty: 10}]
""")
    result = check_kitting_multi(plant, [("P1", D(3)), ("P2", D(2))])
    # P1 3 × 2 = 6; 4 left → P2 1. Together 6 + 6 = 12 > 10 → X short 2
    assert [(a.item, a.buildable_qty) for a in result.requests] == [("P1", 3), ("P2", 1)]
    assert rows(result.shortages) == [("X", 1, D(12), D(10), D(2))]


# --- properties: the answer is feasible and maximal, checked by an independent LP --------------------------

QTYS = [D(1), D(2), D(3), D("0.5"), D("1.5")]
OUTPUTS = [D(1), D(1), D(2), D(4)]


@st.composite
def stocked_plants(draw: st.DrawFn) -> Plant:
    n = draw(st.integers(2, 7))
    codes = [f"I{i}" for i in range(n)]
    boms = {}
    for i in range(n - 1):
        children = draw(st.lists(st.integers(i + 1, n - 1), min_size=1 if i == 0 else 0, max_size=3))
        if children and (i == 0 or draw(st.booleans())):
            lines = tuple(
                BomLine(
                    component=codes[c],
                    qty=draw(st.sampled_from(QTYS)),
                    scrap_rate=draw(st.sampled_from([D(0), D("0.1")])),
                )
                for c in children
            )
            boms[codes[i]] = Bom(parent=codes[i], lines=lines, output_qty=draw(st.sampled_from(OUTPUTS)))
    items = {
        code: Item(
            code=code,
            source=Source.MAKE if code in boms else Source.BUY,
            phantom=i > 0 and code in boms and draw(st.integers(0, 4)) == 0,
        )
        for i, code in enumerate(codes)
    }
    on_hand = {code: D(draw(st.integers(0, 40))) for code in codes[1:]}
    return Plant(today=None, items=items, boms=boms, on_hand=on_hand)  # type: ignore[arg-type]


def feasible_by_lp(plant: Plant, top: str, qty: int) -> bool:
    """Is there a build plan b ≥ 0 with every item's use ≤ stock + builds? (raw BOMs; phantoms hold no stock)"""
    solver = pywraplp.Solver.CreateSolver("GLOP")
    build = {code: solver.NumVar(0, solver.infinity(), code) for code in plant.boms if code != top}
    use: dict[str, list] = {}
    for parent, bom in plant.boms.items():
        driver = qty if parent == top else build[parent]
        for line in bom.lines:
            use.setdefault(line.component, []).append(float(bom.qty_per_parent(line)) * driver)
    for code, terms in use.items():
        stock = 0.0 if plant.items[code].phantom else float(plant.on_hand.get(code, D(0)))
        solver.Add(sum(terms) <= stock + build.get(code, 0) + 1e-9)
    return solver.Solve() == pywraplp.Solver.OPTIMAL


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plant=stocked_plants())
def test_kitting_result_is_feasible_and_one_more_is_not(plant: Plant) -> None:
    result = check_kitting(plant, "I0")
    assert feasible_by_lp(plant, "I0", result.buildable_qty)
    assert not feasible_by_lp(plant, "I0", result.buildable_qty + 1)
    assert result.limiting  # something always stops one more
    if result.buildable_qty:
        assert check_kitting(plant, "I0", D(result.buildable_qty)).shortages == ()
    assert check_kitting(plant, "I0", D(result.buildable_qty + 1)).shortages == result.limiting
