"""`orderpilot db backup` / `restore`: a logical copy that round-trips between SQLite and PostgreSQL, row for
row, into an empty database only (or with --force), all or nothing."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.db import app as db_app
from data_model.db import make_engine
from tests.helpers import call, do, load_bike_production
from tests.integration.test_production_helpers import WAREHOUSE
from tests.reliability.conftest import table_rows
from tools.auth import ensure_demo_users
from tools.backup import BackupError, backup_database, restore_database
from tools.context import open_context

runner = CliRunner()


def _populate(url: str) -> None:
    """The bike factory, users with tokens, a confirmed issue (ledger, audit, documents), a pending and a
    rejected proposal: every kind of row a backup must carry."""
    load_bike_production(url)
    with open_context(url) as ctx:
        ensure_demo_users(ctx.session)
    do(url, "propose_material_issue", WAREHOUSE, order="MO-B3", lines=[{"item": "FRAME", "qty": 2}])
    call(url, "propose_material_issue", order="MO-B2", lines=[{"item": "FRAME", "qty": 1}])
    rejected = call(url, "propose_material_issue", order="MO-B2", lines=[{"item": "WHEEL", "qty": 1}])
    from tools.proposals import reject

    with open_context(url) as ctx:
        reject(ctx.session, rejected["proposal_id"], WAREHOUSE, "not now")


def _populated_backup(url: str, folder: Path) -> Path:
    """Populate ``url`` (see _populate) and back it up to a file in ``folder``; the file."""
    _populate(url)
    file = folder / "b.jsonl.gz"
    backup_database(make_engine(url), file)
    return file


def _export(url: str) -> dict:
    from data_model.dataset_store import export_dataset

    with open_context(url) as ctx:
        return export_dataset(ctx.session)


def test_round_trip_keeps_every_row_and_the_dataset(
    db_url: str, other_backend: str, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    _populate(db_url)
    before_rows, before_export = table_rows(db_url), _export(db_url)
    assert before_rows["stock_move"] and before_rows["audit_log"] and before_rows["api_token"]
    file = tmp_path / "backup.jsonl.gz"
    result = runner.invoke(db_app, ["backup", str(file), "--db", db_url])
    assert result.exit_code == 0, result.output
    target = new_database(other_backend)
    result = runner.invoke(db_app, ["restore", str(file), "--db", target])
    assert result.exit_code == 0, result.output
    after_rows = table_rows(target)
    for name, rows in before_rows.items():
        assert after_rows[name] == rows, name
    assert _export(target) == before_export
    # the restored database goes on working: new ids follow the restored ones (PostgreSQL sequences)
    do(target, "propose_material_issue", WAREHOUSE, order="MO-B2", lines=[{"item": "FRAME", "qty": 1}])
    assert len(table_rows(target)["stock_move"]) == len(before_rows["stock_move"]) + 1


def test_values_keep_their_types(sqlite_url: str, tmp_path: Path) -> None:
    file = _populated_backup(sqlite_url, tmp_path)
    lines = gzip.decompress(file.read_bytes()).decode().splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "orderpilot-backup" and header["schema_revision"]
    moves = next(json.loads(line) for line in lines if line.startswith('{"table": "stock_move"'))
    kinds = dict(zip(moves["columns"], moves["kinds"], strict=True))
    assert (kinds["qty"], kinds["move_date"], kinds["created_at"]) == ("decimal", "date", "datetime")
    audit = next(json.loads(line) for line in lines if line.startswith('{"table": "audit_log"'))
    assert dict(zip(audit["columns"], audit["kinds"], strict=True))["after"] == "json"


def test_restore_refuses_a_database_that_is_not_empty(
    sqlite_url: str, new_database: Callable[[str], str], tmp_path: Path
) -> None:
    file = _populated_backup(sqlite_url, tmp_path)
    target = new_database("sqlite")
    load_bike_production(target)
    before = table_rows(target)
    result = runner.invoke(db_app, ["restore", str(file), "--db", target])
    assert result.exit_code == 1
    assert "not empty" in result.output and "--force" in result.output
    assert table_rows(target) == before
    result = runner.invoke(db_app, ["restore", str(file), "--db", target, "--force"])
    assert result.exit_code == 0, result.output
    assert table_rows(target) == table_rows(sqlite_url)


@pytest.mark.parametrize("damage", ["truncated", "not_gzip", "bad_row", "unknown_table"])
def test_a_damaged_backup_restores_nothing(
    db_url: str, new_database: Callable[[str], str], tmp_path: Path, damage: str
) -> None:
    _populate(db_url)
    good = tmp_path / "good.jsonl.gz"
    backup_database(make_engine(db_url), good)
    lines = gzip.decompress(good.read_bytes()).decode().splitlines()
    bad = tmp_path / "bad.jsonl.gz"
    if damage == "truncated":  # cut in the middle of the stock ledger: the trailer is missing
        cut = next(i for i, line in enumerate(lines) if line.startswith('{"table": "stock_move"')) + 2
        bad.write_bytes(gzip.compress("\n".join(lines[:cut]).encode()))
    elif damage == "not_gzip":
        bad.write_bytes(b"PK\x03\x04 certainly not a backup")
    elif damage == "bad_row":  # a decimal that is not a number, late in the file
        i = next(i for i, line in enumerate(lines) if line.startswith('{"table": "stock_move"')) + 1
        row = json.loads(lines[i])
        columns = json.loads(lines[i - 1])["columns"]
        row[columns.index("qty")] = "twelve"
        lines[i] = json.dumps(row)
        bad.write_bytes(gzip.compress("\n".join(lines).encode()))
    else:
        lines.insert(1, '{"table": "no_such_table", "columns": [], "kinds": []}')
        bad.write_bytes(gzip.compress("\n".join(lines).encode()))
    target = new_database("sqlite")
    with pytest.raises(BackupError):
        restore_database(make_engine(target), bad)
    assert all(not rows for rows in table_rows(target).values())
    result = runner.invoke(db_app, ["restore", str(bad), "--db", target])
    assert result.exit_code == 1 and "Traceback" not in result.output


def test_restored_ledger_is_still_append_only(
    sqlite_url: str, tmp_path: Path, new_database: Callable[[str], str]
) -> None:
    file = _populated_backup(sqlite_url, tmp_path)
    target = new_database("sqlite")
    load_bike_production(target)
    restore_database(make_engine(target), file, force=True)  # the purge lifted the guard only for itself
    import sqlalchemy as sa

    engine = make_engine(target)
    with pytest.raises(sa.exc.IntegrityError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE stock_move SET qty = qty + 1")
