"""Actors and probes of the production execution tests (their bike factory is in tests/helpers.py)."""

from __future__ import annotations

from decimal import Decimal

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
from tools.context import Actor, open_context

WAREHOUSE = Actor("wen", "warehouse")
PLANNER = Actor("pat", "planner")
QUALITY = Actor("qin", "quality")


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
