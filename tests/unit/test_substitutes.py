"""Substitutes: ratio, priority, lowest cost, no mixing, shared substitutes, and the CP-SAT plan behind them."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.bom import bom_index
from planning.kitting import check_kitting, check_kitting_multi, free_stock, recommend_substitutes
from planning.model import Bom, BomLine, Item, Plant, Source, Substitute
from planning.substitutes import SubstituteStrategy, plan_substitutes
from tests.helpers import plant_of

# A needs 1 X; 2 Y may replace each X
RATIO_PLANT = """
items: [{code: A, source: make}, {code: X, unit_cost: 2}, {code: Y, unit_cost: 0.5}]
boms:
  - {parent: A, lines: [{component: X, qty: 1, substitutes: [{item: Y, ratio: 2}]}]}
stock: [{item: X, qty: 3}, {item: Y, qty: 10}]
"""

# A needs 1 X; Y1 (priority 1) or Y2 (priority 2) replace it one for one
PRIORITY_PLANT = """
items: [{code: A, source: make}, {code: X, unit_cost: 2}, {code: Y1, unit_cost: 5}, {code: Y2, unit_cost: 1}]
boms:
  - {parent: A, lines: [{component: X, qty: 1, substitutes: [{item: Y1}, {item: Y2}]}]}
stock: [{item: X, qty: 3}, {item: Y1, qty: 2}, {item: Y2, qty: 10}]
"""


def forbid_mix(plant: Plant, parent: str, component: str) -> Plant:
    bom = plant.boms[parent]
    lines = tuple(replace(ln, allow_mix=False) if ln.component == component else ln for ln in bom.lines)
    return replace(plant, boms={**plant.boms, parent: replace(bom, lines=lines)})


def test_ratio_two_substitute_doubles_the_quantity() -> None:
    plant = plant_of(RATIO_PLANT)
    assert check_kitting(plant, "A").buildable_qty == 3
    result = check_kitting(plant, "A", use_substitutes=True)
    assert result.buildable_qty == 8  # 3 from X + 10 Y / 2
    assert result.limiting_items == ("X",)
    six = check_kitting(plant, "A", D(6), use_substitutes=True)
    # X covers 3; the other 3 take 3 × 2 = 6 Y
    assert six.complete and six.shortages == ()
    assert [(s.substitute, s.qty, s.replaces_qty) for s in six.substitutions] == [("Y", D(6), D(3))]


def test_no_mixing_takes_one_material_for_the_whole_build() -> None:
    plant = forbid_mix(plant_of(RATIO_PLANT), "A", "X")
    result = check_kitting(plant, "A", use_substitutes=True)
    assert result.buildable_qty == 5  # all Y: 10 / 2; all X would give only 3
    assert [(s.substitute, s.qty) for s in result.substitutions] == [("Y", D(10))]
    recommendation = recommend_substitutes(plant, "A", D(4))
    (cover,) = recommendation.covers
    # 4 needed, X has 3 and may not be mixed: all 4 from Y (8 units), none from X
    assert (cover.required, cover.main_qty, cover.allow_mix) == (D(4), D(0), False)
    assert [(s.substitute, s.qty) for s in cover.substitutes] == [("Y", D(8))]
    assert recommendation.complete
    assert [(s.item, s.short) for s in recommendation.shortages_without] == [("X", D(1))]


def test_priority_strategy_uses_the_main_first_then_substitutes_in_order() -> None:
    recommendation = recommend_substitutes(plant_of(PRIORITY_PLANT), "A", D(7))
    (cover,) = recommendation.covers
    # X 3, then Y1 all 2, then Y2 the last 2
    assert cover.main_qty == D(3)
    assert [(s.substitute, s.priority, s.qty) for s in cover.substitutes] == [
        ("Y1", 1, D(2)),
        ("Y2", 2, D(2)),
    ]
    assert recommendation.shortages_with == ()


def test_lowest_cost_strategy_takes_the_cheapest_material() -> None:
    recommendation = recommend_substitutes(
        plant_of(PRIORITY_PLANT), "A", D(7), strategy=SubstituteStrategy.LOWEST_COST
    )
    (cover,) = recommendation.covers
    # per unit of X: X 2, Y1 5, Y2 1 → all 7 from Y2 (10 in stock)
    assert cover.main_qty == D(0)
    assert [(s.substitute, s.qty) for s in cover.substitutes] == [("Y2", D(7))]


def test_lines_sharing_a_substitute_are_decided_together() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: A}, {code: B}, {code: Z}]
boms:
  - parent: P
    lines:
      - {component: A, qty: 1, substitutes: [{item: Z}]}
      - {component: B, qty: 1, substitutes: [{item: Z}]}
stock: [{item: B, qty: 3}, {item: Z, qty: 6}]
""")
    result = check_kitting(plant, "P", use_substitutes=True)
    # N: A takes N of Z, B takes N − 3 of Z: 2N − 3 ≤ 6 → N = 4 (Z 4 + 1 = 5)
    assert result.buildable_qty == 4
    assert sorted((s.component, s.qty) for s in result.substitutions) == [("A", D(4)), ("B", D(1))]
    assert set(result.limiting_items) <= {"A", "B", "Z"}


def test_substitute_two_levels_down(bike: Plant) -> None:
    wheel = bike.boms["WHEEL"]
    lines = tuple(
        replace(ln, substitutes=(Substitute("RIM-B"),)) if ln.component == "RIM" else ln for ln in wheel.lines
    )
    plant = replace(
        bike,
        items={**bike.items, "RIM-B": Item(code="RIM-B", unit_cost=D(9))},
        boms={**bike.boms, "WHEEL": replace(wheel, lines=lines)},
        on_hand={**bike.on_hand, "RIM-B": D(2)},
    )
    result = check_kitting(plant, "BIKE", use_substitutes=True)
    # SEAT 4 + SEAT-B 3 = 7; wheels 4 + (RIM 6 + RIM-B 2) = 12 → 6; one more needs 14 wheels → short
    assert result.buildable_qty == 6
    assert sorted((s.substitute, s.qty) for s in result.substitutions) == [("RIM-B", D(2)), ("SEAT-B", D(2))]


def test_bike_recommendation_covers_the_seat_but_not_the_wheels(bike: Plant) -> None:
    recommendation = recommend_substitutes(bike, "BIKE", D(6))
    assert [
        (c.component, c.main_qty, [(s.substitute, s.qty) for s in c.substitutes])
        for c in recommendation.covers
    ] == [("SEAT", D(4), [("SEAT-B", D(2))])]
    assert [(s.item, s.short) for s in recommendation.shortages_with] == [("WHEEL", D(2)), ("RIM", D(2))]
    assert not recommendation.complete
    nothing_to_substitute = recommend_substitutes(bike, "WHEEL", D(1))
    assert nothing_to_substitute.covers == () and nothing_to_substitute.complete


def test_multi_product_kit_with_substitutes(bike: Plant) -> None:
    result = check_kitting_multi(bike, [("BIKE", D(5)), ("BIKE", D(1))], use_substitutes=True)
    # the same product twice adds up: 6 bikes, of which 5 can be built
    assert [(a.item, a.qty, a.buildable_qty) for a in result.requests] == [("BIKE", D(6), 5)]
    assert result.limiting_items == ("WHEEL", "RIM")


def test_plan_is_repeatable_and_fractional_quantities_are_exact(bike: Plant) -> None:
    index = bom_index(bike)
    avail = free_stock(bike)
    first = plan_substitutes(index, avail, {}, "BIKE")
    again = plan_substitutes(index, avail, {}, "BIKE")
    assert first == again and first.status == "optimal"
    # 5 bikes: 10 wheels, 4 in stock, 6 built: SPOKE 6 × 36.72 = 220.32 exactly
    assert first.builds["WHEEL"] == D(6) and first.required["SPOKE"] == D("220.32")


# --- properties ---------------------------------------------------------------------------------------------


@st.composite
def plants_with_substitutes(draw: st.DrawFn) -> Plant:
    """P ← (S, leaves); S ← leaves; some lines get a substitute (ratio 1, 2 or 0.5) that may be out of stock."""
    leaves = ["L1", "L2", "L3", "L4"]
    subs = ["Z1", "Z2"]

    def lines(count: int) -> tuple[BomLine, ...]:
        out = []
        for code in draw(st.lists(st.sampled_from(leaves), min_size=1, max_size=count, unique=True)):
            substitutes = ()
            if draw(st.booleans()):
                substitutes = (
                    Substitute(
                        draw(st.sampled_from(subs)), ratio=draw(st.sampled_from([D(1), D(2), D("0.5")]))
                    ),
                )
            out.append(
                BomLine(
                    code,
                    D(draw(st.integers(1, 3))),
                    substitutes=substitutes,
                    allow_mix=draw(st.integers(0, 3)) > 0,
                )
            )
        return tuple(out)

    boms = {"S": Bom("S", lines(2)), "P": Bom("P", (BomLine("S", D(draw(st.integers(1, 2)))), *lines(2)))}
    items = {
        code: Item(code, source=Source.MAKE if code in boms else Source.BUY)
        for code in ["P", "S", *leaves, *subs]
    }
    on_hand = {code: D(draw(st.integers(0, 12))) for code in ["S", *leaves, *subs]}
    return Plant(today=None, items=items, boms=boms, on_hand=on_hand)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plant=plants_with_substitutes())
def test_substitutes_never_build_fewer_and_the_plan_fits_the_stock(plant: Plant) -> None:
    without = check_kitting(plant, "P").buildable_qty
    result = check_kitting(plant, "P", use_substitutes=True)
    assert result.buildable_qty >= without
    plan = plan_substitutes(bom_index(plant), free_stock(plant), {"P": D(result.buildable_qty)})
    assert plan.short == {}
    for code, used in plan.required.items():
        assert used <= plant.on_hand.get(code, D(0)) + plan.builds.get(code, D(0))
    one_more = plan_substitutes(bom_index(plant), free_stock(plant), {"P": D(result.buildable_qty + 1)})
    assert sum(one_more.short.values()) > 0
    no_stock = replace(plant, on_hand={c: q for c, q in plant.on_hand.items() if c not in ("Z1", "Z2")})
    assert (
        check_kitting(no_stock, "P", use_substitutes=True).buildable_qty
        == check_kitting(no_stock, "P").buildable_qty
    )
