"""Promising tools on the bike and demo factories: the contract's output, draft orders, delivery estimates, and
the propose → confirm round trip that records promised dates and reservations."""

from __future__ import annotations

import gc
from collections import OrderedDict
from datetime import date

import pytest
from sqlmodel import select

from data_model.settings import get_settings
from data_model.tables import Item, Reservation, SalesOrder, SalesOrderLine
from tests.helpers import call, confirm_as
from tools.catalog import promising as promising_tools
from tools.context import Actor, open_context
from tools.errors import ToolError

SALES = Actor("sam", "sales")
WAREHOUSE = Actor("wu", "warehouse")
CONTRACT_KEYS = {"on_time", "promise", "earliest_full_date", "binding_constraints", "sources", "impacts"}


def reservations(url: str) -> list[tuple[str, float, str, str, str]]:
    with open_context(url) as ctx:
        items = {i.id: i.code for i in ctx.session.exec(select(Item)).all()}
        rows = ctx.session.exec(select(Reservation)).all()
        return sorted((items[r.item_id], float(r.qty), r.demand_ref, r.supply_ref, r.status) for r in rows)


def promised_dates(url: str, order: str) -> dict[int, date | None]:
    with open_context(url) as ctx:
        so = ctx.session.exec(select(SalesOrder).where(SalesOrder.code == order)).one()
        lines = ctx.session.exec(select(SalesOrderLine).where(SalesOrderLine.sales_order_id == so.id)).all()
        return {line.line_no: line.promised_date for line in lines}


# ------------------------------------------------------------------------------------------------ bike


def test_promise_from_stock_follows_the_contract(bike_url: str) -> None:
    out = call(bike_url, "promise_order", item="BIKE", qty=2, due_date="2026-12-02")
    assert set(out) >= CONTRACT_KEYS
    # SO-100 (due 12-15) can be built in time, so it holds nothing: the 2 bikes in stock ship.
    assert out["on_time"] is True
    assert out["promise"] == [{"qty": 2.0, "date": "2026-12-02"}]
    assert out["earliest_full_date"] == "2026-12-01"
    assert [(s["kind"], s["item"], s["qty"], s["ref"]) for s in out["sources"]] == [
        ("stock", "BIKE", 2.0, "stock")
    ]
    assert out["binding_constraints"] == [] and out["impacts"] == [] and out["levers"] == []
    assert "可以按期交付" in out["explanation_zh"] and "on time" in out["explanation_en"]
    assert out["explanation"] == out["explanation_zh"] + "\n" + out["explanation_en"]


def test_late_promise_explains_why_and_what_would_help(bike_url: str) -> None:
    out = call(bike_url, "promise_order", item="自行车", qty=30, due_date="2026-12-03")  # by name
    assert out["item"] == "BIKE" and out["on_time"] is False
    # 2 in stock + 4 built by 12-03 (4 SEAT in stock); the rest waits for FRAME: 18 bought today arrive
    # after 5 days (12-06) and the bikes are built on 12-07.
    assert out["promise"] == [{"qty": 6.0, "date": "2026-12-03"}, {"qty": 24.0, "date": "2026-12-07"}]
    (critical,) = [c for c in out["binding_constraints"] if c["critical"]]
    assert {k: critical[k] for k in ("kind", "item", "shortfall_qty", "lead_time_days", "resolves_on")} == {
        "kind": "lead_time",
        "item": "FRAME",
        "shortfall_qty": 18.0,
        "lead_time_days": 5,
        "resolves_on": "2026-12-06",
    }
    assert critical["message_zh"] and critical["message"]
    levers = {lever["kind"]: lever for lever in out["levers"]}
    assert set(levers) == {"partial_shipment", "use_substitute"}
    # SEAT-B (3 in stock) stands in for SEAT: 5 built by 12-03 instead of 4.
    assert levers["use_substitute"]["substitutes"] == ["SEAT-B"]
    assert levers["use_substitute"]["qty_by_due"] == 7.0
    assert "FRAME" in out["explanation_en"] and "SEAT-B" in out["explanation_zh"]


def test_bad_requests_are_refused(bike_url: str) -> None:
    with pytest.raises(ToolError) as missing:
        call(bike_url, "promise_order", item="UNICYCLE", qty=1, due_date="2026-12-02")
    assert missing.value.code == "not_found"
    with pytest.raises(ToolError) as zero:
        call(bike_url, "promise_order", item="BIKE", qty=0, due_date="2026-12-02")
    assert zero.value.code == "invalid_input"


def test_draft_order_lines_share_components(bike_url: str) -> None:
    out = call(
        bike_url,
        "promise_sales_order",
        lines=[
            {"item": "BIKE", "qty": 4, "due_date": "2026-12-02"},
            {"item": "WHEEL", "qty": 4, "due_date": "2026-12-02"},
        ],
    )
    assert out["on_time"] is True and out["earliest_full_date"] == "2026-12-02"
    bikes, wheels = out["lines"]
    # The 2 bikes built use the 4 WHEEL in stock; the WHEEL line is then built from RIM, SPOKE and TIRE.
    assert ("WHEEL", "stock", 4.0) in [(s["item"], s["kind"], s["qty"]) for s in bikes["sources"]]
    assert [(s["kind"], s["qty"]) for s in wheels["sources"] if s["level"] == 0] == [("production", 4.0)]
    assert (bikes["line"], wheels["line"]) == (1, 2)


def test_estimate_delivery_of_an_existing_order(bike_url: str) -> None:
    out = call(bike_url, "estimate_delivery_date", order="SO-100")  # the assistant's argument name
    assert out["sales_order"] == "SO-100" and out["customer"] == "城市单车"
    (line,) = out["lines"]
    # 2 in stock, 10 built on 12-06 (see the unit test test_bike_twelve_like_so_100); due 12-15.
    assert (line["open_qty"], line["requested_date"], line["estimated_date"]) == (
        12.0,
        "2026-12-15",
        "2026-12-06",
    )
    assert line["on_time"] is True and line["promised_date"] is None and line["keeps_promise"] is None
    assert out["estimated_date"] == "2026-12-06"
    assert call(bike_url, "estimate_delivery_date", sales_order="SO-100")["lines"] == out["lines"]


def test_propose_order_promise_round_trip(bike_url: str) -> None:
    out = call(bike_url, "propose_order_promise", sales_order="SO-100")
    assert out["status"] == "pending" and out["kind"] == "order_promise"
    (line,) = out["lines"]
    assert line["promised_date"] == "2026-12-15" and line["on_time"] is True
    # It rests on the stock of every level: the bikes, and the parts of the 10 to build.
    expected = [
        ("BIKE", 2.0),
        ("FRAME", 10.0),
        ("RIM", 6.0),
        ("SEAT", 4.0),
        ("SPOKE", 300.0),
        ("TIRE", 16.0),
        ("WHEEL", 4.0),
    ]
    assert sorted((r["item"], r["qty"]) for r in line["reservations"]) == expected
    assert {r["supply"] for r in line["reservations"]} == {"stock"}
    # Nothing is written before confirmation.
    assert reservations(bike_url) == [] and promised_dates(bike_url, "SO-100") == {1: None}

    with pytest.raises(ToolError) as refused:
        confirm_as(bike_url, out["proposal_id"], WAREHOUSE)
    assert refused.value.code == "forbidden"

    done = confirm_as(bike_url, out["proposal_id"], SALES)
    assert done["status"] == "confirmed"
    assert done["result"]["promised"] == {"1": "2026-12-15"}
    assert promised_dates(bike_url, "SO-100") == {1: date(2026, 12, 15)}
    assert [
        (item, qty, ref, supply, status) for item, qty, ref, supply, status in reservations(bike_url)
    ] == [(item, qty, "SO-100/1", "stock", "active") for item, qty in expected]

    # Promising again replaces the order's reservations (the old ones are kept, released).
    again = call(bike_url, "propose_order_promise", sales_order="SO-100")
    second = confirm_as(bike_url, again["proposal_id"], SALES)
    assert second["result"]["released_reservations"] == 7
    rows = reservations(bike_url)
    assert sum(1 for r in rows if r[4] == "active") == 7 and sum(1 for r in rows if r[4] == "released") == 7


def test_confirm_rechecks_the_reservations(bike_url: str) -> None:
    out = call(bike_url, "propose_order_promise", sales_order="SO-100")
    # Someone else holds the 2 bikes meanwhile (written straight to the table, so no data version moves).
    with open_context(bike_url) as ctx:
        bike = ctx.session.exec(select(Item).where(Item.code == "BIKE")).one()
        ctx.session.add(
            Reservation(item_id=bike.id, qty=2, demand_type="sales_order_line", demand_ref="SO-9/1")
        )
    with pytest.raises(ToolError) as refused:
        confirm_as(bike_url, out["proposal_id"], SALES)
    assert refused.value.code == "conflict" and "no longer holds" in refused.value.message
    assert promised_dates(bike_url, "SO-100") == {1: None}


def test_a_reserved_order_keeps_its_supply(bike_url: str) -> None:
    confirm_as(bike_url, call(bike_url, "propose_order_promise", sales_order="SO-100")["proposal_id"], SALES)
    # SO-100 now holds its reservations whatever its priority: a priority-1 order cannot take the 2 bikes.
    out = call(bike_url, "promise_order", item="BIKE", qty=2, due_date="2026-12-02", priority=1)
    assert out["on_time"] is False and out["impacts"] == []
    assert "stock" not in [s["kind"] for s in out["sources"] if s["level"] == 0]


# ------------------------------------------------------------------------------------------------ demo


def test_promise_on_the_demo_factory(demo_url: str) -> None:
    out = call(demo_url, "promise_order", item="CAB-3D", qty=30, due_date="2026-12-10", priority=1)
    # 70 CAB-3D in stock and no other order of priority 1 wants CAB-3D.
    assert out["on_time"] is True and out["capacity_checked"] is True
    assert [(s["kind"], s["qty"], s["available_date"]) for s in out["sources"]] == [
        ("stock", 30.0, "2026-12-01")
    ]
    for impact in out["impacts"]:  # lines of lower priority may slip; each is listed with both dates
        assert impact["priority"] > 1 and impact["date_after"] > impact["date_before"]

    late = call(demo_url, "promise_order", item="DSK-1200", qty=500, due_date="2026-12-15")
    assert late["on_time"] is False and late["capacity_checked"] is True
    assert sum(p["qty"] for p in late["promise"]) == 500.0
    assert any(c["critical"] for c in late["binding_constraints"])
    builds = [s for s in late["sources"] if s["kind"] == "production" and s["operations"]]
    assert builds, "routed items are built on work-center capacity"
    for build in builds:
        for op in build["operations"]:
            assert op["order"] == build["ref"] and op["start"] >= "2026-12-01"
            assert op["end"][:10] <= build["available_date"]


def test_the_first_promise_prepares_the_priorities_asked_for_in_the_background(
    demo_url: str, monkeypatch
) -> None:
    first = call(demo_url, "promise_order", item="DSK-1200", qty=30, due_date="2026-12-18", priority=5)
    with open_context(demo_url) as ctx:
        inputs = promising_tools._snapshot(ctx.session, ctx.today)
    assert inputs.preparing is not None
    inputs.preparing.join(timeout=60)
    assert not inputs.preparing.is_alive()
    # The priorities asked for in this process (5 here, maybe others before) and 1, for the lever.
    prepared = {key[1] for key in inputs.memo._snapshot.protected}  # (rule, priority, …) per allocation
    assert prepared >= {1, 5} and prepared == {1} | promising_tools._asked_priorities
    assert gc.get_freeze_count() > 0  # the prepared snapshot is left out of the collector's full passes
    # A prepared snapshot answers as a cold one: the same request with nothing prepared beforehand.
    again = call(demo_url, "promise_order", item="CHR-STF", qty=150, due_date="2026-12-11", priority=3)
    monkeypatch.setattr(promising_tools, "_snapshots", OrderedDict())
    monkeypatch.setenv("ORDERPILOT_PROMISE_PREPARE", "false")
    get_settings.cache_clear()
    try:
        cold = call(demo_url, "promise_order", item="CHR-STF", qty=150, due_date="2026-12-11", priority=3)
        with open_context(demo_url) as ctx:
            assert promising_tools._snapshot(ctx.session, ctx.today).preparing is None
    finally:
        get_settings.cache_clear()
    assert again == cold and first["item"] == "DSK-1200"


def test_draft_order_of_the_demo_is_confirmed_with_its_promise(demo_url: str) -> None:
    out = call(demo_url, "propose_order_promise", sales_order="SO-1023")  # a draft: 20 CAB-3D due 2027-01-12
    assert out["confirms_order"] is True
    with open_context(demo_url) as ctx:
        assert (
            ctx.session.exec(select(SalesOrder).where(SalesOrder.code == "SO-1023")).one().status == "draft"
        )
    done = confirm_as(demo_url, out["proposal_id"], SALES)
    assert done["result"]["confirmed_order"] is True
    with open_context(demo_url) as ctx:
        assert (
            ctx.session.exec(select(SalesOrder).where(SalesOrder.code == "SO-1023")).one().status
            == "confirmed"
        )
    assert promised_dates(demo_url, "SO-1023") == {1: date(2027, 1, 12)}
    estimate = call(demo_url, "estimate_delivery_date", sales_order="SO-1023")
    assert estimate["lines"][0]["keeps_promise"] is True


def test_done_orders_have_nothing_to_estimate_or_promise(demo_url: str) -> None:
    out = call(demo_url, "estimate_delivery_date", sales_order="SO-1001")
    assert out["lines"] == [] and out["estimated_date"] is None
    with pytest.raises(ToolError) as refused:
        call(demo_url, "propose_order_promise", sales_order="SO-1001")
    assert refused.value.code == "invalid_input"
