"""Lot sizing: turn a net requirement into order quantities (lot-for-lot, minimum, multiple, maximum)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from planning.model import ONE, ZERO, Item

# MRP nets in floats: quantities below this are rounding noise (results are reported to 6 decimals)
EPSILON = 1e-7

# Units counted in whole pieces: an order for 287.52 of them is rounded up to 288.
COUNTABLE_UOMS = frozenset(
    {
        "pcs",
        "pc",
        "piece",
        "pieces",
        "ea",
        "each",
        "unit",
        "units",
        "set",
        "sets",
        "pair",
        "pairs",
        "box",
        "boxes",
        "个",
        "件",
        "只",
        "台",
        "套",
        "把",
        "辆",
        "根",
        "块",
        "张",
        "支",
        "条",
        "双",
        "箱",
    }
)


def is_countable(uom: str) -> bool:
    """Whether ``uom`` is counted in whole units (pieces, sets, 个, 件...), not measured (kg, m, l)."""
    return uom.strip().lower() in COUNTABLE_UOMS


def _round_up(qty: Decimal, step: Decimal) -> Decimal:
    return (qty / step).to_integral_value(rounding=ROUND_CEILING) * step


def _round_down(qty: Decimal, step: Decimal) -> Decimal:
    return (qty / step).to_integral_value(rounding=ROUND_FLOOR) * step


@dataclass(frozen=True, slots=True)
class LotSizingRule:
    """How one item is ordered; all zero means lot-for-lot (exactly the net requirement)."""

    min_order_qty: Decimal = ZERO
    order_multiple: Decimal = ZERO
    max_order_qty: Decimal = ZERO
    whole_units: bool = False  # round up to whole units when no order multiple is set

    @classmethod
    def for_item(cls, item: Item) -> LotSizingRule:
        """The rule of an item master: its minimum, multiple and maximum, whole units for countable UoMs."""
        return cls(
            min_order_qty=item.min_order_qty,
            order_multiple=item.order_multiple,
            max_order_qty=item.max_order_qty,
            whole_units=is_countable(item.uom),
        )

    @property
    def step(self) -> Decimal:
        """The quantum every order quantity is a multiple of (0: any quantity)."""
        if self.order_multiple > 0:
            return self.order_multiple
        return ONE if self.whole_units else ZERO

    @property
    def max_lot(self) -> Decimal:
        """The largest order allowed, a multiple of ``step`` (0: no maximum).

        When the maximum is smaller than one multiple, the multiple wins: an order cannot be smaller.
        """
        if self.max_order_qty <= 0:
            return ZERO
        step = self.step
        if step <= 0:
            return self.max_order_qty
        return max(_round_down(self.max_order_qty, step), step)

    @property
    def min_lot(self) -> Decimal:
        """The smallest order allowed, a multiple of ``step``, never above ``max_lot`` (the maximum wins)."""
        lot = self.min_order_qty if self.min_order_qty > 0 else ZERO
        step = self.step
        if step > 0 and lot > 0:
            lot = _round_up(lot, step)
        cap = self.max_lot
        if cap > 0 and lot > cap:
            lot = cap
        return lot

    def conflicts(self) -> tuple[str, ...]:
        """Settings that contradict each other and how they were resolved (for an exception record)."""
        problems = []
        if self.max_order_qty > 0 and self.min_order_qty > self.max_order_qty:
            problems.append(
                f"min_order_qty {self.min_order_qty} is above max_order_qty {self.max_order_qty}; "
                "orders are capped at the maximum"
            )
        if 0 < self.max_order_qty < self.order_multiple:
            problems.append(
                f"max_order_qty {self.max_order_qty} is below one order_multiple {self.order_multiple}; "
                "orders are one multiple"
            )
        return tuple(problems)


def size_lot(net_qty: Decimal, rule: LotSizingRule) -> Decimal:
    """One order quantity covering ``net_qty``, ignoring the maximum: the minimum, then up to the multiple."""
    if net_qty <= 0:
        return ZERO
    step = rule.step
    qty = _round_up(net_qty, step) if step > 0 else net_qty
    return max(qty, rule.min_lot)


def size_lots(net_qty: Decimal, rule: LotSizingRule) -> tuple[Decimal, ...]:
    """Order quantities covering ``net_qty``: full lots of the maximum, then one lot for the rest.

    The rest is raised to the minimum and rounded up to the multiple; the total is at least ``net_qty``.
    """
    if net_qty <= 0:
        return ()
    cap = rule.max_lot
    lots: list[Decimal] = []
    rest = net_qty
    if cap > 0:
        while rest > cap:
            lots.append(cap)
            rest -= cap
    lots.append(size_lot(rest, rule))
    return tuple(lots)


def make_lot_sizer(rule: LotSizingRule) -> Callable[[Decimal], tuple[Decimal, ...]]:
    """``size_lots`` specialised to one rule (MRP sizes many orders of the same item)."""
    step, low, cap = rule.step, rule.min_lot, rule.max_lot
    if cap > 0:
        return lambda net_qty: size_lots(net_qty, rule)
    if step <= 0:
        if low <= 0:
            return lambda net_qty: (net_qty,) if net_qty > 0 else ()
        return lambda net_qty: ((net_qty if net_qty > low else low),) if net_qty > 0 else ()

    def sized(net_qty: Decimal) -> tuple[Decimal, ...]:
        if net_qty <= 0:
            return ()
        qty = (net_qty / step).to_integral_value(rounding=ROUND_CEILING) * step
        return ((qty if qty > low else low),)

    return sized


def make_float_lot_sizer(rule: LotSizingRule) -> Callable[[float], list[float]]:
    """``size_lots`` in floats for the MRP engine; a requirement within ``EPSILON`` of a step is not rounded up."""
    step, low, cap = float(rule.step), float(rule.min_lot), float(rule.max_lot)

    def one_lot(qty: float) -> float:
        if step > 0:
            qty = math.ceil((qty - EPSILON) / step) * step
        return qty if qty > low else low

    def sized(net_qty: float) -> list[float]:
        if net_qty <= EPSILON:
            return []
        lots = []
        if cap > 0:
            while net_qty > cap + EPSILON:
                lots.append(cap)
                net_qty -= cap
        lots.append(one_lot(net_qty))
        return lots

    return sized
