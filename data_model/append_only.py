"""Append-only tables (the audit log, the stock ledger): database triggers refuse UPDATE and DELETE on them.

PostgreSQL: one trigger function refuses both unless the transaction set ``orderpilot.purge`` (``SET LOCAL``,
so it cannot outlive the transaction); SQLite has no session variables, so a purge drops the triggers and
re-creates them inside its own transaction (SQLite DDL is transactional). Only ``load --reset`` and
``db restore --force`` purge, through ``purging``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

APPEND_ONLY_TABLES = ("audit_log", "stock_move")
PURGE_SETTING = "orderpilot.purge"
PG_FUNCTION = "orderpilot_append_only"

PG_CREATE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'TRUNCATE') AND coalesce(current_setting('{PURGE_SETTING}', true), '') = 'on' THEN
        IF TG_LEVEL = 'ROW' THEN
            RETURN OLD;
        END IF;
        RETURN NULL;
    END IF;
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING HINT = 'post a correcting row instead';
END
$$
"""


def pg_create_statements() -> list[str]:
    """The function and, per table, a row trigger (UPDATE, DELETE) and a statement trigger (TRUNCATE)."""
    statements = [PG_CREATE_FUNCTION]
    for table in APPEND_ONLY_TABLES:
        statements.append(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION {PG_FUNCTION}()"
        )
        statements.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()"
        )
    return statements


def pg_drop_statements() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements.append(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        statements.append(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
    statements.append(f"DROP FUNCTION IF EXISTS {PG_FUNCTION}()")
    return statements


def sqlite_create_statements() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        for op in ("UPDATE", "DELETE"):
            statements.append(
                f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
            )
    return statements


def sqlite_drop_statements() -> list[str]:
    return [
        f"DROP TRIGGER IF EXISTS {table}_no_{op}"
        for table in APPEND_ONLY_TABLES
        for op in ("update", "delete")
    ]


def create_statements(dialect: str) -> list[str]:
    return pg_create_statements() if dialect == "postgresql" else sqlite_create_statements()


def drop_statements(dialect: str) -> list[str]:
    return pg_drop_statements() if dialect == "postgresql" else sqlite_drop_statements()


def _ensure_sqlite_transaction(connection: Any) -> None:
    """pysqlite opens a transaction only before DML: DDL run first would commit on its own."""
    raw = connection.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN")


@contextmanager
def purging(connection: Any) -> Iterator[None]:
    """Within the block, rows of the append-only tables may be deleted (never updated), in the caller's
    transaction; ``connection`` is a SQLAlchemy Connection or Session. On SQLite the triggers are dropped
    and re-created in that transaction, so a rollback restores them with the rows."""
    dialect = (
        connection.get_bind().dialect.name if hasattr(connection, "get_bind") else connection.dialect.name
    )
    conn = connection.connection() if hasattr(connection, "get_bind") else connection
    if dialect == "postgresql":
        conn.exec_driver_sql(f"SELECT set_config('{PURGE_SETTING}', 'on', true)")
        try:
            yield
        finally:
            conn.exec_driver_sql(f"SELECT set_config('{PURGE_SETTING}', 'off', true)")
        return
    _ensure_sqlite_transaction(conn)
    for statement in sqlite_drop_statements():
        conn.exec_driver_sql(statement)
    try:
        yield
    finally:
        for statement in sqlite_create_statements():
            conn.exec_driver_sql(statement)
