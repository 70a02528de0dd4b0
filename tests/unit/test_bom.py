"""BOM engine: explosion, where-used, low-level codes, cycles and the tree view, on small hand-worked plants."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planning.bom import (
    BomIndex,
    explode_bom,
    explode_totals,
    find_bom_cycle,
    get_bom_tree,
    get_low_level_codes,
    render_bom_tree,
    where_used,
)
from planning.dataset import plant_from_dict
from planning.errors import BomCycleError, InvalidInputError
from planning.model import Bom, BomLine, Item, Plant, Source
from tests.helpers import plant_of

# TABLE = TOP + LEGSET (phantom) + 4 SCREW; LEGSET = 4 LEG + 8 SCREW
PHANTOM_PLANT = """
items:
  - {code: TABLE, source: make}
  - {code: TOP, source: buy}
  - {code: LEGSET, source: make, phantom: true}
  - {code: LEG, source: buy}
  - {code: SCREW, source: buy}
boms:
  - parent: TABLE
    lines:
      - {component: TOP, qty: 1}
      - {component: LEGSET, qty: 1}
      - {component: SCREW, qty: 4}
  - parent: LEGSET
    lines:
      - {component: LEG, qty: 4}
      - {component: SCREW, qty: 8}
"""


def test_bike_explosion_totals_match_acceptance(bike: Plant) -> None:
    result = explode_bom(bike, "BIKE", D(10))
    # FRAME 10×1, WHEEL 10×2, SEAT 10×1; RIM 20×1, SPOKE 20×36×1.02 = 734.4, TIRE 20×1
    assert result.totals == {
        "FRAME": D(10),
        "WHEEL": D(20),
        "SEAT": D(10),
        "RIM": D(20),
        "SPOKE": D("734.4"),
        "TIRE": D(20),
    }
    assert [(ln.level, ln.item, ln.qty, ln.parent) for ln in result.lines] == [
        (1, "FRAME", D(10), "BIKE"),
        (1, "WHEEL", D(20), "BIKE"),
        (1, "SEAT", D(10), "BIKE"),
        (2, "RIM", D(20), "WHEEL"),
        (2, "SPOKE", D("734.4"), "WHEEL"),
        (2, "TIRE", D(20), "WHEEL"),
    ]
    assert result.depth == 2
    assert explode_totals(bike, "BIKE", D(10)) == dict(result.totals)


def test_spoke_qty_per_includes_scrap(bike: Plant) -> None:
    spoke = next(ln for ln in explode_bom(bike, "BIKE").lines if ln.item == "SPOKE")
    assert spoke.qty_per == D("36.72")  # 36 × (1 + 0.02) per wheel
    assert spoke.qty == D("73.44")  # 2 wheels per bike


def test_phantom_is_exploded_through_and_never_appears() -> None:
    plant = plant_of(PHANTOM_PLANT)
    result = explode_bom(plant, "TABLE", D(2))
    assert "LEGSET" not in result.totals
    # LEG 2×1×4 = 8; SCREW 2×4 direct + 2×1×8 via the phantom = 24
    assert result.totals == {"TOP": D(2), "LEG": D(8), "SCREW": D(24)}
    assert all(ln.item != "LEGSET" and ln.parent != "LEGSET" for ln in result.lines)
    assert {ln.level for ln in result.lines} == {1}  # the phantom's components take its place


def test_output_batch_divides_line_quantities() -> None:
    plant = plant_of("""
items: [{code: KIT, source: make}, {code: BOLT}, {code: GLUE}]
boms:
  - parent: KIT
    output_qty: 4
    lines:
      - {component: BOLT, qty: 10}
      - {component: GLUE, qty: 3, scrap_rate: 0.1}
""")
    result = explode_bom(plant, "KIT", D(6))
    # BOLT 10/4 = 2.5 per kit → 15; GLUE 3×1.1/4 = 0.825 per kit → 4.95
    assert result.totals == {"BOLT": D(15), "GLUE": D("4.95")}


def test_several_lines_of_the_same_component_add_up() -> None:
    plant = plant_of("""
items: [{code: A, source: make}, {code: B}, {code: C}]
boms:
  - parent: A
    lines: [{component: B, qty: 2}, {component: C, qty: 1}, {component: B, qty: 3}]
""")
    result = explode_bom(plant, "A", D(2))
    assert result.totals == {"B": D(10), "C": D(2)}  # B: 2×(2+3)
    assert [(ln.item, ln.qty_per) for ln in result.lines] == [("B", D(5)), ("C", D(1))]


def test_item_without_bom_explodes_to_nothing(bike: Plant) -> None:
    result = explode_bom(bike, "RIM", D(3))
    assert result.lines == () and result.totals == {} and result.depth == 0


def test_buy_item_bom_is_not_followed() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: B, source: buy}, {code: X}]
boms:
  - {parent: P, lines: [{component: B, qty: 2}]}
  - {parent: B, lines: [{component: X, qty: 5}]}
""")
    assert explode_bom(plant, "P").totals == {"B": D(2)}
    assert [row.item for row in where_used(plant, "X").parents] == []


def test_explode_rejects_bad_input(bike: Plant) -> None:
    with pytest.raises(InvalidInputError):
        explode_bom(bike, "NOPE")
    with pytest.raises(InvalidInputError):
        explode_bom(bike, "BIKE", D(0))


def test_cycle_is_reported_with_its_path() -> None:
    plant = plant_of("""
items: [{code: A, source: make}, {code: B, source: make}, {code: C, source: make}, {code: D}]
boms:
  - {parent: A, lines: [{component: B, qty: 1}]}
  - {parent: B, lines: [{component: C, qty: 1}, {component: D, qty: 1}]}
  - {parent: C, lines: [{component: A, qty: 1}]}
""")
    with pytest.raises(BomCycleError) as caught:
        explode_bom(plant, "A")
    assert caught.value.path == ["A", "B", "C", "A"]
    assert caught.value.details == {"path": ["A", "B", "C", "A"]}
    assert find_bom_cycle(plant.boms) == ["A", "B", "C", "A"]


def test_self_reference_and_substitute_cycles_are_cycles() -> None:
    own = plant_of("items: [{code: A, source: make}]\nboms: [{parent: A, lines: [{component: A, qty: 1}]}]")
    assert find_bom_cycle(own.boms) == ["A", "A"]
    via_sub = plant_of("""
items: [{code: A, source: make}, {code: B, source: make}, {code: X}]
boms:
  - {parent: A, lines: [{component: B, qty: 1}]}
  - {parent: B, lines: [{component: X, qty: 1, substitutes: [{item: A}]}]}
""")
    with pytest.raises(BomCycleError) as caught:
        BomIndex(via_sub.items, via_sub.boms)
    assert caught.value.path == ["A", "B", "A"]


def test_where_used_multi_level_with_levels_and_qty_per(bike: Plant) -> None:
    result = where_used(bike, "SPOKE")
    # WHEEL uses 36 × 1.02 = 36.72; BIKE uses 2 wheels × 36.72 = 73.44
    assert [(r.level, r.item, r.qty_per, r.via, r.is_top) for r in result.parents] == [
        (1, "WHEEL", D("36.72"), "SPOKE", False),
        (2, "BIKE", D("73.44"), "WHEEL", True),
    ]
    assert result.top_items == ("BIKE",)
    single = where_used(bike, "SPOKE", multi_level=False)
    assert [(r.level, r.item) for r in single.parents] == [(1, "WHEEL")]


def test_where_used_diamond_sums_paths() -> None:
    plant = plant_of("""
items: [{code: P, source: make}, {code: S1, source: make}, {code: S2, source: make}, {code: X}]
boms:
  - {parent: P, lines: [{component: S1, qty: 2}, {component: S2, qty: 3}]}
  - {parent: S1, lines: [{component: X, qty: 1}]}
  - {parent: S2, lines: [{component: X, qty: 2}]}
""")
    result = where_used(plant, "X")
    assert [(r.level, r.item, r.qty_per, r.via) for r in result.parents] == [
        (1, "S1", D(1), "X"),
        (1, "S2", D(2), "X"),
        (2, "P", D(2), "S1"),  # 2 S1 × 1
        (2, "P", D(6), "S2"),  # 3 S2 × 2
    ]
    assert result.totals["P"] == D(8) == explode_bom(plant, "P").totals["X"]


def test_where_used_passes_through_phantoms() -> None:
    plant = plant_of(PHANTOM_PLANT)
    leg = where_used(plant, "LEG")
    assert [(r.level, r.item, r.qty_per) for r in leg.parents] == [(1, "TABLE", D(4))]
    screw = where_used(plant, "SCREW")
    assert screw.totals == {"TABLE": D(12)}  # 4 direct + 8 through the phantom
    legset = where_used(plant, "LEGSET")  # asked about the phantom itself: its real users
    assert [(r.item, r.qty_per) for r in legset.parents] == [("TABLE", D(1))]


def test_low_level_codes(bike: Plant) -> None:
    assert get_low_level_codes(bike) == {
        "BIKE": 0,
        "FRAME": 1,
        "WHEEL": 1,
        "SEAT": 1,
        "SEAT-B": 1,
        "RIM": 2,
        "SPOKE": 2,
        "TIRE": 2,
    }
    deep = plant_of("""
items: [{code: P, source: make}, {code: S, source: make}, {code: T, source: make}, {code: X}]
boms:
  - {parent: P, lines: [{component: S, qty: 1}, {component: X, qty: 1}]}
  - {parent: S, lines: [{component: T, qty: 1}]}
  - {parent: T, lines: [{component: X, qty: 1}]}
""")
    assert get_low_level_codes(deep)["X"] == 3  # used at level 1 and level 3: its deepest


def test_bom_tree_renders_for_people(bike: Plant) -> None:
    tree = get_bom_tree(bike, "BIKE", D(10))
    assert [(n.level, n.item, n.qty) for n in tree.nodes] == [
        (0, "BIKE", D(10)),
        (1, "FRAME", D(10)),
        (1, "WHEEL", D(20)),
        (2, "RIM", D(20)),
        (2, "SPOKE", D("734.4")),
        (2, "TIRE", D(20)),
        (1, "SEAT", D(10)),
    ]
    assert render_bom_tree(tree) == "\n".join(
        [
            "BIKE 自行车 — 10 pcs",
            "├── FRAME 车架 ×1 = 10 pcs",
            "├── WHEEL 车轮 ×2 = 20 pcs",
            "│   ├── RIM 轮圈 ×1 = 20 pcs",
            "│   ├── SPOKE 辐条 ×36.72 (scrap 2%) = 734.4 pcs",
            "│   └── TIRE 轮胎 ×1 = 20 pcs",
            "└── SEAT 车座 ×1 = 10 pcs [alt: SEAT-B]",
        ]
    )


def test_bom_tree_phantoms_depth_and_truncation() -> None:
    plant = plant_of(PHANTOM_PLANT)
    flat = get_bom_tree(plant, "TABLE")
    assert [(n.level, n.item, n.qty_per) for n in flat.nodes] == [
        (0, "TABLE", D(1)),
        (1, "TOP", D(1)),
        (1, "LEG", D(4)),
        (1, "SCREW", D(8)),
        (1, "SCREW", D(4)),
    ]
    shown = get_bom_tree(plant, "TABLE", include_phantoms=True)
    assert [(n.level, n.item, n.phantom) for n in shown.nodes] == [
        (0, "TABLE", False),
        (1, "TOP", False),
        (1, "LEGSET", True),
        (2, "LEG", False),
        (2, "SCREW", False),
        (1, "SCREW", False),
    ]
    assert "[phantom]" in render_bom_tree(shown)
    assert [n.item for n in get_bom_tree(plant, "TABLE", include_phantoms=True, max_depth=1).nodes] == [
        "TABLE",
        "TOP",
        "LEGSET",
        "SCREW",
    ]
    cut = get_bom_tree(plant, "TABLE", max_nodes=3)
    assert cut.truncated and len(cut.nodes) == 3
    assert render_bom_tree(cut).endswith("… (truncated)")


def test_index_is_built_once_per_plant(bike: Plant) -> None:
    assert BomIndex.for_plant(bike) is BomIndex.for_plant(bike)
    other = replace(bike)
    assert BomIndex.for_plant(other) is not BomIndex.for_plant(bike)


# --- properties --------------------------------------------------------------------------------------------

QTYS = [D(1), D(2), D(3), D("0.5"), D("1.25")]
SCRAPS = [D(0), D(0), D("0.1"), D("0.02")]
OUTPUTS = [D(1), D(1), D(2), D(4), D(5)]  # terminating decimals: the arithmetic stays exact


@st.composite
def dag_plants(draw: st.DrawFn) -> Plant:
    """Small random DAG plants: edges go from lower to higher numbers; some middle items are phantoms."""
    n = draw(st.integers(2, 8))
    codes = [f"I{i}" for i in range(n)]
    boms = {}
    for i in range(n - 1):
        children = draw(st.lists(st.integers(i + 1, n - 1), max_size=3))
        if not children or (i > 0 and draw(st.booleans())):
            continue
        lines = tuple(
            BomLine(
                component=codes[c], qty=draw(st.sampled_from(QTYS)), scrap_rate=draw(st.sampled_from(SCRAPS))
            )
            for c in children
        )
        boms[codes[i]] = Bom(parent=codes[i], lines=lines, output_qty=draw(st.sampled_from(OUTPUTS)))
    items = {
        code: Item(
            code=code,
            source=Source.MAKE if code in boms else Source.BUY,
            phantom=i > 0 and code in boms and draw(st.booleans()),
        )
        for i, code in enumerate(codes)
    }
    return Plant(today=None, items=items, boms=boms)  # type: ignore[arg-type]


def sum_over_paths(plant: Plant, code: str, qty: D, out: dict[str, D]) -> None:
    """Brute force: walk every path of the raw BOMs; phantoms are walked through but not recorded."""
    bom = plant.boms.get(code)
    if bom is None:
        return
    for line in bom.lines:
        line_qty = qty * bom.qty_per_parent(line)
        if not plant.items[line.component].phantom:
            out[line.component] = out.get(line.component, D(0)) + line_qty
        sum_over_paths(plant, line.component, line_qty, out)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plant=dag_plants(), qty=st.sampled_from([D(1), D(3), D("2.5")]))
def test_explosion_totals_equal_the_sum_over_paths(plant: Plant, qty: D) -> None:
    expected: dict[str, D] = {}
    sum_over_paths(plant, "I0", qty, expected)
    result = explode_bom(plant, "I0", qty)
    assert dict(result.totals) == expected
    assert explode_totals(plant, "I0", qty) == expected
    assert sum(ln.qty for ln in result.lines) == sum(expected.values(), D(0))
    for component, total in expected.items():  # where-used sees the same quantity from below
        assert where_used(plant, component).totals.get("I0") == total / qty


def test_benchmark_runs_on_a_small_synthetic_factory() -> None:
    from benchmarks.bench_bom import format_result, run_bom_benchmark
    from benchmarks.synthetic import generate_factory

    plant = plant_from_dict(generate_factory("small", seed=3))
    result = run_bom_benchmark(plant, repeat=1)
    assert result.items == len(plant.items) and result.top_item in plant.boms
    assert [t.operation.split(" ")[0] for t in result.timings][:3] == [
        "explode_bom",
        "explosion",
        "check_kitting",
    ]
    explosion = explode_bom(plant, result.top_item, D(10))
    assert explode_totals(plant, result.top_item, D(10)) == dict(explosion.totals)
    assert "explode_bom" in format_result(result)
