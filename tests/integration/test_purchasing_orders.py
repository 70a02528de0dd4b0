"""Purchase orders from requisitions: merged by supplier, priced at the merged quantity's break, linked back."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlmodel import func, select

from data_model.tables import AuditLog, Proposal, PurchaseOrder, PurchaseOrderLine, PurchaseRequisition
from tests.helpers import call, confirm_as, do
from tools.context import Actor, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError

BUYER = Actor("bea", "buyer")
WAREHOUSE = Actor("wes", "warehouse")

# 2026-12-01 is a Tuesday.
PURCHASING_YAML = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: LEG, name: 桌腿, source: buy, unit_cost: 12}
  - {code: BOLT, name: 螺栓, source: buy, unit_cost: 0.5}
  - {code: BOARD, name: 板材, source: buy, unit_cost: 30}
  - {code: GLUE, name: 胶水, source: buy, unit_cost: 9}
  - {code: DESK, name: 桌子, source: make}
  - {code: PAINTED, name: 喷涂件, source: subcontract, unit_cost: 4}
suppliers:
  - {code: STEEL, name: 钢材供应商}
  - {code: WOOD, name: Wood Co}
price_lists:
  - {supplier: STEEL, item: LEG, price: 15, preferred: true, valid_from: 2026-01-01, valid_to: 2026-12-31}
  - {supplier: STEEL, item: LEG, price: 14, min_qty: 200, valid_from: 2026-01-01, valid_to: 2026-12-31}
  - {supplier: STEEL, item: LEG, price: 13, min_qty: 500, valid_from: 2026-01-01, valid_to: 2026-12-31}
  - {supplier: STEEL, item: LEG, price: 11, min_qty: 200, valid_from: 2027-01-01}
  - {supplier: STEEL, item: BOLT, price: 0.4, preferred: true}
  - {supplier: WOOD, item: BOARD, price: 28, preferred: true}
"""


@pytest.fixture
def url(db_url: str) -> str:
    with open_context(db_url) as ctx:
        load_dataset(ctx.session, yaml.safe_load(PURCHASING_YAML), reset=True, source="purchasing")
    return db_url


def requisitions(url: str, lines: list[dict[str, Any]]) -> list[str]:
    """Create approved requisitions through the requisition tool; their codes."""
    result = do(url, "propose_purchase_requests", BUYER, proposer=BUYER, lines=lines, source_ref="MRP")[
        "result"
    ]
    return [r["code"] for r in result["requisitions"]]


def counts(url: str) -> tuple[int, int, int, int]:
    with open_context(url) as ctx:
        s = ctx.session
        return (
            s.exec(select(func.count()).select_from(PurchaseOrder)).one(),
            s.exec(select(func.count()).select_from(PurchaseOrderLine)).one(),
            s.exec(select(func.count()).select_from(Proposal)).one(),
            s.exec(select(func.count()).select_from(AuditLog)).one(),
        )


def test_requisitions_merge_into_one_order_per_supplier_at_the_merged_quantity_break(url: str) -> None:
    codes = requisitions(
        url,
        [
            {"item": "LEG", "qty": 120, "need_date": "2026-12-09"},
            {"item": "LEG", "qty": 100, "need_date": "2026-12-10"},
            {"item": "BOLT", "qty": 1000, "need_date": "2026-12-08"},
            {"item": "BOARD", "qty": 10, "need_date": "2026-12-08"},
        ],
    )
    assert codes == ["PR-00001", "PR-00002", "PR-00003", "PR-00004"]
    listed = call(url, "list_purchase_requisitions", actor=BUYER)
    # earliest need date first; all approved and not yet ordered
    assert [(r["code"], r["supplier"], r["status"]) for r in listed["requisitions"]] == [
        ("PR-00003", "STEEL", "approved"),
        ("PR-00004", "WOOD", "approved"),
        ("PR-00001", "STEEL", "approved"),
        ("PR-00002", "STEEL", "approved"),
    ]

    out = call(url, "propose_purchase_orders", actor=BUYER, requisitions=codes)
    steel, wood = out["orders"]
    # LEG alone is 15 a piece (120 and 100 are below the 200 break); merged, 120 + 100 = 220 reaches the
    # 200 break: 14. The 500 break is not reached and next year's 11 is not valid on 2026-12-01.
    assert [
        (ln["line_no"], ln["requisition"], ln["item"], ln["qty"], ln["unit_price"], ln["amount"])
        for ln in steel["lines"]
    ] == [
        (1, "PR-00003", "BOLT", 1000, 0.4, 400),  # 1000 x 0.4
        (2, "PR-00001", "LEG", 120, 14, 1680),  # 120 x 14
        (3, "PR-00002", "LEG", 100, 14, 1400),  # 100 x 14
    ]
    assert [ln["price_break_qty"] for ln in steel["lines"]] == [0, 200, 200]
    assert steel["total_amount"] == 3480  # 400 + 1680 + 1400
    assert (wood["supplier"], wood["total_amount"]) == ("WOOD", 280)  # 10 x 28
    assert out["total_amount"] == 3760
    assert out["approver_roles"] == ["buyer", "manager", "admin"]
    assert out["summary_zh"].startswith("新建 2 张采购订单:供应商 STEEL 3 行")
    assert counts(url)[:2] == (0, 0)  # nothing until confirmed

    result = confirm_as(url, out["proposal_id"], BUYER)["result"]
    assert [o["code"] for o in result["purchase_orders"]] == ["PO-00001", "PO-00002"]
    with open_context(url) as ctx:
        s = ctx.session
        po = s.exec(select(PurchaseOrder).where(PurchaseOrder.code == "PO-00001")).one()
        assert (po.status, po.order_date) == ("confirmed", date(2026, 12, 1))
        lines = s.exec(
            select(PurchaseOrderLine, PurchaseRequisition)
            .join(PurchaseRequisition, PurchaseRequisition.id == PurchaseOrderLine.requisition_id)
            .where(PurchaseOrderLine.purchase_order_id == po.id)
            .order_by(PurchaseOrderLine.line_no)
        ).all()
        assert [(ln.line_no, r.code, ln.qty, ln.unit_price, ln.due_date) for ln, r in lines] == [
            (1, "PR-00003", Decimal(1000), Decimal("0.4"), date(2026, 12, 8)),
            (2, "PR-00001", Decimal(120), Decimal(14), date(2026, 12, 9)),
            (3, "PR-00002", Decimal(100), Decimal(14), date(2026, 12, 10)),
        ]
        statuses = s.exec(select(PurchaseRequisition.code, PurchaseRequisition.status)).all()
        assert sorted(statuses) == [(c, "ordered") for c in codes]
        audit = s.exec(
            select(AuditLog.action, AuditLog.entity, AuditLog.entity_ref)
            .where(AuditLog.proposal_id == out["proposal_id"])
            .order_by(AuditLog.id)
        ).all()
    assert ("create", "purchase_order", "PO-00001") in audit and (
        "create",
        "purchase_order",
        "PO-00002",
    ) in audit
    assert sum(1 for a in audit if a[:2] == ("order", "purchase_requisition")) == 4
    assert call(url, "list_purchase_requisitions", actor=BUYER)["requisitions"] == []
    ordered = call(url, "list_purchase_requisitions", actor=BUYER, status="ordered")["requisitions"]
    assert {r["code"]: r["purchase_order"] for r in ordered} == {
        "PR-00001": "PO-00001",
        "PR-00002": "PO-00001",
        "PR-00003": "PO-00001",
        "PR-00004": "PO-00002",
    }
    # the new orders are open supply for planning
    po = call(url, "get_purchase_order", actor=BUYER, order="PO-00001")
    assert (po["status"], po["total_amount"], [ln["open_qty"] for ln in po["lines"]]) == (
        "confirmed",
        3480,
        [1000, 120, 100],
    )


def test_prices_are_those_valid_on_the_order_date(url: str) -> None:
    codes = requisitions(
        url,
        [
            {"item": "LEG", "qty": 120, "need_date": "2027-01-12"},
            {"item": "LEG", "qty": 100, "need_date": "2027-01-12"},
        ],
    )
    out = call(url, "propose_purchase_orders", actor=BUYER, requisitions=codes, order_date="2027-01-05")
    # on 2027-01-05 only next year's row is valid: 220 reaches its 200 break, 11 a piece
    assert [ln["unit_price"] for ln in out["orders"][0]["lines"]] == [11, 11]
    assert out["orders"][0]["total_amount"] == 2420  # 220 x 11


def test_a_requisition_without_supplier_needs_one_and_falls_back_to_the_unit_cost(url: str) -> None:
    (glue,) = requisitions(url, [{"item": "GLUE", "qty": 4, "need_date": "2026-12-09"}])
    before = counts(url)
    with pytest.raises(ToolError) as err:
        call(url, "propose_purchase_orders", actor=BUYER, requisitions=[glue])
    assert err.value.code == "invalid_input" and "give supplier" in err.value.message
    assert counts(url) == before
    out = call(url, "propose_purchase_orders", actor=BUYER, requisitions=[glue], supplier="WOOD")
    (line,) = out["orders"][0]["lines"]
    # WOOD has no price for GLUE: the item's unit cost 9 is used, and said so
    assert (line["unit_price"], line["price_source"], line["price_break_qty"], line["amount"]) == (
        9,
        "item_unit_cost",
        None,
        36,
    )


def test_bad_requisitions_are_refused_and_nothing_is_written(url: str) -> None:
    first, second = requisitions(
        url,
        [
            {"item": "LEG", "qty": 10, "need_date": "2026-12-09"},
            {"item": "BOLT", "qty": 10, "need_date": "2026-12-09"},
        ],
    )
    confirm_as(
        url, call(url, "propose_purchase_orders", actor=BUYER, requisitions=[first])["proposal_id"], BUYER
    )
    with open_context(url) as ctx:
        row = ctx.session.exec(select(PurchaseRequisition).where(PurchaseRequisition.code == second)).one()
        row.status = "draft"
        ctx.session.add(row)
    before = counts(url)
    cases = [
        (
            [first],
            "conflict",
            "PR-00001 is ordered: it cannot be ordered (it is already on a purchase order)",
        ),
        ([second], "conflict", "PR-00002 is draft: it cannot be ordered (approve it first)"),
        (["PR-404"], "not_found", "requisition 'PR-404' not found"),
        ([second, second], "invalid_input", "requisition PR-00002 is listed twice"),
    ]
    for codes, code, message in cases:
        with pytest.raises(ToolError) as err:
            call(url, "propose_purchase_orders", actor=BUYER, requisitions=codes)
        assert (err.value.code, message in err.value.message) == (code, True), err.value.message
    assert counts(url) == before


def test_only_a_buyer_may_confirm_purchase_orders(url: str) -> None:
    codes = requisitions(url, [{"item": "BOLT", "qty": 10, "need_date": "2026-12-09"}])
    pid = call(url, "propose_purchase_orders", actor=BUYER, requisitions=codes)["proposal_id"]
    with pytest.raises(ToolError) as err:
        confirm_as(url, pid, WAREHOUSE)
    assert err.value.code == "forbidden"
    assert counts(url)[0] == 0
    assert confirm_as(url, pid, BUYER)["status"] == "confirmed"
