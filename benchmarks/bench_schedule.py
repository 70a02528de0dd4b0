"""Synthetic scheduling benchmark: a seeded plant of many orders on a few work centers, solved in a time limit."""

from __future__ import annotations

import argparse
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from planning.calendar import Calendar
from planning.model import Item, Operation, Plant, Routing, Source, WorkCenter
from planning.scheduling import ScheduleOrder, ScheduleSettings, schedule_orders

BENCH_TODAY = date(2026, 12, 1)
DUE_WITHIN_DAYS = (8, 40)
TARGET_UTILIZATION = 1.0
BENCH_CALENDAR = Calendar(
    workdays=frozenset(range(5)), holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)})
)


@dataclass(frozen=True, slots=True)
class ScheduleBenchResult:
    orders: int
    operations: int
    work_centers: int
    status: str
    proven_optimal: bool
    method: str
    weighted_tardiness: int
    late_orders: int
    late_days_total: int  # Σ calendar days late
    makespan_days: int  # working days from today to the end of the last operation
    solve_seconds: float
    time_to_best_seconds: float
    time_limit_seconds: float
    first_goal_bound: int | None  # lower bound CP-SAT proved on weighted tardiness
    first_goal_start: int | None  # weighted tardiness of the dispatching-rule plan CP-SAT started from


def generate_instance(
    n_orders: int = 200, ops_per_order: int = 5, n_work_centers: int = 10, seed: int = 42
) -> tuple[Plant, tuple[ScheduleOrder, ...]]:
    """A seeded plant: work centers working 8, 10 or 16 hours a day on a Mon–Fri calendar with two holidays.

    Forty items each have a routing through ``ops_per_order`` distinct work centers. Orders of 10–200 units are
    due 8–40 working days out with priorities 1–9; a third wait for material (release in 0–10 working days)
    and one in ten is a sub-assembly of a later order. Each work center gets the fewest machines whose capacity
    up to the last due date covers its load: tight by design, so some orders are late whatever the plan.
    """
    rng = random.Random(seed)
    hours = {f"WC{c:02d}": rng.choice((8, 10, 16)) for c in range(1, n_work_centers + 1)}
    codes = sorted(hours)
    n_items = 40
    items = {f"P{i:03d}": Item(code=f"P{i:03d}", source=Source.MAKE) for i in range(1, n_items + 1)}
    routings = {
        code: Routing(
            item=code,
            operations=tuple(
                Operation(
                    seq=(k + 1) * 10,
                    work_center=center,
                    setup_minutes=Decimal(rng.randrange(10, 61, 5)),
                    run_minutes_per_unit=Decimal(rng.randrange(5, 31)) / 10,
                )
                for k, center in enumerate(rng.sample(codes, ops_per_order))
            ),
        )
        for code in items
    }
    orders: list[ScheduleOrder] = []
    for n in range(n_orders):
        due = BENCH_CALENDAR.add_workdays(BENCH_TODAY, rng.randint(*DUE_WITHIN_DAYS))
        release = (
            BENCH_CALENDAR.add_workdays(BENCH_TODAY, rng.randint(0, 10)) if rng.random() < 1 / 3 else None
        )
        orders.append(
            ScheduleOrder(
                id=f"MO-{n + 1:04d}",
                item=rng.choice(sorted(items)),
                qty=Decimal(rng.randrange(10, 201, 10)),
                due=due,
                priority=rng.choice((1, 2, 3, 5, 5, 5, 5, 7, 9)),
                release_date=release,
            )
        )
    orders.sort(key=lambda o: o.due or BENCH_TODAY)
    linked = list(orders)
    for i in range(len(linked) - 1):
        if rng.random() < 0.1:
            parent = linked[rng.randrange(i + 1, len(linked))]
            child = linked[i]
            linked[i] = ScheduleOrder(
                **{**{f: getattr(child, f) for f in child.__slots__}, "parent": parent.id}
            )
    work_centers = _size_work_centers(
        hours, routings, linked, target_days=DUE_WITHIN_DAYS[1] * TARGET_UTILIZATION
    )
    plant = Plant(
        today=BENCH_TODAY, items=items, calendar=BENCH_CALENDAR, work_centers=work_centers, routings=routings
    )
    return plant, tuple(linked)


def _size_work_centers(
    hours: dict[str, int], routings: dict[str, Routing], orders: Sequence[ScheduleOrder], target_days: float
) -> dict[str, WorkCenter]:
    """Machines per work center so that its whole load takes about ``target_days`` working days."""
    load: dict[str, Decimal] = dict.fromkeys(hours, Decimal(0))
    for order in orders:
        for op in routings[order.item].operations:
            load[op.work_center] += op.setup_minutes + op.run_minutes_per_unit * order.qty
    return {
        code: WorkCenter(
            code=code,
            machines=max(1, math.ceil(float(load[code]) / (hours[code] * 60 * target_days))),
            hours_per_day=Decimal(hours[code]),
        )
        for code in hours
    }


def run_schedule_benchmark(
    n_orders: int = 200,
    ops_per_order: int = 5,
    n_work_centers: int = 10,
    time_limit_seconds: float = 30.0,
    num_workers: int = 2,
    seed: int = 42,
) -> ScheduleBenchResult:
    """Generate the seeded instance and schedule it with ``schedule_orders`` (weighted tardiness first)."""
    plant, orders = generate_instance(n_orders, ops_per_order, n_work_centers, seed)
    settings = ScheduleSettings(
        time_limit_seconds=time_limit_seconds, num_workers=num_workers, random_seed=seed
    )
    schedule = schedule_orders(plant, orders, settings)
    late = [o for o in schedule.orders if not o.on_time]
    return ScheduleBenchResult(
        orders=len(orders),
        operations=len(schedule.operations),
        work_centers=n_work_centers,
        status=schedule.status,
        proven_optimal=schedule.proven_optimal,
        method=schedule.method,
        weighted_tardiness=schedule.objective.weighted_tardiness,
        late_orders=len(late),
        late_days_total=sum(o.days_late for o in late),
        makespan_days=schedule.objective.makespan_minutes // schedule.axis.day_minutes + 1,
        solve_seconds=round(schedule.solve_seconds, 2),
        time_to_best_seconds=round(schedule.time_to_best_seconds, 2),
        time_limit_seconds=time_limit_seconds,
        first_goal_bound=schedule.phases[0].bound if schedule.phases else None,
        first_goal_start=schedule.phases[0].first_value if schedule.phases else None,
    )


def format_result(result: ScheduleBenchResult) -> str:
    """A few lines of plain text."""
    return "\n".join(
        [
            f"{result.orders} orders, {result.operations} operations, {result.work_centers} work centers",
            f"status {result.status} (proven optimal: {result.proven_optimal}, method {result.method})",
            f"weighted tardiness {result.weighted_tardiness} (dispatching rule {result.first_goal_start}, "
            f"bound {result.first_goal_bound}); "
            f"{result.late_orders} orders late, {result.late_days_total} days late in total",
            f"makespan {result.makespan_days} working days; solved in {result.solve_seconds} s "
            f"(best at {result.time_to_best_seconds} s, limit {result.time_limit_seconds} s)",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--ops", type=int, default=5)
    parser.add_argument("--work-centers", type=int, default=10)
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    result = run_schedule_benchmark(
        args.orders, args.ops, args.work_centers, args.time_limit, args.workers, args.seed
    )
    print(format_result(result))  # command-line entry point
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
