"""Receiving against purchase orders with the quality loop: QC, inspection, stock-in, return to the vendor."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlmodel import func, select

from data_model.settings import Settings
from data_model.stock import location_by_code, on_hand, post_move
from data_model.tables import (
    AuditLog,
    InspectionOrder,
    Item,
    Proposal,
    PurchaseOrder,
    PurchaseOrderLine,
    ReceiptNotice,
    StockMove,
)
from tests.helpers import call, confirm_as, do, moves, race, valuation
from tools.catalog.quality import open_inspection
from tools.context import Actor, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError
from tools.snapshot import load_plant_from_session

WAREHOUSE = Actor("wes", "warehouse")
QUALITY = Actor("qin", "quality")

RECEIVING_YAML = """
today: 2026-12-01
items:
  - {code: LEG, name: 桌腿, source: buy, unit_cost: 12, inspection_required: true}
  - {code: BOLT, name: 螺栓, source: buy, unit_cost: 0.5}
  - {code: TOP, name: 桌面, source: make}
suppliers:
  - {code: STEEL, name: 钢材供应商}
stock:
  - {item: LEG, qty: 95, unit_cost: 12}
purchase_orders:
  - id: PO-7
    supplier: STEEL
    lines:
      - {item: LEG, qty: 100, due: 2026-12-05, unit_price: 15}
      - {item: BOLT, qty: 1000, due: 2026-12-05, unit_price: 0.4}
  - {id: PO-8, supplier: STEEL, item: BOLT, qty: 10, due: 2026-12-05, status: closed}
  - {id: PO-9, supplier: STEEL, item: BOLT, qty: 10, due: 2026-12-05, status: cancelled}
"""


@pytest.fixture
def url(db_url: str) -> str:
    with open_context(db_url) as ctx:
        load_dataset(ctx.session, yaml.safe_load(RECEIVING_YAML), reset=True, source="receiving")
    return db_url


def receive(url: str, actor: Actor = WAREHOUSE, **args: Any) -> dict[str, Any]:
    return do(url, "propose_purchase_receipt", actor, proposer=WAREHOUSE, purchase_order="PO-7", **args)[
        "result"
    ]


def stock(url: str, code: str) -> tuple[Decimal, Decimal]:
    """(available in STOCK, waiting in QC) of an item."""
    with open_context(url) as ctx:
        item = ctx.session.exec(select(Item).where(Item.code == code)).one()
        iid = item.id or 0
        return (
            on_hand(ctx.session, [iid]).get(iid, Decimal(0)),
            on_hand(ctx.session, [iid], kinds=("inspection",)).get(iid, Decimal(0)),
        )


def po_state(url: str, code: str = "PO-7") -> tuple[str, list[Decimal]]:
    with open_context(url) as ctx:
        po = ctx.session.exec(select(PurchaseOrder).where(PurchaseOrder.code == code)).one()
        lines = ctx.session.exec(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == po.id)
            .order_by(PurchaseOrderLine.line_no)
        ).all()
        return po.status, [ln.received_qty for ln in lines]


def row_counts(url: str) -> dict[str, int]:
    with open_context(url) as ctx:
        return {
            t.__name__: ctx.session.exec(select(func.count()).select_from(t)).one()
            for t in (StockMove, Proposal, ReceiptNotice, InspectionOrder, AuditLog)
        }


def test_partial_receipt_into_qc_inspection_stock_in_and_return(url: str) -> None:
    out = call(
        url,
        "propose_purchase_receipt",
        actor=WAREHOUSE,
        purchase_order="PO-7",
        lines=[{"item": "LEG", "qty": 100}, {"line_no": 2, "qty": 400}],
        note="delivery note DN-55",
    )
    # LEG must be inspected: it goes to QC; BOLT goes straight into stock
    assert [(ln["line_no"], ln["item"], ln["qty"], ln["to_location"]) for ln in out["lines"]] == [
        (1, "LEG", 100, "QC"),
        (2, "BOLT", 400, "STOCK"),
    ]
    assert out["status_after"] == "partial"
    assert out["summary_zh"] == (
        "采购收料 PO-7(供应商 STEEL):LEG 100 pcs(行 1)进待检区 QC 待检;"
        "BOLT 400 pcs(行 2)直接入库 STOCK。订单将变为部分收货。"
    )
    assert stock(url, "LEG") == (Decimal(95), Decimal(0))  # proposing changes nothing
    result = confirm_as(url, out["proposal_id"], WAREHOUSE)["result"]
    assert (result["code"], result["purchase_order_status"]) == ("RN-00001", "partial")
    assert [ln["inspection"] for ln in result["lines"]] == ["IQ-00001", None]

    assert moves(url, "PO-7") == [
        ("receipt", "LEG", Decimal(100), "VENDOR", "QC", Decimal(15), ""),
        ("receipt", "BOLT", Decimal(400), "VENDOR", "STOCK", Decimal("0.4"), ""),
    ]
    assert po_state(url) == ("partial", [Decimal(100), Decimal(400)])
    # 95 available; the 100 in QC are not
    assert stock(url, "LEG") == (Decimal(95), Decimal(100))
    # moving average over what we own (QC included): (95 x 12 + 100 x 15) / 195 = 2640 / 195 = 13.538462
    assert valuation(url, "LEG") == (Decimal(195), Decimal(2640), Decimal("13.538462"))
    assert valuation(url, "BOLT") == (Decimal(400), Decimal(160), Decimal("0.4"))
    with open_context(url) as ctx:
        plant = load_plant_from_session(ctx.session, date(2026, 12, 1))
    # planning: 95 LEG on hand, the QC lot is an inspection supply, PO-7 still brings 600 BOLT
    assert plant.on_hand["LEG"] == 95
    assert [(s.id, s.qty, s.kind.value) for s in plant.supplies if s.item == "LEG"] == [
        ("QC/LEG", Decimal(100), "inspection")
    ]
    assert [(s.id, s.qty) for s in plant.supplies if s.item == "BOLT"] == [("PO-7/2", Decimal(600))]

    pending = call(url, "get_inspection_orders", actor=WAREHOUSE, status="pending")
    assert pending["pending_qty_by_item"] == {"LEG": 100}
    (iq,) = pending["orders"]
    assert (iq["code"], iq["source_type"], iq["source_ref"], iq["receipt"], iq["supplier"], iq["qty"]) == (
        "IQ-00001",
        "purchase_order",
        "PO-7",
        "RN-00001",
        "STEEL",
        100,
    )

    out = call(
        url,
        "propose_inspection_result",
        actor=QUALITY,
        inspection="IQ-00001",
        sampled_qty=10,
        accepted_qty=95,
        rejected_qty=5,
        defect_reason="毛刺 burrs",
    )
    assert out["summary_zh"] == (
        "质检单 IQ-00001(采购订单 PO-7,LEG 100 pcs):抽检 10,合格 95 入库,"
        "不合格 5 退回供应商(原因:毛刺 burrs)。"
    )
    assert [(m["from_location"], m["to_location"], m["qty"], m["move_type"]) for m in out["moves"]] == [
        ("QC", "STOCK", 95, "transfer"),
        ("QC", "VENDOR", 5, "return"),
    ]
    with pytest.raises(ToolError) as err:
        confirm_as(url, out["proposal_id"], WAREHOUSE)
    assert err.value.code == "forbidden"  # quality decides inspections
    confirm_as(url, out["proposal_id"], QUALITY)

    # the rejected 5 go back at the price they came in at: 15, not the average
    assert moves(url, "IQ-00001") == [
        ("transfer", "LEG", Decimal(95), "QC", "STOCK", Decimal("13.538462"), ""),
        ("return", "LEG", Decimal(5), "QC", "VENDOR", Decimal(15), "毛刺 burrs"),
    ]
    assert stock(url, "LEG") == (Decimal(190), Decimal(0))  # 95 + 95 accepted
    # 2640 - 5 x 15 = 2565 for 195 - 5 = 190: 13.5
    assert valuation(url, "LEG") == (Decimal(190), Decimal(2565), Decimal("13.5"))
    with open_context(url) as ctx:
        iq_row = ctx.session.exec(select(InspectionOrder).where(InspectionOrder.code == "IQ-00001")).one()
        assert (
            iq_row.status,
            iq_row.sampled_qty,
            iq_row.accepted_qty,
            iq_row.rejected_qty,
            iq_row.disposition,
            iq_row.inspected_by,
        ) == ("done", 10, 95, 5, "return", "qin")
        notice = ctx.session.exec(select(ReceiptNotice).where(ReceiptNotice.code == "RN-00001")).one()
        assert (notice.status, notice.note, notice.source_ref) == ("done", "delivery note DN-55", "PO-7")
        audit = ctx.session.exec(
            select(AuditLog.action, AuditLog.entity, AuditLog.entity_ref)
            .where(AuditLog.entity.in_(("receipt_notice", "inspection_order")))  # type: ignore[attr-defined]
            .order_by(AuditLog.id)
        ).all()
    assert audit == [
        ("create", "inspection_order", "IQ-00001"),
        ("receive", "receipt_notice", "RN-00001"),
        ("inspect", "inspection_order", "IQ-00001"),
    ]

    po = call(url, "get_purchase_order", actor=WAREHOUSE, order="PO-7")
    assert [
        (ln["received_qty"], ln["open_qty"], ln["accepted_qty"], ln["rejected_qty"], ln["in_inspection_qty"])
        for ln in po["lines"]
    ] == [(100, 0, 95, 5, 0), (400, 600, 400, 0, 0)]
    assert [
        (r["code"], r["status"], [ln["inspection_status"] for ln in r["lines"]]) for r in po["receipts"]
    ] == [("RN-00001", "done", ["done", None])]

    # the rest of the BOLT completes the order
    result = receive(url, lines=[{"item": "BOLT", "qty": 600}])
    assert (result["code"], result["purchase_order_status"]) == ("RN-00002", "received")
    assert po_state(url) == ("received", [Decimal(100), Decimal(1000)])
    assert stock(url, "BOLT") == (Decimal(1000), Decimal(0))
    with pytest.raises(ToolError) as err:
        call(
            url,
            "propose_purchase_receipt",
            actor=WAREHOUSE,
            purchase_order="PO-7",
            lines=[{"item": "BOLT", "qty": 1}],
        )
    assert err.value.code == "conflict"
    assert "PO-7 is received: nothing can be received on it (everything ordered has been received)" in (
        err.value.message
    )


def test_receiving_more_than_ordered_is_refused_beyond_the_tolerance(url: str) -> None:
    receive(url, lines=[{"item": "BOLT", "qty": 400}])
    before = row_counts(url)
    with pytest.raises(ToolError) as err:
        call(
            url,
            "propose_purchase_receipt",
            actor=WAREHOUSE,
            purchase_order="PO-7",
            lines=[{"item": "BOLT", "qty": 601}],
        )
    assert err.value.code == "invalid_input"
    assert err.value.message == (
        "PO-7 line 2 (BOLT): ordered 1000, received 400; receiving 601 more would make "
        "1001, over the 1000 allowed (receipt tolerance 0%)"
    )
    assert err.value.details["allowed"] == "600"
    assert row_counts(url) == before
    # with a 10% tolerance 1000 x 1.1 = 1100 may come: 400 + 700 is fine, 400 + 701 is not
    ten = Settings(receipt_tolerance=0.1)
    with pytest.raises(ToolError):
        call(
            url,
            "propose_purchase_receipt",
            actor=WAREHOUSE,
            settings=ten,
            purchase_order="PO-7",
            lines=[{"item": "BOLT", "qty": 701}],
        )
    out = call(
        url,
        "propose_purchase_receipt",
        actor=WAREHOUSE,
        settings=ten,
        purchase_order="PO-7",
        lines=[{"item": "BOLT", "qty": 700}],
    )
    confirm_as(url, out["proposal_id"], WAREHOUSE)  # applied under the tolerance it was proposed with
    assert po_state(url) == ("partial", [Decimal(0), Decimal(1100)])  # LEG still open


def test_receipts_on_closed_or_cancelled_orders_and_bad_lines_change_nothing(url: str) -> None:
    before = row_counts(url)
    cases = [
        (
            {"purchase_order": "PO-8", "lines": [{"item": "BOLT", "qty": 1}]},
            "conflict",
            "purchase order PO-8 is closed: nothing can be received on it (it is closed)",
        ),
        (
            {"purchase_order": "PO-9", "lines": [{"item": "BOLT", "qty": 1}]},
            "conflict",
            "purchase order PO-9 is cancelled",
        ),
        ({"purchase_order": "PO-404", "lines": [{"item": "BOLT", "qty": 1}]}, "not_found", "PO-404"),
        (
            {"purchase_order": "PO-7", "lines": [{"item": "TOP", "qty": 1}]},
            "invalid_input",
            "PO-7 has no line of TOP",
        ),
        (
            {"purchase_order": "PO-7", "lines": [{"line_no": 3, "qty": 1}]},
            "invalid_input",
            "PO-7 has no line 3",
        ),
        (
            {"purchase_order": "PO-7", "lines": [{"line_no": 1, "item": "BOLT", "qty": 1}]},
            "invalid_input",
            "line 1 is LEG, not BOLT",
        ),
        ({"purchase_order": "PO-7", "lines": [{"qty": 1}]}, "invalid_input", "give line_no or item"),
        ({"purchase_order": "PO-7", "lines": [{"item": "LEG", "qty": 0}]}, "invalid_input", "greater than 0"),
        ({"purchase_order": "PO-7", "lines": []}, "invalid_input", "at least 1 item"),
    ]
    for args, code, message in cases:
        with pytest.raises(ToolError) as err:
            call(url, "propose_purchase_receipt", actor=WAREHOUSE, **args)
        assert err.value.code == code and message in err.value.message, (args, err.value.message)
    assert row_counts(url) == before


def test_a_receipt_may_ask_for_inspection_and_quantities_fill_open_lines_by_due_date(url: str) -> None:
    result = receive(url, lines=[{"item": "BOLT", "qty": 250}], inspect=True)
    assert [(ln["to_location"], ln["inspection"]) for ln in result["lines"]] == [("QC", "IQ-00001")]
    assert stock(url, "BOLT") == (Decimal(0), Decimal(250))
    # a reject of a whole lot: everything goes back, nothing into stock
    out = call(
        url,
        "propose_inspection_result",
        actor=QUALITY,
        inspection="IQ-00001",
        accepted_qty=0,
        rejected_qty=250,
        sampled_qty=20,
        defect_reason="wrong thread",
    )
    confirm_as(url, out["proposal_id"], QUALITY)
    assert stock(url, "BOLT") == (Decimal(0), Decimal(0))
    assert valuation(url, "BOLT") == (Decimal(0), Decimal(0), Decimal("0.4"))
    # the PO counts what was delivered; the rejected goods are reported, not re-opened
    assert po_state(url) == ("partial", [Decimal(0), Decimal(250)])
    line = call(url, "get_purchase_order", actor=WAREHOUSE, order="PO-7")["lines"][1]
    assert (line["accepted_qty"], line["rejected_qty"], line["receivable_qty"]) == (0, 250, 750)


def test_inspection_results_must_decide_the_lot_once_with_a_reason(url: str) -> None:
    receive(url, lines=[{"item": "LEG", "qty": 40}])
    before = row_counts(url)
    cases = [
        (
            {"accepted_qty": 30, "rejected_qty": 5, "defect_reason": "dents"},
            "invalid_input",
            "IQ-00001 holds 40 pcs of LEG: accepted 30 + rejected 5 = 35; decide the whole lot",
        ),
        (
            {"accepted_qty": 35, "rejected_qty": 5},
            "invalid_input",
            "give the defect reason for the 5 rejected",
        ),
        ({"accepted_qty": 40, "sampled_qty": 41}, "invalid_input", "sampled 41 is more than the lot of 40"),
        ({"accepted_qty": -1, "rejected_qty": 41, "defect_reason": "x"}, "invalid_input", "accepted_qty"),
    ]
    for args, code, message in cases:
        with pytest.raises(ToolError) as err:
            call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-00001", **args)
        assert err.value.code == code and message in err.value.message, (args, err.value.message)
    with pytest.raises(ToolError) as err:
        call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-404", accepted_qty=1)
    assert err.value.code == "not_found"
    assert row_counts(url) == before

    first = call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-00001", accepted_qty=40)
    confirm_as(url, first["proposal_id"], QUALITY)
    with pytest.raises(ToolError) as err:
        call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-00001", accepted_qty=40)
    assert err.value.code == "conflict"
    assert (
        err.value.message
        == "inspection order IQ-00001 is done on 2026-12-01 by qin: its result cannot be recorded again"
    )


def test_a_production_lot_in_qc_is_inspected_the_same_way_and_its_rejects_scrapped(url: str) -> None:
    """The loop other receipts use: a production receipt into QC opens an inspection order naming its order."""
    with open_context(url) as ctx:
        top = ctx.session.exec(select(Item).where(Item.code == "TOP")).one()
        post_move(
            ctx.session,
            item_id=top.id or 0,
            qty=Decimal(20),
            from_code="PRODUCTION",
            to_code="QC",
            move_type="production_receipt",
            move_date=date(2026, 12, 1),
            doc_type="production_order",
            doc_ref="MO-5",
            unit_cost=Decimal(40),
        )
        iq = open_inspection(
            ctx.session,
            WAREHOUSE,
            source_type="production_order",
            source_ref="MO-5",
            item_id=top.id or 0,
            qty=Decimal(20),
            unit_cost=Decimal(40),
            location_id=location_by_code(ctx.session, "QC").id or 0,
        )
        assert iq.code == "IQ-00001"
    out = call(
        url,
        "propose_inspection_result",
        actor=QUALITY,
        inspection="IQ-00001",
        accepted_qty=18,
        rejected_qty=2,
        defect_reason="edge chipped",
    )
    assert out["summary_en"].endswith("18 accepted into stock, 2 rejected and scrapped (edge chipped).")
    confirm_as(url, out["proposal_id"], QUALITY)
    assert moves(url, "IQ-00001") == [
        ("transfer", "TOP", Decimal(18), "QC", "STOCK", Decimal(40), ""),
        ("scrap", "TOP", Decimal(2), "QC", "PRODUCTION", Decimal(40), "edge chipped"),
    ]
    assert stock(url, "TOP") == (Decimal(18), Decimal(0))


# ---------------------------------------------------------------- concurrency


def test_two_concurrent_receipts_never_both_apply(url: str) -> None:
    # each alone is fine (60 of 100); together they would over-receive
    a = call(
        url,
        "propose_purchase_receipt",
        actor=WAREHOUSE,
        purchase_order="PO-7",
        lines=[{"item": "LEG", "qty": 60}],
    )
    b = call(
        url,
        "propose_purchase_receipt",
        actor=WAREHOUSE,
        purchase_order="PO-7",
        lines=[{"item": "LEG", "qty": 60}],
    )
    results = race(url, [a["proposal_id"], b["proposal_id"]], WAREHOUSE)
    applied = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ToolError)]
    assert len(applied) == 1 and len(refused) == 1, results
    assert refused[0].code == "conflict"
    assert po_state(url) == ("partial", [Decimal(60), Decimal(0)])
    assert stock(url, "LEG") == (Decimal(95), Decimal(60))
    assert len(moves(url, "PO-7")) == 1
    # the same proposal confirmed twice at once applies once
    c = call(
        url,
        "propose_purchase_receipt",
        actor=WAREHOUSE,
        purchase_order="PO-7",
        lines=[{"item": "LEG", "qty": 40}],
    )
    twice = race(url, [c["proposal_id"], c["proposal_id"]], WAREHOUSE)
    assert all(isinstance(r, dict) for r in twice), twice
    assert po_state(url) == ("partial", [Decimal(100), Decimal(0)])
    assert stock(url, "LEG") == (Decimal(95), Decimal(100))


def test_two_concurrent_inspection_results_for_one_lot_never_both_apply(url: str) -> None:
    receive(url, lines=[{"item": "LEG", "qty": 50}])
    accept = call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-00001", accepted_qty=50)
    reject = call(
        url,
        "propose_inspection_result",
        actor=QUALITY,
        inspection="IQ-00001",
        accepted_qty=0,
        rejected_qty=50,
        defect_reason="rust",
    )
    results = race(url, [accept["proposal_id"], reject["proposal_id"]], QUALITY)
    applied = [r for r in results if isinstance(r, dict)]
    assert len(applied) == 1, results
    # QC is emptied exactly once: either 50 more in stock or 50 back at the vendor, never both or twice
    available, in_qc = stock(url, "LEG")
    assert in_qc == 0 and available in (Decimal(95), Decimal(145))
    assert len(moves(url, "IQ-00001")) == 1


def test_stock_in_qc_without_an_inspection_order_can_be_given_one(url: str) -> None:
    with open_context(url) as ctx:
        bolt = ctx.session.exec(select(Item).where(Item.code == "BOLT")).one()
        post_move(
            ctx.session,
            item_id=bolt.id or 0,
            qty=Decimal(30),
            from_code="ADJUSTMENT",
            to_code="QC",
            move_type="adjustment",
            move_date=date(2026, 12, 1),
            doc_type="opening",
            unit_cost=Decimal("0.5"),
        )
    receive(url, lines=[{"item": "LEG", "qty": 100}])  # its own inspection order covers the LEG lot
    view = call(url, "get_inspection_orders", actor=WAREHOUSE)
    assert [(o["code"], o["item"]) for o in view["orders"]] == [("IQ-00001", "LEG")]
    assert [(u["location"], u["item"], u["qty"]) for u in view["uncovered"]] == [("QC", "BOLT", 30)]
    with pytest.raises(ToolError) as err:
        call(url, "propose_inspection_order", actor=QUALITY, item="BOLT", qty=31)
    assert err.value.code == "invalid_input" and "30 BOLT at QC are on no pending inspection order" in (
        err.value.message
    )
    out = call(url, "propose_inspection_order", actor=QUALITY, item="BOLT", source_ref="opening")
    assert out["summary_en"] == "Open an inspection order for BOLT 30 pcs in QC (from opening)."
    assert confirm_as(url, out["proposal_id"], QUALITY)["result"]["code"] == "IQ-00002"
    assert call(url, "get_inspection_orders", actor=WAREHOUSE)["uncovered"] == []
    out = call(url, "propose_inspection_result", actor=QUALITY, inspection="IQ-00002", accepted_qty=30)
    confirm_as(url, out["proposal_id"], QUALITY)
    assert stock(url, "BOLT") == (Decimal(30), Decimal(0))
