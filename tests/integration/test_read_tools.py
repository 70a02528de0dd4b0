"""First read tools on the shop dataset: finding items, one item's stock/supply/demand, order lists."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import call
from tools.errors import ToolError


def codes(result: dict[str, Any], key: str = "orders") -> list[str]:
    return [row["code"] for row in result[key]]


# ---------------------------------------------------------------- find_items


@pytest.mark.parametrize(
    ("query", "code", "matched_on", "match_type"),
    [
        ("desk-a", "DESK-A", "code", "exact"),  # case does not matter
        ("oak desk", "DESK-A", "alias", "exact"),
        ("办公桌", "DESK-A", "name", "prefix"),
        ("TOP", "TOP-A", "code", "prefix"),
        ("720mm", "LEG", "description", "substring"),
        ("how many LEG are left", "LEG", "code", "substring"),  # a code inside a question
        ("BORAD", "BOARD", "code", "fuzzy"),  # a typo
    ],
)
def test_find_items_ranks_the_intended_item_first(
    shop_url: str, query: str, code: str, matched_on: str, match_type: str
) -> None:
    top = call(shop_url, "find_items", query=query)["matches"][0]
    assert (top["code"], top["matched_on"], top["match_type"]) == (code, matched_on, match_type)


def test_find_items_orders_exact_before_prefix_before_fuzzy(shop_url: str) -> None:
    matches = call(shop_url, "find_items", query="leg", limit=5)["matches"]
    assert matches[0]["code"] == "LEG" and matches[0]["score"] == 1.0
    assert [m["score"] for m in matches] == sorted((m["score"] for m in matches), reverse=True)
    assert call(shop_url, "find_items", query="zzzz-nothing")["matches"] == []


# ---------------------------------------------------------------- get_item


def test_get_item_sums_stock_supply_and_demand(shop_url: str) -> None:
    leg = call(shop_url, "get_item", item="LEG")
    assert (leg["on_hand"], leg["in_inspection"]) == (30, 8)
    # open supply: PO-2 line 2 (10, due 12-08) and PO-1 (40, due 12-10); PO-3 is received
    assert [(s["ref"], s["qty_open"], s["due_date"]) for s in leg["open_supply"]] == [
        ("PO-2/2", 10, "2026-12-08"),
        ("PO-1", 40, "2026-12-10"),
    ]
    # open demand: SO-1 line 2 (8 ordered - 2 shipped = 6) and MO-2's 20 legs, due when MO-2 is released:
    # due Wed 12-09 less DESK-A's 2 working days = Mon 12-07; SO-3 is done
    assert [(d["kind"], d["ref"], d["qty_open"], d["due_date"]) for d in leg["open_demand"]] == [
        ("sales_order", "SO-1/2", 6, "2026-12-03"),
        ("production_component", "MO-2", 20, "2026-12-07"),
    ]
    assert (leg["open_supply_qty"], leg["open_demand_qty"]) == (50, 26)
    assert leg["projected_qty"] == 62  # 30 + 8 + 50 - 26
    assert (leg["min_order_qty"], leg["order_multiple"], leg["max_order_qty"]) == (100, 50, 200)


def test_get_item_shows_production_as_supply(shop_url: str) -> None:
    top = call(shop_url, "get_item", item="TOP-A")
    # MO-1 (10 open) is supply; MO-0 is completed; MO-2 needs 5 TOP-A
    assert [(s["kind"], s["ref"], s["qty_open"]) for s in top["open_supply"]] == [
        ("production_order", "MO-1", 10)
    ]
    assert [(d["ref"], d["qty_open"]) for d in top["open_demand"]] == [("MO-2", 5)]
    board = call(shop_url, "get_item", item="BOARD")
    # MO-1 still has 10 - 4 = 6 boards to issue; PO-2 line 1 has 20 - 5 = 15 to receive
    assert [(d["ref"], d["qty_open"]) for d in board["open_demand"]] == [("MO-1", 6)]
    assert [(s["ref"], s["qty_open"]) for s in board["open_supply"]] == [("PO-2", 15)]


def test_get_item_resolves_names_and_suggests_codes(shop_url: str) -> None:
    assert call(shop_url, "get_item", item="oak desk")["code"] == "DESK-A"
    with pytest.raises(ToolError) as err:
        call(shop_url, "get_item", item="DESK")
    assert err.value.code == "not_found"
    assert err.value.details["suggestions"][0] == "DESK-A"


# ---------------------------------------------------------------- sales orders


def test_list_sales_orders_filters_and_sorts_by_earliest_open_due(shop_url: str) -> None:
    everything = call(shop_url, "list_sales_orders")
    # SO-1's earliest open line is due 12-03, SO-2's 12-12; SO-3 has nothing open
    assert codes(everything) == ["SO-1", "SO-2", "SO-3"]
    so1 = everything["orders"][0]
    assert (so1["total_qty"], so1["open_qty"], so1["earliest_due"], so1["latest_promised"]) == (
        58,
        56,
        "2026-12-03",
        "2026-12-22",  # 50 + 8 ordered; 50 + (8 - 2) open
    )
    assert codes(call(shop_url, "list_sales_orders", customer="艾克米")) == ["SO-1", "SO-3"]
    assert codes(call(shop_url, "list_sales_orders", customer="beta")) == ["SO-2"]
    assert codes(call(shop_url, "list_sales_orders", status="done")) == ["SO-3"]
    assert codes(call(shop_url, "list_sales_orders", open_only=True)) == ["SO-1", "SO-2"]
    assert codes(call(shop_url, "list_sales_orders", item="LEG")) == ["SO-1", "SO-3"]
    assert codes(call(shop_url, "list_sales_orders", due_before="2026-12-10")) == ["SO-1", "SO-3"]
    assert codes(call(shop_url, "list_sales_orders", due_after="2026-12-10")) == ["SO-1", "SO-2"]
    page = call(shop_url, "list_sales_orders", limit=1, offset=1)
    assert (page["total"], codes(page)) == (3, ["SO-2"])


def test_list_sales_orders_refuses_an_inverted_date_range(shop_url: str) -> None:
    with pytest.raises(ToolError) as err:
        call(shop_url, "list_sales_orders", due_after="2026-12-10", due_before="2026-12-01")
    assert err.value.code == "invalid_input"
    with pytest.raises(ToolError) as err:
        call(shop_url, "list_sales_orders", customer="nobody")
    assert err.value.code == "not_found"


def test_get_sales_order_shows_requested_and_promised_dates(shop_url: str) -> None:
    so = call(shop_url, "get_sales_order", order="so-1")
    assert (so["code"], so["customer"], so["customer_name"], so["priority"]) == (
        "SO-1",
        "ACME",
        "艾克米家具",
        1,
    )
    desk, leg = so["lines"]
    assert (desk["requested_date"], desk["promised_date"], desk["promise_delay_days"]) == (
        "2026-12-20",
        "2026-12-22",
        2,
    )
    assert (desk["open_qty"], desk["line_status"], desk["amount"]) == (50, "open", 15000)  # 50 x 300
    assert (leg["shipped_qty"], leg["open_qty"], leg["line_status"], leg["promised_date"]) == (
        2,
        6,
        "partial",
        None,
    )
    assert (so["total_amount"], so["open_qty"]) == (15120, 56)  # 15000 + 8 x 15; 50 + 6
    with pytest.raises(ToolError) as err:
        call(shop_url, "get_sales_order", order="SO-404")
    assert err.value.code == "not_found"


# ---------------------------------------------------------------- purchase and production orders


def test_list_purchase_orders(shop_url: str) -> None:
    result = call(shop_url, "list_purchase_orders")
    assert codes(result) == ["PO-2", "PO-1", "PO-3"]  # earliest open line 12-04, 12-10; PO-3 nothing open
    po2 = result["orders"][0]
    assert [(ln["item"], ln["open_qty"]) for ln in po2["lines"]] == [("BOARD", 15), ("LEG", 10)]
    assert (po2["supplier"], po2["open_qty"], po2["earliest_due"]) == ("SUP-WOOD", 25, "2026-12-04")
    assert codes(call(shop_url, "list_purchase_orders", open_only=True)) == ["PO-2", "PO-1"]
    assert codes(call(shop_url, "list_purchase_orders", supplier="SUP-STEEL")) == ["PO-1", "PO-3"]
    assert codes(call(shop_url, "list_purchase_orders", item="BOARD")) == ["PO-2"]
    assert codes(call(shop_url, "list_purchase_orders", status="received")) == ["PO-3"]


def test_list_production_orders(shop_url: str) -> None:
    result = call(shop_url, "list_production_orders")
    assert codes(result) == ["MO-0", "MO-1", "MO-2"]
    assert [(o["code"], o["open_qty"]) for o in result["orders"]] == [("MO-0", 0), ("MO-1", 10), ("MO-2", 5)]
    assert codes(call(shop_url, "list_production_orders", status="released")) == ["MO-1"]
    assert codes(call(shop_url, "list_production_orders", item="TOP-A")) == ["MO-0", "MO-1"]
    assert codes(call(shop_url, "list_production_orders", open_only=True)) == ["MO-1", "MO-2"]
    assert codes(call(shop_url, "list_production_orders", due_after="2026-12-06")) == ["MO-2"]
    with pytest.raises(ToolError) as err:
        call(shop_url, "list_production_orders", status="bogus")
    assert err.value.code == "invalid_input"
