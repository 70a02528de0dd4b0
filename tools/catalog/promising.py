"""Order promising tools: can we take an order and when can it ship, delivery estimates, and recorded promises."""

from __future__ import annotations

import gc
import itertools
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import AliasChoices, BaseModel, Field
from sqlmodel import Session, select

from data_model.settings import get_settings
from data_model.states import StateError, transition
from data_model.stock import on_hand
from data_model.tables import (
    Customer,
    Item,
    ProductionOrder,
    Proposal,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    SalesOrder,
    SalesOrderLine,
)
from planning import promising as pp
from planning.bom import format_qty
from planning.errors import PlanningError
from planning.model import Plant
from tools.catalog.items import resolve_item
from tools.catalog.scheduling import load_schedule_orders
from tools.context import Actor, ToolContext, dataset_today
from tools.errors import ToolError
from tools.proposals import DOMAINS, ProposalOut, applier, audit, create_proposal, current_versions
from tools.registry import tool
from tools.snapshot import OPEN_PRODUCTION, OPEN_PURCHASE, load_plant_from_session
from tools.types import Num

ORDER_PROMISE = "order_promise"
LINE_DEMAND = "sales_order_line"
PROMISABLE_SALES = ("draft", "confirmed", "in_progress")
READ_DOMAINS = ("master", "bom", "stock", "purchasing", "production")

SourceKindName = Literal["stock", "open_supply", "planned_surplus", "purchase", "production", "subcontract"]
ConstraintKindName = Literal["lead_time", "open_supply", "capacity", "production_time", "due_in_past"]
LeverKindName = Literal["partial_shipment", "use_substitute", "overtime", "raise_priority"]


# ---------------------------------------------------------------------------------------------------- outputs


class PromiseLineOut(BaseModel):
    qty: Num
    date: date


class CapacitySlotOut(BaseModel):
    """An operation of a new production order on a work center."""

    order: str
    item: str
    seq: int
    work_center: str
    start: datetime
    end: datetime
    wait_minutes: int = Field(description="working minutes it waits for the work center")


class SourceOut(BaseModel):
    """Where part of the promise comes from (level 0: the item itself; below: its components)."""

    level: int
    item: str
    parent: str | None = Field(description="the item it is built into")
    kind: SourceKindName
    qty: Num
    available_date: date
    ref: str = Field(description="'stock', the open order, or the id of a new order this promise would need")
    order_qty: Num = Field(
        description="the whole supply: open quantity, or a new order's quantity after lot rules"
    )
    release_date: date | None = Field(description="new orders: when to place or start them")
    lead_time_days: int | None
    substitute_for: str | None
    operations: list[CapacitySlotOut] = Field(description="new production orders: their capacity slots")


class ConstraintOut(BaseModel):
    """What makes part of the order late: the item, the work center or the lead time, with the shortfall."""

    kind: ConstraintKindName
    item: str
    shortfall_qty: Num
    need_date: date
    resolves_on: date
    critical: bool = Field(description="it decides the date of the late part of the promise")
    lead_time_days: int | None
    work_center: str | None
    supply: str | None
    wait_minutes: int
    message: str
    message_zh: str


class ImpactOut(BaseModel):
    """An existing order that would complete later."""

    kind: Literal["sales_order", "production_order"]
    order: str = Field(description="sales order line (SO-1/1) or production order")
    item: str
    qty: Num
    priority: int
    customer: str | None
    sales_order_line: str | None = Field(description="for a production order: the sales order line it serves")
    due: date | None
    date_before: date
    date_after: date
    late_after: bool
    message: str
    message_zh: str


class LeverLineOut(BaseModel):
    item: str
    qty: Num
    qty_by_due: Num
    earliest_full_date: date
    promise: list[PromiseLineOut]


class LeverOut(BaseModel):
    """What it would take: the promise with one change, and its effect."""

    kind: LeverKindName
    on_time: bool
    qty_by_due: Num = Field(description="all lines together")
    earliest_full_date: date
    lines: list[LeverLineOut]
    substitutes: list[str]
    work_center: str | None
    overtime_hours_per_day: Num
    priority: int | None
    impacts: list[ImpactOut]
    message: str
    message_zh: str


class ProblemOut(BaseModel):
    kind: str
    item: str
    message: str


class LineResultOut(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num
    due_date: date
    on_time: bool
    promise: list[PromiseLineOut] = Field(
        description="qty by the due date, then the rest on the earliest date"
    )
    qty_by_due: Num
    earliest_full_date: date
    deliveries: list[PromiseLineOut] = Field(description="when each part is ready (partial shipments)")
    binding_constraints: list[ConstraintOut]
    sources: list[SourceOut]


# ------------------------------------------------------------------------------------------------ formatting


def _q(value: Decimal) -> str:
    return format_qty(value)


def _d(value: date | None) -> str:
    return value.isoformat() if value else "-"


def _constraint_texts(c: pp.BindingConstraint) -> tuple[str, str]:
    qty, item = _q(c.shortfall_qty), c.item
    if c.kind is pp.ConstraintKind.LEAD_TIME:
        return (
            f"{item}: {qty} short on {_d(c.need_date)}; lead time {c.lead_time_days} working days, "
            f"covered on {_d(c.resolves_on)}",
            f"{item} 在 {_d(c.need_date)} 缺 {qty},提前期 {c.lead_time_days} 个工作日,{_d(c.resolves_on)} 到齐",
        )
    if c.kind is pp.ConstraintKind.OPEN_SUPPLY:
        return (
            f"{item}: {qty} waits for open order {c.supply}, due {_d(c.resolves_on)}",
            f"{item} 的 {qty} 要等在途订单 {c.supply}({_d(c.resolves_on)} 到)",
        )
    if c.kind is pp.ConstraintKind.CAPACITY:
        return (
            f"{item}: {qty} waits for work center {c.work_center} ({c.wait_minutes} min), done {_d(c.resolves_on)}",
            f"{item} 的 {qty} 受工作中心 {c.work_center} 产能限制(等待 {c.wait_minutes} 分钟),{_d(c.resolves_on)} 完成",
        )
    if c.kind is pp.ConstraintKind.PRODUCTION_TIME:
        return (
            f"{item}: making {qty} takes until {_d(c.resolves_on)} (routing time plus {c.lead_time_days} "
            "days lead time)",
            f"{item} 生产 {qty} 需要到 {_d(c.resolves_on)}(工艺时间加 {c.lead_time_days} 天提前期)",
        )
    return (
        f"the requested date {_d(c.need_date)} is before the first working day from today",
        f"要求日期 {_d(c.need_date)} 早于今天起的第一个工作日",
    )


def _constraint_out(c: pp.BindingConstraint) -> ConstraintOut:
    en, zh = _constraint_texts(c)
    return ConstraintOut(
        kind=c.kind.value,
        item=c.item,
        shortfall_qty=c.shortfall_qty,
        need_date=c.need_date,
        resolves_on=c.resolves_on,
        critical=c.critical,
        lead_time_days=c.lead_time_days,
        work_center=c.work_center,
        supply=c.supply,
        wait_minutes=c.wait_minutes,
        message=en,
        message_zh=zh,
    )


def _source_out(s: pp.PromiseSource) -> SourceOut:
    return SourceOut(
        level=s.level,
        item=s.item,
        parent=s.parent,
        kind=s.kind.value,
        qty=s.qty,
        available_date=s.available_date,
        ref=s.ref,
        order_qty=s.order_qty,
        release_date=s.release_date,
        lead_time_days=s.lead_time_days,
        substitute_for=s.substitute_for,
        operations=[
            CapacitySlotOut(
                order=o.order,
                item=o.item,
                seq=o.seq,
                work_center=o.work_center,
                start=o.start,
                end=o.end,
                wait_minutes=o.wait_minutes,
            )
            for o in s.operations
        ],
    )


def _lines(lines: Iterable[pp.PromiseLine]) -> list[PromiseLineOut]:
    return [PromiseLineOut(qty=p.qty, date=p.date) for p in lines]


class _Links:
    """Customers of sales order lines and the sales order line each production order serves."""

    def __init__(self, session: Session, plant: Plant) -> None:
        self.customer = {d.id: d.customer for d in plant.demands if d.customer}
        self.serves: dict[str, str] = {}
        rows = session.execute(
            sa.select(ProductionOrder.code, SalesOrder.code, SalesOrderLine.line_no)
            .join(SalesOrderLine, SalesOrderLine.id == ProductionOrder.sales_order_line_id)  # type: ignore[arg-type]
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)  # type: ignore[arg-type]
        )
        for mo, so, line_no in rows:
            self.serves[mo] = f"{so}/{line_no}"

    def impact(self, i: pp.PromiseImpact) -> ImpactOut:
        serves = self.serves.get(i.order) if i.kind is pp.ImpactKind.PRODUCTION_ORDER else None
        late_en = ", late" if i.late_after else ""
        late_zh = ",将逾期" if i.late_after else ""
        via_en = f" (for {serves})" if serves else ""
        via_zh = f"(对应 {serves})" if serves else ""
        return ImpactOut(
            kind=i.kind.value,
            order=i.order,
            item=i.item,
            qty=i.qty,
            priority=i.priority,
            customer=self.customer.get(i.order),
            sales_order_line=serves,
            due=i.due,
            date_before=i.date_before,
            date_after=i.date_after,
            late_after=i.late_after,
            message=f"{i.order}{via_en} {i.item} {_q(i.qty)} (priority {i.priority}) moves from "
            f"{_d(i.date_before)} to {_d(i.date_after)}{late_en}",
            message_zh=f"{i.order}{via_zh} {i.item} {_q(i.qty)}(优先级 {i.priority})从 {_d(i.date_before)} "
            f"推迟到 {_d(i.date_after)}{late_zh}",
        )


def _lever_texts(lever: pp.Lever, due: date | None) -> tuple[str, str]:
    done_en = f"{_q(lever.qty_by_due)} by the due date, all by {_d(lever.earliest_full_date)}"
    done_zh = f"按期可交 {_q(lever.qty_by_due)},全部 {_d(lever.earliest_full_date)} 交齐"
    if lever.on_time:
        done_en, done_zh = "everything on time", "全部按期"
    if lever.kind is pp.LeverKind.PARTIAL_SHIPMENT:
        return (
            f"partial shipment: ship {_q(lever.qty_by_due)} on {_d(due)} and the rest on "
            f"{_d(lever.earliest_full_date)}",
            f"分批交货:{_d(due)} 先交 {_q(lever.qty_by_due)},其余 {_d(lever.earliest_full_date)} 交",
        )
    if lever.kind is pp.LeverKind.USE_SUBSTITUTE:
        subs = ", ".join(lever.substitutes)
        return f"use substitute {subs}: {done_en}", f"使用替代料 {subs}:{done_zh}"
    if lever.kind is pp.LeverKind.OVERTIME:
        hours = _q(lever.overtime_hours_per_day)
        return (
            f"overtime of {hours} h a day on work center {lever.work_center}: {done_en}",
            f"工作中心 {lever.work_center} 每天加班 {hours} 小时:{done_zh}",
        )
    n = len(lever.impacts)
    return (
        f"priority {lever.priority}: {done_en}" + (f"; {n} other orders would move later" if n else ""),
        f"优先级提到 {lever.priority}:{done_zh}" + (f";会推迟其他 {n} 张订单" if n else ""),
    )


def _lever_out(lever: pp.Lever, due: date | None, links: _Links) -> LeverOut:
    en, zh = _lever_texts(lever, due)
    return LeverOut(
        kind=lever.kind.value,
        on_time=lever.on_time,
        qty_by_due=lever.qty_by_due,
        earliest_full_date=lever.earliest_full_date,
        lines=[
            LeverLineOut(
                item=x.item,
                qty=x.qty,
                qty_by_due=x.qty_by_due,
                earliest_full_date=x.earliest_full_date,
                promise=_lines(x.promise),
            )
            for x in lever.lines
        ],
        substitutes=list(lever.substitutes),
        work_center=lever.work_center,
        overtime_hours_per_day=lever.overtime_hours_per_day,
        priority=lever.priority,
        impacts=[links.impact(i) for i in lever.impacts],
        message=en,
        message_zh=zh,
    )


def _line_out(result: pp.PromiseResult, plant: Plant) -> LineResultOut:
    item = plant.items[result.request.item]
    return LineResultOut(
        item=item.code,
        item_name=item.name,
        uom=item.uom,
        qty=result.request.qty,
        due_date=result.request.due_date,
        on_time=result.on_time,
        promise=_lines(result.promise),
        qty_by_due=result.qty_by_due,
        earliest_full_date=result.earliest_full_date,
        deliveries=_lines(result.deliveries),
        binding_constraints=[_constraint_out(c) for c in result.binding_constraints],
        sources=[_source_out(s) for s in result.sources],
    )


def _explain_line(result: pp.PromiseResult, plant: Plant) -> tuple[str, str]:
    request = result.request
    item = plant.items[request.item]
    name = f"{item.code} {item.name}".strip()
    head_en = f"{name}, {_q(request.qty)} {item.uom} due {_d(request.due_date)}: "
    head_zh = f"{name},{_q(request.qty)} {item.uom},要求 {_d(request.due_date)} 交货:"
    if result.on_time:
        return (
            head_en + f"yes, on time (all of it ready by {_d(result.earliest_full_date)}).",
            head_zh + f"可以按期交付(最早 {_d(result.earliest_full_date)} 全部备齐)。",
        )
    if result.qty_by_due > 0:
        en = head_en + (
            f"no, not all of it: {_q(result.qty_by_due)} by {_d(request.due_date)}, the other "
            f"{_q(request.qty - result.qty_by_due)} on {_d(result.earliest_full_date)}."
        )
        zh = head_zh + (
            f"不能全部按期:{_d(request.due_date)} 可交 {_q(result.qty_by_due)},其余 "
            f"{_q(request.qty - result.qty_by_due)} 在 {_d(result.earliest_full_date)} 交。"
        )
    else:
        en = head_en + f"no; the earliest date for all of it is {_d(result.earliest_full_date)}."
        zh = head_zh + f"不能按期;全部最早 {_d(result.earliest_full_date)} 交。"
    critical = [c for c in result.binding_constraints if c.critical][:3]
    if critical:
        texts = [_constraint_texts(c) for c in critical]
        en += " Why: " + "; ".join(t[0] for t in texts) + "."
        zh += "原因:" + ";".join(t[1] for t in texts) + "。"
    return en, zh


def _explain_tail(
    impacts: Sequence[pp.PromiseImpact], levers: Sequence[pp.Lever], due: date | None, links: _Links
) -> tuple[str, str]:
    en = zh = ""
    if levers:
        texts = [_lever_texts(lever, due) for lever in levers]
        en += " What would help: " + "; ".join(t[0] for t in texts) + "."
        zh += "可选措施:" + ";".join(t[1] for t in texts) + "。"
    if impacts:
        outs = [links.impact(i) for i in impacts[:5]]
        more_en = f" and {len(impacts) - 5} more" if len(impacts) > 5 else ""
        more_zh = f" 等共 {len(impacts)} 张" if len(impacts) > 5 else ""
        en += " It would delay: " + "; ".join(o.message for o in outs) + more_en + "."
        zh += "会推迟:" + ";".join(o.message_zh for o in outs) + more_zh + "。"
    return en, zh


# ------------------------------------------------------------------------------------------------ inputs


def active_reservations(session: Session) -> list[pp.ReservedSupply]:
    """Supply reserved for sales order lines: it stays theirs whatever the priorities."""
    rows = session.exec(
        select(Reservation, Item.code)
        .join(Item, Item.id == Reservation.item_id)  # type: ignore[arg-type]
        .where(Reservation.status == "active", Reservation.demand_type == LINE_DEMAND)
        .order_by(Reservation.id)  # type: ignore[arg-type]
    ).all()
    return [pp.ReservedSupply(r.demand_ref, code, r.supply_ref, r.qty) for r, code in rows]


logger = logging.getLogger("orderpilot.promising")
PROMISE_TIME_LIMIT_SECONDS = 5.0  # CP-SAT time a promise may spend on capacity checks, by default


def _settings(time_limit_seconds: float) -> pp.PromiseSettings:
    return pp.PromiseSettings(capacity_budget_seconds=time_limit_seconds)


class _Inputs:
    """What promising reads from the database, and the memo the promises on it share."""

    def __init__(self, session: Session, today: date) -> None:
        self.plant = load_plant_from_session(session, today)
        self.orders = tuple(load_schedule_orders(session, self.plant))
        self.reserved = tuple(active_reservations(session))
        self.links = _Links(session, self.plant)
        self.memo = pp.PromiseMemo()
        self.preparing: threading.Thread | None = None

    def prepare_in_background(self, priority: int) -> None:
        """Once a promise of ``priority`` on this snapshot is answered, work out in a background thread (once
        per snapshot) the commitments of the priorities promises in this process have asked for, so that the
        next promises on unchanged data find them ready."""
        with _snapshots_lock:
            _asked_priorities.add(priority)
        if not get_settings().promise_prepare:
            return
        with _snapshots_lock:
            if self.preparing is not None:
                return
            self.preparing = threading.Thread(target=self._prepare, name="promise-prepare", daemon=True)
        self.preparing.start()

    def _prepare(self) -> None:
        with _snapshots_lock:
            asked = set(_asked_priorities)
        try:
            self.memo.prepare(
                self.plant,
                production_orders=self.orders,
                reservations=self.reserved,
                settings=_settings(PROMISE_TIME_LIMIT_SECONDS),
                priorities={1} | asked,  # 1 for the raise-priority lever
            )
        except PlanningError:  # the promise itself reports it when asked; nothing to prepare then
            logger.warning("preparing promises on a snapshot failed", exc_info=True)
            return
        # The prepared snapshot lives as long as its data versions: keep the collector from walking its
        # millions of objects again and again (a full collection took 0.1–0.3 s on the medium factory).
        # They are handed back to it when a snapshot is dropped (``_snapshot``).
        gc.freeze()


# Snapshots by database and data versions: every write path bumps the versions of the domains it writes (a
# dataset load bumps them all), so consecutive promises on unchanged data share one snapshot, its baseline
# schedule and its commitments. Each engine gets a token of its own: two databases never share a key.
_SNAPSHOTS_KEPT = 2
_asked_priorities: set[int] = set()  # the priorities promises have been asked for (they are prepared)
_snapshots: OrderedDict[tuple[Any, ...], _Inputs] = OrderedDict()
_snapshots_lock = threading.Lock()
_engine_tokens: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
_next_token = itertools.count(1)


def _snapshot_key(session: Session, today: date) -> tuple[Any, ...]:
    engine = session.get_bind()
    with _snapshots_lock:
        token = _engine_tokens.get(engine)
        if token is None:
            token = _engine_tokens[engine] = next(_next_token)
    return (token, today, tuple(sorted(current_versions(session, DOMAINS).items())))


def _snapshot(session: Session, today: date) -> _Inputs:
    """The planning snapshot of the session's data on ``today``, loaded once per data version."""
    key = _snapshot_key(session, today)
    with _snapshots_lock:
        found = _snapshots.get(key)
        if found is not None:
            _snapshots.move_to_end(key)
            return found
    inputs = _Inputs(session, today)
    if _snapshot_key(session, today) == key:  # nothing was written while it loaded
        with _snapshots_lock:
            _snapshots[key] = inputs
            while len(_snapshots) > _SNAPSHOTS_KEPT:
                _snapshots.popitem(last=False)
                gc.unfreeze()  # what a dropped snapshot held can be collected again
    return inputs


def _item_code(session: Session, key: str) -> str:
    return resolve_item(session, key).code


class PromiseOrderIn(BaseModel):
    item: str = Field(min_length=1, max_length=200, description="item code (or exact name / alias)")
    qty: Num = Field(gt=0, description="quantity in the item's unit of measure")
    due_date: date = Field(description="requested delivery date, YYYY-MM-DD")
    priority: int = Field(default=5, ge=0, le=99, description="1 = most important; default 5")
    time_limit_seconds: float = Field(
        default=PROMISE_TIME_LIMIT_SECONDS, gt=0, le=60, description="solver time for capacity checks"
    )


class PromiseOrderOut(BaseModel):
    item: str
    item_name: str
    uom: str
    qty: Num
    due_date: date
    priority: int
    on_time: bool
    promise: list[PromiseLineOut] = Field(
        description="qty by the due date, then the rest on the earliest date"
    )
    earliest_full_date: date
    qty_by_due: Num
    deliveries: list[PromiseLineOut] = Field(description="when each part is ready (partial shipments)")
    binding_constraints: list[ConstraintOut]
    sources: list[SourceOut]
    impacts: list[ImpactOut] = Field(description="existing orders that would move later")
    levers: list[LeverOut] = Field(description="what would make it earlier, and by how much")
    capacity_checked: bool
    problems: list[ProblemOut]
    explanation: str = Field(description="the answer in Chinese, then English")
    explanation_zh: str
    explanation_en: str


@tool(kind="read", tags=("promising",))
def promise_order(ctx: ToolContext, args: PromiseOrderIn) -> PromiseOrderOut:
    """Can we accept `qty` of `item` for `due_date`? (能接单吗/交期承诺) — verdict, split promise, why, what would help.

    Existing sales orders of higher or equal priority (a lower or equal number) and those holding reservations
    keep their supply; the new order takes what is left as early as possible: free stock, open purchase and
    production orders, new purchases and production after lot rules and lead times (working days), through
    the BOM, with production on the work centers' finite capacity. Returns `on_time`, `promise` (the quantity
    by the due date, then the rest on `earliest_full_date`), pegged `sources`, `binding_constraints` (item,
    work center or lead time, shortfall and the date it resolves), `impacts` (orders of lower priority that
    would slip, with old and new dates) and `levers` (substitutes, partial shipment, overtime, a higher
    priority) with their effect. Nothing is recorded: use propose_order_promise for an existing sales order.
    """
    code = _item_code(ctx.session, args.item)
    inputs = _snapshot(ctx.session, ctx.today)
    result = pp.promise_order(
        inputs.plant,
        pp.PromiseRequest(code, args.qty, args.due_date, args.priority),
        production_orders=inputs.orders,
        settings=_settings(args.time_limit_seconds),
        reservations=inputs.reserved,
        memo=inputs.memo,
    )
    line = _line_out(result, inputs.plant)
    en, zh = _explain_line(result, inputs.plant)
    tail_en, tail_zh = _explain_tail(result.impacts, result.levers, args.due_date, inputs.links)
    en, zh = en + tail_en, zh + tail_zh
    out = PromiseOrderOut(
        **line.model_dump(exclude={"item", "item_name", "uom", "qty", "due_date"}),
        item=line.item,
        item_name=line.item_name,
        uom=line.uom,
        qty=args.qty,
        due_date=args.due_date,
        priority=args.priority,
        impacts=[inputs.links.impact(i) for i in result.impacts],
        levers=[_lever_out(lv, args.due_date, inputs.links) for lv in result.levers],
        capacity_checked=result.capacity_checked,
        problems=[ProblemOut(kind=p.kind, item=p.item, message=p.message) for p in result.problems],
        explanation=f"{zh}\n{en}",
        explanation_zh=zh,
        explanation_en=en,
    )
    inputs.prepare_in_background(args.priority)
    return out


# ------------------------------------------------------------------------------------------- draft order


class DraftLineIn(BaseModel):
    item: str = Field(min_length=1, max_length=200, description="item code (or exact name / alias)")
    qty: Num = Field(gt=0)
    due_date: date


class PromiseSalesOrderIn(BaseModel):
    lines: list[DraftLineIn] = Field(min_length=1, max_length=100)
    priority: int = Field(default=5, ge=0, le=99, description="1 = most important; default 5")
    time_limit_seconds: float = Field(default=5.0, gt=0, le=60, description="solver time for capacity checks")


class OrderLineResultOut(LineResultOut):
    line: int = Field(description="1-based position in the input")


class OrderPromiseOut(BaseModel):
    priority: int
    on_time: bool = Field(description="every line on time")
    earliest_full_date: date = Field(description="every line complete")
    lines: list[OrderLineResultOut]
    impacts: list[ImpactOut]
    levers: list[LeverOut]
    capacity_checked: bool
    problems: list[ProblemOut]
    explanation: str
    explanation_zh: str
    explanation_en: str


def _order_out(order: pp.OrderPromise, plant: Plant, links: _Links, due: date | None) -> OrderPromiseOut:
    texts = [_explain_line(line, plant) for line in order.lines]
    if order.on_time:
        head_en = f"All {len(order.lines)} lines can ship on time."
        head_zh = f"全部 {len(order.lines)} 行都可以按期交付。"
    else:
        late = sum(1 for line in order.lines if not line.on_time)
        head_en = f"{late} of {len(order.lines)} lines cannot ship in full on time; complete on {_d(order.earliest_full_date)}."
        head_zh = f"{len(order.lines)} 行中有 {late} 行不能按期全部交付;整单最早 {_d(order.earliest_full_date)} 交齐。"
    tail_en, tail_zh = _explain_tail(order.impacts, order.levers, due, links)
    en = " ".join([head_en, *(t[0] for t in texts)]) + tail_en
    zh = "".join([head_zh, *(t[1] for t in texts)]) + tail_zh
    return OrderPromiseOut(
        priority=order.priority,
        on_time=order.on_time,
        earliest_full_date=order.earliest_full_date,
        lines=[
            OrderLineResultOut(line=i, **_line_out(line, plant).model_dump())
            for i, line in enumerate(order.lines, start=1)
        ],
        impacts=[links.impact(i) for i in order.impacts],
        levers=[_lever_out(lv, due, links) for lv in order.levers],
        capacity_checked=order.capacity_checked,
        problems=[ProblemOut(kind=p.kind, item=p.item, message=p.message) for p in order.problems],
        explanation=f"{zh}\n{en}",
        explanation_zh=zh,
        explanation_en=en,
    )


@tool(kind="read", tags=("promising",))
def promise_sales_order(ctx: ToolContext, args: PromiseSalesOrderIn) -> OrderPromiseOut:
    """Promise a draft multi-line order (several items, quantities, due dates) all together.

    Like promise_order, but the lines share free stock, components and capacity (a component two lines need
    is counted once), taken in due-date order. Returns each line's verdict, split promise, sources and binding
    constraints, the order's completion date, impacts on other orders and levers. Nothing is recorded.
    """
    requests = [
        pp.PromiseRequest(
            _item_code(ctx.session, line.item), line.qty, line.due_date, args.priority, f"LINE-{i}"
        )
        for i, line in enumerate(args.lines, start=1)
    ]
    inputs = _snapshot(ctx.session, ctx.today)
    order = pp.promise_lines(
        inputs.plant,
        requests,
        priority=args.priority,
        production_orders=inputs.orders,
        settings=_settings(args.time_limit_seconds),
        reservations=inputs.reserved,
        memo=inputs.memo,
    )
    due = min(line.due_date for line in args.lines)
    out = _order_out(order, inputs.plant, inputs.links, due)
    inputs.prepare_in_background(order.priority)
    return out


# --------------------------------------------------------------------------------------------- existing order


def _sales_order(session: Session, code: str) -> SalesOrder:
    row = session.exec(select(SalesOrder).where(SalesOrder.code == code)).first()
    if row is None:
        row = session.exec(select(SalesOrder).where(sa.func.upper(SalesOrder.code) == code.upper())).first()
    if row is None:
        raise ToolError("not_found", f"sales order {code!r} not found", {"kind": "sales_order", "key": code})
    return row


def _open_lines(session: Session, order: SalesOrder) -> list[tuple[SalesOrderLine, Item]]:
    rows = session.exec(
        select(SalesOrderLine, Item)
        .join(Item, Item.id == SalesOrderLine.item_id)  # type: ignore[arg-type]
        .where(SalesOrderLine.sales_order_id == order.id)
        .order_by(SalesOrderLine.line_no)
    ).all()
    return [(line, item) for line, item in rows if line.qty - line.shipped_qty > 0]


def _line_requests(
    order: SalesOrder, lines: Sequence[tuple[SalesOrderLine, Item]]
) -> list[pp.PromiseRequest]:
    return [
        pp.PromiseRequest(
            item.code,
            line.qty - line.shipped_qty,
            line.due_date,
            order.priority,
            f"{order.code}/{line.line_no}",
        )
        for line, item in lines
    ]


class EstimateDeliveryIn(BaseModel):
    sales_order: str = Field(
        min_length=1,
        max_length=64,
        validation_alias=AliasChoices("sales_order", "order"),
        description="sales order code, e.g. SO-1008",
    )
    time_limit_seconds: float = Field(default=5.0, gt=0, le=60, description="solver time for capacity checks")


class EstimateLineOut(BaseModel):
    line_no: int
    item: str
    item_name: str
    uom: str
    open_qty: Num
    requested_date: date
    promised_date: date | None
    estimated_date: date = Field(description="when all of the open quantity can ship")
    on_time: bool = Field(description="by the requested date")
    keeps_promise: bool | None = Field(description="by the promised date (None when nothing was promised)")
    qty_by_requested_date: Num
    promise: list[PromiseLineOut]
    binding_constraints: list[ConstraintOut]
    sources: list[SourceOut]


class EstimateDeliveryOut(BaseModel):
    sales_order: str
    customer: str
    status: str
    priority: int
    estimated_date: date | None = Field(description="every open line complete; None when nothing is open")
    on_time: bool
    lines: list[EstimateLineOut]
    capacity_checked: bool
    problems: list[ProblemOut]
    explanation: str
    explanation_zh: str
    explanation_en: str


@tool(kind="read", tags=("promising",))
def estimate_delivery_date(ctx: ToolContext, args: EstimateDeliveryIn) -> EstimateDeliveryOut:
    """When will an existing sales order ship, and why then? (订单什么时候能交)

    The order takes its turn among the open sales orders by priority, then due date: those ahead of it keep
    their supply, and its open lines take what is left as early as possible (stock, open and new orders,
    production on finite capacity). Returns each line's estimated date against the requested and promised
    dates, what binds it and where it comes from. Nothing is changed.
    """
    order = _sales_order(ctx.session, args.sales_order)
    customer = ctx.session.get(Customer, order.customer_id)
    lines = _open_lines(ctx.session, order)
    head = {
        "sales_order": order.code,
        "customer": customer.code if customer else "",
        "status": order.status,
        "priority": order.priority,
    }
    if not lines or order.status == "cancelled":
        en = f"{order.code} has nothing left to ship ({order.status})."
        zh = f"{order.code} 没有待发货的数量({order.status})。"
        return EstimateDeliveryOut(
            **head,
            estimated_date=None,
            on_time=True,
            lines=[],
            capacity_checked=True,
            problems=[],
            explanation=f"{zh}\n{en}",
            explanation_zh=zh,
            explanation_en=en,
        )
    inputs = _snapshot(ctx.session, ctx.today)
    estimate = pp.estimate_delivery(
        inputs.plant,
        _line_requests(order, lines),
        production_orders=inputs.orders,
        settings=_settings(args.time_limit_seconds),
        reservations=inputs.reserved,
        memo=inputs.memo,
    )
    out_lines, texts_en, texts_zh = [], [], []
    for (line, item), result in zip(lines, estimate.lines, strict=True):
        keeps = None if line.promised_date is None else result.earliest_full_date <= line.promised_date
        out_lines.append(
            EstimateLineOut(
                line_no=line.line_no,
                item=item.code,
                item_name=item.name,
                uom=item.uom,
                open_qty=result.request.qty,
                requested_date=line.due_date,
                promised_date=line.promised_date,
                estimated_date=result.earliest_full_date,
                on_time=result.on_time,
                keeps_promise=keeps,
                qty_by_requested_date=result.qty_by_due,
                promise=_lines(result.promise),
                binding_constraints=[_constraint_out(c) for c in result.binding_constraints],
                sources=[_source_out(s) for s in result.sources],
            )
        )
        promised_en = f", promised {_d(line.promised_date)}" if line.promised_date else ""
        promised_zh = f",承诺 {_d(line.promised_date)}" if line.promised_date else ""
        why = [_constraint_texts(c) for c in result.binding_constraints if c.critical][:2]
        texts_en.append(
            f"line {line.line_no} {item.code} {_q(result.request.qty)}: requested {_d(line.due_date)}{promised_en}, "
            f"estimated {_d(result.earliest_full_date)}"
            + (f" ({'; '.join(w[0] for w in why)})" if why else "")
        )
        texts_zh.append(
            f"第 {line.line_no} 行 {item.code} {_q(result.request.qty)}:要求 {_d(line.due_date)}{promised_zh},"
            f"预计 {_d(result.earliest_full_date)}" + (f"({';'.join(w[1] for w in why)})" if why else "")
        )
    verdict_en = "on time" if estimate.on_time else "late"
    verdict_zh = "能按期" if estimate.on_time else "会晚于要求日期"
    en = (
        f"{order.code} can ship complete on {_d(estimate.earliest_full_date)} ({verdict_en}): "
        + "; ".join(texts_en)
        + "."
    )
    zh = (
        f"{order.code} 预计 {_d(estimate.earliest_full_date)} 全部交齐({verdict_zh}):"
        + ";".join(texts_zh)
        + "。"
    )
    return EstimateDeliveryOut(
        **head,
        estimated_date=estimate.earliest_full_date,
        on_time=estimate.on_time,
        lines=out_lines,
        capacity_checked=estimate.capacity_checked,
        problems=[ProblemOut(kind=p.kind, item=p.item, message=p.message) for p in estimate.problems],
        explanation=f"{zh}\n{en}",
        explanation_zh=zh,
        explanation_en=en,
    )


# ------------------------------------------------------------------------------------------ recorded promise


class ProposeOrderPromiseIn(BaseModel):
    sales_order: str = Field(min_length=1, max_length=64, description="sales order code, e.g. SO-1021")
    confirm_order: bool = Field(
        default=True,
        description="a draft order (quotation) becomes a confirmed order when the promise is confirmed",
    )
    time_limit_seconds: float = Field(default=5.0, gt=0, le=60, description="solver time for capacity checks")


class PlannedReservation(BaseModel):
    item: str
    qty: Num
    supply: str = Field(description="'stock' or the open purchase / production order")
    available_date: date


class PlannedLinePromise(BaseModel):
    line_no: int
    item: str
    qty: Num = Field(description="open quantity")
    requested_date: date
    promised_date: date = Field(description="the requested date when on time, else when all of it can ship")
    on_time: bool
    promise: list[PromiseLineOut]
    reservations: list[PlannedReservation] = Field(description="existing stock and open supply it rests on")


class ProposeOrderPromiseOut(ProposalOut):
    sales_order: str
    confirms_order: bool = Field(description="the draft order becomes confirmed")
    lines: list[PlannedLinePromise]
    impacts: list[ImpactOut]


def _reservations(result: pp.PromiseResult) -> list[PlannedReservation]:
    """Existing supply the promise rests on, at every level (new orders do not exist yet to reserve)."""
    merged: dict[tuple[str, str], PlannedReservation] = {}
    for s in result.sources:
        if s.kind not in (pp.SourceKind.STOCK, pp.SourceKind.OPEN_SUPPLY):
            continue
        key = (s.item, s.ref)
        old = merged.get(key)
        if old is None:
            merged[key] = PlannedReservation(
                item=s.item, qty=s.qty, supply=s.ref, available_date=s.available_date
            )
        else:
            merged[key] = old.model_copy(update={"qty": old.qty + s.qty})
    return list(merged.values())


def _plan_promise(
    session: Session, inputs: _Inputs, order: SalesOrder, time_limit_seconds: float
) -> tuple[list[PlannedLinePromise], pp.OrderPromise]:
    lines = _open_lines(session, order)
    if not lines:
        raise ToolError(
            "invalid_input",
            f"{order.code} has nothing left to ship",
            {"sales_order": order.code, "status": order.status},
        )
    # The order's own reservations are given back to its lines (a new promise replaces them).
    result = pp.promise_lines(
        inputs.plant,
        _line_requests(order, lines),
        priority=order.priority,
        production_orders=inputs.orders,
        settings=pp.PromiseSettings(capacity_budget_seconds=time_limit_seconds, levers=False),
        reservations=inputs.reserved,
        memo=inputs.memo,
    )
    planned = [
        PlannedLinePromise(
            line_no=line.line_no,
            item=item.code,
            qty=r.request.qty,
            requested_date=line.due_date,
            promised_date=line.due_date if r.on_time else r.earliest_full_date,
            on_time=r.on_time,
            promise=_lines(r.promise),
            reservations=_reservations(r),
        )
        for (line, item), r in zip(lines, result.lines, strict=True)
    ]
    return planned, result


def _promise_summaries(code: str, lines: list[PlannedLinePromise], confirms: bool) -> tuple[str, str]:
    zh_parts, en_parts = [], []
    for p in lines[:10]:
        n = len(p.reservations)
        zh_parts.append(
            f"第 {p.line_no} 行 {p.item} {_q(p.qty)} 承诺 {_d(p.promised_date)}(预留 {n} 笔现有供应)"
        )
        en_parts.append(
            f"line {p.line_no} {p.item} {_q(p.qty)} promised {_d(p.promised_date)} ({n} supplies reserved)"
        )
    confirm_zh = ",并把草稿订单确认为正式订单" if confirms else ""
    confirm_en = "; the draft order becomes confirmed" if confirms else ""
    return (
        f"记录 {code} 的交期承诺{confirm_zh}:" + ";".join(zh_parts) + "。",
        f"Record the delivery promise of {code}{confirm_en}: " + "; ".join(en_parts) + ".",
    )


@tool(kind="propose", tags=("promising",))
def propose_order_promise(ctx: ToolContext, args: ProposeOrderPromiseIn) -> ProposeOrderPromiseOut:
    """Propose recording a delivery promise on an existing sales order and reserving the supply it rests on.

    Computes the promise of the order's open lines as promise_sales_order does (the order's own priority;
    supply reserved for other orders stays theirs): each line's promised date is its requested date
    when it can be on time, else the date all of it can ship. Nothing changes until a salesperson (or
    manager/admin) confirms; confirming re-checks the promise on the data of that moment, sets the lines'
    promised dates, reserves the stock and open orders it rests on (replacing the order's earlier
    reservations) and, with `confirm_order`, confirms a draft order.
    """
    order = _sales_order(ctx.session, args.sales_order)
    if order.status not in PROMISABLE_SALES:
        raise ToolError(
            "invalid_input",
            f"{order.code} is {order.status}: only draft, confirmed or in-progress orders can be promised",
            {"sales_order": order.code, "status": order.status},
        )
    inputs = _snapshot(ctx.session, ctx.today)
    planned, result = _plan_promise(ctx.session, inputs, order, args.time_limit_seconds)
    confirms = args.confirm_order and order.status == "draft"
    zh, en = _promise_summaries(order.code, planned, confirms)
    links = inputs.links
    base = create_proposal(
        ctx,
        kind=ORDER_PROMISE,
        tool="propose_order_promise",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={
            "sales_order": order.code,
            "today": ctx.today.isoformat(),
            "confirm_order": confirms,
            "time_limit_seconds": args.time_limit_seconds,
            "lines": [p.model_dump(mode="json") for p in planned],
        },
        read_domains=READ_DOMAINS,
    )
    return ProposeOrderPromiseOut(
        **base.model_dump(),
        sales_order=order.code,
        confirms_order=confirms,
        lines=planned,
        impacts=[links.impact(i) for i in result.impacts],
    )


def _check_reservations(session: Session, planned: Sequence[PlannedLinePromise], own: str) -> None:
    """Each reservation must still fit: stock on hand, or the open quantity of the order, less what other
    active reservations already hold."""
    items = {
        i.code: i
        for i in session.exec(
            select(Item).where(Item.code.in_({r.item for p in planned for r in p.reservations}))
        ).all()
    }  # type: ignore[attr-defined]
    held: dict[tuple[int, str], Decimal] = {}
    for row in session.exec(select(Reservation).where(Reservation.status == "active")).all():
        if not row.demand_ref.startswith(own):
            key = (row.item_id, row.supply_ref)
            held[key] = held.get(key, Decimal(0)) + row.qty
    stock = on_hand(session)
    wanted: dict[tuple[int, str], Decimal] = {}
    for p in planned:
        for r in p.reservations:
            item = items.get(r.item)
            if item is None or item.id is None:
                raise ToolError("conflict", f"item {r.item} no longer exists", {"item": r.item})
            key = (item.id, r.supply)
            wanted[key] = wanted.get(key, Decimal(0)) + r.qty
    open_supply = _open_supply(session)
    for (item_id, supply), qty in wanted.items():
        available = (
            stock.get(item_id, Decimal(0))
            if supply == "stock"
            else open_supply.get((item_id, supply), Decimal(0))
        )
        if qty + held.get((item_id, supply), Decimal(0)) > available:
            raise ToolError(
                "conflict",
                f"the promise no longer holds: {supply} cannot cover the reservation any more; propose it again",
                {
                    "supply": supply,
                    "wanted": str(qty),
                    "available": str(available - held.get((item_id, supply), 0)),
                },
            )


def _open_supply(session: Session) -> dict[tuple[int, str], Decimal]:
    """Open quantity per (item, order reference) as the planning snapshot names them."""
    out: dict[tuple[int, str], Decimal] = {}
    for po, line_no, item_id, qty, received in session.execute(
        sa.select(
            PurchaseOrder.code,
            PurchaseOrderLine.line_no,
            PurchaseOrderLine.item_id,
            PurchaseOrderLine.qty,
            PurchaseOrderLine.received_qty,
        )
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)  # type: ignore[arg-type]
        .where(PurchaseOrder.status.in_(OPEN_PURCHASE))  # type: ignore[attr-defined]
    ):
        ref = po if line_no == 1 else f"{po}/{line_no}"
        out[(item_id, ref)] = qty - received
    for code, item_id, qty, done in session.execute(
        sa.select(
            ProductionOrder.code, ProductionOrder.item_id, ProductionOrder.qty, ProductionOrder.completed_qty
        ).where(ProductionOrder.status.in_(OPEN_PRODUCTION))  # type: ignore[attr-defined]
    ):
        out[(item_id, code)] = qty - done
    for item_id, qty in on_hand(session, kinds=("inspection",)).items():
        item = session.get(Item, item_id)
        if item is not None:
            out[(item_id, f"QC/{item.code}")] = qty
    return out


@applier(ORDER_PROMISE, roles=("sales",), domains=("sales",))
def apply_order_promise(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Re-check the promise, set the promised dates, replace the order's reservations, confirm a draft."""
    effect = proposal.effect
    order = _sales_order(session, str(effect["sales_order"]))
    if order.status not in PROMISABLE_SALES:
        raise ToolError("conflict", f"{order.code} is {order.status} now", {"sales_order": order.code})
    planned = [PlannedLinePromise.model_validate(p) for p in effect.get("lines", [])]
    proposed_today = date.fromisoformat(str(effect["today"]))
    today = max(proposed_today, dataset_today(session, get_settings()))
    # Not from the snapshot cache: the versions this transaction reads are already bumped for what it writes.
    again, _ = _plan_promise(
        session, _Inputs(session, today), order, float(effect.get("time_limit_seconds", 5.0))
    )
    now = {p.line_no: p for p in again}
    for p in planned:
        fresh = now.get(p.line_no)
        if fresh is None or fresh.promised_date > p.promised_date:
            raise ToolError(
                "conflict",
                f"the promise no longer holds: line {p.line_no} of {order.code} can now ship only on "
                f"{_d(fresh.promised_date) if fresh else '-'} instead of {_d(p.promised_date)}; propose it again",
                {
                    "line_no": p.line_no,
                    "proposed": _d(p.promised_date),
                    "now": _d(fresh.promised_date) if fresh else None,
                },
            )
    own = f"{order.code}/"
    _check_reservations(session, planned, own)
    released = 0
    for row in session.exec(
        select(Reservation).where(Reservation.status == "active", Reservation.demand_type == LINE_DEMAND)
    ).all():
        if row.demand_ref.startswith(own):
            row.status = "released"
            session.add(row)
            released += 1
    lines = {
        line.line_no: line
        for line in session.exec(
            select(SalesOrderLine).where(SalesOrderLine.sales_order_id == order.id)
        ).all()
    }
    items = {i.code: i.id for i in session.exec(select(Item)).all()}
    reserved = []
    for p in planned:
        line = lines[p.line_no]
        before = _d(line.promised_date)
        line.promised_date = p.promised_date
        session.add(line)
        audit(
            session,
            actor,
            "update",
            entity="sales_order_line",
            entity_ref=f"{order.code}/{p.line_no}",
            proposal_id=proposal.id,
            before={"promised_date": before},
            after={"promised_date": _d(p.promised_date)},
        )
        for r in p.reservations:
            session.add(
                Reservation(
                    item_id=items[r.item] or 0,
                    qty=r.qty,
                    demand_type=LINE_DEMAND,
                    demand_ref=f"{order.code}/{p.line_no}",
                    supply_ref=r.supply,
                    status="active",
                )
            )
            reserved.append({"line_no": p.line_no, "item": r.item, "qty": float(r.qty), "supply": r.supply})
    confirmed = False
    if effect.get("confirm_order") and order.status == "draft":
        try:
            transition("sales_order", order, "confirmed", order.code)
        except StateError as exc:
            raise ToolError("conflict", exc.message, exc.details) from None
        session.add(order)
        confirmed = True
    session.flush()
    audit(
        session,
        actor,
        "promise",
        entity="sales_order",
        entity_ref=order.code,
        proposal_id=proposal.id,
        after={"reservations": len(reserved), "released_reservations": released, "confirmed": confirmed},
    )
    return {
        "sales_order": order.code,
        "promised": {str(p.line_no): _d(p.promised_date) for p in planned},
        "reservations": reserved,
        "released_reservations": released,
        "confirmed_order": confirmed,
    }
