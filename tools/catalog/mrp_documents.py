"""From MRP suggestions and sales orders to documents: merged release of planned orders (计划订单合并投放)
and batch creation of production orders (生产任务单批量新增).

Documents created on confirmation:
- buy: purchase requisitions (approved), through the purchase-request applier, need date = due date;
- make: production orders in status ``planned`` with their component requirements derived from the BOM in
  force today (phantoms exploded through, substitutes not chosen; lines of one component added up). They
  go to the shop floor with propose_release_production_orders, which keeps these requirements: a planner
  still decides when to release, and material issue refuses a planned order;
- subcontract: subcontract orders through the subcontract-order applier (released, with the materials to
  send and the agreed fee), the preferred subcontractor from the price list.

Merging: suggestions of one item (and action; one preferred supplier per item) whose due dates fall in one
window are released as one document, due on the group's earliest due date. The window is ``window_days``
calendar days from the first due date of the group, or the ISO week or calendar month of the due date. The
merged quantity is the item's lot rule applied to the sum of the members' net requirements (a lot-size
surplus of one member already covers part of the next, so the sum of nets is what the group must cover);
above the item's maximum order quantity it is split into several documents, all due on that date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from data_model.tables import (
    Item,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    SalesOrder,
    SalesOrderLine,
)
from planning.lot_sizing import LotSizingRule, size_lots
from planning.model import DemandKind, Plant, Source
from planning.mrp import MrpResult, PegKind, PlannedOrder, trace_pegging
from tools.catalog.material_issue import bom_in_force, derive_requirements
from tools.catalog.mrp import PegOut, plan_mrp
from tools.catalog.purchasing import (
    PURCHASE_REQUESTS,
    PlannedRequisition,
    _preferred_supplier,
    _price,
    apply_purchase_requests,
)
from tools.catalog.subcontracting import (
    SUBCONTRACT_ORDERS,
    PlannedSubcontractOrder,
    SubcontractOrderLineIn,
    _plan_subcontract,
    apply_subcontract_orders,
)
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.snapshot import OPEN_PRODUCTION, load_plant
from tools.types import Num, to_number

RELEASE_PLANNED_KIND = "planned_order_release"
PRODUCTION_ORDERS_KIND = "production_orders"
ORDER_PREFIX = "MO-"
SUMMARY_LINES = 10
SUMMARY_CHARS = 4000  # the proposal's summary columns
MAX_DOCUMENTS = 1000
SOURCE_REF_CHARS = 200
MRP_READ_DOMAINS = ("master", "bom", "stock", "sales", "purchasing", "production")
SALES_OPEN = ("draft", "confirmed", "in_progress")
DEFAULT_PRIORITY = 5

Action = Literal["buy", "make", "subcontract"]
DocumentKind = Literal["purchase_requisition", "production_order", "subcontract_order"]
DOCUMENT_OF_ACTION: dict[str, DocumentKind] = {
    "buy": "purchase_requisition",
    "make": "production_order",
    "subcontract": "subcontract_order",
}


def _fmt(q: Decimal) -> str:
    return format(q.normalize(), "f")


# ---------------------------------------------------------------- production orders (shared)


class PlannedComponent(BaseModel):
    item: str
    item_name: str
    uom: str
    required: Num = Field(description="for the whole order, scrap included")
    issue_method: str


class PlannedProductionOrder(BaseModel):
    """One production order that confirming the proposal creates (status planned)."""

    item: str
    item_name: str
    uom: str
    qty: Num
    start_date: date = Field(description="due date minus the lead time in working days, never before today")
    due_date: date
    priority: int
    bom_id: int | None = Field(description="the BOM in force its components come from (None: no BOM)")
    bom_version: str | None
    sales_order_line: str | None = Field(description="the sales order line it is made for, e.g. SO-1/1")
    sales_order_line_id: int | None = Field(default=None, description="internal id of that line")
    planned_orders: list[str] = Field(default_factory=list, description="MRP planned orders it releases")
    components: list[PlannedComponent]


def _start_date(plant: Plant, item: str, due: date) -> date:
    lead = plant.items[item].lead_time_days if item in plant.items else 0
    return max(plant.calendar.subtract_workdays(due, lead), plant.today)


def plan_production_order(
    session: Session,
    plant: Plant,
    item: Item,
    qty: Decimal,
    due: date,
    *,
    priority: int = DEFAULT_PRIORITY,
    sales_line: tuple[str, int] | None = None,
    planned_orders: Sequence[str] = (),
) -> PlannedProductionOrder:
    """A planned production order for ``qty`` of ``item`` with its components from the BOM in force today."""
    bom = bom_in_force(session, item.id or 0, plant.today)
    components = [
        PlannedComponent(item=c.code, item_name=c.name, uom=c.uom, required=q, issue_method=method)
        for c, q, method in derive_requirements(session, item, qty, plant.today)
    ]
    return PlannedProductionOrder(
        item=item.code,
        item_name=item.name,
        uom=item.uom,
        qty=qty,
        start_date=_start_date(plant, item.code, due),
        due_date=due,
        priority=priority,
        bom_id=bom.id if bom is not None else None,
        bom_version=bom.version if bom is not None else None,
        sales_order_line=sales_line[0] if sales_line else None,
        sales_order_line_id=sales_line[1] if sales_line else None,
        planned_orders=list(planned_orders),
        components=components,
    )


def create_production_orders(
    session: Session, proposal: Proposal, actor: Actor, planned: Sequence[PlannedProductionOrder]
) -> list[dict[str, Any]]:
    """Insert the planned production orders with their component requirements; returns their records."""
    codes = next_codes(session, ProductionOrder.code, ORDER_PREFIX, len(planned))
    wanted = {p.item for p in planned} | {c.item for p in planned for c in p.components}
    items = {i.code: i for i in session.exec(select(Item).where(Item.code.in_(wanted))).all()}  # type: ignore[attr-defined]
    created = []
    for code, p in zip(codes, planned, strict=True):
        missing = sorted({p.item, *(c.item for c in p.components)} - items.keys())
        if missing:
            raise ToolError(
                "not_found", f"item {missing[0]!r} not found", {"kind": "item", "key": missing[0]}
            )
        order = ProductionOrder(
            code=code,
            kind="production",
            item_id=items[p.item].id or 0,
            qty=p.qty,
            completed_qty=Decimal(0),
            start_date=p.start_date,
            due_date=p.due_date,
            status="planned",
            priority=p.priority,
            bom_id=p.bom_id,
            sales_order_line_id=p.sales_order_line_id,
            proposal_id=proposal.id,
        )
        session.add(order)
        session.flush()
        for c in p.components:
            session.add(
                ProductionOrderComponent(
                    production_order_id=order.id or 0,
                    item_id=items[c.item].id or 0,
                    required_qty=c.required,
                    issued_qty=Decimal(0),
                    issue_method=c.issue_method,
                )
            )
        record = {
            "code": code,
            "item": p.item,
            "qty": to_number(p.qty),
            "status": "planned",
            "start_date": p.start_date.isoformat(),
            "due_date": p.due_date.isoformat(),
            "priority": p.priority,
            "sales_order_line": p.sales_order_line,
            "planned_orders": p.planned_orders,
            "components": [{"item": c.item, "required": to_number(c.required)} for c in p.components],
        }
        audit(
            session,
            actor,
            "create",
            entity="production_order",
            entity_ref=code,
            proposal_id=proposal.id,
            after=record,
        )
        created.append(record)
    session.flush()
    return created


def _transient(proposal: Proposal, kind: str, effect: dict[str, Any]) -> Proposal:
    """A stand-in proposal (never stored) to hand part of this one's effect to another kind's applier."""
    return Proposal(id=proposal.id, kind=kind, effect=effect)


# ---------------------------------------------------------------- merged release of planned orders


class ProposeReleasePlannedOrdersIn(BaseModel):
    horizon_days: int = Field(default=90, ge=1, le=730, description="the MRP horizon, as in run_mrp")
    orders: list[str] = Field(
        default_factory=list,
        max_length=5000,
        description="planned-order ids from run_mrp (PL-<item>-<n>); default: every suggestion",
    )
    items: list[str] = Field(default_factory=list, max_length=1000, description="only these items")
    actions: list[Action] = Field(default_factory=list, description="only these actions")
    release_from: date | None = Field(default=None, description="only suggestions released on or after")
    release_to: date | None = Field(
        default=None, description="only suggestions released on or before (e.g. the end of this week)"
    )
    merge: Literal["window", "week", "month", "none"] = Field(
        default="window",
        description="merge suggestions of one item due within window_days of the first (window), in the "
        "same ISO week (week) or calendar month (month), or not at all (none)",
    )
    window_days: int = Field(default=7, ge=1, le=366, description="calendar days of a merge window")

    @model_validator(mode="after")
    def _window(self) -> ProposeReleasePlannedOrdersIn:
        if self.release_from and self.release_to and self.release_to < self.release_from:
            raise ValueError("release_to is before release_from")
        return self


class MergedSuggestion(BaseModel):
    planned_order: str
    qty: Num
    net_qty: Num
    release_date: date
    due_date: date
    pegging: list[PegOut] = Field(description="what it serves directly (orders, planned parents, stock)")


class PlannedDocument(BaseModel):
    """One document that confirming the proposal creates, and the suggestions merged into it."""

    document: DocumentKind
    item: str
    item_name: str
    uom: str
    action: Action
    qty: Num = Field(description="the group's net requirement re-sized with the item's lot rules")
    net_qty: Num = Field(description="sum of the merged suggestions' net requirements")
    suggested_qty: Num = Field(description="sum of the merged suggestions' quantities")
    lot: int = Field(description="1-based lot number when the quantity is split above the maximum")
    lots: int
    start_date: date = Field(description="release date: when to order or start")
    due_date: date = Field(description="the earliest due date of the group")
    supplier: str | None
    priority: int = Field(description="highest priority (lowest number) of the sales orders it serves")
    planned_orders: list[str]
    demands: list[str] = Field(description="end demands served, through the parents' planned orders")
    merged: list[MergedSuggestion]
    unit_price: Num | None = Field(description="purchase price or processing fee per unit, estimated")
    requisition: PlannedRequisition | None = Field(default=None, description="the requisition (buy)")
    production_order: PlannedProductionOrder | None = Field(
        default=None, description="the production order with its components (make)"
    )
    subcontract_order: PlannedSubcontractOrder | None = Field(
        default=None, description="the subcontract order with the materials to send (subcontract)"
    )


class SkippedGroup(BaseModel):
    item: str
    action: Action
    planned_orders: list[str]
    reason: str


class ReleasePlannedOrdersOut(ProposalOut):
    selected_suggestions: int
    documents: list[PlannedDocument]
    skipped: list[SkippedGroup]


def _select(result: MrpResult, plant: Plant, args: ProposeReleasePlannedOrdersIn) -> list[PlannedOrder]:
    for index, code in enumerate(args.items):
        if code not in plant.items:
            raise ToolError(
                "not_found",
                f"item {code!r} not found",
                {"kind": "item", "key": code, "field": f"items.{index}"},
            )
    if args.orders:
        chosen = []
        for index, order_id in enumerate(dict.fromkeys(args.orders)):
            order = result.order(order_id)
            if order is None:
                raise ToolError(
                    "not_found",
                    f"no MRP suggestion {order_id!r} on today's data (run run_mrp again for the current ids)",
                    {"kind": "planned_order", "key": order_id, "field": f"orders.{index}"},
                )
            chosen.append(order)
    elif args.items:
        chosen = [s for code in dict.fromkeys(args.items) for s in result.suggestions_for(code)]
    else:
        chosen = list(result.suggestions)
    items, actions = set(args.items), set(args.actions)
    return [
        s
        for s in chosen
        if (not items or s.item in items)
        and (not actions or s.action.value in actions)
        and (args.release_from is None or s.release_date >= args.release_from)
        and (args.release_to is None or s.release_date <= args.release_to)
    ]


def _group_key(due: date, args: ProposeReleasePlannedOrdersIn) -> tuple[int, int]:
    if args.merge == "week":
        year, week, _ = due.isocalendar()
        return (year, week)
    return (due.year, due.month)


def group_suggestions(
    suggestions: Sequence[PlannedOrder], args: ProposeReleasePlannedOrdersIn
) -> list[list[PlannedOrder]]:
    """Suggestions of one item and action, in due-date order, grouped by the merge rule."""
    by_item: dict[tuple[str, str], list[PlannedOrder]] = defaultdict(list)
    for s in suggestions:
        by_item[(s.item, s.action.value)].append(s)
    groups: list[list[PlannedOrder]] = []
    for members in by_item.values():
        members.sort(key=lambda s: (s.due_date, s.id))
        current: list[PlannedOrder] = []
        for s in members:
            if current:
                first = current[0].due_date
                if args.merge == "none":
                    same = False
                elif args.merge == "window":
                    same = s.due_date < first + timedelta(days=args.window_days)
                else:
                    same = _group_key(s.due_date, args) == _group_key(first, args)
                if not same:
                    groups.append(current)
                    current = []
            current.append(s)
        if current:
            groups.append(current)
    groups.sort(key=lambda g: (g[0].due_date, g[0].item, g[0].id))
    return groups


def _end_demands(result: MrpResult, order: PlannedOrder) -> list[str]:
    ends = trace_pegging(result, order.id)
    return [p.demand for p in ends if p.kind is not PegKind.PLANNED]


def _priority(sales_priority: Mapping[str, int], demands: Sequence[str]) -> int:
    """The highest priority (lowest number) of the sales order lines among ``demands``."""
    return min((sales_priority[d] for d in demands if d in sales_priority), default=DEFAULT_PRIORITY)


def _source_ref(orders: Sequence[str]) -> str:
    text = "MRP " + "+".join(orders)
    if len(text) <= SOURCE_REF_CHARS:
        return text
    return f"MRP {orders[0]}…{orders[-1]} ({len(orders)} planned orders)"


def _short_list(refs: Sequence[str], sep: str) -> str:
    """Up to three references in full; a longer list as first…last (count), so summaries stay short."""
    if len(refs) <= 3:
        return sep.join(refs)
    return f"{refs[0]}…{refs[-1]} ({len(refs)})"


def _document_line(d: PlannedDocument, zh: bool) -> str:
    src = _short_list(d.planned_orders, "+")
    lot = f" ({d.lot}/{d.lots})" if d.lots > 1 else ""
    peg = _short_list(d.demands, ",")
    if zh:
        name = {"purchase_requisition": "请购", "production_order": "生产", "subcontract_order": "委外"}[
            d.document
        ]
        sup = f",供应商 {d.supplier}" if d.supplier else ""
        return f"{name} {d.item} {_fmt(d.qty)} {d.uom}{lot},{d.due_date.isoformat()} 到期{sup} ← {src}" + (
            f"(满足 {peg})" if peg else ""
        )
    name = {"purchase_requisition": "PR", "production_order": "MO", "subcontract_order": "SC"}[d.document]
    sup = f" from {d.supplier}" if d.supplier else ""
    return f"{name} {d.item} {_fmt(d.qty)} {d.uom}{lot} due {d.due_date.isoformat()}{sup} ← {src}" + (
        f" (for {peg})" if peg else ""
    )


def _release_summaries(
    docs: Sequence[PlannedDocument], skipped: Sequence[SkippedGroup], merged: int
) -> tuple[str, str]:
    counts = {k: sum(1 for d in docs if d.document == k) for k in DOCUMENT_OF_ACTION.values()}
    head_zh = (
        f"投放 {merged} 条计划订单:新建 {counts['purchase_requisition']} 张请购单、"
        f"{counts['production_order']} 张生产订单(计划状态)、{counts['subcontract_order']} 张委外订单"
    )
    head_en = (
        f"Release {merged} planned order(s): create {counts['purchase_requisition']} purchase "
        f"requisition(s), {counts['production_order']} production order(s) (planned), "
        f"{counts['subcontract_order']} subcontract order(s)"
    )
    more = len(docs) - SUMMARY_LINES
    zh = head_zh + ":" + ";".join(_document_line(d, True) for d in docs[:SUMMARY_LINES])
    en = head_en + ": " + "; ".join(_document_line(d, False) for d in docs[:SUMMARY_LINES])
    if more > 0:
        zh += f";等另 {more} 张"
        en += f"; and {more} more"
    if skipped:
        zh += ";跳过 " + "、".join(f"{s.item}({s.reason})" for s in skipped[:SUMMARY_LINES])
        en += "; skipped " + ", ".join(f"{s.item} ({s.reason})" for s in skipped[:SUMMARY_LINES])
    return (zh + "。")[:SUMMARY_CHARS], (en + ".")[:SUMMARY_CHARS]


def _plan_group(
    ctx: ToolContext,
    plant: Plant,
    result: MrpResult,
    group: list[PlannedOrder],
    db_item: Item,
    index: int,
    sales_priority: Mapping[str, int],
) -> list[PlannedDocument]:
    first = group[0]
    item = plant.items[first.item]
    due = min(s.due_date for s in group)
    net = sum((s.net_qty for s in group), Decimal(0))
    suggested = sum((s.qty for s in group), Decimal(0))
    lots = size_lots(net, LotSizingRule.for_item(item)) or (suggested,)
    ids = [s.id for s in group]
    demands = list(dict.fromkeys(d for s in group for d in _end_demands(result, s)))
    priority = _priority(sales_priority, demands)
    merged = [
        MergedSuggestion(
            planned_order=s.id,
            qty=s.qty,
            net_qty=s.net_qty,
            release_date=s.release_date,
            due_date=s.due_date,
            pegging=[
                PegOut(demand=p.demand, kind=p.kind.value, item=p.item, qty=p.qty, due=p.due)
                for p in s.pegging
            ],
        )
        for s in group
    ]
    docs = []
    for n, qty in enumerate(lots, start=1):
        doc = PlannedDocument(
            document=DOCUMENT_OF_ACTION[first.action.value],
            item=item.code,
            item_name=item.name,
            uom=item.uom,
            action=first.action.value,
            qty=qty,
            net_qty=net,
            suggested_qty=suggested,
            lot=n,
            lots=len(lots),
            start_date=_start_date(plant, item.code, due),
            due_date=due,
            supplier=None,
            priority=priority,
            planned_orders=ids,
            demands=demands,
            merged=merged,
            unit_price=None,
        )
        if item.source is Source.BUY:
            sup = _preferred_supplier(ctx.session, db_item)
            price = _price(ctx.session, db_item, sup.id if sup else None, qty, due)
            doc.supplier, doc.unit_price = (sup.code if sup else None), price
            doc.requisition = PlannedRequisition(
                line=index,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                requested_qty=net,
                qty=qty,
                need_date=due,
                supplier=doc.supplier,
                supplier_source="preferred" if sup else "none",
                unit_price=price,
                amount=price * qty,
            )
        elif item.source is Source.SUBCONTRACT:
            sc = _plan_subcontract(ctx, index, SubcontractOrderLineIn(item=item.code, qty=qty, due_date=due))
            doc.supplier, doc.unit_price, doc.start_date = sc.supplier, sc.unit_fee, sc.start_date
            doc.subcontract_order = sc
        else:
            mo = plan_production_order(
                ctx.session, plant, db_item, qty, due, priority=priority, planned_orders=ids
            )
            doc.start_date, doc.production_order = mo.start_date, mo
        docs.append(doc)
    return docs


@tool(kind="propose")
def propose_release_planned_orders(
    ctx: ToolContext, args: ProposeReleasePlannedOrdersIn
) -> ReleasePlannedOrdersOut:
    """Release MRP suggestions as documents (计划订单合并投放): purchase requisitions for buy items,
    production orders (status planned, component requirements from the BOM in force) for make items and
    subcontract orders (preferred subcontractor) for subcontract items.

    Takes every suggestion of run_mrp on the current data, or those given by planned-order id
    (PL-<item>-<n>), item, action or release-date window. Suggestions of the same item due within
    `window_days` (default 7 calendar days) of the first, or in the same ISO week / month, are merged into
    one document due on their earliest due date; its quantity is the sum of their net requirements rounded
    with the item's lot rules (minimum, multiple; split above the maximum). The answer shows what merges
    into what and which demands each document serves. Nothing is created until a planner (or manager)
    confirms; if stock, orders or master data change first, the proposal is refused as stale."""
    plant = load_plant(ctx)
    result = plan_mrp(ctx, plant, args.horizon_days).result
    chosen = _select(result, plant, args)
    if not chosen:
        raise ToolError(
            "invalid_input",
            "no MRP suggestion matches: nothing to release (check run_mrp, the filters and the horizon)",
            {"field": "orders" if args.orders else "items"},
        )
    groups = group_suggestions(chosen, args)
    codes = sorted({g[0].item for g in groups})
    db_items = {i.code: i for i in ctx.session.exec(select(Item).where(Item.code.in_(codes))).all()}  # type: ignore[attr-defined]
    sales_priority = {d.id: d.priority for d in plant.demands if d.kind is DemandKind.SALES}
    docs: list[PlannedDocument] = []
    skipped: list[SkippedGroup] = []
    for index, group in enumerate(groups):
        try:
            docs.extend(
                _plan_group(ctx, plant, result, group, db_items[group[0].item], index, sales_priority)
            )
        except ToolError as exc:
            # one item without a subcontractor or BOM must not hold up every other document
            skipped.append(
                SkippedGroup(
                    item=group[0].item,
                    action=group[0].action.value,
                    planned_orders=[s.id for s in group],
                    reason=exc.message,
                )
            )
        if len(docs) > MAX_DOCUMENTS:
            raise ToolError(
                "invalid_input",
                f"more than {MAX_DOCUMENTS} documents: release fewer suggestions at once (filter by item, "
                "action or release_to)",
                {"field": "release_to", "limit": MAX_DOCUMENTS},
            )
    if not docs:
        raise ToolError(
            "invalid_input",
            "none of the selected suggestions can be released: "
            + "; ".join(f"{s.item}: {s.reason}" for s in skipped[:SUMMARY_LINES]),
            {"skipped": [s.model_dump(mode="json") for s in skipped]},
        )
    zh, en = _release_summaries(
        docs, skipped, sum(len(g) for g in groups) - sum(len(s.planned_orders) for s in skipped)
    )
    effect = {
        "horizon_days": args.horizon_days,
        "today": plant.today.isoformat(),
        "documents": [d.model_dump(mode="json") for d in docs],
        "skipped": [s.model_dump(mode="json") for s in skipped],
    }
    base = create_proposal(
        ctx,
        kind=RELEASE_PLANNED_KIND,
        tool="propose_release_planned_orders",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=MRP_READ_DOMAINS,
    )
    return ReleasePlannedOrdersOut(
        **base.model_dump(), selected_suggestions=len(chosen), documents=docs, skipped=skipped
    )


@applier(RELEASE_PLANNED_KIND, roles=("planner",), domains=("purchasing", "production"))
def apply_release_planned_orders(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the documents as proposed: requisitions and subcontract orders through their own appliers."""
    docs = [PlannedDocument.model_validate(d) for d in proposal.effect.get("documents", [])]
    out: dict[str, Any] = {"requisitions": [], "production_orders": [], "subcontract_orders": []}
    for d in docs:
        source_ref = _source_ref(d.planned_orders)
        if d.requisition is not None:
            effect = {"requisitions": [d.requisition.model_dump(mode="json")], "source_ref": source_ref}
            made = apply_purchase_requests(session, _transient(proposal, PURCHASE_REQUESTS, effect), actor)
            out["requisitions"] += [{**r, "planned_orders": d.planned_orders} for r in made["requisitions"]]
        elif d.subcontract_order is not None:
            effect = {"orders": [d.subcontract_order.model_dump(mode="json")], "source_ref": source_ref}
            made = apply_subcontract_orders(session, _transient(proposal, SUBCONTRACT_ORDERS, effect), actor)
            out["subcontract_orders"] += [
                {**r, "planned_orders": d.planned_orders} for r in made["subcontract_orders"]
            ]
        elif d.production_order is not None:
            out["production_orders"] += create_production_orders(
                session, proposal, actor, [d.production_order]
            )
    return out


# ---------------------------------------------------------------- batch creation of production orders


class StockOrderIn(BaseModel):
    """Make to stock: one item, quantity and due date."""

    item: str = Field(min_length=1, max_length=64, description="make item code")
    qty: Num = Field(gt=0, description="quantity in the item's unit")
    due_date: date = Field(description="when the goods must be finished, YYYY-MM-DD")
    priority: int = Field(default=DEFAULT_PRIORITY, ge=0, le=99, description="lower number = more important")


class ProposeProductionOrdersIn(BaseModel):
    sales_orders: list[str] = Field(
        default_factory=list,
        max_length=200,
        description="make to order: sales order codes ('SO-1': every line of a make item) or lines ('SO-1/2')",
    )
    items: list[StockOrderIn] = Field(default_factory=list, max_length=500, description="make to stock")

    @model_validator(mode="after")
    def _something(self) -> ProposeProductionOrdersIn:
        if not self.sales_orders and not self.items:
            raise ValueError("give sales_orders (make to order) or items (make to stock)")
        return self


class SkippedLine(BaseModel):
    sales_order_line: str
    item: str
    reason: str
    covered_by: list[str] = Field(description="linked production orders that already cover it")


class ProductionOrdersProposalOut(ProposalOut):
    orders: list[PlannedProductionOrder]
    skipped: list[SkippedLine] = Field(description="sales order lines not produced, and why")
    notes: list[str] = Field(description="lines partly covered by linked orders: only the rest is made")


def split_by_max_lot(qty: Decimal, rule: LotSizingRule) -> list[Decimal]:
    """``qty`` in orders of at most the item's maximum lot (no rounding up: an order makes what is asked)."""
    cap = rule.max_lot
    lots = []
    while cap > 0 and qty > cap:
        lots.append(cap)
        qty -= cap
    return [*lots, qty]


def _sales_refs(session: Session, refs: Sequence[str]) -> list[tuple[SalesOrder, SalesOrderLine]]:
    """The sales order lines named by 'SO-1' or 'SO-1/2', in the order given, each once."""
    out: list[tuple[SalesOrder, SalesOrderLine]] = []
    seen: set[int] = set()
    for index, ref in enumerate(refs):
        field = f"sales_orders.{index}"
        code, _, line_text = ref.strip().partition("/")
        order = session.exec(select(SalesOrder).where(SalesOrder.code == code)).first()
        if order is None:
            raise ToolError(
                "not_found",
                f"sales order {code!r} not found",
                {"kind": "sales_order", "key": code, "field": field},
            )
        if order.status not in SALES_OPEN:
            raise ToolError(
                "conflict",
                f"sales order {code} is {order.status}: nothing left to make for it",
                {"record": code, "field": "status", "input_field": field, "status": order.status},
            )
        stmt = select(SalesOrderLine).where(SalesOrderLine.sales_order_id == order.id)
        if line_text:
            if not line_text.isdigit():
                raise ToolError(
                    "invalid_input",
                    f"{field}: {ref!r} is not ORDER or ORDER/LINE (e.g. SO-1/1)",
                    {"field": field},
                )
            stmt = stmt.where(SalesOrderLine.line_no == int(line_text))
        lines = session.exec(stmt.order_by(SalesOrderLine.line_no)).all()  # type: ignore[arg-type]
        if not lines:
            raise ToolError(
                "not_found",
                f"sales order line {ref!r} not found",
                {"kind": "sales_order_line", "key": ref, "field": field},
            )
        for line in lines:
            if line.id not in seen:
                seen.add(line.id or 0)
                out.append((order, line))
    return out


def _linked_coverage(session: Session, line: SalesOrderLine) -> tuple[Decimal, list[str]]:
    """What linked production orders still bring to a line: output to come plus output made, not shipped.

    Units already shipped are taken to have come from the linked orders' output first, so a line shipped
    partly from stock before any order was linked is not counted twice.
    """
    linked = session.exec(
        select(ProductionOrder).where(
            ProductionOrder.sales_order_line_id == line.id,
            ProductionOrder.kind == "production",
            ProductionOrder.status != "cancelled",
        )
    ).all()
    to_come = sum(
        (
            max(Decimal(o.qty) - Decimal(o.completed_qty), Decimal(0))
            for o in linked
            if o.status in OPEN_PRODUCTION
        ),
        Decimal(0),
    )
    made = sum((Decimal(o.completed_qty) for o in linked), Decimal(0))
    unshipped = max(made - Decimal(line.shipped_qty), Decimal(0))
    return to_come + unshipped, sorted(o.code for o in linked)


def _order_line(p: PlannedProductionOrder, zh: bool) -> str:
    comps = ", ".join(f"{c.item} {_fmt(c.required)}" for c in p.components)
    if zh:
        so = f",销售订单 {p.sales_order_line}" if p.sales_order_line else ""
        return f"{p.item} {_fmt(p.qty)} {p.uom},{p.due_date.isoformat()} 完工{so},优先级 {p.priority}" + (
            f",用料 {comps}" if comps else ""
        )
    so = f" for {p.sales_order_line}" if p.sales_order_line else ""
    return f"{p.item} {_fmt(p.qty)} {p.uom} due {p.due_date.isoformat()}{so}, priority {p.priority}" + (
        f", components {comps}" if comps else ""
    )


@tool(kind="propose")
def propose_production_orders(
    ctx: ToolContext, args: ProposeProductionOrdersIn
) -> ProductionOrdersProposalOut:
    """Create several production orders at once (生产任务单批量新增), each with its component requirements
    from the BOM in force (phantoms exploded through, substitutes not chosen), in status planned.

    Make to order: give sales orders ('SO-1') or lines ('SO-1/2'); every line of a make item gets one order
    (several above the item's max_order_qty) linked to the line, due on the line's due date, with the sales
    order's priority. Lines already covered by linked open production orders are skipped (and listed);
    partly covered lines get the rest. Make to stock: give items with quantity and due date. Release them
    later with propose_release_production_orders. Nothing is created until a planner (or manager) confirms;
    a change to the sales orders, BOMs or items before that makes the proposal stale."""
    session = ctx.session
    plant = load_plant(ctx)
    planned: list[PlannedProductionOrder] = []
    skipped: list[SkippedLine] = []
    notes: list[str] = []
    item_rows: dict[int, Item] = {}
    for order, line in _sales_refs(session, args.sales_orders):
        ref = f"{order.code}/{line.line_no}"
        item = item_rows.get(line.item_id) or session.get(Item, line.item_id)
        assert item is not None  # a foreign key
        item_rows[line.item_id] = item
        reason = ""
        if item.source != "make" or item.phantom:
            reason = (
                f"{item.code} is a phantom"
                if item.phantom
                else f"{item.code} is a {item.source} item, not made here"
            )
        elif item.code not in plant.items:
            reason = f"{item.code} is inactive"
        open_qty = Decimal(line.qty) - Decimal(line.shipped_qty)
        if not reason and open_qty <= 0:
            reason = "already shipped"
        covered, linked = _linked_coverage(session, line) if not reason else (Decimal(0), [])
        to_make = open_qty - covered
        if not reason and to_make <= 0:
            reason = f"covered by linked production order(s) {', '.join(linked)}"
        if reason:
            skipped.append(
                SkippedLine(sales_order_line=ref, item=item.code, reason=reason, covered_by=linked)
            )
            continue
        if covered > 0:
            notes.append(
                f"{ref}: {_fmt(covered)} of {_fmt(open_qty)} {item.uom} already covered by "
                f"{', '.join(linked)}; ordering {_fmt(to_make)}"
            )
        for qty in split_by_max_lot(to_make, LotSizingRule.for_item(plant.items[item.code])):
            planned.append(
                plan_production_order(
                    session,
                    plant,
                    item,
                    qty,
                    line.due_date,
                    priority=order.priority,
                    sales_line=(ref, line.id or 0),
                )
            )
    for index, wanted in enumerate(args.items):
        field = f"items.{index}.item"
        item = session.exec(select(Item).where(Item.code == wanted.item)).first()
        if item is None:
            raise ToolError(
                "not_found",
                f"item {wanted.item!r} not found",
                {"kind": "item", "key": wanted.item, "field": field},
            )
        if item.source != "make" or item.phantom or item.code not in plant.items:
            what = (
                "a phantom"
                if item.phantom
                else ("inactive" if item.code not in plant.items else f"a {item.source} item")
            )
            raise ToolError(
                "invalid_input",
                f"{field}: {item.code} is {what}: only make items get production orders",
                {"record": item.code, "field": field, "source": item.source},
            )
        for qty in split_by_max_lot(wanted.qty, LotSizingRule.for_item(plant.items[item.code])):
            planned.append(
                plan_production_order(session, plant, item, qty, wanted.due_date, priority=wanted.priority)
            )
    if not planned:
        raise ToolError(
            "conflict",
            "nothing to create: " + "; ".join(f"{s.sales_order_line} {s.item}: {s.reason}" for s in skipped),
            {"skipped": [s.model_dump(mode="json") for s in skipped]},
        )
    more = len(planned) - SUMMARY_LINES
    zh = f"新建 {len(planned)} 张生产订单(计划状态):" + ";".join(
        _order_line(p, True) for p in planned[:SUMMARY_LINES]
    )
    en = f"Create {len(planned)} production order(s) (planned): " + "; ".join(
        _order_line(p, False) for p in planned[:SUMMARY_LINES]
    )
    if more > 0:
        zh, en = zh + f";等另 {more} 张", en + f"; and {more} more"
    if skipped:
        zh += ";跳过 " + "、".join(f"{s.sales_order_line}({s.reason})" for s in skipped[:SUMMARY_LINES])
        en += "; skipped " + ", ".join(f"{s.sales_order_line} ({s.reason})" for s in skipped[:SUMMARY_LINES])
    base = create_proposal(
        ctx,
        kind=PRODUCTION_ORDERS_KIND,
        tool="propose_production_orders",
        args=args,
        summary_zh=(zh + "。")[:SUMMARY_CHARS],
        summary_en=(en + ".")[:SUMMARY_CHARS],
        effect={
            "orders": [p.model_dump(mode="json") for p in planned],
            "skipped": [s.model_dump(mode="json") for s in skipped],
        },
        read_domains=("master", "bom", "sales"),
    )
    return ProductionOrdersProposalOut(**base.model_dump(), orders=planned, skipped=skipped, notes=notes)


@applier(PRODUCTION_ORDERS_KIND, roles=("planner",), domains=("production",))
def apply_production_orders(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Create the proposal's production orders (planned) with their component requirements."""
    planned = [PlannedProductionOrder.model_validate(o) for o in proposal.effect.get("orders", [])]
    return {"production_orders": create_production_orders(session, proposal, actor, planned)}
