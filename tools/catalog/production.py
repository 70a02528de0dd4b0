"""Production order tools: progress, release, completion receipts with backflush, close, cancel, rework.

Completion receipts post PRODUCTION → STOCK (QC when the item needs inspection) moves, move_type
``production_receipt``, doc_type ``production_order``, valued at the order's material cost per unit:
each component's requirement per unit × the average cost the order was charged for it (its moving
average while nothing of it has been charged; a rework order counts only the reworked item itself, so the
rework material stays the rework order's own cost). An order without components is received at the item's
standard cost. A semi-finished order can hand its output straight to the order that consumes it
(半成品流转不入库): no stock move, the receipt records the parent order and the parent's component is
issued at the receipt's unit cost.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, select

from data_model.stock import fmt_qty, location_by_code
from data_model.tables import (
    CompletionReceipt,
    Item,
    Location,
    MaterialIssue,
    ProductionOrder,
    ProductionOrderComponent,
    Proposal,
    ReworkOrigin,
)
from tools.catalog.material_issue import (
    ISSUABLE,
    IssuePlan,
    OrderPlan,
    PlannedIssueLine,
    RowPlan,
    bom_in_force,
    check_stock,
    check_uom,
    component_charges,
    dec,
    derive_requirements,
    fill_rows,
    find_item,
    find_order,
    group_targets,
    internal_location,
    items_by_id,
    load_order_plan,
    not_a_component,
    order_material_lines,
    order_row_cost,
    over_issued_rows,
    plan_substitution,
    planned_lines,
    post_material,
    post_order_move,
    q6,
    require_own_production,
    require_status,
    set_status,
    start_order,
    substitute_groups,
)
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num

RELEASE_KIND = "production_release"
CLOSE_KIND = "production_close"
CANCEL_KIND = "production_cancel"
RECEIPT_KIND = "completion_receipt"
REWORK_KIND = "rework_order"
RECEIPT_PREFIX = "CR-"
REWORK_PREFIX = "RW-"


# ---------------------------------------------------------------- valuation


def receipt_unit_cost(session: Session, order: ProductionOrder) -> Decimal:
    """The order's material cost per unit so far (the rule in the module docstring)."""
    comps = list(
        session.exec(
            select(ProductionOrderComponent)
            .where(ProductionOrderComponent.production_order_id == order.id)
            .order_by(ProductionOrderComponent.id)
        ).all()
    )
    if order.kind == "rework":
        comps = [c for c in comps if c.item_id == order.item_id]
    if not comps:
        item = session.get(Item, order.item_id)
        return dec(item.unit_cost if item else 0)
    charges = component_charges(session, order)
    total = sum(
        (dec(c.required_qty) / dec(order.qty) * order_row_cost(session, order, c, charges) for c in comps),
        Decimal(0),
    )
    return q6(total)


# ---------------------------------------------------------------- reading


class GetProductionOrderIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code, e.g. MO-12")


class ComponentProgress(BaseModel):
    item: str
    item_name: str
    uom: str
    issue_method: str = Field(description="manual | kit | backflush (consumed at completion)")
    substitute_for: str | None = Field(description="the component this substitute replaces")
    per_unit: Num = Field(description="requirement per unit of the order, scrap included")
    required: Num
    issued: Num = Field(description="net of returns; includes semi-finished flows in")
    remaining: Num = Field(description="still to issue (0 when over-issued)")
    over_issued: Num = Field(description="issued beyond the requirement")
    unit_cost: Num = Field(description="average cost charged to the order (moving average if none yet)")


class IssueLineOut(BaseModel):
    item: str
    qty: Num
    unit_cost: Num
    over_issue: bool
    substitute_for: str | None
    via_phantom: str | None


class IssueDocOut(BaseModel):
    code: str
    mode: str = Field(description="issue | kit | merged | supplement | return | backflush | flow")
    date: date
    location: str | None
    reason: str
    actor: str
    lines: list[IssueLineOut] = Field(description="this order's lines of the document")


class ReceiptOut(BaseModel):
    code: str
    date: date
    qty: Num
    unit_cost: Num
    to_location: str
    into_order: str | None = Field(description="the parent order it flowed into (no stock-in)")
    backflush_issue: str | None


class ReworkOriginOut(BaseModel):
    source: str
    source_ref: str
    reason: str
    original_order: str | None


class GetProductionOrderOut(BaseModel):
    code: str
    kind: str
    item: str
    item_name: str
    uom: str
    qty: Num
    completed_qty: Num
    open_qty: Num
    status: str
    start_date: date | None
    due_date: date
    priority: int
    parent_order: str | None = Field(description="the order this one feeds (semi-finished) or reworks")
    sub_orders: list[str] = Field(description="orders feeding or reworking this one")
    components: list[ComponentProgress]
    issues: list[IssueDocOut]
    receipts: list[ReceiptOut]
    material_cost: Num = Field(description="net value of material charged: issues + flows in - returns")
    received_value: Num = Field(description="value of the output received so far")
    rework_origin: ReworkOriginOut | None


@tool(kind="read")
def get_production_order(ctx: ToolContext, args: GetProductionOrderIn) -> GetProductionOrderOut:
    """One production (or rework, subcontract) order's progress: every component's requirement, what
    was issued and what remains, the material documents (issues, kits, backflush, returns), completion
    receipts and their unit cost, the material cost so far and its status. Quantities are in each item's
    unit of measure."""
    session = ctx.session
    order = find_order(session, args.order)
    plan = load_order_plan(session, order)
    charges = component_charges(session, order)
    components = []
    for row in plan.rows:
        components.append(
            ComponentProgress(
                item=row.item.code,
                item_name=row.item.name,
                uom=row.item.uom,
                issue_method=row.issue_method,
                substitute_for=row.substitute_for.code if row.substitute_for else None,
                per_unit=q6(row.required / dec(order.qty)),
                required=row.required,
                issued=row.issued,
                remaining=max(row.required - row.issued, Decimal(0)),
                over_issued=max(row.issued - row.required, Decimal(0)),
                unit_cost=order_row_cost(session, order, row, charges),
            )
        )
    docs: dict[int, IssueDocOut] = {}
    lines = order_material_lines(session, [order.id or 0])
    doc_rows = {
        d.id: d
        for d in session.exec(
            select(MaterialIssue).where(MaterialIssue.id.in_({ln.material_issue_id for ln, _ in lines}))
        ).all()
    }
    locs = {loc.id: loc.code for loc in session.exec(select(Location)).all()}
    items = items_by_id(
        session,
        [ln.item_id for ln, _ in lines]
        + [ln.substitute_for_id or 0 for ln, _ in lines]
        + [ln.via_phantom_id or 0 for ln, _ in lines],
    )
    value = Decimal(0)
    for ln, mode in lines:
        doc = doc_rows[ln.material_issue_id]
        out = docs.get(doc.id or 0)
        if out is None:
            out = IssueDocOut(
                code=doc.code,
                mode=mode,
                date=doc.issue_date,
                location=locs.get(doc.location_id),
                reason=doc.reason,
                actor=doc.actor,
                lines=[],
            )
            docs[doc.id or 0] = out
        out.lines.append(
            IssueLineOut(
                item=items[ln.item_id].code,
                qty=dec(ln.qty),
                unit_cost=dec(ln.unit_cost),
                over_issue=ln.over_issue,
                substitute_for=items[ln.substitute_for_id].code if ln.substitute_for_id else None,
                via_phantom=items[ln.via_phantom_id].code if ln.via_phantom_id else None,
            )
        )
        value += (-1 if mode == "return" else 1) * dec(ln.qty) * dec(ln.unit_cost)
    receipts_rows = session.exec(
        select(CompletionReceipt)
        .where(CompletionReceipt.production_order_id == order.id)
        .order_by(CompletionReceipt.id)
    ).all()
    related = session.exec(
        select(ProductionOrder).where(
            (ProductionOrder.parent_order_id == order.id)
            | (ProductionOrder.id.in_([r.into_order_id for r in receipts_rows if r.into_order_id]))
            | (ProductionOrder.id == order.parent_order_id)
        )
    ).all()
    code_of = {o.id: o.code for o in related}
    bf_codes = {
        d.id: d.code
        for d in session.exec(
            select(MaterialIssue).where(MaterialIssue.id.in_([r.backflush_issue_id for r in receipts_rows]))
        ).all()
    }
    receipts = [
        ReceiptOut(
            code=r.code,
            date=r.receipt_date,
            qty=dec(r.qty),
            unit_cost=dec(r.unit_cost),
            to_location=locs.get(r.to_location_id, ""),
            into_order=code_of.get(r.into_order_id) if r.into_order_id else None,
            backflush_issue=bf_codes.get(r.backflush_issue_id) if r.backflush_issue_id else None,
        )
        for r in receipts_rows
    ]
    origin_row = session.exec(
        select(ReworkOrigin).where(ReworkOrigin.production_order_id == order.id)
    ).first()
    origin = None
    if origin_row is not None:
        original = (
            session.get(ProductionOrder, origin_row.original_order_id)
            if origin_row.original_order_id
            else None
        )
        origin = ReworkOriginOut(
            source=origin_row.source,
            source_ref=origin_row.source_ref,
            reason=origin_row.reason,
            original_order=original.code if original else None,
        )
    return GetProductionOrderOut(
        code=order.code,
        kind=order.kind,
        item=plan.item.code,
        item_name=plan.item.name,
        uom=plan.item.uom,
        qty=dec(order.qty),
        completed_qty=dec(order.completed_qty),
        open_qty=max(dec(order.qty) - dec(order.completed_qty), Decimal(0)),
        status=order.status,
        start_date=order.start_date,
        due_date=order.due_date,
        priority=order.priority,
        parent_order=code_of.get(order.parent_order_id) if order.parent_order_id else None,
        sub_orders=sorted(o.code for o in related if o.parent_order_id == order.id),
        components=components,
        issues=list(docs.values()),
        receipts=receipts,
        material_cost=value,
        received_value=sum((dec(r.qty) * dec(r.unit_cost) for r in receipts_rows), Decimal(0)),
        rework_origin=origin,
    )


# ---------------------------------------------------------------- release


class SubstitutionIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    component: str = Field(min_length=1, max_length=64, description="the BOM component to replace")
    substitute: str = Field(min_length=1, max_length=64, description="its BOM substitute")
    qty: Num = Field(gt=0, description="quantity of the component to replace (in the component's unit)")


class ProposeReleaseIn(BaseModel):
    orders: list[str] = Field(min_length=1, max_length=200, description="planned production order codes")
    substitutions: list[SubstitutionIn] = Field(
        default_factory=list, description="substitutes chosen at release (recorded with substitute_for)"
    )


class ReleasedComponent(BaseModel):
    component_id: int | None = Field(description="existing component row; None: created on release")
    item: str
    item_name: str
    uom: str
    required: Num
    issue_method: str
    substitute_for: str | None


class ReleasePlan(BaseModel):
    order: str
    item: str
    qty: Num
    due_date: date
    derived_from_bom: str | None = Field(
        description="BOM version the components were derived from (none: kept)"
    )
    bom_id: int | None = Field(default=None, description="id of that BOM")
    components: list[ReleasedComponent]


class ReleaseProposalOut(ProposalOut):
    orders: list[ReleasePlan]


def _release_plan(
    ctx: ToolContext, order: ProductionOrder, subs: list[tuple[int, SubstitutionIn]]
) -> ReleasePlan:
    session = ctx.session
    plan = load_order_plan(session, order)
    version = None
    bom_id = None
    if not plan.rows:
        bom = bom_in_force(session, order.item_id, ctx.today)
        if bom is not None:
            version, bom_id = bom.version, bom.id
            for item, qty, method in derive_requirements(session, plan.item, dec(order.qty), ctx.today):
                plan.rows.append(
                    RowPlan(
                        id=None,
                        item=item,
                        required=qty,
                        issued=Decimal(0),
                        issue_method=method,
                        substitute_for=None,
                    )
                )
    result = IssuePlan()
    for index, s in subs:
        fld = f"substitutions.{index}"
        primary = find_item(session, s.component, f"{fld}.component")
        sub = find_item(session, s.substitute, f"{fld}.substitute")
        # without a BOM of its own the order's substitutes are looked up in the BOM in force, as derived
        plan_substitution(session, result, plan, primary, sub, fld, ctx.today, primary_qty=s.qty)
    return ReleasePlan(
        order=order.code,
        item=plan.item.code,
        qty=dec(order.qty),
        due_date=order.due_date,
        derived_from_bom=version,
        bom_id=bom_id,
        components=[
            ReleasedComponent(
                component_id=r.id,
                item=r.item.code,
                item_name=r.item.name,
                uom=r.item.uom,
                required=q6(r.required),
                issue_method=r.issue_method,
                substitute_for=r.substitute_for.code if r.substitute_for else None,
            )
            for r in plan.rows
        ],
    )


@tool(kind="propose")
def propose_release_production_orders(ctx: ToolContext, args: ProposeReleaseIn) -> ReleaseProposalOut:
    """Propose releasing planned production orders to the shop floor (planned → released).

    An order without component requirements gets them from the BOM in force today (phantoms exploded
    through to their components). `substitutions` move part of a component's requirement to one of its
    BOM substitutes (qty in the component's unit; the substitute gets qty × its ratio). Nothing changes
    until a planner (or manager) confirms.
    """
    session = ctx.session
    codes = list(dict.fromkeys(args.orders))
    known = set(codes)
    for index, s in enumerate(args.substitutions):
        if s.order not in known:
            raise ToolError(
                "invalid_input",
                f"substitutions.{index}.order: {s.order} is not among the orders",
                {"field": f"substitutions.{index}.order", "record": s.order},
            )
    plans = []
    for index, code in enumerate(codes):
        order = find_order(session, code, f"orders.{index}")
        require_status(order, ("planned",), "be released", f"orders.{index}")
        plans.append(
            _release_plan(ctx, order, [(i, s) for i, s in enumerate(args.substitutions) if s.order == code])
        )
    zh = f"下达 {len(plans)} 张生产订单:" + "、".join(f"{p.order}({p.item} {fmt_qty(p.qty)})" for p in plans)
    en = f"Release {len(plans)} production order(s): " + ", ".join(
        f"{p.order} ({p.item} {fmt_qty(p.qty)})" for p in plans
    )
    if args.substitutions:
        zh += ";替代料:" + "、".join(
            f"{s.order} {s.component}→{s.substitute} {fmt_qty(s.qty)}" for s in args.substitutions
        )
        en += "; substitutes: " + ", ".join(
            f"{s.order} {s.component}→{s.substitute} {fmt_qty(s.qty)}" for s in args.substitutions
        )
    base = create_proposal(
        ctx,
        kind=RELEASE_KIND,
        tool="propose_release_production_orders",
        args=args,
        summary_zh=zh + "。",
        summary_en=en + ".",
        effect={"orders": [p.model_dump(mode="json") for p in plans]},
        read_domains=("master", "bom"),
    )
    return ReleaseProposalOut(**base.model_dump(), orders=plans)


@applier(RELEASE_KIND, roles=("planner",), domains=("production",))
def apply_release(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    released = []
    for raw in proposal.effect.get("orders", []):
        plan = ReleasePlan.model_validate(raw)
        order = find_order(session, plan.order)
        before = order.status
        set_status(order, "released")
        items = {
            i.code: i
            for i in session.exec(select(Item).where(Item.code.in_({c.item for c in plan.components}))).all()
        }
        subs_for = {c.substitute_for for c in plan.components if c.substitute_for}
        items.update({i.code: i for i in session.exec(select(Item).where(Item.code.in_(subs_for))).all()})
        for c in plan.components:
            if c.component_id is not None:
                row = session.get(ProductionOrderComponent, c.component_id)
                if row is None or row.production_order_id != order.id:
                    raise ToolError(
                        "conflict",
                        f"components of {order.code} changed since proposed",
                        {"record": order.code, "field": "components"},
                    )
                row.required_qty = dec(c.required)
            else:
                row = ProductionOrderComponent(
                    production_order_id=order.id or 0,
                    item_id=items[c.item].id or 0,
                    required_qty=dec(c.required),
                    issued_qty=Decimal(0),
                    issue_method=c.issue_method,
                    substitute_for_id=items[c.substitute_for].id if c.substitute_for else None,
                )
            session.add(row)
        if plan.bom_id is not None and order.bom_id is None:
            order.bom_id = plan.bom_id
        session.add(order)
        audit(
            session,
            actor,
            "release",
            entity="production_order",
            entity_ref=order.code,
            proposal_id=proposal.id,
            before={"status": before},
            after={"status": order.status, "components": len(plan.components)},
        )
        released.append({"order": order.code, "status": order.status})
    session.flush()
    return {"orders": released}


# ---------------------------------------------------------------- completion receipts


class ProposeCompletionReceiptIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    qty: Num = Field(gt=0, description="good units finished, in the item's unit")
    uom: str | None = Field(
        default=None, max_length=20, description="unit of qty; must be the item's unit if given"
    )
    into_order: str | None = Field(
        default=None,
        max_length=64,
        description="semi-finished flow (半成品流转不入库): the order that consumes this output directly, "
        "with no stock-in; it must use the item as a component",
    )
    backflush_from: str = Field(
        default="STOCK", max_length=64, description="stock location backflush draws on"
    )
    receipt_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")


class UnissuedComponent(BaseModel):
    item: str
    issued: Num
    needed: Num = Field(description="what the completed quantity needs of it")


class PlannedReceipt(BaseModel):
    order: str
    item: str
    item_name: str
    uom: str
    qty: Num
    order_qty: Num
    completed_before: Num
    completed_after: Num
    final: bool = Field(description="completes the order")
    to_location: str = Field(description="STOCK, QC (inspection required) or PRODUCTION (flow into an order)")
    into_order: str | None
    estimated_unit_cost: Num = Field(
        description="material cost per unit, backflush at today's moving average"
    )
    not_yet_issued: list[UnissuedComponent] = Field(
        default_factory=list,
        description="a warning, not a refusal: components issued less than the completed quantity needs",
    )


class CompletionReceiptProposalOut(ProposalOut):
    receipt: PlannedReceipt
    backflush: list[PlannedIssueLine] = Field(description="components consumed automatically (倒冲领料)")
    flow: list[PlannedIssueLine] = Field(description="the parent order's component it is issued to (flow)")


def plan_backflush(ctx: ToolContext, plan: OrderPlan, completed_after: Decimal) -> IssuePlan:
    """Backflush lines top each backflush component up to what ``completed_after`` units need."""
    result = IssuePlan()
    rows = [r for r in plan.rows if r.issue_method == "backflush"]
    for group in substitute_groups(ctx.session, plan, rows, ctx.today):
        for (row, _ratio), target in zip(group, group_targets(plan, group, completed_after), strict=True):
            result.add(plan, row, target - row.issued, "qty", None)
    return result


@tool(kind="propose")
def propose_completion_receipt(
    ctx: ToolContext, args: ProposeCompletionReceiptIn
) -> CompletionReceiptProposalOut:
    """Propose a completion receipt (完工入库) of finished units of a production order, partial or final.

    The units go to stock (to QC when the item needs inspection), or with `into_order` straight into the
    parent order that consumes them (半成品流转, no stock-in). Backflush components (倒冲领料) are issued
    in the same transaction: each is topped up to what the completed quantity needs. The receipt that
    reaches the order quantity completes the order; more than the order quantity beyond the receipt
    tolerance is refused. Nothing changes until a warehouse user or planner confirms.
    """
    session = ctx.session
    order = find_order(session, args.order)
    require_own_production(order)
    require_status(order, ISSUABLE, "receive output")
    plan = load_order_plan(session, order)
    check_uom(plan.item, args.uom, "uom")
    tolerance = Decimal(str(ctx.settings.receipt_tolerance))
    completed_after = dec(order.completed_qty) + args.qty
    limit = q6(dec(order.qty) * (1 + tolerance))
    if completed_after > limit:
        raise ToolError(
            "invalid_input",
            f"qty: receiving {fmt_qty(args.qty)} would make {fmt_qty(completed_after)} of {order.code}'s "
            f"{fmt_qty(dec(order.qty))} {plan.item.uom} {plan.item.code} completed; the receipt tolerance "
            f"({fmt_qty(tolerance * 100)}%) allows {fmt_qty(limit)} in all",
            {
                "record": order.code,
                "field": "qty",
                "completed": float(dec(order.completed_qty)),
                "order_qty": float(dec(order.qty)),
                "limit": float(limit),
            },
        )
    backflush_loc = internal_location(session, args.backflush_from, "backflush_from")
    backflush = plan_backflush(ctx, plan, completed_after)
    check_stock(session, backflush.allocs, backflush_loc, ctx.settings.allow_negative_stock)
    flow = IssuePlan()
    into = None
    if args.into_order:
        into = find_order(session, args.into_order, "into_order")
        if into.id == order.id:
            raise ToolError(
                "invalid_input",
                "into_order: an order cannot consume its own output",
                {"record": order.code, "field": "into_order"},
            )
        require_own_production(into, "into_order")
        require_status(into, ISSUABLE, "take a semi-finished flow", "into_order")
        parent = load_order_plan(session, into)
        rows = [r for r in parent.rows if r.item.id == plan.item.id]
        if not rows:
            raise not_a_component(parent, plan.item, "into_order")
        left = fill_rows(flow, parent, rows, args.qty, "into_order", None)
        if left > 0:
            flow.add(parent, rows[0], left, "into_order", None)
        over_tol = Decimal(str(ctx.settings.over_issue_tolerance))
        if over_issued_rows(flow, over_tol):
            still = sum((r.required - r.issued for r in rows), Decimal(0))
            raise ToolError(
                "invalid_input",
                f"into_order: {into.code} still needs {fmt_qty(max(still, Decimal(0)))} {plan.item.uom} "
                f"{plan.item.code}, not {fmt_qty(args.qty)}: receive the rest to stock",
                {"record": into.code, "field": "into_order", "still_needed": float(max(still, Decimal(0)))},
            )
    item = plan.item
    to_code = "PRODUCTION" if into else ("QC" if item.inspection_required else "STOCK")
    backflush_lines = planned_lines(session, backflush, Decimal(0))
    flow_lines = planned_lines(session, flow, Decimal(0))
    estimate = receipt_unit_cost(session, order)
    receipt = PlannedReceipt(
        order=order.code,
        item=item.code,
        item_name=item.name,
        uom=item.uom,
        qty=args.qty,
        order_qty=dec(order.qty),
        completed_before=dec(order.completed_qty),
        completed_after=completed_after,
        final=completed_after >= dec(order.qty),
        to_location=to_code,
        into_order=into.code if into else None,
        estimated_unit_cost=estimate,
        not_yet_issued=[
            UnissuedComponent(item=r.item.code, issued=r.issued, needed=needed)
            for r in plan.rows
            if r.issue_method != "backflush"
            and (needed := q6(r.required * completed_after / dec(order.qty))) > r.issued
        ],
    )
    zh, en = _receipt_summaries(receipt, backflush_lines)
    effect = {
        "receipt": receipt.model_dump(mode="json"),
        "receipt_date": (args.receipt_date or ctx.today).isoformat(),
        "backflush_from": backflush_loc.code,
        "backflush": [ln.model_dump(mode="json") for ln in backflush_lines],
        "flow": [ln.model_dump(mode="json") for ln in flow_lines],
        "allow_negative": ctx.settings.allow_negative_stock,
        "receipt_tolerance": str(tolerance),
        "over_issue_tolerance": str(ctx.settings.over_issue_tolerance),
    }
    base = create_proposal(
        ctx,
        kind=RECEIPT_KIND,
        tool="propose_completion_receipt",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("master", "bom"),
    )
    return CompletionReceiptProposalOut(
        **base.model_dump(), receipt=receipt, backflush=backflush_lines, flow=flow_lines
    )


def _receipt_summaries(r: PlannedReceipt, backflush: list[PlannedIssueLine]) -> tuple[str, str]:
    qty = f"{r.item} {fmt_qty(r.qty)} {r.uom}"
    if r.into_order:
        zh = f"{r.order} 完工 {qty} 直接转入 {r.into_order}(半成品流转,不入库)"
        en = f"Complete {qty} on {r.order} straight into {r.into_order} (semi-finished flow, no stock-in)"
    else:
        zh = f"{r.order} 完工入库 {qty} 到 {r.to_location}"
        en = f"Receive {qty} completed on {r.order} into {r.to_location}"
    if backflush:
        zh += ";倒冲 " + "、".join(f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}" for ln in backflush)
        en += "; backflush " + ", ".join(f"{ln.item} {fmt_qty(ln.qty)} {ln.uom}" for ln in backflush)
    done = f"{fmt_qty(r.completed_after)}/{fmt_qty(r.order_qty)}"
    zh += f";完工 {done}" + (",订单完工" if r.final else "")
    en += f"; {done} completed" + (", order complete" if r.final else "")
    return zh + "。", en + "."


@applier(RECEIPT_KIND, roles=("warehouse", "planner"), domains=("stock", "production"))
def apply_completion_receipt(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    effect = proposal.effect
    planned = PlannedReceipt.model_validate(effect["receipt"])
    on = date.fromisoformat(str(effect["receipt_date"]))
    allow_negative = bool(effect.get("allow_negative", False))
    order = find_order(session, planned.order)
    require_status(order, ISSUABLE, "receive output")
    qty = dec(planned.qty)
    completed_after = dec(order.completed_qty) + qty
    if completed_after > q6(dec(order.qty) * (1 + Decimal(str(effect.get("receipt_tolerance", "0"))))):
        raise ToolError(
            "conflict",
            f"{order.code} was received since proposed: ask for a new receipt",
            {"record": order.code, "field": "completed_qty"},
        )
    item = session.get(Item, order.item_id)
    assert item is not None
    result: dict[str, Any] = {}
    backflush_doc = None
    backflush = [PlannedIssueLine.model_validate(x) for x in effect.get("backflush", [])]
    if backflush:
        result["backflush"] = post_material(
            session,
            actor,
            mode="backflush",
            lines=backflush,
            location_code=str(effect["backflush_from"]),
            issue_date=on,
            reason="",
            proposal_id=proposal.id,
            allow_negative=allow_negative,
            allow_over=True,
            tolerance=Decimal(0),
        )
        backflush_doc = session.exec(
            select(MaterialIssue).where(MaterialIssue.code == result["backflush"]["code"])
        ).one()
    unit_cost = receipt_unit_cost(session, order)
    move_id = None
    into = None
    if planned.into_order:
        into = find_order(session, planned.into_order)
        result["flow"] = post_material(
            session,
            actor,
            mode="flow",
            lines=[PlannedIssueLine.model_validate(x) for x in effect.get("flow", [])],
            location_code="PRODUCTION",
            issue_date=on,
            reason=f"{planned.order} → {planned.into_order}",
            proposal_id=proposal.id,
            allow_negative=allow_negative,
            allow_over=False,
            tolerance=Decimal(str(effect.get("over_issue_tolerance", "0"))),
            flow_unit_cost=unit_cost,
        )
        to_loc = location_by_code(session, "PRODUCTION")
    else:
        to_loc = location_by_code(session, planned.to_location)
        move = post_order_move(
            session,
            item,
            qty,
            "PRODUCTION",
            to_loc.code,
            "production_receipt",
            on,
            order.code,
            unit_cost,
            actor,
            "",
            allow_negative,
        )
        move_id = move.id
    code = next_codes(session, CompletionReceipt.code, RECEIPT_PREFIX, 1)[0]
    session.add(
        CompletionReceipt(
            code=code,
            production_order_id=order.id or 0,
            qty=qty,
            receipt_date=on,
            unit_cost=unit_cost,
            to_location_id=to_loc.id or 0,
            into_order_id=into.id if into else None,
            stock_move_id=move_id,
            backflush_issue_id=backflush_doc.id if backflush_doc else None,
            actor=actor.username,
            proposal_id=proposal.id,
        )
    )
    before = {"status": order.status, "completed_qty": float(dec(order.completed_qty))}
    order.completed_qty = completed_after
    if completed_after >= dec(order.qty):
        set_status(order, "completed")
    else:
        start_order(session, order)
    session.add(order)
    session.flush()
    record = {
        "code": code,
        "order": order.code,
        "item": item.code,
        "qty": float(qty),
        "unit_cost": float(unit_cost),
        "to_location": to_loc.code,
        "into_order": into.code if into else None,
        "completed_qty": float(completed_after),
        "status": order.status,
    }
    audit(
        session,
        actor,
        "receive",
        entity="completion_receipt",
        entity_ref=code,
        proposal_id=proposal.id,
        before=before,
        after=record,
    )
    result["receipt"] = record
    return result


# ---------------------------------------------------------------- close and cancel


class ProposeCloseIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    reason: str = Field(default="", max_length=300, description="required to close an order short")


class LeftoverOut(BaseModel):
    item: str
    qty: Num = Field(description="issued beyond what the completed quantity needs: return it before closing")


class CloseProposalOut(ProposalOut):
    order: str
    order_status: str
    completed_qty: Num
    qty: Num
    short: bool = Field(description="closed before the order quantity was completed")
    leftover: list[LeftoverOut]


@tool(kind="propose")
def propose_close_production_order(ctx: ToolContext, args: ProposeCloseIn) -> CloseProposalOut:
    """Propose closing a production order (completed → closed); nothing can be issued or received after.

    A released or in-progress order can be closed short with a `reason` (it is completed first, at the
    quantity received so far). `leftover` lists material issued beyond what the completed quantity needs,
    which should normally be returned first (propose_material_return). A planner (or manager) confirms.
    """
    session = ctx.session
    order = find_order(session, args.order)
    require_status(order, ("released", "in_progress", "completed"), "be closed")
    short = order.status != "completed"
    if short and not args.reason.strip():
        raise ToolError(
            "invalid_input",
            f"reason: {order.code} is {order.status} with {fmt_qty(dec(order.completed_qty))} of "
            f"{fmt_qty(dec(order.qty))} completed: closing it short needs a reason",
            {"record": order.code, "field": "reason"},
        )
    plan = load_order_plan(session, order)
    leftover = []
    for row in plan.rows:
        used = q6(row.required * dec(order.completed_qty) / dec(order.qty))
        if row.issued > used:
            leftover.append(LeftoverOut(item=row.item.code, qty=row.issued - used))
    extra_zh = f"(提前关闭,原因:{args.reason})" if short else ""
    extra_en = f" short (reason: {args.reason})" if short else ""
    zh = f"关闭生产订单 {order.code}{extra_zh},完工 {fmt_qty(dec(order.completed_qty))}/{fmt_qty(dec(order.qty))}。"
    en = f"Close production order {order.code}{extra_en}, {fmt_qty(dec(order.completed_qty))}/{fmt_qty(dec(order.qty))} completed."
    base = create_proposal(
        ctx,
        kind=CLOSE_KIND,
        tool="propose_close_production_order",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={"order": order.code, "reason": args.reason, "short": short},
    )
    return CloseProposalOut(
        **base.model_dump(),
        order=order.code,
        order_status=order.status,
        completed_qty=dec(order.completed_qty),
        qty=dec(order.qty),
        short=short,
        leftover=leftover,
    )


@applier(CLOSE_KIND, roles=("planner",), domains=("production",))
def apply_close(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    order = find_order(session, str(proposal.effect["order"]))
    before = order.status
    if order.status in ("released", "in_progress"):
        set_status(order, "completed")
    set_status(order, "closed")
    session.add(order)
    audit(
        session,
        actor,
        "close",
        entity="production_order",
        entity_ref=order.code,
        proposal_id=proposal.id,
        before={"status": before},
        after={"status": "closed", "reason": proposal.effect.get("reason", "")},
    )
    session.flush()
    return {"order": order.code, "status": order.status}


class ProposeCancelIn(BaseModel):
    order: str = Field(min_length=1, max_length=64, description="production order code")
    reason: str = Field(min_length=1, max_length=300)


class CancelProposalOut(ProposalOut):
    order: str
    order_status: str


@tool(kind="propose")
def propose_cancel_production_order(ctx: ToolContext, args: ProposeCancelIn) -> CancelProposalOut:
    """Propose cancelling a planned or released production order that has no material issued and
    nothing received (return issued material first). A planner (or manager) confirms."""
    session = ctx.session
    order = find_order(session, args.order)
    require_status(order, ("planned", "released"), "be cancelled")
    plan = load_order_plan(session, order)
    held = [r for r in plan.rows if r.issued > 0]
    if dec(order.completed_qty) > 0 or held:
        what = ", ".join(f"{r.item.code} {fmt_qty(r.issued)}" for r in held) or "output received"
        raise ToolError(
            "conflict",
            f"{order.code} has material issued or output received ({what}): return the material first, "
            "or close the order short instead",
            {"record": order.code, "field": "components" if held else "completed_qty"},
        )
    zh = f"取消生产订单 {order.code}({plan.item.code} {fmt_qty(dec(order.qty))}),原因:{args.reason}。"
    en = f"Cancel production order {order.code} ({plan.item.code} {fmt_qty(dec(order.qty))}); reason: {args.reason}."
    base = create_proposal(
        ctx,
        kind=CANCEL_KIND,
        tool="propose_cancel_production_order",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={"order": order.code, "reason": args.reason},
    )
    return CancelProposalOut(**base.model_dump(), order=order.code, order_status=order.status)


@applier(CANCEL_KIND, roles=("planner",), domains=("production",))
def apply_cancel(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    order = find_order(session, str(proposal.effect["order"]))
    before = order.status
    set_status(order, "cancelled")
    session.add(order)
    audit(
        session,
        actor,
        "cancel",
        entity="production_order",
        entity_ref=order.code,
        proposal_id=proposal.id,
        before={"status": before},
        after={"status": "cancelled", "reason": proposal.effect.get("reason", "")},
    )
    session.flush()
    return {"order": order.code, "status": order.status}


# ---------------------------------------------------------------- rework


class ReworkMaterialIn(BaseModel):
    item: str = Field(min_length=1, max_length=64)
    qty: Num = Field(gt=0, description="quantity for the whole rework order, in the item's unit")
    uom: str | None = Field(default=None, max_length=20)


class ProposeReworkOrderIn(BaseModel):
    original_order: str | None = Field(
        default=None, max_length=64, description="the order that made the units"
    )
    item: str | None = Field(
        default=None, max_length=64, description="item to rework (default: the original's)"
    )
    qty: Num = Field(gt=0, description="units to rework")
    reason: str = Field(min_length=1, max_length=300, description="the defect, e.g. 'brake squeaks'")
    source: Literal["inspection", "customer_return", "other"] = Field(
        default="customer_return", description="a failed inspection or a returned product"
    )
    source_ref: str = Field(default="", max_length=200, description="inspection or return reference")
    due_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")
    materials: list[ReworkMaterialIn] = Field(
        default_factory=list, description="extra material the rework needs"
    )


class ReworkComponent(BaseModel):
    item: str
    uom: str
    required: Num


class ReworkProposalOut(ProposalOut):
    item: str
    qty: Num
    due_date: date
    original_order: str | None
    components: list[ReworkComponent] = Field(description="the units themselves, then the rework material")


@tool(kind="propose")
def propose_rework_order(ctx: ToolContext, args: ProposeReworkOrderIn) -> ReworkProposalOut:
    """Propose a rework order (返修生产, kind rework, code RW-…) for units that failed inspection or came back.

    Give the original production order (its item is reworked), or an item, and the quantity and reason.
    The order is released with the units themselves as its first component (issue them from stock, or from
    QC after a failed inspection) plus any rework `materials`; its material is its own cost, and its
    completion receipt returns the units at the cost they were issued at. A planner, quality user or
    manager confirms.
    """
    session = ctx.session
    original = find_order(session, args.original_order, "original_order") if args.original_order else None
    if original is None and not args.item:
        raise ToolError("invalid_input", "give original_order or item", {"field": "item"})
    item = (
        find_item(session, args.item, "item")
        if args.item
        else session.get(Item, original.item_id if original else 0)
    )
    assert item is not None
    if original is not None:
        if original.item_id != item.id:
            raise ToolError(
                "invalid_input",
                f"item: {original.code} made another item than {item.code}",
                {"record": original.code, "field": "item"},
            )
        if args.qty > dec(original.completed_qty):
            raise ToolError(
                "invalid_input",
                f"qty: {original.code} completed {fmt_qty(dec(original.completed_qty))} {item.uom}: cannot rework "
                f"{fmt_qty(args.qty)} of them",
                {"record": original.code, "field": "qty", "completed": float(dec(original.completed_qty))},
            )
    components = [ReworkComponent(item=item.code, uom=item.uom, required=args.qty)]
    for index, m in enumerate(args.materials):
        mat = find_item(session, m.item, f"materials.{index}.item")
        check_uom(mat, m.uom, f"materials.{index}.uom")
        if mat.phantom:
            raise ToolError(
                "invalid_input",
                f"materials.{index}.item: {mat.code} is a phantom; list its components",
                {"field": f"materials.{index}.item"},
            )
        components.append(ReworkComponent(item=mat.code, uom=mat.uom, required=m.qty))
    due = args.due_date or ctx.today
    what = f"{item.code} {fmt_qty(args.qty)} {item.uom}"
    src = f"(来自 {original.code})" if original else ""
    zh = f"新建返修单 {what}{src},原因:{args.reason}"
    en = (
        f"Create a rework order for {what}"
        + (f" from {original.code}" if original else "")
        + f"; reason: {args.reason}"
    )
    if args.materials:
        zh += ";返修用料 " + "、".join(f"{c.item} {fmt_qty(c.required)}" for c in components[1:])
        en += "; material " + ", ".join(f"{c.item} {fmt_qty(c.required)}" for c in components[1:])
    effect = {
        "item": item.code,
        "qty": str(args.qty),
        "due_date": due.isoformat(),
        "today": ctx.today.isoformat(),
        "original_order": original.code if original else None,
        "priority": original.priority if original else 5,
        "reason": args.reason,
        "source": args.source,
        "source_ref": args.source_ref,
        "components": [c.model_dump(mode="json") for c in components],
    }
    base = create_proposal(
        ctx,
        kind=REWORK_KIND,
        tool="propose_rework_order",
        args=args,
        summary_zh=zh + "。",
        summary_en=en + ".",
        effect=effect,
        read_domains=("master",),
    )
    return ReworkProposalOut(
        **base.model_dump(),
        item=item.code,
        qty=args.qty,
        due_date=due,
        original_order=original.code if original else None,
        components=components,
    )


@applier(REWORK_KIND, roles=("planner", "quality"), domains=("production",))
def apply_rework(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    effect = proposal.effect
    item = find_item(session, str(effect["item"]), "item")
    original = find_order(session, str(effect["original_order"])) if effect.get("original_order") else None
    code = next_codes(session, ProductionOrder.code, REWORK_PREFIX, 1)[0]
    order = ProductionOrder(
        code=code,
        kind="rework",
        item_id=item.id or 0,
        qty=Decimal(str(effect["qty"])),
        completed_qty=Decimal(0),
        start_date=date.fromisoformat(str(effect["today"])),
        due_date=date.fromisoformat(str(effect["due_date"])),
        status="released",
        priority=int(effect.get("priority", 5)),
        parent_order_id=original.id if original else None,
        proposal_id=proposal.id,
    )
    session.add(order)
    session.flush()
    for raw in effect.get("components", []):
        comp = ReworkComponent.model_validate(raw)
        session.add(
            ProductionOrderComponent(
                production_order_id=order.id or 0,
                item_id=find_item(session, comp.item, "item").id or 0,
                required_qty=dec(comp.required),
                issued_qty=Decimal(0),
                issue_method="manual",
            )
        )
    session.add(
        ReworkOrigin(
            production_order_id=order.id or 0,
            original_order_id=original.id if original else None,
            source=str(effect.get("source", "other")),
            source_ref=str(effect.get("source_ref", "")),
            reason=str(effect.get("reason", "")),
        )
    )
    session.flush()
    record = {
        "code": code,
        "kind": "rework",
        "item": item.code,
        "qty": float(dec(order.qty)),
        "status": "released",
        "original_order": original.code if original else None,
        "reason": effect.get("reason", ""),
    }
    audit(
        session,
        actor,
        "create",
        entity="production_order",
        entity_ref=code,
        proposal_id=proposal.id,
        after=record,
    )
    return {"order": record}
