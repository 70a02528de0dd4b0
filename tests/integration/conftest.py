"""Fixtures of the tool-layer tests: a small furniture shop with orders of every kind, and users per role.

The database fixtures themselves (``db_url`` on SQLite and PostgreSQL, ``sqlite_url``) live in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.pool import StaticPool

from tests.helpers import load_data

# 2026-12-01 is a Tuesday; the shop works Monday to Friday.
SHOP_YAML = """
today: 2026-12-01
calendar: {workdays: [mon, tue, wed, thu, fri]}
items:
  - {code: DESK-A, name: 办公桌A, aliases: [oak desk], uom: pcs, source: make, lead_time_days: 2}
  - {code: TOP-A, name: 桌面板A, uom: pcs, source: make, lead_time_days: 1}
  - {code: LEG, name: 桌腿, description: steel table leg 720mm, uom: pcs, source: buy, lead_time_days: 5,
     unit_cost: 12, min_order_qty: 100, order_multiple: 50, max_order_qty: 200}
  - {code: BOARD, name: 板材, uom: pcs, source: buy, lead_time_days: 3, unit_cost: 30}
  - {code: SCREW, name: 螺丝, uom: pcs, source: buy, unit_cost: 0.05}
  - {code: PAINT, name: 喷漆服务, uom: pcs, source: subcontract, unit_cost: 4}
customers:
  - {code: ACME, name: 艾克米家具, aliases: [acme furniture]}
  - {code: BETA, name: Beta Office}
suppliers:
  - {code: SUP-STEEL, name: 钢材供应商}
  - {code: SUP-WOOD, name: Wood Co}
price_lists:
  - {supplier: SUP-STEEL, item: LEG, price: 11, preferred: true}
  - {supplier: SUP-STEEL, item: LEG, price: 10, min_qty: 200}
  - {supplier: SUP-WOOD, item: BOARD, price: 28}
boms:
  - parent: DESK-A
    lines: [{component: TOP-A, qty: 1}, {component: LEG, qty: 4}, {component: SCREW, qty: 16}]
  - parent: TOP-A
    lines: [{component: BOARD, qty: 1}]
stock:
  - {item: LEG, qty: 30}
  - {item: LEG, qty: 8, location: QC}
  - {item: BOARD, qty: 5}
purchase_orders:
  - {id: PO-1, supplier: SUP-STEEL, item: LEG, qty: 40, due: 2026-12-10}
  - id: PO-2
    supplier: SUP-WOOD
    lines:
      - {item: BOARD, qty: 20, due: 2026-12-04, received_qty: 5}
      - {item: LEG, qty: 10, due: 2026-12-08}
  - {id: PO-3, supplier: SUP-STEEL, item: LEG, qty: 50, due: 2026-11-20, status: received, received_qty: 50}
production_orders:
  - {id: MO-0, item: TOP-A, qty: 3, due: 2026-11-25, status: completed, completed_qty: 3,
     components: [{item: BOARD, required: 3, issued: 3}]}
  - {id: MO-1, item: TOP-A, qty: 10, due: 2026-12-05, status: released,
     components: [{item: BOARD, required: 10, issued: 4}]}
  - {id: MO-2, item: DESK-A, qty: 5, due: 2026-12-09, status: planned,
     components: [{item: LEG, required: 20}, {item: TOP-A, required: 5}, {item: SCREW, required: 80}]}
sales_orders:
  - id: SO-1
    customer: ACME
    priority: 1
    lines:
      - {item: DESK-A, qty: 50, due: 2026-12-20, promised: 2026-12-22, unit_price: 300}
      - {item: LEG, qty: 8, due: 2026-12-03, shipped_qty: 2, unit_price: 15}
  - {id: SO-2, customer: BETA, lines: [{item: DESK-A, qty: 5, due: 2026-12-12}]}
  - {id: SO-3, customer: ACME, status: done, lines: [{item: LEG, qty: 4, due: 2026-11-15, shipped_qty: 4}]}
"""


def load_shop(url: str) -> None:
    load_data(url, yaml.safe_load(SHOP_YAML), source="shop")


@pytest.fixture
def shop_url(db_url: str) -> str:
    """The shop in a fresh database (SQLite, and PostgreSQL when configured)."""
    load_shop(db_url)
    return db_url


@pytest.fixture
def shop_sqlite_url(sqlite_url: str) -> str:
    """The shop in a fresh SQLite file (tests about an interface rather than the backend)."""
    load_shop(sqlite_url)
    return sqlite_url


@pytest.fixture
def memory_engine() -> Iterator[sa.engine.Engine]:
    """An in-memory SQLite database (one connection shared by every thread), migrated, with the shop."""
    from sqlmodel import Session

    from data_model.db import make_engine, upgrade
    from tools.context import ToolContext
    from tools.dataset_io import load_dataset

    engine = make_engine("sqlite://", poolclass=StaticPool)
    upgrade(engine)
    with Session(engine) as session:
        load_dataset(
            ToolContext(session=session).session, yaml.safe_load(SHOP_YAML), reset=True, source="shop"
        )
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def role_tokens(shop_sqlite_url: str) -> dict[str, str]:
    """demo-<role> users with fresh tokens in the SQLite shop: {role: token}."""
    from tools.auth import ensure_demo_users
    from tools.context import open_context

    with open_context(shop_sqlite_url) as ctx:
        tokens = ensure_demo_users(ctx.session)
    return {name.removeprefix("demo-"): token for name, token in tokens.items()}
