"""MRP tool: what to buy, make or subcontract and when, pegged to the demands, with the planner's exceptions."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from planning import mrp as mrp_planning
from planning.model import Plant
from planning.mrp import MrpException, PlannedOrder
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


class RunMrpOut(BaseModel):
    today: date
    horizon_days: int
    horizon_end: date
    item: str | None
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
    item only. Nothing is created: turn suggestions into orders with the propose_* tools."""
    plant = load_plant(ctx)
    if args.item is not None and args.item not in plant.items:
        raise not_found("item", args.item)
    result = mrp_planning.run_mrp(plant, args.horizon_days)
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
        total_suggestions=total,
        truncated=total > len(suggestions) or sum(counts.values()) > len(exceptions),
        suggestions=[_suggestion_out(plant, s) for s in suggestions],
        exception_counts=counts,
        exceptions=[_exception_out(e) for e in exceptions],
    )
