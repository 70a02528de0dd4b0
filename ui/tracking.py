"""Order tracking and warnings for the Orders and Home views, from the tools.

Two seams, each with a fallback so the views work whichever tools this build has:

- ``track_orders``: the sales order tracking tool (``get_sales_order_tracking``: per line stage, projected
  date, linked and pegged orders, typed risks) when registered; else composed from ``list_sales_orders``,
  ``list_production_orders`` and ``run_mrp``, whose risky exceptions are traced up the pegging to the sales
  orders they endanger.
- ``warnings``: the warnings tool (``get_warnings``) when registered; else the overdue and at-risk orders of
  ``track_orders`` and MRP's supply exceptions.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pydantic import AliasChoices, BaseModel, Field, ValidationError

from tools.context import Actor
from ui.gateway import Gateway

TRACKING_TOOL = "get_sales_order_tracking"
WARNINGS_TOOL = "get_warnings"
OPEN_SALES = ("draft", "confirmed", "in_progress")
# MRP exceptions that put the demand they are pegged to at risk (reschedule_out only says "later is fine").
RISK_EXCEPTIONS = ("past_due_demand", "past_due_supply", "late", "reschedule_in")
SUPPLY_WARNINGS = {
    "past_due_supply": "supply_overdue",
    "late": "suggestion_late",
    "reschedule_in": "expedite",
}
MAX_PEGGING_STEPS = 12
MRP_LIMIT = 5000
TRACKING_LIMIT = 20000


class RiskFlag(BaseModel):
    """Why an order is at risk: its kind (overdue, projected_late, an MRP exception kind …), the record it
    comes from, the item concerned and, from the tracking tool, its message."""

    kind: str
    ref: str = ""
    item: str | None = ""
    date: str | None = None
    message: str = ""


class LinkedOrder(BaseModel):
    """A production, subcontract or rework order working for a sales order, with its progress."""

    code: str
    kind: str
    item: str
    qty: float
    completed_qty: float
    status: str
    due_date: str | None = None
    projected: str | None = Field(
        default=None, validation_alias=AliasChoices("projected", "projected_finish")
    )
    late: bool = False
    for_record: str | None = None
    level: int = 0


class LineTracking(BaseModel):
    """One order line as the tracking tool reports it (the fields the views show)."""

    line_no: int
    item: str
    item_name: str = ""
    qty: float
    shipped_qty: float
    open_qty: float
    requested_date: str | None = None
    promised_date: str | None = None
    stage: str = ""
    projected_date: str | None = None
    days_late: int = 0


class OrderTracking(BaseModel):
    """One sales order as tracked: dates, shipping and production progress, and what puts it at risk."""

    code: str
    customer: str
    customer_name: str = ""
    status: str
    priority: int = 5
    requested: str | None = Field(default=None, description="earliest requested date of its lines")
    promised: str | None = Field(default=None, description="latest promised date of its lines")
    projected: str | None = Field(
        default=None, description="when all of it is projected ready (tracking tool)"
    )
    total_qty: float = 0.0
    open_qty: float = 0.0
    items: list[str] = Field(default_factory=list)
    lines: list[LineTracking] = Field(default_factory=list, description="from the tracking tool only")
    linked: list[LinkedOrder] = Field(default_factory=list)
    flags: list[RiskFlag] = Field(default_factory=list)

    @property
    def shipped_qty(self) -> float:
        return self.total_qty - self.open_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_SALES and self.open_qty > 0

    @property
    def overdue(self) -> bool:
        return any(f.kind == "overdue" for f in self.flags)

    @property
    def at_risk(self) -> bool:
        return bool(self.flags)

    def progress(self, kind: str) -> tuple[float, float]:
        """Completed and ordered quantity over the orders of ``kind`` working for it: those made for it when
        there are any, else every level of its supply (subcontract orders are rarely made for an order)."""
        orders = [o for o in self.linked if o.kind == kind and o.status != "cancelled"]
        direct = [o for o in orders if o.level == 0]
        chosen = direct or orders
        return sum(o.completed_qty for o in chosen), sum(o.qty for o in chosen)


class TrackingReport(BaseModel):
    today: date
    source: str = Field(description="the tool the report comes from, or 'composed'")
    orders: list[OrderTracking]
    mrp: dict[str, Any] | None = Field(
        default=None, description="the MRP run risks were traced from (composed)"
    )


class Warning(BaseModel):
    """One warning for the home view: a typed problem record with the records involved and its cause."""

    kind: str
    severity: str = "medium"  # high | medium | low
    record: str
    records: list[str] = Field(default_factory=list)
    item: str | None = None
    qty: float | None = None
    date: str | None = None
    projected_date: str | None = None
    days: int | None = None
    cause: str = ""


class WarningsReport(BaseModel):
    today: date
    source: str
    warnings: list[Warning]


# ---------------------------------------------------------------- tracking


def track_orders(
    gateway: Gateway, actor: Actor, *, open_only: bool = True, sales_order: str | None = None
) -> TrackingReport:
    """Every (open) sales order, or just ``sales_order``, with its progress and risks (computed once per
    version of the data)."""
    return gateway.memo(
        actor,
        ("track_orders", open_only, sales_order),
        lambda: _track(gateway, actor, open_only=open_only, sales_order=sales_order),
    )


def _track(gateway: Gateway, actor: Actor, *, open_only: bool, sales_order: str | None) -> TrackingReport:
    if gateway.has_tool(TRACKING_TOOL):
        report = _from_tracking_tool(gateway, actor, open_only=open_only, sales_order=sales_order)
        if report is not None:
            return report
    return _composed(gateway, actor, open_only=open_only, sales_order=sales_order)


def _from_tracking_tool(
    gateway: Gateway, actor: Actor, *, open_only: bool, sales_order: str | None
) -> TrackingReport | None:
    args: dict[str, Any] = {"limit": TRACKING_LIMIT}
    if sales_order:
        args["sales_order"] = sales_order
    out = gateway.call(actor, TRACKING_TOOL, args)
    try:
        orders = _orders_from_lines(out["lines"])
        today = date.fromisoformat(out["today"])
    except (KeyError, TypeError, ValueError, ValidationError):
        return None  # a report of another shape (the tool is still changing): compose from the basic tools
    _fill_progress(gateway, actor, orders)
    if not open_only and not sales_order:
        # the tool reports open orders; the rest come from the order list, without risks
        tracked = {o.code for o in orders}
        listed = gateway.call(actor, "list_sales_orders", {"limit": 500})["orders"]
        orders += [_order_from_list(so) for so in listed if so["code"] not in tracked]
    orders.sort(key=lambda o: (o.requested or "9999", o.code))
    return TrackingReport(today=today, source=TRACKING_TOOL, orders=orders)


def _orders_from_lines(lines: Iterable[Mapping[str, Any]]) -> list[OrderTracking]:
    by_order: dict[str, OrderTracking] = {}
    for line in lines:
        code = line["sales_order"]
        order = by_order.get(code)
        if order is None:
            order = by_order[code] = OrderTracking(
                code=code,
                customer=line["customer"],
                customer_name=line.get("customer_name") or "",
                status=line["order_status"],
                priority=line.get("priority", 5),
            )
        tracked = LineTracking.model_validate(line)
        order.lines.append(tracked)
        order.total_qty += tracked.qty
        order.open_qty += tracked.open_qty
        if tracked.item not in order.items:
            order.items.append(tracked.item)
        order.requested = _earliest(order.requested, tracked.requested_date)
        order.promised = _latest(order.promised, tracked.promised_date)
        if tracked.open_qty > 0:
            order.projected = _latest(order.projected, tracked.projected_date)
        known = {o.code for o in order.linked}
        for made in [*line.get("production_orders", []), *line.get("subcontract_orders", [])]:
            if made["code"] not in known:
                order.linked.append(LinkedOrder.model_validate(made))
                known.add(made["code"])
        for supply in line.get("pegged_supply", []):
            if supply["kind"] in ("production", "subcontract", "rework") and supply["supply"] not in known:
                order.linked.append(
                    LinkedOrder(
                        code=supply["supply"],
                        kind=supply["kind"],
                        item=supply["item"],
                        qty=supply["qty"],
                        completed_qty=0.0,
                        status="",
                        due_date=supply.get("due"),
                        projected=supply.get("projected"),
                        late=bool(supply.get("late")),
                        for_record=supply.get("for_record"),
                        level=int(supply.get("level", 0)) + 1,
                    )
                )
                known.add(supply["supply"])
        for risk in line.get("risks", []):
            flag = RiskFlag(
                kind=risk["kind"],
                ref=risk.get("record") or "",
                item=risk.get("item"),
                date=risk.get("date"),
                message=risk.get("message") or "",
            )
            if flag not in order.flags:
                order.flags.append(flag)
    return list(by_order.values())


def _fill_progress(gateway: Gateway, actor: Actor, orders: list[OrderTracking]) -> None:
    """Orders found only through the pegging carry no progress: take it from the production order list."""
    if not any(o.status == "" for order in orders for o in order.linked):
        return
    listed = {o["code"]: o for o in gateway.call(actor, "list_production_orders", {"limit": 500})["orders"]}
    for order in orders:
        for linked in order.linked:
            row = listed.get(linked.code)
            if linked.status == "" and row is not None:
                linked.qty, linked.completed_qty, linked.status = (
                    row["qty"],
                    row["completed_qty"],
                    row["status"],
                )


def _earliest(a: str | None, b: str | None) -> str | None:
    return min(x for x in (a, b) if x) if (a or b) else None


def _latest(a: str | None, b: str | None) -> str | None:
    return max(x for x in (a, b) if x) if (a or b) else None


def _order_from_list(so: Mapping[str, Any]) -> OrderTracking:
    return OrderTracking(
        code=so["code"],
        customer=so["customer"],
        customer_name=so.get("customer_name") or "",
        status=so["status"],
        priority=so["priority"],
        requested=so.get("earliest_due"),
        promised=so.get("latest_promised"),
        total_qty=so["total_qty"],
        open_qty=so["open_qty"],
        items=so.get("items") or [],
    )


def _composed(gateway: Gateway, actor: Actor, *, open_only: bool, sales_order: str | None) -> TrackingReport:
    today = gateway.today(actor)
    sales = gateway.call(actor, "list_sales_orders", {"open_only": open_only, "limit": 500})["orders"]
    if sales_order:
        sales = [so for so in sales if so["code"] == sales_order]
    production = gateway.call(actor, "list_production_orders", {"limit": 500})["orders"]
    mrp = gateway.call(actor, "run_mrp", {"limit": MRP_LIMIT})
    linked = _linked_by_sales_order(production)
    risks = _risks_by_sales_order(mrp, production)
    orders = []
    for so in sales:
        order = _order_from_list(so)
        order.linked = linked.get(so["code"], [])
        order.flags = list(_date_flags(so, today))
        if order.is_open:
            order.flags += risks.get(so["code"], [])
        orders.append(order)
    return TrackingReport(today=today, source="composed", orders=orders, mrp=mrp)


def _date_flags(so: Mapping[str, Any], today: date) -> Iterable[RiskFlag]:
    if so["status"] not in OPEN_SALES or so["open_qty"] <= 0:
        return
    requested, promised = so.get("earliest_due"), so.get("latest_promised")
    # overdue against what the customer asked for: a later promise is a flag of its own
    if requested and date.fromisoformat(requested) < today:
        yield RiskFlag(kind="overdue", ref=so["code"], date=requested)
    if requested and promised and promised > requested:
        yield RiskFlag(kind="promise_late", ref=so["code"], date=promised)


def sales_order_of(demand: str) -> str | None:
    """``SO-1006`` for a demand reference ``SO-1006/3``, else None."""
    head, sep, _ = demand.partition("/")
    return head if sep and head.startswith("SO-") else None


def _linked_by_sales_order(production: Iterable[Mapping[str, Any]]) -> dict[str, list[LinkedOrder]]:
    linked: dict[str, list[LinkedOrder]] = defaultdict(list)
    for order in production:
        so = sales_order_of(order.get("sales_order") or "")
        if so:
            linked[so].append(LinkedOrder.model_validate(order))
    return linked


def _risks_by_sales_order(
    mrp: Mapping[str, Any], production: Iterable[Mapping[str, Any]]
) -> dict[str, list[RiskFlag]]:
    """Trace each risky MRP exception up the pegging (planned orders → what they serve; made-to-order
    production orders → their sales order line) to the sales orders it endangers."""
    serves: dict[str, set[str]] = defaultdict(set)
    for suggestion in mrp.get("suggestions", []):
        serves[suggestion["id"]].update(p["demand"] for p in suggestion.get("pegging", []))
    for exception in mrp.get("exceptions", []):
        if exception.get("ref"):
            serves[exception["ref"]].update(exception.get("demands", []))
    for order in production:
        if order.get("sales_order"):
            serves[order["code"]].add(order["sales_order"])
    risks: dict[str, list[RiskFlag]] = defaultdict(list)
    for exception in mrp.get("exceptions", []):
        if exception["kind"] not in RISK_EXCEPTIONS:
            continue
        flag = RiskFlag(
            kind=exception["kind"],
            ref=exception.get("ref") or "",
            item=exception.get("item") or "",
            date=exception.get("date"),
        )
        for so in _reachable_sales_orders(exception.get("demands", []), serves):
            if flag not in risks[so]:
                risks[so].append(flag)
    return risks


def _reachable_sales_orders(demands: Iterable[str], serves: Mapping[str, set[str]]) -> set[str]:
    found: set[str] = set()
    seen: set[str] = set()
    queue = deque((d, 1) for d in demands)
    while queue:
        node, steps = queue.popleft()
        if node in seen:
            continue
        seen.add(node)
        so = sales_order_of(node)
        if so:
            found.add(so)
            continue
        if steps < MAX_PEGGING_STEPS:
            queue.extend((d, steps + 1) for d in serves.get(node, ()))
    return found


# ---------------------------------------------------------------- warnings


def warnings(gateway: Gateway, actor: Actor, report: TrackingReport | None = None) -> WarningsReport:
    """The home view's warnings, most severe first (``report``: a tracking report already at hand)."""
    if gateway.has_tool(WARNINGS_TOOL):
        out = gateway.call(actor, WARNINGS_TOOL, {})
        try:
            return WarningsReport(
                today=date.fromisoformat(out["today"]),
                source=WARNINGS_TOOL,
                warnings=[Warning.model_validate(w) for w in out["warnings"]],
            )
        except (KeyError, TypeError, ValueError, ValidationError):
            pass  # a report of another shape (the tool is still changing): compose them below
    report = report or track_orders(gateway, actor, open_only=True)
    mrp = report.mrp if report.mrp is not None else gateway.call(actor, "run_mrp", {"limit": MRP_LIMIT})
    found: list[Warning] = []
    for order in report.orders:
        if not (order.is_open and order.flags):
            continue
        found.append(
            Warning(
                kind="sales_overdue" if order.overdue else "sales_at_risk",
                severity="high" if order.overdue else "medium",
                record=order.code,
                records=[order.code, *dict.fromkeys(f.ref for f in order.flags if f.ref != order.code)],
                qty=order.open_qty,
                date=order.promised or order.requested,
                projected_date=order.projected,
            )
        )
    for exception in mrp.get("exceptions", []):
        kind = SUPPLY_WARNINGS.get(exception["kind"])
        if kind is None:
            continue
        found.append(
            Warning(
                kind=kind,
                severity="high" if kind == "supply_overdue" else "medium",
                record=exception.get("ref") or "",
                records=[exception.get("ref") or "", *exception.get("demands", [])],
                item=exception.get("item"),
                qty=exception.get("qty"),
                date=exception.get("date"),
                projected_date=exception.get("suggested_date"),
            )
        )
    rank = {"high": 0, "medium": 1, "low": 2}
    found.sort(key=lambda w: (rank.get(w.severity, 3), w.date or "", w.record))
    return WarningsReport(today=report.today, source="composed", warnings=found)
