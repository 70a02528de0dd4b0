"""Order progress tracking (订单跟踪): sales orders end to end, production and subcontract orders, warnings.

Every figure comes from the order tables and the stock ledger; projected dates and risks come from the
pegged flow of material (tools/reports/projection.py documents the rule). Export any of these reports to
Excel or CSV with `orderpilot report NAME --format xlsx|csv --out FILE`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator

from data_model.tables import (
    InspectionOrder,
    ProductionOrder,
    Reservation,
    Routing,
    RoutingOperation,
    SalesOrder,
    WorkCenter,
)
from planning.model import ZERO
from tools.catalog.orders import SalesStatus, _customer_ids, _supplier_ids
from tools.catalog.subcontracting import GetSubcontractOrderIn, get_subcontract_order
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.reports.flow import FlowStore, OrderRow, SalesLine, dec, gc_paused
from tools.reports.projection import LineProjection, OrderProjection, PeggedSupply, Projector, Risk
from tools.snapshot import OPEN_PRODUCTION, OPEN_SALES
from tools.types import Num

ProductionStatus = Literal["planned", "released", "in_progress", "completed", "closed", "cancelled"]
RiskKindOut = Literal[
    "overdue", "projected_late", "uncovered_shortage", "late_supply", "supply_overdue", "linked_order_overdue"
]
PROJECTION_NOTE = (
    "projected dates follow the pegged material flow (stock, open receipts, linked orders; what nothing covers "
    "just in time if its cumulative lead time allows, else today + that lead time), without a capacity "
    "check; promise_order (or estimate_delivery_date) gives a capacity-checked date"
)


# ---------------------------------------------------------------- shared output records


class RiskOut(BaseModel):
    kind: RiskKindOut = Field(
        description="overdue: past its date; projected_late: projected after the date owed; uncovered_shortage: "
        "material short that no open receipt covers; late_supply: a receipt it waits for comes after it is "
        "needed; supply_overdue: a receipt it waits for is past due; linked_order_overdue: an order made for "
        "it is past due"
    )
    record: str = Field(
        description="the record at fault (order line, production, subcontract or purchase order)"
    )
    item: str | None
    qty: Num | None
    date: dt.date | None = Field(description="the date concerned: due, projected or needed")
    via: list[str] = Field(description="orders between the tracked record and the record at fault")
    message: str


class PeggedSupplyOut(BaseModel):
    supply: str = Field(description="purchase order (line), production or subcontract order, or QC/<item>")
    kind: Literal["purchase", "production", "subcontract", "inspection", "transit"]
    item: str
    qty: Num = Field(description="the part pegged to `for_record`")
    due: date
    projected: date = Field(description="when it is expected (a production order's projected finish)")
    needed: date
    late: bool = Field(description="expected after it is needed")
    for_record: str = Field(description="the order line or order it serves")
    level: int = Field(description="0: serves the tracked record itself; 1+: serves an order feeding it")


class ComponentProgressOut(BaseModel):
    item: str
    required: Num
    issued: Num = Field(description="net of returns")
    remaining: Num
    from_stock: Num = Field(description="of the remaining: free stock pegged to the order")
    incoming: Num = Field(description="of the remaining: open receipts pegged to the order")
    uncovered: Num = Field(description="of the remaining: covered by nothing yet")
    ready_date: date = Field(description="when all of the remaining quantity is there")


class OrderProgressOut(BaseModel):
    code: str
    kind: str = Field(description="production | subcontract | rework")
    item: str
    qty: Num
    completed_qty: Num = Field(description="received so far")
    open_qty: Num
    status: str
    supplier: str | None
    parent_order: str | None
    start_date: date | None
    due_date: date
    projected_finish: date | None
    late: bool = Field(description="past due, or projected after its due date")
    issue_progress: Num = Field(
        description="share of the component requirement issued (mean over components of issued/required, "
        "each at most 1)"
    )
    receipt_progress: Num = Field(description="completed_qty / qty")
    components: list[ComponentProgressOut]


class InspectionOut(BaseModel):
    code: str
    source_ref: str
    item: str
    qty: Num
    status: str
    accepted_qty: Num
    rejected_qty: Num
    inspection_date: date | None


def _risk_out(r: Risk) -> RiskOut:
    return RiskOut(
        kind=r.kind.value,
        record=r.record,
        item=r.item,
        qty=r.qty,
        date=r.on,
        via=list(r.via),
        message=r.message,
    )


def _supply_out(s: PeggedSupply) -> PeggedSupplyOut:
    return PeggedSupplyOut(
        supply=s.supply,
        kind=s.kind,
        item=s.item,
        qty=s.qty,
        due=s.due,
        projected=s.projected,
        needed=s.needed,
        late=s.late,
        for_record=s.for_record,
        level=s.level,
    )


def _progress(store: FlowStore, proj: OrderProjection) -> tuple[Decimal, list[ComponentProgressOut]]:
    order = proj.order
    store.ensure_orders([order.id])
    outlooks = {o.item: o for o in proj.components}
    merged: dict[str, list[Decimal]] = {}
    for comp in store.components.get(order.id, ()):
        row = merged.setdefault(store.items[comp.item_id].code, [ZERO, ZERO])
        row[0] += comp.required
        row[1] += comp.issued
    shares = [min(issued / required, Decimal(1)) for required, issued in merged.values() if required > 0]
    out = []
    for code, (required, issued) in merged.items():
        look = outlooks.get(code)
        remaining = max(required - issued, ZERO)
        out.append(
            ComponentProgressOut(
                item=code,
                required=required,
                issued=issued,
                remaining=remaining,
                from_stock=look.from_stock if look else remaining,
                incoming=look.from_receipts if look else ZERO,
                uncovered=look.uncovered if look else ZERO,
                ready_date=look.ready if look else store.today,
            )
        )
    share = sum(shares, ZERO) / len(shares) if shares else (Decimal(1) if order.completed_qty > 0 else ZERO)
    return share, out


def _order_progress(store: FlowStore, proj: OrderProjection) -> OrderProgressOut:
    o = proj.order
    share, comps = _progress(store, proj)
    parent = store.orders.get(o.parent_order_id) if o.parent_order_id else None
    return OrderProgressOut(
        code=o.code,
        kind=o.kind,
        item=store.items[o.item_id].code,
        qty=o.qty,
        completed_qty=o.completed_qty,
        open_qty=o.open_qty,
        status=o.status,
        supplier=store.suppliers.get(o.supplier_id, ("", ""))[0] or None if o.supplier_id else None,
        parent_order=parent.code if parent else None,
        start_date=o.start_date,
        due_date=o.due_date,
        projected_finish=proj.finish,
        late=_order_late(store, proj),
        issue_progress=share,
        receipt_progress=o.completed_qty / o.qty if o.qty > 0 else ZERO,
        components=comps,
    )


def _order_late(store: FlowStore, proj: OrderProjection) -> bool:
    o = proj.order
    return o.open_qty > 0 and (o.due_date < store.today or proj.late)


def _inspections(ctx: ToolContext, refs: Iterable[str]) -> dict[str, list[InspectionOut]]:
    """Inspection orders per source document code."""
    wanted = sorted(set(refs))
    out: dict[str, list[InspectionOut]] = defaultdict(list)
    if not wanted:
        return out
    rows = ctx.session.execute(
        sa.select(
            InspectionOrder.code,
            InspectionOrder.source_ref,
            InspectionOrder.item_id,
            InspectionOrder.qty,
            InspectionOrder.status,
            InspectionOrder.accepted_qty,
            InspectionOrder.rejected_qty,
            InspectionOrder.inspection_date,
        )
        .where(InspectionOrder.source_ref.in_(wanted), InspectionOrder.status != "cancelled")
        .order_by(InspectionOrder.id)
    ).all()
    from tools.catalog.material_issue import items_by_id

    items = items_by_id(ctx.session, {r[2] for r in rows})
    for code, ref, item_id, qty, status, acc, rej, when in rows:
        out[ref].append(
            InspectionOut(
                code=code,
                source_ref=ref,
                item=items[item_id].code,
                qty=dec(qty),
                status=status,
                accepted_qty=dec(acc),
                rejected_qty=dec(rej),
                inspection_date=when,
            )
        )
    return out


def _document(supply_id: str) -> str:
    """The document code of a supply id (PO-1/2 → PO-1)."""
    return supply_id.split("/", 1)[0]


# ---------------------------------------------------------------- sales order full-flow tracking


class GetSalesOrderTrackingIn(BaseModel):
    sales_order: str | None = Field(
        default=None, max_length=64, description="one sales order code, e.g. SO-1020"
    )
    status: SalesStatus | None = Field(
        default=None,
        description="only orders in this status (default: open orders, confirmed and in progress)",
    )
    customer: str | None = Field(
        default=None, max_length=200, description="customer code or part of its name"
    )
    at_risk_only: bool = Field(default=False, description="only lines flagged at risk")
    capacity_check: bool = Field(
        default=False,
        description="with sales_order: also the capacity-checked estimate of estimate_delivery_date (slower)",
    )
    limit: int = Field(default=500, ge=1, le=20000, description="at most this many lines")
    offset: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _capacity_check_for_one_order(self) -> GetSalesOrderTrackingIn:
        if self.capacity_check and self.sales_order is None:
            raise ValueError("capacity_check needs sales_order (one order at a time)")
        return self


class ReservationOut(BaseModel):
    item: str
    qty: Num
    supply: str = Field(description="'stock' or the open purchase / production order reserved")


class SalesLineTrackingOut(BaseModel):
    sales_order: str
    line_no: int
    line: str = Field(description="CODE/line, the id other tools use")
    customer: str
    customer_name: str
    priority: int
    order_status: str
    item: str
    item_name: str
    uom: str
    qty: Num
    shipped_qty: Num
    open_qty: Num
    requested_date: date
    promised_date: date | None
    owed_date: date = Field(description="the promised date, else the requested one")
    stage: str = Field(
        description="where it is (the least advanced part of its open quantity): shipped, ready_to_ship, "
        "in_production, scheduled, waiting_for_material, awaiting_supply, not_covered, or the order's status "
        "(draft, cancelled, done)"
    )
    stock_reserved: Num = Field(description="stock of its item reserved for it (a promise's reservation)")
    reservations: list[ReservationOut] = Field(
        description="every active reservation for it: its item and its components, from stock or open supply"
    )
    ready_qty: Num = Field(
        description="of the open quantity: in stock for it now (made for it, or free stock)"
    )
    in_production_qty: Num = Field(description="on its production orders in progress")
    planned_qty: Num = Field(description="on its production orders not started yet")
    incoming_qty: Num = Field(description="from open receipts pegged to it")
    uncovered_qty: Num = Field(description="covered by nothing yet")
    production_orders: list[OrderProgressOut] = Field(description="production and rework orders made for it")
    subcontract_orders: list[OrderProgressOut] = Field(description="subcontract orders made for it")
    purchases: list[PeggedSupplyOut] = Field(description="purchase order lines pegged to it, at every level")
    pegged_supply: list[PeggedSupplyOut] = Field(
        description="every open receipt pegged to it, at every level"
    )
    inspections: list[InspectionOut] = Field(description="inspection lots of its orders and pegged receipts")
    projected_date: date | None = Field(description="when all of the open quantity is projected ready")
    projection_basis: str
    capacity_checked_date: date | None = Field(
        default=None, description="estimate_delivery_date's capacity-checked date (with capacity_check)"
    )
    days_late: int = Field(description="projected date after the owed date, in calendar days")
    at_risk: bool
    risks: list[RiskOut]


class GetSalesOrderTrackingOut(BaseModel):
    today: date
    total: int = Field(description="lines matching the filters (before limit/offset)")
    at_risk: int = Field(description="lines at risk among them")
    lines: list[SalesLineTrackingOut] = Field(description="by order, then line")
    note: str


def _sales_order_ids(ctx: ToolContext, args: GetSalesOrderTrackingIn) -> list[int] | None:
    """The sales orders to report (None: every open order, loaded at once)."""
    session = ctx.session
    if args.sales_order is None and args.status is None and args.customer is None:
        return None
    stmt = sa.select(SalesOrder.id)
    if args.sales_order is not None:
        stmt = stmt.where(sa.func.lower(SalesOrder.code) == args.sales_order.strip().lower())
    if args.status is not None:
        stmt = stmt.where(SalesOrder.status == args.status)
    elif args.sales_order is None:
        stmt = stmt.where(SalesOrder.status.in_(OPEN_SALES))
    if args.customer is not None:
        stmt = stmt.where(SalesOrder.customer_id.in_(_customer_ids(session, args.customer)))
    ids = list(session.execute(stmt).scalars())
    if args.sales_order is not None and not ids:
        exists = session.execute(
            sa.select(SalesOrder.status).where(
                sa.func.lower(SalesOrder.code) == args.sales_order.strip().lower()
            )
        ).first()
        if exists is None:
            raise ToolError(
                "not_found",
                f"sales order {args.sales_order!r} not found",
                {"kind": "sales_order", "key": args.sales_order, "field": "sales_order"},
            )
    return ids


def track_sales_lines(
    ctx: ToolContext, args: GetSalesOrderTrackingIn
) -> tuple[FlowStore, list[LineProjection]]:
    """The projections of the sales order lines the arguments select, by order and line."""
    store = FlowStore(ctx.session, ctx.today)
    ids = _sales_order_ids(ctx, args)
    if ids is None:
        store.load_everything()
        lines: Sequence[SalesLine] = sorted(
            store.open_sales_lines(), key=lambda ln: (ln.order_code, ln.line_no)
        )
    else:
        lines = store.sales_lines_of(ids)
    projector = Projector(store)
    projector.prefetch(lines=lines)
    return store, [projector.line(ln.id) for ln in lines]


def _capacity_estimates(ctx: ToolContext, code: str) -> dict[int, date]:
    """Per line number: the capacity-checked date of promising's estimate (estimate_delivery_date)."""
    from tools.catalog.promising import EstimateDeliveryIn, estimate_delivery_date

    found = ctx.session.execute(
        sa.select(SalesOrder.code).where(sa.func.lower(SalesOrder.code) == code.strip().lower())
    ).scalar_one_or_none()
    if found is None:
        return {}
    out = estimate_delivery_date(ctx, EstimateDeliveryIn(sales_order=found))
    return {line.line_no: line.estimated_date for line in out.lines}


def _reservations(ctx: ToolContext, refs: Sequence[str]) -> dict[str, list[ReservationOut]]:
    """Active reservations per demand (a promise reserves per sales order line: its item and components)."""
    out: dict[str, list[ReservationOut]] = defaultdict(list)
    if not refs:
        return out
    from data_model.tables import Item

    for ref, code, qty, supply in ctx.session.execute(
        sa.select(Reservation.demand_ref, Item.code, Reservation.qty, Reservation.supply_ref)
        .join(Item, Item.id == Reservation.item_id)
        .where(Reservation.status == "active", Reservation.demand_ref.in_(sorted(set(refs))))
        .order_by(Reservation.id)
    ):
        out[ref].append(ReservationOut(item=code, qty=dec(qty), supply=supply))
    return out


@tool(kind="read", tags=("tracking",))
def get_sales_order_tracking(ctx: ToolContext, args: GetSalesOrderTrackingIn) -> GetSalesOrderTrackingOut:
    """Sales order full-flow tracking (销售订单全流程跟踪表): where every order line really is and when it will
    be ready. Per line: requested and promised dates, shipped and open quantity, stock reserved and ready for
    it, the production and subcontract orders made for it with their progress (issued/required,
    completed/qty, status, projected finish), the purchase and production orders pegged to it at every level
    of the material flow, inspection lots, the stage it is at, the projected date and an at-risk flag with
    typed reasons (overdue, projected late, material short without covering receipts, late or overdue
    supply, linked order overdue). Give ``sales_order`` for one order ("SO-1020 到哪一步了?"); with no
    filter it reports every open order. Projected dates come from the pegged material flow (fast, no
    capacity check); ``capacity_check`` adds promising's capacity-checked estimate for one order. Quantities
    are in each item's unit; read-only."""
    with gc_paused():
        return _get_sales_order_tracking(ctx, args)


def _get_sales_order_tracking(ctx: ToolContext, args: GetSalesOrderTrackingIn) -> GetSalesOrderTrackingOut:
    store, projections = track_sales_lines(ctx, args)
    store.load_partners()
    checked = _capacity_estimates(ctx, args.sales_order) if args.capacity_check and args.sales_order else {}
    if args.at_risk_only:
        projections = [p for p in projections if p.risks]
    page = projections[args.offset : args.offset + args.limit]
    refs: set[str] = set()
    for p in page:
        refs.update(o.order.code for o in p.linked)
        refs.update(_document(s.supply) for s in p.supplies if s.kind != "inspection")
    inspections = _inspections(ctx, refs)
    reserved = _reservations(ctx, [p.line.ref for p in page])
    out = []
    for p in page:
        ln = p.line
        item = store.items[ln.item_id]
        cust = store.customers.get(ln.customer_id, ("", ""))
        linked = [_order_progress(store, o) for o in p.linked]
        mine = {o.code for o in linked} | {_document(s.supply) for s in p.supplies}
        out.append(
            SalesLineTrackingOut(
                sales_order=ln.order_code,
                line_no=ln.line_no,
                line=ln.ref,
                customer=cust[0],
                customer_name=cust[1],
                priority=ln.priority,
                order_status=ln.order_status,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                qty=ln.qty,
                shipped_qty=ln.shipped_qty,
                open_qty=ln.open_qty,
                requested_date=ln.due_date,
                promised_date=ln.promised_date,
                owed_date=ln.commitment_date,
                stage=p.stage,
                stock_reserved=sum(
                    (r.qty for r in reserved.get(ln.ref, ()) if r.item == item.code and r.supply == "stock"),
                    ZERO,
                ),
                reservations=reserved.get(ln.ref, []),
                ready_qty=p.made_for_it + p.from_stock,
                in_production_qty=p.in_production,
                planned_qty=p.planned,
                incoming_qty=p.incoming,
                uncovered_qty=p.uncovered,
                production_orders=[o for o in linked if o.kind != "subcontract"],
                subcontract_orders=[o for o in linked if o.kind == "subcontract"],
                purchases=[_supply_out(s) for s in p.supplies if s.kind == "purchase"],
                pegged_supply=[_supply_out(s) for s in p.supplies],
                inspections=[i for ref in sorted(mine) for i in inspections.get(ref, ())],
                projected_date=p.projected,
                projection_basis=p.basis,
                days_late=p.days_late,
                at_risk=bool(p.risks),
                risks=[_risk_out(r) for r in p.risks],
            )
        )
        estimate = checked.get(ln.line_no)
        if estimate is not None and ln.open_qty > 0:
            row = out[-1]
            row.capacity_checked_date = estimate
            already = any(r.kind == "projected_late" and r.record == ln.ref for r in row.risks)
            if estimate > ln.commitment_date >= ctx.today and not already:
                row.at_risk = True
                row.risks.append(
                    RiskOut(
                        kind="projected_late",
                        record=ln.ref,
                        item=item.code,
                        qty=ln.open_qty,
                        date=estimate,
                        via=[],
                        message=f"{ln.ref}: the capacity-checked estimate {estimate.isoformat()} is after "
                        f"{ln.commitment_date.isoformat()}",
                    )
                )
    return GetSalesOrderTrackingOut(
        today=ctx.today,
        total=len(projections),
        at_risk=sum(1 for row in out if row.at_risk) if checked else sum(1 for p in projections if p.risks),
        lines=out,
        note=PROJECTION_NOTE,
    )


# ---------------------------------------------------------------- production order tracking


class GetProductionOrderTrackingIn(BaseModel):
    production_order: str | None = Field(
        default=None, max_length=64, description="one order code, e.g. MO-12"
    )
    status: ProductionStatus | None = Field(
        default=None, description="only orders in this status (default: open: planned, released, in progress)"
    )
    limit: int = Field(default=500, ge=1, le=20000)
    offset: int = Field(default=0, ge=0)


class OperationOut(BaseModel):
    seq: int
    work_center: str
    completed_qty: Num | None = Field(description="None: operation progress is not recorded")


class ProductionTrackingOut(OrderProgressOut):
    item_name: str
    uom: str
    priority: int
    sales_order_line: str | None = Field(description="the sales order line it is made for, if any")
    in_inspection_qty: Num = Field(description="received output waiting in QC")
    need_date: date = Field(description="when its components are needed (its start)")
    material_ready_date: date | None = Field(description="when every component still to issue is there")
    planned_finish: date = Field(description="its due date")
    days_late: int = Field(
        description="projected (or today, if past due) after the due date, in calendar days"
    )
    operations_recorded: bool = Field(description="whether completed quantities per operation are recorded")
    operations: list[OperationOut] = Field(description="its routing's operations")
    projection_basis: str
    pegged_supply: list[PeggedSupplyOut]
    risks: list[RiskOut]


class GetProductionOrderTrackingOut(BaseModel):
    today: date
    total: int
    late: int = Field(description="orders past due or projected late")
    orders: list[ProductionTrackingOut]
    note: str


def _routing_ops(ctx: ToolContext, item_ids: Iterable[int]) -> dict[int, list[OperationOut]]:
    ids = sorted(set(item_ids))
    out: dict[int, list[OperationOut]] = defaultdict(list)
    if not ids:
        return out
    for item_id, seq, wc in ctx.session.execute(
        sa.select(Routing.item_id, RoutingOperation.seq, WorkCenter.code)
        .join(RoutingOperation, RoutingOperation.routing_id == Routing.id)
        .join(WorkCenter, WorkCenter.id == RoutingOperation.work_center_id)
        .where(Routing.item_id.in_(ids))
        .order_by(Routing.item_id, RoutingOperation.seq)
    ):
        out[item_id].append(OperationOut(seq=seq, work_center=wc, completed_qty=None))
    return out


def _pending_qc(ctx: ToolContext, codes: Sequence[str]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(Decimal)
    if not codes:
        return out
    for ref, qty in ctx.session.execute(
        sa.select(InspectionOrder.source_ref, InspectionOrder.qty).where(
            InspectionOrder.status == "pending", InspectionOrder.source_ref.in_(sorted(set(codes)))
        )
    ):
        out[ref] += dec(qty)
    return out


def _select_orders(
    store: FlowStore,
    code: str | None,
    status: str | None,
    kinds: Sequence[str],
    supplier_ids: Sequence[int] | None = None,
    field: str = "production_order",
) -> list[OrderRow]:
    if code is not None:
        order = store.order_by_code(code)
        if order is None:
            raise ToolError(
                "not_found",
                f"production order {code!r} not found",
                {"kind": "production_order", "key": code, "field": field},
            )
        return [order]
    cond = ProductionOrder.kind.in_(list(kinds))
    cond = (
        sa.and_(cond, ProductionOrder.status == status)
        if status
        else sa.and_(cond, ProductionOrder.status.in_(OPEN_PRODUCTION))
    )
    if supplier_ids is not None:
        cond = sa.and_(cond, ProductionOrder.supplier_id.in_(list(supplier_ids)))
    if status is None and supplier_ids is None:
        store.load_everything()
        return sorted(
            (o for o in store.orders.values() if o.is_open and o.kind in kinds), key=lambda o: o.code
        )
    return sorted(store.load_orders_where(cond), key=lambda o: o.code)


@tool(kind="read", tags=("tracking",))
def get_production_order_tracking(
    ctx: ToolContext, args: GetProductionOrderTrackingIn
) -> GetProductionOrderTrackingOut:
    """Production order tracking (生产任务单跟踪表): per order, issue progress (issued / required per
    component, with what stock, open receipts or nothing covers of the rest), receipt progress (completed /
    planned quantity, output waiting in QC), operations (their completed quantities are not recorded: said
    so), status, the planned finish (due date) against the projected finish from its material, a late flag
    and the typed risks behind it. Give ``production_order`` for one order; default: every open production
    and rework order. Read-only."""
    with gc_paused():
        return _get_production_order_tracking(ctx, args)


def _get_production_order_tracking(
    ctx: ToolContext, args: GetProductionOrderTrackingIn
) -> GetProductionOrderTrackingOut:
    store = FlowStore(ctx.session, ctx.today)
    orders = _select_orders(store, args.production_order, args.status, ("production", "rework"))
    projector = Projector(store)
    projector.prefetch(orders=orders)
    projections = [projector.order(o.id) for o in orders]
    store.load_partners()
    page = projections[args.offset : args.offset + args.limit]
    ops = _routing_ops(ctx, [p.order.item_id for p in page])
    qc = _pending_qc(ctx, [p.order.code for p in page])
    linked_lines = {p.order.sales_order_line_id for p in page if p.order.sales_order_line_id}
    line_refs = _line_refs(ctx, linked_lines)
    out = []
    for p in page:
        o = p.order
        item = store.items[o.item_id]
        base = _order_progress(store, p)
        overdue_to = (
            max(p.finish or ctx.today, ctx.today) if o.due_date < ctx.today else (p.finish or o.due_date)
        )
        out.append(
            ProductionTrackingOut(
                **base.model_dump(),
                item_name=item.name,
                uom=item.uom,
                priority=o.priority,
                sales_order_line=line_refs.get(o.sales_order_line_id or 0),
                in_inspection_qty=qc.get(o.code, ZERO),
                need_date=p.need_date,
                material_ready_date=p.ready_date,
                planned_finish=o.due_date,
                days_late=max((overdue_to - o.due_date).days, 0) if o.open_qty > 0 else 0,
                operations_recorded=False,
                operations=ops.get(o.item_id, []),
                projection_basis=p.basis,
                pegged_supply=[_supply_out(s) for s in p.supplies],
                risks=[_risk_out(r) for r in p.risks],
            )
        )
    return GetProductionOrderTrackingOut(
        today=ctx.today,
        total=len(projections),
        late=sum(1 for p in projections if _order_late(store, p)),
        orders=out,
        note=PROJECTION_NOTE + "; operation progress is not recorded in OrderPilot yet",
    )


def _line_refs(ctx: ToolContext, line_ids: Iterable[int]) -> dict[int, str]:
    from data_model.tables import SalesOrderLine

    ids = sorted(set(line_ids))
    if not ids:
        return {}
    return {
        lid: f"{code}/{no}"
        for lid, code, no in ctx.session.execute(
            sa.select(SalesOrderLine.id, SalesOrder.code, SalesOrderLine.line_no)
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
            .where(SalesOrderLine.id.in_(ids))
        )
    }


# ---------------------------------------------------------------- subcontract tracking


class GetSubcontractTrackingIn(BaseModel):
    subcontract_order: str | None = Field(
        default=None, max_length=64, description="one subcontract order code"
    )
    supplier: str | None = Field(
        default=None, max_length=200, description="subcontractor code or part of its name"
    )
    include_closed: bool = Field(default=False, description="also closed and cancelled orders")
    limit: int = Field(default=500, ge=1, le=5000)
    offset: int = Field(default=0, ge=0)


class SubcontractMaterialTrackingOut(BaseModel):
    item: str
    uom: str
    required: Num
    sent: Num = Field(description="sent to the subcontractor (before returns)")
    consumed: Num = Field(description="used in the goods received")
    supplier_scrap: Num = Field(description="spoilt by the subcontractor")
    returned: Num
    at_supplier: Num = Field(description="still at the subcontractor for this order: to reconcile")
    to_send: Num


class SubcontractTrackingOut(BaseModel):
    code: str
    supplier: str | None
    supplier_name: str
    item: str
    item_name: str
    uom: str
    status: str
    qty: Num
    received_qty: Num
    accepted_qty: Num
    rejected_qty: Num
    in_inspection_qty: Num
    open_qty: Num
    due_date: date
    projected_finish: date | None
    overdue: bool
    days_late: int
    unit_fee: Num
    materials: list[SubcontractMaterialTrackingOut]
    sales_order_line: str | None
    risks: list[RiskOut]


class GetSubcontractTrackingOut(BaseModel):
    today: date
    total: int
    overdue: int
    orders: list[SubcontractTrackingOut]


@tool(kind="read", tags=("tracking",))
def get_subcontract_tracking(ctx: ToolContext, args: GetSubcontractTrackingIn) -> GetSubcontractTrackingOut:
    """Subcontract tracking (委外加工单跟踪表): per subcontract order, the material sent, consumed, spoilt by
    the subcontractor (supplier scrap), returned and still at the subcontractor (for reconciliation), goods
    received, accepted, rejected and in QC, the open quantity, due date, projected finish, overdue flag and
    risks. Give ``subcontract_order`` for one order or ``supplier`` for one subcontractor; default: every
    order not closed or cancelled. Read-only."""
    with gc_paused():
        return _get_subcontract_tracking(ctx, args)


def _get_subcontract_tracking(ctx: ToolContext, args: GetSubcontractTrackingIn) -> GetSubcontractTrackingOut:
    store = FlowStore(ctx.session, ctx.today)
    if args.subcontract_order is not None:
        order = store.order_by_code(args.subcontract_order)
        if order is None or order.kind != "subcontract":
            get_subcontract_order(ctx, GetSubcontractOrderIn(order=args.subcontract_order))  # its own error
        orders = [order] if order is not None else []
    else:
        cond: Any = ProductionOrder.kind == "subcontract"
        if not args.include_closed:
            cond = sa.and_(cond, ProductionOrder.status.not_in(("closed", "cancelled")))
        if args.supplier is not None:
            cond = sa.and_(cond, ProductionOrder.supplier_id.in_(_supplier_ids(ctx.session, args.supplier)))
        orders = sorted(store.load_orders_where(cond), key=lambda o: o.code)
    projector = Projector(store)
    page = orders[args.offset : args.offset + args.limit]
    projector.prefetch(orders=page)
    line_refs = _line_refs(ctx, [o.sales_order_line_id for o in page if o.sales_order_line_id])
    out = []
    overdue = 0
    for o in page:
        detail = get_subcontract_order(ctx, GetSubcontractOrderIn(order=o.code))
        proj = projector.order(o.id)
        overdue += detail.overdue
        out.append(
            SubcontractTrackingOut(
                code=detail.code,
                supplier=detail.supplier,
                supplier_name=detail.supplier_name,
                item=detail.item,
                item_name=detail.item_name,
                uom=detail.uom,
                status=detail.status,
                qty=detail.qty,
                received_qty=detail.received_qty,
                accepted_qty=detail.accepted_qty,
                rejected_qty=detail.rejected_qty,
                in_inspection_qty=detail.in_inspection_qty,
                open_qty=detail.open_qty,
                due_date=detail.due_date,
                projected_finish=proj.finish,
                overdue=detail.overdue,
                days_late=max(detail.days_late, ((proj.finish - o.due_date).days if proj.finish else 0)),
                unit_fee=detail.unit_fee,
                materials=[
                    SubcontractMaterialTrackingOut(
                        item=m.item,
                        uom=m.uom,
                        required=m.required,
                        sent=m.sent,
                        consumed=m.consumed,
                        supplier_scrap=m.scrapped,
                        returned=m.returned,
                        at_supplier=m.at_supplier,
                        to_send=m.to_send,
                    )
                    for m in detail.materials
                ],
                sales_order_line=line_refs.get(o.sales_order_line_id or 0),
                risks=[_risk_out(r) for r in proj.risks],
            )
        )
    return GetSubcontractTrackingOut(today=ctx.today, total=len(orders), overdue=overdue, orders=out)


# ---------------------------------------------------------------- warnings


WarningKind = Literal[
    "sales_overdue",
    "sales_projected_late",
    "production_overdue",
    "subcontract_overdue",
    "purchase_overdue",
    "purchase_late_for_need",
    "production_due_soon",
    "subcontract_due_soon",
]
Severity = Literal["high", "medium", "low"]
_SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}


class WarningOut(BaseModel):
    kind: WarningKind
    severity: Severity = Field(
        description="high: late already or projected late; medium: supply late for its need; low: due soon"
    )
    record: str = Field(description="the order (line) concerned")
    records: list[str] = Field(description="every record involved: the order, its causes, what it serves")
    item: str | None
    qty: Num | None = Field(description="open quantity concerned")
    date: dt.date = Field(description="its due, owed or needed date")
    projected_date: dt.date | None = Field(description="projected or expected date, where one applies")
    days: int = Field(
        description="days late (overdue, projected or against need) or days until due (due soon)"
    )
    cause: str


class GetWarningsIn(BaseModel):
    days: int = Field(default=7, ge=0, le=365, description="look-ahead for orders due soon, in calendar days")
    limit: int = Field(default=500, ge=1, le=20000)


class GetWarningsOut(BaseModel):
    today: date
    total: int
    counts: dict[str, int] = Field(description="warnings per kind")
    warnings: list[WarningOut] = Field(description="most severe first, then by date")


def _cause(risks: Sequence[Risk], skip: str) -> tuple[str, list[str]]:
    causes = [r for r in risks if r.kind.value != skip]
    text = "; ".join(r.message for r in causes[:4]) + (
        f"; and {len(causes) - 4} more" if len(causes) > 4 else ""
    )
    return text, list(dict.fromkeys(x for r in causes for x in (*r.via, r.record)))


@tool(kind="read", tags=("tracking",))
def get_warnings(ctx: ToolContext, args: GetWarningsIn) -> GetWarningsOut:
    """Warnings for the home view and for "哪些订单可能延期? / which orders may be late?": sales order lines
    overdue or projected later than owed (promised, else requested) with the cause; production and
    subcontract orders overdue or due within ``days`` and not complete; purchase order lines overdue, or due
    after the date the orders pegged to them need them. Each warning is a typed problem record with its
    cause and the record ids involved, most severe first. Read-only."""
    with gc_paused():
        return _get_warnings(ctx, args)


def _get_warnings(ctx: ToolContext, args: GetWarningsIn) -> GetWarningsOut:
    today = ctx.today
    store = FlowStore(ctx.session, today)
    store.load_everything()
    store.load_partners()
    projector = Projector(store)
    out: list[WarningOut] = []
    for line in sorted(store.open_sales_lines(), key=lambda ln: (ln.order_code, ln.line_no)):
        p = projector.line(line.id)
        code = store.items[line.item_id].code
        owed = line.commitment_date
        if owed < today:
            cause, refs = _cause(p.risks, "overdue")
            out.append(
                WarningOut(
                    kind="sales_overdue",
                    severity="high",
                    record=line.ref,
                    records=[line.ref, *refs],
                    item=code,
                    qty=line.open_qty,
                    date=owed,
                    projected_date=p.projected,
                    days=(today - owed).days,
                    cause=f"owed {owed.isoformat()}, {_q(line.open_qty)} {code} not shipped"
                    + (f"; projected {p.projected.isoformat()}" if p.projected else "")
                    + (f"; {cause}" if cause else ""),
                )
            )
        elif p.projected is not None and p.projected > owed:
            cause, refs = _cause(p.risks, "projected_late")
            out.append(
                WarningOut(
                    kind="sales_projected_late",
                    severity="high",
                    record=line.ref,
                    records=[line.ref, *refs],
                    item=code,
                    qty=line.open_qty,
                    date=owed,
                    projected_date=p.projected,
                    days=(p.projected - owed).days,
                    cause=f"projected {p.projected.isoformat()}, owed {owed.isoformat()}"
                    + (f": {cause}" if cause else ""),
                )
            )
    horizon = today + timedelta(days=args.days)
    for o in sorted((o for o in store.orders.values() if o.open_qty > 0), key=lambda o: o.code):
        sub = o.kind == "subcontract"
        code = store.items[o.item_id].code
        if o.due_date < today:
            proj = projector.order(o.id)
            out.append(
                WarningOut(
                    kind="subcontract_overdue" if sub else "production_overdue",
                    severity="high",
                    record=o.code,
                    records=[o.code],
                    item=code,
                    qty=o.open_qty,
                    date=o.due_date,
                    projected_date=proj.finish,
                    days=(today - o.due_date).days,
                    cause=f"due {o.due_date.isoformat()}, {_q(o.completed_qty)} of {_q(o.qty)} {code} done",
                )
            )
        elif o.due_date <= horizon:
            proj = projector.order(o.id)
            cause, refs = _cause(proj.risks, "")
            out.append(
                WarningOut(
                    kind="subcontract_due_soon" if sub else "production_due_soon",
                    severity="low",
                    record=o.code,
                    records=[o.code, *refs],
                    item=code,
                    qty=o.open_qty,
                    date=o.due_date,
                    projected_date=proj.finish,
                    days=(o.due_date - today).days,
                    cause=f"due {o.due_date.isoformat()}, {_q(o.completed_qty)} of {_q(o.qty)} {code} done, "
                    f"status {o.status}" + (f"; {cause}" if cause else ""),
                )
            )
    for pl in sorted(store.purchase_lines.values(), key=lambda p: p.ref):
        if pl.open_qty <= 0:
            continue
        code = store.items[pl.item_id].code
        if pl.due_date < today:
            out.append(
                WarningOut(
                    kind="purchase_overdue",
                    severity="high",
                    record=pl.ref,
                    records=[pl.ref],
                    item=code,
                    qty=pl.open_qty,
                    date=pl.due_date,
                    projected_date=None,
                    days=(today - pl.due_date).days,
                    cause=f"due {pl.due_date.isoformat()}, {_q(pl.open_qty)} {code} not received from "
                    f"{store.suppliers.get(pl.supplier_id or 0, ('?', ''))[0]}",
                )
            )
            continue
        shares = store.pegging(pl.item_id).by_supply.get(pl.ref, ())
        late = [(demand, share) for demand, share in shares if share.late]
        if late:
            need = min(store.pegging(pl.item_id).by_demand[d].demand.need_date for d, _ in late)
            out.append(
                WarningOut(
                    kind="purchase_late_for_need",
                    severity="medium",
                    record=pl.ref,
                    records=[pl.ref, *dict.fromkeys(d for d, _ in late)],
                    item=code,
                    qty=sum((s.qty for _, s in late), ZERO),
                    date=need,
                    projected_date=pl.due_date,
                    days=(pl.due_date - need).days,
                    cause=f"due {pl.due_date.isoformat()} but needed {need.isoformat()} by "
                    + ", ".join(f"{d} ({_q(s.qty)})" for d, s in late[:5]),
                )
            )
    out.sort(key=lambda w: (_SEVERITY_RANK[w.severity], w.date, w.record))
    counts: dict[str, int] = defaultdict(int)
    for w in out:
        counts[w.kind] += 1
    return GetWarningsOut(today=today, total=len(out), counts=dict(counts), warnings=out[: args.limit])


def _q(value: Decimal) -> str:
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text
