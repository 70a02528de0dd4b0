"""Pegging of one item's stock and open receipts to its open demands, all demands in one pass.

The rule is shortage analysis's (planning.shortages.analyze_shortages): demands are served in rank order
(priority number, then need date, then id), each from the stock left by those ahead, then from the open
receipts, earliest due first, where those ahead stopped. Analysing every order of an item that way costs a
sort per order; one pass gives every demand the same answer (tests/integration/test_tracking.py checks the
two agree), which is what a report over all open orders needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from operator import attrgetter

from planning.model import ZERO, Supply


@dataclass(frozen=True, slots=True)
class PegDemand:
    """An open demand on the item: a sales order line (``SO-1/1``) or an order's components (``MO-1``)."""

    id: str
    qty: Decimal
    need_date: date
    priority: int = 5

    @property
    def rank(self) -> tuple[int, date, str]:
        return (self.priority, self.need_date, self.id)


@dataclass(frozen=True, slots=True)
class ReceiptShare:
    """The part of an open receipt that goes to one demand."""

    supply: Supply
    qty: Decimal
    late: bool  # due after the demand needs it


@dataclass(frozen=True, slots=True)
class Pegging:
    """What one demand gets: stock now, shares of open receipts, and what nothing covers."""

    demand: PegDemand
    from_stock: Decimal
    receipts: tuple[ReceiptShare, ...]
    uncovered: Decimal

    @property
    def short(self) -> Decimal:
        """What stock does not cover now."""
        return self.demand.qty - self.from_stock


@dataclass(frozen=True, slots=True)
class ItemPegging:
    """Every open demand of an item with what it gets, and who gets each receipt."""

    item: str
    on_hand: Decimal
    by_demand: dict[str, Pegging]
    by_supply: dict[str, tuple[tuple[str, ReceiptShare], ...]]  # supply id: (demand id, share)
    free_stock: Decimal  # left after every demand


_RANK = attrgetter("priority", "need_date", "id")
_RECEIPT_ORDER = attrgetter("due", "id")


def peg_item(
    item: str, on_hand: Decimal, supplies: Iterable[Supply], demands: Iterable[PegDemand]
) -> ItemPegging:
    """Serve ``demands`` in rank order from ``on_hand`` and then from ``supplies`` (earliest due first)."""
    receipts: Sequence[Supply] = sorted((s for s in supplies if s.qty > 0), key=_RECEIPT_ORDER)
    left = [s.qty for s in receipts]
    stock = max(on_hand, ZERO)
    qi = 0
    by_demand: dict[str, Pegging] = {}
    by_supply: dict[str, list[tuple[str, ReceiptShare]]] = {}
    for d in sorted((d for d in demands if d.qty > 0), key=_RANK):
        take = min(stock, d.qty)
        stock -= take
        need = d.qty - take
        shares: list[ReceiptShare] = []
        while need > 0 and qi < len(left):
            part = min(need, left[qi])
            share = ReceiptShare(receipts[qi], part, receipts[qi].due > d.need_date)
            shares.append(share)
            by_supply.setdefault(receipts[qi].id, []).append((d.id, share))
            need -= part
            left[qi] -= part
            if left[qi] <= 0:
                qi += 1
        by_demand[d.id] = Pegging(d, take, tuple(shares), need)
    return ItemPegging(item, on_hand, by_demand, {k: tuple(v) for k, v in by_supply.items()}, stock)
