"""BOM cost roll-up: buy prices, subcontract fees, make items through BOM and routing, setup spread over the lot."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from planning.bom_cost import CostBasis, CostLineKind, get_bom_cost, get_item_unit_costs
from planning.errors import InvalidInputError
from planning.model import Plant
from tests.helpers import bike_factory_data, plant_of

BIKE = bike_factory_data()


def with_wheel_routing(min_order_qty: int = 0) -> Plant:
    """The bike plant plus lacing wheels: 60 min setup, 6 min a wheel, at 30 per hour."""
    data = {
        **BIKE,
        "work_centers": [{"code": "LACE", "cost_per_hour": 30}, {"code": "FREE", "cost_per_hour": 0}],
        "routings": [
            {
                "item": "WHEEL",
                "operations": [
                    {"seq": 10, "work_center": "LACE", "setup_minutes": 60, "run_minutes_per_unit": 6},
                    {"seq": 20, "work_center": "FREE", "setup_minutes": 5, "run_minutes_per_unit": 1},
                ],
            },
        ],
    }
    if min_order_qty:
        data["items"] = [
            {**row, "min_order_qty": min_order_qty} if row["code"] == "WHEEL" else row
            for row in BIKE["items"]
        ]
    return plant_of(data)


def test_bike_cost_matches_acceptance() -> None:
    cost = get_bom_cost(plant_of(BIKE), "BIKE")
    # WHEEL = RIM 8 + SPOKE 36.72 × 0.2 + TIRE 6 = 21.344; BIKE = FRAME 50 + 2 × 21.344 + SEAT 10 = 102.688
    assert cost.unit_cost == D("102.688")
    assert cost.item_costs["WHEEL"] == D("21.344")
    assert cost.total_cost == D("102.688")
    assert cost.material_cost == D("102.688") and cost.operation_cost == 0 and cost.subcontract_fee_cost == 0
    assert [(ln.level, ln.item, ln.parent, ln.qty, ln.unit_cost, ln.extended_cost) for ln in cost.lines] == [
        (1, "FRAME", "BIKE", D(1), D(50), D(50)),
        (1, "WHEEL", "BIKE", D(2), D("21.344"), D("42.688")),
        (1, "SEAT", "BIKE", D(1), D(10), D(10)),
        (2, "RIM", "WHEEL", D(2), D(8), D(16)),
        (2, "SPOKE", "WHEEL", D("73.44"), D("0.2"), D("14.688")),
        (2, "TIRE", "WHEEL", D(2), D(6), D(12)),
    ]
    assert cost.bases["WHEEL"] == CostBasis.BOM and cost.bases["RIM"] == CostBasis.UNIT_COST
    assert cost.problems == ()


def test_level_one_rows_add_up_to_the_unit_cost() -> None:
    cost = get_bom_cost(with_wheel_routing(), "BIKE", D(10))
    top = sum(ln.extended_cost for ln in cost.lines if ln.level == 1)
    assert top == cost.total_cost == cost.material_cost + cost.operation_cost + cost.subcontract_fee_cost


def test_operation_setup_is_spread_over_the_quoted_lot() -> None:
    one = get_bom_cost(with_wheel_routing(), "BIKE")
    # 1 bike needs 2 wheels, one lot of 2: (6 + 60/2) min / 60 × 30 = 18 per wheel; FREE costs nothing
    assert one.item_costs["WHEEL"] == D("21.344") + D(18)
    assert one.unit_cost == D(50) + 2 * D("39.344") + D(10)  # 138.688
    ten = get_bom_cost(with_wheel_routing(), "BIKE", D(10))
    # 10 bikes: 20 wheels, (6 + 60/20) / 60 × 30 = 4.5 per wheel → WHEEL 25.844, BIKE 111.688
    assert ten.item_costs["WHEEL"] == D("25.844")
    assert ten.unit_cost == D("111.688") and ten.total_cost == D("1116.88")
    assert ten.operation_cost == D(90)  # 20 wheels × 4.5 = one 60-min setup + 120 run minutes at 30/h
    (op,) = [ln for ln in ten.lines if ln.kind == CostLineKind.OPERATION]
    assert (op.item, op.work_center, op.seq, op.qty, op.minutes, op.extended_cost) == (
        "WHEEL",
        "LACE",
        10,
        D(20),
        D(180),
        D(90),
    )
    assert op.level == 2  # listed with the wheel's own materials


def test_min_order_qty_is_the_smallest_lot() -> None:
    cost = get_bom_cost(with_wheel_routing(min_order_qty=50), "BIKE")
    # lot = max(2 needed, 50): (6 + 60/50) / 60 × 30 = 3.6 per wheel
    assert cost.item_costs["WHEEL"] == D("21.344") + D("3.6")


def test_subcontract_is_materials_plus_fee_and_make_without_bom_is_standard() -> None:
    plant = plant_of("""
items:
  - {code: BOX, source: make}
  - {code: PANEL, source: subcontract, unit_cost: 4}
  - {code: SHEET, source: buy, unit_cost: 2.5}
  - {code: LABEL, source: make, unit_cost: 0.3}
  - {code: GLUE, source: buy}
boms:
  - {parent: BOX, lines: [{component: PANEL, qty: 6}, {component: LABEL, qty: 1}, {component: GLUE, qty: 1}]}
  - {parent: PANEL, output_qty: 2, lines: [{component: SHEET, qty: 1}]}
""")
    cost = get_bom_cost(plant, "BOX")
    # PANEL = SHEET 2.5 / 2 per panel + fee 4 = 5.25; BOX = 6 × 5.25 + LABEL 0.3 (standard) + GLUE 0 = 31.8
    assert cost.item_costs["PANEL"] == D("5.25")
    assert cost.unit_cost == D("31.8")
    assert cost.subcontract_fee_cost == D(24)  # 6 panels × 4
    assert cost.material_cost == D("7.8")  # 6 × 1.25 sheet + 0.3 label
    assert cost.bases["PANEL"] == CostBasis.SUBCONTRACT and cost.bases["LABEL"] == CostBasis.STANDARD
    fee = next(ln for ln in cost.lines if ln.kind == CostLineKind.SUBCONTRACT_FEE)
    assert (fee.item, fee.qty, fee.unit_cost, fee.extended_cost) == ("PANEL", D(6), D(4), D(24))
    assert [(p.item, p.cause) for p in cost.problems] == [("GLUE", "no_cost")]


def test_price_list_overrides_unit_cost_and_fee() -> None:
    cost = get_bom_cost(plant_of(BIKE), "BIKE", prices={"SPOKE": D("0.25"), "FRAME": D(45)})
    # WHEEL = 8 + 36.72 × 0.25 + 6 = 23.18; BIKE = 45 + 46.36 + 10 = 101.36
    assert cost.item_costs["WHEEL"] == D("23.18")
    assert cost.unit_cost == D("101.36")
    assert cost.bases["SPOKE"] == CostBasis.PRICE_LIST


def test_make_item_with_bom_ignores_its_own_unit_cost_and_phantoms_are_flattened() -> None:
    plant = plant_of("""
items:
  - {code: P, source: make, unit_cost: 999}
  - {code: PH, source: make, phantom: true, unit_cost: 500}
  - {code: X, source: buy, unit_cost: 3}
boms:
  - {parent: P, lines: [{component: PH, qty: 2}]}
  - {parent: PH, lines: [{component: X, qty: 1.5}]}
""")
    cost = get_bom_cost(plant, "P")
    assert cost.unit_cost == D(9)  # 2 × 1.5 × 3
    assert [ln.item for ln in cost.lines] == ["X"]
    assert get_item_unit_costs(plant, ["P", "X"]) == {"P": D(9), "X": D(3)}


def test_cost_rejects_bad_input() -> None:
    with pytest.raises(InvalidInputError):
        get_bom_cost(plant_of(BIKE), "NOPE")
    with pytest.raises(InvalidInputError):
        get_bom_cost(plant_of(BIKE), "BIKE", D(-1))


def test_unknown_work_center_is_a_problem_not_an_error() -> None:
    data = {**BIKE, "routings": [{"item": "WHEEL", "operations": [{"seq": 10, "work_center": "GONE"}]}]}
    cost = get_bom_cost(plant_of(data), "BIKE")
    assert cost.unit_cost == D("102.688")
    assert [(p.item, p.cause) for p in cost.problems] == [("WHEEL", "unknown_work_center")]
