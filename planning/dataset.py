"""Build a Plant straight from a dataset dict in the CONTRACT.md format (for tests and benchmarks)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from planning.calendar import Calendar, parse_weekdays
from planning.model import (
    Bom,
    BomLine,
    Demand,
    DemandKind,
    Item,
    Operation,
    Plant,
    Routing,
    Source,
    Substitute,
    Supply,
    SupplyKind,
    WorkCenter,
)

OPEN_PRODUCTION = ("planned", "released", "in_progress")


def D(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def calendar_from_dict(data: dict[str, Any] | None) -> Calendar:
    if not data:
        return Calendar()
    workdays = parse_weekdays(data.get("workdays") or ["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    return Calendar(workdays=workdays, holidays=frozenset(_date(h) for h in data.get("holidays") or ()))


def plant_from_dict(data: dict[str, Any], today: date | None = None) -> Plant:
    """Every open production order's components still to issue become dependent demand, per its BOM."""
    items = {
        row["code"]: Item(
            code=row["code"],
            name=row.get("name", ""),
            source=Source(row.get("source", "buy")),
            lead_time_days=int(row.get("lead_time_days", 0) or 0),
            safety_stock=D(row.get("safety_stock", 0)),
            min_order_qty=D(row.get("min_order_qty", 0)),
            order_multiple=D(row.get("order_multiple", 0)),
            max_order_qty=D(row.get("max_order_qty", 0)),
            unit_cost=D(row.get("unit_cost", 0)),
            phantom=bool(row.get("phantom", False)),
            uom=row.get("uom", "pcs"),
        )
        for row in data.get("items", [])
    }
    boms = {
        row["parent"]: Bom(
            parent=row["parent"],
            output_qty=D(row.get("output_qty", 1)),
            lines=tuple(
                BomLine(
                    component=line["component"],
                    qty=D(line["qty"]),
                    scrap_rate=D(line.get("scrap_rate", 0)),
                    substitutes=tuple(
                        Substitute(item=s["item"], ratio=D(s.get("ratio", 1)), priority=i + 1)
                        for i, s in enumerate(line.get("substitutes") or ())
                    ),
                    issue_method=line.get("issue_method", "manual"),
                    allow_mix=bool(line.get("allow_mix", True)),
                )
                for line in row.get("lines", [])
            ),
        )
        for row in data.get("boms", [])
    }
    on_hand: dict[str, Decimal] = defaultdict(Decimal)
    for row in data.get("stock", []):
        if str(row.get("location") or "STOCK").upper() == "STOCK":  # only the main stock is available
            on_hand[row["item"]] += D(row["qty"])
    supplies: list[Supply] = [
        Supply(id=row["id"], item=row["item"], qty=D(row["qty"]) - D(row.get("received_qty", 0)),
               due=_date(row["due"]), kind=SupplyKind.PURCHASE)
        for row in data.get("purchase_orders", [])
    ]
    calendar = calendar_from_dict(data.get("calendar"))
    demands: list[Demand] = []
    for row in data.get("production_orders", []):
        if row.get("status", "released") not in OPEN_PRODUCTION:
            continue
        open_qty = D(row["qty"]) - D(row.get("completed_qty", 0))
        kind = SupplyKind.SUBCONTRACT if row.get("kind") == "subcontract" else SupplyKind.PRODUCTION
        supplies.append(Supply(id=row["id"], item=row["item"], qty=open_qty, due=_date(row["due"]), kind=kind))
        lead = items[row["item"]].lead_time_days if row["item"] in items else 0
        start = _date(row["start"]) if row.get("start") else calendar.subtract_workdays(_date(row["due"]), lead)
        for comp_item, still_to_issue in _components_to_issue(row, boms.get(row["item"])):
            if still_to_issue > 0:
                demands.append(Demand(id=row["id"], item=comp_item, qty=still_to_issue, due=start,
                                      kind=DemandKind.DEPENDENT))
    for so in data.get("sales_orders", []):
        if so.get("status", "confirmed") in ("done", "cancelled", "draft"):
            continue
        for i, line in enumerate(so.get("lines", []), start=1):
            open_qty = D(line["qty"]) - D(line.get("shipped_qty", 0))
            if open_qty > 0:
                demands.append(Demand(id=f"{so['id']}/{i}", item=line["item"], qty=open_qty, due=_date(line["due"]),
                                      kind=DemandKind.SALES, priority=int(so.get("priority", 5)),
                                      customer=str(so.get("customer", ""))))
    for i, row in enumerate(data.get("forecasts", []), start=1):
        demands.append(Demand(id=f"FC-{i}", item=row["item"], qty=D(row["qty"]), due=_date(row["date"]),
                              kind=DemandKind.FORECAST))
    work_centers = {
        row["code"]: WorkCenter(code=row["code"], machines=int(row.get("machines", 1)),
                                hours_per_day=D(row.get("hours_per_day", 8)),
                                cost_per_hour=D(row.get("cost_per_hour", 0)), name=row.get("name", ""),
                                overtime_hours_per_day=D(row.get("overtime_hours_per_day", 0)))
        for row in data.get("work_centers", [])
    }
    routings = {
        row["item"]: Routing(item=row["item"], operations=tuple(
            Operation(seq=int(op["seq"]), work_center=op["work_center"], setup_minutes=D(op.get("setup_minutes", 0)),
                      run_minutes_per_unit=D(op.get("run_minutes_per_unit", 0)))
            for op in sorted(row.get("operations", []), key=lambda o: int(o["seq"]))))
        for row in data.get("routings", [])
    }
    clock = today or (_date(data["today"]) if data.get("today") else date.today())
    return Plant(today=clock, items=items, boms=boms, on_hand=dict(on_hand), supplies=tuple(supplies),
                 demands=tuple(demands), calendar=calendar,
                 work_centers=work_centers, routings=routings)


def _components_to_issue(order: dict[str, Any], bom: Bom | None) -> list[tuple[str, Decimal]]:
    """(component, quantity still to issue): explicit ``components`` rows, else the BOM for the order qty."""
    if order.get("components"):
        return [(c["item"], D(c["required"]) - D(c.get("issued", 0))) for c in order["components"]]
    if bom is None:
        return []
    return [(line.component, D(order["qty"]) * bom.qty_per_parent(line)) for line in bom.lines]
