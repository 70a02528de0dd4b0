"""MRP and shortage-analysis benchmark on a plant (by default the seeded synthetic medium factory)."""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from planning.bom import BomIndex
from planning.model import Demand, DemandKind, Plant
from planning.mrp import replan_mrp, run_mrp
from planning.shortages import (
    ComponentRequirement,
    OrderKind,
    OrderRequirements,
    analyze_shortages,
    explode_phantoms,
)

MRP_TARGET_SECONDS = 5.0
SHORTAGE_TARGET_MS = 100.0


@dataclass(frozen=True, slots=True)
class MrpBenchResult:
    items: int
    bom_lines: int
    demands: int
    supplies: int
    horizon_days: int
    suggestions: int
    late_suggestions: int
    bom_index_seconds: float  # building the plant's BOM index (low-level codes, phantoms), once per plant
    first_run_seconds: float  # a regenerative run on a fresh plant, BOM index included
    run_seconds: float  # median of the warm regenerative runs
    run_seconds_max: float
    net_change_seconds: float  # re-plan after one sales order line grows
    net_change_items: int
    one_item_records_ms: float  # median: build one item's suggestions with pegging
    all_records_seconds: float | None  # build every suggestion with its pegging (optional)
    pegs: int | None
    shortage_orders: int
    shortage_ms_median: float
    shortage_ms_p95: float


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def run_mrp_benchmark(
    plant: Plant,
    horizon_days: int = 180,
    repeat: int = 3,
    shortage_orders: int = 50,
    seed: int = 7,
    build_all_records: bool = False,
) -> MrpBenchResult:
    """Time regenerative and net-change MRP and single-order shortage analysis on ``plant``."""
    rng = random.Random(seed)
    gc.collect()
    # a copy of the plant has no cached BOM index: the first run builds it
    fresh = replace(plant)
    result, first = _timed(lambda: run_mrp(fresh, horizon_days))
    _, index_seconds = _timed(lambda: BomIndex(plant.items, plant.boms))
    BomIndex.for_plant(plant)
    times = []
    for _ in range(repeat):
        result, t = _timed(lambda: run_mrp(plant, horizon_days))
        times.append(t)

    sales = [d for d in plant.demands if d.kind is DemandKind.SALES]
    changed_line = rng.choice(sales)
    grown = replace(changed_line, qty=changed_line.qty + Decimal(10))
    changed = replace(plant, demands=tuple(grown if d is changed_line else d for d in plant.demands))
    net, net_seconds = _timed(lambda: replan_mrp(changed, result, [changed_line.item]))

    planned = list(result.planned_items)
    sample = rng.sample(planned, min(50, len(planned)))
    item_times = [_timed(lambda code=code: result.suggestions_for(code))[1] for code in sample]

    all_seconds: float | None = None
    pegs: int | None = None
    if build_all_records:
        everything, all_seconds = _timed(lambda: result.suggestions)
        pegs = sum(len(s.pegging) for s in everything)

    shortage_times = _time_shortages(plant, shortage_orders, rng)
    return MrpBenchResult(
        items=len(plant.items),
        bom_lines=sum(len(b.lines) for b in plant.boms.values()),
        demands=len(plant.demands),
        supplies=len(plant.supplies),
        horizon_days=horizon_days,
        suggestions=result.suggestion_count,
        late_suggestions=result.late_count(),
        bom_index_seconds=round(index_seconds, 3),
        first_run_seconds=round(first, 3),
        run_seconds=round(statistics.median(times), 3),
        run_seconds_max=round(max(times), 3),
        net_change_seconds=round(net_seconds, 3),
        net_change_items=len(net.replanned_items),
        one_item_records_ms=round(statistics.median(item_times) * 1000, 2) if item_times else 0.0,
        all_records_seconds=round(all_seconds, 2) if all_seconds is not None else None,
        pegs=pegs,
        shortage_orders=len(shortage_times),
        shortage_ms_median=round(statistics.median(shortage_times) * 1000, 2) if shortage_times else 0.0,
        shortage_ms_p95=round(_p95(shortage_times) * 1000, 2) if shortage_times else 0.0,
    )


def _time_shortages(plant: Plant, n_orders: int, rng: random.Random) -> list[float]:
    """Analyse open production orders (their components still to issue are the plant's dependent demand)."""
    index = BomIndex.for_plant(plant)
    by_order: dict[str, list[Demand]] = defaultdict(list)
    for d in plant.demands:
        if d.kind is DemandKind.DEPENDENT:
            by_order[d.id].append(d)
    orders = sorted(by_order)
    times = []
    for order_id in rng.sample(orders, min(n_orders, len(orders))):
        rows = by_order[order_id]
        need = min(d.due for d in rows)
        requirements = OrderRequirements(
            order_id,
            OrderKind.PRODUCTION,
            need,
            explode_phantoms([ComponentRequirement(d.item, d.qty, need_date=d.due) for d in rows], index),
        )
        _, t = _timed(
            lambda r=requirements: analyze_shortages(
                r, plant.on_hand, plant.supplies, plant.demands, plant.today, use_substitutes=True
            )
        )
        times.append(t)
    return times


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def format_result(r: MrpBenchResult) -> str:
    """A few lines of plain text."""
    lines = [
        f"{r.items} items, {r.bom_lines} BOM lines, {r.demands} demands, {r.supplies} open supplies, "
        f"{r.horizon_days}-day horizon",
        f"MRP: {r.suggestions} suggestions ({r.late_suggestions} late); regenerative run {r.run_seconds} s "
        f"(max {r.run_seconds_max} s; first run with BOM index {r.first_run_seconds} s, "
        f"index alone {r.bom_index_seconds} s); target < {MRP_TARGET_SECONDS:g} s",
        f"net change after one sales order line: {r.net_change_seconds} s ({r.net_change_items} items re-planned)",
        f"one item's suggestions with pegging: {r.one_item_records_ms} ms (median)",
    ]
    if r.all_records_seconds is not None:
        lines.append(f"every suggestion with its pegging: {r.all_records_seconds} s ({r.pegs} pegs)")
    lines.append(
        f"shortage analysis of one production order: {r.shortage_ms_median} ms median, {r.shortage_ms_p95} ms "
        f"p95 over {r.shortage_orders} orders; target < {SHORTAGE_TARGET_MS:g} ms"
    )
    return "\n".join(lines)


def section_mrp(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench`` (``benchmarks.run.SECTIONS["mrp"]``), on the plant the load section built."""
    from benchmarks.run import BenchRow

    plant = ctx.plant
    if plant is None:
        plant = ctx.plant = _synthetic_plant(ctx.size, ctx.seed)
    r = run_mrp_benchmark(plant, horizon_days=180)
    case = f"{ctx.size}: {r.items} items, {r.bom_lines} lines, {r.demands} demands, {r.supplies} supplies"
    return [
        BenchRow(
            "mrp",
            case,
            "regenerative MRP, 180 days",
            r.run_seconds,
            "s",
            target=f"< {MRP_TARGET_SECONDS:g} s",
            ok=r.run_seconds < MRP_TARGET_SECONDS,
            note=f"{r.suggestions} suggestions; max {r.run_seconds_max} s; first run incl. BOM index "
            f"{r.first_run_seconds} s",
        ),
        BenchRow(
            "mrp",
            case,
            "net change (one sales order line)",
            r.net_change_seconds,
            "s",
            note=f"{r.net_change_items} items re-planned",
        ),
        BenchRow("mrp", case, "one item's suggestions with pegging", r.one_item_records_ms, "ms"),
        BenchRow(
            "shortages",
            case,
            "one production order",
            r.shortage_ms_median,
            "ms",
            target=f"< {SHORTAGE_TARGET_MS:g} ms",
            ok=r.shortage_ms_p95 < SHORTAGE_TARGET_MS,
            note=f"p95 {r.shortage_ms_p95} ms over {r.shortage_orders} orders",
        ),
    ]


def _synthetic_plant(size: str, seed: int) -> Plant:
    from benchmarks.synthetic import generate_factory
    from planning.dataset import plant_from_dict

    return plant_from_dict(generate_factory(size, seed=seed))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--horizon", type=int, default=180)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--all-records", action="store_true", help="also time building every suggestion record"
    )
    args = parser.parse_args(argv)
    plant = _synthetic_plant(args.size, args.seed)
    result = run_mrp_benchmark(plant, args.horizon, args.repeat, build_all_records=args.all_records)
    print(format_result(result))  # command-line entry point
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
