"""Material issue modes: merged over orders, skip-level phantom kits, substitutes, supplements with
tolerance, kit issue with backflush lines, components derived at release (SQLite and PostgreSQL).

Bike factory of tests/integration/test_production_helpers.py; the released orders used here are
MO-B3 (3 BIKE, due 12-09) and MO-B2 (2 BIKE, due 12-10). Per bike: FRAME 1, WHEEL 2, SEAT 1 (backflush),
BELL 1, BOLT 4 (the phantom KIT-BK exploded). Stock: FRAME 10, WHEEL 4, SEAT 4, SEAT-B 3, BELL 10, BOLT 100.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from sqlmodel import select

from data_model.settings import Settings
from data_model.tables import Bom, Item, ProductionOrder
from tests.helpers import call, confirm_as, do, moves
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE, counts, order_state, stock
from tools.context import open_context
from tools.errors import ToolError


def test_merged_issue_allocates_by_due_date_then_code(bike_production_url: str) -> None:
    out = call(
        bike_production_url,
        "propose_merged_issue",
        orders=["MO-B2", "MO-B3"],
        lines=[{"item": "FRAME", "qty": 4}, {"item": "WHEEL", "qty": 3}, {"item": "BELL", "qty": 5}],
    )
    # MO-B3 is due 12-09, before MO-B2 (12-10): it is served first.
    # FRAME 4: MO-B3 needs 3 -> 3, MO-B2 gets the other 1; WHEEL 3: MO-B3 needs 6 -> all 3;
    # BELL 5: MO-B3 3, MO-B2 2
    assert [(ln["order"], ln["item"], ln["qty"]) for ln in out["lines"]] == [
        ("MO-B3", "FRAME", 3),
        ("MO-B2", "FRAME", 1),
        ("MO-B3", "WHEEL", 3),
        ("MO-B3", "BELL", 3),
        ("MO-B2", "BELL", 2),
    ]
    assert out["summary_zh"] == (
        "合并领料 MO-B3、MO-B2(从 STOCK):MO-B3 FRAME 3 pcs、MO-B2 FRAME 1 pcs、MO-B3 WHEEL 3 pcs、"
        "MO-B3 BELL 3 pcs、MO-B2 BELL 2 pcs。"
    )
    done = confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert done["result"]["code"] == "MI-00001" and done["result"]["mode"] == "merged"
    # one document, one move per order and component, each with its order as doc_ref
    assert moves(bike_production_url, "MO-B3", "production_order") == [
        ("issue", "FRAME", 3, "STOCK", "PRODUCTION", 50, ""),
        ("issue", "WHEEL", 3, "STOCK", "PRODUCTION", 20, ""),
        ("issue", "BELL", 3, "STOCK", "PRODUCTION", 3, ""),
    ]
    assert moves(bike_production_url, "MO-B2", "production_order") == [
        ("issue", "FRAME", 1, "STOCK", "PRODUCTION", 50, ""),
        ("issue", "BELL", 2, "STOCK", "PRODUCTION", 3, ""),
    ]
    assert order_state(bike_production_url, "MO-B3")[2]["FRAME"] == (3, 3)
    assert order_state(bike_production_url, "MO-B2")[2]["FRAME"] == (1, 2)
    assert (
        order_state(bike_production_url, "MO-B2")[0]
        == order_state(bike_production_url, "MO-B3")[0]
        == "in_progress"
    )
    # FRAME 10 - 4, WHEEL 4 - 3, BELL 10 - 5
    assert stock(bike_production_url, "FRAME", "WHEEL", "BELL") == {"BELL": 5, "FRAME": 6, "WHEEL": 1}

    # FRAME 3 more: MO-B3 needs none, MO-B2 needs 1; the other 2 would be an over-issue of MO-B2 (the last
    # order that uses FRAME): refused without a reason, a planner's proposal with one
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_merged_issue",
            orders=["MO-B3", "MO-B2"],
            lines=[{"item": "FRAME", "qty": 3}],
        )
    assert (err.value.code, err.value.details["record"], err.value.details["field"]) == (
        "invalid_input",
        "MO-B2",
        "reason",
    )
    assert counts(bike_production_url) == before
    out = call(
        bike_production_url,
        "propose_merged_issue",
        orders=["MO-B3", "MO-B2"],
        lines=[{"item": "FRAME", "qty": 3}],
        reason="two spares for the line",
    )
    assert out["kind"] == "material_over_issue"
    assert [(ln["order"], ln["qty"], ln["over_issue"]) for ln in out["lines"]] == [("MO-B2", 3, True)]


def test_merged_issue_of_everything_still_to_issue_checks_stock(bike_production_url: str) -> None:
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_merged_issue", orders=["MO-B2", "MO-B3"])
    # the two orders need WHEEL 2 x 2 + 3 x 2 = 10, 4 in stock
    assert err.value.code == "infeasible"
    assert (
        err.value.message == "orders: not enough WHEEL at STOCK: 4 on hand, 10 pcs to issue to MO-B2, MO-B3"
    )
    assert counts(bike_production_url) == before
    out = call(
        bike_production_url,
        "propose_merged_issue",
        orders=["MO-B2", "MO-B3"],
        settings=Settings(allow_negative_stock=True),
    )
    # everything but the backflush seats: FRAME 3 + 2, WHEEL 6 + 4, BELL 3 + 2, BOLT 12 + 8
    assert sorted((ln["order"], ln["item"], ln["qty"]) for ln in out["lines"]) == [
        ("MO-B2", "BELL", 2),
        ("MO-B2", "BOLT", 8),
        ("MO-B2", "FRAME", 2),
        ("MO-B2", "WHEEL", 4),
        ("MO-B3", "BELL", 3),
        ("MO-B3", "BOLT", 12),
        ("MO-B3", "FRAME", 3),
        ("MO-B3", "WHEEL", 6),
    ]


def test_skip_level_issue_of_a_phantom_kit(bike_production_url: str) -> None:
    # the phantom KIT-BK never is an order component: its BELL and BOLT are
    assert set(order_state(bike_production_url, "MO-B3")[2]) == {"FRAME", "WHEEL", "SEAT", "BELL", "BOLT"}
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_material_issue",
            order="MO-B3",
            lines=[{"item": "KIT-BK", "qty": 2, "uom": "pcs"}],
        )
    assert err.value.code == "invalid_input"
    assert err.value.message == "lines.0.uom: KIT-BK is counted in set, not pcs"
    out = call(
        bike_production_url,
        "propose_material_issue",
        order="MO-B3",
        lines=[{"item": "KIT-BK", "qty": 2, "uom": "set"}],
    )
    # 2 kits = BELL 2 x 1, BOLT 2 x 4
    assert [(ln["item"], ln["qty"], ln["via_phantom"]) for ln in out["lines"]] == [
        ("BELL", 2, "KIT-BK"),
        ("BOLT", 8, "KIT-BK"),
    ]
    assert (
        out["summary_en"]
        == "Issue to MO-B3 from STOCK: BELL 2 pcs (from kit KIT-BK), BOLT 8 pcs (from kit KIT-BK)."
    )
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert moves(bike_production_url, "MO-B3", "production_order") == [
        ("issue", "BELL", 2, "STOCK", "PRODUCTION", 3, ""),
        ("issue", "BOLT", 8, "STOCK", "PRODUCTION", D("0.1"), ""),
    ]
    comps = order_state(bike_production_url, "MO-B3")[2]
    assert (comps["BELL"], comps["BOLT"]) == ((2, 3), (8, 12))
    got = call(bike_production_url, "get_production_order", order="MO-B3")
    assert [(ln["item"], ln["via_phantom"]) for ln in got["issues"][0]["lines"]] == [
        ("BELL", "KIT-BK"),
        ("BOLT", "KIT-BK"),
    ]
    # 2 more kits: BELL 2 + 2 = 4 of 3 required -> over-issue, needs a reason
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url, "propose_material_issue", order="MO-B3", lines=[{"item": "KIT-BK", "qty": 2}]
        )
    assert err.value.details["field"] == "reason"


def test_issuing_a_substitute_moves_the_requirement(bike_production_url: str) -> None:
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_material_issue",
            order="MO-B3",
            lines=[{"item": "BELL", "qty": 1, "substitute_for": "SEAT"}],
        )
    assert err.value.code == "invalid_input"
    assert err.value.message == "lines.0.substitute_for: BELL is not a substitute of SEAT in the BOM of BIKE"
    out = call(
        bike_production_url,
        "propose_material_issue",
        order="MO-B3",
        lines=[{"item": "SEAT-B", "qty": 2, "substitute_for": "SEAT"}],
    )
    # ratio 1.0: 2 SEAT-B replace 2 of the 3 SEAT
    assert out["substitutions"] == [
        {
            "order": "MO-B3",
            "primary_component_id": out["substitutions"][0]["primary_component_id"],
            "component": "SEAT",
            "substitute": "SEAT-B",
            "primary_qty": 2,
            "substitute_qty": 2,
            "ratio": 1,
        }
    ]
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    comps = order_state(bike_production_url, "MO-B3")[2]
    assert (comps["SEAT"], comps["SEAT-B"]) == ((0, 1), (2, 2))
    got = call(bike_production_url, "get_production_order", order="MO-B3")
    assert [(c["item"], c["substitute_for"]) for c in got["components"] if c["item"].startswith("SEAT")] == [
        ("SEAT", None),
        ("SEAT-B", "SEAT"),
    ]
    # completing all 3 bikes backflushes only the 1 SEAT still needed: the seat group needs 3, SEAT-B holds 2
    do(
        bike_production_url, "propose_kit_issue", WAREHOUSE, order="MO-B3", sets=2
    )  # FRAME 2, WHEEL 4 (all the stock has)
    out = call(bike_production_url, "propose_completion_receipt", order="MO-B3", qty=2)
    # 2 bikes: group target 2 -> SEAT (required 1) 1, SEAT-B (required 2) 1, SEAT-B already holds 2
    assert [(ln["item"], ln["qty"]) for ln in out["backflush"]] == [("SEAT", 1)]


def test_supplement_needs_a_reason_and_tolerance_spares_small_extras(bike_production_url: str) -> None:
    do(
        bike_production_url, "propose_kit_issue", WAREHOUSE, order="MO-B3", sets=2
    )  # FRAME 2 of 3, WHEEL 4 of 6, BELL 2, BOLT 8
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_supplementary_issue",
            order="MO-B3",
            lines=[{"item": "FRAME", "qty": 1}],
        )
    assert (err.value.code, err.value.details["errors"][0]["field"]) == ("invalid_input", "reason")
    # FRAME 2 + 2 = 4 of 3 required: beyond 3 x (1 + 0) -> over-issue for a planner
    out = call(
        bike_production_url,
        "propose_supplementary_issue",
        order="MO-B3",
        lines=[{"item": "FRAME", "qty": 2}],
        reason="frame bent in welding",
    )
    assert (out["mode"], out["kind"]) == ("supplement", "material_over_issue")
    assert (
        out["summary_zh"]
        == "补料 MO-B3(从 STOCK):FRAME 2 pcs(超领);超出需求与容差,需计划员批准;原因:frame bent in welding。"
    )
    # with a 50 % tolerance 4 <= 3 x 1.5 = 4.5: a plain supplement, still carrying its reason
    tolerant = Settings(over_issue_tolerance=0.5)
    out = call(
        bike_production_url,
        "propose_supplementary_issue",
        settings=tolerant,
        order="MO-B3",
        lines=[{"item": "FRAME", "qty": 2}],
        reason="frame bent in welding",
    )
    assert (out["kind"], out["over_issue"]) == ("material_issue", False)
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert moves(bike_production_url, "MO-B3", "production_order")[-1] == (
        "issue",
        "FRAME",
        2,
        "STOCK",
        "PRODUCTION",
        50,
        "frame bent in welding",
    )
    assert order_state(bike_production_url, "MO-B3")[2]["FRAME"] == (4, 3)
    got = call(bike_production_url, "get_production_order", order="MO-B3")
    frame = next(c for c in got["components"] if c["item"] == "FRAME")
    assert (frame["issued"], frame["remaining"], frame["over_issued"]) == (4, 0, 1)


def test_kit_with_backflush_lines_leaves_nothing_to_backflush(bike_production_url: str) -> None:
    out = call(bike_production_url, "propose_kit_issue", order="MO-B2", sets=1, include_backflush=True)
    # one set: FRAME 1, WHEEL 2, SEAT 1, BELL 1, BOLT 4
    assert [(ln["item"], ln["qty"]) for ln in out["lines"]] == [
        ("FRAME", 1),
        ("WHEEL", 2),
        ("SEAT", 1),
        ("BELL", 1),
        ("BOLT", 4),
    ]
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    # completing 1 bike needs SEAT 1, already issued: backflush tops up to what is needed, so nothing
    out = call(bike_production_url, "propose_completion_receipt", order="MO-B2", qty=1)
    assert out["backflush"] == []
    # completing the second backflushes the second seat: target 2 - 1 issued
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    do(bike_production_url, "propose_kit_issue", WAREHOUSE, order="MO-B2", sets=1)
    out = call(bike_production_url, "propose_completion_receipt", order="MO-B2", qty=1)
    assert [(ln["item"], ln["qty"]) for ln in out["backflush"]] == [("SEAT", 1)]
    # nothing left to issue for another set
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_kit_issue", order="MO-B2", sets=1)
    assert err.value.message == "sets: nothing left to issue to MO-B2 for 1 set(s)"


def test_release_derives_components_from_the_bom_in_force(bike_production_url: str) -> None:
    # an order another tool created without components (the dataset load derives them itself)
    with open_context(bike_production_url) as ctx:
        bike_item = ctx.session.exec(select(Item).where(Item.code == "BIKE")).one()
        ctx.session.add(
            ProductionOrder(
                code="MO-NEW", item_id=bike_item.id, qty=D(4), due_date=date(2026, 12, 20), status="planned"
            )
        )
    out = call(
        bike_production_url,
        "propose_release_production_orders",
        orders=["MO-NEW"],
        substitutions=[{"order": "MO-NEW", "component": "SEAT", "substitute": "SEAT-B", "qty": 3}],
    )
    (plan,) = out["orders"]
    assert plan["derived_from_bom"] == "1"
    # 4 bikes; SEAT 4 - 3 moved to SEAT-B; the phantom KIT-BK through to BELL 4 and BOLT 16
    assert [
        (c["item"], c["required"], c["issue_method"], c["substitute_for"]) for c in plan["components"]
    ] == [
        ("FRAME", 4, "manual", None),
        ("WHEEL", 8, "manual", None),
        ("SEAT", 1, "backflush", None),
        ("BELL", 4, "manual", None),
        ("BOLT", 16, "manual", None),
        ("SEAT-B", 3, "backflush", "SEAT"),
    ]
    confirm_as(bike_production_url, out["proposal_id"], PLANNER)
    status, _, comps = order_state(bike_production_url, "MO-NEW")
    assert status == "released"
    assert {k: v[1] for k, v in comps.items()} == {
        "FRAME": 4,
        "WHEEL": 8,
        "SEAT": 1,
        "BELL": 4,
        "BOLT": 16,
        "SEAT-B": 3,
    }
    with open_context(bike_production_url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == "MO-NEW")).one()
        bom = ctx.session.get(Bom, order.bom_id)
        assert bom is not None and bom.item_id == bike_item.id
    # a released order cannot be released again
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_release_production_orders", orders=["MO-NEW"])
    assert err.value.code == "conflict"
    # moving more of a component than is open is refused
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_release_production_orders",
            orders=["MO-B1"],
            substitutions=[{"order": "MO-B1", "component": "SEAT", "substitute": "SEAT-B", "qty": 6}],
        )
    assert (err.value.code, err.value.details["field"]) == ("invalid_input", "substitutions.0")


def test_skip_level_issue_on_the_demo_standing_desk(demo_url: str) -> None:
    # MO-2612-01: 40 standing desks DSK-1400E; its BOM has the phantom KIT-DSK (SCREW-M6 16 at 5 % scrap,
    # LEVELER 4, ALLEN-KEY 1), exploded through into the order's components
    comps = order_state(demo_url, "MO-2612-01")[2]
    assert "KIT-DSK" not in comps
    # SCREW-M6 40 x 16 x 1.05 = 672 (backflush), LEVELER 160, ALLEN-KEY 40
    assert (comps["SCREW-M6"], comps["LEVELER"], comps["ALLEN-KEY"]) == ((0, 672), (0, 160), (0, 40))
    before = stock(demo_url, "SCREW-M6", "LEVELER", "ALLEN-KEY")
    out = call(demo_url, "propose_material_issue", order="MO-2612-01", lines=[{"item": "KIT-DSK", "qty": 10}])
    # 10 kits: SCREW-M6 10 x 16.8 = 168, LEVELER 40, ALLEN-KEY 10
    assert [(ln["item"], ln["qty"]) for ln in out["lines"]] == [
        ("SCREW-M6", 168),
        ("LEVELER", 40),
        ("ALLEN-KEY", 10),
    ]
    confirm_as(demo_url, out["proposal_id"], WAREHOUSE)
    after = stock(demo_url, "SCREW-M6", "LEVELER", "ALLEN-KEY")
    assert {k: before[k] - after[k] for k in before} == {"SCREW-M6": 168, "LEVELER": 40, "ALLEN-KEY": 10}
    status, _, comps = order_state(demo_url, "MO-2612-01")
    assert status == "in_progress"
    assert (comps["SCREW-M6"], comps["LEVELER"], comps["ALLEN-KEY"]) == ((168, 672), (40, 160), (10, 40))
