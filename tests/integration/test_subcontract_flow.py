"""Subcontracting end to end: orders with their materials, shipment, receipt at material + fee, scrap, return."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import yaml
from sqlmodel import func, select

from data_model.stock import on_hand
from data_model.tables import (
    AuditLog,
    InspectionOrder,
    Item,
    Location,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    ReceiptNotice,
    StockMove,
    SubcontractTerms,
)
from tests.helpers import call, confirm_as, do, moves, valuation
from tools.context import Actor, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError
from tools.snapshot import load_plant_from_session

PLANNER = Actor("pia", "planner")
WAREHOUSE = Actor("wes", "warehouse")
QUALITY = Actor("qin", "quality")

# 2026-12-01 is a Tuesday. TUBE opening stock: 150 x 12 + 50 x 14 in STOCK and 20 x 12.5 already at the
# old coater COAT2 for SC-OLD: (1800 + 700 + 250) / 220 = 12.5 a tube.
SUBCONTRACT_YAML = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: FRAME-C, name: 喷涂车架, source: subcontract, lead_time_days: 3, unit_cost: 6}
  - {code: TUBE, name: 钢管, source: buy, unit_cost: 12}
  - {code: CAP, name: 管帽, source: buy, unit_cost: 0.2}
  - {code: BIKE, name: 自行车, source: make}
suppliers:
  - {code: COAT, name: 喷涂厂, subcontractor: true}
  - {code: COAT2, name: 老喷涂厂, subcontractor: true}
price_lists:
  - {supplier: COAT, item: FRAME-C, kind: subcontract, price: 5, preferred: true,
     valid_from: 2026-01-01, valid_to: 2026-12-31}
  - {supplier: COAT, item: FRAME-C, kind: subcontract, price: 4.5, min_qty: 100,
     valid_from: 2026-01-01, valid_to: 2026-12-31}
  - {supplier: COAT, item: FRAME-C, kind: subcontract, price: 3, min_qty: 100, valid_from: 2027-01-01}
boms:
  - parent: FRAME-C
    lines: [{component: TUBE, qty: 1}]
  - parent: BIKE
    lines: [{component: FRAME-C, qty: 1}]
locations:
  - {code: SUB-COAT2, name: 老喷涂厂外协仓, kind: supplier, supplier: COAT2}
stock:
  - {item: TUBE, qty: 150, unit_cost: 12}
  - {item: TUBE, qty: 50, unit_cost: 14}
  - {item: TUBE, qty: 20, location: SUB-COAT2, unit_cost: 12.5}
production_orders:
  - {id: SC-OLD, kind: subcontract, supplier: COAT2, item: FRAME-C, qty: 30, completed_qty: 10,
     status: in_progress, start: 2026-11-20, due: 2026-11-27, components: [{item: TUBE, required: 30, issued: 30}]}
  - {id: SC-DONE, kind: subcontract, supplier: COAT2, item: FRAME-C, qty: 5, completed_qty: 5, status: closed,
     due: 2026-11-20, components: [{item: TUBE, required: 5, issued: 5}]}
"""


@pytest.fixture
def url(db_url: str) -> str:
    with open_context(db_url) as ctx:
        load_dataset(ctx.session, yaml.safe_load(SUBCONTRACT_YAML), reset=True, source="subcontract")
    return db_url


def new_order(url: str, qty: int = 100) -> str:
    out = do(
        url,
        "propose_subcontract_orders",
        PLANNER,
        proposer=PLANNER,
        lines=[{"item": "FRAME-C", "qty": qty, "due_date": "2026-12-10"}],
    )["result"]
    return str(out["subcontract_orders"][0]["code"])


def held(url: str, code: str, location: str) -> Decimal:
    with open_context(url) as ctx:
        item = ctx.session.exec(select(Item).where(Item.code == code)).one()
        loc = ctx.session.exec(select(Location).where(Location.code == location)).first()
        if loc is None:
            return Decimal(0)
        return on_hand(ctx.session, [item.id or 0], kinds=(loc.kind,), location_ids=[loc.id or 0]).get(
            item.id or 0, Decimal(0)
        )


def row_counts(url: str) -> dict[str, int]:
    with open_context(url) as ctx:
        return {
            t.__name__: ctx.session.exec(select(func.count()).select_from(t)).one()
            for t in (
                StockMove,
                Proposal,
                ProductionOrder,
                ReceiptNotice,
                InspectionOrder,
                Location,
                AuditLog,
            )
        }


def test_send_100_receive_90_with_2_scrapped_return_8_and_close(url: str) -> None:
    out = call(
        url,
        "propose_subcontract_orders",
        actor=PLANNER,
        lines=[{"item": "FRAME-C", "qty": 100, "due_date": "2026-12-10"}],
    )
    (planned,) = out["orders"]
    # 100 reaches COAT's 100 break: 4.5 a frame (next year's 3 is not valid yet); material out 3 working
    # days before Thursday 12-10: Monday 12-07; one tube per frame
    assert (
        planned["supplier"],
        planned["unit_fee"],
        planned["fee_amount"],
        planned["price_source"],
        planned["start_date"],
        planned["location"],
    ) == ("COAT", 4.5, 450, "price_list", "2026-12-07", "SUP-COAT")
    assert [(m["item"], m["qty"], m["on_hand"]) for m in planned["materials"]] == [("TUBE", 100, 200)]
    result = confirm_as(url, out["proposal_id"], PLANNER)["result"]
    (created,) = result["subcontract_orders"]
    assert (created["code"], created["status"]) == ("SC-00001", "released")
    with open_context(url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == "SC-00001")).one()
        assert (order.kind, order.qty, order.start_date, order.due_date) == (
            "subcontract",
            100,
            date(2026, 12, 7),
            date(2026, 12, 10),
        )
        terms = ctx.session.exec(
            select(SubcontractTerms).where(SubcontractTerms.production_order_id == order.id)
        ).one()
        assert terms.unit_fee == Decimal("4.5")
        plant = load_plant_from_session(ctx.session, date(2026, 12, 1))
    # planning sees the order as subcontract supply of FRAME-C and its 100 tubes as demand
    assert ("SC-00001", Decimal(100), "subcontract") in [(s.id, s.qty, s.kind.value) for s in plant.supplies]
    assert ("SC-00001", Decimal(100)) in [(d.id, d.qty) for d in plant.demands if d.item == "TUBE"]

    ship = call(url, "propose_subcontract_shipment", actor=WAREHOUSE, order="SC-00001")
    assert ship["summary_en"] == "Send material for SC-00001: TUBE 100 pcs from STOCK to COAT (SUP-COAT)."
    assert held(url, "TUBE", "STOCK") == 200
    confirm_as(url, ship["proposal_id"], WAREHOUSE)
    # the coater's location is created on the first shipment; the tubes there are still ours
    with open_context(url) as ctx:
        loc = ctx.session.exec(select(Location).where(Location.code == "SUP-COAT")).one()
        assert loc.kind == "supplier"
    assert (held(url, "TUBE", "STOCK"), held(url, "TUBE", "SUP-COAT")) == (100, 100)
    assert valuation(url, "TUBE") == (
        Decimal(220),
        Decimal(2750),
        Decimal("12.5"),
    )  # a transfer values nothing
    stock_view = call(url, "get_subcontractor_stock", actor=WAREHOUSE, supplier="COAT")["locations"]
    assert [(s["location"], [(i["item"], i["qty"], i["value"]) for i in s["items"]]) for s in stock_view] == [
        ("SUP-COAT", [("TUBE", 100, 1250)])
    ]  # 100 x 12.5

    rec = call(
        url,
        "propose_subcontract_receipt",
        actor=WAREHOUSE,
        order="SC-00001",
        qty=90,
        scrap=[{"item": "TUBE", "qty": 2, "reason": "bent in the jig"}],
    )
    # material consumed 90 x 12.5 = 1125, fee 90 x 4.5 = 405: (1125 + 405) / 90 = 17 a frame
    assert (
        rec["material_cost"],
        rec["unit_fee"],
        rec["unit_cost"],
        rec["to_location"],
        rec["status_after"],
    ) == (1125, 4.5, 17, "STOCK", "in_progress")
    result = confirm_as(url, rec["proposal_id"], WAREHOUSE)["result"]
    assert (result["code"], result["unit_cost"], result["received_qty"], result["inspection"]) == (
        "RN-00001",
        17,
        90,
        None,
    )
    assert (held(url, "TUBE", "SUP-COAT"), held(url, "FRAME-C", "STOCK")) == (8, 90)  # 100 - 90 - 2
    assert valuation(url, "FRAME-C") == (Decimal(90), Decimal(1530), Decimal(17))
    # 220 - 92 tubes left our books at 12.5: 128 worth 1600
    assert valuation(url, "TUBE") == (Decimal(128), Decimal(1600), Decimal("12.5"))

    with pytest.raises(ToolError) as err:
        call(
            url,
            "propose_subcontract_material_return",
            actor=WAREHOUSE,
            order="SC-00001",
            lines=[{"item": "TUBE", "qty": 9}],
        )
    assert err.value.code == "infeasible" and "only 8 of SC-00001's TUBE are there" in err.value.message
    back = call(url, "propose_subcontract_material_return", actor=WAREHOUSE, order="SC-00001", close=True)
    assert [(r["item"], r["qty"]) for r in back["returns"]] == [("TUBE", 8)]  # everything still there
    assert back["status_after"] == "closed"
    result = confirm_as(url, back["proposal_id"], WAREHOUSE)["result"]
    assert result["status"] == "closed"
    assert (held(url, "TUBE", "STOCK"), held(url, "TUBE", "SUP-COAT")) == (108, 0)

    assert moves(url, "SC-00001") == [
        ("transfer", "TUBE", Decimal(100), "STOCK", "SUP-COAT", Decimal("12.5"), ""),
        ("issue", "TUBE", Decimal(90), "SUP-COAT", "PRODUCTION", Decimal("12.5"), ""),
        ("scrap", "TUBE", Decimal(2), "SUP-COAT", "PRODUCTION", Decimal("12.5"), "bent in the jig"),
        ("production_receipt", "FRAME-C", Decimal(90), "PRODUCTION", "STOCK", Decimal(17), ""),
        ("return", "TUBE", Decimal(8), "SUP-COAT", "STOCK", Decimal("12.5"), ""),
    ]
    view = call(url, "get_subcontract_order", actor=WAREHOUSE, order="SC-00001")
    assert (
        view["status"],
        view["received_qty"],
        view["open_qty"],
        view["accepted_qty"],
        view["unit_fee"],
        view["location"],
    ) == ("closed", 90, 0, 90, 4.5, "SUP-COAT")
    assert [
        (
            m["item"],
            m["required"],
            m["sent"],
            m["consumed"],
            m["scrapped"],
            m["returned"],
            m["at_supplier"],
            m["to_send"],
        )
        for m in view["materials"]
    ] == [("TUBE", 100, 100, 90, 2, 8, 0, 0)]
    with open_context(url) as ctx:
        comp = ctx.session.exec(
            select(ProductionOrderComponent)
            .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)
            .where(ProductionOrder.code == "SC-00001")
        ).one()
        assert comp.issued_qty == 92  # sent 100, 8 came back
        audit = ctx.session.exec(
            select(AuditLog.action)
            .where(AuditLog.entity == "subcontract_order", AuditLog.entity_ref == "SC-00001")
            .order_by(AuditLog.id)
        ).all()
    assert audit == ["create", "ship", "receive", "return"]
    with pytest.raises(ToolError) as err:
        call(
            url,
            "propose_subcontract_shipment",
            actor=WAREHOUSE,
            order="SC-00001",
            lines=[{"item": "TUBE", "qty": 1}],
        )
    assert (err.value.code, err.value.message) == (
        "conflict",
        "subcontract order SC-00001 is closed: cannot send material (it is closed)",
    )


def test_received_frames_are_inspected_and_rejects_go_back_at_their_cost(url: str) -> None:
    code = new_order(url, 60)
    do(url, "propose_subcontract_shipment", WAREHOUSE, proposer=WAREHOUSE, order=code)
    result = do(
        url, "propose_subcontract_receipt", WAREHOUSE, proposer=WAREHOUSE, order=code, qty=60, inspect=True
    )["result"]
    # 60 is below the 100 break: fee 5; 12.5 + 5 = 17.5 a frame
    assert (result["to_location"], result["unit_cost"], result["inspection"], result["status"]) == (
        "QC",
        17.5,
        "IQ-00001",
        "completed",
    )
    assert (held(url, "FRAME-C", "QC"), held(url, "FRAME-C", "STOCK")) == (60, 0)
    (iq,) = call(url, "get_inspection_orders", actor=WAREHOUSE, source_ref=code)["orders"]
    assert (iq["source_type"], iq["supplier"], iq["qty"]) == ("subcontract_order", "COAT", 60)
    do(
        url,
        "propose_inspection_result",
        QUALITY,
        proposer=QUALITY,
        inspection="IQ-00001",
        sampled_qty=8,
        accepted_qty=58,
        rejected_qty=2,
        defect_reason="paint runs",
    )
    assert (held(url, "FRAME-C", "QC"), held(url, "FRAME-C", "STOCK")) == (0, 58)
    assert moves(url, "IQ-00001")[1] == (
        "return",
        "FRAME-C",
        Decimal(2),
        "QC",
        "VENDOR",
        Decimal("17.5"),
        "paint runs",
    )
    assert valuation(url, "FRAME-C") == (Decimal(58), Decimal(1015), Decimal("17.5"))  # 58 x 17.5
    view = call(url, "get_subcontract_order", actor=WAREHOUSE, order=code)
    assert (
        view["received_qty"],
        view["accepted_qty"],
        view["rejected_qty"],
        view["in_inspection_qty"],
        view["open_qty"],
    ) == (60, 58, 2, 0, 0)


def test_a_loaded_order_tracks_what_is_already_at_its_subcontractor(url: str) -> None:
    view = call(url, "get_subcontract_order", actor=WAREHOUSE, order="SC-OLD")
    # issued 30 before the ledger knew it and 10 frames came back (10 tubes used): 20 are at COAT2
    assert [(m["sent"], m["consumed"], m["at_supplier"], m["to_send"]) for m in view["materials"]] == [
        (30, 10, 20, 0)
    ]
    assert (view["location"], view["open_qty"], view["overdue"], view["days_late"]) == (
        "SUB-COAT2",
        20,
        True,
        4,
    )
    # COAT2 has no price list and the order no agreed fee: the item's unit cost 6 is the fee
    result = do(url, "propose_subcontract_receipt", WAREHOUSE, proposer=WAREHOUSE, order="SC-OLD", qty=20)[
        "result"
    ]
    assert (result["unit_cost"], result["status"]) == (18.5, "completed")  # 12.5 + 6
    assert held(url, "TUBE", "SUB-COAT2") == 0
    view = call(url, "get_subcontract_order", actor=WAREHOUSE, order="SC-OLD")
    assert [(m["consumed"], m["at_supplier"]) for m in view["materials"]] == [(30, 0)]
    assert (view["received_qty"], view["accepted_qty"], view["overdue"]) == (30, 30, False)


def test_bad_subcontract_requests_are_refused_and_change_nothing(url: str) -> None:
    code = new_order(url, 100)
    do(
        url,
        "propose_subcontract_shipment",
        WAREHOUSE,
        proposer=WAREHOUSE,
        order=code,
        lines=[{"item": "TUBE", "qty": 50}],
    )
    before = row_counts(url)
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (
            "propose_subcontract_orders",
            {"lines": [{"item": "TUBE", "qty": 1, "due_date": "2026-12-10"}]},
            "invalid_input",
            "TUBE is a buy item, not a subcontract one",
        ),
        (
            "propose_subcontract_orders",
            {"lines": [{"item": "FRAME-C", "qty": 1, "due_date": "2026-12-10", "supplier": "NOPE"}]},
            "not_found",
            "supplier 'NOPE'",
        ),
        (
            "propose_subcontract_shipment",
            {"order": code, "lines": [{"item": "TUBE", "qty": 51}]},
            "invalid_input",
            "at most 50 more may be sent, not 51",
        ),
        (
            "propose_subcontract_shipment",
            {"order": code, "lines": [{"item": "CAP", "qty": 1}]},
            "invalid_input",
            "CAP is not a material of SC-00001",
        ),
        ("propose_subcontract_shipment", {"order": "SC-DONE"}, "conflict", "SC-DONE is closed"),
        ("propose_subcontract_shipment", {"order": "SC-404"}, "not_found", "SC-404"),
        # 60 frames need 60 tubes but only the 50 sent are there
        (
            "propose_subcontract_receipt",
            {"order": code, "qty": 60},
            "infeasible",
            "takes 60 TUBE at the subcontractor, but only 50 of SC-00001's TUBE are there",
        ),
        (
            "propose_subcontract_receipt",
            {"order": code, "qty": 101},
            "invalid_input",
            "ordered 100, received 0; receiving 101 more would make 101, over the 100 allowed",
        ),
        (
            "propose_subcontract_receipt",
            {"order": code, "qty": 10, "scrap": [{"item": "TUBE", "qty": 1, "reason": ""}]},
            "invalid_input",
            "reason",
        ),
        (
            "propose_subcontract_material_return",
            {"order": code, "close": True, "lines": [{"item": "TUBE", "qty": 40}]},
            "conflict",
            "cannot be closed while material is still at the subcontractor: TUBE 10",
        ),
    ]
    for name, args, code_, message in cases:
        with pytest.raises(ToolError) as err:
            call(url, name, actor=PLANNER if name == "propose_subcontract_orders" else WAREHOUSE, **args)
        assert err.value.code == code_ and message in err.value.message, (name, err.value.message)
    assert row_counts(url) == before


def test_sending_more_than_is_in_stock_is_refused(url: str) -> None:
    code = new_order(url, 100)
    do(
        url,
        "propose_subcontract_shipment",
        WAREHOUSE,
        proposer=WAREHOUSE,
        order=code,
        lines=[{"item": "TUBE", "qty": 100}],
    )
    second = do(
        url,
        "propose_subcontract_orders",
        PLANNER,
        proposer=PLANNER,
        lines=[{"item": "FRAME-C", "qty": 120, "due_date": "2026-12-11"}],
    )["result"]["subcontract_orders"][0]["code"]
    with pytest.raises(ToolError) as err:
        call(url, "propose_subcontract_shipment", actor=WAREHOUSE, order=second)
    assert err.value.code == "infeasible"
    assert err.value.message == "not enough TUBE at STOCK: 100 on hand, 120 requested"
