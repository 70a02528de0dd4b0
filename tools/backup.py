"""Logical backups: every table's rows in dependency order as gzip JSON lines, restorable on either backend.

The file is a header line (format, schema revision, source dialect), then per table a line naming its columns
and their kinds followed by one JSON array per row, then a trailer with the row counts (a file without it is
truncated and refused). Values keep their types: decimals and dates travel as text and are read back by the
column's kind, JSON columns as JSON. A restore goes into an empty database at the same schema revision, in
one transaction: on any problem nothing is written.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

import data_model.tables  # noqa: F401  (registers every table on the metadata)
from data_model.append_only import purging
from data_model.db import current_revision, upgrade

FORMAT = "orderpilot-backup"
FORMAT_VERSION = 1
INSERT_CHUNK_ROWS = 1000


class BackupError(Exception):
    """A backup that cannot be written or restored, with the reason for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class BackupSummary:
    """What a backup holds (or a restore wrote): rows per table, at a schema revision."""

    path: str
    schema_revision: str
    source_dialect: str
    created_at: str
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def backup_tables() -> list[sa.Table]:
    """Every table of the schema, parents before children (the migration history is checked, not copied)."""
    return list(SQLModel.metadata.sorted_tables)


def _kind(column: sa.Column[Any]) -> str:
    column_type = column.type
    if isinstance(column_type, sa.TypeDecorator):  # e.g. a UTC timestamp stored as its implementation type
        column_type = column_type.impl_instance
    try:
        python_type = column_type.python_type
    except NotImplementedError:
        return "raw"
    if python_type is datetime:
        return "datetime"
    if python_type is date:
        return "date"
    if python_type is Decimal:
        return "decimal"
    if isinstance(column_type, sa.JSON):
        return "json"
    return "raw"


def _encode(kind: str, value: Any) -> Any:
    if value is None or kind in ("raw", "json"):
        return value
    if kind == "decimal":
        return str(value)
    return value.isoformat()


def _decode(kind: str, value: Any) -> Any:
    if value is None or kind in ("raw", "json"):
        return value
    if kind == "decimal":
        return Decimal(value)
    if kind == "date":
        return date.fromisoformat(value)
    return datetime.fromisoformat(value)


def _begin_snapshot(conn: Connection) -> None:
    """One read snapshot for every table: REPEATABLE READ on PostgreSQL, an explicit BEGIN on SQLite (whose
    driver starts no transaction for SELECTs, so each would see the latest commit)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    else:
        raw = conn.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            conn.exec_driver_sql("BEGIN")


def backup_database(engine: Engine, path: Path) -> BackupSummary:
    """Write every table of ``engine``'s database to ``path`` (gzip JSON lines) from one consistent snapshot.

    The file appears only when complete (written beside it, then renamed)."""
    revision = current_revision(engine)
    if revision is None:
        raise BackupError("the database has no schema yet: nothing to back up")
    created = datetime.now(UTC).isoformat(timespec="seconds")
    counts: dict[str, int] = {}
    partial = path.with_name(path.name + ".partial")
    with engine.connect() as conn, gzip.open(partial, "wt", encoding="utf-8") as out:
        _begin_snapshot(conn)
        header = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "schema_revision": revision,
            "source_dialect": conn.dialect.name,
            "created_at": created,
        }
        out.write(json.dumps(header) + "\n")
        for table in backup_tables():
            columns = list(table.columns)
            kinds = [_kind(c) for c in columns]
            out.write(
                json.dumps({"table": table.name, "columns": [c.name for c in columns], "kinds": kinds}) + "\n"
            )
            n = 0
            stmt = sa.select(*columns).order_by(*table.primary_key.columns)
            for row in conn.execution_options(yield_per=2000).execute(stmt):
                out.write(
                    json.dumps([_encode(k, v) for k, v in zip(kinds, row, strict=True)], ensure_ascii=False)
                    + "\n"
                )
                n += 1
            counts[table.name] = n
        out.write(json.dumps({"end": {"rows": counts}}) + "\n")
        conn.rollback()
    os.replace(partial, path)
    return BackupSummary(str(path), revision, engine.dialect.name, created, counts)


# ---------------------------------------------------------------- reading a backup


@dataclass
class _TableBlock:
    table: sa.Table
    columns: list[str]
    kinds: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)


def _lines(path: Path) -> Iterator[Any]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as src:
            for number, line in enumerate(src, start=1):
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    raise BackupError(
                        f"{path}: line {number} is not JSON: damaged, or not a backup"
                    ) from None
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as exc:
        raise BackupError(f"{path}: not a readable gzip backup ({exc})") from None


def read_header(path: Path) -> dict[str, Any]:
    """The header of a backup file; BackupError if it is not one this version can read."""
    header = next(_lines(path), None)
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise BackupError(f"{path}: not an OrderPilot backup")
    if header.get("version") != FORMAT_VERSION:
        raise BackupError(
            f"{path}: backup format version {header.get('version')!r}; this version reads {FORMAT_VERSION}"
        )
    return header


def _blocks(path: Path) -> Iterator[_TableBlock | dict[str, int]]:
    """Each table's rows, decoded for the current schema, then the trailer's counts."""
    tables = {t.name: t for t in backup_tables()}
    lines = _lines(path)
    next(lines)  # the header, checked by read_header
    block: _TableBlock | None = None
    for entry in lines:
        if isinstance(entry, list):
            if block is None or len(entry) != len(block.columns):
                raise BackupError(f"{path}: a row outside a table or with the wrong number of values")
            try:
                block.rows.append(
                    {c: _decode(k, v) for c, k, v in zip(block.columns, block.kinds, entry, strict=True)}
                )
            except (ValueError, TypeError, InvalidOperation) as exc:
                raise BackupError(f"{path}: table {block.table.name}: unreadable value ({exc})") from None
            continue
        if block is not None:
            yield block
            block = None
        if isinstance(entry, dict) and "end" in entry:
            yield {str(k): int(v) for k, v in entry["end"].get("rows", {}).items()}
            return
        if not isinstance(entry, dict) or entry.get("table") not in tables:
            raise BackupError(
                f"{path}: unknown table {entry.get('table') if isinstance(entry, dict) else entry!r}"
            )
        table = tables[entry["table"]]
        missing = [c for c in entry.get("columns", []) if c not in table.columns]
        if missing:
            raise BackupError(f"{path}: table {table.name} has no column(s) {', '.join(missing)}")
        block = _TableBlock(table, list(entry["columns"]), list(entry["kinds"]))
    raise BackupError(f"{path}: the backup is truncated (no end marker): nothing was restored")


def _parents_first(table: sa.Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table that references itself, each after the row it points to."""
    self_refs = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    if not self_refs:
        return rows
    (pk,) = [c.name for c in table.primary_key.columns]
    by_id = {row[pk]: row for row in rows}
    done: set[Any] = set()
    ordered: list[dict[str, Any]] = []

    def visit(row: dict[str, Any], depth: int = 0) -> None:
        if row[pk] in done or depth > len(rows):
            return
        for ref in self_refs:
            parent = by_id.get(row[ref])
            if parent is not None and parent is not row:
                visit(parent, depth + 1)
        done.add(row[pk])
        ordered.append(row)

    for row in rows:
        visit(row)
    return ordered


# ---------------------------------------------------------------- restoring


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows per table of the schema."""
    return {
        t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one() for t in backup_tables()
    }


def _reset_sequences(conn: Connection) -> None:
    """PostgreSQL: move each serial/identity sequence past the restored ids."""
    for table in backup_tables():
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, sa.Integer):
            continue
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', '{pk[0].name}'), "
            f"coalesce(max({pk[0].name}), 1), max({pk[0].name}) IS NOT NULL) FROM {table.name}"
        )


def restore_database(engine: Engine, path: Path, *, force: bool = False) -> BackupSummary:
    """Restore a backup into ``engine``'s database in one transaction; the schema is migrated first.

    The database must be empty (every table, users included) unless ``force``, which replaces everything in
    it. The backup's schema revision must be the database's. Raises BackupError, having written nothing.
    """
    header = read_header(path)
    upgrade(engine)
    revision = current_revision(engine)
    if header.get("schema_revision") != revision:
        raise BackupError(
            f"the backup is of schema revision {header.get('schema_revision')!r}, the database is "
            f"at {revision!r}: restore it with the OrderPilot version that made it"
        )
    written: dict[str, int] = {}
    with engine.connect() as conn:
        if conn.dialect.name != "postgresql":
            raw = conn.connection.dbapi_connection
            if raw is not None and not raw.in_transaction:
                conn.exec_driver_sql("BEGIN")
        try:
            present = {name: n for name, n in row_counts(conn).items() if n}
            if present and not force:
                listed = ", ".join(f"{name} ({n})" for name, n in sorted(present.items())[:8])
                raise BackupError(
                    f"the database is not empty ({listed}{', …' if len(present) > 8 else ''}): "
                    "restore into an empty one, or pass --force to replace everything in it"
                )
            if present:
                with purging(conn):
                    for table in reversed(backup_tables()):
                        conn.execute(table.delete())
            expected: dict[str, int] | None = None
            for block in _blocks(path):
                if isinstance(block, dict):
                    expected = block
                    break
                rows = _parents_first(block.table, block.rows)
                for start in range(0, len(rows), INSERT_CHUNK_ROWS):
                    conn.execute(block.table.insert(), rows[start : start + INSERT_CHUNK_ROWS])
                written[block.table.name] = len(rows)
            if expected is None or {k: v for k, v in expected.items() if v} != {
                k: v for k, v in written.items() if v
            }:
                raise BackupError(
                    f"{path}: the row counts do not match the backup's trailer: nothing was restored"
                )
            if conn.dialect.name == "postgresql":
                _reset_sequences(conn)
            conn.commit()
        except sa.exc.IntegrityError as exc:
            conn.rollback()
            first = str(exc.orig).splitlines()[0][:300] if exc.orig is not None else str(exc)[:300]
            raise BackupError(f"the backup does not fit the schema ({first}): nothing was restored") from None
        except BaseException:
            conn.rollback()
            raise
    return BackupSummary(
        str(path),
        revision or "",
        str(header.get("source_dialect", "")),
        str(header.get("created_at", "")),
        written,
    )
