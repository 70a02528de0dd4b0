"""Item tools: find items by code, name or alias, and show one item with its stock, supply and demand."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from data_model.tables import (
    Customer,
    Item,
    ItemAlias,
    Location,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseOrder,
    PurchaseOrderLine,
    SalesOrder,
    SalesOrderLine,
    StockMove,
    Supplier,
)
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.snapshot import OPEN_PRODUCTION, OPEN_PURCHASE, OPEN_SALES, load_calendar
from tools.types import Num

MatchField = Literal["code", "name", "alias", "description"]
FUZZY_CUTOFF = 0.6


class FindItemsIn(BaseModel):
    query: str = Field(
        min_length=1, max_length=200, description="item code, name, alias or words of its description"
    )
    limit: int = Field(default=10, ge=1, le=100)
    include_inactive: bool = False


class ItemMatch(BaseModel):
    code: str
    name: str
    uom: str
    source: str
    score: float = Field(description="1 = exact code; lower = looser match")
    matched_on: MatchField
    match_type: Literal["exact", "prefix", "substring", "fuzzy"]
    matched_text: str


class FindItemsOut(BaseModel):
    query: str
    matches: list[ItemMatch]


def _score(query: str, text: str, is_code: bool) -> tuple[float, str] | None:
    """How well ``text`` matches ``query`` (both case-folded), with the kind of match, or None."""
    if not text:
        return None
    if text == query:
        return (1.0 if is_code else 0.95), "exact"
    if text.startswith(query):
        return 0.85 + 0.05 * len(query) / len(text), "prefix"
    if query in text:
        return 0.7 + 0.1 * len(query) / len(text), "substring"
    # a name mentioned inside a longer question ("DESK-A 还有多少库存")
    if len(text) >= 2 and text in query:
        return 0.65 + 0.1 * len(text) / len(query), "substring"
    matcher = difflib.SequenceMatcher(None, query, text, autojunk=False)
    if matcher.real_quick_ratio() < FUZZY_CUTOFF or matcher.quick_ratio() < FUZZY_CUTOFF:
        return None
    ratio = matcher.ratio()
    return (0.6 * ratio, "fuzzy") if ratio >= FUZZY_CUTOFF else None


def rank_items(
    session: Session, query: str, limit: int = 10, include_inactive: bool = False
) -> list[ItemMatch]:
    """Items matching ``query``: exact code first, then code prefix, name/alias, description, fuzzy."""
    q = query.strip().casefold()
    stmt = select(Item.id, Item.code, Item.name, Item.description, Item.uom, Item.source)
    if not include_inactive:
        stmt = stmt.where(Item.active == True)  # noqa: E712
    rows = session.exec(stmt).all()
    aliases: dict[int, list[str]] = defaultdict(list)
    for item_id, alias in session.exec(select(ItemAlias.item_id, ItemAlias.alias)).all():
        aliases[item_id].append(alias)
    found: list[ItemMatch] = []
    for item_id, code, name, description, uom, source in rows:
        candidates: list[tuple[MatchField, str]] = [("code", code), ("name", name)]
        candidates += [("alias", a) for a in aliases.get(item_id, [])]
        best: tuple[float, MatchField, str, str] | None = None
        for field, text in candidates:
            scored = _score(q, text.casefold(), field == "code")
            if scored and (best is None or scored[0] > best[0]):
                best = (scored[0], field, scored[1], text)
        if best is None and description and q in description.casefold():
            best = (0.5, "description", "substring", description)
        if best is not None:
            score, field, kind, text = best
            found.append(
                ItemMatch(
                    code=code,
                    name=name,
                    uom=uom,
                    source=source,
                    score=round(score, 4),
                    matched_on=field,
                    match_type=kind,
                    matched_text=text,
                )
            )  # type: ignore[arg-type]
    found.sort(key=lambda m: (-m.score, m.code))
    return found[:limit]


@tool(kind="read")
def find_items(ctx: ToolContext, args: FindItemsIn) -> FindItemsOut:
    """Find items by code, name, alias or description, best match first.

    Ranking: exact code, code prefix, name or alias, description words, then fuzzy spelling. Use it to
    turn what a person calls an item ("oak desk", "办公桌A", "desk-a") into its item code before calling
    other tools."""
    return FindItemsOut(
        query=args.query, matches=rank_items(ctx.session, args.query, args.limit, args.include_inactive)
    )


def resolve_item(session: Session, key: str) -> Item:
    """The item whose code is ``key`` (or, failing that, whose code, name or alias equals it ignoring case,
    when only one does); else ``not_found`` with the closest codes as suggestions."""
    item = session.exec(select(Item).where(Item.code == key)).first()
    if item is not None:
        return item
    exact = [m for m in rank_items(session, key, limit=5, include_inactive=True) if m.match_type == "exact"]
    if len(exact) == 1:
        found = session.exec(select(Item).where(Item.code == exact[0].code)).first()
        if found is not None:
            return found
    suggestions = [m.code for m in rank_items(session, key, limit=5)]
    raise ToolError(
        "not_found",
        f"item {key!r} not found" + (f"; did you mean {', '.join(suggestions)}?" if suggestions else ""),
        {"kind": "item", "key": key, "suggestions": suggestions},
    )


class GetItemIn(BaseModel):
    item: str = Field(min_length=1, max_length=200, description="item code (or exact name / alias)")


class SupplyRecord(BaseModel):
    """Open supply of the item: what is still to arrive."""

    kind: Literal["purchase_order", "production_order", "subcontract_order"]
    ref: str = Field(description="order code (PO lines after the first: CODE/line)")
    qty_open: Num
    due_date: date
    status: str
    partner: str | None = Field(default=None, description="supplier code, if any")


class DemandRecord(BaseModel):
    """Open demand for the item: what is still to ship or to issue."""

    kind: Literal["sales_order", "production_component"]
    ref: str = Field(description="sales order CODE/line, or the production order code")
    qty_open: Num
    due_date: date
    partner: str | None = Field(default=None, description="customer code, if any")


class GetItemOut(BaseModel):
    code: str
    name: str
    description: str
    category: str
    uom: str
    source: str
    lead_time_days: int
    safety_stock: Num
    min_order_qty: Num
    order_multiple: Num
    max_order_qty: Num
    unit_cost: Num
    phantom: bool
    inspection_required: bool
    active: bool
    aliases: list[str]
    on_hand: Num = Field(description="available stock (stock locations)")
    in_inspection: Num = Field(description="received, waiting for quality inspection")
    at_subcontractors: Num = Field(description="our material held by subcontractors")
    open_supply: list[SupplyRecord]
    open_demand: list[DemandRecord]
    open_supply_qty: Num
    open_demand_qty: Num
    projected_qty: Num = Field(description="on_hand + in_inspection + open supply - open demand")


# get_item reads an item in three statements built once, here: SQLAlchemy reuses their compiled form and
# psycopg prepares them, where building and sending one statement per kind of row cost more than running
# them. They read only the columns the answer shows, as rows (no ORM objects), on the session's connection.
_CODE: sa.BindParameter[str] = sa.bindparam("code")
_ITEM_ID: sa.BindParameter[int] = sa.bindparam("item_id")

_ITEM_WITH_ALIASES = (
    select(*Item.__table__.columns, ItemAlias.alias)  # type: ignore[attr-defined]
    .join(ItemAlias, ItemAlias.item_id == Item.id, isouter=True)  # type: ignore[arg-type]
    .where(Item.code == _CODE)
)

# own stock (no customer-owned material) per location kind, both ends of the item's moves in one pass over
# its ledger: a move's two locations differ, so it joins each of them at most once
_LOCATION = sa.orm.aliased(Location, name="stock_location")
_OWN_STOCK_BY_KIND = (
    select(
        _LOCATION.kind,
        sa.func.sum(sa.case((StockMove.to_location_id == _LOCATION.id, StockMove.qty), else_=-StockMove.qty)),
    )
    .join(_LOCATION, _LOCATION.id.in_([StockMove.to_location_id, StockMove.from_location_id]))  # type: ignore[union-attr]
    .where(
        StockMove.item_id == _ITEM_ID,
        StockMove.owner_customer_id.is_(None),  # type: ignore[union-attr]
        _LOCATION.kind.in_(("stock", "inspection", "supplier")),  # type: ignore[attr-defined]
    )
    .group_by(_LOCATION.kind)
)


def _no(type_: sa.types.TypeEngine[object]) -> sa.ColumnElement[object]:
    """A typed NULL: a column one kind of open order does not have."""
    return sa.cast(sa.null(), type_)


# every open order line of the item, one branch per kind (what is still open is worked out in Python):
# (source, order code, line no, order kind, qty, qty done, due date, status, partner, start date, parent lead)
_OPEN_ORDERS = sa.union_all(
    select(
        sa.literal("purchase"),
        PurchaseOrder.code,
        PurchaseOrderLine.line_no,
        _no(sa.String()),
        PurchaseOrderLine.qty,
        PurchaseOrderLine.received_qty,
        PurchaseOrderLine.due_date,
        PurchaseOrder.status,
        Supplier.code,
        _no(sa.Date()),
        _no(sa.Integer()),
    )
    .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)  # type: ignore[arg-type]
    .join(Supplier, Supplier.id == PurchaseOrder.supplier_id, isouter=True)  # type: ignore[arg-type]
    .where(PurchaseOrderLine.item_id == _ITEM_ID, PurchaseOrder.status.in_(OPEN_PURCHASE)),  # type: ignore[attr-defined]
    select(
        sa.literal("production"),
        ProductionOrder.code,
        _no(sa.Integer()),
        ProductionOrder.kind,
        ProductionOrder.qty,
        ProductionOrder.completed_qty,
        ProductionOrder.due_date,
        ProductionOrder.status,
        Supplier.code,
        _no(sa.Date()),
        _no(sa.Integer()),
    )
    .join(Supplier, Supplier.id == ProductionOrder.supplier_id, isouter=True)  # type: ignore[arg-type]
    .where(ProductionOrder.item_id == _ITEM_ID, ProductionOrder.status.in_(OPEN_PRODUCTION)),  # type: ignore[attr-defined]
    select(
        sa.literal("sales"),
        SalesOrder.code,
        SalesOrderLine.line_no,
        _no(sa.String()),
        SalesOrderLine.qty,
        SalesOrderLine.shipped_qty,
        SalesOrderLine.due_date,
        SalesOrder.status,
        Customer.code,
        _no(sa.Date()),
        _no(sa.Integer()),
    )
    .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)  # type: ignore[arg-type]
    .join(Customer, Customer.id == SalesOrder.customer_id)  # type: ignore[arg-type]
    .where(SalesOrderLine.item_id == _ITEM_ID, SalesOrder.status.in_(OPEN_SALES)),  # type: ignore[attr-defined]
    select(
        sa.literal("component"),
        ProductionOrder.code,
        _no(sa.Integer()),
        ProductionOrder.kind,
        ProductionOrderComponent.required_qty,
        ProductionOrderComponent.issued_qty,
        ProductionOrder.due_date,
        ProductionOrder.status,
        _no(sa.String()),
        ProductionOrder.start_date,
        Item.lead_time_days,
    )
    .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)  # type: ignore[arg-type]
    .join(Item, Item.id == ProductionOrder.item_id)  # type: ignore[arg-type]
    .where(ProductionOrderComponent.item_id == _ITEM_ID, ProductionOrder.status.in_(OPEN_PRODUCTION)),  # type: ignore[attr-defined]
)


def _rows(session: Session, statement: sa.Executable, **params: object) -> Sequence[sa.Row[Any]]:
    return session.connection().execute(statement, params).all()


def _item_and_aliases(session: Session, key: str) -> tuple[sa.Row[Any], list[str]]:
    """The item row ``key`` names (as ``resolve_item``) and its aliases: one statement when ``key`` is a code."""
    rows = _rows(session, _ITEM_WITH_ALIASES, code=key)
    if not rows:
        rows = _rows(session, _ITEM_WITH_ALIASES, code=resolve_item(session, key).code)
    return rows[0], sorted(row.alias for row in rows if row.alias is not None)


def _own_stock_by_kind(session: Session, item_id: int) -> dict[str, Decimal]:
    return {
        kind: Decimal(str(total or 0)) for kind, total in _rows(session, _OWN_STOCK_BY_KIND, item_id=item_id)
    }


def _open_supply_and_demand(session: Session, item_id: int) -> tuple[list[SupplyRecord], list[DemandRecord]]:
    supply: list[SupplyRecord] = []
    demand: list[DemandRecord] = []
    calendar = None
    for (
        source,
        code,
        line_no,
        order_kind,
        qty,
        done,
        due_date,
        status,
        partner,
        start_date,
        lead_days,
    ) in _rows(session, _OPEN_ORDERS, item_id=item_id):
        open_qty = qty - done
        if open_qty <= 0:
            continue
        if source == "purchase":
            ref = code if line_no == 1 else f"{code}/{line_no}"
            supply.append(
                SupplyRecord(
                    kind="purchase_order",
                    ref=ref,
                    qty_open=open_qty,
                    due_date=due_date,
                    status=status,
                    partner=partner,
                )
            )
        elif source == "production":
            kind: Literal["production_order", "subcontract_order"] = (
                "subcontract_order" if order_kind == "subcontract" else "production_order"
            )
            supply.append(
                SupplyRecord(
                    kind=kind, ref=code, qty_open=open_qty, due_date=due_date, status=status, partner=partner
                )
            )
        elif source == "sales":
            demand.append(
                DemandRecord(
                    kind="sales_order",
                    ref=f"{code}/{line_no}",
                    qty_open=open_qty,
                    due_date=due_date,
                    partner=partner,
                )
            )
        else:
            due = start_date
            if due is None:
                # components are due when the order is released: its due date less its lead time (as in MRP)
                calendar = calendar or load_calendar(session)
                due = calendar.subtract_workdays(due_date, lead_days)
            demand.append(
                DemandRecord(kind="production_component", ref=code, qty_open=open_qty, due_date=due)
            )
    supply.sort(key=lambda r: (r.due_date, r.ref))
    demand.sort(key=lambda r: (r.due_date, r.ref))
    return supply, demand


@tool(kind="read")
def get_item(ctx: ToolContext, args: GetItemIn) -> GetItemOut:
    """Show one item with its stock, open supply and open demand.

    Gives its master data, stock on hand, in inspection and at subcontractors, open supply (purchase and
    production orders still to arrive) and open demand (sales order lines still to ship, components still
    to issue to production), each with its due date. Quantities are in the item's unit of measure."""
    item, aliases = _item_and_aliases(ctx.session, args.item)
    item_id = item.id or 0
    by_kind = _own_stock_by_kind(ctx.session, item_id)
    stock = by_kind.get("stock", Decimal(0))
    qc = by_kind.get("inspection", Decimal(0))
    at_sub = by_kind.get("supplier", Decimal(0))
    supply, demand = _open_supply_and_demand(ctx.session, item_id)
    supply_qty = sum((s.qty_open for s in supply), Decimal(0))
    demand_qty = sum((d.qty_open for d in demand), Decimal(0))
    return GetItemOut(
        code=item.code,
        name=item.name,
        description=item.description,
        category=item.category,
        uom=item.uom,
        source=item.source,
        lead_time_days=item.lead_time_days,
        safety_stock=item.safety_stock,
        min_order_qty=item.min_order_qty,
        order_multiple=item.order_multiple,
        max_order_qty=item.max_order_qty,
        unit_cost=item.unit_cost,
        phantom=item.phantom,
        inspection_required=item.inspection_required,
        active=item.active,
        aliases=aliases,
        on_hand=stock,
        in_inspection=qc,
        at_subcontractors=at_sub,
        open_supply=supply,
        open_demand=demand,
        open_supply_qty=supply_qty,
        open_demand_qty=demand_qty,
        projected_qty=stock + qc + supply_qty - demand_qty,
    )
