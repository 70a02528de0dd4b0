"""Shared fixtures: database URLs on SQLite (always) and PostgreSQL (when configured), datasets, contexts."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ORDERPILOT_LLM_BASE_URL", "")
os.environ.setdefault("ORDERPILOT_LLM_API_KEY", "")
os.environ.setdefault("ORDERPILOT_UI_ENABLED", "false")  # API tests skip building the web app; UI tests ask for it

from tests.helpers import BIKE_COSTING_YAML, BIKE_YAML, DEMO_YAML, load_bike_production, load_into

PG_ENV = "ORDERPILOT_TEST_POSTGRES_URL"


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV, "").strip()
    return url or None


def _with_database(url: str, name: str) -> str:
    from data_model.db import normalize_url

    return sa.engine.make_url(normalize_url(url)).set(database=name).render_as_string(hide_password=False)


class _PgServer:
    """Creates uniquely named databases on the test server, cloned from a migrated template."""

    def __init__(self, admin_url: str) -> None:
        from data_model.db import make_engine, upgrade

        self.admin_url = admin_url
        self.prefix = f"op_test_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_tpl"
        self.admin = make_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self._execute(f'CREATE DATABASE "{self.template}"')
        engine = make_engine(_with_database(admin_url, self.template), poolclass=sa.pool.NullPool)
        upgrade(engine)
        engine.dispose()
        self.count = 0

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def new_database(self) -> tuple[str, str]:
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return name, _with_database(self.admin_url, name)

    def drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        self.drop(self.template)
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[_PgServer | None]:
    admin = _pg_admin_url()
    if admin is None:
        yield None
        return
    server = _PgServer(admin)
    yield server
    server.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from data_model.db import make_engine, upgrade

    path = tmp_path_factory.mktemp("template") / "template.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path,
           pg_server: _PgServer | None) -> Iterator[str]:
    """An empty, migrated database of its own for one test: SQLite always, PostgreSQL when configured."""
    from tools.context import dispose_engine

    if request.param == "sqlite":
        path = tmp_path / "orderpilot.sqlite"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        yield url
        dispose_engine(url)
        return
    if pg_server is None:
        pytest.skip(f"{PG_ENV} is not set")
    name, url = pg_server.new_database()
    yield url
    dispose_engine(url)
    pg_server.drop(name)


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated SQLite database only (for tests that are about something other than the backend)."""
    from tools.context import dispose_engine

    path = tmp_path / "orderpilot.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engine(url)


@pytest.fixture
def bike_url(db_url: str) -> str:
    """The acceptance bike factory loaded into a fresh database (both backends)."""
    load_into(db_url, BIKE_YAML)
    return db_url


@pytest.fixture
def bike_production_url(db_url: str) -> str:
    """The bike factory with production orders (tests/helpers.py load_bike_production), both backends."""
    load_bike_production(db_url)
    return db_url


@pytest.fixture
def bike_costing_url(db_url: str) -> str:
    load_into(db_url, BIKE_COSTING_YAML)
    return db_url


@pytest.fixture
def demo_url(sqlite_url: str) -> str:
    """The demo factory in a fresh SQLite database."""
    load_into(sqlite_url, DEMO_YAML)
    return sqlite_url
