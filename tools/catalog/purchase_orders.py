"""Purchase order tools: requisitions merged into orders by supplier, and receipts (收料) into QC or stock.

Confirming a receipt posts VENDOR → QC (the item needs inspection, or the receipt asks for it) or VENDOR →
STOCK moves at the PO line's price (move_type ``receipt``, doc_type ``purchase_order``, doc_ref the PO code),
records a receipt notice (RN-…), opens an inspection order (IQ-…) for each lot sent to QC and moves the
order confirmed → partial → received.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, col, select

from data_model.settings import get_settings
from data_model.states import StateError, transition
from data_model.stock import StockError, fmt_qty, location_by_code, post_move
from data_model.tables import (
    InspectionOrder,
    Item,
    Location,
    Proposal,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequisition,
    ReceiptNotice,
    ReceiptNoticeLine,
    Supplier,
)
from tools.catalog.purchasing import _preferred_supplier, price_row
from tools.catalog.quality import open_inspection, q6
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num, to_number

PURCHASE_ORDERS = "purchase_orders"
PURCHASE_RECEIPT = "purchase_receipt"
PO_PREFIX = "PO-"
RECEIPT_PREFIX = "RN-"
RECEIVABLE = ("confirmed", "partial")
SUMMARY_LINES = 8

RequisitionStatus = Literal["draft", "approved", "ordered", "cancelled"]

_PO_STATE_HINTS = {
    "draft": "it is a draft: confirm it first",
    "received": "everything ordered has been received",
    "closed": "it is closed",
    "cancelled": "it is cancelled",
}


# ---------------------------------------------------------------- shared by the receiving tools


def state_conflict(exc: StateError, field_name: str = "status") -> ToolError:
    """A document state that forbids the action, as a ``conflict`` naming the allowed states."""
    return ToolError("conflict", exc.message, {**exc.details, "field": field_name})


def stock_conflict(exc: StockError, record: str) -> ToolError:
    """Not enough stock for a move, as ``infeasible`` with the quantities."""
    return ToolError("infeasible", exc.message, {"record": record, **exc.details})


def receipt_limit(ordered: Decimal, tolerance: float) -> Decimal:
    """The most that may be received against ``ordered`` (settings.receipt_tolerance is a share of it)."""
    return q6(ordered * (1 + Decimal(str(tolerance))))


def over_receipt(
    what: str,
    ordered: Decimal,
    received: Decimal,
    qty: Decimal,
    tolerance: float,
    record: str,
    field_name: str,
) -> ToolError | None:
    """The error for receiving ``qty`` more against ``ordered`` of which ``received`` came, if too much."""
    limit = receipt_limit(ordered, tolerance)
    if received + qty <= limit:
        return None
    pct = fmt_qty(Decimal(str(tolerance)) * 100)
    return ToolError(
        "invalid_input",
        f"{what}: ordered {fmt_qty(ordered)}, received {fmt_qty(received)}; receiving {fmt_qty(qty)} more would "
        f"make {fmt_qty(received + qty)}, over the {fmt_qty(limit)} allowed (receipt tolerance {pct}%)",
        {
            "record": record,
            "field": field_name,
            "ordered": fmt_qty(ordered),
            "received": fmt_qty(received),
            "requested": fmt_qty(qty),
            "allowed": fmt_qty(max(limit - received, Decimal(0))),
            "receipt_tolerance": tolerance,
        },
    )


def new_receipt_notice(
    session: Session,
    actor: Actor,
    *,
    source_type: str,
    source_ref: str,
    receipt_date: date,
    inspecting: bool,
    supplier_id: int | None = None,
    customer_id: int | None = None,
    note: str = "",
    proposal_id: str = "",
) -> ReceiptNotice:
    """Create a receipt notice (RN-…); call it after the domain bump that serializes receiving writers."""
    code = next_codes(session, ReceiptNotice.code, RECEIPT_PREFIX, 1)[0]
    notice = ReceiptNotice(
        code=code,
        source_type=source_type,
        source_ref=source_ref,
        supplier_id=supplier_id,
        customer_id=customer_id,
        receipt_date=receipt_date,
        status="inspecting" if inspecting else "done",
        note=note[:300],
        actor=actor.username,
        proposal_id=proposal_id,
    )
    session.add(notice)
    session.flush()
    return notice


def add_receipt_line(
    session: Session,
    notice: ReceiptNotice,
    line_no: int,
    item_id: int,
    qty: Decimal,
    unit_cost: Decimal,
    to_location: Location,
    stock_move_id: int | None,
    *,
    purchase_order_line_id: int | None = None,
    production_order_id: int | None = None,
    owner_customer_id: int | None = None,
) -> ReceiptNoticeLine:
    line = ReceiptNoticeLine(
        receipt_notice_id=notice.id or 0,
        line_no=line_no,
        item_id=item_id,
        qty=q6(qty),
        unit_cost=q6(unit_cost),
        purchase_order_line_id=purchase_order_line_id,
        production_order_id=production_order_id,
        owner_customer_id=owner_customer_id,
        to_location_id=to_location.id or 0,
        stock_move_id=stock_move_id,
    )
    session.add(line)
    session.flush()
    return line


def find_supplier(session: Session, code: str, field_name: str = "supplier") -> Supplier:
    sup = session.exec(select(Supplier).where(Supplier.code == code)).first()
    if sup is None:
        raise ToolError(
            "not_found",
            f"supplier {code!r} not found",
            {"kind": "supplier", "key": code, "field": field_name},
        )
    return sup


def find_items(session: Session, codes: Iterable[str], field_name: str = "item") -> dict[str, Item]:
    """Items by code; ``not_found`` for the first code that does not exist."""
    wanted = sorted(set(codes))
    found = {i.code: i for i in session.exec(select(Item).where(Item.code.in_(wanted))).all()}  # type: ignore[attr-defined]
    missing = [c for c in wanted if c not in found]
    if missing:
        raise ToolError(
            "not_found",
            f"item {missing[0]!r} not found",
            {"kind": "item", "key": missing[0], "missing": missing, "field": field_name},
        )
    return found


# ---------------------------------------------------------------- requisitions


class ListPurchaseRequisitionsIn(BaseModel):
    status: RequisitionStatus | None = Field(
        default=None, description="only this status; default: the ones still to order (draft and approved)"
    )
    supplier: str | None = Field(default=None, max_length=64, description="supplier code")
    item: str | None = Field(default=None, max_length=64, description="item code")
    limit: int = Field(default=100, ge=1, le=500)


class RequisitionOut(BaseModel):
    code: str
    item: str
    item_name: str
    uom: str
    qty: Num
    need_date: date
    supplier: str | None
    status: RequisitionStatus
    source_ref: str
    purchase_order: str | None = Field(description="the purchase order it was ordered on, once ordered")


class ListPurchaseRequisitionsOut(BaseModel):
    total: int
    requisitions: list[RequisitionOut]


@tool(kind="read")
def list_purchase_requisitions(
    ctx: ToolContext, args: ListPurchaseRequisitionsIn
) -> ListPurchaseRequisitionsOut:
    """List purchase requisitions (请购单), earliest need date first; by default the ones still to order.

    Each gives the item, quantity, need date, suggested supplier and, once ordered, its purchase order.
    Turn approved ones into purchase orders with propose_purchase_orders.
    """
    session = ctx.session
    stmt = (
        select(PurchaseRequisition, Item, Supplier)
        .join(Item, Item.id == PurchaseRequisition.item_id)  # type: ignore[arg-type]
        .join(Supplier, Supplier.id == PurchaseRequisition.supplier_id, isouter=True)  # type: ignore[arg-type]
    )
    if args.status:
        stmt = stmt.where(PurchaseRequisition.status == args.status)
    else:
        stmt = stmt.where(PurchaseRequisition.status.in_(("draft", "approved")))  # type: ignore[attr-defined]
    if args.supplier:
        stmt = stmt.where(Supplier.code == args.supplier)
    if args.item:
        stmt = stmt.where(Item.code == args.item)
    rows = session.exec(stmt.order_by(PurchaseRequisition.need_date, PurchaseRequisition.code)).all()  # type: ignore[arg-type]
    ordered_on = (
        dict(
            session.exec(
                select(PurchaseOrderLine.requisition_id, PurchaseOrder.code)
                .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)  # type: ignore[arg-type]
                .where(PurchaseOrderLine.requisition_id.in_([r.id for r, _, _ in rows]))  # type: ignore[union-attr]
            ).all()
        )
        if rows
        else {}
    )
    out = [
        RequisitionOut(
            code=r.code,
            item=item.code,
            item_name=item.name,
            uom=item.uom,
            qty=r.qty,
            need_date=r.need_date,
            supplier=sup.code if sup else None,
            status=r.status,  # type: ignore[arg-type]
            source_ref=r.source_ref,
            purchase_order=ordered_on.get(r.id),
        )
        for r, item, sup in rows
    ]
    return ListPurchaseRequisitionsOut(total=len(out), requisitions=out[: args.limit])


# ---------------------------------------------------------------- purchase orders from requisitions


class ProposePurchaseOrdersIn(BaseModel):
    requisitions: list[str] = Field(min_length=1, max_length=200, description="requisition codes (PR-…)")
    supplier: str | None = Field(
        default=None,
        max_length=64,
        description="order all of them from this supplier; default: each requisition's supplier, else the "
        "item's preferred supplier",
    )
    order_date: date | None = Field(default=None, description="default: today; prices must be valid on it")


class PlannedPurchaseOrderLine(BaseModel):
    line_no: int
    requisition: str
    item: str
    item_name: str
    uom: str
    qty: Num
    due_date: date
    unit_price: Num
    price_source: Literal["price_list", "item_unit_cost"] = Field(
        description="the supplier's price list, or the item's unit cost where it has no valid price"
    )
    price_break_qty: Num | None = Field(description="the quantity break the price applies from")
    amount: Num


class PlannedPurchaseOrder(BaseModel):
    supplier: str
    supplier_name: str
    order_date: date
    lines: list[PlannedPurchaseOrderLine]
    total_amount: Num


class ProposePurchaseOrdersOut(ProposalOut):
    orders: list[PlannedPurchaseOrder]
    total_amount: Num


def _require_approved(req: PurchaseRequisition, index: int) -> None:
    if req.status == "approved":
        return
    hint = {
        "draft": "approve it first",
        "ordered": "it is already on a purchase order",
        "cancelled": "it is cancelled",
    }.get(req.status, "")
    raise ToolError(
        "conflict",
        f"requisition {req.code} is {req.status}: it cannot be ordered ({hint})",
        {"record": req.code, "field": f"requisitions.{index}", "status": req.status, "allowed": ["approved"]},
    )


def _plan_orders(session: Session, args: ProposePurchaseOrdersIn, on: date) -> list[PlannedPurchaseOrder]:
    codes = args.requisitions
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise ToolError(
            "invalid_input",
            f"requisition {dupes[0]} is listed twice",
            {"field": "requisitions", "duplicates": dupes},
        )
    reqs = {
        r.code: r
        for r in session.exec(select(PurchaseRequisition).where(PurchaseRequisition.code.in_(codes))).all()
    }  # type: ignore[attr-defined]
    for index, code in enumerate(codes):
        if code not in reqs:
            raise ToolError(
                "not_found",
                f"requisition {code!r} not found",
                {"kind": "purchase_requisition", "key": code, "field": f"requisitions.{index}"},
            )
        _require_approved(reqs[code], index)
    items = {
        i.id: i
        for i in session.exec(select(Item).where(Item.id.in_({r.item_id for r in reqs.values()}))).all()
    }  # type: ignore[attr-defined]
    override = find_supplier(session, args.supplier) if args.supplier else None
    groups: dict[int, tuple[Supplier, list[PurchaseRequisition]]] = {}
    for index, code in enumerate(codes):
        req = reqs[code]
        item = items[req.item_id]
        if item.source != "buy":
            use = "propose_subcontract_orders" if item.source == "subcontract" else "a production order"
            raise ToolError(
                "invalid_input",
                f"{code} is for {item.code}, a {item.source} item: use {use}",
                {"record": code, "field": f"requisitions.{index}", "source": item.source},
            )
        supplier = (
            override
            or (session.get(Supplier, req.supplier_id) if req.supplier_id else None)
            or _preferred_supplier(session, item)
        )
        if supplier is None:
            raise ToolError(
                "invalid_input",
                f"{code} ({item.code}) has no supplier and the item has no preferred one: give supplier",
                {"record": code, "field": "supplier"},
            )
        groups.setdefault(supplier.id or 0, (supplier, []))[1].append(req)
    orders = []
    for supplier, group in sorted(groups.values(), key=lambda g: g[0].code):
        # merged lines of one item share the price of their total: the quantity break the merge reaches
        totals: dict[int, Decimal] = defaultdict(Decimal)
        for req in group:
            totals[req.item_id] += req.qty
        prices = {
            iid: price_row(session, items[iid], supplier.id or 0, total, on) for iid, total in totals.items()
        }
        lines = []
        for n, req in enumerate(
            sorted(group, key=lambda r: (items[r.item_id].code, r.need_date, r.code)), start=1
        ):
            item, row = items[req.item_id], prices[req.item_id]
            price = row.price if row is not None else item.unit_cost
            lines.append(
                PlannedPurchaseOrderLine(
                    line_no=n,
                    requisition=req.code,
                    item=item.code,
                    item_name=item.name,
                    uom=item.uom,
                    qty=req.qty,
                    due_date=req.need_date,
                    unit_price=price,
                    price_source="price_list" if row is not None else "item_unit_cost",
                    price_break_qty=row.min_qty if row is not None else None,
                    amount=q6(price * req.qty),
                )
            )
        orders.append(
            PlannedPurchaseOrder(
                supplier=supplier.code,
                supplier_name=supplier.name,
                order_date=on,
                lines=lines,
                total_amount=sum((ln.amount for ln in lines), Decimal(0)),
            )
        )
    return orders


def _order_summaries(orders: Sequence[PlannedPurchaseOrder]) -> tuple[str, str]:
    zh_parts, en_parts = [], []
    for o in orders:
        shown = o.lines[:SUMMARY_LINES]
        more = len(o.lines) - len(shown)
        zh_lines = ";".join(
            f"{ln.item} {fmt_qty(ln.qty)} {ln.uom} @{fmt_qty(ln.unit_price)},交期 "
            f"{ln.due_date.isoformat()}({ln.requisition})"
            for ln in shown
        )
        en_lines = "; ".join(
            f"{ln.item} {fmt_qty(ln.qty)} {ln.uom} @ {fmt_qty(ln.unit_price)} due "
            f"{ln.due_date.isoformat()} ({ln.requisition})"
            for ln in shown
        )
        zh_parts.append(
            f"供应商 {o.supplier} {len(o.lines)} 行({zh_lines}{f';等另 {more} 行' if more > 0 else ''}),"
            f"金额 {fmt_qty(o.total_amount)}"
        )
        en_parts.append(
            f"{o.supplier}, {len(o.lines)} line(s) ({en_lines}{f'; and {more} more' if more > 0 else ''})"
            f", amount {fmt_qty(o.total_amount)}"
        )
    return (
        f"新建 {len(orders)} 张采购订单:" + ";".join(zh_parts) + "。",
        f"Create {len(orders)} purchase order(s): " + "; ".join(en_parts) + ".",
    )


@tool(kind="propose")
def propose_purchase_orders(ctx: ToolContext, args: ProposePurchaseOrdersIn) -> ProposePurchaseOrdersOut:
    """Propose purchase orders from approved requisitions, merged into one order per supplier.

    Each requisition becomes one line (due on its need date) linked to it. The price comes from the
    supplier's purchase price list valid on the order date, at the quantity break reached by the order's
    total of that item (the item's unit cost where there is none). Nothing is created until a buyer (or
    manager) confirms; the requisitions then become ordered.
    """
    on = args.order_date or ctx.today
    orders = _plan_orders(ctx.session, args, on)
    zh, en = _order_summaries(orders)
    total = sum((o.total_amount for o in orders), Decimal(0))
    effect = {"orders": [o.model_dump(mode="json") for o in orders]}
    base = create_proposal(
        ctx,
        kind=PURCHASE_ORDERS,
        tool="propose_purchase_orders",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master",),
    )
    return ProposePurchaseOrdersOut(**base.model_dump(), orders=orders, total_amount=total)


@applier(PURCHASE_ORDERS, roles=("buyer",), domains=("purchasing",))
def apply_purchase_orders(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the orders (confirmed) with their lines and mark their requisitions ordered."""
    orders = [PlannedPurchaseOrder.model_validate(o) for o in proposal.effect.get("orders", [])]
    codes = next_codes(session, PurchaseOrder.code, PO_PREFIX, len(orders))
    created = []
    for code, planned in zip(codes, orders, strict=True):
        supplier = find_supplier(session, planned.supplier)
        po = PurchaseOrder(
            code=code, supplier_id=supplier.id, order_date=planned.order_date, status="confirmed"
        )
        session.add(po)
        session.flush()
        for ln in planned.lines:
            req = session.exec(
                select(PurchaseRequisition).where(PurchaseRequisition.code == ln.requisition)
            ).one()
            try:
                transition("purchase_requisition", req, "ordered", req.code)
            except StateError as exc:
                raise state_conflict(exc) from None
            session.add(req)
            session.add(
                PurchaseOrderLine(
                    purchase_order_id=po.id or 0,
                    line_no=ln.line_no,
                    item_id=req.item_id,
                    qty=ln.qty,
                    received_qty=Decimal(0),
                    due_date=ln.due_date,
                    unit_price=ln.unit_price,
                    requisition_id=req.id,
                )
            )
            audit(
                session,
                actor,
                "order",
                entity="purchase_requisition",
                entity_ref=req.code,
                proposal_id=proposal.id,
                before={"status": "approved"},
                after={"status": "ordered", "purchase_order": code},
            )
        record = {
            "code": code,
            "supplier": planned.supplier,
            "status": "confirmed",
            "order_date": planned.order_date.isoformat(),
            "lines": [
                {
                    "line_no": ln.line_no,
                    "item": ln.item,
                    "qty": to_number(ln.qty),
                    "unit_price": to_number(ln.unit_price),
                    "due_date": ln.due_date.isoformat(),
                    "requisition": ln.requisition,
                }
                for ln in planned.lines
            ],
        }
        audit(
            session,
            actor,
            "create",
            entity="purchase_order",
            entity_ref=code,
            proposal_id=proposal.id,
            after=record,
        )
        created.append(record)
    session.flush()
    return {"purchase_orders": created}


# ---------------------------------------------------------------- one purchase order with its receipts


class GetPurchaseOrderIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="purchase order code")


class PurchaseOrderLineDetail(BaseModel):
    line_no: int
    item: str
    item_name: str
    uom: str
    qty: Num
    received_qty: Num = Field(description="delivered so far, into QC or stock")
    open_qty: Num = Field(description="still to deliver")
    receivable_qty: Num = Field(
        description="the most that may still be received (receipt tolerance included)"
    )
    in_inspection_qty: Num = Field(description="received and waiting in QC")
    accepted_qty: Num
    rejected_qty: Num = Field(description="rejected at inspection and returned")
    due_date: date
    unit_price: Num
    requisition: str | None


class ReceiptLineOut(BaseModel):
    line_no: int | None
    item: str
    qty: Num
    to_location: str
    inspection: str | None = Field(description="the inspection order of a lot received into QC")
    inspection_status: str | None


class ReceiptOut(BaseModel):
    code: str
    receipt_date: date
    status: str = Field(description="inspecting while a lot of it waits in QC, else done")
    lines: list[ReceiptLineOut]


class GetPurchaseOrderOut(BaseModel):
    code: str
    supplier: str | None
    supplier_name: str
    status: str
    order_date: date | None
    lines: list[PurchaseOrderLineDetail]
    receipts: list[ReceiptOut]
    total_amount: Num


def find_purchase_order(session: Session, code: str, field_name: str = "purchase_order") -> PurchaseOrder:
    po = session.exec(
        select(PurchaseOrder).where(PurchaseOrder.code == code).execution_options(populate_existing=True)
    ).first()
    if po is None:
        raise ToolError(
            "not_found",
            f"purchase order {code!r} not found",
            {"kind": "purchase_order", "key": code, "field": field_name},
        )
    return po


def _po_lines(session: Session, po: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(
        session.exec(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.purchase_order_id == po.id)
            .order_by(col(PurchaseOrderLine.line_no))
            .execution_options(populate_existing=True)
        ).all()
    )


@tool(kind="read")
def get_purchase_order(ctx: ToolContext, args: GetPurchaseOrderIn) -> GetPurchaseOrderOut:
    """One purchase order with its receiving progress: per line ordered, received, open, in QC, accepted,
    rejected and still receivable quantities, and its receipt notices with their inspection orders."""
    session = ctx.session
    po = find_purchase_order(session, args.order, "order")
    sup = session.get(Supplier, po.supplier_id) if po.supplier_id else None
    lines = _po_lines(session, po)
    items = {
        i.id: i for i in session.exec(select(Item).where(Item.id.in_({ln.item_id for ln in lines}))).all()
    }  # type: ignore[attr-defined]
    reqs = (
        dict(
            session.exec(
                select(PurchaseRequisition.id, PurchaseRequisition.code).where(
                    PurchaseRequisition.id.in_({ln.requisition_id for ln in lines if ln.requisition_id})
                )
            ).all()  # type: ignore[union-attr]
        )
        if lines
        else {}
    )
    rn_rows = session.exec(
        select(ReceiptNotice, ReceiptNoticeLine, InspectionOrder, Location)
        .join(ReceiptNoticeLine, ReceiptNoticeLine.receipt_notice_id == ReceiptNotice.id)  # type: ignore[arg-type]
        .join(Location, Location.id == ReceiptNoticeLine.to_location_id)  # type: ignore[arg-type]
        .join(InspectionOrder, InspectionOrder.receipt_line_id == ReceiptNoticeLine.id, isouter=True)  # type: ignore[arg-type]
        .where(ReceiptNotice.source_type == "purchase_order", ReceiptNotice.source_ref == po.code)
        .order_by(ReceiptNotice.id, ReceiptNoticeLine.line_no)  # type: ignore[arg-type]
    ).all()
    in_qc: dict[int, Decimal] = defaultdict(Decimal)
    accepted: dict[int, Decimal] = defaultdict(Decimal)
    rejected: dict[int, Decimal] = defaultdict(Decimal)
    receipts: dict[str, ReceiptOut] = {}
    line_no = {ln.id: ln.line_no for ln in lines}
    for notice, rl, insp, loc in rn_rows:
        key = rl.purchase_order_line_id or 0
        if insp is None:
            accepted[key] += rl.qty
        elif insp.status == "pending":
            in_qc[key] += insp.qty
        else:
            accepted[key] += insp.accepted_qty
            rejected[key] += insp.rejected_qty
        out = receipts.setdefault(
            notice.code,
            ReceiptOut(code=notice.code, receipt_date=notice.receipt_date, status=notice.status, lines=[]),
        )
        out.lines.append(
            ReceiptLineOut(
                line_no=line_no.get(key),
                item=items[rl.item_id].code,
                qty=rl.qty,
                to_location=loc.code,
                inspection=insp.code if insp else None,
                inspection_status=insp.status if insp else None,
            )
        )
    details = []
    for ln in lines:
        item = items[ln.item_id]
        details.append(
            PurchaseOrderLineDetail(
                line_no=ln.line_no,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                qty=ln.qty,
                received_qty=ln.received_qty,
                open_qty=max(ln.qty - ln.received_qty, Decimal(0)),
                receivable_qty=max(
                    receipt_limit(ln.qty, ctx.settings.receipt_tolerance) - ln.received_qty, Decimal(0)
                )
                if po.status in RECEIVABLE
                else Decimal(0),
                in_inspection_qty=in_qc[ln.id or 0],
                accepted_qty=accepted[ln.id or 0],
                rejected_qty=rejected[ln.id or 0],
                due_date=ln.due_date,
                unit_price=ln.unit_price,
                requisition=reqs.get(ln.requisition_id),
            )
        )
    return GetPurchaseOrderOut(
        code=po.code,
        supplier=sup.code if sup else None,
        supplier_name=sup.name if sup else "",
        status=po.status,
        order_date=po.order_date,
        lines=details,
        receipts=list(receipts.values()),
        total_amount=sum((q6(ln.qty * ln.unit_price) for ln in lines), Decimal(0)),
    )


# ---------------------------------------------------------------- receiving against a purchase order


class ReceiptLineIn(BaseModel):
    line_no: int | None = Field(default=None, ge=1, description="PO line number; or give the item")
    item: str | None = Field(
        default=None,
        max_length=64,
        description="item code; without line_no the quantity fills its open lines, earliest due first",
    )
    qty: Num = Field(gt=0, description="quantity delivered, in the item's unit of measure")

    @model_validator(mode="after")
    def _line_or_item(self) -> ReceiptLineIn:
        if self.line_no is None and not self.item:
            raise ValueError("give line_no or item")
        return self


class ProposePurchaseReceiptIn(BaseModel):
    purchase_order: str = Field(min_length=1, max_length=64, description="purchase order code")
    lines: list[ReceiptLineIn] = Field(min_length=1, max_length=200)
    inspect: bool = Field(
        default=False,
        description="send everything to QC for inspection (items that require inspection always go)",
    )
    receipt_date: date | None = Field(default=None, description="default: today")
    note: str = Field(default="", max_length=300, description="e.g. the supplier's delivery note number")


class PlannedReceiptLine(BaseModel):
    line_no: int
    item: str
    uom: str
    qty: Num
    unit_price: Num
    to_location: str = Field(description="QC (to be inspected) or STOCK")
    received_after: Num
    ordered: Num


class ProposePurchaseReceiptOut(ProposalOut):
    purchase_order: str
    supplier: str | None
    lines: list[PlannedReceiptLine]
    status_after: str = Field(description="the order's status once received: partial or received")


def _require_receivable(po: PurchaseOrder) -> None:
    if po.status not in RECEIVABLE:
        raise ToolError(
            "conflict",
            f"purchase order {po.code} is {po.status}: nothing can be received on it "
            f"({_PO_STATE_HINTS.get(po.status, '')})",
            {"record": po.code, "field": "status", "status": po.status, "allowed": list(RECEIVABLE)},
        )


def _allocate(
    po: PurchaseOrder, lines: list[PurchaseOrderLine], items: dict[int, Item], args: ProposePurchaseReceiptIn
) -> dict[int, Decimal]:
    """Quantity per PO line number: given lines as they are, an item's quantity over its open lines."""
    by_no = {ln.line_no: ln for ln in lines}
    alloc: dict[int, Decimal] = defaultdict(Decimal)
    for index, rl in enumerate(args.lines):
        if rl.line_no is not None:
            pl = by_no.get(rl.line_no)
            if pl is None:
                raise ToolError(
                    "invalid_input",
                    f"{po.code} has no line {rl.line_no}",
                    {"record": po.code, "field": f"lines.{index}.line_no", "lines": sorted(by_no)},
                )
            if rl.item and rl.item != items[pl.item_id].code:
                raise ToolError(
                    "invalid_input",
                    f"{po.code} line {rl.line_no} is {items[pl.item_id].code}, not {rl.item}",
                    {"record": po.code, "field": f"lines.{index}.item"},
                )
            alloc[pl.line_no] += rl.qty
            continue
        candidates = sorted(
            (ln for ln in lines if items[ln.item_id].code == rl.item),
            key=lambda ln: (ln.due_date, ln.line_no),
        )
        if not candidates:
            raise ToolError(
                "invalid_input",
                f"{po.code} has no line of {rl.item}",
                {"record": po.code, "field": f"lines.{index}.item", "item": rl.item},
            )
        left = rl.qty
        for ln in candidates:
            take = min(left, max(ln.qty - ln.received_qty - alloc[ln.line_no], Decimal(0)))
            if take > 0:
                alloc[ln.line_no] += take
                left -= take
        if left > 0:  # more than is open: the tolerance check of the last line decides
            alloc[candidates[-1].line_no] += left
    return alloc


def _status_after(lines: list[PurchaseOrderLine], alloc: dict[int, Decimal]) -> str:
    done = all(ln.received_qty + alloc.get(ln.line_no, Decimal(0)) >= ln.qty for ln in lines)
    return "received" if done else "partial"


def _plan_receipt(
    ctx: ToolContext, args: ProposePurchaseReceiptIn
) -> tuple[PurchaseOrder, list[PlannedReceiptLine], str]:
    session = ctx.session
    po = find_purchase_order(session, args.purchase_order)
    _require_receivable(po)
    lines = _po_lines(session, po)
    items = {
        i.id or 0: i
        for i in session.exec(select(Item).where(Item.id.in_({ln.item_id for ln in lines}))).all()
    }  # type: ignore[attr-defined]
    alloc = _allocate(po, lines, items, args)
    planned = []
    for ln in lines:
        qty = alloc.get(ln.line_no)
        if not qty:
            continue
        item = items[ln.item_id]
        err = over_receipt(
            f"{po.code} line {ln.line_no} ({item.code})",
            ln.qty,
            ln.received_qty,
            qty,
            ctx.settings.receipt_tolerance,
            po.code,
            "lines",
        )
        if err is not None:
            raise err
        planned.append(
            PlannedReceiptLine(
                line_no=ln.line_no,
                item=item.code,
                uom=item.uom,
                qty=qty,
                unit_price=ln.unit_price,
                to_location="QC" if (args.inspect or item.inspection_required) else "STOCK",
                received_after=ln.received_qty + qty,
                ordered=ln.qty,
            )
        )
    return po, planned, _status_after(lines, alloc)


def _receipt_summaries(
    po: PurchaseOrder, supplier: str | None, lines: list[PlannedReceiptLine], status_after: str
) -> tuple[str, str]:
    zh = ";".join(
        f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}(行 {ln.line_no})"
        + ("进待检区 QC 待检" if ln.to_location == "QC" else "直接入库 STOCK")
        for ln in lines
    )
    en = "; ".join(
        f"{ln.item} {fmt_qty(ln.qty)} {ln.uom} (line {ln.line_no}) "
        + ("into QC for inspection" if ln.to_location == "QC" else "into STOCK")
        for ln in lines
    )
    status_zh = "全部收货" if status_after == "received" else "部分收货"
    sup_zh = f"(供应商 {supplier})" if supplier else ""
    sup_en = f" from {supplier}" if supplier else ""
    return (
        f"采购收料 {po.code}{sup_zh}:{zh}。订单将变为{status_zh}。",
        f"Receive on {po.code}{sup_en}: {en}. The order becomes {status_after}.",
    )


@tool(kind="propose")
def propose_purchase_receipt(ctx: ToolContext, args: ProposePurchaseReceiptIn) -> ProposePurchaseReceiptOut:
    """Propose receiving a delivery (收料) on a purchase order: partial deliveries are fine.

    Give each line by PO line number or by item. Goods of items that require inspection (or all, with
    `inspect`) go to QC and get an inspection order; the rest go straight into stock, valued at the PO
    line's price. Receiving more than ordered beyond the receipt tolerance is refused, as is receiving on
    a closed, cancelled or fully received order. Nothing changes until the warehouse (or a manager)
    confirms; the order then becomes partial or received.
    """
    po, lines, status_after = _plan_receipt(ctx, args)
    supplier = ctx.session.get(Supplier, po.supplier_id) if po.supplier_id else None
    on = args.receipt_date or ctx.today
    effect = {
        "purchase_order": po.code,
        "receipt_date": on.isoformat(),
        "note": args.note,
        "lines": [ln.model_dump(mode="json") for ln in lines],
        "status_after": status_after,
        # the tolerance it was proposed under is the one it is applied under
        "receipt_tolerance": ctx.settings.receipt_tolerance,
    }
    zh, en = _receipt_summaries(po, supplier.code if supplier else None, lines, status_after)
    base = create_proposal(
        ctx,
        kind=PURCHASE_RECEIPT,
        tool="propose_purchase_receipt",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
    )
    return ProposePurchaseReceiptOut(
        **base.model_dump(),
        purchase_order=po.code,
        supplier=supplier.code if supplier else None,
        lines=lines,
        status_after=status_after,
    )


@applier(PURCHASE_RECEIPT, roles=("warehouse",), domains=("purchasing", "stock"))
def apply_purchase_receipt(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Post the receipt: ledger moves, receipt notice, inspection orders, received quantities, PO status."""
    eff = proposal.effect
    po = find_purchase_order(session, str(eff["purchase_order"]))
    _require_receivable(po)
    on = date.fromisoformat(eff["receipt_date"])
    planned = [PlannedReceiptLine.model_validate(r) for r in eff["lines"]]
    lines = {ln.line_no: ln for ln in _po_lines(session, po)}
    inspecting = any(p.to_location == "QC" for p in planned)
    notice = new_receipt_notice(
        session,
        actor,
        source_type="purchase_order",
        source_ref=po.code,
        receipt_date=on,
        inspecting=inspecting,
        supplier_id=po.supplier_id,
        note=str(eff.get("note", "")),
        proposal_id=proposal.id,
    )
    tolerance = float(eff.get("receipt_tolerance", get_settings().receipt_tolerance))
    posted = []
    for n, p in enumerate(planned, start=1):
        pl = lines[p.line_no]
        err = over_receipt(
            f"{po.code} line {pl.line_no} ({p.item})",
            pl.qty,
            pl.received_qty,
            p.qty,
            tolerance,
            po.code,
            "lines",
        )
        if err is not None:
            raise err
        to = location_by_code(session, p.to_location)
        try:
            move = post_move(
                session,
                item_id=pl.item_id,
                qty=p.qty,
                from_code="VENDOR",
                to_code=to.code,
                move_type="receipt",
                move_date=on,
                doc_type="purchase_order",
                doc_ref=po.code,
                unit_cost=pl.unit_price,
                actor=actor.username,
            )
        except StockError as exc:
            raise stock_conflict(exc, po.code) from None
        rl = add_receipt_line(
            session, notice, n, pl.item_id, p.qty, pl.unit_price, to, move.id, purchase_order_line_id=pl.id
        )
        inspection = None
        if to.kind == "inspection":
            inspection = open_inspection(
                session,
                actor,
                source_type="purchase_order",
                source_ref=po.code,
                item_id=pl.item_id,
                qty=p.qty,
                unit_cost=pl.unit_price,
                location_id=to.id or 0,
                supplier_id=po.supplier_id,
                receipt_line_id=rl.id,
                proposal_id=proposal.id,
            ).code
        pl.received_qty = q6(pl.received_qty + p.qty)
        session.add(pl)
        posted.append(
            {
                "line_no": pl.line_no,
                "item": p.item,
                "qty": to_number(p.qty),
                "to_location": to.code,
                "unit_cost": to_number(pl.unit_price),
                "inspection": inspection,
            }
        )
    before = po.status
    target = "received" if all(ln.received_qty >= ln.qty for ln in lines.values()) else "partial"
    if target != po.status:
        try:
            transition("purchase_order", po, target, po.code)
        except StateError as exc:
            raise state_conflict(exc) from None
        session.add(po)
    session.flush()
    record = {
        "code": notice.code,
        "purchase_order": po.code,
        "receipt_date": on.isoformat(),
        "lines": posted,
        "purchase_order_status": po.status,
    }
    audit(
        session,
        actor,
        "receive",
        entity="receipt_notice",
        entity_ref=notice.code,
        proposal_id=proposal.id,
        before={"purchase_order_status": before},
        after=record,
    )
    return record
