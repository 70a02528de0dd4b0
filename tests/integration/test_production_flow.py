"""One bike order end to end: release with a substitute, kit and partial issues, over-issue, return,
a wheel sub-order flowing straight in, receipts with backflush, completion and close (SQLite and PostgreSQL).

Bike factory (tests/integration/test_production_helpers.py): BIKE = FRAME 1 + WHEEL 2 + SEAT 1 (backflush,
substitute SEAT-B 1:1) + phantom KIT-BK 1 (= BELL 1 + BOLT 4); WHEEL = RIM 1 + SPOKE 36 (2 % scrap) + TIRE 1
(backflush). Stock: FRAME 10 @50, WHEEL 4 @20, SEAT 4 @10, SEAT-B 3 @12, RIM 6 @8, SPOKE 300 @0.2,
TIRE 20 @6, BELL 10 @3, BOLT 100 @0.1, BIKE 2 @100.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.helpers import bike_production_data, call, confirm_as, do, load_bike_production, moves
from tests.integration.test_production_helpers import (
    PLANNER,
    WAREHOUSE,
    audit_entities,
    counts,
    order_state,
    stock,
)
from tools.errors import ToolError


def test_bike_order_from_release_to_close(bike_production_url: str) -> None:
    # ---- release MO-B1 (5 BIKE) and its wheel sub-order MO-W1, one SEAT replaced by SEAT-B
    out = call(
        bike_production_url,
        "propose_release_production_orders",
        orders=["MO-B1", "MO-W1"],
        substitutions=[{"order": "MO-B1", "component": "SEAT", "substitute": "SEAT-B", "qty": 1}],
    )
    assert out["kind"] == "production_release"
    assert out["summary_zh"] == "下达 2 张生产订单:MO-B1(BIKE 5)、MO-W1(WHEEL 6);替代料:MO-B1 SEAT→SEAT-B 1。"
    assert order_state(bike_production_url, "MO-B1")[0] == "planned"  # nothing changes before confirmation
    with pytest.raises(ToolError) as err:
        confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert err.value.code == "forbidden"
    assert confirm_as(bike_production_url, out["proposal_id"], PLANNER)["status"] == "confirmed"
    status, done, comps = order_state(bike_production_url, "MO-B1")
    # 5 bikes: FRAME 5, WHEEL 10, SEAT 5 - 1 = 4 and SEAT-B 1 x 1.0, the phantom kit exploded: BELL 5, BOLT 20
    assert status == "released"
    assert {k: v[1] for k, v in comps.items()} == {
        "FRAME": 5,
        "WHEEL": 10,
        "SEAT": 4,
        "SEAT-B": 1,
        "BELL": 5,
        "BOLT": 20,
    }
    assert order_state(bike_production_url, "MO-W1")[0] == "released"
    # 6 wheels: RIM 6, SPOKE 6 x 36 x 1.02 = 220.32, TIRE 6
    assert {k: v[1] for k, v in order_state(bike_production_url, "MO-W1")[2].items()} == {
        "RIM": 6,
        "SPOKE": D("220.32"),
        "TIRE": 6,
    }

    # ---- kit issue of 3 sets needs 6 WHEEL but only 4 are in stock: refused, nothing written
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_kit_issue", order="MO-B1", sets=3)
    assert err.value.code == "infeasible"
    assert err.value.message == "sets: not enough WHEEL at STOCK: 4 on hand, 6 pcs to issue to MO-B1"
    assert err.value.details["field"] == "sets"
    assert counts(bike_production_url) == before

    # ---- kit issue of 2 sets: 2 x per-unit of every non-backflush component (SEAT lines wait for completion)
    out = call(bike_production_url, "propose_kit_issue", order="MO-B1", sets=2)
    assert (
        out["summary_zh"]
        == "配套领料 MO-B1 2 套(从 STOCK):FRAME 2 pcs、WHEEL 4 pcs、BELL 2 pcs、BOLT 8 pcs。"
    )
    assert (
        out["summary_en"]
        == "Issue 2 kit(s) to MO-B1 from STOCK: FRAME 2 pcs, WHEEL 4 pcs, BELL 2 pcs, BOLT 8 pcs."
    )
    done = confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert done["result"]["code"] == "MI-00001"
    assert moves(bike_production_url, "MO-B1", "production_order") == [
        ("issue", "FRAME", 2, "STOCK", "PRODUCTION", 50, ""),
        ("issue", "WHEEL", 4, "STOCK", "PRODUCTION", 20, ""),
        ("issue", "BELL", 2, "STOCK", "PRODUCTION", 3, ""),
        ("issue", "BOLT", 8, "STOCK", "PRODUCTION", D("0.1"), ""),
    ]
    # 10 - 2 FRAME, 4 - 4 WHEEL, 10 - 2 BELL, 100 - 8 BOLT
    assert stock(bike_production_url, "FRAME", "WHEEL", "BELL", "BOLT") == {
        "BELL": 8,
        "BOLT": 92,
        "FRAME": 8,
        "WHEEL": 0,
    }
    status, _, comps = order_state(bike_production_url, "MO-B1")
    assert status == "in_progress"  # the first issue starts the order
    assert comps["FRAME"] == (2, 5) and comps["WHEEL"] == (4, 10)

    # ---- a second batch (分批领料): the other 3 frames
    do(
        bike_production_url,
        "propose_material_issue",
        WAREHOUSE,
        order="MO-B1",
        lines=[{"item": "FRAME", "qty": 3}],
    )
    assert order_state(bike_production_url, "MO-B1")[2]["FRAME"] == (5, 5)
    assert stock(bike_production_url, "FRAME") == {"FRAME": 5}

    # ---- one more frame is an over-issue: refused without a reason, then a planner must confirm
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url, "propose_material_issue", order="MO-B1", lines=[{"item": "FRAME", "qty": 1}]
        )
    assert err.value.code == "invalid_input"
    assert err.value.details["field"] == "reason"
    assert "takes it to 6 of 5 required" in err.value.message
    assert counts(bike_production_url) == before
    out = call(
        bike_production_url,
        "propose_material_issue",
        order="MO-B1",
        lines=[{"item": "FRAME", "qty": 1}],
        reason="spare for a scratched frame",
    )
    assert (out["kind"], out["over_issue"]) == ("material_over_issue", True)
    assert out["approver_roles"] == ["planner", "manager", "admin"]
    with pytest.raises(ToolError) as err:
        confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert err.value.code == "forbidden"
    confirm_as(bike_production_url, out["proposal_id"], PLANNER)
    assert order_state(bike_production_url, "MO-B1")[2]["FRAME"] == (6, 5)

    # ---- the spare comes back (退料) with its reason, at the cost it was issued at (50)
    do(
        bike_production_url,
        "propose_material_return",
        WAREHOUSE,
        order="MO-B1",
        lines=[{"item": "FRAME", "qty": 1}],
        reason="spare not used",
    )
    assert moves(bike_production_url, "MO-B1", "production_order")[-2:] == [
        ("issue", "FRAME", 1, "STOCK", "PRODUCTION", 50, "spare for a scratched frame"),
        ("return", "FRAME", 1, "PRODUCTION", "STOCK", 50, "spare not used"),
    ]
    assert order_state(bike_production_url, "MO-B1")[2]["FRAME"] == (5, 5)
    assert stock(bike_production_url, "FRAME") == {"FRAME": 5}

    # ---- the wheel sub-order: kit 6 sets (TIRE is backflushed), then its 6 wheels go straight into MO-B1
    do(bike_production_url, "propose_kit_issue", WAREHOUSE, order="MO-W1", sets=6)
    assert moves(bike_production_url, "MO-W1", "production_order") == [
        ("issue", "RIM", 6, "STOCK", "PRODUCTION", 8, ""),
        ("issue", "SPOKE", D("220.32"), "STOCK", "PRODUCTION", D("0.2"), ""),
    ]
    out = call(bike_production_url, "propose_completion_receipt", order="MO-W1", qty=6, into_order="MO-B1")
    assert out["summary_zh"] == (
        "MO-W1 完工 WHEEL 6 pcs 直接转入 MO-B1(半成品流转,不入库);倒冲 TIRE 6 pcs;完工 6/6,订单完工。"
    )
    done = confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    # per wheel: RIM 1 x 8 + SPOKE 36.72 x 0.2 = 7.344 + TIRE 1 x 6 = 21.344
    assert done["result"]["receipt"] == {
        "code": "CR-00001",
        "order": "MO-W1",
        "item": "WHEEL",
        "qty": 6,
        "unit_cost": 21.344,
        "to_location": "PRODUCTION",
        "into_order": "MO-B1",
        "completed_qty": 6,
        "status": "completed",
    }
    # the only moves are the material: backflushed TIRE, and no stock-in of WHEEL
    assert moves(bike_production_url, "MO-W1", "production_order")[2:] == [
        ("issue", "TIRE", 6, "STOCK", "PRODUCTION", 6, "")
    ]
    assert stock(bike_production_url, "WHEEL", "RIM", "SPOKE", "TIRE") == {
        "RIM": 0,
        "SPOKE": D("79.68"),
        "TIRE": 14,
        "WHEEL": 0,
    }
    assert order_state(bike_production_url, "MO-W1")[:2] == ("completed", 6)
    assert order_state(bike_production_url, "MO-B1")[2]["WHEEL"] == (10, 10)  # 4 from stock + 6 flowed in

    # ---- partial receipt of 2 bikes backflushes 2 seats (primary SEAT before its substitute)
    out = call(bike_production_url, "propose_completion_receipt", order="MO-B1", qty=2)
    assert [(ln["item"], ln["qty"]) for ln in out["backflush"]] == [("SEAT", 2)]
    # BELL 2 of 2 and BOLT 8 of 8 needed are issued, so no warning
    assert out["receipt"]["not_yet_issued"] == []
    done = confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    # cost per bike = FRAME 1 x 50 + WHEEL 2 x (4 x 20 + 6 x 21.344) / 10 = 2 x 20.8064 + SEAT 0.8 x 10
    #   + SEAT-B 0.2 x 12 (not charged yet: moving average) + BELL 1 x 3 + BOLT 4 x 0.1
    #   = 50 + 41.6128 + 8 + 2.4 + 3 + 0.4 = 105.4128
    assert done["result"]["receipt"]["unit_cost"] == 105.4128
    assert moves(bike_production_url, "MO-B1", "production_order")[-2:] == [
        ("issue", "SEAT", 2, "STOCK", "PRODUCTION", 10, ""),
        ("production_receipt", "BIKE", 2, "PRODUCTION", "STOCK", D("105.4128"), ""),
    ]
    assert order_state(bike_production_url, "MO-B1")[:2] == ("in_progress", 2)
    assert stock(bike_production_url, "BIKE", "SEAT") == {"BIKE": 4, "SEAT": 2}

    # ---- receiving 4 more would make 6 of 5 (receipt tolerance 0): refused, nothing written
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_completion_receipt", order="MO-B1", qty=4)
    assert (err.value.code, err.value.details["field"], err.value.details["limit"]) == (
        "invalid_input",
        "qty",
        5,
    )
    assert counts(bike_production_url) == before

    # ---- final receipt of 3: backflush tops SEAT up to 4 and SEAT-B to 1; BELL/BOLT were issued for 2 only
    out = call(bike_production_url, "propose_completion_receipt", order="MO-B1", qty=3)
    assert [(ln["item"], ln["qty"]) for ln in out["backflush"]] == [("SEAT", 2), ("SEAT-B", 1)]
    # 5 bikes need BELL 5 and BOLT 20; 2 and 8 issued
    assert out["receipt"]["not_yet_issued"] == [
        {"item": "BELL", "issued": 2, "needed": 5},
        {"item": "BOLT", "issued": 8, "needed": 20},
    ]
    assert out["summary_en"] == (
        "Receive BIKE 3 pcs completed on MO-B1 into STOCK; backflush SEAT 2 pcs, "
        "SEAT-B 1 pcs; 5/5 completed, order complete."
    )
    done = confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    # SEAT-B now charged at 12 as well: same 105.4128
    assert done["result"]["receipt"]["unit_cost"] == 105.4128
    status, completed, comps = order_state(bike_production_url, "MO-B1")
    assert (status, completed) == ("completed", 5)
    assert comps["SEAT"] == (4, 4) and comps["SEAT-B"] == (1, 1)
    # BIKE 2 + 2 + 3; SEAT 4 - 4; SEAT-B 3 - 1
    assert stock(bike_production_url, "BIKE", "SEAT", "SEAT-B") == {"BIKE": 7, "SEAT": 0, "SEAT-B": 2}
    assert audit_entities(bike_production_url, done["proposal_id"]) == [
        ("propose", "completion_receipt"),
        ("post", "material_issue"),
        ("receive", "completion_receipt"),
        ("confirm", "completion_receipt"),
    ]

    # ---- progress as the read tool shows it
    got = call(bike_production_url, "get_production_order", order="MO-B1")
    assert (got["status"], got["completed_qty"], got["open_qty"], got["sub_orders"]) == (
        "completed",
        5,
        0,
        ["MO-W1"],
    )
    progress = {c["item"]: (c["required"], c["issued"], c["remaining"]) for c in got["components"]}
    assert progress == {
        "FRAME": (5, 5, 0),
        "WHEEL": (10, 10, 0),
        "SEAT": (4, 4, 0),
        "SEAT-B": (1, 1, 0),
        "BELL": (5, 2, 3),
        "BOLT": (20, 8, 12),
    }
    assert [(d["code"], d["mode"]) for d in got["issues"]] == [
        ("MI-00001", "kit"),
        ("MI-00002", "issue"),
        ("MI-00003", "issue"),
        ("MR-00001", "return"),
        ("MI-00006", "flow"),
        ("MI-00007", "backflush"),
        ("MI-00008", "backflush"),
    ]
    assert [(r["code"], r["qty"], r["to_location"]) for r in got["receipts"]] == [
        ("CR-00002", 2, "STOCK"),
        ("CR-00003", 3, "STOCK"),
    ]
    # material: FRAME 5 x 50 = 250, WHEEL 80 + 128.064 = 208.064, SEAT 4 x 10 = 40, SEAT-B 12, BELL 6, BOLT 0.8
    assert got["material_cost"] == pytest.approx(516.864)
    assert got["received_value"] == pytest.approx(5 * 105.4128)
    wheel = call(bike_production_url, "get_production_order", order="MO-W1")
    assert wheel["parent_order"] == "MO-B1"
    assert wheel["receipts"][0]["into_order"] == "MO-B1"

    # ---- close; a closed order takes no more material
    out = call(bike_production_url, "propose_close_production_order", order="MO-B1")
    assert out["leftover"] == [] and out["short"] is False
    confirm_as(bike_production_url, out["proposal_id"], PLANNER)
    assert order_state(bike_production_url, "MO-B1")[0] == "closed"
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_material_issue", order="MO-B1", lines=[{"item": "BELL", "qty": 3}])
    assert err.value.code == "conflict"
    assert err.value.details == {
        "record": "MO-B1",
        "field": "status",
        "input_field": "order",
        "status": "closed",
        "allowed": ["released", "in_progress"],
    }
    with pytest.raises(ToolError) as err:
        call(
            bike_production_url,
            "propose_material_return",
            order="MO-B1",
            lines=[{"item": "FRAME", "qty": 1}],
            reason="x",
        )
    assert err.value.code == "conflict"
    assert counts(bike_production_url) == before


def test_receipt_goes_to_inspection_when_the_item_needs_it(db_url: str) -> None:
    data = bike_production_data()
    for item in data["items"]:
        if item["code"] == "WHEEL":
            item["inspection_required"] = True
    load_bike_production(db_url, items=data["items"])
    do(db_url, "propose_release_production_orders", PLANNER, orders=["MO-W1"])
    do(db_url, "propose_kit_issue", WAREHOUSE, order="MO-W1", sets=2)
    done = do(db_url, "propose_completion_receipt", WAREHOUSE, order="MO-W1", qty=2)
    assert done["result"]["receipt"]["to_location"] == "QC"
    assert moves(db_url, "MO-W1", "production_order")[-1][:5] == (
        "production_receipt",
        "WHEEL",
        2,
        "PRODUCTION",
        "QC",
    )
    # available stock unchanged (4), 2 waiting in inspection
    assert stock(db_url, "WHEEL") == {"WHEEL": 4}
    assert stock(db_url, "WHEEL", kinds=("inspection",)) == {"WHEEL": 2}
    assert order_state(db_url, "MO-W1")[:2] == ("in_progress", 2)
