"""Rework orders (返修生产) from a returned product and from a failed inspection (SQLite and PostgreSQL).

Bike factory of tests/integration/test_production_helpers.py: MO-B0 made 2 BIKE (completed); BIKE stock 2
at 100, SEAT-B 3 at 12, WHEEL 4 at 20.
"""

from __future__ import annotations

import pytest

from tests.helpers import bike_production_data, call, confirm_as, do, load_bike_production, moves
from tests.integration.test_production_helpers import (
    QUALITY,
    WAREHOUSE,
    audit_entities,
    counts,
    order_state,
    stock,
)
from tools.errors import ToolError


def test_rework_of_a_returned_bike_carries_its_own_material_cost(bike_production_url: str) -> None:
    out = call(
        bike_production_url,
        "propose_rework_order",
        original_order="MO-B0",
        qty=1,
        reason="brake squeaks",
        source="customer_return",
        source_ref="RMA-7",
        materials=[{"item": "SEAT-B", "qty": 1}],
    )
    assert out["summary_zh"] == "新建返修单 BIKE 1 pcs(来自 MO-B0),原因:brake squeaks;返修用料 SEAT-B 1。"
    assert out["components"] == [
        {"item": "BIKE", "uom": "pcs", "required": 1},
        {"item": "SEAT-B", "uom": "pcs", "required": 1},
    ]
    with pytest.raises(ToolError) as err:
        confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    assert err.value.code == "forbidden"
    done = confirm_as(bike_production_url, out["proposal_id"], QUALITY)
    assert done["result"]["order"]["code"] == "RW-00001"
    assert audit_entities(bike_production_url, out["proposal_id"]) == [
        ("propose", "rework_order"),
        ("create", "production_order"),
        ("confirm", "rework_order"),
    ]
    got = call(bike_production_url, "get_production_order", order="RW-00001")
    assert (got["kind"], got["status"], got["parent_order"], got["item"], got["qty"]) == (
        "rework",
        "released",
        "MO-B0",
        "BIKE",
        1,
    )
    assert got["rework_origin"] == {
        "source": "customer_return",
        "source_ref": "RMA-7",
        "reason": "brake squeaks",
        "original_order": "MO-B0",
    }
    assert "RW-00001" in call(bike_production_url, "get_production_order", order="MO-B0")["sub_orders"]

    # the returned bike and a new seat go to the rework order; the bike comes back reworked
    do(
        bike_production_url,
        "propose_material_issue",
        WAREHOUSE,
        order="RW-00001",
        lines=[{"item": "BIKE", "qty": 1}, {"item": "SEAT-B", "qty": 1}],
    )
    done = do(bike_production_url, "propose_completion_receipt", WAREHOUSE, order="RW-00001", qty=1)
    # a rework receipt is valued at what the reworked unit was issued at (100); the seat stays rework cost
    assert done["result"]["receipt"]["unit_cost"] == 100
    assert moves(bike_production_url, "RW-00001", "production_order") == [
        ("issue", "BIKE", 1, "STOCK", "PRODUCTION", 100, ""),
        ("issue", "SEAT-B", 1, "STOCK", "PRODUCTION", 12, ""),
        ("production_receipt", "BIKE", 1, "PRODUCTION", "STOCK", 100, ""),
    ]
    assert order_state(bike_production_url, "RW-00001")[:2] == ("completed", 1)
    # BIKE 2 - 1 + 1, SEAT-B 3 - 1
    assert stock(bike_production_url, "BIKE", "SEAT-B") == {"BIKE": 2, "SEAT-B": 2}
    got = call(bike_production_url, "get_production_order", order="RW-00001")
    # material 100 + 12 charged, 100 received back: the rework cost 12 stays on the rework order
    assert (got["material_cost"], got["received_value"]) == (112, 100)


def test_rework_from_a_failed_inspection_issues_from_qc(db_url: str) -> None:
    data = bike_production_data()
    data["stock"].append({"item": "WHEEL", "qty": 2, "location": "QC", "unit_cost": 20})
    load_bike_production(db_url, stock=data["stock"])
    done = do(
        db_url,
        "propose_rework_order",
        QUALITY,
        item="WHEEL",
        qty=2,
        reason="rim dented",
        source="inspection",
        materials=[{"item": "RIM", "qty": 2}],
    )
    code = done["result"]["order"]["code"]
    assert (code, done["result"]["order"]["original_order"]) == ("RW-00001", None)
    do(
        db_url,
        "propose_material_issue",
        WAREHOUSE,
        order=code,
        from_location="QC",
        lines=[{"item": "WHEEL", "qty": 2}],
    )
    do(db_url, "propose_material_issue", WAREHOUSE, order=code, lines=[{"item": "RIM", "qty": 2}])
    done = do(db_url, "propose_completion_receipt", WAREHOUSE, order=code, qty=2)
    assert done["result"]["receipt"]["to_location"] == "STOCK"
    assert moves(db_url, code, "production_order") == [
        ("issue", "WHEEL", 2, "QC", "PRODUCTION", 20, ""),
        ("issue", "RIM", 2, "STOCK", "PRODUCTION", 8, ""),
        ("production_receipt", "WHEEL", 2, "PRODUCTION", "STOCK", 20, ""),
    ]
    # WHEEL: 4 in stock + 2 reworked; none left in inspection
    assert stock(db_url, "WHEEL") == {"WHEEL": 6}
    assert stock(db_url, "WHEEL", kinds=("inspection",)) == {"WHEEL": 0}


@pytest.mark.parametrize(
    ("args", "code", "field"),
    [
        ({"original_order": "MO-B0", "qty": 3, "reason": "x"}, "invalid_input", "qty"),  # MO-B0 made 2
        ({"original_order": "MO-B0", "item": "WHEEL", "qty": 1, "reason": "x"}, "invalid_input", "item"),
        ({"qty": 1, "reason": "x"}, "invalid_input", "item"),
        ({"original_order": "MO-NOPE", "qty": 1, "reason": "x"}, "not_found", "original_order"),
        (
            {"item": "BIKE", "qty": 1, "reason": "x", "materials": [{"item": "RIM", "qty": 1, "uom": "kg"}]},
            "invalid_input",
            "materials.0.uom",
        ),
    ],
)
def test_rework_bad_input_writes_nothing(bike_production_url: str, args: dict, code: str, field: str) -> None:
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_rework_order", **args)
    assert (err.value.code, err.value.details["field"]) == (code, field)
    assert counts(bike_production_url) == before
