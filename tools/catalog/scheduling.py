"""Scheduling tools: the finite-capacity schedule (Gantt, lateness, load) and the dispatch list it is frozen into."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel import Session, select

from data_model.tables import DispatchEntry, Item, Proposal, WorkCenter
from data_model.tables import ProductionOrder as ProductionOrderRow
from planning.model import Plant
from planning.scheduling import (
    OrderStatus,
    Schedule,
    ScheduleOrder,
    ScheduleSettings,
    compute_work_center_load,
    schedule_orders,
)
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.snapshot import OPEN_PRODUCTION, load_plant
from tools.types import Num

DISPATCH = "dispatch_list"
DISPATCH_PREFIX = "DL-"
SCHEDULED_KINDS = (
    "production",
    "rework",
)  # subcontract orders are made at the supplier, not on our work centers


def load_schedule_orders(session: Session, plant: Plant) -> list[ScheduleOrder]:
    """Open production and rework orders as orders to schedule: remaining quantity, due date, priority, status,
    planned start (no operation before it) and the parent order a sub-assembly order feeds."""
    rows = (
        session.execute(
            sa.select(ProductionOrderRow)
            .where(ProductionOrderRow.status.in_(OPEN_PRODUCTION))  # type: ignore[attr-defined]
            .where(ProductionOrderRow.kind.in_(SCHEDULED_KINDS))  # type: ignore[attr-defined]
            .order_by(ProductionOrderRow.code)
        )
        .scalars()
        .all()
    )
    items = {i.id: i.code for i in session.exec(select(Item)).all()}
    by_id = {row.id: row for row in rows}
    orders = []
    for row in rows:
        code = items.get(row.item_id)
        remaining = row.qty - row.completed_qty
        if code is None or code not in plant.items or remaining <= 0:
            continue
        parent = by_id.get(row.parent_order_id) if row.parent_order_id is not None else None
        # A rework order's parent is the order it reworks, not one that consumes it.
        feeds = parent is not None and row.kind == "production" and parent.kind == "production"
        orders.append(
            ScheduleOrder(
                id=row.code,
                item=code,
                qty=remaining,
                due=row.due_date,
                priority=row.priority,
                status=OrderStatus(row.status),
                release_date=row.start_date,
                parent=parent.code if feeds and parent is not None else None,
            )
        )
    kept = {o.id for o in orders}
    return [o if o.parent is None or o.parent in kept else replace(o, parent=None) for o in orders]


# ------------------------------------------------------------------------------------------------ get_schedule


class GetScheduleIn(BaseModel):
    horizon_days: int | None = Field(
        default=None, ge=1, le=366, description="only operations starting within this many days from today"
    )
    work_center: str | None = Field(
        default=None, max_length=64, description="only this work center's operations"
    )
    time_limit_seconds: float = Field(default=10.0, gt=0, le=120, description="solver time limit")


class ScheduledOperationOut(BaseModel):
    """One bar of the Gantt chart."""

    order: str
    item: str
    seq: int
    work_center: str
    machine: int = Field(description="0-based machine of the work center")
    start: datetime
    end: datetime
    duration_minutes: int = Field(description="working minutes, setup included")
    setup_minutes: int
    wait_minutes: int = Field(description="working minutes it waited for its work center")


class ScheduledOrderOut(BaseModel):
    order: str
    item: str
    qty: Num
    priority: int
    status: str
    due: date | None
    start: datetime | None
    finish: datetime | None
    completion_date: date = Field(description="ships on this working day (last operation plus lead time)")
    on_time: bool
    days_late: int
    tardiness_minutes: int
    binding: Literal["capacity", "material", "processing"]
    binding_work_center: str | None
    routed: bool


class WorkCenterLoadOut(BaseModel):
    work_center: str
    day: date
    load_minutes: int
    capacity_minutes: int
    utilization: Num


class ScheduleProblemOut(BaseModel):
    kind: str
    order: str
    message: str
    work_center: str | None


class ScheduleObjectiveOut(BaseModel):
    weighted_tardiness: int
    makespan_minutes: int
    total_completion_minutes: int


class GetScheduleOut(BaseModel):
    today: date
    status: str = Field(
        description="solver status: OPTIMAL or FEASIBLE (both usable), UNKNOWN with method dispatch"
    )
    proven_optimal: bool
    method: Literal["cp_sat", "dispatch"]
    solve_seconds: float
    objective: ScheduleObjectiveOut
    operations: list[ScheduledOperationOut]
    orders: list[ScheduledOrderOut]
    late_orders: int
    load: list[WorkCenterLoadOut] = Field(description="booked and available minutes per work center per day")
    problems: list[ScheduleProblemOut]


def _work_center(session: Session, code: str) -> WorkCenter:
    row = session.exec(select(WorkCenter).where(WorkCenter.code == code)).first()
    if row is None:
        raise ToolError("not_found", f"work center {code!r} not found", {"kind": "work_center", "key": code})
    return row


def compute_schedule(
    ctx: ToolContext, time_limit_seconds: float
) -> tuple[Plant, list[ScheduleOrder], Schedule]:
    """The plant, its open production orders and their schedule (seeded: the same data gives the same plan)."""
    plant = load_plant(ctx)
    orders = load_schedule_orders(ctx.session, plant)
    settings = ScheduleSettings(time_limit_seconds=time_limit_seconds, random_seed=0, num_workers=2)
    return plant, orders, schedule_orders(plant, orders, settings)


def _horizon_end(ctx: ToolContext, horizon_days: int | None) -> datetime | None:
    if horizon_days is None:
        return None
    return datetime.combine(ctx.today + timedelta(days=horizon_days), datetime.min.time())


@tool(kind="read", tags=("scheduling",))
def get_schedule(ctx: ToolContext, args: GetScheduleIn) -> GetScheduleOut:
    """Schedule the open production orders on finite work-center capacity and show the plan.

    Returns a Gantt-ready list of operations (order, operation, work center, machine, start, end), each
    order's completion date and lateness (with what binds it: a busy work center, material or its own
    processing), the solver status (proven_optimal when CP-SAT proved it best) and the load of each work center
    per working day. Orders start no earlier than their planned start and today; priorities weigh lateness.
    Use `work_center` and `horizon_days` to narrow the operations and load shown (the whole plan is always
    computed). Nothing is changed: freeze a plan with propose_schedule.
    """
    if args.work_center:
        _work_center(ctx.session, args.work_center)
    plant, orders, schedule = compute_schedule(ctx, args.time_limit_seconds)
    end = _horizon_end(ctx, args.horizon_days)
    qty = {o.id: o.qty for o in orders}
    status = {o.id: o.status.value for o in orders}
    operations = [
        ScheduledOperationOut(
            order=op.order,
            item=op.item,
            seq=op.seq,
            work_center=op.work_center,
            machine=op.machine,
            start=op.start,
            end=op.end,
            duration_minutes=op.duration_minutes,
            setup_minutes=op.setup_minutes,
            wait_minutes=op.wait_minutes,
        )
        for op in schedule.operations
        if (args.work_center is None or op.work_center == args.work_center)
        and (end is None or op.start < end)
    ]
    shown = {op.order for op in operations} if args.work_center else None
    outcomes = [
        ScheduledOrderOut(
            order=o.order,
            item=o.item,
            qty=qty[o.order],
            priority=o.priority,
            status=status[o.order],
            due=o.due,
            start=o.start,
            finish=o.finish,
            completion_date=o.completion_date,
            on_time=o.on_time,
            days_late=o.days_late,
            tardiness_minutes=o.tardiness_minutes,
            binding=o.binding.value,
            binding_work_center=o.binding_work_center,
            routed=o.routed,
        )
        for o in schedule.orders
        if shown is None or o.order in shown
    ]
    outcomes.sort(key=lambda o: (o.completion_date, o.order))
    load = [
        WorkCenterLoadOut(
            work_center=row.work_center,
            day=row.day,
            load_minutes=row.load_minutes,
            capacity_minutes=row.capacity_minutes,
            utilization=row.utilization,
        )
        for row in compute_work_center_load(schedule, plant)
        if (args.work_center is None or row.work_center == args.work_center)
        and (end is None or row.day < end.date())
    ]
    return GetScheduleOut(
        today=ctx.today,
        status=schedule.status,
        proven_optimal=schedule.proven_optimal,
        method=schedule.method,  # type: ignore[arg-type]
        solve_seconds=round(schedule.solve_seconds, 3),
        objective=ScheduleObjectiveOut(
            weighted_tardiness=schedule.objective.weighted_tardiness,
            makespan_minutes=schedule.objective.makespan_minutes,
            total_completion_minutes=schedule.objective.total_completion_minutes,
        ),
        operations=operations,
        orders=outcomes,
        late_orders=sum(1 for o in outcomes if not o.on_time),
        load=load,
        problems=[
            ScheduleProblemOut(kind=p.kind, order=p.order, message=p.message, work_center=p.work_center)
            for p in schedule.problems
            if shown is None or p.order in shown or not p.order
        ],
    )


# ---------------------------------------------------------------------------------------------- dispatch list


class ProposeScheduleIn(BaseModel):
    horizon_days: int = Field(
        default=14,
        ge=1,
        le=366,
        description="freeze the operations starting within this many days from today",
    )
    time_limit_seconds: float = Field(default=10.0, gt=0, le=120, description="solver time limit")


class DispatchEntryOut(BaseModel):
    order: str
    seq: int
    item: str
    work_center: str
    machine: int
    start: datetime
    end: datetime
    setup_minutes: int
    duration_minutes: int


class ProposeScheduleOut(ProposalOut):
    status_of_solver: str = Field(description="OPTIMAL or FEASIBLE (both usable); UNKNOWN: dispatching rules")
    proven_optimal: bool
    entries: list[DispatchEntryOut]
    late_orders: list[str] = Field(description="orders the schedule completes after their due date")


def _entries_summary(entries: list[DispatchEntryOut], horizon_days: int, late: list[str]) -> tuple[str, str]:
    per_center = Counter(e.work_center for e in entries)
    centers = ", ".join(f"{code} {n}" for code, n in sorted(per_center.items()))
    orders = len({e.order for e in entries})
    late_zh = f";其中 {len(late)} 张预计逾期:{', '.join(late[:10])}" if late else ""
    late_en = f"; {len(late)} of them late: {', '.join(late[:10])}" if late else ""
    zh = (
        f"冻结未来 {horizon_days} 天的派工单:{orders} 张生产单的 {len(entries)} 道工序({centers}){late_zh}。"
        "确认后取代当前派工单。"
    )
    en = (
        f"Freeze the dispatch list for the next {horizon_days} days: {len(entries)} operations of {orders} "
        f"production orders ({centers}){late_en}. Confirming replaces the active dispatch list."
    )
    return zh, en


@tool(kind="propose", tags=("scheduling",))
def propose_schedule(ctx: ToolContext, args: ProposeScheduleIn) -> ProposeScheduleOut:
    """Propose freezing the current finite-capacity schedule as the dispatch list (派工单) for the shop floor.

    Computes the schedule as get_schedule does and keeps the operations starting within `horizon_days`.
    Nothing changes until a planner (or manager/admin) confirms: the new list then replaces the active one
    (which is kept, marked superseded). If production orders change before confirmation, the proposal is
    stale and must be proposed again.
    """
    _, orders, schedule = compute_schedule(ctx, args.time_limit_seconds)
    end = _horizon_end(ctx, args.horizon_days)
    entries = [
        DispatchEntryOut(
            order=op.order,
            seq=op.seq,
            item=op.item,
            work_center=op.work_center,
            machine=op.machine,
            start=op.start,
            end=op.end,
            setup_minutes=op.setup_minutes,
            duration_minutes=op.duration_minutes,
        )
        for op in schedule.operations
        if end is None or op.start < end
    ]
    if not entries:
        raise ToolError(
            "infeasible",
            f"no operation of an open production order starts within {args.horizon_days} days",
            {"horizon_days": args.horizon_days, "orders": len(orders)},
        )
    shown = {e.order for e in entries}
    late = sorted(o.order for o in schedule.orders if not o.on_time and o.order in shown)
    zh, en = _entries_summary(entries, args.horizon_days, late)
    base = create_proposal(
        ctx,
        kind=DISPATCH,
        tool="propose_schedule",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={
            "entries": [e.model_dump(mode="json") for e in entries],
            "status": schedule.status,
            "horizon_days": args.horizon_days,
        },
        read_domains=("master",),
    )
    return ProposeScheduleOut(
        **base.model_dump(),
        status_of_solver=schedule.status,
        proven_optimal=schedule.proven_optimal,
        entries=entries,
        late_orders=late,
    )


@applier(DISPATCH, roles=("planner",), domains=("production",))
def apply_dispatch_list(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Supersede the active dispatch list and store the proposal's entries as the new one."""
    entries = [DispatchEntryOut.model_validate(e) for e in proposal.effect.get("entries", [])]
    orders = {
        row.code: row
        for row in session.exec(
            select(ProductionOrderRow).where(ProductionOrderRow.code.in_({e.order for e in entries}))  # type: ignore[attr-defined]
        ).all()
    }
    items = {
        row.code: row.id
        for row in session.exec(select(Item).where(Item.code.in_({e.item for e in entries}))).all()  # type: ignore[attr-defined]
    }
    centers = {
        row.code: row.id
        for row in session.exec(
            select(WorkCenter).where(WorkCenter.code.in_({e.work_center for e in entries}))
        ).all()  # type: ignore[attr-defined]
    }
    for e in entries:
        order = orders.get(e.order)
        if order is None or order.status not in OPEN_PRODUCTION:
            raise ToolError(
                "conflict",
                f"production order {e.order} is no longer open: propose the schedule again",
                {"order": e.order},
            )
        if e.item not in items or e.work_center not in centers:
            raise ToolError("conflict", f"{e.item} or {e.work_center} no longer exists", {"order": e.order})
    superseded = session.exec(
        sa.update(DispatchEntry)  # type: ignore[call-overload]
        .where(DispatchEntry.status == "active")  # type: ignore[arg-type]
        .values(status="superseded")
        .execution_options(synchronize_session=False)
    ).rowcount
    (code,) = next_codes(session, DispatchEntry.dispatch_list, DISPATCH_PREFIX, 1)
    for e in entries:
        session.add(
            DispatchEntry(
                dispatch_list=code,
                production_order_id=orders[e.order].id or 0,
                seq=e.seq,
                item_id=items[e.item] or 0,
                work_center_id=centers[e.work_center] or 0,
                machine=e.machine,
                start_at=e.start,
                end_at=e.end,
                setup_minutes=e.setup_minutes,
                duration_minutes=e.duration_minutes,
                status="active",
                proposal_id=proposal.id,
                created_by=actor.username,
            )
        )
    session.flush()
    audit(
        session,
        actor,
        "create",
        entity="dispatch_list",
        entity_ref=code,
        proposal_id=proposal.id,
        after={"entries": len(entries), "superseded_entries": superseded},
    )
    return {"dispatch_list": code, "entries": len(entries), "superseded_entries": superseded}


class GetDispatchListIn(BaseModel):
    work_center: str | None = Field(default=None, max_length=64, description="only this work center")
    day: date | None = Field(default=None, description="only operations running on this day")
    dispatch_list: str | None = Field(
        default=None, max_length=64, description="a dispatch list code (DL-…); default: the active one"
    )


class DispatchListEntryOut(DispatchEntryOut):
    status: str
    order_status: str


class GetDispatchListOut(BaseModel):
    dispatch_list: str | None = Field(description="None when no schedule was ever frozen")
    status: str | None
    created_at: datetime | None
    created_by: str | None
    proposal_id: str | None
    entries: list[DispatchListEntryOut] = Field(description="by work center, machine and start")


@tool(kind="read", tags=("scheduling",))
def get_dispatch_list(ctx: ToolContext, args: GetDispatchListIn) -> GetDispatchListOut:
    """The dispatch list (派工单): operations frozen from a confirmed schedule, per work center and start.

    Default: the active list. Filter by `work_center` or by `day` (operations running that day). To change it,
    propose a new schedule with propose_schedule.
    """
    session = ctx.session
    stmt = select(DispatchEntry)
    if args.dispatch_list:
        stmt = stmt.where(DispatchEntry.dispatch_list == args.dispatch_list)
    else:
        stmt = stmt.where(DispatchEntry.status == "active")
    rows = session.exec(stmt).all()
    if args.dispatch_list and not rows:
        raise ToolError(
            "not_found",
            f"dispatch list {args.dispatch_list!r} not found",
            {"kind": "dispatch_list", "key": args.dispatch_list},
        )
    if not rows:
        return GetDispatchListOut(
            dispatch_list=None, status=None, created_at=None, created_by=None, proposal_id=None, entries=[]
        )
    center_id = _work_center(session, args.work_center).id if args.work_center else None
    orders = {
        row.id: row
        for row in session.exec(
            select(ProductionOrderRow).where(ProductionOrderRow.id.in_({r.production_order_id for r in rows}))  # type: ignore[union-attr]
        ).all()
    }
    items = {
        row.id: row.code
        for row in session.exec(select(Item).where(Item.id.in_({r.item_id for r in rows}))).all()
    }  # type: ignore[union-attr]
    centers = {row.id: row.code for row in session.exec(select(WorkCenter)).all()}
    entries = []
    for r in rows:
        if center_id is not None and r.work_center_id != center_id:
            continue
        if args.day is not None and not (r.start_at.date() <= args.day <= r.end_at.date()):
            continue
        order = orders[r.production_order_id]
        entries.append(
            DispatchListEntryOut(
                order=order.code,
                seq=r.seq,
                item=items.get(r.item_id, ""),
                work_center=centers.get(r.work_center_id, ""),
                machine=r.machine,
                start=r.start_at,
                end=r.end_at,
                setup_minutes=r.setup_minutes,
                duration_minutes=r.duration_minutes,
                status=r.status,
                order_status=order.status,
            )
        )
    entries.sort(key=lambda e: (e.work_center, e.machine, e.start, e.order, e.seq))
    first = rows[0]
    return GetDispatchListOut(
        dispatch_list=first.dispatch_list,
        status=first.status,
        created_at=first.created_at,
        created_by=first.created_by,
        proposal_id=first.proposal_id,
        entries=entries,
    )
