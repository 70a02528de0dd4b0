"""Shortage analysis of one production or sales order: stock allocated by priority and date, receipts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.bom import BomIndex
from planning.errors import InvalidInputError
from planning.model import ZERO, Demand, DemandKind, Substitute, Supply, SupplyKind


class OrderKind(StrEnum):
    PRODUCTION = "production"  # production or subcontract order: its components
    SALES = "sales"  # sales order: its lines' items


@dataclass(frozen=True, slots=True)
class ComponentRequirement:
    """What the analysed order needs of one item, and how much of it was already issued (or shipped)."""

    item: str
    required_qty: Decimal
    issued_qty: Decimal = ZERO
    need_date: date | None = None  # when it is needed; None: the order's need date
    substitutes: tuple[Substitute, ...] = ()  # in priority order

    @property
    def remaining_qty(self) -> Decimal:
        return max(self.required_qty - self.issued_qty, ZERO)


@dataclass(frozen=True, slots=True)
class OrderRequirements:
    """The order to analyse: its id, rank (priority, then need date) and component requirements.

    ``demand_ids`` are the ids under which the order's own requirements appear among the open demands
    (``MO-1``; ``SO-1/1``, ``SO-1/2``); they are left out of the competing demands.
    """

    order: str
    kind: OrderKind
    need_date: date
    components: tuple[ComponentRequirement, ...]
    priority: int = 5
    demand_ids: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Allocation:
    """Stock or an open receipt set aside for another order ranked ahead of the analysed one."""

    demand: str
    qty: Decimal
    priority: int
    due: date


@dataclass(frozen=True, slots=True)
class ExpectedReceipt:
    """The part of an open supply that goes to the analysed order once the orders ahead are served."""

    supply: str
    kind: SupplyKind
    qty: Decimal
    due: date
    late: bool  # arrives after the order needs it


@dataclass(frozen=True, slots=True)
class SubstituteUse:
    """``qty`` of substitute ``item`` (its own unit) stands in for ``covers`` of the component."""

    item: str
    qty: Decimal
    covers: Decimal


@dataclass(frozen=True, slots=True)
class ComponentShortage:
    """One component of the order: requirement, what stock is free for it, the short quantity and its cover."""

    item: str
    required: Decimal
    issued: Decimal
    remaining: Decimal  # still to issue (or ship)
    need_date: date
    on_hand: Decimal
    allocated_to_others: Decimal  # stock taken by orders ranked ahead (priority, then date)
    available: Decimal  # stock free for this order (up to what it still needs), substitutes included
    short: Decimal  # remaining - available
    allocations: tuple[Allocation, ...]  # who is ahead, for stock and receipts
    substitutes: tuple[SubstituteUse, ...]
    expected_receipts: tuple[ExpectedReceipt, ...]
    uncovered: Decimal  # short quantity no open receipt will cover
    covered_date: date | None  # when the whole remaining quantity is there (None: never, with open supply)


@dataclass(frozen=True)
class ShortageReport:
    order: str
    kind: OrderKind
    today: date
    need_date: date
    components: tuple[ComponentShortage, ...]

    @property
    def shortages(self) -> tuple[ComponentShortage, ...]:
        """The components short now."""
        return tuple(c for c in self.components if c.short > 0)

    @property
    def ready_date(self) -> date | None:
        """When every component is there, counting open receipts (None: some shortage is not covered)."""
        dates = [c.covered_date for c in self.components]
        if any(d is None for d in dates):
            return None
        return max((d for d in dates if d is not None), default=self.today)


COMPETING_KINDS = (DemandKind.SALES, DemandKind.DEPENDENT)  # forecasts and safety stock hold no stock


def analyze_shortages(
    order: OrderRequirements,
    on_hand: Mapping[str, Decimal],
    supplies: Iterable[Supply],
    other_demands: Iterable[Demand],
    today: date,
    *,
    use_substitutes: bool = False,
) -> ShortageReport:
    """Shortages of ``order``: each component's requirement against stock and open receipts.

    Stock and open receipts (earliest first) go to the open orders needing the item ranked by priority (a lower
    number first), then need date, then id; the analysed order takes its place in that ranking. With
    ``use_substitutes`` a short component is replaced, in priority order, by its substitutes' stock free after
    the orders ranked ahead. Only sales and dependent demands compete; forecasts hold no stock.
    """
    if not order.components:
        raise InvalidInputError(f"{order.order} has no component requirements", {"order": order.order})
    components = _merge_rows(order.components, order.need_date)
    wanted = {c.item for c in components}
    if use_substitutes:
        wanted.update(s.item for c in components for s in c.substitutes)
    own = order.demand_ids | {order.order}
    competing: dict[str, list[Demand]] = defaultdict(list)
    for d in other_demands:
        if d.item in wanted and d.qty > 0 and d.kind in COMPETING_KINDS and d.id not in own:
            competing[d.item].append(d)
    receipts: dict[str, list[Supply]] = defaultdict(list)
    for s in supplies:
        if s.item in wanted and s.qty > 0:
            receipts[s.item].append(s)
    for rows in receipts.values():
        rows.sort(key=lambda s: (s.due, s.id))

    # what is left of each substitute once the orders ranked ahead of this one are served
    substitute_free: dict[str, Decimal] = {}
    lines = []
    for row in components:
        need_date = row.need_date or order.need_date
        rank = (order.priority, need_date, order.order)
        ahead = sorted(
            (d for d in competing.get(row.item, ()) if (d.priority, d.due, d.id) < rank),
            key=lambda d: (d.priority, d.due, d.id),
        )
        stock = on_hand.get(row.item, ZERO)
        stock_left, allocations, unmet_ahead = _serve_from_stock(stock, ahead)
        remaining = row.remaining_qty
        available = min(remaining, stock_left)
        short = remaining - available
        subs: list[SubstituteUse] = []
        if use_substitutes and short > 0:
            for sub in row.substitutes:
                if short <= 0:
                    break
                free = substitute_free.get(sub.item)
                if free is None:
                    sub_ahead = sorted(
                        (d for d in competing.get(sub.item, ()) if (d.priority, d.due, d.id) < rank),
                        key=lambda d: (d.priority, d.due, d.id),
                    )
                    free = _serve_from_stock(on_hand.get(sub.item, ZERO), sub_ahead)[0]
                if free <= 0 or sub.ratio <= 0:
                    continue
                covers = min(short, free / sub.ratio)
                used = covers * sub.ratio
                substitute_free[sub.item] = free - used
                subs.append(SubstituteUse(sub.item, used, covers))
                short -= covers
                available += covers
        expected, receipt_allocations, uncovered, last_date = _serve_from_receipts(
            receipts.get(row.item, ()), unmet_ahead, short, need_date
        )
        if short <= 0:
            covered_date: date | None = today
        elif uncovered > 0:
            covered_date = None
        else:
            covered_date = max(last_date or today, today)
        lines.append(
            ComponentShortage(
                item=row.item,
                required=row.required_qty,
                issued=row.issued_qty,
                remaining=remaining,
                need_date=need_date,
                on_hand=stock,
                allocated_to_others=stock - stock_left,
                available=available,
                short=short,
                allocations=tuple(allocations + receipt_allocations),
                substitutes=tuple(subs),
                expected_receipts=tuple(expected),
                uncovered=uncovered,
                covered_date=covered_date,
            )
        )
    return ShortageReport(order.order, order.kind, today, order.need_date, tuple(lines))


def _merge_rows(rows: Iterable[ComponentRequirement], need_date: date) -> list[ComponentRequirement]:
    """One row per item (several rows of one item would otherwise count the same stock twice)."""
    merged: dict[str, ComponentRequirement] = {}
    for row in rows:
        prev = merged.get(row.item)
        if prev is None:
            merged[row.item] = row
        else:
            merged[row.item] = ComponentRequirement(
                row.item,
                prev.required_qty + row.required_qty,
                prev.issued_qty + row.issued_qty,
                min(prev.need_date or need_date, row.need_date or need_date),
                prev.substitutes or row.substitutes,
            )
    return list(merged.values())


def _serve_from_stock(
    stock: Decimal, ahead: Sequence[Demand]
) -> tuple[Decimal, list[Allocation], list[tuple[Demand, Decimal]]]:
    """Stock left after the orders ahead; their allocations; and what each of them still needs."""
    allocations = []
    unmet: list[tuple[Demand, Decimal]] = []
    for d in ahead:
        take = min(stock, d.qty)
        if take > 0:
            allocations.append(Allocation(d.id, take, d.priority, d.due))
            stock -= take
        if d.qty > take:
            unmet.append((d, d.qty - take))
    return stock, allocations, unmet


def _serve_from_receipts(
    receipts: Sequence[Supply], unmet_ahead: list[tuple[Demand, Decimal]], short: Decimal, need_date: date
) -> tuple[list[ExpectedReceipt], list[Allocation], Decimal, date | None]:
    """Receipts, earliest first, go to the orders ahead and then to this one's shortage."""
    expected: list[ExpectedReceipt] = []
    allocations: list[Allocation] = []
    left = [s.qty for s in receipts]
    qi = 0
    for d, need in unmet_ahead:
        while need > 0 and qi < len(left):
            take = min(need, left[qi])
            left[qi] -= take
            need -= take
            allocations.append(Allocation(d.id, take, d.priority, d.due))
            if left[qi] <= 0:
                qi += 1
    last: date | None = None
    while short > 0 and qi < len(left):
        supply = receipts[qi]
        take = min(short, left[qi])
        expected.append(ExpectedReceipt(supply.id, supply.kind, take, supply.due, supply.due > need_date))
        last = supply.due
        short -= take
        left[qi] -= take
        if left[qi] <= 0:
            qi += 1
    return expected, allocations, max(short, ZERO), last


def explode_phantoms(
    components: Iterable[ComponentRequirement], index: BomIndex
) -> tuple[ComponentRequirement, ...]:
    """Requirements with every phantom item replaced by its components (a phantom never appears in shortages).

    Issued quantities of a phantom count as issued of its components in proportion; rows of the same item
    are added up by ``analyze_shortages``.
    """
    out: list[ComponentRequirement] = []
    for row in components:
        if row.item not in index.phantoms:
            out.append(row)
            continue
        for comp, per in index.children.get(row.item, ()):
            out.append(
                ComponentRequirement(comp, row.required_qty * per, row.issued_qty * per, row.need_date)
            )
    return tuple(out)


def explode_phantom_demands(demands: Iterable[Demand], index: BomIndex) -> list[Demand]:
    """Open demands with demands on phantom items passed to the phantoms' components (same id and date)."""
    out: list[Demand] = []
    for d in demands:
        if d.item in index.phantoms:
            out.extend(
                Demand(d.id, comp, d.qty * per, d.due, d.kind, d.priority, d.customer)
                for comp, per in index.children.get(d.item, ())
            )
        else:
            out.append(d)
    return out
