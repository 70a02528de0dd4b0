"""The demo story (cli/demo.py) on a freshly loaded demo factory: each document exists with the effect worked
out by hand from the YAML, the on-hand changes equal the moves, two proposals are left pending, the story
refuses to run twice, and the database still exports to a dataset that loads.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cli.demo import StoryAlreadyRun, StoryDocument, run_story
from tests.helpers import DEMO_YAML, call, load_into

WATCHED = (
    "LIFT-COL",
    "CHR-ERG",
    "CASTER",
    "BOX-CHR",
    "SEAT-ERG",
    "FRAME-D1200",
    "CAB-SHELL-W",
    "LOCK",
    "EDGE-PVC",
)


@pytest.fixture(scope="module")
def story(
    tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[tuple[str, dict[str, float], list[StoryDocument]]]:
    from tools.context import dispose_engine

    path = tmp_path_factory.mktemp("demo-story") / "demo.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    load_into(url, DEMO_YAML)
    before = {code: call(url, "get_item", item=code)["on_hand"] for code in WATCHED}
    documents = run_story(url)
    yield url, before, documents
    dispose_engine(url)


def _on_hand(url: str, code: str) -> float:
    return call(url, "get_item", item=code)["on_hand"]


def _component(order: dict[str, Any], item: str) -> dict[str, Any]:
    [row] = [c for c in order["components"] if c["item"] == item]
    return row


def test_purchase_receipt_and_inspection(story: tuple[str, dict[str, float], list[StoryDocument]]) -> None:
    url, before, _ = story
    po = call(url, "get_purchase_order", order="PO-2611-01")
    [line] = po["lines"]
    # 60 columns received into QC; 3 rejected (returned to the vendor), 57 accepted
    assert (line["received_qty"], line["accepted_qty"], line["rejected_qty"], line["in_inspection_qty"]) == (
        60,
        57,
        3,
        0,
    )
    assert po["status"] == "received"
    [lot] = call(url, "get_inspection_orders", source_ref="PO-2611-01")["orders"]
    assert (lot["status"], lot["accepted_qty"], lot["rejected_qty"]) == ("done", 57, 3)
    assert lot["defect_reason"]
    # 4 on hand + 57 accepted
    assert _on_hand(url, "LIFT-COL") == before["LIFT-COL"] + 57 == 61


def test_kit_supplementary_issue_and_completion_with_backflush(
    story: tuple[str, dict[str, float], list[StoryDocument]],
) -> None:
    url, before, _ = story
    mo = call(url, "get_production_order", order="MO-2612-03")
    assert (mo["status"], mo["completed_qty"]) == ("in_progress", 20)
    # a kit of 20 chairs: one seat each, five casters each (+2 supplementary), one carton each (backflush)
    assert _component(mo, "SEAT-ERG")["issued"] == 20
    assert _component(mo, "CASTER")["issued"] == 20 * 5 + 2
    assert _component(mo, "BOX-CHR")["issue_method"] == "backflush"
    assert _component(mo, "BOX-CHR")["issued"] == 20
    modes = [d["mode"] for d in mo["issues"]]
    assert modes.count("kit") == 1 and modes.count("supplement") == 1 and modes.count("backflush") == 1
    [supplement] = [d for d in mo["issues"] if d["mode"] == "supplement"]
    assert supplement["reason"]
    [receipt] = mo["receipts"]
    assert receipt["qty"] == 20 and receipt["backflush_issue"]
    # on hand: the moves, and nothing else
    assert _on_hand(url, "SEAT-ERG") == before["SEAT-ERG"] - 20
    assert _on_hand(url, "CASTER") == before["CASTER"] - 102
    assert _on_hand(url, "BOX-CHR") == before["BOX-CHR"] - 20
    assert _on_hand(url, "CHR-ERG") == before["CHR-ERG"] + 20


def test_subcontract_shipment_and_partial_receipt_with_scrap(
    story: tuple[str, dict[str, float], list[StoryDocument]],
) -> None:
    url, before, _ = story
    shells = call(url, "get_subcontract_order", order="SC-2612-02")
    [m] = shells["materials"]
    assert (m["item"], m["sent"], m["at_supplier"]) == ("CAB-SHELL-W", 10, 10)
    assert _on_hand(url, "CAB-SHELL-W") == before["CAB-SHELL-W"] - 10
    frames = call(url, "get_subcontract_order", order="SC-2612-01")
    # 40 came back before; 30 more now, and the coater scrapped 2 welded frames: 120 - 70 - 2 = 48 still there
    assert (frames["received_qty"], frames["open_qty"]) == (70, 50)
    [w] = frames["materials"]
    assert (w["consumed"], w["scrapped"], w["at_supplier"]) == (70, 2, 48)
    assert _on_hand(url, "FRAME-D1200") == before["FRAME-D1200"] + 30
    [site] = call(url, "get_subcontractor_stock", supplier="S-XINCAI")["locations"]
    assert {i["item"]: i["qty"] for i in site["items"]} == {"CAB-SHELL-W": 10, "FRAME-W1200": 48}


def test_customer_supplied_material_is_kept_apart(
    story: tuple[str, dict[str, float], list[StoryDocument]],
) -> None:
    url, before, _ = story
    [cust] = call(url, "get_customer_materials", customer="C-DONGFANG")["customers"]
    [lock] = cust["items"]
    assert (lock["item"], lock["on_hand"], lock["received"]) == ("LOCK", 50, 50)
    # the hospital's locks are not ours
    assert _on_hand(url, "LOCK") == before["LOCK"]


def test_rework_order(story: tuple[str, dict[str, float], list[StoryDocument]]) -> None:
    url, _, documents = story
    [doc] = [d for d in documents if d.tool == "propose_rework_order"]
    code = doc.result["order"]["code"]
    rw = call(url, "get_production_order", order=code)
    assert (rw["kind"], rw["status"], rw["qty"], rw["item"]) == ("rework", "released", 3, "DSK-1200")
    assert rw["rework_origin"]["original_order"] == "MO-2611-02"
    assert {c["item"]: c["required"] for c in rw["components"]} == {"DSK-1200": 3, "EDGE-PVC": 12}


def test_pending_proposals_are_left_for_people(
    story: tuple[str, dict[str, float], list[StoryDocument]],
) -> None:
    url, _, documents = story
    pending = [d for d in documents if d.confirmed_by is None]
    assert sorted(d.kind for d in pending) == ["production_release", "purchase_requests"]
    from tools.context import open_context
    from tools.proposals import get_proposal

    with open_context(url) as ctx:
        assert {get_proposal(ctx.session, d.proposal_id).status for d in pending} == {"pending"}
        assert {get_proposal(ctx.session, d.proposal_id).status for d in documents if d.confirmed_by} == {
            "confirmed"
        }
    assert call(url, "get_production_order", order="MO-2612-08")["status"] == "planned"


def test_the_story_refuses_to_run_twice(story: tuple[str, dict[str, float], list[StoryDocument]]) -> None:
    url, _, _ = story
    with pytest.raises(StoryAlreadyRun):
        run_story(url)


def test_the_export_still_loads(
    story: tuple[str, dict[str, float], list[StoryDocument]], tmp_path: Path, sqlite_template: Path
) -> None:
    from tools.context import dispose_engine, open_context
    from tools.dataset_io import export_dataset_file

    url, _, _ = story
    exported = tmp_path / "after-story.yaml"
    with open_context(url) as ctx:
        export_dataset_file(ctx.session, exported)
    path = tmp_path / "reloaded.sqlite"
    shutil.copy(sqlite_template, path)
    again = f"sqlite:///{path}"
    load_into(again, exported)
    try:
        # the accepted columns come back as stock
        assert _on_hand(again, "LIFT-COL") == _on_hand(url, "LIFT-COL")
        assert call(again, "get_production_order", order="MO-2612-03")["completed_qty"] == 20
    finally:
        dispose_engine(again)
