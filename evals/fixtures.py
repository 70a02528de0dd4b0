"""Fixture databases for the runs: each dataset (and patch) loaded once, copied per run; oracles; digests.

A fixture is loaded into a migrated SQLite file once per (dataset, patch); every run gets a copy of that
file, so runs are independent and cheap. Oracles (the facts an answer must state) are computed by calling
tools on another copy, with the scenario's clock. The end state is compared through a digest of the
business tables (users, proposals, the audit log and data versions are not business data).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager, closing
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlmodel import SQLModel, select

from data_model.db import make_engine, upgrade
from data_model.tables import Item
from evals.scenario import Oracle, Patch, Scenario
from evals.selector import reduce_values
from evals.selector import select as select_path
from tools.auth import actor_for, create_user
from tools.context import Actor, ToolContext, dispose_engine, open_context
from tools.dataset_io import load_dataset_file
from tools.errors import ToolError
from tools.proposals import bump_versions
from tools.registry import call_tool

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = {
    "demo": ROOT / "data" / "demo" / "demo_factory.yaml",
    "bike": Path(__file__).parent / "fixtures" / "bike_factory.yaml",
}
# assistant_thread: the offline assistant's memory of each conversation, written every turn (not business data)
SYSTEM_TABLES = frozenset(
    {"meta", "data_version", "proposal", "audit_log", "app_user", "api_token", "assistant_thread"}
)
EVAL_USER_PREFIX = "eval-"


def fixture_path(name: str) -> Path:
    """The dataset file of a fixture name (demo, bike) or path (relative to the repository)."""
    if name in FIXTURES:
        return FIXTURES[name]
    path = Path(name)
    return path if path.is_absolute() else ROOT / path


def eval_username(role: str) -> str:
    return f"{EVAL_USER_PREFIX}{role}"


def business_tables() -> list[sa.Table]:
    return [t for t in SQLModel.metadata.sorted_tables if t.name not in SYSTEM_TABLES]


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


class OracleError(ValueError):
    """An oracle that cannot give a fact: the tool failed or the path selects nothing."""


@dataclass(frozen=True)
class TableDiff:
    """How one business table differs from the fixture: rows added, removed and updated."""

    added: list[dict[str, Any]]
    removed: int
    updated: int


@dataclass
class Prepared:
    """One fixture variant on disk: its template file, baseline digest and the proposals stored by its patch."""

    key: str
    index: int
    path: Path
    digest: dict[str, str]
    patch_proposals: list[str] = field(default_factory=list)
    baseline_proposals: frozenset[str] = frozenset()
    oracle_url: str = ""


def _path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _read_only(url: str) -> sqlite3.Connection:
    """A plain sqlite3 connection: reading whole tables this way skips the ORM (and its per-engine
    statement compilation), which would otherwise dominate the run time of the suite."""
    return sqlite3.connect(f"file:{_path(url)}?mode=ro", uri=True)


def digest(url: str) -> dict[str, str]:
    """A hash of every business table's rows (order-independent)."""
    result: dict[str, str] = {}
    with closing(_read_only(url)) as conn:
        for table in business_tables():
            rows = sorted(repr(r) for r in conn.execute(f'SELECT * FROM "{table.name}"'))
            result[table.name] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return result


def _rows_by_key(conn: sqlite3.Connection, table: sa.Table) -> dict[tuple[Any, ...], dict[str, Any]]:
    keys = [c.name for c in table.primary_key.columns]
    cursor = conn.execute(f'SELECT * FROM "{table.name}"')
    names = [d[0] for d in cursor.description]
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for values in cursor:
        data = dict(zip(names, values, strict=True))
        rows[tuple(data[k] for k in keys)] = data
    return rows


def _readable(conn: sqlite3.Connection, table: sa.Table, row: dict[str, Any]) -> dict[str, Any]:
    """A row with each foreign key to a table that has a code shown as that code (item_id → item)."""
    out = dict(row)
    for column in table.columns:
        for fk in column.foreign_keys:
            target = fk.column.table
            if "code" not in target.columns or row.get(column.name) is None:
                continue
            found = conn.execute(
                f'SELECT code FROM "{target.name}" WHERE "{fk.column.name}" = ?', (row[column.name],)
            ).fetchone()
            name = column.name[:-3] if column.name.endswith("_id") else column.name
            out[name] = found[0] if found else None
    return out


class FixtureStore:
    """Prepares fixture variants once, copies them per run, and answers oracles on them."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._prepared: dict[str, Prepared] = {}
        self._oracles: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._template: Path | None = None
        self._runs = 0
        self._free: dict[str, list[str]] = {}
        self._datasets: dict[str, Path] = {}

    # ---------------------------------------------------------------- preparing

    def _migrated_template(self) -> Path:
        if self._template is None:
            path = self.workdir / "migrated.sqlite"
            engine = make_engine(sqlite_url(path))
            upgrade(engine)
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            engine.dispose()
            self._template = path
        return self._template

    @staticmethod
    def variant_key(scenario: Scenario) -> str:
        patch = json.dumps(scenario.patch.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return f"{scenario.fixture}|{hashlib.sha256(patch.encode()).hexdigest()[:12]}"

    def prepare(self, scenario: Scenario) -> Prepared:
        """The fixture variant of ``scenario``, loaded on first use."""
        key = self.variant_key(scenario)
        with self._lock:
            found = self._prepared.get(key)
            if found is None:
                found = self._load(key, scenario)
                self._prepared[key] = found
            return found

    def _dataset(self, fixture: str) -> Path:
        """The dataset loaded into a migrated file, with one user per role (once per fixture name)."""
        found = self._datasets.get(fixture)
        if found is None:
            found = self.workdir / f"dataset-{len(self._datasets):03d}.sqlite"
            shutil.copy(self._migrated_template(), found)
            url = sqlite_url(found)
            with open_context(url) as ctx:
                load_dataset_file(ctx.session, fixture_path(fixture), reset=True)
            with open_context(url) as ctx:
                for role in ("sales", "planner", "buyer", "warehouse", "quality", "manager", "admin"):
                    create_user(ctx.session, eval_username(role), role, display_name=f"Eval {role}")
            _checkpoint(url)
            dispose_engine(url)
            self._datasets[fixture] = found
        return found

    def _load(self, key: str, scenario: Scenario) -> Prepared:
        index = len(self._prepared)
        name = f"fixture-{index:03d}"
        path = self.workdir / f"{name}.sqlite"
        shutil.copy(self._dataset(scenario.fixture), path)
        url = sqlite_url(path)
        proposals = self._apply_patch(url, scenario.patch, scenario.today)
        if proposals or not scenario.patch.is_empty():
            _checkpoint(url)
            dispose_engine(url)
        with closing(_read_only(url)) as conn:
            existing = frozenset(str(r[0]) for r in conn.execute("SELECT id FROM proposal"))
        prepared = Prepared(
            key=key,
            index=index,
            path=path,
            digest=digest(url),
            patch_proposals=proposals,
            baseline_proposals=existing,
        )
        prepared.oracle_url = self.copy(prepared, f"{name}-oracle")
        return prepared

    def _apply_patch(self, url: str, patch: Patch, today: date) -> list[str]:
        if patch.is_empty():
            return []
        with open_context(url) as ctx:
            for item_patch in patch.items:
                item = ctx.session.exec(select(Item).where(Item.code == item_patch.code)).one()
                if item_patch.description is not None:
                    item.description = item_patch.description
                if item_patch.name is not None:
                    item.name = item_patch.name
                ctx.session.add(item)
            if patch.items:
                # the assistant's name index is cached per master-data version
                bump_versions(ctx.session, ["master"])
        ids: list[str] = []
        for proposal in patch.proposals:
            with open_context(url, clock=lambda: today) as ctx:
                ctx.actor = actor_for(ctx.session, eval_username(proposal.role))
                out = call_tool(ctx, proposal.tool, proposal.args)
            ids.append(str(out["proposal_id"]))
        return ids

    # ---------------------------------------------------------------- runs

    def copy(self, prepared: Prepared, name: str) -> str:
        """A copy of the variant under its own name (baseline, oracle); returns its URL."""
        path = self.workdir / f"{name}.sqlite"
        shutil.copy(prepared.path, path)
        return sqlite_url(path)

    def checkout(self, prepared: Prepared) -> str:
        """A fresh copy of the variant for one run; returns its URL.

        Runs of one variant reuse a few file names: each URL keeps its engine, whose compiled statements
        are most of the cost of a short run; the engine's connections are closed before the file under it
        is replaced.
        """
        with self._lock:
            free = self._free.setdefault(prepared.key, [])
            if free:
                url = free.pop()
            else:
                self._runs += 1
                url = sqlite_url(self.workdir / f"run-{prepared.index:03d}-{self._runs:03d}.sqlite")
        from tools.context import engine_for

        path = _path(url)
        if path.exists():
            engine_for(url).dispose()
            for suffix in ("-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copy(prepared.path, path)
        return url

    def release(self, prepared: Prepared, url: str) -> None:
        """A run is over: its file may be copied over for the next run of the variant."""
        from tools.context import engine_for

        engine_for(url).dispose()
        with self._lock:
            self._free.setdefault(prepared.key, []).append(url)

    def discard(self, url: str) -> None:
        """Close a database's connections and delete its file."""
        dispose_engine(url)
        path = _path(url)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def contexts(
        self, url: str, actor: Actor, today: date
    ) -> Callable[[], AbstractContextManager[ToolContext]]:
        """Each tool call in its own transaction on the run's database, as ``actor``, on the frozen clock."""
        return lambda: open_context(url, actor=actor, clock=lambda: today)

    def actor(self, url: str, role: str) -> Actor:
        with open_context(url) as ctx:
            return actor_for(ctx.session, eval_username(role))

    # ---------------------------------------------------------------- oracles

    def oracle(self, scenario: Scenario, spec: Oracle) -> list[Any]:
        """The facts ``spec`` selects from its tool's output on the scenario's fixture and clock."""
        prepared = self.prepare(scenario)
        key = json.dumps(
            [prepared.key, scenario.today.isoformat(), spec.tool, spec.args], sort_keys=True, default=str
        )
        with self._lock:
            cached = self._oracles.get(key)
        if cached is None:
            try:
                with open_context(prepared.oracle_url, clock=lambda: scenario.today) as ctx:
                    ctx.actor = actor_for(ctx.session, eval_username("admin"))
                    cached = call_tool(ctx, spec.tool, spec.args)
            except ToolError as exc:
                raise OracleError(f"oracle {spec.describe()} failed: {exc.code}: {exc.message}") from None
            with self._lock:
                self._oracles[key] = cached
        values = reduce_values(select_path(cached, spec.path), spec.reduce)
        if not values:
            raise OracleError(f"oracle {spec.describe()} selects nothing")
        return values

    # ---------------------------------------------------------------- end state

    def diff(self, prepared: Prepared, url: str, tables: list[str]) -> dict[str, TableDiff]:
        """Row-level differences of ``tables`` between the variant and a run's database."""
        by_name = {t.name: t for t in business_tables()}
        result: dict[str, TableDiff] = {}
        if not tables:
            return result
        with closing(_read_only(sqlite_url(prepared.path))) as base, closing(_read_only(url)) as run:
            for name in tables:
                table = by_name[name]
                before, after = _rows_by_key(base, table), _rows_by_key(run, table)
                added = [_readable(run, table, after[k]) for k in after.keys() - before.keys()]
                updated = sum(1 for k in after.keys() & before.keys() if after[k] != before[k])
                result[name] = TableDiff(
                    added=added, removed=len(before.keys() - after.keys()), updated=updated
                )
        return result

    def proposals_since(self, prepared: Prepared, url: str) -> list[dict[str, Any]]:
        """Proposals stored in a run's database that its fixture did not have, oldest first."""
        return [p for p in self._proposals(url) if p["id"] not in prepared.baseline_proposals]

    @staticmethod
    def _proposals(url: str) -> list[dict[str, Any]]:
        from data_model.tables import Proposal

        with open_context(url) as ctx:
            rows = ctx.session.exec(select(Proposal).order_by(Proposal.created_at, Proposal.id)).all()  # type: ignore[arg-type]
            return [
                {
                    "id": r.id,
                    "kind": r.kind,
                    "tool": r.tool,
                    "args": r.args,
                    "status": r.status,
                    "requested_by": r.requested_by,
                }
                for r in rows
            ]

    def proposal_status(self, url: str, proposal_id: str) -> str:
        from data_model.tables import Proposal

        with open_context(url) as ctx:
            row = ctx.session.get(Proposal, proposal_id)
            return row.status if row is not None else "missing"


def _checkpoint(url: str) -> None:
    from tools.context import engine_for

    with engine_for(url).connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
