"""The promise_order tool through the tool registry on each benchmark database: what a caller of the API or
the assistant waits for, the planning snapshot read from the database included."""

from __future__ import annotations

import statistics
import time
from typing import Any

REQUESTS = 5


def time_tool_calls(url: str, requests: list[Any], today: Any) -> list[float]:
    """Seconds per call of promise_order, each in its own session (the session set-up excluded)."""
    from tools.context import open_context
    from tools.registry import call_tool

    times = []
    for request in requests:
        with open_context(url, clock=lambda: today) as ctx:
            start = time.perf_counter()
            call_tool(
                ctx,
                "promise_order",
                {
                    "item": request.item,
                    "qty": str(request.qty),
                    "due_date": request.due_date.isoformat(),
                    "priority": request.priority,
                },
            )
            times.append(time.perf_counter() - start)
    return times


def section_promise_tool(ctx: Any) -> list[Any]:
    from benchmarks.bench_promise import synthetic_requests
    from benchmarks.run import BenchRow

    if ctx.plant is None:
        return []
    requests = synthetic_requests(ctx.plant, count=REQUESTS + 1, seed=ctx.seed)
    rows = []
    for backend, url in ctx.db_urls.items():
        first = time_tool_calls(url, requests[:1], ctx.plant.today)[0]  # reads the snapshot from the database
        times = time_tool_calls(url, requests[1:], ctx.plant.today)
        case = f"{ctx.size} / {backend}: {len(times) + 1} requests"
        rows.append(
            BenchRow(
                "promise", case, "promise_order tool, first call (snapshot read from the DB)", first, "s"
            )
        )
        rows.append(
            BenchRow(
                "promise",
                case,
                "promise_order tool, later calls on unchanged data (median)",
                statistics.median(times),
                "s",
                note=f"max {max(times):.2f} s; the snapshot is kept while the data versions hold",
            )
        )
    return rows
