"""`orderpilot report NAME --format xlsx|csv --out FILE [--args JSON]`: a tracking or stock report as a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import DbOption, fail, run_in_context

app = typer.Typer(
    name="report",
    help="Export a tracking or stock report to Excel or CSV (run without NAME to list the reports).",
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"allow_interspersed_args": True},
)


@app.callback(invoke_without_command=True)
def report(
    name: Annotated[
        str | None, typer.Argument(help="Report name, e.g. sales-order-tracking (or its tool's name).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="xlsx or csv.")] = "xlsx",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Target file (default: NAME.FORMAT).")
    ] = None,
    args: Annotated[str, typer.Option("--args", help="The report tool's arguments as a JSON object.")] = "{}",
    db: DbOption = None,
) -> None:
    """Export a tracking or stock report: one row per order line, order or item, headers in Chinese and English."""
    from tools.reports.export import REPORTS, run_report, write_table

    if name is None:
        for spec in sorted(REPORTS.values(), key=lambda s: s.name):
            typer.echo(f"{spec.name:28} {spec.title}  (tool {spec.tool})")
        return
    if fmt not in ("xlsx", "csv"):
        fail("invalid_input", f"unknown format {fmt!r}: use xlsx or csv", as_json=False)
    try:
        parsed: Any = json.loads(args)
    except json.JSONDecodeError as exc:
        fail("invalid_input", f"--args is not valid JSON: {exc.msg} at position {exc.pos}", as_json=False)
    if not isinstance(parsed, dict):
        fail("invalid_input", "--args must be a JSON object", as_json=False)
    table = run_in_context(db, lambda ctx: run_report(ctx, name, parsed), as_json=False)
    target = out or Path(f"{table.name}.{fmt}")
    write_table(table, target, "xlsx" if fmt == "xlsx" else "csv")
    typer.echo(f"wrote {len(table.rows)} row(s) of {table.title} to {target}")
