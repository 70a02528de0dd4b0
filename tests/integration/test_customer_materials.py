"""Customer-supplied material: received at no cost, kept out of our own stock and planning, used only for
the owner's orders, returned only from what the owner still has."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import yaml
from sqlmodel import func, select

from data_model.stock import StockError, customer_owned_on_hand, on_hand, post_move
from data_model.tables import (
    AuditLog,
    Customer,
    Item,
    ItemValuation,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    ReceiptNotice,
    StockMove,
)
from tests.helpers import call, do
from tools.context import Actor, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError
from tools.proposals import confirm
from tools.snapshot import load_plant_from_session

WAREHOUSE = Actor("wes", "warehouse")

# Our own FABRIC: 50 m at 28. SOFA needs 5 m; MO-1 is for ACME's SO-1, MO-2 for BETA's SO-2, MO-3 for stock,
# MO-4 a cushion sub-assembly of MO-1 (so for ACME too).
CUSTOMER_YAML = """
today: 2026-12-01
items:
  - {code: SOFA, name: 沙发, source: make}
  - {code: CUSHION, name: 坐垫, source: make}
  - {code: FABRIC, name: 面料, source: buy, unit_cost: 28, uom: m}
customers:
  - {code: ACME, name: 艾克米}
  - {code: BETA, name: Beta Office}
boms:
  - parent: SOFA
    lines: [{component: FABRIC, qty: 5}, {component: CUSHION, qty: 1}]
  - parent: CUSHION
    lines: [{component: FABRIC, qty: 1}]
stock:
  - {item: FABRIC, qty: 50, unit_cost: 28}
sales_orders:
  - {id: SO-1, customer: ACME, lines: [{item: SOFA, qty: 10, due: 2026-12-20}]}
  - {id: SO-2, customer: BETA, lines: [{item: SOFA, qty: 4, due: 2026-12-20}]}
production_orders:
  - {id: MO-1, item: SOFA, qty: 10, due: 2026-12-15, sales_order: SO-1/1}
  - {id: MO-2, item: SOFA, qty: 4, due: 2026-12-15, sales_order: SO-2/1}
  - {id: MO-3, item: SOFA, qty: 2, due: 2026-12-15}
  - {id: MO-4, item: CUSHION, qty: 10, due: 2026-12-12, parent_order: MO-1}
"""


@pytest.fixture
def url(db_url: str) -> str:
    with open_context(db_url) as ctx:
        load_dataset(ctx.session, yaml.safe_load(CUSTOMER_YAML), reset=True, source="customer")
    return db_url


def fabric(url: str) -> dict[str, Decimal]:
    """FABRIC: our own in stock, ACME's and BETA's, and our valuation."""
    with open_context(url) as ctx:
        s = ctx.session
        iid = s.exec(select(Item.id).where(Item.code == "FABRIC")).one()
        acme, beta = (s.exec(select(Customer.id).where(Customer.code == c)).one() for c in ("ACME", "BETA"))
        val = s.get(ItemValuation, iid)
        assert val is not None
        return {
            "own": on_hand(s, [iid]).get(iid, Decimal(0)),
            "acme": customer_owned_on_hand(s, acme).get(iid, Decimal(0)),
            "beta": customer_owned_on_hand(s, beta).get(iid, Decimal(0)),
            "value": val.value,
            "avg": val.avg_cost,
        }


def row_counts(url: str) -> dict[str, int]:
    with open_context(url) as ctx:
        return {
            t.__name__: ctx.session.exec(select(func.count()).select_from(t)).one()
            for t in (StockMove, Proposal, ReceiptNotice, AuditLog)
        }


def test_receipt_consumption_and_return_of_customer_material(url: str) -> None:
    out = call(
        url,
        "propose_customer_material_receipt",
        actor=WAREHOUSE,
        customer="ACME",
        reference="SO-1",
        lines=[{"item": "FABRIC", "qty": 40}, {"item": "FABRIC", "qty": 20}],
    )
    assert [(ln["item"], ln["qty"]) for ln in out["lines"]] == [("FABRIC", 60)]  # 40 + 20
    assert out["summary_zh"] == "客供料入库:ACME(SO-1) FABRIC 60 m 入 STOCK,归客户所有,不计成本。"
    with open_context(url) as ctx:
        result = confirm(ctx.session, out["proposal_id"], WAREHOUSE).result
    assert result["code"] == "RN-00001"
    # ACME's 60 m are not ours: own on-hand and valuation (50 m at 28 = 1400) do not move
    assert fabric(url) == {"own": 50, "acme": 60, "beta": 0, "value": 1400, "avg": 28}
    with open_context(url) as ctx:
        move = ctx.session.exec(select(StockMove).where(StockMove.doc_ref == "RN-00001")).one()
        owner = ctx.session.get(Customer, move.owner_customer_id)
        assert (move.move_type, move.doc_type, move.qty, move.unit_cost, owner and owner.code) == (
            "receipt",
            "customer_material",
            60,
            0,
            "ACME",
        )
        notice = ctx.session.exec(select(ReceiptNotice).where(ReceiptNotice.code == "RN-00001")).one()
        assert (notice.source_type, notice.source_ref) == ("customer_material", "SO-1")
        plant = load_plant_from_session(ctx.session, date(2026, 12, 1))
    assert plant.on_hand["FABRIC"] == 50  # planning counts only our own

    # MO-1 (10 sofas for ACME) needs 10 x 5 = 50 m; MO-4 cushions for MO-1 need 10 x 1 = 10 m
    result = do(
        url,
        "propose_customer_material_consumption",
        WAREHOUSE,
        proposer=WAREHOUSE,
        customer="ACME",
        production_order="MO-1",
        lines=[{"item": "FABRIC", "qty": 50}],
    )["result"]
    assert (result["sales_order"], result["status"]) == ("SO-1", "in_progress")
    do(
        url,
        "propose_customer_material_consumption",
        WAREHOUSE,
        proposer=WAREHOUSE,
        customer="ACME",
        production_order="MO-4",
        lines=[{"item": "FABRIC", "qty": 4}],
    )
    assert fabric(url) == {"own": 50, "acme": 6, "beta": 0, "value": 1400, "avg": 28}  # 60 - 50 - 4
    with open_context(url) as ctx:
        issued = ctx.session.exec(
            select(ProductionOrder.code, ProductionOrderComponent.issued_qty)
            .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)
            .join(Item, Item.id == ProductionOrderComponent.item_id)
            .where(Item.code == "FABRIC")
            .order_by(ProductionOrder.code)
        ).all()
        assert dict(issued)["MO-1"] == 50 and dict(issued)["MO-4"] == 4
        mo_moves = ctx.session.exec(select(StockMove).where(StockMove.doc_ref == "MO-1")).all()
        assert [
            (m.move_type, m.doc_type, m.qty, m.unit_cost, m.owner_customer_id is not None) for m in mo_moves
        ] == [("issue", "production_order", 50, 0, True)]

    result = do(
        url,
        "propose_customer_material_return",
        WAREHOUSE,
        proposer=WAREHOUSE,
        customer="ACME",
        lines=[{"item": "FABRIC", "qty": 6}],
        note="surplus",
    )["result"]
    assert result["code"] == "CMR-00001"
    assert fabric(url) == {"own": 50, "acme": 0, "beta": 0, "value": 1400, "avg": 28}
    view = call(url, "get_customer_materials", actor=WAREHOUSE, customer="ACME")["customers"]
    assert [
        (
            c["customer"],
            [(i["item"], i["received"], i["consumed"], i["returned"], i["on_hand"]) for i in c["items"]],
        )
        for c in view
    ] == [("ACME", [("FABRIC", 60, 54, 6, 0)])]
    with open_context(url) as ctx:
        actions = ctx.session.exec(
            select(AuditLog.action, AuditLog.entity_ref)
            .where(AuditLog.entity == "customer_material")
            .order_by(AuditLog.id)
        ).all()
    assert actions == [("receive", "RN-00001"), ("issue", "MO-1"), ("issue", "MO-4"), ("return", "CMR-00001")]


def test_customer_material_serves_only_its_owner_and_never_mixes_with_our_stock(url: str) -> None:
    do(
        url,
        "propose_customer_material_receipt",
        WAREHOUSE,
        proposer=WAREHOUSE,
        customer="ACME",
        lines=[{"item": "FABRIC", "qty": 10}],
    )
    do(
        url,
        "propose_customer_material_receipt",
        WAREHOUSE,
        proposer=WAREHOUSE,
        customer="BETA",
        lines=[{"item": "FABRIC", "qty": 20}],
    )
    assert fabric(url) == {"own": 50, "acme": 10, "beta": 20, "value": 1400, "avg": 28}
    before = row_counts(url)
    cases = [
        (
            "propose_customer_material_consumption",
            {"customer": "ACME", "production_order": "MO-2", "lines": [{"item": "FABRIC", "qty": 5}]},
            "invalid_input",
            "ACME's material may only be used for ACME's orders; MO-2 is made for sales order SO-2 of another",
        ),
        (
            "propose_customer_material_consumption",
            {"customer": "ACME", "production_order": "MO-3", "lines": [{"item": "FABRIC", "qty": 5}]},
            "invalid_input",
            "MO-3 is not made for a sales order",
        ),
        # ACME owns 10: BETA's 20 and our 50 cannot make up 15
        (
            "propose_customer_material_consumption",
            {"customer": "ACME", "production_order": "MO-1", "lines": [{"item": "FABRIC", "qty": 15}]},
            "infeasible",
            "ACME has only 10 FABRIC of its own in stock, 15 requested",
        ),
        (
            "propose_customer_material_consumption",
            {"customer": "ACME", "production_order": "MO-1", "lines": [{"item": "SOFA", "qty": 1}]},
            "invalid_input",
            "SOFA is not a component of MO-1",
        ),
        (
            "propose_customer_material_return",
            {"customer": "ACME", "lines": [{"item": "FABRIC", "qty": 11}]},
            "infeasible",
            "ACME has only 10 FABRIC of its own in stock, 11 requested",
        ),
        (
            "propose_customer_material_receipt",
            {"customer": "NOPE", "lines": [{"item": "FABRIC", "qty": 1}]},
            "not_found",
            "customer 'NOPE' not found",
        ),
        (
            "propose_customer_material_receipt",
            {"customer": "ACME", "lines": [{"item": "SILK", "qty": 1}]},
            "not_found",
            "item 'SILK' not found",
        ),
    ]
    for name, args, code, message in cases:
        with pytest.raises(ToolError) as err:
            call(url, name, actor=WAREHOUSE, **args)
        assert err.value.code == code and message in err.value.message, (name, err.value.message)
    assert row_counts(url) == before
    # our own issue cannot dip into customers' material either: 50 are ours, not 80
    with (
        pytest.raises(StockError, match="not enough FABRIC at STOCK: 50 on hand, 51 requested"),
        open_context(url) as ctx,
    ):
        iid = ctx.session.exec(select(Item.id).where(Item.code == "FABRIC")).one()
        post_move(
            ctx.session,
            item_id=iid,
            qty=Decimal(51),
            from_code="STOCK",
            to_code="PRODUCTION",
            move_type="issue",
            move_date=date(2026, 12, 1),
            doc_type="production_order",
            doc_ref="MO-3",
        )
    assert fabric(url) == {"own": 50, "acme": 10, "beta": 20, "value": 1400, "avg": 28}
