"""One-click purchase requests from a shortage analysis, and what changed since an earlier analysis, on the
bike factory (SQLite and PostgreSQL), with the figures worked by hand.

Added to bike_factory.yaml: MO-1 makes 16 WHEEL due 12-14 (released; lead time 1 day, so its material is
needed 12-13), its components derived from the BOM: RIM 16, SPOKE 16 × 36 × 1.02 = 587.52, TIRE 16.
Stock: RIM 6, SPOKE 300 (item minimum order 500), TIRE 20, SEAT 4, BIKE 2. Suppliers: SUP-R sells RIM
from 12 pieces (its lowest price break) at 7.5, SUP-S sells SPOKE at 0.18; both preferred.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from data_model.tables import Item, ProductionOrder, ProductionOrderComponent, PurchaseRequisition, Supplier
from tests.helpers import call, confirm_as, load_data
from tools.context import Actor, open_context
from tools.errors import ToolError
from tools.proposals import bump_versions

BUYER = Actor("bob", "buyer")


def wheel_components(wheels: int) -> list[dict[str, Any]]:
    """WHEEL's BOM for an order (an order added to loaded data gets no components derived from its BOMs)."""
    return [
        {"item": "RIM", "required": wheels},
        {"item": "SPOKE", "required": round(wheels * 36.72, 6)},
        {"item": "TIRE", "required": wheels},
    ]


WHEEL_ORDER = {
    "suppliers": [{"code": "SUP-R", "name": "Rim Co"}, {"code": "SUP-S", "name": "Spoke Co"}],
    "price_lists": [
        {"supplier": "SUP-R", "item": "RIM", "price": 7.5, "min_qty": 12, "preferred": True},
        {"supplier": "SUP-S", "item": "SPOKE", "price": 0.18, "preferred": True},
    ],
    "production_orders": [
        {
            "id": "MO-1",
            "item": "WHEEL",
            "qty": 16,
            "due": "2026-12-14",
            "status": "released",
            "components": wheel_components(16),
        }
    ],
}


@pytest.fixture
def wheel_url(bike_url: str) -> str:
    load_data(bike_url, WHEEL_ORDER, reset=False, source="test")
    return bike_url


def requisitions(url: str) -> list[tuple[str, D, date, str | None, str]]:
    with open_context(url) as ctx:
        rows = ctx.session.exec(
            select(
                Item.code,
                PurchaseRequisition.qty,
                PurchaseRequisition.need_date,
                Supplier.code,
                PurchaseRequisition.source_ref,
            )
            .join(Item, Item.id == PurchaseRequisition.item_id)
            .join(Supplier, Supplier.id == PurchaseRequisition.supplier_id, isouter=True)
            .order_by(PurchaseRequisition.code)
        ).all()
        return [(i, D(q), d, s, ref) for i, q, d, s, ref in rows]


# ---------------------------------------------------------------- purchase requests for shortages


def test_one_click_requests_for_a_production_order(wheel_url: str) -> None:
    analysis = call(wheel_url, "analyze_shortages", production_order="MO-1")
    assert [(c["item"], c["short"], c["uncovered"], c["need_date"]) for c in analysis["shortages"]] == [
        ("RIM", 10, 10, "2026-12-13"),  # 16 - 6
        ("SPOKE", 287.52, 287.52, "2026-12-13"),  # 587.52 - 300
    ]
    out = call(wheel_url, "propose_purchase_requests_for_shortages", production_order="MO-1")
    assert (out["kind"], out["status"], out["order"], out["order_kind"]) == (
        "purchase_requests",
        "pending",
        "MO-1",
        "production",
    )
    # RIM: 10 short, raised to SUP-R's lowest price break 12; SPOKE: 287.52 short, raised to the item's
    # minimum order 500 (SUP-S has no break above 0)
    assert [
        (ln["item"], ln["uncovered"], ln["supplier"], ln["supplier_min_qty"], ln["requested_qty"], ln["qty"])
        for ln in out["lines"]
    ] == [("RIM", 10, "SUP-R", 12, 12, 12), ("SPOKE", 287.52, "SUP-S", 0, 287.52, 500)]
    assert [
        (r["item"], r["qty"], r["need_date"], r["supplier"], r["unit_price"], r["amount"])
        for r in out["requisitions"]
    ] == [
        ("RIM", 12, "2026-12-13", "SUP-R", 7.5, 90),  # 12 × 7.5
        ("SPOKE", 500, "2026-12-13", "SUP-S", 0.18, 90),  # 500 × 0.18
    ]
    assert out["total_amount"] == 180
    assert out["skipped"] == []
    assert out["summary_en"] == (
        "Create 2 purchase requisition(s) (MO-1 shortage): RIM 12 pcs needed 2026-12-13 from SUP-R; "
        "SPOKE 500 pcs needed 2026-12-13 from SUP-S."
    )
    assert requisitions(wheel_url) == []  # nothing is written before confirmation
    done = confirm_as(wheel_url, out["proposal_id"], BUYER)
    assert done["tool"] == "propose_purchase_requests_for_shortages"
    assert requisitions(wheel_url) == [
        ("RIM", D(12), date(2026, 12, 13), "SUP-R", "MO-1 shortage"),
        ("SPOKE", D(500), date(2026, 12, 13), "SUP-S", "MO-1 shortage"),
    ]


def test_sales_order_requests_buy_items_and_skips_made_ones(bike_url: str) -> None:
    load_data(
        bike_url,
        {
            "sales_orders": [
                {
                    "id": "SO-200",
                    "customer": "车行",
                    "lines": [
                        {"item": "SEAT", "qty": 10, "due": "2026-12-20"},
                        {"item": "BIKE", "qty": 1, "due": "2026-12-20"},
                    ],
                }
            ]
        },
        reset=False,
        source="test",
    )
    out = call(bike_url, "propose_purchase_requests_for_shortages", sales_order="SO-200")
    # SEAT: 10 - 4 on hand = 6, no supplier, no lot rules; BIKE: both bikes in stock go to SO-100 (due
    # earlier, same priority), so 1 is short, but a bike is made, not bought
    assert [(r["item"], r["qty"], r["need_date"], r["supplier"]) for r in out["requisitions"]] == [
        ("SEAT", 6, "2026-12-20", None)
    ]
    assert out["skipped"] == [
        {"item": "BIKE", "uncovered": 1, "reason": "a make item: propose_production_orders"}
    ]
    with pytest.raises(ToolError) as err:
        call(bike_url, "propose_purchase_requests_for_shortages", sales_order="SO-100")
    assert err.value.code == "conflict" and err.value.details["skipped"][0]["item"] == "BIKE"
    with pytest.raises(ToolError) as err:
        call(bike_url, "propose_purchase_requests_for_shortages")
    assert err.value.code == "invalid_input"


def test_shortage_requests_are_stale_after_a_stock_change(wheel_url: str) -> None:
    out = call(wheel_url, "propose_purchase_requests_for_shortages", production_order="MO-1")
    with open_context(wheel_url) as ctx:
        bump_versions(ctx.session, ["stock"])  # e.g. a receipt posted: the shortage may be smaller now
    with pytest.raises(ToolError) as err:
        confirm_as(wheel_url, out["proposal_id"], BUYER)
    assert err.value.code == "conflict" and "stock" in err.value.details["changed"]
    assert requisitions(wheel_url) == []


# ---------------------------------------------------------------- what changed since the last analysis


def set_order_qty(url: str, code: str, qty: D, components: dict[str, D]) -> None:
    with open_context(url) as ctx:
        order = ctx.session.exec(select(ProductionOrder).where(ProductionOrder.code == code)).one()
        order.qty = qty
        ctx.session.add(order)
        for item, required in components.items():
            item_id = ctx.session.exec(select(Item.id).where(Item.code == item)).one()
            ctx.session.execute(
                sa.update(ProductionOrderComponent)
                .where(
                    ProductionOrderComponent.production_order_id == order.id,
                    ProductionOrderComponent.item_id == item_id,
                )
                .values(required_qty=required)
            )


def deltas(out: dict[str, Any]) -> list[tuple]:
    return [
        (c["item"], c["change"], c["required_delta"], c["short_before"], c["short_now"], c["short_delta"])
        for c in out["changes"]
    ]


def test_shortage_changes_after_quantity_up_and_a_new_order_ahead(wheel_url: str) -> None:
    first = call(wheel_url, "analyze_shortages", production_order="MO-1")
    unchanged = call(wheel_url, "get_shortage_changes", production_order="MO-1", previous=first)
    assert (unchanged["changes"], unchanged["newly_short"], unchanged["no_longer_short"]) == ([], [], [])
    assert (
        len(
            call(
                wheel_url, "get_shortage_changes", production_order="MO-1", previous=first, changed_only=False
            )["changes"]
        )
        == 3
    )

    # MO-1 goes from 16 to 20 wheels: RIM 20, SPOKE 20 × 36.72 = 734.4, TIRE 20
    set_order_qty(wheel_url, "MO-1", D(20), {"RIM": D(20), "SPOKE": D("734.4"), "TIRE": D(20)})
    up = call(wheel_url, "get_shortage_changes", production_order="MO-1", previous=first)
    # RIM 20 - 6 = 14 (+4); SPOKE 734.4 - 300 = 434.4 (+146.88); TIRE 20 of 20 in stock: still not short
    assert deltas(up) == [
        ("RIM", "changed", 4, 10, 14, 4),
        ("SPOKE", "changed", 146.88, 287.52, 434.4, 146.88),
        ("TIRE", "changed", 4, 0, 0, 0),
    ]
    assert (up["newly_short"], up["need_date_before"], up["need_date_now"]) == (
        [],
        "2026-12-13",
        "2026-12-13",
    )

    # a rush order ahead of it (priority 1, 4 wheels due 12-10) takes RIM 4, SPOKE 146.88, TIRE 4 first
    load_data(
        wheel_url,
        {
            "production_orders": [
                {
                    "id": "MO-2",
                    "item": "WHEEL",
                    "qty": 4,
                    "due": "2026-12-10",
                    "status": "released",
                    "priority": 1,
                    "components": wheel_components(4),
                }
            ]
        },
        reset=False,
        source="test",
    )
    ahead = call(wheel_url, "get_shortage_changes", production_order="MO-1", previous=up["current"])
    # RIM: 6 - 4 = 2 free → short 18; SPOKE: 300 - 146.88 = 153.12 free → short 581.28; TIRE: 16 free → short 4
    assert deltas(ahead) == [
        ("RIM", "changed", 0, 14, 18, 4),
        ("SPOKE", "changed", 0, 434.4, 581.28, 146.88),
        ("TIRE", "changed", 0, 0, 4, 4),
    ]
    assert ahead["newly_short"] == ["TIRE"]
    with pytest.raises(ToolError) as err:
        call(wheel_url, "get_shortage_changes", sales_order="SO-100", previous=first)
    assert err.value.code == "invalid_input"
