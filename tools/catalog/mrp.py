"""MRP tool: what to buy, make or subcontract and when, pegged to the demands, with the planner's exceptions.

Each process keeps the last MRP result per database and horizon (a few of them). A run on a snapshot equal
to the kept one reuses it (the result is a function of the snapshot), so the planned-order ids a planner saw
are the ones the document proposals release. A net-change run compares the new snapshot with the kept one,
item by item, and re-plans only the items whose master data, stock, open supply or demands changed (and
everything below them) with ``replan_mrp``; when the structure changed (items added or removed, a source or
phantom flag, a BOM, the calendar, the clock) or nothing is kept, it runs regeneratively. The comparison, not
the caller's word, decides what is re-planned, so a net-change result always equals a regenerative one.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from planning import mrp as mrp_planning
from planning.model import Demand, Plant, Supply
from planning.mrp import MrpException, MrpResult, PlannedOrder
from tools.context import ToolContext
from tools.errors import not_found
from tools.registry import tool
from tools.snapshot import load_plant
from tools.types import Num


class RunMrpIn(BaseModel):
    horizon_days: int = Field(default=90, ge=1, le=730, description="calendar days from today to plan")
    item: str | None = Field(
        default=None, description="only this item's suggestions and exceptions (item code)"
    )
    limit: int = Field(
        default=200,
        ge=1,
        le=5000,
        description="at most this many suggestions and exceptions, the most urgent first",
    )
    net_change: bool = Field(
        default=False,
        description="quick net-change run: re-plan only the items whose data changed since the last run "
        "(and the items below them); a full run when there is no previous run or the structure changed",
    )
    changed_items: list[str] = Field(
        default_factory=list,
        max_length=1000,
        description="items known to have changed (implies net_change; changes found by comparison are "
        "re-planned too)",
    )


class PegOut(BaseModel):
    demand: str = Field(
        description="sales order line, forecast, open order, planned order id or safety stock"
    )
    kind: Literal["sales", "forecast", "dependent", "safety", "planned"]
    item: str = Field(description="the parent item for a planned order's component, else the item itself")
    qty: Num
    due: date


class SuggestionOut(BaseModel):
    id: str
    item: str
    name: str
    uom: str
    action: Literal["buy", "make", "subcontract"]
    qty: Num
    net_qty: Num = Field(description="the net requirement that triggered it; the rest of qty is lot sizing")
    release_date: date
    due_date: date
    lead_time_days: int
    late: bool = Field(description="should have been released before today; released today instead")
    pegging: list[PegOut]


class MrpExceptionOut(BaseModel):
    kind: str = Field(
        description="late | reschedule_in | reschedule_out | excess | past_due_supply | past_due_demand | "
        "missing_bom | unknown_item | lot_size_conflict | phantom_stock"
    )
    item: str
    message: str
    ref: str = Field(description="the planned order, open supply or demand concerned")
    qty: Num
    date: dt.date | None
    suggested_date: dt.date | None
    demands: list[str]


RunMode = Literal["regenerative", "net_change", "reused"]


class RunMrpOut(BaseModel):
    today: date
    horizon_days: int
    horizon_end: date
    item: str | None
    mode: RunMode = Field(
        description="regenerative (everything planned), net_change (only changed items and those below "
        "them re-planned) or reused (nothing changed since the last run)"
    )
    replanned_items: int = Field(description="items planned by this run (0 when reused)")
    total_suggestions: int
    truncated: bool = Field(description="more suggestions or exceptions exist than returned (raise limit)")
    suggestions: list[SuggestionOut] = Field(description="earliest release first")
    exception_counts: dict[str, int]
    exceptions: list[MrpExceptionOut] = Field(description="undated problems first, then by date")


def _suggestion_out(plant: Plant, s: PlannedOrder) -> SuggestionOut:
    item = plant.items[s.item]
    return SuggestionOut(
        id=s.id,
        item=s.item,
        name=item.name,
        uom=item.uom,
        action=s.action.value,
        qty=s.qty,
        net_qty=s.net_qty,
        release_date=s.release_date,
        due_date=s.due_date,
        lead_time_days=s.lead_time_days,
        late=s.late,
        pegging=[
            PegOut(demand=p.demand, kind=p.kind.value, item=p.item, qty=p.qty, due=p.due) for p in s.pegging
        ],
    )


def _exception_out(e: MrpException) -> MrpExceptionOut:
    return MrpExceptionOut(
        kind=e.kind.value,
        item=e.item,
        message=e.message,
        ref=e.ref,
        qty=e.qty,
        date=e.date,
        suggested_date=e.suggested_date,
        demands=list(e.demands),
    )


# ---------------------------------------------------------------- the kept results and net change

_KEPT_RUNS = 4
_runs: OrderedDict[tuple[str, int], tuple[Plant, MrpResult]] = OrderedDict()
_runs_lock = threading.Lock()


@dataclass(frozen=True)
class MrpRun:
    """An MRP result and how it was obtained."""

    result: MrpResult
    mode: RunMode
    replanned_items: int


def _by_item(records: Sequence[Supply] | Sequence[Demand]) -> dict[str, list[Supply | Demand]]:
    grouped: dict[str, list[Supply | Demand]] = defaultdict(list)
    for record in records:
        grouped[record.item].append(record)
    return grouped


def _differing(old: Mapping[str, object], new: Mapping[str, object]) -> set[str]:
    return {code for code in old.keys() | new.keys() if old.get(code) != new.get(code)}


def changed_plant_items(old: Plant, new: Plant) -> frozenset[str] | None:
    """Items whose MRP inputs differ between two snapshots: master data, stock, open supply, demands.

    None when the plant's structure changed (today, calendar, the set of items, an item's source or
    phantom flag, a BOM), which only a regenerative run handles soundly.
    """
    if old.today != new.today or old.calendar != new.calendar or old.items.keys() != new.items.keys():
        return None
    if old.boms != new.boms:
        return None
    changed = {code for code, item in new.items.items() if old.items[code] != item}
    if any(
        (old.items[c].source, old.items[c].phantom) != (new.items[c].source, new.items[c].phantom)
        for c in changed
    ):
        return None
    changed |= _differing(old.on_hand, new.on_hand)
    changed |= _differing(_by_item(old.supplies), _by_item(new.supplies))
    changed |= _differing(_by_item(old.demands), _by_item(new.demands))
    if changed - new.items.keys():
        return None  # records of unknown items: a full run reports them
    return frozenset(changed)


def _kept_key(ctx: ToolContext, horizon_days: int) -> tuple[str, int]:
    return (str(ctx.session.get_bind().url), horizon_days)


def plan_mrp(
    ctx: ToolContext,
    plant: Plant,
    horizon_days: int,
    *,
    net_change: bool = False,
    changed_items: Iterable[str] = (),
) -> MrpRun:
    """MRP on ``plant``: the kept result when the snapshot is unchanged, else a net-change run when asked and
    sound, else a regenerative one (see the module docstring); the result is kept for the next call."""
    key = _kept_key(ctx, horizon_days)
    given = set(changed_items)
    unknown = sorted(given - plant.items.keys())
    if unknown:
        raise not_found("item", unknown[0])
    with _runs_lock:
        kept = _runs.get(key)
    if kept is not None and kept[0] == plant:
        run = MrpRun(kept[1], "reused", 0)
    else:
        changed = changed_plant_items(kept[0], plant) if kept is not None and (net_change or given) else None
        if kept is not None and changed is not None:
            result = mrp_planning.replan_mrp(plant, kept[1], changed | given)
            run = MrpRun(result, "net_change", len(result.replanned_items))
        else:
            result = mrp_planning.run_mrp(plant, horizon_days)
            run = MrpRun(result, "regenerative", len(result.replanned_items))
    with _runs_lock:
        _runs[key] = (plant, run.result)
        _runs.move_to_end(key)
        while len(_runs) > _KEPT_RUNS:
            _runs.popitem(last=False)
    return run


@tool(kind="read")
def run_mrp(ctx: ToolContext, args: RunMrpIn) -> RunMrpOut:
    """Material requirements planning (MRP, 物料需求建议): what to buy, make or subcontract, how much and when,
    so that every sales order, forecast (beyond the sales orders of its month), open production order's
    components and safety stock is covered within the horizon. Use it for "what do we need to order?",
    "what should we produce next week?", "why do we buy X?" (each suggestion is pegged to the demands it
    serves) and for the planner's exceptions: late suggestions (release date before today), open purchase
    or production orders to expedite, postpone or cancel, excess supply, missing BOMs.

    Quantities are in each item's unit; lead times in working days of the factory calendar. Suggestions
    are listed earliest release first and exceptions undated first, then by date; pass ``item`` for one
    item only. With ``net_change`` (or ``changed_items``) only what changed since the last run is re-planned
    (same answer, faster on a large plant). Nothing is created: turn suggestions into orders with
    propose_release_planned_orders (by planned-order id, item or action) or the other propose_* tools."""
    plant = load_plant(ctx)
    if args.item is not None and args.item not in plant.items:
        raise not_found("item", args.item)
    run = plan_mrp(
        ctx, plant, args.horizon_days, net_change=args.net_change, changed_items=args.changed_items
    )
    result = run.result
    if args.item is None:
        total = result.suggestion_count
        suggestions = result.earliest_suggestions(args.limit)
    else:
        suggestions = result.suggestions_for(args.item)
        total = len(suggestions)
        suggestions = tuple(sorted(suggestions, key=lambda s: (s.release_date, s.due_date, s.id)))[
            : args.limit
        ]
    exceptions, counts = result.exception_page(args.limit, args.item)
    return RunMrpOut(
        today=result.today,
        horizon_days=result.horizon_days,
        horizon_end=result.horizon_end,
        item=args.item,
        mode=run.mode,
        replanned_items=run.replanned_items,
        total_suggestions=total,
        truncated=total > len(suggestions) or sum(counts.values()) > len(exceptions),
        suggestions=[_suggestion_out(plant, s) for s in suggestions],
        exception_counts=counts,
        exceptions=[_exception_out(e) for e in exceptions],
    )
