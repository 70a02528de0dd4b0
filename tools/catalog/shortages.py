"""Shortage analysis tool (足缺料分析): what a production or sales order is short of, and what will cover it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session, select

from data_model.tables import Item, ProductionOrder, ProductionOrderComponent, SalesOrder, SalesOrderLine
from planning.bom import BomIndex
from planning.model import Plant, Substitute
from planning.shortages import (
    ComponentRequirement,
    ComponentShortage,
    OrderKind,
    OrderRequirements,
    ShortageReport,
    explode_phantom_demands,
    explode_phantoms,
)
from planning.shortages import (
    analyze_shortages as analyze,
)
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.snapshot import OPEN_PRODUCTION, load_plant
from tools.types import Num

ANALYSABLE_SALES = ("draft", "confirmed", "in_progress")


class AnalyzeShortagesIn(BaseModel):
    production_order: str | None = Field(
        default=None, description="production or subcontract order code, e.g. MO-1"
    )
    sales_order: str | None = Field(default=None, description="sales order code, e.g. SO-1")
    use_substitutes: bool = Field(
        default=False, description="cover shortages with the BOM's substitutes' free stock"
    )

    @model_validator(mode="after")
    def _one_order(self) -> AnalyzeShortagesIn:
        if (self.production_order is None) == (self.sales_order is None):
            raise ValueError("give exactly one of production_order or sales_order")
        return self


class AllocationOut(BaseModel):
    demand: str = Field(
        description="an order ranked ahead (higher priority, or same priority and needed earlier)"
    )
    qty: Num
    priority: int
    due: date


class ReceiptOut(BaseModel):
    supply: str = Field(
        description="purchase order (line), production/subcontract order or QC/<item> inspection"
    )
    kind: Literal["purchase", "production", "subcontract", "transit", "inspection"]
    qty: Num = Field(description="the part of it that goes to this order")
    due: date
    late: bool = Field(description="arrives after this order needs it")


class SubstituteOut(BaseModel):
    item: str
    qty: Num = Field(description="in the substitute's unit")
    covers: Num = Field(description="quantity of the component it replaces")


class ComponentOut(BaseModel):
    item: str
    name: str
    uom: str
    required: Num = Field(description="total requirement of the order")
    issued: Num = Field(description="already issued (production) or shipped (sales)")
    remaining: Num
    need_date: date
    on_hand: Num
    allocated_to_others: Num = Field(description="stock held for orders ranked ahead by priority and date")
    available: Num = Field(
        description="free stock for this order, up to what it still needs (substitutes included)"
    )
    short: Num = Field(description="remaining - available")
    uncovered: Num = Field(description="short quantity no open receipt will cover: to buy or make")
    covered_date: date | None = Field(description="when all of it is there (None: not with open supply)")
    expected_receipts: list[ReceiptOut]
    allocations: list[AllocationOut]
    substitutes: list[SubstituteOut]


class AnalyzeShortagesOut(BaseModel):
    order: str
    kind: Literal["production", "sales"]
    item: str | None = Field(description="the item a production order makes")
    status: str
    priority: int
    need_date: date = Field(description="when a production order starts, or a sales order's first due date")
    ready_date: date | None = Field(
        description="when every component is there (None: some shortage is not covered)"
    )
    shortages: list[ComponentOut] = Field(description="components short now")
    components: list[ComponentOut] = Field(description="every component (production) or line item (sales)")


def _production_requirements(
    session: Session, plant: Plant, index: BomIndex, code: str
) -> tuple[OrderRequirements, ProductionOrder, str]:
    order = session.exec(select(ProductionOrder).where(ProductionOrder.code == code)).first()
    if order is None:
        raise ToolError(
            "not_found",
            f"production order {code!r} not found",
            {"kind": "production_order", "key": code, "field": "production_order"},
        )
    if order.status not in OPEN_PRODUCTION:
        raise ToolError(
            "conflict",
            f"production order {code} is {order.status}: nothing left to issue",
            {"record": code, "field": "status", "status": order.status, "allowed": list(OPEN_PRODUCTION)},
        )
    item = session.get(Item, order.item_id)
    item_code = item.code if item is not None else ""
    lead = plant.items[item_code].lead_time_days if item_code in plant.items else 0
    need = order.start_date or plant.calendar.subtract_workdays(order.due_date, lead)
    substitutes = _bom_substitutes(index, item_code)
    codes = {i.id: i.code for i in session.exec(select(Item)).all()}
    rows = session.exec(
        select(ProductionOrderComponent)
        .where(ProductionOrderComponent.production_order_id == order.id)
        .order_by(ProductionOrderComponent.id)  # type: ignore[arg-type]
    ).all()
    if rows:
        components = [
            ComponentRequirement(
                codes[r.item_id],
                Decimal(r.required_qty),
                Decimal(r.issued_qty),
                need,
                substitutes.get(codes[r.item_id], ()),
            )
            for r in rows
            if r.substitute_for_id is None or Decimal(r.required_qty) > 0
        ]
    else:
        open_qty = Decimal(order.qty) - Decimal(order.completed_qty)
        components = [
            ComponentRequirement(comp, open_qty * per, Decimal(0), need, substitutes.get(comp, ()))
            for comp, per in index.children.get(item_code, ())
        ]
    if not components:
        raise ToolError(
            "invalid_input",
            f"production order {code} has no components and {item_code} no BOM",
            {"record": code, "field": "components"},
        )
    requirements = OrderRequirements(
        code,
        OrderKind.PRODUCTION,
        need,
        explode_phantoms(components, index),
        priority=order.priority,
        demand_ids=frozenset({code}),
    )
    return requirements, order, item_code


def _bom_substitutes(index: BomIndex, parent: str) -> dict[str, tuple[Substitute, ...]]:
    """Per component of ``parent``'s BOM (phantoms passed through), its substitutes in priority order."""
    out: dict[str, tuple[Substitute, ...]] = {}
    for line in index.lines.get(parent, ()):
        if line.substitutes and line.component not in out:
            out[line.component] = line.substitutes
    return out


def _sales_requirements(session: Session, index: BomIndex, code: str) -> tuple[OrderRequirements, SalesOrder]:
    order = session.exec(select(SalesOrder).where(SalesOrder.code == code)).first()
    if order is None:
        raise ToolError(
            "not_found",
            f"sales order {code!r} not found",
            {"kind": "sales_order", "key": code, "field": "sales_order"},
        )
    if order.status not in ANALYSABLE_SALES:
        raise ToolError(
            "conflict",
            f"sales order {code} is {order.status}: nothing left to ship",
            {"record": code, "field": "status", "status": order.status, "allowed": list(ANALYSABLE_SALES)},
        )
    lines = session.exec(
        select(SalesOrderLine)
        .where(SalesOrderLine.sales_order_id == order.id)
        .order_by(SalesOrderLine.line_no)  # type: ignore[arg-type]
    ).all()
    codes = {i.id: i.code for i in session.exec(select(Item)).all()}
    components = [
        ComponentRequirement(codes[ln.item_id], Decimal(ln.qty), Decimal(ln.shipped_qty), ln.due_date)
        for ln in lines
        if Decimal(ln.qty) > Decimal(ln.shipped_qty)
    ]
    if not components:
        raise ToolError(
            "conflict", f"sales order {code} has nothing left to ship", {"record": code, "field": "lines"}
        )
    requirements = OrderRequirements(
        code,
        OrderKind.SALES,
        min(c.need_date or date.max for c in components),
        explode_phantoms(components, index),
        priority=order.priority,
        demand_ids=frozenset(f"{code}/{ln.line_no}" for ln in lines),
    )
    return requirements, order


def _component_out(plant: Plant, c: ComponentShortage) -> ComponentOut:
    item = plant.items.get(c.item)
    return ComponentOut(
        item=c.item,
        name=item.name if item else "",
        uom=item.uom if item else "",
        required=c.required,
        issued=c.issued,
        remaining=c.remaining,
        need_date=c.need_date,
        on_hand=c.on_hand,
        allocated_to_others=c.allocated_to_others,
        available=c.available,
        short=c.short,
        uncovered=c.uncovered,
        covered_date=c.covered_date,
        expected_receipts=[
            ReceiptOut(supply=r.supply, kind=r.kind.value, qty=r.qty, due=r.due, late=r.late)
            for r in c.expected_receipts
        ],
        allocations=[
            AllocationOut(demand=a.demand, qty=a.qty, priority=a.priority, due=a.due) for a in c.allocations
        ],
        substitutes=[SubstituteOut(item=s.item, qty=s.qty, covers=s.covers) for s in c.substitutes],
    )


@tool(kind="read")
def analyze_shortages(ctx: ToolContext, args: AnalyzeShortagesIn) -> AnalyzeShortagesOut:
    """Shortage analysis (足缺料分析) of one production order (its components still to issue) or one sales
    order (its lines' items still to ship): per item the requirement, what was issued, stock on hand, stock
    held for other orders ranked ahead (higher priority first, then earlier need date), the free quantity,
    the short quantity, and the open purchase, production or subcontract orders that will cover it and
    when (late if after the need date); ``uncovered`` is what nobody has ordered yet. With
    ``use_substitutes`` the BOM's substitutes' free stock covers shortages. Quantities in each item's unit.
    Read-only; to act, use the propose_* tools (e.g. a purchase request for the uncovered quantity)."""
    session = ctx.session
    plant = load_plant(ctx)
    index = BomIndex.for_plant(plant)
    if args.sales_order is None:
        requirements, mo, item_code = _production_requirements(
            session, plant, index, args.production_order or ""
        )
        status, priority, item = mo.status, mo.priority, item_code or None
    else:
        requirements, so = _sales_requirements(session, index, args.sales_order)
        status, priority, item = so.status, so.priority, None
    report: ShortageReport = analyze(
        requirements,
        plant.on_hand,
        plant.supplies,
        explode_phantom_demands(plant.demands, index),
        plant.today,
        use_substitutes=args.use_substitutes,
    )
    components = [_component_out(plant, c) for c in report.components]
    return AnalyzeShortagesOut(
        order=report.order,
        kind=report.kind.value,
        item=item,
        status=status,
        priority=priority,
        need_date=report.need_date,
        ready_date=report.ready_date,
        shortages=[c for c in components if c.short > 0],
        components=components,
    )
