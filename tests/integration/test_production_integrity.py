"""Bad input, document states and concurrency of production execution: refusals name the record and
field and write nothing; two concurrent issues never take stock below zero (SQLite and PostgreSQL).

Bike factory of tests/integration/test_production_helpers.py: MO-B3 (3 BIKE) and MO-B2 (2 BIKE) are
released, MO-B1 is planned, MO-B0 completed. Stock: FRAME 10, WHEEL 4.
"""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from sqlmodel import Session, select

from data_model.settings import Settings
from data_model.tables import Item, ProductionOrder, ProductionOrderComponent, Proposal
from tests.helpers import call, confirm_as, do
from tests.integration.test_production_helpers import (
    PLANNER,
    WAREHOUSE,
    audit_entities,
    counts,
    order_state,
    stock,
)
from tools.catalog.material_issue import PlannedIssueLine, post_material
from tools.context import engine_for, open_context
from tools.errors import ToolError

ISSUE = "propose_material_issue"
BAD_INPUTS: list[tuple[str, dict[str, Any], str, str]] = [
    (ISSUE, {"order": "MO-NOPE", "lines": [{"item": "FRAME", "qty": 1}]}, "not_found", "order"),
    (ISSUE, {"order": "MO-B1", "lines": [{"item": "FRAME", "qty": 1}]}, "conflict", "status"),  # planned
    (ISSUE, {"order": "MO-B0", "lines": [{"item": "FRAME", "qty": 1}]}, "conflict", "status"),  # completed
    (ISSUE, {"order": "MO-B3", "lines": [{"item": "NOPE", "qty": 1}]}, "not_found", "lines.0.item"),
    (ISSUE, {"order": "MO-B3", "lines": [{"item": "RIM", "qty": 1}]}, "invalid_input", "lines.0.qty"),
    (
        ISSUE,
        {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1, "uom": "kg"}]},
        "invalid_input",
        "lines.0.uom",
    ),
    (
        ISSUE,
        {"order": "MO-B3", "lines": [{"item": "WHEEL", "qty": 5}]},
        "infeasible",
        "lines.0.qty",
    ),  # 4 on hand
    (
        ISSUE,
        {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1}], "from_location": "CUSTOMER"},
        "invalid_input",
        "from_location",
    ),
    (
        ISSUE,
        {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1}], "from_location": "NOWHERE"},
        "not_found",
        "from_location",
    ),
    (
        "propose_material_return",
        {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1}], "reason": "surplus"},
        "invalid_input",
        "lines.0.qty",
    ),  # nothing issued yet
    ("propose_kit_issue", {"order": "MO-B1", "sets": 1}, "conflict", "status"),
    ("propose_completion_receipt", {"order": "MO-B3", "qty": 4}, "invalid_input", "qty"),  # of 3
    ("propose_completion_receipt", {"order": "MO-B3", "qty": 1, "uom": "set"}, "invalid_input", "uom"),
    (
        "propose_completion_receipt",
        {"order": "MO-B2", "qty": 1, "into_order": "MO-B3"},
        "invalid_input",
        "into_order",
    ),  # MO-B3 does not use BIKE
    ("propose_completion_receipt", {"order": "MO-B1", "qty": 1}, "conflict", "status"),
    ("propose_cancel_production_order", {"order": "MO-B0", "reason": "x"}, "conflict", "status"),
    (
        "propose_close_production_order",
        {"order": "MO-B3"},
        "invalid_input",
        "reason",
    ),  # short close needs one
]


@pytest.mark.parametrize(("tool", "args", "code", "field"), BAD_INPUTS)
def test_bad_input_names_record_and_field_and_writes_nothing(
    bike_production_url: str, tool: str, args: dict[str, Any], code: str, field: str
) -> None:
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, tool, **args)
    assert err.value.code == code
    assert err.value.details["field"] == field
    assert counts(bike_production_url) == before


@pytest.mark.parametrize(
    ("tool", "args", "field"),
    [
        (ISSUE, {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 0}]}, "lines.0.qty"),
        ("propose_material_return", {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1}]}, "reason"),
        (
            "propose_supplementary_issue",
            {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 1}], "reason": ""},
            "reason",
        ),
        ("propose_kit_issue", {"order": "MO-B3", "sets": 0}, "sets"),
    ],
)
def test_malformed_input_is_refused_by_the_schema(
    bike_production_url: str, tool: str, args: dict[str, Any], field: str
) -> None:
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        call(bike_production_url, tool, **args)
    assert err.value.code == "invalid_input"
    assert err.value.details["errors"][0]["field"] == field
    assert counts(bike_production_url) == before


def test_cancel_and_close_follow_the_document_states(bike_production_url: str) -> None:
    # a planned order with nothing issued can be cancelled
    out = call(
        bike_production_url, "propose_cancel_production_order", order="MO-B1", reason="customer cancelled"
    )
    assert out["summary_zh"] == "取消生产订单 MO-B1(BIKE 5),原因:customer cancelled。"
    confirm_as(bike_production_url, out["proposal_id"], PLANNER)
    assert order_state(bike_production_url, "MO-B1")[0] == "cancelled"
    assert audit_entities(bike_production_url, out["proposal_id"])[1] == ("cancel", "production_order")
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_release_production_orders", orders=["MO-B1"])
    assert err.value.code == "conflict" and "cancelled" in err.value.message

    # an order holding material cannot be cancelled: return it, or close short
    do(
        bike_production_url, "propose_kit_issue", WAREHOUSE, order="MO-B2", sets=1
    )  # FRAME 1, WHEEL 2, BELL 1, BOLT 4
    with pytest.raises(ToolError) as err:
        call(bike_production_url, "propose_cancel_production_order", order="MO-B2", reason="x")
    assert err.value.code == "conflict"
    assert err.value.message == "production order MO-B2 is in_progress: cannot be cancelled (it has started)"
    out = call(bike_production_url, "propose_close_production_order", order="MO-B2", reason="line stopped")
    # nothing completed, so everything issued is left over: FRAME 1, WHEEL 2, BELL 1, BOLT 4
    assert out["short"] is True
    assert [(x["item"], x["qty"]) for x in out["leftover"]] == [
        ("FRAME", 1),
        ("WHEEL", 2),
        ("BELL", 1),
        ("BOLT", 4),
    ]
    confirm_as(bike_production_url, out["proposal_id"], PLANNER)
    assert order_state(bike_production_url, "MO-B2")[0] == "closed"


def test_allow_negative_stock_lets_an_issue_through(bike_production_url: str) -> None:
    lenient = Settings(allow_negative_stock=True)
    out = call(
        bike_production_url, ISSUE, settings=lenient, order="MO-B3", lines=[{"item": "WHEEL", "qty": 6}]
    )
    confirm_as(bike_production_url, out["proposal_id"], WAREHOUSE)
    # 4 on hand - 6 issued
    assert stock(bike_production_url, "WHEEL") == {"WHEEL": -2}


def test_a_proposal_computed_on_stale_stock_is_refused_at_confirmation(bike_production_url: str) -> None:
    first = call(bike_production_url, ISSUE, order="MO-B3", lines=[{"item": "WHEEL", "qty": 4}])
    second = call(bike_production_url, ISSUE, order="MO-B2", lines=[{"item": "WHEEL", "qty": 4}])
    confirm_as(bike_production_url, first["proposal_id"], WAREHOUSE)
    before = counts(bike_production_url)
    with pytest.raises(ToolError) as err:
        confirm_as(bike_production_url, second["proposal_id"], WAREHOUSE)
    assert err.value.code == "conflict" and err.value.details["stale"] is True
    assert stock(bike_production_url, "WHEEL") == {"WHEEL": 0}
    after = counts(bike_production_url)
    assert after["moves"] == before["moves"] and after["issued_total"] == before["issued_total"]
    with open_context(bike_production_url) as ctx:
        assert ctx.session.get(Proposal, second["proposal_id"]).status == "failed"


def test_concurrent_confirmations_issue_once(bike_production_url: str) -> None:
    # two proposals for 8 of the 10 frames each, confirmed at the same moment: exactly one applies
    a = call(bike_production_url, ISSUE, order="MO-B3", lines=[{"item": "FRAME", "qty": 8}], reason="batch A")
    b = call(bike_production_url, ISSUE, order="MO-B2", lines=[{"item": "FRAME", "qty": 8}], reason="batch B")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def run(pid: str) -> None:
        barrier.wait()
        try:
            outcomes.append(confirm_as(bike_production_url, pid, PLANNER)["status"])
        except ToolError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=run, args=(p["proposal_id"],)) for p in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["confirmed", "conflict"]
    assert stock(bike_production_url, "FRAME") == {"FRAME": 2}


def _frame_line(url: str, order_code: str, qty: int) -> PlannedIssueLine:
    with open_context(url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == order_code)).one()
        frame = ctx.session.exec(select(Item).where(Item.code == "FRAME")).one()
        row = ctx.session.exec(
            select(ProductionOrderComponent).where(
                ProductionOrderComponent.production_order_id == order.id,
                ProductionOrderComponent.item_id == frame.id,
            )
        ).one()
        return PlannedIssueLine(
            order=order_code,
            component_id=row.id,
            item="FRAME",
            item_name="",
            uom="pcs",
            qty=D(qty),
            required=D(row.required_qty),
            issued_before=D(0),
            issued_after=D(qty),
            over_issue=True,
            unit_cost=D(50),
        )


def test_two_concurrent_issues_never_take_stock_negative(bike_production_url: str) -> None:
    """The ledger's own guard, below the proposal versions: post_move locks the item rows, so of two
    transactions issuing 8 of 10 frames at once the second sees the first's move and is refused."""
    if not bike_production_url.startswith("postgresql"):
        pytest.skip("row locks between connections: PostgreSQL (SQLite serializes writers on its file lock)")
    lines = {
        "MO-B3": _frame_line(bike_production_url, "MO-B3", 8),
        "MO-B2": _frame_line(bike_production_url, "MO-B2", 8),
    }
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def run(order_code: str) -> None:
        with Session(engine_for(bike_production_url)) as session:
            barrier.wait()
            try:
                post_material(
                    session,
                    WAREHOUSE,
                    mode="issue",
                    lines=[lines[order_code]],
                    location_code="STOCK",
                    issue_date=date(2026, 12, 1),
                    reason="race",
                    proposal_id="",
                    allow_negative=False,
                    allow_over=True,
                    tolerance=D(0),
                )
                time.sleep(0.3)  # hold the item lock while the other transaction waits for it
                session.commit()
                outcomes[order_code] = "posted"
            except ToolError as exc:
                session.rollback()
                outcomes[order_code] = exc.message

    threads = [threading.Thread(target=run, args=(code,)) for code in lines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    results = sorted(outcomes.values())
    assert results[0] == "not enough FRAME at STOCK: 2 on hand, 8 requested"
    assert results[1] == "posted"
    # 10 - 8: the loser wrote nothing
    assert stock(bike_production_url, "FRAME") == {"FRAME": 2}
