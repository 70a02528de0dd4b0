"""The audit log and the stock ledger are append-only in the database itself (triggers on SQLite and
PostgreSQL), yet `load --reset` and `db restore --force` can still clear them inside their own transaction."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from data_model.db import make_engine
from tests.helpers import BIKE_YAML, do, load_bike_production, load_into
from tests.reliability.conftest import table_rows
from tools.context import open_context

REFUSED = (sa.exc.IntegrityError, sa.exc.InternalError, sa.exc.ProgrammingError)
STATEMENTS = [
    "UPDATE stock_move SET qty = qty + 1",
    "DELETE FROM stock_move",
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
]


def _run(url: str, sql: str) -> None:
    engine = make_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    finally:
        engine.dispose()


@pytest.mark.parametrize("sql", STATEMENTS)
def test_update_and_delete_are_refused(bike_url: str, sql: str) -> None:
    before = table_rows(bike_url)
    assert before["stock_move"] and before["audit_log"]
    with pytest.raises(REFUSED, match="append-only"):
        _run(bike_url, sql)
    assert table_rows(bike_url) == before


def test_truncate_is_refused_on_postgres(bike_url: str) -> None:
    if not bike_url.startswith("postgresql"):
        pytest.skip("TRUNCATE is PostgreSQL's")
    with pytest.raises(REFUSED, match="append-only"):
        _run(bike_url, "TRUNCATE stock_move, audit_log CASCADE")


def test_appending_still_works(bike_url: str) -> None:
    from tests.integration.test_production_helpers import WAREHOUSE

    load_bike_production(bike_url)
    before = table_rows(bike_url)
    do(bike_url, "propose_material_issue", WAREHOUSE, order="MO-B3", lines=[{"item": "FRAME", "qty": 1}])
    after = table_rows(bike_url)
    assert len(after["stock_move"]) == len(before["stock_move"]) + 1
    assert after["stock_move"][: len(before["stock_move"])] == before["stock_move"]
    assert after["audit_log"][: len(before["audit_log"])] == before["audit_log"]


def test_reset_clears_the_ledger_and_leaves_the_guard_in_place(bike_url: str) -> None:
    load_into(bike_url, BIKE_YAML, reset=True)  # a second reset over a loaded ledger
    rows = table_rows(bike_url)
    # the reset's own audit line and the opening stock are all there is
    assert [r[3] for r in rows["audit_log"]] == ["dataset.load"]  # (id, at, actor, action, …)
    assert rows["stock_move"]
    with pytest.raises(REFUSED, match="append-only"):
        _run(bike_url, "DELETE FROM stock_move")


def test_a_failed_reset_keeps_the_ledger_and_the_guard(bike_url: str, monkeypatch: Any) -> None:
    import tools.dataset_io as dataset_io

    before = table_rows(bike_url)

    def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(dataset_io, "write_dataset", broken)
    with pytest.raises(RuntimeError):
        load_into(bike_url, BIKE_YAML, reset=True)
    assert table_rows(bike_url) == before
    with pytest.raises(REFUSED, match="append-only"):
        _run(bike_url, "DELETE FROM audit_log")


def test_the_orm_cannot_edit_a_posted_move(bike_url: str) -> None:
    from sqlmodel import select

    from data_model.tables import StockMove

    with pytest.raises(REFUSED, match="append-only"), open_context(bike_url) as ctx:
        move = ctx.session.exec(select(StockMove)).first()
        assert move is not None
        move.reason = "rewritten history"
        ctx.session.add(move)
        ctx.session.flush()
