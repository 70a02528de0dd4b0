"""Load the planning snapshot (a frozen Plant) from the database in a few set-based queries."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from data_model.dataset_store import effective_bom_map
from data_model.stock import on_hand
from data_model.tables import (
    Bom,
    BomLine,
    BomSubstitute,
    CalendarDay,
    Customer,
    Forecast,
    Item,
    Meta,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseRequisition,
    Routing,
    RoutingOperation,
    SalesOrder,
    SalesOrderLine,
    WorkCenter,
)
from planning import model as pm
from planning.calendar import Calendar, parse_weekdays
from tools.context import ToolContext

OPEN_PRODUCTION = ("planned", "released", "in_progress")
OPEN_PURCHASE = ("confirmed", "partial")
OPEN_SALES = ("confirmed", "in_progress")
OPEN_REQUISITIONS = ("draft", "approved")


def _d(v: object) -> Decimal:
    return v if isinstance(v, Decimal) else Decimal(str(v or 0))


def load_calendar(session: Session) -> Calendar:
    row = session.get(Meta, "calendar.workdays")
    workdays = parse_weekdays(row.value.split(",")) if row and row.value else frozenset(range(7))
    holidays = frozenset(session.exec(select(CalendarDay.day).where(CalendarDay.working == False)).all())  # noqa: E712
    return Calendar(workdays=workdays, holidays=holidays)


def load_items(session: Session) -> dict[int, pm.Item]:
    return {
        row.id: pm.Item(
            code=row.code, name=row.name, source=pm.Source(row.source), lead_time_days=row.lead_time_days,
            safety_stock=_d(row.safety_stock), min_order_qty=_d(row.min_order_qty),
            order_multiple=_d(row.order_multiple), max_order_qty=_d(row.max_order_qty),
            unit_cost=_d(row.unit_cost), phantom=row.phantom, uom=row.uom)
        for row in session.execute(sa.select(Item).where(Item.active == True)).scalars()  # noqa: E712
    }


def load_boms(session: Session, code: dict[int, str], today: date) -> dict[str, pm.Bom]:
    """The BOM in force on ``today`` for every parent."""
    boms = session.execute(sa.select(Bom).where(Bom.status == "active")).scalars().all()

    class _Head:
        __slots__ = ("effective_from", "effective_to", "id", "parent", "version")

        def __init__(self, b: Bom) -> None:
            self.parent, self.version, self.id = code.get(b.item_id, ""), b.version, b.id
            self.effective_from, self.effective_to = b.effective_from, b.effective_to

    chosen = effective_bom_map([_Head(b) for b in boms if b.item_id in code], today)
    wanted = {h.id: parent for parent, h in chosen.items()}
    by_id = {b.id: b for b in boms}
    subs: dict[int, list[pm.Substitute]] = defaultdict(list)
    for line_id, item_id, prio, ratio in session.execute(
        sa.select(BomSubstitute.bom_line_id, BomSubstitute.item_id, BomSubstitute.priority, BomSubstitute.ratio)
        .order_by(BomSubstitute.bom_line_id, BomSubstitute.priority)):
        if item_id in code:
            subs[line_id].append(pm.Substitute(item=code[item_id], ratio=_d(ratio), priority=prio))
    lines: dict[int, list[pm.BomLine]] = defaultdict(list)
    for ln in session.execute(sa.select(BomLine).where(BomLine.bom_id.in_(list(wanted)))  # type: ignore[attr-defined]
                              .order_by(BomLine.bom_id, BomLine.seq, BomLine.id)).scalars():
        lines[ln.bom_id].append(pm.BomLine(
            component=code[ln.component_id], qty=_d(ln.qty), scrap_rate=_d(ln.scrap_rate),
            substitutes=tuple(subs.get(ln.id or 0, ())), issue_method=ln.issue_method, allow_mix=ln.allow_mix))
    return {parent: pm.Bom(parent=parent, lines=tuple(lines[bid]), output_qty=_d(by_id[bid].output_qty),
                           version=by_id[bid].version)
            for bid, parent in wanted.items()}


def load_supplies(session: Session, code: dict[int, str], today: date) -> list[pm.Supply]:
    supplies: list[pm.Supply] = []
    for po_code, line_no, item_id, qty, received, due in session.execute(
        sa.select(PurchaseOrder.code, PurchaseOrderLine.line_no, PurchaseOrderLine.item_id, PurchaseOrderLine.qty,
                  PurchaseOrderLine.received_qty, PurchaseOrderLine.due_date)
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)  # type: ignore[arg-type]
        .where(PurchaseOrder.status.in_(OPEN_PURCHASE))  # type: ignore[attr-defined]
        .order_by(PurchaseOrder.code, PurchaseOrderLine.line_no)):
        open_qty = _d(qty) - _d(received)
        if open_qty > 0 and item_id in code:
            ref = po_code if line_no == 1 else f"{po_code}/{line_no}"
            supplies.append(pm.Supply(id=ref, item=code[item_id], qty=open_qty, due=due, kind=pm.SupplyKind.PURCHASE,
                                      status="open"))
    for mo_code, kind, item_id, qty, done, due, status in session.execute(
        sa.select(ProductionOrder.code, ProductionOrder.kind, ProductionOrder.item_id, ProductionOrder.qty,
                  ProductionOrder.completed_qty, ProductionOrder.due_date, ProductionOrder.status)
        .where(ProductionOrder.status.in_(OPEN_PRODUCTION))  # type: ignore[attr-defined]
        .order_by(ProductionOrder.code)):
        open_qty = _d(qty) - _d(done)
        if open_qty > 0 and item_id in code:
            supplies.append(pm.Supply(
                id=mo_code, item=code[item_id], qty=open_qty, due=due,
                kind=pm.SupplyKind.SUBCONTRACT if kind == "subcontract" else pm.SupplyKind.PRODUCTION,
                status=status))
    # approved requisitions not yet on a purchase order are supply too: planning them again would double them
    for pr_code, item_id, qty, need in session.execute(
        sa.select(PurchaseRequisition.code, PurchaseRequisition.item_id, PurchaseRequisition.qty,
                  PurchaseRequisition.need_date)
        .where(PurchaseRequisition.status.in_(OPEN_REQUISITIONS))
        .order_by(PurchaseRequisition.code)):
        if item_id in code:
            supplies.append(pm.Supply(id=pr_code, item=code[item_id], qty=_d(qty), due=need,
                                      kind=pm.SupplyKind.PURCHASE, status="requisition"))
    for item_id, qty in on_hand(session, kinds=("inspection",)).items():
        if qty > 0 and item_id in code:
            supplies.append(pm.Supply(id=f"QC/{code[item_id]}", item=code[item_id], qty=qty, due=today,
                                      kind=pm.SupplyKind.INSPECTION, status="inspection"))
    return supplies


def load_demands(session: Session, items: dict[int, pm.Item], calendar: Calendar) -> list[pm.Demand]:
    demands: list[pm.Demand] = []
    code = {k: v.code for k, v in items.items()}
    for so_code, prio, cust, line_no, item_id, qty, shipped, due in session.execute(
        sa.select(SalesOrder.code, SalesOrder.priority, Customer.code, SalesOrderLine.line_no, SalesOrderLine.item_id,
                  SalesOrderLine.qty, SalesOrderLine.shipped_qty, SalesOrderLine.due_date)
        .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)  # type: ignore[arg-type]
        .join(Customer, Customer.id == SalesOrder.customer_id)  # type: ignore[arg-type]
        .where(SalesOrder.status.in_(OPEN_SALES))  # type: ignore[attr-defined]
        .order_by(SalesOrder.code, SalesOrderLine.line_no)):
        open_qty = _d(qty) - _d(shipped)
        if open_qty > 0 and item_id in code:
            demands.append(pm.Demand(id=f"{so_code}/{line_no}", item=code[item_id], qty=open_qty, due=due,
                                     kind=pm.DemandKind.SALES, priority=prio, customer=cust))
    for fid, item_id, qty, day in session.execute(
        sa.select(Forecast.id, Forecast.item_id, Forecast.qty, Forecast.forecast_date).order_by(Forecast.id)):
        if item_id in code:
            demands.append(pm.Demand(id=f"FC-{fid}", item=code[item_id], qty=_d(qty), due=day,
                                     kind=pm.DemandKind.FORECAST))
    orders = {
        row.id: row for row in session.execute(
            sa.select(ProductionOrder).where(ProductionOrder.status.in_(OPEN_PRODUCTION))).scalars()  # type: ignore[attr-defined]
    }
    for comp in session.execute(
        sa.select(ProductionOrderComponent)
        .where(ProductionOrderComponent.production_order_id.in_(list(orders)))  # type: ignore[attr-defined]
        .order_by(ProductionOrderComponent.production_order_id, ProductionOrderComponent.id)).scalars():
        still = _d(comp.required_qty) - _d(comp.issued_qty)
        mo = orders[comp.production_order_id]
        if still <= 0 or comp.item_id not in code:
            continue
        start = mo.start_date or calendar.subtract_workdays(
            mo.due_date, items[mo.item_id].lead_time_days if mo.item_id in items else 0)
        demands.append(pm.Demand(id=mo.code, item=code[comp.item_id], qty=still, due=start,
                                 kind=pm.DemandKind.DEPENDENT, priority=mo.priority))
    return demands


def load_resources(session: Session, code: dict[int, str]) -> tuple[dict[str, pm.WorkCenter], dict[str, pm.Routing]]:
    wcs = {w.id: w for w in session.execute(sa.select(WorkCenter)).scalars()}
    work_centers = {w.code: pm.WorkCenter(code=w.code, machines=w.machines, hours_per_day=_d(w.hours_per_day),
                                          cost_per_hour=_d(w.cost_per_hour), name=w.name,
                                          overtime_hours_per_day=_d(w.overtime_hours_per_day))
                    for w in wcs.values()}
    ops: dict[int, list[pm.Operation]] = defaultdict(list)
    for op in session.execute(sa.select(RoutingOperation).order_by(RoutingOperation.routing_id,
                                                                    RoutingOperation.seq)).scalars():
        ops[op.routing_id].append(pm.Operation(seq=op.seq, work_center=wcs[op.work_center_id].code,
                                               setup_minutes=_d(op.setup_minutes),
                                               run_minutes_per_unit=_d(op.run_minutes_per_unit)))
    routings = {code[r.item_id]: pm.Routing(item=code[r.item_id], operations=tuple(ops[r.id or 0]))
                for r in session.execute(sa.select(Routing)).scalars() if r.item_id in code}
    return work_centers, routings


def load_plant_from_session(session: Session, today: date) -> pm.Plant:
    items = load_items(session)
    code = {k: v.code for k, v in items.items()}
    calendar = load_calendar(session)
    stock = {code[k]: v for k, v in on_hand(session).items() if k in code and v > 0}
    work_centers, routings = load_resources(session, code)
    return pm.Plant(
        today=today,
        items={it.code: it for it in items.values()},
        boms=load_boms(session, code, today),
        on_hand=stock,
        supplies=tuple(load_supplies(session, code, today)),
        demands=tuple(load_demands(session, items, calendar)),
        calendar=calendar,
        work_centers=work_centers,
        routings=routings,
    )


def load_plant(ctx: ToolContext) -> pm.Plant:
    """The plant as of the context's clock (the snapshot every planning tool works on)."""
    return load_plant_from_session(ctx.session, ctx.today)
