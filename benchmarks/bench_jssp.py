"""Job-shop benchmark: standard JSSP instances solved through the project's own scheduler."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from planning.calendar import Calendar
from planning.model import Item, Operation, Plant, Routing, Source, WorkCenter
from planning.scheduling import ObjectiveMode, ScheduleOrder, ScheduleSettings, schedule_orders

DEFAULT_INSTANCE_DIR = Path(os.environ.get("ORDERPILOT_JSSP_DIR", "/work/shared/benchmarks/jssp"))
DEFAULT_INSTANCES = ("ft06", "la01", "la02", "la03", "la04", "la05", "ft10")
BENCH_TODAY = date(2026, 1, 5)


@dataclass(frozen=True, slots=True)
class JobShopInstance:
    """``jobs[j]`` lists job ``j``'s operations in processing order as (machine, duration)."""

    name: str
    machines: int
    jobs: tuple[tuple[tuple[int, int], ...], ...]
    optimum: int | None = None


@dataclass(frozen=True, slots=True)
class JsspResult:
    name: str
    jobs: int
    machines: int
    optimum: int | None
    makespan: int
    gap_percent: float | None  # (makespan - optimum) / optimum × 100
    status: str
    proven_optimal: bool
    time_to_best_seconds: float
    solve_seconds: float
    time_limit_seconds: float


def parse_instance(name: str, text: str, optimum: int | None = None) -> JobShopInstance:
    """Parse the usual format: ``jobs machines``, then one line per job of ``machine duration`` pairs."""
    rows = [line.split() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    n_jobs, n_machines = int(rows[0][0]), int(rows[0][1])
    jobs = []
    for row in rows[1 : 1 + n_jobs]:
        numbers = [int(x) for x in row]
        jobs.append(tuple((numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)))
    if len(jobs) != n_jobs:
        raise ValueError(f"{name}: expected {n_jobs} jobs, found {len(jobs)}")
    return JobShopInstance(name=name, machines=n_machines, jobs=tuple(jobs), optimum=optimum)


def load_instance(name: str, directory: Path = DEFAULT_INSTANCE_DIR) -> JobShopInstance:
    """Read ``<directory>/<name>.txt`` and its optimum from ``optima.json`` when listed there."""
    optima_file = directory / "optima.json"
    optima = json.loads(optima_file.read_text()) if optima_file.exists() else {}
    optimum = optima.get(name, {}).get("optimum")
    return parse_instance(name, (directory / f"{name}.txt").read_text(), optimum)


def build_scheduling_input(
    instance: JobShopInstance, today: date = BENCH_TODAY
) -> tuple[Plant, tuple[ScheduleOrder, ...]]:
    """The instance as scheduler input: one order of one unit per job, one work center per machine.

    Every minute is working time (every weekday, 24 hours a day), so working minutes are the instance's time
    units and the makespan in minutes is the instance's makespan.
    """
    items = {f"J{j}": Item(code=f"J{j}", source=Source.MAKE) for j in range(len(instance.jobs))}
    work_centers = {
        f"M{m}": WorkCenter(code=f"M{m}", machines=1, hours_per_day=Decimal(24))
        for m in range(instance.machines)
    }
    routings = {
        f"J{j}": Routing(
            item=f"J{j}",
            operations=tuple(
                Operation(seq=(k + 1) * 10, work_center=f"M{machine}", run_minutes_per_unit=Decimal(duration))
                for k, (machine, duration) in enumerate(job)
            ),
        )
        for j, job in enumerate(instance.jobs)
    }
    plant = Plant(today=today, items=items, calendar=Calendar(), work_centers=work_centers, routings=routings)
    orders = tuple(ScheduleOrder(id=f"J{j}", item=f"J{j}", qty=Decimal(1)) for j in range(len(instance.jobs)))
    return plant, orders


def solve_instance(
    instance: JobShopInstance, time_limit_seconds: float = 60.0, num_workers: int = 2, random_seed: int = 0
) -> JsspResult:
    """Minimize the makespan of one instance with ``schedule_orders``."""
    plant, orders = build_scheduling_input(instance)
    settings = ScheduleSettings(
        time_limit_seconds=time_limit_seconds,
        num_workers=num_workers,
        random_seed=random_seed,
        objective=ObjectiveMode.MAKESPAN,
    )
    schedule = schedule_orders(plant, orders, settings)
    makespan = schedule.objective.makespan_minutes
    gap = None if not instance.optimum else round((makespan - instance.optimum) / instance.optimum * 100, 2)
    return JsspResult(
        name=instance.name,
        jobs=len(instance.jobs),
        machines=instance.machines,
        optimum=instance.optimum,
        makespan=makespan,
        gap_percent=gap,
        status=schedule.status,
        proven_optimal=schedule.proven_optimal,
        time_to_best_seconds=round(schedule.time_to_best_seconds, 2),
        solve_seconds=round(schedule.solve_seconds, 2),
        time_limit_seconds=time_limit_seconds,
    )


def run_jssp_benchmark(
    names: Sequence[str] | None = None,
    time_limit_seconds: float = 60.0,
    num_workers: int = 2,
    random_seed: int = 0,
    directory: Path = DEFAULT_INSTANCE_DIR,
) -> tuple[JsspResult, ...]:
    """Solve the named instances (default: ft06, la01–la05, ft10; ``["all"]``: every file in ``directory``)."""
    if names is None:
        names = DEFAULT_INSTANCES
    elif list(names) == ["all"]:
        names = sorted(path.stem for path in directory.glob("*.txt"))
    return tuple(
        solve_instance(load_instance(name, directory), time_limit_seconds, num_workers, random_seed)
        for name in names
    )


def format_results(results: Sequence[JsspResult]) -> str:
    """A plain-text table of the results."""
    header = f"{'instance':<8} {'size':>6} {'optimum':>8} {'makespan':>9} {'gap %':>6} {'status':>9} {'best s':>7} {'total s':>8}"
    lines = [header]
    for r in results:
        gap = f"{r.gap_percent:.2f}" if r.gap_percent is not None else "-"
        lines.append(
            f"{r.name:<8} {f'{r.jobs}x{r.machines}':>6} {r.optimum or '-':>8} {r.makespan:>9} {gap:>6} "
            f"{r.status:>9} {r.time_to_best_seconds:>7.2f} {r.solve_seconds:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("instances", nargs="*", help="instance names (default: ft06 la01-la05 ft10; 'all')")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=DEFAULT_INSTANCE_DIR)
    args = parser.parse_args(argv)
    results = run_jssp_benchmark(args.instances or None, args.time_limit, args.workers, args.seed, args.dir)
    print(format_results(results))  # command-line entry point
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
