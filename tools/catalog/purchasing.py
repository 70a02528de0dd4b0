"""Purchasing tools: propose purchase requisitions (created only when a buyer confirms)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from data_model.tables import Item, PriceList, Proposal, PurchaseRequisition, Supplier
from planning.lot_sizing import LotSizingRule, is_countable, size_lots
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num, to_number

PURCHASE_REQUESTS = "purchase_requests"
REQUISITION_PREFIX = "PR-"
SUMMARY_LINES = 10


class PurchaseRequestLineIn(BaseModel):
    """One item to request."""

    item: str = Field(min_length=1, max_length=64, description="item code")
    qty: Num = Field(gt=0, description="quantity in the item's unit of measure")
    need_date: date = Field(description="date the material is needed, YYYY-MM-DD")
    supplier: str | None = Field(default=None, max_length=64, description="supplier code; default: preferred")


class ProposePurchaseRequestsIn(BaseModel):
    lines: list[PurchaseRequestLineIn] = Field(min_length=1, max_length=500)
    source_ref: str = Field(
        default="", max_length=200, description="what this is drafted from, e.g. 'MO-1 shortage'"
    )
    round_to_lot_rules: bool = Field(
        default=False,
        description="round each quantity up to the item's minimum order qty and order multiple "
        "(splitting above its maximum order qty)",
    )


class PlannedRequisition(BaseModel):
    """One requisition that confirming the proposal creates."""

    line: int = Field(description="index of the input line it comes from (0-based)")
    item: str
    item_name: str
    uom: str
    requested_qty: Num
    qty: Num
    need_date: date
    supplier: str | None
    supplier_source: Literal["given", "preferred", "none"]
    unit_price: Num = Field(description="estimated, from the supplier's price list or the item's unit_cost")
    amount: Num


class ProposePurchaseRequestsOut(ProposalOut):
    requisitions: list[PlannedRequisition]
    total_amount: Num


def _lot_rule(item: Item) -> LotSizingRule:
    return LotSizingRule(
        min_order_qty=item.min_order_qty,
        order_multiple=item.order_multiple,
        max_order_qty=item.max_order_qty,
        whole_units=is_countable(item.uom),
    )


def price_row(session: Session, item: Item, supplier_id: int, qty: Decimal, on: date) -> PriceList | None:
    """The supplier's price-list row for ``qty`` of ``item`` valid on ``on``, or None.

    Purchase prices for a bought item, processing fees for a subcontract item; of the valid rows the
    highest quantity break reached applies.
    """
    kind = "subcontract" if item.source == "subcontract" else "purchase"
    prices = session.exec(
        select(PriceList).where(
            PriceList.item_id == item.id, PriceList.supplier_id == supplier_id, PriceList.kind == kind
        )
    ).all()
    valid = [
        p
        for p in prices
        if p.min_qty <= qty
        and (p.valid_from is None or p.valid_from <= on)
        and (p.valid_to is None or on <= p.valid_to)
    ]
    return max(valid, key=lambda p: p.min_qty) if valid else None


def _price(session: Session, item: Item, supplier_id: int | None, qty: Decimal, on: date) -> Decimal:
    row = price_row(session, item, supplier_id, qty, on) if supplier_id is not None else None
    return row.price if row is not None else item.unit_cost


def _preferred_supplier(session: Session, item: Item) -> Supplier | None:
    row = session.exec(
        select(Supplier)
        .join(PriceList, PriceList.supplier_id == Supplier.id)  # type: ignore[arg-type]
        .where(PriceList.item_id == item.id, PriceList.preferred == True)  # noqa: E712
        .order_by(Supplier.code)
    ).first()
    return row


def _fmt(q: Decimal) -> str:
    return format(q.normalize(), "f")


def _summaries(reqs: list[PlannedRequisition], source_ref: str) -> tuple[str, str]:
    zh_lines, en_lines = [], []
    for r in reqs[:SUMMARY_LINES]:
        sup_zh = f",供应商 {r.supplier}" if r.supplier else ""
        sup_en = f" from {r.supplier}" if r.supplier else ""
        zh_lines.append(f"{r.item} {_fmt(r.qty)} {r.uom},需求日 {r.need_date.isoformat()}{sup_zh}")
        en_lines.append(f"{r.item} {_fmt(r.qty)} {r.uom} needed {r.need_date.isoformat()}{sup_en}")
    more = len(reqs) - SUMMARY_LINES
    src_zh = f"(来源:{source_ref})" if source_ref else ""
    src_en = f" ({source_ref})" if source_ref else ""
    zh = (
        f"新建 {len(reqs)} 张请购单{src_zh}:"
        + ";".join(zh_lines)
        + (f";等另 {more} 张" if more > 0 else "")
        + "。"
    )
    en = (
        f"Create {len(reqs)} purchase requisition(s){src_en}: "
        + "; ".join(en_lines)
        + (f"; and {more} more" if more > 0 else "")
        + "."
    )
    return zh, en


@tool(kind="propose")
def propose_purchase_requests(
    ctx: ToolContext, args: ProposePurchaseRequestsIn
) -> ProposePurchaseRequestsOut:
    """Propose purchase requisitions: items, quantities, need dates and optional suppliers.

    Nothing is created until a buyer (or manager/admin) confirms the returned proposal. Use it for what
    to buy after a shortage analysis or MRP run; give `source_ref` to say what it was drafted from.
    Quantities are in each item's unit of measure; with `round_to_lot_rules` they are rounded up to the
    item's lot rules. Without a supplier, the item's preferred supplier (from its price list) is used.
    """
    session = ctx.session
    codes = sorted({line.item for line in args.lines})
    items = {i.code: i for i in session.exec(select(Item).where(Item.code.in_(codes))).all()}  # type: ignore[attr-defined]
    missing = [c for c in codes if c not in items]
    if missing:
        raise ToolError(
            "not_found",
            f"item {missing[0]!r} not found",
            {"kind": "item", "key": missing[0], "missing": missing},
        )
    sup_codes = sorted({line.supplier for line in args.lines if line.supplier})
    suppliers = {
        s.code: s
        for s in session.exec(select(Supplier).where(Supplier.code.in_(sup_codes))).all()  # type: ignore[attr-defined]
    }
    unknown = [c for c in sup_codes if c not in suppliers]
    if unknown:
        raise ToolError(
            "not_found", f"supplier {unknown[0]!r} not found", {"kind": "supplier", "key": unknown[0]}
        )

    planned: list[PlannedRequisition] = []
    for index, line in enumerate(args.lines):
        item = items[line.item]
        if item.source == "make":
            raise ToolError(
                "invalid_input",
                f"{item.code} is a make item: propose a production order instead of a purchase requisition",
                {"field": f"lines.{index}.item", "item": item.code, "source": item.source},
            )
        if not item.active:
            raise ToolError("invalid_input", f"{item.code} is inactive", {"field": f"lines.{index}.item"})
        supplier: Supplier | None = (
            suppliers.get(line.supplier) if line.supplier else _preferred_supplier(session, item)
        )
        source: Literal["given", "preferred", "none"] = (
            "given" if line.supplier else ("preferred" if supplier else "none")
        )
        lots = size_lots(line.qty, _lot_rule(item)) if args.round_to_lot_rules else (line.qty,)
        for qty in lots:
            price = _price(session, item, supplier.id if supplier else None, qty, line.need_date)
            planned.append(
                PlannedRequisition(
                    line=index,
                    item=item.code,
                    item_name=item.name,
                    uom=item.uom,
                    requested_qty=line.qty,
                    qty=qty,
                    need_date=line.need_date,
                    supplier=supplier.code if supplier else None,
                    supplier_source=source,
                    unit_price=price,
                    amount=price * qty,
                )
            )
    zh, en = _summaries(planned, args.source_ref)
    total = sum((p.amount for p in planned), Decimal(0))
    effect = {
        "source_ref": args.source_ref,
        "requisitions": [p.model_dump(mode="json") for p in planned],
        "total_amount": to_number(total),
    }
    base = create_proposal(
        ctx,
        kind=PURCHASE_REQUESTS,
        tool="propose_purchase_requests",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master",),
    )
    return ProposePurchaseRequestsOut(**base.model_dump(), requisitions=planned, total_amount=total)


@applier(PURCHASE_REQUESTS, roles=("buyer",), domains=("purchasing",))
def apply_purchase_requests(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the proposal's requisitions (status approved: a buyer confirmed them)."""
    planned = [PlannedRequisition.model_validate(r) for r in proposal.effect.get("requisitions", [])]
    source_ref = str(proposal.effect.get("source_ref", ""))
    item_ids = {
        i.code: i.id
        for i in session.exec(select(Item).where(Item.code.in_({p.item for p in planned}))).all()  # type: ignore[attr-defined]
    }
    sup_ids = {
        s.code: s.id
        for s in session.exec(
            select(Supplier).where(Supplier.code.in_({p.supplier for p in planned if p.supplier}))  # type: ignore[attr-defined]
        ).all()
    }
    codes = next_codes(session, PurchaseRequisition.code, REQUISITION_PREFIX, len(planned))
    created = []
    for code, p in zip(codes, planned, strict=True):
        if p.item not in item_ids:
            raise ToolError("not_found", f"item {p.item!r} not found", {"kind": "item", "key": p.item})
        row = PurchaseRequisition(
            code=code,
            item_id=item_ids[p.item] or 0,
            qty=p.qty,
            need_date=p.need_date,
            supplier_id=sup_ids.get(p.supplier) if p.supplier else None,
            status="approved",
            source_ref=source_ref,
            proposal_id=proposal.id,
            created_by=actor.username,
        )
        session.add(row)
        record = {
            "code": code,
            "item": p.item,
            "qty": to_number(p.qty),
            "need_date": p.need_date.isoformat(),
            "supplier": p.supplier,
            "status": "approved",
        }
        audit(
            session,
            actor,
            "create",
            entity="purchase_requisition",
            entity_ref=code,
            proposal_id=proposal.id,
            after=record,
        )
        created.append(record)
    session.flush()
    return {"requisitions": created}
