"""From MRP suggestions to documents, batch production orders and the net-change run, on the bike factory
(SQLite and PostgreSQL), with the figures worked by hand.

bike_factory.md: today 2026-12-01, every day a working day. BIKE = FRAME 1 + WHEEL 2 + SEAT 1 (substitute
SEAT-B); WHEEL = RIM 1 + SPOKE 36 (2 % scrap: 36.72 per wheel) + TIRE 1. Stock: BIKE 2, WHEEL 4, FRAME 10,
RIM 6, SPOKE 300 (minimum order 500), TIRE 20, SEAT 4, SEAT-B 3. SO-100: BIKE 12 due 12-15.
MRP: BIKE make 10 (12-14 → 12-15), WHEEL make 16 (12-13 → 12-14), SEAT buy 6 (12-11 → 12-14),
RIM buy 10 (12-10 → 12-13), SPOKE buy 500, net 287.52 (12-11 → 12-13).
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from sqlmodel import select
from typer.testing import CliRunner

from data_model.tables import (
    Item,
    ProductionOrder,
    ProductionOrderComponent,
    PurchaseRequisition,
    SalesOrder,
    SalesOrderLine,
)
from tests.helpers import call, confirm_as, load_data
from tools.context import Actor, open_context
from tools.errors import ToolError

PLANNER = Actor("pat", "planner")
BUYER = Actor("bob", "buyer")

# A second bike order three days later (priority 2): every item gets a second suggestion.
# BIKE 5 due 12-18 (released 12-17) → WHEEL 10 due 12-17 (released 12-16) → SPOKE 10 × 36.72 = 367.2
# due 12-16; the first SPOKE order of 500 left 500 - 287.52 = 212.48, so the second nets
# 367.2 - 212.48 = 154.72 and is raised to the minimum 500.
SO_101 = {
    "sales_orders": [
        {
            "id": "SO-101",
            "customer": "城市单车",
            "priority": 2,
            "lines": [{"item": "BIKE", "qty": 5, "due": "2026-12-18"}],
        }
    ]
}


def requisitions(url: str) -> list[tuple[str, D, date, str]]:
    with open_context(url) as ctx:
        rows = ctx.session.exec(
            select(
                Item.code,
                PurchaseRequisition.qty,
                PurchaseRequisition.need_date,
                PurchaseRequisition.source_ref,
            )
            .join(Item, Item.id == PurchaseRequisition.item_id)
            .order_by(PurchaseRequisition.code)
        ).all()
        return [(c, D(q), d, s) for c, q, d, s in rows]


def production_orders(url: str) -> dict[str, dict[str, Any]]:
    """Production orders created by proposals, by item: header fields and {component: required}."""
    with open_context(url) as ctx:
        out: dict[str, dict[str, Any]] = {}
        for order in ctx.session.exec(
            select(ProductionOrder).where(ProductionOrder.proposal_id != "").order_by(ProductionOrder.code)
        ).all():
            comps = ctx.session.exec(
                select(Item.code, ProductionOrderComponent.required_qty)
                .join(Item, Item.id == ProductionOrderComponent.item_id)
                .where(ProductionOrderComponent.production_order_id == order.id)
            ).all()
            item = ctx.session.get(Item, order.item_id)
            assert item is not None
            out.setdefault(item.code, {"orders": []})["orders"].append(
                {
                    "code": order.code,
                    "qty": D(order.qty),
                    "status": order.status,
                    "start": order.start_date,
                    "due": order.due_date,
                    "priority": order.priority,
                    "line_id": order.sales_order_line_id,
                    "components": {c: D(q).normalize() for c, q in comps},
                }
            )
        return out


def line_id(url: str, so: str, line_no: int = 1) -> int:
    with open_context(url) as ctx:
        row = ctx.session.exec(
            select(SalesOrderLine.id)
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
            .where(SalesOrder.code == so, SalesOrderLine.line_no == line_no)
        ).one()
        return int(row)


def docs(out: dict[str, Any]) -> list[tuple]:
    return [
        (d["document"], d["item"], d["qty"], d["due_date"], d["planned_orders"]) for d in out["documents"]
    ]


# ---------------------------------------------------------------- releasing every suggestion


def test_release_all_bike_suggestions(bike_url: str) -> None:
    out = call(bike_url, "propose_release_planned_orders")
    assert (out["kind"], out["status"], out["selected_suggestions"]) == (
        "planned_order_release",
        "pending",
        5,
    )
    # one document per suggestion (nothing to merge), by due date; a requisition is needed on the due date
    assert docs(out) == [
        ("purchase_requisition", "RIM", 10, "2026-12-13", ["PL-RIM-1"]),
        ("purchase_requisition", "SPOKE", 500, "2026-12-13", ["PL-SPOKE-1"]),
        ("purchase_requisition", "SEAT", 6, "2026-12-14", ["PL-SEAT-1"]),
        ("production_order", "WHEEL", 16, "2026-12-14", ["PL-WHEEL-1"]),
        ("production_order", "BIKE", 10, "2026-12-15", ["PL-BIKE-1"]),
    ]
    spoke = out["documents"][1]
    assert (spoke["net_qty"], spoke["suggested_qty"], spoke["start_date"]) == (287.52, 500, "2026-12-11")
    assert spoke["merged"][0]["pegging"] == [
        {"demand": "PL-WHEEL-1", "kind": "planned", "item": "WHEEL", "qty": 287.52, "due": "2026-12-13"}
    ]
    assert all(d["demands"] == ["SO-100/1"] for d in out["documents"])  # every one serves the bike order
    assert "PR SEAT 6 pcs due 2026-12-14 ← PL-SEAT-1 (for SO-100/1)" in out["summary_en"]
    assert "请购 SEAT 6 pcs,2026-12-14 到期 ← PL-SEAT-1(满足 SO-100/1)" in out["summary_zh"]
    # nothing is written before confirmation
    assert requisitions(bike_url) == [] and production_orders(bike_url) == {}

    with pytest.raises(ToolError) as err:
        confirm_as(bike_url, out["proposal_id"], BUYER)  # a planner releases MRP suggestions
    assert err.value.code == "forbidden"
    done = confirm_as(bike_url, out["proposal_id"], PLANNER)
    assert done["status"] == "confirmed"
    assert requisitions(bike_url) == [
        ("RIM", D(10), date(2026, 12, 13), "MRP PL-RIM-1"),
        ("SPOKE", D(500), date(2026, 12, 13), "MRP PL-SPOKE-1"),
        ("SEAT", D(6), date(2026, 12, 14), "MRP PL-SEAT-1"),
    ]
    made = production_orders(bike_url)
    # BIKE 10: FRAME 10 × 1, WHEEL 10 × 2 = 20, SEAT 10 × 1 (its substitute SEAT-B is not chosen)
    # WHEEL 16: RIM 16 × 1, SPOKE 16 × 36 × 1.02 = 587.52, TIRE 16 × 1
    (bike,) = made["BIKE"]["orders"]
    (wheel,) = made["WHEEL"]["orders"]
    assert (bike["qty"], bike["status"], bike["start"], bike["due"]) == (
        D(10),
        "planned",
        date(2026, 12, 14),
        date(2026, 12, 15),
    )
    assert bike["components"] == {"FRAME": D(10), "WHEEL": D(20), "SEAT": D(10)}
    assert (wheel["qty"], wheel["status"], wheel["start"], wheel["due"]) == (
        D(16),
        "planned",
        date(2026, 12, 13),
        date(2026, 12, 14),
    )
    assert wheel["components"] == {"RIM": D(16), "SPOKE": D("587.52"), "TIRE": D(16)}
    result = done["result"]
    assert [r["planned_orders"] for r in result["production_orders"]] == [["PL-WHEEL-1"], ["PL-BIKE-1"]]
    # the planned production orders are open supply now: MRP no longer suggests making BIKE or WHEEL
    assert {s["item"] for s in call(bike_url, "run_mrp")["suggestions"]} <= {"RIM", "SPOKE", "SEAT"}


def test_release_selected_suggestions(bike_url: str) -> None:
    by_id = call(bike_url, "propose_release_planned_orders", orders=["PL-SEAT-1", "PL-BIKE-1"])
    assert [(d["item"], d["qty"]) for d in by_id["documents"]] == [("SEAT", 6), ("BIKE", 10)]
    make = call(bike_url, "propose_release_planned_orders", actions=["make"])
    assert [(d["document"], d["item"]) for d in make["documents"]] == [
        ("production_order", "WHEEL"),
        ("production_order", "BIKE"),
    ]
    # released by 12-10: only RIM (12-10); from 12-11 to 12-13: SEAT, SPOKE, WHEEL
    assert [
        d["item"]
        for d in call(bike_url, "propose_release_planned_orders", release_to="2026-12-10")["documents"]
    ] == ["RIM"]
    window = call(
        bike_url, "propose_release_planned_orders", release_from="2026-12-11", release_to="2026-12-13"
    )
    assert [d["item"] for d in window["documents"]] == ["SPOKE", "SEAT", "WHEEL"]
    assert [
        d["item"] for d in call(bike_url, "propose_release_planned_orders", items=["SPOKE"])["documents"]
    ] == ["SPOKE"]
    with pytest.raises(ToolError) as err:
        call(bike_url, "propose_release_planned_orders", orders=["PL-SEAT-2"])
    assert (err.value.code, err.value.details["key"]) == ("not_found", "PL-SEAT-2")
    with pytest.raises(ToolError) as err:
        call(bike_url, "propose_release_planned_orders", items=["FRAME"])  # FRAME needs nothing
    assert err.value.code == "invalid_input"


# ---------------------------------------------------------------- merging


def test_two_suggestions_of_one_item_within_the_window_merge(bike_url: str) -> None:
    load_data(bike_url, SO_101, reset=False, source="test")
    spokes = call(bike_url, "run_mrp", item="SPOKE")["suggestions"]
    assert [(s["id"], s["qty"], s["net_qty"], s["due_date"]) for s in spokes] == [
        ("PL-SPOKE-1", 500, 287.52, "2026-12-13"),
        ("PL-SPOKE-2", 500, 154.72, "2026-12-16"),
    ]
    out = call(bike_url, "propose_release_planned_orders", items=["SPOKE", "BIKE"])
    # SPOKE due 12-13 and 12-16, 3 days apart (< 7): one requisition due 12-13 for
    # 287.52 + 154.72 = 442.24 net → the minimum 500 (instead of 2 × 500)
    # BIKE 10 due 12-15 and 5 due 12-18: one order of 15 due 12-15, with SO-101's priority 2
    assert docs(out) == [
        ("purchase_requisition", "SPOKE", 500, "2026-12-13", ["PL-SPOKE-1", "PL-SPOKE-2"]),
        ("production_order", "BIKE", 15, "2026-12-15", ["PL-BIKE-1", "PL-BIKE-2"]),
    ]
    spoke, bike = out["documents"]
    assert (spoke["net_qty"], spoke["suggested_qty"]) == (442.24, 1000)
    assert spoke["demands"] == ["SO-100/1", "SO-101/1"]
    assert [m["planned_order"] for m in spoke["merged"]] == ["PL-SPOKE-1", "PL-SPOKE-2"]
    assert [m["pegging"][0]["demand"] for m in spoke["merged"]] == ["PL-WHEEL-1", "PL-WHEEL-2"]
    assert (bike["priority"], bike["start_date"]) == (2, "2026-12-14")
    # 15 bikes: FRAME 15, WHEEL 30, SEAT 15
    assert {c["item"]: c["required"] for c in bike["production_order"]["components"]} == {
        "FRAME": 15,
        "WHEEL": 30,
        "SEAT": 15,
    }
    assert (
        "PR SPOKE 500 pcs due 2026-12-13 ← PL-SPOKE-1+PL-SPOKE-2 (for SO-100/1,SO-101/1)" in out["summary_en"]
    )
    done = confirm_as(bike_url, out["proposal_id"], PLANNER)
    assert [r["qty"] for r in done["result"]["requisitions"]] == [500]
    assert requisitions(bike_url) == [("SPOKE", D(500), date(2026, 12, 13), "MRP PL-SPOKE-1+PL-SPOKE-2")]
    (order,) = production_orders(bike_url)["BIKE"]["orders"]
    assert (order["qty"], order["priority"], order["due"]) == (D(15), 2, date(2026, 12, 15))


def test_merge_rules(bike_url: str) -> None:
    load_data(bike_url, SO_101, reset=False, source="test")

    def spoke_docs(**args: Any) -> list[tuple]:
        return docs(call(bike_url, "propose_release_planned_orders", items=["SPOKE"], **args))

    merged = [("purchase_requisition", "SPOKE", 500, "2026-12-13", ["PL-SPOKE-1", "PL-SPOKE-2"])]
    apart = [
        ("purchase_requisition", "SPOKE", 500, "2026-12-13", ["PL-SPOKE-1"]),
        ("purchase_requisition", "SPOKE", 500, "2026-12-16", ["PL-SPOKE-2"]),
    ]
    assert spoke_docs(merge="none") == apart
    assert spoke_docs(window_days=3) == apart  # 12-16 is not before 12-13 + 3 days
    assert spoke_docs(window_days=4) == merged
    # 2026-12-13 is a Sunday (ISO week 50), 12-16 a Wednesday (week 51); both in December
    assert spoke_docs(merge="week") == apart
    assert spoke_docs(merge="month") == merged


def test_merged_quantity_is_split_above_the_maximum(bike_url: str) -> None:
    load_data(bike_url, SO_101, reset=False, source="test")
    with open_context(bike_url) as ctx:
        ctx.session.execute(sa.update(Item).where(Item.code == "BIKE").values(max_order_qty=D(8)))
    # MRP now plans BIKE 8 + 2 (12-15) and 5 (12-18); merged: 15 → lots of 8 and 7, both due 12-15
    out = call(bike_url, "propose_release_planned_orders", items=["BIKE"])
    assert [(d["qty"], d["lot"], d["lots"], d["due_date"]) for d in out["documents"]] == [
        (8, 1, 2, "2026-12-15"),
        (7, 2, 2, "2026-12-15"),
    ]
    assert out["documents"][0]["planned_orders"] == ["PL-BIKE-1", "PL-BIKE-2", "PL-BIKE-3"]


def test_subcontract_suggestions_become_subcontract_orders(bike_url: str) -> None:
    load_data(
        bike_url,
        {
            "items": [
                {
                    "code": "COAT",
                    "name": "喷涂车架",
                    "uom": "pcs",
                    "source": "subcontract",
                    "lead_time_days": 2,
                },
                {"code": "COAT2", "uom": "pcs", "source": "subcontract", "lead_time_days": 1},
            ],
            "boms": [
                {"parent": "COAT", "lines": [{"component": "FRAME", "qty": 1}]},
                {"parent": "COAT2", "lines": [{"component": "FRAME", "qty": 1}]},
            ],
            "suppliers": [{"code": "SUP-C", "name": "Coating Co", "subcontractor": True}],
            "price_lists": [
                {"supplier": "SUP-C", "item": "COAT", "kind": "subcontract", "price": 3, "preferred": True}
            ],
            "sales_orders": [
                {
                    "id": "SO-300",
                    "customer": "车行",
                    "lines": [
                        {"item": "COAT", "qty": 4, "due": "2026-12-20"},
                        {"item": "COAT2", "qty": 2, "due": "2026-12-21"},
                    ],
                }
            ],
        },
        reset=False,
        source="test",
    )
    out = call(bike_url, "propose_release_planned_orders", items=["COAT", "COAT2"])
    # COAT 4 due 12-20 at SUP-C, fee 3 per piece, material out 2 days earlier; FRAME 4 to send.
    # COAT2 has no preferred subcontractor: skipped, the rest still proposed
    (coat,) = out["documents"]
    assert (coat["document"], coat["qty"], coat["supplier"], coat["unit_price"], coat["start_date"]) == (
        "subcontract_order",
        4,
        "SUP-C",
        3,
        "2026-12-18",
    )
    assert [(m["item"], m["qty"]) for m in coat["subcontract_order"]["materials"]] == [("FRAME", 4)]
    (skipped,) = out["skipped"]
    assert (skipped["item"], skipped["planned_orders"]) == ("COAT2", ["PL-COAT2-1"])
    assert "no preferred subcontractor" in skipped["reason"]
    done = confirm_as(bike_url, out["proposal_id"], PLANNER)
    (made,) = done["result"]["subcontract_orders"]
    assert (made["item"], made["qty"], made["supplier"], made["status"], made["planned_orders"]) == (
        "COAT",
        4,
        "SUP-C",
        "released",
        ["PL-COAT-1"],
    )
    with open_context(bike_url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == made["code"])).one()
        assert (order.kind, order.due_date, D(order.qty)) == ("subcontract", date(2026, 12, 20), D(4))


# ---------------------------------------------------------------- stale proposals


def test_release_is_stale_after_a_data_change(bike_url: str) -> None:
    out = call(bike_url, "propose_release_planned_orders")
    load_data(
        bike_url, SO_101, reset=False, source="test"
    )  # a new sales order changes what MRP would suggest
    with pytest.raises(ToolError) as err:
        confirm_as(bike_url, out["proposal_id"], PLANNER)
    assert err.value.code == "conflict" and err.value.details["stale"] is True
    assert requisitions(bike_url) == [] and production_orders(bike_url) == {}


# ---------------------------------------------------------------- batch production orders


def test_batch_make_to_order_from_so_100(bike_url: str) -> None:
    out = call(bike_url, "propose_production_orders", sales_orders=["SO-100"])
    (order,) = out["orders"]
    # make to order: the whole line (12, stock not netted), due on the line's due date, start one day before
    assert (order["item"], order["qty"], order["due_date"], order["start_date"], order["priority"]) == (
        "BIKE",
        12,
        "2026-12-15",
        "2026-12-14",
        5,
    )
    assert order["sales_order_line"] == "SO-100/1"
    # 12 bikes: FRAME 12, WHEEL 24, SEAT 12 (no SEAT-B: substitutes are not chosen at creation)
    assert [(c["item"], c["required"]) for c in order["components"]] == [
        ("FRAME", 12),
        ("WHEEL", 24),
        ("SEAT", 12),
    ]
    assert out["summary_en"] == (
        "Create 1 production order(s) (planned): BIKE 12 pcs due 2026-12-15 for SO-100/1, priority 5, "
        "components FRAME 12, WHEEL 24, SEAT 12."
    )
    assert production_orders(bike_url) == {}
    confirm_as(bike_url, out["proposal_id"], PLANNER)
    (made,) = production_orders(bike_url)["BIKE"]["orders"]
    assert (made["qty"], made["status"], made["line_id"]) == (D(12), "planned", line_id(bike_url, "SO-100"))
    assert made["components"] == {"FRAME": D(12), "WHEEL": D(24), "SEAT": D(12)}

    # the line is covered now: asking again creates nothing and says why
    with pytest.raises(ToolError) as err:
        call(bike_url, "propose_production_orders", sales_orders=["SO-100/1"])
    assert err.value.code == "conflict"
    (skipped,) = err.value.details["skipped"]
    assert (skipped["sales_order_line"], skipped["covered_by"]) == ("SO-100/1", [made["code"]])
    assert "covered by linked production order" in skipped["reason"]


def test_batch_split_by_max_lot_partial_cover_and_make_to_stock(bike_url: str) -> None:
    load_data(bike_url, SO_101, reset=False, source="test")
    with open_context(bike_url) as ctx:
        ctx.session.execute(sa.update(Item).where(Item.code == "BIKE").values(max_order_qty=D(5)))
        # SO-100/1 is partly covered by a linked order for 4 bikes, 1 of them made (and not yet shipped)
        ctx.session.add(
            ProductionOrder(
                code="MO-L1",
                item_id=ctx.session.exec(select(Item.id).where(Item.code == "BIKE")).one(),
                qty=D(4),
                completed_qty=D(1),
                due_date=date(2026, 12, 12),
                status="in_progress",
                sales_order_line_id=line_id(bike_url, "SO-100"),
            )
        )
    out = call(
        bike_url,
        "propose_production_orders",
        sales_orders=["SO-100", "SO-101", "SO-100/1"],  # the line named twice is made once
        items=[{"item": "WHEEL", "qty": 10, "due_date": "2026-12-20"}],
    )
    # SO-100/1: 12 - (4 - 1 still to come + 1 made, not shipped) = 8 → lots of 5 and 3; SO-101/1: 5;
    # WHEEL 10 to stock: RIM 10, SPOKE 10 × 36.72 = 367.2, TIRE 10
    assert [
        (o["item"], o["qty"], o["due_date"], o["priority"], o["sales_order_line"]) for o in out["orders"]
    ] == [
        ("BIKE", 5, "2026-12-15", 5, "SO-100/1"),
        ("BIKE", 3, "2026-12-15", 5, "SO-100/1"),
        ("BIKE", 5, "2026-12-18", 2, "SO-101/1"),
        ("WHEEL", 10, "2026-12-20", 5, None),
    ]
    assert out["notes"] == ["SO-100/1: 4 of 12 pcs already covered by MO-L1; ordering 8"]
    assert {c["item"]: c["required"] for c in out["orders"][3]["components"]} == {
        "RIM": 10,
        "SPOKE": 367.2,
        "TIRE": 10,
    }
    confirm_as(bike_url, out["proposal_id"], PLANNER)
    made = production_orders(bike_url)
    assert [(o["qty"], o["line_id"]) for o in made["BIKE"]["orders"]] == [
        (D(5), line_id(bike_url, "SO-100")),
        (D(3), line_id(bike_url, "SO-100")),
        (D(5), line_id(bike_url, "SO-101")),
    ]
    assert made["WHEEL"]["orders"][0]["components"] == {"RIM": D(10), "SPOKE": D("367.2"), "TIRE": D(10)}


def test_batch_explodes_phantoms_and_refuses_bought_items(bike_url: str) -> None:
    load_data(
        bike_url,
        {
            "items": [
                {"code": "KIT-BK", "uom": "set", "source": "make", "phantom": True},
                {"code": "BELL", "uom": "pcs", "source": "buy"},
                {"code": "BOLT", "uom": "pcs", "source": "buy"},
                {"code": "TRIKE", "uom": "pcs", "source": "make", "lead_time_days": 2},
            ],
            "boms": [
                {
                    "parent": "KIT-BK",
                    "lines": [{"component": "BELL", "qty": 1}, {"component": "BOLT", "qty": 4}],
                },
                {
                    "parent": "TRIKE",
                    "lines": [
                        {"component": "WHEEL", "qty": 3},
                        {"component": "KIT-BK", "qty": 1},
                        {"component": "BOLT", "qty": 2},
                    ],
                },
            ],
        },
        reset=False,
        source="test",
    )
    out = call(
        bike_url, "propose_production_orders", items=[{"item": "TRIKE", "qty": 5, "due_date": "2026-12-10"}]
    )
    # 5 trikes: WHEEL 15; the phantom kit passes through: BELL 5, BOLT 5 × 4 + 5 × 2 = 30; start 2 days earlier
    (order,) = out["orders"]
    assert {c["item"]: c["required"] for c in order["components"]} == {"WHEEL": 15, "BELL": 5, "BOLT": 30}
    assert order["start_date"] == "2026-12-08"
    with pytest.raises(ToolError) as err:
        call(
            bike_url,
            "propose_production_orders",
            items=[{"item": "SEAT", "qty": 5, "due_date": "2026-12-10"}],
        )
    assert err.value.code == "invalid_input"


def test_batch_is_stale_after_the_sales_order_changes(bike_url: str) -> None:
    out = call(bike_url, "propose_production_orders", sales_orders=["SO-100"])
    load_data(bike_url, SO_101, reset=False, source="test")
    with pytest.raises(ToolError) as err:
        confirm_as(bike_url, out["proposal_id"], PLANNER)
    assert err.value.code == "conflict"
    assert production_orders(bike_url) == {}


# ---------------------------------------------------------------- net change and the CLI


def test_run_mrp_reuses_and_nets_changes(bike_url: str) -> None:
    from planning.mrp import run_mrp
    from tools.snapshot import load_plant

    first = call(bike_url, "run_mrp")
    assert first["mode"] == "regenerative"
    assert call(bike_url, "run_mrp")["mode"] == "reused"  # nothing changed
    with open_context(bike_url) as ctx:  # the bike order grows from 12 to 15
        ctx.session.execute(sa.update(SalesOrderLine).values(qty=D(15)))
    quick = call(bike_url, "run_mrp", net_change=True)
    # only BIKE's demand changed: BIKE and the 6 items below it are re-planned (not SEAT-B)
    assert (quick["mode"], quick["replanned_items"]) == ("net_change", 7)
    table = [(s["item"], s["qty"], s["release_date"], s["due_date"]) for s in quick["suggestions"]]
    # 15 - 2 = 13 bikes; FRAME 13 - 10 = 3; 26 - 4 = 22 wheels; SEAT 13 - 4 = 9; RIM 22 - 6 = 16;
    # TIRE 22 - 20 = 2; SPOKE 22 × 36.72 = 807.84 - 300 = 507.84, above the minimum, 508 whole pieces
    assert table == [
        ("FRAME", 3, "2026-12-09", "2026-12-14"),
        ("TIRE", 2, "2026-12-09", "2026-12-13"),
        ("RIM", 16, "2026-12-10", "2026-12-13"),
        ("SEAT", 9, "2026-12-11", "2026-12-14"),
        ("SPOKE", 508, "2026-12-11", "2026-12-13"),
        ("WHEEL", 22, "2026-12-13", "2026-12-14"),
        ("BIKE", 13, "2026-12-14", "2026-12-15"),
    ]
    with open_context(bike_url) as ctx:
        full = run_mrp(load_plant(ctx), 90)
    assert table == [
        (s.item, float(s.qty), s.release_date.isoformat(), s.due_date.isoformat()) for s in full.suggestions
    ]


def test_cli_mrp_summary_and_csv(bike_url: str, tmp_path: Path) -> None:
    from cli.planning import mrp

    app = typer.Typer()
    app.command("mrp")(mrp)
    app.command("noop")(lambda: None)  # a second command keeps `mrp` a named sub-command
    target = tmp_path / "mrp.csv"
    result = CliRunner().invoke(app, ["mrp", "--db", bike_url, "--csv", str(target)])
    assert result.exit_code == 0, result.output
    assert "5 suggestion" in result.output and "SPOKE" in result.output
    with target.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["id"], r["item"], r["action"], r["qty"], r["release_date"], r["due_date"]) for r in rows] == [
        ("PL-RIM-1", "RIM", "buy", "10", "2026-12-10", "2026-12-13"),
        ("PL-SEAT-1", "SEAT", "buy", "6", "2026-12-11", "2026-12-14"),
        ("PL-SPOKE-1", "SPOKE", "buy", "500", "2026-12-11", "2026-12-13"),
        ("PL-WHEEL-1", "WHEEL", "make", "16", "2026-12-13", "2026-12-14"),
        ("PL-BIKE-1", "BIKE", "make", "10", "2026-12-14", "2026-12-15"),
    ]
    assert rows[2]["net_qty"] == "287.52" and rows[2]["pegging"] == "PL-WHEEL-1 287.52"
    one = CliRunner().invoke(app, ["mrp", "--db", bike_url, "--item", "SEAT", "--horizon", "30"])
    assert one.exit_code == 0 and "SEAT" in one.output and "SPOKE" not in one.output
