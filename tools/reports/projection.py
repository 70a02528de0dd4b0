"""When orders will really be done: projections that follow the pegged flow of material down every level.

The rule (no capacity check; promising's ``estimate_delivery`` is the capable-to-promise answer, too slow for
a report over every open order):

- an open sales order line is ready when all of its open quantity is: output already made for it and its
  pegged stock today, its linked orders at their projected finish, the open receipts pegged to it at their
  projected dates, and what nothing covers when new supply could come: just in time if the item's cumulative
  lead time (its own plus its longest component chain, in working days) still fits before it is needed,
  else today plus that lead time (an order placed today, a risk);
- an open production or subcontract order finishes on its due date (not before today) when every component
  still to issue is there by its start date; otherwise its lead time after the last of them arrives;
- a purchase receipt counts on its due date (today if past due), goods in inspection today, a production or
  subcontract order on its own projected finish.

Problems come back as typed risk records with their cause and the records on the way to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.model import ZERO, SupplyKind
from tools.reports.flow import FlowStore, OrderRow, SalesLine
from tools.reports.pegging import Pegging


class RiskKind(StrEnum):
    OVERDUE = "overdue"  # the record itself is past its date with something still open
    PROJECTED_LATE = "projected_late"  # projected after the date owed (promised, requested or due)
    UNCOVERED_SHORTAGE = "uncovered_shortage"  # material short that no open receipt covers
    LATE_SUPPLY = "late_supply"  # a receipt it waits for comes after it is needed
    SUPPLY_OVERDUE = "supply_overdue"  # a receipt it waits for is past its own due date
    LINKED_ORDER_OVERDUE = "linked_order_overdue"  # an order made for it is past its due date


@dataclass(frozen=True, slots=True)
class Risk:
    """A reason an order may be late: what, at which record, and the records on the way from the order to it."""

    kind: RiskKind
    record: str
    item: str | None
    qty: Decimal | None
    on: date | None  # the date concerned: due, projected or needed
    via: tuple[str, ...]
    message: str

    @property
    def key(self) -> tuple[str, str, str | None]:
        return (self.kind.value, self.record, self.item)


@dataclass(frozen=True, slots=True)
class PeggedSupply:
    """Part of an open receipt pegged to the tracked order or, ``level`` steps down, to an order feeding it."""

    supply: str
    kind: str  # purchase | production | subcontract | inspection | transit
    item: str
    qty: Decimal
    due: date
    projected: date
    needed: date
    for_record: str
    level: int

    @property
    def late(self) -> bool:
        return self.projected > self.needed


@dataclass(frozen=True, slots=True)
class ComponentOutlook:
    """One component of an order still to issue: where it comes from and when it is all there."""

    item: str
    required: Decimal
    issued: Decimal
    remaining: Decimal
    from_stock: Decimal
    from_receipts: Decimal
    uncovered: Decimal
    ready: date


@dataclass(frozen=True)
class OrderProjection:
    order: OrderRow
    need_date: date  # when its components are needed (its start)
    ready_date: date | None  # when every component still to issue is there (None: a closed order)
    finish: date | None  # projected finish (None: nothing open)
    basis: str
    components: tuple[ComponentOutlook, ...]
    supplies: tuple[PeggedSupply, ...]
    risks: tuple[Risk, ...]

    @property
    def late(self) -> bool:
        return self.finish is not None and self.finish > self.order.due_date


@dataclass(frozen=True)
class LineProjection:
    line: SalesLine
    made_for_it: Decimal  # in stock for it: output made for it (not shipped) or stock reserved for it
    from_stock: Decimal  # stock pegged to it
    in_production: Decimal  # open quantity of linked orders in progress
    planned: Decimal  # open quantity of linked orders not started
    incoming: Decimal  # open receipts pegged to it
    uncovered: Decimal
    linked: tuple[OrderProjection, ...]
    projected: date | None
    basis: str
    stage: str
    supplies: tuple[PeggedSupply, ...]
    risks: tuple[Risk, ...] = field(default=())

    @property
    def days_late(self) -> int:
        if self.projected is None or self.line.open_qty <= 0:
            return 0
        return max((self.projected - self.line.commitment_date).days, 0)


def _fmt(q: Decimal) -> str:
    text = format(Decimal(q).normalize(), "f")
    return "0" if text in ("-0", "") else text


def _dedupe(risks: list[Risk]) -> tuple[Risk, ...]:
    seen: dict[tuple[str, str, str | None], Risk] = {}
    for r in risks:
        seen.setdefault(r.key, r)
    return tuple(seen.values())


class Projector:
    """Projections of orders and sales order lines on a FlowStore, each computed once."""

    def __init__(self, store: FlowStore) -> None:
        self.store = store
        self.today = store.today
        self._orders: dict[int, OrderProjection] = {}
        self._lines: dict[int, LineProjection] = {}
        self._stack: set[int] = set()

    # ------------------------------------------------------------------------------------------- loading

    def prefetch(self, lines: Sequence[SalesLine] = (), orders: Sequence[OrderRow] = ()) -> None:
        """Load what the projections of these lines and orders will read, one level of the pegging at a time
        (a few queries per level instead of a few per order)."""
        store = self.store
        if store.everything:
            return
        store.ensure_items({ln.item_id for ln in lines} | {o.item_id for o in orders})
        todo = {o.id for o in orders}
        short: set[int] = set()  # items some demand gets nothing for: their cumulative lead time is asked
        for ln in lines:
            todo.update(o.id for o in store.linked_orders(ln.id))
            if ln.is_demand:
                peg = store.pegging(ln.item_id).by_demand.get(ln.ref)
                todo.update(self._receipt_orders(peg))
                if peg is not None and peg.uncovered > 0:
                    short.add(ln.item_id)
        seen: set[int] = set()
        while todo:
            seen |= todo
            batch = [i for i in sorted(todo) if store.orders[i].open_qty > 0]
            store.ensure_orders(batch)
            found: set[int] = set()
            for order_id in batch:
                code = store.orders[order_id].code
                for item_id in {c.item_id for c in store.components[order_id] if c.remaining > 0}:
                    peg = store.pegging(item_id).by_demand.get(code)
                    found.update(self._receipt_orders(peg))
                    if peg is not None and peg.uncovered > 0:
                        short.add(item_id)
            todo = found - seen
        store.load_bom_structure(short)

    def _receipt_orders(self, peg: Pegging | None) -> set[int]:
        if peg is None:
            return set()
        kinds = (SupplyKind.PRODUCTION, SupplyKind.SUBCONTRACT)
        ids = (self.store.order_ids.get(r.supply.id) for r in peg.receipts if r.supply.kind in kinds)
        return {i for i in ids if i is not None}

    # ------------------------------------------------------------------------------------------- dates

    def new_supply_date(self, item_id: int, needed: date) -> tuple[date, bool]:
        """When a quantity nothing covers yet can be there, and whether that is late: ordered (or made) from
        scratch today it takes the item's cumulative lead time; with time enough it is planned just in time."""
        earliest = self.store.workdays_after(self.today, self.store.cumulative_lead_days(item_id))
        if earliest <= needed:
            return needed, False
        return earliest, True

    def receipt_date(self, share_supply_id: str, kind: SupplyKind, due: date) -> date:
        if kind in (SupplyKind.PRODUCTION, SupplyKind.SUBCONTRACT):
            order_id = self.store.order_ids.get(share_supply_id)
            if order_id is not None:
                projected = self.order(order_id)
                if projected.finish is not None:
                    return projected.finish
        if kind is SupplyKind.INSPECTION:
            return self.today
        return max(due, self.today)

    # ------------------------------------------------------------------------------------------- orders

    def order(self, order_id: int) -> OrderProjection:
        """The projection of a production, subcontract or rework order (any status)."""
        found = self._orders.get(order_id)
        if found is not None:
            return found
        order = self.store.orders[order_id]
        if order_id in self._stack:
            # a loop in the pegging (an order feeding itself through others): take it as planned
            return OrderProjection(
                order,
                self.store.need_date(order),
                None,
                max(order.due_date, self.today),
                "as planned (pegging loops back to it)",
                (),
                (),
                (),
            )
        self._stack.add(order_id)
        try:
            result = self._project_order(order)
        finally:
            self._stack.discard(order_id)
        self._orders[order_id] = result
        return result

    def _project_order(self, order: OrderRow) -> OrderProjection:
        store = self.store
        need = store.need_date(order)
        if order.open_qty <= 0:
            return OrderProjection(order, need, None, None, order.status, (), (), ())
        store.ensure_orders([order.id])
        by_item: dict[int, list[Decimal]] = {}
        for comp in store.components.get(order.id, ()):
            row = by_item.setdefault(comp.item_id, [ZERO, ZERO, ZERO])
            row[0] += comp.required
            row[1] += comp.issued
            row[2] += comp.remaining
        outlooks: list[ComponentOutlook] = []
        supplies: list[PeggedSupply] = []
        risks: list[Risk] = []
        ready = self.today
        for item_id, (required, issued, remaining) in by_item.items():
            code = store.items[item_id].code
            if remaining <= 0:
                outlooks.append(ComponentOutlook(code, required, issued, ZERO, ZERO, ZERO, ZERO, self.today))
                continue
            peg = store.pegging(item_id).by_demand.get(order.code)
            part_ready, part_supplies, part_risks, from_receipts = self._covered(
                peg, item_id, need, order.code
            )
            ready = max(ready, part_ready)
            supplies.extend(part_supplies)
            risks.extend(part_risks)
            from_stock = peg.from_stock if peg else remaining
            uncovered = peg.uncovered if peg else ZERO
            outlooks.append(
                ComponentOutlook(
                    code, required, issued, remaining, from_stock, from_receipts, uncovered, part_ready
                )
            )
        lead = store.lead_time(order.item_id)
        if ready <= max(need, self.today):
            finish, basis = max(order.due_date, self.today), "on plan: material there by the start"
        else:
            finish = max(order.due_date, store.workdays_after(ready, lead))
            basis = f"material complete {ready.isoformat()}, then {lead} working day(s)"
        own: list[Risk] = []
        if order.due_date < self.today:
            own.append(
                Risk(
                    RiskKind.OVERDUE,
                    order.code,
                    store.items[order.item_id].code,
                    order.open_qty,
                    order.due_date,
                    (),
                    f"{order.code} was due {order.due_date.isoformat()}: {_fmt(order.open_qty)} still open",
                )
            )
        elif finish > order.due_date:
            own.append(
                Risk(
                    RiskKind.PROJECTED_LATE,
                    order.code,
                    store.items[order.item_id].code,
                    order.open_qty,
                    finish,
                    (),
                    f"{order.code} is projected to finish {finish.isoformat()}, after its due date "
                    f"{order.due_date.isoformat()}",
                )
            )
        return OrderProjection(
            order, need, ready, finish, basis, tuple(outlooks), tuple(supplies), _dedupe(own + risks)
        )

    def _covered(
        self, peg: Pegging | None, item_id: int, needed: date, for_record: str
    ) -> tuple[date, list[PeggedSupply], list[Risk], Decimal]:
        """When a demand's pegged stock, receipts and new supply are all there; its supplies and risks."""
        store = self.store
        code = store.items[item_id].code
        if peg is None:
            return self.today, [], [], ZERO
        ready = self.today
        supplies: list[PeggedSupply] = []
        risks: list[Risk] = []
        received = ZERO
        for share in peg.receipts:
            s = share.supply
            projected = self.receipt_date(s.id, s.kind, s.due)
            ready = max(ready, projected)
            received += share.qty
            supplies.append(
                PeggedSupply(s.id, s.kind.value, code, share.qty, s.due, projected, needed, for_record, 0)
            )
            if s.kind in (SupplyKind.PRODUCTION, SupplyKind.SUBCONTRACT):
                order_id = store.order_ids.get(s.id)
                if order_id is not None:
                    sub = self.order(order_id)
                    supplies.extend(_deeper(sub.supplies))
                    risks.extend(_lift(sub.risks, sub.order, linked=False))
            elif s.kind is SupplyKind.PURCHASE and s.due < self.today:
                risks.append(
                    Risk(
                        RiskKind.SUPPLY_OVERDUE,
                        s.id,
                        code,
                        share.qty,
                        s.due,
                        (),
                        f"{s.id} ({_fmt(share.qty)} {code} for {for_record}) was due "
                        f"{s.due.isoformat()} and has not arrived",
                    )
                )
            if projected > needed:
                risks.append(
                    Risk(
                        RiskKind.LATE_SUPPLY,
                        s.id,
                        code,
                        share.qty,
                        projected,
                        (),
                        f"{for_record} needs {code} on {needed.isoformat()}; {s.id} brings "
                        f"{_fmt(share.qty)} on {projected.isoformat()}",
                    )
                )
        if peg.uncovered > 0:
            on, late = self.new_supply_date(item_id, needed)
            ready = max(ready, on)
            if late:
                risks.append(
                    Risk(
                        RiskKind.UNCOVERED_SHORTAGE,
                        for_record,
                        code,
                        peg.uncovered,
                        on,
                        (),
                        f"{for_record} is short {_fmt(peg.uncovered)} {code} that no stock or open order covers; "
                        f"from scratch it could be there {on.isoformat()}, needed {needed.isoformat()}",
                    )
                )
        return ready, supplies, risks, received

    # ------------------------------------------------------------------------------------------- lines

    def line(self, line_id: int) -> LineProjection:
        """The projection of a sales order line (any status)."""
        found = self._lines.get(line_id)
        if found is None:
            found = self._project_line(self.store.sales_lines[line_id])
            self._lines[line_id] = found
        return found

    def _project_line(self, line: SalesLine) -> LineProjection:
        store = self.store
        code = store.items[line.item_id].code
        linked = tuple(self.order(o.id) for o in store.linked_orders(line.id))
        if not line.is_demand:
            stage = "shipped" if line.open_qty <= 0 else line.order_status
            return LineProjection(line, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, linked, None, stage, stage, ())
        dedication = store.dedication(line.id)
        peg = store.pegging(line.item_id).by_demand.get(line.ref)
        commitment = line.commitment_date
        ready, supplies, risks, incoming = self._covered(peg, line.item_id, commitment, line.ref)
        dates = [ready]
        dedicated_ids = {o.id for o in dedication.orders}
        in_production = planned = ZERO
        waiting_material = False
        for proj in linked:
            if proj.order.id not in dedicated_ids:
                continue
            if proj.finish is not None:
                dates.append(proj.finish)
            if proj.order.status == "in_progress":
                in_production += proj.order.open_qty
            else:
                planned += proj.order.open_qty
                waiting_material = waiting_material or (
                    proj.ready_date is not None and proj.ready_date > max(proj.need_date, self.today)
                )
            supplies.extend(_deeper(proj.supplies, start=0))
            risks.extend(_lift(proj.risks, proj.order, linked=True))
        from_stock = peg.from_stock if peg else ZERO
        uncovered = peg.uncovered if peg else ZERO
        projected = max(dates)
        own: list[Risk] = []
        if commitment < self.today:
            own.append(
                Risk(
                    RiskKind.OVERDUE,
                    line.ref,
                    code,
                    line.open_qty,
                    commitment,
                    (),
                    f"{line.ref} was owed on {commitment.isoformat()}: {_fmt(line.open_qty)} {code} "
                    f"not shipped",
                )
            )
        elif projected > commitment:
            own.append(
                Risk(
                    RiskKind.PROJECTED_LATE,
                    line.ref,
                    code,
                    line.open_qty,
                    projected,
                    (),
                    f"{line.ref} is projected ready {projected.isoformat()}, after "
                    f"{'the promised' if line.promised_date else 'the requested'} date "
                    f"{commitment.isoformat()}",
                )
            )
        ready_now = dedication.stock + from_stock
        if uncovered > 0:
            stage = "not_planned"
        elif incoming > 0:
            stage = "awaiting_supply"
        elif planned > 0:
            stage = "waiting_for_material" if waiting_material else "scheduled"
        elif in_production > 0:
            stage = "in_production"
        else:
            stage = "ready_to_ship"
        basis = _line_basis(ready_now, in_production + planned, incoming, uncovered)
        return LineProjection(
            line,
            dedication.stock,
            from_stock,
            in_production,
            planned,
            incoming,
            uncovered,
            linked,
            projected,
            basis,
            stage,
            tuple(supplies),
            _dedupe(own + risks),
        )


def _line_basis(ready_now: Decimal, linked: Decimal, incoming: Decimal, uncovered: Decimal) -> str:
    parts = []
    if ready_now > 0:
        parts.append(f"{_fmt(ready_now)} in stock")
    if linked > 0:
        parts.append(f"{_fmt(linked)} from its production orders")
    if incoming > 0:
        parts.append(f"{_fmt(incoming)} from open receipts")
    if uncovered > 0:
        parts.append(f"{_fmt(uncovered)} not ordered yet (at the earliest after its cumulative lead time)")
    return ", ".join(parts) or "nothing open"


def _deeper(supplies: tuple[PeggedSupply, ...], start: int = 1) -> list[PeggedSupply]:
    return [
        PeggedSupply(
            s.supply, s.kind, s.item, s.qty, s.due, s.projected, s.needed, s.for_record, s.level + start
        )
        for s in supplies
    ]


def _lift(risks: tuple[Risk, ...], through: OrderRow, *, linked: bool) -> list[Risk]:
    """An order's risks seen from what it feeds: its own lateness becomes the feeder's cause."""
    out = []
    for r in risks:
        if r.record == through.code and r.kind is RiskKind.PROJECTED_LATE:
            continue  # its date already counts in the projection of what it feeds
        if r.record == through.code and r.kind is RiskKind.OVERDUE:
            kind = RiskKind.LINKED_ORDER_OVERDUE if linked else RiskKind.SUPPLY_OVERDUE
            out.append(Risk(kind, r.record, r.item, r.qty, r.on, r.via, r.message))
            continue
        via = r.via if r.record == through.code else (through.code, *r.via)
        out.append(Risk(r.kind, r.record, r.item, r.qty, r.on, via, r.message))
    return out
