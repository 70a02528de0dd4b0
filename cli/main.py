"""`orderpilot`: load and export datasets, call tools, ask the assistant, serve the app (imports stay lazy)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli import assistant as assistant_cli
from cli import bom as bom_cli
from cli import costing as costing_cli
from cli import db as db_cli
from cli import demo as demo_cli
from cli import evals as evals_cli
from cli import finance as finance_cli
from cli import planning as planning_cli
from cli import proposals as proposals_cli
from cli import reports as reports_cli
from cli import server as server_cli
from cli import users as users_cli
from cli.output import DbOption, emit_json, fail, fail_unreachable, run_in_context

app = typer.Typer(
    name="orderpilot",
    help="OrderPilot: order promising, planning, tracking and costing for manufacturers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(proposals_cli.app, name="proposals")
app.add_typer(users_cli.app, name="users")
app.add_typer(bom_cli.app, name="bom")
app.add_typer(costing_cli.app, name="costing")
app.add_typer(finance_cli.app, name="vouchers")
app.add_typer(reports_cli.app, name="report")
app.add_typer(db_cli.app, name="db")
app.add_typer(demo_cli.app, name="demo")
app.command("eval")(evals_cli.eval_cmd)
app.command("ask")(assistant_cli.ask)
app.command("chat")(assistant_cli.chat)
app.command("mrp")(planning_cli.mrp)
app.command("serve")(server_cli.serve)
app.command("mcp")(server_cli.mcp)


def _db_url(db: str | None) -> str:
    from data_model.settings import get_settings

    return db or get_settings().database_url


@app.command()
def load(
    file: Annotated[Path, typer.Argument(help="Dataset file: YAML, or .xlsx with one sheet per key.")],
    db: DbOption = None,
    reset: Annotated[bool, typer.Option("--reset", help="Replace all business data (users are kept).")] = False,
) -> None:
    """Import a dataset, all or nothing: on any problem nothing is written."""
    from sqlalchemy.exc import OperationalError

    from data_model.dataset import DatasetError
    from tools.context import open_context
    from tools.dataset_io import load_dataset_file

    try:
        with open_context(_db_url(db)) as ctx:
            result = load_dataset_file(ctx.session, file, reset=reset)
    except DatasetError as exc:
        typer.echo(f"error: dataset refused, nothing was loaded ({len(exc.problems)} problem(s)):", err=True)
        for problem in exc.problems:
            typer.echo(f"  - {problem}", err=True)
        raise typer.Exit(1) from None
    except OperationalError as exc:
        fail_unreachable(exc, as_json=False)
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items())
    typer.echo(f"loaded {file} ({counts}){' after reset' if reset else ''}")


@app.command()
def export(
    file: Annotated[Path, typer.Argument(help="Target file: .yaml/.yml or .xlsx.")],
    db: DbOption = None,
) -> None:
    """Write the database as a dataset file (the same format `load` reads)."""
    from tools.context import open_context
    from tools.dataset_io import export_dataset_file

    if file.suffix.lower() not in (".yaml", ".yml", ".xlsx"):
        fail("invalid_input", f"unknown file type {file.suffix!r}: use .yaml, .yml or .xlsx", as_json=False)
    with open_context(_db_url(db)) as ctx:
        export_dataset_file(ctx.session, file)
    typer.echo(f"exported to {file}")


@app.command("tool")
def tool_cmd(
    name: Annotated[str, typer.Argument(help="Tool name, see `orderpilot tools`.")],
    args: Annotated[str, typer.Option("--args", help="Arguments as a JSON object.")] = "{}",
    db: DbOption = None,
) -> None:
    """Call one tool and print its output as JSON (errors: {"error": {...}} and exit 1)."""
    from tools.registry import call_tool

    try:
        parsed: Any = json.loads(args)
    except json.JSONDecodeError as exc:
        fail("invalid_input", f"--args is not valid JSON: {exc.msg} at position {exc.pos}")
    if not isinstance(parsed, dict):
        fail("invalid_input", "--args must be a JSON object")
    emit_json(run_in_context(db, lambda ctx: call_tool(ctx, name, parsed)))


@app.command("tools")
def tools_cmd() -> None:
    """List every tool with its kind and input/output JSON schemas."""
    from tools.registry import load_all

    emit_json([
        {"name": s.name, "kind": s.kind, "description": s.description, "input_schema": s.input_schema(),
         "output_schema": s.output_schema()}
        for s in sorted(load_all().values(), key=lambda s: s.name)
    ])


@app.command()
def bench(
    size: Annotated[str, typer.Option("--size", help="Synthetic factory: small, medium or large.")] = "medium",
    only: Annotated[str, typer.Option("--only", help="Comma-separated sections (default: all).")] = "",
    postgres: Annotated[str | None, typer.Option("--postgres", help="Also time on this PostgreSQL server "
                                                 "(an admin URL; a scratch database is created and dropped).")] = None,
    jssp: Annotated[str, typer.Option("--jssp", help="Job-shop instances (comma-separated, or 'all').")] = "",
    jssp_time_limit: Annotated[float, typer.Option("--jssp-time-limit")] = 60.0,
    seed: Annotated[int, typer.Option("--seed")] = 7,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the rows as JSON here.")] = None,
) -> None:
    """Time every area on a seeded synthetic factory and print one table (figures for the README)."""
    from benchmarks.run import SECTIONS, BenchContext, format_table, run, temp_sqlite_url, write_json
    from benchmarks.scratch_db import scratch_postgres

    sections = [s.strip() for s in only.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        fail("invalid_input", f"unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}",
             as_json=False)
    with scratch_postgres(postgres) as pg_url:
        urls = {"sqlite": temp_sqlite_url()}
        if pg_url:
            urls["postgres"] = pg_url
        ctx = BenchContext(size=size, seed=seed, db_urls=urls,
                           jssp=[j.strip() for j in jssp.split(",") if j.strip()],
                           jssp_time_limit=jssp_time_limit)
        rows = run(sections, ctx, progress=lambda name: typer.echo(f"… {name}", err=True))
    typer.echo(format_table(rows))
    if json_out:
        write_json(rows, json_out)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
