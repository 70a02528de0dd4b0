"""Tracking and stock report benchmark: one order's reports, the warnings list and the full-flow report.

Set-up, on each database the load section filled with the synthetic factory: production orders are added up
to 3,000 (some made to order, some in progress or completed with their material issued, a few over-issued
with a reason or returned) and ledger moves up to 100,000 (receipts, issues, shipments and transfers dated
over the last nine months and the next three), then the database's statistics are refreshed (ANALYZE).
Targets (issue 12): each report for one order < 100 ms, the warnings < 1 s, the full-flow tracking of every
open sales order < 5 s.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

ONE_ORDER_TARGET_MS = 100.0
WARNINGS_TARGET_S = 1.0
FULL_FLOW_TARGET_S = 5.0
PRODUCTION_ORDERS = 3_000
LEDGER_MOVES = 100_000
SAMPLE = 20


@dataclass(frozen=True)
class ExtendedCounts:
    production_orders: int
    moves: int
    issue_lines: int


def extend_factory(url: str, today: date, seed: int = 7) -> ExtendedCounts:
    """Add production orders and ledger moves to a loaded synthetic factory (see the module docstring)."""
    from sqlmodel import Session

    from data_model.db import make_engine
    from data_model.stock import ensure_standard_locations
    from data_model.tables import (
        Item,
        MaterialIssue,
        MaterialIssueLine,
        ProductionOrder,
        ProductionOrderComponent,
        SalesOrder,
        SalesOrderLine,
        StockMove,
    )
    from tools.snapshot import load_plant_from_session

    rng = random.Random(seed)
    engine = make_engine(url)
    with Session(engine) as session:
        locs = {code: loc.id for code, loc in ensure_standard_locations(session).items()}
        ids = dict(session.execute(sa.select(Item.code, Item.id)).all())
        plant = load_plant_from_session(session, today)
        from planning.bom import BomIndex

        index = BomIndex.for_plant(plant)
        made = sorted(
            code
            for code, item in plant.items.items()
            if item.source.value == "make" and not item.phantom and index.children.get(code)
        )
        lines_by_item: dict[int, list[int]] = defaultdict(list)
        for line_id, item_id in session.execute(
            sa.select(SalesOrderLine.id, SalesOrderLine.item_id)
            .join(SalesOrder, SalesOrder.id == SalesOrderLine.sales_order_id)
            .where(SalesOrder.status.in_(("confirmed", "in_progress")))
        ):
            lines_by_item[item_id].append(line_id)
        existing = session.execute(sa.select(sa.func.count()).select_from(ProductionOrder)).scalar_one()
        orders, comps = [], []
        issued_rows: list[tuple[str, int, Decimal, Decimal]] = []  # (order code, item id, issued, required)
        for n in range(1, max(PRODUCTION_ORDERS - existing, 0) + 1):
            code = rng.choice(made)
            qty = Decimal(rng.choice((10, 20, 50, 100, 200)))
            due = today + timedelta(days=rng.randint(-60, 60))
            status = rng.choices(
                ("planned", "released", "in_progress", "completed", "closed"), weights=(1, 4, 3, 2, 1)
            )[0]
            done = (
                qty
                if status in ("completed", "closed")
                else (Decimal(rng.randint(0, int(qty) - 1)) if status == "in_progress" else Decimal(0))
            )
            item_id = ids[code]
            linked = lines_by_item.get(item_id)
            mo_code = f"MO-B{n:06d}"
            orders.append(
                {
                    "code": mo_code,
                    "kind": "production",
                    "item_id": item_id,
                    "qty": qty,
                    "completed_qty": done,
                    "start_date": due - timedelta(days=plant.items[code].lead_time_days),
                    "due_date": due,
                    "status": status,
                    "priority": rng.randint(1, 9),
                    "sales_order_line_id": rng.choice(linked) if linked and rng.random() < 0.3 else None,
                }
            )
            share = (
                Decimal(1)
                if status in ("completed", "closed")
                else (
                    Decimal(rng.randint(int(done * 100 / qty), 100)) / 100
                    if status == "in_progress"
                    else Decimal(0)
                )
            )
            for comp, per in index.children[code]:
                required = (qty * per).quantize(Decimal("0.000001"))
                issued = (required * share).quantize(Decimal("0.000001"))
                comps.append(
                    {"code": mo_code, "item_id": ids[comp], "required_qty": required, "issued_qty": issued}
                )
                if issued > 0:
                    issued_rows.append((mo_code, ids[comp], issued, required))
        if orders:
            session.execute(sa.insert(ProductionOrder), orders)
            mo_ids = dict(
                session.execute(
                    sa.select(ProductionOrder.code, ProductionOrder.id).where(
                        ProductionOrder.code.like("MO-B%")
                    )
                ).all()
            )
            comp_rows = [{"production_order_id": mo_ids[c.pop("code")], **c} for c in comps]
            session.execute(sa.insert(ProductionOrderComponent), comp_rows)
        comp_ids = {
            (o, i): cid
            for cid, o, i in session.execute(
                sa.select(ProductionOrderComponent.id, ProductionOrder.code, ProductionOrderComponent.item_id)
                .join(ProductionOrder, ProductionOrder.id == ProductionOrderComponent.production_order_id)
                .where(ProductionOrder.code.like("MO-B%"))
            )
        }
        mo_ids = dict(
            session.execute(
                sa.select(ProductionOrder.code, ProductionOrder.id).where(ProductionOrder.code.like("MO-B%"))
            ).all()
        )

        # material issue documents for what was issued: one issue per order, a few over-issues and returns
        docs, doc_lines, moves = [], [], []
        for n, (mo_code, item_id, issued, _required) in enumerate(issued_rows, start=1):
            over = rng.random() < 0.05
            day = today - timedelta(days=rng.randint(0, 60))
            docs.append(
                {
                    "code": f"MI-B{n:07d}",
                    "mode": "supplement" if over else "issue",
                    "status": "posted",
                    "issue_date": day,
                    "reason": "scrapped in cutting" if over else "",
                }
            )
            moves.append(
                {
                    "move_date": day,
                    "move_type": "issue",
                    "item_id": item_id,
                    "qty": issued,
                    "from_location_id": locs["STOCK"],
                    "to_location_id": locs["PRODUCTION"],
                    "unit_cost": Decimal(1),
                    "doc_type": "production_order",
                    "doc_ref": mo_code,
                    "reason": "scrapped in cutting" if over else "",
                    "actor": "bench",
                }
            )
            doc_lines.append(
                {
                    "doc": f"MI-B{n:07d}",
                    "production_order_id": mo_ids[mo_code],
                    "component_id": comp_ids[(mo_code, item_id)],
                    "item_id": item_id,
                    "qty": issued,
                    "unit_cost": Decimal(1),
                    "over_issue": over,
                }
            )
        session.execute(sa.insert(MaterialIssue), docs) if docs else None
        doc_ids = dict(
            session.execute(
                sa.select(MaterialIssue.code, MaterialIssue.id).where(MaterialIssue.code.like("MI-B%"))
            ).all()
        )
        if doc_lines:
            session.execute(
                sa.insert(MaterialIssueLine),
                [{"material_issue_id": doc_ids[row.pop("doc")], **row} for row in doc_lines],
            )

        # the rest of the ledger: receipts of bought items, shipments of made ones, issues and transfers
        count = session.execute(sa.select(sa.func.count()).select_from(StockMove)).scalar_one() + len(moves)
        bought = [ids[c] for c, it in plant.items.items() if it.source.value == "buy"]
        made_ids = [ids[c] for c in made]
        kinds = (
            ("receipt", "VENDOR", "STOCK", bought),
            ("shipment", "STOCK", "CUSTOMER", made_ids),
            ("issue", "STOCK", "PRODUCTION", bought),
            ("production_receipt", "PRODUCTION", "STOCK", made_ids),
        )
        while count < LEDGER_MOVES:
            move_type, src, dst, pool = rng.choice(kinds)
            moves.append(
                {
                    "move_date": today + timedelta(days=rng.randint(-270, 90)),
                    "move_type": move_type,
                    "item_id": rng.choice(pool),
                    "qty": Decimal(rng.randint(1, 50)),
                    "from_location_id": locs[src],
                    "to_location_id": locs[dst],
                    "unit_cost": Decimal(1),
                    "doc_type": "bench",
                    "doc_ref": f"B-{count}",
                    "reason": "",
                    "actor": "bench",
                }
            )
            count += 1
        for start in range(0, len(moves), 5000):
            session.execute(sa.insert(StockMove), moves[start : start + 5000])
        session.commit()
        # refresh the planner's statistics after the bulk insert, as PostgreSQL's autovacuum would in time
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
        total_orders = session.execute(sa.select(sa.func.count()).select_from(ProductionOrder)).scalar_one()
        total_moves = session.execute(sa.select(sa.func.count()).select_from(StockMove)).scalar_one()
    engine.dispose()
    return ExtendedCounts(total_orders, total_moves, len(doc_lines))


def _timed_calls(url: str, today: date, name: str, args_list: list[dict[str, Any]]) -> list[float]:
    """Seconds per call of a tool (each in its own session, session set-up excluded)."""
    return [wall for wall, _ in _timed_calls_cpu(url, today, name, args_list)]


def _timed_calls_cpu(
    url: str, today: date, name: str, args_list: list[dict[str, Any]]
) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per call: on a busy machine the CPU time of the process says more than the wall."""
    from tools.context import open_context
    from tools.registry import call_tool

    times = []
    for args in args_list:
        with open_context(url, clock=lambda: today) as ctx:
            start, cpu = time.perf_counter(), time.process_time()
            call_tool(ctx, name, args)
            times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def _samples(url: str, today: date, seed: int) -> dict[str, list[str]]:
    from sqlmodel import Session

    from data_model.db import make_engine
    from data_model.tables import ProductionOrder, SalesOrder

    rng = random.Random(seed)
    engine = make_engine(url)
    with Session(engine) as session:
        sos = sorted(
            session.execute(
                sa.select(SalesOrder.code).where(SalesOrder.status.in_(("confirmed", "in_progress")))
            ).scalars()
        )
        mos = sorted(
            session.execute(
                sa.select(ProductionOrder.code).where(
                    ProductionOrder.kind == "production",
                    ProductionOrder.status.in_(("released", "in_progress")),
                )
            ).scalars()
        )
        done = sorted(
            session.execute(
                sa.select(ProductionOrder.code).where(
                    ProductionOrder.code.like("MO-B%"), ProductionOrder.status == "completed"
                )
            ).scalars()
        )
        scs = sorted(
            session.execute(
                sa.select(ProductionOrder.code).where(ProductionOrder.kind == "subcontract")
            ).scalars()
        )
    engine.dispose()
    pick: Callable[[list[str]], list[str]] = lambda xs: rng.sample(xs, min(SAMPLE, len(xs)))  # noqa: E731
    return {"so": pick(sos), "mo": pick(mos), "done": pick(done), "sc": pick(scs)}


def _ms(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(values) * 1000, ordered[
        min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))
    ] * 1000


def section_reports(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench`` (the lead registers it as ``SECTIONS["reports"]``)."""
    from benchmarks.run import BenchRow
    from benchmarks.synthetic import TODAY

    rows: list[Any] = []
    for backend, url in ctx.db_urls.items():
        counts = extend_factory(url, TODAY, ctx.seed)
        case = f"{ctx.size} / {backend}: {counts.production_orders} production orders, {counts.moves} moves"
        samples = _samples(url, TODAY, ctx.seed)
        one_order = [
            ("get_sales_order_tracking", "sales_order", samples["so"], "full-flow tracking, one sales order"),
            (
                "get_production_order_tracking",
                "production_order",
                samples["mo"],
                "production tracking, one order",
            ),
            (
                "get_subcontract_tracking",
                "subcontract_order",
                samples["sc"],
                "subcontract tracking, one order",
            ),
            ("get_material_usage_variance", "production_order", samples["done"], "usage variance, one order"),
        ]
        for tool, key, codes, metric in one_order:
            if not codes:
                continue
            _timed_calls(url, TODAY, tool, [{key: codes[0]}])  # warm the engine and the tool registry
            timed = _timed_calls_cpu(url, TODAY, tool, [{key: c} for c in codes])
            median_ms, p95_ms = _ms([w for w, _ in timed])
            cpu_ms, cpu_p95_ms = _ms([c for _, c in timed])
            rows.append(
                BenchRow(
                    "reports",
                    case,
                    metric,
                    median_ms / 1000,
                    "s",
                    target=f"< {ONE_ORDER_TARGET_MS:g} ms",
                    ok=p95_ms < ONE_ORDER_TARGET_MS,
                    note=f"median of {len(codes)} orders; p95 {p95_ms:.1f} ms; CPU median {cpu_ms:.1f} ms, "
                    f"p95 {cpu_p95_ms:.1f} ms",
                )
            )
        whole = [
            ("get_warnings", {"days": 7}, TODAY, 3, "warnings (get_warnings, 7 days)", WARNINGS_TARGET_S),
            (
                "get_sales_order_tracking",
                {"limit": 20000},
                TODAY,
                2,
                "full-flow tracking, every open sales order",
                FULL_FLOW_TARGET_S,
            ),
            (
                "get_slow_moving_stock",
                {"days": 90},
                TODAY + timedelta(days=90),
                2,
                "slow-moving stock, 90 days (clock + 90 days)",
                None,
            ),
            ("get_material_usage_variance", {"limit": 20000}, TODAY, 2, "usage variance, every order", None),
        ]
        for tool, args, clock, repeat, metric, target in whole:
            timed = _timed_calls_cpu(url, clock, tool, [args] * repeat)
            walls, cpus = [w for w, _ in timed], [c for _, c in timed]
            rows.append(
                BenchRow(
                    "reports",
                    case,
                    metric,
                    statistics.median(walls),
                    "s",
                    target=f"< {target:g} s" if target else "",
                    ok=max(walls) < target if target else None,
                    note=f"median of {repeat}; max {max(walls):.2f} s; CPU median {statistics.median(cpus):.2f} s",
                )
            )
    return rows
