"""Subcontracting tools (委外加工): orders with the materials we send, shipments, receipts, returns and scrap.

A subcontract order is a production order of kind ``subcontract`` made by a supplier. Its materials are
tracked as our stock at the subcontractor's location (kind ``supplier``; SUP-<supplier code> is created on
the first shipment when the supplier has none). Ledger conventions, all doc_type ``subcontract_order`` with
the order code as doc_ref: shipment STOCK → supplier (``transfer``); on receipt the material is consumed
supplier → PRODUCTION (``issue``) and the goods come in PRODUCTION → QC/STOCK (``production_receipt``) at
the material consumed plus the processing fee per unit; unused material comes back supplier → STOCK
(``return``); material the supplier spoilt goes supplier → PRODUCTION (``scrap``, with a reason).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from data_model.settings import get_settings
from data_model.states import StateError, transition
from data_model.stock import StockError, fmt_qty, location_by_code, on_hand, post_move
from data_model.tables import (
    Bom,
    BomLine,
    InspectionOrder,
    Item,
    ItemValuation,
    Location,
    PriceList,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    ReceiptNotice,
    ReceiptNoticeLine,
    StockMove,
    SubcontractTerms,
    Supplier,
)
from data_model.tables.inventory import INTERNAL_KINDS
from tools.catalog.material_issue import bom_in_force
from tools.catalog.purchase_orders import (
    add_receipt_line,
    find_items,
    find_supplier,
    new_receipt_notice,
    over_receipt,
    state_conflict,
    stock_conflict,
)
from tools.catalog.purchasing import _preferred_supplier, price_row
from tools.catalog.quality import dec, open_inspection, q6
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.snapshot import load_calendar
from tools.types import Num, to_number

SUBCONTRACT_ORDERS = "subcontract_orders"
SUBCONTRACT_SHIPMENT = "subcontract_shipment"
SUBCONTRACT_RECEIPT = "subcontract_receipt"
SUBCONTRACT_RETURN = "subcontract_material_return"
ORDER_PREFIX = "SC-"
DOC = "subcontract_order"
SENDABLE = ("released", "in_progress")
RECEIVABLE = ("released", "in_progress")
RETURNABLE = ("released", "in_progress", "completed")
ZERO = Decimal(0)

PriceSource = Literal["price_list", "item_unit_cost", "given"]

_STATE_HINTS = {
    "planned": "release it first",
    "completed": "everything ordered has been received",
    "closed": "it is closed",
    "cancelled": "it is cancelled",
}


# ---------------------------------------------------------------- orders, locations, materials


def find_subcontract_order(session: Session, code: str, field_name: str = "order") -> ProductionOrder:
    """The subcontract order ``code`` (fresh from the database)."""
    order = session.exec(
        select(ProductionOrder).where(ProductionOrder.code == code).execution_options(populate_existing=True)
    ).first()
    if order is None:
        raise ToolError(
            "not_found",
            f"subcontract order {code!r} not found",
            {"kind": "subcontract_order", "key": code, "field": field_name},
        )
    if order.kind != "subcontract":
        raise ToolError(
            "invalid_input",
            f"{code} is a {order.kind} order, not a subcontract order: use the production tools",
            {"record": code, "field": field_name, "kind": order.kind},
        )
    return order


def require_status(order: ProductionOrder, allowed: Sequence[str], action: str) -> None:
    if order.status not in allowed:
        hint = _STATE_HINTS.get(order.status, f"it is {order.status}")
        raise ToolError(
            "conflict",
            f"subcontract order {order.code} is {order.status}: cannot {action} ({hint})",
            {"record": order.code, "field": "status", "status": order.status, "allowed": list(allowed)},
        )


def order_supplier(session: Session, order: ProductionOrder) -> Supplier:
    supplier = session.get(Supplier, order.supplier_id) if order.supplier_id else None
    if supplier is None:
        raise ToolError(
            "conflict",
            f"subcontract order {order.code} has no supplier",
            {"record": order.code, "field": "supplier"},
        )
    return supplier


def existing_supplier_location(session: Session, supplier: Supplier) -> Location | None:
    return session.exec(
        select(Location)
        .where(Location.kind == "supplier", Location.supplier_id == supplier.id)
        .order_by(Location.id)  # type: ignore[arg-type]
    ).first()


def supplier_location_code(session: Session, supplier: Supplier) -> str:
    """The code of the supplier's location, or of the one its first shipment will create."""
    loc = existing_supplier_location(session, supplier)
    return loc.code if loc is not None else f"SUP-{supplier.code}"


def supplier_location(session: Session, supplier: Supplier) -> Location:
    """The location holding our material at ``supplier``, created (SUP-<code>) when it has none."""
    loc = existing_supplier_location(session, supplier)
    if loc is not None:
        return loc
    code = f"SUP-{supplier.code}"
    if session.exec(select(Location).where(Location.code == code)).first() is not None:
        raise ToolError(
            "conflict",
            f"location {code} exists but is not {supplier.code}'s subcontract location",
            {"record": code, "field": "location", "supplier": supplier.code},
        )
    loc = Location(
        code=code,
        name=f"{supplier.name or supplier.code} 外协仓 (at subcontractor)",
        kind="supplier",
        supplier_id=supplier.id,
    )
    session.add(loc)
    session.flush()
    return loc


def derive_materials(
    session: Session, item: Item, qty: Decimal, on: date
) -> tuple[Bom | None, list[tuple[Item, Decimal]]]:
    """The BOM in force on ``on`` and the materials ``qty`` of ``item`` need (scrap included, phantoms
    exploded through, lines of one component added up)."""
    top = bom_in_force(session, item.id or 0, on)
    need: dict[int, Decimal] = defaultdict(Decimal)
    items: dict[int, Item] = {}

    def walk(bom: Bom, parent_qty: Decimal, depth: int) -> None:
        lines = session.exec(
            select(BomLine).where(BomLine.bom_id == bom.id).order_by(BomLine.seq, BomLine.id)
        ).all()  # type: ignore[arg-type]
        for comp in session.exec(select(Item).where(Item.id.in_([ln.component_id for ln in lines]))).all():  # type: ignore[attr-defined]
            items[comp.id or 0] = comp
        for ln in lines:
            q = parent_qty * ln.qty * (1 + ln.scrap_rate) / bom.output_qty
            comp = items[ln.component_id]
            inner = bom_in_force(session, comp.id or 0, on) if comp.phantom and depth < 50 else None
            if inner is not None:
                walk(inner, q, depth + 1)
            else:
                need[comp.id or 0] += q

    if top is not None:
        walk(top, qty, 0)
    return top, [(items[i], q6(q)) for i, q in need.items() if q6(q) > 0]


@dataclass
class MaterialStatus:
    """One material of a subcontract order: what it needs and where it is."""

    item: Item
    required: Decimal
    issued: Decimal  # net sent (sent - returned), as the order's components record it
    returned: Decimal
    consumed: Decimal
    scrapped: Decimal

    @property
    def sent(self) -> Decimal:
        return self.issued + self.returned

    @property
    def at_supplier(self) -> Decimal:
        return max(self.sent - self.returned - self.consumed - self.scrapped, ZERO)

    @property
    def to_send(self) -> Decimal:
        return max(self.required - self.issued, ZERO)


def _components(session: Session, order: ProductionOrder) -> list[ProductionOrderComponent]:
    return list(
        session.exec(
            select(ProductionOrderComponent)
            .where(ProductionOrderComponent.production_order_id == order.id)
            .order_by(ProductionOrderComponent.id)  # type: ignore[arg-type]
            .execution_options(populate_existing=True)
        ).all()
    )


def _ledger(session: Session, order: ProductionOrder) -> dict[tuple[int, str], Decimal]:
    """Quantity per (item, move type) the ledger holds for the order."""
    rows = session.exec(
        select(StockMove.item_id, StockMove.move_type, sa.func.sum(StockMove.qty))
        .where(StockMove.doc_type == DOC, StockMove.doc_ref == order.code)
        .group_by(StockMove.item_id, StockMove.move_type)
    ).all()
    return {(item_id, move_type): Decimal(str(total or 0)) for item_id, move_type, total in rows}


def material_status(session: Session, order: ProductionOrder) -> list[MaterialStatus]:
    """Per material: required, sent, returned, consumed, scrapped and still at the subcontractor.

    Material sent or goods received before the ledger knew of the order (a loaded dataset) are taken
    from the order itself: its issued quantities, and its completed quantity consumed at the BOM rate.
    """
    ledger = _ledger(session, order)
    received_in_ledger = ledger.get((order.item_id, "production_receipt"), ZERO)
    received_before = max(order.completed_qty - received_in_ledger, ZERO)
    per_item: dict[int, list[ProductionOrderComponent]] = defaultdict(list)
    for comp in _components(session, order):
        per_item[comp.item_id].append(comp)
    items = {i.id: i for i in session.exec(select(Item).where(Item.id.in_(list(per_item)))).all()}  # type: ignore[attr-defined]
    out = []
    for item_id, comps in per_item.items():
        required = sum((c.required_qty for c in comps), ZERO)
        per_unit = required / order.qty
        out.append(
            MaterialStatus(
                item=items[item_id],
                required=required,
                issued=sum((c.issued_qty for c in comps), ZERO),
                returned=ledger.get((item_id, "return"), ZERO),
                consumed=ledger.get((item_id, "issue"), ZERO) + q6(received_before * per_unit),
                scrapped=ledger.get((item_id, "scrap"), ZERO),
            )
        )
    return sorted(out, key=lambda m: m.item.code)


def _by_code(materials: Iterable[MaterialStatus]) -> dict[str, MaterialStatus]:
    return {m.item.code: m for m in materials}


def _not_a_material(
    order: ProductionOrder, code: str, field_name: str, materials: dict[str, MaterialStatus]
) -> ToolError:
    return ToolError(
        "invalid_input",
        f"{code} is not a material of {order.code} (its materials: {', '.join(sorted(materials)) or 'none'})",
        {"record": order.code, "field": field_name, "item": code, "materials": sorted(materials)},
    )


def change_issued(session: Session, order: ProductionOrder, item_id: int, delta: Decimal) -> None:
    """Add ``delta`` (negative: a return) to the issued quantity of an order's component rows of an item."""
    rows = [c for c in _components(session, order) if c.item_id == item_id]
    if not rows:
        return
    if delta >= 0:
        # fill rows up to their requirement in order; any excess goes on the last one
        left = delta
        for row in rows:
            take = min(left, max(row.required_qty - row.issued_qty, ZERO))
            if row is rows[-1]:
                take = left
            row.issued_qty = q6(row.issued_qty + take)
            left -= take
            session.add(row)
    else:
        left = -delta
        for row in reversed(rows):
            take = min(left, row.issued_qty)
            row.issued_qty = q6(row.issued_qty - take)
            left -= take
            session.add(row)


def _set_status(order: ProductionOrder, target: str) -> None:
    if order.status == target:
        return
    try:
        transition("production_order", order, target, order.code)
    except StateError as exc:
        raise state_conflict(exc) from None


def _post(
    session: Session,
    order: ProductionOrder,
    item_id: int,
    qty: Decimal,
    src: str,
    dst: str,
    move_type: str,
    on: date,
    actor: Actor,
    unit_cost: Decimal | None = None,
    reason: str = "",
) -> StockMove:
    try:
        return post_move(
            session,
            item_id=item_id,
            qty=qty,
            from_code=src,
            to_code=dst,
            move_type=move_type,
            move_date=on,
            doc_type=DOC,
            doc_ref=order.code,
            unit_cost=unit_cost,
            actor=actor.username,
            reason=reason[:300],
        )
    except StockError as exc:
        raise stock_conflict(exc, order.code) from None


def _audited(
    session: Session,
    actor: Actor,
    action: str,
    order: ProductionOrder,
    proposal: Proposal,
    status_before: str,
    record: dict[str, Any],
) -> dict[str, Any]:
    """Audit a document applied to a subcontract order (``record`` is what it did) and return ``record``."""
    audit(
        session,
        actor,
        action,
        entity="subcontract_order",
        entity_ref=order.code,
        proposal_id=proposal.id,
        before={"status": status_before},
        after=record,
    )
    return record


# ---------------------------------------------------------------- creating subcontract orders


class SubcontractOrderLineIn(BaseModel):
    item: str = Field(min_length=1, max_length=64, description="the subcontracted item (source subcontract)")
    qty: Num = Field(gt=0, description="quantity to have made, in the item's unit")
    due_date: date = Field(description="when the goods must be back")
    supplier: str | None = Field(
        default=None, max_length=64, description="subcontractor code; default: preferred"
    )
    start_date: date | None = Field(
        default=None, description="when material goes out; default: due date minus the supplier's lead time"
    )
    unit_fee: Num | None = Field(
        default=None, ge=0, description="agreed processing fee per unit; default: the subcontract price list"
    )


class ProposeSubcontractOrdersIn(BaseModel):
    lines: list[SubcontractOrderLineIn] = Field(min_length=1, max_length=100)
    source_ref: str = Field(default="", max_length=200, description="what this is drafted from, e.g. MRP")


class PlannedMaterial(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num = Field(description="to send to the subcontractor (scrap allowance included)")
    on_hand: Num = Field(description="available in STOCK now")


class PlannedSubcontractOrder(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num
    supplier: str
    supplier_name: str
    start_date: date
    due_date: date
    unit_fee: Num
    fee_amount: Num
    price_source: PriceSource
    price_break_qty: Num | None
    location: str = Field(description="the subcontractor's location our material will be held at")
    bom_version: str
    materials: list[PlannedMaterial]


class ProposeSubcontractOrdersOut(ProposalOut):
    orders: list[PlannedSubcontractOrder]


def _fee(
    session: Session, item: Item, supplier: Supplier, qty: Decimal, on: date, given: Decimal | None
) -> tuple[Decimal, PriceSource, PriceList | None]:
    if given is not None:
        return given, "given", None
    row = price_row(session, item, supplier.id or 0, qty, on)
    if row is not None:
        return row.price, "price_list", row
    return item.unit_cost, "item_unit_cost", None


def _plan_subcontract(ctx: ToolContext, index: int, line: SubcontractOrderLineIn) -> PlannedSubcontractOrder:
    session = ctx.session
    item = find_items(session, [line.item], f"lines.{index}.item")[line.item]
    if item.source != "subcontract" or not item.active:
        what = "inactive" if not item.active else f"a {item.source} item, not a subcontract one"
        raise ToolError(
            "invalid_input",
            f"{item.code} is {what}",
            {"record": item.code, "field": f"lines.{index}.item", "source": item.source},
        )
    supplier = (
        find_supplier(session, line.supplier, f"lines.{index}.supplier")
        if line.supplier
        else _preferred_supplier(session, item)
    )
    if supplier is None:
        raise ToolError(
            "invalid_input",
            f"{item.code} has no preferred subcontractor: give supplier",
            {"record": item.code, "field": f"lines.{index}.supplier"},
        )
    today = ctx.today
    fee, source, row = _fee(session, item, supplier, line.qty, today, line.unit_fee)
    lead = (
        (row.lead_time_days if row and row.lead_time_days is not None else None)
        or supplier.lead_time_days
        or item.lead_time_days
    )
    start = line.start_date or max(load_calendar(session).subtract_workdays(line.due_date, lead), today)
    if start > line.due_date:
        raise ToolError(
            "invalid_input",
            f"start date {start} is after the due date {line.due_date}",
            {"field": f"lines.{index}.start_date"},
        )
    bom, materials = derive_materials(session, item, line.qty, start)
    if not materials:
        raise ToolError(
            "invalid_input",
            f"{item.code} has no BOM in force on {start}: there is no material to send; "
            "buy it with a purchase requisition instead",
            {"record": item.code, "field": f"lines.{index}.item"},
        )
    stock = on_hand(session, [m.id or 0 for m, _ in materials])
    return PlannedSubcontractOrder(
        item=item.code,
        item_name=item.name,
        uom=item.uom,
        qty=line.qty,
        supplier=supplier.code,
        supplier_name=supplier.name,
        start_date=start,
        due_date=line.due_date,
        unit_fee=fee,
        fee_amount=q6(fee * line.qty),
        price_source=source,
        price_break_qty=row.min_qty if row else None,
        location=supplier_location_code(session, supplier),
        bom_version=bom.version if bom else "",
        materials=[
            PlannedMaterial(
                item=m.code, item_name=m.name, uom=m.uom, qty=q, on_hand=stock.get(m.id or 0, ZERO)
            )
            for m, q in materials
        ],
    )


@tool(kind="propose")
def propose_subcontract_orders(
    ctx: ToolContext, args: ProposeSubcontractOrdersIn
) -> ProposeSubcontractOrdersOut:
    """Propose subcontract orders (委外订单): a supplier makes an item from material we send.

    The materials to send come from the item's BOM in force (scrap included); the processing fee per unit
    from the supplier's subcontract price list valid today at the order quantity's break (or `unit_fee`,
    or the item's unit cost). The start date defaults to the due date minus the lead time. Nothing is
    created until a planner or buyer (or manager) confirms; the orders are then released.
    """
    planned = [_plan_subcontract(ctx, i, line) for i, line in enumerate(args.lines)]
    zh = ";".join(
        f"{p.item} {fmt_qty(p.qty)} {p.uom} 委外 {p.supplier},加工费 {fmt_qty(p.unit_fee)}/{p.uom},"
        f"{p.start_date.isoformat()} 发料,{p.due_date.isoformat()} 交货,"
        f"发料 " + "、".join(f"{m.item} {fmt_qty(m.qty)}" for m in p.materials)
        for p in planned
    )
    en = "; ".join(
        f"{p.item} {fmt_qty(p.qty)} {p.uom} at {p.supplier}, fee {fmt_qty(p.unit_fee)}/{p.uom}, "
        f"material out {p.start_date.isoformat()}, due {p.due_date.isoformat()}, sending "
        + ", ".join(f"{m.item} {fmt_qty(m.qty)}" for m in p.materials)
        for p in planned
    )
    base = create_proposal(
        ctx,
        kind=SUBCONTRACT_ORDERS,
        tool="propose_subcontract_orders",
        args=args,
        summary_zh=f"新建 {len(planned)} 张委外订单:{zh}。",
        summary_en=f"Create {len(planned)} subcontract order(s): {en}.",
        effect={"source_ref": args.source_ref, "orders": [p.model_dump(mode="json") for p in planned]},
        read_domains=("master", "bom"),
    )
    return ProposeSubcontractOrdersOut(**base.model_dump(), orders=planned)


@applier(SUBCONTRACT_ORDERS, roles=("planner", "buyer"), domains=("production",))
def apply_subcontract_orders(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the orders (released) with their material requirements and agreed fees."""
    planned = [PlannedSubcontractOrder.model_validate(o) for o in proposal.effect.get("orders", [])]
    codes = next_codes(session, ProductionOrder.code, ORDER_PREFIX, len(planned))
    created = []
    for code, p in zip(codes, planned, strict=True):
        items = find_items(session, [p.item, *(m.item for m in p.materials)])
        supplier = find_supplier(session, p.supplier)
        bom = bom_in_force(session, items[p.item].id or 0, p.start_date)
        order = ProductionOrder(
            code=code,
            kind="subcontract",
            item_id=items[p.item].id or 0,
            qty=p.qty,
            start_date=p.start_date,
            due_date=p.due_date,
            status="released",
            bom_id=bom.id if bom else None,
            supplier_id=supplier.id,
            proposal_id=proposal.id,
        )
        session.add(order)
        session.flush()
        for m in p.materials:
            session.add(
                ProductionOrderComponent(
                    production_order_id=order.id or 0,
                    item_id=items[m.item].id or 0,
                    required_qty=m.qty,
                    issued_qty=ZERO,
                    issue_method="manual",
                )
            )
        session.add(
            SubcontractTerms(
                production_order_id=order.id or 0, unit_fee=p.unit_fee, price_source=p.price_source
            )
        )
        record = {
            "code": code,
            "item": p.item,
            "qty": to_number(p.qty),
            "supplier": p.supplier,
            "start_date": p.start_date.isoformat(),
            "due_date": p.due_date.isoformat(),
            "unit_fee": to_number(p.unit_fee),
            "status": "released",
            "materials": [{"item": m.item, "qty": to_number(m.qty)} for m in p.materials],
        }
        audit(
            session,
            actor,
            "create",
            entity="subcontract_order",
            entity_ref=code,
            proposal_id=proposal.id,
            after=record,
        )
        created.append(record)
    session.flush()
    return {"subcontract_orders": created}


# ---------------------------------------------------------------- sending material


class MaterialLineIn(BaseModel):
    item: str = Field(min_length=1, max_length=64, description="material item code")
    qty: Num = Field(gt=0, description="quantity in the item's unit")


class ScrapLineIn(BaseModel):
    item: str = Field(min_length=1, max_length=64, description="material item code")
    qty: Num = Field(gt=0, description="quantity the subcontractor spoilt")
    reason: str = Field(min_length=1, max_length=300, description="why it was scrapped")


class ProposeSubcontractShipmentIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="subcontract order code")
    lines: list[MaterialLineIn] | None = Field(
        default=None,
        max_length=100,
        description="materials and quantities; default: everything still to send",
    )
    shipment_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300)


class PlannedMaterialMove(BaseModel):
    item: str
    uom: str
    qty: Num
    reason: str = ""


class ProposeSubcontractShipmentOut(ProposalOut):
    order: str
    supplier: str
    location: str
    lines: list[PlannedMaterialMove]


def _sum_lines(lines: Iterable[MaterialLineIn | ScrapLineIn | PlannedMaterialMove]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    for ln in lines:
        out[ln.item] += ln.qty
    return out


@tool(kind="propose")
def propose_subcontract_shipment(
    ctx: ToolContext, args: ProposeSubcontractShipmentIn
) -> ProposeSubcontractShipmentOut:
    """Propose sending material for a subcontract order to the subcontractor (委外发料).

    The material moves from STOCK to the subcontractor's location, where it stays our stock until the
    goods come back. Without lines, everything still to send is sent. Sending more than the order needs
    beyond the over-issue tolerance, or more than is in stock, is refused. Nothing changes until the
    warehouse (or a manager) confirms.
    """
    session = ctx.session
    order = find_subcontract_order(session, args.order)
    require_status(order, SENDABLE, "send material")
    supplier = order_supplier(session, order)
    materials = _by_code(material_status(session, order))
    if args.lines is None:
        wanted = {code: m.to_send for code, m in materials.items() if m.to_send > 0}
        if not wanted:
            raise ToolError(
                "conflict",
                f"all the material of {order.code} has been sent",
                {"record": order.code, "field": "lines"},
            )
    else:
        wanted = _sum_lines(args.lines)
    tolerance = Decimal(str(ctx.settings.over_issue_tolerance))
    stock = on_hand(session, [m.item.id or 0 for m in materials.values()])
    lines = []
    for index, (code, qty) in enumerate(wanted.items()):
        m = materials.get(code)
        if m is None:
            raise _not_a_material(order, code, f"lines.{index}.item", materials)
        limit = q6(m.required * (1 + tolerance))
        if m.issued + qty > limit:
            raise ToolError(
                "invalid_input",
                f"{order.code} needs {fmt_qty(m.required)} {code} and {fmt_qty(m.issued)} went out already: "
                f"at most {fmt_qty(max(limit - m.issued, ZERO))} more may be sent, not {fmt_qty(qty)}",
                {
                    "record": order.code,
                    "field": f"lines.{index}.qty",
                    "item": code,
                    "required": fmt_qty(m.required),
                    "sent": fmt_qty(m.issued),
                    "requested": fmt_qty(qty),
                },
            )
        have = stock.get(m.item.id or 0, ZERO)
        if have < qty:
            raise ToolError(
                "infeasible",
                f"not enough {code} at STOCK: {fmt_qty(have)} on hand, {fmt_qty(qty)} requested",
                {
                    "record": order.code,
                    "field": f"lines.{index}.qty",
                    "item": code,
                    "location": "STOCK",
                    "on_hand": fmt_qty(have),
                    "requested": fmt_qty(qty),
                },
            )
        lines.append(PlannedMaterialMove(item=code, uom=m.item.uom, qty=qty))
    location = supplier_location_code(session, supplier)
    on = args.shipment_date or ctx.today
    text = "、".join(f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}" for ln in lines)
    text_en = ", ".join(f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}" for ln in lines)
    base = create_proposal(
        ctx,
        kind=SUBCONTRACT_SHIPMENT,
        tool="propose_subcontract_shipment",
        args=args,
        summary_zh=f"委外发料 {order.code}:{text} 从 STOCK 发往 {supplier.code}({location})。",
        summary_en=f"Send material for {order.code}: {text_en} from STOCK to {supplier.code} ({location}).",
        effect={
            "order": order.code,
            "date": on.isoformat(),
            "note": args.note,
            "lines": [ln.model_dump(mode="json") for ln in lines],
        },
    )
    return ProposeSubcontractShipmentOut(
        **base.model_dump(), order=order.code, supplier=supplier.code, location=location, lines=lines
    )


@applier(SUBCONTRACT_SHIPMENT, roles=("warehouse",), domains=("stock", "production"))
def apply_subcontract_shipment(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post STOCK → subcontractor moves, raise the order's issued quantities and start the order."""
    eff = proposal.effect
    order = find_subcontract_order(session, str(eff["order"]))
    require_status(order, SENDABLE, "send material")
    loc = supplier_location(session, order_supplier(session, order))
    on = date.fromisoformat(eff["date"])
    items = find_items(session, [ln["item"] for ln in eff["lines"]])
    posted = []
    for raw in eff["lines"]:
        ln = PlannedMaterialMove.model_validate(raw)
        item = items[ln.item]
        move = _post(
            session,
            order,
            item.id or 0,
            ln.qty,
            "STOCK",
            loc.code,
            "transfer",
            on,
            actor,
            reason=str(eff.get("note", "")),
        )
        change_issued(session, order, item.id or 0, ln.qty)
        posted.append({"item": ln.item, "qty": to_number(ln.qty), "unit_cost": to_number(move.unit_cost)})
    before = order.status
    _set_status(order, "in_progress")
    session.add(order)
    session.flush()
    record = {
        "order": order.code,
        "location": loc.code,
        "date": on.isoformat(),
        "lines": posted,
        "status": order.status,
    }
    return _audited(session, actor, "ship", order, proposal, before, record)


# ---------------------------------------------------------------- receiving finished goods


class ProposeSubcontractReceiptIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="subcontract order code")
    qty: Num = Field(gt=0, description="good finished goods delivered")
    scrap: list[ScrapLineIn] = Field(
        default_factory=list, max_length=100, description="material the subcontractor reports as spoilt"
    )
    inspect: bool = Field(
        default=False, description="send the goods to QC for inspection (always so if the item requires it)"
    )
    receipt_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300)


class ProposeSubcontractReceiptOut(ProposalOut):
    order: str
    supplier: str
    item: str
    qty: Num
    to_location: str
    consumed: list[PlannedMaterialMove] = Field(description="material used up at the subcontractor")
    scrap: list[PlannedMaterialMove]
    material_cost: Num = Field(description="of the material consumed, at the moving-average cost")
    unit_fee: Num
    unit_cost: Num = Field(description="(material consumed + fee x qty) / qty: what the goods are valued at")
    status_after: str


def _avg_cost(session: Session, item: Item) -> Decimal:
    """The moving-average cost, read without creating a valuation row (proposing writes nothing)."""
    row = session.get(ItemValuation, item.id)
    return Decimal(row.avg_cost) if row is not None else Decimal(item.unit_cost)


def order_fee(session: Session, order: ProductionOrder, item: Item, supplier: Supplier, on: date) -> Decimal:
    """The processing fee per unit: agreed on the order, else the price list on ``on``, else the unit cost."""
    terms = session.exec(
        select(SubcontractTerms).where(SubcontractTerms.production_order_id == order.id)
    ).first()
    if terms is not None:
        return terms.unit_fee
    return _fee(session, item, supplier, order.qty, on, None)[0]


def _check_at_supplier(
    order: ProductionOrder, materials: dict[str, MaterialStatus], taking: dict[str, Decimal], what: str
) -> None:
    for code, qty in taking.items():
        m = materials[code]
        if qty > m.at_supplier:
            raise ToolError(
                "infeasible",
                f"{what} takes {fmt_qty(qty)} {code} at the subcontractor, but only {fmt_qty(m.at_supplier)} of "
                f"{order.code}'s {code} are there (sent {fmt_qty(m.sent)}, consumed {fmt_qty(m.consumed)}, "
                f"scrapped {fmt_qty(m.scrapped)}, returned {fmt_qty(m.returned)}): send more material first",
                {
                    "record": order.code,
                    "item": code,
                    "at_supplier": fmt_qty(m.at_supplier),
                    "requested": fmt_qty(qty),
                },
            )


def _plan_scrap(
    order: ProductionOrder, materials: dict[str, MaterialStatus], scrap: Sequence[ScrapLineIn]
) -> list[PlannedMaterialMove]:
    """The scrap the subcontractor reports, each line a material of the order."""
    scrapped = []
    for index, ln in enumerate(scrap):
        if ln.item not in materials:
            raise _not_a_material(order, ln.item, f"scrap.{index}.item", materials)
        scrapped.append(
            PlannedMaterialMove(
                item=ln.item, uom=materials[ln.item].item.uom, qty=ln.qty, reason=ln.reason.strip()
            )
        )
    return scrapped


def _take_at_supplier(
    order: ProductionOrder,
    materials: dict[str, MaterialStatus],
    moves: Sequence[PlannedMaterialMove],
    what: str,
) -> dict[str, Decimal]:
    """What ``moves`` take from the subcontractor per material, refused beyond what is there."""
    taking = _sum_lines(moves)
    _check_at_supplier(order, materials, taking, what)
    return taking


def _scrap_lines(effect: dict[str, Any]) -> list[ScrapLineIn]:
    """The scrap lines of a stored proposal effect."""
    return [ScrapLineIn(item=s["item"], qty=dec(s["qty"]), reason=s["reason"]) for s in effect["scrap"]]


def _scrap_text(scrapped: Sequence[PlannedMaterialMove]) -> tuple[str, str]:
    """The scrap lines for a summary, in Chinese and in English."""
    return (
        "、".join(f"{s.item} {fmt_qty(s.qty)}({s.reason})" for s in scrapped),
        ", ".join(f"{s.item} {fmt_qty(s.qty)} ({s.reason})" for s in scrapped),
    )


def _post_scrap(
    session: Session,
    order: ProductionOrder,
    items: dict[str, Item],
    scrapped: Sequence[PlannedMaterialMove],
    location: str,
    on: date,
    actor: Actor,
) -> None:
    """Write off spoilt material at the subcontractor's ``location``."""
    for s in scrapped:
        _post(
            session,
            order,
            items[s.item].id or 0,
            s.qty,
            location,
            "PRODUCTION",
            "scrap",
            on,
            actor,
            reason=s.reason,
        )


def _scrap_record(scrapped: Sequence[PlannedMaterialMove]) -> list[dict[str, Any]]:
    return [{"item": s.item, "qty": to_number(s.qty), "reason": s.reason} for s in scrapped]


def _plan_subcontract_receipt(
    session: Session, order: ProductionOrder, qty: Decimal, scrap: Sequence[ScrapLineIn], tolerance: float
) -> tuple[list[PlannedMaterialMove], list[PlannedMaterialMove]]:
    require_status(order, RECEIVABLE, "receive goods")
    err = over_receipt(
        f"subcontract order {order.code}", order.qty, order.completed_qty, qty, tolerance, order.code, "qty"
    )
    if err is not None:
        raise err
    materials = _by_code(material_status(session, order))
    consumed = [
        PlannedMaterialMove(item=code, uom=m.item.uom, qty=q6(qty * m.required / order.qty))
        for code, m in materials.items()
    ]
    scrapped = _plan_scrap(order, materials, scrap)
    _take_at_supplier(order, materials, [*consumed, *scrapped], f"receiving {fmt_qty(qty)} on {order.code}")
    return [c for c in consumed if c.qty > 0], scrapped


@tool(kind="propose")
def propose_subcontract_receipt(
    ctx: ToolContext, args: ProposeSubcontractReceiptIn
) -> ProposeSubcontractReceiptOut:
    """Propose receiving finished goods from a subcontractor (委外收货), with the scrap it reports.

    The material the goods were made from (BOM rate) is consumed at the subcontractor's location and the
    goods come in valued at that material plus the processing fee per unit; they go to QC for inspection
    when the item needs it (or `inspect`), else to stock. Spoilt material reported in `scrap` is written off
    with its reason. Receiving more than ordered beyond the receipt tolerance, or more than the material
    at the subcontractor allows, is refused. Nothing changes until the warehouse (or a manager) confirms.
    """
    session = ctx.session
    order = find_subcontract_order(session, args.order)
    supplier = order_supplier(session, order)
    item = session.get(Item, order.item_id)
    assert item is not None
    consumed, scrapped = _plan_subcontract_receipt(
        session, order, args.qty, args.scrap, ctx.settings.receipt_tolerance
    )
    on = args.receipt_date or ctx.today
    items = find_items(session, [c.item for c in consumed]) if consumed else {}
    material = q6(sum((c.qty * _avg_cost(session, items[c.item]) for c in consumed), ZERO))
    fee = order_fee(session, order, item, supplier, on)
    unit_cost = q6((material + fee * args.qty) / args.qty)
    to = "QC" if (args.inspect or item.inspection_required) else "STOCK"
    status_after = "completed" if order.completed_qty + args.qty >= order.qty else "in_progress"
    used = "、".join(f"{c.item} {fmt_qty(c.qty)}" for c in consumed)
    used_en = ", ".join(f"{c.item} {fmt_qty(c.qty)}" for c in consumed)
    scrap_zh, scrap_en = _scrap_text(scrapped)
    if scrapped:
        scrap_zh, scrap_en = ";报废 " + scrap_zh, "; scrap " + scrap_en
    to_zh = "进待检区 QC" if to == "QC" else "入库 STOCK"
    to_en = "into QC for inspection" if to == "QC" else "into STOCK"
    base = create_proposal(
        ctx,
        kind=SUBCONTRACT_RECEIPT,
        tool="propose_subcontract_receipt",
        args=args,
        summary_zh=f"委外收货 {order.code}({supplier.code}):{item.code} {fmt_qty(args.qty)} {item.uom} {to_zh},"
        f"耗用 {used}{scrap_zh};单位成本 {fmt_qty(unit_cost)}(材料 {fmt_qty(material)} + 加工费 "
        f"{fmt_qty(fee)}/{item.uom})。",
        summary_en=f"Receive on {order.code} from {supplier.code}: {item.code} {fmt_qty(args.qty)} {item.uom} "
        f"{to_en}, consuming {used_en}{scrap_en}; unit cost {fmt_qty(unit_cost)} (material "
        f"{fmt_qty(material)} + fee {fmt_qty(fee)}/{item.uom}).",
        effect={
            "order": order.code,
            "date": on.isoformat(),
            "qty": to_number(args.qty),
            "to_location": to,
            "consumed": [c.model_dump(mode="json") for c in consumed],
            "scrap": [s.model_dump(mode="json") for s in scrapped],
            "unit_fee": to_number(fee),
            "note": args.note,
            "receipt_tolerance": ctx.settings.receipt_tolerance,
        },
    )
    return ProposeSubcontractReceiptOut(
        **base.model_dump(),
        order=order.code,
        supplier=supplier.code,
        item=item.code,
        qty=args.qty,
        to_location=to,
        consumed=consumed,
        scrap=scrapped,
        material_cost=material,
        unit_fee=fee,
        unit_cost=unit_cost,
        status_after=status_after,
    )


@applier(SUBCONTRACT_RECEIPT, roles=("warehouse",), domains=("stock", "production"))
def apply_subcontract_receipt(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Consume the material at the subcontractor, post the scrap and the goods, record the receipt."""
    eff = proposal.effect
    order = find_subcontract_order(session, str(eff["order"]))
    supplier = order_supplier(session, order)
    qty = dec(eff["qty"])
    consumed, scrapped = _plan_subcontract_receipt(
        session,
        order,
        qty,
        _scrap_lines(eff),
        float(eff.get("receipt_tolerance", get_settings().receipt_tolerance)),
    )
    loc = supplier_location(session, supplier)
    on = date.fromisoformat(eff["date"])
    items = find_items(session, [order_item_code(session, order), *(m.item for m in [*consumed, *scrapped])])
    material = ZERO
    for c in consumed:
        move = _post(session, order, items[c.item].id or 0, c.qty, loc.code, "PRODUCTION", "issue", on, actor)
        material += c.qty * move.unit_cost
    _post_scrap(session, order, items, scrapped, loc.code, on, actor)
    fee = dec(eff["unit_fee"])
    unit_cost = q6((material + fee * qty) / qty)
    to = location_by_code(session, str(eff["to_location"]))
    receipt = _post(
        session,
        order,
        order.item_id,
        qty,
        "PRODUCTION",
        to.code,
        "production_receipt",
        on,
        actor,
        unit_cost=unit_cost,
    )
    notice = new_receipt_notice(
        session,
        actor,
        source_type=DOC,
        source_ref=order.code,
        receipt_date=on,
        inspecting=to.kind == "inspection",
        supplier_id=supplier.id,
        note=str(eff.get("note", "")),
        proposal_id=proposal.id,
    )
    line = add_receipt_line(
        session, notice, 1, order.item_id, qty, unit_cost, to, receipt.id, production_order_id=order.id
    )
    inspection = None
    if to.kind == "inspection":
        inspection = open_inspection(
            session,
            actor,
            source_type="subcontract_order",
            source_ref=order.code,
            item_id=order.item_id,
            qty=qty,
            unit_cost=unit_cost,
            location_id=to.id or 0,
            supplier_id=supplier.id,
            receipt_line_id=line.id,
            proposal_id=proposal.id,
        ).code
    before = order.status
    order.completed_qty = q6(order.completed_qty + qty)
    _set_status(order, "in_progress")
    if order.completed_qty >= order.qty:
        _set_status(order, "completed")
    session.add(order)
    session.flush()
    record = {
        "code": notice.code,
        "order": order.code,
        "date": on.isoformat(),
        "qty": to_number(qty),
        "to_location": to.code,
        "unit_cost": to_number(unit_cost),
        "material_cost": to_number(material),
        "unit_fee": to_number(fee),
        "inspection": inspection,
        "consumed": [{"item": c.item, "qty": to_number(c.qty)} for c in consumed],
        "scrap": _scrap_record(scrapped),
        "received_qty": to_number(order.completed_qty),
        "status": order.status,
    }
    return _audited(session, actor, "receive", order, proposal, before, record)


def order_item_code(session: Session, order: ProductionOrder) -> str:
    item = session.get(Item, order.item_id)
    return item.code if item else str(order.item_id)


# ---------------------------------------------------------------- returning unused material, scrap, closing


class ProposeSubcontractMaterialReturnIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="subcontract order code")
    lines: list[MaterialLineIn] | None = Field(
        default=None,
        max_length=100,
        description="materials coming back unused; default: everything of the order still at the subcontractor "
        "(after the scrap below)",
    )
    scrap: list[ScrapLineIn] = Field(
        default_factory=list, max_length=100, description="material the subcontractor spoilt"
    )
    close: bool = Field(default=False, description="close the order afterwards (nothing may be left there)")
    return_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300)


class ProposeSubcontractMaterialReturnOut(ProposalOut):
    order: str
    supplier: str
    location: str
    returns: list[PlannedMaterialMove]
    scrap: list[PlannedMaterialMove]
    status_after: str


def _plan_return(
    session: Session, order: ProductionOrder, args: ProposeSubcontractMaterialReturnIn
) -> tuple[list[PlannedMaterialMove], list[PlannedMaterialMove], str]:
    require_status(order, RETURNABLE, "return material")
    materials = _by_code(material_status(session, order))
    scrapped = _plan_scrap(order, materials, args.scrap)
    scrap_qty = _sum_lines(args.scrap)
    if args.lines is None:
        wanted = {code: m.at_supplier - scrap_qty.get(code, ZERO) for code, m in materials.items()}
        wanted = {code: q for code, q in wanted.items() if q > 0}
    else:
        wanted = _sum_lines(args.lines)
        for index, code in enumerate(wanted):
            if code not in materials:
                raise _not_a_material(order, code, f"lines.{index}.item", materials)
    returns = [
        PlannedMaterialMove(item=code, uom=materials[code].item.uom, qty=q) for code, q in wanted.items()
    ]
    taking = _take_at_supplier(order, materials, [*returns, *scrapped], f"returning material of {order.code}")
    if not taking and not args.close:
        raise ToolError(
            "invalid_input",
            f"nothing of {order.code} is at the subcontractor to return or scrap",
            {"record": order.code, "field": "lines"},
        )
    status_after = order.status
    if args.close:
        left = {code: m.at_supplier - taking.get(code, ZERO) for code, m in materials.items()}
        left = {code: q for code, q in left.items() if q > 0}
        if left:
            raise ToolError(
                "conflict",
                f"{order.code} cannot be closed while material is still at the subcontractor: "
                + ", ".join(f"{code} {fmt_qty(q)}" for code, q in sorted(left.items()))
                + "; return or scrap it",
                {
                    "record": order.code,
                    "field": "close",
                    "at_supplier": {c: fmt_qty(q) for c, q in left.items()},
                },
            )
        status_after = "closed"
    return returns, scrapped, status_after


@tool(kind="propose")
def propose_subcontract_material_return(
    ctx: ToolContext, args: ProposeSubcontractMaterialReturnIn
) -> ProposeSubcontractMaterialReturnOut:
    """Propose taking unused material back from a subcontractor (委外退料), writing off what it spoilt,
    and optionally closing the order.

    Returned material moves from the subcontractor's location back to STOCK; scrap is written off with its
    reason. Without lines, everything of the order still at the subcontractor (after the scrap) comes back.
    With `close`, the order is closed (short if not all was received); nothing may be left there. Nothing
    changes until the warehouse (or a manager) confirms.
    """
    session = ctx.session
    order = find_subcontract_order(session, args.order)
    supplier = order_supplier(session, order)
    returns, scrapped, status_after = _plan_return(session, order, args)
    on = args.return_date or ctx.today
    location = supplier_location_code(session, supplier)
    parts_zh = []
    parts_en = []
    if returns:
        parts_zh.append("退回 STOCK " + "、".join(f"{r.item} {fmt_qty(r.qty)} {r.uom}" for r in returns))
        parts_en.append("return to STOCK " + ", ".join(f"{r.item} {fmt_qty(r.qty)} {r.uom}" for r in returns))
    if scrapped:
        scrap_zh, scrap_en = _scrap_text(scrapped)
        parts_zh.append("报废 " + scrap_zh)
        parts_en.append("scrap " + scrap_en)
    if args.close:
        parts_zh.append("关闭订单")
        parts_en.append("close the order")
    base = create_proposal(
        ctx,
        kind=SUBCONTRACT_RETURN,
        tool="propose_subcontract_material_return",
        args=args,
        summary_zh=f"委外退料 {order.code}({supplier.code},{location}):" + ";".join(parts_zh) + "。",
        summary_en=f"Material back from {supplier.code} ({location}) for {order.code}: "
        + "; ".join(parts_en)
        + ".",
        effect={
            "order": order.code,
            "date": on.isoformat(),
            "note": args.note,
            "close": args.close,
            "returns": [r.model_dump(mode="json") for r in returns],
            "scrap": [s.model_dump(mode="json") for s in scrapped],
        },
    )
    return ProposeSubcontractMaterialReturnOut(
        **base.model_dump(),
        order=order.code,
        supplier=supplier.code,
        location=location,
        returns=returns,
        scrap=scrapped,
        status_after=status_after,
    )


@applier(SUBCONTRACT_RETURN, roles=("warehouse",), domains=("stock", "production"))
def apply_subcontract_material_return(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post the returns and scrap, lower the order's issued quantities and close it if asked."""
    eff = proposal.effect
    order = find_subcontract_order(session, str(eff["order"]))
    supplier = order_supplier(session, order)
    args = ProposeSubcontractMaterialReturnIn(
        order=order.code,
        close=bool(eff["close"]),
        lines=[MaterialLineIn(item=r["item"], qty=dec(r["qty"])) for r in eff["returns"]],
        scrap=_scrap_lines(eff),
    )
    returns, scrapped, status_after = _plan_return(session, order, args)
    loc = supplier_location(session, supplier)
    on = date.fromisoformat(eff["date"])
    items = find_items(session, [m.item for m in [*returns, *scrapped]]) if returns or scrapped else {}
    for r in returns:
        _post(
            session,
            order,
            items[r.item].id or 0,
            r.qty,
            loc.code,
            "STOCK",
            "return",
            on,
            actor,
            reason=str(eff.get("note", "")),
        )
        change_issued(session, order, items[r.item].id or 0, -r.qty)
    _post_scrap(session, order, items, scrapped, loc.code, on, actor)
    before = order.status
    if status_after == "closed":
        if order.status != "completed":
            _set_status(order, "completed")
        _set_status(order, "closed")
    session.add(order)
    session.flush()
    record = {
        "order": order.code,
        "location": loc.code,
        "date": on.isoformat(),
        "returns": [{"item": r.item, "qty": to_number(r.qty)} for r in returns],
        "scrap": _scrap_record(scrapped),
        "status": order.status,
    }
    return _audited(session, actor, "return", order, proposal, before, record)


# ---------------------------------------------------------------- reading


class GetSubcontractOrderIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="subcontract order code")


class SubcontractMaterialOut(BaseModel):
    item: str
    item_name: str
    uom: str
    per_unit: Num = Field(description="material per unit of the order's item (scrap allowance included)")
    required: Num
    sent: Num
    consumed: Num
    scrapped: Num
    returned: Num
    at_supplier: Num = Field(description="still at the subcontractor for this order")
    to_send: Num


class SubcontractReceiptOut(BaseModel):
    code: str
    receipt_date: date
    qty: Num
    unit_cost: Num
    to_location: str
    inspection: str | None
    inspection_status: str | None


class GetSubcontractOrderOut(BaseModel):
    code: str
    item: str
    item_name: str
    uom: str
    supplier: str | None
    supplier_name: str
    location: str | None = Field(description="the subcontractor's location holding our material")
    status: str
    qty: Num
    received_qty: Num
    open_qty: Num
    accepted_qty: Num = Field(description="received and accepted (or received straight into stock)")
    rejected_qty: Num = Field(description="rejected at inspection")
    in_inspection_qty: Num
    start_date: date | None
    due_date: date
    overdue: bool = Field(description="due before today with goods still open")
    days_late: int
    unit_fee: Num
    materials: list[SubcontractMaterialOut]
    receipts: list[SubcontractReceiptOut]


@tool(kind="read")
def get_subcontract_order(ctx: ToolContext, args: GetSubcontractOrderIn) -> GetSubcontractOrderOut:
    """One subcontract order's progress: per material required, sent, consumed, scrapped, returned and still
    at the subcontractor; goods received, accepted, rejected, in QC and still open; fee, due date, lateness."""
    session = ctx.session
    order = find_subcontract_order(session, args.order)
    item = session.get(Item, order.item_id)
    assert item is not None
    supplier = session.get(Supplier, order.supplier_id) if order.supplier_id else None
    loc = existing_supplier_location(session, supplier) if supplier else None
    materials = material_status(session, order)
    rows = session.exec(
        select(ReceiptNotice, ReceiptNoticeLine, Location, InspectionOrder)
        .join(ReceiptNoticeLine, ReceiptNoticeLine.receipt_notice_id == ReceiptNotice.id)  # type: ignore[arg-type]
        .join(Location, Location.id == ReceiptNoticeLine.to_location_id)  # type: ignore[arg-type]
        .join(InspectionOrder, InspectionOrder.receipt_line_id == ReceiptNoticeLine.id, isouter=True)  # type: ignore[arg-type]
        .where(ReceiptNotice.source_type == DOC, ReceiptNotice.source_ref == order.code)
        .order_by(ReceiptNotice.id)  # type: ignore[arg-type]
    ).all()
    accepted = rejected = in_qc = ZERO
    receipts = []
    for notice, line, to, insp in rows:
        if insp is None:
            accepted += line.qty
        elif insp.status == "pending":
            in_qc += insp.qty
        else:
            accepted += insp.accepted_qty
            rejected += insp.rejected_qty
        receipts.append(
            SubcontractReceiptOut(
                code=notice.code,
                receipt_date=notice.receipt_date,
                qty=line.qty,
                unit_cost=line.unit_cost,
                to_location=to.code,
                inspection=insp.code if insp else None,
                inspection_status=insp.status if insp else None,
            )
        )
    # goods received before the ledger knew of the order count as accepted
    accepted += max(order.completed_qty - sum((r.qty for r in receipts), ZERO), ZERO)
    open_qty = (
        max(order.qty - order.completed_qty, ZERO) if order.status not in ("closed", "cancelled") else ZERO
    )
    today = ctx.today
    late = open_qty > 0 and order.due_date < today
    fee = order_fee(session, order, item, supplier, today) if supplier else item.unit_cost
    return GetSubcontractOrderOut(
        code=order.code,
        item=item.code,
        item_name=item.name,
        uom=item.uom,
        supplier=supplier.code if supplier else None,
        supplier_name=supplier.name if supplier else "",
        location=loc.code if loc else None,
        status=order.status,
        qty=order.qty,
        received_qty=order.completed_qty,
        open_qty=open_qty,
        accepted_qty=accepted,
        rejected_qty=rejected,
        in_inspection_qty=in_qc,
        start_date=order.start_date,
        due_date=order.due_date,
        overdue=late,
        days_late=(today - order.due_date).days if late else 0,
        unit_fee=fee,
        materials=[
            SubcontractMaterialOut(
                item=m.item.code,
                item_name=m.item.name,
                uom=m.item.uom,
                per_unit=q6(m.required / order.qty),
                required=m.required,
                sent=m.sent,
                consumed=m.consumed,
                scrapped=m.scrapped,
                returned=m.returned,
                at_supplier=m.at_supplier,
                to_send=m.to_send if order.status in SENDABLE else ZERO,
            )
            for m in materials
        ],
        receipts=receipts,
    )


class GetSubcontractorStockIn(BaseModel):
    supplier: str | None = Field(default=None, max_length=64, description="subcontractor code; default: all")


class SubcontractorStockLine(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num
    value: Num = Field(description="at the moving-average cost")


class SubcontractorStockOut(BaseModel):
    location: str
    supplier: str | None
    supplier_name: str
    items: list[SubcontractorStockLine]
    total_value: Num


class GetSubcontractorStockOut(BaseModel):
    locations: list[SubcontractorStockOut]


@tool(kind="read")
def get_subcontractor_stock(ctx: ToolContext, args: GetSubcontractorStockIn) -> GetSubcontractorStockOut:
    """Our material held at subcontractors (委外仓库存): per subcontractor location, items, quantities and value.

    This stock is ours but not available to issue or promise until it comes back."""
    session = ctx.session
    stmt = (
        select(Location, Supplier)
        .join(Supplier, col(Supplier.id) == col(Location.supplier_id), isouter=True)
        .where(Location.kind == "supplier")
    )
    if args.supplier:
        stmt = stmt.where(Supplier.id == find_supplier(session, args.supplier).id)
    out = []
    for loc, sup in session.exec(stmt.order_by(Location.code)).all():
        held = {
            k: v
            for k, v in on_hand(session, kinds=INTERNAL_KINDS, location_ids=[loc.id or 0]).items()
            if v > 0
        }
        items = {i.id or 0: i for i in session.exec(select(Item).where(col(Item.id).in_(list(held)))).all()}
        valued = session.exec(select(ItemValuation).where(col(ItemValuation.item_id).in_(list(held)))).all()
        costs: dict[int, Decimal] = {v.item_id: Decimal(v.avg_cost) for v in valued}
        lines = sorted(
            (
                SubcontractorStockLine(
                    item=items[i].code,
                    item_name=items[i].name,
                    uom=items[i].uom,
                    qty=q,
                    value=q6(q * Decimal(costs.get(i, items[i].unit_cost))),
                )
                for i, q in held.items()
            ),
            key=lambda ln: ln.item,
        )
        out.append(
            SubcontractorStockOut(
                location=loc.code,
                supplier=sup.code if sup else None,
                supplier_name=sup.name if sup else "",
                items=lines,
                total_value=sum((ln.value for ln in lines), ZERO),
            )
        )
    return GetSubcontractorStockOut(locations=out)
