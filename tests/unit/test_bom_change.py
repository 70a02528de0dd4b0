"""BOM changes on the bike factory: line changes, diffs, new versions' dates and before/after impact."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.bom import find_bom_cycle
from planning.bom_change import (
    ChangeType,
    LineChange,
    VersionSpan,
    apply_line_changes,
    compare_plants,
    diff_bom,
    impacted_items,
    modify_plant,
    next_version,
    supersede,
)
from planning.errors import InvalidInputError
from planning.model import Bom, BomLine, Item, Source, Substitute
from tests.helpers import bike_plant

BIKE_PLANT = bike_plant()
BIKE_BOM = BIKE_PLANT.boms["BIKE"]
WHEEL_BOM = BIKE_PLANT.boms["WHEEL"]


def change(kind: str, parent: str, component: str, **kw: object) -> LineChange:
    return LineChange(ChangeType(kind), parent, component, **kw)  # type: ignore[arg-type]


def test_replace_seat_keeps_the_line_and_drops_the_new_component_as_its_own_substitute() -> None:
    out = apply_line_changes(BIKE_BOM, [change("replace", "BIKE", "SEAT", new_component="SEAT-B")])
    seat = out.after.lines[2]
    assert (seat.component, seat.qty, seat.scrap_rate, seat.substitutes) == ("SEAT-B", D(1), D(0), ())
    assert out.changed_lines == {2}
    assert out.changes[0].old_qty == D(1) and out.before is BIKE_BOM
    assert [ln.component for ln in out.after.lines] == ["FRAME", "WHEEL", "SEAT-B"]


def test_qty_scrap_add_remove_in_order() -> None:
    out = apply_line_changes(
        WHEEL_BOM,
        [
            change("qty", "WHEEL", "SPOKE", qty=D(32)),
            change("scrap", "WHEEL", "SPOKE", scrap_rate=D("0.05")),
            change("add", "WHEEL", "VALVE", qty=D(1)),
            change("remove", "WHEEL", "TIRE"),
        ],
    )
    assert [(ln.component, ln.qty, ln.scrap_rate) for ln in out.after.lines] == [
        ("RIM", D(1), D(0)),
        ("SPOKE", D(32), D("0.05")),
        ("VALVE", D(1), D(0)),
    ]
    assert out.changed_lines == {1, 2}  # RIM untouched, TIRE gone
    # the second change sees the first one's result as its "old" values
    assert [(c.change_type, c.old_qty, c.old_scrap_rate) for c in out.changes] == [
        (ChangeType.QTY, D(36), D("0.02")),
        (ChangeType.SCRAP, D(32), D("0.02")),
        (ChangeType.ADD, None, None),
        (ChangeType.REMOVE, D(1), D(0)),
    ]
    assert WHEEL_BOM.lines[1].qty == D(36)  # the old version is untouched


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (change("qty", "WHEEL", "SEAT", qty=D(2)), "SEAT is not on the BOM of WHEEL"),
        (change("add", "WHEEL", "RIM", qty=D(2)), "RIM is already on the BOM of WHEEL"),
        (change("qty", "WHEEL", "RIM", qty=D(0)), "quantity must be positive"),
        (change("qty", "WHEEL", "RIM"), "needs a quantity"),
        (change("scrap", "WHEEL", "RIM", scrap_rate=D(1)), r"scrap rate must be in \[0, 1\)"),
        (change("replace", "WHEEL", "RIM"), "replace RIM by what"),
        (change("add", "WHEEL", "VALVE", qty=D(1), issue_method="magic"), "unknown issue method"),
    ],
)
def test_bad_changes_are_refused(bad: LineChange, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message) as exc:
        apply_line_changes(WHEEL_BOM, [bad])
    assert exc.value.details["parent"] == "WHEEL"


def test_removing_the_last_line_is_refused() -> None:
    single = Bom("X", (BomLine("A", D(1)),))
    with pytest.raises(InvalidInputError, match="would leave the BOM of X empty"):
        apply_line_changes(single, [change("remove", "X", "A")])


def test_diff_names_each_kind_of_change() -> None:
    after = Bom(
        "WHEEL",
        (
            BomLine("RIM", D(1), issue_method="backflush"),
            BomLine("SPOKE", D(32), D("0.02"), substitutes=(Substitute("SPOKE-B", D(1)),)),
            BomLine("VALVE", D(1)),
        ),
    )
    out = diff_bom("WHEEL", WHEEL_BOM, after)
    assert [(c.change_type, c.component) for c in out.changes] == [
        (ChangeType.UPDATE, "RIM"),
        (ChangeType.QTY, "SPOKE"),
        (ChangeType.UPDATE, "SPOKE"),
        (ChangeType.ADD, "VALVE"),
        (ChangeType.REMOVE, "TIRE"),
    ]
    assert out.changes[0].note == "issue method manual → backflush"
    assert out.changes[2].note == "substitutes none → SPOKE-B×1"
    assert (out.changes[1].old_qty, out.changes[1].qty) == (D(36), D(32))
    assert out.changed_lines == {0, 1, 2}
    assert diff_bom("WHEEL", WHEEL_BOM, WHEEL_BOM).changes == ()
    new = diff_bom("NEW", None, WHEEL_BOM)
    assert [c.change_type for c in new.changes] == [ChangeType.ADD] * 3


def test_next_version() -> None:
    assert next_version([]) == "1"
    assert next_version(["1", "2"]) == "3"
    assert next_version(["1", "A", "9"]) == "10"
    assert next_version(["A", "1"]) == "2"


def test_supersede_ends_the_base_or_obsoletes_one_starting_that_day() -> None:
    on = date(2026, 12, 10)
    assert supersede(None, on).new == VersionSpan(on, None)
    open_ended = supersede(VersionSpan(None, None), on)
    assert (open_ended.base, open_ended.new) == (VersionSpan(None, on), VersionSpan(on, None))
    # a later version is already planned from 2027-01-01: the new one hands over to it then
    bounded = supersede(VersionSpan(date(2026, 1, 1), date(2027, 1, 1)), on)
    assert bounded.base == VersionSpan(date(2026, 1, 1), on)
    assert bounded.new == VersionSpan(on, date(2027, 1, 1))
    same_day = supersede(VersionSpan(on, None), on)
    assert same_day.base is None and same_day.new == VersionSpan(on, None)
    with pytest.raises(InvalidInputError, match="not in force"):
        supersede(VersionSpan(None, date(2026, 12, 5)), on)


def test_impact_of_replacing_seat_on_bike_cost() -> None:
    out = apply_line_changes(BIKE_BOM, [change("replace", "BIKE", "SEAT", new_component="SEAT-B")])
    after = modify_plant(BIKE_PLANT, {"BIKE": out.after})
    (impact,) = compare_plants(BIKE_PLANT, after, ["BIKE"])
    # before: FRAME 50 + 2 × WHEEL (RIM 8 + 36 × 1.02 × 0.2 + TIRE 6 = 21.344) + SEAT 10 = 102.688
    assert impact.unit_cost_before == D("102.688")
    # after: 102.688 − SEAT 10 + SEAT-B 12 = 104.688
    assert impact.unit_cost_after == D("104.688") and impact.cost_delta == D(2)
    assert [(t.item, t.before, t.after) for t in impact.changed_totals] == [
        ("SEAT", D(1), D(0)),
        ("SEAT-B", D(0), D(1)),
    ]
    assert BIKE_PLANT.boms["BIKE"].lines[2].component == "SEAT"  # the plant itself is unchanged


def test_impact_of_fewer_spokes_reaches_the_bike() -> None:
    out = apply_line_changes(WHEEL_BOM, [change("qty", "WHEEL", "SPOKE", qty=D(32))])
    after = modify_plant(BIKE_PLANT, {"WHEEL": out.after})
    items, cut = impacted_items(after, ["WHEEL"])
    assert (items, cut) == (["WHEEL", "BIKE"], False)
    wheel, bike = compare_plants(BIKE_PLANT, after, items)
    # WHEEL: 8 + 32 × 1.02 × 0.2 + 6 = 20.528
    assert (wheel.unit_cost_before, wheel.unit_cost_after) == (D("21.344"), D("20.528"))
    # BIKE: 50 + 2 × 20.528 + 10 = 101.056; spokes per bike 2 × 36.72 = 73.44 → 2 × 32.64 = 65.28
    assert bike.unit_cost_after == D("101.056")
    assert [(t.item, t.before, t.after) for t in bike.changed_totals] == [("SPOKE", D("73.44"), D("65.28"))]


def test_a_new_item_has_no_cost_before() -> None:
    kit = Bom("KIT", (BomLine("SEAT", D(2)),))
    after = modify_plant(BIKE_PLANT, {"KIT": kit}, {"KIT": Item("KIT", source=Source.MAKE)})
    (impact,) = compare_plants(BIKE_PLANT, after, ["KIT"])
    assert impact.unit_cost_before is None and impact.unit_cost_after == D(20)  # 2 × SEAT 10
    assert impact.totals_before == {} and dict(impact.totals_after) == {"SEAT": D(2)}


def test_a_change_that_closes_a_loop_is_a_cycle() -> None:
    out = apply_line_changes(WHEEL_BOM, [change("add", "WHEEL", "BIKE", qty=D(1))])
    boms = {**BIKE_PLANT.boms, "WHEEL": out.after}
    assert find_bom_cycle(boms) in (["BIKE", "WHEEL", "BIKE"], ["WHEEL", "BIKE", "WHEEL"])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["RIM", "SPOKE", "TIRE", "VALVE", "HUB"]),
            st.decimals(min_value=D("0.001"), max_value=D(100), places=3),
            st.decimals(min_value=D(0), max_value=D("0.5"), places=2),
        ),
        min_size=1,
        max_size=5,
        unique_by=lambda t: t[0],
    )
)
def test_applying_a_diff_gives_back_the_target(rows: list[tuple[str, D, D]]) -> None:
    target = Bom("WHEEL", tuple(BomLine(c, q, s) for c, q, s in rows))
    diff = diff_bom("WHEEL", WHEEL_BOM, target)
    # the diff's qty / scrap / add / remove changes rebuild the target's quantities from the old BOM
    ordered = sorted(diff.changes, key=lambda c: c.change_type != ChangeType.ADD)
    rebuilt = apply_line_changes(WHEEL_BOM, [c for c in ordered if c.change_type != ChangeType.UPDATE]).after
    assert {ln.component: (ln.qty, ln.scrap_rate) for ln in rebuilt.lines} == {
        ln.component: (ln.qty, ln.scrap_rate) for ln in target.lines
    }
