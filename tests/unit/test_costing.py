"""Cost accounting per production order: allocation, equivalent units, joint products, roll-up, variance."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.costing import (
    AllocationBasis,
    ByProduct,
    Consumption,
    CostElement,
    CostingInput,
    CostPeriod,
    JointOutput,
    JointProduction,
    OpeningWip,
    OrderCostInput,
    OrderKind,
    OverheadPool,
    Severity,
    StandardCost,
    WipCompletion,
    allocate_overhead,
    compare_with_standard,
    compute_variances,
    cost_joint_products,
    cost_order,
    roll_up_costs,
    split_amount,
    validate_costing,
)
from planning.errors import InvalidInputError

PERIOD = CostPeriod("2026-11")


def D(value: str | int) -> Decimal:
    return Decimal(str(value))


def order(code: str, item: str = "X", completed: str | int = 0, **kw: object) -> OrderCostInput:
    return OrderCostInput(order=code, item=item, completed_qty=D(completed), **kw)  # type: ignore[arg-type]


def codes(problems: object) -> set[str]:
    return {p.code for p in problems}  # type: ignore[attr-defined]


# --- rounding -------------------------------------------------------------------------------------------------


def test_split_amount_gives_the_cent_difference_to_the_largest_share() -> None:
    # 10 over 1:1:1:3 → 1.666… ×3 → 1.67 each, 5.00; 1.67×3 + 5.00 = 10.01, so the largest share gives back
    # 0.01 → 4.99 and the parts add up to 10.00 again.
    assert split_amount(D(10), [D(1), D(1), D(1), D(3)], D("0.01")) == (
        D("1.67"),
        D("1.67"),
        D("1.67"),
        D("4.99"),
    )


def test_split_amount_breaks_ties_for_the_first_largest_share() -> None:
    # 100 / 3 = 33.33 ×3 = 99.99: the missing cent goes to the first of the equal shares.
    assert split_amount(D(100), [D(1), D(1), D(1)], D("0.01")) == (D("33.34"), D("33.33"), D("33.33"))


def test_split_amount_refuses_all_zero_weights() -> None:
    with pytest.raises(InvalidInputError):
        split_amount(D(100), [D(0), D(0)])


# --- overhead allocation, one test per basis --------------------------------------------------------------------


def test_labor_hours_basis() -> None:
    # 6,000 over 30 + 50 + 20 = 100 hours = 60 per hour → A 1,800, B 3,000, C 1,200.
    orders = [
        order("A", completed=10, labor_hours=D(30)),
        order("B", completed=10, labor_hours=D(50)),
        order("C", completed=10, labor_hours=D(20)),
    ]
    (pool,) = allocate_overhead([OverheadPool("制造费用", D(6000), AllocationBasis.LABOR_HOURS)], orders)
    assert pool.total_basis == 100
    assert [s.amount for s in pool.shares] == [1800, 3000, 1200]
    assert [s.share for s in pool.shares] == [D("0.3"), D("0.5"), D("0.2")]
    assert [s.amount_cents for s in pool.shares] == [D("1800.00"), D("3000.00"), D("1200.00")]


def test_labor_hours_basis_rounding_keeps_the_pool_whole() -> None:
    # 1,000 over 1 + 1 + 1 hours: 333.33 each in cents, the spare cent to the first largest share;
    # exactly, 333.333333333333 each and the spare 1e-12 likewise.
    orders = [order(c, completed=1, labor_hours=D(1)) for c in "ABC"]
    (pool,) = allocate_overhead([OverheadPool("OH", D(1000))], orders)
    assert [s.amount_cents for s in pool.shares] == [D("333.34"), D("333.33"), D("333.33")]
    assert [s.amount for s in pool.shares] == [
        D("333.333333333334"),
        D("333.333333333333"),
        D("333.333333333333"),
    ]
    assert sum(s.amount for s in pool.shares) == 1000


def test_output_qty_basis_uses_equivalent_units_of_conversion() -> None:
    # A: 80 completed + 20 WIP × 0.5 = 90 EU; B: 60 completed. 1,500 / 150 EU = 10 per EU → A 900, B 600
    # (by completed + WIP it would be 100:60 → 937.50 / 562.50).
    orders = [
        order("A", completed=80, wip_qty=D(20), wip_completion=WipCompletion(conversion=D("0.5"))),
        order("B", completed=60),
    ]
    (pool,) = allocate_overhead([OverheadPool("OH", D(1500), AllocationBasis.OUTPUT_QTY)], orders)
    assert [s.basis_qty for s in pool.shares] == [90, 60]
    assert [s.amount for s in pool.shares] == [900, 600]


def test_material_cost_basis_uses_direct_material_only() -> None:
    # Direct material A 10,000, B 5,000, C 1,000 = 16,000; 3,200 / 16,000 = 0.2 → A 2,000, B 1,000, C 200.
    # B also uses C's whole output (1,000 + 200 = 1,200) but that does not raise B's basis.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            pools=(OverheadPool("OH", D(3200), AllocationBasis.MATERIAL_COST),),
            orders=(
                order("A", "P", 10, material_cost=D(10000)),
                order("B", "Q", 10, material_cost=D(5000)),
                order("C", "SUB", 10, material_cost=D(1000)),
            ),
            consumptions=(Consumption("B", D(10), supplier_order="C"),),
        )
    )
    assert result.ok, result.problems
    assert [s.amount for s in result.pools[0].shares] == [2000, 1000, 200]
    b = result.find_order("B")
    assert b is not None
    # B material = 5,000 + 1,200 transferred in; overhead 1,000 → total 7,200 for 10 → 720 each.
    assert (b.material, b.transferred_in, b.overhead, b.total, b.unit_cost) == (6200, 1200, 1000, 7200, 720)


def test_pool_without_basis_is_refused() -> None:
    with pytest.raises(InvalidInputError):
        allocate_overhead([OverheadPool("OH", D(100))], [order("A", completed=1)])


# --- equivalent units -------------------------------------------------------------------------------------------


def test_worked_example_mo7() -> None:
    # bike_factory.md: material 2,000 / (90 + 10 × 1.0) = 20.00 per EU;
    # conversion (460 + 300) / (90 + 10 × 0.4) = 760 / 94 = 8.085106…; unit cost 28.085106;
    # completed 1,800 + 727.66 = 2,527.66 (labor 727.66 × 460/760 = 440.43, overhead 287.23);
    # WIP 200 + 4 × 8.085106 = 32.34 → 232.34; 2,527.66 + 232.34 = 2,760.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            pools=(OverheadPool("制造费用", D(300), AllocationBasis.LABOR_HOURS),),
            orders=(
                order(
                    "MO-7",
                    "WHEEL",
                    90,
                    wip_qty=D(10),
                    wip_completion=WipCompletion(material=D("1.0"), conversion=D("0.4")),
                    material_cost=D(2000),
                    labor_cost=D(460),
                    labor_hours=D(10),
                ),
            ),
        )
    )
    assert result.ok and result.problems == ()
    cost = result.orders[0]
    assert abs(cost.unit_cost - D("28.085106")) < D("1e-6")
    assert cost.material == 1800
    assert abs(cost.labor - D("440.43")) < D("0.005")
    assert abs(cost.overhead - D("287.23")) < D("0.005")
    assert abs(cost.total - D("2527.66")) < D("0.005")
    assert (cost.wip.qty, cost.wip.material) == (10, 200)
    assert abs(cost.wip.conversion - D("32.34")) < D("0.005")
    assert abs(cost.wip.total - D("232.34")) < D("0.005")
    assert cost.total + cost.wip.total == 2760 and cost.balanced
    material, conversion, _ = cost.elements
    assert (material.equivalent_units, material.cost_per_eu) == (100, 20)
    assert conversion.equivalent_units == 94 and conversion.charged == 760
    assert [(s.pool, s.basis, s.share, s.amount) for s in cost.allocations] == [
        ("制造费用", AllocationBasis.LABOR_HOURS, 1, 300)
    ]
    assert [(o.item, o.qty, o.total) for o in cost.outputs] == [("WHEEL", 90, cost.total)]


def test_equivalent_units_with_opening_wip() -> None:
    # Opening WIP material 4,000, conversion 1,500. Period: material 20,000, labor 10,000, overhead 5,000.
    # 500 completed, 100 in WIP at material 100 %, conversion 50 %.
    # material (4,000 + 20,000) / (500 + 100) = 40 → completed 20,000, WIP 4,000
    # conversion (1,500 + 10,000 + 5,000) / (500 + 50) = 30 → completed 15,000, WIP 1,500
    # completed conversion 15,000 split 10,000 : 5,000 → labor 10,000, overhead 5,000
    # completed 35,000 / 500 = 70 per unit; WIP 5,500; 35,000 + 5,500 = 40,500 = everything charged.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            pools=(OverheadPool("OH", D(5000)),),
            orders=(
                order(
                    "MO-1",
                    "P",
                    500,
                    wip_qty=D(100),
                    wip_completion=WipCompletion(material=D(1), conversion=D("0.5")),
                    opening_wip=OpeningWip(material=D(4000), conversion=D(1500)),
                    material_cost=D(20000),
                    labor_cost=D(10000),
                    labor_hours=D(100),
                ),
            ),
        )
    )
    cost = result.orders[0]
    material, conversion, _ = cost.elements
    assert (material.cost_per_eu, conversion.cost_per_eu) == (40, 30)
    assert (cost.material, cost.labor, cost.overhead, cost.total, cost.unit_cost) == (
        20000,
        10000,
        5000,
        35000,
        70,
    )
    assert (cost.wip.material, cost.wip.conversion, cost.wip.total) == (4000, 1500, 5500)
    assert cost.charged == 40500 and cost.balanced


def test_subcontract_fee_is_its_own_element_complete_in_wip_unless_stated() -> None:
    # Fee 300 over 8 completed + 2 WIP × 1.0 = 10 EU → 30: completed 240, WIP 60.
    sc = order("SC-1", "P", 8, wip_qty=D(2), subcontract_cost=D(300), kind=OrderKind.SUBCONTRACT)
    cost = cost_order(sc)
    assert (cost.subcontract, cost.wip.subcontract, cost.total, cost.unit_cost) == (240, 60, 240, 30)
    # Stated as not yet charged on WIP (completion 0): 300 / 8 EU = 37.5, all on the completed units.
    later = cost_order(
        order(
            "SC-1",
            "P",
            8,
            wip_qty=D(2),
            subcontract_cost=D(300),
            wip_completion=WipCompletion(subcontract=D(0)),
        )
    )
    assert (later.subcontract, later.wip.subcontract, later.unit_cost) == (300, 0, D("37.5"))


def test_nothing_completed_keeps_all_cost_in_wip() -> None:
    # 0 completed, 10 WIP at conversion 0: material 500 and labor 100 both stay in WIP.
    cost = cost_order(order("A", completed=0, wip_qty=D(10), material_cost=D(500), labor_cost=D(100)))
    assert (cost.total, cost.unit_cost, cost.wip.material, cost.wip.conversion, cost.outputs) == (
        0,
        0,
        500,
        100,
        (),
    )
    assert cost.balanced


def test_results_do_not_depend_on_the_callers_decimal_context() -> None:
    mo7 = order(
        "MO-7",
        "WHEEL",
        90,
        wip_qty=D(10),
        wip_completion=WipCompletion(conversion=D("0.4")),
        material_cost=D(2000),
        labor_cost=D(760),
    )
    expected = cost_order(mo7)
    with localcontext() as ctx:
        ctx.prec = 6
        assert cost_order(mo7) == expected
    assert expected.total == D("2527.659574468085")  # 1,800 + 760 − 4 × 760 / 94


# --- joint products ---------------------------------------------------------------------------------------------

JOINT_ORDER = order("MO-9", "OIL", 1100, material_cost=D(8000), labor_cost=D(1500), labor_hours=D(10))


def test_joint_products_by_coefficient_with_by_product() -> None:
    # Cost 8,000 + 1,500 + overhead 700 = 10,200; RESIDUE 100 × 2 = 200 deducted first → 10,000.
    # Weights OIL-A 600 × 1.0 = 600, OIL-B 400 × 1.5 = 600 → 5,000 each;
    # OIL-A 5,000 / 600 = 8.333333333333, OIL-B 5,000 / 400 = 12.5.
    joint = JointProduction(
        "MO-9",
        outputs=(
            JointOutput("OIL-A", D(600), coefficient=D("1.0")),
            JointOutput("OIL-B", D(400), coefficient=D("1.5")),
        ),
        by_products=(ByProduct("RESIDUE", D(100), D(2)),),
    )
    result = roll_up_costs(
        CostingInput(
            PERIOD, pools=(OverheadPool("OH", D(700)),), orders=(JOINT_ORDER,), joint_products=(joint,)
        )
    )
    cost = result.orders[0]
    assert cost.total == 10200
    assert [(o.item, o.qty, o.total, o.unit_cost, o.by_product) for o in cost.outputs] == [
        ("OIL-A", 600, 5000, D("8.333333333333"), False),
        ("OIL-B", 400, 5000, D("12.5"), False),
        ("RESIDUE", 100, 200, 2, True),
    ]
    assert cost.balanced and [c.name for c in cost.checks] == [
        "completed + wip = charged",
        "outputs = completed",
    ]


def test_joint_products_by_relative_sales_value() -> None:
    # 10,200 − 200 = 10,000 by sales value 18,000 : 12,000 = 60 % : 40 % → OIL-A 6,000 (10 per unit),
    # OIL-B 4,000 (10 per unit).
    joint = JointProduction(
        "MO-9",
        outputs=(
            JointOutput("OIL-A", D(600), sales_value=D(18000)),
            JointOutput("OIL-B", D(400), sales_value=D(12000)),
        ),
        by_products=(ByProduct("RESIDUE", D(100), D(2)),),
    )
    outputs = cost_joint_products(D(10200), joint)
    assert [(o.item, o.total, o.unit_cost) for o in outputs] == [
        ("OIL-A", 6000, 10),
        ("OIL-B", 4000, 10),
        ("RESIDUE", 200, 2),
    ]


def test_by_products_worth_more_than_the_joint_cost() -> None:
    joint = JointProduction(
        "MO-9", (JointOutput("OIL-A", D(1), coefficient=D(1)),), (ByProduct("R", D(10), D(50)),)
    )
    with pytest.raises(InvalidInputError):
        cost_joint_products(D(100), joint)
    result = roll_up_costs(
        CostingInput(PERIOD, orders=(order("MO-9", "OIL", 1, material_cost=D(100)),), joint_products=(joint,))
    )
    assert not result.ok and codes(result.problems) == {"by_products_exceed_cost"}


# --- multi-level roll-up ----------------------------------------------------------------------------------------


def bike_period() -> CostingInput:
    """FRAME (MO-FRAME) → painted by a subcontractor (SC-1) → BIKE (MO-BIKE), which also uses WHEEL (MO-WHEEL)."""
    return CostingInput(
        PERIOD,
        pools=(OverheadPool("制造费用", D(1200), AllocationBasis.LABOR_HOURS),),
        orders=(
            order(
                "MO-BIKE",
                "BIKE",
                8,
                wip_qty=D(2),
                wip_completion=WipCompletion(conversion=D("0.5")),
                material_cost=D(700),
                labor_cost=D(900),
                labor_hours=D(30),
            ),
            order("SC-1", "FRAME-P", 10, subcontract_cost=D(500), kind=OrderKind.SUBCONTRACT),
            order("MO-FRAME", "FRAME", 10, material_cost=D(1000), labor_cost=D(600), labor_hours=D(20)),
            order("MO-WHEEL", "WHEEL", 20, material_cost=D(800), labor_cost=D(300), labor_hours=D(10)),
        ),
        consumptions=(
            Consumption("SC-1", D(10), supplier_order="MO-FRAME"),
            Consumption("MO-BIKE", D(10), item="FRAME-P"),
            Consumption("MO-BIKE", D(20), supplier_order="MO-WHEEL"),
        ),
    )


def test_three_level_roll_up_with_a_subcontracted_part() -> None:
    # Overhead 1,200 / (30 + 20 + 10 h) = 20 per hour → BIKE 600, FRAME 400, WHEEL 200, SC-1 0.
    # level 0  MO-FRAME 1,000 + 600 + 400 = 2,000 / 10 = 200;  MO-WHEEL 800 + 300 + 200 = 1,300 / 20 = 65
    # level 1  SC-1 frames 10 × 200 = 2,000 + fee 500 = 2,500 / 10 = 250
    # level 2  MO-BIKE material 2,500 + 1,300 + 700 = 4,500 / (8 + 2) = 450 → completed 3,600, WIP 900;
    #          conversion 900 + 600 = 1,500 / (8 + 2 × 0.5) = 166.67 → WIP 166.666666666667,
    #          completed 1,333.333333333333 split 900 : 600 → labor 800, overhead 533.333333333333;
    #          completed 4,933.333333333333 / 8 = 616.666666666667; WIP 1,066.666666666667; sum 6,000.
    result = roll_up_costs(bike_period())
    assert result.ok, result.problems
    assert [(c.order, c.level) for c in result.orders] == [
        ("MO-FRAME", 0),
        ("MO-WHEEL", 0),
        ("SC-1", 1),
        ("MO-BIKE", 2),
    ]
    frame, wheel, sc, bike = result.orders
    assert (frame.overhead, frame.total, frame.unit_cost) == (400, 2000, 200)
    assert (wheel.overhead, wheel.total, wheel.unit_cost) == (200, 1300, 65)
    assert (sc.transferred_in, sc.material, sc.subcontract, sc.overhead, sc.total, sc.unit_cost) == (
        2000,
        2000,
        500,
        0,
        2500,
        250,
    )
    assert (bike.transferred_in, bike.material, bike.wip.material) == (3800, 3600, 900)
    assert (bike.labor, bike.overhead) == (800, D("533.333333333333"))
    assert (bike.total, bike.unit_cost) == (D("4933.333333333333"), D("616.666666666667"))
    assert (bike.wip.conversion, bike.wip.total) == (D("166.666666666667"), D("1066.666666666667"))
    assert bike.charged == 6000 and all(c.balanced for c in result.orders)


def test_item_consumption_takes_the_average_of_the_orders_that_made_it() -> None:
    # Two orders made SUB: 10 for 100 and 30 for 500 → 600 / 40 = 15 each; P uses 8 → 120.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            orders=(
                order("A", "SUB", 10, material_cost=D(100)),
                order("B", "SUB", 30, material_cost=D(500)),
                order("P", "TOP", 4),
            ),
            consumptions=(Consumption("P", D(8), item="SUB"),),
        )
    )
    top = result.find_order("P")
    assert top is not None and (top.level, top.material, top.unit_cost) == (1, 120, 30)


def test_consumed_item_made_by_no_order_uses_the_given_unit_cost() -> None:
    # 5 × 12.5 = 62.5 from item_unit_costs.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            orders=(order("P", "TOP", 5),),
            consumptions=(Consumption("P", D(5), item="SUB"),),
            item_unit_costs={"SUB": D("12.5")},
        )
    )
    assert result.orders[0].material == D("62.5") and result.orders[0].level == 0


def test_consumer_of_a_joint_product_takes_that_products_cost() -> None:
    # OIL-B from the coefficient example costs 12.5; P uses 40 → 500.
    joint = JointProduction(
        "MO-9",
        outputs=(
            JointOutput("OIL-A", D(600), coefficient=D(1)),
            JointOutput("OIL-B", D(400), coefficient=D("1.5")),
        ),
        by_products=(ByProduct("RESIDUE", D(100), D(2)),),
    )
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            pools=(OverheadPool("OH", D(700)),),
            orders=(JOINT_ORDER, order("P", "BLEND", 10, labor_cost=D(0))),
            joint_products=(joint,),
            consumptions=(Consumption("P", D(40), supplier_order="MO-9", item="OIL-B"),),
        )
    )
    blend = result.find_order("P")
    assert blend is not None and blend.material == 500


def test_rework_cost_goes_to_the_original_orders_product() -> None:
    # MO-A: 1,000 + 500 = 1,500 for 10. RW-1 reworks 2 of them: 20 + 100 = 120, charged to MO-A's product
    # → 1,620 / 10 = 162. MO-B then uses 5 of MO-A's output: 5 × 162 = 810.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            orders=(
                order("MO-B", "B", 5),
                order("MO-A", "A", 10, material_cost=D(1000), labor_cost=D(500)),
                order(
                    "RW-1",
                    "A",
                    2,
                    material_cost=D(20),
                    labor_cost=D(100),
                    kind=OrderKind.REWORK,
                    rework_of="MO-A",
                ),
            ),
            consumptions=(Consumption("MO-B", D(5), supplier_order="MO-A"),),
        )
    )
    assert result.ok, result.problems
    assert [(c.order, c.level) for c in result.orders] == [("RW-1", 0), ("MO-A", 1), ("MO-B", 2)]
    rework, original, consumer = result.orders
    assert (rework.total, rework.outputs, rework.rework_of) == (120, (), "MO-A")
    assert (original.rework, original.total, original.unit_cost, original.charged) == (120, 1620, 162, 1620)
    assert original.outputs[0].total == 1620 and original.balanced
    assert consumer.material == 810


# --- validation -------------------------------------------------------------------------------------------------


def test_validation_lists_each_problem_with_its_cause() -> None:
    inputs = CostingInput(
        PERIOD,
        pools=(OverheadPool("OH", D(100), AllocationBasis.LABOR_HOURS), OverheadPool("M", D(-5))),
        orders=(
            order("A", completed=10, labor_cost=D(50)),  # labor but no hours
            order("B", completed=0),  # nothing completed, no WIP, no cost
            order("C", completed=0, material_cost=D(10)),  # … with cost
            order("D", completed=5, material_cost=D(-1), labor_hours=D(2)),
            order(
                "E",
                completed=5,
                wip_qty=D(1),
                wip_completion=WipCompletion(conversion=D("1.5")),
                labor_hours=D(1),
            ),
        ),
        consumptions=(
            Consumption("A", D(1), supplier_order="ZZ"),
            Consumption("A", D(1), item="NOTHING"),
            Consumption("A", D(1), supplier_order="C"),
        ),
    )
    problems = validate_costing(inputs)
    by_code = {(p.code, p.order or p.pool) for p in problems}
    assert ("missing_labor_hours", "A") in by_code
    assert ("no_output", "C") in by_code
    assert ("no_output", "B") in by_code
    assert ("negative_value", "D") in by_code
    assert ("negative_value", "M") in by_code
    assert ("completion_out_of_range", "E") in by_code
    assert ("unknown_order", "A") in by_code
    assert ("no_unit_cost", "A") in by_code  # NOTHING is made by no order; C completed nothing
    severity = {(p.code, p.order): p.severity for p in problems}
    assert severity[("no_output", "B")] is Severity.WARNING
    assert severity[("no_output", "C")] is Severity.ERROR
    assert problems[0].severity is Severity.ERROR and problems[-1].severity is Severity.WARNING
    result = roll_up_costs(inputs)
    assert not result.ok and result.orders == ()


def test_validation_finds_a_cycle_with_its_path() -> None:
    inputs = CostingInput(
        PERIOD,
        orders=(order("A", "PA", 1), order("B", "PB", 1), order("C", "PC", 1)),
        consumptions=(
            Consumption("A", D(1), supplier_order="B"),
            Consumption("B", D(1), item="PC"),
            Consumption("C", D(1), supplier_order="A"),
        ),
    )
    (cycle,) = [p for p in validate_costing(inputs) if p.code == "cycle"]
    assert cycle.path == ("A", "B", "C", "A") and cycle.severity is Severity.ERROR


def test_validation_of_joint_products_and_pools() -> None:
    inputs = CostingInput(
        PERIOD,
        pools=(OverheadPool("OH", D(100), AllocationBasis.MATERIAL_COST),),
        orders=(order("J", "OIL", 10, labor_cost=D(10)),),
        joint_products=(
            JointProduction(
                "J", (JointOutput("A", D(1), coefficient=D(1)), JointOutput("B", D(1), sales_value=D(5)))
            ),
            JointProduction("NOPE", (JointOutput("A", D(1), coefficient=D(1)),)),
        ),
    )
    assert codes(validate_costing(inputs)) == {"pool_without_basis", "joint_method", "unknown_order"}


def test_validation_warnings_do_not_stop_costing() -> None:
    # An order without labor hours gets no labor-hours overhead; a rework of an order not in the period
    # keeps its cost. Both are warnings and the period is costed.
    inputs = CostingInput(
        PERIOD,
        pools=(OverheadPool("OH", D(100)),),
        orders=(
            order("A", completed=1, labor_cost=D(5), labor_hours=D(1)),
            order("B", completed=1, material_cost=D(5)),
            order(
                "RW", completed=1, labor_cost=D(3), labor_hours=D(1), kind=OrderKind.REWORK, rework_of="OLD"
            ),
        ),
    )
    result = roll_up_costs(inputs)
    assert result.ok and {(p.code, p.order) for p in result.problems} == {
        ("no_labor_hours", "B"),
        ("rework_original_missing", "RW"),
    }
    rework = result.find_order("RW")
    assert rework is not None and rework.total == 53 and rework.outputs == ()  # 3 + 100 × 1 / 2


# --- variance ---------------------------------------------------------------------------------------------------


def test_variance_against_standard_per_element() -> None:
    # MO-7 actual: material 1,800, labor 440.425531914894, overhead 287.234042553191, total 2,527.659574468085.
    # Standard 27 per unit (material 19, labor 5, overhead 3) × 90 = 2,430 → variance +97.659574468085;
    # material 1,710 → +90; labor 450 → −9.574468085106; overhead 270 → +17.234042553191.
    mo7 = order(
        "MO-7",
        "WHEEL",
        90,
        wip_qty=D(10),
        wip_completion=WipCompletion(conversion=D("0.4")),
        material_cost=D(2000),
        labor_cost=D(460),
        labor_hours=D(10),
    )
    cost = roll_up_costs(CostingInput(PERIOD, pools=(OverheadPool("OH", D(300)),), orders=(mo7,))).orders[0]
    variance = compare_with_standard(
        cost, StandardCost("WHEEL", D(27), material=D(19), labor=D(5), overhead=D(3))
    )
    assert (variance.standard_total, variance.variance) == (2430, D("97.659574468085"))
    assert [(e.element, e.standard, e.variance) for e in variance.elements] == [
        ("material", 1710, 90),
        ("labor", 450, D("-9.574468085106")),
        ("overhead", 270, D("17.234042553191")),
    ]


def test_variances_of_a_period_include_joint_products_by_total() -> None:
    # OIL-B actual 5,000 for 400 against a standard 12 → 4,800: +200. Only products with a standard appear.
    joint = JointProduction(
        "MO-9",
        (JointOutput("OIL-A", D(600), coefficient=D(1)), JointOutput("OIL-B", D(400), coefficient=D("1.5"))),
        (ByProduct("RESIDUE", D(100), D(2)),),
    )
    result = roll_up_costs(
        CostingInput(
            PERIOD, pools=(OverheadPool("OH", D(700)),), orders=(JOINT_ORDER,), joint_products=(joint,)
        )
    )
    (variance,) = compute_variances(result, {"OIL-B": StandardCost("OIL-B", D(12))})
    assert (variance.item, variance.qty, variance.actual_total, variance.variance, variance.elements) == (
        "OIL-B",
        400,
        5000,
        200,
        (),
    )


# --- invariants -------------------------------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=100000, places=2, allow_nan=False, allow_infinity=False)
qty = st.decimals(min_value=0, max_value=1000, places=3, allow_nan=False, allow_infinity=False)
completion = st.decimals(min_value=0, max_value=1, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def periods(draw: st.DrawFn) -> CostingInput:
    n = draw(st.integers(min_value=1, max_value=5))
    orders = tuple(
        OrderCostInput(
            order=f"MO-{i}",
            item=f"I{i}",
            completed_qty=draw(qty),
            wip_qty=draw(qty),
            wip_completion=WipCompletion(draw(completion), draw(completion), draw(completion)),
            opening_wip=OpeningWip(draw(money), draw(money), draw(money)),
            material_cost=draw(money),
            labor_cost=draw(money),
            labor_hours=draw(qty) + 1,
            subcontract_cost=draw(money),
        )
        for i in range(n)
    )
    pools = tuple(OverheadPool(f"P{b.value}", draw(money), b) for b in AllocationBasis)
    return CostingInput(PERIOD, pools=pools, orders=orders)


@settings(max_examples=60, deadline=None)
@given(periods())
def test_pools_are_fully_allocated_and_every_order_balances(inputs: CostingInput) -> None:
    result = roll_up_costs(inputs)
    if not result.ok:
        assert {p.code for p in result.problems if p.severity is Severity.ERROR} <= {
            "no_output",
            "pool_without_basis",
        }
        return
    for pool in result.pools:
        if pool.shares:
            assert sum(s.amount for s in pool.shares) == pool.amount
            assert sum(s.amount_cents for s in pool.shares) == pool.amount.quantize(D("0.01"))
    for cost in result.orders:
        assert cost.total + cost.wip.total == cost.charged
        assert cost.labor + cost.overhead + cost.other_conversion == cost.elements[1].completed
        assert all(e.completed >= 0 and e.wip >= 0 for e in cost.elements)
        assert [e.element for e in cost.elements] == list(CostElement)


def test_output_used_more_than_completed_is_a_warning() -> None:
    # A completed 10; B and C use 6 each = 12 > 10. Costing still runs: B and C get 6 × 10 = 60 each.
    result = roll_up_costs(
        CostingInput(
            PERIOD,
            orders=(order("A", "SUB", 10, material_cost=D(100)), order("B", "P", 1), order("C", "Q", 1)),
            consumptions=(
                Consumption("B", D(6), supplier_order="A"),
                Consumption("C", D(6), supplier_order="A"),
            ),
        )
    )
    assert result.ok and [(p.code, p.order) for p in result.problems] == [("over_consumption", "A")]
    assert [c.material for c in result.orders[1:]] == [60, 60]
