"""Material requirements planning: time-phased netting by low-level code, lot sizing, pegging, exceptions."""

from __future__ import annotations

import datetime
import gc
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.calendar import Calendar
from planning.errors import BomCycleError, InvalidInputError
from planning.graph import find_cycle
from planning.lot_sizing import LotSizingRule, make_lot_sizer
from planning.model import ZERO, Demand, DemandKind, Item, Plant, Source, Supply

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
    item: str  # the item the demand is for (the parent item for a component)
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
    priority: int = 5  # of the demand that triggered it


class ExceptionKind(StrEnum):
    LATE = "late"  # a suggestion should have been released before today
    RESCHEDULE_IN = "reschedule_in"  # an open supply is needed earlier than it is due: expedite
    RESCHEDULE_OUT = "reschedule_out"  # an open supply is due earlier than it is needed: postpone
    EXCESS = "excess"  # an open supply (or part of it) is not needed within the horizon: cancel or reduce
    PAST_DUE_SUPPLY = "past_due_supply"  # an open supply was due before today and is not yet received
    PAST_DUE_DEMAND = "past_due_demand"  # a sales order line was due before today and is not yet shipped
    MISSING_BOM = "missing_bom"  # a make or subcontract item has no BOM: its components are not planned
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


@dataclass(frozen=True)
class MrpResult:
    """Suggestions, exceptions and open-supply usage of one MRP run."""

    today: date
    horizon_days: int
    horizon_end: date
    suggestions: tuple[PlannedOrder, ...]
    exceptions: tuple[MrpException, ...]
    supply_uses: tuple[SupplyUse, ...]
    options: MrpOptions = field(default_factory=MrpOptions)
    mode: RunMode = RunMode.REGENERATIVE
    replanned_items: frozenset[str] = frozenset()

    def suggestions_for(self, item: str) -> tuple[PlannedOrder, ...]:
        """The suggestions for one item, in due-date order."""
        return tuple(s for s in self.suggestions if s.item == item)

    def exceptions_for(self, item: str) -> tuple[MrpException, ...]:
        """The exceptions about one item."""
        return tuple(e for e in self.exceptions if e.item == item)


# ------------------------------------------------------------------------------------- BOM structure


def compute_low_level_codes(plant: Plant) -> dict[str, int]:
    """Low-level code of every item in the items or BOMs: the deepest level at which it is used (top = 0).

    Raises BomCycleError with the cycle's path when a BOM refers back to one of its parents.
    """
    children: dict[str, set[str]] = defaultdict(set)
    indegree: dict[str, int] = dict.fromkeys(plant.items, 0)
    for parent, bom in plant.boms.items():
        indegree.setdefault(parent, 0)
        for line in bom.lines:
            if line.component not in children[parent]:
                children[parent].add(line.component)
                indegree[line.component] = indegree.get(line.component, 0) + 1
    llc = dict.fromkeys(indegree, 0)
    ready = deque(code for code, n in indegree.items() if n == 0)
    done = 0
    while ready:
        node = ready.popleft()
        done += 1
        for kid in children.get(node, ()):
            if llc[node] + 1 > llc[kid]:
                llc[kid] = llc[node] + 1
            indegree[kid] -= 1
            if indegree[kid] == 0:
                ready.append(kid)
    if done < len(indegree):
        raise BomCycleError(find_cycle(children) or [])
    return llc


def _components_per_parent(plant: Plant) -> dict[str, tuple[tuple[str, Decimal], ...]]:
    """Per parent: (component, quantity per one parent, scrap included); several lines of a component add up."""
    result: dict[str, tuple[tuple[str, Decimal], ...]] = {}
    for parent, bom in plant.boms.items():
        per: dict[str, Decimal] = {}
        for line in bom.lines:
            per[line.component] = per.get(line.component, ZERO) + bom.qty_per_parent(line)
        result[parent] = tuple(per.items())
    return result


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

_PEG_KIND_OF_DEMAND = {
    DemandKind.SALES: PegKind.SALES,
    DemandKind.FORECAST: PegKind.FORECAST,
    DemandKind.DEPENDENT: PegKind.DEPENDENT,
    DemandKind.SAFETY: PegKind.SAFETY,
}
_SAFETY_PRIORITY = 1_000_000  # safety stock ranks after every order due the same day when pegging


class _Order:
    """A planned order while it is being built (pegging grows as later demands use its lot surplus)."""

    __slots__ = ("due", "id", "late", "net", "pegs", "priority", "qty", "release")

    def __init__(self, id_: str, qty: Decimal, due: int, release: int, late: bool, priority: int) -> None:
        self.id = id_
        self.qty = qty
        self.net = ZERO
        self.due = due
        self.release = release
        self.late = late
        self.priority = priority
        self.pegs: list[list] = []  # [demand, qty, kind, item, day]


class _Receipt:
    """An open supply while it is being netted."""

    __slots__ = ("day", "first_use", "left", "pegs", "supply")

    def __init__(self, supply: Supply, day: int) -> None:
        self.supply = supply
        self.day = day
        self.left = supply.qty
        self.first_use: int | None = None
        self.pegs: list[list] = []


# A gross requirement: (day ordinal, priority, demand id, qty, peg kind, item of the demand)
_Req = tuple[int, int, str, Decimal, PegKind, str]


def _add_peg(pegs: list[list], demand: str, qty: Decimal, kind: PegKind, item: str, day: int) -> None:
    if pegs:
        last = pegs[-1]
        if last[0] == demand and last[4] == day:
            last[1] += qty
            return
    pegs.append([demand, qty, kind, item, day])


class _Dates(dict[int, date]):
    """``date.fromordinal`` memoised: a run converts the same few hundred days many times."""

    def __missing__(self, day: int) -> date:
        result = self[day] = date.fromordinal(day)
        return result


def _freeze_pegs(pegs: list[list], dates: _Dates) -> tuple[Peg, ...]:
    return tuple([Peg(p[0], p[1], p[2], p[3], dates[p[4]]) for p in pegs])


class _Planner:
    """One MRP run over a plant; ``active`` items are netted, the rest keep their previous plan."""

    def __init__(self, plant: Plant, horizon_days: int, options: MrpOptions) -> None:
        if horizon_days < 1:
            raise InvalidInputError("horizon_days must be at least 1", {"horizon_days": horizon_days})
        if options.reschedule_in_window_days is not None and options.reschedule_in_window_days < 0:
            raise InvalidInputError("reschedule_in_window_days must not be negative")
        self.plant = plant
        self.items = plant.items
        self.calendar: Calendar = plant.calendar
        self.options = options
        self.horizon_days = horizon_days
        self.today = plant.today.toordinal()
        self.end = self.today + horizon_days
        self.llc = compute_low_level_codes(plant)
        self.components = _components_per_parent(plant)
        self.exceptions: list[MrpException] = []
        self.suggestions: list[PlannedOrder] = []
        self.supply_uses: list[SupplyUse] = []
        self._release_cache: dict[tuple[int, int], int] = {}
        self._shift_cache: dict[tuple[int, int], int] = {}
        self.dates = _Dates()

    # ---- calendar arithmetic on day ordinals (cached: the same few hundred days recur)

    def release_day(self, due: int, lead_time_days: int) -> int:
        key = (due, lead_time_days)
        day = self._release_cache.get(key)
        if day is None:
            day = self.calendar.subtract_workdays(date.fromordinal(due), lead_time_days).toordinal()
            self._release_cache[key] = day
        return day

    def add_workdays(self, day: int, n: int) -> int:
        key = (day, n)
        result = self._shift_cache.get(key)
        if result is None:
            result = self.calendar.add_workdays(date.fromordinal(day), n).toordinal()
            self._shift_cache[key] = result
        return result

    def problem(self, kind: ExceptionKind, item: str, message: str, **fields: object) -> None:
        self.exceptions.append(MrpException(kind, item, message, **fields))  # type: ignore[arg-type]

    # ---- inputs

    def independent_requirements(
        self, wanted: set[str] | None, report: set[str] | None
    ) -> dict[str, list[_Req]]:
        """Sales orders, unconsumed forecasts, open orders' components and safety stock, per ``wanted`` item.

        Problems are reported for ``report`` items only (a net change keeps the others' earlier reports).
        """
        reqs: dict[str, list[_Req]] = defaultdict(list)
        today = self.today
        for d in consume_forecasts(self.plant.demands):
            if wanted is not None and d.item not in wanted:
                continue
            if d.qty <= 0:
                continue
            if d.item not in self.items:
                self.problem(
                    ExceptionKind.UNKNOWN_ITEM,
                    d.item,
                    f"demand {d.id} is for unknown item {d.item}",
                    ref=d.id,
                    qty=d.qty,
                    date=d.due,
                )
                continue
            day = d.due.toordinal()
            if day > self.end:
                continue
            if day < today:
                if d.kind is DemandKind.FORECAST:
                    if (d.due.year, d.due.month) != (self.plant.today.year, self.plant.today.month):
                        continue  # a forecast of a past month is stale, not demand
                elif d.kind is DemandKind.SALES and (report is None or d.item in report):
                    self.problem(
                        ExceptionKind.PAST_DUE_DEMAND,
                        d.item,
                        f"{d.id} for {d.qty} {d.item} was due {d.due} and is planned as due today",
                        ref=d.id,
                        qty=d.qty,
                        date=d.due,
                        suggested_date=self.plant.today,
                        demands=(d.id,),
                    )
                day = today
            reqs[d.item].append((day, d.priority, d.id, d.qty, _PEG_KIND_OF_DEMAND[d.kind], d.item))
        for code, item in self.items.items():
            if wanted is not None and code not in wanted:
                continue
            if item.safety_stock > 0 and not item.phantom:
                reqs[code].append(
                    (today, _SAFETY_PRIORITY, f"safety stock {code}", item.safety_stock, PegKind.SAFETY, code)
                )
        return reqs

    def open_receipts(self, wanted: set[str] | None) -> dict[str, list[_Receipt]]:
        receipts: dict[str, list[_Receipt]] = defaultdict(list)
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
            if item.phantom:
                self.problem(
                    ExceptionKind.PHANTOM_STOCK,
                    s.item,
                    f"open supply {s.id} is for phantom item {s.item}; MRP ignores it",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                )
                continue
            receipts[s.item].append(_Receipt(s, max(s.due.toordinal(), self.today)))
        for rows in receipts.values():
            rows.sort(key=lambda r: (r.day, r.supply.due, r.supply.id))
        return receipts

    def check_master_data(self, wanted: set[str] | None) -> None:
        for code in sorted(self.items if wanted is None else wanted & set(self.items)):
            item = self.items[code]
            for conflict in LotSizingRule.for_item(item).conflicts():
                self.problem(ExceptionKind.LOT_SIZE_CONFLICT, code, f"{code}: {conflict}")
            if item.phantom and self.plant.on_hand.get(code, ZERO) > 0:
                self.problem(
                    ExceptionKind.PHANTOM_STOCK,
                    code,
                    f"phantom item {code} has {self.plant.on_hand[code]} on hand; MRP ignores it",
                    qty=self.plant.on_hand[code],
                )
            for comp, _ in self.components.get(code, ()):
                if comp not in self.items:
                    self.problem(
                        ExceptionKind.UNKNOWN_ITEM,
                        comp,
                        f"the BOM of {code} uses unknown item {comp}; it is not planned",
                        ref=code,
                    )

    # ---- netting one item

    def net_item(self, item: Item, reqs: list[_Req], receipts: list[_Receipt]) -> list[_Order]:
        """Net the requirements of ``item`` against stock, open supply and new planned orders, FIFO by date."""
        code = item.code
        reqs.sort(key=lambda r: (r[0], r[1], r[2]))
        size_lots = make_lot_sizer(LotSizingRule.for_item(item))
        lead = item.lead_time_days
        window = self.options.reschedule_in_window_days
        today = self.today
        orders: list[_Order] = []
        # available supply in FIFO order: [qty left, order or receipt or None for stock]
        avail: deque[list] = deque()
        on_hand = self.plant.on_hand.get(code, ZERO)
        if on_hand > 0:
            avail.append([on_hand, None])
        ri = 0
        n_receipts = len(receipts)
        n_reqs = len(reqs)
        for k in range(n_reqs):
            day, priority, demand, qty, kind, dem_item = reqs[k]
            while ri < n_receipts and receipts[ri].day <= day:
                avail.append([receipts[ri].left, receipts[ri]])
                ri += 1
            need = qty
            while need > 0:
                if not avail:
                    if ri < n_receipts and (
                        window is None or receipts[ri].day <= self.add_workdays(day, window)
                    ):
                        avail.append([receipts[ri].left, receipts[ri]])  # expedite it rather than order more
                        ri += 1
                        continue
                    # nothing left to expedite: one order (or split lots) covers the whole day's shortage
                    shortage = need
                    j = k + 1
                    while j < n_reqs and reqs[j][0] == day:
                        shortage += reqs[j][3]
                        j += 1
                    release = self.release_day(day, lead)
                    for lot in size_lots(shortage):
                        order = _Order(
                            f"PL-{code}-{len(orders) + 1}",
                            lot,
                            day,
                            max(release, today),
                            release < today,
                            priority,
                        )
                        order.net = min(lot, shortage)
                        shortage -= order.net
                        orders.append(order)
                        avail.append([lot, order])
                slot = avail[0]
                take = slot[0] if slot[0] <= need else need
                slot[0] -= take
                need -= take
                src = slot[1]
                if src is not None:
                    _add_peg(src.pegs, demand, take, kind, dem_item, day)
                    if type(src) is _Receipt:
                        src.left -= take
                        if src.first_use is None:
                            src.first_use = day
                if slot[0] <= 0:
                    avail.popleft()
        self.report_receipts(code, receipts)
        return orders

    def report_receipts(self, code: str, receipts: list[_Receipt]) -> None:
        tolerance = self.options.reschedule_out_tolerance_days
        for r in receipts:
            s = r.supply
            used = s.qty - r.left
            demands = tuple(dict.fromkeys(p[0] for p in r.pegs))
            needed = self.dates[r.first_use] if r.first_use is not None else None
            if s.due.toordinal() < self.today:
                self.problem(
                    ExceptionKind.PAST_DUE_SUPPLY,
                    code,
                    f"{s.id} for {s.qty} {code} was due {s.due} and is not received; "
                    "planned as arriving today",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=self.plant.today,
                    demands=demands,
                )
            if r.day <= self.end or used > 0:
                self.supply_uses.append(
                    SupplyUse(s.id, code, s.qty, s.due, used, needed, _freeze_pegs(r.pegs, self.dates))
                )
            if r.first_use is not None and r.first_use < r.day:
                self.problem(
                    ExceptionKind.RESCHEDULE_IN,
                    code,
                    f"expedite {s.id} from {s.due} to {needed}: {code} runs short on {needed}",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=needed,
                    demands=demands,
                )
            elif r.first_use is not None and r.first_use > self.add_workdays(r.day, tolerance):
                self.problem(
                    ExceptionKind.RESCHEDULE_OUT,
                    code,
                    f"postpone {s.id} from {s.due} to {needed}: {code} is not needed before then",
                    ref=s.id,
                    qty=s.qty,
                    date=s.due,
                    suggested_date=needed,
                    demands=demands,
                )
            if r.left > 0 and r.day <= self.end:
                what = "cancel" if used == 0 else f"reduce it by {r.left}"
                self.problem(
                    ExceptionKind.EXCESS,
                    code,
                    f"{what}: {r.left} of {s.id} ({s.qty} {code} due {s.due}) is not needed "
                    f"within the {self.horizon_days}-day horizon",
                    ref=s.id,
                    qty=r.left,
                    date=s.due,
                    demands=demands,
                )

    def freeze_orders(self, item: Item, orders: list[_Order]) -> list[PlannedOrder]:
        action = ACTION_OF_SOURCE[item.source]
        frozen = []
        for o in orders:
            p = PlannedOrder(
                id=o.id,
                item=item.code,
                action=action,
                qty=o.qty,
                release_date=self.dates[o.release],
                due_date=self.dates[o.due],
                pegging=_freeze_pegs(o.pegs, self.dates),
                net_qty=o.net,
                lead_time_days=item.lead_time_days,
                late=o.late,
                priority=o.priority,
            )
            frozen.append(p)
            if o.late:
                earliest = self.add_workdays(self.today, item.lead_time_days)
                self.problem(
                    ExceptionKind.LATE,
                    item.code,
                    f"{p.id} ({action} {p.qty} {item.code}) should have been released on "
                    f"{self.calendar.subtract_workdays(p.due_date, item.lead_time_days)} to be ready by "
                    f"{p.due_date}; released today with {item.lead_time_days} working days lead time "
                    f"it is ready on {date.fromordinal(earliest)}",
                    ref=p.id,
                    qty=p.qty,
                    date=p.due_date,
                    suggested_date=date.fromordinal(earliest),
                    demands=tuple(dict.fromkeys(pg.demand for pg in p.pegging)),
                )
        return frozen

    # ---- the run

    def run(self, active: set[str] | None, previous: MrpResult | None) -> None:
        """Plan ``active`` items (all when None); the others keep ``previous`` and only feed their components."""
        plant = self.plant
        if active is None:
            collect: set[str] | None = None
            feeders: set[str] = set()
        else:
            collect, feeders = self._net_change_scope(active)
        self.check_master_data(active)
        reqs = self.independent_requirements(collect, active)
        receipts = self.open_receipts(active)
        previous_orders: dict[str, list[PlannedOrder]] = defaultdict(list)
        if previous is not None:
            for s in previous.suggestions:
                if s.item in feeders:
                    previous_orders[s.item].append(s)
        codes = self.items if collect is None else collect | feeders
        for code in sorted(codes, key=lambda c: (self.llc.get(c, 0), c)):
            item = self.items.get(code)
            if item is None:
                continue
            comps = self.components.get(code, ())
            if item.phantom:
                self._pass_through(item, reqs.pop(code, []), comps, reqs, collect)
                continue
            if active is not None and code not in active:
                for s in previous_orders.get(code, ()):
                    self._explode(
                        s.id, s.qty, s.release_date.toordinal(), s.priority, code, comps, reqs, collect
                    )
                continue
            item_reqs = reqs.pop(code, [])
            item_receipts = receipts.pop(code, [])
            if not item_reqs and not item_receipts:
                continue
            orders = self.net_item(item, item_reqs, item_receipts)
            if not orders:
                continue
            self.suggestions.extend(self.freeze_orders(item, orders))
            if item.source is Source.BUY:
                continue
            if code not in plant.boms:
                self.problem(
                    ExceptionKind.MISSING_BOM,
                    code,
                    f"{code} is a {item.source} item without a BOM: its components are not planned",
                    demands=tuple(o.id for o in orders),
                )
                continue
            for o in orders:
                self._explode(o.id, o.qty, o.release, o.priority, code, comps, reqs, collect)

    def _explode(
        self,
        order_id: str,
        qty: Decimal,
        release: int,
        priority: int,
        parent: str,
        comps: Sequence[tuple[str, Decimal]],
        reqs: dict[str, list[_Req]],
        collect: set[str] | None,
    ) -> None:
        """A component is due the day its parent's order is released."""
        for comp, per in comps:
            if collect is None or comp in collect:
                reqs[comp].append((release, priority, order_id, qty * per, PegKind.PLANNED, parent))

    def _pass_through(
        self,
        item: Item,
        item_reqs: list[_Req],
        comps: Sequence[tuple[str, Decimal]],
        reqs: dict[str, list[_Req]],
        collect: set[str] | None,
    ) -> None:
        """A phantom is never stocked: its requirements go straight to its components on the same day."""
        if not item_reqs:
            return
        if item.code not in self.plant.boms:
            self.problem(
                ExceptionKind.MISSING_BOM,
                item.code,
                f"phantom item {item.code} has no BOM: its requirements cannot be planned",
                demands=tuple(dict.fromkeys(r[2] for r in item_reqs)),
            )
            return
        for day, priority, demand, qty, kind, dem_item in item_reqs:
            for comp, per in comps:
                if collect is None or comp in collect:
                    reqs[comp].append((day, priority, demand, qty * per, kind, dem_item))

    def _net_change_scope(self, changed: set[str]) -> tuple[set[str], set[str]]:
        """Items whose requirements must be gathered, and unchanged parents that feed them.

        ``changed`` already holds every item below a changed one. Phantoms above it are gathered too,
        because their requirements pass straight through to it.
        """
        parents: dict[str, set[str]] = defaultdict(set)
        for parent, comps in self.components.items():
            for comp, _ in comps:
                parents[comp].add(parent)
        collect = set(changed)
        stack = list(changed)
        while stack:
            code = stack.pop()
            for p in parents.get(code, ()):
                item = self.items.get(p)
                if item is not None and item.phantom and p not in collect:
                    collect.add(p)
                    stack.append(p)
        feeders = {p for code in collect for p in parents.get(code, ()) if p not in collect}
        return collect, feeders

    def result(self, mode: RunMode, replanned: frozenset[str], previous: MrpResult | None) -> MrpResult:
        suggestions = self.suggestions
        exceptions = self.exceptions
        supply_uses = self.supply_uses
        if previous is not None:
            suggestions = [s for s in previous.suggestions if s.item not in replanned] + suggestions
            exceptions = [e for e in previous.exceptions if e.item not in replanned] + exceptions
            supply_uses = [u for u in previous.supply_uses if u.item not in replanned] + supply_uses
        return MrpResult(
            today=self.plant.today,
            horizon_days=self.horizon_days,
            horizon_end=date.fromordinal(self.end),
            suggestions=tuple(sorted(suggestions, key=_suggestion_key)),
            exceptions=tuple(sorted(exceptions, key=_exception_key)),
            supply_uses=tuple(sorted(supply_uses, key=lambda u: (u.item, u.due, u.supply))),
            options=self.options,
            mode=mode,
            replanned_items=replanned,
        )


def _suggestion_key(s: PlannedOrder) -> tuple:
    return (s.release_date, s.item, s.due_date, s.id)


def _exception_key(e: MrpException) -> tuple:
    return (e.item, e.kind, e.date or date.min, e.ref, e.message)


# ------------------------------------------------------------------------------------- public API


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a run allocates its many small, acyclic records.

    A large run builds hundreds of thousands of pegs and orders; every collection would rescan them all
    (about half the run time). They hold no reference cycles, so reference counting frees them anyway.
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
        planner = _Planner(plant, horizon_days, options or MrpOptions())
        planner.run(None, None)
        return planner.result(RunMode.REGENERATIVE, frozenset(planner.items), None)


def items_below(plant: Plant, codes: Iterable[str]) -> frozenset[str]:
    """``codes`` and every item used, at any level, in their BOMs."""
    components = _components_per_parent(plant)
    seen = set(codes)
    stack = list(seen)
    while stack:
        for comp, _ in components.get(stack.pop(), ()):
            if comp not in seen:
                seen.add(comp)
                stack.append(comp)
    return frozenset(seen)


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
    active = set(items_below(plant, changed))
    with _gc_paused():
        planner = _Planner(plant, previous.horizon_days, previous.options)
        planner.run(active, previous)
        return planner.result(RunMode.NET_CHANGE, frozenset(active), previous)


def trace_pegging(result: MrpResult, order_id: str) -> tuple[Peg, ...]:
    """The end demands (sales, forecast, open orders, safety stock) a planned order serves, through its parents.

    Quantities are in the planned order's unit. A parent's share beyond its own pegged demands (its lot-size
    surplus) is pegged to that parent order.
    """
    by_id = {s.id: s for s in result.suggestions}
    if order_id not in by_id:
        raise InvalidInputError(f"no planned order {order_id}", {"order": order_id})
    ends: dict[tuple[str, date], list] = {}

    def add(demand: str, qty: Decimal, kind: PegKind, item: str, due: date) -> None:
        row = ends.setdefault((demand, due), [demand, ZERO, kind, item, due])
        row[1] += qty

    def walk(order: PlannedOrder, scale: Decimal) -> None:
        # ``scale``: units of the traced order per unit of ``order``
        for peg in order.pegging:
            served = peg.qty * scale
            parent = by_id.get(peg.demand) if peg.kind is PegKind.PLANNED else None
            if parent is None:
                add(peg.demand, served, peg.kind, peg.item, peg.due)
                continue
            parent_scale = served / parent.qty
            walk(parent, parent_scale)
            surplus = parent.qty - sum((p.qty for p in parent.pegging), ZERO)
            if surplus > 0:
                add(parent.id, surplus * parent_scale, PegKind.PLANNED, parent.item, parent.due_date)

    walk(by_id[order_id], Decimal(1))
    return tuple(Peg(*row) for row in ends.values())
