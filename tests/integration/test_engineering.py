"""Engineering changes on the bike factory: BOM tree edits, ECNs draft → approved → applied, batch changes,
history, roles, and the `orderpilot bom` commands. Costs worked by hand from bike_factory.yaml:

WHEEL = RIM 8 + SPOKE 36 × 1.02 × 0.2 (= 7.344) + TIRE 6 = 21.344
BIKE  = FRAME 50 + 2 × WHEEL 21.344 + SEAT 10 = 102.688
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select
from typer.testing import CliRunner

from data_model.tables import AuditLog, Bom, BomLine, Ecn, EcnChange, Item, Proposal
from tests.helpers import bike_factory_data, call, confirm_as, load_dict
from tools.context import Actor, open_context
from tools.errors import ToolError
from tools.proposals import get_proposal

BIKE = bike_factory_data()
TODAY = date(2026, 12, 1)
ECN_DAY = date(2026, 12, 10)
PLANNER = Actor("pat", "planner")
MANAGER = Actor("mia", "manager")
SEAT_TO_B = {"change_type": "replace", "parent": "BIKE", "component": "SEAT", "new_component": "SEAT-B"}


def counts(url: str) -> dict[str, int]:
    """Rows of every table a BOM change may write."""
    with open_context(url) as ctx:
        return {
            t.__tablename__: ctx.session.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()  # type: ignore[attr-defined]
            for t in (Bom, BomLine, Ecn, EcnChange, Item)
        }


def draft_seat_ecn(url: str) -> str:
    """ECN-00001 (replace SEAT by SEAT-B on BIKE from 2026-12-10) drafted by a planner."""
    out = call(
        url,
        "propose_ecn",
        title="SEAT-B on BIKE",
        reason="SEAT discontinued by the supplier",
        effective_date=ECN_DAY.isoformat(),
        changes=[SEAT_TO_B],
    )
    assert confirm_as(url, out["proposal_id"], PLANNER)["result"]["ecn"] == "ECN-00001"
    return "ECN-00001"


# ---------------------------------------------------------------- ECN: draft → approved → applied


def test_ecn_replace_seat_from_a_date(bike_url: str) -> None:
    before = counts(bike_url)
    draft = call(
        bike_url,
        "propose_ecn",
        title="SEAT-B on BIKE",
        reason="SEAT discontinued by the supplier",
        effective_date="2026-12-10",
        changes=[SEAT_TO_B],
    )
    assert draft["status"] == "pending" and draft["approver_roles"] == ["planner", "manager", "admin"]
    (bom,) = draft["preview"]["boms"]
    assert (bom["parent"], bom["base_version"], bom["new_version"]) == ("BIKE", "1", "2")
    assert (bom["effective_from"], bom["base_effective_to"], bom["effective_to"]) == (
        "2026-12-10",
        "2026-12-10",
        None,
    )
    assert [ln["component"] for ln in bom["lines_after"]] == ["FRAME", "WHEEL", "SEAT-B"]
    assert [ln["changed"] for ln in bom["lines_after"]] == [False, False, True]
    (impact,) = draft["preview"]["impacts"]
    # 102.688 − SEAT 10 + SEAT-B 12 = 104.688
    assert (impact["item"], impact["unit_cost_before"], impact["unit_cost_after"]) == (
        "BIKE",
        102.688,
        104.688,
    )
    assert impact["changed_totals"] == [
        {"item": "SEAT", "before": 1, "after": 0},
        {"item": "SEAT-B", "before": 0, "after": 1},
    ]
    assert draft["changes"][0]["text"] == "BIKE: replace SEAT by SEAT-B"
    assert counts(bike_url) == before  # nothing written before confirmation

    assert confirm_as(bike_url, draft["proposal_id"], PLANNER)["result"] == {
        "ecn": "ECN-00001",
        "status": "draft",
        "title": "SEAT-B on BIKE",
        "effective_date": "2026-12-10",
        "changes": 1,
    }
    assert counts(bike_url)["bom"] == before["bom"]  # a draft changes no BOM

    approval = call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    assert (approval["from_status"], approval["to_status"]) == ("draft", "approved")
    assert approval["approver_roles"] == ["manager", "admin"]
    assert approval["preview"]["impacts"][0]["unit_cost_after"] == 104.688
    assert confirm_as(bike_url, approval["proposal_id"], MANAGER)["result"]["status"] == "approved"

    application = call(bike_url, "propose_ecn_application", ecn="ECN-00001")
    assert application["summary_en"] == (
        "Apply ECN ECN-00001 'SEAT-B on BIKE' from 2026-12-10: BIKE v1→v2; BIKE unit cost 102.688 → 104.688."
    )
    assert application["preview"]["boms"][0]["lines_after"][2]["ecn_ref"] == "ECN-00001"
    result = confirm_as(bike_url, application["proposal_id"], PLANNER)["result"]
    assert result["boms"] == [
        {"parent": "BIKE", "from_version": "1", "to_version": "2", "effective_from": "2026-12-10"}
    ]

    # planning before the date still uses the old BOM; from the date on, the new one
    assert "SEAT" in call(bike_url, "explode_bom", item="BIKE")["totals"]
    on_day = call(bike_url, "explode_bom", item="BIKE", today=ECN_DAY)["totals"]
    assert "SEAT-B" in on_day and "SEAT" not in on_day
    assert call(bike_url, "explode_bom", item="BIKE", today=date(2026, 12, 9))["totals"]["SEAT"] == 1
    assert call(bike_url, "get_bom_cost", item="BIKE")["unit_cost"] == 102.688
    assert call(bike_url, "get_bom_cost", item="BIKE", today=ECN_DAY)["unit_cost"] == 104.688

    ecn = call(bike_url, "get_ecn", ecn="ECN-00001")
    assert (ecn["status"], ecn["source"], ecn["approved_by"], ecn["applied_by"]) == (
        "applied",
        "ecn",
        "mia",
        "pat",
    )
    assert [(e["action"], e["actor"]) for e in ecn["log"]] == [
        ("create", "pat"),
        ("approve", "mia"),
        ("apply", "pat"),
    ]
    (change,) = ecn["changes"]
    assert (change["from_version"], change["to_version"], change["old_qty"]) == ("1", "2", 1)
    assert ecn["next_step"] == ""

    # history: the old version kept as it was, ended on the date; the new one made by the ECN
    history = call(bike_url, "get_bom_history", item="BIKE")
    v1, v2 = history["versions"]
    assert (v1["version"], v1["effective_to"], v1["in_force"], v1["ecn"]) == ("1", "2026-12-10", True, "")
    assert [ln["component"] for ln in v1["lines"]] == ["FRAME", "WHEEL", "SEAT"]
    assert (v2["version"], v2["effective_from"], v2["in_force"], v2["ecn"]) == (
        "2",
        "2026-12-10",
        False,
        "ECN-00001",
    )
    assert [(ln["component"], ln["ecn_ref"]) for ln in v2["lines"]] == [
        ("FRAME", ""),
        ("WHEEL", ""),
        ("SEAT-B", "ECN-00001"),
    ]
    assert v2["lines"][2]["substitutes"] == []  # SEAT-B no longer a substitute of itself
    assert [(c["ecn"], c["change_type"], c["component"], c["new_component"]) for c in history["changes"]] == [
        ("ECN-00001", "replace", "SEAT", "SEAT-B")
    ]
    assert call(bike_url, "get_bom_history", item="BIKE", on="2026-12-10")["versions"][1]["in_force"] is True
    seat = call(bike_url, "get_bom_history", item="SEAT")
    assert seat["versions"] == [] and [c["ecn"] for c in seat["used_in_changes"]] == ["ECN-00001"]

    with open_context(bike_url) as ctx:
        actions = ctx.session.exec(
            select(AuditLog.action, AuditLog.entity_ref).where(AuditLog.entity.in_(["ecn", "bom"]))  # type: ignore[attr-defined]
        ).all()
    assert sorted(actions) == sorted(
        [
            ("create", "ECN-00001"),
            ("approve", "ECN-00001"),
            ("apply", "ECN-00001"),
            ("create_version", "BIKE v2"),
        ]
    )


def test_wrong_roles_are_forbidden_and_write_nothing(bike_url: str) -> None:
    draft = call(
        bike_url, "propose_ecn", title="t", reason="r", effective_date="2026-12-10", changes=[SEAT_TO_B]
    )
    with pytest.raises(ToolError) as sales:
        confirm_as(bike_url, draft["proposal_id"], Actor("sam", "sales"))
    assert sales.value.code == "forbidden"
    assert counts(bike_url)["ecn"] == 0
    confirm_as(bike_url, draft["proposal_id"], PLANNER)

    approval = call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    with pytest.raises(ToolError) as planner:
        confirm_as(bike_url, approval["proposal_id"], PLANNER)  # a planner drafts and applies, never approves
    assert planner.value.code == "forbidden"
    assert planner.value.details["allowed"] == ["manager", "admin"]
    assert call(bike_url, "get_ecn", ecn="ECN-00001")["status"] == "draft"
    with open_context(bike_url) as ctx:
        assert get_proposal(ctx.session, approval["proposal_id"]).status == "pending"
    confirm_as(bike_url, approval["proposal_id"], MANAGER)

    before = counts(bike_url)
    application = call(bike_url, "propose_ecn_application", ecn="ECN-00001")
    with pytest.raises(ToolError) as buyer:
        confirm_as(bike_url, application["proposal_id"], Actor("bo", "buyer"))
    assert buyer.value.code == "forbidden"
    assert counts(bike_url) == before
    assert call(bike_url, "get_ecn", ecn="ECN-00001")["status"] == "approved"
    assert confirm_as(bike_url, application["proposal_id"], MANAGER)["result"]["status"] == "applied"


def test_steps_out_of_order_are_conflicts(bike_url: str) -> None:
    draft_seat_ecn(bike_url)
    with pytest.raises(ToolError) as early:
        call(bike_url, "propose_ecn_application", ecn="ECN-00001")
    assert early.value.code == "conflict"
    assert "ECN-00001 is draft: it cannot become applied" in early.value.message
    assert early.value.details["allowed"] == ["approved", "cancelled"]
    with pytest.raises(ToolError) as missing:
        call(bike_url, "get_ecn", ecn="ECN-09999")
    assert missing.value.code == "not_found"

    cancel = call(bike_url, "propose_ecn_cancellation", ecn="ecn-00001", reason="wrong seat")
    assert cancel["to_status"] == "cancelled" and cancel["preview"] is None
    assert confirm_as(bike_url, cancel["proposal_id"], PLANNER)["result"] == {
        "ecn": "ECN-00001",
        "status": "cancelled",
    }
    with pytest.raises(ToolError) as final:
        call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    assert final.value.code == "conflict" and "it is final" in final.value.message
    assert [e["action"] for e in call(bike_url, "get_ecn", ecn="ECN-00001")["log"]] == ["create", "cancel"]


def test_an_approval_confirmed_after_the_ecn_moved_on_fails(bike_url: str) -> None:
    draft_seat_ecn(bike_url)
    first = call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    second = call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    confirm_as(bike_url, first["proposal_id"], MANAGER)
    with pytest.raises(ToolError) as stale:
        confirm_as(bike_url, second["proposal_id"], MANAGER)
    assert stale.value.code == "conflict"


def test_ecn_date_in_the_past_and_changes_that_do_not_fit_are_refused(bike_url: str) -> None:
    cases = [  # (effective date, changes, error code, part of its message)
        ("2026-11-30", [SEAT_TO_B], "invalid_input", "never rewrites history"),
        (
            "2026-12-10",
            [{"change_type": "qty", "parent": "BIKE", "component": "SPOKE", "qty": 30}],
            "invalid_input",
            "SPOKE is not on the BOM of BIKE",
        ),
        ("2026-12-10", [{**SEAT_TO_B, "new_component": "SEAT-Z"}], "not_found", ""),
        (
            "2026-12-10",
            [{"change_type": "qty", "parent": "WHEEL", "component": "SPOKE", "qty": 0}],
            "invalid_input",
            "",
        ),
        (
            "2026-12-10",
            [{"change_type": "add", "parent": "WHEEL", "component": "SEAT"}],
            "invalid_input",
            "needs qty",
        ),
    ]
    for effective_date, changes, code, message in cases:
        with pytest.raises(ToolError) as err:
            call(
                bike_url, "propose_ecn", title="t", reason="r", effective_date=effective_date, changes=changes
            )
        assert err.value.code == code and message in err.value.message, (changes, err.value.message)
    assert counts(bike_url)["ecn"] == 0


def test_an_ecn_whose_date_passed_is_not_applied(bike_url: str) -> None:
    draft_seat_ecn(bike_url)
    with pytest.raises(ToolError) as late:
        call(bike_url, "propose_ecn_approval", ecn="ECN-00001", today=date(2026, 12, 11))
    assert late.value.code == "conflict" and "has passed" in late.value.message


# ---------------------------------------------------------------- cycles


def test_a_change_creating_a_cycle_is_refused_with_its_path(bike_url: str) -> None:
    loop = {"change_type": "add", "parent": "WHEEL", "component": "BIKE", "qty": 1}
    with pytest.raises(ToolError) as exc:
        call(bike_url, "propose_ecn", title="loop", reason="r", effective_date="2026-12-10", changes=[loop])
    assert exc.value.code == "invalid_input"
    path = exc.value.details["path"]
    assert path in (["BIKE", "WHEEL", "BIKE"], ["WHEEL", "BIKE", "WHEEL"])
    assert " → ".join(path) in exc.value.message
    with pytest.raises(ToolError) as tree:
        call(
            bike_url,
            "propose_bom_change",
            item="WHEEL",
            bom={"lines": [{"component": "RIM", "qty": 1}, {"component": "BIKE", "qty": 1}]},
        )
    assert (
        tree.value.code == "invalid_input" and tree.value.details["path"][0] == tree.value.details["path"][-1]
    )
    with pytest.raises(ToolError) as preview:
        call(bike_url, "preview_bom_change", changes=[loop])
    assert preview.value.code == "invalid_input"
    assert counts(bike_url)["ecn"] == 0


def test_a_cycle_with_a_version_planned_later_is_refused(bike_url: str) -> None:
    # From 2026-12-20 FRAME is made of SEAT-B (a new version planned ahead) …
    later = call(
        bike_url,
        "propose_bom_change",
        item="FRAME",
        bom={"lines": [{"component": "SEAT-B", "qty": 1}]},
        effective_date="2026-12-20",
    )
    assert "FRAME is a buy item: its BOM is not exploded by planning" in later["preview"]["warnings"]
    confirm_as(bike_url, later["proposal_id"], PLANNER)
    # … so SEAT-B made of FRAME from 2026-12-10 is fine until 12-20, then a loop
    with pytest.raises(ToolError) as exc:
        call(
            bike_url,
            "propose_ecn",
            title="t",
            reason="r",
            effective_date="2026-12-10",
            changes=[{"change_type": "add", "parent": "SEAT-B", "component": "FRAME", "qty": 1}],
        )
    assert "(from 2026-12-20)" in exc.value.message and exc.value.details["date"] == "2026-12-20"


# ---------------------------------------------------------------- BOM tree edits


def bike_tree(spokes: int = 36) -> dict[str, Any]:
    return {
        "lines": [
            {"component": "FRAME", "qty": 1},
            {
                "component": "WHEEL",
                "qty": 2,
                "bom": {
                    "lines": [
                        {"component": "RIM", "qty": 1},
                        {"component": "SPOKE", "qty": spokes, "scrap_rate": 0.02},
                        {"component": "TIRE", "qty": 1},
                    ]
                },
            },
            {"component": "SEAT", "qty": 1, "substitutes": [{"item": "SEAT-B", "ratio": 1}]},
        ]
    }


def test_tree_edit_changes_spokes_on_wheel_only(bike_url: str) -> None:
    before = counts(bike_url)
    out = call(bike_url, "propose_bom_change", item="BIKE", bom=bike_tree(spokes=32), reason="lighter wheel")
    assert [b["parent"] for b in out["preview"]["boms"]] == ["WHEEL"]  # BIKE's own lines are unchanged
    (wheel_bom,) = out["preview"]["boms"]
    assert [(c["change_type"], c["component"], c["old_qty"], c["new_qty"]) for c in wheel_bom["changes"]] == [
        ("qty", "SPOKE", 36, 32)
    ]
    assert wheel_bom["effective_from"] == "2026-12-01"  # default: today
    wheel, bike = out["preview"]["impacts"]
    # WHEEL: 8 + 32 × 1.02 × 0.2 + 6 = 8 + 6.528 + 6 = 20.528
    assert (wheel["item"], wheel["unit_cost_before"], wheel["unit_cost_after"]) == ("WHEEL", 21.344, 20.528)
    # BIKE: 50 + 2 × 20.528 + 10 = 101.056; spokes per bike 2 × 36.72 = 73.44 → 2 × 32.64 = 65.28
    assert (bike["item"], bike["unit_cost_after"], bike["cost_delta"]) == ("BIKE", 101.056, -1.632)
    assert bike["changed_totals"] == [{"item": "SPOKE", "before": 73.44, "after": 65.28}]
    assert out["summary_en"] == (
        "Change the BOM tree of BIKE from 2026-12-01: WHEEL v1→v2; BIKE unit cost 102.688 → 101.056."
    )
    assert counts(bike_url) == before
    with pytest.raises(ToolError) as sales:
        confirm_as(bike_url, out["proposal_id"], Actor("sam", "sales"))
    assert sales.value.code == "forbidden" and counts(bike_url) == before

    result = confirm_as(bike_url, out["proposal_id"], PLANNER)["result"]
    assert result["ecn"] == "ECN-00001" and result["status"] == "applied"
    assert call(bike_url, "get_bom_cost", item="WHEEL")["unit_cost"] == 20.528
    ecn = call(bike_url, "get_ecn", ecn="ECN-00001")
    assert (ecn["source"], ecn["reason"], ecn["title"], ecn["approved_by"]) == (
        "bom_change",
        "lighter wheel",
        "BOM change BIKE",
        "pat",
    )
    history = call(bike_url, "get_bom_history", item="WHEEL")
    assert [(v["version"], v["effective_to"], v["in_force"]) for v in history["versions"]] == [
        ("1", "2026-12-01", False),
        ("2", None, True),
    ]
    assert [(ln["component"], ln["ecn_ref"]) for ln in history["versions"][1]["lines"]] == [
        ("RIM", ""),
        ("SPOKE", "ECN-00001"),
        ("TIRE", ""),
    ]

    # the same tree again, the same day: nothing to change
    with pytest.raises(ToolError) as same:
        call(bike_url, "propose_bom_change", item="BIKE", bom=bike_tree(spokes=32))
    assert same.value.code == "invalid_input" and "nothing to change" in same.value.message

    # a second change the same day obsoletes version 2 (it would otherwise never be in force)
    again = call(bike_url, "propose_bom_change", item="BIKE", bom=bike_tree(spokes=30))
    assert again["preview"]["boms"][0]["base_obsoleted"] is True
    confirm_as(bike_url, again["proposal_id"], PLANNER)
    versions = call(bike_url, "get_bom_history", item="WHEEL")["versions"]
    assert [(v["version"], v["status"], v["in_force"], v["ecn"]) for v in versions] == [
        ("1", "active", False, ""),
        ("2", "obsolete", False, "ECN-00001"),
        ("3", "active", True, "ECN-00002"),
    ]
    # WHEEL: 8 + 30 × 1.02 × 0.2 + 6 = 20.12
    assert call(bike_url, "get_bom_cost", item="WHEEL")["unit_cost"] == 20.12


def test_tree_edit_creates_new_items_and_a_sub_assembly(bike_url: str) -> None:
    tree = bike_tree()
    tree["lines"].append(
        {
            "component": "LIGHT-KIT",
            "qty": 1,
            "issue_method": "kit",
            "bom": {
                "lines": [{"component": "LED", "qty": 1}, {"component": "CELL", "qty": 2, "scrap_rate": 0.5}]
            },
        }
    )
    new_items = [
        {"code": "LIGHT-KIT", "name": "车灯套件", "source": "make", "lead_time_days": 1},
        {"code": "LED", "name": "LED", "source": "buy", "unit_cost": 3, "category": "electrical"},
        {"code": "CELL", "source": "buy", "unit_cost": 1.5},
    ]
    before = counts(bike_url)
    out = call(
        bike_url,
        "propose_bom_change",
        item="bicycle",
        bom=tree,
        new_items=new_items,
        effective_date="2026-12-05",
    )
    assert [b["parent"] for b in out["preview"]["boms"]] == ["BIKE", "LIGHT-KIT"]
    bike_bom, kit_bom = out["preview"]["boms"]
    assert [(c["change_type"], c["component"]) for c in bike_bom["changes"]] == [("add", "LIGHT-KIT")]
    assert (kit_bom["base_version"], kit_bom["new_version"]) == (None, "1")
    impacts = {i["item"]: i for i in out["preview"]["impacts"]}
    # LIGHT-KIT: LED 3 + CELL 2 × 1.5 × 1.5 = 4.5 → 7.5; BIKE 102.688 + 7.5 = 110.188
    assert impacts["LIGHT-KIT"]["unit_cost_before"] is None and impacts["LIGHT-KIT"]["unit_cost_after"] == 7.5
    assert (impacts["BIKE"]["unit_cost_before"], impacts["BIKE"]["unit_cost_after"]) == (102.688, 110.188)
    assert out["preview"]["new_items"] == ["LIGHT-KIT", "LED", "CELL"]
    assert counts(bike_url) == before
    with pytest.raises(ToolError) as exists:
        call(bike_url, "propose_bom_change", item="BIKE", bom=tree, new_items=[{"code": "SEAT"}])
    assert exists.value.code == "conflict"

    confirm_as(bike_url, out["proposal_id"], PLANNER)
    after = counts(bike_url)
    assert after["item"] == before["item"] + 3 and after["bom"] == before["bom"] + 2
    assert call(bike_url, "get_bom_cost", item="BIKE", today=date(2026, 12, 5))["unit_cost"] == 110.188
    assert call(bike_url, "get_bom_cost", item="BIKE")["unit_cost"] == 102.688  # before 12-05
    with open_context(bike_url) as ctx:
        led = ctx.session.exec(select(Item).where(Item.code == "LED")).one()
        assert (led.source, led.unit_cost, led.category) == ("buy", 3, "electrical")


def test_two_different_boms_for_one_parent_are_refused(bike_url: str) -> None:
    tree = bike_tree()
    tree["lines"][0] = {"component": "WHEEL", "qty": 1, "bom": {"lines": [{"component": "RIM", "qty": 2}]}}
    with pytest.raises(ToolError) as exc:
        call(bike_url, "propose_bom_change", item="BIKE", bom=tree)
    assert exc.value.code == "invalid_input" and "two different BOMs are given for WHEEL" in exc.value.message


# ---------------------------------------------------------------- batch changes


def scooter_plant(url: str, tmp_path: Path) -> str:
    """The bike factory plus a SCOOTER using two TIREs and a cheaper-to-fit TIRE-B at 7."""
    data = {
        **BIKE,
        "items": [
            *BIKE["items"],
            {"code": "SCOOTER", "name": "滑板车", "source": "make", "category": "scooters"},
            {"code": "TIRE-B", "name": "新轮胎", "source": "buy", "unit_cost": 7},
        ],
        "boms": [
            *BIKE["boms"],
            {
                "parent": "SCOOTER",
                "lines": [{"component": "FRAME", "qty": 1}, {"component": "TIRE", "qty": 2}],
            },
        ],
    }
    return load_dict(url, data, tmp_path)


def test_batch_replaces_tire_everywhere_it_is_used(db_url: str, tmp_path: Path) -> None:
    url = scooter_plant(db_url, tmp_path)
    before = counts(url)
    out = call(
        url,
        "propose_bom_batch_change",
        title="TIRE-B everywhere",
        reason="TIRE end of life",
        effective_date="2026-12-15",
        select={"component": "TIRE"},
        change={"change_type": "replace", "new_component": "TIRE-B"},
    )
    preview = out["preview"]
    assert [(b["parent"], b["unit_cost_before"], b["unit_cost_after"]) for b in preview["boms"]] == [
        ("SCOOTER", 62, 64),  # FRAME 50 + 2 × TIRE 6 → 2 × TIRE-B 7
        ("WHEEL", 21.344, 22.344),  # 8 + 7.344 + 6 → 7
    ]
    assert {i["item"]: i["unit_cost_after"] for i in preview["impacts"]} == {
        "SCOOTER": 64,
        "WHEEL": 22.344,
        "BIKE": 104.688,  # 50 + 2 × 22.344 + 10
    }
    assert preview["skipped"] == []
    assert out["summary_en"] == (
        "Batch change 'TIRE-B everywhere' of 2 BOM(s) from 2026-12-15: "
        "SCOOTER: replace TIRE by TIRE-B; WHEEL: replace TIRE by TIRE-B."
    )
    assert counts(url) == before

    result = confirm_as(url, out["proposal_id"], PLANNER)["result"]
    assert result["ecn"] == "ECN-00001"
    assert [(b["parent"], b["to_version"]) for b in result["boms"]] == [("SCOOTER", "2"), ("WHEEL", "2")]
    assert call(url, "where_used", item="TIRE")["parents"] != []  # still used until 12-15
    assert call(url, "where_used", item="TIRE", today=date(2026, 12, 15))["parents"] == []
    assert {
        p["item"] for p in call(url, "where_used", item="TIRE-B", today=date(2026, 12, 15))["parents"]
    } == {
        "SCOOTER",
        "WHEEL",
        "BIKE",
    }
    ecn = call(url, "get_ecn", ecn="ECN-00001")
    assert (ecn["source"], ecn["parents"], ecn["status"]) == ("batch", ["SCOOTER", "WHEEL"], "applied")
    tire = call(url, "get_bom_history", item="TIRE")
    assert [(c["ecn"], c["parent"], c["to_version"]) for c in tire["used_in_changes"]] == [
        ("ECN-00001", "SCOOTER", "2"),
        ("ECN-00001", "WHEEL", "2"),
    ]
    assert [e["code"] for e in call(url, "list_ecns", item="TIRE-B")["ecns"]] == ["ECN-00001"]
    assert call(url, "list_ecns", status="draft")["ecns"] == []


def test_batch_selection_filters_and_skips(db_url: str, tmp_path: Path) -> None:
    url = scooter_plant(db_url, tmp_path)
    by_category = call(
        url,
        "preview_bom_change",
        batch={
            "select": {"category": "scooters"},
            "change": {"change_type": "scrap", "component": "TIRE", "scrap_rate": 0.1},
        },
    )
    assert [b["parent"] for b in by_category["boms"]] == ["SCOOTER"]
    # SCOOTER: 50 + 2 × 1.1 × 6 = 63.2
    assert by_category["boms"][0]["unit_cost_after"] == 63.2
    by_prefix = call(
        url,
        "preview_bom_change",
        batch={"select": {"component": "TIRE", "code_prefix": "WH"}, "change": {"change_type": "remove"}},
    )
    assert [b["parent"] for b in by_prefix["boms"]] == ["WHEEL"]
    listed = call(
        url,
        "preview_bom_change",
        batch={
            "select": {"parents": ["BIKE", "WHEEL"]},
            "change": {"change_type": "replace", "component": "TIRE", "new_component": "TIRE-B"},
        },
    )
    assert [b["parent"] for b in listed["boms"]] == ["WHEEL"]
    assert listed["skipped"] == [{"parent": "BIKE", "reason": "does not use TIRE"}]
    with pytest.raises(ToolError) as none:
        call(
            url,
            "preview_bom_change",
            batch={"select": {"code_prefix": "ZZ"}, "change": {"change_type": "remove", "component": "TIRE"}},
        )
    assert none.value.code == "invalid_input"
    with pytest.raises(ToolError) as no_filter:
        call(
            url,
            "preview_bom_change",
            batch={"select": {}, "change": {"change_type": "remove", "component": "TIRE"}},
        )
    assert no_filter.value.code == "invalid_input"
    assert counts(url)["ecn"] == 0


# ---------------------------------------------------------------- read-only preview


def test_preview_of_changes_and_of_an_ecn(bike_url: str) -> None:
    before = counts(bike_url)
    out = call(
        bike_url,
        "preview_bom_change",
        changes=[
            {"change_type": "qty", "parent": "WHEEL", "component": "SPOKE", "qty": 32},
            {"change_type": "scrap", "parent": "WHEEL", "component": "SPOKE", "scrap_rate": 0},
        ],
        effective_date="2026-12-10",
    )
    (wheel,) = out["boms"]
    assert [c["text"] for c in wheel["changes"]] == ["WHEEL: SPOKE qty 36 → 32", "WHEEL: SPOKE scrap 2% → 0%"]
    # WHEEL: 8 + 32 × 0.2 + 6 = 20.4
    assert wheel["unit_cost_after"] == 20.4
    draft_seat_ecn(bike_url)
    ecn = call(bike_url, "preview_bom_change", ecn="ECN-00001")
    assert ecn["effective_date"] == "2026-12-10" and ecn["impacts"][0]["unit_cost_after"] == 104.688
    with pytest.raises(ToolError) as two:
        call(bike_url, "preview_bom_change", ecn="ECN-00001", changes=[SEAT_TO_B])
    assert two.value.code == "invalid_input"
    after = counts(bike_url)
    assert after == {**before, "ecn": 1, "ecn_change": 1}  # only the draft confirmed above


def test_list_ecns_newest_first(bike_url: str) -> None:
    draft_seat_ecn(bike_url)
    second = call(
        bike_url,
        "propose_ecn",
        title="fewer spokes",
        reason="r",
        effective_date="2026-12-12",
        changes=[{"change_type": "qty", "parent": "WHEEL", "component": "SPOKE", "qty": 32}],
    )
    confirm_as(bike_url, second["proposal_id"], PLANNER)
    rows = call(bike_url, "list_ecns")["ecns"]
    assert [(r["code"], r["parents"], r["change_count"], r["status"]) for r in rows] == [
        ("ECN-00002", ["WHEEL"], 1, "draft"),
        ("ECN-00001", ["BIKE"], 1, "draft"),
    ]
    assert [r["code"] for r in call(bike_url, "list_ecns", item="SPOKE")["ecns"]] == ["ECN-00002"]
    # a draft is listed in the item's history before it is applied
    changes = call(bike_url, "get_bom_history", item="WHEEL")["changes"]
    assert [(c["ecn"], c["ecn_status"], c["to_version"]) for c in changes] == [("ECN-00002", "draft", None)]


# ---------------------------------------------------------------- the CLI


def test_cli_bom_tree_and_where_used(bike_url: str) -> None:
    from cli.bom import app

    runner = CliRunner()
    tree = runner.invoke(app, ["tree", "BIKE", "--qty", "2", "--db", bike_url])
    assert tree.exit_code == 0, tree.output
    assert tree.stdout.splitlines() == [
        "BIKE 自行车 — 2 pcs",
        "├── FRAME 车架 ×1 = 2 pcs",
        "├── WHEEL 车轮 ×2 = 4 pcs",
        "│   ├── RIM 轮圈 ×1 = 4 pcs",
        "│   ├── SPOKE 辐条 ×36.72 (scrap 2%) = 146.88 pcs",
        "│   └── TIRE 轮胎 ×1 = 4 pcs",
        "└── SEAT 车座 ×1 = 2 pcs [alt: SEAT-B]",
    ]
    shallow = runner.invoke(app, ["tree", "bicycle", "--depth", "1", "--db", bike_url])
    assert shallow.stdout.splitlines()[1:] == [
        "├── FRAME 车架 ×1 = 1 pcs",
        "├── WHEEL 车轮 ×2 = 2 pcs",
        "└── SEAT 车座 ×1 = 1 pcs [alt: SEAT-B]",
    ]
    used = runner.invoke(app, ["where-used", "SPOKE", "--db", bike_url])
    assert used.exit_code == 0, used.output
    assert used.stdout.splitlines() == [
        "SPOKE 辐条 — used in:",
        "└── WHEEL 车轮 ×36.72",
        "    └── BIKE 自行车 ×73.44 [end item]",
    ]
    missing = runner.invoke(app, ["tree", "UNICYCLE", "--db", bike_url])
    assert missing.exit_code == 1 and "UNICYCLE" in missing.stderr


def test_cli_tree_on_a_date_and_history(bike_url: str) -> None:
    from cli.bom import app

    draft_seat_ecn(bike_url)
    approval = call(bike_url, "propose_ecn_approval", ecn="ECN-00001")
    confirm_as(bike_url, approval["proposal_id"], MANAGER)
    application = call(bike_url, "propose_ecn_application", ecn="ECN-00001")
    confirm_as(bike_url, application["proposal_id"], PLANNER)
    runner = CliRunner()
    later = runner.invoke(app, ["tree", "BIKE", "--depth", "1", "--on", "2026-12-10", "--db", bike_url])
    assert later.stdout.splitlines()[-1] == "└── SEAT-B 备用车座 ×1 = 1 pcs"
    now = runner.invoke(app, ["tree", "BIKE", "--depth", "1", "--db", bike_url])
    assert now.stdout.splitlines()[-1] == "└── SEAT 车座 ×1 = 1 pcs [alt: SEAT-B]"
    history = runner.invoke(app, ["history", "BIKE", "--db", bike_url])
    assert history.exit_code == 0, history.output
    assert history.stdout.splitlines() == [
        "BIKE 自行车 — BOM versions (in force on 2026-12-01: *)",
        "* v1 active  … → 2026-12-10",
        "    FRAME ×1, WHEEL ×2, SEAT ×1",
        "  v2 active  2026-12-10 → …  by ECN-00001",
        "    FRAME ×1, WHEEL ×2, SEAT-B ×1 [ECN-00001]",
        "Changes:",
        "  ECN-00001 (applied, 2026-12-10): BIKE: replace SEAT by SEAT-B  v1 → v2",
    ]


def test_proposals_keep_their_preview(bike_url: str) -> None:
    out = call(
        bike_url, "propose_ecn", title="t", reason="r", effective_date="2026-12-10", changes=[SEAT_TO_B]
    )
    with open_context(bike_url) as ctx:
        row = ctx.session.get(Proposal, out["proposal_id"])
        assert row is not None and row.effect["changes"][0]["new_component"] == "SEAT-B"


def test_a_change_before_one_already_planned_hands_over_to_it(bike_url: str) -> None:
    def batch(day: str, change: dict[str, Any]) -> dict[str, Any]:
        return call(
            bike_url,
            "propose_bom_batch_change",
            title=f"WHEEL {day}",
            effective_date=day,
            select={"parents": ["WHEEL"]},
            change=change,
        )

    later = batch("2026-12-20", {"change_type": "qty", "component": "SPOKE", "qty": 32})
    confirm_as(bike_url, later["proposal_id"], PLANNER)
    sooner = batch("2026-12-10", {"change_type": "replace", "component": "TIRE", "new_component": "SEAT-B"})
    (wheel,) = sooner["preview"]["boms"]
    # v1 now ends on 12-10; the new v3 runs from 12-10 until v2 (planned from 12-20) takes over
    assert (wheel["base_version"], wheel["base_effective_to"]) == ("1", "2026-12-10")
    assert (wheel["new_version"], wheel["effective_from"], wheel["effective_to"]) == (
        "3",
        "2026-12-10",
        "2026-12-20",
    )
    assert sooner["preview"]["warnings"] == [
        "WHEEL v2 is already planned from 2026-12-20 and does not include this change"
    ]
    confirm_as(bike_url, sooner["proposal_id"], PLANNER)

    def wheel_totals(day: date) -> dict[str, float]:
        return call(bike_url, "explode_bom", item="WHEEL", today=day)["totals"]

    assert wheel_totals(date(2026, 12, 9)) == {"RIM": 1, "SPOKE": 36.72, "TIRE": 1}
    assert wheel_totals(date(2026, 12, 15)) == {"RIM": 1, "SPOKE": 36.72, "SEAT-B": 1}
    assert wheel_totals(date(2026, 12, 20)) == {"RIM": 1, "SPOKE": 32.64, "TIRE": 1}  # 32 × 1.02
    versions = call(bike_url, "get_bom_history", item="WHEEL", on="2026-12-15")["versions"]
    assert [
        (v["version"], v["effective_from"], v["effective_to"], v["in_force"], v["ecn"]) for v in versions
    ] == [
        ("1", None, "2026-12-10", False, ""),
        ("3", "2026-12-10", "2026-12-20", True, "ECN-00002"),
        ("2", "2026-12-20", None, False, "ECN-00001"),
    ]


def test_preview_adds_a_bom_to_an_item_without_one(bike_url: str) -> None:
    out = call(
        bike_url,
        "preview_bom_change",
        changes=[
            {"change_type": "add", "parent": "SEAT-B", "component": "SEAT", "qty": 1, "issue_method": "kit"}
        ],
    )
    (seat_b,) = out["boms"]
    assert (seat_b["base_version"], seat_b["new_version"], seat_b["lines_before"]) == (None, "1", [])
    assert seat_b["lines_after"][0]["issue_method"] == "kit"
    assert "SEAT-B is a buy item: its BOM is not exploded by planning" in out["warnings"]
    with pytest.raises(ToolError) as not_only_adds:
        call(
            bike_url,
            "preview_bom_change",
            changes=[{"change_type": "remove", "parent": "SEAT-B", "component": "SEAT"}],
        )
    assert "has no BOM in force on 2026-12-01" in not_only_adds.value.message


def test_over_the_api_an_approval_by_a_planner_is_403(bike_url: str) -> None:
    from fastapi.testclient import TestClient

    from api.app import create_app
    from data_model.settings import Settings
    from tools.auth import ensure_demo_users

    with open_context(bike_url) as ctx:
        tokens = {name.removeprefix("demo-"): t for name, t in ensure_demo_users(ctx.session).items()}
    client = TestClient(create_app(Settings(database_url=bike_url)), raise_server_exceptions=False)

    def post(path: str, role: str, body: dict[str, Any] | None = None) -> Any:
        return client.post(path, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})

    body = {"title": "t", "reason": "r", "effective_date": "2026-12-10", "changes": [SEAT_TO_B]}
    draft = post("/api/v1/tools/propose_ecn", "planner", body).json()
    assert post(f"/api/v1/proposals/{draft['proposal_id']}/confirm", "planner").status_code == 200
    approval = post("/api/v1/tools/propose_ecn_approval", "planner", {"ecn": "ECN-00001"}).json()
    refused = post(f"/api/v1/proposals/{approval['proposal_id']}/confirm", "planner")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    assert call(bike_url, "get_ecn", ecn="ECN-00001")["status"] == "draft"
    assert post(f"/api/v1/proposals/{approval['proposal_id']}/confirm", "manager").status_code == 200
    ecn = call(bike_url, "get_ecn", ecn="ECN-00001")
    assert (ecn["status"], ecn["created_by"], ecn["approved_by"]) == (
        "approved",
        "demo-planner",
        "demo-manager",
    )
