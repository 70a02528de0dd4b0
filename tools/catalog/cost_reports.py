"""Cost reports of a period: cost composition by level, item or order; standard against actual; order profit.

Each reads the period's costing as tools.catalog.costing gives it: the results stored when the period was
closed, else costed from its current inputs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from data_model.tables import (
    Bom,
    CostPeriod,
    Customer,
    Item,
    OrderCostInput,
    ProductionOrder,
    SalesOrder,
    SalesOrderLine,
)
from planning import costing_collection as cc
from tools.catalog.costing import OrderCostOut, VarianceOut, period_report, standard_costs
from tools.catalog.costing_collection import require_period
from tools.context import ToolContext
from tools.errors import ToolError, not_found
from tools.registry import tool
from tools.types import Num

ZERO = Decimal(0)


def _share(amount: Decimal, total: Decimal) -> Decimal:
    return amount / total if total else ZERO


# ---------------------------------------------------------------- composition


class CompositionIn(BaseModel):
    period: str = Field(min_length=1, max_length=20, description="cost period, e.g. 2026-11")
    by: Literal["level", "item", "order"] = Field(
        default="level",
        description="group by costing level (0 = uses no other order's output), item or order",
    )


class ElementSharesOut(BaseModel):
    material: Num
    labor: Num
    overhead: Num
    subcontract: Num
    other_conversion: Num
    rework: Num


class CompositionGroupOut(BaseModel):
    key: str = Field(description="the level (0, 1 …), item code or production order code")
    name: str = Field(description="item name (by item or order)")
    orders: list[str]
    completed_qty: Num = Field(description="by item or order: units completed (by level: a plain sum)")
    material: Num = Field(description="material in the completed output, transferred-in included")
    transferred_in: Num = Field(description="part of material charged from lower-level orders' output")
    labor: Num
    overhead: Num
    subcontract: Num
    other_conversion: Num
    rework: Num = Field(description="rework orders' cost added to this output")
    total: Num = Field(description="cost of the completed output")
    unit_cost: Num | None = Field(description="total / completed_qty, by item or order")
    wip_total: Num = Field(description="ending work in process")
    shares: ElementSharesOut = Field(description="each element's share of total (0..1)")


class CompositionOut(BaseModel):
    period: str
    by: str
    closed: bool = Field(description="from the results stored when the period was closed")
    groups: list[CompositionGroupOut]
    totals: CompositionGroupOut = Field(
        description="the groups added up; across levels, output of a lower level is counted again as "
        "transferred-in material where it is used"
    )


def _elements(order: OrderCostOut) -> cc.OrderElements:
    return cc.OrderElements(
        order=order.production_order,
        item=order.item,
        level=order.level,
        completed_qty=order.completed_qty,
        material=order.material,
        transferred_in=order.transferred_in,
        labor=order.labor,
        overhead=order.overhead,
        other_conversion=order.other_conversion,
        subcontract=order.subcontract,
        rework=order.rework,
        total=order.total,
        wip_total=order.wip.total,
    )


def _group_out(group: cc.CompositionGroup, name: str, per_unit: bool) -> CompositionGroupOut:
    return CompositionGroupOut(
        key=group.key,
        name=name,
        orders=list(group.orders),
        completed_qty=group.completed_qty,
        material=group.material,
        transferred_in=group.transferred_in,
        labor=group.labor,
        overhead=group.overhead,
        subcontract=group.subcontract,
        other_conversion=group.other_conversion,
        rework=group.rework,
        total=group.total,
        unit_cost=group.total / group.completed_qty if per_unit and group.completed_qty else None,
        wip_total=group.wip_total,
        shares=ElementSharesOut(
            material=group.share(group.material),
            labor=group.share(group.labor),
            overhead=group.share(group.overhead),
            subcontract=group.share(group.subcontract),
            other_conversion=group.share(group.other_conversion),
            rework=group.share(group.rework),
        ),
    )


def _require_costed(period: CostPeriod, ok: bool, problems: Sequence[object]) -> None:
    if not ok:
        raise ToolError(
            "conflict",
            f"the cost inputs of {period.code} have errors: check them with run_costing or check_period_close",
            {"period": period.code, "problems": len(problems)},
        )


def _item_names(session: Session, codes: set[str]) -> dict[str, str]:
    return dict(session.exec(select(col(Item.code), col(Item.name)).where(col(Item.code).in_(codes))).all())


@tool(kind="read", tags=("costing",))
def get_cost_composition(ctx: ToolContext, args: CompositionIn) -> CompositionOut:
    """Cost composition of a period (成本构成): the completed output's material, labor, overhead, subcontract
    fee, other conversion and rework cost, with each one's share, grouped by costing level, by item or by
    production order. Material includes transferred-in cost (sub-assemblies and subcontracted parts made by
    lower-level orders), shown apart as transferred_in. A rework order's cost appears as rework on the order
    whose product it reworked. Amounts in the dataset's currency."""
    period = require_period(ctx.session, args.period)
    costing = period_report(ctx.session, period, with_variances=False)
    report = costing.report
    _require_costed(period, report.ok, report.problems)
    in_period = {o.production_order for o in report.orders}
    orders = [
        _elements(o) for o in report.orders if not (o.rework_of is not None and o.rework_of in in_period)
    ]
    key = cc.CompositionKey(args.by)
    groups = cc.compose_costs(orders, key)
    names = _item_names(ctx.session, {o.item for o in orders})
    item_of = {o.order: o.item for o in orders}
    per_unit = key is not cc.CompositionKey.LEVEL

    def name(group: cc.CompositionGroup) -> str:
        if key is cc.CompositionKey.ITEM:
            return names.get(group.key, "")
        if key is cc.CompositionKey.ORDER:
            return names.get(item_of[group.key], "")
        return ""

    def added(name: str) -> Decimal:
        return sum((getattr(g, name) for g in groups), ZERO)

    totals = cc.CompositionGroup(
        key="total",
        orders=tuple(o.order for o in orders),
        completed_qty=added("completed_qty"),
        material=added("material"),
        transferred_in=added("transferred_in"),
        labor=added("labor"),
        overhead=added("overhead"),
        other_conversion=added("other_conversion"),
        subcontract=added("subcontract"),
        rework=added("rework"),
        total=added("total"),
        wip_total=added("wip_total"),
    )
    return CompositionOut(
        period=period.code,
        by=args.by,
        closed=costing.stored,
        groups=[_group_out(g, name(g), per_unit) for g in groups],
        totals=_group_out(totals, "", False),
    )


# ---------------------------------------------------------------- standard against actual


class VarianceIn(BaseModel):
    period: str = Field(min_length=1, max_length=20, description="cost period, e.g. 2026-11")


class OrderVarianceOut(VarianceOut):
    standard_from: str = Field(description="bom (BOM roll-up, get_bom_cost) or unit_cost (no BOM)")
    variance_rate: Num | None = Field(description="variance / standard_total")


class CostVarianceOut(BaseModel):
    period: str
    closed: bool
    orders: list[OrderVarianceOut] = Field(description="completed output with a standard cost")
    without_standard: list[str] = Field(description="orders whose items have no standard cost")
    standard_total: Num
    actual_total: Num
    variance: Num = Field(description="actual - standard; positive is unfavourable")


@tool(kind="read", tags=("costing",))
def get_cost_variance(ctx: ToolContext, args: VarianceIn) -> CostVarianceOut:
    """Standard against actual cost of a period's completed output (成本差异): per production order, the
    standard unit cost (the item's BOM roll-up as get_bom_cost gives it, or its standard unit_cost without a
    BOM) × completed quantity against the actual cost, in total and per element (material: components at
    standard; labor: the item's operations at the work centers' rates; subcontract: its processing fee;
    overhead has no standard). A positive variance is unfavourable."""
    period = require_period(ctx.session, args.period)
    costing = period_report(ctx.session, period)
    report = costing.report
    _require_costed(period, report.ok, report.problems)
    items = {v.item for v in report.variances}
    with_bom = set(
        ctx.session.exec(
            select(col(Item.code))
            .join(Bom, col(Bom.item_id) == col(Item.id))
            .where(col(Item.code).in_(items))
        ).all()
    )
    orders = [
        OrderVarianceOut(
            **v.model_dump(),
            standard_from="bom" if v.item in with_bom else "unit_cost",
            variance_rate=v.variance / v.standard_total if v.standard_total else None,
        )
        for v in report.variances
    ]
    with_standard = {v.production_order for v in report.variances}
    rework = {o.production_order for o in report.orders if o.rework_of is not None}
    without = [
        o.production_order
        for o in report.orders
        if o.production_order not in with_standard and o.production_order not in rework
    ]
    standard_total = sum((v.standard_total for v in orders), ZERO)
    actual_total = sum((v.actual_total for v in orders), ZERO)
    return CostVarianceOut(
        period=period.code,
        closed=costing.stored,
        orders=orders,
        without_standard=without,
        standard_total=standard_total,
        actual_total=actual_total,
        variance=actual_total - standard_total,
    )


# ---------------------------------------------------------------- order profitability


class ProfitabilityIn(BaseModel):
    sales_order: str | None = Field(default=None, max_length=64, description="sales order code, e.g. SO-100")
    period: str | None = Field(
        default=None,
        max_length=20,
        description="cost period: every sales order whose production orders were costed in it",
    )
    basis: Literal["auto", "shipped", "ordered"] = Field(
        default="auto", description="quantity sold: shipped, ordered, or auto (shipped once anything shipped)"
    )


class CostedOrderOut(BaseModel):
    production_order: str
    period: str
    completed_qty: Num
    total: Num
    unit_cost: Num


class ProfitLineOut(BaseModel):
    line_no: int
    item: str
    qty: Num = Field(description="quantity the revenue and cost are for")
    qty_basis: str = Field(description="shipped or ordered")
    unit_price: Num
    revenue: Num = Field(description="qty × unit_price")
    unit_cost: Num = Field(description="actual unit cost of its production orders, else standard")
    cost: Num = Field(description="qty × unit_cost")
    margin: Num
    margin_rate: Num | None = Field(description="margin / revenue")
    cost_source: str = Field(description="actual (its production orders) | standard (BOM roll-up) | none")
    production_orders: list[CostedOrderOut]


class ProfitOrderOut(BaseModel):
    sales_order: str
    customer: str
    status: str
    revenue: Num
    cost: Num
    margin: Num
    margin_rate: Num | None
    lines: list[ProfitLineOut]


class ProfitabilityOut(BaseModel):
    period: str | None
    sales_orders: list[ProfitOrderOut]
    revenue: Num
    cost: Num
    margin: Num
    margin_rate: Num | None


def _costed_outputs(
    session: Session, periods: Sequence[CostPeriod], orders: set[str]
) -> dict[tuple[str, str], list[CostedOrderOut]]:
    """(production order, item) → the completed output costed in each of ``periods``."""
    out: dict[tuple[str, str], list[CostedOrderOut]] = defaultdict(list)
    for period in periods:
        report = period_report(session, period, with_variances=False).report
        if not report.ok:
            continue
        for cost in report.orders:
            if cost.production_order not in orders:
                continue
            for output in cost.outputs:
                if output.by_product or output.qty == 0:
                    continue
                out[(cost.production_order, output.item)].append(
                    CostedOrderOut(
                        production_order=cost.production_order,
                        period=period.code,
                        completed_qty=output.qty,
                        total=output.total,
                        unit_cost=output.unit_cost,
                    )
                )
    return out


@tool(kind="read", tags=("costing",))
def get_order_profitability(ctx: ToolContext, args: ProfitabilityIn) -> ProfitabilityOut:
    """Profitability of sales orders (订单利润): revenue (quantity × unit price, shipped or ordered) against
    the cost of making it — the actual unit cost of the production orders linked to each line (weighted over
    every period they were costed in, or only `period`'s), else the item's standard cost (BOM roll-up).
    Give a sales order, or a period for every sales order whose production was costed in it."""
    session = ctx.session
    if (args.sales_order is None) == (args.period is None):
        raise ToolError("invalid_input", "give a sales order or a period", {"field": "sales_order"})
    period_row = require_period(session, args.period) if args.period is not None else None
    if args.sales_order is not None:
        so = session.exec(select(SalesOrder).where(SalesOrder.code == args.sales_order)).first()
        if so is None:
            raise not_found("sales order", args.sales_order)
        sales_orders = [so]
    else:
        linked = session.exec(
            select(SalesOrderLine.sales_order_id)
            .join(ProductionOrder, col(ProductionOrder.sales_order_line_id) == col(SalesOrderLine.id))
            .join(OrderCostInput, col(OrderCostInput.production_order_id) == col(ProductionOrder.id))
            .where(OrderCostInput.period_id == (period_row.id if period_row else 0))
        ).all()
        sales_orders = list(
            session.exec(
                select(SalesOrder).where(col(SalesOrder.id).in_(set(linked))).order_by(col(SalesOrder.code))
            ).all()
        )
    lines = session.exec(
        select(SalesOrderLine, Item)
        .join(Item, col(Item.id) == col(SalesOrderLine.item_id))
        .where(col(SalesOrderLine.sales_order_id).in_([s.id for s in sales_orders]))
        .order_by(col(SalesOrderLine.sales_order_id), col(SalesOrderLine.line_no))
    ).all()
    productions = session.exec(
        select(ProductionOrder).where(
            col(ProductionOrder.sales_order_line_id).in_([ln.id for ln, _ in lines])
        )
    ).all()
    by_line: dict[int, list[ProductionOrder]] = defaultdict(list)
    for mo in productions:
        by_line[mo.sales_order_line_id or 0].append(mo)
    if period_row is not None:
        periods = [period_row]
    else:
        periods = list(
            session.exec(
                select(CostPeriod)
                .join(OrderCostInput, col(OrderCostInput.period_id) == col(CostPeriod.id))
                .where(col(OrderCostInput.production_order_id).in_([mo.id for mo in productions]))
                .distinct()
                .order_by(col(CostPeriod.code))
            ).all()
        )
    costed = _costed_outputs(session, periods, {mo.code for mo in productions})
    uncosted = {
        item.code
        for ln, item in lines
        if not any((mo.code, item.code) in costed for mo in by_line[ln.id or 0])
    }
    standards = standard_costs(session, dict.fromkeys(uncosted, Decimal(1)), ctx.today) if uncosted else {}
    customers = dict(session.exec(select(col(Customer.id), col(Customer.code))).all())
    out_orders = []
    for so in sales_orders:
        out_lines = []
        for ln, item in lines:
            if ln.sales_order_id != so.id:
                continue
            shipped = Decimal(ln.shipped_qty)
            use_shipped = args.basis == "shipped" or (args.basis == "auto" and shipped > 0)
            qty = shipped if use_shipped else Decimal(ln.qty)
            outputs = [c for mo in by_line[ln.id or 0] for c in costed.get((mo.code, item.code), [])]
            made = sum((c.completed_qty for c in outputs), ZERO)
            if made > 0:
                unit_cost, source = sum((c.total for c in outputs), ZERO) / made, "actual"
            elif item.code in standards:
                unit_cost, source = standards[item.code].unit_cost, "standard"
            else:
                unit_cost, source = ZERO, "none"
            profit = cc.line_profit(qty, Decimal(ln.unit_price), unit_cost)
            out_lines.append(
                ProfitLineOut(
                    line_no=ln.line_no,
                    item=item.code,
                    qty=qty,
                    qty_basis="shipped" if use_shipped else "ordered",
                    unit_price=Decimal(ln.unit_price),
                    revenue=profit.revenue,
                    unit_cost=unit_cost,
                    cost=profit.cost,
                    margin=profit.margin,
                    margin_rate=profit.margin_rate,
                    cost_source=source,
                    production_orders=outputs,
                )
            )
        revenue = sum((x.revenue for x in out_lines), ZERO)
        cost = sum((x.cost for x in out_lines), ZERO)
        out_orders.append(
            ProfitOrderOut(
                sales_order=so.code,
                customer=customers.get(so.customer_id, ""),
                status=so.status,
                revenue=revenue,
                cost=cost,
                margin=revenue - cost,
                margin_rate=_share(revenue - cost, revenue) if revenue else None,
                lines=out_lines,
            )
        )
    revenue = sum((o.revenue for o in out_orders), ZERO)
    cost = sum((o.cost for o in out_orders), ZERO)
    return ProfitabilityOut(
        period=period_row.code if period_row else None,
        sales_orders=out_orders,
        revenue=revenue,
        cost=cost,
        margin=revenue - cost,
        margin_rate=_share(revenue - cost, revenue) if revenue else None,
    )
