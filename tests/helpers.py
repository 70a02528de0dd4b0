"""Helpers for tests: dataset paths, loading a dataset, calling a tool."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from data_model.settings import Settings
    from tools.context import Actor

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


def moves(url: str, doc_ref: str) -> list[tuple[str, str, Decimal, str, str, Decimal, str]]:
    """The ledger moves of a document: (type, item, qty, from, to, unit cost, reason), in posting order."""
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
