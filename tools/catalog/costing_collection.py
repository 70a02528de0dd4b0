"""Costing tools that write: labor reports, cost collection, hand-entered figures, overhead, closing a period.

Cost collection (成本归集) fills each order's cost inputs of a month from its documents, by the rules of
planning.costing_collection: material from the ledger moves of its issues and returns (doc_type
``production_order``; a subcontract order's material consumed and scrapped at the subcontractor, doc_type
``subcontract_order``) and semi-finished flows, labor from labor reports, subcontract fees from subcontract
receipts, completed quantities from completion and subcontract receipts, WIP from what was open at the month
end, opening WIP from the previous month's closing. Every figure records its source; hand-entered figures
are kept. Overhead pools are entered, imported from the dataset sheet ``costing_overhead_pools``, or built
from general-ledger voucher lines through account mappings. Closing (一键智能核算) checks the period, costs it
bottom-up, stores the results and locks the period; only a manager or admin reopens it.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field, ValidationError
from sqlmodel import Session, col, select

from data_model.base import utcnow
from data_model.states import StateError, transition
from data_model.tables import (
    AccountMapping,
    CompletionReceipt,
    CostFigureSource,
    CostPeriod,
    CostResult,
    CostRun,
    Item,
    LaborReport,
    Location,
    MaterialIssue,
    MaterialIssueLine,
    OrderCostInput,
    OverheadPool,
    ProductionOrder,
    Proposal,
    StockMove,
    SubcontractTerms,
    Supplier,
    WorkCenter,
)
from data_model.tables.inventory import INTERNAL_KINDS
from planning import costing as pc
from planning import costing_collection as cc
from planning.errors import InvalidInputError
from tools.catalog.costing import (
    CostProblemOut,
    PeriodCosting,
    cost_period_live,
    current_run,
    find_period,
    require_period,
)
from tools.catalog.material_issue import find_order
from tools.catalog.subcontracting import order_fee
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.proposals import ProposalOut, applier, audit, create_proposal, next_codes
from tools.registry import tool
from tools.types import Num, to_number

LABOR_KIND = "labor_report"
COLLECTION_KIND = "cost_collection"
ORDER_INPUT_KIND = "order_cost_input"
OVERHEAD_KIND = "overhead_pools"
MAPPING_KIND = "account_mapping"
CLOSE_KIND = "cost_period_close"
REOPEN_KIND = "cost_period_reopen"
LABOR_PREFIX = "LR-"
COSTING_ROLES = ("planner",)
ZERO = Decimal(0)
ONE = Decimal(1)
DEFAULT_WIP_CONVERSION = Decimal("0.5")
REPORTABLE = ("released", "in_progress", "completed")
Basis = Literal["labor_hours", "output_qty", "material_cost"]
Figure = Literal[
    "completed_qty",
    "wip_qty",
    "wip_completion_material",
    "wip_completion_conversion",
    "opening_wip_material",
    "opening_wip_conversion",
    "material_cost",
    "labor_cost",
    "labor_hours",
    "subcontract_cost",
]


# ---------------------------------------------------------------- periods


def month(code: str, field_name: str = "period") -> cc.PeriodRange:
    """The month ``code`` (YYYY-MM), or ``invalid_input`` naming the field."""
    try:
        return cc.parse_period(code)
    except InvalidInputError as exc:
        raise ToolError("invalid_input", exc.message, {"field": field_name, "value": code}) from None


def require_open(session: Session, code: str, action: str) -> CostPeriod | None:
    """The period (None if it does not exist yet); ``conflict`` if it is closed."""
    row = find_period(session, code)
    if row is not None and row.status == "closed":
        raise ToolError(
            "conflict",
            f"cost period {code} is closed: cannot {action}; a manager can reopen it (propose_period_reopen)",
            {"record": code, "field": "status", "status": "closed"},
        )
    return row


def ensure_period(session: Session, code: str, action: str) -> CostPeriod:
    row = require_open(session, code, action)
    if row is None:
        row = CostPeriod(code=code, status="open")
        session.add(row)
        session.flush()
    return row


def _dec(value: object) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value or 0))


def _first_eight(parts: Sequence[str], sep: str) -> str:
    """The first eight of ``parts`` joined by ``sep``, and how many there are when there are more."""
    return sep.join(parts[:8]) + (f" … ({len(parts)})" if len(parts) > 8 else "")


def _fmt(value: Decimal) -> str:
    text = format(Decimal(value).quantize(Decimal("0.000001")).normalize(), "f")
    return "0" if text in ("-0", "") else text


# ---------------------------------------------------------------- labor reports


class LaborLineIn(BaseModel):
    production_order: str = Field(min_length=1, max_length=64, description="production order code")
    report_date: date | None = Field(default=None, description="YYYY-MM-DD; default today")
    work_center: str | None = Field(default=None, max_length=64, description="work center code")
    employee_group: str = Field(default="", max_length=100, description="e.g. 装配班组 (if no work center)")
    hours: Num = Field(default=Decimal(0), ge=0, description="hours worked")
    rate: Num | None = Field(
        default=None, ge=0, description="cost per hour; default: the work center's cost_per_hour"
    )
    labor_cost: Num | None = Field(
        default=None, ge=0, description="the labor cost itself, instead of hours × rate"
    )
    note: str = Field(default="", max_length=300)


class ProposeLaborReportIn(BaseModel):
    lines: list[LaborLineIn] = Field(min_length=1, max_length=200)


class PlannedLaborLine(BaseModel):
    production_order: str
    item: str
    report_date: date
    work_center: str | None
    employee_group: str
    hours: Num
    rate: Num
    labor_cost: Num
    cost_entered: bool
    note: str


class LaborReportProposalOut(ProposalOut):
    lines: list[PlannedLaborLine]
    hours: Num
    labor_cost: Num


def _plan_labor(ctx: ToolContext, index: int, line: LaborLineIn) -> PlannedLaborLine:
    session = ctx.session
    where = f"lines.{index}"
    order = find_order(session, line.production_order, f"{where}.production_order")
    if order.status not in REPORTABLE:
        raise ToolError(
            "conflict",
            f"production order {order.code} is {order.status}: labor can be reported on released, in-progress "
            "or completed orders",
            {"record": order.code, "field": f"{where}.production_order", "status": order.status},
        )
    on = line.report_date or ctx.today
    require_open(session, month(on.strftime("%Y-%m")).code, f"report labor dated {on.isoformat()}")
    center = None
    if line.work_center:
        center = session.exec(select(WorkCenter).where(WorkCenter.code == line.work_center)).first()
        if center is None:
            raise ToolError(
                "not_found",
                f"work center {line.work_center!r} not found",
                {"kind": "work_center", "key": line.work_center, "field": f"{where}.work_center"},
            )
    elif not line.employee_group.strip():
        raise ToolError(
            "invalid_input",
            f"{where}: name the work center or the employee group that did the work",
            {"field": f"{where}.work_center"},
        )
    if line.hours == 0 and not line.labor_cost:
        raise ToolError(
            "invalid_input", f"{where}: give the hours worked or the labor cost", {"field": f"{where}.hours"}
        )
    rate = line.rate
    if line.labor_cost is None and rate is None:
        if center is None or not center.cost_per_hour:
            raise ToolError(
                "invalid_input",
                f"{where}: give a rate per hour or the labor cost"
                + (f" (work center {center.code} has no cost per hour)" if center is not None else ""),
                {"field": f"{where}.rate"},
            )
        rate = _dec(center.cost_per_hour)
    cost = cc.labor_cost(line.hours, rate, line.labor_cost)
    item = session.get(Item, order.item_id)
    return PlannedLaborLine(
        production_order=order.code,
        item=item.code if item else "",
        report_date=on,
        work_center=center.code if center else None,
        employee_group=line.employee_group.strip(),
        hours=line.hours,
        rate=rate if line.labor_cost is None and rate is not None else ZERO,
        labor_cost=cost,
        cost_entered=line.labor_cost is not None,
        note=line.note,
    )


@tool(kind="propose", tags=("costing",))
def propose_labor_report(ctx: ToolContext, args: ProposeLaborReportIn) -> LaborReportProposalOut:
    """Propose reporting labor (报工) on production orders: hours at a work center or by an employee group.

    Each line's cost is hours × rate, the rate defaulting to the work center's cost_per_hour, or a labor
    cost entered as such. Labor reports feed cost collection (labor_cost, labor_hours). Refused for a date in a
    closed cost period. Nothing changes until a planner (or manager) confirms.
    """
    lines = [_plan_labor(ctx, i, line) for i, line in enumerate(args.lines)]
    hours = sum((ln.hours for ln in lines), ZERO)
    cost = sum((ln.labor_cost for ln in lines), ZERO)
    text = _first_eight(
        [f"{ln.production_order} {_fmt(ln.hours)}h {_fmt(ln.labor_cost)}" for ln in lines], "、"
    )
    text_en = _first_eight(
        [f"{ln.production_order} {_fmt(ln.hours)} h {_fmt(ln.labor_cost)}" for ln in lines], ", "
    )
    base = create_proposal(
        ctx,
        kind=LABOR_KIND,
        tool="propose_labor_report",
        args=args,
        summary_zh=f"报工 {len(lines)} 行:{text};合计 {_fmt(hours)} 工时,人工成本 {_fmt(cost)}。",
        summary_en=f"Report labor, {len(lines)} line(s): {text_en}; {_fmt(hours)} h, labor cost {_fmt(cost)}.",
        effect={"lines": [ln.model_dump(mode="json") for ln in lines]},
    )
    return LaborReportProposalOut(**base.model_dump(), lines=lines, hours=hours, labor_cost=cost)


@applier(LABOR_KIND, roles=COSTING_ROLES, domains=("production",))
def apply_labor_report(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Write the labor reports as proposed (their periods must still be open)."""
    lines = [PlannedLaborLine.model_validate(raw) for raw in proposal.effect["lines"]]
    codes = next_codes(session, LaborReport.code, LABOR_PREFIX, len(lines))
    written = []
    for code, ln in zip(codes, lines, strict=True):
        require_open(session, ln.report_date.strftime("%Y-%m"), f"report labor dated {ln.report_date}")
        order = find_order(session, ln.production_order)
        center = (
            session.exec(select(WorkCenter).where(WorkCenter.code == ln.work_center)).first()
            if ln.work_center
            else None
        )
        session.add(
            LaborReport(
                code=code,
                production_order_id=order.id or 0,
                report_date=ln.report_date,
                work_center_id=center.id if center else None,
                employee_group=ln.employee_group,
                hours=ln.hours,
                rate=ln.rate,
                labor_cost=ln.labor_cost,
                cost_entered=ln.cost_entered,
                note=ln.note,
                actor=actor.username,
                proposal_id=proposal.id,
            )
        )
        written.append({"code": code, **ln.model_dump(mode="json")})
    session.flush()
    audit(
        session,
        actor,
        "report",
        entity=LABOR_KIND,
        entity_ref=codes[0],
        proposal_id=proposal.id,
        after={"reports": written},
    )
    return {"reports": written}


class ListLaborReportsIn(BaseModel):
    production_order: str | None = Field(default=None, max_length=64)
    period: str | None = Field(default=None, max_length=20, description="month YYYY-MM")


class LaborReportOut(BaseModel):
    code: str
    production_order: str
    report_date: date
    work_center: str | None
    employee_group: str
    hours: Num
    rate: Num
    labor_cost: Num
    cost_entered: bool
    note: str
    actor: str


class ListLaborReportsOut(BaseModel):
    reports: list[LaborReportOut]
    hours: Num
    labor_cost: Num


@tool(kind="read", tags=("costing",))
def list_labor_reports(ctx: ToolContext, args: ListLaborReportsIn) -> ListLaborReportsOut:
    """Labor reports (报工记录), of one production order and/or one month, with their hours and cost."""
    query = (
        select(LaborReport, ProductionOrder.code)
        .join(ProductionOrder, col(ProductionOrder.id) == col(LaborReport.production_order_id))
        .order_by(col(LaborReport.report_date), col(LaborReport.id))
    )
    if args.production_order:
        query = query.where(ProductionOrder.code == args.production_order)
    if args.period:
        period = month(args.period)
        query = query.where(col(LaborReport.report_date).between(period.first_day, period.last_day))
    rows = ctx.session.exec(query).all()
    centers = dict(ctx.session.exec(select(col(WorkCenter.id), col(WorkCenter.code))).all())
    reports = [
        LaborReportOut(
            code=r.code,
            production_order=code,
            report_date=r.report_date,
            work_center=centers.get(r.work_center_id) if r.work_center_id else None,
            employee_group=r.employee_group,
            hours=_dec(r.hours),
            rate=_dec(r.rate),
            labor_cost=_dec(r.labor_cost),
            cost_entered=r.cost_entered,
            note=r.note,
            actor=r.actor,
        )
        for r, code in rows
    ]
    return ListLaborReportsOut(
        reports=reports,
        hours=sum((r.hours for r in reports), ZERO),
        labor_cost=sum((r.labor_cost for r in reports), ZERO),
    )


# ---------------------------------------------------------------- the documents of a period


@dataclass
class OrderDocs:
    """What the documents of a period say about one order."""

    order: ProductionOrder
    item: Item
    moves: list[cc.MaterialMove] = field(default_factory=list)
    labor_cost: Decimal = ZERO
    labor_hours: Decimal = ZERO
    labor_reports: int = 0
    received: Decimal = ZERO  # receipts dated in the period
    received_after: Decimal = ZERO  # receipts dated after it
    received_total: Decimal = ZERO  # every receipt
    receipts_in_period: list[tuple[date, Decimal]] = field(default_factory=list)
    subcontract_fee: Decimal = ZERO

    @property
    def has_documents(self) -> bool:
        return bool(self.moves or self.labor_reports or self.received)


def _orders_by(
    session: Session, *, codes: Iterable[str] = (), ids: Iterable[int] = ()
) -> list[ProductionOrder]:
    codes, ids = sorted(set(codes)), sorted(set(ids))
    if not codes and not ids:
        return []
    return list(
        session.exec(
            select(ProductionOrder).where(
                sa.or_(col(ProductionOrder.code).in_(codes), col(ProductionOrder.id).in_(ids))
            )
        ).all()
    )


def scan_documents(
    session: Session, period: cc.PeriodRange, extra_order_ids: Iterable[int] = ()
) -> dict[int, OrderDocs]:
    """Every order with a document dated in the period (plus ``extra_order_ids``), with what they say."""
    in_period = col(StockMove.move_date).between(period.first_day, period.last_day)
    moves = session.exec(
        select(StockMove).where(
            in_period,
            sa.or_(
                sa.and_(
                    col(StockMove.doc_type) == "production_order",
                    col(StockMove.move_type).in_(("issue", "return")),
                ),
                sa.and_(
                    col(StockMove.doc_type) == "subcontract_order",
                    col(StockMove.move_type).in_(("issue", "scrap", "production_receipt")),
                ),
            ),
        )
    ).all()
    flows = session.exec(
        select(MaterialIssueLine, MaterialIssue.issue_date)
        .join(MaterialIssue, col(MaterialIssue.id) == col(MaterialIssueLine.material_issue_id))
        .where(MaterialIssue.mode == "flow")
        .where(col(MaterialIssue.issue_date).between(period.first_day, period.last_day))
    ).all()
    labor = session.exec(
        select(LaborReport).where(col(LaborReport.report_date).between(period.first_day, period.last_day))
    ).all()
    receipts = session.exec(
        select(CompletionReceipt).where(
            col(CompletionReceipt.receipt_date).between(period.first_day, period.last_day)
        )
    ).all()
    orders = _orders_by(
        session,
        codes=[m.doc_ref for m in moves],
        ids=[
            *(ln.production_order_id for ln, _ in flows),
            *(r.production_order_id for r in labor),
            *(r.production_order_id for r in receipts),
            *extra_order_ids,
        ],
    )
    items = {
        i.id: i
        for i in session.exec(
            select(Item).where(
                col(Item.id).in_(
                    {o.item_id for o in orders} | {m.item_id for m in moves} | {ln.item_id for ln, _ in flows}
                )
            )
        ).all()
    }
    docs = {o.id or 0: OrderDocs(o, items[o.item_id]) for o in orders}
    by_code = {o.code: o.id or 0 for o in orders}
    for m in moves:
        doc = docs[by_code[m.doc_ref]] if m.doc_ref in by_code else None
        if doc is None:
            continue
        if m.move_type == "production_receipt":
            continue  # a subcontract receipt: counted with every receipt below
        direction = cc.MoveDirection.FROM_ORDER if m.move_type == "return" else cc.MoveDirection.TO_ORDER
        doc.moves.append(
            cc.MaterialMove(
                doc.order.code,
                items[m.item_id].code,
                _dec(m.qty),
                _dec(m.unit_cost),
                direction,
                m.owner_customer_id is not None,
            )
        )
    for ln, _ in flows:
        doc = docs[ln.production_order_id]
        doc.moves.append(
            cc.MaterialMove(doc.order.code, items[ln.item_id].code, _dec(ln.qty), _dec(ln.unit_cost))
        )
    for report in labor:
        doc = docs[report.production_order_id]
        doc.labor_cost += _dec(report.labor_cost)
        doc.labor_hours += _dec(report.hours)
        doc.labor_reports += 1
    _add_receipts(session, period, docs)
    return docs


def _add_receipts(session: Session, period: cc.PeriodRange, docs: dict[int, OrderDocs]) -> None:
    """Every receipt of the orders (completion receipts; subcontract receipts on the ledger), by date."""
    ids = list(docs)
    made = session.exec(
        select(CompletionReceipt).where(col(CompletionReceipt.production_order_id).in_(ids))
    ).all()
    dated: list[tuple[int, date, Decimal]] = [
        (r.production_order_id, r.receipt_date, _dec(r.qty)) for r in made
    ]
    subcontracted = {d.order.code: i for i, d in docs.items() if d.order.kind == "subcontract"}
    if subcontracted:
        for m in session.exec(
            select(StockMove).where(
                StockMove.doc_type == "subcontract_order",
                StockMove.move_type == "production_receipt",
                col(StockMove.doc_ref).in_(list(subcontracted)),
            )
        ).all():
            dated.append((subcontracted[m.doc_ref], m.move_date, _dec(m.qty)))
    for order_id, on, qty in dated:
        doc = docs[order_id]
        doc.received_total += qty
        if on > period.last_day:
            doc.received_after += qty
        elif on >= period.first_day:
            doc.received += qty
            doc.receipts_in_period.append((on, qty))
    for doc in docs.values():
        if doc.order.kind == "subcontract":
            doc.subcontract_fee = sum(
                (
                    qty * _subcontract_fee(session, doc.order, doc.item, on)
                    for on, qty in doc.receipts_in_period
                ),
                ZERO,
            )


def _subcontract_fee(session: Session, order: ProductionOrder, item: Item, on: date) -> Decimal:
    """The processing fee per unit a receipt on ``on`` was valued with (the subcontracting rule)."""
    supplier = session.get(Supplier, order.supplier_id) if order.supplier_id else None
    if supplier is None:
        terms = session.exec(
            select(SubcontractTerms).where(SubcontractTerms.production_order_id == order.id)
        ).first()
        return _dec(terms.unit_fee) if terms is not None else _dec(item.unit_cost)
    return _dec(order_fee(session, order, item, supplier, on))


# ---------------------------------------------------------------- cost collection


FIGURE_LABELS = {
    "completed_qty": "完工数量",
    "wip_qty": "在制数量",
    "wip_completion_material": "在制材料完工率",
    "wip_completion_conversion": "在制加工完工率",
    "opening_wip_material": "期初在制材料",
    "opening_wip_conversion": "期初在制加工费",
    "material_cost": "材料成本",
    "labor_cost": "人工成本",
    "labor_hours": "工时",
    "subcontract_cost": "委外加工费",
}


class CompletionIn(BaseModel):
    production_order: str = Field(min_length=1, max_length=64)
    material: Num | None = Field(default=None, ge=0, le=1, description="share of material in ending WIP")
    conversion: Num | None = Field(default=None, ge=0, le=1, description="share of labor and overhead")


class ProposeCostCollectionIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM, e.g. 2026-11")
    orders: list[str] | None = Field(
        default=None, max_length=500, description="only these production orders; default: every order"
    )
    completion: list[CompletionIn] = Field(
        default_factory=list,
        max_length=500,
        description="WIP completion given per order (recorded as manual)",
    )
    default_conversion_completion: Num | None = Field(
        default=None,
        ge=0,
        le=1,
        description="WIP conversion completion of other orders; default from settings",
    )
    overwrite_manual: bool = Field(
        default=False, description="also replace figures entered by hand (normally kept)"
    )


class FigureOut(BaseModel):
    figure: str
    before: Num | None = Field(description="none: the order had no cost inputs")
    after: Num
    source: str = Field(description="collected | manual | default")
    action: str = Field(description="set | unchanged | kept_manual")
    detail: str


class CollectedOrderOut(BaseModel):
    production_order: str
    item: str
    kind: str
    status: str
    new: bool = Field(description="the order had no cost inputs in the period")
    figures: list[FigureOut]
    notes: list[str]


class CostCollectionProposalOut(ProposalOut):
    period: str
    orders: list[CollectedOrderOut]
    warnings: list[str]


def default_conversion_completion(ctx: ToolContext, given: Decimal | None) -> Decimal:
    """The WIP conversion completion of orders given none: the argument, else the setting, else 0.5."""
    if given is not None:
        return given
    # ORDERPILOT_COSTING_WIP_CONVERSION_COMPLETION once the setting exists; half done is the textbook default
    setting = getattr(ctx.settings, "costing_wip_conversion_completion", None)
    return Decimal(str(setting)) if setting is not None else DEFAULT_WIP_CONVERSION


def opening_wip(session: Session, code: str) -> tuple[dict[int, tuple[Decimal, Decimal]], str | None]:
    """Ending WIP of the previous month's closing per order id: (material incl. subcontract, conversion);
    and the previous month's code when it has cost inputs but is not closed (nothing carried then)."""
    previous = find_period(session, cc.previous_period(code))
    if previous is None:
        return {}, None
    run = current_run(session, previous)
    if run is None:
        has_inputs = session.exec(
            select(OrderCostInput.id).where(OrderCostInput.period_id == previous.id)
        ).first()
        return {}, previous.code if has_inputs is not None else None
    carried: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for row in session.exec(select(CostResult).where(CostResult.run_id == run.id)).all():
        # subcontract fees in WIP were charged in full like material: they come back with it
        slot = 0 if row.element in ("material", "subcontract") else 1
        carried[row.production_order_id][slot] += _dec(row.wip)
    return {k: (v[0], v[1]) for k, v in carried.items() if v[0] or v[1]}, None


def _existing_inputs(
    session: Session, period: CostPeriod | None
) -> tuple[dict[int, OrderCostInput], dict[int, dict[str, cc.FigureSource]]]:
    if period is None:
        return {}, {}
    rows = {
        r.production_order_id: r
        for r in session.exec(select(OrderCostInput).where(OrderCostInput.period_id == period.id)).all()
    }
    sources: dict[int, dict[str, cc.FigureSource]] = defaultdict(dict)
    for s in session.exec(select(CostFigureSource).where(CostFigureSource.period_id == period.id)).all():
        sources[s.production_order_id][s.figure] = cc.FigureSource(s.source)
    return rows, sources


def _made_items(session: Session, period: CostPeriod | None, docs: Mapping[int, OrderDocs]) -> set[str]:
    """Items made by the orders of the period (collected now, or with inputs already): the roll-up
    charges their output to the orders that use it (tools.catalog.costing.load_cost_inputs)."""
    made = {d.item.code for d in docs.values() if d.order.kind != "rework"}
    if period is not None:
        made.update(
            session.exec(
                select(col(Item.code))
                .join(ProductionOrder, col(ProductionOrder.item_id) == col(Item.id))
                .join(OrderCostInput, col(OrderCostInput.production_order_id) == col(ProductionOrder.id))
                .where(OrderCostInput.period_id == period.id, ProductionOrder.kind != "rework")
            ).all()
        )
    return made


@dataclass(frozen=True)
class Collection:
    period: str
    orders: list[CollectedOrderOut]
    warnings: list[str]


def collect_costs(
    ctx: ToolContext,
    code: str,
    only: Sequence[str] | None,
    completion: Sequence[CompletionIn],
    default_conversion: Decimal | None,
    overwrite_manual: bool,
) -> Collection:
    """What collecting ``code``'s costs from its documents would write, order by order (nothing is written)."""
    session = ctx.session
    period_range = month(code)
    period = require_open(session, period_range.code, "collect costs")
    carried, previous_open = opening_wip(session, period_range.code)
    docs = scan_documents(session, period_range, carried)
    # every order of the period counts, collected now or not: the roll-up charges what they make
    made = _made_items(session, period, docs)
    if only is not None:
        wanted = set(only)
        unknown = wanted - {d.order.code for d in docs.values()}
        for name in sorted(unknown):
            find_order(session, name, "orders")  # not_found for an order that does not exist
        docs = {k: d for k, d in docs.items() if d.order.code in wanted}
    given = {c.production_order: c for c in completion}
    for name in given:
        if name not in {d.order.code for d in docs.values()}:
            find_order(session, name, "completion")
    existing, sources = _existing_inputs(session, period)
    conversion_default = default_conversion_completion(ctx, default_conversion)
    warnings = []
    if previous_open is not None:
        warnings.append(f"{previous_open} is not closed: no opening WIP carried from it")
    out = []
    for order_id, doc in sorted(docs.items(), key=lambda pair: pair[1].order.code):
        figures, notes = _order_figures(
            doc, made, carried.get(order_id), given.get(doc.order.code), conversion_default, previous_open
        )
        row = existing.get(order_id)
        current = None if row is None else {name: _dec(getattr(row, name)) for name in cc.FIGURES}
        changes = cc.merge_figures(current, sources.get(order_id, {}), figures, overwrite_manual)
        out.append(
            CollectedOrderOut(
                production_order=doc.order.code,
                item=doc.item.code,
                kind=doc.order.kind,
                status=doc.order.status,
                new=row is None,
                figures=[
                    FigureOut(
                        figure=c.name,
                        before=c.before,
                        after=c.after,
                        source=c.source_after.value,
                        action=c.action.value,
                        detail=c.detail
                        if c.action is not cc.FigureAction.KEPT_MANUAL
                        else "entered by hand: kept",
                    )
                    for c in changes
                ],
                notes=notes,
            )
        )
    return Collection(period_range.code, out, warnings)


def _order_figures(
    doc: OrderDocs,
    made: set[str],
    carried: tuple[Decimal, Decimal] | None,
    given: CompletionIn | None,
    conversion_default: Decimal,
    previous_open: str | None,
) -> tuple[list[cc.Figure], list[str]]:
    collected = cc.FigureSource.COLLECTED
    order = doc.order
    reworked = doc.item.code if order.kind == "rework" else None
    material = cc.total_material(doc.moves, made - {doc.item.code}, reworked)
    notes = []
    if material.customer_owned_qty:
        notes.append(f"customer-supplied material {_fmt(material.customer_owned_qty)} used at no cost")
    for item, at_average in sorted(material.rolled_up.items()):
        notes.append(
            f"{item} is made by an order of the period: charged at its actual cost by the roll-up "
            f"(not at {_fmt(at_average)} moving average)"
        )
    if material.reworked_item_value:
        notes.append(
            f"the reworked {doc.item.code} ({_fmt(material.reworked_item_value)}) stays with the order "
            "that made it"
        )
    material_cost = material.cost
    if material_cost < 0:
        notes.append(
            f"returns exceed issues by {_fmt(-material_cost)}: material cost set to 0 (enter it by hand "
            "if they return material charged in an earlier period)"
        )
        material_cost = ZERO
    loaded_completed = max(_dec(order.completed_qty) - doc.received_total, ZERO)
    wip_qty = cc.wip_qty_at_end(
        _dec(order.qty),
        loaded_completed + doc.received_total - doc.received_after,
        doc.received_after,
        order.status,
        subcontract=order.kind == "subcontract",
    )
    opening_material, opening_conversion = carried or (ZERO, ZERO)
    opening_detail = (
        "ending WIP of the previous period"
        if carried
        else (f"{previous_open} is not closed" if previous_open else "no WIP carried in")
    )
    completion_figures = []
    given_value: Decimal | None
    for name, given_value, fallback in (
        ("wip_completion_material", given.material if given else None, ONE),
        ("wip_completion_conversion", given.conversion if given else None, conversion_default),
    ):
        if given_value is not None:
            completion_figures.append(
                cc.Figure(name, given_value, cc.FigureSource.MANUAL, "given at collection")
            )
        else:
            completion_figures.append(cc.Figure(name, fallback, cc.FigureSource.DEFAULT, "default"))
    moves = len(doc.moves)
    figures = [
        cc.Figure("completed_qty", doc.received, collected, f"receipts in the period: {_fmt(doc.received)}"),
        cc.Figure(
            "wip_qty",
            wip_qty,
            collected,
            f"order {_fmt(_dec(order.qty))}, {order.status}, completed by the period end "
            f"{_fmt(loaded_completed + doc.received_total - doc.received_after)}",
        ),
        *completion_figures,
        cc.Figure("opening_wip_material", opening_material, collected, opening_detail),
        cc.Figure("opening_wip_conversion", opening_conversion, collected, opening_detail),
        cc.Figure("material_cost", material_cost, collected, f"{moves} material move(s), net of returns"),
        cc.Figure("labor_cost", doc.labor_cost, collected, f"{doc.labor_reports} labor report(s)"),
        cc.Figure("labor_hours", doc.labor_hours, collected, f"{doc.labor_reports} labor report(s)"),
        cc.Figure(
            "subcontract_cost",
            doc.subcontract_fee,
            collected,
            f"processing fee on {_fmt(doc.received)} received" if order.kind == "subcontract" else "none",
        ),
    ]
    return figures, notes


def _collection_summary(collection: Collection) -> tuple[str, str]:
    changed = [o for o in collection.orders if any(f.action == "set" for f in o.figures)]
    kept = sum(1 for o in collection.orders for f in o.figures if f.action == "kept_manual")
    names = "、".join(o.production_order for o in changed[:10]) + (" …" if len(changed) > 10 else "")
    names_en = ", ".join(o.production_order for o in changed[:10]) + (" …" if len(changed) > 10 else "")
    zh = (
        f"归集 {collection.period} 成本:{len(collection.orders)} 张工单,{len(changed)} 张有变化"
        + (f"({names})" if changed else "")
        + (f";保留手工录入 {kept} 项" if kept else "")
        + "。"
    )
    en = (
        f"Collect costs of {collection.period}: {len(collection.orders)} order(s), {len(changed)} changed"
        + (f" ({names_en})" if changed else "")
        + (f"; {kept} hand-entered figure(s) kept" if kept else "")
        + "."
    )
    return zh, en


@tool(kind="propose", tags=("costing",))
def propose_cost_collection(ctx: ToolContext, args: ProposeCostCollectionIn) -> CostCollectionProposalOut:
    """Propose collecting a month's costs per production order from its documents (成本归集).

    Fills or updates each order's cost inputs: material_cost from issues, supplements and backflush less
    returns at the moving-average cost on the moves (customer-supplied material at zero; sub-assemblies and
    subcontracted parts made by the period's orders are charged by the roll-up instead), labor_cost and
    labor_hours from labor reports, subcontract_cost from the processing fee of subcontract receipts,
    completed_qty from receipts in the month, wip_qty from what was released and not completed at the month
    end (completion per order as given, else the default), opening WIP from the previous month's closing.
    Every figure records its source; figures entered by hand are kept unless overwrite_manual. Refused for a
    closed period. Nothing changes until a planner (or manager) confirms.
    """
    collection = collect_costs(
        ctx,
        args.period,
        args.orders,
        args.completion,
        args.default_conversion_completion,
        args.overwrite_manual,
    )
    zh, en = _collection_summary(collection)
    effect = {
        "period": collection.period,
        "orders": [
            {
                "production_order": o.production_order,
                "figures": [
                    {"figure": f.figure, "value": to_number(f.after), "source": f.source, "detail": f.detail}
                    for f in o.figures
                    if f.action != "kept_manual"
                ],
            }
            for o in collection.orders
        ],
    }
    base = create_proposal(
        ctx,
        kind=COLLECTION_KIND,
        tool="propose_cost_collection",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect=effect,
        read_domains=("stock", "production", "purchasing"),
    )
    return CostCollectionProposalOut(
        **base.model_dump(), period=collection.period, orders=collection.orders, warnings=collection.warnings
    )


def write_figures(
    session: Session,
    actor: Actor,
    proposal_id: str,
    period: CostPeriod,
    order: ProductionOrder,
    figures: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Set figures of an order's cost inputs with their sources; returns {figure: [before, after]}."""
    row = session.exec(
        select(OrderCostInput).where(
            OrderCostInput.period_id == period.id, OrderCostInput.production_order_id == order.id
        )
    ).first()
    if row is None:
        row = OrderCostInput(period_id=period.id or 0, production_order_id=order.id or 0)
    sources = {
        s.figure: s
        for s in session.exec(
            select(CostFigureSource).where(
                CostFigureSource.period_id == period.id, CostFigureSource.production_order_id == order.id
            )
        ).all()
    }
    changed: dict[str, list[float]] = {}
    for fig in figures:
        name = str(fig["figure"])
        value = _dec(fig["value"])
        before = _dec(getattr(row, name))
        setattr(row, name, value)
        if before != value:
            changed[name] = [to_number(before), to_number(value)]
        source = sources.get(name) or CostFigureSource(
            period_id=period.id or 0,
            production_order_id=order.id or 0,
            figure=name,
            source=str(fig["source"]),
        )
        source.source = str(fig["source"])
        source.detail = str(fig.get("detail", ""))[:300]
        source.proposal_id = proposal_id
        source.actor = actor.username
        source.updated_at = utcnow()
        session.add(source)
    session.add(row)
    session.flush()
    return changed


@applier(COLLECTION_KIND, roles=COSTING_ROLES, domains=("costing",))
def apply_cost_collection(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Write the collected figures as proposed (the documents have not changed since: versions checked)."""
    eff = proposal.effect
    period = ensure_period(session, str(eff["period"]), "collect costs")
    written = {}
    for entry in eff["orders"]:
        order = find_order(session, str(entry["production_order"]))
        changed = write_figures(session, actor, proposal.id, period, order, entry["figures"])
        written[order.code] = changed
        if changed:
            audit(
                session,
                actor,
                "collect",
                entity="order_cost_input",
                entity_ref=f"{period.code}/{order.code}",
                proposal_id=proposal.id,
                before={k: v[0] for k, v in changed.items()},
                after={k: v[1] for k, v in changed.items()},
            )
    return {"period": period.code, "orders": written}


# ---------------------------------------------------------------- figures entered by hand


class ProposeOrderCostInputIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM")
    production_order: str = Field(min_length=1, max_length=64)
    completed_qty: Num | None = Field(default=None, ge=0)
    wip_qty: Num | None = Field(default=None, ge=0)
    wip_completion_material: Num | None = Field(default=None, ge=0, le=1)
    wip_completion_conversion: Num | None = Field(default=None, ge=0, le=1)
    opening_wip_material: Num | None = Field(default=None, ge=0)
    opening_wip_conversion: Num | None = Field(default=None, ge=0)
    material_cost: Num | None = Field(default=None, ge=0)
    labor_cost: Num | None = Field(default=None, ge=0)
    labor_hours: Num | None = Field(default=None, ge=0)
    subcontract_cost: Num | None = Field(default=None, ge=0)
    release: list[Figure] = Field(
        default_factory=list,
        description="figures handed back to cost collection: the next collection recomputes them",
    )


class OrderCostInputProposalOut(ProposalOut):
    period: str
    production_order: str
    figures: list[FigureOut]


@tool(kind="propose", tags=("costing",))
def propose_order_cost_input(ctx: ToolContext, args: ProposeOrderCostInputIn) -> OrderCostInputProposalOut:
    """Propose entering cost figures of one production order in a month by hand (recorded as manual: cost
    collection keeps them), or handing figures back to collection (`release`). Refused for a closed
    period. Nothing changes until a planner (or manager) confirms."""
    session = ctx.session
    code = month(args.period).code
    period = require_open(session, code, "change cost inputs")
    order = find_order(session, args.production_order, "production_order")
    given = {name: getattr(args, name) for name in cc.FIGURES if getattr(args, name) is not None}
    if not given and not args.release:
        raise ToolError(
            "invalid_input", "give at least one figure, or figures to release", {"field": "period"}
        )
    both = sorted(set(given) & set(args.release))
    if both:
        raise ToolError("invalid_input", f"{both[0]} is both given and released", {"field": "release"})
    existing, sources = _existing_inputs(session, period)
    row = existing.get(order.id or 0)
    current = {name: _dec(getattr(row, name)) for name in cc.FIGURES} if row is not None else None
    figures = [
        cc.Figure(name, value, cc.FigureSource.MANUAL, "entered by hand") for name, value in given.items()
    ]
    figures += [
        cc.Figure(
            name, current[name] if current else ZERO, cc.FigureSource.COLLECTED, "released to collection"
        )
        for name in args.release
    ]
    changes = cc.merge_figures(current, sources.get(order.id or 0, {}), figures, overwrite_manual=True)
    out = [
        FigureOut(
            figure=c.name,
            before=c.before,
            after=c.after,
            source=c.source_after.value,
            action=c.action.value,
            detail=c.detail,
        )
        for c in changes
    ]
    text = "、".join(f"{FIGURE_LABELS[f.figure]} {_fmt(f.after)}" for f in out if f.figure in given)
    text_en = ", ".join(f"{f.figure} {_fmt(f.after)}" for f in out if f.figure in given)
    released = f";交回归集:{'、'.join(args.release)}" if args.release else ""
    released_en = f"; released to collection: {', '.join(args.release)}" if args.release else ""
    base = create_proposal(
        ctx,
        kind=ORDER_INPUT_KIND,
        tool="propose_order_cost_input",
        args=args,
        summary_zh=f"手工录入 {code} {order.code} 成本数据:{text or '—'}{released}。",
        summary_en=f"Enter cost figures of {order.code} in {code} by hand: {text_en or '-'}{released_en}.",
        effect={
            "period": code,
            "production_order": order.code,
            "figures": [
                {"figure": f.figure, "value": to_number(f.after), "source": f.source, "detail": f.detail}
                for f in out
            ],
        },
    )
    return OrderCostInputProposalOut(
        **base.model_dump(), period=code, production_order=order.code, figures=out
    )


@applier(ORDER_INPUT_KIND, roles=COSTING_ROLES, domains=("costing",))
def apply_order_cost_input(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    eff = proposal.effect
    period = ensure_period(session, str(eff["period"]), "change cost inputs")
    order = find_order(session, str(eff["production_order"]))
    changed = write_figures(session, actor, proposal.id, period, order, eff["figures"])
    audit(
        session,
        actor,
        "enter",
        entity="order_cost_input",
        entity_ref=f"{period.code}/{order.code}",
        proposal_id=proposal.id,
        before={k: v[0] for k, v in changed.items()},
        after={k: v[1] for k, v in changed.items()},
    )
    return {"period": period.code, "production_order": order.code, "changed": changed}


# ---------------------------------------------------------------- overhead pools


class PoolIn(BaseModel):
    name: str = Field(min_length=1, max_length=100, description="e.g. 制造费用")
    amount: Num = Field(ge=0)
    basis: Basis = Field(default="labor_hours", description="labor_hours | output_qty | material_cost")


class ProposeOverheadPoolsIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM")
    pools: list[PoolIn] = Field(max_length=100)
    mode: Literal["replace", "merge"] = Field(
        default="replace",
        description="replace: the period's pools become exactly these; merge: these are replaced or added",
    )


class PoolOut(BaseModel):
    name: str
    amount: Num
    basis: str
    before: Num | None = Field(description="the pool's amount before; none: a new pool")
    rows: list[int] = Field(default_factory=list, description="rows of the import it came from")


class OverheadProposalOut(ProposalOut):
    period: str
    mode: str
    source: str = Field(description="entered | pools (sheet costing_overhead_pools) | ledger (voucher lines)")
    pools: list[PoolOut]
    removed: list[str] = Field(description="pools of the period that replace mode drops")
    total: Num


def _check_pool_names(pools: Sequence[tuple[str, int | None]], field_prefix: str) -> None:
    seen: set[str] = set()
    for name, index in pools:
        if name in seen:
            where = f"{field_prefix}.{index}.name" if index is not None else field_prefix
            raise ToolError("invalid_input", f"overhead pool {name!r} is given twice", {"field": where})
        seen.add(name)


def _propose_overhead(
    ctx: ToolContext,
    args: BaseModel,
    tool_name: str,
    code: str,
    pools: Sequence[cc.PoolTotal],
    mode: str,
    source: str,
    source_ref: str = "",
) -> OverheadProposalOut:
    session = ctx.session
    period = require_open(session, code, "change overhead")
    existing = (
        {
            p.name: p
            for p in session.exec(select(OverheadPool).where(OverheadPool.period_id == period.id)).all()
        }
        if period is not None
        else {}
    )
    out = [
        PoolOut(
            name=p.name,
            amount=p.amount,
            basis=p.basis,
            before=_dec(existing[p.name].amount) if p.name in existing else None,
            rows=list(p.rows),
        )
        for p in pools
    ]
    removed = sorted(set(existing) - {p.name for p in pools}) if mode == "replace" else []
    total = sum((p.amount for p in pools), ZERO)
    text = "、".join(f"{p.name} {_fmt(p.amount)}({p.basis})" for p in out[:8])
    text_en = ", ".join(f"{p.name} {_fmt(p.amount)} ({p.basis})" for p in out[:8])
    where = {"entered": "手工录入", "pools": "Excel 导入", "ledger": "总账凭证导入"}[source]
    where_en = {"entered": "entered", "pools": "imported from Excel", "ledger": "from ledger vouchers"}[
        source
    ]
    drop = f";删除 {'、'.join(removed)}" if removed else ""
    drop_en = f"; drop {', '.join(removed)}" if removed else ""
    base = create_proposal(
        ctx,
        kind=OVERHEAD_KIND,
        tool=tool_name,
        args=args,
        summary_zh=f"{code} 制造费用({where}):{text or '无'},合计 {_fmt(total)}{drop}。",
        summary_en=f"Overhead of {code} ({where_en}): {text_en or 'none'}, total {_fmt(total)}{drop_en}.",
        effect={
            "period": code,
            "mode": mode,
            "source": source,
            "source_ref": source_ref,
            "pools": [{"name": p.name, "amount": to_number(p.amount), "basis": p.basis} for p in out],
        },
    )
    return OverheadProposalOut(
        **base.model_dump(), period=code, mode=mode, source=source, pools=out, removed=removed, total=total
    )


@tool(kind="propose", tags=("costing",))
def propose_overhead_pools(ctx: ToolContext, args: ProposeOverheadPoolsIn) -> OverheadProposalOut:
    """Propose a month's overhead pools (制造费用) entered by hand: name, amount and allocation basis
    (labor_hours, output_qty = equivalent units of conversion, material_cost). `replace` makes them the
    period's only pools; `merge` replaces or adds the named ones. Refused for a closed period. Nothing
    changes until a planner (or manager) confirms."""
    code = month(args.period).code
    _check_pool_names([(p.name.strip(), i) for i, p in enumerate(args.pools)], "pools")
    pools = [cc.PoolTotal(p.name.strip(), p.basis, p.amount, ()) for p in args.pools]
    return _propose_overhead(ctx, args, "propose_overhead_pools", code, pools, args.mode, "entered")


@applier(OVERHEAD_KIND, roles=COSTING_ROLES, domains=("costing",))
def apply_overhead_pools(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    eff = proposal.effect
    period = ensure_period(session, str(eff["period"]), "change overhead")
    existing = {
        p.name: p for p in session.exec(select(OverheadPool).where(OverheadPool.period_id == period.id)).all()
    }
    before = {name: {"amount": to_number(p.amount), "basis": p.basis} for name, p in existing.items()}
    wanted = {str(p["name"]): p for p in eff["pools"]}
    if eff["mode"] == "replace":
        for name, row in existing.items():
            if name not in wanted:
                session.delete(row)
    for name, p in wanted.items():
        row = existing.get(name) or OverheadPool(period_id=period.id or 0, name=name, amount=ZERO)
        row.amount = _dec(p["amount"])
        row.basis = str(p["basis"])
        session.add(row)
    session.flush()
    after = {name: {"amount": p["amount"], "basis": p["basis"]} for name, p in wanted.items()}
    audit(
        session,
        actor,
        "set",
        entity="overhead_pool",
        entity_ref=period.code,
        proposal_id=proposal.id,
        before=before,
        after={
            "mode": eff["mode"],
            "source": eff["source"],
            "source_ref": eff.get("source_ref", ""),
            "pools": after,
        },
    )
    return {
        "period": period.code,
        "pools": after,
        "removed": sorted(set(before) - set(wanted)) if eff["mode"] == "replace" else [],
    }


# ---------------------------------------------------------------- reading sheets (CSV or Excel)

# Column names people use, normalised: lower case, spaces and dashes as underscores.
HEADER_ALIASES = {
    "科目": "account",
    "科目编码": "account",
    "科目代码": "account",
    "会计科目": "account",
    "account_code": "account",
    "gl_account": "account",
    "成本中心": "cost_center",
    "部门": "cost_center",
    "cost_centre": "cost_center",
    "金额": "amount",
    "发生额": "amount",
    "借方": "debit",
    "借方金额": "debit",
    "贷方": "credit",
    "贷方金额": "credit",
    "期间": "period",
    "会计期间": "period",
    "日期": "period",
    "date": "period",
    "名称": "name",
    "费用名称": "name",
    "pool": "name",
    "费用池": "name",
    "分配基础": "basis",
    "分配标准": "basis",
    "匹配方式": "match_type",
    "match": "match_type",
    "启用": "active",
    "备注": "note",
}
POOL_SHEET = "costing_overhead_pools"


def _header(name: object) -> str:
    text = str(name or "").strip().lower().replace(" ", "_").replace("-", "_")
    return HEADER_ALIASES.get(text, text)


def _cell(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, datetime):
        return value.date()
    return value


def read_table(
    path_text: str, field_name: str = "file", sheet: str | None = None
) -> list[tuple[int, dict[str, Any]]]:
    """Rows of a .csv or .xlsx file as (row number, {normalised column: value}); blank rows skipped.

    A workbook is read from ``sheet`` if it has one of that name, else from its first sheet.
    """
    path = Path(path_text)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx", ".xlsm"):
        raise ToolError("invalid_input", f"{path.name}: give a .csv or .xlsx file", {"field": field_name})
    if not path.is_file():
        raise ToolError(
            "not_found", f"no such file: {path_text}", {"kind": "file", "key": path_text, "field": field_name}
        )
    if suffix == ".csv":
        return _read_csv(path, field_name)
    return _read_workbook(path, field_name, sheet)


def _read_csv(path: Path, field_name: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_text(encoding="gb18030")  # exports of Chinese ledgers
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise ToolError("invalid_input", f"{path.name} is empty", {"field": field_name})
    names = [_header(h) for h in header]
    rows = []
    for number, values in enumerate(reader, start=2):
        rec = {names[i]: v.strip() for i, v in enumerate(values) if i < len(names) and names[i] and v.strip()}
        if rec:
            rows.append((number, rec))
    return rows


def _read_workbook(path: Path, field_name: str, sheet: str | None) -> list[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise ToolError(
            "invalid_input", f"{path.name} is not a readable workbook: {exc}", {"field": field_name}
        ) from None
    try:
        ws = book[sheet] if sheet is not None and sheet in book.sheetnames else book.worksheets[0]
        values = ws.iter_rows(values_only=True)
        header = next(values, None)
        if not header:
            raise ToolError("invalid_input", f"{path.name}: sheet {ws.title} is empty", {"field": field_name})
        names = [_header(h) for h in header]
        rows = []
        for number, cells in enumerate(values, start=2):
            rec = {
                names[i]: _cell(v)
                for i, v in enumerate(cells)
                if i < len(names) and names[i] and v is not None and str(v).strip() != ""
            }
            if rec:
                rows.append((number, rec))
        return rows
    finally:
        book.close()


def _text(value: object) -> str:
    return str(_cell(value)).strip() if value is not None else ""


def _number(rec: Mapping[str, Any], name: str, row: int, problems: list[cc.ImportProblem]) -> Decimal | None:
    raw = rec.get(name)
    if raw is None or _text(raw) == "":
        return None
    try:
        value = Decimal(_text(raw).replace(",", "").replace("，", ""))
    except InvalidOperation:
        problems.append(cc.ImportProblem(row, name, f"{_text(raw)[:40]!r} is not a number"))
        return None
    if not value.is_finite():
        problems.append(cc.ImportProblem(row, name, f"{_text(raw)[:40]!r} is not a number"))
        return None
    return value


def _period_text(raw: object, row: int, problems: list[cc.ImportProblem]) -> str:
    """A period cell as YYYY-MM: 2026-11, 2026/11, 202611, 2026年11月 or a date in the month."""
    if raw is None or _text(raw) == "":
        return ""
    if isinstance(raw, date):
        return raw.strftime("%Y-%m")
    text = _text(raw).replace("/", "-").replace(".", "-").replace("年", "-").replace("月", "")
    if len(text) == 6 and text.isdigit():
        text = f"{text[:4]}-{text[4:]}"
    parts = text.split("-")
    if len(parts) >= 2 and parts[0].isdigit() and parts[1].isdigit():
        candidate = f"{int(parts[0]):04d}-{int(parts[1]):02d}"
        try:
            return cc.parse_period(candidate).code
        except InvalidInputError:
            pass
    problems.append(cc.ImportProblem(row, "period", f"{_text(raw)[:40]!r} is not a month (YYYY-MM)"))
    return ""


def parse_ledger_rows(
    rows: Sequence[tuple[int, Mapping[str, Any]]],
) -> tuple[list[cc.LedgerLine], list[cc.ImportProblem]]:
    """Voucher lines from rows with account, amount (or debit and credit), cost_center and period."""
    lines, problems = [], []
    for row, rec in rows:
        account = _text(rec.get("account"))
        if not account:
            problems.append(cc.ImportProblem(row, "account", "the account is empty"))
        amount = _number(rec, "amount", row, problems)
        if amount is None and "amount" not in rec:
            debit = _number(rec, "debit", row, problems)
            credit = _number(rec, "credit", row, problems)
            if debit is None and credit is None and not any(p.row == row for p in problems):
                problems.append(cc.ImportProblem(row, "amount", "no amount (or debit / credit)"))
            amount = (debit or ZERO) - (credit or ZERO)
        period = _period_text(rec.get("period"), row, problems)
        if account and amount is not None:
            lines.append(cc.LedgerLine(row, account, amount, _text(rec.get("cost_center")), period))
    return lines, problems


def parse_pool_rows(
    rows: Sequence[tuple[int, Mapping[str, Any]]], period: str
) -> tuple[list[cc.PoolTotal], list[cc.ImportProblem]]:
    """Overhead pools from rows laid out like the dataset sheet costing_overhead_pools (period, name, amount,
    basis); rows of other periods are skipped, as in a workbook holding several months."""
    pools: list[cc.PoolTotal] = []
    problems: list[cc.ImportProblem] = []
    names: dict[str, int] = {}
    for row, rec in rows:
        row_period = _period_text(rec.get("period"), row, problems)
        if row_period and row_period != period:
            continue
        name = _text(rec.get("name"))
        if not name:
            problems.append(cc.ImportProblem(row, "name", "the pool name is empty"))
        elif name in names:
            problems.append(cc.ImportProblem(row, "name", f"pool {name!r} is also on row {names[name]}"))
        amount = _number(rec, "amount", row, problems)
        if amount is None and "amount" not in rec:
            problems.append(cc.ImportProblem(row, "amount", "the amount is empty"))
        elif amount is not None and amount < 0:
            problems.append(cc.ImportProblem(row, "amount", f"{amount} is below zero"))
        basis = _text(rec.get("basis")) or "labor_hours"
        if basis not in cc.BASES:
            problems.append(cc.ImportProblem(row, "basis", f"{basis!r} is not one of {', '.join(cc.BASES)}"))
        if name and name not in names and amount is not None and amount >= 0 and basis in cc.BASES:
            names[name] = row
            pools.append(cc.PoolTotal(name, basis, amount, (row,)))
    if not pools and not problems:
        problems.append(cc.ImportProblem(None, "period", f"no overhead pool of {period} in the rows"))
    return pools, problems


def refuse_import(what: str, problems: Sequence[cc.ImportProblem]) -> ToolError:
    """``invalid_input`` listing every bad line by row and field (nothing is written)."""
    first = problems[0]
    where = f"row {first.row}, field {first.field}" if first.row is not None else f"field {first.field}"
    return ToolError(
        "invalid_input",
        f"{what} refused, nothing written: {len(problems)} problem(s); {where}: {first.message}",
        {"errors": [{"row": p.row, "field": p.field, "message": p.message} for p in problems]},
    )


# ---------------------------------------------------------------- account mappings


class AccountMappingIn(BaseModel):
    account: str = Field(min_length=1, max_length=64, description="ledger account, e.g. 5101.02, or a prefix")
    match_type: Literal["exact", "prefix"] = Field(
        default="exact", description="exact account or every one under it"
    )
    cost_center: str = Field(
        default="", max_length=64, description="only lines of this cost center; empty: any"
    )
    pool: str = Field(min_length=1, max_length=100, description="overhead pool the lines go to")
    basis: Basis = Field(default="labor_hours", description="how that pool is allocated")
    active: bool = Field(default=True, description="false switches the mapping off")
    note: str = Field(default="", max_length=300)


class ProposeAccountMappingIn(BaseModel):
    mappings: list[AccountMappingIn] = Field(default_factory=list, max_length=1000)
    file: str | None = Field(
        default=None,
        max_length=500,
        description="a .csv or .xlsx on the server with columns account, match_type, cost_center, pool, basis, "
        "active, note",
    )


class MappingOut(BaseModel):
    account: str
    match_type: str
    cost_center: str
    pool: str
    basis: str
    active: bool
    note: str
    change: str = Field(default="", description="new | changed | unchanged (in a proposal)")


class AccountMappingProposalOut(ProposalOut):
    mappings: list[MappingOut]


def _mapping_rows(path: str) -> tuple[list[AccountMappingIn], list[cc.ImportProblem]]:
    problems: list[cc.ImportProblem] = []
    out = []
    for row, rec in read_table(path):
        match_text = _text(rec.get("match_type")) or "exact"
        match_text = {"精确": "exact", "前缀": "prefix"}.get(match_text, match_text)
        active_text = _text(rec.get("active")).lower()
        data = {
            "account": _text(rec.get("account")),
            "match_type": match_text,
            "cost_center": _text(rec.get("cost_center")),
            "pool": _text(rec.get("name")),
            "basis": _text(rec.get("basis")) or "labor_hours",
            "active": active_text not in ("false", "0", "no", "n", "否", "停用"),
            "note": _text(rec.get("note")),
        }
        try:
            out.append(AccountMappingIn.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(cc.ImportProblem(row, ".".join(str(p) for p in err["loc"]), str(err["msg"])))
    return out, problems


def _rule(m: AccountMapping | AccountMappingIn) -> cc.AccountRule:
    return cc.AccountRule(m.account, cc.MatchType(m.match_type), m.pool, m.basis, m.cost_center)


def active_rules(session: Session) -> list[cc.AccountRule]:
    return [_rule(m) for m in session.exec(select(AccountMapping).where(col(AccountMapping.active))).all()]


def _mapping_out(m: AccountMapping | AccountMappingIn, change: str = "") -> MappingOut:
    return MappingOut(
        account=m.account,
        match_type=m.match_type,
        cost_center=m.cost_center,
        pool=m.pool,
        basis=m.basis,
        active=m.active,
        note=m.note,
        change=change,
    )


@tool(kind="propose", tags=("costing",))
def propose_account_mapping(ctx: ToolContext, args: ProposeAccountMappingIn) -> AccountMappingProposalOut:
    """Propose mappings from general-ledger accounts (exact, or every account under a prefix; optionally
    one cost center) to overhead pools and their allocation basis, given as a list or a .csv / .xlsx file.
    A mapping with the same account, match type and cost center is replaced; active false switches one off.
    Used by propose_overhead_import for voucher lines. Nothing changes until a planner (or manager) confirms."""
    session = ctx.session
    given = [
        m.model_copy(
            update={
                "account": m.account.strip(),
                "pool": m.pool.strip(),
                "cost_center": m.cost_center.strip(),
            }
        )
        for m in args.mappings
    ]
    problems: list[cc.ImportProblem] = []
    if args.file:
        from_file, problems = _mapping_rows(args.file)
        given += from_file
    if problems:
        raise refuse_import("account mapping import", problems)
    if not given:
        raise ToolError("invalid_input", "give mappings or a file", {"field": "mappings"})
    existing = {
        (m.account, m.match_type, m.cost_center): m for m in session.exec(select(AccountMapping)).all()
    }
    keys: dict[tuple[str, str, str], int] = {}
    key: tuple[str, str, str]
    for index, m in enumerate(given):
        key = (m.account, m.match_type, m.cost_center)
        if key in keys:
            raise ToolError(
                "invalid_input",
                f"mapping {index + 1} repeats mapping {keys[key] + 1} ({m.account})",
                {"field": f"mappings.{index}.account"},
            )
        keys[key] = index
    after = {k: _rule(m) for k, m in existing.items() if m.active}
    for key, index in keys.items():
        m = given[index]
        if m.active:
            after[key] = _rule(m)
        else:
            after.pop(key, None)
    rules = list(after.values())
    bad = cc.check_rules(rules)
    if bad:
        raise refuse_import("account mappings", [cc.ImportProblem(None, p.field, p.message) for p in bad])
    out = []
    for m in given:
        old = existing.get((m.account, m.match_type, m.cost_center))
        same = old is not None and (old.pool, old.basis, old.active, old.note) == (
            m.pool,
            m.basis,
            m.active,
            m.note,
        )
        out.append(_mapping_out(m, "new" if old is None else "unchanged" if same else "changed"))
    text = _first_eight([f"{m.account}{'*' if m.match_type == 'prefix' else ''}→{m.pool}" for m in out], "、")
    base = create_proposal(
        ctx,
        kind=MAPPING_KIND,
        tool="propose_account_mapping",
        args=args,
        summary_zh=f"科目映射 {len(out)} 条:{text}。",
        summary_en=f"Account mappings, {len(out)}: {text}.",
        effect={"mappings": [m.model_dump(mode="json") for m in out]},
    )
    return AccountMappingProposalOut(**base.model_dump(), mappings=out)


@applier(MAPPING_KIND, roles=COSTING_ROLES, domains=("costing",))
def apply_account_mapping(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    written = []
    for raw in proposal.effect["mappings"]:
        m = MappingOut.model_validate(raw)
        row = session.exec(
            select(AccountMapping).where(
                AccountMapping.account == m.account,
                AccountMapping.match_type == m.match_type,
                AccountMapping.cost_center == m.cost_center,
            )
        ).first()
        before = _mapping_out(row).model_dump(mode="json") if row is not None else {}
        row = row or AccountMapping(
            account=m.account, match_type=m.match_type, cost_center=m.cost_center, pool=m.pool
        )
        row.pool, row.basis, row.active, row.note = m.pool, m.basis, m.active, m.note
        row.updated_by = actor.username
        row.updated_at = utcnow()
        session.add(row)
        after = _mapping_out(row).model_dump(mode="json")
        audit(
            session,
            actor,
            "map",
            entity=MAPPING_KIND,
            entity_ref=f"{m.account}/{m.match_type}/{m.cost_center}",
            proposal_id=proposal.id,
            before=before,
            after=after,
        )
        written.append(after)
    session.flush()
    bad = cc.check_rules(active_rules(session))
    if bad:
        raise ToolError("conflict", f"account mappings conflict: {bad[0].message}", {"field": "mappings"})
    return {"mappings": written}


class ListAccountMappingsIn(BaseModel):
    include_inactive: bool = False


class ListAccountMappingsOut(BaseModel):
    mappings: list[MappingOut]


@tool(kind="read", tags=("costing",))
def list_account_mappings(ctx: ToolContext, args: ListAccountMappingsIn) -> ListAccountMappingsOut:
    """Mappings from general-ledger accounts (exact or prefix, per cost center) to overhead pools and bases."""
    query = select(AccountMapping).order_by(col(AccountMapping.account), col(AccountMapping.cost_center))
    if not args.include_inactive:
        query = query.where(col(AccountMapping.active))
    return ListAccountMappingsOut(mappings=[_mapping_out(m) for m in ctx.session.exec(query).all()])


# ---------------------------------------------------------------- overhead import


class ProposeOverheadImportIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM")
    file: str | None = Field(
        default=None,
        max_length=500,
        description="a .csv or .xlsx on the server: voucher lines (account, cost_center, amount or debit / "
        "credit, period) or pools laid out like the dataset sheet costing_overhead_pools (period, name, "
        "amount, basis)",
    )
    rows: list[dict[str, Any]] | None = Field(
        default=None, max_length=20000, description="the same rows given directly (column: value)"
    )
    mode: Literal["replace", "merge"] = Field(
        default="replace", description="replace the period's pools, or replace / add only the imported ones"
    )


@tool(kind="propose", tags=("costing",))
def propose_overhead_import(ctx: ToolContext, args: ProposeOverheadImportIn) -> OverheadProposalOut:
    """Propose a month's overhead pools imported from Excel / CSV: either pools laid out like the dataset
    sheet costing_overhead_pools, or general-ledger voucher lines (account, cost center, amount, period)
    added up into pools through the account mappings (propose_account_mapping). All or nothing: every bad line
    is reported with its row and field (unmapped account, amount not a number, another period …) and nothing
    is proposed. Refused for a closed period. Nothing changes until a planner (or manager) confirms."""
    code = month(args.period).code
    if (args.file is None) == (args.rows is None):
        raise ToolError("invalid_input", "give either a file or rows", {"field": "file"})
    if args.file is not None:
        rows = read_table(args.file, sheet=POOL_SHEET)
        ref = Path(args.file).name
    else:
        rows = [
            (i + 1, {_header(k): _cell(v) for k, v in rec.items() if v is not None and _text(v) != ""})
            for i, rec in enumerate(args.rows or [])
        ]
        ref = "rows"
    columns = {name for _, rec in rows for name in rec}
    pools: Sequence[cc.PoolTotal]
    if "account" in columns:
        lines, problems = parse_ledger_rows(rows)
        pools, mapped = cc.map_ledger_lines(lines, active_rules(ctx.session), code)
        problems = sorted([*problems, *mapped], key=lambda p: (p.row is None, p.row or 0))
        if problems:
            raise refuse_import("overhead import", problems)
        source = "ledger"
    elif "name" in columns:
        pools, problems = parse_pool_rows(rows, code)
        if problems:
            raise refuse_import("overhead import", problems)
        source = "pools"
    else:
        raise ToolError(
            "invalid_input",
            "overhead import refused, nothing written: the columns must be account and amount (voucher lines) or "
            "name, amount and basis (overhead pools)",
            {"field": "file" if args.file else "rows", "columns": sorted(columns)},
        )
    return _propose_overhead(ctx, args, "propose_overhead_import", code, pools, args.mode, source, ref)


# ---------------------------------------------------------------- the period's inputs


class CostPeriodIn(BaseModel):
    period: str = Field(min_length=1, max_length=20, description="month YYYY-MM")


class OrderInputsOut(BaseModel):
    production_order: str
    item: str
    kind: str
    figures: list[FigureOut] = Field(description="each figure with its source (before is always null)")


class CostPeriodOut(BaseModel):
    period: str
    status: str = Field(description="open | closed")
    closed_by: str | None
    closed_at: datetime | None
    pools: list[PoolOut]
    orders: list[OrderInputsOut]


@tool(kind="read", tags=("costing",))
def get_cost_period(ctx: ToolContext, args: CostPeriodIn) -> CostPeriodOut:
    """A cost period's status and inputs: overhead pools, and every order's cost figures with where each
    came from (collected from documents, default, or entered by hand)."""
    session = ctx.session
    period = require_period(session, args.period)
    run = current_run(session, period)
    rows = session.exec(
        select(OrderCostInput, ProductionOrder, Item)
        .join(ProductionOrder, col(ProductionOrder.id) == col(OrderCostInput.production_order_id))
        .join(Item, col(Item.id) == col(ProductionOrder.item_id))
        .where(OrderCostInput.period_id == period.id)
        .order_by(col(ProductionOrder.code))
    ).all()
    _, sources = _existing_inputs(session, period)
    details = {
        (s.production_order_id, s.figure): s.detail
        for s in session.exec(select(CostFigureSource).where(CostFigureSource.period_id == period.id)).all()
    }
    orders = [
        OrderInputsOut(
            production_order=mo.code,
            item=item.code,
            kind=mo.kind,
            figures=[
                FigureOut(
                    figure=name,
                    before=None,
                    after=_dec(getattr(row, name)),
                    source=sources.get(mo.id or 0, {}).get(name, cc.FigureSource.MANUAL).value,
                    action="unchanged",
                    detail=details.get((mo.id or 0, name), "loaded or entered by hand"),
                )
                for name in cc.FIGURES
            ],
        )
        for row, mo, item in rows
    ]
    pools = [
        PoolOut(name=p.name, amount=_dec(p.amount), basis=p.basis, before=None)
        for p in session.exec(
            select(OverheadPool).where(OverheadPool.period_id == period.id).order_by(col(OverheadPool.id))
        ).all()
    ]
    return CostPeriodOut(
        period=period.code,
        status=period.status,
        closed_by=run.closed_by if run else None,
        closed_at=run.closed_at if run else None,
        pools=pools,
        orders=orders,
    )


# ---------------------------------------------------------------- closing (一键智能核算) and reopening


class CloseProblemOut(BaseModel):
    code: str = Field(
        description="e.g. uncollected_order, unreceived_order, missing_labor_hours, negative_stock, "
        "previous_period_open, or a costing problem (negative_value, cycle …)"
    )
    severity: str = Field(description="error (the period cannot be closed) or warning")
    message: str
    production_order: str | None = None
    item: str | None = None
    location: str | None = None
    pool: str | None = None


class CheckPeriodCloseOut(BaseModel):
    period: str
    status: str
    ok: bool = Field(description="no error: the period can be closed")
    problems: list[CloseProblemOut]
    orders: int = Field(description="orders with cost inputs")
    charged: Num = Field(description="all cost of the period (each cost counted once), when it can be costed")
    completed: Num
    wip: Num


def negative_balances(session: Session, on: date) -> list[cc.NegativeBalance]:
    """Stock below zero in an internal location at the end of ``on`` (by item, location and owner)."""
    internal = select(Location.id).where(col(Location.kind).in_(INTERNAL_KINDS))
    totals: dict[tuple[int, int, int | None], Decimal] = defaultdict(Decimal)
    for column, sign in ((StockMove.to_location_id, 1), (StockMove.from_location_id, -1)):
        query = (
            select(StockMove.item_id, column, StockMove.owner_customer_id, sa.func.sum(StockMove.qty))
            .where(col(column).in_(internal), StockMove.move_date <= on)
            .group_by(StockMove.item_id, column, StockMove.owner_customer_id)
        )
        for item_id, location_id, owner, qty in session.exec(query).all():
            totals[(item_id, location_id, owner)] += sign * _dec(qty)
    below = {k: v for k, v in totals.items() if v < 0}
    if not below:
        return []
    items = dict(
        session.exec(
            select(col(Item.id), col(Item.code)).where(col(Item.id).in_({k[0] for k in below}))
        ).all()
    )
    locations = dict(session.exec(select(col(Location.id), col(Location.code))).all())
    return [
        cc.NegativeBalance(items[item_id], locations[location_id], qty)
        for (item_id, location_id, _), qty in sorted(
            below.items(), key=lambda kv: (items[kv[0][0]], kv[0][1])
        )
    ]


@dataclass(frozen=True)
class CloseCheck:
    period: CostPeriod
    problems: list[CloseProblemOut]
    orders: int
    charged: Decimal
    completed: Decimal
    wip: Decimal

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def check_close(session: Session, period: CostPeriod) -> CloseCheck:
    """Everything that stops or questions closing ``period``: the closing checks, then costing's own."""
    try:
        period_range: cc.PeriodRange | None = cc.parse_period(period.code)
    except InvalidInputError:
        period_range = None
    inputs = {
        r.production_order_id: r
        for r in session.exec(select(OrderCostInput).where(OrderCostInput.period_id == period.id)).all()
    }
    docs = scan_documents(session, period_range, inputs) if period_range is not None else {}
    orders = {o.id or 0: o for o in _orders_by(session, ids=inputs)}
    orders.update({k: d.order for k, d in docs.items()})
    facts = []
    for order_id, order in sorted(orders.items(), key=lambda kv: kv[1].code):
        row = inputs.get(order_id)
        doc = docs.get(order_id)
        charged = ZERO
        if row is not None:
            charged = sum(
                (
                    _dec(getattr(row, n))
                    for n in (
                        "material_cost",
                        "labor_cost",
                        "subcontract_cost",
                        "opening_wip_material",
                        "opening_wip_conversion",
                    )
                ),
                ZERO,
            )
        facts.append(
            cc.OrderFacts(
                order=order.code,
                kind=order.kind,
                status=order.status,
                has_inputs=row is not None,
                has_documents=doc is not None and doc.has_documents,
                received_in_period=doc.received if doc is not None else ZERO,
                completed_qty=_dec(row.completed_qty) if row is not None else ZERO,
                wip_qty=_dec(row.wip_qty) if row is not None else ZERO,
                labor_hours=_dec(row.labor_hours) if row is not None else ZERO,
                charged=charged,
            )
        )
    pools = session.exec(select(OverheadPool).where(OverheadPool.period_id == period.id)).all()
    labor_pool = any(p.basis == "labor_hours" and _dec(p.amount) > 0 for p in pools)
    previous_open = None
    if period_range is not None:
        previous = find_period(session, cc.previous_period(period.code))
        if previous is not None and previous.status == "open":
            has = session.exec(
                select(OrderCostInput.id).where(OrderCostInput.period_id == previous.id)
            ).first()
            previous_open = previous.code if has is not None else None
    end = period_range.last_day if period_range is not None else None
    balances = negative_balances(session, end) if end is not None else []
    closing = cc.check_period_close(period.code, facts, labor_pool, balances, previous_open)
    problems = [
        CloseProblemOut(
            code=p.code,
            severity=p.severity.value,
            message=p.message,
            production_order=p.order,
            item=p.item,
            location=p.location,
        )
        for p in closing
    ]
    live = cost_period_live(session, period, with_variances=False)
    seen = {(p.code, p.production_order) for p in problems}
    for p in live.report.problems:
        # costing's own warning for orders without hours is an error at closing (missing_labor_hours above)
        if (p.code, p.production_order) in seen or (
            p.code == "no_labor_hours" and ("missing_labor_hours", p.production_order) in seen
        ):
            continue
        problems.append(_costing_problem(p))
    problems.sort(key=lambda p: p.severity != "error")
    report = live.report
    return CloseCheck(period, problems, len(inputs), report.charged, report.completed, report.wip)


def _costing_problem(p: CostProblemOut) -> CloseProblemOut:
    return CloseProblemOut(
        code=p.code, severity=p.severity, message=p.message, production_order=p.production_order, pool=p.pool
    )


@tool(kind="read", tags=("costing",))
def check_period_close(ctx: ToolContext, args: CostPeriodIn) -> CheckPeriodCloseOut:
    """Check whether a cost period can be closed (一键核算前检查), listing every problem: orders with documents
    but no cost inputs, finished orders that received nothing, production orders without labor hours when
    overhead goes by labor hours, negative stock at the period end, an earlier period still open, and
    costing's own checks (negative values, cycles …). Errors stop the closing; warnings do not."""
    period = require_period(ctx.session, args.period)
    check = check_close(ctx.session, period)
    return CheckPeriodCloseOut(
        period=period.code,
        status=period.status,
        ok=check.ok,
        problems=check.problems,
        orders=check.orders,
        charged=check.charged,
        completed=check.completed,
        wip=check.wip,
    )


class PeriodCloseProposalOut(ProposalOut):
    period: str
    orders: int
    charged: Num
    completed: Num
    wip: Num
    warnings: list[CloseProblemOut]


def close_refusal(subject: str, period: str, problems: Sequence[BaseModel], shown: int) -> ToolError:
    """``conflict``: ``subject`` cannot be closed, its first ``shown`` errors in the message, every problem
    (errors and warnings) in the details."""
    dumped = [p.model_dump(mode="json") for p in problems]
    errors = [d["message"] for d in dumped if d["severity"] == "error"]
    text = "; ".join(errors[:shown]) + (" …" if len(errors) > shown else "")
    return ToolError(
        "conflict",
        f"cannot close {subject}: {len(errors)} error(s): {text}",
        {"period": period, "problems": dumped},
    )


def _refuse_close(check: CloseCheck) -> ToolError:
    return close_refusal(check.period.code, check.period.code, check.problems, shown=5)


@tool(kind="propose", tags=("costing",))
def propose_period_close(ctx: ToolContext, args: CostPeriodIn) -> PeriodCloseProposalOut:
    """Propose one-click costing and closing of a cost period (一键智能核算): check the inputs (see
    check_period_close; with any error it is refused, listing them), cost every order bottom-up
    (sub-assembly and subcontract orders first, their unit cost flowing into the orders that used them;
    rework cost to the reworked order), store the results per order and cost element, and close the period
    (no more collection or overhead changes until a manager reopens it). Nothing changes until a planner (or
    manager) confirms."""
    period = require_period(ctx.session, args.period)
    if period.status == "closed":
        raise ToolError(
            "conflict",
            f"cost period {period.code} is already closed",
            {"record": period.code, "field": "status", "status": "closed"},
        )
    check = check_close(ctx.session, period)
    if not check.ok:
        raise _refuse_close(check)
    warnings = [p for p in check.problems if p.severity == "warning"]
    base = create_proposal(
        ctx,
        kind=CLOSE_KIND,
        tool="propose_period_close",
        args=args,
        summary_zh=f"一键核算并关闭 {period.code}:{check.orders} 张工单,本期成本 {_fmt(check.charged)},"
        f"完工 {_fmt(check.completed)},期末在制 {_fmt(check.wip)}"
        + (f";{len(warnings)} 条提醒" if warnings else "")
        + "。",
        summary_en=f"Cost and close {period.code}: {check.orders} order(s), cost of the period "
        f"{_fmt(check.charged)}, completed {_fmt(check.completed)}, ending WIP {_fmt(check.wip)}"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
        + ".",
        effect={"period": period.code},
        read_domains=("stock", "production", "purchasing", "bom", "master"),
    )
    return PeriodCloseProposalOut(
        **base.model_dump(),
        period=period.code,
        orders=check.orders,
        charged=check.charged,
        completed=check.completed,
        wip=check.wip,
        warnings=warnings,
    )


def _result_rows(session: Session, run: CostRun, live: PeriodCosting) -> list[CostResult]:
    """One row per order and cost element of a live costing (WIP conversion split like the completed)."""
    period = live.period
    assert live.inputs is not None and live.result is not None
    inputs = {o.order: o for o in live.inputs.orders}
    ids = {o.code: o for o in _orders_by(session, codes=inputs)}
    rows = []
    for cost in live.result.orders:
        order = ids[cost.order]
        given = inputs[cost.order]
        overhead = sum((s.amount for s in cost.allocations), ZERO)
        weights = [given.labor_cost, overhead, given.other_conversion_cost]
        if sum(weights, ZERO) == 0:
            weights = [ONE, ZERO, ZERO]
        wip_labor, wip_overhead, wip_other = pc.split_amount(cost.wip.conversion, weights)
        for element, completed, wip, transferred in (
            ("material", cost.material, cost.wip.material, cost.transferred_in),
            ("labor", cost.labor, wip_labor, ZERO),
            ("overhead", cost.overhead, wip_overhead, ZERO),
            ("other_conversion", cost.other_conversion, wip_other, ZERO),
            ("subcontract", cost.subcontract, cost.wip.subcontract, ZERO),
            ("rework", cost.rework, ZERO, ZERO),
        ):
            rows.append(
                CostResult(
                    run_id=run.id or 0,
                    period_id=period.id or 0,
                    production_order_id=order.id or 0,
                    item_id=order.item_id,
                    kind=cost.kind.value,
                    level=cost.level,
                    element=element,
                    completed=completed,
                    wip=wip,
                    transferred_in=transferred,
                    completed_qty=cost.completed_qty,
                    wip_qty=cost.wip.qty,
                )
            )
    return rows


@applier(CLOSE_KIND, roles=COSTING_ROLES, domains=("costing",))
def apply_period_close(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Check again, cost the period, store the run and its results, close the period."""
    period = require_period(session, str(proposal.effect["period"]))
    check = check_close(session, period)
    if not check.ok:
        raise _refuse_close(check)
    live = cost_period_live(session, period)
    run = CostRun(
        period_id=period.id or 0,
        closed_by=actor.username,
        proposal_id=proposal.id,
        report=live.report.model_dump(mode="json"),
    )
    session.add(run)
    session.flush()
    rows = _result_rows(session, run, live)
    session.add_all(rows)
    try:
        transition("cost_period", period, "closed", ref=period.code)
    except StateError as exc:
        raise ToolError("conflict", exc.message, {"record": period.code, **exc.details}) from None
    session.add(period)
    session.flush()
    summary = {
        "period": period.code,
        "run": run.id,
        "orders": len(live.report.orders),
        "charged": to_number(live.report.charged),
        "completed": to_number(live.report.completed),
        "wip": to_number(live.report.wip),
        "unit_costs": {o.production_order: to_number(o.unit_cost) for o in live.report.orders},
    }
    audit(
        session,
        actor,
        "close",
        entity="cost_period",
        entity_ref=period.code,
        proposal_id=proposal.id,
        before={"status": "open"},
        after={"status": "closed", **summary},
    )
    return summary


class ProposePeriodReopenIn(BaseModel):
    period: str = Field(min_length=1, max_length=20, description="month YYYY-MM")
    reason: str = Field(min_length=1, max_length=300, description="why the closed results must change")


class PeriodReopenProposalOut(ProposalOut):
    period: str
    closed_by: str
    closed_at: datetime | None


@tool(kind="propose", tags=("costing",))
def propose_period_reopen(ctx: ToolContext, args: ProposePeriodReopenIn) -> PeriodReopenProposalOut:
    """Propose reopening a closed cost period (反结账), with a reason: its stored results are superseded (kept
    for the record) and collection and overhead changes are allowed again until it is closed anew. Only a
    manager or admin may confirm."""
    period = require_period(ctx.session, args.period)
    if period.status != "closed":
        raise ToolError(
            "conflict",
            f"cost period {period.code} is not closed",
            {"record": period.code, "field": "status", "status": period.status},
        )
    run = current_run(ctx.session, period)
    base = create_proposal(
        ctx,
        kind=REOPEN_KIND,
        tool="propose_period_reopen",
        args=args,
        summary_zh=f"反结账 {period.code}(原因:{args.reason}),已存核算结果作废留档。",
        summary_en=f"Reopen cost period {period.code} ({args.reason}); its stored results are superseded.",
        effect={"period": period.code, "reason": args.reason},
    )
    return PeriodReopenProposalOut(
        **base.model_dump(),
        period=period.code,
        closed_by=run.closed_by if run else "",
        closed_at=run.closed_at if run else None,
    )


@applier(REOPEN_KIND, roles=(), domains=("costing",))
def apply_period_reopen(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Supersede the current run and open the period (managers and admins only)."""
    period = require_period(session, str(proposal.effect["period"]))
    run = current_run(session, period)
    try:
        transition("cost_period", period, "open", ref=period.code)
    except StateError as exc:
        raise ToolError("conflict", exc.message, {"record": period.code, **exc.details}) from None
    reason = str(proposal.effect["reason"])
    if run is not None:
        run.status = "superseded"
        run.reopened_by = actor.username
        run.reopened_at = utcnow()
        run.reopen_reason = reason[:300]
        session.add(run)
    session.add(period)
    session.flush()
    audit(
        session,
        actor,
        "reopen",
        entity="cost_period",
        entity_ref=period.code,
        proposal_id=proposal.id,
        before={"status": "closed", "run": run.id if run else None},
        after={"status": "open", "reason": reason},
    )
    return {"period": period.code, "status": "open", "superseded_run": run.id if run else None}
