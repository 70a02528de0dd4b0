"""Dataset ⇄ database: reference checks, the all-or-nothing write, the export, and clearing for --reset."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, SQLModel, select

from data_model.append_only import purging
from data_model.base import utcnow
from data_model.dataset import Dataset, DatasetProblem
from data_model.stock import ensure_standard_locations, on_hand
from data_model.tables import (
    ApiToken,
    Bom,
    BomLine,
    BomSubstitute,
    CalendarDay,
    CostPeriod,
    Customer,
    Forecast,
    Item,
    ItemAlias,
    ItemValuation,
    JointProductOutput,
    Location,
    Meta,
    OrderCostInput,
    OverheadPool,
    PriceList,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseOrder,
    PurchaseOrderLine,
    Routing,
    RoutingOperation,
    SalesOrder,
    SalesOrderLine,
    StockMove,
    Supplier,
    Uom,
    User,
    WorkCenter,
)
from data_model.tables.inventory import INTERNAL_KINDS

KEEP_ON_RESET = {User.__tablename__, ApiToken.__tablename__}
ALL_WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _p(sheet: str, row: int | None, field: str, message: str) -> DatasetProblem:
    return DatasetProblem(sheet=sheet, row=row, field=field, message=message)


def check_references(ds: Dataset, existing_items: Iterable[str] = ()) -> list[DatasetProblem]:
    """Duplicate codes and references to unknown records, each named by sheet, row and field."""
    problems: list[DatasetProblem] = []

    def dupes(sheet: str, records: list[Any], key: Any, field: str) -> set[str]:
        seen: set[Any] = set()
        codes: set[str] = set()
        for i, rec in enumerate(records, start=1):
            k = key(rec)
            if k in seen:
                problems.append(_p(sheet, rec.row_ or i, field, f"duplicate {field} {k!r}"))
            seen.add(k)
            codes.add(k if isinstance(k, str) else k[0])
        return codes

    items = dupes("items", ds.items, lambda r: r.code, "code") | set(existing_items)
    customers = dupes("customers", ds.customers, lambda r: r.code, "code")
    suppliers = dupes("suppliers", ds.suppliers, lambda r: r.code, "code")
    work_centers = dupes("work_centers", ds.work_centers, lambda r: r.code, "code")
    locations = dupes("locations", ds.locations, lambda r: r.code, "code") | {"STOCK", "QC"}
    dupes("boms", ds.boms, lambda r: (r.parent, r.version), "parent")
    dupes("routings", ds.routings, lambda r: r.item, "item")
    dupes("purchase_orders", ds.purchase_orders, lambda r: r.id, "id")
    mos = dupes("production_orders", ds.production_orders, lambda r: r.id, "id")
    dupes("sales_orders", ds.sales_orders, lambda r: r.id, "id")

    def need_item(sheet: str, row: int | None, field: str, code: str) -> None:
        if code not in items:
            problems.append(_p(sheet, row, field, f"unknown item {code!r}"))

    def need_supplier(sheet: str, row: int | None, field: str, code: str | None) -> None:
        if code and ds.suppliers and code not in suppliers:
            problems.append(_p(sheet, row, field, f"unknown supplier {code!r}"))

    for i, it in enumerate(ds.items, start=1):
        if it.phantom and it.source != "make":
            problems.append(_p("items", it.row_ or i, "phantom", "only a make item can be a phantom"))
    for i, pl in enumerate(ds.price_lists, start=1):
        need_item("price_lists", pl.row_ or i, "item", pl.item)
        need_supplier("price_lists", pl.row_ or i, "supplier", pl.supplier)
        if not ds.suppliers:
            problems.append(_p("price_lists", pl.row_ or i, "supplier", "price lists need a 'suppliers' sheet"))
    for i, loc in enumerate(ds.locations, start=1):
        need_supplier("locations", loc.row_ or i, "supplier", loc.supplier)
    for i, bom in enumerate(ds.boms, start=1):
        row = bom.row_ or i
        need_item("boms", row, "parent", bom.parent)
        if bom.effective_from and bom.effective_to and bom.effective_to <= bom.effective_from:
            problems.append(_p("boms", row, "effective_to", "must be after effective_from"))
        for j, line in enumerate(bom.lines, start=1):
            need_item("boms", line.row_ or row, f"lines[{j}].component", line.component)
            if line.component == bom.parent:
                problems.append(_p("boms", line.row_ or row, f"lines[{j}].component",
                                   f"BOM cycle: {bom.parent} → {bom.parent}"))
            for k, sub in enumerate(line.substitutes, start=1):
                need_item("boms", sub.row_ or line.row_ or row, f"lines[{j}].substitutes[{k}].item", sub.item)
    for i, st in enumerate(ds.stock, start=1):
        need_item("stock", st.row_ or i, "item", st.item)
        if st.location not in locations:
            problems.append(_p("stock", st.row_ or i, "location", f"unknown location {st.location!r}"))
    for i, po in enumerate(ds.purchase_orders, start=1):
        need_supplier("purchase_orders", po.row_ or i, "supplier", po.supplier)
        for j, po_line in enumerate(po.all_lines(), start=1):
            field = "item" if not po.lines else f"lines[{j}].item"
            need_item("purchase_orders", po_line.row_ or po.row_ or i, field, po_line.item)
    so_lines = {(so.id, n) for so in ds.sales_orders for n in range(1, len(so.lines) + 1)}
    for i, mo in enumerate(ds.production_orders, start=1):
        row = mo.row_ or i
        need_item("production_orders", row, "item", mo.item)
        need_supplier("production_orders", row, "supplier", mo.supplier)
        if mo.sales_order:
            so_id, _, line_no = mo.sales_order.partition("/")
            if (so_id, int(line_no or 1) if (line_no or "1").isdigit() else -1) not in so_lines:
                problems.append(_p("production_orders", row, "sales_order",
                                   f"unknown sales order line {mo.sales_order!r} (use ORDER/LINE, e.g. SO-1/1)"))
        if mo.parent_order and mo.parent_order not in mos:
            problems.append(_p("production_orders", row, "parent_order", f"unknown production order {mo.parent_order!r}"))
        if mo.completed_qty > mo.qty and mo.kind != "rework":
            problems.append(_p("production_orders", row, "completed_qty", "exceeds the order quantity"))
        for j, comp in enumerate(mo.components, start=1):
            need_item("production_orders", comp.row_ or row, f"components[{j}].item", comp.item)
    for i, so in enumerate(ds.sales_orders, start=1):
        if ds.customers and so.customer not in customers:
            problems.append(_p("sales_orders", so.row_ or i, "customer", f"unknown customer {so.customer!r}"))
        for j, so_line in enumerate(so.lines, start=1):
            need_item("sales_orders", so_line.row_ or so.row_ or i, f"lines[{j}].item", so_line.item)
    for i, fc in enumerate(ds.forecasts, start=1):
        need_item("forecasts", fc.row_ or i, "item", fc.item)
    for i, rt in enumerate(ds.routings, start=1):
        need_item("routings", rt.row_ or i, "item", rt.item)
        seqs = Counter(op.seq for op in rt.operations)
        for j, op in enumerate(rt.operations, start=1):
            if op.work_center not in work_centers:
                problems.append(_p("routings", op.row_ or rt.row_ or i, f"operations[{j}].work_center",
                                   f"unknown work center {op.work_center!r}"))
            if seqs[op.seq] > 1:
                problems.append(_p("routings", op.row_ or rt.row_ or i, f"operations[{j}].seq",
                                   f"duplicate operation seq {op.seq}"))
    periods = Counter(c.period for c in ds.costing)
    for c in ds.costing:
        if periods[c.period] > 1:
            problems.append(_p("costing", c.row_, "period", f"duplicate period {c.period!r}"))
        for j, oc in enumerate(c.orders, start=1):
            if oc.production_order not in mos:
                problems.append(_p("costing", oc.row_, f"orders[{j}].production_order",
                                   f"unknown production order {oc.production_order!r}"))
        for j, jp in enumerate(c.joint_products, start=1):
            if jp.production_order not in mos:
                problems.append(_p("costing", jp.row_, f"joint_products[{j}].production_order",
                                   f"unknown production order {jp.production_order!r}"))
            for k, out in enumerate([*jp.outputs, *jp.by_products], start=1):
                need_item("costing", out.row_ or jp.row_, f"joint_products[{j}].outputs[{k}].item", out.item)
    return problems


def bom_edges(ds: Dataset) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for bom in ds.boms:
        for line in bom.lines:
            edges[bom.parent].add(line.component)
    return edges


# ---------------------------------------------------------------- clearing


def clear_business_data(session: Session) -> None:
    """Delete every row except users and tokens, children first (used by ``load --reset``); the append-only
    audit log and stock ledger are cleared too, their guard lifted for this transaction only."""
    with purging(session):
        for table in reversed(SQLModel.metadata.sorted_tables):
            if table.name in KEEP_ON_RESET or table.name == "alembic_version":
                continue
            session.execute(table.delete())
        session.flush()


def has_business_data(session: Session) -> bool:
    return session.exec(select(Item.id).limit(1)).first() is not None


# ---------------------------------------------------------------- writing


def _insert(session: Session, model: type[SQLModel], rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(sa.insert(model.__table__), rows)  # type: ignore[attr-defined]


def _ids(session: Session, model: type[SQLModel], key: str = "code") -> dict[str, int]:
    col = getattr(model, key)
    return {k: i for k, i in session.execute(sa.select(col, model.id))}  # type: ignore[attr-defined]


def derive_components(
    ds_boms: dict[str, Bom | Any], order_item: str, qty: Decimal, phantoms: set[str]
) -> list[tuple[str, Decimal, str]]:
    """(component, required qty, issue method) for an order from the item's BOM; phantoms exploded through."""
    out: dict[tuple[str, str], Decimal] = defaultdict(Decimal)

    def walk(item: str, q: Decimal, depth: int) -> None:
        bom = ds_boms.get(item)
        if bom is None or depth > 50:
            return
        for line in bom.lines:
            need = q * line.qty * (1 + line.scrap_rate) / bom.output_qty
            if line.component in phantoms:
                walk(line.component, need, depth + 1)
            else:
                out[(line.component, line.issue_method)] += need
    walk(order_item, qty, 0)
    return [(c, q, m) for (c, m), q in out.items()]


def effective_bom_map(boms: list[Any], today: date) -> dict[str, Any]:
    """The BOM in force on ``today`` per parent: effective dates first, then the highest version."""
    best: dict[str, Any] = {}
    for bom in boms:
        frm, to = bom.effective_from, bom.effective_to
        if (frm and frm > today) or (to and to <= today):
            continue
        cur = best.get(bom.parent)
        if cur is None or (frm or date.min, _version_key(bom.version)) > (
            cur.effective_from or date.min, _version_key(cur.version)):
            best[bom.parent] = bom
    return best


def _version_key(version: str) -> tuple[int, str]:
    return (int(version), "") if version.isdigit() else (0, version)


def write_dataset(session: Session, ds: Dataset, today: date,
                  standard_costs: dict[str, Decimal] | None = None) -> dict[str, int]:
    """Insert the whole dataset in the caller's transaction; returns row counts per sheet.

    Opening stock is valued at its row's ``unit_cost``, else ``standard_costs`` (made items: their BOM
    roll-up, computed by the caller), else the item's ``unit_cost``.
    """
    fresh = session.get(Meta, "calendar.workdays") is None
    if ds.today or fresh:
        session.merge(Meta(key="today", value=ds.today.isoformat() if ds.today else ""))
    cal = ds.calendar
    if cal or fresh:
        session.merge(Meta(key="calendar.workdays", value=",".join(cal.workdays if cal else ALL_WEEKDAYS)))
    for h in cal.holidays if cal else []:
        session.merge(CalendarDay(day=h, working=False))
    locs = ensure_standard_locations(session)
    for uom in sorted({it.uom for it in ds.items} - set(session.exec(select(Uom.code)).all())):
        session.add(Uom(code=uom, name=uom))
    session.flush()

    _insert(session, Item, [
        {"code": it.code, "name": it.name, "description": it.description, "category": it.category, "uom": it.uom,
         "source": it.source, "lead_time_days": it.lead_time_days, "safety_stock": it.safety_stock,
         "min_order_qty": it.min_order_qty, "order_multiple": it.order_multiple, "max_order_qty": it.max_order_qty,
         "unit_cost": it.unit_cost, "phantom": it.phantom, "inspection_required": it.inspection_required,
         "active": True}
        for it in ds.items])
    item_id = _ids(session, Item)
    _insert(session, ItemAlias, [{"item_id": item_id[it.code], "alias": a} for it in ds.items for a in it.aliases])

    known_customers = set(session.exec(select(Customer.code)).all())
    customers = {c.code: (c.name or c.code, "; ".join(c.aliases)) for c in ds.customers}
    for so in ds.sales_orders:
        if so.customer not in known_customers:
            customers.setdefault(so.customer, (so.customer, ""))
    _insert(session, Customer, [{"code": k, "name": v[0], "aliases": v[1]} for k, v in customers.items()])
    customer_id = _ids(session, Customer)
    suppliers = {s.code: (s.name or s.code, s.subcontractor, s.lead_time_days) for s in ds.suppliers}
    known_suppliers = set(session.exec(select(Supplier.code)).all())
    for ref in [po.supplier for po in ds.purchase_orders] + [mo.supplier for mo in ds.production_orders]:
        if ref and ref not in suppliers and ref not in known_suppliers:
            suppliers[ref] = (ref, False, None)
    _insert(session, Supplier, [{"code": k, "name": v[0], "is_subcontractor": v[1], "lead_time_days": v[2]}
                                for k, v in suppliers.items()])
    supplier_id = _ids(session, Supplier)
    _insert(session, PriceList, [
        {"supplier_id": supplier_id[p.supplier], "item_id": item_id[p.item], "kind": p.kind, "price": p.price,
         "min_qty": p.min_qty, "lead_time_days": p.lead_time_days, "valid_from": p.valid_from,
         "valid_to": p.valid_to, "preferred": p.preferred} for p in ds.price_lists])
    for loc in ds.locations:
        session.add(Location(code=loc.code, name=loc.name or loc.code, kind=loc.kind,
                             supplier_id=supplier_id.get(loc.supplier) if loc.supplier else None))
    session.flush()
    loc_id = _ids(session, Location)

    _insert(session, WorkCenter, [
        {"code": w.code, "name": w.name, "machines": w.machines, "hours_per_day": w.hours_per_day,
         "cost_per_hour": w.cost_per_hour, "overtime_hours_per_day": w.overtime_hours_per_day}
        for w in ds.work_centers])
    wc_id = _ids(session, WorkCenter)
    _insert(session, Routing, [{"item_id": item_id[r.item]} for r in ds.routings])
    routing_id = {code: rid for rid, code in session.execute(
        sa.select(Routing.id, Item.code).join(Item, Item.id == Routing.item_id))}  # type: ignore[arg-type]
    _insert(session, RoutingOperation, [
        {"routing_id": routing_id[r.item], "seq": op.seq, "work_center_id": wc_id[op.work_center],
         "setup_minutes": op.setup_minutes, "run_minutes_per_unit": op.run_minutes_per_unit, "name": op.name}
        for r in ds.routings for op in r.operations])

    _insert(session, Bom, [
        {"item_id": item_id[b.parent], "version": b.version, "output_qty": b.output_qty,
         "effective_from": b.effective_from, "effective_to": b.effective_to, "status": "active"} for b in ds.boms])
    bom_id = {(code, ver): bid for bid, code, ver in session.execute(
        sa.select(Bom.id, Item.code, Bom.version).join(Item, Item.id == Bom.item_id))}  # type: ignore[arg-type]
    for b in ds.boms:
        for seq, line in enumerate(b.lines, start=1):
            bl = BomLine(bom_id=bom_id[(b.parent, b.version)], seq=seq * 10, component_id=item_id[line.component],
                         qty=line.qty, scrap_rate=line.scrap_rate, issue_method=line.issue_method,
                         allow_mix=line.allow_mix)
            session.add(bl)
            if line.substitutes:
                session.flush()
                for prio, sub in enumerate(line.substitutes, start=1):
                    session.add(BomSubstitute(bom_line_id=bl.id or 0, item_id=item_id[sub.item], priority=prio,
                                              ratio=sub.ratio))
    session.flush()

    clock = ds.today or today
    moves = []
    standard = {it.code: it.unit_cost for it in ds.items} | (standard_costs or {})
    opening: dict[int, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for st in ds.stock:
        if st.qty > 0:
            cost = st.unit_cost if st.unit_cost is not None else standard.get(st.item, Decimal(0))
            q, v = opening[item_id[st.item]]
            opening[item_id[st.item]] = (q + st.qty, v + st.qty * cost)
            moves.append({"move_date": clock, "move_type": "adjustment", "item_id": item_id[st.item], "qty": st.qty,
                          "from_location_id": locs["ADJUSTMENT"].id, "to_location_id": loc_id[st.location],
                          "unit_cost": st.unit_cost if st.unit_cost is not None else Decimal(0),
                          "doc_type": "opening", "doc_ref": "dataset", "reason": "opening balance", "actor": "load",
                          "owner_customer_id": None, "created_at": utcnow()})
    _insert(session, StockMove, moves)
    _insert(session, ItemValuation, [
        {"item_id": iid, "qty": q, "value": v, "avg_cost": (v / q).quantize(Decimal("0.000001"))}
        for iid, (q, v) in opening.items()])

    for po in ds.purchase_orders:
        order = PurchaseOrder(code=po.id, supplier_id=supplier_id.get(po.supplier) if po.supplier else None,
                              order_date=po.order_date, status=po.status)
        session.add(order)
        session.flush()
        _insert(session, PurchaseOrderLine, [
            {"purchase_order_id": order.id, "line_no": n, "item_id": item_id[line.item], "qty": line.qty,
             "received_qty": line.received_qty, "due_date": line.due, "unit_price": line.unit_price,
             "requisition_id": None}
            for n, line in enumerate(po.all_lines(), start=1)])

    so_line_id: dict[tuple[str, int], int] = {}
    for so in ds.sales_orders:
        order_so = SalesOrder(code=so.id, customer_id=customer_id[so.customer], priority=so.priority,
                              order_date=so.order_date, status=so.status, note=so.note)
        session.add(order_so)
        session.flush()
        for n, so_line in enumerate(so.lines, start=1):
            sol = SalesOrderLine(sales_order_id=order_so.id or 0, line_no=n, item_id=item_id[so_line.item],
                                 qty=so_line.qty, due_date=so_line.due, promised_date=so_line.promised,
                                 shipped_qty=so_line.shipped_qty, unit_price=so_line.unit_price)
            session.add(sol)
            session.flush()
            so_line_id[(so.id, n)] = sol.id or 0
    _insert(session, Forecast, [{"item_id": item_id[f.item], "qty": f.qty, "forecast_date": f.date}
                                for f in ds.forecasts])

    # an appended order may be for an item whose BOM is already in the database
    code_of = {v: k for k, v in item_id.items()}
    boms_now = _boms_for_derivation(session, code_of) | effective_bom_map(ds.boms, clock)
    phantoms = {it.code for it in ds.items if it.phantom} | set(
        session.exec(select(Item.code).where(Item.phantom == True)).all())  # noqa: E712
    mo_id: dict[str, int] = {}
    for mo in ds.production_orders:
        so_ref = None
        if mo.sales_order:
            so_code, _, line_no = mo.sales_order.partition("/")
            so_ref = so_line_id[(so_code, int(line_no or 1))]
        bom = boms_now.get(mo.item)
        order_mo = ProductionOrder(
            code=mo.id, kind=mo.kind, item_id=item_id[mo.item], qty=mo.qty, completed_qty=mo.completed_qty,
            start_date=mo.start, due_date=mo.due, status=mo.status, priority=mo.priority,
            bom_id=bom_id.get((mo.item, bom.version)) if bom else None,
            supplier_id=supplier_id.get(mo.supplier) if mo.supplier else None, sales_order_line_id=so_ref)
        session.add(order_mo)
        session.flush()
        mo_id[mo.id] = order_mo.id or 0
        if mo.components:
            comps = [(c.item, c.required, c.issued, c.issue_method) for c in mo.components]
        else:
            comps = [(c, q, Decimal(0), m) for c, q, m in derive_components(boms_now, mo.item, mo.qty, phantoms)]
        _insert(session, ProductionOrderComponent, [
            {"production_order_id": order_mo.id, "item_id": item_id[c], "required_qty": q, "issued_qty": issued,
             "issue_method": m, "substitute_for_id": None} for c, q, issued, m in comps])
    for mo in ds.production_orders:
        if mo.parent_order:
            session.execute(sa.update(ProductionOrder).where(ProductionOrder.id == mo_id[mo.id])  # type: ignore[arg-type]
                            .values(parent_order_id=mo_id[mo.parent_order]))

    for c in ds.costing:
        period = CostPeriod(code=c.period, status="open")
        session.add(period)
        session.flush()
        _insert(session, OverheadPool, [{"period_id": period.id, "name": p.name, "amount": p.amount,
                                         "basis": p.basis} for p in c.overhead_pools])
        _insert(session, OrderCostInput, [
            {"period_id": period.id, "production_order_id": mo_id[o.production_order],
             "completed_qty": o.completed_qty, "wip_qty": o.wip_qty,
             "wip_completion_material": o.wip_completion.material,
             "wip_completion_conversion": o.wip_completion.conversion,
             "opening_wip_material": o.opening_wip.material, "opening_wip_conversion": o.opening_wip.conversion,
             "material_cost": o.material_cost, "labor_cost": o.labor_cost, "labor_hours": o.labor_hours,
             "subcontract_cost": o.subcontract_cost} for o in c.orders])
        _insert(session, JointProductOutput, [
            {"period_id": period.id, "production_order_id": mo_id[jp.production_order], "item_id": item_id[o.item],
             "qty": o.qty, "coefficient": o.coefficient, "sales_value": o.sales_value, "by_product": False,
             "unit_value": None} for jp in c.joint_products for o in jp.outputs] + [
            {"period_id": period.id, "production_order_id": mo_id[jp.production_order], "item_id": item_id[b.item],
             "qty": b.qty, "coefficient": None, "sales_value": None, "by_product": True, "unit_value": b.unit_value}
            for jp in c.joint_products for b in jp.by_products])
    session.flush()
    return {key: len(getattr(ds, key)) for key in ("items", "boms", "stock", "purchase_orders",
                                                    "production_orders", "sales_orders", "forecasts",
                                                    "work_centers", "routings") if getattr(ds, key)}


# ---------------------------------------------------------------- exporting


def _num(v: Decimal | None) -> Any:
    if v is None:
        return None
    v = Decimal(v).normalize()
    return int(v) if v == v.to_integral_value() else float(v)


def _drop_defaults(rec: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in rec.items() if k not in defaults or v != defaults[k]}


def export_dataset(session: Session) -> dict[str, Any]:
    """The database as a dataset dict (load → export → load → export is the identity)."""
    out: dict[str, Any] = {}
    today = session.get(Meta, "today")
    if today and today.value:
        out["today"] = date.fromisoformat(today.value)
    wd = session.get(Meta, "calendar.workdays")
    holidays = sorted(d.day for d in session.exec(select(CalendarDay).where(CalendarDay.working == False)))  # noqa: E712
    workdays = wd.value.split(",") if wd and wd.value else ALL_WEEKDAYS
    if workdays != ALL_WEEKDAYS or holidays:
        out["calendar"] = {"workdays": workdays, "holidays": holidays}

    items = session.exec(select(Item).order_by(Item.id)).all()  # type: ignore[arg-type]
    code = {it.id: it.code for it in items}
    aliases: dict[int, list[str]] = defaultdict(list)
    for a in session.exec(select(ItemAlias).order_by(ItemAlias.id)):  # type: ignore[arg-type]
        aliases[a.item_id].append(a.alias)
    item_defaults = {"aliases": [], "description": "", "category": "", "uom": "pcs", "lead_time_days": 0,
                     "safety_stock": 0, "min_order_qty": 0, "order_multiple": 0, "max_order_qty": 0,
                     "unit_cost": 0, "phantom": False, "inspection_required": False}
    out["items"] = [_drop_defaults({
        "code": it.code, "name": it.name, "aliases": aliases.get(it.id or 0, []), "description": it.description,
        "category": it.category, "uom": it.uom, "source": it.source, "lead_time_days": it.lead_time_days,
        "safety_stock": _num(it.safety_stock), "min_order_qty": _num(it.min_order_qty),
        "order_multiple": _num(it.order_multiple), "max_order_qty": _num(it.max_order_qty),
        "unit_cost": _num(it.unit_cost), "phantom": it.phantom, "inspection_required": it.inspection_required,
    }, item_defaults) for it in items]

    customers = session.exec(select(Customer).order_by(Customer.id)).all()  # type: ignore[arg-type]
    cust = {c.id: c.code for c in customers}
    out["customers"] = [_drop_defaults({"code": c.code, "name": c.name,
                                        "aliases": [a.strip() for a in c.aliases.split(";") if a.strip()]},
                                       {"aliases": []}) for c in customers]
    suppliers = session.exec(select(Supplier).order_by(Supplier.id)).all()  # type: ignore[arg-type]
    supp = {s.id: s.code for s in suppliers}
    out["suppliers"] = [_drop_defaults({"code": s.code, "name": s.name, "subcontractor": s.is_subcontractor,
                                        "lead_time_days": s.lead_time_days},
                                       {"subcontractor": False, "lead_time_days": None}) for s in suppliers]
    locations = session.exec(select(Location).order_by(Location.id)).all()  # type: ignore[arg-type]
    loc_code = {loc.id: loc.code for loc in locations}
    out["locations"] = [_drop_defaults({"code": loc.code, "name": loc.name, "kind": loc.kind,
                                        "supplier": supp.get(loc.supplier_id)}, {"supplier": None})
                        for loc in locations if loc.kind in INTERNAL_KINDS and loc.code not in ("STOCK", "QC")]
    out["price_lists"] = [_drop_defaults({
        "supplier": supp[p.supplier_id], "item": code[p.item_id], "kind": p.kind, "price": _num(p.price),
        "min_qty": _num(p.min_qty), "lead_time_days": p.lead_time_days, "valid_from": p.valid_from,
        "valid_to": p.valid_to, "preferred": p.preferred},
        {"kind": "purchase", "min_qty": 0, "lead_time_days": None, "valid_from": None, "valid_to": None,
         "preferred": False}) for p in session.exec(select(PriceList).order_by(PriceList.id))]  # type: ignore[arg-type]

    subs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in session.exec(select(BomSubstitute).order_by(BomSubstitute.bom_line_id, BomSubstitute.priority)):  # type: ignore[arg-type]
        subs[s.bom_line_id].append({"item": code[s.item_id], "ratio": _num(s.ratio)})
    lines_by_bom: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ln in session.exec(select(BomLine).order_by(BomLine.bom_id, BomLine.seq, BomLine.id)):  # type: ignore[arg-type]
        lines_by_bom[ln.bom_id].append(_drop_defaults({
            "component": code[ln.component_id], "qty": _num(ln.qty), "scrap_rate": _num(ln.scrap_rate),
            "issue_method": ln.issue_method, "allow_mix": ln.allow_mix, "substitutes": subs.get(ln.id or 0, [])},
            {"scrap_rate": 0, "issue_method": "manual", "allow_mix": True, "substitutes": []}))
    out["boms"] = [_drop_defaults({
        "parent": code[b.item_id], "version": b.version, "output_qty": _num(b.output_qty),
        "effective_from": b.effective_from, "effective_to": b.effective_to, "lines": lines_by_bom[b.id or 0]},
        {"version": "1", "output_qty": 1, "effective_from": None, "effective_to": None})
        for b in session.exec(select(Bom).order_by(Bom.id)) if b.status != "obsolete"]  # type: ignore[arg-type]

    out["stock"] = _export_stock(session, code, loc_code, locations)

    po_lines: dict[int, list[PurchaseOrderLine]] = defaultdict(list)
    for pl in session.exec(select(PurchaseOrderLine).order_by(PurchaseOrderLine.purchase_order_id,  # type: ignore[arg-type]
                                                              PurchaseOrderLine.line_no)):
        po_lines[pl.purchase_order_id].append(pl)
    pos = []
    for po in session.exec(select(PurchaseOrder).order_by(PurchaseOrder.id)):  # type: ignore[arg-type]
        head = _drop_defaults({"id": po.code, "supplier": supp.get(po.supplier_id), "status": po.status,
                               "order_date": po.order_date},
                              {"supplier": None, "status": "confirmed", "order_date": None})
        lines = [_drop_defaults({"item": code[ln.item_id], "qty": _num(ln.qty), "due": ln.due_date,
                                 "received_qty": _num(ln.received_qty), "unit_price": _num(ln.unit_price)},
                                {"received_qty": 0, "unit_price": 0}) for ln in po_lines[po.id or 0]]
        pos.append({**head, **lines[0]} if len(lines) == 1 else {**head, "lines": lines})
    out["purchase_orders"] = pos

    so_rows = session.exec(select(SalesOrder).order_by(SalesOrder.id)).all()  # type: ignore[arg-type]
    so_line_ref: dict[int, str] = {}
    so_lines: dict[int, list[SalesOrderLine]] = defaultdict(list)
    for sl in session.exec(select(SalesOrderLine).order_by(SalesOrderLine.sales_order_id, SalesOrderLine.line_no)):  # type: ignore[arg-type]
        so_lines[sl.sales_order_id].append(sl)
    for so in so_rows:
        for sl in so_lines[so.id or 0]:
            so_line_ref[sl.id or 0] = f"{so.code}/{sl.line_no}"
    out["sales_orders"] = [_drop_defaults({
        "id": so.code, "customer": cust[so.customer_id], "priority": so.priority, "status": so.status,
        "order_date": so.order_date, "note": so.note,
        "lines": [_drop_defaults({"item": code[sl.item_id], "qty": _num(sl.qty), "due": sl.due_date,
                                  "promised": sl.promised_date, "shipped_qty": _num(sl.shipped_qty),
                                  "unit_price": _num(sl.unit_price)},
                                 {"promised": None, "shipped_qty": 0, "unit_price": 0}) for sl in so_lines[so.id or 0]]},
        {"priority": 5, "status": "confirmed", "order_date": None, "note": ""}) for so in so_rows]

    out["production_orders"] = _export_production(session, code, supp, so_line_ref)
    out["forecasts"] = [{"item": code[f.item_id], "qty": _num(f.qty), "date": f.forecast_date}
                        for f in session.exec(select(Forecast).order_by(Forecast.id))]  # type: ignore[arg-type]
    wcs = session.exec(select(WorkCenter).order_by(WorkCenter.id)).all()  # type: ignore[arg-type]
    wc_code = {w.id: w.code for w in wcs}
    out["work_centers"] = [_drop_defaults({
        "code": w.code, "name": w.name, "machines": w.machines, "hours_per_day": _num(w.hours_per_day),
        "cost_per_hour": _num(w.cost_per_hour), "overtime_hours_per_day": _num(w.overtime_hours_per_day)},
        {"name": "", "overtime_hours_per_day": 0}) for w in wcs]
    ops: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for op in session.exec(select(RoutingOperation).order_by(RoutingOperation.routing_id, RoutingOperation.seq)):  # type: ignore[arg-type]
        ops[op.routing_id].append(_drop_defaults({
            "seq": op.seq, "work_center": wc_code[op.work_center_id], "setup_minutes": _num(op.setup_minutes),
            "run_minutes_per_unit": _num(op.run_minutes_per_unit), "name": op.name}, {"name": ""}))
    out["routings"] = [{"item": code[r.item_id], "operations": ops[r.id or 0]}
                       for r in session.exec(select(Routing).order_by(Routing.id))]  # type: ignore[arg-type]
    costing = _export_costing(session, code)
    if costing:
        out["costing"] = costing[0] if len(costing) == 1 else costing
    return {k: v for k, v in out.items() if v not in ([], None, {})}


def _export_stock(session: Session, code: dict[Any, str], loc_code: dict[Any, str],
                  locations: list[Location]) -> list[dict[str, Any]]:
    internal = [loc for loc in locations if loc.kind in INTERNAL_KINDS]
    rows: list[dict[str, Any]] = []
    cost_in: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}
    for item_id, loc_id, qty, value in session.execute(
        sa.select(StockMove.item_id, StockMove.to_location_id, sa.func.sum(StockMove.qty),
                  sa.func.sum(StockMove.qty * StockMove.unit_cost))
        .where(StockMove.owner_customer_id.is_(None))  # type: ignore[union-attr]
        .group_by(StockMove.item_id, StockMove.to_location_id)):
        cost_in[(item_id, loc_id)] = (Decimal(str(qty or 0)), Decimal(str(value or 0)))
    for loc in internal:
        for item_id, qty in sorted(on_hand(session, kinds=(loc.kind,), location_ids=[loc.id or 0]).items()):
            if qty <= 0:
                continue
            row: dict[str, Any] = {"item": code[item_id], "qty": _num(qty)}
            if loc.code != "STOCK":
                row["location"] = loc_code[loc.id]
            q, v = cost_in.get((item_id, loc.id or 0), (Decimal(0), Decimal(0)))
            if q > 0 and v > 0:
                row["unit_cost"] = _num((v / q).quantize(Decimal("0.000001")))
            rows.append(row)
    return rows


def _export_production(session: Session, code: dict[Any, str], supp: dict[Any, str],
                       so_line_ref: dict[int, str]) -> list[dict[str, Any]]:
    orders = session.exec(select(ProductionOrder).order_by(ProductionOrder.id)).all()  # type: ignore[arg-type]
    mo_code = {o.id: o.code for o in orders}
    comps: dict[int, list[ProductionOrderComponent]] = defaultdict(list)
    for c in session.exec(select(ProductionOrderComponent).order_by(ProductionOrderComponent.id)):  # type: ignore[arg-type]
        comps[c.production_order_id].append(c)
    # components are written only where they differ from what the BOM would derive on load
    boms = _boms_for_derivation(session, code)
    phantoms = {it.code for it in session.exec(select(Item).where(Item.phantom == True))}  # noqa: E712
    rows = []
    for o in orders:
        listed = [(code[c.item_id], Decimal(c.required_qty), Decimal(c.issued_qty), c.issue_method)
                  for c in comps[o.id or 0]]
        derived = [(c, Decimal(q), Decimal(0), m) for c, q, m in derive_components(boms, code[o.item_id],
                                                                                   Decimal(o.qty), phantoms)]
        same = sorted((c, q.normalize(), i, m) for c, q, i, m in listed) == sorted(
            (c, q.normalize(), i, m) for c, q, i, m in derived)
        rows.append(_drop_defaults({
            "id": o.code, "item": code[o.item_id], "qty": _num(o.qty), "due": o.due_date, "status": o.status,
            "start": o.start_date, "kind": o.kind, "supplier": supp.get(o.supplier_id),
            "completed_qty": _num(o.completed_qty), "sales_order": so_line_ref.get(o.sales_order_line_id or 0),
            "parent_order": mo_code.get(o.parent_order_id), "priority": o.priority,
            "components": [] if same else [_drop_defaults({"item": c, "required": _num(q), "issued": _num(i),
                                                           "issue_method": m}, {"issue_method": "manual"})
                                           for c, q, i, m in listed]},
            {"status": "released", "start": None, "kind": "production", "supplier": None, "completed_qty": 0,
             "sales_order": None, "parent_order": None, "priority": 5, "components": []}))
    return rows


class _BomView:
    def __init__(self, output_qty: Decimal, lines: list[Any], version: str) -> None:
        self.output_qty = output_qty
        self.lines = lines
        self.version = version


class _LineView:
    def __init__(self, component: str, qty: Decimal, scrap_rate: Decimal, issue_method: str) -> None:
        self.component, self.qty, self.scrap_rate, self.issue_method = component, qty, scrap_rate, issue_method


def _boms_for_derivation(session: Session, code: dict[Any, str]) -> dict[str, Any]:
    today_row = session.get(Meta, "today")
    today = date.fromisoformat(today_row.value) if today_row and today_row.value else date.today()
    rows = session.exec(select(Bom).where(Bom.status == "active")).all()

    class _B:
        def __init__(self, b: Bom) -> None:
            self.parent, self.version = code[b.item_id], b.version
            self.effective_from, self.effective_to, self.id = b.effective_from, b.effective_to, b.id

    chosen = effective_bom_map([_B(b) for b in rows], today)
    by_id = {b.id: b for b in rows}
    lines: dict[int, list[Any]] = defaultdict(list)
    for ln in session.exec(select(BomLine).order_by(BomLine.seq)):  # type: ignore[arg-type]
        lines[ln.bom_id].append(_LineView(code[ln.component_id], Decimal(ln.qty), Decimal(ln.scrap_rate),
                                          ln.issue_method))
    return {parent: _BomView(Decimal(by_id[b.id].output_qty), lines[b.id], b.version)
            for parent, b in chosen.items()}


def _export_costing(session: Session, code: dict[Any, str]) -> list[dict[str, Any]]:
    mo_code = {o.id: o.code for o in session.exec(select(ProductionOrder))}
    out = []
    for p in session.exec(select(CostPeriod).order_by(CostPeriod.code)):
        pools = [{"name": x.name, "amount": _num(x.amount), "basis": x.basis}
                 for x in session.exec(select(OverheadPool).where(OverheadPool.period_id == p.id)
                                       .order_by(OverheadPool.id))]  # type: ignore[arg-type]
        orders = [{
            "production_order": mo_code[o.production_order_id], "completed_qty": _num(o.completed_qty),
            "wip_qty": _num(o.wip_qty),
            "wip_completion": {"material": _num(o.wip_completion_material),
                               "conversion": _num(o.wip_completion_conversion)},
            "opening_wip": {"material": _num(o.opening_wip_material), "conversion": _num(o.opening_wip_conversion)},
            "material_cost": _num(o.material_cost), "labor_cost": _num(o.labor_cost),
            "labor_hours": _num(o.labor_hours),
            **({"subcontract_cost": _num(o.subcontract_cost)} if o.subcontract_cost else {}),
        } for o in session.exec(select(OrderCostInput).where(OrderCostInput.period_id == p.id)
                                .order_by(OrderCostInput.id))]  # type: ignore[arg-type]
        joint: dict[str, dict[str, Any]] = {}
        for j in session.exec(select(JointProductOutput).where(JointProductOutput.period_id == p.id)
                              .order_by(JointProductOutput.id)):  # type: ignore[arg-type]
            group = joint.setdefault(mo_code[j.production_order_id],
                                     {"production_order": mo_code[j.production_order_id], "outputs": []})
            if j.by_product:
                group.setdefault("by_products", []).append(
                    {"item": code[j.item_id], "qty": _num(j.qty), "unit_value": _num(j.unit_value)})
            else:
                group["outputs"].append(_drop_defaults(
                    {"item": code[j.item_id], "qty": _num(j.qty), "coefficient": _num(j.coefficient),
                     "sales_value": _num(j.sales_value)}, {"coefficient": None, "sales_value": None}))
        period: dict[str, Any] = {"period": p.code, "overhead_pools": pools, "orders": orders}
        if joint:
            period["joint_products"] = list(joint.values())
        out.append(period)
    return out
