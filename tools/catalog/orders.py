"""Order tools: list and show sales orders, list purchase and production orders."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from data_model.tables import (
    Customer,
    Item,
    ProductionOrder,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
    Supplier,
)
from tools.catalog.items import resolve_item
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.types import Num

SalesStatus = Literal["draft", "confirmed", "in_progress", "done", "cancelled"]
PurchaseStatus = Literal["draft", "confirmed", "partial", "received", "closed", "cancelled"]
ProductionStatus = Literal["planned", "released", "in_progress", "completed", "closed", "cancelled"]
ProductionKind = Literal["production", "subcontract", "rework"]
CLOSED_SALES = ("done", "cancelled")
CLOSED_PURCHASE = ("received", "closed", "cancelled")
CLOSED_PRODUCTION = ("completed", "closed", "cancelled")


class _Page(BaseModel):
    due_after: date | None = Field(
        default=None, description="only orders with a line due on or after this date"
    )
    due_before: date | None = Field(
        default=None, description="only orders with a line due on or before this date"
    )
    open_only: bool = Field(default=False, description="leave out done, closed and cancelled orders")
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _dates_in_order(self) -> _Page:
        if self.due_after and self.due_before and self.due_after > self.due_before:
            raise ValueError("due_after is later than due_before")
        return self


def _customer_ids(session: Session, key: str) -> list[int]:
    """Customers whose code is ``key`` (any case), or whose name or aliases contain it."""
    folded = key.strip().casefold()
    ids = []
    for cust in session.exec(select(Customer)).all():
        names = [cust.name, *cust.aliases.split(";")]
        if cust.code.casefold() == folded or any(folded and folded in n.casefold() for n in names if n):
            ids.append(cust.id or 0)
    if not ids:
        raise ToolError("not_found", f"customer {key!r} not found", {"kind": "customer", "key": key})
    return ids


def _supplier_ids(session: Session, key: str) -> list[int]:
    folded = key.strip().casefold()
    ids = [
        s.id or 0
        for s in session.exec(select(Supplier)).all()
        if s.code.casefold() == folded or (s.name and folded in s.name.casefold())
    ]
    if not ids:
        raise ToolError("not_found", f"supplier {key!r} not found", {"kind": "supplier", "key": key})
    return ids


def _due_filter(column: Any, page: _Page) -> list[Any]:
    conds = []
    if page.due_after:
        conds.append(column >= page.due_after)
    if page.due_before:
        conds.append(column <= page.due_before)
    return conds


# ---------------------------------------------------------------- sales orders


class ListSalesOrdersIn(_Page):
    status: SalesStatus | None = None
    customer: str | None = Field(
        default=None, max_length=200, description="customer code or part of its name"
    )
    item: str | None = Field(default=None, max_length=200, description="only orders with a line of this item")


class SalesOrderSummary(BaseModel):
    code: str
    customer: str
    customer_name: str
    status: str
    priority: int = Field(description="lower is more important")
    order_date: date | None
    line_count: int
    items: list[str]
    total_qty: Num
    open_qty: Num = Field(description="still to ship")
    earliest_due: date | None = Field(description="earliest requested date of a line still to ship")
    latest_promised: date | None = Field(description="latest promised date of a line still to ship")


class ListSalesOrdersOut(BaseModel):
    total: int = Field(description="orders matching the filters (before limit/offset)")
    orders: list[SalesOrderSummary]


@tool(kind="read")
def list_sales_orders(ctx: ToolContext, args: ListSalesOrdersIn) -> ListSalesOrdersOut:
    """List sales orders, earliest due first, with their quantities still to ship.

    Filters: status, customer (code or part of its name), item, and the requested dates of their lines.
    Use get_sales_order for an order's lines and promised dates."""
    session = ctx.session
    stmt = select(SalesOrder, Customer).join(Customer, Customer.id == SalesOrder.customer_id)  # type: ignore[arg-type]
    if args.status:
        stmt = stmt.where(SalesOrder.status == args.status)
    if args.open_only:
        stmt = stmt.where(SalesOrder.status.not_in(CLOSED_SALES))  # type: ignore[attr-defined]
    if args.customer:
        stmt = stmt.where(SalesOrder.customer_id.in_(_customer_ids(session, args.customer)))  # type: ignore[attr-defined]
    line_conds = _due_filter(SalesOrderLine.due_date, args)
    if args.item:
        line_conds.append(SalesOrderLine.item_id == resolve_item(session, args.item).id)
    if line_conds:
        stmt = stmt.where(
            sa.exists().where(SalesOrderLine.sales_order_id == SalesOrder.id, *line_conds)  # type: ignore[arg-type]
        )
    rows = session.exec(stmt).all()
    lines: dict[int, list[tuple[SalesOrderLine, str]]] = defaultdict(list)
    if rows:
        for line, code in session.exec(
            select(SalesOrderLine, Item.code)
            .join(Item, Item.id == SalesOrderLine.item_id)  # type: ignore[arg-type]
            .where(SalesOrderLine.sales_order_id.in_([so.id for so, _ in rows]))  # type: ignore[attr-defined]
            .order_by(SalesOrderLine.line_no)
        ).all():
            lines[line.sales_order_id].append((line, code))
    summaries = []
    for so, cust in rows:
        mine = lines.get(so.id or 0, [])
        still = [ln for ln, _ in mine if ln.qty > ln.shipped_qty]
        promised = [ln.promised_date for ln in still if ln.promised_date]
        summaries.append(
            SalesOrderSummary(
                code=so.code,
                customer=cust.code,
                customer_name=cust.name,
                status=so.status,
                priority=so.priority,
                order_date=so.order_date,
                line_count=len(mine),
                items=sorted({c for _, c in mine}),
                total_qty=sum((ln.qty for ln, _ in mine), Decimal(0)),
                open_qty=sum((ln.qty - ln.shipped_qty for ln in still), Decimal(0)),
                earliest_due=min((ln.due_date for ln in still), default=None),
                latest_promised=max(promised, default=None),
            )
        )
    summaries.sort(key=lambda s: (s.earliest_due is None, s.earliest_due or date.max, s.code))
    return ListSalesOrdersOut(total=len(summaries), orders=summaries[args.offset : args.offset + args.limit])


class GetSalesOrderIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="sales order code, e.g. SO-100")


class SalesOrderLineOut(BaseModel):
    line_no: int
    item: str
    item_name: str
    uom: str
    qty: Num
    shipped_qty: Num
    open_qty: Num
    requested_date: date = Field(description="the date the customer asked for")
    promised_date: date | None = Field(description="the date we promised, if any")
    promise_delay_days: int | None = Field(
        description="promised minus requested, in calendar days (>0: late)"
    )
    line_status: Literal["open", "partial", "shipped"]
    unit_price: Num
    amount: Num


class GetSalesOrderOut(BaseModel):
    code: str
    customer: str
    customer_name: str
    status: str
    priority: int
    order_date: date | None
    note: str
    lines: list[SalesOrderLineOut]
    total_amount: Num
    open_qty: Num


@tool(kind="read")
def get_sales_order(ctx: ToolContext, args: GetSalesOrderIn) -> GetSalesOrderOut:
    """Show one sales order with its lines, requested and promised dates.

    Gives the customer, status and priority, and for each line its quantity, shipped and open quantity,
    requested date, promised date and how many days the promise is after the request."""
    session = ctx.session
    found = session.exec(
        select(SalesOrder, Customer)
        .join(Customer, Customer.id == SalesOrder.customer_id)  # type: ignore[arg-type]
        .where(sa.func.lower(SalesOrder.code) == args.order.strip().lower())
    ).first()
    if found is None:
        raise ToolError(
            "not_found", f"sales order {args.order!r} not found", {"kind": "sales_order", "key": args.order}
        )
    so, cust = found
    out_lines = []
    for line, item in session.exec(
        select(SalesOrderLine, Item)
        .join(Item, Item.id == SalesOrderLine.item_id)  # type: ignore[arg-type]
        .where(SalesOrderLine.sales_order_id == so.id)
        .order_by(SalesOrderLine.line_no)
    ).all():
        open_qty = max(line.qty - line.shipped_qty, Decimal(0))
        status: Literal["open", "partial", "shipped"] = (
            "shipped" if open_qty == 0 else ("partial" if line.shipped_qty > 0 else "open")
        )
        out_lines.append(
            SalesOrderLineOut(
                line_no=line.line_no,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                qty=line.qty,
                shipped_qty=line.shipped_qty,
                open_qty=open_qty,
                requested_date=line.due_date,
                promised_date=line.promised_date,
                promise_delay_days=(line.promised_date - line.due_date).days if line.promised_date else None,
                line_status=status,
                unit_price=line.unit_price,
                amount=line.qty * line.unit_price,
            )
        )
    return GetSalesOrderOut(
        code=so.code,
        customer=cust.code,
        customer_name=cust.name,
        status=so.status,
        priority=so.priority,
        order_date=so.order_date,
        note=so.note,
        lines=out_lines,
        total_amount=sum((ln.amount for ln in out_lines), Decimal(0)),
        open_qty=sum((ln.open_qty for ln in out_lines), Decimal(0)),
    )


# ---------------------------------------------------------------- purchase orders


class ListPurchaseOrdersIn(_Page):
    status: PurchaseStatus | None = None
    supplier: str | None = Field(
        default=None, max_length=200, description="supplier code or part of its name"
    )
    item: str | None = Field(default=None, max_length=200, description="only orders with a line of this item")


class PurchaseOrderLineOut(BaseModel):
    line_no: int
    item: str
    qty: Num
    received_qty: Num
    open_qty: Num
    due_date: date
    unit_price: Num


class PurchaseOrderSummary(BaseModel):
    code: str
    supplier: str | None
    supplier_name: str
    status: str
    order_date: date | None
    lines: list[PurchaseOrderLineOut]
    open_qty: Num = Field(description="still to receive, all lines")
    earliest_due: date | None = Field(description="earliest due date of a line still to receive")


class ListPurchaseOrdersOut(BaseModel):
    total: int
    orders: list[PurchaseOrderSummary]


@tool(kind="read")
def list_purchase_orders(ctx: ToolContext, args: ListPurchaseOrdersIn) -> ListPurchaseOrdersOut:
    """List purchase orders with their lines, earliest due first.

    Each line gives the ordered, received and still-open quantity and its due date. Filters: status,
    supplier (code or part of its name), item and line due dates."""
    session = ctx.session
    stmt = select(PurchaseOrder, Supplier).join(
        Supplier,
        Supplier.id == PurchaseOrder.supplier_id,
        isouter=True,  # type: ignore[arg-type]
    )
    if args.status:
        stmt = stmt.where(PurchaseOrder.status == args.status)
    if args.open_only:
        stmt = stmt.where(PurchaseOrder.status.not_in(CLOSED_PURCHASE))  # type: ignore[attr-defined]
    if args.supplier:
        stmt = stmt.where(PurchaseOrder.supplier_id.in_(_supplier_ids(session, args.supplier)))  # type: ignore[union-attr]
    line_conds = _due_filter(PurchaseOrderLine.due_date, args)
    if args.item:
        line_conds.append(PurchaseOrderLine.item_id == resolve_item(session, args.item).id)
    if line_conds:
        stmt = stmt.where(
            sa.exists().where(PurchaseOrderLine.purchase_order_id == PurchaseOrder.id, *line_conds)  # type: ignore[arg-type]
        )
    rows = session.exec(stmt).all()
    lines: dict[int, list[PurchaseOrderLineOut]] = defaultdict(list)
    if rows:
        for line, code in session.exec(
            select(PurchaseOrderLine, Item.code)
            .join(Item, Item.id == PurchaseOrderLine.item_id)  # type: ignore[arg-type]
            .where(PurchaseOrderLine.purchase_order_id.in_([po.id for po, _ in rows]))  # type: ignore[attr-defined]
            .order_by(PurchaseOrderLine.line_no)
        ).all():
            lines[line.purchase_order_id].append(
                PurchaseOrderLineOut(
                    line_no=line.line_no,
                    item=code,
                    qty=line.qty,
                    received_qty=line.received_qty,
                    open_qty=max(line.qty - line.received_qty, Decimal(0)),
                    due_date=line.due_date,
                    unit_price=line.unit_price,
                )
            )
    orders = []
    for po, sup in rows:
        mine = lines.get(po.id or 0, [])
        still = [ln for ln in mine if ln.open_qty > 0]
        orders.append(
            PurchaseOrderSummary(
                code=po.code,
                supplier=sup.code if sup else None,
                supplier_name=sup.name if sup else "",
                status=po.status,
                order_date=po.order_date,
                lines=mine,
                open_qty=sum((ln.open_qty for ln in still), Decimal(0)),
                earliest_due=min((ln.due_date for ln in still), default=None),
            )
        )
    orders.sort(key=lambda o: (o.earliest_due is None, o.earliest_due or date.max, o.code))
    return ListPurchaseOrdersOut(total=len(orders), orders=orders[args.offset : args.offset + args.limit])


# ---------------------------------------------------------------- production orders


class ListProductionOrdersIn(_Page):
    status: ProductionStatus | None = None
    item: str | None = Field(default=None, max_length=200, description="item made (code)")
    kind: ProductionKind | None = None


class ProductionOrderSummary(BaseModel):
    code: str
    kind: str
    item: str
    item_name: str
    qty: Num
    completed_qty: Num
    open_qty: Num
    start_date: date | None
    due_date: date
    status: str
    priority: int
    supplier: str | None = Field(description="subcontractor code, for subcontract orders")
    sales_order: str | None = Field(description="the sales order line it was made for (CODE/line), if any")


class ListProductionOrdersOut(BaseModel):
    total: int
    orders: list[ProductionOrderSummary]


@tool(kind="read")
def list_production_orders(ctx: ToolContext, args: ListProductionOrdersIn) -> ListProductionOrdersOut:
    """List production, subcontract and rework orders, earliest due first.

    Each gives the ordered, completed and open quantity, start and due dates and status. Filters: status,
    item, kind and due date."""
    session = ctx.session
    stmt = (
        select(ProductionOrder, Item, Supplier.code, SalesOrder.code, SalesOrderLine.line_no)
        .join(Item, Item.id == ProductionOrder.item_id)  # type: ignore[arg-type]
        .join(Supplier, Supplier.id == ProductionOrder.supplier_id, isouter=True)  # type: ignore[arg-type]
        .join(SalesOrderLine, SalesOrderLine.id == ProductionOrder.sales_order_line_id, isouter=True)  # type: ignore[arg-type]
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id, isouter=True)  # type: ignore[arg-type]
    )
    if args.status:
        stmt = stmt.where(ProductionOrder.status == args.status)
    if args.open_only:
        stmt = stmt.where(ProductionOrder.status.not_in(CLOSED_PRODUCTION))  # type: ignore[attr-defined]
    if args.kind:
        stmt = stmt.where(ProductionOrder.kind == args.kind)
    if args.item:
        stmt = stmt.where(ProductionOrder.item_id == resolve_item(session, args.item).id)
    for cond in _due_filter(ProductionOrder.due_date, args):
        stmt = stmt.where(cond)
    orders = [
        ProductionOrderSummary(
            code=mo.code,
            kind=mo.kind,
            item=item.code,
            item_name=item.name,
            qty=mo.qty,
            completed_qty=mo.completed_qty,
            open_qty=max(mo.qty - mo.completed_qty, Decimal(0)),
            start_date=mo.start_date,
            due_date=mo.due_date,
            status=mo.status,
            priority=mo.priority,
            supplier=sup,
            sales_order=f"{so_code}/{line_no}" if so_code else None,
        )
        for mo, item, sup, so_code, line_no in session.exec(stmt).all()
    ]
    orders.sort(key=lambda o: (o.due_date, o.code))
    return ListProductionOrdersOut(total=len(orders), orders=orders[args.offset : args.offset + args.limit])
