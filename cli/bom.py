"""`orderpilot bom …`: the indented BOM tree, where-used and version history, for people to read."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

import typer

from cli.output import DbOption, fail, run_in_context

app = typer.Typer(help="Bills of materials for people: tree, where-used, history.", no_args_is_help=True)

OnOption = Annotated[
    str | None,
    typer.Option(
        "--on", help="Use the BOMs in force on this date (YYYY-MM-DD; default: the planning clock)."
    ),
]


def _day(on: str | None) -> date | None:
    if on is None:
        return None
    try:
        return date.fromisoformat(on)
    except ValueError:
        fail("invalid_input", f"--on must be a date YYYY-MM-DD, got {on!r}", as_json=False)


def _call(db: str | None, name: str, args: dict[str, Any], on: date | None = None) -> dict[str, Any]:
    """Run one tool; an error is one line on stderr and exit 1."""
    from tools.registry import call_tool

    clock: Callable[[], date] | None = (lambda: on) if on else None
    result: dict[str, Any] = run_in_context(
        db, lambda ctx: call_tool(ctx, name, args), as_json=False, clock=clock
    )
    return result


def _qty(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


@app.command("tree")
def tree(
    item: Annotated[str, typer.Argument(help="Item code, name or alias.")],
    qty: Annotated[float, typer.Option("--qty", min=0, help="Quantity of the item.")] = 1.0,
    depth: Annotated[
        int | None, typer.Option("--depth", min=1, help="Levels to show (default: all).")
    ] = None,
    phantoms: Annotated[
        bool, typer.Option("--phantoms", help="Show phantom items as their own rows.")
    ] = False,
    on: OnOption = None,
    db: DbOption = None,
) -> None:
    """Print the indented BOM of ITEM: quantity per parent (scrap included) and for --qty."""
    if not qty > 0:
        fail("invalid_input", "--qty must be positive", as_json=False)
    args: dict[str, Any] = {"item": item, "qty": qty, "include_phantoms": phantoms, "max_rows": 20000}
    if depth is not None:
        args["max_depth"] = depth
    typer.echo(_call(db, "get_bom_tree", args, _day(on))["text"])


@app.command("where-used")
def where_used(
    item: Annotated[str, typer.Argument(help="Item code, name or alias.")],
    single_level: Annotated[bool, typer.Option("--single-level", help="Direct parents only.")] = False,
    on: OnOption = None,
    db: DbOption = None,
) -> None:
    """Print every item that uses ITEM, up to the end items, with the quantity of ITEM per unit."""
    out = _call(db, "where_used", {"item": item, "multi_level": not single_level}, _day(on))
    head = out["item"] + (f" {out['name']}" if out["name"] else "")
    if not out["parents"]:
        typer.echo(f"{head} — not used in any BOM")
        return
    typer.echo(f"{head} — used in:")
    # a row hangs under the first row one level up whose item is its `via`
    children: dict[int, list[int]] = {}
    first_at: dict[tuple[int, str], int] = {}
    roots: list[int] = []
    for i, row in enumerate(out["parents"]):
        above = first_at.get((row["level"] - 1, row["via"]))
        if row["level"] == 1 or above is None:
            roots.append(i)
        else:
            children.setdefault(above, []).append(i)
        first_at.setdefault((row["level"], row["item"]), i)
    rows = out["parents"]

    def show(indices: list[int], prefix: str) -> None:
        for n, i in enumerate(indices):
            row = rows[i]
            last = n == len(indices) - 1
            label = row["item"] + (f" {row['name']}" if row["name"] else "")
            end = " [end item]" if row["is_top"] else ""
            typer.echo(f"{prefix}{'└── ' if last else '├── '}{label} ×{_qty(row['qty_per'])}{end}")
            show(children.get(i, []), prefix + ("    " if last else "│   "))

    show(roots, "")


def _span(frm: str | None, to: str | None) -> str:
    return f"{frm or '…'} → {to or '…'}"


@app.command("history")
def history(
    item: Annotated[str, typer.Argument(help="Item code, name or alias.")],
    on: OnOption = None,
    db: DbOption = None,
) -> None:
    """Print the versions of ITEM's BOM (the one in force marked *) and the ECN changes to it."""
    args: dict[str, Any] = {"item": item}
    if on:
        args["on"] = on
    out = _call(db, "get_bom_history", args)
    head = out["item"] + (f" {out['name']}" if out["name"] else "")
    if not out["versions"]:
        typer.echo(f"{head} — no BOM")
    else:
        typer.echo(f"{head} — BOM versions (in force on {out['on']}: *)")
    for v in out["versions"]:
        mark = "*" if v["in_force"] else " "
        by = f"  by {v['ecn']}" if v["ecn"] else ""
        typer.echo(
            f"{mark} v{v['version']} {v['status']}  {_span(v['effective_from'], v['effective_to'])}{by}"
        )
        lines = []
        for ln in v["lines"]:
            text = f"{ln['component']} ×{_qty(ln['qty'])}"
            if ln["scrap_rate"]:
                text += f" (scrap {_qty(ln['scrap_rate'] * 100)}%)"
            if ln["ecn_ref"]:
                text += f" [{ln['ecn_ref']}]"
            lines.append(text)
        typer.echo("    " + ", ".join(lines))
    changes = out["changes"] + out["used_in_changes"]
    if changes:
        typer.echo("Changes:")
    for c in changes:
        versions = f"  v{c['from_version'] or '—'} → v{c['to_version']}" if c["to_version"] else ""
        typer.echo(f"  {c['ecn']} ({c['ecn_status']}, {c['effective_date']}): {c['text']}{versions}")
