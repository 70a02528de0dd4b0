"""Shortage follow-ups: one-click purchase requests for what an order is short of, and what changed since
the last analysis of the order.

Purchase requests reuse propose_purchase_requests (its input model, lot rounding and applier): the
quantity asked is the shortage nobody has ordered yet (``uncovered``), raised to the preferred supplier's
lowest price break (below it the supplier quotes no price, so it counts as the supplier's minimum) and then
rounded with the item's minimum and multiple (split above its maximum). The proposal also records the
versions of the stock, sales and production data the analysis read, so it goes stale when they change.

Changes are computed statelessly: the caller passes the previous analyze_shortages answer back
(``previous``) and gets per-item deltas against a fresh analysis. Nothing is stored, so a read tool writes
nothing, and any client (the assistant keeps the previous answer in its conversation, a UI in its page)
can compare against whichever earlier answer it holds.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from data_model.tables import Item, PriceList, Proposal, Supplier
from tools.catalog.purchasing import (
    ProposePurchaseRequestsIn,
    ProposePurchaseRequestsOut,
    PurchaseRequestLineIn,
    _preferred_supplier,
    propose_purchase_requests,
)
from tools.catalog.shortages import AnalyzeShortagesIn, AnalyzeShortagesOut, ComponentOut, analyze_shortages
from tools.context import ToolContext
from tools.errors import ToolError
from tools.proposals import current_versions
from tools.registry import tool
from tools.types import SIX_PLACES, Num

SHORTAGE_READ_DOMAINS = ("master", "bom", "stock", "sales", "purchasing", "production")
ZERO = Decimal(0)


class _OneOrder(BaseModel):
    production_order: str | None = Field(
        default=None, description="production or subcontract order code, e.g. MO-1"
    )
    sales_order: str | None = Field(default=None, description="sales order code, e.g. SO-1")
    use_substitutes: bool = Field(
        default=False, description="let the BOM's substitutes' free stock cover shortages first"
    )

    @model_validator(mode="after")
    def _one_order(self) -> _OneOrder:
        if (self.production_order is None) == (self.sales_order is None):
            raise ValueError("give exactly one of production_order or sales_order")
        return self

    def analysis_args(self) -> AnalyzeShortagesIn:
        return AnalyzeShortagesIn(
            production_order=self.production_order,
            sales_order=self.sales_order,
            use_substitutes=self.use_substitutes,
        )


# ---------------------------------------------------------------- purchase requests for shortages


class ProposeShortageRequestsIn(_OneOrder):
    pass


class ShortageRequestLine(BaseModel):
    item: str
    uom: str
    short: Num = Field(description="short now (analysis)")
    uncovered: Num = Field(description="short and not covered by any open receipt: what is requested")
    need_date: date = Field(description="from the analysis (today if that is already past)")
    supplier: str | None = Field(description="preferred supplier from the price list")
    supplier_min_qty: Num = Field(description="the supplier's lowest price break (0: none)")
    requested_qty: Num = Field(
        description="uncovered raised to the supplier's minimum, before item lot rules"
    )
    qty: Num = Field(description="total requested after the item's minimum / multiple")


class SkippedShortage(BaseModel):
    item: str
    uncovered: Num
    reason: str


class ShortageRequestsOut(ProposePurchaseRequestsOut):
    order: str
    order_kind: Literal["production", "sales"]
    lines: list[ShortageRequestLine]
    skipped: list[SkippedShortage] = Field(description="shortages not requested here, and what to do instead")


def _supplier_min_qty(session: Session, item: Item, supplier: Supplier | None, on: date) -> Decimal:
    """The supplier's lowest valid purchase price break for the item (0 when it has none above 0)."""
    if supplier is None:
        return ZERO
    rows = session.exec(
        select(PriceList).where(
            PriceList.item_id == item.id, PriceList.supplier_id == supplier.id, PriceList.kind == "purchase"
        )
    ).all()
    valid = [
        Decimal(p.min_qty)
        for p in rows
        if (p.valid_from is None or p.valid_from <= on) and (p.valid_to is None or on <= p.valid_to)
    ]
    return min(valid, default=ZERO)


def _record_reads(ctx: ToolContext, proposal_id: str, tool_name: str, args: BaseModel) -> None:
    """Make the stored proposal also depend on the data the analysis read, and name this tool as its source."""
    row = ctx.session.get(Proposal, proposal_id)
    if row is None:  # created in this very transaction
        raise ToolError(
            "not_found", f"proposal {proposal_id!r} not found", {"kind": "proposal", "key": proposal_id}
        )
    row.data_versions = {**row.data_versions, **current_versions(ctx.session, SHORTAGE_READ_DOMAINS)}
    row.tool = tool_name
    row.args = args.model_dump(mode="json")
    ctx.session.add(row)
    ctx.session.flush()


@tool(kind="propose")
def propose_purchase_requests_for_shortages(
    ctx: ToolContext, args: ProposeShortageRequestsIn
) -> ShortageRequestsOut:
    """One click from a shortage analysis (足缺料分析) to purchase requisitions: for a production order's
    components or a sales order's items, request what is short and not covered by any open receipt
    (``uncovered``), from the preferred supplier, needed on the analysis' need date. Quantities are raised to
    the supplier's lowest price break and rounded up with the item's minimum and multiple (split above its
    maximum). Make and subcontract items are listed under ``skipped`` (use propose_production_orders or
    propose_subcontract_orders). Nothing is created until a buyer (or manager) confirms; if stock, orders or
    master data change first, the proposal is refused as stale."""
    session = ctx.session
    analysis = analyze_shortages(ctx, args.analysis_args())
    lines: list[ShortageRequestLine] = []
    requests: list[PurchaseRequestLineIn] = []
    skipped: list[SkippedShortage] = []
    for c in analysis.shortages:
        if c.uncovered <= 0:
            continue
        item = session.exec(select(Item).where(Item.code == c.item)).first()
        if item is None or item.source != "buy":
            source = item.source if item else "unknown"
            hint = {
                "make": "a make item: propose_production_orders",
                "subcontract": "a subcontract item: propose_subcontract_orders",
            }.get(source, "not found")
            skipped.append(SkippedShortage(item=c.item, uncovered=c.uncovered, reason=hint))
            continue
        need = max(c.need_date, ctx.today)
        supplier = _preferred_supplier(session, item)
        minimum = _supplier_min_qty(session, item, supplier, need)
        asked = max(c.uncovered, minimum)
        lines.append(
            ShortageRequestLine(
                item=c.item,
                uom=c.uom,
                short=c.short,
                uncovered=c.uncovered,
                need_date=need,
                supplier=supplier.code if supplier else None,
                supplier_min_qty=minimum,
                requested_qty=asked,
                qty=asked,
            )
        )
        requests.append(
            PurchaseRequestLineIn(
                item=c.item, qty=asked, need_date=need, supplier=supplier.code if supplier else None
            )
        )
    if not requests:
        reason = "; ".join(f"{s.item}: {s.reason}" for s in skipped) or "nothing is short without a receipt"
        raise ToolError(
            "conflict",
            f"no purchase request needed for {analysis.order}: {reason}",
            {"record": analysis.order, "skipped": [s.model_dump(mode="json") for s in skipped]},
        )
    pr_args = ProposePurchaseRequestsIn(
        lines=requests, source_ref=f"{analysis.order} shortage", round_to_lot_rules=True
    )
    base = propose_purchase_requests(ctx, pr_args)
    _record_reads(ctx, base.proposal_id, "propose_purchase_requests_for_shortages", args)
    for line, index in zip(lines, range(len(lines)), strict=True):
        line.qty = sum((r.qty for r in base.requisitions if r.line == index), ZERO)
    return ShortageRequestsOut(
        **base.model_dump(),
        order=analysis.order,
        order_kind=analysis.kind,
        lines=lines,
        skipped=skipped,
    )


# ---------------------------------------------------------------- what changed since the last analysis


class PreviousComponentIn(BaseModel):
    """One component of a previous analyze_shortages answer (other fields of it are ignored)."""

    item: str
    required: Num = ZERO
    available: Num = ZERO
    short: Num = ZERO
    uncovered: Num = ZERO
    need_date: date | None = None
    covered_date: date | None = None


class PreviousAnalysisIn(BaseModel):
    """The previous analyze_shortages answer, as returned (only these fields are read)."""

    order: str | None = None
    need_date: date | None = None
    ready_date: date | None = None
    components: list[PreviousComponentIn] = Field(default_factory=list, max_length=5000)


class GetShortageChangesIn(_OneOrder):
    previous: PreviousAnalysisIn = Field(
        description="the earlier analyze_shortages answer for the same order"
    )
    changed_only: bool = Field(default=True, description="list only items whose figures or dates changed")


class ItemChange(BaseModel):
    item: str
    change: Literal["new", "gone", "changed", "same"] = Field(
        description="new: needed now, not before; gone: no longer needed; changed; same"
    )
    required_before: Num
    required_now: Num
    required_delta: Num
    short_before: Num
    short_now: Num
    short_delta: Num = Field(description="positive: shorter than before")
    uncovered_before: Num
    uncovered_now: Num
    uncovered_delta: Num
    need_date_before: date | None
    need_date_now: date | None
    covered_date_before: date | None
    covered_date_now: date | None


class GetShortageChangesOut(BaseModel):
    order: str
    need_date_before: date | None
    need_date_now: date
    ready_date_before: date | None
    ready_date_now: date | None
    newly_short: list[str] = Field(description="items short now that were not short before")
    no_longer_short: list[str] = Field(description="items short before that are not short now")
    changes: list[ItemChange]
    current: AnalyzeShortagesOut = Field(description="the fresh analysis")


def _q6(qty: Decimal) -> Decimal:
    return qty.quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def _item_change(before: PreviousComponentIn | None, now: ComponentOut | None) -> ItemChange:
    b = before or PreviousComponentIn(item=now.item if now else "")
    req_now = now.required if now else ZERO
    short_now = now.short if now else ZERO
    unc_now = now.uncovered if now else ZERO
    # the previous answer went through JSON (6 decimals): compare at that precision
    figures_before = (_q6(b.required), _q6(b.short), _q6(b.uncovered), b.need_date, b.covered_date)
    figures_now = (
        _q6(req_now),
        _q6(short_now),
        _q6(unc_now),
        now.need_date if now else None,
        now.covered_date if now else None,
    )
    if before is None:
        change: Literal["new", "gone", "changed", "same"] = "new"
    elif now is None:
        change = "gone"
    else:
        change = "same" if figures_before == figures_now else "changed"
    return ItemChange(
        item=b.item,
        change=change,
        required_before=b.required,
        required_now=req_now,
        required_delta=req_now - b.required,
        short_before=b.short,
        short_now=short_now,
        short_delta=short_now - b.short,
        uncovered_before=b.uncovered,
        uncovered_now=unc_now,
        uncovered_delta=unc_now - b.uncovered,
        need_date_before=b.need_date,
        need_date_now=now.need_date if now else None,
        covered_date_before=b.covered_date,
        covered_date_now=now.covered_date if now else None,
    )


@tool(kind="read")
def get_shortage_changes(ctx: ToolContext, args: GetShortageChangesIn) -> GetShortageChangesOut:
    """What changed in an order's shortages since an earlier analysis (e.g. after its quantity went up, its
    sequence or priority changed, or material arrived): re-runs analyze_shortages and compares it, item by
    item, with the earlier answer passed as ``previous`` — required, short and uncovered quantities before,
    now and the difference, need and covered dates, items newly short or no longer short. Quantities in
    each item's unit. Read-only."""
    current = analyze_shortages(ctx, args.analysis_args())
    if args.previous.order is not None and args.previous.order != current.order:
        raise ToolError(
            "invalid_input",
            f"previous is the analysis of {args.previous.order}, not of {current.order}",
            {"field": "previous.order", "expected": current.order},
        )
    before = {c.item: c for c in args.previous.components}
    now = {c.item: c for c in current.components}
    codes = list(dict.fromkeys([*now, *before]))
    changes = [_item_change(before.get(code), now.get(code)) for code in codes]
    was_short = {c.item for c in args.previous.components if c.short > 0}
    is_short = {c.item for c in current.shortages}
    return GetShortageChangesOut(
        order=current.order,
        need_date_before=args.previous.need_date,
        need_date_now=current.need_date,
        ready_date_before=args.previous.ready_date,
        ready_date_now=current.ready_date,
        newly_short=[c for c in codes if c in is_short and c not in was_short],
        no_longer_short=[c for c in codes if c in was_short and c not in is_short],
        changes=[c for c in changes if not args.changed_only or c.change != "same"],
        current=current,
    )
