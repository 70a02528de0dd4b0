"""Order promising (capable-to-promise): what can ship by the due date, when the rest can, why, and what would help.

How a promise is computed (CONTRACT.md ``promise_order``), on working-day indexes (0 = the first working day on or
after today; nothing is ever placed before it):

1. Existing commitments keep their supply: sales order lines of higher or equal priority (a lower or equal
   number; lines holding reservations always) and the components still to issue to open production orders, in
   due-date order. Each takes supply just in time: a commitment due on or after its item's cumulative lead time
   (it could be resupplied from scratch by then) holds nothing; otherwise it takes the latest existing supply
   on or before its due date, then later supply, and what is still missing is built from components (taken the
   same way) or bought.
2. The new order then takes what is left as early as possible, recursively through the BOM: free stock, open
   supply (production orders at their scheduled completion when capacity is checked), new purchases after lot
   rules and lead time, new builds once every component is there. A routed make item's production time comes
   from its routing on its work centers' capacity, plus its ``lead_time_days`` as an extra delay; an unrouted
   one takes its lead time. Builds go into the baseline schedule one after the other (so that they see each
   other): orders as important as the new one keep their slots, those of lower priority give way.
3. Lines of lower priority are then allocated again after it: those that complete later than without the new
   order are its impacts, with the production orders its builds push back.

Results are dates on the working calendar (output finished on a working day ships that day), pegged sources,
the binding constraints with their shortfall and the date each resolves, and levers (substitutes, partial
shipment, overtime, a higher priority) with their effect.

Capacity: the baseline schedule comes from CP-SAT (one worker, a seed, a time limit); a build is put into the
free capacity it leaves (``CapacityPlan``), which is exact unless it would wait for an order that could itself
move within a bound, and only then does CP-SAT evaluate it (``evaluate_new_order`` under the same rule). Solver
time is bounded by a budget per call; past it, builds fall back to their infinite-capacity lead time and a
problem record says so.

Speed: promises on one unchanged snapshot share a ``PromiseMemo`` (baseline schedule, the commitments'
allocation per priority, solved builds, lead times). The allocation of the lines of lower priority without the
new order is traced call by call, so that after it only the calls that read an item the new order changed are
walked again; the answers are those of allocating every line again.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
import threading
import time as clock
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, KeysView, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from operator import attrgetter

from planning.bom import BomIndex, EffectiveLine, bom_index
from planning.calendar import Calendar
from planning.capacity import window_minutes
from planning.errors import InfeasibleError, InvalidInputError
from planning.lot_sizing import LotSizingRule, is_countable, size_lots
from planning.model import ZERO, Demand, DemandKind, Item, Plant, Source, Supply, SupplyKind
from planning.scheduling import (
    Binding,
    CapacityPlan,
    NewOrder,
    OrderStatus,
    Schedule,
    ScheduleOrder,
    ScheduleSettings,
    collect_production_orders,
    evaluate_new_order,
    retime_schedule,
    schedule_orders,
)

# Quantities closer than this are equal (ratios of substitutes are divided out in Decimal arithmetic).
_TOLERANCE = Decimal("1e-9")

# ------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class PromiseRequest:
    """``qty`` of ``item`` wanted on ``due_date``; ``id`` names the demand in pegging (a sales order line's id
    ``SO-1/1`` for an existing line, which is then left out of the commitments)."""

    item: str
    qty: Decimal
    due_date: date
    priority: int = 5  # lower number = more important
    id: str = "NEW"


@dataclass(frozen=True, slots=True)
class ReservedSupply:
    """``qty`` of ``item`` from ``supply`` ("stock" or an open order's id) set aside for the sales order line
    ``demand``: nobody else may take it, and the line, covered by it, is not allocated again."""

    demand: str
    item: str
    supply: str
    qty: Decimal


@dataclass(frozen=True)
class PromiseSettings:
    """How a promise is computed.

    ``capacity_budget_seconds`` bounds all CP-SAT work of one call (baseline schedule, what-ifs, levers);
    ``schedule`` sets the seed, the workers and the baseline schedule's time limit; each what-if of a new
    build stops after ``evaluation_time_limit_seconds`` (``lever_time_limit_seconds`` for levers), cut to what
    is left of the budget. Builds put into free capacity without the solver take none of it. A what-if's first
    goal, the new build's completion, is found in milliseconds; the rest of its time only re-arranges the other
    orders (their impacts). One worker and a seed make a promise repeat whenever the solver proves its steps
    within those limits.
    """

    check_capacity: bool = True
    capacity_budget_seconds: float = 5.0
    schedule: ScheduleSettings = field(
        default_factory=lambda: ScheduleSettings(time_limit_seconds=1.0, random_seed=0, num_workers=1)
    )
    evaluation_time_limit_seconds: float = 0.5
    levers: bool = True
    lever_time_limit_seconds: float = 0.25
    # A build of the promised item itself may be split so that what capacity allows by the due date ships then.
    split_on_capacity: bool = True


# ------------------------------------------------------------------------------------------------ results


class SourceKind(StrEnum):
    STOCK = "stock"  # free stock, net of commitments
    OPEN_SUPPLY = "open_supply"  # an open purchase, production or subcontract order (or goods in inspection)
    PLANNED_SURPLUS = "planned_surplus"  # the lot-size surplus of a new order planned for this promise
    PURCHASE = "purchase"  # a new purchase order
    PRODUCTION = "production"  # a new production order
    SUBCONTRACT = "subcontract"  # a new subcontract order


class ConstraintKind(StrEnum):
    LEAD_TIME = "lead_time"  # a new purchase or subcontract order cannot arrive sooner
    OPEN_SUPPLY = "open_supply"  # waiting for an open order due later
    CAPACITY = "capacity"  # a work center is busy with other orders
    PRODUCTION_TIME = "production_time"  # the item's own processing and lead time, from the earliest start
    DUE_IN_PAST = "due_in_past"  # the requested date is before today


class ImpactKind(StrEnum):
    SALES_ORDER = "sales_order"  # a sales order line that would complete later
    PRODUCTION_ORDER = "production_order"  # a production order pushed back on a work center


class LeverKind(StrEnum):
    PARTIAL_SHIPMENT = "partial_shipment"
    USE_SUBSTITUTE = "use_substitute"
    OVERTIME = "overtime"
    RAISE_PRIORITY = "raise_priority"


@dataclass(frozen=True, slots=True)
class PromiseLine:
    qty: Decimal
    date: date


@dataclass(frozen=True, slots=True)
class CapacitySlot:
    """One operation of a new production order on a work center (a bar of the Gantt chart)."""

    order: str
    item: str
    seq: int
    work_center: str
    start: datetime
    end: datetime
    wait_minutes: int  # working minutes it waited for the work center


@dataclass(frozen=True, slots=True)
class PromiseSource:
    """``qty`` of ``item`` from one supply, pegged to the promise (``parent`` is the item it is built into)."""

    level: int  # 0: the promised item itself
    item: str
    parent: str | None
    kind: SourceKind
    qty: Decimal
    available_date: date
    ref: str  # "stock", the open order's id, or the id of the new order planned here
    order_qty: Decimal  # the whole supply: open quantity, or the new order's quantity after lot rules
    release_date: date | None = None  # new orders: when to place or start it
    lead_time_days: int | None = None
    substitute_for: str | None = None  # the BOM component this substitute stands in for
    operations: tuple[CapacitySlot, ...] = ()


@dataclass(frozen=True, slots=True)
class BindingConstraint:
    """Why part of the order is late: ``shortfall_qty`` of ``item`` is missing on ``need_date`` until
    ``resolves_on``. ``critical`` constraints decide the date of the late part of the promise."""

    kind: ConstraintKind
    item: str
    shortfall_qty: Decimal
    need_date: date
    resolves_on: date
    critical: bool
    lead_time_days: int | None = None
    work_center: str | None = None
    supply: str | None = None
    wait_minutes: int = 0


@dataclass(frozen=True, slots=True)
class PromiseImpact:
    """An existing order that would complete later if the new order were accepted."""

    kind: ImpactKind
    order: str  # sales order line ("SO-1/1") or production order id
    item: str
    qty: Decimal
    priority: int
    due: date | None
    date_before: date
    date_after: date
    late_after: bool


@dataclass(frozen=True, slots=True)
class PromiseProblem:
    """Something the promise could not take fully into account, with its cause."""

    kind: str  # capacity_not_checked | unknown_item
    item: str
    message: str


@dataclass(frozen=True, slots=True)
class LeverLine:
    item: str
    qty: Decimal
    qty_by_due: Decimal
    earliest_full_date: date
    promise: tuple[PromiseLine, ...]


@dataclass(frozen=True)
class Lever:
    """What it would take: the promise with one change (effect per line and for the whole order)."""

    kind: LeverKind
    on_time: bool
    earliest_full_date: date
    lines: tuple[LeverLine, ...]
    substitutes: tuple[str, ...] = ()  # substitute items the promise would use
    work_center: str | None = None
    overtime_hours_per_day: Decimal = ZERO
    priority: int | None = None
    impacts: tuple[PromiseImpact, ...] = ()

    @property
    def qty_by_due(self) -> Decimal:
        return sum((line.qty_by_due for line in self.lines), ZERO)


@dataclass(frozen=True)
class PromiseResult:
    """The answer for one line: on time or not, the split promise, its sources, what binds and what would help."""

    request: PromiseRequest
    on_time: bool
    promise: tuple[PromiseLine, ...]  # qty by the due date, then the rest on the earliest date
    qty_by_due: Decimal
    earliest_full_date: date
    deliveries: tuple[PromiseLine, ...]  # when each part becomes available (for partial shipments)
    sources: tuple[PromiseSource, ...]
    binding_constraints: tuple[BindingConstraint, ...]
    impacts: tuple[PromiseImpact, ...]
    levers: tuple[Lever, ...]
    capacity_checked: bool
    problems: tuple[PromiseProblem, ...]


@dataclass(frozen=True)
class OrderPromise:
    """Several lines promised together (shared components counted once), with the order's impacts and levers."""

    lines: tuple[PromiseResult, ...]
    priority: int
    on_time: bool
    earliest_full_date: date  # every line complete
    impacts: tuple[PromiseImpact, ...]
    levers: tuple[Lever, ...]
    capacity_checked: bool
    problems: tuple[PromiseProblem, ...]


# ------------------------------------------------------------------------------------------- working days


class _Days:
    """Working-day indexes: 0 is the first working day on or after today."""

    def __init__(self, calendar: Calendar, today: date) -> None:
        self.calendar = calendar
        self.today = today
        self.origin = calendar.next_workday(today)
        self._dates = [self.origin]

    def _extend_to(self, day: date) -> None:
        dates = self._dates
        while dates[-1] < day:
            dates.append(self.calendar.next_workday(dates[-1] + timedelta(days=1)))

    def date_of(self, index: int) -> date:
        if index < 0:
            return self.calendar.subtract_workdays(self.origin, -index)
        dates = self._dates
        while len(dates) <= index:
            dates.append(self.calendar.next_workday(dates[-1] + timedelta(days=1)))
        return dates[index]

    def available(self, day: date) -> int:
        """Index of the first working day on or after ``day`` (never before today): when supply can be used."""
        if day <= self.origin:
            return 0
        self._extend_to(day)
        return bisect.bisect_left(self._dates, day)

    def needed(self, day: date) -> int:
        """Index of the last working day on or before ``day``: output ready then counts as on time."""
        if day >= self.origin:
            self._extend_to(day)
            return bisect.bisect_right(self._dates, day) - 1
        return -self.calendar.workdays_between(self.calendar.previous_workday(day), self.origin)


# -------------------------------------------------------------------------------------------------- ledger


@dataclass(slots=True)
class _Lot:
    day: int
    qty: Decimal  # still free
    kind: SourceKind
    ref: str
    order_qty: Decimal


_DAY = attrgetter("day")


class _Trace:
    """What a ledger gave: every take (lot position and quantity) per item, tagged with the call that made it
    (``tag``), and, if wanted, the items read."""

    def __init__(self, *, reads: bool = False) -> None:
        self.tag = 0
        self.takes: dict[str, list[tuple[int, int, Decimal]]] = {}  # per item: (tag, lot position, qty)
        self.reads: set[str] | None = set() if reads else None

    def read(self, code: str) -> None:
        if self.reads is not None:
            self.reads.add(code)

    def took(self, code: str, position: int, qty: Decimal) -> None:
        self.takes.setdefault(code, []).append((self.tag, position, qty))


class _Ledger:
    """Free supply per item (stock, open orders, surplus of new orders), built per item on first use.

    A ledger made ``over`` another starts as a copy of it, item by item when it first reads one: the ledger
    under it must not change any more. With a ``trace``, reads and takes are recorded; a ``replay`` is applied to
    an item's lots when the ledger first reads it.
    """

    def __init__(self, build: Callable[[str], list[_Lot]], over: _Ledger | None = None) -> None:
        self._build = build
        self._over = over
        self._lots: dict[str, list[_Lot]] = {}
        self._empty: set[str] = set()  # items none of whose lots has anything left
        self.trace: _Trace | None = None
        self.replay: Callable[[str, list[_Lot]], None] | None = None

    def lots(self, code: str) -> list[_Lot]:
        lots = self._lots.get(code)
        if lots is None:
            lots = self.initial(code)
            if self.replay is not None:
                self.replay(code, lots)
            self._lots[code] = lots
            if not any(lot.qty > 0 for lot in lots):
                self._empty.add(code)
        return lots

    def has_free(self, code: str) -> bool:
        """Whether any lot of ``code`` has something left (whatever its day)."""
        if self.replay is None and code not in self._lots:
            # Asked of the ledger under this one, without a copy of the lots: nothing is taken from them here.
            under = self._over
            while under is not None:
                if code in under._lots:
                    return code not in under._empty
                under = under._over
        self.lots(code)
        return code not in self._empty

    def initial(self, code: str) -> list[_Lot]:
        """A copy of ``code``'s lots as the ledger under this one holds them (or as built)."""
        under = self._over
        while under is not None:
            source = under._lots.get(code)
            if source is not None:
                return [_Lot(x.day, x.qty, x.kind, x.ref, x.order_qty) for x in source]
            under = under._over
        return self._build(code)

    def lots_as_held(self, code: str) -> list[_Lot] | None:
        """``code``'s lots as this ledger (or one under it) holds them, without reading them anew."""
        ledger: _Ledger | None = self
        while ledger is not None:
            found = ledger._lots.get(code)
            if found is not None:
                return found
            ledger = ledger._over
        return None

    def touched(self) -> KeysView[str]:
        """Items this ledger has read (those it holds its own lots for), as a live view."""
        return self._lots.keys()

    def forget(self, code: str) -> None:
        """Drop this ledger's own lots of ``code`` (they are as they would be read again)."""
        del self._lots[code]
        self._empty.discard(code)

    def free(self, code: str, upto: int) -> Decimal:
        return sum((lot.qty for lot in self.lots(code) if lot.day <= upto), ZERO)

    def take(
        self, code: str, qty: Decimal, upto: int, *, after: int | None = None, latest_first: bool = False
    ) -> list[tuple[_Lot, Decimal]]:
        """Take up to ``qty`` from lots available on days (``after``, ``upto``], earliest (or latest) first."""
        if qty <= 0:
            return []
        lots = self.lots(code)
        trace = self.trace
        if trace is not None:
            trace.read(code)
        taken = []
        # Lots are in day order: those of days (after, upto] are positions [lo, hi).
        hi = bisect.bisect_right(lots, upto, key=_DAY)
        lo = 0 if after is None else bisect.bisect_right(lots, after, 0, hi, key=_DAY)
        for position in range(hi - 1, lo - 1, -1) if latest_first else range(lo, hi):
            lot = lots[position]
            if lot.qty <= 0:
                continue
            q = min(lot.qty, qty)
            lot.qty -= q
            qty -= q
            taken.append((lot, q))
            if trace is not None:
                trace.took(code, position, q)
            if qty <= 0:
                break
        if taken and not any(lot.qty > 0 for lot in lots):
            self._empty.add(code)
        return taken

    def take_ref(self, code: str, ref: str, qty: Decimal) -> list[tuple[_Lot, Decimal]]:
        """Take up to ``qty`` from the lots of one supply ("stock" or an order id)."""
        taken = []
        for lot in self.lots(code):
            if qty <= 0:
                break
            if lot.ref == ref and lot.qty > 0:
                q = min(lot.qty, qty)
                lot.qty -= q
                qty -= q
                taken.append((lot, q))
        if taken and not any(lot.qty > 0 for lot in self.lots(code)):
            self._empty.add(code)
        return taken

    def add(self, code: str, lot: _Lot) -> None:
        lots = self.lots(code)
        lots.append(lot)
        lots.sort(key=lambda x: (x.day, x.kind != SourceKind.STOCK, x.ref))
        if lot.qty > 0:
            self._empty.discard(code)


# ------------------------------------------------------------------------------------------------ capacity


class _Budget:
    """The CP-SAT time left for one promise call: baseline schedules and the what-ifs only the solver answers."""

    def __init__(self, seconds: float) -> None:
        self.left = seconds

    def take(self, wanted: float) -> float | None:
        return None if self.left < 0.05 else min(wanted, self.left)

    @contextmanager
    def spend(self) -> Iterator[None]:
        started = clock.perf_counter()
        try:
            yield
        finally:
            self.left -= clock.perf_counter() - started


_PLACEMENTS_KEPT = 4096  # solved what-ifs a capacity base keeps


class _CapacityBase:
    """Existing production orders on one plant's work centers: their baseline schedule, computed once (with the
    CP-SAT time the first call that needs it has left), and the what-ifs solved against it."""

    def __init__(
        self,
        plant: Plant,
        orders: Sequence[ScheduleOrder],
        settings: ScheduleSettings,
        baseline: Schedule | None = None,
    ) -> None:
        self.plant = plant
        self.orders = tuple(orders)
        self.settings = settings
        self._baseline = baseline
        self._infeasible = False
        self._completion: dict[str, date] = {}
        self._plan: CapacityPlan | None = None
        # What-ifs already solved, by the chain of new orders before them: levers and later promises re-run
        # the same builds. A chain is numbered by its last order and the chain before it (0: none).
        self.placements: OrderedDict[tuple, _Placement | None] = OrderedDict()  # least recently used first
        self.chains: dict[tuple[int, tuple], int] = {}
        self.numbers = itertools.count(1)

    def baseline(self, budget: _Budget) -> Schedule | None:
        if self._baseline is None and not self._infeasible:
            limit = budget.take(self.settings.time_limit_seconds)
            if limit is None:
                return None  # no time left in this call: a later one may still compute it
            try:
                with budget.spend():
                    self._baseline = schedule_orders(
                        self.plant, self.orders, replace(self.settings, time_limit_seconds=limit)
                    )
            except InfeasibleError:
                self._infeasible = True
                return None
            self._completion = {o.order: o.completion_date for o in self._baseline.orders}
        return self._baseline

    def orders_by_outcome(self) -> list[ScheduleOrder]:
        """The orders in the order of the baseline's outcomes (the baseline must be known)."""
        assert self._baseline is not None
        by_id = {o.id: o for o in self.orders}
        return [by_id[o.order] for o in self._baseline.orders]

    def completion(self, order_id: str, budget: _Budget) -> date | None:
        if self.baseline(budget) is None:
            return None
        if not self._completion and self._baseline is not None:
            self._completion = {o.order: o.completion_date for o in self._baseline.orders}
        return self._completion.get(order_id)

    def plan(self) -> CapacityPlan:
        """The baseline as a plan to put new orders into (the baseline must be known)."""
        if self._plan is None:
            assert self._baseline is not None
            self._plan = CapacityPlan(self.plant, self.orders, self._baseline)
        return self._plan


@dataclass(frozen=True, slots=True)
class _Placement:
    completion: date
    capacity_bound: bool
    work_center: str | None
    wait_minutes: int
    slots: tuple[CapacitySlot, ...]
    order: ScheduleOrder  # the new order as later evaluations see it
    plan: CapacityPlan  # the plan with it


class _CapacityChain:
    """New builds of one scenario, each evaluated against the plan that already holds the earlier ones.

    A build goes into the free capacity the plan leaves (``CapacityPlan.insert``: no solver) whenever that is
    exact; otherwise CP-SAT evaluates it under the same rule (orders as important keep their slots), within the
    time budget of the call.
    """

    def __init__(
        self, base: _CapacityBase, budget: _Budget, priority: int, time_limit_seconds: float
    ) -> None:
        self.base = base
        self.budget = budget
        self.priority = priority
        self.time_limit_seconds = time_limit_seconds
        self.orders: list[ScheduleOrder] = list(base.orders)
        self.current: CapacityPlan | None = None
        self.count = 0
        self.chain = 0  # the new orders committed so far (see ``_CapacityBase.chains``)

    def place(self, item: str, qty: Decimal, release: date, due: date | None) -> _Placement | None:
        """Where a new order of ``qty`` starting no earlier than ``release`` would go (not kept: see ``commit``)."""
        key = (self.priority, self.chain, item, qty, release, due)
        placements = self.base.placements
        if key in placements:
            placements.move_to_end(key)
            return placements[key]
        placement = self._evaluate(item, qty, release, due)
        if placement is not None:
            placements[key] = placement
            if (
                len(placements) > _PLACEMENTS_KEPT
            ):  # each holds a plan: memory stays bounded however many asks
                placements.popitem(last=False)
        return placement

    def _evaluate(self, item: str, qty: Decimal, release: date, due: date | None) -> _Placement | None:
        if self.current is None and self.base.baseline(self.budget) is None:
            return None
        plan = self.current or self.base.plan()
        order_id = f"NEW-{self.count + 1}"
        new = NewOrder(item, qty, self.priority, earliest_start=release, due=due, id=order_id)
        order = ScheduleOrder(
            order_id, item, qty, due, self.priority, OrderStatus.PLANNED, release_date=release
        )
        step = plan.insert(new)
        if step is not None:
            return _Placement(
                completion=step.completion_date,
                capacity_bound=step.binding is Binding.CAPACITY,
                work_center=step.binding_work_center,
                wait_minutes=sum(op.wait_minutes for op in step.operations),
                slots=tuple(
                    CapacitySlot(order_id, op.item, op.seq, op.work_center, op.start, op.end, op.wait_minutes)
                    for op in step.operations
                ),
                order=order,
                plan=step.plan,
            )
        limit = self.budget.take(self.time_limit_seconds)
        if limit is None:
            return None
        try:
            with self.budget.spend():
                ev = evaluate_new_order(
                    self.base.plant,
                    self.orders,
                    new,
                    replace(self.base.settings, time_limit_seconds=limit),
                    plan.schedule() if self.current is not None else plan.baseline,
                    keep_slots=True,
                )
        except InfeasibleError:
            return None
        slots = tuple(
            CapacitySlot(order_id, op.item, op.seq, op.work_center, op.start, op.end, op.wait_minutes)
            for op in ev.waits
        )
        return _Placement(
            completion=ev.completion_date,
            capacity_bound=ev.binding is Binding.CAPACITY,
            work_center=ev.binding_work_center,
            wait_minutes=sum(s.wait_minutes for s in slots),
            slots=slots,
            order=order,
            plan=CapacityPlan(self.base.plant, [*self.orders, order], ev.schedule),
        )

    def commit(self, placement: _Placement) -> None:
        """Keep a placement: later evaluations see its operations (only the last placement may be committed)."""
        self.count += 1
        self.orders.append(placement.order)
        self.current = placement.plan
        o = placement.order
        chains, link = self.base.chains, (self.chain, (o.item, o.qty, o.release_date, o.due))
        found = chains.get(link)
        if found is None:
            if len(chains) >= _PLACEMENTS_KEPT * 4:
                chains.clear()  # numbers are never reused: placements under the old ones just go unused
            found = chains[link] = next(self.base.numbers)
        self.chain = found

    def impacts(self, days: _Days) -> list[PromiseImpact]:
        """Existing production orders that complete later than in the baseline."""
        baseline = self.base.baseline(self.budget)
        if self.current is None or baseline is None:
            return []
        axis = baseline.axis
        out = []
        for x, old in zip(self.base.orders_by_outcome(), baseline.orders, strict=True):
            minute, day = self.current.completion(old.order)
            if day > old.completion_date:
                out.append(
                    PromiseImpact(
                        kind=ImpactKind.PRODUCTION_ORDER,
                        order=old.order,
                        item=old.item,
                        qty=x.qty,
                        priority=old.priority,
                        due=old.due,
                        date_before=old.completion_date,
                        date_after=day,
                        late_after=old.due is not None and minute > axis.end_of_day_minute(old.due),
                    )
                )
        return out


# ------------------------------------------------------------------------------------------------- context


@dataclass(frozen=True, slots=True)
class _Facts:
    """What the allocation asks of an item again and again."""

    builds: bool
    lead_time_days: int
    routed: bool
    lines: tuple[tuple[str, Decimal], ...]  # (component, quantity per parent) of its effective BOM


class _Snapshot:
    """What depends only on the inputs of a promise (plant, production orders, reservations), so that the
    promises on one snapshot share it: lead times per item, baseline schedules, commitments."""

    def __init__(
        self, plant: Plant, orders: Sequence[ScheduleOrder], reservations: Sequence[ReservedSupply]
    ) -> None:
        self.plant = plant
        self.orders = tuple(orders)
        self.reservations = tuple(reservations)
        self.index: BomIndex = bom_index(plant)
        self.days = _Days(plant.calendar, plant.today)
        self.supplies: dict[str, list[Supply]] = {}
        for supply in plant.supplies:
            if supply.qty > 0:
                self.supplies.setdefault(supply.item, []).append(supply)
        self.facts: dict[str, _Facts] = {}
        self.clt_unit: dict[str, int] = {}
        self.below: dict[str, int] = {}
        self.offsets: dict[tuple[str, Decimal], int] = {}
        self.bases: dict[tuple, _CapacityBase] = {}
        # Free lots per (baseline schedule id, item): the baselines are kept in ``bases`` as long as the snapshot.
        self.lots: dict[tuple[int, str], tuple[tuple[int, Decimal, SourceKind, str, Decimal], ...]] = {}
        self.protected: dict[tuple, _Protected] = {}
        self.named = frozenset(d.id for d in plant.demands) | {r.demand for r in self.reservations}


class PromiseMemo:
    """What consecutive promises on one unchanged snapshot share, so that all but the first are fast: the
    baseline schedule of the open production orders, the allocation of the commitments per priority, solved
    what-ifs and lead times per item.

    Make one per snapshot (e.g. keyed by the data versions and today) and pass it with every promise on that
    plant, with the same production orders and reservations; a promise on other inputs raises ``ValueError``.
    Answers are those of a promise without the memo, except that the baseline schedule is the one the first
    promise computed. Promises on one memo run one at a time (it holds a lock).
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._snapshot: _Snapshot | None = None

    def prepare(
        self,
        plant: Plant,
        *,
        production_orders: Sequence[ScheduleOrder] | None = None,
        settings: PromiseSettings | None = None,
        reservations: Iterable[ReservedSupply] = (),
        priorities: Iterable[int] | None = None,
    ) -> tuple[int, ...]:
        """Work out now what the promises on this snapshot will share: the baseline schedule, the allocation
        of the commitments for each of ``priorities`` (default: 1, for the raise-priority lever, and every
        priority the open sales order lines have), most important first, and (with levers) the schedule of
        each work center on overtime. The lock is taken per step, so promises asked meanwhile wait for one
        step at most. Returns the priorities prepared."""
        settings = settings or PromiseSettings()
        if priorities is None:
            priorities = {1} | {d.priority for d in plant.demands if d.kind is DemandKind.SALES and d.qty > 0}
        wanted = tuple(sorted(set(priorities)))
        for priority in wanted:
            with self._lock:
                ctx = _Context(_snapshot_of(plant, production_orders, reservations, self), settings, None)
                _protect(ctx, (), _by_priority(priority), priority, frozenset())
        if settings.levers and settings.check_capacity:
            # The overtime lever's schedules, one work center at a time (each is the baseline re-timed).
            for code in sorted(plant.work_centers):
                with self._lock:
                    ctx = _Context(_snapshot_of(plant, production_orders, reservations, self), settings, None)
                    base = _overtime_base(ctx, code)
                    if base is not None and base.baseline(ctx.budget) is not None:
                        base.plan()
        return wanted

    def _bind(
        self, plant: Plant, orders: Sequence[ScheduleOrder], reservations: Sequence[ReservedSupply]
    ) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is None:
            snapshot = self._snapshot = _Snapshot(plant, orders, reservations)
        elif (
            snapshot.plant is not plant
            or (snapshot.orders is not orders and snapshot.orders != tuple(orders))
            or snapshot.reservations != tuple(reservations)
        ):
            raise ValueError("this memo belongs to another snapshot: make one memo per snapshot")
        return snapshot


def _snapshot_of(
    plant: Plant,
    production_orders: Sequence[ScheduleOrder] | None,
    reservations: Iterable[ReservedSupply],
    memo: PromiseMemo | None,
) -> _Snapshot:
    orders = tuple(collect_production_orders(plant) if production_orders is None else production_orders)
    held = tuple(reservations)
    return memo._bind(plant, orders, held) if memo is not None else _Snapshot(plant, orders, held)


class _Context:
    """Everything a promise reads, shared by its scenarios (levers re-run the allocation on copies)."""

    def __init__(self, snapshot: _Snapshot, settings: PromiseSettings, baseline: Schedule | None) -> None:
        self.snapshot = snapshot
        self.plant = snapshot.plant
        self.reservations = snapshot.reservations
        self.index = snapshot.index
        self.settings = settings
        self.days = snapshot.days
        self.budget = _Budget(settings.capacity_budget_seconds)
        self.orders = snapshot.orders
        self.capacity: _CapacityBase | None = None
        if settings.check_capacity:
            key = ("plant", settings.schedule, id(baseline) if baseline is not None else None)
            self.capacity = snapshot.bases.get(key) or snapshot.bases.setdefault(
                key, _CapacityBase(snapshot.plant, snapshot.orders, settings.schedule, baseline)
            )
        self.supplies = snapshot.supplies
        self.problems: dict[tuple[str, str], PromiseProblem] = {}

    def schedule_key(self) -> int | None:
        """Which baseline schedule the supply dates of this call come from (None: their due dates)."""
        if self.capacity is None:
            return None
        schedule = self.capacity.baseline(self.budget)
        return id(schedule) if schedule is not None else None

    # ---- master data

    def item(self, code: str) -> Item | None:
        return self.plant.items.get(code)

    def facts(self, code: str) -> _Facts:
        found = self.snapshot.facts.get(code)
        if found is None:
            item = self.item(code)
            found = self.snapshot.facts[code] = _Facts(
                builds=item is not None and item.source != Source.BUY,
                lead_time_days=item.lead_time_days if item else 0,
                routed=item is not None and item.source == Source.MAKE and code in self.plant.routings,
                lines=tuple((line.component, line.qty_per) for line in self.index.lines.get(code, ())),
            )
        return found

    def builds(self, code: str) -> bool:
        """Made in house or by a subcontractor from components (else bought whole)."""
        return self.facts(code).builds

    def lead_time(self, code: str) -> int:
        return self.facts(code).lead_time_days

    def routed(self, code: str) -> bool:
        return self.facts(code).routed

    def offset(self, code: str, qty: Decimal) -> int:
        """Working days from start to ship at infinite capacity: routing time (a job started on a day and finished
        that day ships that day) plus the lead time as an extra delay."""
        facts = self.facts(code)
        if not facts.routed:
            return facts.lead_time_days
        offsets = self.snapshot.offsets
        cached = offsets.get((code, qty))
        if cached is None:
            cached = offsets[(code, qty)] = self._offset(code, qty)
        return cached

    def _offset(self, code: str, qty: Decimal) -> int:
        days = ZERO
        for op in self.plant.routings[code].operations:
            wc = self.plant.work_centers.get(op.work_center)
            if wc is not None:
                days += (op.setup_minutes + op.run_minutes_per_unit * qty) / window_minutes(wc)
        return self.lead_time(code) + max(0, math.ceil(days) - 1)

    def _clt_unit(self, code: str) -> int:
        cached = self.snapshot.clt_unit.get(code)
        if cached is None:
            cached = self.offset(code, Decimal(1)) + (self._below(code) if self.builds(code) else 0)
            self.snapshot.clt_unit[code] = cached
        return cached

    def _below(self, code: str) -> int:
        """The longest cumulative lead time of ``code``'s components (per unit)."""
        cached = self.snapshot.below.get(code)
        if cached is None:
            lines = self.index.lines.get(code, ())
            cached = max((self._clt_unit(line.component) for line in lines), default=0)
            self.snapshot.below[code] = cached
        return cached

    def cumulative_lead_time(self, code: str, qty: Decimal) -> int:
        """Working days to resupply ``qty`` from scratch: the item's own time for ``qty`` plus its longest
        component chain (taken per unit below the item)."""
        snapshot = self.snapshot
        facts = snapshot.facts.get(code) or self.facts(code)
        if not facts.builds:
            return facts.lead_time_days
        below = snapshot.below.get(code)
        if below is None:
            below = self._below(code)
        if not facts.routed:
            return facts.lead_time_days + below
        offset = snapshot.offsets.get((code, qty))
        return (offset if offset is not None else self.offset(code, qty)) + below

    def whole_units(self, code: str) -> bool:
        item = self.item(code)
        return is_countable(item.uom) if item else False

    def lot_qty(self, code: str, qty: Decimal) -> Decimal:
        item = self.item(code)
        if item is None:
            return qty
        return sum(size_lots(qty, LotSizingRule.for_item(item)), ZERO)

    # ---- supply

    def lots(self, code: str) -> list[_Lot]:
        """``code``'s supply as free lots, as the snapshot holds it (built once per item and baseline)."""
        capacity = self.capacity
        if capacity is None:
            schedule = None
        else:
            schedule = capacity.baseline(self.budget)
            if schedule is None:  # supply dates from due dates for now: a later call may know the schedule
                return self._lots(code)
        built = self.snapshot.lots.get((id(schedule), code))
        if built is None:
            built = self.snapshot.lots[(id(schedule), code)] = tuple(
                (x.day, x.qty, x.kind, x.ref, x.order_qty) for x in self._lots(code)
            )
        return [_Lot(*fields) for fields in built]

    def _lots(self, code: str) -> list[_Lot]:
        lots = []
        stock = self.plant.on_hand.get(code, ZERO)
        if stock > 0:
            lots.append(_Lot(0, stock, SourceKind.STOCK, "stock", stock))
        for supply in self.supplies.get(code, ()):
            due = supply.due
            if supply.kind is SupplyKind.PRODUCTION and self.capacity is not None:
                scheduled = self.capacity.completion(supply.id, self.budget)
                if scheduled is not None and scheduled > due:
                    due = scheduled  # capacity makes it later than its due date
            lots.append(
                _Lot(self.days.available(due), supply.qty, SourceKind.OPEN_SUPPLY, supply.id, supply.qty)
            )
        lots.sort(key=lambda x: (x.day, x.kind != SourceKind.STOCK, x.ref))
        return lots

    def problem(self, kind: str, item: str, message: str) -> None:
        self.problems.setdefault((kind, item), PromiseProblem(kind, item, message))


def _sort_key(demand: Demand) -> tuple[date, int, str, str]:
    return (demand.due, demand.priority, demand.id, demand.item)


# ------------------------------------------------------------------------------------- commitments (just in time)


class _Commitments:
    """Existing demand taking its supply just in time, in due-date order (see the module docstring)."""

    def __init__(self, ctx: _Context, ledger: _Ledger) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.held_by_sales: set[str] = set()  # items whose existing supply a sales line of priority > 1 holds
        self._holder = False

    def allocate(self, demand: Demand) -> int:
        """The working day ``demand`` completes on."""
        self._holder = demand.kind is DemandKind.SALES and demand.priority > 1
        return self._jit(demand.item, demand.qty, self.ctx.days.needed(demand.due))

    def _jit(self, code: str, qty: Decimal, need: int) -> int:
        if qty <= 0:
            return need
        horizon = self.ctx.cumulative_lead_time(code, qty)
        if need >= horizon:
            return need  # resupplied from scratch in time: it holds nothing
        return self._node(code, qty, need, horizon)

    def _node(self, code: str, qty: Decimal, need: int, horizon: int) -> int:
        """A call that may hold supply: ``code``'s own supply first, then what its components take."""
        rest, done = self._take_own(code, qty, need, horizon)
        return done if rest <= 0 else self._explode(code, rest, need, done)

    def _take_own(self, code: str, qty: Decimal, need: int, horizon: int) -> tuple[Decimal, int]:
        """What is still missing of ``qty`` after the latest supply by ``need``, then later supply arriving before
        it could be resupplied, and the day that supply is there."""
        ledger = self.ledger
        if not ledger.has_free(code):
            if ledger.trace is not None:
                ledger.trace.read(code)
            return qty, need
        by = max(need, 0)
        rest = qty
        held = ledger.take(code, qty, by, latest_first=True)
        if held:
            if self._holder:
                self.held_by_sales.add(code)
            rest -= sum(q for _, q in held)
            if rest <= 0:
                return rest, need
        done = need
        for lot, q in ledger.take(code, rest, horizon - 1, after=by):
            rest -= q
            done = max(done, lot.day)
        return rest, done

    def _explode(self, code: str, rest: Decimal, need: int, done: int) -> int:
        """The day ``rest`` of ``code`` is there when bought, or built from components taken just in time."""
        ctx = self.ctx
        facts = ctx.facts(code)
        if not facts.builds:
            return max(done, facts.lead_time_days)
        offset = ctx.offset(code, rest)
        release = max(0, need - offset)
        ready = release
        horizon = ctx.cumulative_lead_time
        for component, qty_per in facts.lines:
            wanted = rest * qty_per
            # A component it has time to resupply from scratch holds nothing and is ready on the release day.
            if wanted > 0:
                component_horizon = horizon(component, wanted)
                if release < component_horizon:
                    ready = max(ready, self._node(component, wanted, release, component_horizon))
        return max(done, ready + offset)


class _Tree:
    """The unprotected lines' allocation without the requests, call by call: each call that may hold supply is
    a node, numbered in call order, so that the calls a node makes (its subtree) follow it."""

    def __init__(self) -> None:
        self.code: list[str] = []
        self.result = array("i")  # the day the call returned
        self.size = array("i")  # nodes in its subtree, itself included
        self.taken: dict[int, Decimal] = {}  # what a node took of its own item (nodes that took some)
        self.roots: list[int] = []  # per line: its first node (-1: it holds nothing)
        self.at: dict[str, array[int]] = {}  # per item: the nodes that read it, in order

    def open(self, code: str) -> int:
        self.code.append(code)
        self.result.append(0)
        self.size.append(0)
        return len(self.code) - 1

    def close(self, node: int, result: int) -> None:
        self.result[node] = result
        self.size[node] = len(self.code) - node

    def index(self) -> None:
        for node, code in enumerate(self.code):
            found = self.at.get(code)
            if found is None:
                found = self.at[code] = array("i")
            found.append(node)

    def reads(self, code: str, start: int, end: int) -> array[int]:
        """The nodes in ``[start, end)`` that read ``code``."""
        found = self.at.get(code)
        if not found:
            return array("i")
        return found[bisect.bisect_left(found, start) : bisect.bisect_left(found, end)]


class _Recorder(_Commitments):
    """The commitments' allocation, recording every call in a ``_Tree`` and tagging its takes with it."""

    def __init__(self, ctx: _Context, ledger: _Ledger, tree: _Tree, trace: _Trace) -> None:
        super().__init__(ctx, ledger)
        self.tree = tree
        self.trace = trace

    def allocate(self, demand: Demand) -> int:
        self.tree.roots.append(len(self.tree.code))
        day = super().allocate(demand)
        if self.tree.roots[-1] == len(self.tree.code):
            self.tree.roots[-1] = -1
        return day

    def _node(self, code: str, qty: Decimal, need: int, horizon: int) -> int:
        node = self.tree.open(code)
        self.trace.tag = node
        rest, done = self._take_own(code, qty, need, horizon)
        if rest < qty:
            self.tree.taken[node] = qty - max(rest, ZERO)
        result = done if rest <= 0 else self._explode(code, rest, need, done)
        self.tree.close(node, result)
        return result


class _Reallocation(_Commitments):
    """The unprotected lines allocated again after the requests, following their allocation without them (the
    ``_Tree``): a call whose subtree read only items as they were then returns what it returned then, unwalked.

    ``clock`` is the node the allocation without the requests had reached: an item this ledger does not hold
    its own lots for is as it was then (see ``_reallocate``).
    """

    def __init__(self, ctx: _Context, ledger: _Ledger, tree: _Tree) -> None:
        super().__init__(ctx, ledger)
        self.tree = tree
        self.clock = 0
        self.marks = _Marks(tree)

    def follow(self, demand: Demand, root: int) -> int:
        """``demand``'s completion day; its first call matches node ``root``."""
        self._holder = False
        return self._sync(demand.item, demand.qty, self.ctx.days.needed(demand.due), root)

    def _changed_within(self, start: int, end: int) -> bool:
        first = self.marks.first(start)
        return first is not None and first < end

    def _sync(self, code: str, qty: Decimal, need: int, node: int) -> int:
        tree = self.tree
        end = node + tree.size[node]
        if not self._changed_within(node, end):
            self.clock = end
            return tree.result[node]
        ctx = self.ctx
        self.clock = node
        rest, done = self._take_own(code, qty, need, ctx.cumulative_lead_time(code, qty))
        if qty - max(rest, ZERO) != tree.taken.get(node, ZERO):
            # Its components are asked for other quantities: they run afresh, and what they took then never was.
            self._diverge(node + 1, end)
            result = done if rest <= 0 else self._explode(code, rest, need, done)
            self.clock = end
            return result
        if rest <= 0:
            self.clock = end
            return done
        facts = ctx.facts(code)
        if not facts.builds:
            self.clock = end
            return max(done, facts.lead_time_days)
        offset = ctx.offset(code, rest)
        release = max(0, need - offset)
        ready = release
        child = node + 1
        marks, size = self.marks, tree.size
        for component, qty_per in facts.lines:
            wanted = rest * qty_per
            if wanted > 0 and release < ctx.cumulative_lead_time(component, wanted):
                after = child + size[child]
                first = marks.first(child)
                if first is None or first >= after:  # as ``_sync`` would find it: unchanged, not walked
                    self.clock = after
                    ready = max(ready, tree.result[child])
                else:
                    ready = max(ready, self._sync(component, wanted, release, child))
                child = after
        self.clock = end
        return max(done, ready + offset)

    def _diverge(self, start: int, end: int) -> None:
        """Hold the items nodes ``[start, end)`` read as they were before them: those takes do not happen now."""
        self.clock = start
        for code in set(self.tree.code[start:end]):
            self.ledger.lots(code)
        self.clock = end


# ----------------------------------------------------------------------------------- the new order (as soon as possible)


@dataclass(frozen=True, slots=True)
class _Piece:
    day: int
    qty: Decimal
    causes: tuple[int, ...] = ()  # constraints (indexes) on the path that made it later than needed


@dataclass(slots=True)
class _Constraint:
    kind: ConstraintKind
    item: str
    shortfall_qty: Decimal
    need_day: int
    resolves_day: int
    lead_time_days: int | None = None
    work_center: str | None = None
    supply: str | None = None
    wait_minutes: int = 0


class _Allocation:
    """One request taking free supply as early as possible, recursively through the BOM."""

    def __init__(
        self,
        ctx: _Context,
        ledger: _Ledger,
        chain: _CapacityChain | None,
        use_substitutes: bool,
        counter: list[int],
    ) -> None:
        self.ctx = ctx
        self.ledger = ledger
        self.chain = chain
        self.use_substitutes = use_substitutes
        self.counter = counter  # shared by the lines of one scenario: new order ids stay unique
        self.sources: list[PromiseSource] = []
        self.constraints: list[_Constraint] = []
        self.capacity_checked = True

    # ---- records

    def _new_id(self) -> str:
        self.counter[0] += 1
        return f"PLAN-{self.counter[0]}"

    def _constraint(self, need: int, piece_day: int, record: _Constraint) -> tuple[int, ...]:
        """Record why a piece comes later than needed. Today is the earliest anything can be: a piece available
        today is never late because of its supply (a need before today is the due date's or the offsets')."""
        if piece_day <= max(need, 0):
            return ()
        self.constraints.append(record)
        return (len(self.constraints) - 1,)

    def _take(
        self,
        code: str,
        qty: Decimal,
        need: int,
        level: int,
        parent: str | None,
        *,
        upto: int,
        after: int | None = None,
        substitute_for: str | None = None,
        ratio: Decimal = Decimal(1),
    ) -> list[_Piece]:
        """Free lots of ``code`` (in units of the line's component when a substitute stands in)."""
        days = self.ctx.days
        pieces = []
        for lot, q in self.ledger.take(code, qty * ratio, upto, after=after):
            causes = self._constraint(
                need, lot.day, _Constraint(ConstraintKind.OPEN_SUPPLY, code, q, need, lot.day, supply=lot.ref)
            )
            pieces.append(_Piece(lot.day, q / ratio, causes))
            self.sources.append(
                PromiseSource(
                    level=level,
                    item=code,
                    parent=parent,
                    kind=lot.kind,
                    qty=q,
                    available_date=days.date_of(lot.day),
                    ref=lot.ref,
                    order_qty=lot.order_qty,
                    substitute_for=substitute_for,
                )
            )
        return pieces

    # ---- resolution

    def resolve(
        self, code: str, qty: Decimal, need: int, level: int, parent: str | None, top: bool = False
    ) -> list[_Piece]:
        """Pieces (day, qty) covering ``qty`` of ``code`` needed on day ``need``, each as early as possible."""
        ctx = self.ctx
        by = max(need, 0)
        pieces = self._take(code, qty, need, level, parent, upto=by)
        rest = qty - sum(p.qty for p in pieces)
        if rest <= 0:
            return pieces
        if ctx.item(code) is None:
            ctx.problem(
                "unknown_item",
                code,
                f"{code} is not in the item master: only its stock and open supply count",
            )
            pieces.append(_Piece(by, rest, ()))
            return pieces
        # Open supply arriving before a new order could is worth waiting for.
        horizon = ctx.cumulative_lead_time(code, rest)
        late = self._take(code, rest, need, level, parent, upto=horizon - 1, after=by)
        pieces.extend(late)
        rest -= sum(p.qty for p in late)
        if rest <= 0:
            return pieces
        if ctx.builds(code):
            pieces.extend(self._build(code, rest, need, level, parent, top))
        else:
            pieces.extend(self._buy(code, rest, need, level, parent))
        return pieces

    def _buy(self, code: str, qty: Decimal, need: int, level: int, parent: str | None) -> list[_Piece]:
        ctx, days = self.ctx, self.ctx.days
        lead = ctx.lead_time(code)
        order_qty = ctx.lot_qty(code, qty)
        ref = self._new_id()
        causes = self._constraint(
            need, lead, _Constraint(ConstraintKind.LEAD_TIME, code, qty, need, lead, lead_time_days=lead)
        )
        self.sources.append(
            PromiseSource(
                level=level,
                item=code,
                parent=parent,
                kind=SourceKind.PURCHASE,
                qty=qty,
                available_date=days.date_of(lead),
                ref=ref,
                order_qty=order_qty,
                release_date=days.date_of(0),
                lead_time_days=lead,
            )
        )
        if order_qty > qty:
            self.ledger.add(code, _Lot(lead, order_qty - qty, SourceKind.PLANNED_SURPLUS, ref, order_qty))
        return [_Piece(lead, qty, causes)]

    def _build(
        self, code: str, qty: Decimal, need: int, level: int, parent: str | None, top: bool
    ) -> list[_Piece]:
        ctx = self.ctx
        order_qty = ctx.lot_qty(code, qty)
        component_need = need - ctx.offset(code, order_qty)
        lines = ctx.index.lines.get(code, ())
        covered: list[tuple[Decimal, Decimal, list[_Piece]]] = []  # (qty per, needed, pieces) per BOM line
        for line in lines:
            needed = order_qty * line.qty_per
            pieces = self._resolve_line(line, needed, component_need, level + 1, code)
            covered.append((line.qty_per, needed, sorted(pieces, key=lambda p: p.day)))
        releases = self._releases(code, order_qty, component_need, covered)
        kind = SourceKind.PRODUCTION if ctx.item(code).source == Source.MAKE else SourceKind.SUBCONTRACT  # type: ignore[union-attr]
        produced: list[_Piece] = []
        for release, batch, material_causes in releases:
            produced.extend(
                self._produce(
                    code, batch, release, need, component_need, material_causes, top, level, parent, kind
                )
            )
        produced.sort(key=lambda p: p.day)
        # The request takes the first ``qty`` units; the lot-size surplus is free supply.
        out, left = [], qty
        for piece in produced:
            used = min(piece.qty, left)
            if used > 0:
                out.append(_Piece(piece.day, used, piece.causes))
                left -= used
            if piece.qty > used:
                self.ledger.add(
                    code, _Lot(piece.day, piece.qty - used, SourceKind.PLANNED_SURPLUS, "surplus", order_qty)
                )
        return out

    def _resolve_line(
        self, line: EffectiveLine, needed: Decimal, need: int, level: int, parent: str
    ) -> list[_Piece]:
        code = line.component
        if not (self.use_substitutes and line.substitutes):
            return self.resolve(code, needed, need, level, parent)
        by = max(need, 0)
        main_free = self.ledger.free(code, by)
        pieces: list[_Piece] = []
        if main_free < needed:
            if line.allow_mix:
                pieces = self._take(code, needed, need, level, parent, upto=by)
                short = needed - sum(p.qty for p in pieces)
                for sub in line.substitutes:
                    if short <= 0:
                        break
                    got = self._take(
                        sub.item, short, need, level, parent, upto=by, substitute_for=code, ratio=sub.ratio
                    )
                    pieces.extend(got)
                    short -= sum(p.qty for p in got)
            else:
                for sub in line.substitutes:  # one material for the whole line
                    if self.ledger.free(sub.item, by) >= needed * sub.ratio:
                        return self._take(
                            sub.item,
                            needed,
                            need,
                            level,
                            parent,
                            upto=by,
                            substitute_for=code,
                            ratio=sub.ratio,
                        )
        rest = needed - sum(p.qty for p in pieces)
        if rest > 0:
            pieces.extend(self.resolve(code, rest, need, level, parent))
        return pieces

    def _releases(
        self, code: str, qty: Decimal, need: int, covered: list[tuple[Decimal, Decimal, list[_Piece]]]
    ) -> list[tuple[int, Decimal, tuple[int, ...]]]:
        """When the material for ``qty`` is there: (start day, qty, causes) — the part startable by the component
        need day (or the first day anything is), then the rest."""
        if not covered:
            return [(0, qty, ())]
        whole = self.ctx.whole_units(code)
        days = sorted({max(p.day, 0) for _, _, pieces in covered for p in pieces}) or [0]

        def line_buildable(qty_per: Decimal, needed: Decimal, pieces: list[_Piece], day: int) -> Decimal:
            have = sum((p.qty for p in pieces if p.day <= day), ZERO)
            # A substitute's quantity is converted by its ratio and may fall short of ``needed`` by a rounding.
            return qty if have >= needed - _TOLERANCE else have / qty_per

        def buildable(day: int) -> Decimal:
            value = min(line_buildable(q, n, ps, day) for q, n, ps in covered)
            if value < qty and whole:
                value = value.to_integral_value(rounding=ROUND_FLOOR)
            return min(value, qty)

        def first_day(amount: Decimal) -> tuple[int, tuple[int, ...]]:
            """First day ``amount`` can start, and the causes of the line that arrives last for it."""
            day_at = next((d for d in days if buildable(d) >= amount), days[-1])
            causes: tuple[int, ...] = ()
            latest = -1
            for qty_per, needed, pieces in covered:
                target = min(amount * qty_per, needed) - _TOLERANCE
                have = ZERO
                for p in pieces:
                    have += p.qty
                    if have >= target:
                        if max(p.day, 0) > latest:
                            latest, causes = max(p.day, 0), p.causes
                        break
            return day_at, causes if day_at > 0 else ()

        split_day = max(need, days[0])
        early = buildable(split_day)
        full_day, full_cause = first_day(qty)
        if 0 < early < qty:
            early_day, early_cause = first_day(early)
            return [(early_day, early, early_cause), (full_day, qty - early, full_cause)]
        return [(full_day, qty, full_cause)]

    def _produce(
        self,
        code: str,
        qty: Decimal,
        release: int,
        need: int,
        component_need: int,
        material_causes: tuple[int, ...],
        top: bool,
        level: int,
        parent: str | None,
        kind: SourceKind,
    ) -> list[_Piece]:
        ctx, days = self.ctx, self.ctx.days
        due = days.date_of(need) if need >= 0 else None
        placements: list[tuple[Decimal, int, _Placement | None]] = []
        if ctx.routed(code) and self.chain is not None:
            placements = self._place(code, qty, release, need, due, top)
            if not placements:
                self.capacity_checked = False
                ctx.problem(
                    "capacity_not_checked",
                    code,
                    f"capacity for {code} was not checked (time budget used up or no schedule): "
                    "its routing time at infinite capacity is used",
                )
        if not placements:
            placements = [(qty, release + ctx.offset(code, qty), None)]
        # Processing is on the critical path when it took longer than the time left for it after the material.
        allotted = need - max(component_need, 0)
        out = []
        for batch, done, placement in placements:
            ref = self._new_id()
            if placement is not None and placement.capacity_bound:
                record = _Constraint(
                    ConstraintKind.CAPACITY,
                    code,
                    batch,
                    need,
                    done,
                    work_center=placement.work_center,
                    wait_minutes=placement.wait_minutes,
                )
            else:
                # A subcontractor's turnaround is a lead time; in house it is production time.
                delay = (
                    ConstraintKind.PRODUCTION_TIME
                    if kind is SourceKind.PRODUCTION
                    else ConstraintKind.LEAD_TIME
                )
                record = _Constraint(delay, code, batch, need, done, lead_time_days=ctx.lead_time(code))
            causes = material_causes
            if done - release > allotted or not material_causes:
                causes = causes + self._constraint(need, done, record)
            if done <= max(need, 0):
                causes = ()
            out.append(_Piece(done, batch, causes))
            self.sources.append(
                PromiseSource(
                    level=level,
                    item=code,
                    parent=parent,
                    kind=kind,
                    qty=batch,
                    available_date=days.date_of(done),
                    ref=ref,
                    order_qty=batch,
                    release_date=days.date_of(release),
                    lead_time_days=ctx.lead_time(code),
                    operations=tuple(replace(slot, order=ref) for slot in placement.slots)
                    if placement
                    else (),
                )
            )
        return out

    def _place(
        self, code: str, qty: Decimal, release: int, need: int, due: date | None, top: bool
    ) -> list[tuple[Decimal, int, _Placement | None]]:
        """Capacity for one batch; a batch of the promised item is split when only part of it can be on time."""
        chain, days = self.chain, self.ctx.days
        assert chain is not None
        start = days.date_of(release)
        full = chain.place(code, qty, start, due)
        if full is None:
            return []
        full_day = days.available(full.completion)
        split = (
            top
            and self.ctx.settings.split_on_capacity
            and full_day > need >= release
            and self.ctx.whole_units(code)
            and qty > 1
        )
        if split:
            best: _Placement | None = None
            low, high = Decimal(1), qty - 1  # the largest batch finishing by the need day (binary search)
            while low <= high:
                mid = ((low + high) / 2).to_integral_value(rounding=ROUND_FLOOR)
                trial = chain.place(code, mid, start, due)
                if trial is None:
                    return []
                if days.available(trial.completion) <= need:
                    best, low = trial, mid + 1
                else:
                    high = mid - 1
            if best is not None:
                chain.commit(best)
                rest = chain.place(code, qty - best.order.qty, start, due)
                if rest is None:
                    return []
                chain.commit(rest)
                return [
                    (best.order.qty, days.available(best.completion), best),
                    (rest.order.qty, days.available(rest.completion), rest),
                ]
        chain.commit(full)
        return [(qty, full_day, full)]


# ------------------------------------------------------------------------------------------------ scenarios


@dataclass(frozen=True)
class _Protection:
    """Which existing sales order lines keep their supply ahead of the requests; ``key`` names the rule."""

    key: tuple
    covers: Callable[[Demand], bool]


def _by_priority(priority: int) -> _Protection:
    return _Protection(("priority", priority), lambda d: d.priority <= priority)


@dataclass
class _Protected:
    """The ledger once the protected commitments took their supply, and what the others get without the request.

    Shared by every scenario of a promise (and, with a memo, by later promises): nothing here changes after
    ``_protect``; scenarios work on ledgers made over ``ledger``.
    """

    priority: int
    ledger: _Ledger
    unprotected: list[Demand]
    before: dict[str, int]  # completion day of each unprotected sales line without the request
    held_by_sales: set[str]  # items whose supply protected sales lines of priority > 1 hold
    own_lots: list[tuple[str, _Lot]]  # lots reserved for the requests themselves, given back to them
    trace: _Trace  # what the unprotected lines took without the request, tagged with the node of ``tree``
    tree: _Tree  # their calls without the request
    final: _Ledger  # what is left once they took it


@dataclass
class _LineOutcome:
    request: PromiseRequest
    pieces: list[_Piece]
    allocation: _Allocation


@dataclass
class _Outcome:
    lines: list[_LineOutcome]
    impacts: list[PromiseImpact]
    capacity_checked: bool
    pending: Callable[[], list[PromiseImpact]] | None = None  # the impacts, when not worked out yet

    def settle(self) -> list[PromiseImpact]:
        """The impacts (worked out now if they were left pending)."""
        if self.pending is not None:
            self.impacts, self.pending = self.pending(), None
        return self.impacts


_PROTECTED_KEPT = 16  # allocations of commitments a memo keeps (one per priority, estimate or request ids)


def _protect(
    ctx: _Context,
    requests: Sequence[PromiseRequest],
    protection: _Protection,
    priority: int,
    exclude: frozenset[str],
) -> _Protected:
    # Only ids that name a demand or a reservation change the allocation (new lines' ids name none).
    named = ctx.snapshot.named
    own = frozenset(r.id for r in requests if r.id in named)
    key = (protection.key, priority, exclude & named, own, ctx.schedule_key())
    kept = ctx.snapshot.protected
    found = kept.pop(key, None)
    if found is None:
        found = _allocate_commitments(ctx, own, protection, priority, exclude & named)
        while len(kept) >= _PROTECTED_KEPT:
            del kept[next(iter(kept))]
    kept[key] = found  # most recently used last
    return found


def _allocate_commitments(
    ctx: _Context, own: frozenset[str], protection: _Protection, priority: int, exclude: frozenset[str]
) -> _Protected:
    """Every existing commitment takes its supply (see the module docstring); the unprotected lines then take
    theirs on a copy, traced, for the impacts."""
    ledger = _Ledger(ctx.lots)
    # Reserved supply is set aside first; a line holding reservations is covered by them.
    own_lots: list[tuple[str, _Lot]] = []
    holders: set[str] = set()
    for r in ctx.reservations:
        if r.demand in exclude:
            continue
        taken = ledger.take_ref(r.item, r.supply, r.qty)
        if r.demand in own:
            own_lots.extend((r.item, _Lot(lot.day, q, lot.kind, lot.ref, lot.order_qty)) for lot, q in taken)
        else:
            holders.add(r.demand)
    skip = exclude | own | holders
    protected, unprotected = [], []
    for demand in ctx.plant.demands:
        if demand.id in skip or demand.qty <= 0:
            continue
        if demand.kind is DemandKind.DEPENDENT or (
            demand.kind is DemandKind.SALES and protection.covers(demand)
        ):
            protected.append(demand)
        elif demand.kind is DemandKind.SALES:
            unprotected.append(demand)
    commitments = _Commitments(ctx, ledger)
    for demand in sorted(protected, key=_sort_key):
        commitments.allocate(demand)
    unprotected.sort(key=_sort_key)
    alone = _Ledger(ctx.lots, over=ledger)
    trace = alone.trace = _Trace()
    tree = _Tree()
    sequence = _Recorder(ctx, alone, tree, trace)
    before = {demand.id: sequence.allocate(demand) for demand in unprotected}
    alone.trace = None
    tree.index()
    return _Protected(
        priority, ledger, unprotected, before, commitments.held_by_sales, own_lots, trace, tree, alone
    )


def _run(
    ctx: _Context,
    protected: _Protected,
    requests: Sequence[PromiseRequest],
    *,
    use_substitutes: bool = False,
    capacity: _CapacityBase | None = None,
    lever: bool = False,
    impacts: bool = True,
) -> _Outcome:
    """The requests allocated after the protected commitments, and (with ``impacts``) whom they delay."""
    ledger = _Ledger(ctx.lots, over=protected.ledger)
    for code, lot in protected.own_lots:
        ledger.add(code, _Lot(lot.day, lot.qty, lot.kind, lot.ref, lot.order_qty))
    base = capacity if capacity is not None else ctx.capacity
    limit = ctx.settings.lever_time_limit_seconds if lever else ctx.settings.evaluation_time_limit_seconds
    chain = _CapacityChain(base, ctx.budget, protected.priority, limit) if base is not None else None
    counter = [0]
    order = sorted(range(len(requests)), key=lambda i: (requests[i].due_date, i))
    by_index: dict[int, _LineOutcome] = {}
    for i in order:
        request = requests[i]
        allocation = _Allocation(ctx, ledger, chain, use_substitutes, counter)
        pieces = allocation.resolve(
            request.item, request.qty, ctx.days.needed(request.due_date), 0, None, top=True
        )
        by_index[i] = _LineOutcome(request, sorted(pieces, key=lambda p: p.day), allocation)
    lines = [by_index[i] for i in range(len(requests))]
    checked = base is not None and all(line.allocation.capacity_checked for line in lines)
    if not impacts:
        return _Outcome(lines, [], checked)
    return _Outcome(lines, [], checked, lambda: _delays(ctx, protected, ledger, chain))


def _delays(
    ctx: _Context, protected: _Protected, ledger: _Ledger, chain: _CapacityChain | None
) -> list[PromiseImpact]:
    """The sales order lines and production orders that complete later once the requests took ``ledger``."""
    delayed: list[PromiseImpact] = []
    for demand, day in _reallocate(ctx, protected, ledger):
        old = protected.before[demand.id]
        if day > old:
            delayed.append(
                PromiseImpact(
                    kind=ImpactKind.SALES_ORDER,
                    order=demand.id,
                    item=demand.item,
                    qty=demand.qty,
                    priority=demand.priority,
                    due=demand.due,
                    date_before=ctx.days.date_of(old),
                    date_after=ctx.days.date_of(day),
                    late_after=day > ctx.days.needed(demand.due),
                )
            )
    if chain is not None:
        delayed.extend(chain.impacts(ctx.days))
    return delayed


def _reallocate(ctx: _Context, protected: _Protected, ledger: _Ledger) -> Iterable[tuple[Demand, int]]:
    """The unprotected lines taking what the requests left on ``ledger``, in their order: each line whose
    completion day may differ from ``protected.before``, with that day.

    They are followed call by call along their allocation without the requests (``protected.tree``). ``ledger``
    holds its own lots only for items whose lots may make a line take otherwise than then; any other item is as
    it was at that point of the allocation, less a deficit that never matters (each of its lots kept at least
    that much to the end then): when first read again, what the allocation had taken from it by then is
    replayed and the deficit taken off. A call whose subtree read no item the ledger holds takes and returns
    exactly what it did then, so it is not walked again; a line with no such call is skipped. After each line,
    the items it read are dropped from ``ledger`` again where that holds, so that a difference spreads no
    further than it goes.
    """
    tree = protected.tree
    shadow = _Shadow(protected.trace, ledger)
    again = _Reallocation(ctx, ledger, tree)
    marks = _Marks(tree)
    touched = ledger.touched()
    deficits: dict[str, list[Decimal]] = {}

    def settle(code: str, turn: int) -> bool:
        """Drop ``code`` from ``ledger`` if its lots are as at ``turn`` less a deficit that never matters."""
        mine, then = ledger.lots(code), shadow.at(code, turn)
        if len(mine) != len(then) or any(
            x.day != y.day or x.ref != y.ref or x.kind != y.kind for x, y in zip(mine, then, strict=True)
        ):
            return False
        gap = [y.qty - x.qty for x, y in zip(mine, then, strict=True)]
        if any(gap):
            final = protected.final.lots_as_held(code) or ledger.initial(code)
            if any(g < 0 or g > lot.qty for g, lot in zip(gap, final, strict=True)):
                return False
            deficits[code] = gap
        else:
            deficits.pop(code, None)
        ledger.forget(code)
        marks.remove(code)
        return True

    for code in list(touched):
        if not settle(code, 0):
            marks.add(code, 0)
    fresh: set[str] = set()

    def replay(code: str, lots: list[_Lot]) -> None:
        lots[:] = [_Lot(x.day, x.qty, x.kind, x.ref, x.order_qty) for x in shadow.at(code, again.clock)]
        for lot, gap in zip(lots, deficits.get(code, ()), strict=False):
            lot.qty -= gap
        marks.add(code, again.clock)
        fresh.add(code)

    again.marks = marks
    reading = _Trace(reads=True)
    ledger.replay, ledger.trace = replay, reading
    try:
        for i, demand in enumerate(protected.unprotected):
            root = tree.roots[i]
            if root < 0:
                continue
            end = root + tree.size[root]
            first = marks.first(root)
            if first is None or first >= end:
                continue
            yield demand, again.follow(demand, root)
            assert reading.reads is not None
            for code in reading.reads | fresh:
                if code in touched:
                    settle(code, end)
            reading.reads.clear()
            reading.takes.clear()
            fresh.clear()
    finally:
        ledger.replay = ledger.trace = None


class _Marks:
    """The items a ledger holds its own lots for, and where the allocation without the requests read them next:
    the first node at or after a point that read one (points only move forward)."""

    def __init__(self, tree: _Tree) -> None:
        self._tree = tree
        self._held: set[str] = set()
        self._next: list[tuple[int, str]] = []  # heap of (node, item)

    def add(self, code: str, start: int) -> None:
        if code in self._held:
            return
        self._held.add(code)
        self._push(code, start)

    def remove(self, code: str) -> None:
        self._held.discard(code)  # its heap entries are dropped when met

    def _push(self, code: str, start: int) -> None:
        nodes = self._tree.at.get(code)
        if nodes:
            i = bisect.bisect_left(nodes, start)
            if i < len(nodes):
                heapq.heappush(self._next, (nodes[i], code))

    def first(self, start: int) -> int | None:
        heap = self._next
        while heap:
            node, code = heap[0]
            if code not in self._held:
                heapq.heappop(heap)
            elif node < start:
                heapq.heappop(heap)
                self._push(code, start)
            else:
                return node
        return None


class _Shadow:
    """Each item's lots as they were without the requests, at a given turn of the unprotected lines (the lots of
    the protected ledger with what the earlier lines took replayed); turns only move forward."""

    def __init__(self, trace: _Trace, ledger: _Ledger) -> None:
        self._trace = trace
        self._ledger = ledger
        self._lots: dict[str, list[_Lot]] = {}
        self._next: dict[str, int] = {}

    def at(self, code: str, turn: int) -> list[_Lot]:
        lots = self._lots.get(code)
        if lots is None:
            lots = self._lots[code] = self._ledger.initial(code)
            self._next[code] = 0
        takes = self._trace.takes.get(code, ())
        k = self._next[code]
        while k < len(takes) and takes[k][0] < turn:
            _, position, qty = takes[k]
            lots[position].qty -= qty
            k += 1
        self._next[code] = k
        return lots


# ------------------------------------------------------------------------------------------------- results


def _line_summary(ctx: _Context, line: _LineOutcome) -> tuple[Decimal, date, tuple[PromiseLine, ...]]:
    request = line.request
    due_day = ctx.days.needed(request.due_date)
    by_due = sum((p.qty for p in line.pieces if p.day <= due_day), ZERO)
    last = max((p.day for p in line.pieces), default=0)
    earliest = ctx.days.date_of(max(last, 0))
    promise = []
    if by_due > 0:
        promise.append(PromiseLine(by_due, request.due_date))
    if by_due < request.qty:
        promise.append(PromiseLine(request.qty - by_due, earliest))
    return by_due, earliest, tuple(promise)


def _constraints_out(ctx: _Context, line: _LineOutcome) -> tuple[BindingConstraint, ...]:
    request = line.request
    due_day = ctx.days.needed(request.due_date)
    critical = {i for p in line.pieces if p.day > due_day for i in p.causes}
    merged: dict[tuple, BindingConstraint] = {}
    for i, c in enumerate(line.allocation.constraints):
        key = (c.kind, c.item, c.work_center, c.supply, c.lead_time_days)
        record = BindingConstraint(
            kind=c.kind,
            item=c.item,
            shortfall_qty=c.shortfall_qty,
            need_date=_need_date(ctx, c.need_day, request),
            resolves_on=ctx.days.date_of(c.resolves_day),
            critical=i in critical,
            lead_time_days=c.lead_time_days,
            work_center=c.work_center,
            supply=c.supply,
            wait_minutes=c.wait_minutes,
        )
        old = merged.get(key)
        if old is not None:
            record = replace(
                old,
                shortfall_qty=old.shortfall_qty + record.shortfall_qty,
                need_date=min(old.need_date, record.need_date),
                resolves_on=max(old.resolves_on, record.resolves_on),
                critical=old.critical or record.critical,
                wait_minutes=old.wait_minutes + record.wait_minutes,
            )
        merged[key] = record
    out = list(merged.values())
    if ctx.days.needed(request.due_date) < 0:  # due before the first working day from today
        _, earliest, _ = _line_summary(ctx, line)
        out.append(
            BindingConstraint(
                kind=ConstraintKind.DUE_IN_PAST,
                item=request.item,
                shortfall_qty=request.qty,
                need_date=request.due_date,
                resolves_on=earliest,
                critical=not critical,
            )
        )
    out.sort(key=lambda c: (not c.critical, -c.resolves_on.toordinal(), c.item, c.kind))
    return tuple(out)


def _need_date(ctx: _Context, need_day: int, request: PromiseRequest) -> date:
    """When a shortfall was needed: the due date for the item itself, else the day its parent had to start (today
    at the earliest: needing it before today means needing it now)."""
    if need_day >= ctx.days.needed(request.due_date):
        return request.due_date
    return ctx.days.date_of(max(need_day, 0))


def _result(
    ctx: _Context,
    line: _LineOutcome,
    impacts: tuple[PromiseImpact, ...],
    levers: tuple[Lever, ...],
    checked: bool,
) -> PromiseResult:
    by_due, earliest, promise = _line_summary(ctx, line)
    grouped: dict[int, Decimal] = {}
    for p in line.pieces:
        grouped[max(p.day, 0)] = grouped.get(max(p.day, 0), ZERO) + p.qty
    return PromiseResult(
        request=line.request,
        on_time=by_due >= line.request.qty,
        promise=promise,
        qty_by_due=by_due,
        earliest_full_date=earliest,
        deliveries=tuple(PromiseLine(q, ctx.days.date_of(d)) for d, q in sorted(grouped.items())),
        sources=tuple(
            sorted(line.allocation.sources, key=lambda s: (s.level, s.available_date, s.item, s.ref))
        ),
        binding_constraints=_constraints_out(ctx, line),
        impacts=impacts,
        levers=levers,
        capacity_checked=checked,
        problems=tuple(ctx.problems.values()),
    )


def _lever(ctx: _Context, kind: LeverKind, outcome: _Outcome, **fields: object) -> Lever:
    lines = []
    for line in outcome.lines:
        by_due, earliest, promise = _line_summary(ctx, line)
        lines.append(LeverLine(line.request.item, line.request.qty, by_due, earliest, promise))
    return Lever(
        kind=kind,
        on_time=all(x.qty_by_due >= x.qty for x in lines),
        earliest_full_date=max(x.earliest_full_date for x in lines),
        lines=tuple(lines),
        **fields,  # type: ignore[arg-type]
    )


def _better(lever: Lever, current: Lever) -> bool:
    return lever.qty_by_due > current.qty_by_due or lever.earliest_full_date < current.earliest_full_date


def _overtime_base(ctx: _Context, code: str) -> _CapacityBase | None:
    """The open orders on the plant with work center ``code`` on overtime, each machine keeping its sequence
    of the baseline (``retime_schedule``); kept per snapshot. None without overtime hours or a baseline."""
    wc = ctx.plant.work_centers.get(code)
    if wc is None or wc.overtime_hours_per_day <= 0 or ctx.capacity is None:
        return None
    baseline = ctx.capacity.baseline(ctx.budget)
    if baseline is None:
        return None
    hours = min(wc.hours_per_day + wc.overtime_hours_per_day, Decimal(24))
    quick = replace(ctx.settings.schedule, time_limit_seconds=ctx.settings.lever_time_limit_seconds * 2)
    key = ("overtime", code, hours, quick, id(baseline))
    base = ctx.snapshot.bases.get(key)
    if base is None:
        plant = replace(
            ctx.plant, work_centers={**ctx.plant.work_centers, code: replace(wc, hours_per_day=hours)}
        )
        retimed = retime_schedule(plant, ctx.orders, baseline, quick)
        base = ctx.snapshot.bases.setdefault(key, _CapacityBase(plant, ctx.orders, quick, retimed))
    return base


def _levers(
    ctx: _Context,
    protected: _Protected,
    requests: Sequence[PromiseRequest],
    outcome: _Outcome,
    exclude: frozenset[str],
) -> tuple[Lever, ...]:
    current = _lever(ctx, LeverKind.PARTIAL_SHIPMENT, outcome)
    if current.on_time:
        return ()
    levers: list[Lever] = []
    if current.qty_by_due > 0:
        levers.append(current)
    index = ctx.index
    below = index.reachable(tuple(dict.fromkeys(r.item for r in requests)))
    with_subs = [code for code in below if any(line.substitutes for line in index.lines.get(code, ()))]
    if with_subs:
        trial = _run(ctx, protected, requests, use_substitutes=True, lever=True, impacts=False)
        lever = _lever(
            ctx,
            LeverKind.USE_SUBSTITUTE,
            trial,
            substitutes=tuple(
                sorted({s.item for line in trial.lines for s in line.allocation.sources if s.substitute_for})
            ),
        )
        if lever.substitutes and _better(lever, current):
            levers.append(lever)
    centers = sorted(
        {
            c.work_center
            for line in outcome.lines
            for c in _constraints_out(ctx, line)
            if c.kind is ConstraintKind.CAPACITY and c.work_center and c.critical
        }
    )
    for code in centers:
        base = _overtime_base(ctx, code)
        if base is None:
            continue
        wc = ctx.plant.work_centers[code]
        hours = base.plant.work_centers[code].hours_per_day
        trial = _run(ctx, protected, requests, capacity=base, lever=True)
        lever = _lever(
            ctx, LeverKind.OVERTIME, trial, work_center=code, overtime_hours_per_day=hours - wc.hours_per_day
        )
        if _better(lever, current):
            levers.append(replace(lever, impacts=tuple(trial.settle())))
    # A higher priority helps only if lines of priority 2 or more hold supply this order needs, or if it waits
    # for a work center (where production orders of lower priority would give way).
    waits = any(
        c.kind is ConstraintKind.CAPACITY for line in outcome.lines for c in line.allocation.constraints
    )
    if protected.priority > 1 and (waits or protected.held_by_sales.intersection(below)):
        first = _protect(ctx, requests, _by_priority(1), 1, exclude)
        trial = _run(ctx, first, requests, lever=True)
        lever = _lever(ctx, LeverKind.RAISE_PRIORITY, trial, priority=1)
        if _better(lever, current):
            levers.append(replace(lever, impacts=tuple(trial.settle())))
    return tuple(levers)


# -------------------------------------------------------------------------------------------------- public


def _validate(plant: Plant, requests: Sequence[PromiseRequest]) -> None:
    if not requests:
        raise InvalidInputError("nothing to promise: no lines", {})
    index = bom_index(plant)
    for request in requests:
        index.require_item(request.item)
        if not request.qty > 0:
            raise InvalidInputError(
                f"quantity must be positive, got {request.qty}",
                {"item": request.item, "qty": str(request.qty)},
            )
        if index.is_phantom(request.item):
            raise InvalidInputError(
                f"{request.item} is a phantom item: it is never stocked or shipped", {"item": request.item}
            )


def promise_lines(
    plant: Plant,
    requests: Sequence[PromiseRequest],
    *,
    priority: int | None = None,
    production_orders: Sequence[ScheduleOrder] | None = None,
    settings: PromiseSettings | None = None,
    reservations: Iterable[ReservedSupply] = (),
    exclude_demands: Iterable[str] = (),
    baseline: Schedule | None = None,
    memo: PromiseMemo | None = None,
) -> OrderPromise:
    """Promise several lines of one order together: they share free supply and capacity (a component two lines
    need is counted once) and are allocated in due-date order after the commitments they may not disturb.

    ``priority`` (default: the most important of the lines') decides which existing sales order lines keep
    their supply (priority number ≤ it); lines of lower priority give way and, if they would complete later,
    are listed in ``impacts``. ``reservations`` are set aside whatever the priorities (a request's own, matched
    by its id, are given back to it). ``production_orders`` are the open orders to schedule (default:
    ``collect_production_orders(plant)``), ``baseline`` their schedule if known. ``exclude_demands`` leaves
    demands and their reservations out entirely. The requests' own ids are never counted as commitments.
    ``memo`` carries what promises on the same inputs share (see ``PromiseMemo``).
    """
    settings = settings or PromiseSettings()
    _validate(plant, requests)
    order_priority = min(r.priority for r in requests) if priority is None else priority
    exclude = frozenset(exclude_demands)
    with memo._lock if memo is not None else nullcontext():
        ctx = _Context(_snapshot_of(plant, production_orders, reservations, memo), settings, baseline)
        protected = _protect(ctx, requests, _by_priority(order_priority), order_priority, exclude)
        outcome = _run(ctx, protected, requests)
        levers: tuple[Lever, ...] = ()
        if settings.levers:
            levers = _levers(ctx, protected, requests, outcome, exclude)
        impacts = tuple(outcome.settle())
    results = tuple(_result(ctx, line, impacts, (), outcome.capacity_checked) for line in outcome.lines)
    return OrderPromise(
        lines=results,
        priority=order_priority,
        on_time=all(r.on_time for r in results),
        earliest_full_date=max(r.earliest_full_date for r in results),
        impacts=impacts,
        levers=levers,
        capacity_checked=outcome.capacity_checked,
        problems=tuple(ctx.problems.values()),
    )


def promise_order(
    plant: Plant,
    request: PromiseRequest,
    *,
    production_orders: Sequence[ScheduleOrder] | None = None,
    settings: PromiseSettings | None = None,
    reservations: Iterable[ReservedSupply] = (),
    exclude_demands: Iterable[str] = (),
    baseline: Schedule | None = None,
    memo: PromiseMemo | None = None,
) -> PromiseResult:
    """Can ``request.qty`` of ``request.item`` ship by ``request.due_date``, and if not, when and why?

    Existing sales order lines of higher or equal priority keep their supply, and reserved supply stays reserved;
    the request takes what is left as early as possible through stock, open supply, new purchases and builds
    (lot rules, lead times in working days, routings on work-center capacity). Returns the verdict, the split
    promise (quantity by the due date, the rest on the earliest date), pegged sources, binding constraints,
    impacts on lines of lower priority and production orders, and levers with their effect. See
    ``promise_lines`` for the keyword arguments.
    """
    order = promise_lines(
        plant,
        [request],
        priority=request.priority,
        production_orders=production_orders,
        settings=settings,
        reservations=reservations,
        exclude_demands=exclude_demands,
        baseline=baseline,
        memo=memo,
    )
    return replace(order.lines[0], levers=order.levers)


def estimate_delivery(
    plant: Plant,
    lines: Sequence[PromiseRequest],
    *,
    production_orders: Sequence[ScheduleOrder] | None = None,
    settings: PromiseSettings | None = None,
    reservations: Iterable[ReservedSupply] = (),
    baseline: Schedule | None = None,
    memo: PromiseMemo | None = None,
) -> OrderPromise:
    """When an existing order's lines can ship, and why then: the order takes its turn among the open sales
    order lines in priority, then due-date order (those ahead of it keep their supply), then takes what is left
    as early as possible. ``lines`` carry the lines' ids (``SO-1/1``), open quantities, due dates and the
    order's priority; the lines themselves are not counted as commitments, and their own reservations are
    theirs. No levers or impacts are computed. ``memo``: see ``PromiseMemo``.
    """
    settings = replace(settings or PromiseSettings(), levers=False)
    _validate(plant, lines)
    priority = min(r.priority for r in lines)
    first_due = min(r.due_date for r in lines)
    own = min(r.id for r in lines)

    def ahead(d: Demand) -> bool:
        return (d.priority, d.due, d.id) < (priority, first_due, own)

    turn = _Protection(("ahead", priority, first_due, own), ahead)
    with memo._lock if memo is not None else nullcontext():
        ctx = _Context(_snapshot_of(plant, production_orders, reservations, memo), settings, baseline)
        protected = _protect(ctx, lines, turn, priority, frozenset())
        # Lines behind the order are not disturbed by an estimate: they are not re-allocated.
        protected = replace(protected, unprotected=[], before={})
        outcome = _run(ctx, protected, lines)
    results = tuple(_result(ctx, line, (), (), outcome.capacity_checked) for line in outcome.lines)
    return OrderPromise(
        lines=results,
        priority=priority,
        on_time=all(r.on_time for r in results),
        earliest_full_date=max(r.earliest_full_date for r in results),
        impacts=(),
        levers=(),
        capacity_checked=outcome.capacity_checked,
        problems=tuple(ctx.problems.values()),
    )
