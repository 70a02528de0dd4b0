"""`orderpilot db …`: back up and restore the whole database as a logical, database-independent file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import fail

app = typer.Typer(
    help="Back up and restore the database (SQLite and PostgreSQL, either way).", no_args_is_help=True
)

DbOption = Annotated[
    str | None, typer.Option("--db", help="Database URL (default: ORDERPILOT_DATABASE_URL).")
]


def _engine(db: str | None):  # type: ignore[no-untyped-def]
    from data_model.db import make_engine
    from data_model.settings import get_settings

    return make_engine(db or get_settings().database_url)


@app.command("backup")
def backup(
    file: Annotated[
        Path, typer.Argument(help="Target file (gzip JSON lines, e.g. orderpilot-backup.jsonl.gz).")
    ],
    db: DbOption = None,
) -> None:
    """Write every table's rows to FILE from one consistent snapshot (restorable on either backend)."""
    from sqlalchemy.exc import OperationalError

    from tools.backup import BackupError, backup_database

    engine = _engine(db)
    try:
        summary = backup_database(engine, file)
    except BackupError as exc:
        fail("invalid_input", exc.message, as_json=False)
    except OperationalError as exc:
        fail("unavailable", f"database not reachable: {str(exc.orig).strip()[:300]}", as_json=False)
    finally:
        engine.dispose()
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
    from sqlalchemy.exc import OperationalError

    from tools.backup import BackupError, restore_database

    engine = _engine(db)
    try:
        summary = restore_database(engine, file, force=force)
    except BackupError as exc:
        fail("invalid_input", f"{exc.message}", as_json=False)
    except OperationalError as exc:
        fail("unavailable", f"database not reachable: {str(exc.orig).strip()[:300]}", as_json=False)
    finally:
        engine.dispose()
    typer.echo(
        f"restored {summary.total_rows} rows of {len(summary.rows)} tables from {file} "
        f"(made on {summary.source_dialect} at {summary.created_at})"
    )
