"""`orderpilot db …`: back up and restore the whole database as a logical, database-independent file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from cli.output import DbOption, fail, fail_unreachable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

T = TypeVar("T")

app = typer.Typer(
    help="Back up and restore the database (SQLite and PostgreSQL, either way).", no_args_is_help=True
)


def _on_engine(db: str | None, action: Callable[[Engine], T]) -> T:
    """``action(engine)`` on ``db`` (default: the configured database); a refused backup or restore, or a
    database that cannot be reached, is one line on stderr and exit 1."""
    from sqlalchemy.exc import OperationalError

    from data_model.db import make_engine
    from data_model.settings import get_settings
    from tools.backup import BackupError

    engine = make_engine(db or get_settings().database_url)
    try:
        return action(engine)
    except BackupError as exc:
        fail("invalid_input", exc.message, as_json=False)
    except OperationalError as exc:
        fail_unreachable(exc, as_json=False)
    finally:
        engine.dispose()


@app.command("backup")
def backup(
    file: Annotated[
        Path, typer.Argument(help="Target file (gzip JSON lines, e.g. orderpilot-backup.jsonl.gz).")
    ],
    db: DbOption = None,
) -> None:
    """Write every table's rows to FILE from one consistent snapshot (restorable on either backend)."""
    from tools.backup import backup_database

    summary = _on_engine(db, lambda engine: backup_database(engine, file))
    typer.echo(
        f"backed up {summary.total_rows} rows of {len(summary.rows)} tables "
        f"(schema {summary.schema_revision}) to {file}"
    )


@app.command("restore")
def restore(
    file: Annotated[Path, typer.Argument(help="A file written by `orderpilot db backup`.")],
    db: DbOption = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Replace everything in a database that is not empty (users and tokens included)."
        ),
    ] = False,
) -> None:
    """Restore FILE into an empty database (migrated first), all or nothing, in one transaction."""
    from tools.backup import restore_database

    summary = _on_engine(db, lambda engine: restore_database(engine, file, force=force))
    typer.echo(
        f"restored {summary.total_rows} rows of {len(summary.rows)} tables from {file} "
        f"(made on {summary.source_dialect} at {summary.created_at})"
    )
