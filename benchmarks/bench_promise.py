"""Order-promising benchmark: promise_order on the demo factory and on a seeded synthetic factory (p50 / p95)."""

from __future__ import annotations

import argparse
import gc
import importlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from planning.bom import bom_index
from planning.dataset import plant_from_dict
from planning.model import DemandKind, Plant
from planning.promising import PromiseMemo, PromiseRequest, PromiseSettings, promise_order
from planning.scheduling import OrderStatus, ScheduleOrder

DEMO_YAML = Path(__file__).resolve().parents[1] / "data" / "demo" / "demo_factory.yaml"
DEMO_TARGET_SECONDS = 1.0
SYNTHETIC_TARGET_SECONDS = 0.5  # p95 on the medium factory (issue 14)

# Questions a salesperson would ask about the demo (item, qty, due date, priority).
DEMO_REQUESTS = (
    ("DSK-1200", 500, "2026-12-15", 5),
    ("DSK-1200", 30, "2026-12-18", 5),
    ("CHR-ERG", 100, "2026-12-10", 5),
    ("CHR-STF", 150, "2026-12-11", 3),
    ("CAB-3D", 30, "2026-12-10", 1),
    ("CAB-FILE", 20, "2026-12-09", 5),
    ("DSK-1400E", 40, "2026-12-22", 2),
    ("TOP-1200", 200, "2026-12-08", 5),
)


@dataclass(frozen=True, slots=True)
class PromiseTiming:
    item: str
    qty: Decimal
    seconds: float
    on_time: bool
    levers: int
    impacts: int
    capacity_checked: bool


@dataclass(frozen=True)
class PromiseBenchResult:
    """``first`` is the first promise on the snapshot: it computes the baseline schedule of the open production
    orders and the commitments, which the following promises (``timings``) share, as the tool's promises on
    unchanged data do. p50 and p95 are those of the following promises."""

    factory: str
    items: int
    production_orders: int
    timings: tuple[PromiseTiming, ...]
    first: PromiseTiming | None = None
    prepare_seconds: float | None = None  # PromiseMemo.prepare before the first promise, if it was run

    @property
    def p50(self) -> float:
        return statistics.median(t.seconds for t in self.timings)

    @property
    def p95(self) -> float:
        ordered = sorted(t.seconds for t in self.timings)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def demo_data() -> dict[str, Any]:
    return yaml.safe_load(DEMO_YAML.read_text(encoding="utf-8"))


def schedule_orders_of(data: dict[str, Any], plant: Plant) -> list[ScheduleOrder]:
    """Open production orders as the tools build them from the database: remaining quantity, planned start,
    priority and the parent order a sub-assembly order feeds."""
    open_rows = [
        row
        for row in data.get("production_orders", [])
        if row.get("status", "released") in ("planned", "released", "in_progress")
        and row.get("kind", "production") in ("production", "rework")
        and row["item"] in plant.items
        and Decimal(str(row["qty"])) > Decimal(str(row.get("completed_qty", 0)))
    ]
    ids = {row["id"] for row in open_rows}
    return [
        ScheduleOrder(
            id=row["id"],
            item=row["item"],
            qty=Decimal(str(row["qty"])) - Decimal(str(row.get("completed_qty", 0))),
            due=row["due"],
            priority=int(row.get("priority", 5)),
            status=OrderStatus(row.get("status", "released")),
            release_date=row.get("start"),
            parent=row.get("parent_order")
            if row.get("parent_order") in ids and row.get("kind", "production") == "production"
            else None,
        )
        for row in open_rows
    ]


def demo_requests() -> list[PromiseRequest]:
    return [
        PromiseRequest(item, Decimal(qty), date.fromisoformat(due), priority)
        for item, qty, due, priority in DEMO_REQUESTS
    ]


def synthetic_requests(plant: Plant, count: int = 20, seed: int = 7) -> list[PromiseRequest]:
    """Finished goods that have open sales orders, asked for again: about the quantity of one of their open
    lines (half to one and a half times it, whole units), due 1–6 weeks out, at a priority customers get."""
    index = bom_index(plant)
    sold: dict[str, list[Decimal]] = {}
    for demand in plant.demands:
        if demand.kind is DemandKind.SALES and index.low_level_codes.get(demand.item, 0) == 0:
            sold.setdefault(demand.item, []).append(demand.qty)
    rng = random.Random(seed)
    picked = rng.sample(sorted(sold), min(count, len(sold)))
    requests = []
    for code in picked:
        line = rng.choice(sorted(sold[code]))
        qty = max(Decimal(1), (line * Decimal(rng.randint(50, 150)) / 100).to_integral_value())
        requests.append(
            PromiseRequest(
                code,
                qty,
                plant.today + timedelta(days=rng.randint(7, 42)),
                priority=rng.choice((1, 3, 5, 5, 7)),
            )
        )
    return requests


def run_promise_benchmark(
    data: dict[str, Any],
    requests: Sequence[PromiseRequest] | None,
    factory: str,
    settings: PromiseSettings | None = None,
    plant: Plant | None = None,
) -> PromiseBenchResult:
    """Time ``promise_order`` (levers included) for each request on the factory ``data`` (by default
    ``synthetic_requests``), one after the other on one snapshot, as the tool answers them on unchanged data:
    the plant and its BOM index are built once beforehand, and the promises share a ``PromiseMemo`` (the first
    computes the baseline schedule and the commitments: it is reported apart)."""
    return run_promise_streams(data, requests, factory, settings, plant, streams=1)[0]


def run_promise_streams(
    data: dict[str, Any],
    requests: Sequence[PromiseRequest] | None,
    factory: str,
    settings: PromiseSettings | None = None,
    plant: Plant | None = None,
    streams: int = 1,
    prepare: bool = False,
) -> list[PromiseBenchResult]:
    """``run_promise_benchmark``, then ``streams`` - 1 more lists of other requests (``synthetic_requests``
    with other seeds) on the same snapshot, each a result of its own: the snapshot is then in use, its
    commitments for most priorities and the overtime schedules of most work centers already worked out.

    With ``prepare``, ``PromiseMemo.prepare`` runs first (timed apart), as the promise tools do in the
    background after their first answer on new data: the baseline schedule and the commitments of every
    priority are then known before the first request."""
    plant = plant or plant_from_dict(data)
    bom_index(plant)
    orders = schedule_orders_of(data, plant)
    importlib.import_module("ortools.sat.python.cp_model")  # loaded once per process, not per promise
    memo = PromiseMemo()
    prepare_seconds = None
    if prepare:
        start = time.perf_counter()
        memo.prepare(plant, production_orders=orders, settings=settings)
        prepare_seconds = time.perf_counter() - start
        gc.freeze()  # as the promise tools do once a snapshot is prepared; handed back below
    wanted = requests if requests is not None else synthetic_requests(plant)
    first = _stream(plant, orders, wanted, settings, memo)
    results = [
        PromiseBenchResult(
            factory + (", prepared" if prepare else ""),
            len(plant.items),
            len(orders),
            tuple(first[1:]),
            first[0],
            prepare_seconds,
        )
    ]
    for n in range(1, streams):
        more = synthetic_requests(plant, len(first), seed=1000 + n)
        results.append(
            PromiseBenchResult(
                f"{results[0].factory}, snapshot in use ({n})",
                len(plant.items),
                len(orders),
                tuple(_stream(plant, orders, more, settings, memo)),
            )
        )
    if prepare:
        gc.unfreeze()
    return results


def _stream(
    plant: Plant,
    orders: Sequence[ScheduleOrder],
    requests: Sequence[PromiseRequest],
    settings: PromiseSettings | None,
    memo: PromiseMemo,
) -> list[PromiseTiming]:
    timings = []
    for request in requests:
        start = time.perf_counter()
        result = promise_order(plant, request, production_orders=orders, settings=settings, memo=memo)
        timings.append(
            PromiseTiming(
                item=request.item,
                qty=request.qty,
                seconds=time.perf_counter() - start,
                on_time=result.on_time,
                levers=len(result.levers),
                impacts=len(result.impacts),
                capacity_checked=result.capacity_checked,
            )
        )
    return timings


def run_tool_benchmark(requests: Sequence[tuple[str, int, str, int]] = DEMO_REQUESTS) -> list[float]:
    """Seconds per call of the promise_order tool on the demo in a scratch SQLite database (snapshot included)."""
    from data_model.db import make_engine, upgrade
    from tools.context import open_context
    from tools.dataset_io import load_dataset_file
    from tools.registry import call_tool

    url = f"sqlite:///{tempfile.mkdtemp()}/bench_promise.sqlite"
    upgrade(make_engine(url))
    with open_context(url) as ctx:
        load_dataset_file(ctx.session, DEMO_YAML, reset=True)
    times = []
    for item, qty, due, priority in requests:
        with open_context(url) as ctx:
            start = time.perf_counter()
            call_tool(ctx, "promise_order", {"item": item, "qty": qty, "due_date": due, "priority": priority})
            times.append(time.perf_counter() - start)
    return times


def format_result(result: PromiseBenchResult) -> str:
    first = result.first
    lines = [
        f"{result.factory}: {result.items} items, {result.production_orders} open production orders, "
        f"{len(result.timings) + (first is not None)} requests",
        f"promise_order p50 {result.p50 * 1000:.0f} ms, p95 {result.p95 * 1000:.0f} ms"
        + (f"; first on the snapshot {first.seconds * 1000:.0f} ms" if first else "")
        + (
            f"; prepared beforehand in {result.prepare_seconds:.1f} s"
            if result.prepare_seconds is not None
            else ""
        ),
    ]
    for t in (first, *result.timings) if first else result.timings:
        lines.append(
            f"  {t.item} × {t.qty}: {t.seconds * 1000:.0f} ms, "
            + ("on time" if t.on_time else "late")
            + f", {t.levers} levers, {t.impacts} impacts"
            + ("" if t.capacity_checked else " (capacity budget used up)")
        )
    return "\n".join(lines)


def section_promise(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench``: the demo (target < 1 s) and the synthetic factory of the run."""
    from benchmarks.run import BenchRow
    from benchmarks.synthetic import generate_factory

    demo = run_promise_benchmark(demo_data(), demo_requests(), "demo")
    data = ctx.data or generate_factory(ctx.size, seed=ctx.seed)
    plant = ctx.plant or plant_from_dict(data)
    requests = synthetic_requests(plant, seed=ctx.seed)
    cold = run_promise_benchmark(data, requests, ctx.size, plant=plant)
    (prepared,) = run_promise_streams(data, requests, ctx.size, plant=plant, prepare=True)
    rows = []
    for r, target in (
        (demo, DEMO_TARGET_SECONDS),
        (cold, None),
        (prepared, SYNTHETIC_TARGET_SECONDS),
    ):
        case = f"{r.factory}: {len(r.timings)} requests"
        if r.prepare_seconds is not None:
            rows.append(
                BenchRow(
                    "promise",
                    case,
                    "PromiseMemo.prepare",
                    r.prepare_seconds,
                    "s",
                    note="baseline schedule and the commitments of every priority, before the first request",
                )
            )
        if r.first is not None:
            first_ok = r.first.seconds < DEMO_TARGET_SECONDS if r is demo else None
            rows.append(
                BenchRow(
                    "promise",
                    case,
                    "promise_order, first on the snapshot",
                    r.first.seconds,
                    "s",
                    target=f"< {DEMO_TARGET_SECONDS:g} s" if r is demo else "",
                    ok=first_ok,
                    note="" if r.prepare_seconds else "computes the baseline schedule and its commitments",
                )
            )
        rows.append(BenchRow("promise", case, "promise_order p50", r.p50, "s"))
        rows.append(
            BenchRow(
                "promise",
                case,
                "promise_order p95",
                r.p95,
                "s",
                target=f"< {target * 1000:g} ms" if target else "",
                ok=r.p95 < target if target else None,
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--size", default="medium", help="synthetic factory: small, medium or large ('' to skip)"
    )
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs of each factory (fresh snapshot each); the quietest is kept",
    )
    parser.add_argument(
        "--streams",
        type=int,
        default=1,
        help="lists of requests on one synthetic snapshot: the later ones find it in use (default 1)",
    )
    parser.add_argument(
        "--prepare",
        action="store_true",
        help="prepare the synthetic snapshot first (PromiseMemo.prepare), as the promise tools do",
    )
    parser.add_argument("--tool", action="store_true", help="also time the tool on the demo (SQLite)")
    args = parser.parse_args(argv)
    print(
        format_result(
            _quietest(lambda: run_promise_benchmark(demo_data(), demo_requests(), "demo"), args.repeat)
        )
    )  # command-line entry point
    if args.tool:
        times = run_tool_benchmark()
        print(  # command-line entry point
            f"demo through the promise_order tool (snapshot from SQLite, then cached per data version): "
            f"first {times[0] * 1000:.0f} ms, then p50 {statistics.median(times[1:]) * 1000:.0f} ms, "
            f"max {max(times[1:]) * 1000:.0f} ms"
        )
    if args.size:
        from benchmarks.synthetic import generate_factory

        data = generate_factory(args.size, seed=args.seed)
        plant = plant_from_dict(data)
        requests = synthetic_requests(plant, args.requests, args.seed)
        runs = [
            run_promise_streams(
                data, requests, args.size, plant=plant, streams=args.streams, prepare=args.prepare
            )
            for _ in range(max(args.repeat, 1))
        ]
        for results in zip(*runs, strict=True):  # per stream, the quietest run
            print(format_result(min(results, key=lambda r: (r.p95, r.p50))))  # command-line entry point
    return 0


def _quietest(run: Callable[[], PromiseBenchResult], repeat: int) -> PromiseBenchResult:
    """The run with the lowest p95 of ``repeat`` (the machine may be busy with other work)."""
    return min((run() for _ in range(max(repeat, 1))), key=lambda r: (r.p95, r.p50))


if __name__ == "__main__":
    raise SystemExit(main())
