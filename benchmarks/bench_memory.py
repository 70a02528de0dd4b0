"""Memory and time of MRP on the large synthetic factory (50,000 items), in a process of its own.

Peak resident memory is the process's high-water mark (``resource.getrusage``: generating the dataset,
building the plant and the MRP run all count, so it bounds the MRP from above); the Python heap peak of the
MRP run alone is measured with ``tracemalloc`` on a second run (tracing slows it, so the time comes from the
first). Targets: MRP < 30 s, memory < 2 GB.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MRP_TARGET_SECONDS = 30.0
MEMORY_TARGET_MB = 2048.0


@dataclass(frozen=True)
class MemoryResult:
    size: str
    items: int
    bom_lines: int
    demands: int
    generate_seconds: float
    plant_seconds: float
    mrp_seconds: float
    suggestions: int
    rss_before_mrp_mb: float  # resident memory with the plant built, before MRP
    peak_rss_mb: float  # the process's high-water mark: generation, plant and MRP together
    mrp_heap_peak_mb: float  # tracemalloc: Python heap allocated during one MRP run, at its peak


def _rss_mb() -> float:
    """Current resident memory (Linux /proc), in MB."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def measure(size: str = "large", seed: int = 7, horizon_days: int = 180) -> MemoryResult:
    """Generate the factory, build the plant, run MRP (timed), then run it again under tracemalloc."""
    from benchmarks.synthetic import generate_factory
    from planning.dataset import plant_from_dict
    from planning.mrp import run_mrp

    start = time.perf_counter()
    data = generate_factory(size, seed=seed)
    generated = time.perf_counter()
    plant = plant_from_dict(data)
    built = time.perf_counter()
    del data
    gc.collect()
    rss_before = _rss_mb()
    start_mrp = time.perf_counter()
    result = run_mrp(plant, horizon_days)
    mrp_seconds = time.perf_counter() - start_mrp
    suggestions = result.suggestion_count
    del result
    gc.collect()
    peak_rss = _peak_rss_mb()
    tracemalloc.start()
    run_mrp(plant, horizon_days)
    _, heap_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return MemoryResult(
        size=size,
        items=len(plant.items),
        bom_lines=sum(len(b.lines) for b in plant.boms.values()),
        demands=len(plant.demands),
        generate_seconds=round(generated - start, 2),
        plant_seconds=round(built - generated, 2),
        mrp_seconds=round(mrp_seconds, 2),
        suggestions=suggestions,
        rss_before_mrp_mb=round(rss_before, 1),
        peak_rss_mb=round(peak_rss, 1),
        mrp_heap_peak_mb=round(heap_peak / 2**20, 1),
    )


def measure_in_subprocess(size: str = "large", seed: int = 7, timeout_seconds: float = 900) -> MemoryResult:
    """``measure`` in a fresh interpreter, so the high-water mark is this run's alone."""
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_memory", "--size", size, "--seed", str(seed), "--json"],
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout_seconds,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout
    return MemoryResult(**json.loads(out.strip().splitlines()[-1]))


def section_memory(ctx: Any) -> list[Any]:
    """Rows for ``orderpilot bench`` (``SECTIONS["memory"]``): always the large factory, whatever --size."""
    from benchmarks.run import BenchRow

    r = measure_in_subprocess("large", ctx.seed)
    case = f"large: {r.items} items, {r.bom_lines} lines, {r.demands} demands"
    return [
        BenchRow(
            "memory",
            case,
            "regenerative MRP, 180 days",
            r.mrp_seconds,
            "s",
            target=f"< {MRP_TARGET_SECONDS:g} s",
            ok=r.mrp_seconds < MRP_TARGET_SECONDS,
            note=f"{r.suggestions} suggestions; dataset generated in {r.generate_seconds} s, "
            f"plant built in {r.plant_seconds} s",
        ),
        BenchRow(
            "memory",
            case,
            "peak RSS of the process (generate + plant + MRP)",
            r.peak_rss_mb,
            "MB",
            target=f"< {MEMORY_TARGET_MB:g} MB",
            ok=r.peak_rss_mb < MEMORY_TARGET_MB,
            note=f"RSS with the plant built, before MRP: {r.rss_before_mrp_mb} MB",
        ),
        BenchRow(
            "memory",
            case,
            "Python heap peak during MRP (tracemalloc)",
            r.mrp_heap_peak_mb,
            "MB",
            target=f"< {MEMORY_TARGET_MB:g} MB",
            ok=r.mrp_heap_peak_mb < MEMORY_TARGET_MB,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", default="large", choices=("small", "medium", "large"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON line")
    args = parser.parse_args(argv)
    result = measure(args.size, args.seed)
    if args.json:
        print(json.dumps(asdict(result)))  # command-line entry point
    else:
        for key, value in asdict(result).items():
            print(f"{key}: {value}")  # command-line entry point
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
