"""Material issue tools: by line, by kit, merged over orders, skip-level, supplements and returns.

Every issue is a proposal; confirming it posts STOCK → PRODUCTION moves (move_type ``issue``, doc_type
``production_order``, doc_ref the order code) at the moving-average cost, raises the order components'
issued quantities and records a material issue document (MI-…; returns MR-…) whose lines point at the moves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from types import SimpleNamespace
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from data_model.dataset_store import effective_bom_map
from data_model.states import StateError, transition
from data_model.stock import (
    StockError,
    fmt_qty,
    location_by_code,
    lock_items,
    moving_average_cost,
    on_hand,
    post_move,
)
from data_model.tables import (
    Bom,
    BomLine,
    BomSubstitute,
    Item,
    Location,
    MaterialIssue,
    MaterialIssueLine,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
)
from data_model.tables.inventory import INTERNAL_KINDS
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num

ISSUE_KIND = "material_issue"
OVER_ISSUE_KIND = "material_over_issue"
RETURN_KIND = "material_return"
ISSUE_PREFIX = "MI-"
RETURN_PREFIX = "MR-"
ISSUABLE = ("released", "in_progress")
RETURNABLE = ("released", "in_progress", "completed")
# over-issues need a planner's approval (manager and admin always may)
OVER_ISSUE_ROLES = ("planner",)
SIX_PLACES = Decimal("0.000001")
SUMMARY_LINES = 8

IssueMode = Literal["issue", "kit", "merged", "supplement", "return", "backflush", "flow"]


def q6(value: Decimal) -> Decimal:
    """A quantity rounded half-up to the 6 places the database keeps."""
    return Decimal(value).quantize(SIX_PLACES, rounding=ROUND_HALF_UP)


def dec(value: object) -> Decimal:
    """A database or JSON value as an exact Decimal."""
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


# ---------------------------------------------------------------- orders and their components


def find_order(session: Session, code: str, field_name: str = "order") -> ProductionOrder:
    """The production order ``code``, or ``not_found`` naming the input field."""
    order = session.exec(select(ProductionOrder).where(ProductionOrder.code == code)).first()
    if order is None:
        raise ToolError(
            "not_found",
            f"production order {code!r} not found",
            {"kind": "production_order", "key": code, "field": field_name},
        )
    return order


_STATUS_HINTS = {
    "planned": "release it first (propose_release_production_orders)",
    "in_progress": "it has started",
    "completed": "it is completed",
    "closed": "it is closed",
    "cancelled": "it is cancelled",
}


def require_status(
    order: ProductionOrder, allowed: Sequence[str], action: str, field_name: str = "order"
) -> None:
    """Refuse (``conflict``) to act on an order whose status does not allow ``action``."""
    if order.status not in allowed:
        hint = _STATUS_HINTS.get(order.status, f"it is {order.status}")
        raise ToolError(
            "conflict",
            f"production order {order.code} is {order.status}: cannot {action} ({hint})",
            {
                "record": order.code,
                "field": "status",
                "input_field": field_name,
                "status": order.status,
                "allowed": list(allowed),
            },
        )


def require_own_production(order: ProductionOrder, field_name: str = "order") -> None:
    if order.kind == "subcontract":
        raise ToolError(
            "invalid_input",
            f"{order.code} is a subcontract order: its material goes to the subcontractor with the "
            "subcontracting tools, not by material issue",
            {"record": order.code, "field": "kind", "input_field": field_name},
        )


def items_by_id(session: Session, ids: Iterable[int]) -> dict[int, Item]:
    wanted = sorted({i for i in ids if i})
    if not wanted:
        return {}
    return {i.id or 0: i for i in session.exec(select(Item).where(Item.id.in_(wanted))).all()}


def find_item(session: Session, code: str, field_name: str) -> Item:
    item = session.exec(select(Item).where(Item.code == code)).first()
    if item is None:
        raise ToolError(
            "not_found", f"item {code!r} not found", {"kind": "item", "key": code, "field": field_name}
        )
    return item


def check_uom(item: Item, uom: str | None, field_name: str) -> None:
    """A quantity given in another unit than the item's is refused, never converted."""
    if uom is not None and uom != item.uom:
        raise ToolError(
            "invalid_input",
            f"{field_name}: {item.code} is counted in {item.uom}, not {uom}",
            {"record": item.code, "field": field_name, "item_uom": item.uom, "given_uom": uom},
        )


def internal_location(session: Session, code: str, field_name: str) -> Location:
    """A location that holds stock we count (material is issued from / returned to one)."""
    try:
        loc = location_by_code(session, code)
    except StockError:
        raise ToolError(
            "not_found",
            f"location {code!r} not found",
            {"kind": "location", "key": code, "field": field_name},
        ) from None
    if loc.kind not in INTERNAL_KINDS:
        raise ToolError(
            "invalid_input",
            f"{field_name}: {code} is a {loc.kind} location; material moves from or to a stock location",
            {"record": code, "field": field_name, "kind": loc.kind},
        )
    return loc


@dataclass
class RowPlan:
    """An order component while a proposal is being worked out (``id`` None: a substitute row to create)."""

    id: int | None
    item: Item
    required: Decimal
    issued: Decimal
    issue_method: str
    substitute_for: Item | None
    planned: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return max(self.required - self.issued - self.planned, Decimal(0))


@dataclass
class OrderPlan:
    order: ProductionOrder
    item: Item
    rows: list[RowPlan]

    @property
    def code(self) -> str:
        return self.order.code


def load_order_plan(session: Session, order: ProductionOrder) -> OrderPlan:
    comps = session.exec(
        select(ProductionOrderComponent)
        .where(ProductionOrderComponent.production_order_id == order.id)
        .order_by(ProductionOrderComponent.id)
    ).all()
    items = items_by_id(
        session, [order.item_id, *(c.item_id for c in comps), *(c.substitute_for_id or 0 for c in comps)]
    )
    rows = [
        RowPlan(
            id=c.id,
            item=items[c.item_id],
            required=dec(c.required_qty),
            issued=dec(c.issued_qty),
            issue_method=c.issue_method,
            substitute_for=items.get(c.substitute_for_id or 0),
        )
        for c in comps
    ]
    return OrderPlan(order=order, item=items[order.item_id], rows=rows)


def per_unit(row: RowPlan | ProductionOrderComponent, order: ProductionOrder) -> Decimal:
    """A component's requirement per unit of the order (scrap included, substitutions applied)."""
    required = row.required if isinstance(row, RowPlan) else dec(row.required_qty)
    return required / dec(order.qty)


# ---------------------------------------------------------------- BOMs in force, phantoms, substitutes


def bom_in_force(session: Session, item_id: int, on: date) -> Bom | None:
    """The active BOM of an item on a date: effective dates first, then the highest version."""
    boms = session.exec(select(Bom).where(Bom.item_id == item_id, Bom.status == "active")).all()
    heads = [
        SimpleNamespace(
            parent=item_id,
            version=b.version,
            effective_from=b.effective_from,
            effective_to=b.effective_to,
            bom=b,
        )
        for b in boms
    ]
    chosen = effective_bom_map(heads, on).get(item_id)
    return chosen.bom if chosen is not None else None


def bom_lines(session: Session, bom: Bom) -> list[BomLine]:
    return list(
        session.exec(select(BomLine).where(BomLine.bom_id == bom.id).order_by(BomLine.seq, BomLine.id)).all()
    )


def qty_per_parent(line: BomLine, bom: Bom) -> Decimal:
    return dec(line.qty) * (1 + dec(line.scrap_rate)) / dec(bom.output_qty)


def derive_requirements(
    session: Session, item: Item, qty: Decimal, on: date
) -> list[tuple[Item, Decimal, str]]:
    """(component, required qty, issue method) of an order for ``qty`` of ``item`` from the BOM in force.

    Phantom components are exploded through (their own components are required instead), the same
    rule the dataset load uses; lines of the same component and issue method add up.
    """
    out: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    items: dict[int, Item] = {}

    def walk(parent_id: int, need: Decimal, depth: int) -> None:
        bom = bom_in_force(session, parent_id, on)
        if bom is None or depth > 50:
            return
        lines = bom_lines(session, bom)
        items.update(items_by_id(session, [ln.component_id for ln in lines]))
        for ln in lines:
            q = need * qty_per_parent(ln, bom)
            comp = items[ln.component_id]
            if comp.phantom:
                walk(comp.id or 0, q, depth + 1)
            else:
                out[(comp.id or 0, ln.issue_method)] += q

    walk(item.id or 0, qty, 0)
    return [(items[cid], q6(q), method) for (cid, method), q in out.items() if q6(q) > 0]


def explode_phantom(session: Session, kit: Item, qty: Decimal, on: date) -> list[tuple[Item, Decimal]]:
    """The components ``qty`` of a phantom kit stand for (nested phantoms exploded too)."""
    out: dict[int, Decimal] = defaultdict(Decimal)
    items: dict[int, Item] = {}

    def walk(parent: Item, need: Decimal, depth: int) -> None:
        bom = bom_in_force(session, parent.id or 0, on)
        if bom is None or depth > 50:
            raise ToolError(
                "invalid_input",
                f"phantom {parent.code} has no BOM in force on {on.isoformat()}: nothing to issue for it",
                {"record": parent.code, "field": "bom"},
            )
        lines = bom_lines(session, bom)
        items.update(items_by_id(session, [ln.component_id for ln in lines]))
        for ln in lines:
            comp = items[ln.component_id]
            q = need * qty_per_parent(ln, bom)
            if comp.phantom:
                walk(comp, q, depth + 1)
            else:
                out[comp.id or 0] += q

    walk(kit, qty, 0)
    return [(items[cid], q6(q)) for cid, q in out.items() if q6(q) > 0]


def substitute_ratio(
    session: Session, order: ProductionOrder, primary: Item, sub: Item, on: date
) -> Decimal | None:
    """Units of ``sub`` that replace one unit of ``primary`` in the order item's BOM (phantoms included)."""
    seen: set[int] = set()
    boms: list[Bom] = []
    first = session.get(Bom, order.bom_id) if order.bom_id else None
    first = first or bom_in_force(session, order.item_id, on)
    queue = [first] if first else []
    line_ids: list[int] = []
    while queue:
        bom = queue.pop()
        if bom.id in seen:
            continue
        seen.add(bom.id or 0)
        boms.append(bom)
        lines = bom_lines(session, bom)
        comps = items_by_id(session, [ln.component_id for ln in lines])
        for ln in lines:
            if ln.component_id == primary.id:
                line_ids.append(ln.id or 0)
            elif comps[ln.component_id].phantom:
                nested = bom_in_force(session, ln.component_id, on)
                if nested is not None:
                    queue.append(nested)
    if not line_ids:
        return None
    row = session.exec(
        select(BomSubstitute)
        .where(BomSubstitute.bom_line_id.in_(line_ids), BomSubstitute.item_id == sub.id)
        .order_by(BomSubstitute.priority)
    ).first()
    return dec(row.ratio) if row else None


# ---------------------------------------------------------------- planning an issue


@dataclass
class Alloc:
    """Part of a proposal: ``qty`` of one order component, from the input field it came from."""

    plan: OrderPlan
    row: RowPlan
    qty: Decimal
    source_field: str
    via_phantom: Item | None = None


@dataclass
class Substitution:
    plan: OrderPlan
    primary: RowPlan
    sub_row: RowPlan
    primary_qty: Decimal
    ratio: Decimal


@dataclass
class IssuePlan:
    """What an issue proposal would post, with the substitutions it makes first."""

    allocs: list[Alloc] = field(default_factory=list)
    substitutions: list[Substitution] = field(default_factory=list)

    def add(self, plan: OrderPlan, row: RowPlan, qty: Decimal, source_field: str, via: Item | None) -> None:
        if qty <= 0:
            return
        row.planned += qty
        self.allocs.append(Alloc(plan, row, qty, source_field, via))


def _rows_for(plan: OrderPlan, item: Item, substitute_for: Item | None = None) -> list[RowPlan]:
    rows = [
        r
        for r in plan.rows
        if r.item.id == item.id
        and (substitute_for is None or (r.substitute_for and r.substitute_for.id == substitute_for.id))
    ]
    # manual and kit lines are picked before backflush lines, which completion would otherwise consume
    return sorted(rows, key=lambda r: (r.issue_method == "backflush", r.id is None, r.id or 0))


def fill_rows(
    result: IssuePlan, plan: OrderPlan, rows: list[RowPlan], qty: Decimal, source_field: str, via: Item | None
) -> Decimal:
    """Allocate up to what ``rows`` still need; returns what is left over."""
    left = qty
    for row in rows:
        take = min(row.remaining, left)
        result.add(plan, row, take, source_field, via)
        left -= take
    return left


def allocate(
    result: IssuePlan, plan: OrderPlan, item: Item, qty: Decimal, source_field: str, via: Item | None = None
) -> None:
    """Issue ``qty`` of ``item`` to one order: fill its rows of the item, the rest is an over-issue."""
    rows = _rows_for(plan, item)
    if not rows:
        raise not_a_component(plan, item, source_field, via)
    left = fill_rows(result, plan, rows, qty, source_field, via)
    if left > 0:
        result.add(plan, rows[0], left, source_field, via)


def not_a_component(plan: OrderPlan, item: Item, source_field: str, via: Item | None = None) -> ToolError:
    codes = sorted({r.item.code for r in plan.rows})
    through = f" (a component of phantom {via.code})" if via else ""
    return ToolError(
        "invalid_input",
        f"{source_field}: production order {plan.code} does not use {item.code}{through}; its components are "
        + (", ".join(codes) if codes else "none"),
        {"record": plan.code, "field": source_field, "item": item.code, "components": codes},
    )


def plan_substitution(
    session: Session,
    result: IssuePlan,
    plan: OrderPlan,
    primary_item: Item,
    sub: Item,
    source_field: str,
    on: date,
    *,
    primary_qty: Decimal | None = None,
    sub_qty: Decimal | None = None,
) -> RowPlan:
    """Move ``primary_qty`` of the primary's open requirement (or as much as ``sub_qty`` of the substitute
    replaces) to the substitute; returns the substitute's row (created on confirmation when new)."""
    ratio = substitute_ratio(session, plan.order, primary_item, sub, on)
    if ratio is None:
        raise ToolError(
            "invalid_input",
            f"{source_field}: {sub.code} is not a substitute of {primary_item.code} in the BOM of {plan.item.code}",
            {
                "record": plan.code,
                "field": source_field,
                "item": sub.code,
                "substitute_for": primary_item.code,
            },
        )
    primaries = [r for r in _rows_for(plan, primary_item) if r.substitute_for is None]
    if not primaries:
        raise not_a_component(plan, primary_item, source_field)
    existing = _rows_for(plan, sub, substitute_for=primary_item)
    sub_row = existing[0] if existing else None
    if sub_row is None:
        sub_row = RowPlan(
            id=None,
            item=sub,
            required=Decimal(0),
            issued=Decimal(0),
            issue_method=primaries[0].issue_method,
            substitute_for=primary_item,
        )
        plan.rows.append(sub_row)
    wanted = primary_qty if primary_qty is not None else q6(dec(sub_qty) / ratio)
    open_qty = sum((r.remaining for r in primaries), Decimal(0))
    if primary_qty is not None and primary_qty > open_qty:
        raise ToolError(
            "invalid_input",
            f"{source_field}: {plan.code} has {fmt_qty(open_qty)} {primary_item.uom} {primary_item.code} still to "
            f"issue: cannot move {fmt_qty(primary_qty)} to {sub.code}",
            {"record": plan.code, "field": source_field, "open": float(open_qty)},
        )
    for primary in primaries:
        moved = min(primary.remaining, wanted)
        if moved <= 0:
            continue
        primary.required -= moved
        sub_row.required += q6(moved * ratio)
        result.substitutions.append(Substitution(plan, primary, sub_row, moved, ratio))
        wanted -= moved
    return sub_row


def substitute_groups(
    session: Session, plan: OrderPlan, rows: Iterable[RowPlan], on: date
) -> list[list[tuple[RowPlan, Decimal]]]:
    """Rows grouped by the component they stand for: the primary first, then its substitutes, each with
    its ratio (units of the row per unit of the primary)."""
    groups: dict[tuple[int, str], list[tuple[RowPlan, Decimal]]] = defaultdict(list)
    for row in rows:
        primary = row.substitute_for or row.item
        ratio = Decimal(1)
        if row.substitute_for is not None:
            ratio = substitute_ratio(session, plan.order, row.substitute_for, row.item, on) or Decimal(1)
        groups[(primary.id or 0, row.issue_method)].append((row, ratio))
    for members in groups.values():
        members.sort(key=lambda m: (m[0].substitute_for is not None, m[0].id is None, m[0].id or 0))
    return list(groups.values())


def group_targets(plan: OrderPlan, group: list[tuple[RowPlan, Decimal]], units: Decimal) -> list[Decimal]:
    """What each row of a group should hold once ``units`` of the order's item are made: the group's
    need (in units of the primary) fills the primary's requirement first, then each substitute's; what
    goes beyond every requirement (an over-completion) falls to the last row."""
    per_unit_primary = sum((r.required / ratio for r, ratio in group), Decimal(0)) / dec(plan.order.qty)
    need = per_unit_primary * units
    targets = []
    for r, ratio in group:
        share = min(need, r.required / ratio)
        targets.append(share * ratio)
        need -= share
    if need > 0:
        targets[-1] += need * group[-1][1]
    return [q6(t) for t in targets]


def tolerance_limit(row: RowPlan, tolerance: Decimal) -> Decimal:
    return row.required * (1 + tolerance)


def over_issued_rows(result: IssuePlan, tolerance: Decimal) -> set[int]:
    """Rows (by python id) the plan takes beyond requirement + tolerance."""
    return {
        id(a.row) for a in result.allocs if a.row.issued + a.row.planned > tolerance_limit(a.row, tolerance)
    }


class IssueLineIn(BaseModel):
    """One item to issue."""

    item: str = Field(
        min_length=1,
        max_length=64,
        description="component code; a phantom kit code (e.g. a hardware kit) issues its components (跳层领料)",
    )
    qty: Num = Field(gt=0, description="quantity in the item's unit of measure (kits: number of kits)")
    uom: str | None = Field(
        default=None, max_length=20, description="unit of qty; must be the item's unit if given"
    )
    substitute_for: str | None = Field(
        default=None,
        max_length=64,
        description="the component this item replaces, when issuing a BOM substitute instead of it",
    )


class PlannedIssueLine(BaseModel):
    """One component posting that confirming the proposal makes."""

    order: str
    component_id: int | None = Field(description="the order component row (None: a substitute row to create)")
    item: str
    item_name: str
    uom: str
    qty: Num
    required: Num = Field(description="the order's requirement of this component, substitutions applied")
    issued_before: Num
    issued_after: Num
    over_issue: bool = Field(description="takes the component beyond requirement + tolerance")
    substitute_for: str | None = None
    via_phantom: str | None = Field(default=None, description="phantom kit it was issued as (跳层领料)")
    unit_cost: Num = Field(
        description="estimated: the moving-average cost now (issues), the order's issue cost (returns)"
    )


class PlannedSubstitution(BaseModel):
    order: str
    primary_component_id: int
    component: str
    substitute: str
    primary_qty: Num = Field(description="requirement of the component moved to the substitute")
    substitute_qty: Num
    ratio: Num


class MaterialIssueProposalOut(ProposalOut):
    mode: str
    location: str = Field(description="issued from (returns: returned to)")
    issue_date: date
    reason: str
    over_issue: bool = Field(
        description="some line goes beyond requirement + tolerance: a planner must confirm"
    )
    lines: list[PlannedIssueLine]
    substitutions: list[PlannedSubstitution]


def planned_lines(
    session: Session, result: IssuePlan, tolerance: Decimal, returning: bool = False
) -> list[PlannedIssueLine]:
    over = set() if returning else over_issued_rows(result, tolerance)
    merged: dict[tuple[int, str | None], PlannedIssueLine] = {}
    out: list[PlannedIssueLine] = []
    for a in result.allocs:
        key = (id(a.row), a.via_phantom.code if a.via_phantom else None)
        if key in merged:
            merged[key].qty += a.qty
            continue
        cost = (
            order_row_cost(session, a.plan.order, a.row)
            if returning
            else moving_average_cost(session, a.row.item.id or 0)
        )
        sign = -1 if returning else 1
        line = PlannedIssueLine(
            order=a.plan.code,
            component_id=a.row.id,
            item=a.row.item.code,
            item_name=a.row.item.name,
            uom=a.row.item.uom,
            qty=a.qty,
            required=a.row.required,
            issued_before=a.row.issued,
            issued_after=a.row.issued + sign * a.row.planned,
            over_issue=id(a.row) in over,
            substitute_for=a.row.substitute_for.code if a.row.substitute_for else None,
            via_phantom=a.via_phantom.code if a.via_phantom else None,
            unit_cost=cost,
        )
        merged[key] = line
        out.append(line)
    return out


def _substitutions_out(result: IssuePlan) -> list[PlannedSubstitution]:
    return [
        PlannedSubstitution(
            order=s.plan.code,
            primary_component_id=s.primary.id or 0,
            component=s.primary.item.code,
            substitute=s.sub_row.item.code,
            primary_qty=s.primary_qty,
            substitute_qty=q6(s.primary_qty * s.ratio),
            ratio=s.ratio,
        )
        for s in result.substitutions
    ]


def check_stock(session: Session, allocs: Sequence[Alloc], location: Location, allow_negative: bool) -> None:
    """Refuse (``infeasible``) a plan that takes more of an item than the location holds."""
    if allow_negative or not allocs:
        return
    need: dict[int, Decimal] = defaultdict(Decimal)
    first: dict[int, Alloc] = {}
    for a in allocs:
        need[a.row.item.id or 0] += a.qty
        first.setdefault(a.row.item.id or 0, a)
    have = on_hand(session, list(need), kinds=INTERNAL_KINDS, location_ids=[location.id or 0])
    for item_id, qty in need.items():
        if have.get(item_id, Decimal(0)) < qty:
            a = first[item_id]
            orders = sorted({x.plan.code for x in allocs if x.row.item.id == item_id})
            raise ToolError(
                "infeasible",
                f"{a.source_field}: not enough {a.row.item.code} at {location.code}: "
                f"{fmt_qty(have.get(item_id, Decimal(0)))} on hand, {fmt_qty(qty)} {a.row.item.uom} to issue "
                f"to {', '.join(orders)}",
                {
                    "record": a.row.item.code,
                    "field": a.source_field,
                    "location": location.code,
                    "on_hand": float(have.get(item_id, Decimal(0))),
                    "requested": float(qty),
                    "orders": orders,
                },
            )


def require_reason_for_over_issue(lines: Sequence[PlannedIssueLine], reason: str, tolerance: Decimal) -> None:
    over = [ln for ln in lines if ln.over_issue]
    if over and not reason.strip():
        ln = over[0]
        raise ToolError(
            "invalid_input",
            f"reason: issuing {fmt_qty(ln.qty)} {ln.uom} {ln.item} to {ln.order} takes it to "
            f"{fmt_qty(ln.issued_after)} of {fmt_qty(ln.required)} required (tolerance "
            f"{fmt_qty(tolerance * 100)}%): an over-issue needs a reason and a planner's approval",
            {
                "record": ln.order,
                "field": "reason",
                "item": ln.item,
                "required": float(ln.required),
                "issued_after": float(ln.issued_after),
                "tolerance": float(tolerance),
            },
        )


# ---------------------------------------------------------------- costs charged to an order


def order_material_lines(session: Session, order_ids: Iterable[int]) -> list[tuple[MaterialIssueLine, str]]:
    """Every material line (issues, returns, backflush, flows in) of the orders, with its document mode."""
    ids = list(order_ids)
    if not ids:
        return []
    rows = session.exec(
        select(MaterialIssueLine, MaterialIssue.mode)
        .join(MaterialIssue, MaterialIssue.id == MaterialIssueLine.material_issue_id)
        .where(MaterialIssueLine.production_order_id.in_(ids))
        .order_by(MaterialIssueLine.id)
    ).all()
    return [(line, mode) for line, mode in rows]


def component_charges(session: Session, order: ProductionOrder) -> dict[int, tuple[Decimal, Decimal]]:
    """Net (qty, value) of material charged to each component row of an order by its documents."""
    out: dict[int, tuple[Decimal, Decimal]] = defaultdict(lambda: (Decimal(0), Decimal(0)))
    for line, mode in order_material_lines(session, [order.id or 0]):
        sign = -1 if mode == "return" else 1
        q, v = out[line.component_id]
        out[line.component_id] = (q + sign * dec(line.qty), v + sign * dec(line.qty) * dec(line.unit_cost))
    return out


def order_row_cost(
    session: Session,
    order: ProductionOrder,
    row: RowPlan | ProductionOrderComponent,
    charges: dict[int, tuple[Decimal, Decimal]] | None = None,
) -> Decimal:
    """Unit cost at which an order holds a component: the average cost it was charged (issues less
    returns), or the item's moving average when nothing of it has been charged by a document."""
    charges = charges if charges is not None else component_charges(session, order)
    qty, value = charges.get(row.id or 0, (Decimal(0), Decimal(0)))
    if qty > 0:
        return q6(value / qty)
    return moving_average_cost(session, row.item.id if isinstance(row, RowPlan) else row.item_id)


# ---------------------------------------------------------------- posting (inside a confirming transaction)


def _apply_substitutions(session: Session, subs: Sequence[PlannedSubstitution]) -> None:
    for s in subs:
        order = find_order(session, s.order)
        primary = session.get(ProductionOrderComponent, s.primary_component_id)
        sub_item = find_item(session, s.substitute, "substitute")
        if primary is None or primary.production_order_id != order.id:
            raise ToolError(
                "conflict",
                f"component {s.component} of {s.order} changed since proposed",
                {"record": s.order, "field": "components"},
            )
        if dec(primary.required_qty) - dec(primary.issued_qty) < dec(s.primary_qty):
            raise ToolError(
                "conflict",
                f"{s.order}: only {fmt_qty(dec(primary.required_qty) - dec(primary.issued_qty))} of "
                f"{s.component} is still open, cannot move {fmt_qty(dec(s.primary_qty))} to {s.substitute}",
                {"record": s.order, "field": "components"},
            )
        row = session.exec(
            select(ProductionOrderComponent).where(
                ProductionOrderComponent.production_order_id == order.id,
                ProductionOrderComponent.item_id == sub_item.id,
                ProductionOrderComponent.substitute_for_id == primary.item_id,
            )
        ).first()
        if row is None:
            row = ProductionOrderComponent(
                production_order_id=order.id or 0,
                item_id=sub_item.id or 0,
                required_qty=Decimal(0),
                issued_qty=Decimal(0),
                issue_method=primary.issue_method,
                substitute_for_id=primary.item_id,
            )
        primary.required_qty = dec(primary.required_qty) - dec(s.primary_qty)
        row.required_qty = dec(row.required_qty) + dec(s.substitute_qty)
        session.add(primary)
        session.add(row)
        session.flush()


def _component_row(
    session: Session, order: ProductionOrder, line: PlannedIssueLine
) -> ProductionOrderComponent:
    if line.component_id is not None:
        row = session.get(ProductionOrderComponent, line.component_id)
    else:
        sub_for = find_item(session, line.substitute_for or "", "substitute_for")
        row = session.exec(
            select(ProductionOrderComponent).where(
                ProductionOrderComponent.production_order_id == order.id,
                ProductionOrderComponent.item_id == find_item(session, line.item, "item").id,
                ProductionOrderComponent.substitute_for_id == sub_for.id,
            )
        ).first()
    if row is None or row.production_order_id != order.id:
        raise ToolError(
            "conflict",
            f"component {line.item} of {order.code} changed since proposed",
            {"record": order.code, "field": "components"},
        )
    return row


def start_order(session: Session, order: ProductionOrder) -> None:
    """A released order goes in progress at its first issue or receipt."""
    if order.status == "released":
        set_status(order, "in_progress")
        session.add(order)


def set_status(order: ProductionOrder, target: str) -> None:
    try:
        transition("production_order", order, target, ref=order.code)
    except StateError as exc:
        raise ToolError(
            "conflict", exc.message, {"record": order.code, "field": "status", **exc.details}
        ) from None


def post_material(
    session: Session,
    actor: Actor,
    *,
    mode: str,
    lines: Sequence[PlannedIssueLine],
    location_code: str,
    issue_date: date,
    reason: str,
    proposal_id: str,
    allow_negative: bool,
    allow_over: bool,
    tolerance: Decimal,
    flow_unit_cost: Decimal | None = None,
) -> dict[str, Any]:
    """Post a material document in the caller's transaction; returns its record for the proposal result.

    ``mode`` ``return`` moves PRODUCTION → location at the order's issue cost; ``flow`` posts no move (a
    sub-order's output consumed where it was made) and charges ``flow_unit_cost``; every other mode moves
    location → PRODUCTION at the moving average. Raises ``ToolError`` (the transaction is then rolled back).
    """
    returning = mode == "return"
    orders: dict[str, ProductionOrder] = {}
    for ln in lines:
        if ln.order not in orders:
            order = find_order(session, ln.order)
            require_status(
                order,
                RETURNABLE if returning else ISSUABLE,
                "take a return" if returning else "issue material",
            )
            orders[ln.order] = order
    items = {
        i.code: i for i in session.exec(select(Item).where(Item.code.in_({ln.item for ln in lines}))).all()
    }
    if mode != "flow":
        # one lock order for the whole document, so two documents over the same items cannot deadlock
        lock_items(session, [i.id or 0 for i in items.values()])
    loc = location_by_code(session, location_code)
    code = next_codes(session, MaterialIssue.code, RETURN_PREFIX if returning else ISSUE_PREFIX, 1)[0]
    doc = MaterialIssue(
        code=code,
        mode=mode,
        issue_date=issue_date,
        location_id=loc.id,
        reason=reason,
        actor=actor.username,
        proposal_id=proposal_id,
    )
    session.add(doc)
    session.flush()
    posted = []
    touched: dict[int, tuple[ProductionOrder, ProductionOrderComponent]] = {}
    for ln in lines:
        order = orders[ln.order]
        row = _component_row(session, order, ln)
        item = items[ln.item]
        qty = dec(ln.qty)
        move_id = None
        if returning:
            if dec(row.issued_qty) < qty:
                raise ToolError(
                    "invalid_input",
                    f"{order.code} holds {fmt_qty(dec(row.issued_qty))} {item.uom} {item.code}: "
                    f"cannot return {fmt_qty(qty)}",
                    {
                        "record": order.code,
                        "field": "qty",
                        "item": item.code,
                        "issued": float(dec(row.issued_qty)),
                    },
                )
            cost = order_row_cost(session, order, row)
            move = post_order_move(
                session,
                item,
                qty,
                "PRODUCTION",
                loc.code,
                "return",
                issue_date,
                order.code,
                cost,
                actor,
                reason,
                allow_negative,
            )
            row.issued_qty = dec(row.issued_qty) - qty
            unit_cost, move_id = dec(move.unit_cost), move.id
        elif mode == "flow":
            unit_cost = dec(flow_unit_cost or 0)
            row.issued_qty = dec(row.issued_qty) + qty
        else:
            move = post_order_move(
                session,
                item,
                qty,
                loc.code,
                "PRODUCTION",
                "issue",
                issue_date,
                order.code,
                None,
                actor,
                reason if (ln.over_issue or mode == "supplement") else "",
                allow_negative,
            )
            row.issued_qty = dec(row.issued_qty) + qty
            unit_cost, move_id = dec(move.unit_cost), move.id
        session.add(row)
        touched[row.id or 0] = (order, row)
        sub_for = find_item(session, ln.substitute_for, "substitute_for") if ln.substitute_for else None
        via = find_item(session, ln.via_phantom, "via_phantom") if ln.via_phantom else None
        session.add(
            MaterialIssueLine(
                material_issue_id=doc.id or 0,
                production_order_id=order.id or 0,
                component_id=row.id or 0,
                item_id=item.id or 0,
                qty=qty,
                unit_cost=unit_cost,
                stock_move_id=move_id,
                substitute_for_id=sub_for.id if sub_for else None,
                via_phantom_id=via.id if via else None,
                over_issue=ln.over_issue,
            )
        )
        posted.append(
            {
                "order": order.code,
                "item": item.code,
                "qty": float(qty),
                "unit_cost": float(unit_cost),
                "issued_after": float(dec(row.issued_qty)),
                "over_issue": ln.over_issue,
            }
        )
    if not returning and not allow_over:
        for order, row in touched.values():
            if dec(row.issued_qty) > dec(row.required_qty) * (1 + tolerance):
                item_code = next(i.code for i in items.values() if i.id == row.item_id)
                raise ToolError(
                    "conflict",
                    f"{order.code} {item_code} would be issued {fmt_qty(dec(row.issued_qty))} of "
                    f"{fmt_qty(dec(row.required_qty))} required: an over-issue now; propose it again with a reason",
                    {"record": order.code, "field": "qty", "item": item_code},
                )
    if not returning:
        for order in orders.values():
            start_order(session, order)
    session.flush()
    record = {
        "code": code,
        "mode": mode,
        "date": issue_date.isoformat(),
        "location": loc.code,
        "reason": reason,
        "lines": posted,
    }
    audit(
        session,
        actor,
        "post",
        entity="material_issue",
        entity_ref=code,
        proposal_id=proposal_id,
        after=record,
    )
    return record


def post_order_move(
    session: Session,
    item: Item,
    qty: Decimal,
    src: str,
    dst: str,
    move_type: str,
    on: date,
    ref: str,
    unit_cost: Decimal | None,
    actor: Actor,
    reason: str,
    allow_negative: bool,
) -> Any:
    try:
        return post_move(
            session,
            item_id=item.id or 0,
            qty=qty,
            from_code=src,
            to_code=dst,
            move_type=move_type,
            move_date=on,
            doc_type="production_order",
            doc_ref=ref,
            unit_cost=unit_cost,
            actor=actor.username,
            reason=reason[:300],
            allow_negative=allow_negative,
        )
    except StockError as exc:
        raise ToolError("infeasible", exc.message, {"record": ref, "field": "qty", **exc.details}) from None


# ---------------------------------------------------------------- proposals


def _fmt_lines(lines: Sequence[PlannedIssueLine], zh: bool, with_order: bool) -> str:
    parts = []
    for ln in lines[:SUMMARY_LINES]:
        head = f"{ln.order} " if with_order else ""
        via = (
            (f"(来自 {ln.via_phantom})" if zh else f" (from kit {ln.via_phantom})") if ln.via_phantom else ""
        )
        sub = (
            (f"(替代 {ln.substitute_for})" if zh else f" (instead of {ln.substitute_for})")
            if ln.substitute_for
            else ""
        )
        over = ("(超领)" if zh else " (over-issue)") if ln.over_issue else ""
        parts.append(f"{head}{ln.item} {fmt_qty(dec(ln.qty))} {ln.uom}{via}{sub}{over}")
    more = len(lines) - SUMMARY_LINES
    if more > 0:
        parts.append(f"等另 {more} 行" if zh else f"and {more} more")
    return ("、" if zh else ", ").join(parts)


def issue_summaries(
    mode: str,
    orders: Sequence[str],
    lines: Sequence[PlannedIssueLine],
    location: str,
    reason: str,
    sets: int | None = None,
) -> tuple[str, str]:
    """Chinese and English one-liners of a material document."""
    multi = len(orders) > 1
    zh_lines, en_lines = _fmt_lines(lines, True, multi), _fmt_lines(lines, False, multi)
    who = "、".join(orders)
    who_en = ", ".join(orders)
    if mode == "kit":
        zh = f"配套领料 {who} {sets} 套(从 {location}):{zh_lines}"
        en = f"Issue {sets} kit(s) to {who_en} from {location}: {en_lines}"
    elif mode == "merged":
        zh = f"合并领料 {who}(从 {location}):{zh_lines}"
        en = f"Merged issue to {who_en} from {location}: {en_lines}"
    elif mode == "supplement":
        zh = f"补料 {who}(从 {location}):{zh_lines}"
        en = f"Supplementary issue to {who_en} from {location}: {en_lines}"
    elif mode == "return":
        zh = f"退料 {who} 退回 {location}:{zh_lines}"
        en = f"Return from {who_en} to {location}: {en_lines}"
    else:
        zh = f"领料 {who}(从 {location}):{zh_lines}"
        en = f"Issue to {who_en} from {location}: {en_lines}"
    if any(ln.over_issue for ln in lines):
        zh += ";超出需求与容差,需计划员批准"
        en += "; beyond requirement and tolerance: needs a planner's approval"
    if reason:
        zh += f";原因:{reason}"
        en += f"; reason: {reason}"
    return zh + "。", en + "."


def _tolerance(ctx: ToolContext) -> Decimal:
    return Decimal(str(ctx.settings.over_issue_tolerance))


def propose_material_document(
    ctx: ToolContext,
    *,
    tool_name: str,
    args: BaseModel,
    mode: str,
    result: IssuePlan,
    location: Location,
    issue_date: date,
    reason: str,
    sets: int | None = None,
) -> MaterialIssueProposalOut:
    """Check a worked-out plan (reason for over-issues, stock) and store it as a proposal."""
    session = ctx.session
    returning = mode == "return"
    tolerance = _tolerance(ctx)
    if not result.allocs:
        raise ToolError(
            "invalid_input",
            "nothing to issue: every component asked for is already issued in full",
            {"field": "lines"},
        )
    lines = planned_lines(session, result, tolerance, returning=returning)
    if not returning:
        require_reason_for_over_issue(lines, reason, tolerance)
        check_stock(session, result.allocs, location, ctx.settings.allow_negative_stock)
    over = any(ln.over_issue for ln in lines)
    orders = list(dict.fromkeys(ln.order for ln in lines))
    subs = _substitutions_out(result)
    zh, en = issue_summaries(mode, orders, lines, location.code, reason, sets)
    kind = RETURN_KIND if returning else (OVER_ISSUE_KIND if over else ISSUE_KIND)
    effect = {
        "mode": mode,
        "location": location.code,
        "issue_date": issue_date.isoformat(),
        "reason": reason,
        "allow_negative": ctx.settings.allow_negative_stock,
        "over_issue_tolerance": str(tolerance),
        "lines": [ln.model_dump(mode="json") for ln in lines],
        "substitutions": [s.model_dump(mode="json") for s in subs],
    }
    base = create_proposal(
        ctx,
        kind=kind,
        tool=tool_name,
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master", "bom"),
    )
    return MaterialIssueProposalOut(
        **base.model_dump(),
        mode=mode,
        location=location.code,
        issue_date=issue_date,
        reason=reason,
        over_issue=over,
        lines=lines,
        substitutions=subs,
    )


def _apply_material(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    effect = proposal.effect
    lines = [PlannedIssueLine.model_validate(x) for x in effect.get("lines", [])]
    _apply_substitutions(
        session, [PlannedSubstitution.model_validate(x) for x in effect.get("substitutions", [])]
    )
    return post_material(
        session,
        actor,
        mode=str(effect["mode"]),
        lines=lines,
        location_code=str(effect["location"]),
        issue_date=date.fromisoformat(str(effect["issue_date"])),
        reason=str(effect.get("reason", "")),
        proposal_id=proposal.id,
        allow_negative=bool(effect.get("allow_negative", False)),
        allow_over=proposal.kind == OVER_ISSUE_KIND,
        tolerance=Decimal(str(effect.get("over_issue_tolerance", "0"))),
    )


applier(ISSUE_KIND, roles=("warehouse",), domains=("stock", "production"))(_apply_material)
applier(OVER_ISSUE_KIND, roles=OVER_ISSUE_ROLES, domains=("stock", "production"))(_apply_material)
applier(RETURN_KIND, roles=("warehouse",), domains=("stock", "production"))(_apply_material)


def _order_for_issue(session: Session, code: str, field_name: str = "order") -> OrderPlan:
    order = find_order(session, code, field_name)
    require_own_production(order, field_name)
    require_status(order, ISSUABLE, "issue material", field_name)
    return load_order_plan(session, order)


def plan_lines(
    ctx: ToolContext,
    result: IssuePlan,
    plans: Sequence[OrderPlan],
    lines: Sequence[IssueLineIn],
    merged: bool = False,
) -> None:
    """Work out input lines against one order, or (``merged``) several by due date then code."""
    session = ctx.session
    for index, line in enumerate(lines):
        fld = f"lines.{index}"
        item = find_item(session, line.item, f"{fld}.item")
        check_uom(item, line.uom, f"{fld}.uom")
        if line.substitute_for:
            if merged or item.phantom:
                raise ToolError(
                    "invalid_input",
                    f"{fld}.substitute_for: substitutes are issued to one order at a time",
                    {"field": f"{fld}.substitute_for"},
                )
            primary = find_item(session, line.substitute_for, f"{fld}.substitute_for")
            row = plan_substitution(
                session, result, plans[0], primary, item, f"{fld}.substitute_for", ctx.today, sub_qty=line.qty
            )
            left = fill_rows(result, plans[0], [row], line.qty, f"{fld}.qty", None)
            if left > 0:
                result.add(plans[0], row, left, f"{fld}.qty", None)
            continue
        parts = explode_phantom(session, item, line.qty, ctx.today) if item.phantom else [(item, line.qty)]
        via = item if item.phantom else None
        for comp, qty in parts:
            if not merged:
                allocate(result, plans[0], comp, qty, f"{fld}.qty", via)
                continue
            users = [p for p in plans if _rows_for(p, comp)]
            if not users:
                raise ToolError(
                    "invalid_input",
                    f"{fld}.item: none of {', '.join(p.code for p in plans)} uses {comp.code}",
                    {"field": f"{fld}.item", "item": comp.code, "orders": [p.code for p in plans]},
                )
            left = qty
            for p in users:
                left = fill_rows(result, p, _rows_for(p, comp), left, f"{fld}.qty", via)
            if left > 0:
                # what no order still needs goes to the last one that uses it, as an over-issue
                result.add(users[-1], _rows_for(users[-1], comp)[0], left, f"{fld}.qty", via)


# ---------------------------------------------------------------- tools


class ProposeMaterialIssueIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code, e.g. MO-12")
    lines: list[IssueLineIn] = Field(min_length=1, max_length=200)
    from_location: str = Field(default="STOCK", max_length=64, description="stock location to issue from")
    issue_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")
    reason: str = Field(default="", max_length=300, description="required when a line is an over-issue")


def _propose_order_issue(
    ctx: ToolContext, args: ProposeMaterialIssueIn, tool_name: str, mode: str, reason: str
) -> MaterialIssueProposalOut:
    """Plan ``args.lines`` for one order from ``args.from_location`` and propose the document."""
    plan = _order_for_issue(ctx.session, args.order)
    loc = internal_location(ctx.session, args.from_location, "from_location")
    result = IssuePlan()
    plan_lines(ctx, result, [plan], args.lines)
    return propose_material_document(
        ctx,
        tool_name=tool_name,
        args=args,
        mode=mode,
        result=result,
        location=loc,
        issue_date=args.issue_date or ctx.today,
        reason=reason,
    )


@tool(kind="propose")
def propose_material_issue(ctx: ToolContext, args: ProposeMaterialIssueIn) -> MaterialIssueProposalOut:
    """Propose issuing components to one production order (分批领料: any part, in as many batches as needed).

    Each line names a component of the order and a quantity in its unit; a phantom kit code (e.g. a
    hardware kit, 五金包) with a number of kits issues the kit's components instead (跳层领料); a BOM
    substitute with `substitute_for` moves that much of the primary component's requirement to it.
    Taking a component beyond its requirement plus the over-issue tolerance is an over-issue: it needs a
    `reason` and a planner's (or manager's) confirmation. The order must be released or in progress.
    Nothing changes until a warehouse user (or a planner, for an over-issue) confirms the proposal.
    """
    return _propose_order_issue(ctx, args, "propose_material_issue", "issue", args.reason)


class ProposeSupplementaryIssueIn(ProposeMaterialIssueIn):
    reason: str = Field(
        min_length=1, max_length=300, description="why more is needed, e.g. 'scrapped 2 rims'"
    )


@tool(kind="propose")
def propose_supplementary_issue(
    ctx: ToolContext, args: ProposeSupplementaryIssueIn
) -> MaterialIssueProposalOut:
    """Propose a supplementary issue (补料) to a production order: material replacing scrap or loss.

    Like propose_material_issue, but a reason is required and recorded on every move. Beyond the
    requirement plus tolerance it is an over-issue that a planner (or manager) must confirm.
    """
    if not args.reason.strip():
        raise ToolError("invalid_input", "reason: a supplementary issue needs a reason", {"field": "reason"})
    return _propose_order_issue(ctx, args, "propose_supplementary_issue", "supplement", args.reason.strip())


class ProposeKitIssueIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    sets: int = Field(gt=0, le=10_000_000, description="number of complete sets (units of the order's item)")
    include_backflush: bool = Field(
        default=False, description="also issue backflush components (normally consumed at completion)"
    )
    from_location: str = Field(default="STOCK", max_length=64)
    issue_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")


@tool(kind="propose")
def propose_kit_issue(ctx: ToolContext, args: ProposeKitIssueIn) -> MaterialIssueProposalOut:
    """Propose a kit issue (配套领料): exactly what `sets` complete units need of every component.

    Each component gets sets × its requirement per unit, limited by what is still to issue to it.
    Backflush components are left to completion unless `include_backflush`. Nothing changes until a
    warehouse user confirms.
    """
    session = ctx.session
    plan = _order_for_issue(session, args.order)
    loc = internal_location(session, args.from_location, "from_location")
    result = IssuePlan()
    rows = [r for r in plan.rows if args.include_backflush or r.issue_method != "backflush"]
    for group in substitute_groups(session, plan, rows, ctx.today):
        # a component and its substitutes share one need: the primary is picked first
        need = sum((r.required / ratio for r, ratio in group), Decimal(0)) * args.sets / dec(plan.order.qty)
        for row, ratio in group:
            qty = min(q6(need * ratio), row.remaining)
            result.add(plan, row, qty, "sets", None)
            need -= qty / ratio
    if not result.allocs:
        raise ToolError(
            "invalid_input",
            f"sets: nothing left to issue to {plan.code} for {args.sets} set(s)",
            {"record": plan.code, "field": "sets"},
        )
    return propose_material_document(
        ctx,
        tool_name="propose_kit_issue",
        args=args,
        mode="kit",
        result=result,
        location=loc,
        issue_date=args.issue_date or ctx.today,
        reason="",
        sets=args.sets,
    )


class ProposeMergedIssueIn(BaseModel):
    orders: list[str] = Field(min_length=1, max_length=100, description="production order codes")
    lines: list[IssueLineIn] | None = Field(
        default=None,
        description="total quantity per item over the orders; omit to issue everything still to issue "
        "(backflush components excepted) to every order",
    )
    from_location: str = Field(default="STOCK", max_length=64)
    issue_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")
    reason: str = Field(default="", max_length=300, description="required if some quantity is an over-issue")


@tool(kind="propose")
def propose_merged_issue(ctx: ToolContext, args: ProposeMergedIssueIn) -> MaterialIssueProposalOut:
    """Propose one material issue covering several production orders (多张任务单合并领料).

    Each line's total is allocated back to the orders by due date, then order code: the earliest due
    order gets what it still needs first. A quantity no order still needs goes to the last order that
    uses the item as an over-issue (reason and planner's confirmation needed). Without lines, every order
    gets all it still needs of its non-backflush components. One document, one move per order and component.
    """
    session = ctx.session
    codes = list(dict.fromkeys(args.orders))
    plans = [_order_for_issue(session, c, f"orders.{i}") for i, c in enumerate(codes)]
    plans.sort(key=lambda p: (p.order.due_date, p.code))
    loc = internal_location(session, args.from_location, "from_location")
    result = IssuePlan()
    if args.lines:
        plan_lines(ctx, result, plans, args.lines, merged=True)
    else:
        for p in plans:
            for row in p.rows:
                if row.issue_method != "backflush":
                    result.add(p, row, row.remaining, "orders", None)
    return propose_material_document(
        ctx,
        tool_name="propose_merged_issue",
        args=args,
        mode="merged",
        result=result,
        location=loc,
        issue_date=args.issue_date or ctx.today,
        reason=args.reason,
    )


class ReturnLineIn(BaseModel):
    item: str = Field(min_length=1, max_length=64, description="component code")
    qty: Num = Field(gt=0, description="quantity in the item's unit of measure")
    uom: str | None = Field(default=None, max_length=20)


class ProposeMaterialReturnIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: str = Field(
        min_length=1, max_length=300, description="why it comes back, e.g. 'surplus', 'defective'"
    )
    to_location: str = Field(default="STOCK", max_length=64, description="stock location it goes back to")
    return_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")


@tool(kind="propose")
def propose_material_return(ctx: ToolContext, args: ProposeMaterialReturnIn) -> MaterialIssueProposalOut:
    """Propose returning issued material from a production order to stock (退料), with a reason.

    At most what the order holds of a component can come back; it is valued at the cost the order was
    charged for it. Allowed while the order is released, in progress or completed. Nothing changes until a
    warehouse user confirms.
    """
    session = ctx.session
    order = find_order(session, args.order)
    require_own_production(order)
    require_status(order, RETURNABLE, "take a return")
    if not args.reason.strip():
        raise ToolError("invalid_input", "reason: a return needs a reason", {"field": "reason"})
    plan = load_order_plan(session, order)
    loc = internal_location(session, args.to_location, "to_location")
    result = IssuePlan()
    for index, line in enumerate(args.lines):
        fld = f"lines.{index}"
        item = find_item(session, line.item, f"{fld}.item")
        check_uom(item, line.uom, f"{fld}.uom")
        rows = [r for r in plan.rows if r.item.id == item.id]
        if not rows:
            raise not_a_component(plan, item, f"{fld}.item")
        rows.sort(key=lambda r: (r.issue_method != "backflush", r.id or 0), reverse=True)
        left = line.qty
        for row in rows:
            take = min(row.issued - row.planned, left)
            if take > 0:
                result.add(plan, row, take, f"{fld}.qty", None)
                left -= take
        if left > 0:
            held = sum((r.issued for r in rows), Decimal(0))
            raise ToolError(
                "invalid_input",
                f"{fld}.qty: {plan.code} holds {fmt_qty(held)} {item.uom} {item.code}: cannot return "
                f"{fmt_qty(line.qty)}",
                {"record": plan.code, "field": f"{fld}.qty", "item": item.code, "issued": float(held)},
            )
    return propose_material_document(
        ctx,
        tool_name="propose_material_return",
        args=args,
        mode="return",
        result=result,
        location=loc,
        issue_date=args.return_date or ctx.today,
        reason=args.reason.strip(),
    )
