"""`orderpilot mrp`: an MRP run with progress on screen, a summary table and the suggestions as CSV."""

from __future__ import annotations

import csv
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.output import DbOption, fail, fail_unreachable

if TYPE_CHECKING:
    from planning.mrp import PlannedOrder

CSV_COLUMNS = (
    "id",
    "item",
    "name",
    "uom",
    "action",
    "qty",
    "net_qty",
    "release_date",
    "due_date",
    "lead_time_days",
    "late",
    "pegging",
)


def _fmt(qty: Decimal) -> str:
    return format(qty.normalize(), "f")


def _csv_row(s: PlannedOrder, name: str, uom: str) -> dict[str, str]:
    return {
        "id": s.id,
        "item": s.item,
        "name": name,
        "uom": uom,
        "action": s.action.value,
        "qty": _fmt(s.qty),
        "net_qty": _fmt(s.net_qty),
        "release_date": s.release_date.isoformat(),
        "due_date": s.due_date.isoformat(),
        "lead_time_days": str(s.lead_time_days),
        "late": "yes" if s.late else "",
        "pegging": "; ".join(f"{p.demand} {_fmt(p.qty)}" for p in s.pegging),
    }


def mrp(
    horizon: Annotated[int, typer.Option("--horizon", min=1, max=730, help="Calendar days to plan.")] = 90,
    item: Annotated[str | None, typer.Option("--item", help="Only this item's suggestions.")] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="Write the suggestions to this CSV file.")
    ] = None,
    rows: Annotated[int, typer.Option("--rows", min=0, help="Suggestions shown in the table.")] = 20,
    db: DbOption = None,
) -> None:
    """Run MRP with a progress display: load the snapshot, plan, build the suggestions; then print a
    summary (per action, exceptions) and the earliest suggestions, and optionally write them all to CSV."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table
    from sqlalchemy.exc import OperationalError

    from data_model.settings import get_settings
    from tools.catalog.mrp import plan_mrp
    from tools.context import open_context
    from tools.errors import ToolError
    from tools.snapshot import load_plant

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    try:
        with open_context(db or get_settings().database_url) as ctx, progress:
            loading = progress.add_task("loading the snapshot", total=None)
            plant = load_plant(ctx)
            progress.update(loading, total=1, completed=1)
            if item is not None and item not in plant.items:
                raise ToolError("not_found", f"item {item!r} not found", {"kind": "item", "key": item})
            planning = progress.add_task(f"planning {len(plant.items)} items", total=None)
            run = plan_mrp(ctx, plant, horizon)
            progress.update(planning, total=1, completed=1)
            result = run.result
            codes = [item] if item is not None else list(result.planned_items)
            building = progress.add_task("building suggestions", total=len(codes))
            suggestions: list[PlannedOrder] = []
            for code in codes:
                suggestions.extend(result.suggestions_for(code))
                progress.advance(building)
            suggestions.sort(key=lambda s: (s.release_date, s.item, s.due_date, s.id))
            exceptions, exception_counts = result.exception_page(rows, item)
            if csv_file is not None:
                writing = progress.add_task(f"writing {csv_file}", total=len(suggestions))
                with csv_file.open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
                    writer.writeheader()
                    for s in suggestions:
                        known = plant.items[s.item]
                        writer.writerow(_csv_row(s, known.name, known.uom))
                        progress.advance(writing)
    except ToolError as exc:
        fail(exc.code, exc.message, exc.details, as_json=False)
    except OperationalError as exc:
        fail_unreachable(exc, as_json=False)

    console = Console()
    scope = f" for {item}" if item else ""
    console.print(
        f"MRP{scope}: {len(suggestions)} suggestion(s) from {result.today.isoformat()} to "
        f"{result.horizon_end.isoformat()} ({run.mode}, {run.replanned_items} item(s) planned)"
    )
    per_action = Counter(s.action.value for s in suggestions)
    late = Counter(s.action.value for s in suggestions if s.late)
    items = {a: len({s.item for s in suggestions if s.action.value == a}) for a in per_action}
    summary = Table(title="By action")
    for column in ("action", "suggestions", "items", "late"):
        summary.add_column(column, justify="left" if column == "action" else "right")
    for action in sorted(per_action):
        summary.add_row(action, str(per_action[action]), str(items[action]), str(late[action]))
    console.print(summary)
    if rows and suggestions:
        shown = Table(title=f"Earliest {min(rows, len(suggestions))} of {len(suggestions)}")
        for column in ("id", "item", "action", "qty", "uom", "release", "due", "late"):
            shown.add_column(column, justify="right" if column == "qty" else "left")
        for s in suggestions[:rows]:
            uom = plant.items[s.item].uom
            shown.add_row(
                s.id,
                s.item,
                s.action.value,
                _fmt(s.qty),
                uom,
                s.release_date.isoformat(),
                s.due_date.isoformat(),
                "late" if s.late else "",
            )
        console.print(shown)
    if exception_counts:
        console.print("Exceptions: " + ", ".join(f"{k} {v}" for k, v in exception_counts.items()))
        for e in exceptions:
            console.print(f"  {e.kind.value}: {e.message}")
    if csv_file is not None:
        console.print(f"wrote {len(suggestions)} suggestion(s) to {csv_file}")
