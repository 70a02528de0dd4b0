"""Helpers for tests: dataset paths, loading a dataset, calling a tool."""

from __future__ import annotations

import textwrap
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from assistant.backend import AssistantReply
    from data_model.settings import Settings
    from planning.model import Plant
    from tools.context import Actor
    from tools.errors import ToolError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ACCEPTANCE = SHARED / "acceptance"
BIKE_YAML = ACCEPTANCE / "bike_factory.yaml"
BIKE_COSTING_YAML = ACCEPTANCE / "bike_costing.yaml"
DEMO_YAML = ROOT / "data" / "demo" / "demo_factory.yaml"


def load_into(url: str, path: Path, reset: bool = True) -> None:
    from tools.context import open_context
    from tools.dataset_io import load_dataset_file

    with open_context(url) as ctx:
        load_dataset_file(ctx.session, path, reset=reset)


def load_dict(url: str, data: dict[str, Any], tmp_path: Path) -> str:
    """Write ``data`` as a YAML file in ``tmp_path`` and load it from there as `orderpilot load` does; the url."""
    path = tmp_path / "dataset.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    load_into(url, path)
    return url


def load_data(url: str, data: dict[str, Any], reset: bool = True, source: str = "") -> None:
    """Load a dataset given as a dict: replace the data (``reset``) or add to it, as `orderpilot load`."""
    from tools.context import open_context
    from tools.dataset_io import load_dataset

    with open_context(url) as ctx:
        load_dataset(ctx.session, data, reset=reset, source=source)


def bike_factory_data() -> dict[str, Any]:
    """The acceptance bike factory (bike_factory.yaml) as a fresh dict, free to change."""
    return yaml.safe_load(BIKE_YAML.read_text(encoding="utf-8"))


def plant_of(data: str | dict[str, Any]) -> Plant:
    """A planning Plant from a dataset: YAML text (indented or not) or a dict."""
    from planning.dataset import plant_from_dict

    return plant_from_dict(yaml.safe_load(textwrap.dedent(data)) if isinstance(data, str) else data)


def bike_plant() -> Plant:
    """The acceptance bike factory as a planning Plant."""
    return plant_of(bike_factory_data())


@cache
def _bike_production_text() -> str:
    """The acceptance bike factory plus what production execution needs (bike_factory.yaml untouched).

    Added: issue methods (SEAT backflushed on BIKE, TIRE on WHEEL), a phantom bell kit KIT-BK on the bike,
    opening costs for the finished stock, and production orders:
      MO-B0 2 BIKE completed (for rework), MO-B1 5 BIKE planned, MO-W1 6 WHEEL planned feeding MO-B1,
      MO-B2 2 BIKE released due 12-10, MO-B3 3 BIKE released due 12-09.
    """
    data = bike_factory_data()
    data["items"] += [
        {"code": "KIT-BK", "name": "车铃五金包", "uom": "set", "source": "make", "phantom": True},
        {"code": "BELL", "name": "车铃", "uom": "pcs", "source": "buy", "unit_cost": 3},
        {"code": "BOLT", "name": "螺栓", "uom": "pcs", "source": "buy", "unit_cost": 0.1},
    ]
    boms = {b["parent"]: b for b in data["boms"]}
    for line in boms["BIKE"]["lines"]:
        if line["component"] == "SEAT":
            line["issue_method"] = "backflush"
    boms["BIKE"]["lines"].append({"component": "KIT-BK", "qty": 1, "issue_method": "kit"})
    for line in boms["WHEEL"]["lines"]:
        if line["component"] == "TIRE":
            line["issue_method"] = "backflush"
    data["boms"].append(
        {"parent": "KIT-BK", "lines": [{"component": "BELL", "qty": 1}, {"component": "BOLT", "qty": 4}]}
    )
    for row in data["stock"]:
        if row["item"] == "WHEEL":
            row["unit_cost"] = 20
        if row["item"] == "BIKE":
            row["unit_cost"] = 100
    data["stock"] += [{"item": "BELL", "qty": 10}, {"item": "BOLT", "qty": 100}]
    data["production_orders"] = [
        {
            "id": "MO-B0",
            "item": "BIKE",
            "qty": 2,
            "due": "2026-11-20",
            "status": "completed",
            "completed_qty": 2,
        },
        {"id": "MO-B1", "item": "BIKE", "qty": 5, "due": "2026-12-08", "status": "planned"},
        {
            "id": "MO-W1",
            "item": "WHEEL",
            "qty": 6,
            "due": "2026-12-04",
            "status": "planned",
            "parent_order": "MO-B1",
        },
        {"id": "MO-B2", "item": "BIKE", "qty": 2, "due": "2026-12-10", "status": "released"},
        {"id": "MO-B3", "item": "BIKE", "qty": 3, "due": "2026-12-09", "status": "released"},
    ]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def bike_production_data() -> dict[str, Any]:
    """The bike factory with production orders (see _bike_production_text) as a fresh dict."""
    return yaml.safe_load(_bike_production_text())


def load_bike_production(url: str, **changes: Any) -> None:
    """Load the bike factory with production orders, its top-level sections replaced by ``changes``."""
    data = bike_production_data()
    data.update(changes)
    load_data(url, data, source="bike-production")


def call(
    url: str,
    name: str,
    today: date | None = None,
    *,
    actor: Actor | None = None,
    settings: Settings | None = None,
    **args: Any,
) -> dict[str, Any]:
    """Call a tool as ``actor`` (the local admin unless given) and return its JSON output."""
    from tools.context import SYSTEM_ACTOR, open_context
    from tools.registry import call_tool

    clock = (lambda: today) if today else None
    with open_context(url, actor=actor or SYSTEM_ACTOR, settings=settings, clock=clock) as ctx:
        return call_tool(ctx, name, args)


def confirm_as(url: str, proposal_id: str, actor: Actor, now: datetime | None = None) -> dict[str, Any]:
    """Confirm a proposal as ``actor``; the proposal with its decision and result, as JSON."""
    from tools.context import open_context
    from tools.proposals import confirm

    with open_context(url) as ctx:
        return confirm(ctx.session, proposal_id, actor, now=now).model_dump(mode="json")


def do(url: str, name: str, actor: Actor, *, proposer: Actor | None = None, **args: Any) -> dict[str, Any]:
    """Propose through tool ``name`` as ``proposer`` (the local admin unless given) and confirm as ``actor``.

    Returns the confirmed proposal (its ``result`` is what was applied).
    """
    out = call(url, name, actor=proposer, **args)
    done = confirm_as(url, out["proposal_id"], actor)
    assert done["status"] == "confirmed", done
    return done


def race(url: str, proposal_ids: list[str], actor: Actor) -> list[dict[str, Any] | ToolError]:
    """Confirm each proposal as ``actor`` in its own thread and connection, all released at once; each
    confirmed proposal (JSON) or the ToolError that refused it."""
    import threading

    from sqlmodel import Session

    from tools.context import engine_for
    from tools.errors import ToolError
    from tools.proposals import confirm

    engine = engine_for(url)
    barrier = threading.Barrier(len(proposal_ids))
    results: list[dict[str, Any] | ToolError] = [ToolError("conflict", "not run")] * len(proposal_ids)

    def worker(i: int, pid: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            barrier.wait()
            try:
                results[i] = confirm(session, pid, actor).model_dump(mode="json")
            except ToolError as exc:
                results[i] = exc

    threads = [threading.Thread(target=worker, args=(i, pid)) for i, pid in enumerate(proposal_ids)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def release_new_production_order(url: str, actor: Actor, **selection: Any) -> str:
    """Create a production order through propose_production_orders (``items=`` or ``sales_orders=``) and
    release it, both confirmed by ``actor``; the first order's code."""
    done = do(url, "propose_production_orders", actor, **selection)
    code: str = done["result"]["production_orders"][0]["code"]
    do(url, "propose_release_production_orders", actor, orders=[code])
    return code


def valuation(url: str, code: str) -> tuple[Decimal, Decimal, Decimal]:
    """An item's moving-average valuation: (qty, value, average cost)."""
    from sqlmodel import select

    from data_model.tables import Item, ItemValuation
    from tools.context import open_context

    with open_context(url) as ctx:
        item = ctx.session.exec(select(Item).where(Item.code == code)).one()
        row = ctx.session.get(ItemValuation, item.id)
        assert row is not None
        return row.qty, row.value, row.avg_cost


def moves(
    url: str, doc_ref: str, doc_type: str | None = None
) -> list[tuple[str, str, Decimal, str, str, Decimal, str]]:
    """The ledger moves of a document: (type, item, qty, from, to, unit cost, reason), in posting order.

    With ``doc_type``, every move of the document must be of that document type.
    """
    from sqlmodel import select

    from data_model.tables import Item, Location, StockMove
    from tools.context import open_context

    with open_context(url) as ctx:
        locs = {loc.id: loc.code for loc in ctx.session.exec(select(Location)).all()}
        rows = ctx.session.exec(
            select(StockMove, Item.code)
            .join(Item, Item.id == StockMove.item_id)
            .where(StockMove.doc_ref == doc_ref)
            .order_by(StockMove.id)
        ).all()
        assert doc_type is None or all(m.doc_type == doc_type for m, _ in rows), [m.doc_type for m, _ in rows]
        return [
            (
                m.move_type,
                code,
                m.qty,
                locs[m.from_location_id],
                locs[m.to_location_id],
                m.unit_cost,
                m.reason,
            )
            for m, code in rows
        ]


def ask_offline(url: str, question: str, thread: str | None = None) -> AssistantReply:
    """Ask the offline assistant, in a new conversation unless ``thread`` names one."""
    import uuid

    from assistant.service import ask

    return ask(question, backend="offline", db_url=url, thread_id=thread or f"t-{uuid.uuid4().hex[:12]}")


def called_args(reply: AssistantReply, tool: str) -> dict[str, Any]:
    """The arguments of the assistant's first call of ``tool``, which must have succeeded."""
    calls = [c for c in reply.tool_calls if c.name == tool]
    assert calls, f"{tool} not called: {reply.tool_calls}"
    assert calls[0].ok, calls[0].error
    return calls[0].args


def assert_figures_in(figures: list[str], answer: str) -> None:
    for figure in figures:
        assert figure in answer, f"{figure!r} missing from:\n{answer}"
