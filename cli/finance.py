"""`orderpilot vouchers …`: export a month's vouchers for the accounting package, seed and export the rules
(the lead registers the app)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cli.output import DbOption, emit_json, fail, run_in_context

app = typer.Typer(
    help="Accounting vouchers: export a month's vouchers (CSV, Excel, or the 用友/金蝶-style import sheet), "
    "seed the default chart of accounts, export the voucher account rules.",
    no_args_is_help=True,
)

FORMATS = ("csv", "xlsx", "preset")


@app.callback()
def vouchers() -> None:
    """Accounting vouchers generated from the documents (see docs/vouchers.md)."""


@app.command("export")
def export_cmd(
    period: Annotated[str, typer.Argument(help="Month YYYY-MM, e.g. 2026-11.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv | xlsx (standard layout) | preset (用友/金蝶-style import sheet, .xlsx).",
        ),
    ] = "xlsx",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Target file (default: vouchers-PERIOD.*).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="Only vouchers in this status: draft, posted or reversed.")
    ] = None,
    account: Annotated[
        str | None, typer.Option("--account", help="Only lines on accounts starting with this, e.g. 5001.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export a month's vouchers, one row per line, in a documented layout (docs/vouchers.md)."""
    from tools.catalog.costing_collection import month
    from tools.finance.export import voucher_table, write_table

    if fmt not in FORMATS:
        fail("invalid_input", f"unknown format {fmt!r}: use {', '.join(FORMATS)}", as_json=False)
    if status is not None and status not in ("draft", "posted", "reversed"):
        fail("invalid_input", f"unknown status {status!r}: use draft, posted or reversed", as_json=False)
    suffix = "csv" if fmt == "csv" else "xlsx"
    target = out or Path(f"vouchers-{period}{'-preset' if fmt == 'preset' else ''}.{suffix}")
    if target.suffix.lower() != f".{suffix}":
        fail("invalid_input", f"--format {fmt} writes a .{suffix} file, not {target.name}", as_json=False)

    def build(ctx: Any) -> Any:
        code = month(period).code
        return voucher_table(ctx.session, code, "preset" if fmt == "preset" else "standard", status, account)

    table = run_in_context(db, build, as_json=False)
    write_table(table, target, "csv" if fmt == "csv" else "xlsx")
    vouchers = len({row[2] for row in table.rows})  # the voucher code (standard) or number (preset)
    typer.echo(f"wrote {len(table.rows)} line(s) of {vouchers} voucher(s) of {period} to {target}")


@app.command("seed")
def seed_cmd(db: DbOption = None) -> None:
    """Propose the default small-business chart of accounts and voucher rules (only what is missing); confirm
    with `orderpilot proposals confirm ID`."""
    from tools.registry import call_tool

    out = run_in_context(
        db, lambda ctx: call_tool(ctx, "propose_voucher_account_rules", {"defaults": True}), as_json=False
    )
    emit_json({k: out[k] for k in ("proposal_id", "kind", "status", "summary_zh", "summary_en")})


@app.command("rules")
def rules_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Target .xlsx file.")] = Path("voucher-rules.xlsx"),
    db: DbOption = None,
) -> None:
    """Write the chart of accounts and the voucher account rules to Excel, in the layout
    propose_voucher_account_rules reads back (edit it, then propose it with file=…)."""
    from tools.finance.export import write_rules_workbook

    accounts, rules = run_in_context(db, lambda ctx: write_rules_workbook(ctx.session, out), as_json=False)
    typer.echo(f"wrote {accounts} account(s) and {rules} rule(s) to {out}")
