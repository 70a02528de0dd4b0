"""Material requirements planning: time-phased netting by low-level code, lot sizing, pegging, exceptions.

The engine nets day-aggregated requirements held as one numpy row per item over the horizon (a plant of
10,000 items yields hundreds of thousands of daily planned orders); quantities are floats inside and
Decimals rounded to 6 places outside. Suggestion records and their pegging are built per item on demand.
"""

from __future__ import annotations

import datetime
import gc
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cached_property

import numpy as np

from planning.bom import BomIndex
from planning.errors import InvalidInputError
from planning.lot_sizing import EPSILON, LotSizingRule, make_float_lot_sizer
from planning.model import ZERO, Demand, DemandKind, Item, Plant, Source, Supply, SupplyKind

# --------------------------------------------------------------------------------------------- results


class Action(StrEnum):
    BUY = "buy"
    MAKE = "make"
    SUBCONTRACT = "subcontract"


ACTION_OF_SOURCE = {Source.BUY: Action.BUY, Source.MAKE: Action.MAKE, Source.SUBCONTRACT: Action.SUBCONTRACT}


class PegKind(StrEnum):
    SALES = "sales"
    FORECAST = "forecast"
    DEPENDENT = "dependent"  # a component still to issue to an open production or subcontract order
    SAFETY = "safety"  # the item's safety stock
    PLANNED = "planned"  # a component of a parent's planned order (the demand is that order's id)


@dataclass(frozen=True, slots=True)
class Peg:
    """``qty`` of a supply serves ``demand`` (an order line, an open order, a planned order or safety stock)."""

    demand: str
    qty: Decimal
    kind: PegKind
    item: str  # the parent item for a planned order's component, else the pegged item itself
    due: date  # when the supply is needed for this demand


@dataclass(frozen=True, slots=True)
class PlannedOrder:
    """An MRP suggestion: buy, make or subcontract ``qty`` of ``item``, released and due on these dates."""

    id: str
    item: str
    action: Action
    qty: Decimal
    release_date: date
    due_date: date
    pegging: tuple[Peg, ...]
    net_qty: Decimal  # the part of the net requirement that triggered it; qty - net_qty is lot-size surplus
    lead_time_days: int = 0
    late: bool = (
        False  # its release date fell before today, so it is released today with too little lead time
    )


class ExceptionKind(StrEnum):
    LATE = "late"  # a suggestion should have been released before today
    RESCHEDULE_IN = "reschedule_in"  # an open supply is needed earlier than it is due: expedite
    RESCHEDULE_OUT = "reschedule_out"  # an open supply is due earlier than it is needed: postpone
    EXCESS = "excess"  # an open supply (or part of it) is not needed within the horizon: cancel or reduce
    PAST_DUE_SUPPLY = "past_due_supply"  # an open supply was due before today and is not yet received
    PAST_DUE_DEMAND = "past_due_demand"  # a sales order line was due before today and is not yet shipped
    MISSING_BOM = "missing_bom"  # a make, subcontract or phantom item has no BOM
    UNKNOWN_ITEM = "unknown_item"  # a demand, supply or BOM line names an item that is not in the master
    LOT_SIZE_CONFLICT = "lot_size_conflict"  # the item's lot-size settings contradict each other
    PHANTOM_STOCK = "phantom_stock"  # a phantom item has stock or open supply, which MRP ignores


@dataclass(frozen=True, slots=True)
class MrpException:
    """A problem found by MRP, with its cause: the order or supply concerned and the demands behind it."""

    kind: ExceptionKind
    item: str
    message: str
    ref: str = ""  # the planned order, open supply or demand concerned
    qty: Decimal = ZERO
    date: datetime.date | None = None  # its current (or needed) date
    suggested_date: datetime.date | None = None  # the date MRP proposes or expects instead
    demands: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SupplyUse:
    """How MRP used an open supply: how much of it is needed, from when, for which demands."""

    supply: str
    item: str
    qty: Decimal
    due: date
    used_qty: Decimal
    needed_date: date | None  # the first date a demand needs it (None: not needed in the horizon)
    pegging: tuple[Peg, ...]


@dataclass(frozen=True, slots=True)
class MrpOptions:
    """Netting policy.

    ``reschedule_in_window_days``: an open supply due at most this many working days after a shortage is
    expedited instead of planning a new order (None: any later open supply is used first).
    ``reschedule_out_tolerance_days``: an open supply arriving at most this many working days before it
    is needed is left alone.
    """

    reschedule_in_window_days: int | None = None
    reschedule_out_tolerance_days: int = 0


class RunMode(StrEnum):
    REGENERATIVE = "regenerative"
    NET_CHANGE = "net_change"


# Open supplies a planner can expedite, postpone or cancel (not goods already in inspection or transit)
RESCHEDULABLE = frozenset({SupplyKind.PURCHASE, SupplyKind.PRODUCTION, SupplyKind.SUBCONTRACT})

# ------------------------------------------------------------------------------- internal records

_SAFETY_PRIORITY = 1_000_000  # safety stock ranks after every order due the same day when pegging
_PLANNED_PRIORITY = 5  # a parent's planned order ranks like an order of default priority
_PEG_KIND_OF_DEMAND = {
    DemandKind.SALES: PegKind.SALES,
    DemandKind.FORECAST: PegKind.FORECAST,
    DemandKind.DEPENDENT: PegKind.DEPENDENT,
    DemandKind.SAFETY: PegKind.SAFETY,
}

# A gross requirement: (day index, priority, demand id, qty, peg kind, item of the demand)
_Req = tuple[int, int, str, float, PegKind, str]


@dataclass(frozen=True, slots=True, eq=False)
class _ItemPlan:
    """The planned orders of one item, columnar, in due-date order (ids are PL-<item>-<position + 1>)."""

    due: np.ndarray  # day index from today
    release: np.ndarray  # day index, never before today (0)
    qty: np.ndarray
    net: np.ndarray
    late: np.ndarray

    def __len__(self) -> int:
        return len(self.qty)


@dataclass(frozen=True, slots=True, eq=False)
class _ReceiptUse:
    """An open supply after netting: from when it is needed and how much of it."""

    supply: Supply
    day: int  # the day index it is expected (today for a past-due one)
    qty: float
    first_use: int | None
    used: float


def _to_decimal(value: float) -> Decimal:
    """The contract's 6-decimal rounding, without trailing zeros."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return Decimal(text if text not in ("", "-0") else "0")


def _order_id(item: str, position: int) -> str:
    return f"PL-{item}-{position + 1}"


def _parse_order_id(order_id: str) -> tuple[str, int] | None:
    if not order_id.startswith("PL-") or "-" not in order_id[3:]:
        return None
    item, _, number = order_id[3:].rpartition("-")
    return (item, int(number) - 1) if number.isdigit() and int(number) > 0 else None


# ------------------------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class MrpResult:
    """Suggestions, exceptions and open-supply usage of one MRP run.

    Records are built on demand: ``suggestions_for(item)`` builds one item's orders with their pegging;
    ``suggestions`` and ``exceptions`` build all of them (costly for a large plant, cached).
    """

    today: date
    horizon_days: int
    horizon_end: date
    options: MrpOptions
    mode: RunMode
    replanned_items: frozenset[str]
    _plant: Plant = field(repr=False)
    _index: BomIndex = field(repr=False)
    _plans: Mapping[str, _ItemPlan] = field(repr=False)
    _receipts: Mapping[str, tuple[_ReceiptUse, ...]] = field(repr=False)
    _problems: tuple[MrpException, ...] = field(repr=False)
    _requirements: Mapping[str, tuple[_Req, ...]] = field(repr=False)
    _built: dict[str, tuple[tuple[PlannedOrder, ...], tuple[SupplyUse, ...], tuple[MrpException, ...]]] = (
        field(default_factory=dict, repr=False)
    )

    # ---- counts without building records

    @property
    def suggestion_count(self) -> int:
        return sum(len(p) for p in self._plans.values())

    @property
    def planned_items(self) -> tuple[str, ...]:
        """Items with at least one suggestion, sorted."""
        return tuple(sorted(code for code, p in self._plans.items() if len(p)))

    def late_count(self) -> int:
        return int(sum(int(p.late.sum()) for p in self._plans.values()))

    # ---- per item

    def suggestions_for(self, item: str) -> tuple[PlannedOrder, ...]:
        """The suggestions for one item, in due-date order, with their pegging."""
        return self._build(item)[0]

    def supply_uses_for(self, item: str) -> tuple[SupplyUse, ...]:
        return self._build(item)[1]

    def exceptions_for(self, item: str) -> tuple[MrpException, ...]:
        """The exceptions about one item."""
        return tuple(
            sorted((e for e in self._problems if e.item == item), key=_exception_key)
            + list(self._build(item)[2])
        )

    # ---- everything

    @cached_property
    def suggestions(self) -> tuple[PlannedOrder, ...]:
        """Every suggestion, by release date, item, due date."""
        out = [s for code in self._plans for s in self.suggestions_for(code)]
        return tuple(sorted(out, key=lambda s: (s.release_date, s.item, s.due_date, s.id)))

    @cached_property
    def exceptions(self) -> tuple[MrpException, ...]:
        """Every exception, by item and kind."""
        codes = set(self._plans) | set(self._receipts)
        late = [e for code in codes for e in self._build(code)[2]]
        return tuple(sorted([*self._problems, *late], key=_exception_key))

    @cached_property
    def supply_uses(self) -> tuple[SupplyUse, ...]:
        return tuple(u for code in sorted(self._receipts) for u in self.supply_uses_for(code))

    def earliest_suggestions(self, limit: int, item: str | None = None) -> tuple[PlannedOrder, ...]:
        """The ``limit`` suggestions released first (all items, or one), building only those items' records."""
        keys: list[tuple[int, str, int, int]] = []
        for code, plan in self._plans.items():
            if item is not None and code != item:
                continue
            keys.extend(
                zip(
                    plan.release.tolist(),
                    [code] * len(plan),
                    plan.due.tolist(),
                    range(len(plan)),
                    strict=True,
                )
            )
        keys.sort()
        chosen = keys[:limit]
        return tuple(self.suggestions_for(code)[k] for _, code, _, k in chosen)

    def exception_page(
        self, limit: int, item: str | None = None
    ) -> tuple[tuple[MrpException, ...], dict[str, int]]:
        """The ``limit`` most urgent exceptions (undated master-data problems first, then by date) and the
        count of every kind, building only the items needed (late suggestions are picked by due date first)."""
        problems = [e for e in self._problems if item is None or e.item == item]
        supplied = [item] if item is not None else sorted(self._receipts)
        problems += [e for code in supplied for e in self._build(code)[2] if e.kind is not ExceptionKind.LATE]
        late: list[tuple[int, str, int]] = []
        for code, plan in self._plans.items():
            if item is None or code == item:
                late.extend((int(plan.due[k]), code, int(k)) for k in np.flatnonzero(plan.late))
        late.sort()
        for _, code, k in late[:limit]:
            order_id = _order_id(code, k)
            problems.extend(
                e for e in self._build(code)[2] if e.kind is ExceptionKind.LATE and e.ref == order_id
            )
        counts: dict[str, int] = defaultdict(int)
        for e in problems:
            if e.kind is not ExceptionKind.LATE:
                counts[str(e.kind)] += 1
        if late:
            counts[str(ExceptionKind.LATE)] = len(late)
        problems.sort(key=lambda e: (e.date or date.min, e.item, e.kind, e.ref))
        return tuple(problems[:limit]), dict(sorted(counts.items()))

    def order(self, order_id: str) -> PlannedOrder | None:
        """The planned order with this id, or None."""
        parsed = _parse_order_id(order_id)
        if parsed is None or parsed[0] not in self._plans:
            return None
        orders = self.suggestions_for(parsed[0])
        return orders[parsed[1]] if parsed[1] < len(orders) else None

    # ---- building records

    @cached_property
    def _dates(self) -> _DayDates:
        return _DayDates(self.today.toordinal())

    @cached_property
    def _decimals(self) -> _Decimals:
        return _Decimals()

    def _build(
        self, code: str
    ) -> tuple[tuple[PlannedOrder, ...], tuple[SupplyUse, ...], tuple[MrpException, ...]]:
        built = self._built.get(code)
        if built is None:
            built = self._built[code] = _build_item_records(self, code)
        return built


def _exception_key(e: MrpException) -> tuple:
    return (e.item, e.kind, e.date or date.min, e.ref, e.message)


def _build_item_records(
    result: MrpResult, code: str
) -> tuple[tuple[PlannedOrder, ...], tuple[SupplyUse, ...], tuple[MrpException, ...]]:
    """One item's planned orders, open-supply uses and late exceptions, pegged FIFO as the engine netted.

    Stock is used first, then open supplies in the order the engine took them (expedited ones on the day they
    were pulled in), then the planned orders by due date; requirements take them by day, priority, demand.
    """
    plant = result._plant
    item = plant.items.get(code)
    plan = result._plans.get(code)
    receipts = result._receipts.get(code, ())
    if item is None or (plan is None and not receipts):
        return (), (), ()

    reqs = list(result._requirements.get(code, ()))
    if item.safety_stock > 0 and not item.phantom:
        reqs.append(
            (0, _SAFETY_PRIORITY, f"safety stock {code}", float(item.safety_stock), PegKind.SAFETY, code)
        )
    for parent, qty_per in result._index.parents.get(code, ()):
        parent_plan = result._plans.get(parent)
        if parent_plan is None:
            continue
        per = float(qty_per)
        for k, (release, qty) in enumerate(
            zip(parent_plan.release.tolist(), parent_plan.qty.tolist(), strict=True)
        ):
            reqs.append(
                (release, _PLANNED_PRIORITY, _order_id(parent, k), qty * per, PegKind.PLANNED, parent)
            )
    reqs.sort(key=lambda r: (r[0], r[1], r[2]))

    # supplies in the order the engine used them: (join day, rank, sequence, qty)
    supplies: list[tuple[int, int, int, float]] = []
    on_hand = float(plant.on_hand.get(code, ZERO))
    if on_hand > EPSILON:
        supplies.append((-1, 0, 0, on_hand))
    for n, r in enumerate(receipts):
        join = r.day if r.first_use is None else min(r.day, r.first_use)
        supplies.append((join, 1, n, r.qty))
    n_orders = len(plan) if plan is not None else 0
    if plan is not None:
        for k, (due, qty) in enumerate(zip(plan.due.tolist(), plan.qty.tolist(), strict=True)):
            supplies.append((due, 2, k, qty))
    supplies.sort()

    order_pegs: list[list[list]] = [[] for _ in range(n_orders)]
    receipt_pegs: list[list[list]] = [[] for _ in receipts]
    si = 0
    left = supplies[0][3] if supplies else 0.0
    for day, _, demand, qty, kind, dem_item in reqs:
        need = qty
        while need > EPSILON and si < len(supplies):
            take = left if left < need else need
            _, rank, seq, _ = supplies[si]
            if rank == 2:
                _add_peg(order_pegs[seq], demand, take, kind, dem_item, day)
            elif rank == 1:
                _add_peg(receipt_pegs[seq], demand, take, kind, dem_item, day)
            need -= take
            left -= take
            if left <= EPSILON:
                si += 1
                left = supplies[si][3] if si < len(supplies) else 0.0

    dates = result._dates
    decimals = result._decimals
    action = ACTION_OF_SOURCE[item.source]
    orders: list[PlannedOrder] = []
    late_problems: list[MrpException] = []
    if plan is not None:
        qtys, nets, releases = plan.qty.tolist(), plan.net.tolist(), plan.release.tolist()
        dues, lates = plan.due.tolist(), plan.late.tolist()
        for k in range(n_orders):
            order = PlannedOrder(
                id=_order_id(code, k),
                item=code,
                action=action,
                qty=decimals[qtys[k]],
                release_date=dates[releases[k]],
                due_date=dates[dues[k]],
                pegging=_freeze_pegs(order_pegs[k], dates, decimals),
                net_qty=decimals[nets[k]],
                lead_time_days=item.lead_time_days,
                late=lates[k],
            )
            orders.append(order)
            if order.late:
                late_problems.append(_late_problem(plant, order))
    problems = late_problems + _receipt_problems(result, code, receipts, receipt_pegs)
    uses = tuple(
        SupplyUse(
            supply=r.supply.id,
            item=code,
            qty=r.supply.qty,
            due=r.supply.due,
            used_qty=_to_decimal(r.used),
            needed_date=dates[r.first_use] if r.first_use is not None else None,
            pegging=_freeze_pegs(receipt_pegs[n], dates, decimals),
        )
        for n, r in enumerate(receipts)
        if r.day <= result.horizon_days or r.used > EPSILON
    )
    return tuple(orders), uses, tuple(problems)


def _receipt_problems(
    result: MrpResult, code: str, receipts: Sequence[_ReceiptUse], pegs: Sequence[list[list]]
) -> list[MrpException]:
    """Expedite, postpone, reduce or cancel open supplies; past-due ones are flagged."""
    plant = result._plant
    calendar = plant.calendar
    today = plant.today
    problems = []
    for r, receipt_pegs in zip(receipts, pegs, strict=True):
        s = r.supply
        if s.kind not in RESCHEDULABLE:
            continue  # goods in inspection or in transit are on their way: nothing to expedite or cancel
        demands = tuple(dict.fromkeys(p[0] for p in receipt_pegs if p[1] > EPSILON))
        needed = today + timedelta(days=r.first_use) if r.first_use is not None else None
        expected = today + timedelta(days=r.day)
        if s.due < today:
            problems.append(
                MrpException(
                    ExceptionKind.PAST_DUE_SUPPLY,
                    code,
                    f"{s.id} for {s.qty} {code} was due {s.due} and is not received; planned as arriving today",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=today,
                    demands=demands,
                )
            )
        if needed is not None and needed < expected:
            problems.append(
                MrpException(
                    ExceptionKind.RESCHEDULE_IN,
                    code,
                    f"expedite {s.id} from {s.due} to {needed}: {code} runs short on {needed}",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=needed,
                    demands=demands,
                )
            )
        elif needed is not None and needed > calendar.add_workdays(
            expected, result.options.reschedule_out_tolerance_days
        ):
            problems.append(
                MrpException(
                    ExceptionKind.RESCHEDULE_OUT,
                    code,
                    f"postpone {s.id} from {s.due} to {needed}: {code} is not needed before then",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=needed,
                    demands=demands,
                )
            )
        spare = r.qty - r.used
        if spare > EPSILON and r.day <= result.horizon_days:
            spare_qty = _to_decimal(spare)
            what = "cancel" if r.used <= EPSILON else f"reduce it by {spare_qty}"
            problems.append(
                MrpException(
                    ExceptionKind.EXCESS,
                    code,
                    f"{what}: {spare_qty} of {s.id} ({s.qty} {code} due {s.due}) is not needed within the "
                    f"{result.horizon_days}-day horizon",
                    ref=s.id,
                    qty=spare_qty,
                    date=s.due,
                    demands=demands,
                )
            )
    return problems


def _late_problem(plant: Plant, order: PlannedOrder) -> MrpException:
    calendar = plant.calendar
    lead = order.lead_time_days
    earliest = calendar.add_workdays(plant.today, lead)
    return MrpException(
        ExceptionKind.LATE,
        order.item,
        f"{order.id} ({order.action} {order.qty} {order.item}) should have been released on "
        f"{calendar.subtract_workdays(order.due_date, lead)} to be ready by {order.due_date}; released today "
        f"with {lead} working days lead time it is ready on {earliest}",
        ref=order.id,
        qty=order.qty,
        date=order.due_date,
        suggested_date=earliest,
        demands=tuple(dict.fromkeys(p.demand for p in order.pegging)),
    )


class _DayDates(dict[int, date]):
    """Day index from today -> date, memoised (a plan converts the same few hundred days many times)."""

    def __init__(self, today_ordinal: int) -> None:
        super().__init__()
        self.today = today_ordinal

    def __missing__(self, day: int) -> date:
        result = self[day] = date.fromordinal(self.today + day)
        return result


class _Decimals(dict[float, Decimal]):
    """Float -> Decimal rounded to 6 places, memoised (lot sizes and pegged quantities repeat a lot)."""

    def __missing__(self, value: float) -> Decimal:
        result = self[value] = _to_decimal(value)
        return result


def _add_peg(pegs: list[list], demand: str, qty: float, kind: PegKind, item: str, day: int) -> None:
    if pegs:
        last = pegs[-1]
        if last[0] == demand and last[4] == day:
            last[1] += qty
            return
    pegs.append([demand, qty, kind, item, day])


def _freeze_pegs(pegs: list[list], dates: _DayDates, decimals: _Decimals) -> tuple[Peg, ...]:
    return tuple([Peg(p[0], decimals[p[1]], p[2], p[3], dates[p[4]]) for p in pegs if p[1] > EPSILON])


# ------------------------------------------------------------------------------------ forecasts


def consume_forecasts(demands: Iterable[Demand]) -> list[Demand]:
    """Demands with each forecast reduced by the sales orders of its item due in the same calendar month.

    Within a month the sales orders consume the earliest forecasts first; fully consumed forecasts are
    dropped, partly consumed ones keep only the excess.
    """
    demands = list(demands)
    sold: dict[tuple[str, int, int], Decimal] = defaultdict(Decimal)
    for d in demands:
        if d.kind is DemandKind.SALES:
            sold[(d.item, d.due.year, d.due.month)] += d.qty
    result = [d for d in demands if d.kind is not DemandKind.FORECAST]
    forecasts = sorted((d for d in demands if d.kind is DemandKind.FORECAST), key=lambda d: (d.due, d.id))
    for fc in forecasts:
        key = (fc.item, fc.due.year, fc.due.month)
        consumed = min(sold.get(key, ZERO), fc.qty)
        if consumed:
            sold[key] -= consumed
        if fc.qty - consumed > 0:
            result.append(fc if consumed == 0 else replace(fc, qty=fc.qty - consumed))
    return result


# ------------------------------------------------------------------------------------- the engine


class _Engine:
    """One MRP run over a plant; ``active`` items are netted, the others keep a previous plan."""

    def __init__(
        self,
        plant: Plant,
        horizon_days: int,
        options: MrpOptions,
        *,
        vectorize: bool = True,
        index: BomIndex | None = None,
    ) -> None:
        if horizon_days < 1:
            raise InvalidInputError("horizon_days must be at least 1", {"horizon_days": horizon_days})
        if options.reschedule_in_window_days is not None and options.reschedule_in_window_days < 0:
            raise InvalidInputError("reschedule_in_window_days must not be negative")
        if options.reschedule_out_tolerance_days < 0:
            raise InvalidInputError("reschedule_out_tolerance_days must not be negative")
        self.plant = plant
        self.items = plant.items
        self.options = options
        self.vectorize = vectorize
        self.horizon_days = horizon_days
        self.n_days = horizon_days + 1
        self.today = plant.today.toordinal()
        self.index = index or BomIndex.for_plant(plant)  # raises BomCycleError with the cycle's path
        self.problems: list[MrpException] = []
        self.plans: dict[str, _ItemPlan] = {}
        self.receipt_uses: dict[str, tuple[_ReceiptUse, ...]] = {}
        self._offsets: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._workday_position, self._workdays = self._workday_arrays()

    # ---- calendar arithmetic on day indexes from today

    def _workday_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """For each day of the horizon, the working days before it; and the working days (all from today)."""
        calendar = self.plant.calendar
        flags = np.array(
            [calendar.is_workday(date.fromordinal(self.today + d)) for d in range(self.n_days)],
            dtype=np.int64,
        )
        position = np.cumsum(flags) - flags
        return position, np.flatnonzero(flags)

    def offsets(self, lead_time_days: int) -> tuple[np.ndarray, np.ndarray]:
        """Per due day: the release day (never before today) and whether it had to be moved to today."""
        cached = self._offsets.get(lead_time_days)
        if cached is None:
            due = np.arange(self.n_days)
            if lead_time_days <= 0:
                release, late = due, np.zeros(self.n_days, dtype=bool)
            else:
                back = self._workday_position - lead_time_days
                late = back < 0
                # with fewer working days than the lead time since today, the release is before today
                release = np.where(late, 0, self._workdays[np.maximum(back, 0)] if len(self._workdays) else 0)
            cached = self._offsets[lead_time_days] = (release.astype(np.int64), late)
        return cached

    def window_end(self, day: int, n: int) -> int:
        """The day index ``n`` working days after ``day``."""
        return (
            self.plant.calendar.add_workdays(date.fromordinal(self.today + day), n).toordinal() - self.today
        )

    def problem(self, kind: ExceptionKind, item: str, message: str, **fields: object) -> None:
        self.problems.append(MrpException(kind, item, message, **fields))  # type: ignore[arg-type]

    # ---- inputs

    def requirements(self, report: set[str] | None) -> dict[str, list[_Req]]:
        """Sales orders, unconsumed forecasts and open orders' components per item (phantoms passed through).

        Problems are reported for ``report`` items only (a net change keeps the others' earlier reports).
        """
        reqs: dict[str, list[_Req]] = defaultdict(list)
        today = self.plant.today
        phantoms = self.index.phantoms
        children = self.index.children
        for d in consume_forecasts(self.plant.demands):
            if d.qty <= 0:
                continue
            reported = report is None or d.item in report
            if d.item not in self.items:
                if reported:
                    self.problem(
                        ExceptionKind.UNKNOWN_ITEM,
                        d.item,
                        f"demand {d.id} is for unknown item {d.item}",
                        ref=d.id,
                        qty=d.qty,
                        date=d.due,
                    )
                continue
            day = d.due.toordinal() - self.today
            if day > self.horizon_days:
                continue
            if day < 0:
                if d.kind is DemandKind.FORECAST:
                    if (d.due.year, d.due.month) != (today.year, today.month):
                        continue  # a forecast of a past month is stale, not demand
                elif d.kind is DemandKind.SALES and reported:
                    self.problem(
                        ExceptionKind.PAST_DUE_DEMAND,
                        d.item,
                        f"{d.id} for {d.qty} {d.item} was due {d.due} and is planned as due today",
                        ref=d.id,
                        qty=d.qty,
                        date=d.due,
                        suggested_date=today,
                        demands=(d.id,),
                    )
                day = 0
            kind = _PEG_KIND_OF_DEMAND[d.kind]
            if d.item in phantoms:
                for comp, per in children.get(d.item, ()):
                    if comp in self.items:
                        reqs[comp].append((day, d.priority, d.id, float(d.qty * per), kind, comp))
            else:
                reqs[d.item].append((day, d.priority, d.id, float(d.qty), kind, d.item))
        return reqs

    def open_receipts(self, wanted: set[str] | None) -> dict[str, list[tuple[int, Supply]]]:
        receipts: dict[str, list[tuple[int, Supply]]] = defaultdict(list)
        for s in self.plant.supplies:
            if s.qty <= 0 or (wanted is not None and s.item not in wanted):
                continue
            item = self.items.get(s.item)
            if item is None:
                self.problem(
                    ExceptionKind.UNKNOWN_ITEM,
                    s.item,
                    f"open supply {s.id} is for unknown item {s.item}",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                )
                continue
            if s.item in self.index.phantoms:
                self.problem(
                    ExceptionKind.PHANTOM_STOCK,
                    s.item,
                    f"open supply {s.id} is for phantom item {s.item}; MRP ignores it",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                )
                continue
            receipts[s.item].append((max(s.due.toordinal() - self.today, 0), s))
        for rows in receipts.values():
            rows.sort(key=lambda r: (r[0], r[1].due, r[1].id))
        return receipts

    def check_master_data(self, wanted: set[str] | None) -> None:
        index = self.index
        for code in sorted(self.items if wanted is None else wanted & set(self.items)):
            item = self.items[code]
            for conflict in LotSizingRule.for_item(item).conflicts():
                self.problem(ExceptionKind.LOT_SIZE_CONFLICT, code, f"{code}: {conflict}")
            if code in index.phantoms and self.plant.on_hand.get(code, ZERO) > 0:
                self.problem(
                    ExceptionKind.PHANTOM_STOCK,
                    code,
                    f"phantom item {code} has {self.plant.on_hand[code]} on hand; MRP ignores it",
                    qty=self.plant.on_hand[code],
                )
            elif item.phantom and code not in index.phantoms:
                self.problem(
                    ExceptionKind.MISSING_BOM,
                    code,
                    f"phantom item {code} has no BOM: it is planned as an ordinary item",
                )
            for comp, _ in index.children.get(code, ()):
                if comp not in self.items:
                    self.problem(
                        ExceptionKind.UNKNOWN_ITEM,
                        comp,
                        f"the BOM of {code} uses unknown item {comp}; it is not planned",
                        ref=code,
                    )

    # ---- netting one item

    def net_item(self, item: Item, gross: np.ndarray, receipts: list[tuple[int, Supply]]) -> _ItemPlan | None:
        """Net ``gross`` (per day, safety stock on day 0) against stock, open supply and new planned orders."""
        rule = LotSizingRule.for_item(item)
        on_hand = float(self.plant.on_hand.get(item.code, ZERO))
        window = self.options.reschedule_in_window_days
        simple = rule.max_lot == 0 and rule.min_lot == 0 and (not receipts or window is None)
        if self.vectorize and simple:
            due, qty, net, uses = self._net_cumulative(gross, on_hand, receipts, float(rule.step))
        else:
            due, qty, net, uses = self._net_sequential(gross, on_hand, receipts, rule, window)
        if receipts:
            self.receipt_uses[item.code] = uses
        if not len(qty):
            return None
        release_of, late_of = self.offsets(item.lead_time_days)
        return _ItemPlan(due=due, release=release_of[due], qty=qty, net=net, late=late_of[due])

    def _net_cumulative(
        self, gross: np.ndarray, on_hand: float, receipts: list[tuple[int, Supply]], step: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[_ReceiptUse, ...]]:
        """Lot-for-lot (or rounded up to a multiple) with every open supply usable: closed-form on cumulatives.

        Supplies are used FIFO: stock, open supplies by due date, then planned orders; so the planned orders
        cover what the cumulative requirement exceeds all stock and open supply by.
        """
        cumulative = np.cumsum(gross)
        uses = []
        before = on_hand
        total_required = float(cumulative[-1])
        for day, supply in receipts:
            qty = float(supply.qty)
            first = int(np.searchsorted(cumulative, before + EPSILON, side="right"))
            used = min(max(total_required - before, 0.0), qty)
            uses.append(_ReceiptUse(supply, day, qty, first if used > EPSILON else None, used))
            before += qty
        shortage = cumulative - before
        if step > 0:
            covered = np.where(shortage > EPSILON, np.ceil((shortage - EPSILON) / step) * step, 0.0)
        else:
            covered = np.where(shortage > EPSILON, shortage, 0.0)
        ordered = np.diff(covered, prepend=0.0)
        due = np.flatnonzero(ordered > EPSILON)
        if not len(due):
            return due, ordered[due], ordered[due], tuple(uses)
        covered_before = covered[due] - ordered[due]
        net = np.clip(shortage[due] - covered_before, 0.0, ordered[due])
        return due, ordered[due], net, tuple(uses)

    def _net_sequential(
        self,
        gross: np.ndarray,
        on_hand: float,
        receipts: list[tuple[int, Supply]],
        rule: LotSizingRule,
        window: int | None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[_ReceiptUse, ...]]:
        """Day by day: stock, then arrived open supply, then expedited open supply, then new lot-sized orders."""
        size_lots = make_float_lot_sizer(rule)
        days = np.flatnonzero(gross > 0)
        amounts = gross[days].tolist()
        n_receipts = len(receipts)
        left = [float(s.qty) for _, s in receipts]
        first_use: list[int | None] = [None] * n_receipts
        queue: deque[list] = deque()  # [qty left, receipt position or -1 for stock / planned]
        if on_hand > EPSILON:
            queue.append([on_hand, -1])
        due: list[int] = []
        qty: list[float] = []
        net: list[float] = []
        ri = 0
        for day, need in zip(days.tolist(), amounts, strict=True):
            while ri < n_receipts and receipts[ri][0] <= day:
                queue.append([left[ri], ri])
                ri += 1
            while need > EPSILON:
                if not queue:
                    if ri < n_receipts and (
                        window is None or receipts[ri][0] <= self.window_end(day, window)
                    ):
                        queue.append([left[ri], ri])  # expedite it rather than order more
                        ri += 1
                        continue
                    shortage = need
                    for lot in size_lots(need):
                        due.append(day)
                        qty.append(lot)
                        net.append(min(lot, shortage))
                        shortage -= net[-1]
                        queue.append([lot, -1])
                slot = queue[0]
                take = slot[0] if slot[0] < need else need
                slot[0] -= take
                need -= take
                position = slot[1]
                if position >= 0:
                    left[position] -= take
                    if first_use[position] is None:
                        first_use[position] = day
                if slot[0] <= EPSILON:
                    queue.popleft()
        uses = tuple(
            _ReceiptUse(s, d, float(s.qty), first_use[n], float(s.qty) - max(left[n], 0.0))
            for n, (d, s) in enumerate(receipts)
        )
        return (np.array(due, dtype=np.int64), np.array(qty, dtype=float), np.array(net, dtype=float), uses)

    # ---- the run

    def run(self, active: set[str] | None, previous: MrpResult | None) -> dict[str, list[_Req]]:
        """Plan ``active`` items (all when None); the others keep ``previous`` and only feed their components.

        Returns the independent requirements per item (kept for pegging).
        """
        index = self.index
        items = self.items
        self.check_master_data(active)
        reqs = self.requirements(active)
        receipts = self.open_receipts(active)
        codes = [c for c in items if c not in index.phantoms]
        if active is not None:
            codes = [c for c in codes if c in active]
        codes.sort(key=lambda c: (index.low_level_codes.get(c, 0), c))
        row_of = {code: n for n, code in enumerate(codes)}
        gross = np.zeros((len(codes), self.n_days))
        for code, rows in reqs.items():
            n = row_of.get(code)
            if n is not None:
                for day, _, _, qty, _, _ in rows:
                    gross[n, day] += qty
        for code, n in row_of.items():
            if items[code].safety_stock > 0:
                gross[n, 0] += float(items[code].safety_stock)
        if previous is not None:
            # unchanged parents feed the changed components with their previous orders
            feeders = {p for c in codes for p, _ in index.parents.get(c, ()) if p not in row_of}
            for parent in feeders:
                plan = previous._plans.get(parent)
                if plan is not None:
                    self.explode(parent, plan, gross, row_of)
        for n, code in enumerate(codes):
            row = gross[n]
            item_receipts = receipts.get(code, [])
            if not item_receipts and not row.any():
                continue
            plan = self.net_item(items[code], row, item_receipts)
            if plan is None:
                continue
            self.plans[code] = plan
            if items[code].source is Source.BUY:
                continue
            if code not in index.children:
                self.problem(
                    ExceptionKind.MISSING_BOM,
                    code,
                    f"{code} is a {items[code].source} item without a BOM: its components are not planned",
                    demands=tuple(_order_id(code, k) for k in range(len(plan))),
                )
                continue
            self.explode(code, plan, gross, row_of)
        return reqs

    def explode(self, code: str, plan: _ItemPlan, gross: np.ndarray, row_of: Mapping[str, int]) -> None:
        """A component is due the day its parent's order is released (phantoms are passed through)."""
        kids = [(row_of[c], float(per)) for c, per in self.index.children.get(code, ()) if c in row_of]
        if not kids:
            return
        released = np.bincount(plan.release, weights=plan.qty, minlength=self.n_days)
        rows = np.fromiter((k for k, _ in kids), dtype=np.int64, count=len(kids))
        per = np.fromiter((p for _, p in kids), dtype=float, count=len(kids))
        gross[rows] += per[:, None] * released[None, :]

    def result(
        self,
        mode: RunMode,
        replanned: frozenset[str],
        previous: MrpResult | None,
        reqs: Mapping[str, list[_Req]],
    ) -> MrpResult:
        plans: dict[str, _ItemPlan] = dict(self.plans)
        receipts: dict[str, tuple[_ReceiptUse, ...]] = dict(self.receipt_uses)
        problems = self.problems
        if previous is not None:
            plans.update({c: p for c, p in previous._plans.items() if c not in replanned})
            receipts.update({c: r for c, r in previous._receipts.items() if c not in replanned})
            problems = [e for e in previous._problems if e.item not in replanned] + problems
        return MrpResult(
            today=self.plant.today,
            horizon_days=self.horizon_days,
            horizon_end=date.fromordinal(self.today + self.horizon_days),
            options=self.options,
            mode=mode,
            replanned_items=replanned,
            _plant=self.plant,
            _index=self.index,
            _plans=plans,
            _receipts=receipts,
            _problems=tuple(sorted(problems, key=_exception_key)),
            _requirements={c: tuple(rows) for c, rows in reqs.items()},
        )


# ------------------------------------------------------------------------------------- public API


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run allocates its many small, acyclic records.

    A large run builds hundreds of thousands of records; every collection would rescan them all. They hold
    no reference cycles, so reference counting frees them anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_mrp(plant: Plant, horizon_days: int = 90, options: MrpOptions | None = None) -> MrpResult:
    """Regenerative MRP over the whole plant for ``horizon_days`` calendar days from ``plant.today``.

    Items are netted top-down by low-level code in working days of the plant calendar: stock, then open
    supply (expedited when needed earlier), then new lot-sized planned orders. Each suggestion is pegged
    to the demands it serves; problems are returned as exceptions, never raised.
    """
    with _gc_paused():
        engine = _Engine(plant, horizon_days, options or MrpOptions())
        reqs = engine.run(None, None)
        return engine.result(RunMode.REGENERATIVE, frozenset(plant.items), None, reqs)


def items_below(plant: Plant, codes: Iterable[str]) -> frozenset[str]:
    """``codes`` and every item used, at any level, in their BOMs (phantoms passed through, not included)."""
    tops = tuple(sorted(set(codes)))
    return frozenset(BomIndex.for_plant(plant).reachable(tops)) | frozenset(tops)


def replan_mrp(plant: Plant, previous: MrpResult, changed_items: Iterable[str]) -> MrpResult:
    """Net-change MRP: re-plan only ``changed_items`` and the items below them, keep ``previous`` for the rest.

    ``plant`` is the plant after the change; ``changed_items`` are the items whose demand, stock, open supply,
    master data or BOM changed (for a changed sales order: its item). Equal to a regenerative run as long as
    nothing else changed; with another ``today`` it falls back to a regenerative run.
    """
    if plant.today != previous.today:
        return run_mrp(plant, previous.horizon_days, previous.options)
    changed = set(changed_items)
    unknown = sorted(changed - set(plant.items))
    if unknown:
        raise InvalidInputError(f"unknown item(s): {', '.join(unknown)}", {"items": unknown})
    old = previous._plant
    same_structure = (old.items is plant.items or old.items == plant.items) and (
        old.boms is plant.boms or old.boms == plant.boms
    )
    index = previous._index if same_structure else BomIndex.for_plant(plant)
    active = set(index.reachable(tuple(sorted(changed)))) | changed
    with _gc_paused():
        engine = _Engine(plant, previous.horizon_days, previous.options, index=index)
        reqs = engine.run(active, previous)
        # pegging of unchanged items still needs their own independent requirements
        all_reqs = {**{c: list(r) for c, r in previous._requirements.items() if c not in active}, **reqs}
        return engine.result(RunMode.NET_CHANGE, frozenset(active), previous, all_reqs)


def trace_pegging(result: MrpResult, order_id: str) -> tuple[Peg, ...]:
    """The end demands (sales, forecast, open orders, safety stock) a planned order serves, through its parents.

    Quantities are in the planned order's unit. A parent's share beyond its own pegged demands (its lot-size
    surplus) is pegged to that parent order.
    """
    start = result.order(order_id)
    if start is None:
        raise InvalidInputError(f"no planned order {order_id}", {"order": order_id})
    ends: dict[tuple[str, date], list] = {}

    def add(demand: str, qty: Decimal, kind: PegKind, item: str, due: date) -> None:
        row = ends.setdefault((demand, due), [demand, ZERO, kind, item, due])
        row[1] += qty

    def walk(order: PlannedOrder, scale: Decimal) -> None:
        # ``scale``: units of the traced order per unit of ``order``
        for peg in order.pegging:
            served = peg.qty * scale
            parent = result.order(peg.demand) if peg.kind is PegKind.PLANNED else None
            if parent is None:
                add(peg.demand, served, peg.kind, peg.item, peg.due)
                continue
            parent_scale = served / parent.qty
            walk(parent, parent_scale)
            surplus = parent.qty - sum((p.qty for p in parent.pegging), ZERO)
            if surplus > 0:
                add(parent.id, surplus * parent_scale, PegKind.PLANNED, parent.item, parent.due_date)

    walk(start, Decimal(1))
    return tuple(Peg(row[0], _to_decimal(float(row[1])), row[2], row[3], row[4]) for row in ends.values())
