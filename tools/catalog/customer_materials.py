"""Customer-supplied material tools (客供材料): receipt, return and consumption of material a customer owns.

Every move carries the owning customer (``owner_customer_id``) and no value, so the material stays out of
our own on-hand, valuation and planning; it may only be consumed by that customer's orders. Receipt:
CUSTOMER → STOCK (``receipt``, doc_type ``customer_material``, doc_ref the receipt notice RN-…); return:
STOCK → CUSTOMER (``return``, doc_ref CMR-…); consumption: STOCK → PRODUCTION (``issue``, doc_type
``production_order``, doc_ref the order code).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from data_model.settings import get_settings
from data_model.states import StateError, transition
from data_model.stock import StockError, customer_owned_on_hand, fmt_qty, location_by_code, post_move
from data_model.tables import (
    Customer,
    Item,
    Location,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    SalesOrder,
    SalesOrderLine,
    StockMove,
)
from data_model.tables.inventory import INTERNAL_KINDS
from tools.catalog.purchase_orders import add_receipt_line, find_items, new_receipt_notice, state_conflict
from tools.catalog.quality import dec, q6
from tools.catalog.subcontracting import MaterialLineIn, change_issued
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num, to_number

CUSTOMER_RECEIPT = "customer_material_receipt"
CUSTOMER_RETURN = "customer_material_return"
CUSTOMER_CONSUMPTION = "customer_material_consumption"
DOC = "customer_material"
RETURN_PREFIX = "CMR-"
CONSUMABLE = ("released", "in_progress")
ZERO = Decimal(0)


def find_customer(session: Session, code: str, field_name: str = "customer") -> Customer:
    row = session.exec(select(Customer).where(Customer.code == code)).first()
    if row is None:
        raise ToolError(
            "not_found",
            f"customer {code!r} not found",
            {"kind": "customer", "key": code, "field": field_name},
        )
    return row


class PlannedCustomerLine(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num


def _plan_lines(session: Session, lines: Sequence[MaterialLineIn]) -> list[PlannedCustomerLine]:
    """The lines with items checked, quantities of one item added up, in the order first given."""
    items = find_items(session, [ln.item for ln in lines], "lines")
    total: dict[str, Decimal] = defaultdict(Decimal)
    for index, ln in enumerate(lines):
        if not items[ln.item].active:
            raise ToolError("invalid_input", f"{ln.item} is inactive", {"field": f"lines.{index}.item"})
        total[ln.item] += ln.qty
    return [
        PlannedCustomerLine(item=code, item_name=items[code].name, uom=items[code].uom, qty=qty)
        for code, qty in total.items()
    ]


def _check_owned(session: Session, customer: Customer, lines: Sequence[PlannedCustomerLine]) -> None:
    items = find_items(session, [ln.item for ln in lines])
    owned = customer_owned_on_hand(session, customer.id or 0)
    for ln in lines:
        have = owned.get(items[ln.item].id or 0, ZERO)
        if have < ln.qty:
            raise ToolError(
                "infeasible",
                f"{customer.code} has only {fmt_qty(have)} {ln.item} of its own in stock, {fmt_qty(ln.qty)} "
                "requested (our own stock cannot stand in for it)",
                {
                    "record": customer.code,
                    "item": ln.item,
                    "owned": fmt_qty(have),
                    "requested": fmt_qty(ln.qty),
                },
            )


def _text(lines: Sequence[PlannedCustomerLine], sep: str) -> str:
    return sep.join(f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}" for ln in lines)


def _post(
    session: Session,
    customer: Customer,
    item: Item,
    qty: Decimal,
    src: str,
    dst: str,
    move_type: str,
    on: date,
    doc_type: str,
    ref: str,
    actor: Actor,
    reason: str = "",
) -> int:
    try:
        move = post_move(
            session,
            item_id=item.id or 0,
            qty=qty,
            from_code=src,
            to_code=dst,
            move_type=move_type,
            move_date=on,
            doc_type=doc_type,
            doc_ref=ref,
            actor=actor.username,
            reason=reason[:300],
            owner_customer_id=customer.id,
        )
    except StockError as exc:
        raise ToolError(
            "infeasible", exc.message, {"record": ref, "customer": customer.code, **exc.details}
        ) from None
    return move.id or 0


# ---------------------------------------------------------------- receipt


class ProposeCustomerMaterialReceiptIn(BaseModel):
    customer: str = Field(min_length=1, max_length=64, description="customer code (the owner)")
    lines: list[MaterialLineIn] = Field(min_length=1, max_length=200)
    reference: str = Field(default="", max_length=64, description="what it is for, e.g. the sales order code")
    receipt_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300)


class ProposeCustomerMaterialOut(ProposalOut):
    customer: str
    lines: list[PlannedCustomerLine]


@tool(kind="propose")
def propose_customer_material_receipt(
    ctx: ToolContext, args: ProposeCustomerMaterialReceiptIn
) -> ProposeCustomerMaterialOut:
    """Propose receiving material a customer supplies (客供料入库) into stock, owned by that customer.

    It is kept apart from our own stock: no value, not in our on-hand or planning, usable only for that
    customer's orders. Nothing changes until the warehouse (or a manager) confirms.
    """
    session = ctx.session
    customer = find_customer(session, args.customer)
    lines = _plan_lines(session, args.lines)
    on = args.receipt_date or ctx.today
    ref_zh = f"({args.reference})" if args.reference else ""
    ref_en = f" ({args.reference})" if args.reference else ""
    base = create_proposal(
        ctx,
        kind=CUSTOMER_RECEIPT,
        tool="propose_customer_material_receipt",
        args=args,
        summary_zh=f"客供料入库:{customer.code}{ref_zh} {_text(lines, '、')} 入 STOCK,归客户所有,不计成本。",
        summary_en=f"Receive material supplied by {customer.code}{ref_en}: {_text(lines, ', ')} into STOCK, owned "
        "by the customer, at no cost.",
        effect={
            "customer": customer.code,
            "date": on.isoformat(),
            "reference": args.reference,
            "note": args.note,
            "lines": [ln.model_dump(mode="json") for ln in lines],
        },
    )
    return ProposeCustomerMaterialOut(**base.model_dump(), customer=customer.code, lines=lines)


@applier(CUSTOMER_RECEIPT, roles=("warehouse",), domains=("stock",))
def apply_customer_material_receipt(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post CUSTOMER → STOCK moves owned by the customer and record the receipt notice."""
    eff = proposal.effect
    customer = find_customer(session, str(eff["customer"]))
    on = date.fromisoformat(eff["date"])
    lines = [PlannedCustomerLine.model_validate(r) for r in eff["lines"]]
    items = find_items(session, [ln.item for ln in lines])
    notice = new_receipt_notice(
        session,
        actor,
        source_type=DOC,
        source_ref=str(eff["reference"]) or customer.code,
        receipt_date=on,
        inspecting=False,
        customer_id=customer.id,
        note=str(eff.get("note", "")),
        proposal_id=proposal.id,
    )
    stock = location_by_code(session, "STOCK")
    for n, ln in enumerate(lines, start=1):
        move_id = _post(
            session,
            customer,
            items[ln.item],
            ln.qty,
            "CUSTOMER",
            "STOCK",
            "receipt",
            on,
            DOC,
            notice.code,
            actor,
        )
        add_receipt_line(
            session,
            notice,
            n,
            items[ln.item].id or 0,
            ln.qty,
            ZERO,
            stock,
            move_id,
            owner_customer_id=customer.id,
        )
    record = {
        "code": notice.code,
        "customer": customer.code,
        "date": on.isoformat(),
        "reference": eff["reference"],
        "lines": [{"item": ln.item, "qty": to_number(ln.qty)} for ln in lines],
    }
    audit(
        session,
        actor,
        "receive",
        entity="customer_material",
        entity_ref=notice.code,
        proposal_id=proposal.id,
        after=record,
    )
    return record


# ---------------------------------------------------------------- return


class ProposeCustomerMaterialReturnIn(BaseModel):
    customer: str = Field(min_length=1, max_length=64, description="customer code (the owner)")
    lines: list[MaterialLineIn] = Field(min_length=1, max_length=200)
    return_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300, description="why it goes back")


@tool(kind="propose")
def propose_customer_material_return(
    ctx: ToolContext, args: ProposeCustomerMaterialReturnIn
) -> ProposeCustomerMaterialOut:
    """Propose returning customer-supplied material to its owner (客供料退回) from stock.

    Only what that customer still owns in stock can go back. Nothing changes until the warehouse (or a
    manager) confirms.
    """
    session = ctx.session
    customer = find_customer(session, args.customer)
    lines = _plan_lines(session, args.lines)
    _check_owned(session, customer, lines)
    on = args.return_date or ctx.today
    base = create_proposal(
        ctx,
        kind=CUSTOMER_RETURN,
        tool="propose_customer_material_return",
        args=args,
        summary_zh=f"客供料退回 {customer.code}:{_text(lines, '、')} 从 STOCK 退回客户。",
        summary_en=f"Return material supplied by {customer.code}: {_text(lines, ', ')} from STOCK to the customer.",
        effect={
            "customer": customer.code,
            "date": on.isoformat(),
            "note": args.note,
            "lines": [ln.model_dump(mode="json") for ln in lines],
        },
    )
    return ProposeCustomerMaterialOut(**base.model_dump(), customer=customer.code, lines=lines)


@applier(CUSTOMER_RETURN, roles=("warehouse",), domains=("stock",))
def apply_customer_material_return(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post STOCK → CUSTOMER moves of the customer's own material under a return code (CMR-…)."""
    eff = proposal.effect
    customer = find_customer(session, str(eff["customer"]))
    on = date.fromisoformat(eff["date"])
    lines = [PlannedCustomerLine.model_validate(r) for r in eff["lines"]]
    _check_owned(session, customer, lines)
    items = find_items(session, [ln.item for ln in lines])
    code = next_codes(session, StockMove.doc_ref, RETURN_PREFIX, 1)[0]
    for ln in lines:
        _post(
            session,
            customer,
            items[ln.item],
            ln.qty,
            "STOCK",
            "CUSTOMER",
            "return",
            on,
            DOC,
            code,
            actor,
            reason=str(eff.get("note", "")),
        )
    record = {
        "code": code,
        "customer": customer.code,
        "date": on.isoformat(),
        "lines": [{"item": ln.item, "qty": to_number(ln.qty)} for ln in lines],
    }
    audit(
        session,
        actor,
        "return",
        entity="customer_material",
        entity_ref=code,
        proposal_id=proposal.id,
        after=record,
    )
    return record


# ---------------------------------------------------------------- consumption by the customer's order


class ProposeCustomerMaterialConsumptionIn(BaseModel):
    customer: str = Field(min_length=1, max_length=64, description="customer code (the owner)")
    production_order: str = Field(min_length=1, max_length=64, description="the order made for that customer")
    lines: list[MaterialLineIn] = Field(min_length=1, max_length=200)
    issue_date: date | None = Field(default=None, description="default: today")


class ProposeCustomerMaterialConsumptionOut(ProposeCustomerMaterialOut):
    production_order: str
    sales_order: str = Field(description="the customer's sales order the production order is made for")


def _order_customer(session: Session, order: ProductionOrder) -> tuple[int | None, str]:
    """The customer id and sales order code an order is made for, following parent orders upward."""
    seen: set[int] = set()
    current: ProductionOrder | None = order
    while current is not None and (current.id or 0) not in seen:
        seen.add(current.id or 0)
        if current.sales_order_line_id is not None:
            row = session.exec(
                select(SalesOrder)
                .join(SalesOrderLine, SalesOrderLine.sales_order_id == SalesOrder.id)  # type: ignore[arg-type]
                .where(SalesOrderLine.id == current.sales_order_line_id)
            ).first()
            if row is not None:
                return row.customer_id, row.code
        current = session.get(ProductionOrder, current.parent_order_id) if current.parent_order_id else None
    return None, ""


def _plan_consumption(
    session: Session, customer: Customer, args: ProposeCustomerMaterialConsumptionIn, tolerance: float
) -> tuple[ProductionOrder, str, list[PlannedCustomerLine]]:
    order = session.exec(
        select(ProductionOrder)
        .where(ProductionOrder.code == args.production_order)
        .execution_options(populate_existing=True)
    ).first()
    if order is None:
        raise ToolError(
            "not_found",
            f"production order {args.production_order!r} not found",
            {"kind": "production_order", "key": args.production_order, "field": "production_order"},
        )
    if order.kind == "subcontract":
        raise ToolError(
            "invalid_input",
            f"{order.code} is a subcontract order: customer-supplied material is "
            "consumed by our own production orders",
            {"record": order.code, "field": "production_order"},
        )
    if order.status not in CONSUMABLE:
        raise ToolError(
            "conflict",
            f"production order {order.code} is {order.status}: no material can be issued to it",
            {"record": order.code, "field": "status", "status": order.status, "allowed": list(CONSUMABLE)},
        )
    owner_id, so_code = _order_customer(session, order)
    if owner_id != customer.id:
        whose = (
            f"made for sales order {so_code} of another customer" if so_code else "not made for a sales order"
        )
        raise ToolError(
            "invalid_input",
            f"{customer.code}'s material may only be used for {customer.code}'s orders; {order.code} is {whose}",
            {
                "record": order.code,
                "field": "production_order",
                "customer": customer.code,
                "sales_order": so_code,
            },
        )
    lines = _plan_lines(session, args.lines)
    items = find_items(session, [ln.item for ln in lines])
    comps = session.exec(
        select(ProductionOrderComponent).where(ProductionOrderComponent.production_order_id == order.id)
    ).all()
    limit = Decimal(1) + Decimal(str(tolerance))
    for index, ln in enumerate(lines):
        mine = [c for c in comps if c.item_id == items[ln.item].id]
        if not mine:
            raise ToolError(
                "invalid_input",
                f"{ln.item} is not a component of {order.code}",
                {"record": order.code, "field": f"lines.{index}.item", "item": ln.item},
            )
        required = sum((c.required_qty for c in mine), ZERO)
        issued = sum((c.issued_qty for c in mine), ZERO)
        if issued + ln.qty > q6(required * limit):
            raise ToolError(
                "invalid_input",
                f"{order.code} needs {fmt_qty(required)} {ln.item} and {fmt_qty(issued)} were issued: at most "
                f"{fmt_qty(max(q6(required * limit) - issued, ZERO))} more, not {fmt_qty(ln.qty)}",
                {
                    "record": order.code,
                    "field": f"lines.{index}.qty",
                    "required": fmt_qty(required),
                    "issued": fmt_qty(issued),
                    "requested": fmt_qty(ln.qty),
                },
            )
    _check_owned(session, customer, lines)
    return order, so_code, lines


@tool(kind="propose")
def propose_customer_material_consumption(
    ctx: ToolContext, args: ProposeCustomerMaterialConsumptionIn
) -> ProposeCustomerMaterialConsumptionOut:
    """Propose issuing customer-supplied material (客供料领用) to a production order made for that customer.

    The order must be made for one of the customer's sales orders (directly or as a sub-assembly of such
    an order) and need the material; it is issued at no cost and counts as issued on the order. Nothing
    changes until the warehouse (or a manager) confirms.
    """
    session = ctx.session
    customer = find_customer(session, args.customer)
    order, so_code, lines = _plan_consumption(session, customer, args, ctx.settings.over_issue_tolerance)
    on = args.issue_date or ctx.today
    base = create_proposal(
        ctx,
        kind=CUSTOMER_CONSUMPTION,
        tool="propose_customer_material_consumption",
        args=args,
        summary_zh=f"客供料领用:{customer.code} 的 {_text(lines, '、')} 发给 {order.code}(销售订单 {so_code}),不计成本。",
        summary_en=f"Issue {customer.code}'s own {_text(lines, ', ')} to {order.code} (for {so_code}), at no cost.",
        effect={
            "customer": customer.code,
            "production_order": order.code,
            "date": on.isoformat(),
            "over_issue_tolerance": ctx.settings.over_issue_tolerance,
            "lines": [ln.model_dump(mode="json") for ln in lines],
        },
    )
    return ProposeCustomerMaterialConsumptionOut(
        **base.model_dump(),
        customer=customer.code,
        lines=lines,
        production_order=order.code,
        sales_order=so_code,
    )


@applier(CUSTOMER_CONSUMPTION, roles=("warehouse",), domains=("stock", "production"))
def apply_customer_material_consumption(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post STOCK → PRODUCTION moves of the customer's material and raise the order's issued quantities."""
    eff = proposal.effect
    customer = find_customer(session, str(eff["customer"]))
    args = ProposeCustomerMaterialConsumptionIn(
        customer=customer.code,
        production_order=str(eff["production_order"]),
        lines=[MaterialLineIn(item=r["item"], qty=dec(r["qty"])) for r in eff["lines"]],
    )
    order, so_code, lines = _plan_consumption(
        session, customer, args, float(eff.get("over_issue_tolerance", get_settings().over_issue_tolerance))
    )
    on = date.fromisoformat(eff["date"])
    items = find_items(session, [ln.item for ln in lines])
    for ln in lines:
        _post(
            session,
            customer,
            items[ln.item],
            ln.qty,
            "STOCK",
            "PRODUCTION",
            "issue",
            on,
            "production_order",
            order.code,
            actor,
        )
        change_issued(session, order, items[ln.item].id or 0, ln.qty)
    before = order.status
    if order.status == "released":
        try:
            transition("production_order", order, "in_progress", order.code)
        except StateError as exc:
            raise state_conflict(exc) from None
        session.add(order)
    session.flush()
    record = {
        "customer": customer.code,
        "production_order": order.code,
        "sales_order": so_code,
        "date": on.isoformat(),
        "lines": [{"item": ln.item, "qty": to_number(ln.qty)} for ln in lines],
        "status": order.status,
    }
    audit(
        session,
        actor,
        "issue",
        entity="customer_material",
        entity_ref=order.code,
        proposal_id=proposal.id,
        before={"status": before},
        after=record,
    )
    return record


# ---------------------------------------------------------------- reading


class GetCustomerMaterialsIn(BaseModel):
    customer: str | None = Field(
        default=None, max_length=64, description="customer code; default: all customers"
    )


class CustomerMaterialLine(BaseModel):
    item: str
    item_name: str
    uom: str
    on_hand: Num = Field(description="still held for the customer (stock, QC and elsewhere)")
    received: Num
    returned: Num
    consumed: Num = Field(description="issued to the customer's production orders")


class CustomerMaterialsOut(BaseModel):
    customer: str
    customer_name: str
    items: list[CustomerMaterialLine]


class GetCustomerMaterialsOut(BaseModel):
    customers: list[CustomerMaterialsOut]


@tool(kind="read")
def get_customer_materials(ctx: ToolContext, args: GetCustomerMaterialsIn) -> GetCustomerMaterialsOut:
    """Customer-supplied material (客供料) per customer: what each holds with us, received, returned, consumed.

    This material is not ours: it is not in our on-hand, stock value or planning and may only be used
    for the owner's orders."""
    session = ctx.session
    virtual = {
        loc.id: loc.kind
        for loc in session.exec(select(Location).where(Location.kind.not_in(INTERNAL_KINDS))).all()
    }  # type: ignore[attr-defined]
    stmt = (
        select(
            StockMove.owner_customer_id,
            StockMove.item_id,
            StockMove.from_location_id,
            StockMove.to_location_id,
            sa.func.sum(StockMove.qty),
        )
        .where(StockMove.owner_customer_id.is_not(None))  # type: ignore[union-attr]
        .group_by(
            StockMove.owner_customer_id,
            StockMove.item_id,
            StockMove.from_location_id,
            StockMove.to_location_id,
        )
    )
    if args.customer:
        stmt = stmt.where(StockMove.owner_customer_id == find_customer(session, args.customer).id)
    totals: dict[tuple[int, int], dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for owner, item_id, src, dst, qty in session.exec(stmt).all():
        q = Decimal(str(qty or 0))
        bucket = totals[(owner, item_id)]
        if virtual.get(src) == "customer":
            bucket["received"] += q
        if virtual.get(dst) == "customer":
            bucket["returned"] += q
        if virtual.get(dst) == "production":
            bucket["consumed"] += q
        if virtual.get(src) == "production":
            bucket["consumed"] -= q
        bucket["on_hand"] += (q if src in virtual else ZERO) - (q if dst in virtual else ZERO)
    owners = sorted({o for o, _ in totals})
    customers = {c.id: c for c in session.exec(select(Customer).where(col(Customer.id).in_(owners))).all()}
    items = {
        i.id: i for i in session.exec(select(Item).where(col(Item.id).in_({i for _, i in totals}))).all()
    }
    grouped: dict[int, list[CustomerMaterialLine]] = defaultdict(list)
    for (owner, item_id), b in totals.items():
        item = items[item_id]
        grouped[owner].append(
            CustomerMaterialLine(
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                on_hand=b["on_hand"],
                received=b["received"],
                returned=b["returned"],
                consumed=b["consumed"],
            )
        )
    out = [
        CustomerMaterialsOut(
            customer=customers[o].code,
            customer_name=customers[o].name,
            items=sorted(lines, key=lambda ln: ln.item),
        )
        for o, lines in grouped.items()
    ]
    return GetCustomerMaterialsOut(customers=sorted(out, key=lambda c: c.customer))
