"""BOM engine benchmark: explosion, kitting, where-used and cost roll-up on one plant, after the snapshot is loaded."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from planning.bom import BomIndex, explode_bom, explode_totals, get_bom_tree, where_used
from planning.bom_cost import get_bom_cost
from planning.kitting import check_kitting
from planning.model import Plant

# Targets of issue 5 on the medium factory (10,000 items, 6 levels, ~40,000 BOM lines).
EXPLODE_TARGET_MS = 50.0
KITTING_TARGET_MS = 50.0
WHERE_USED_TARGET_MS = 20.0


@dataclass(frozen=True, slots=True)
class BomTiming:
    """Wall time of one operation over ``repeat`` warm runs (the first, cold run is reported apart)."""

    operation: str
    subject: str
    median_ms: float
    max_ms: float
    first_ms: float
    target_ms: float | None
    detail: str

    @property
    def ok(self) -> bool | None:
        return None if self.target_ms is None else self.median_ms < self.target_ms


@dataclass(frozen=True)
class BomBenchResult:
    items: int
    bom_lines: int
    index_ms: float  # building the BomIndex (cycle check, low-level codes, phantoms), once per plant
    top_item: str
    top_item_components: int
    leaf_item: str
    timings: tuple[BomTiming, ...]


def pick_subjects(index: BomIndex) -> tuple[str, str]:
    """The end item with the largest structure and the leaf used by the most parents."""
    tops = [code for code in index.lines if index.low_level_codes.get(code, 0) == 0]
    top = max(sorted(tops), key=lambda code: len(index.reachable((code,))))
    leaves = [code for code in index.parents if code not in index.lines]
    leaf = max(sorted(leaves), key=lambda code: len(index.parents[code]))
    return top, leaf


def run_bom_benchmark(
    plant: Plant,
    repeat: int = 7,
    top_item: str | None = None,
    leaf_item: str | None = None,
    with_substitutes: bool = False,
) -> BomBenchResult:
    """Time the BOM engine on ``plant``; the index is built first and timed on its own."""
    start = time.perf_counter()
    index = BomIndex(plant.items, plant.boms)
    index_ms = (time.perf_counter() - start) * 1000
    index = BomIndex.for_plant(plant)
    picked_top, picked_leaf = pick_subjects(index)
    top = top_item or picked_top
    leaf = leaf_item or picked_leaf
    ten = Decimal(10)
    cases: list[tuple[str, str, Callable[[], Any], float | None, Callable[[Any], str]]] = [
        (
            "explode_bom (lines per level and totals)",
            f"{top} × 10",
            lambda: explode_bom(plant, top, ten),
            EXPLODE_TARGET_MS,
            lambda r: f"{len(r.lines)} lines, {len(r.totals)} items, depth {r.depth}",
        ),
        (
            "explosion totals only",
            f"{top} × 10",
            lambda: explode_totals(plant, top, ten),
            None,
            lambda r: f"{len(r)} items",
        ),
        (
            "check_kitting (buildable, limiting)",
            top,
            lambda: check_kitting(plant, top),
            KITTING_TARGET_MS,
            lambda r: f"buildable {r.buildable_qty}, {len(r.limiting_items)} limiting items",
        ),
        (
            "check_kitting with qty (all shortages)",
            f"{top} × 10",
            lambda: check_kitting(plant, top, ten),
            None,
            lambda r: f"{len(r.shortages)} shortages",
        ),
        (
            "where_used (multi-level)",
            leaf,
            lambda: where_used(plant, leaf),
            WHERE_USED_TARGET_MS,
            lambda r: f"{len(r.parents)} rows, {len(r.top_items)} end items",
        ),
        (
            "get_bom_cost",
            top,
            lambda: get_bom_cost(plant, top),
            None,
            lambda r: f"{len(r.lines)} lines, {len(r.problems)} problems",
        ),
        (
            "get_bom_tree (≤ 5,000 rows)",
            top,
            lambda: get_bom_tree(plant, top, max_nodes=5000),
            None,
            lambda r: f"{len(r.nodes)} rows" + (", truncated" if r.truncated else ""),
        ),
    ]
    if with_substitutes:
        cases.append(
            (
                "check_kitting with substitutes (CP-SAT)",
                top,
                lambda: check_kitting(plant, top, use_substitutes=True),
                None,
                lambda r: f"buildable {r.buildable_qty}, {len(r.substitutions)} substitutions",
            )
        )
    timings = tuple(
        _time_case(name, subject, fn, target, describe, repeat)
        for name, subject, fn, target, describe in cases
    )
    return BomBenchResult(
        items=len(plant.items),
        bom_lines=sum(len(bom.lines) for bom in plant.boms.values()),
        index_ms=round(index_ms, 1),
        top_item=top,
        top_item_components=len(index.reachable((top,))) - 1,
        leaf_item=leaf,
        timings=timings,
    )


def _time_case(
    name: str,
    subject: str,
    fn: Callable[[], Any],
    target: float | None,
    describe: Callable[[Any], str],
    repeat: int,
) -> BomTiming:
    start = time.perf_counter()
    result = fn()
    first_ms = (time.perf_counter() - start) * 1000
    times = []
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return BomTiming(
        name,
        subject,
        round(statistics.median(times), 2),
        round(max(times), 2),
        round(first_ms, 2),
        target,
        describe(result),
    )


def format_result(result: BomBenchResult) -> str:
    """The result as a small table for people."""
    rows = [
        f"BOM engine on {result.items} items, {result.bom_lines} BOM lines; index built in {result.index_ms} ms",
        f"top item {result.top_item} ({result.top_item_components} items below it); leaf {result.leaf_item}",
    ]
    for t in result.timings:
        verdict = "" if t.ok is None else (" ok" if t.ok else " SLOW")
        target = f" (target < {t.target_ms:g} ms{verdict})" if t.target_ms is not None else ""
        rows.append(
            f"  {t.operation:<42} {t.median_ms:>9.2f} ms median, max {t.max_ms:.2f}, "
            f"first {t.first_ms:.2f}{target} — {t.detail}"
        )
    return "\n".join(rows)


def section_bom(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench`` (``benchmarks.run.SECTIONS["bom"]``), on the plant the load section built."""
    from benchmarks.run import BenchRow

    plant = ctx.plant
    if plant is None:
        plant = ctx.plant = _synthetic_plant(ctx.size, ctx.seed)
    r = run_bom_benchmark(plant)
    case = f"{ctx.size}: {r.items} items, {r.bom_lines} lines"
    rows = [BenchRow("bom", case, "BOM index (once per plant)", r.index_ms, "ms")]
    for t in r.timings:
        rows.append(
            BenchRow(
                "bom",
                f"{case}; {t.subject}",
                t.operation,
                t.median_ms,
                "ms",
                target="" if t.target_ms is None else f"< {t.target_ms:g} ms",
                ok=t.ok,
                note=f"{t.detail}; max {t.max_ms} ms, first {t.first_ms} ms",
            )
        )
    return rows


def _synthetic_plant(size: str, seed: int) -> Plant:
    from benchmarks.synthetic import generate_factory
    from planning.dataset import plant_from_dict

    return plant_from_dict(generate_factory(size, seed=seed))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="medium", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--substitutes", action="store_true", help="also time kitting with substitutes")
    args = parser.parse_args(argv)
    plant = _synthetic_plant(args.size, args.seed)
    result = run_bom_benchmark(plant, args.repeat, with_substitutes=args.substitutes)
    print(format_result(result))  # command-line entry point
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
