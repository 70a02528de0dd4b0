"""JSON output, error reporting and the --db option shared by every command (no tracebacks reach a user)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

if TYPE_CHECKING:
    from sqlalchemy.exc import OperationalError
    from sqlmodel import Session

    from tools.context import ToolContext

T = TypeVar("T")

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: ORDERPILOT_DATABASE_URL).")
]


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(code: str, message: str, details: dict[str, Any] | None = None, as_json: bool = True) -> NoReturn:
    """Print the contract's error shape (JSON on stdout, or a line on stderr) and exit 1."""
    if as_json:
        emit_json({"error": {"code": code, "message": message, "details": details or {}}})
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def fail_unreachable(exc: OperationalError, as_json: bool = True) -> NoReturn:
    """The database could not be reached: the ``unavailable`` error, and exit 1."""
    fail("unavailable", f"database not reachable: {str(exc.orig).strip()[:300]}", as_json=as_json)


def run_in_context(
    db: str | None, action: Callable[[ToolContext], T], as_json: bool = True, **context: Any
) -> T:
    """``action(ctx)`` in one transaction on ``db`` (default: the configured database); a ToolError or a
    database that cannot be reached becomes the command's error (see ``fail``). ``context`` goes to
    open_context (clock, settings)."""
    from sqlalchemy.exc import OperationalError

    from data_model.settings import get_settings
    from tools.context import open_context
    from tools.errors import ToolError

    try:
        with open_context(db or get_settings().database_url, **context) as ctx:
            return action(ctx)
    except ToolError as exc:
        fail(exc.code, exc.message, exc.details, as_json=as_json)
    except OperationalError as exc:
        fail_unreachable(exc, as_json)


def run_in_session(db: str | None, action: Callable[[Session], T], as_json: bool = True) -> T:
    """``action(session)`` as ``run_in_context`` runs ``action(ctx)``."""
    return run_in_context(db, lambda ctx: action(ctx.session), as_json)
