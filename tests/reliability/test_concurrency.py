"""Many clients at once on PostgreSQL (threads, each transaction on its own connection): issuing, receiving,
promising and confirming against the same stock never over-allocates, never loses an update, and never
leaves a deadlock or serialization failure unhandled.

Every confirmation bumps the versions of the data domains it writes with a conditional UPDATE taken in one
order, so of two confirmations computed on the same data one applies and the other is refused as stale
(the client asks again, as a person would); the ledger's item row locks are the guard below that.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import select

from data_model.stock import on_hand
from data_model.tables import (
    AuditLog,
    Item,
    Location,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    Reservation,
    StockMove,
)
from tests.helpers import bike_production_data, load_bike_production
from tests.integration.test_production_helpers import WAREHOUSE
from tools.context import Actor, open_context
from tools.errors import ToolError
from tools.proposals import confirm
from tools.registry import call_tool

SALES = Actor("sal", "sales")
EXPECTED_REFUSALS = {"conflict", "infeasible", "invalid_input"}
DEADLINE_SECONDS = 240


@pytest.fixture
def plant(db_url: str) -> str:
    if not db_url.startswith("postgresql"):
        pytest.skip("concurrent writers on separate connections: PostgreSQL (SQLite serializes writers)")

    data = bike_production_data()
    load_bike_production(
        db_url,
        suppliers=[{"code": "SUP-F", "name": "Frame works"}],
        purchase_orders=[
            {"id": "PO-F1", "supplier": "SUP-F", "item": "FRAME", "qty": 12, "due": "2026-12-05"}
        ],
        sales_orders=data["sales_orders"]
        + [
            {
                "id": f"SO-C{n}",
                "customer": "城市单车",
                "lines": [{"item": "BIKE", "qty": 1 + n % 2, "due": "2026-12-18"}],
            }
            for n in range(1, 5)
        ],
    )
    return db_url


class Log:
    """What the clients did: confirmed proposal ids per kind, refusals by code, unexpected errors."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.confirmed: dict[str, list[str]] = defaultdict(list)
        self.refused: Counter[str] = Counter()
        self.errors: list[str] = []
        self.reads = 0

    def add(self, kind: str, pid: str) -> None:
        with self.lock:
            self.confirmed[kind].append(pid)


def _propose_and_confirm(
    url: str, tool: str, args: dict[str, Any], actor: Actor, log: Log, kind: str, attempts: int = 8
) -> bool:
    """Propose and confirm, asking again while the data moved on under it; False once refused for good."""
    for _ in range(attempts):
        try:
            with open_context(url, actor=actor) as ctx:
                pid = call_tool(ctx, tool, args)["proposal_id"]
            with open_context(url) as ctx:
                status = confirm(ctx.session, pid, actor).status
            assert status == "confirmed", status
            log.add(kind, pid)
            return True
        except ToolError as exc:
            with log.lock:
                log.refused[exc.code] += 1
            if exc.code not in EXPECTED_REFUSALS:
                raise
            if exc.code != "conflict" or not exc.details.get("stale"):
                return False
            time.sleep(random.uniform(0, 0.05))
    return False


def _guard(log: Log, fn: Any) -> Any:
    def run(*args: Any) -> None:
        try:
            fn(*args)
        except BaseException as exc:  # the test fails on any of these, with its type and message
            with log.lock:
                log.errors.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    return run


def _issuer(url: str, log: Log, order: str, item: str, barrier: threading.Barrier) -> None:
    barrier.wait()
    for _ in range(6):
        if not _propose_and_confirm(
            url,
            "propose_material_issue",
            {"order": order, "lines": [{"item": item, "qty": 1}]},
            WAREHOUSE,
            log,
            "material_issue",
        ):
            return


def _receiver(url: str, log: Log, barrier: threading.Barrier) -> None:
    barrier.wait()
    for _ in range(4):
        _propose_and_confirm(
            url,
            "propose_purchase_receipt",
            {"purchase_order": "PO-F1", "lines": [{"item": "FRAME", "qty": 3}]},
            WAREHOUSE,
            log,
            "purchase_receipt",
        )


def _order_promiser(url: str, log: Log, orders: list[str], barrier: threading.Barrier) -> None:
    barrier.wait()
    for code in orders:
        _propose_and_confirm(
            url,
            "propose_order_promise",
            {"sales_order": code, "time_limit_seconds": 2},
            SALES,
            log,
            "order_promise",
        )


def _reader(url: str, log: Log, barrier: threading.Barrier) -> None:
    barrier.wait()
    for qty in (1, 5, 20):
        with open_context(url, actor=SALES) as ctx:
            out = call_tool(
                ctx,
                "promise_order",
                {"item": "BIKE", "qty": qty, "due_date": "2026-12-20", "time_limit_seconds": 2},
            )
        assert sum(Decimal(str(p["qty"])) for p in out["promise"]) == qty
        with log.lock:
            log.reads += 1


def test_many_clients_on_the_same_stock(plant: str) -> None:
    log = Log()
    workers: list[tuple[Any, tuple[Any, ...]]] = [
        (_issuer, ("MO-B3", "FRAME")),
        (_issuer, ("MO-B3", "FRAME")),
        (_issuer, ("MO-B2", "FRAME")),
        (_issuer, ("MO-B2", "WHEEL")),
        (_receiver, ()),
        (_order_promiser, (["SO-C1", "SO-C2"],)),
        (_order_promiser, (["SO-C3", "SO-C4"],)),
        (_reader, ()),
    ]
    barrier = threading.Barrier(len(workers))
    threads = [
        threading.Thread(target=_guard(log, fn), args=(plant, log, *args, barrier), daemon=True)
        for fn, args in workers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE_SECONDS)
    assert not [t for t in threads if t.is_alive()], "a client is still waiting: a deadlock?"
    assert log.errors == []
    assert log.reads == 3
    assert log.confirmed["material_issue"] and log.confirmed["purchase_receipt"]
    _check_ledger(plant, log)


def _check_ledger(url: str, log: Log) -> None:
    with open_context(url) as ctx:
        s = ctx.session
        code = {i.id: i.code for i in s.exec(select(Item)).all()}
        internal = {loc.id for loc in s.exec(select(Location)).all() if loc.kind in ("stock", "inspection")}
        # no location ever below zero, for any item
        for item_id, qty in on_hand(s, kinds=("stock", "inspection")).items():
            assert qty >= 0, (code[item_id], qty)
        moves = s.exec(select(StockMove)).all()
        for loc in internal:
            for item_id in code:
                held = sum(
                    (m.qty for m in moves if m.item_id == item_id and m.to_location_id == loc), Decimal(0)
                ) - sum(
                    (m.qty for m in moves if m.item_id == item_id and m.from_location_id == loc), Decimal(0)
                )
                assert held >= 0, (code[item_id], loc, held)
        # no lost update: each order component's issued quantity is what its posted issue moves add up to
        orders = {o.id: o.code for o in s.exec(select(ProductionOrder)).all()}
        issued_moves: dict[tuple[str, int], Decimal] = defaultdict(Decimal)
        for m in moves:
            if m.doc_type == "production_order" and m.move_type == "issue" and m.actor != "load":
                issued_moves[(m.doc_ref, m.item_id)] += m.qty
        for comp in s.exec(select(ProductionOrderComponent)).all():
            key = (orders[comp.production_order_id], comp.item_id)
            if key in issued_moves:
                assert Decimal(comp.issued_qty) >= issued_moves[key], key
        frame = next(i for i, c in code.items() if c == "FRAME")
        issued_frames = sum((q for (_, i), q in issued_moves.items() if i == frame), Decimal(0))
        # every confirmed issue of one frame is one move: none lost, none doubled
        frame_issues = sum(
            1
            for pid in log.confirmed["material_issue"]
            if s.get(Proposal, pid).args["lines"][0]["item"] == "FRAME"
        )
        assert issued_frames == frame_issues
        # each confirmed proposal applied exactly once
        for pids in log.confirmed.values():
            for pid in pids:
                assert s.get(Proposal, pid).status == "confirmed"
                audits = s.exec(
                    select(AuditLog).where(AuditLog.proposal_id == pid, AuditLog.action == "confirm")
                ).all()
                assert len(audits) == 1, pid
        # reservations never promise more stock than there is
        reserved: dict[int, Decimal] = defaultdict(Decimal)
        for r in s.exec(select(Reservation).where(Reservation.status == "active")).all():
            if r.supply_ref == "stock":
                reserved[r.item_id] += r.qty
        have = on_hand(s)
        for item_id, qty in reserved.items():
            assert qty <= have.get(item_id, Decimal(0)), (code[item_id], qty)
