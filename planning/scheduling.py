"""Finite-capacity scheduling of production orders on work centers with CP-SAT."""

from __future__ import annotations

import heapq
import math
import time as clock
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from planning.capacity import (
    BusySpan,
    CapacityProfile,
    TimeAxis,
    WorkCenterDayLoad,
    compute_daily_load,
    plant_minute_of,
    window_minutes,
    work_minute_at,
)
from planning.errors import DataError, InfeasibleError, InvalidInputError, PlanningError
from planning.lazy import lazy_import
from planning.model import Plant, SupplyKind, WorkCenter

if TYPE_CHECKING:
    from ortools.sat.python import cp_model
else:
    cp_model = lazy_import("ortools.sat.python.cp_model")  # OR-Tools loads when a model is first built

OpKey = tuple[str, int]  # (order id, operation seq)


class ObjectiveMode(StrEnum):
    TARDINESS = "tardiness"  # weighted tardiness first, then n × makespan + total completion time
    MAKESPAN = "makespan"  # makespan only: pure job shops and the benchmarks


class OrderStatus(StrEnum):
    PLANNED = "planned"
    RELEASED = "released"
    IN_PROGRESS = "in_progress"


class Binding(StrEnum):
    """What decides when an order finishes."""

    CAPACITY = "capacity"  # it waits for a work center busy with other orders
    MATERIAL = "material"  # its release date (material availability) or a sub-assembly order
    PROCESSING = "processing"  # its own operations and lead time, back to back from the earliest start


@dataclass(frozen=True)
class ScheduleSettings:
    """Solver settings; a time limit and a seed are always set so runs repeat."""

    time_limit_seconds: float = 10.0
    random_seed: int = 0
    num_workers: int = 2
    day_start: time = time(8, 0)
    objective: ObjectiveMode = ObjectiveMode.TARDINESS
    log_search_progress: bool = False


@dataclass(frozen=True, slots=True)
class ScheduleOrder:
    """A production order to schedule: ``qty`` still to make of ``item`` along the item's routing.

    ``release_date`` is when its material is available (no operation starts before it); ``parent`` is the id
    of the order that consumes this order's output (a sub-assembly): the parent's first operation starts only
    once this order is complete, lead time included. Operations with ``seq <= done_through_seq`` are finished.
    """

    id: str
    item: str
    qty: Decimal
    due: date | None = None
    priority: int = 5  # lower number = more important
    status: OrderStatus = OrderStatus.RELEASED
    release_date: date | None = None
    parent: str | None = None
    done_through_seq: int = 0


@dataclass(frozen=True, slots=True)
class NewOrder:
    """A hypothetical order for a what-if: ``qty`` of ``item`` that may start on ``earliest_start``."""

    item: str
    qty: Decimal
    priority: int = 5
    earliest_start: date | None = None
    due: date | None = None
    id: str = "NEW"

    def as_order(self) -> ScheduleOrder:
        """The planned production order the what-if adds."""
        return ScheduleOrder(
            id=self.id,
            item=self.item,
            qty=self.qty,
            due=self.due,
            priority=self.priority,
            status=OrderStatus.PLANNED,
            release_date=self.earliest_start,
        )


@dataclass(frozen=True, slots=True)
class ScheduledOperation:
    """One bar of the Gantt chart; minutes are on the schedule's working-time axis (see ``TimeAxis``)."""

    order: str
    seq: int
    item: str
    work_center: str
    machine: int  # 0-based machine of the work center
    start: datetime
    end: datetime
    start_minute: int
    end_minute: int
    duration_minutes: int  # working minutes: setup + run, rounded up to whole minutes
    setup_minutes: int
    wait_minutes: int  # axis minutes it waited for its work center after it could have started


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    """When an order finishes and ships, and how late that is against its due date."""

    order: str
    item: str
    priority: int
    due: date | None
    start: datetime | None  # first operation; None without operations to schedule
    finish: datetime | None  # last operation
    completion_date: date  # ships on this working day: last operation + lead_time_days
    completion_minute: int
    tardiness_minutes: int  # working minutes after the end of the due day
    days_late: int  # calendar days from due date to completion date, 0 when on time
    on_time: bool
    routed: bool  # False: no routing (or nothing left to do), completion from lead time only
    binding: Binding
    binding_work_center: str | None


@dataclass(frozen=True, slots=True)
class ScheduleProblem:
    """A problem record with its cause, e.g. a late order and the work center it waited for."""

    kind: str  # late | no_routing | due_in_past | not_optimized
    order: str  # empty for a problem of the whole schedule
    message: str
    work_center: str | None = None


@dataclass(frozen=True, slots=True)
class PhaseResult:
    """One step of the lexicographic solve: its goal, CP-SAT status and best value / bound found."""

    goal: str
    status: str
    value: int | None
    bound: int | None
    seconds: float
    # The step's first solution: the dispatching rule's plan, or the previous step's best.
    first_value: int | None = None


@dataclass(frozen=True, slots=True)
class ScheduleObjective:
    weighted_tardiness: int  # Σ priority weight × tardiness minutes
    makespan_minutes: int  # end of the last operation on the axis
    total_completion_minutes: int  # Σ over routed orders of the end of their last operation


@dataclass(frozen=True)
class Schedule:
    """A finite-capacity schedule. ``status`` is CP-SAT's (OPTIMAL or FEASIBLE, both usable).

    ``status`` UNKNOWN with ``method == "dispatch"`` means CP-SAT found nothing in the time limit and the plan
    is the dispatching-rule schedule used as its starting point: feasible, not optimized.
    """

    operations: tuple[ScheduledOperation, ...]
    orders: tuple[OrderOutcome, ...]
    status: str
    proven_optimal: bool
    objective: ScheduleObjective
    phases: tuple[PhaseResult, ...]
    problems: tuple[ScheduleProblem, ...]
    axis: TimeAxis
    # cp_sat | dispatch | insertion (new orders put into free capacity: CapacityPlan) | retimed (another
    # schedule's sequences on more capacity: retime_schedule)
    method: str
    solve_seconds: float
    time_to_best_seconds: float

    def order(self, order_id: str) -> OrderOutcome:
        for outcome in self.orders:
            if outcome.order == order_id:
                return outcome
        raise KeyError(order_id)


@dataclass(frozen=True, slots=True)
class OrderImpact:
    """An existing order that completes later once the new order is added."""

    order: str
    priority: int
    completion_before: date
    completion_after: date
    slip_minutes: int
    late_after: bool


@dataclass(frozen=True)
class NewOrderEvaluation:
    """What-if answer: when the new order would complete, what binds it, whom it would delay."""

    order: str
    completion_date: date
    finish: datetime | None
    binding: Binding
    binding_work_center: str | None
    waits: tuple[ScheduledOperation, ...]  # the new order's operations, each with its wait
    impacts: tuple[OrderImpact, ...]
    schedule: Schedule
    baseline: Schedule


def priority_weight(priority: int) -> int:
    """Tardiness weight of a priority: 1 (most important) → 256, 5 (default) → 16, 9 and below → 1.

    Geometric so that a minute of lateness of a priority-1 order outweighs 16 minutes of a priority-5 one.
    """
    return 2 ** (9 - min(max(priority, 1), 9))


# ---------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, slots=True)
class _OpData:
    key: OpKey
    item: str
    work_center: str
    duration: int
    setup_minutes: int
    window: int  # open minutes per working day of the work center
    night_gap: int  # axis minutes the work center is closed at the end of each day

    @property
    def max_nights(self) -> int:
        """Most nightly gaps the operation can span, depending on where in the day it starts."""
        return 0 if self.duration == 0 or self.night_gap == 0 else (self.duration - 1) // self.window + 1


@dataclass(frozen=True, slots=True)
class _OrderData:
    order: ScheduleOrder
    ops: tuple[_OpData, ...]
    release_minute: int
    due_end_minute: int | None
    lead_delay_minutes: int
    weight: int
    children: tuple[str, ...]
    has_routing: bool


@dataclass(frozen=True)
class _ProblemData:
    axis: TimeAxis
    orders: Mapping[str, _OrderData]  # children before parents
    work_centers: Mapping[str, WorkCenter]  # those the operations use
    settings: ScheduleSettings
    objective_orders: frozenset[str] = frozenset()  # the what-if's new order

    def ops(self) -> Iterable[_OpData]:
        for order in self.orders.values():
            yield from order.ops

    def ops_by_center(self) -> dict[str, list[_OpData]]:
        grouped: dict[str, list[_OpData]] = {code: [] for code in self.work_centers}
        for op in self.ops():
            grouped[op.work_center].append(op)
        return grouped


def _ceil_minutes(value: Decimal) -> int:
    # Whole minutes, rounded up: a schedule must not assume work finishes sooner than it does.
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def _prepare_data(plant: Plant, orders: Sequence[ScheduleOrder], settings: ScheduleSettings) -> _ProblemData:
    if settings.time_limit_seconds <= 0 or settings.num_workers < 1:
        raise InvalidInputError(
            "the time limit must be positive and at least one worker is needed",
            {"time_limit_seconds": settings.time_limit_seconds, "num_workers": settings.num_workers},
        )
    by_id: dict[str, ScheduleOrder] = {}
    for order in orders:
        if order.id in by_id:
            raise InvalidInputError(f"order {order.id} is listed twice", {"order": order.id})
        if order.qty <= 0:
            raise InvalidInputError(
                f"order {order.id}: quantity must be positive, got {order.qty}",
                {"order": order.id, "qty": str(order.qty)},
            )
        by_id[order.id] = order
    children: dict[str, list[str]] = {oid: [] for oid in by_id}
    for order in orders:
        if order.parent is not None:
            if order.parent not in by_id:
                raise DataError(
                    f"order {order.id}: parent order {order.parent} is not among the orders",
                    {"order": order.id, "parent": order.parent},
                )
            children[order.parent].append(order.id)
    topo = _children_first(by_id, children)

    day_minutes = max((window_minutes(wc) for wc in plant.work_centers.values()), default=8 * 60)
    axis = TimeAxis.build(plant.calendar, plant.today, day_minutes, settings.day_start)
    used: dict[str, WorkCenter] = {}
    data: dict[str, _OrderData] = {}
    for oid in topo:
        data[oid] = _order_data(plant, axis, by_id[oid], tuple(children[oid]), used)
    return _ProblemData(axis=axis, orders=data, work_centers=used, settings=settings)


def _order_data(
    plant: Plant,
    axis: TimeAxis,
    order: ScheduleOrder,
    children: tuple[str, ...],
    used: dict[str, WorkCenter],
) -> _OrderData:
    """One order's operations (those left to do that take time) and times on ``axis``; the work centers its
    operations use are added to ``used``."""
    oid = order.id
    day_minutes = axis.day_minutes
    routing = plant.routings.get(order.item)
    item = plant.items.get(order.item)
    if item is None and routing is None:
        raise DataError(f"order {oid}: unknown item {order.item}", {"order": oid, "item": order.item})
    ops = []
    for operation in routing.operations if routing else ():
        if operation.seq <= order.done_through_seq:
            continue
        wc = plant.work_centers.get(operation.work_center)
        if wc is None:
            raise DataError(
                f"routing of {order.item}, operation {operation.seq}: unknown work center "
                f"{operation.work_center}",
                {"item": order.item, "seq": operation.seq, "work_center": operation.work_center},
            )
        if operation.setup_minutes < 0 or operation.run_minutes_per_unit < 0:
            raise DataError(
                f"routing of {order.item}, operation {operation.seq}: negative minutes",
                {"item": order.item, "seq": operation.seq},
            )
        used[wc.code] = wc
        window = window_minutes(wc)
        duration = _ceil_minutes(operation.setup_minutes + operation.run_minutes_per_unit * order.qty)
        if duration == 0:
            continue  # takes no time and no capacity: nothing to schedule
        ops.append(
            _OpData(
                key=(oid, operation.seq),
                item=order.item,
                work_center=wc.code,
                duration=duration,
                setup_minutes=min(_ceil_minutes(operation.setup_minutes), duration),
                window=window,
                night_gap=day_minutes - window,
            )
        )
    lead_days = item.lead_time_days if item else 0
    return _OrderData(
        order=order,
        ops=tuple(ops),
        release_minute=axis.first_minute_on_or_after(order.release_date) if order.release_date else 0,
        due_end_minute=axis.end_of_day_minute(order.due) if order.due else None,
        lead_delay_minutes=lead_days * day_minutes,
        weight=priority_weight(order.priority),
        children=children,
        has_routing=routing is not None,
    )


def _children_first(by_id: Mapping[str, ScheduleOrder], children: Mapping[str, list[str]]) -> list[str]:
    """Orders with sub-assembly orders after them; a parent link cycle is a data error."""
    done: set[str] = set()
    result: list[str] = []
    for root in by_id:
        if root in done:
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(root, 0)]
        on_path: set[str] = set()
        while stack:
            oid, i = stack.pop()
            if i == 0:
                path.append(oid)
                on_path.add(oid)
            kids = children[oid]
            if i < len(kids):
                stack.append((oid, i + 1))
                kid = kids[i]
                if kid in on_path:
                    cycle = [*path[path.index(kid) :], kid]
                    raise DataError("sub-assembly order cycle: " + " → ".join(cycle), {"path": cycle})
                if kid not in done:
                    stack.append((kid, 0))
                continue
            path.pop()
            on_path.discard(oid)
            done.add(oid)
            result.append(oid)
    return result


# ------------------------------------------------------------------------------------------------- horizon


def _compute_horizon(data: _ProblemData, dispatched: Mapping[OpKey, int]) -> int:
    """Latest start any operation may get.

    The dispatching-rule schedule is feasible, so with the makespan goal its end bounds every better schedule.
    With due dates, twice its end (or the last due date or release, if later) is allowed: a schedule that
    ends twice as late as a simple rule's is never the better one in practice, and the tight horizon keeps the
    model small. Never beyond the serial bound (every operation one after the other from the last release,
    each waiting up to a night to start), which bounds any schedule without deliberate idle time.
    """
    serial = max((o.release_minute for o in data.orders.values()), default=0)
    for order in data.orders.values():
        serial += order.lead_delay_minutes
        for op in order.ops:
            serial += op.duration + (op.max_nights + 1) * op.night_gap
    serial += data.axis.day_minutes
    dispatch_end = max(
        (_end_of(_op(data, key), start, data.axis.day_minutes) for key, start in dispatched.items()),
        default=0,
    )
    if data.settings.objective is ObjectiveMode.MAKESPAN and not data.objective_orders:
        return min(serial, dispatch_end)
    latest = max(
        [dispatch_end]
        + [o.release_minute for o in data.orders.values()]
        + [o.due_end_minute for o in data.orders.values() if o.due_end_minute is not None]
    )
    return min(serial, 2 * latest + data.axis.day_minutes)


# ----------------------------------------------------------------------------------------------- variables


@dataclass
class _Variables:
    """Operation times live on their work center's own axis of working minutes (its daily windows back to back).

    There every operation is a fixed-size interval, which the capacity constraints propagate well. On the plant
    axis an operation starting on working day ``d`` of its work center is shifted by ``d`` nightly gaps:
    ``start = work_start + night_gap × start_day``, and likewise for the end with ``end_day``.
    """

    ops: dict[OpKey, _OpData] = field(default_factory=dict)
    work_start: dict[OpKey, cp_model.IntVar] = field(default_factory=dict)
    start_day: dict[OpKey, cp_model.IntVar] = field(default_factory=dict)  # work centers with a night gap
    end_day: dict[OpKey, cp_model.IntVar] = field(default_factory=dict)  # same
    interval: dict[OpKey, cp_model.IntervalVar] = field(default_factory=dict)
    ready: dict[str, cp_model.IntVar] = field(default_factory=dict)  # unrouted orders with sub-assemblies
    tardiness: dict[str, cp_model.IntVar] = field(default_factory=dict)
    makespan: cp_model.IntVar | None = None

    def start(self, key: OpKey) -> cp_model.LinearExprT:
        """Start on the plant axis."""
        if key in self.start_day:
            return self.work_start[key] + self.ops[key].night_gap * self.start_day[key]
        return self.work_start[key]

    def end(self, key: OpKey) -> cp_model.LinearExprT:
        """End on the plant axis."""
        op = self.ops[key]
        if key in self.end_day:
            return self.work_start[key] + op.duration + op.night_gap * self.end_day[key]
        return self.start(key) + op.duration

    def completion(self, order: _OrderData) -> cp_model.LinearExprT:
        """Minute the order's output is available: last operation end (or ready time) plus lead time."""
        if order.ops:
            return self.end(order.ops[-1].key) + order.lead_delay_minutes
        ready = self.ready.get(order.order.id, _unrouted_ready(order))
        return ready + order.lead_delay_minutes


def _unrouted_ready(order: _OrderData) -> int:
    # An order without operations is ready during its release day: one minute into the day, so that on the
    # axis's "ends count for the day they close" convention it completes on release day + lead time (as MRP).
    return order.release_minute + 1


def _create_variables(model: cp_model.CpModel, data: _ProblemData, horizon: int) -> _Variables:
    v = _Variables()
    day_minutes = data.axis.day_minutes
    last_day = horizon // day_minutes + 1
    latest_end = 0
    for order in data.orders.values():
        for op in order.ops:
            name = f"{op.key[0]}/{op.key[1]}@{op.work_center}"
            v.ops[op.key] = op
            if op.night_gap:
                work_start = model.new_int_var(0, (last_day + 1) * op.window - 1, f"work_start[{name}]")
                v.start_day[op.key] = model.new_int_var(0, last_day, f"start_day[{name}]")
                v.end_day[op.key] = model.new_int_var(0, last_day + op.max_nights, f"end_day[{name}]")
                latest_end = max(latest_end, (last_day + 1 + op.max_nights) * day_minutes)
            else:
                work_start = model.new_int_var(0, horizon, f"work_start[{name}]")
                latest_end = max(latest_end, horizon + op.duration)
            v.work_start[op.key] = work_start
            v.interval[op.key] = model.new_fixed_size_interval_var(work_start, op.duration, f"op[{name}]")
    # Bounds loose enough for any completion: the last end, every lead time of a chain, the last release.
    latest_completion = (
        latest_end
        + sum(o.lead_delay_minutes for o in data.orders.values())
        + max((o.release_minute for o in data.orders.values()), default=0)
        + 1
    )
    for oid, order in data.orders.items():
        if not order.ops and order.children:
            v.ready[oid] = model.new_int_var(0, latest_completion, f"ready[{oid}]")
        if order.due_end_minute is not None and data.settings.objective is ObjectiveMode.TARDINESS:
            overdue = max(0, -order.due_end_minute)  # due before today: late already
            v.tardiness[oid] = model.new_int_var(0, latest_completion + overdue, f"tardiness[{oid}]")
    if v.ops:
        v.makespan = model.new_int_var(0, latest_end, "makespan")
    return v


# --------------------------------------------------------------------------------------------- constraints


def _add_constraints(model: cp_model.CpModel, data: _ProblemData, v: _Variables) -> None:
    for key, day in v.start_day.items():
        # Working minute w of a work center lies on its working day w // window.
        window = v.ops[key].window
        model.add(v.work_start[key] >= window * day)
        model.add(v.work_start[key] <= window * day + window - 1)
    for key, day in v.end_day.items():
        op = v.ops[key]
        last_minute = v.work_start[key] + op.duration - 1
        model.add(last_minute >= op.window * day)
        model.add(last_minute <= op.window * day + op.window - 1)

    for order in data.orders.values():
        for before, after in pairwise(order.ops):
            model.add(v.start(after.key) >= v.end(before.key))
        earliest = [v.completion(data.orders[kid]) for kid in order.children]
        if order.ops:
            first = v.start(order.ops[0].key)
            if order.release_minute > 0:
                model.add(first >= order.release_minute)
            for child_completion in earliest:
                model.add(first >= child_completion)
        elif order.order.id in v.ready:
            model.add_max_equality(v.ready[order.order.id], [_unrouted_ready(order), *earliest])
        if order.order.id in v.tardiness and order.due_end_minute is not None:
            model.add(v.tardiness[order.order.id] >= v.completion(order) - order.due_end_minute)

    for code, ops in data.ops_by_center().items():
        intervals = [v.interval[op.key] for op in ops if op.duration > 0]
        machines = data.work_centers[code].machines
        if len(intervals) <= machines:
            continue
        # One machine: a disjunctive resource. Several identical machines: a cumulative resource; which
        # machine runs what is assigned after solving (interval graphs colour greedily with that many machines).
        if machines == 1:
            model.add_no_overlap(intervals)
        else:
            model.add_cumulative(intervals, [1] * len(intervals), machines)

    if v.makespan is not None:
        model.add_max_equality(
            v.makespan, [v.end(order.ops[-1].key) for order in data.orders.values() if order.ops]
        )


def _op(data: _ProblemData, key: OpKey) -> _OpData:
    for op in data.orders[key[0]].ops:
        if op.key == key:
            return op
    raise KeyError(key)


# ----------------------------------------------------------------------------------------------- objective


@dataclass(frozen=True)
class _Goal:
    name: str
    expr: cp_model.LinearExprT


def _define_objectives(data: _ProblemData, v: _Variables) -> list[_Goal]:
    """Goals in lexicographic order: each is optimized with the earlier ones held at their best values."""
    goals: list[_Goal] = []
    for oid in sorted(data.objective_orders):
        goals.append(_Goal(f"completion of {oid}", v.completion(data.orders[oid])))
    if data.settings.objective is ObjectiveMode.MAKESPAN:
        if v.makespan is not None:
            goals.append(_Goal("makespan", v.makespan))
        return goals
    if v.tardiness:
        goals.append(
            _Goal(
                "weighted tardiness",
                cp_model.LinearExpr.weighted_sum(
                    [v.tardiness[oid] for oid in v.tardiness],
                    [data.orders[oid].weight for oid in v.tardiness],
                ),
            )
        )
    last_ends = [v.end(o.ops[-1].key) for o in data.orders.values() if o.ops]
    if v.makespan is not None:
        # Makespan and total completion time (mean flow time, i.e. work in process) weighted equally.
        goals.append(
            _Goal("makespan and flow time", len(last_ends) * v.makespan + cp_model.LinearExpr.sum(last_ends))
        )
    return goals


# --------------------------------------------------------------------------------------------------- solve


def _solution_recorder(started: float) -> Any:
    """A solution callback that remembers when each improving solution was found (time to best).

    The class is made on first use: it subclasses an OR-Tools class, and OR-Tools loads lazily.
    """
    global _RECORDER_CLASS
    if _RECORDER_CLASS is None:

        class _SolutionRecorder(cp_model.CpSolverSolutionCallback):
            """Remembers when each improving solution was found, for the time-to-best statistic."""

            def __init__(self, started: float) -> None:
                super().__init__()
                self._started = started
                self.first_value: float | None = None
                self.best_value: float | None = None
                self.last_improvement_seconds: float | None = None

            def on_solution_callback(self) -> None:
                value = self.objective_value
                if self.first_value is None:
                    self.first_value = value
                if self.best_value is None or value < self.best_value:
                    self.best_value = value
                    self.last_improvement_seconds = clock.perf_counter() - self._started

            @property
            def improved(self) -> bool:
                """Whether the step got past the solution it started from (a later step starts from the hint)."""
                return (
                    self.best_value is not None
                    and self.first_value is not None
                    and self.best_value < self.first_value
                )

        _RECORDER_CLASS = _SolutionRecorder
    return _RECORDER_CLASS(started)


_RECORDER_CLASS: Any = None


@dataclass(frozen=True)
class _Solution:
    values: tuple[int, ...] | None  # every model variable, by proto index
    status: str
    proven_optimal: bool
    phases: tuple[PhaseResult, ...]
    seconds: float
    time_to_best_seconds: float


def _solve(model: cp_model.CpModel, goals: list[_Goal], settings: ScheduleSettings) -> _Solution:
    """Lexicographic solve: optimize each goal, then bound it by its best value and go on with the next.

    Each goal gets 70 % of the time left (the last gets all of it); time a goal does not use passes on. The best
    solution so far is the hint of the next step, so a later step never loses a solution.
    """
    started = clock.perf_counter()
    values: tuple[int, ...] | None = None
    phases: list[PhaseResult] = []
    proven = True
    best_at = 0.0
    if not goals:
        goals = [_Goal("feasibility", 0)]
    for i, goal in enumerate(goals):
        remaining = settings.time_limit_seconds - (clock.perf_counter() - started)
        share = 1.0 if i == len(goals) - 1 else 0.7
        solver = cp_model.CpSolver()
        solver.parameters.max_time_in_seconds = max(remaining * share, 0.05)
        solver.parameters.random_seed = settings.random_seed
        solver.parameters.num_workers = settings.num_workers
        solver.parameters.log_search_progress = settings.log_search_progress
        model.minimize(goal.expr)
        recorder = _solution_recorder(started)
        phase_started = clock.perf_counter()
        status = solver.solve(model, recorder)
        name = solver.status_name(status)
        seconds = clock.perf_counter() - phase_started
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            value = round(solver.objective_value)
            first = round(recorder.first_value) if recorder.first_value is not None else None
            phases.append(
                PhaseResult(goal.name, name, value, math.floor(solver.best_objective_bound), seconds, first)
            )
            values = tuple(solver.response_proto.solution)
            if recorder.last_improvement_seconds is not None and (i == 0 or recorder.improved):
                best_at = recorder.last_improvement_seconds
            proven = proven and status == cp_model.OPTIMAL
            model.add(goal.expr <= value)
            _set_hint(model, values)
            continue
        phases.append(PhaseResult(goal.name, name, None, None, seconds))
        if status == cp_model.MODEL_INVALID:
            raise PlanningError(f"invalid scheduling model: {model.validate()}", {"status": name})
        if values is None:
            return _Solution(None, name, False, tuple(phases), clock.perf_counter() - started, 0.0)
        proven = False  # a later goal found nothing in its time: keep the earlier steps' solution
        break
    status_name = "OPTIMAL" if proven else "FEASIBLE"
    return _Solution(values, status_name, proven, tuple(phases), clock.perf_counter() - started, best_at)


def _set_hint(model: cp_model.CpModel, values: Sequence[int]) -> None:
    proto = model.proto
    proto.clear_solution_hint()
    proto.solution_hint.vars.extend(range(len(values)))
    proto.solution_hint.values.extend(values)


# ------------------------------------------------------------------------------------- dispatch and hints


def _end_of(op: _OpData, start: int, day_minutes: int) -> int:
    """End on the axis of an operation starting at ``start`` (inside its window): duration plus nights spanned."""
    if op.duration == 0 or op.night_gap == 0:
        return start + op.duration
    nights = (start % day_minutes + op.duration - 1) // op.window
    return start + op.duration + nights * op.night_gap


def _snap_to_window(op: _OpData, minute: int, day_minutes: int) -> int:
    """The first minute at or after ``minute`` at which the operation's work center is open."""
    if op.night_gap == 0:
        return minute
    day, offset = divmod(minute, day_minutes)
    return minute if offset < op.window else (day + 1) * day_minutes


def _dispatch(data: _ProblemData, fixed: Mapping[OpKey, int]) -> dict[OpKey, int]:
    """A feasible schedule by the best of a few dispatching rules: CP-SAT's first solution (and fallback).

    Each rule ranks the orders; in that order (sub-assemblies before their parent), each operation is inserted
    into the earliest gap of any machine of its work center. Operations in ``fixed`` keep their start (the
    baseline of a what-if). The plan scoring best on the goals (weighted tardiness, then makespan and flow time)
    wins.
    """
    due, weight = _effective_due_and_weight(data)
    work = {oid: _remaining_work(order) for oid, order in data.orders.items()}
    day = data.axis.day_minutes
    rules: list[Callable[[str], tuple[float, ...]]] = [
        lambda oid: (due[oid], data.orders[oid].order.priority),  # earliest due date
        lambda oid: (due[oid] - work[oid], data.orders[oid].order.priority),  # latest start
        # latest start, each priority step (weight × 2) counting as a working day of urgency
        lambda oid: (due[oid] - work[oid] - day * weight[oid].bit_length(),),
        lambda oid: (data.orders[oid].order.priority, due[oid]),  # priority first
    ]
    plans = [_dispatch_by(data, fixed, rule) for rule in rules]
    return min(plans, key=lambda starts: _dispatch_score(data, starts))


def _dispatch_score(data: _ProblemData, starts: Mapping[OpKey, int]) -> tuple[int, int]:
    derived = _derive(data, starts)
    return (
        sum(data.orders[oid].weight * t for oid, t in derived.tardiness.items()),
        derived.makespan * len(data.orders) + sum(derived.ends.values()),
    )


def _effective_due_and_weight(data: _ProblemData) -> tuple[dict[str, float], dict[str, int]]:
    """Due minute and weight of each order, tightened by the orders it feeds (a sub-assembly is as urgent
    as its parent's latest start and as important as the parent)."""
    due: dict[str, float] = {}
    weight: dict[str, int] = {}
    parents_first = list(reversed(list(data.orders)))
    for oid in parents_first:
        order = data.orders[oid]
        due[oid] = order.due_end_minute if order.due_end_minute is not None else math.inf
        weight[oid] = order.weight
    for oid in parents_first:
        order = data.orders[oid]
        for kid in order.children:
            due[kid] = min(due[kid], due[oid] - _remaining_work(order))
            weight[kid] = max(weight[kid], weight[oid])
    return due, weight


def _remaining_work(order: _OrderData) -> int:
    return sum(op.duration + op.max_nights * op.night_gap for op in order.ops) + order.lead_delay_minutes


def _dispatch_by(
    data: _ProblemData, fixed: Mapping[OpKey, int], rank: Callable[[str], tuple[float, ...]]
) -> dict[OpKey, int]:
    day_minutes = data.axis.day_minutes
    timelines: dict[str, list[list[tuple[int, int]]]] = {
        code: [[] for _ in range(wc.machines)] for code, wc in data.work_centers.items()
    }
    starts: dict[OpKey, int] = dict(fixed)
    by_center: dict[str, list[tuple[int, int]]] = {}
    for key, start in fixed.items():
        op = _op(data, key)
        if op.duration:
            by_center.setdefault(op.work_center, []).append((start, _end_of(op, start, day_minutes)))
    for code, spans in by_center.items():
        for span, machine in zip(
            spans, _assign_machines(spans, data.work_centers[code].machines), strict=True
        ):
            timelines[code][machine].append(span)
        for booked in timelines[code]:
            booked.sort()
    completion: dict[str, int] = {}
    # Orders whose sub-assembly orders are all placed wait in a heap by rank (ties by id): O(n log n).
    waiting = {oid: len(order.children) for oid, order in data.orders.items()}
    parent_of = {kid: oid for oid, order in data.orders.items() for kid in order.children}
    ready = [(*rank(oid), oid) for oid, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    while ready:
        oid = str(heapq.heappop(ready)[-1])
        parent = parent_of.get(oid)
        if parent is not None:
            waiting[parent] -= 1
            if waiting[parent] == 0:
                heapq.heappush(ready, (*rank(parent), parent))
        order = data.orders[oid]
        earliest = max([order.release_minute, *(completion[kid] for kid in order.children)])
        if not order.ops:
            completion[oid] = max(_unrouted_ready(order), earliest) + order.lead_delay_minutes
            continue
        for op in order.ops:
            if op.key not in starts:
                starts[op.key] = _insert(op, earliest, timelines[op.work_center], day_minutes)
            earliest = _end_of(op, starts[op.key], day_minutes)
        completion[oid] = earliest + order.lead_delay_minutes
    return starts


def _insert(op: _OpData, earliest: int, machines: list[list[tuple[int, int]]], day_minutes: int) -> int:
    best: tuple[int, int] | None = None
    for index, booked in enumerate(machines):
        start = _snap_to_window(op, earliest, day_minutes)
        for busy_start, busy_end in booked:
            if busy_end <= start:
                continue
            if busy_start >= _end_of(op, start, day_minutes):
                break
            start = _snap_to_window(op, busy_end, day_minutes)
        if best is None or start < best[0]:
            best = (start, index)
    if best is None:  # no machines: impossible, window_minutes rejects machines < 1
        raise DataError(f"work center {op.work_center} has no machines", {"work_center": op.work_center})
    if op.duration:
        booked = machines[best[1]]
        booked.append((best[0], _end_of(op, best[0], day_minutes)))
        booked.sort()
    return best[0]


def _assign_machines(spans: Sequence[tuple[int, int]], machines: int) -> list[int]:
    """Machine of each span: the lowest-numbered one free at its start, taking spans by start time.

    Never more than ``machines`` spans overlap on a feasible schedule, so a free machine always exists.
    """
    free_at = [0] * machines
    assigned = [0] * len(spans)
    for i in sorted(range(len(spans)), key=lambda i: spans[i]):
        start, end = spans[i]
        free = [m for m in range(machines) if free_at[m] <= start]
        # Only an overloaded input leaves none free: then the machine that frees first, overlap and all.
        machine = free[0] if free else min(range(machines), key=lambda m: free_at[m])
        free_at[machine] = end
        assigned[i] = machine
    return assigned


def _add_hint(
    model: cp_model.CpModel, data: _ProblemData, v: _Variables, starts: Mapping[OpKey, int]
) -> None:
    """Hint every variable with the values the given starts imply, so CP-SAT starts from a full solution."""
    day_minutes = data.axis.day_minutes
    values = _derive(data, starts)
    for key, start in starts.items():
        op = v.ops[key]
        day, offset = divmod(start, day_minutes)
        model.add_hint(v.work_start[key], day * op.window + offset if op.night_gap else start)
        if key in v.start_day:
            model.add_hint(v.start_day[key], day)
        if key in v.end_day:
            model.add_hint(v.end_day[key], (values.ends[key] - 1) // day_minutes)
    for oid, var in v.ready.items():
        model.add_hint(var, values.completion[oid] - data.orders[oid].lead_delay_minutes)
    for oid, var in v.tardiness.items():
        model.add_hint(var, values.tardiness[oid])
    if v.makespan is not None:
        model.add_hint(v.makespan, values.makespan)


def _starts_from_solution(v: _Variables, values: Sequence[int]) -> dict[OpKey, int]:
    """Plant-axis starts of a CP-SAT solution (all variable values by proto index)."""
    starts = {}
    for key, var in v.work_start.items():
        start = values[var.index]
        if key in v.start_day:
            start += v.ops[key].night_gap * values[v.start_day[key].index]
        starts[key] = start
    return starts


@dataclass(frozen=True)
class _Derived:
    """Everything that follows from the operation starts, computed without the solver."""

    ends: Mapping[OpKey, int]
    ready: Mapping[str, int]  # earliest start of an order: release date, sub-assemblies
    completion: Mapping[str, int]
    tardiness: Mapping[str, int]
    makespan: int


def _derive(data: _ProblemData, starts: Mapping[OpKey, int]) -> _Derived:
    day_minutes = data.axis.day_minutes
    ends = {key: _end_of(_op(data, key), start, day_minutes) for key, start in starts.items()}
    ready: dict[str, int] = {}
    completion: dict[str, int] = {}
    tardiness: dict[str, int] = {}
    for oid, order in data.orders.items():  # children first
        earliest = max([order.release_minute, *(completion[kid] for kid in order.children)])
        ready[oid] = earliest
        if order.ops:
            completion[oid] = ends[order.ops[-1].key] + order.lead_delay_minutes
        else:
            completion[oid] = max(_unrouted_ready(order), earliest) + order.lead_delay_minutes
        if order.due_end_minute is not None:
            tardiness[oid] = max(0, completion[oid] - order.due_end_minute)
    makespan = max((ends[o.ops[-1].key] for o in data.orders.values() if o.ops), default=0)
    return _Derived(ends=ends, ready=ready, completion=completion, tardiness=tardiness, makespan=makespan)


# ------------------------------------------------------------------------------------------------- extract


def _extract(data: _ProblemData, starts: Mapping[OpKey, int], solution: _Solution, method: str) -> Schedule:
    axis = data.axis
    derived = _derive(data, starts)
    machine_of = _machine_indexes(data, starts, derived.ends)
    operations: list[ScheduledOperation] = []
    outcomes: list[OrderOutcome] = []
    problems: list[ScheduleProblem] = []
    for oid, order in data.orders.items():
        ops, outcome = _order_result(
            axis,
            order,
            starts,
            derived.ends,
            machine_of,
            derived.ready[oid],
            derived.completion[oid],
            derived.tardiness.get(oid, 0),
        )
        operations.extend(ops)
        outcomes.append(outcome)
        problems.extend(_problems_of(order, outcome, axis))
    if method == "dispatch":
        problems.append(
            ScheduleProblem(
                "not_optimized",
                "",
                f"CP-SAT found no schedule within {data.settings.time_limit_seconds} s ({solution.status}); "
                "this is the dispatching-rule schedule: feasible, not optimized. Allow more time to improve it.",
            )
        )
    weighted = sum(data.orders[oid].weight * t for oid, t in derived.tardiness.items())
    last_ends = [derived.ends[o.ops[-1].key] for o in data.orders.values() if o.ops]
    operations.sort(key=lambda o: (o.start_minute, o.work_center, o.machine, o.order, o.seq))
    return Schedule(
        operations=tuple(operations),
        orders=tuple(outcomes),
        status=solution.status,
        proven_optimal=solution.proven_optimal and method == "cp_sat",
        objective=ScheduleObjective(
            weighted_tardiness=weighted,
            makespan_minutes=derived.makespan,
            total_completion_minutes=sum(last_ends),
        ),
        phases=solution.phases,
        problems=tuple(problems),
        axis=axis,
        method=method,
        solve_seconds=solution.seconds,
        time_to_best_seconds=solution.time_to_best_seconds,
    )


def _order_result(
    axis: TimeAxis,
    order: _OrderData,
    starts: Mapping[OpKey, int],
    ends: Mapping[OpKey, int],
    machine_of: Mapping[OpKey, int],
    ready: int,
    completion: int,
    tardiness: int,
) -> tuple[list[ScheduledOperation], OrderOutcome]:
    """One order's bars and outcome, from its operations' starts and ends and its ready minute."""
    oid = order.order.id
    day_minutes = axis.day_minutes
    operations = []
    earliest = ready
    waits: dict[str, int] = {}
    for op in order.ops:
        start, end = starts[op.key], ends[op.key]
        wait = start - _snap_to_window(op, earliest, day_minutes)
        if wait > 0:
            waits[op.work_center] = waits.get(op.work_center, 0) + wait
        operations.append(
            ScheduledOperation(
                order=oid,
                seq=op.key[1],
                item=op.item,
                work_center=op.work_center,
                machine=machine_of[op.key],
                start=axis.to_datetime(start),
                end=axis.to_datetime(end, is_end=True),
                start_minute=start,
                end_minute=end,
                duration_minutes=op.duration,
                setup_minutes=op.setup_minutes,
                wait_minutes=wait,
            )
        )
        earliest = end
    lead_days = order.lead_delay_minutes // day_minutes
    if order.ops:
        first, last = order.ops[0].key, order.ops[-1].key
        finish_day = axis.finish_day(starts[last], ends[last])
        start_at: datetime | None = axis.to_datetime(starts[first])
        finish_at: datetime | None = axis.to_datetime(ends[last], is_end=True)
    else:
        finish_day = (completion - order.lead_delay_minutes - 1) // day_minutes
        start_at = finish_at = None
    completion_date = axis.date_of_day(finish_day + lead_days)
    due = order.order.due
    days_late = max(0, (completion_date - due).days) if due else 0
    if waits:
        binding, binding_center = Binding.CAPACITY, max(sorted(waits), key=lambda c: waits[c])
    elif ready > 0:
        binding, binding_center = Binding.MATERIAL, None
    else:
        binding, binding_center = Binding.PROCESSING, None
    outcome = OrderOutcome(
        order=oid,
        item=order.order.item,
        priority=order.order.priority,
        due=due,
        start=start_at,
        finish=finish_at,
        completion_date=completion_date,
        completion_minute=completion,
        tardiness_minutes=tardiness,
        days_late=days_late,
        on_time=tardiness == 0,
        routed=bool(order.ops),
        binding=binding,
        binding_work_center=binding_center,
    )
    return operations, outcome


def _machine_indexes(
    data: _ProblemData, starts: Mapping[OpKey, int], ends: Mapping[OpKey, int]
) -> dict[OpKey, int]:
    machine_of: dict[OpKey, int] = dict.fromkeys(starts, 0)
    for code, ops in data.ops_by_center().items():
        machines = data.work_centers[code].machines
        busy = [op.key for op in ops if op.duration]
        if machines == 1 or not busy:
            continue
        spans = [(starts[key], ends[key]) for key in busy]
        machine_of.update(zip(busy, _assign_machines(spans, machines), strict=True))
    return machine_of


def _problems_of(order: _OrderData, outcome: OrderOutcome, axis: TimeAxis) -> list[ScheduleProblem]:
    oid = order.order.id
    problems = []
    if not order.has_routing:
        problems.append(
            ScheduleProblem(
                "no_routing",
                oid,
                f"{order.order.item} has no routing: order {oid} is planned by its lead time only",
            )
        )
    due = order.order.due
    if due is not None and due < axis.origin:
        problems.append(ScheduleProblem("due_in_past", oid, f"order {oid} was due on {due}, before today"))
    if not outcome.on_time and due is not None:
        cause = (
            f"; it waits longest for work center {outcome.binding_work_center}"
            if outcome.binding_work_center
            else f"; bound by {outcome.binding.value}"
        )
        problems.append(
            ScheduleProblem(
                "late",
                oid,
                f"order {oid} completes on {outcome.completion_date}, due {due} "
                f"({outcome.days_late} days late){cause}",
                outcome.binding_work_center,
            )
        )
    return problems


def _explain_infeasible(data: _ProblemData, horizon: int) -> InfeasibleError:
    """Name the orders that cannot finish within the horizon, else the work centers loaded beyond it."""
    day_minutes = data.axis.day_minutes
    too_long = []
    for oid, order in data.orders.items():
        need = order.release_minute + sum(op.duration + op.max_nights * op.night_gap for op in order.ops)
        if need > horizon:
            too_long.append(oid)
    if too_long:
        return InfeasibleError(
            f"orders {', '.join(too_long)} cannot finish within the scheduling horizon",
            {"orders": too_long, "horizon_minutes": horizon},
        )
    overloaded = []
    for code, ops in data.ops_by_center().items():
        wc = data.work_centers[code]
        capacity = (horizon // day_minutes + 1) * window_minutes(wc) * wc.machines
        if sum(op.duration for op in ops) > capacity:
            overloaded.append(code)
    return InfeasibleError(
        "no schedule exists within the horizon"
        + (f"; overloaded: {', '.join(overloaded)}" if overloaded else ""),
        {"work_centers": overloaded, "horizon_minutes": horizon, "orders": list(data.orders)},
    )


# -------------------------------------------------------------------------------------------------- public


def _run(
    data: _ProblemData,
    fixed: Mapping[OpKey, int] | None = None,
    not_later_than: Mapping[str, int] | None = None,
    pinned: Mapping[OpKey, int] | None = None,
) -> Schedule:
    """data → horizon → variables → constraints → objective → solve → extract."""
    dispatched = _dispatch(data, fixed or {})
    horizon = _compute_horizon(data, dispatched)
    model = cp_model.CpModel()
    v = _create_variables(model, data, horizon)
    _add_constraints(model, data, v)
    for oid, minute in (not_later_than or {}).items():
        model.add(v.completion(data.orders[oid]) <= minute)
    for key, minute in (pinned or {}).items():
        model.add(v.start(key) == minute)
    goals = _define_objectives(data, v)
    _add_hint(model, data, v, dispatched)
    solution = _solve(model, goals, data.settings)
    if solution.values is not None:
        return _extract(data, _starts_from_solution(v, solution.values), solution, "cp_sat")
    if solution.status == "INFEASIBLE":
        raise _explain_infeasible(data, horizon)
    # UNKNOWN: no solution within the time limit; the dispatching-rule schedule is feasible by construction.
    return _extract(data, dispatched, solution, "dispatch")


def schedule_orders(
    plant: Plant, orders: Sequence[ScheduleOrder], settings: ScheduleSettings | None = None
) -> Schedule:
    """Schedule production orders on finite work-center capacity, minimizing weighted tardiness.

    Each order runs its item's routing (operations with ``seq <= done_through_seq`` skipped): an operation takes
    setup + run × qty working minutes (rounded up) on one machine of its work center, without interruption except
    by nights, weekends and holidays, which it may span. Time is the plant's working-minute axis (``TimeAxis``):
    working days of the calendar only, each as long as the longest ``hours_per_day``; a work center with fewer
    hours is closed for the rest of each day. Operations follow their routing order; an order starts no earlier
    than its ``release_date``, today and the completion of its sub-assembly orders. An item's
    ``lead_time_days`` is a fixed delay after its last operation; output ships on the working day it completes.

    Operations that take no time are not scheduled. A work center of several machines is one cumulative
    resource; ``machine`` in the result is assigned afterwards (always possible on a feasible schedule).

    Goals in order: priority-weighted tardiness (``priority_weight``), then makespan and total completion time
    (``ObjectiveMode.MAKESPAN``: makespan only). CP-SAT starts from the best of a few dispatching rules; FEASIBLE
    results are usable, ``proven_optimal`` is then False (optimality is proven within the horizon of
    ``_compute_horizon``). If CP-SAT finds nothing in the time limit, the dispatching-rule plan is returned
    (``method == "dispatch"``, with a ``not_optimized`` problem record). Raises ``InvalidInputError`` /
    ``DataError`` for bad orders or plant data, ``InfeasibleError`` naming the orders or work centers
    concerned if no schedule exists.
    """
    data = _prepare_data(plant, orders, settings or ScheduleSettings())
    return _run(data)


def retime_schedule(
    plant: Plant,
    orders: Sequence[ScheduleOrder],
    schedule: Schedule,
    settings: ScheduleSettings | None = None,
) -> Schedule:
    """``schedule`` of ``orders`` on ``plant`` as it now is (e.g. with overtime hours on a work center): each
    machine keeps its sequence of operations, and each operation starts as early as that sequence, its routing,
    its order's release date and sub-assembly orders allow. No solver: with more hours or machines than
    ``schedule`` was made for, no operation starts later than it did (in calendar time).

    Raises ``InvalidInputError`` if ``schedule`` is not a schedule of ``orders``, or uses a machine ``plant``
    no longer has.
    """
    data = _prepare_data(plant, orders, settings or ScheduleSettings())
    day_minutes = data.axis.day_minutes
    ops = {op.key: op for op in data.ops()}
    placed = {(op.order, op.seq): op for op in schedule.operations}
    if placed.keys() != ops.keys():
        extra = sorted(placed.keys() ^ ops.keys())[:5]
        raise InvalidInputError(
            "the schedule is not a schedule of these orders", {"operations": [f"{o}/{s}" for o, s in extra]}
        )
    for bar in schedule.operations:
        if bar.machine >= data.work_centers[bar.work_center].machines:
            raise InvalidInputError(
                f"work center {bar.work_center} has no machine {bar.machine + 1} any more",
                {"work_center": bar.work_center, "machine": bar.machine},
            )
    previous = {op.key: prior.key for order in data.orders.values() for prior, op in pairwise(order.ops)}
    completion: dict[str, int] = {}

    def ready(oid: str) -> int:
        """The minute order ``oid`` may start: its release date, its sub-assembly orders complete."""
        order = data.orders[oid]
        kids = []
        for kid in order.children:
            if kid not in completion:
                child = data.orders[kid]
                if child.ops:  # it completed before its parent started: its last operation came first
                    raise InvalidInputError(
                        f"the schedule starts order {oid} before its sub-assembly order {kid} completes",
                        {"order": oid, "sub_assembly_order": kid},
                    )
                completion[kid] = max(_unrouted_ready(child), ready(kid)) + child.lead_delay_minutes
            kids.append(completion[kid])
        return max([order.release_minute, *kids])

    starts: dict[OpKey, int] = {}
    ends: dict[OpKey, int] = {}
    free: dict[tuple[str, int], int] = {}  # when each machine finishes the latest operation put on it
    for prior in sorted(schedule.operations, key=lambda o: (o.start_minute, o.end_minute, o.order, o.seq)):
        key = (prior.order, prior.seq)
        op = ops[key]
        earliest = ends[previous[key]] if key in previous else ready(prior.order)
        machine = (prior.work_center, prior.machine)
        start = _snap_to_window(op, max(earliest, free.get(machine, 0)), day_minutes)
        starts[key], ends[key] = start, _end_of(op, start, day_minutes)
        free[machine] = ends[key]
        order = data.orders[prior.order]
        if key == order.ops[-1].key:
            completion[prior.order] = ends[key] + order.lead_delay_minutes
    solution = _Solution(None, "FEASIBLE", False, (), 0.0, 0.0)
    return _extract(data, starts, solution, "retimed")


def evaluate_new_order(
    plant: Plant,
    orders: Sequence[ScheduleOrder],
    new_order: NewOrder,
    settings: ScheduleSettings | None = None,
    baseline: Schedule | None = None,
    *,
    keep_slots: bool = False,
) -> NewOrderEvaluation:
    """What if ``new_order`` were added: its completion date, what binds it, and whom it delays.

    Existing orders as important as the new one or more (priority number ≤ its priority) complete no later than
    in ``baseline`` (the schedule of ``orders`` alone; computed with 40 % of the time limit if not given); with
    ``keep_slots`` they keep their operations' slots as well (the rule ``insert_new_order`` answers without the
    solver). Goals: the new order's completion first, then weighted tardiness of all orders, then makespan and
    flow time. ``binding_work_center`` is the work center the new order waits for longest (None when it waits
    for none: then its release date or its own processing time binds).
    """
    settings = settings or ScheduleSettings()
    if new_order.qty <= 0:
        raise InvalidInputError(
            f"quantity must be positive, got {new_order.qty}", {"qty": str(new_order.qty)}
        )
    if new_order.item not in plant.items and new_order.item not in plant.routings:
        raise InvalidInputError(f"unknown item {new_order.item}", {"item": new_order.item})
    if any(order.id == new_order.id for order in orders):
        raise InvalidInputError(f"order id {new_order.id} is already used", {"order": new_order.id})
    started = clock.perf_counter()
    if baseline is None:
        baseline = schedule_orders(
            plant, orders, replace(settings, time_limit_seconds=settings.time_limit_seconds * 0.4)
        )
    remaining = max(settings.time_limit_seconds - (clock.perf_counter() - started), 0.1)
    what_if = new_order.as_order()
    data = replace(
        _prepare_data(plant, [*orders, what_if], replace(settings, time_limit_seconds=remaining)),
        objective_orders=frozenset({new_order.id}),
    )
    before = {outcome.order: outcome for outcome in baseline.orders}
    fixed = {(op.order, op.seq): op.start_minute for op in baseline.operations if op.order in data.orders}
    protected = {
        oid: before[oid].completion_minute
        for oid in before
        if oid in data.orders and before[oid].priority <= new_order.priority
    }
    pinned = {key: minute for key, minute in fixed.items() if key[0] in protected} if keep_slots else None
    schedule = _run(data, fixed=fixed, not_later_than=protected, pinned=pinned)
    outcome = schedule.order(new_order.id)
    impacts = tuple(
        OrderImpact(
            order=o.order,
            priority=o.priority,
            completion_before=before[o.order].completion_date,
            completion_after=o.completion_date,
            slip_minutes=o.completion_minute - before[o.order].completion_minute,
            late_after=not o.on_time,
        )
        for o in schedule.orders
        if o.order in before and o.completion_minute > before[o.order].completion_minute
    )
    return NewOrderEvaluation(
        order=new_order.id,
        completion_date=outcome.completion_date,
        finish=outcome.finish,
        binding=outcome.binding,
        binding_work_center=outcome.binding_work_center,
        waits=tuple(op for op in schedule.operations if op.order == new_order.id),
        impacts=impacts,
        schedule=schedule,
        baseline=baseline,
    )


@dataclass(frozen=True, slots=True)
class PlannedOperation:
    """An operation of an order put into a plan (see ``CapacityPlan``), with the working minutes it waited."""

    order: str
    seq: int
    item: str
    work_center: str
    start: datetime
    end: datetime
    start_minute: int
    end_minute: int
    wait_minutes: int


@dataclass(frozen=True)
class PlanStep:
    """One new order put into a plan: the plan with it, and when and why it completes."""

    plan: CapacityPlan
    order: str
    completion_date: date
    completion_minute: int
    finish: datetime | None
    binding: Binding
    binding_work_center: str | None
    operations: tuple[PlannedOperation, ...]


@dataclass(frozen=True)
class Insertion:
    """A new order put into a schedule's free capacity without the solver (see ``insert_new_order``)."""

    evaluation: NewOrderEvaluation
    profile: CapacityProfile  # the work centers' busy time with the new order, for the next insertion


def capacity_profile(plant: Plant, schedule: Schedule) -> CapacityProfile:
    """When each work center is busy in ``schedule``, on its own axis of working minutes (see ``CapacityProfile``)."""
    day_minutes = schedule.axis.day_minutes
    windows: dict[str, int] = {}
    spans: dict[str, list[BusySpan]] = {}
    for op in schedule.operations:
        window = windows.get(op.work_center)
        if window is None:
            window = windows[op.work_center] = window_minutes(plant.work_centers[op.work_center])
        start = work_minute_at(op.start_minute, day_minutes, window)
        spans.setdefault(op.work_center, []).append(
            BusySpan(start, start + op.duration_minutes, op.order, op.seq)
        )
    return CapacityProfile({code: wc.machines for code, wc in plant.work_centers.items()}, spans)


@dataclass(frozen=True, slots=True)
class _OpInfo:
    order: str
    seq: int
    work_center: str
    duration: int
    window: int


class _PlanBase:
    """What the plans grown from one schedule share: the schedule, its orders and their operations."""

    def __init__(self, plant: Plant, orders: Sequence[ScheduleOrder], schedule: Schedule) -> None:
        self.plant = plant
        self.axis = schedule.axis
        self.schedule = schedule
        self.by_id = {order.id: order for order in orders}
        self.children: dict[str, list[str]] = {}
        for order in orders:
            if order.parent is not None:
                self.children.setdefault(order.parent, []).append(order.id)
        self.windows = {code: window_minutes(wc) for code, wc in plant.work_centers.items()}
        self.before = {outcome.order: outcome for outcome in schedule.orders}
        self.ops: dict[OpKey, _OpInfo] = {}
        self.start: dict[OpKey, int] = {}
        self.end: dict[OpKey, int] = {}
        self.last: dict[str, OpKey] = {}  # each order's last operation
        self.first: dict[str, OpKey] = {}
        for op in schedule.operations:
            key = (op.order, op.seq)
            self.ops[key] = _OpInfo(
                op.order, op.seq, op.work_center, op.duration_minutes, self.windows[op.work_center]
            )
            self.start[key] = op.start_minute
            self.end[key] = op.end_minute
            if op.order not in self.last or op.seq > self.last[op.order][1]:
                self.last[op.order] = key
            if op.order not in self.first or op.seq < self.first[op.order][1]:
                self.first[op.order] = key
        self.previous: dict[OpKey, OpKey] = {}
        self.following: dict[OpKey, OpKey] = {}
        by_order: dict[str, list[OpKey]] = {}
        for key in self.ops:
            by_order.setdefault(key[0], []).append(key)
        for keys in by_order.values():
            keys.sort(key=lambda k: k[1])
            for a, b in pairwise(keys):
                self.following[a], self.previous[b] = b, a
        self._classes: dict[int, tuple[frozenset[str], frozenset[str]]] = {}

    def classes(self, priority: int) -> tuple[frozenset[str], frozenset[str]]:
        """Orders of lower priority than ``priority``: those free to give way, and those bound to feed a
        protected order in time (through their parent orders)."""
        found = self._classes.get(priority)
        if found is None:
            found = self._classes[priority] = _giving_way(self.by_id, self.before, priority)
        return found


class CapacityPlan:
    """A schedule that new orders are put into one by one without the solver (``insert``), under the rule of
    ``insert_new_order``: protected orders keep their slots, orders of lower priority give way by a right shift.

    A plan is kept as changes to the schedule it grew from, so an insertion costs what it moves; ``schedule``
    makes the full schedule. Plans are not changed: ``insert`` returns a new one.
    """

    def __init__(
        self,
        plant: Plant,
        orders: Sequence[ScheduleOrder],
        schedule: Schedule,
        profile: CapacityProfile | None = None,
    ) -> None:
        self._base = _PlanBase(plant, orders, schedule)
        self.profile = profile or capacity_profile(plant, schedule)
        self._start: dict[OpKey, int] = {}  # operations moved or added, plant axis
        self._end: dict[OpKey, int] = {}
        self._completion: dict[str, tuple[int, date]] = {}  # orders whose completion moved (minute, date)
        self._new: tuple[tuple[_OrderData, tuple[PlannedOperation, ...]], ...] = ()
        self._new_max_priority = 0  # the least important of ``_new`` (highest number)
        self._new_ops: dict[OpKey, _OpInfo] = {}
        self._new_previous: dict[OpKey, OpKey] = {}
        self._new_following: dict[OpKey, OpKey] = {}

    @property
    def baseline(self) -> Schedule:
        """The schedule the plan grew from."""
        return self._base.schedule

    def _derived(self) -> CapacityPlan:
        plan = CapacityPlan.__new__(CapacityPlan)
        plan._base = self._base
        plan.profile = self.profile
        plan._start = dict(self._start)
        plan._end = dict(self._end)
        plan._completion = dict(self._completion)
        plan._new = self._new
        plan._new_max_priority = self._new_max_priority
        plan._new_ops = dict(self._new_ops)
        plan._new_previous = dict(self._new_previous)
        plan._new_following = dict(self._new_following)
        return plan

    # ---- reading

    def _info(self, key: OpKey) -> _OpInfo:
        info = self._base.ops.get(key)
        return info if info is not None else self._new_ops[key]

    def start(self, key: OpKey) -> int:
        found = self._start.get(key)
        return found if found is not None else self._base.start[key]

    def end(self, key: OpKey) -> int:
        found = self._end.get(key)
        return found if found is not None else self._base.end[key]

    def completion(self, order_id: str) -> tuple[int, date]:
        """When an order of the plan completes: axis minute and working date."""
        found = self._completion.get(order_id)
        if found is not None:
            return found
        outcome = self._base.before[order_id]
        return outcome.completion_minute, outcome.completion_date

    def delays(self) -> tuple[OrderImpact, ...]:
        """Orders of the baseline that complete later in this plan."""
        out = []
        for oid, (minute, day) in self._completion.items():
            old = self._base.before.get(oid)
            if old is not None and minute > old.completion_minute:
                due_end = self._base.axis.end_of_day_minute(old.due) if old.due else None
                out.append(
                    OrderImpact(
                        order=oid,
                        priority=old.priority,
                        completion_before=old.completion_date,
                        completion_after=day,
                        slip_minutes=minute - old.completion_minute,
                        late_after=due_end is not None and minute > due_end,
                    )
                )
        return tuple(out)

    # ---- inserting

    def insert(self, new_order: NewOrder) -> PlanStep | None:
        """Put ``new_order`` in (see ``insert_new_order``); None when only the solver can tell."""
        base = self._base
        plant, axis = base.plant, base.axis
        if new_order.qty <= 0:
            raise InvalidInputError(
                f"quantity must be positive, got {new_order.qty}", {"qty": str(new_order.qty)}
            )
        if new_order.item not in plant.items and new_order.item not in plant.routings:
            raise InvalidInputError(f"unknown item {new_order.item}", {"item": new_order.item})
        if new_order.id in base.by_id or new_order.id in self._completion:  # (new orders complete there too)
            raise InvalidInputError(f"order id {new_order.id} is already used", {"order": new_order.id})
        day_minutes = axis.day_minutes
        free, bounded = base.classes(new_order.priority)
        # Orders added to the plan before are as important as they are; those of lower priority give way too.
        later = (
            {data.order.id for data, _ in self._new if data.order.priority > new_order.priority}
            if self._new_max_priority > new_order.priority
            else set()
        )
        if later:
            free = free | later
        what_if = _order_data(
            plant,
            axis,
            new_order.as_order(),
            (),
            {},
        )

        def giving_way(span: BusySpan) -> bool:
            return span.order in free

        starts: dict[OpKey, int] = {}
        ends: dict[OpKey, int] = {}
        added: list[tuple[str, BusySpan]] = []
        earliest = what_if.release_minute
        for op in what_if.ops:
            ready = work_minute_at(earliest, day_minutes, op.window)
            start = self.profile.earliest_fit(op.work_center, ready, op.duration, skip=giving_way)
            if start > ready and any(
                s.order in bounded and s.start < start + op.duration and s.end > ready
                for s in self.profile.spans(op.work_center)
            ):
                return None
            added.append((op.work_center, BusySpan(start, start + op.duration, new_order.id, op.key[1])))
            starts[op.key] = plant_minute_of(start, day_minutes, op.window)
            ends[op.key] = _end_of(op, starts[op.key], day_minutes)
            earliest = ends[op.key]
        plan = self._derived()
        for op in what_if.ops:
            plan._new_ops[op.key] = _OpInfo(new_order.id, op.key[1], op.work_center, op.duration, op.window)
            plan._start[op.key] = starts[op.key]
            plan._end[op.key] = ends[op.key]
        for a, b in pairwise(op.key for op in what_if.ops):
            plan._new_following[a], plan._new_previous[b] = b, a
        moved = plan._give_way(free, added)
        plan.profile = self.profile.with_spans(
            [*added, *moved], removed=[(code, s.order, s.seq) for code, s in moved]
        )
        if what_if.ops:
            last = what_if.ops[-1].key
            completion = ends[last] + what_if.lead_delay_minutes
        else:
            completion = _unrouted_ready(what_if) + what_if.lead_delay_minutes
        machines = dict.fromkeys(starts, 0)  # numbered when the plan is made a schedule
        ops, outcome = _order_result(
            axis,
            what_if,
            starts,
            ends,
            machines,
            what_if.release_minute,
            completion,
            0,
        )
        planned = tuple(
            PlannedOperation(
                o.order,
                o.seq,
                o.item,
                o.work_center,
                o.start,
                o.end,
                o.start_minute,
                o.end_minute,
                o.wait_minutes,
            )
            for o in ops
        )
        plan._new = (*self._new, (what_if, planned))
        plan._new_max_priority = max(self._new_max_priority, new_order.priority)
        plan._completion[new_order.id] = (completion, outcome.completion_date)
        return PlanStep(
            plan=plan,
            order=new_order.id,
            completion_date=outcome.completion_date,
            completion_minute=completion,
            finish=outcome.finish,
            binding=outcome.binding,
            binding_work_center=outcome.binding_work_center,
            operations=planned,
        )

    def _give_way(
        self, free: set[str] | frozenset[str], added: list[tuple[str, BusySpan]]
    ) -> list[tuple[str, BusySpan]]:
        """Right-shift the operations of the ``free`` orders that the ``added`` spans displace (see
        ``insert_new_order``): in the order they start, each keeps its start if it still fits there after what
        comes before it, else takes the next time its work center has room. Only the operations something moved
        into, or whose predecessor or sub-assembly moved, are looked at. Returns the moved operations' spans at
        their new places."""
        base = self._base
        profile = self.profile
        new_on: dict[str, list[BusySpan]] = {}
        for code, span in added:
            new_on.setdefault(code, []).append(span)
        if not any(
            CapacityProfile.peak(
                [*profile.overlapping(code, span.start, span.end), *spans], span.start, span.end
            )
            > profile.machines.get(code, 1)
            for code, spans in new_on.items()
            for span in spans
        ):
            return []  # the new order fits in free time: nobody moves
        day_minutes = base.axis.day_minutes
        positions: dict[OpKey, tuple[int, str, OpKey]] = {}

        def position(key: OpKey) -> tuple[int, str, OpKey]:
            # Where it comes in start order before this insertion (read before it may move).
            found = positions.get(key)
            if found is None:
                found = positions[key] = (self.start(key), self._info(key).work_center, key)
            return found

        heap: list[tuple[tuple[int, str, OpKey], OpKey]] = []
        queued: set[OpKey] = set()

        def push(key: OpKey) -> None:
            if key[0] in free and key not in queued:
                queued.add(key)
                heapq.heappush(heap, (position(key), key))

        for code, spans in new_on.items():
            for span in spans:
                for other in profile.overlapping(code, span.start, span.end):
                    push((other.order, other.seq))
        shifted: set[OpKey] = set()
        moved: list[tuple[str, BusySpan]] = []
        current: tuple[int, str, OpKey] = (0, "", ("", 0))

        def ignored(span: BusySpan) -> bool:
            # Operations that come later are placed after it; those that moved count where they went.
            key = (span.order, span.seq)
            return span.order in free and (key in shifted or position(key) >= current)

        while heap:
            current, key = heapq.heappop(heap)
            info = self._info(key)
            oid = info.order
            old_start = self.start(key)
            before = self._predecessor(key)
            if before is not None:
                need = max(old_start, self.end(before))
            else:
                kids = [self.completion(kid)[0] for kid in base.children.get(oid, ()) if kid in base.before]
                need = max([old_start, *kids])
            start = work_minute_at(old_start, day_minutes, info.window)
            changed = new_on.get(info.work_center, ())
            if need == old_start and not any(
                s.start < start + info.duration and s.end > start for s in changed
            ):
                continue
            fit = profile.earliest_fit(
                info.work_center,
                work_minute_at(need, day_minutes, info.window),
                info.duration,
                skip=ignored,
                extra=changed,
            )
            if fit == start:
                continue
            shifted.add(key)
            span = BusySpan(fit, fit + info.duration, oid, info.seq)
            new_on.setdefault(info.work_center, []).append(span)
            moved.append((info.work_center, span))
            new_start = plant_minute_of(fit, day_minutes, info.window)
            new_end = _end_at(new_start, info.duration, info.window, day_minutes)
            self._start[key], self._end[key] = new_start, new_end
            following = self._successor(key)
            if following is not None:
                push(following)
            else:
                lead = self._lead(oid)
                self._completion[oid] = (
                    new_end + lead,
                    base.axis.date_of_day(base.axis.finish_day(new_start, new_end) + lead // day_minutes),
                )
                self._ripple(oid, free, push)
            for other in profile.overlapping(info.work_center, fit, fit + info.duration):
                other_key = (other.order, other.seq)
                if other_key not in shifted and position(other_key) > current:
                    push(other_key)
        return moved

    def _predecessor(self, key: OpKey) -> OpKey | None:
        found = self._base.previous.get(key)
        return found if found is not None else self._new_previous.get(key)

    def _successor(self, key: OpKey) -> OpKey | None:
        found = self._base.following.get(key)
        return found if found is not None else self._new_following.get(key)

    def _ripple(self, oid: str, free: set[str] | frozenset[str], push: Callable[[OpKey], None]) -> None:
        """``oid`` completes later: the order it feeds starts later (one without operations completes later)."""
        base = self._base
        order = base.by_id.get(oid)
        parent = order.parent if order is not None else None
        if parent is None or parent not in free:
            return
        first = base.first.get(parent)
        if first is not None:
            push(first)
            return
        # An order without operations is ready when its sub-assembly orders are (see _unrouted_ready).
        feeding = base.by_id[parent]
        release = base.axis.first_minute_on_or_after(feeding.release_date) if feeding.release_date else 0
        kids = [self.completion(kid)[0] for kid in base.children.get(parent, ()) if kid in base.before]
        lead = self._lead(parent)
        value = max([release + 1, *kids]) + lead
        if value == self.completion(parent)[0]:
            return
        day_minutes = base.axis.day_minutes
        self._completion[parent] = (
            value,
            base.axis.date_of_day((value - lead - 1) // day_minutes + lead // day_minutes),
        )
        self._ripple(parent, free, push)

    def _lead(self, oid: str) -> int:
        order = self._base.by_id.get(oid)
        item = self._base.plant.items.get(order.item) if order is not None else None
        return (item.lead_time_days if item else 0) * self._base.axis.day_minutes

    # ---- the schedule

    def schedule(self) -> Schedule:
        """The full schedule of the plan: the baseline with the new orders and the operations that moved."""
        started = clock.perf_counter()
        base = self._base
        plant, axis = base.plant, base.axis
        baseline = base.schedule
        moved_orders = {key[0] for key in self._start if key in base.ops} | {
            oid for oid in self._completion if oid in base.before
        }
        # Machines are numbered afterwards, as after a solve; only the work centers that changed are renumbered.
        touched = {self._info(key).work_center for key in self._start}
        spans_on: dict[str, list[tuple[OpKey, int, int]]] = {code: [] for code in touched}
        for key, info in base.ops.items():
            if info.work_center in touched:
                spans_on[info.work_center].append((key, self.start(key), self.end(key)))
        for key, info in self._new_ops.items():
            spans_on[info.work_center].append((key, self.start(key), self.end(key)))
        machine_of: dict[OpKey, int] = {}
        for code, found in spans_on.items():
            numbers = _assign_machines([(s, e) for _, s, e in found], plant.work_centers[code].machines)
            machine_of.update(zip((key for key, _, _ in found), numbers, strict=True))
        machine0 = {(op.order, op.seq): op.machine for op in baseline.operations}
        rebuilt_ops: list[ScheduledOperation] = []
        rebuilt: dict[str, OrderOutcome] = {}
        for oid in moved_orders:
            data = _order_data(plant, axis, base.by_id[oid], tuple(base.children.get(oid, ())), {})
            op_starts = {op.key: self.start(op.key) for op in data.ops}
            op_ends = {op.key: self.end(op.key) for op in data.ops}
            machines = {op.key: machine_of.get(op.key, machine0.get(op.key, 0)) for op in data.ops}
            kids = [self.completion(kid)[0] for kid in data.children if kid in base.before]
            ready = max([data.release_minute, *kids])
            completion = self.completion(oid)[0]
            due_end = data.due_end_minute
            tardiness = max(0, completion - due_end) if due_end is not None else 0
            ops, outcome = _order_result(
                axis, data, op_starts, op_ends, machines, ready, completion, tardiness
            )
            rebuilt_ops.extend(ops)
            rebuilt[oid] = outcome
        new_outcomes: list[OrderOutcome] = []
        new_ops: list[ScheduledOperation] = []
        for data, _ in self._new:
            completion = self.completion(data.order.id)[0]
            due_end = data.due_end_minute
            tardiness = max(0, completion - due_end) if due_end is not None else 0
            op_starts = {op.key: self.start(op.key) for op in data.ops}
            op_ends = {op.key: self.end(op.key) for op in data.ops}
            machines = {op.key: machine_of.get(op.key, 0) for op in data.ops}
            ops, outcome = _order_result(
                axis, data, op_starts, op_ends, machines, data.release_minute, completion, tardiness
            )
            new_ops.extend(ops)
            new_outcomes.append(outcome)
        operations = [
            op
            if machine_of.get((op.order, op.seq), op.machine) == op.machine
            else replace(op, machine=machine_of[(op.order, op.seq)])
            for op in baseline.operations
            if op.order not in moved_orders
        ]
        operations.extend(rebuilt_ops)
        operations.extend(new_ops)
        operations.sort(key=lambda o: (o.start_minute, o.work_center, o.machine, o.order, o.seq))
        outcomes = [rebuilt.get(o.order, o) for o in baseline.orders]
        outcomes.extend(new_outcomes)
        weighted = sum(priority_weight(o.priority) * o.tardiness_minutes for o in outcomes)
        last_ends = [self.end(base.last[o.order]) for o in outcomes if o.order in base.last] + [
            self.end(data.ops[-1].key) for data, _ in self._new if data.ops
        ]
        problems = [p for p in baseline.problems if p.order not in moved_orders]
        for oid, outcome in rebuilt.items():
            problems.extend(_problems_of(_order_data(plant, axis, base.by_id[oid], (), {}), outcome, axis))
        for (data, _), outcome in zip(self._new, new_outcomes, strict=True):
            problems.extend(_problems_of(data, outcome, axis))
        return Schedule(
            operations=tuple(operations),
            orders=tuple(outcomes),
            status="FEASIBLE",
            proven_optimal=False,
            objective=ScheduleObjective(weighted, max(last_ends, default=0), sum(last_ends)),
            phases=(),
            problems=tuple(problems),
            axis=axis,
            method="insertion",
            solve_seconds=clock.perf_counter() - started,
            time_to_best_seconds=0.0,
        )


def insert_new_order(
    plant: Plant,
    orders: Sequence[ScheduleOrder],
    new_order: NewOrder,
    baseline: Schedule,
    profile: CapacityProfile | None = None,
) -> Insertion | None:
    """``evaluate_new_order(..., keep_slots=True)`` without the solver, where the answer is exact; else None.

    Orders as important as the new one or more keep their slots, and so do orders of lower priority that feed
    one of them (through sub-assembly orders). Each operation of the new order, in routing order from its
    earliest start, takes the earliest time its work center has a machine free for all of it among those
    orders: since the other orders (of lower priority) can always give way, no schedule completes the new order
    sooner, which is the solver's first goal. Orders of lower priority that then overlap give way by a right
    shift: their operations, in the order they start in ``baseline``, keep their start where they still fit and
    otherwise take the next time their work center has room (their later operations and parent orders follow),
    so an order only moves later, and only because of the new order; the solver would instead re-optimize all of
    them (its later goals), and may list other orders as impacts. Returns None when the new order would wait for
    an order that may itself move within a bound (an order of lower priority feeding a protected one): only the
    solver can tell then. ``profile`` is ``capacity_profile(plant, baseline)`` if known. ``CapacityPlan`` does
    the same for several new orders in turn, without making the full schedule each time.
    """
    step = CapacityPlan(plant, orders, baseline, profile).insert(new_order)
    if step is None:
        return None
    schedule = step.plan.schedule()
    evaluation = NewOrderEvaluation(
        order=step.order,
        completion_date=step.completion_date,
        finish=step.finish,
        binding=step.binding,
        binding_work_center=step.binding_work_center,
        waits=tuple(op for op in schedule.operations if op.order == step.order),
        impacts=step.plan.delays(),
        schedule=schedule,
        baseline=baseline,
    )
    return Insertion(evaluation, step.plan.profile)


def _giving_way(
    by_id: Mapping[str, ScheduleOrder], before: Mapping[str, OrderOutcome], priority: int
) -> tuple[frozenset[str], frozenset[str]]:
    """Orders of lower priority than ``priority``: those free to give way, and those bound to feed a protected
    order in time (through their parent orders)."""
    protected: dict[str, bool] = {}

    def feeds_protected(oid: str) -> bool:
        # Whether the order or one it feeds (parent, grandparent…) is protected; parent chains are acyclic.
        chain = []
        found = False
        current: str | None = oid
        while current is not None and current not in protected:
            chain.append(current)
            outcome = before.get(current)
            if outcome is not None and outcome.priority <= priority:
                found = True
                break
            order = by_id.get(current)
            current = order.parent if order is not None else None
        if not found and current is not None:
            found = protected[current]
        for oid_on_chain in chain:
            protected[oid_on_chain] = found
        return found

    free: set[str] = set()
    bounded: set[str] = set()
    for oid, outcome in before.items():
        if outcome.priority <= priority:
            continue
        order = by_id.get(oid)
        parent = order.parent if order is not None else None
        (bounded if parent is not None and feeds_protected(parent) else free).add(oid)
    return frozenset(free), frozenset(bounded)


def _end_at(start: int, duration: int, window: int, day_minutes: int) -> int:
    """End on the plant axis of work of ``duration`` minutes starting at ``start`` on a work center open
    ``window`` minutes a day (the nights it spans included)."""
    if duration == 0 or window == day_minutes:
        return start + duration
    nights = (start % day_minutes + duration - 1) // window
    return start + duration + nights * (day_minutes - window)


def compute_work_center_load(schedule: Schedule, plant: Plant) -> tuple[WorkCenterDayLoad, ...]:
    """Booked vs available working minutes per work center per working day of the schedule (load chart)."""
    used = {op.work_center for op in schedule.operations}
    centers = {code: wc for code, wc in plant.work_centers.items() if code in used}
    return compute_daily_load(schedule.axis, centers, schedule.operations)


def collect_production_orders(plant: Plant) -> tuple[ScheduleOrder, ...]:
    """The plant's open production orders as orders to schedule (default priority, no release date or parent)."""
    return tuple(
        ScheduleOrder(id=s.id, item=s.item, qty=s.qty, due=s.due)
        for s in plant.supplies
        if s.kind is SupplyKind.PRODUCTION and s.qty > 0
    )
