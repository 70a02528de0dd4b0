"""Faults: the database going away during or between requests is a clear 503 that writes nothing, and the
service recovers when it is back; a process dying between propose and confirm (or inside a confirm) loses
nothing, and a new process confirms the stored proposal.

The model endpoint timing out or answering garbage is covered in tests/agent (test_agent_loop.py,
test_openai_wire.py, test_chat_api.py) and not repeated here.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import tools.proposals
from api.app import create_app
from data_model.db import make_engine, normalize_url
from data_model.settings import Settings
from tests.helpers import load_bike_production
from tests.integration.test_production_helpers import stock
from tests.reliability.conftest import table_rows
from tools.auth import ensure_demo_users
from tools.context import dispose_engine, open_context

ROOT = Path(__file__).resolve().parents[2]
ISSUE = {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 2}]}


def _client(url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with open_context(url) as ctx:
        token = ensure_demo_users(ctx.session)["demo-warehouse"]
    app = create_app(Settings(database_url=url, ui_enabled=False))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(bike_production_url: str) -> Iterator[tuple[TestClient, dict[str, str]]]:
    yield from _client(bike_production_url)


def _assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.text[:300]
    error = response.json()["error"]
    assert error["code"] == "unavailable" and "database" in error["message"]
    assert "Traceback" not in response.text


def test_a_connection_lost_mid_request_is_a_503_that_writes_nothing(
    bike_production_url: str, api: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The proposal row is flushed, then the connection dies before the commit: 503, no proposal."""
    client, auth = api
    before = table_rows(bike_production_url)
    original = tools.proposals.audit

    def dying(session: Any, *args: Any, **kwargs: Any) -> None:
        original(session, *args, **kwargs)
        session.flush()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
        else:  # the SQLite file closed under the request
            session.connection().connection.dbapi_connection.close()
            session.execute(sa.text("SELECT 1"))

    monkeypatch.setattr(tools.proposals, "audit", dying)
    _assert_unavailable(client.post("/api/v1/tools/propose_material_issue", json=ISSUE, headers=auth))
    monkeypatch.undo()
    assert table_rows(bike_production_url) == before
    # back: the pool drops the dead connection and the same request goes through
    response = client.post("/api/v1/tools/propose_material_issue", json=ISSUE, headers=auth)
    assert response.status_code == 200, response.text[:300]
    assert len(table_rows(bike_production_url)["proposal"]) == len(before["proposal"]) + 1


def test_postgres_refusing_connections_is_a_503_until_it_is_back(
    bike_production_url: str, api: tuple[TestClient, dict[str, str]]
) -> None:
    if not bike_production_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL server's database")
    client, auth = api
    assert client.get("/api/v1/me", headers=auth).status_code == 200
    url = sa.engine.make_url(normalize_url(bike_production_url))
    admin = make_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.pool.NullPool,
    )
    name = url.database
    before = table_rows(bike_production_url)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        _assert_unavailable(client.get("/api/v1/me", headers=auth))
        _assert_unavailable(client.post("/api/v1/tools/propose_material_issue", json=ISSUE, headers=auth))
        _assert_unavailable(client.get("/health"))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.dispose()
    assert client.get("/health").status_code == 200
    assert client.post("/api/v1/tools/propose_material_issue", json=ISSUE, headers=auth).status_code == 200
    assert len(table_rows(bike_production_url)["proposal"]) == len(before["proposal"]) + 1


def test_a_sqlite_file_that_cannot_be_opened_is_a_503_until_it_is_there(
    sqlite_url: str, tmp_path: Path
) -> None:
    load_bike_production(sqlite_url)
    with open_context(sqlite_url) as ctx:
        token = ensure_demo_users(ctx.session)["demo-warehouse"]
    dispose_engine(sqlite_url)
    good = Path(sa.engine.make_url(sqlite_url).database or "")
    target = tmp_path / "moved" / "orderpilot.sqlite"
    target.mkdir(parents=True)  # a folder where the file should be: SQLite cannot open it
    url = f"sqlite:///{target}"
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(
        create_app(Settings(database_url=url, ui_enabled=False)), raise_server_exceptions=False
    ) as client:
        _assert_unavailable(client.get("/api/v1/me", headers=auth))
        _assert_unavailable(client.get("/health"))
        target.rmdir()
        shutil.copy(good, target)
        assert client.get("/api/v1/me", headers=auth).json()["username"] == "demo-warehouse"
    dispose_engine(url)


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


def _crash_after_proposing(url: str) -> subprocess.CompletedProcess[str]:
    """Demo users in the bike factory, then a process that proposes an issue of 2 FRAME and is killed."""
    with open_context(url) as ctx:
        ensure_demo_users(ctx.session)
    dispose_engine(url)
    return _python(PROPOSE_THEN_DIE, url)


def _confirm_in_a_new_process(url: str, pid: str) -> subprocess.CompletedProcess[str]:
    """`orderpilot proposals confirm PID --as demo-warehouse` in a process of its own."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "proposals",
            "confirm",
            pid,
            "--as",
            "demo-warehouse",
            "--db",
            url,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )


PROPOSE_THEN_DIE = """
    import os, signal, sys
    from tools.context import open_context
    from tools.registry import call_tool

    with open_context(sys.argv[1]) as ctx:
        out = call_tool(ctx, "propose_material_issue",
                        {"order": "MO-B3", "lines": [{"item": "FRAME", "qty": 2}]})
    print(out["proposal_id"], flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # a crash: no clean-up, no exit handlers
"""

DIE_INSIDE_CONFIRM = """
    import os, signal, sys
    import tools.catalog.material_issue as mi
    from tools.auth import actor_for
    from tools.context import open_context
    from tools.proposals import confirm, get_applier

    spec = get_applier("material_issue")
    def apply_then_die(session, proposal, actor):
        spec.apply(session, proposal, actor)
        session.flush()  # the moves and documents are written, not committed
        os.kill(os.getpid(), signal.SIGKILL)
    import tools.proposals as tp
    tp._APPLIERS["material_issue"] = tp.ApplierSpec("material_issue", apply_then_die, spec.roles, spec.domains)
    with open_context(sys.argv[1]) as ctx:
        confirm(ctx.session, sys.argv[2], actor_for(ctx.session, "demo-warehouse"))
"""


def test_a_crash_after_propose_loses_nothing_and_a_new_process_confirms(bike_production_url: str) -> None:
    url = bike_production_url
    crashed = _crash_after_proposing(url)
    assert crashed.returncode == -9, crashed.stderr[-2000:]
    pid = crashed.stdout.split()[0]
    assert stock(url, "FRAME") == {"FRAME": 10}
    confirmed = _confirm_in_a_new_process(url, pid)
    assert confirmed.returncode == 0, confirmed.stdout[-2000:] + confirmed.stderr[-2000:]
    assert json.loads(confirmed.stdout)["status"] == "confirmed"
    assert stock(url, "FRAME") == {"FRAME": 8}  # 10 - 2


def test_a_crash_inside_confirm_applies_nothing_and_the_proposal_stays_pending(
    bike_production_url: str,
) -> None:
    url = bike_production_url
    pid = _crash_after_proposing(url).stdout.split()[0]
    before = table_rows(url)
    died = _python(DIE_INSIDE_CONFIRM, url, pid)
    assert died.returncode == -9, died.stderr[-2000:]
    assert table_rows(url) == before  # the claim, the moves and the documents were never committed
    confirmed = _confirm_in_a_new_process(url, pid)
    assert confirmed.returncode == 0, confirmed.stdout[-2000:] + confirmed.stderr[-2000:]
    assert stock(url, "FRAME") == {"FRAME": 8}
