"""The stock ledger: standard locations, posting moves and deriving on-hand from them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from data_model.tables import FinancePeriod, Item, ItemValuation, Location, StockMove
from data_model.tables.inventory import INTERNAL_KINDS

# Virtual locations are the other end of every move into or out of the factory.
STANDARD_LOCATIONS: dict[str, tuple[str, str]] = {
    "STOCK": ("stock", "主仓库 Main stock"),
    "QC": ("inspection", "待检区 Inspection"),
    "VENDOR": ("vendor", "供应商(虚拟) Vendors"),
    "CUSTOMER": ("customer", "客户(虚拟) Customers"),
    "PRODUCTION": ("production", "生产(虚拟) Production"),
    "ADJUSTMENT": ("adjustment", "盘点调整(虚拟) Inventory adjustment"),
}


class StockError(Exception):
    """A move that would break a stock rule (e.g. negative stock)."""

    def __init__(self, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


def fmt_qty(value: Decimal) -> str:
    """A quantity as a person writes it: no exponent, no trailing zeros."""
    text = format(Decimal(value).normalize(), "f")
    return "0" if text in ("-0", "") else text


def ensure_standard_locations(session: Session) -> dict[str, Location]:
    existing = {loc.code: loc for loc in session.exec(select(Location)).all()}
    for code, (kind, name) in STANDARD_LOCATIONS.items():
        if code not in existing:
            loc = Location(code=code, kind=kind, name=name)
            session.add(loc)
            existing[code] = loc
    session.flush()
    return existing


def location_by_code(session: Session, code: str) -> Location:
    loc = session.exec(select(Location).where(Location.code == code)).first()
    if loc is None:
        if code in STANDARD_LOCATIONS:
            return ensure_standard_locations(session)[code]
        raise StockError(f"location {code!r} not found", {"location": code})
    return loc


def on_hand(
    session: Session,
    item_ids: Iterable[int] | None = None,
    kinds: Iterable[str] = ("stock",),
    location_ids: Iterable[int] | None = None,
    include_customer_owned: bool = False,
    owner_customer_id: int | None = None,
) -> dict[int, Decimal]:
    """Quantity per item id held in locations of ``kinds`` (default: available stock), from the ledger.

    Our own stock only, unless ``include_customer_owned`` (ours and every customer's) or
    ``owner_customer_id`` (that one customer's material only).
    """
    kinds = tuple(kinds)
    loc_filter = Location.kind.in_(kinds)  # type: ignore[attr-defined]
    if location_ids is not None:
        loc_filter = sa.and_(loc_filter, Location.id.in_(list(location_ids)))  # type: ignore[union-attr]
    wanted = select(Location.id).where(loc_filter)
    result: dict[int, Decimal] = defaultdict(Decimal)
    for column, sign in ((StockMove.to_location_id, 1), (StockMove.from_location_id, -1)):
        stmt = (
            select(StockMove.item_id, sa.func.sum(StockMove.qty))
            .where(column.in_(wanted))  # type: ignore[attr-defined]
            .group_by(StockMove.item_id)
        )
        if item_ids is not None:
            stmt = stmt.where(StockMove.item_id.in_(list(item_ids)))  # type: ignore[attr-defined]
        if owner_customer_id is not None:
            stmt = stmt.where(StockMove.owner_customer_id == owner_customer_id)
        elif not include_customer_owned:
            stmt = stmt.where(StockMove.owner_customer_id.is_(None))  # type: ignore[union-attr]
        for item_id, total in session.exec(stmt).all():
            result[item_id] += sign * Decimal(str(total or 0))
    return {k: v for k, v in result.items() if v != 0}


def customer_owned_on_hand(
    session: Session, customer_id: int, kinds: Iterable[str] = ("stock",)
) -> dict[int, Decimal]:
    """Material a customer supplied and still owns, per item id: usable only for that customer's orders."""
    return on_hand(session, kinds=kinds, owner_customer_id=customer_id)


def on_hand_by_kind(session: Session, item_ids: Iterable[int],
                    kinds: Iterable[str] = INTERNAL_KINDS) -> dict[str, dict[int, Decimal]]:
    """Own stock per location kind and item (stock, inspection, at suppliers…) in two queries."""
    ids, kinds = list(item_ids), tuple(kinds)
    result: dict[str, dict[int, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for column, sign in ((StockMove.to_location_id, 1), (StockMove.from_location_id, -1)):
        stmt = (
            select(Location.kind, StockMove.item_id, sa.func.sum(StockMove.qty))
            .join(Location, Location.id == column)
            .where(Location.kind.in_(kinds), StockMove.item_id.in_(ids), StockMove.owner_customer_id.is_(None))
            .group_by(Location.kind, StockMove.item_id)
        )
        for kind, item_id, total in session.exec(stmt).all():
            result[kind][item_id] += sign * Decimal(str(total or 0))
    return result


def lock_items(session: Session, item_ids: Iterable[int]) -> None:
    """Serialize stock-changing transactions per item (row locks on PostgreSQL; SQLite locks the file)."""
    ids = sorted(set(item_ids))
    if ids and session.get_bind().dialect.name == "postgresql":
        session.exec(select(Item.id).where(Item.id.in_(ids)).with_for_update())  # type: ignore[union-attr]


def post_move(
    session: Session,
    *,
    item_id: int,
    qty: Decimal,
    from_code: str,
    to_code: str,
    move_type: str,
    move_date: date,
    doc_type: str = "",
    doc_ref: str = "",
    unit_cost: Decimal | None = None,
    actor: str = "",
    reason: str = "",
    owner_customer_id: int | None = None,
    allow_negative: bool = False,
    leave_at_unit_cost: bool = False,
) -> StockMove:
    """Append one move; refuses to take an internal location below zero unless ``allow_negative``.

    ``unit_cost`` values what enters our stock (a receipt at its price); what leaves it goes at the
    moving-average cost, which is also recorded on the move (the cost an issue charges an order), unless
    ``leave_at_unit_cost``: a return to the vendor leaves at the price it came in at. Customer-owned
    material (``owner_customer_id``) is checked against that customer's own quantity and carries no value.
    """
    if qty <= 0:
        raise StockError(f"move quantity must be positive, got {qty}", {"qty": str(qty)})
    period = move_date.strftime("%Y-%m")
    if session.exec(select(FinancePeriod.status).where(FinancePeriod.code == period)).first() == "locked":
        raise StockError(
            f"{period} is closed for accounting: a {move_type} dated {move_date.isoformat()} cannot be posted "
            f"(a manager may re-open the period)",
            {"period": period, "move_date": move_date.isoformat(), "doc_ref": doc_ref},
        )
    src = location_by_code(session, from_code)
    dst = location_by_code(session, to_code)
    if src.kind in INTERNAL_KINDS and not allow_negative:
        lock_items(session, [item_id])
        have = on_hand(session, [item_id], kinds=INTERNAL_KINDS, location_ids=[src.id or 0],
                       owner_customer_id=owner_customer_id).get(item_id, Decimal(0))
        if have < qty:
            item = session.get(Item, item_id)
            code = item.code if item else str(item_id)
            raise StockError(
                f"not enough {code} at {src.code}: {fmt_qty(have)} on hand, {fmt_qty(qty)} requested",
                {"item": code, "location": src.code, "on_hand": fmt_qty(have), "requested": fmt_qty(qty)},
            )
    if owner_customer_id is None:
        unit_cost = revalue(session, item_id, qty, src.kind in INTERNAL_KINDS, dst.kind in INTERNAL_KINDS,
                            unit_cost, leave_at_unit_cost)
    else:
        unit_cost = Decimal(0)  # customer-supplied material is not ours: it carries no value
    move = StockMove(
        move_date=move_date, move_type=move_type, item_id=item_id, qty=qty, from_location_id=src.id or 0,
        to_location_id=dst.id or 0, unit_cost=unit_cost, doc_type=doc_type, doc_ref=doc_ref, actor=actor,
        reason=reason, owner_customer_id=owner_customer_id,
    )
    session.add(move)
    session.flush()
    return move


def valuation(session: Session, item_id: int) -> ItemValuation:
    row = session.get(ItemValuation, item_id)
    if row is None:
        item = session.get(Item, item_id)
        row = ItemValuation(item_id=item_id, qty=Decimal(0), value=Decimal(0),
                            avg_cost=Decimal(item.unit_cost) if item else Decimal(0))
        session.add(row)
    return row


def moving_average_cost(session: Session, item_id: int) -> Decimal:
    """The current moving-average unit cost of an item (its standard cost before any receipt)."""
    return Decimal(valuation(session, item_id).avg_cost)


def revalue(session: Session, item_id: int, qty: Decimal, from_internal: bool, to_internal: bool,
            unit_cost: Decimal | None, leave_at_unit_cost: bool = False) -> Decimal:
    """Update the moving average for a move and return the unit cost the move carries."""
    if from_internal == to_internal:
        return unit_cost if unit_cost is not None else moving_average_cost(session, item_id)
    row = valuation(session, item_id)
    avg = Decimal(row.avg_cost)
    if to_internal:
        cost = avg if unit_cost is None else Decimal(unit_cost)
        row.qty = Decimal(row.qty) + qty
        row.value = Decimal(row.value) + qty * cost
    else:
        cost = Decimal(unit_cost) if leave_at_unit_cost and unit_cost is not None else avg
        row.qty = Decimal(row.qty) - qty
        row.value = Decimal(row.value) - qty * cost
    if row.qty > 0:
        row.avg_cost = (Decimal(row.value) / Decimal(row.qty)).quantize(Decimal("0.000001"))
    elif to_internal:
        row.avg_cost = cost
    if row.qty <= 0:
        row.value = Decimal(0) if row.qty == 0 else row.qty * Decimal(row.avg_cost)
    session.add(row)
    return cost
