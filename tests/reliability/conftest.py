"""Fixtures of the reliability tests: a second empty database on either backend, and row snapshots."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import BACKENDS, PG_ENV


@pytest.fixture
def new_database(tmp_path: Path, sqlite_template: Path, pg_server: Any) -> Iterator[Callable[[str], str]]:
    """Make more empty, migrated databases in a test: ``new_database("sqlite" | "postgres")`` → URL."""
    from tools.context import dispose_engine

    made: list[tuple[str, str | None]] = []

    def make(backend: str) -> str:
        if backend == "sqlite":
            path = tmp_path / f"extra_{len(made)}.sqlite"
            shutil.copy(sqlite_template, path)
            url = f"sqlite:///{path}"
            made.append((url, None))
            return url
        if pg_server is None:
            pytest.skip(f"{PG_ENV} is not set")
        name, url = pg_server.new_database()
        made.append((url, name))
        return url

    yield make
    for url, name in made:
        dispose_engine(url)
        if name is not None:
            pg_server.drop(name)


@pytest.fixture(params=BACKENDS)
def other_backend(request: pytest.FixtureRequest) -> str:
    """A second backend parameter (crossed with ``db_url``'s)."""
    return str(request.param)


def _normal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return value


def table_rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows in primary-key order, values normalised (decimal scale, time zone)."""
    from sqlmodel import SQLModel

    import data_model.tables  # noqa: F401
    from data_model.db import make_engine

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table in SQLModel.metadata.sorted_tables:
            rows = conn.execute(sa.select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(_normal(v) for v in row) for row in rows]
    engine.dispose()
    return out
