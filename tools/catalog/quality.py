"""Quality tools: inspection orders (质检单) for lots received into QC, and their results (入库 / 退货).

A receipt into QC (purchase, subcontract or production) opens a pending inspection order naming its source
document. Confirming a result moves the accepted quantity QC → STOCK (move_type ``transfer``, doc_type
``inspection``) and the rejected one back where it came from (a vendor, the subcontractor, production) or to
scrap, with the defect as the move's reason. Stock in QC is not available to promise.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from data_model.stock import StockError, fmt_qty, on_hand, post_move
from data_model.tables import (
    InspectionOrder,
    Item,
    ItemValuation,
    Location,
    Proposal,
    ReceiptNotice,
    ReceiptNoticeLine,
    Supplier,
)
from data_model.tables.inventory import INTERNAL_KINDS
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num, to_number

INSPECTION_RESULT = "inspection_result"
INSPECTION_ORDER = "inspection_order"
INSPECTION_PREFIX = "IQ-"
SIX_PLACES = Decimal("0.000001")

InspectionStatus = Literal["pending", "done", "cancelled"]
SourceType = Literal["purchase_order", "subcontract_order", "production_order"]
Disposition = Literal["return", "scrap"]

_SOURCE_ZH = {"purchase_order": "采购订单", "subcontract_order": "委外订单", "production_order": "生产订单"}


def q6(value: Decimal) -> Decimal:
    """A quantity rounded half-up to the 6 places the database keeps."""
    return Decimal(value).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def dec(value: object) -> Decimal:
    """A quantity read back from a proposal's JSON (a number there) as an exact decimal."""
    return Decimal(str(value))


def open_inspection(
    session: Session,
    actor: Actor,
    *,
    source_type: SourceType,
    source_ref: str,
    item_id: int,
    qty: Decimal,
    unit_cost: Decimal,
    location_id: int,
    supplier_id: int | None = None,
    receipt_line_id: int | None = None,
    proposal_id: str = "",
) -> InspectionOrder:
    """Open a pending inspection order (IQ-…) for a lot just received into a QC location.

    Call it in the transaction that posts the receipt (after the domain bump that serializes writers, so
    codes cannot collide); ``unit_cost`` is what the lot came in at, the price a rejected lot goes back at.
    """
    code = next_codes(session, InspectionOrder.code, INSPECTION_PREFIX, 1)[0]
    row = InspectionOrder(
        code=code,
        source_type=source_type,
        source_ref=source_ref,
        receipt_line_id=receipt_line_id,
        item_id=item_id,
        qty=q6(qty),
        unit_cost=q6(unit_cost),
        location_id=location_id,
        supplier_id=supplier_id,
        status="pending",
        proposal_id=proposal_id,
    )
    session.add(row)
    session.flush()
    item = session.get(Item, item_id)
    audit(
        session,
        actor,
        "create",
        entity="inspection_order",
        entity_ref=code,
        proposal_id=proposal_id,
        after={
            "code": code,
            "source_type": source_type,
            "source_ref": source_ref,
            "item": item.code if item else item_id,
            "qty": to_number(qty),
            "status": "pending",
        },
    )
    return row


# ---------------------------------------------------------------- reading


class GetInspectionOrdersIn(BaseModel):
    status: InspectionStatus | None = Field(
        default=None, description="pending, done or cancelled; default: all"
    )
    source_ref: str | None = Field(
        default=None, max_length=64, description="only lots received on this document (PO / order code)"
    )
    item: str | None = Field(default=None, max_length=64, description="item code")
    supplier: str | None = Field(default=None, max_length=64, description="supplier code")
    limit: int = Field(default=100, ge=1, le=500)


class InspectionOrderOut(BaseModel):
    code: str
    status: InspectionStatus
    source_type: SourceType
    source_ref: str = Field(description="the document the lot was received on")
    receipt: str | None = Field(description="the receipt notice (RN-…) it came in on, if any")
    item: str
    item_name: str
    uom: str
    qty: Num = Field(description="quantity in the lot, waiting in `location` until inspected")
    sampled_qty: Num
    accepted_qty: Num
    rejected_qty: Num
    defect_reason: str
    disposition: str = Field(description="what happened to the rejected quantity: return or scrap")
    location: str
    supplier: str | None
    received_on: date
    inspection_date: date | None
    inspected_by: str


class UncoveredQcStock(BaseModel):
    location: str
    item: str
    uom: str
    qty: Num = Field(description="held in the QC location but on no pending inspection order")


class GetInspectionOrdersOut(BaseModel):
    total: int
    pending_qty_by_item: dict[str, Num] = Field(description="quantity still waiting in QC per item code")
    orders: list[InspectionOrderOut]
    uncovered: list[UncoveredQcStock] = Field(
        description="stock in QC that no pending inspection order covers (e.g. loaded opening stock): open "
        "one with propose_inspection_order"
    )


def uncovered_qc_stock(session: Session) -> dict[tuple[int, int], Decimal]:
    """Quantity per (QC location id, item id) held in QC beyond what pending inspection orders cover."""
    out: dict[tuple[int, int], Decimal] = {}
    pending: dict[tuple[int, int], Decimal] = {
        (loc_id, item_id): Decimal(str(total or 0))
        for loc_id, item_id, total in session.exec(
            select(InspectionOrder.location_id, InspectionOrder.item_id, sa.func.sum(InspectionOrder.qty))
            .where(InspectionOrder.status == "pending")
            .group_by(InspectionOrder.location_id, InspectionOrder.item_id)
        ).all()
    }
    for loc in session.exec(select(Location).where(Location.kind == "inspection")).all():
        for item_id, held in on_hand(session, kinds=("inspection",), location_ids=[loc.id or 0]).items():
            extra = held - pending.get((loc.id or 0, item_id), Decimal(0))
            if extra > 0:
                out[(loc.id or 0, item_id)] = extra
    return out


def _received_on(created_at: datetime, notice: ReceiptNotice | None) -> date:
    return notice.receipt_date if notice is not None else created_at.date()


@tool(kind="read")
def get_inspection_orders(ctx: ToolContext, args: GetInspectionOrdersIn) -> GetInspectionOrdersOut:
    """List inspection orders (质检单), oldest first: lots waiting in QC and the results of inspected ones.

    Each gives the source document (purchase, subcontract or production order), the lot's quantity and,
    once inspected, the sampled, accepted and rejected quantities and the defect reason. Stock in QC is
    not available until accepted. Record a result with propose_inspection_result.
    """
    session = ctx.session
    stmt = (
        select(InspectionOrder, Item, Location, Supplier, ReceiptNotice)
        .join(Item, Item.id == InspectionOrder.item_id)  # type: ignore[arg-type]
        .join(Location, Location.id == InspectionOrder.location_id)  # type: ignore[arg-type]
        .join(Supplier, Supplier.id == InspectionOrder.supplier_id, isouter=True)  # type: ignore[arg-type]
        .join(ReceiptNoticeLine, ReceiptNoticeLine.id == InspectionOrder.receipt_line_id, isouter=True)  # type: ignore[arg-type]
        .join(ReceiptNotice, ReceiptNotice.id == ReceiptNoticeLine.receipt_notice_id, isouter=True)  # type: ignore[arg-type]
    )
    if args.status:
        stmt = stmt.where(InspectionOrder.status == args.status)
    if args.source_ref:
        stmt = stmt.where(InspectionOrder.source_ref == args.source_ref)
    if args.item:
        stmt = stmt.where(Item.code == args.item)
    if args.supplier:
        stmt = stmt.where(Supplier.code == args.supplier)
    rows = session.exec(stmt.order_by(InspectionOrder.id)).all()  # type: ignore[arg-type]
    pending: dict[str, Decimal] = {}
    out = []
    for row, item, loc, sup, notice in rows:
        if row.status == "pending":
            pending[item.code] = pending.get(item.code, Decimal(0)) + row.qty
        out.append(
            InspectionOrderOut(
                code=row.code,
                status=row.status,  # type: ignore[arg-type]
                source_type=row.source_type,  # type: ignore[arg-type]
                source_ref=row.source_ref,
                receipt=notice.code if notice else None,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                qty=row.qty,
                sampled_qty=row.sampled_qty,
                accepted_qty=row.accepted_qty,
                rejected_qty=row.rejected_qty,
                defect_reason=row.defect_reason,
                disposition=row.disposition,
                location=loc.code,
                supplier=sup.code if sup else None,
                received_on=_received_on(row.created_at, notice),
                inspection_date=row.inspection_date,
                inspected_by=row.inspected_by,
            )
        )
    extra = uncovered_qc_stock(session)
    names = {
        loc.id: loc.code for loc in session.exec(select(Location).where(Location.kind == "inspection")).all()
    }
    extra_items = {
        i.id: i for i in session.exec(select(Item).where(col(Item.id).in_({i for _, i in extra}))).all()
    }
    uncovered = sorted(
        (
            UncoveredQcStock(
                location=names[loc_id], item=extra_items[item_id].code, uom=extra_items[item_id].uom, qty=qty
            )
            for (loc_id, item_id), qty in extra.items()
            if not args.item or extra_items[item_id].code == args.item
        ),
        key=lambda u: (u.location, u.item),
    )
    return GetInspectionOrdersOut(
        total=len(out), pending_qty_by_item=pending, orders=out[: args.limit], uncovered=uncovered
    )


# ---------------------------------------------------------------- opening an inspection order by hand


class ProposeInspectionOrderIn(BaseModel):
    item: str = Field(min_length=1, max_length=64, description="item code")
    qty: Num | None = Field(default=None, gt=0, description="default: all of it in QC not yet on an order")
    location: str = Field(default="QC", max_length=64, description="the QC location holding it")
    source_type: SourceType = Field(default="purchase_order", description="what kind of document it came on")
    source_ref: str = Field(default="", max_length=64, description="that document's code, if known")


class ProposeInspectionOrderOut(ProposalOut):
    item: str
    qty: Num
    location: str


def _plan_inspection_order(
    session: Session, args: ProposeInspectionOrderIn
) -> tuple[Item, Location, Decimal]:
    item = session.exec(select(Item).where(Item.code == args.item)).first()
    if item is None:
        raise ToolError("not_found", f"item {args.item!r} not found", {"kind": "item", "key": args.item})
    loc = session.exec(select(Location).where(Location.code == args.location)).first()
    if loc is None or loc.kind != "inspection":
        raise ToolError(
            "invalid_input",
            f"{args.location} is not a QC (inspection) location",
            {"field": "location", "location": args.location},
        )
    free = uncovered_qc_stock(session).get((loc.id or 0, item.id or 0), Decimal(0))
    qty = args.qty if args.qty is not None else free
    if qty <= 0 or qty > free:
        raise ToolError(
            "invalid_input",
            f"{fmt_qty(free)} {item.code} at {loc.code} are on no pending inspection order; "
            f"cannot open one for {fmt_qty(qty)}",
            {"field": "qty", "item": item.code, "location": loc.code, "uncovered": fmt_qty(free)},
        )
    return item, loc, qty


@tool(kind="propose")
def propose_inspection_order(ctx: ToolContext, args: ProposeInspectionOrderIn) -> ProposeInspectionOrderOut:
    """Propose opening an inspection order for stock already in QC that none covers (e.g. opening stock).

    Receipts open their inspection orders themselves; use this only for what get_inspection_orders lists
    as uncovered. Nothing changes until quality or the warehouse (or a manager) confirms.
    """
    item, loc, qty = _plan_inspection_order(ctx.session, args)
    ref_zh = f"(来源 {args.source_ref})" if args.source_ref else ""
    ref_en = f" (from {args.source_ref})" if args.source_ref else ""
    base = create_proposal(
        ctx,
        kind=INSPECTION_ORDER,
        tool="propose_inspection_order",
        args=args,
        summary_zh=f"为 {loc.code} 中的 {item.code} {fmt_qty(qty)} {item.uom} 开质检单{ref_zh}。",
        summary_en=f"Open an inspection order for {item.code} {fmt_qty(qty)} {item.uom} in {loc.code}{ref_en}.",
        effect={"item": item.code, "qty": to_number(qty), "location": loc.code},
    )
    return ProposeInspectionOrderOut(**base.model_dump(), item=item.code, qty=qty, location=loc.code)


@applier(INSPECTION_ORDER, roles=("quality", "warehouse"), domains=("stock",))
def apply_inspection_order(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Open the inspection order, valued at the item's moving-average cost."""
    args = ProposeInspectionOrderIn.model_validate(proposal.args)
    args.qty = dec(proposal.effect["qty"])
    item, loc, qty = _plan_inspection_order(session, args)
    valued = session.get(ItemValuation, item.id)
    row = open_inspection(
        session,
        actor,
        source_type=args.source_type,
        source_ref=args.source_ref,
        item_id=item.id or 0,
        qty=qty,
        unit_cost=valued.avg_cost if valued is not None else item.unit_cost,
        location_id=loc.id or 0,
        proposal_id=proposal.id,
    )
    return {"code": row.code, "item": item.code, "qty": to_number(qty), "location": loc.code}


# ---------------------------------------------------------------- recording a result


class ProposeInspectionResultIn(BaseModel):
    inspection: str = Field(min_length=1, max_length=64, description="inspection order code, IQ-…")
    accepted_qty: Num = Field(ge=0, description="quantity accepted into stock")
    rejected_qty: Num = Field(default=Decimal(0), ge=0, description="quantity rejected")
    sampled_qty: Num = Field(
        default=Decimal(0), ge=0, description="quantity sampled (抽检数), for the record"
    )
    defect_reason: str = Field(default="", max_length=300, description="the defect found; required to reject")
    disposition: Disposition | None = Field(
        default=None,
        description="rejected goods: 'return' (to the vendor / subcontractor; back to production for a "
        "production lot) or 'scrap'; default return, or scrap for a production lot",
    )
    inspection_date: date | None = Field(default=None, description="default: today")


class PlannedInspectionMove(BaseModel):
    qty: Num
    from_location: str
    to_location: str
    move_type: str
    reason: str


class ProposeInspectionResultOut(ProposalOut):
    inspection: str
    source_type: SourceType
    source_ref: str
    item: str
    qty: Num
    sampled_qty: Num
    accepted_qty: Num
    rejected_qty: Num
    disposition: str
    moves: list[PlannedInspectionMove]


def find_inspection(session: Session, code: str, field_name: str = "inspection") -> InspectionOrder:
    row = session.exec(
        select(InspectionOrder).where(InspectionOrder.code == code).execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ToolError(
            "not_found",
            f"inspection order {code!r} not found",
            {"kind": "inspection_order", "key": code, "field": field_name},
        )
    return row


def _require_pending(row: InspectionOrder) -> None:
    if row.status != "pending":
        by = f" by {row.inspected_by}" if row.inspected_by else ""
        on = f" on {row.inspection_date.isoformat()}" if row.inspection_date else ""
        raise ToolError(
            "conflict",
            f"inspection order {row.code} is {row.status}{on}{by}: its result cannot be recorded again",
            {"record": row.code, "field": "status", "status": row.status, "allowed": ["pending"]},
        )


def _rejected_destination(source_type: str, disposition: str) -> tuple[str, str]:
    """(location code, move type) for rejected goods: back to their origin, or scrapped."""
    if disposition == "scrap":
        return "PRODUCTION", "scrap"
    return ("PRODUCTION" if source_type == "production_order" else "VENDOR"), "return"


def _plan_moves(
    row: InspectionOrder, loc: str, accepted: Decimal, rejected: Decimal, disposition: str, reason: str
) -> list[PlannedInspectionMove]:
    moves = []
    if accepted > 0:
        moves.append(
            PlannedInspectionMove(
                qty=accepted, from_location=loc, to_location="STOCK", move_type="transfer", reason=""
            )
        )
    if rejected > 0:
        dest, move_type = _rejected_destination(row.source_type, disposition)
        moves.append(
            PlannedInspectionMove(
                qty=rejected, from_location=loc, to_location=dest, move_type=move_type, reason=reason
            )
        )
    return moves


def _summaries(
    row: InspectionOrder, item: Item, args: ProposeInspectionResultIn, disposition: str
) -> tuple[str, str]:
    head_zh = (
        f"质检单 {row.code}({_SOURCE_ZH.get(row.source_type, row.source_type)} {row.source_ref},"
        f"{item.code} {fmt_qty(row.qty)} {item.uom}):"
    )
    head_en = f"Inspection {row.code} ({row.source_ref}, {item.code} {fmt_qty(row.qty)} {item.uom}): "
    zh = [f"抽检 {fmt_qty(args.sampled_qty)}"] if args.sampled_qty > 0 else []
    en = [f"{fmt_qty(args.sampled_qty)} sampled"] if args.sampled_qty > 0 else []
    if args.accepted_qty > 0:
        zh.append(f"合格 {fmt_qty(args.accepted_qty)} 入库")
        en.append(f"{fmt_qty(args.accepted_qty)} accepted into stock")
    if args.rejected_qty > 0:
        if disposition == "scrap":
            where_zh, where_en = "报废", "scrapped"
        elif row.source_type == "production_order":
            where_zh, where_en = "退回生产返工", "returned to production"
        else:
            where_zh, where_en = "退回供应商", "returned to the supplier"
        zh.append(f"不合格 {fmt_qty(args.rejected_qty)} {where_zh}(原因:{args.defect_reason.strip()})")
        en.append(f"{fmt_qty(args.rejected_qty)} rejected and {where_en} ({args.defect_reason.strip()})")
    return head_zh + ",".join(zh) + "。", head_en + ", ".join(en) + "."


@tool(kind="propose")
def propose_inspection_result(
    ctx: ToolContext, args: ProposeInspectionResultIn
) -> ProposeInspectionResultOut:
    """Propose the result of an inspection order: sampled, accepted and rejected quantities, defect reason.

    The whole lot is decided at once (accepted + rejected = the lot's quantity). On confirmation by
    quality (or a manager) the accepted quantity moves from QC into stock and the rejected one is returned
    to the vendor / subcontractor at the price it came in at (a production lot goes back to production),
    or scrapped; a reason is required to reject. Nothing changes until a person confirms.
    """
    session = ctx.session
    row = find_inspection(session, args.inspection)
    _require_pending(row)
    item = session.get(Item, row.item_id)
    loc = session.get(Location, row.location_id)
    assert item is not None and loc is not None  # foreign keys
    decided = args.accepted_qty + args.rejected_qty
    if decided != row.qty:
        raise ToolError(
            "invalid_input",
            f"{row.code} holds {fmt_qty(row.qty)} {item.uom} of {item.code}: accepted {fmt_qty(args.accepted_qty)}"
            f" + rejected {fmt_qty(args.rejected_qty)} = {fmt_qty(decided)}; decide the whole lot",
            {
                "record": row.code,
                "field": "accepted_qty",
                "lot_qty": fmt_qty(row.qty),
                "accepted_qty": fmt_qty(args.accepted_qty),
                "rejected_qty": fmt_qty(args.rejected_qty),
            },
        )
    if args.sampled_qty > row.qty:
        raise ToolError(
            "invalid_input",
            f"{row.code}: sampled {fmt_qty(args.sampled_qty)} is more than the lot of {fmt_qty(row.qty)}",
            {"record": row.code, "field": "sampled_qty", "lot_qty": fmt_qty(row.qty)},
        )
    if args.rejected_qty > 0 and not args.defect_reason.strip():
        raise ToolError(
            "invalid_input",
            f"{row.code}: give the defect reason for the {fmt_qty(args.rejected_qty)} rejected",
            {"record": row.code, "field": "defect_reason"},
        )
    disposition = args.disposition or ("scrap" if row.source_type == "production_order" else "return")
    held = on_hand(session, [item.id or 0], kinds=INTERNAL_KINDS, location_ids=[loc.id or 0]).get(
        item.id or 0, Decimal(0)
    )
    if held < row.qty:
        raise ToolError(
            "infeasible",
            f"only {fmt_qty(held)} {item.code} are at {loc.code}, but {row.code} holds {fmt_qty(row.qty)}",
            {"record": row.code, "item": item.code, "location": loc.code, "on_hand": fmt_qty(held)},
        )
    on = args.inspection_date or ctx.today
    moves = _plan_moves(
        row, loc.code, args.accepted_qty, args.rejected_qty, disposition, args.defect_reason.strip()
    )
    effect = {
        "inspection": row.code,
        "item": item.code,
        "qty": to_number(row.qty),
        "sampled_qty": to_number(args.sampled_qty),
        "accepted_qty": to_number(args.accepted_qty),
        "rejected_qty": to_number(args.rejected_qty),
        "defect_reason": args.defect_reason.strip(),
        "disposition": disposition if args.rejected_qty > 0 else "",
        "inspection_date": on.isoformat(),
        "moves": [m.model_dump(mode="json") for m in moves],
    }
    zh, en = _summaries(row, item, args, disposition)
    base = create_proposal(
        ctx,
        kind=INSPECTION_RESULT,
        tool="propose_inspection_result",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
    )
    return ProposeInspectionResultOut(
        **base.model_dump(),
        inspection=row.code,
        source_type=row.source_type,  # type: ignore[arg-type]
        source_ref=row.source_ref,
        item=item.code,
        qty=row.qty,
        sampled_qty=args.sampled_qty,
        accepted_qty=args.accepted_qty,
        rejected_qty=args.rejected_qty,
        disposition=effect["disposition"],
        moves=moves,
    )


def _close_receipt_notice(session: Session, row: InspectionOrder) -> None:
    """A receipt notice is done once none of its lines has a pending inspection."""
    if row.receipt_line_id is None:
        return
    line = session.get(ReceiptNoticeLine, row.receipt_line_id)
    if line is None:
        return
    still = session.exec(
        select(sa.func.count())
        .select_from(InspectionOrder)
        .join(ReceiptNoticeLine, ReceiptNoticeLine.id == InspectionOrder.receipt_line_id)  # type: ignore[arg-type]
        .where(
            ReceiptNoticeLine.receipt_notice_id == line.receipt_notice_id, InspectionOrder.status == "pending"
        )
    ).one()
    if still == 0:
        notice = session.get(ReceiptNotice, line.receipt_notice_id)
        if notice is not None and notice.status != "done":
            notice.status = "done"
            session.add(notice)


@applier(INSPECTION_RESULT, roles=("quality",), domains=("stock",))
def apply_inspection_result(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Record the result and post the QC moves; a lot already decided is refused (never applied twice)."""
    eff = proposal.effect
    code = str(eff["inspection"])
    on = date.fromisoformat(eff["inspection_date"])
    values = {
        "status": "done",
        "sampled_qty": dec(eff["sampled_qty"]),
        "accepted_qty": dec(eff["accepted_qty"]),
        "rejected_qty": dec(eff["rejected_qty"]),
        "defect_reason": str(eff["defect_reason"]),
        "disposition": str(eff["disposition"]),
        "inspection_date": on,
        "inspected_by": actor.username,
        "proposal_id": proposal.id,
    }
    # a conditional update: of two results for one lot only the first finds it pending
    claimed = session.exec(
        sa.update(InspectionOrder)  # type: ignore[call-overload]
        .where(InspectionOrder.code == code, InspectionOrder.status == "pending")  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    row = find_inspection(session, code)
    if claimed != 1:
        _require_pending(row)
    item = session.get(Item, row.item_id)
    code_of_item = item.code if item else str(row.item_id)
    posted = []
    for raw in eff["moves"]:
        move = PlannedInspectionMove.model_validate(raw)
        returning = move.move_type == "return"
        try:
            stock_move = post_move(
                session,
                item_id=row.item_id,
                qty=move.qty,
                from_code=move.from_location,
                to_code=move.to_location,
                move_type=move.move_type,
                move_date=on,
                doc_type="inspection",
                doc_ref=row.code,
                unit_cost=row.unit_cost if returning else None,
                actor=actor.username,
                reason=move.reason,
                leave_at_unit_cost=returning,
            )
        except StockError as exc:
            raise ToolError("infeasible", exc.message, {"record": row.code, **exc.details}) from None
        posted.append(
            {
                "from": move.from_location,
                "to": move.to_location,
                "qty": to_number(move.qty),
                "move_type": move.move_type,
                "unit_cost": to_number(stock_move.unit_cost),
            }
        )
    _close_receipt_notice(session, row)
    session.flush()
    record = {
        "code": row.code,
        "item": code_of_item,
        "source_ref": row.source_ref,
        "status": "done",
        "sampled_qty": eff["sampled_qty"],
        "accepted_qty": eff["accepted_qty"],
        "rejected_qty": eff["rejected_qty"],
        "defect_reason": eff["defect_reason"],
        "disposition": eff["disposition"],
        "moves": posted,
    }
    audit(
        session,
        actor,
        "inspect",
        entity="inspection_order",
        entity_ref=row.code,
        proposal_id=proposal.id,
        before={"status": "pending"},
        after=record,
    )
    return record
