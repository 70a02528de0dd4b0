"""Stock reports: slow-moving and dead stock (呆滞料), material usage variance of production orders (领料差异)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from pydantic import BaseModel, Field

from data_model.stock import on_hand
from data_model.tables import (
    Item,
    ItemValuation,
    MaterialIssue,
    ProductionOrder,
    ProductionOrderComponent,
    SalesOrder,
    SalesOrderLine,
    StockMove,
)
from data_model.tables.inventory import INTERNAL_KINDS
from planning import bom as bom_engine
from planning.model import Plant
from tools.catalog.material_issue import order_material_lines, q6
from tools.catalog.orders import CLOSED_PRODUCTION
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.reports.flow import dec
from tools.snapshot import OPEN_PRODUCTION, OPEN_SALES, load_boms, load_items
from tools.types import Num

ZERO = Decimal(0)


# ---------------------------------------------------------------- slow-moving and dead stock


class GetSlowMovingStockIn(BaseModel):
    days: int = Field(default=90, ge=1, le=3650, description="no movement for at least this many days")
    limit: int = Field(default=500, ge=1, le=20000)


class SlowMovingItemOut(BaseModel):
    item: str
    item_name: str
    category: str
    source: str
    uom: str
    qty: Num = Field(description="our own quantity held: stock, QC, at subcontractors, in transit")
    in_stock_qty: Num = Field(description="of it, in stock locations")
    unit_cost: Num = Field(description="moving-average unit cost")
    value: Num = Field(description="qty × unit_cost")
    last_move_date: dt.date = Field(description="last ledger movement of the item (opening balances count)")
    last_move_type: str
    days_idle: int
    used_in: list[str] = Field(description="items whose current BOM uses it, at any level (multi-level)")
    top_items: list[str] = Field(description="end items among them")
    substitute_in: list[str] = Field(description="items whose current BOM lists it as a substitute")
    open_demand_qty: Num = Field(
        description="still wanted by open sales order lines and open orders' components"
    )


class GetSlowMovingStockOut(BaseModel):
    today: dt.date
    days: int
    cutoff: dt.date = Field(description="items last moved on or before this date")
    total: int
    total_value: Num
    items: list[SlowMovingItemOut] = Field(description="highest value first")


def _where_used(ctx: ToolContext, codes: Sequence[str]) -> dict[str, tuple[list[str], list[str], list[str]]]:
    """Per item: every item using it in the BOMs in force today (multi-level), the end items among them, and
    the items whose BOM lists it as a substitute."""
    if not codes:
        return {}
    items = load_items(ctx.session)
    code_of = {k: v.code for k, v in items.items()}
    plant = Plant(
        today=ctx.today,
        items={it.code: it for it in items.values()},
        boms=load_boms(ctx.session, code_of, ctx.today),
    )
    substitute_in: dict[str, set[str]] = defaultdict(set)
    for parent, bom in plant.boms.items():
        for line in bom.lines:
            for sub in line.substitutes:
                substitute_in[sub.item].add(parent)
    out: dict[str, tuple[list[str], list[str], list[str]]] = {}
    for code in codes:
        subs = sorted(substitute_in.get(code, ()))
        if code not in plant.items:
            out[code] = ([], [], subs)
            continue
        result = bom_engine.where_used(plant, code, True)
        out[code] = (list(dict.fromkeys(r.item for r in result.parents)), list(result.top_items), subs)
    return out


def _open_demand(ctx: ToolContext, item_ids: Sequence[int]) -> dict[int, Decimal]:
    out: dict[int, Decimal] = defaultdict(Decimal)
    if not item_ids:
        return out
    conn = ctx.session.connection()
    for item_id, qty, shipped in conn.execute(
        sa.select(SalesOrderLine.item_id, SalesOrderLine.qty, SalesOrderLine.shipped_qty)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
        .where(SalesOrder.status.in_(OPEN_SALES), SalesOrderLine.item_id.in_(list(item_ids)))
    ):
        out[item_id] += max(dec(qty) - dec(shipped), ZERO)
    for item_id, required, issued in conn.execute(
        sa.select(
            ProductionOrderComponent.item_id,
            ProductionOrderComponent.required_qty,
            ProductionOrderComponent.issued_qty,
        )
        .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)
        .where(
            ProductionOrder.status.in_(OPEN_PRODUCTION), ProductionOrderComponent.item_id.in_(list(item_ids))
        )
    ):
        out[item_id] += max(dec(required) - dec(issued), ZERO)
    return out


@tool(kind="read", tags=("stock",))
def get_slow_moving_stock(ctx: ToolContext, args: GetSlowMovingStockIn) -> GetSlowMovingStockOut:
    """Slow-moving and dead stock (呆滞料查询表): items we hold that have not moved in the ledger for at least
    ``days`` days (an opening balance counts as a movement on its date), with the quantity held, its value at
    the moving-average cost, the last movement and its type, the items that use it in their current BOMs at
    any level or as a substitute (none: nothing uses it any more) and what open orders still want of it.
    Highest value first.
    Read-only."""
    session = ctx.session
    today = ctx.today
    cutoff = today - timedelta(days=args.days)
    conn = session.connection()
    last = {
        item_id: day
        for item_id, day in conn.execute(
            sa.select(StockMove.item_id, sa.func.max(StockMove.move_date)).group_by(StockMove.item_id)
        )
    }
    idle = [i for i, day in last.items() if _as_date(day) <= cutoff]
    held = {i: q for i, q in on_hand(session, idle, kinds=INTERNAL_KINDS).items() if q > 0} if idle else {}
    ids = sorted(held)
    if not ids:
        return GetSlowMovingStockOut(
            today=today, days=args.days, cutoff=cutoff, total=0, total_value=ZERO, items=[]
        )
    in_stock = on_hand(session, ids)
    items = {row.id: row for row in session.execute(sa.select(Item).where(Item.id.in_(ids))).scalars()}
    costs = {
        vid: dec(avg)
        for vid, avg in conn.execute(
            sa.select(ItemValuation.item_id, ItemValuation.avg_cost).where(ItemValuation.item_id.in_(ids))
        )
    }
    latest = (
        sa.select(StockMove.item_id, sa.func.max(StockMove.move_date).label("day"))
        .where(StockMove.item_id.in_(ids))
        .group_by(StockMove.item_id)
        .subquery()
    )
    last_type: dict[int, str] = {}
    # of the moves on an item's last day, the one posted last
    for item_id, move_type in conn.execute(
        sa.select(StockMove.item_id, StockMove.move_type)
        .join(latest, sa.and_(latest.c.item_id == StockMove.item_id, latest.c.day == StockMove.move_date))
        .order_by(StockMove.id)
    ):
        last_type[item_id] = move_type
    demand = _open_demand(ctx, ids)
    used = _where_used(ctx, [items[i].code for i in ids])
    rows = []
    for i in ids:
        item = items[i]
        cost = costs.get(i, dec(item.unit_cost))
        last_day = _as_date(last[i])
        rows.append(
            SlowMovingItemOut(
                item=item.code,
                item_name=item.name,
                category=item.category,
                source=item.source,
                uom=item.uom,
                qty=held[i],
                in_stock_qty=in_stock.get(i, ZERO),
                unit_cost=cost,
                value=q6(held[i] * cost),
                last_move_date=last_day,
                last_move_type=last_type.get(i, ""),
                days_idle=(today - last_day).days,
                used_in=used[item.code][0],
                top_items=used[item.code][1],
                substitute_in=used[item.code][2],
                open_demand_qty=demand.get(i, ZERO),
            )
        )
    rows.sort(key=lambda r: (-r.value, r.item))
    return GetSlowMovingStockOut(
        today=today,
        days=args.days,
        cutoff=cutoff,
        total=len(rows),
        total_value=sum((r.value for r in rows), ZERO),
        items=rows[: args.limit],
    )


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------- material usage variance


class GetMaterialUsageVarianceIn(BaseModel):
    production_order: str | None = Field(
        default=None, max_length=64, description="one order code, e.g. MO-12"
    )
    include_open: bool = Field(
        default=False,
        description="also orders still in progress (their actual use then includes material for work in process)",
    )
    only_variances: bool = Field(default=False, description="leave out components used exactly as standard")
    limit: int = Field(default=500, ge=1, le=20000, description="at most this many orders")


class VarianceReasonOut(BaseModel):
    document: str = Field(description="the material issue (MI-…) or return (MR-…) document")
    mode: str = Field(description="issue | kit | merged | supplement | return | backflush | flow")
    date: dt.date
    qty: Num = Field(description="issued (negative: returned)")
    over_issue: bool
    reason: str


class UsageVarianceLineOut(BaseModel):
    item: str
    item_name: str
    uom: str
    substitute_for: str | None = Field(description="the component this substitute replaced")
    per_unit: Num = Field(
        description="standard per unit: the order's requirement per unit (BOM, scrap included)"
    )
    standard_qty: Num = Field(description="per_unit × completed quantity")
    actual_qty: Num = Field(description="issued, net of returns")
    variance_qty: Num = Field(description="actual - standard (positive: more used than standard)")
    variance_pct: Num | None = Field(description="variance / standard × 100 (None when the standard is 0)")
    unit_cost: Num = Field(
        description="average cost charged to the order (moving average if nothing charged)"
    )
    standard_value: Num
    actual_value: Num
    variance_value: Num
    reasons: list[VarianceReasonOut] = Field(
        description="supplements, over-issues and returns of it, and any issue with a reason given"
    )


class UsageVarianceOrderOut(BaseModel):
    production_order: str
    kind: str
    item: str
    item_name: str
    status: str
    qty: Num
    completed_qty: Num
    in_process_qty: Num = Field(description="started but not completed: their material counts as actual use")
    issues_recorded: bool = Field(
        description="material issues are recorded for it (an order loaded as completed may have none)"
    )
    standard_value: Num
    actual_value: Num
    variance_value: Num
    lines: list[UsageVarianceLineOut]


class GetMaterialUsageVarianceOut(BaseModel):
    total: int
    variance_value: Num = Field(description="sum over the orders listed")
    orders: list[UsageVarianceOrderOut] = Field(description="largest absolute variance value first")


def _variance_orders(ctx: ToolContext, args: GetMaterialUsageVarianceIn) -> list[ProductionOrder]:
    session = ctx.session
    if args.production_order is not None:
        order = (
            session.execute(
                sa.select(ProductionOrder).where(
                    sa.func.lower(ProductionOrder.code) == args.production_order.strip().lower()
                )
            )
            .scalars()
            .first()
        )
        if order is None:
            raise ToolError(
                "not_found",
                f"production order {args.production_order!r} not found",
                {"kind": "production_order", "key": args.production_order, "field": "production_order"},
            )
        return [order]
    statuses = ("completed", "closed", "in_progress") if args.include_open else ("completed", "closed")
    return list(
        session.execute(
            sa.select(ProductionOrder)
            .where(
                ProductionOrder.kind.in_(("production", "rework")),
                ProductionOrder.status.in_(statuses),
                ProductionOrder.completed_qty > 0,
            )
            .order_by(ProductionOrder.code)
        ).scalars()
    )


@tool(kind="read", tags=("stock", "costing"))
def get_material_usage_variance(
    ctx: ToolContext, args: GetMaterialUsageVarianceIn
) -> GetMaterialUsageVarianceOut:
    """Material usage variance (领料差异分析表): per production order and component, the standard quantity
    (the order's requirement per unit, i.e. its BOM with scrap allowance, × completed quantity) against the
    quantity actually issued net of returns, in quantity and value (at the average cost charged to the
    order), with the reasons recorded on supplements, over-issues and returns. Default: completed and closed
    orders with material issues recorded; ``include_open`` adds orders in progress, whose actual use then
    includes work in process. Largest variance first. Read-only."""
    session = ctx.session
    orders = _variance_orders(ctx, args)
    ids = [o.id or 0 for o in orders]
    comps: dict[int, list[ProductionOrderComponent]] = defaultdict(list)
    for chunk in _chunks(ids):
        for comp in session.execute(
            sa.select(ProductionOrderComponent)
            .where(ProductionOrderComponent.production_order_id.in_(chunk))
            .order_by(ProductionOrderComponent.id)
        ).scalars():
            comps[comp.production_order_id].append(comp)
    lines = [row for chunk in _chunks(ids) for row in order_material_lines(session, chunk)]
    # net quantity and value charged per component row: issues add, returns take back (as the order's
    # cost is kept by tools.catalog.material_issue.component_charges)
    charged: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    by_component: dict[int, list[tuple[object, str]]] = defaultdict(list)
    for line, mode in lines:
        sign = -1 if mode == "return" else 1
        row = charged[line.component_id]
        row[0] += sign * dec(line.qty)
        row[1] += sign * dec(line.qty) * dec(line.unit_cost)
        by_component[line.component_id].append((line, mode))
    docs = {
        d.id: d
        for chunk in _chunks(sorted({ln.material_issue_id for ln, _ in lines}))
        for d in session.execute(sa.select(MaterialIssue).where(MaterialIssue.id.in_(chunk))).scalars()
    }
    item_ids = (
        {o.item_id for o in orders}
        | {c.item_id for cs in comps.values() for c in cs}
        | {c.substitute_for_id for cs in comps.values() for c in cs if c.substitute_for_id}
    )
    items = {
        i.id: i
        for chunk in _chunks(sorted(item_ids))
        for i in session.execute(sa.select(Item).where(Item.id.in_(chunk))).scalars()
    }
    avg = {
        vid: dec(cost)
        for chunk in _chunks(sorted(item_ids))
        for vid, cost in session.connection().execute(
            sa.select(ItemValuation.item_id, ItemValuation.avg_cost).where(ItemValuation.item_id.in_(chunk))
        )
    }
    out = []
    for order in orders:
        qty, done = dec(order.qty), dec(order.completed_qty)
        rows = []
        for comp in comps.get(order.id or 0, []):
            item = items[comp.item_id]
            per_unit = dec(comp.required_qty) / qty if qty > 0 else ZERO
            standard = q6(per_unit * done)
            actual = dec(comp.issued_qty)
            c_qty, c_value = charged.get(comp.id or 0, [ZERO, ZERO])
            cost = q6(c_value / c_qty) if c_qty > 0 else avg.get(item.id, dec(item.unit_cost))
            variance = actual - standard
            if args.only_variances and variance == 0:
                continue
            reasons = [
                VarianceReasonOut(
                    document=docs[ln.material_issue_id].code,
                    mode=mode,
                    date=docs[ln.material_issue_id].issue_date,
                    qty=(-1 if mode == "return" else 1) * dec(ln.qty),
                    over_issue=ln.over_issue,
                    reason=docs[ln.material_issue_id].reason,
                )
                for ln, mode in by_component.get(comp.id or 0, [])
                if mode in ("supplement", "return") or ln.over_issue or docs[ln.material_issue_id].reason
            ]
            rows.append(
                UsageVarianceLineOut(
                    item=item.code,
                    item_name=item.name,
                    uom=item.uom,
                    substitute_for=items[comp.substitute_for_id].code if comp.substitute_for_id else None,
                    per_unit=q6(per_unit),
                    standard_qty=standard,
                    actual_qty=actual,
                    variance_qty=variance,
                    variance_pct=q6(variance / standard * 100) if standard > 0 else None,
                    unit_cost=cost,
                    standard_value=q6(standard * cost),
                    actual_value=q6(actual * cost),
                    variance_value=q6(actual * cost) - q6(standard * cost),
                    reasons=reasons,
                )
            )
        recorded = any(dec(c.issued_qty) > 0 for c in comps.get(order.id or 0, [])) or any(
            by_component.get(c.id or 0) for c in comps.get(order.id or 0, [])
        )
        if args.production_order is None and (not recorded or (args.only_variances and not rows)):
            continue
        product = items[order.item_id]
        out.append(
            UsageVarianceOrderOut(
                production_order=order.code,
                kind=order.kind,
                item=product.code,
                item_name=product.name,
                status=order.status,
                qty=qty,
                completed_qty=done,
                in_process_qty=max(qty - done, ZERO)
                if recorded and order.status not in CLOSED_PRODUCTION
                else ZERO,
                issues_recorded=recorded,
                standard_value=sum((r.standard_value for r in rows), ZERO),
                actual_value=sum((r.actual_value for r in rows), ZERO),
                variance_value=sum((r.variance_value for r in rows), ZERO),
                lines=rows,
            )
        )
    out.sort(key=lambda o: (-abs(o.variance_value), o.production_order))
    return GetMaterialUsageVarianceOut(
        total=len(out), variance_value=sum((o.variance_value for o in out), ZERO), orders=out[: args.limit]
    )


def _chunks(ids: Sequence[int], size: int = 5000) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]
