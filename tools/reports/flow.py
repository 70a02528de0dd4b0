"""The open flow of material around a set of items, loaded on demand: stock, open receipts, open demands.

A report on one order loads only the items it touches (its lines' items, its orders' components, and theirs
as pegging leads further down), each in a few set-based queries; a report on every open order loads it all
at once. The rules are the planning snapshot's (tools/snapshot.py): stock is our own available stock; open
supply is the open quantity of open purchase orders and of open production and subcontract orders, and
goods waiting in inspection (due today); open demand is sales order lines still to ship and the components
still to issue to open orders, needed on the order's start date (due date minus lead time if none).

Made to order (按单生产): an order linked to an open sales order line is that line's supply only. It leaves
the pool of its item, and so does the output it already made and the line has not shipped; the line competes
for the rest of the pool only with what its linked orders do not cover.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from data_model.dataset_store import effective_bom_map
from data_model.tables import (
    Bom,
    BomLine,
    Customer,
    Item,
    Location,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    SalesOrder,
    SalesOrderLine,
    StockMove,
    Supplier,
)
from planning.calendar import Calendar
from planning.model import ZERO, Supply, SupplyKind
from tools.reports.pegging import ItemPegging, PegDemand, Pegging, peg_item
from tools.snapshot import OPEN_PRODUCTION, OPEN_PURCHASE, OPEN_SALES, load_calendar

# reservations a promise makes for a sales order line (tools/catalog/promising.py)
LINE_DEMAND = "sales_order_line"
# orders whose output serves a linked sales order line (rework re-makes units already counted)
DEDICATED_KINDS = ("production", "subcontract")
# SQLite allows 32766 bound parameters per statement; stay well below
CHUNK = 5000


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a report builds its many small, acyclic records.

    A report over every open order keeps a hundred thousand of them alive; each collection would rescan them
    all (as planning.mrp does for its runs). Reference counting frees them anyway.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def dec(value: object) -> Decimal:
    """A database value as an exact Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


@dataclass(frozen=True, slots=True)
class ItemInfo:
    id: int
    code: str
    name: str
    uom: str
    source: str
    lead_time_days: int
    phantom: bool


@dataclass(frozen=True, slots=True)
class OrderRow:
    """A production, subcontract or rework order."""

    id: int
    code: str
    kind: str
    item_id: int
    qty: Decimal
    completed_qty: Decimal
    status: str
    start_date: date | None
    due_date: date
    priority: int
    supplier_id: int | None
    sales_order_line_id: int | None
    parent_order_id: int | None
    is_open: bool = field(init=False)
    open_qty: Decimal = field(init=False)  # still to make (0 once completed, closed or cancelled)

    def __post_init__(self) -> None:
        is_open = self.status in OPEN_PRODUCTION
        object.__setattr__(self, "is_open", is_open)
        object.__setattr__(self, "open_qty", max(self.qty - self.completed_qty, ZERO) if is_open else ZERO)


@dataclass(frozen=True, slots=True)
class ComponentRow:
    id: int
    order_id: int
    item_id: int
    required: Decimal
    issued: Decimal
    issue_method: str
    substitute_for_id: int | None
    remaining: Decimal = field(init=False)  # still to issue

    def __post_init__(self) -> None:
        object.__setattr__(self, "remaining", max(self.required - self.issued, ZERO))


@dataclass(frozen=True, slots=True)
class SalesLine:
    id: int
    order_id: int
    order_code: str
    order_status: str
    priority: int
    customer_id: int
    line_no: int
    item_id: int
    qty: Decimal
    shipped_qty: Decimal
    due_date: date  # requested
    promised_date: date | None
    ref: str = field(init=False)  # CODE/line
    open_qty: Decimal = field(init=False)
    is_demand: bool = field(init=False)  # an open order with something still to ship

    def __post_init__(self) -> None:
        open_qty = max(self.qty - self.shipped_qty, ZERO)
        object.__setattr__(self, "ref", f"{self.order_code}/{self.line_no}")
        object.__setattr__(self, "open_qty", open_qty)
        object.__setattr__(self, "is_demand", self.order_status in OPEN_SALES and open_qty > 0)

    @property
    def commitment_date(self) -> date:
        """The date we owe the customer: the promised date, else the requested one."""
        return self.promised_date or self.due_date


@dataclass(frozen=True, slots=True)
class PurchaseLine:
    id: int
    order_code: str
    order_status: str
    supplier_id: int | None
    line_no: int
    item_id: int
    qty: Decimal
    received_qty: Decimal
    due_date: date

    @property
    def ref(self) -> str:
        # the snapshot's supply id: the order code for line 1, CODE/n for the others
        return self.order_code if self.line_no == 1 else f"{self.order_code}/{self.line_no}"

    @property
    def open_qty(self) -> Decimal:
        return max(self.qty - self.received_qty, ZERO) if self.order_status in OPEN_PURCHASE else ZERO


@dataclass
class Dedication:
    """What a line holds outside the pool: stock made or reserved for it, and its linked open orders."""

    stock: Decimal = ZERO
    orders: list[OrderRow] = field(default_factory=list)

    @property
    def to_come(self) -> Decimal:
        return sum((o.open_qty for o in self.orders), ZERO)


class FlowStore:
    """Rows loaded so far, per item; every item is loaded whole (all its demands and supplies) or not at all."""

    def __init__(self, session: Session, today: date, calendar: Calendar | None = None) -> None:
        self.session = session
        self.today = today
        self.calendar = calendar if calendar is not None else load_calendar(session)
        self.items: dict[int, ItemInfo] = {}
        self.item_ids: dict[str, int] = {}
        self.loaded: set[int] = set()
        self.everything = False
        self.stock: dict[int, Decimal] = {}
        self.in_qc: dict[int, Decimal] = {}
        self.orders: dict[int, OrderRow] = {}
        self.order_ids: dict[str, int] = {}
        self.components: dict[int, list[ComponentRow]] = {}
        self.sales_lines: dict[int, SalesLine] = {}
        self.purchase_lines: dict[int, PurchaseLine] = {}
        self.customers: dict[int, tuple[str, str]] = {}
        self.suppliers: dict[int, tuple[str, str]] = {}
        self._item_orders: dict[int, list[int]] = defaultdict(list)
        self._item_lines: dict[int, list[int]] = defaultdict(list)
        self._item_purchases: dict[int, list[int]] = defaultdict(list)
        self._item_components: dict[int, list[ComponentRow]] = defaultdict(list)
        self._linked: dict[int, list[int]] = defaultdict(list)
        self._linked_loaded: set[int] = set()
        self._children: dict[int, list[int]] = defaultdict(list)
        self._component_ids: set[int] = set()
        self._purchase_refs: dict[str, int] = {}
        self._pegging: dict[int, ItemPegging] = {}
        self._bom_children: dict[int, tuple[int, ...]] = {}
        self._clt: dict[int, int] = {}
        self._all_boms = False
        self._location_kinds: dict[int, str] | None = None
        self._workdays: dict[tuple[date, int, bool], date] = {}
        self._dedications: dict[int, Dedication] = {}
        self._reserved: dict[int, dict[str, Decimal]] = defaultdict(dict)

    # ------------------------------------------------------------------------------------------- loading

    def _execute(self, stmt: Any) -> Any:
        # plain rows through the session's connection: the ORM's result machinery costs more than the query
        return self.session.connection().execute(stmt)

    def load_everything(self) -> None:
        """Every item, open order and open sales order line (a report over all open orders)."""
        if self.everything:
            return
        self._load_items(None)
        self._load_orders(ProductionOrder.status.in_(OPEN_PRODUCTION))  # type: ignore[attr-defined]
        self._load_components(None)
        self._load_sales_lines(_open_lines())
        self._load_linked(
            ProductionOrder.sales_order_line_id.in_(  # type: ignore[union-attr]
                sa.select(SalesOrderLine.id)
                .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
                .where(_open_lines())
            ),
            list(self.sales_lines),
        )
        self._load_purchase_lines(None)
        self.stock, self.in_qc = self._ledger_balances()
        self._load_reservations(None)
        self.loaded = set(self.items)
        self.everything = True

    def _ledger_balances(
        self, item_ids: Sequence[int] | None = None
    ) -> tuple[dict[int, Decimal], dict[int, Decimal]]:
        """Our own stock and goods in inspection per item, summed from the ledger in one pass per direction.

        The same figures as data_model.stock.on_hand with kinds ("stock",) and ("inspection",): moves into a
        location of the kind count up, moves out count down, customer-owned moves not at all.
        """
        if self._location_kinds is None:
            self._location_kinds = dict(self._execute(sa.select(*_columns(Location.id, Location.kind))).all())
        stock_ids = [i for i, k in self._location_kinds.items() if k == "stock"]
        qc_ids = [i for i, k in self._location_kinds.items() if k == "inspection"]
        stock: dict[int, Decimal] = defaultdict(Decimal)
        qc: dict[int, Decimal] = defaultdict(Decimal)
        if not stock_ids and not qc_ids:
            return {}, {}
        own = StockMove.owner_customer_id.is_(None)
        to, frm = StockMove.to_location_id, StockMove.from_location_id

        def net(ids: list[int]) -> Any:
            ids = ids or [-1]
            return sa.func.sum(
                sa.case((sa.and_(to.in_(ids), own), StockMove.qty), else_=0)
                - sa.case((sa.and_(frm.in_(ids), own), StockMove.qty), else_=0)
            )

        # for a few items only the item filter goes in WHERE: SQLite would otherwise walk the location or
        # owner index, which covers nearly every move
        internal = stock_ids + qc_ids
        where = (
            StockMove.item_id.in_(item_ids)
            if item_ids is not None
            else sa.and_(sa.or_(to.in_(internal), frm.in_(internal)), own)
        )
        for item_id, in_stock, in_qc in self._execute(
            sa.select(*_columns(StockMove.item_id), net(stock_ids), net(qc_ids))
            .where(where)
            .group_by(StockMove.item_id)
        ):
            stock[item_id] += dec(in_stock)
            qc[item_id] += dec(in_qc)
        return ({k: v for k, v in stock.items() if v != 0}, {k: v for k, v in qc.items() if v != 0})

    def ensure_items(self, item_ids: Iterable[int]) -> None:
        """Load every open demand and supply of these items (and their linked orders) if not loaded yet."""
        if self.everything:
            return
        wanted = sorted(set(item_ids) - self.loaded)
        if not wanted:
            return
        for chunk in _chunks(wanted):
            in_chunk = ProductionOrder.item_id.in_(chunk)  # type: ignore[attr-defined]
            self._load_items(chunk)
            self._load_orders(sa.and_(in_chunk, ProductionOrder.status.in_(OPEN_PRODUCTION)))  # type: ignore[attr-defined]
            self._load_components(chunk)
            self._load_sales_lines(sa.and_(SalesOrderLine.item_id.in_(chunk), _open_lines()))  # type: ignore[attr-defined]
            self._load_purchase_lines(chunk)
            stock, in_qc = self._ledger_balances(chunk)
            self.stock.update(stock)
            self.in_qc.update(in_qc)
            self._load_reservations(chunk)
        line_ids = sorted({i for item in wanted for i in self._item_lines.get(item, ())})
        self._load_linked_to(line_ids)
        self.loaded.update(wanted)

    def ensure_orders(self, order_ids: Iterable[int]) -> None:
        """Load these orders' component rows (all of them, issued or not) and the flow of their items."""
        ids = sorted(set(order_ids))
        wanted = [i for i in ids if i not in self.components]
        for chunk in _chunks(wanted):
            rows = self._execute(
                _component_select().where(ProductionOrderComponent.production_order_id.in_(chunk))
            ).all()  # type: ignore[attr-defined]
            for row in rows:
                comp = _component(row)
                self.components.setdefault(comp.order_id, []).append(comp)
        for order_id in wanted:
            self.components.setdefault(order_id, [])
        self.ensure_items({c.item_id for i in ids for c in self.components[i]})

    def order_by_code(self, code: str) -> OrderRow | None:
        """An order of any status, loaded on first ask (with its item's flow)."""
        key = code.strip().lower()
        found = next((i for c, i in self.order_ids.items() if c.lower() == key), None)
        # the code as written first (found through its unique index), then in any case (a scan of every order)
        for condition in (ProductionOrder.code == code.strip(), sa.func.lower(ProductionOrder.code) == key):
            if found is not None:
                break
            self._load_orders(condition)
            found = next((i for c, i in self.order_ids.items() if c.lower() == key), None)
        if found is None:
            return None
        self.ensure_items([self.orders[found].item_id])
        return self.orders[found]

    def load_orders_where(self, condition: Any) -> list[OrderRow]:
        """Orders matching a condition on the production_order table (any status), with their items' flow."""
        ids = [row[0] for row in self._execute(sa.select(*_columns(ProductionOrder.id)).where(condition))]
        missing = [i for i in ids if i not in self.orders]
        for chunk in _chunks(missing):
            self._load_orders(ProductionOrder.id.in_(chunk))  # type: ignore[union-attr]
        self.ensure_items({self.orders[i].item_id for i in ids})
        return [self.orders[i] for i in ids]

    def sales_lines_of(self, sales_order_ids: Sequence[int]) -> list[SalesLine]:
        """The lines of these sales orders (any status), with their items' flow and their linked orders."""
        for chunk in _chunks(sorted(set(sales_order_ids))):
            self._load_sales_lines(SalesOrderLine.sales_order_id.in_(chunk))  # type: ignore[attr-defined]
        wanted = set(sales_order_ids)
        lines = [ln for ln in self.sales_lines.values() if ln.order_id in wanted]
        self.ensure_items({ln.item_id for ln in lines})
        self._load_linked_to([ln.id for ln in lines])
        return sorted(lines, key=lambda ln: (ln.order_code, ln.line_no))

    def _load_items(self, ids: Sequence[int] | None) -> None:
        stmt = sa.select(*_ITEM_COLUMNS)
        if ids is not None:
            ids = [i for i in ids if i not in self.items]
            if not ids:
                return
            stmt = stmt.where(Item.id.in_(ids))
        for row in self._execute(stmt):
            self._add_item(row)

    def _add_item(self, row: Any) -> None:
        info = ItemInfo(row[0], row[1], row[2], row[3], row[4], row[5] or 0, bool(row[6]))
        self.items[info.id] = info
        self.item_ids[info.code] = info.id

    def _load_orders(self, condition: Any) -> None:
        new_items: set[int] = set()
        for row in self._execute(sa.select(*_ORDER_COLUMNS).where(condition)):
            self._add_order(row, new_items)
        self._load_items(sorted(new_items))

    def _add_order(self, row: Any, new_items: set[int]) -> None:
        if row[0] in self.orders:
            return
        order = OrderRow(*row[:4], dec(row[4]), dec(row[5]), *row[6:13])
        self.orders[order.id] = order
        self.order_ids[order.code] = order.id
        self._item_orders[order.item_id].append(order.id)
        if order.sales_order_line_id is not None:
            self._linked[order.sales_order_line_id].append(order.id)
        if order.parent_order_id is not None:
            self._children[order.parent_order_id].append(order.id)
        if order.item_id not in self.items:
            new_items.add(order.item_id)

    def _load_reservations(self, item_ids: Sequence[int] | None) -> None:
        """Stock reserved for sales order lines (promises), per item and line."""
        stmt = sa.select(*_columns(Reservation.item_id, Reservation.demand_ref, Reservation.qty)).where(
            Reservation.status == "active",
            Reservation.supply_ref == "stock",
            Reservation.demand_type == LINE_DEMAND,
        )
        if item_ids is not None:
            stmt = stmt.where(Reservation.item_id.in_(item_ids))
        for item_id, ref, qty in self._execute(stmt):
            mine = self._reserved[item_id]
            mine[ref] = mine.get(ref, ZERO) + dec(qty)

    def _load_linked_to(self, line_ids: Sequence[int]) -> None:
        todo = sorted(set(line_ids) - self._linked_loaded)
        for chunk in _chunks(todo):
            self._load_linked(ProductionOrder.sales_order_line_id.in_(chunk), chunk)  # type: ignore[union-attr]

    def _load_linked(self, condition: Any, line_ids: Sequence[int]) -> None:
        """Orders linked to sales order lines (any status: made output counts), and their sub-orders."""
        before = set(self.orders)
        self._load_orders(condition)
        frontier = sorted(set(self.orders) - before)
        while frontier:
            self._load_orders(ProductionOrder.parent_order_id.in_(frontier))  # type: ignore[union-attr]
            fresh = sorted(set(self.orders) - before - set(frontier))
            before |= set(frontier)
            frontier = fresh
        self._linked_loaded.update(line_ids)

    def _load_components(self, item_ids: Sequence[int] | None) -> None:
        """Component rows of open orders, with their orders: those on these items, or every row of every open
        order."""
        stmt = (
            sa.select(*_component_columns(), *_ORDER_COLUMNS)
            .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)
            .where(ProductionOrder.status.in_(OPEN_PRODUCTION))
        )
        if item_ids is not None:
            stmt = stmt.where(ProductionOrderComponent.item_id.in_(item_ids))
        new_items: set[int] = set()
        width = len(_component_columns())
        for row in self._execute(stmt):
            comp = _component(row)
            self._add_order(row[width:], new_items)
            if comp.id in self._component_ids:
                continue
            self._component_ids.add(comp.id)
            self._item_components[comp.item_id].append(comp)
            if item_ids is None:
                self.components.setdefault(comp.order_id, []).append(comp)
        if item_ids is None:
            for order in self.orders.values():
                if order.is_open:
                    self.components.setdefault(order.id, [])
        self._load_items(sorted(new_items))

    def _load_sales_lines(self, condition: Any) -> None:
        stmt = (
            sa.select(
                *_columns(
                    SalesOrderLine.id,
                    SalesOrderLine.sales_order_id,
                    SalesOrder.code,
                    SalesOrder.status,
                    SalesOrder.priority,
                    SalesOrder.customer_id,
                    SalesOrderLine.line_no,
                    SalesOrderLine.item_id,
                    SalesOrderLine.qty,
                    SalesOrderLine.shipped_qty,
                    SalesOrderLine.due_date,
                    SalesOrderLine.promised_date,
                )
            )
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
            .where(condition)
        )
        new_items = set()
        for row in self._execute(stmt):
            if row[0] in self.sales_lines:
                continue
            line = SalesLine(
                row[0],
                row[1],
                row[2],
                row[3],
                row[4],
                row[5],
                row[6],
                row[7],
                dec(row[8]),
                dec(row[9]),
                row[10],
                row[11],
            )
            self.sales_lines[line.id] = line
            self._item_lines[line.item_id].append(line.id)
            new_items.add(line.item_id)
        self._load_items(sorted(new_items))

    def _load_purchase_lines(self, item_ids: Sequence[int] | None) -> None:
        stmt = (
            sa.select(
                *_columns(
                    PurchaseOrderLine.id,
                    PurchaseOrder.code,
                    PurchaseOrder.status,
                    PurchaseOrder.supplier_id,
                    PurchaseOrderLine.line_no,
                    PurchaseOrderLine.item_id,
                    PurchaseOrderLine.qty,
                    PurchaseOrderLine.received_qty,
                    PurchaseOrderLine.due_date,
                )
            )
            .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
            .where(PurchaseOrder.status.in_(OPEN_PURCHASE))  # type: ignore[attr-defined]
        )
        if item_ids is not None:
            stmt = stmt.where(PurchaseOrderLine.item_id.in_(item_ids))  # type: ignore[attr-defined]
        for row in self._execute(stmt):
            if row[0] in self.purchase_lines:
                continue
            line = PurchaseLine(
                row[0], row[1], row[2], row[3], row[4], row[5], dec(row[6]), dec(row[7]), row[8]
            )
            self.purchase_lines[line.id] = line
            self._item_purchases[line.item_id].append(line.id)
            self._purchase_refs[line.ref] = line.id

    def load_partners(self) -> None:
        """Codes and names of the customers and suppliers of what is loaded (once, before a report's output)."""
        want_c = {ln.customer_id for ln in self.sales_lines.values()} - set(self.customers)
        if want_c:
            for cid, code, name in self._execute(
                sa.select(*_columns(Customer.id, Customer.code, Customer.name)).where(
                    Customer.id.in_(sorted(want_c))
                )
            ):  # type: ignore[union-attr]
                self.customers[cid] = (code, name)
        want_s = (
            {o.supplier_id for o in self.orders.values() if o.supplier_id}
            | {p.supplier_id for p in self.purchase_lines.values() if p.supplier_id}
        ) - set(self.suppliers)
        if want_s:
            for sid, code, name in self._execute(
                sa.select(*_columns(Supplier.id, Supplier.code, Supplier.name)).where(
                    Supplier.id.in_(sorted(want_s))
                )
            ):  # type: ignore[union-attr]
                self.suppliers[sid] = (code, name)

    def _load_all_bom_children(self) -> None:
        heads = [
            _BomHead(*row)
            for row in self._execute(
                sa.select(
                    *_columns(Bom.id, Bom.item_id, Bom.version, Bom.effective_from, Bom.effective_to)
                ).where(Bom.status == "active")
            )
        ]
        chosen = {h.id: h.parent for h in effective_bom_map(heads, self.today).values()}
        children: dict[int, set[int]] = defaultdict(set)
        for bom_id, comp in self._execute(sa.select(*_columns(BomLine.bom_id, BomLine.component_id))):
            parent = chosen.get(bom_id)
            if parent is not None:
                children[parent].add(comp)
        for item_id in self.items:
            self._bom_children[item_id] = tuple(sorted(children.get(item_id, ())))
        self._all_boms = True

    def _load_bom_children(self, item_ids: Iterable[int]) -> None:
        """The components of the BOMs in force today of these items (and below them), level by level."""
        if self.everything and not self._all_boms:
            self._load_all_bom_children()
        frontier = sorted(i for i in set(item_ids) if i not in self._bom_children)
        while frontier:
            for chunk in _chunks(frontier):
                rows = self._execute(
                    sa.select(
                        *_columns(
                            Bom.id,
                            Bom.item_id,
                            Bom.version,
                            Bom.effective_from,
                            Bom.effective_to,
                            BomLine.component_id,
                        ),
                        *_ITEM_COLUMNS,
                    )
                    .join(BomLine, BomLine.bom_id == Bom.id)
                    .join(Item, Item.id == BomLine.component_id)
                    .where(Bom.status == "active", Bom.item_id.in_(chunk))
                ).all()
                for row in rows:
                    if row[6] not in self.items:
                        self._add_item(row[6:])
                heads = {row[0]: _BomHead(*row[:5]) for row in rows}
                chosen = {
                    h.id: h.parent for h in effective_bom_map(list(heads.values()), self.today).values()
                }
                children: dict[int, set[int]] = defaultdict(set)
                for row in rows:
                    if row[0] in chosen:
                        children[chosen[row[0]]].add(row[5])
                for item_id in chunk:
                    self._bom_children[item_id] = tuple(sorted(children.get(item_id, ())))
            below = {c for i in frontier for c in self._bom_children[i]}
            frontier = sorted(i for i in below if i not in self._bom_children)

    def load_bom_structure(self, item_ids: Iterable[int]) -> None:
        """The BOMs in force below these items, loaded together (before asking their cumulative lead times)."""
        self._load_bom_children(item_ids)

    def cumulative_lead_days(self, item_id: int) -> int:
        """Working days to resupply an item from nothing: its lead time plus its longest component chain
        (bought items: their own lead time; phantoms add none of their own)."""
        found = self._clt.get(item_id)
        if found is not None:
            return found
        self._load_bom_children([item_id])
        order: list[int] = []
        seen: set[int] = set()
        stack = [(item_id, False)]
        while stack:  # components before parents, without recursion
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if node in seen:
                continue
            seen.add(node)
            stack.append((node, True))
            if self._builds(node):
                stack.extend(
                    (c, False)
                    for c in self._bom_children.get(node, ())
                    if c not in seen and c not in self._clt
                )
        for node in order:
            if node in self._clt:
                continue
            info = self.items.get(node)
            own = 0 if info is None or info.phantom else info.lead_time_days
            below = self._bom_children.get(node, ()) if self._builds(node) else ()
            self._clt[node] = own + max((self._clt.get(c, 0) for c in below), default=0)
        return self._clt[item_id]

    def _builds(self, item_id: int) -> bool:
        info = self.items.get(item_id)
        return info is not None and (info.phantom or info.source != "buy")

    # ------------------------------------------------------------------------------------------- views

    def item(self, item_id: int) -> ItemInfo:
        return self.items[item_id]

    def lead_time(self, item_id: int) -> int:
        info = self.items.get(item_id)
        return info.lead_time_days if info else 0

    def need_date(self, order: OrderRow) -> date:
        """When an order's components are needed: its start date, else its due date less its lead time."""
        return order.start_date or self.workdays_before(order.due_date, self.lead_time(order.item_id))

    def workdays_after(self, day: date, n: int) -> date:
        """planning.calendar's ``add_workdays``, remembered (reports ask the same few dates many times)."""
        key = (day, n, True)
        found = self._workdays.get(key)
        if found is None:
            found = self._workdays[key] = self.calendar.add_workdays(day, n)
        return found

    def workdays_before(self, day: date, n: int) -> date:
        """planning.calendar's ``subtract_workdays``, remembered."""
        key = (day, n, False)
        found = self._workdays.get(key)
        if found is None:
            found = self._workdays[key] = self.calendar.subtract_workdays(day, n)
        return found

    def linked_orders(self, line_id: int) -> list[OrderRow]:
        """Orders made for a sales order line (any kind and status), with their descendants, by code."""
        out: dict[int, OrderRow] = {}
        frontier = list(self._linked.get(line_id, ()))
        while frontier:
            oid = frontier.pop()
            if oid in out or oid not in self.orders:
                continue
            out[oid] = self.orders[oid]
            frontier.extend(self._children.get(oid, ()))
        return sorted(out.values(), key=lambda o: o.code)

    def dedication(self, line_id: int) -> Dedication:
        """What an open made-to-order line holds outside its item's pool."""
        line = self.sales_lines[line_id]
        self.pegging(line.item_id)  # dedications are settled with the item's pegging
        return self._dedications.get(line_id, Dedication())

    def pegging(self, item_id: int) -> ItemPegging:
        """The item's stock and open receipts pegged to its open demands.

        What is held for a sales order line comes first: output made for it and stock reserved for it (a
        promise's reservations, as promising sets them aside); an order made for a line may use the stock
        reserved for that line. Stock reserved and not used that way stays out of the pool.
        """
        found = self._pegging.get(item_id)
        if found is not None:
            return found
        if not self.everything:
            self.ensure_items([item_id])
        lines = sorted(
            (self.sales_lines[i] for i in self._item_lines.get(item_id, ()) if self.sales_lines[i].is_demand),
            key=lambda ln: (ln.priority, ln.due_date, ln.ref),
        )
        stock = max(self.stock.get(item_id, ZERO), ZERO)
        reserved = dict(self._reserved.get(item_id, {}))
        dedicated_orders: set[int] = set()
        demands: list[PegDemand] = []
        for line in lines:
            own = [
                o
                for o in (self.orders[i] for i in self._linked.get(line.id, ()))
                if o.kind in DEDICATED_KINDS and o.status != "cancelled" and o.item_id == item_id
            ]
            need = line.open_qty
            # units shipped came from the linked output first (as propose_production_orders counts)
            made = max(sum((o.completed_qty for o in own), ZERO) - line.shipped_qty, ZERO)
            mine = reserved.get(line.ref, ZERO)
            held = min(max(made, mine), stock, need)
            stock -= held
            if mine > 0:
                reserved[line.ref] = max(mine - held, ZERO)
            open_own = [o for o in own if o.open_qty > 0]
            if held > 0 or own:
                self._dedications[line.id] = Dedication(held, open_own)
            dedicated_orders.update(o.id for o in open_own)
            need = need - held - sum((o.open_qty for o in open_own), ZERO)
            if need > 0:
                demands.append(PegDemand(line.ref, need, line.due_date, line.priority))
        held_for: dict[str, Decimal] = {}
        demand_of = self._component_demand(item_id)
        if any(reserved.values()):
            unknown = sorted(
                {o.sales_order_line_id for o, _ in demand_of.values() if o.sales_order_line_id}
                - set(self.sales_lines)
            )
            for chunk in _chunks(unknown):
                self._load_sales_lines(SalesOrderLine.id.in_(chunk))
        for order, qty in demand_of.values():
            for_line = self.sales_lines.get(order.sales_order_line_id or 0)
            mine = reserved.get(for_line.ref, ZERO) if for_line is not None else ZERO
            held = min(mine, stock, qty)
            if held > 0 and for_line is not None:
                reserved[for_line.ref] = mine - held
                stock -= held
                held_for[order.code] = held
            if qty - held > 0:
                demands.append(PegDemand(order.code, qty - held, self.need_date(order), order.priority))
        pool = max(stock - sum(reserved.values(), ZERO), ZERO)
        supplies = self.supplies(item_id, exclude=dedicated_orders)
        result = peg_item(self.items[item_id].code, pool, supplies, demands)
        for code, held in held_for.items():
            peg = result.by_demand.get(code)
            if peg is None:
                demand = PegDemand(code, held, self.need_date(self.orders[self.order_ids[code]]))
                result.by_demand[code] = Pegging(demand, held, (), ZERO)
            else:
                demand = PegDemand(code, peg.demand.qty + held, peg.demand.need_date, peg.demand.priority)
                result.by_demand[code] = Pegging(demand, peg.from_stock + held, peg.receipts, peg.uncovered)
        self._pegging[item_id] = result
        return result

    def reserved_stock(self, item_id: int, line_ref: str) -> Decimal:
        """Stock reserved for a sales order line, of one item."""
        return self._reserved.get(item_id, {}).get(line_ref, ZERO)

    def _component_demand(self, item_id: int) -> dict[int, tuple[OrderRow, Decimal]]:
        """Per open order: what it still needs of the item (its component rows of it added up)."""
        out: dict[int, tuple[OrderRow, Decimal]] = {}
        for comp in self._item_components.get(item_id, ()):
            order = self.orders.get(comp.order_id)
            if order is None or not order.is_open or comp.remaining <= 0:
                continue
            prev = out.get(order.id)
            out[order.id] = (order, (prev[1] if prev else ZERO) + comp.remaining)
        return out

    def supplies(self, item_id: int, exclude: set[int] | None = None) -> list[Supply]:
        """Open receipts of an item in the snapshot's terms (ids PO-1, PO-1/2, MO-1, QC/<item>)."""
        code = self.items[item_id].code
        out: list[Supply] = []
        for pid in self._item_purchases.get(item_id, ()):
            p = self.purchase_lines[pid]
            if p.open_qty > 0:
                out.append(Supply(p.ref, code, p.open_qty, p.due_date, SupplyKind.PURCHASE, "open"))
        for oid in self._item_orders.get(item_id, ()):
            o = self.orders[oid]
            if o.open_qty > 0 and (exclude is None or o.id not in exclude):
                kind = SupplyKind.SUBCONTRACT if o.kind == "subcontract" else SupplyKind.PRODUCTION
                out.append(Supply(o.code, code, o.open_qty, o.due_date, kind, o.status))
        qc = self.in_qc.get(item_id, ZERO)
        if qc > 0:
            out.append(Supply(f"QC/{code}", code, qc, self.today, SupplyKind.INSPECTION, "inspection"))
        return out

    def purchase_line(self, ref: str) -> PurchaseLine | None:
        found = self._purchase_refs.get(ref)
        return self.purchase_lines[found] if found is not None else None

    def open_sales_lines(self) -> list[SalesLine]:
        return [ln for ln in self.sales_lines.values() if ln.is_demand]


@dataclass(frozen=True, slots=True)
class _BomHead:
    id: int
    parent: int
    version: str
    effective_from: date | None
    effective_to: date | None


def _open_lines() -> Any:
    """Sales order lines that are open demand: an open order, something still to ship."""
    return sa.and_(SalesOrder.status.in_(OPEN_SALES), SalesOrderLine.qty > SalesOrderLine.shipped_qty)  # type: ignore[attr-defined]


def _columns(*attributes: Any) -> tuple[Any, ...]:
    """The table columns behind mapped attributes, to select. A report builds its statements anew each time;
    SQLAlchemy reuses their compiled form and result map, and maps the new statement's columns onto it: plain
    columns are the very same objects, ORM-annotated ones are compared one by one (on every execution, about
    a third of the CPU of a small query)."""
    return tuple(attribute.property.columns[0] for attribute in attributes)


def _component_columns() -> tuple[Any, ...]:
    return _COMPONENT_COLUMNS


def _component_select() -> Any:
    return sa.select(*_component_columns())


_COMPONENT_COLUMNS = _columns(
    ProductionOrderComponent.id,
    ProductionOrderComponent.production_order_id,
    ProductionOrderComponent.item_id,
    ProductionOrderComponent.required_qty,
    ProductionOrderComponent.issued_qty,
    ProductionOrderComponent.issue_method,
    ProductionOrderComponent.substitute_for_id,
)
_ITEM_COLUMNS = _columns(
    Item.id, Item.code, Item.name, Item.uom, Item.source, Item.lead_time_days, Item.phantom
)
_ORDER_COLUMNS = _columns(
    ProductionOrder.id,
    ProductionOrder.code,
    ProductionOrder.kind,
    ProductionOrder.item_id,
    ProductionOrder.qty,
    ProductionOrder.completed_qty,
    ProductionOrder.status,
    ProductionOrder.start_date,
    ProductionOrder.due_date,
    ProductionOrder.priority,
    ProductionOrder.supplier_id,
    ProductionOrder.sales_order_line_id,
    ProductionOrder.parent_order_id,
)


def _component(row: Any) -> ComponentRow:
    return ComponentRow(row[0], row[1], row[2], dec(row[3]), dec(row[4]), row[5], row[6])


def _chunks(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[i : i + CHUNK]) for i in range(0, len(ids), CHUNK)]
