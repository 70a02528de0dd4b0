"""Shared set-up of the production execution tests: the bike factory with production orders, and probes."""

from __future__ import annotations

import copy
from decimal import Decimal
from functools import cache
from typing import Any

import yaml
from sqlmodel import select

from data_model.stock import on_hand
from data_model.tables import (
    AuditLog,
    Item,
    MaterialIssue,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    StockMove,
)
from tests.helpers import BIKE_YAML
from tools.context import Actor, open_context

WAREHOUSE = Actor("wen", "warehouse")
PLANNER = Actor("pat", "planner")
QUALITY = Actor("qin", "quality")


@cache
def _bike_production_text() -> str:
    """The acceptance bike factory plus what production execution needs (bike_factory.yaml untouched).

    Added: issue methods (SEAT backflushed on BIKE, TIRE on WHEEL), a phantom bell kit KIT-BK on the bike,
    opening costs for the finished stock, and production orders:
      MO-B0 2 BIKE completed (for rework), MO-B1 5 BIKE planned, MO-W1 6 WHEEL planned feeding MO-B1,
      MO-B2 2 BIKE released due 12-10, MO-B3 3 BIKE released due 12-09.
    """
    data = yaml.safe_load(BIKE_YAML.read_text(encoding="utf-8"))
    data["items"] += [
        {"code": "KIT-BK", "name": "车铃五金包", "uom": "set", "source": "make", "phantom": True},
        {"code": "BELL", "name": "车铃", "uom": "pcs", "source": "buy", "unit_cost": 3},
        {"code": "BOLT", "name": "螺栓", "uom": "pcs", "source": "buy", "unit_cost": 0.1},
    ]
    boms = {b["parent"]: b for b in data["boms"]}
    for line in boms["BIKE"]["lines"]:
        if line["component"] == "SEAT":
            line["issue_method"] = "backflush"
    boms["BIKE"]["lines"].append({"component": "KIT-BK", "qty": 1, "issue_method": "kit"})
    for line in boms["WHEEL"]["lines"]:
        if line["component"] == "TIRE":
            line["issue_method"] = "backflush"
    data["boms"].append(
        {"parent": "KIT-BK", "lines": [{"component": "BELL", "qty": 1}, {"component": "BOLT", "qty": 4}]}
    )
    for row in data["stock"]:
        if row["item"] == "WHEEL":
            row["unit_cost"] = 20
        if row["item"] == "BIKE":
            row["unit_cost"] = 100
    data["stock"] += [{"item": "BELL", "qty": 10}, {"item": "BOLT", "qty": 100}]
    data["production_orders"] = [
        {
            "id": "MO-B0",
            "item": "BIKE",
            "qty": 2,
            "due": "2026-11-20",
            "status": "completed",
            "completed_qty": 2,
        },
        {"id": "MO-B1", "item": "BIKE", "qty": 5, "due": "2026-12-08", "status": "planned"},
        {
            "id": "MO-W1",
            "item": "WHEEL",
            "qty": 6,
            "due": "2026-12-04",
            "status": "planned",
            "parent_order": "MO-B1",
        },
        {"id": "MO-B2", "item": "BIKE", "qty": 2, "due": "2026-12-10", "status": "released"},
        {"id": "MO-B3", "item": "BIKE", "qty": 3, "due": "2026-12-09", "status": "released"},
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def bike_production_data() -> dict[str, Any]:
    return copy.deepcopy(yaml.safe_load(_bike_production_text()))


def load_bike_production(url: str, **changes: Any) -> None:
    from tools.dataset_io import load_dataset

    data = bike_production_data()
    data.update(changes)
    with open_context(url) as ctx:
        load_dataset(ctx.session, data, reset=True, source="bike-production")


def stock(url: str, *codes: str, kinds: tuple[str, ...] = ("stock",)) -> dict[str, Decimal]:
    with open_context(url) as ctx:
        ids = {i.id: i.code for i in ctx.session.exec(select(Item).where(Item.code.in_(codes))).all()}
        have = on_hand(ctx.session, list(ids), kinds=kinds)
        return {ids[i]: have.get(i, Decimal(0)) for i in sorted(ids, key=lambda i: ids[i])}


def order_state(url: str, code: str) -> tuple[str, Decimal, dict[str, tuple[Decimal, Decimal]]]:
    """(status, completed qty, {component: (issued, required)}) of an order, from the tables."""
    with open_context(url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == code)).one()
        rows = ctx.session.exec(
            select(ProductionOrderComponent, Item.code)
            .join(Item, Item.id == ProductionOrderComponent.item_id)
            .where(ProductionOrderComponent.production_order_id == order.id)
        ).all()
        return (
            order.status,
            Decimal(order.completed_qty),
            {c: (Decimal(r.issued_qty).normalize(), Decimal(r.required_qty).normalize()) for r, c in rows},
        )


def moves(url: str, doc_ref: str) -> list[tuple[str, str, Decimal, str, str, Decimal, str]]:
    """(move_type, item, qty, from, to, unit_cost, reason) of the moves of a document, in order."""
    from data_model.tables import Location

    with open_context(url) as ctx:
        locs = {loc.id: loc.code for loc in ctx.session.exec(select(Location)).all()}
        items = {i.id: i.code for i in ctx.session.exec(select(Item)).all()}
        rows = ctx.session.exec(
            select(StockMove).where(StockMove.doc_ref == doc_ref).order_by(StockMove.id)
        ).all()
        for m in rows:
            assert m.doc_type == "production_order"
        return [
            (
                m.move_type,
                items[m.item_id],
                Decimal(m.qty).normalize(),
                locs[m.from_location_id],
                locs[m.to_location_id],
                Decimal(m.unit_cost).normalize(),
                m.reason,
            )
            for m in rows
        ]


def counts(url: str) -> dict[str, int]:
    """Row counts that any write would change (the 'nothing written' probe)."""
    with open_context(url) as ctx:
        s = ctx.session
        comps = s.exec(select(ProductionOrderComponent)).all()
        return {
            "moves": len(s.exec(select(StockMove.id)).all()),
            "proposals": len(s.exec(select(Proposal.id)).all()),
            "issues": len(s.exec(select(MaterialIssue.id)).all()),
            "audit": len(s.exec(select(AuditLog.id)).all()),
            "issued_total": int(sum(Decimal(c.issued_qty) for c in comps) * 1000000),
            "required_total": int(sum(Decimal(c.required_qty) for c in comps) * 1000000),
            "completed_total": int(
                sum(Decimal(o.completed_qty) for o in s.exec(select(ProductionOrder)).all()) * 1000000
            ),
        }


def audit_entities(url: str, proposal_id: str) -> list[tuple[str, str]]:
    with open_context(url) as ctx:
        rows = ctx.session.exec(
            select(AuditLog).where(AuditLog.proposal_id == proposal_id).order_by(AuditLog.id)
        )
        return [(r.action, r.entity) for r in rows]
