"""get_item reads one item in a fixed number of statements, whatever its orders, aliases and stock moves."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from data_model.stock import post_move
from data_model.tables import Customer, Item, ItemAlias, Location
from tests.helpers import call
from tools.context import engine_for, open_context

# the item with its aliases, its own stock per location kind, and its open orders of every kind (purchase
# and production orders, sales order lines, production components): three statements, however many rows;
# two more read the working calendar when a component's order has no start date (due = release date)
ITEM_STATEMENTS = 3
CALENDAR_STATEMENTS = 2


@contextmanager
def counted_statements(url: str) -> Iterator[list[str]]:
    """The SQL statements run on ``url``'s engine inside the block."""
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    engine = engine_for(url)
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_get_item_by_code_takes_three_statements(shop_url: str) -> None:
    call(shop_url, "get_item", item="BOARD")  # the engine's first use (schema check) is not counted
    # DESK-A: its alias, planned order MO-2 and two sales order lines
    with counted_statements(shop_url) as statements:
        desk = call(shop_url, "get_item", item="DESK-A")
    assert len(statements) == ITEM_STATEMENTS, statements
    assert (len(desk["aliases"]), len(desk["open_supply"]), len(desk["open_demand"])) == (1, 1, 2)
    # LEG: two open PO lines, a sales order line and a component of MO-2, which has no start date yet
    with counted_statements(shop_url) as statements:
        leg = call(shop_url, "get_item", item="LEG")
    assert len(statements) == ITEM_STATEMENTS + CALENDAR_STATEMENTS, statements
    assert (len(leg["open_supply"]), len(leg["open_demand"])) == (2, 2)


def test_get_item_by_alias_or_name_gives_the_same_answer_as_by_code(shop_url: str) -> None:
    by_code = call(shop_url, "get_item", item="DESK-A")
    assert by_code["aliases"] == ["oak desk"]
    assert call(shop_url, "get_item", item="oak desk") == by_code
    assert call(shop_url, "get_item", item="办公桌A") == by_code


def test_get_item_lists_every_alias_once_in_order(shop_url: str) -> None:
    with open_context(shop_url) as ctx:
        desk_id = ctx.session.exec(select(Item.id).where(Item.code == "DESK-A")).one() or 0
        ctx.session.add_all([ItemAlias(item_id=desk_id, alias=a) for a in ("书桌", "desk a")])
    desk = call(shop_url, "get_item", item="DESK-A")
    # three aliases joined to one item row each: the item once, its aliases sorted
    assert desk["aliases"] == ["desk a", "oak desk", "书桌"]
    # and its orders once each: MO-2 to make; SO-2 line 1 (due 12-12) before SO-1 line 1 (12-20)
    assert [s["ref"] for s in desk["open_supply"]] == ["MO-2"]
    assert [d["ref"] for d in desk["open_demand"]] == ["SO-2/1", "SO-1/1"]


def test_get_item_counts_own_stock_per_location_kind_from_both_ends_of_moves(shop_url: str) -> None:
    day = date(2026, 12, 1)
    with open_context(shop_url) as ctx:
        session = ctx.session
        session.add(Location(code="SUB-PAINT", name="painter", kind="supplier"))
        session.flush()
        leg = session.exec(select(Item.id).where(Item.code == "LEG")).one() or 0
        acme = session.exec(select(Customer.id).where(Customer.code == "ACME")).one()
        for qty, src, dst in ((5, "STOCK", "SUB-PAINT"), (2, "SUB-PAINT", "STOCK"), (3, "QC", "STOCK")):
            post_move(
                session,
                item_id=leg,
                qty=Decimal(qty),
                from_code=src,
                to_code=dst,
                move_type="transfer",
                move_date=day,
            )
        # material ACME supplied stays theirs: not in our stock
        post_move(
            session,
            item_id=leg,
            qty=Decimal(7),
            from_code="CUSTOMER",
            to_code="STOCK",
            move_type="receipt",
            move_date=day,
            owner_customer_id=acme,
        )
    leg_view = call(shop_url, "get_item", item="LEG")
    # stock 30 - 5 + 2 + 3 = 30; inspection 8 - 3 = 5; at the painter 5 - 2 = 3; ACME's 7 not counted
    assert (leg_view["on_hand"], leg_view["in_inspection"], leg_view["at_subcontractors"]) == (30, 5, 3)
    # projected: 30 + 5 + open supply 50 - open demand 26 (at subcontractors is not in it)
    assert leg_view["projected_qty"] == 59
