"""Costing tools: the cost report of a production order and the one-click costing of a period."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from data_model.tables import (
    Bom,
    CostPeriod,
    CostRun,
    Item,
    JointProductOutput,
    OrderCostInput,
    OverheadPool,
    ProductionOrder,
    ProductionOrderComponent,
)
from planning import bom_cost
from planning import costing as pc
from planning.costing_collection import parse_period
from planning.errors import InvalidInputError
from tools.context import ToolContext, dataset_today
from tools.errors import ToolError, not_found
from tools.registry import tool
from tools.snapshot import load_plant_from_session
from tools.types import Num

# --------------------------------------------------------------------------------------------------------------
# Loading a period's cost inputs
# --------------------------------------------------------------------------------------------------------------


def find_period(session: Session, code: str) -> CostPeriod | None:
    """The cost period ``code`` (YYYY-MM), read afresh from the database; None if there is none."""
    return session.exec(
        select(CostPeriod).where(CostPeriod.code == code).execution_options(populate_existing=True)
    ).first()


def require_period(session: Session, code: str) -> CostPeriod:
    """The cost period ``code``, or ``not_found``."""
    row = find_period(session, code)
    if row is None:
        raise not_found("cost period", code)
    return row


def _period_row(session: Session, code: str | None, production_order_id: int | None = None) -> CostPeriod:
    """The period named ``code``; else the latest one (with inputs for ``production_order_id`` if given)."""
    if code is not None:
        return require_period(session, code)
    query = select(CostPeriod).order_by(col(CostPeriod.code).desc())
    if production_order_id is not None:
        query = query.join(OrderCostInput, col(OrderCostInput.period_id) == col(CostPeriod.id)).where(
            OrderCostInput.production_order_id == production_order_id
        )
    row = session.exec(query).first()
    if row is None:
        raise ToolError(
            "not_found",
            "no cost period has cost inputs"
            + ("" if production_order_id is None else " for this production order"),
            {"kind": "cost period"},
        )
    return row


def load_cost_inputs(session: Session, period: CostPeriod) -> pc.CostingInput:
    """The period's cost inputs as planning.costing.CostingInput.

    What each order consumed of other orders' output comes from its issued components whose item one of the
    period's orders makes (``material_cost`` holds the rest), or, for a sub-order linked by ``parent_order``
    with no such issue, from the sub-order's whole completed output. A rework order's ``parent_order`` is
    the order whose product it reworks.
    """
    rows = session.exec(
        select(OrderCostInput, ProductionOrder, Item)
        .join(ProductionOrder, col(ProductionOrder.id) == col(OrderCostInput.production_order_id))
        .join(Item, col(Item.id) == col(ProductionOrder.item_id))
        .where(OrderCostInput.period_id == period.id)
        .order_by(col(ProductionOrder.code))
    ).all()
    mo_code = {mo.id: mo.code for _, mo, _ in rows}
    parent_codes = dict(
        session.exec(
            select(col(ProductionOrder.id), col(ProductionOrder.code)).where(
                col(ProductionOrder.id).in_([mo.parent_order_id for _, mo, _ in rows if mo.parent_order_id])
            )
        ).all()
    )
    joint_rows = session.exec(
        select(JointProductOutput, Item)
        .join(Item, col(Item.id) == col(JointProductOutput.item_id))
        .where(JointProductOutput.period_id == period.id)
        .order_by(col(JointProductOutput.id))
    ).all()
    outputs: dict[int, list[pc.JointOutput]] = defaultdict(list)
    by_products: dict[int, list[pc.ByProduct]] = defaultdict(list)
    for row, item in joint_rows:
        if row.by_product:
            by_products[row.production_order_id].append(
                pc.ByProduct(item.code, row.qty, row.unit_value or Decimal(0))
            )
        else:
            outputs[row.production_order_id].append(
                pc.JointOutput(item.code, row.qty, coefficient=row.coefficient, sales_value=row.sales_value)
            )
    joints = tuple(
        pc.JointProduction(mo_code.get(mo_id, str(mo_id)), tuple(outputs[mo_id]), tuple(by_products[mo_id]))
        for mo_id in dict.fromkeys([*outputs, *by_products])
    )

    orders: list[pc.OrderCostInput] = []
    for inp, mo, item in rows:
        kind = pc.OrderKind(mo.kind)
        rework_of = parent_codes.get(mo.parent_order_id) if kind is pc.OrderKind.REWORK else None
        orders.append(
            pc.OrderCostInput(
                order=mo.code,
                item=item.code,
                completed_qty=inp.completed_qty,
                wip_qty=inp.wip_qty,
                wip_completion=pc.WipCompletion(inp.wip_completion_material, inp.wip_completion_conversion),
                opening_wip=pc.OpeningWip(inp.opening_wip_material, inp.opening_wip_conversion),
                material_cost=inp.material_cost,
                labor_cost=inp.labor_cost,
                labor_hours=inp.labor_hours,
                subcontract_cost=inp.subcontract_cost,
                kind=kind,
                rework_of=rework_of,
            )
        )

    made = {o.item for o in orders if o.rework_of is None}
    for joint in joints:
        made.update(joint.items)
    components = session.exec(
        select(ProductionOrderComponent, Item)
        .join(Item, col(Item.id) == col(ProductionOrderComponent.item_id))
        .where(col(ProductionOrderComponent.production_order_id).in_(list(mo_code)))
        .where(col(ProductionOrderComponent.issued_qty) > 0)
        .order_by(col(ProductionOrderComponent.id))
    ).all()
    own_item = {o.order: o.item for o in orders}
    consumptions: list[pc.Consumption] = []
    issued: set[tuple[str, str]] = set()
    for comp, item in components:
        consumer = mo_code[comp.production_order_id]
        # A rework order's own item among its components is the product being reworked, not a new input.
        if item.code in made and item.code != own_item[consumer]:
            consumptions.append(pc.Consumption(consumer, comp.issued_qty, item=item.code))
            issued.add((consumer, item.code))
    for inp, mo, item in rows:
        parent = mo.parent_order_id
        is_joint = mo.id in outputs or mo.id in by_products
        if mo.kind == "rework" or is_joint or parent not in mo_code or (mo_code[parent], item.code) in issued:
            continue
        if inp.completed_qty > 0:
            consumptions.append(pc.Consumption(mo_code[parent], inp.completed_qty, supplier_order=mo.code))

    consumed = {c.item for c in consumptions if c.item is not None}
    item_unit_costs = dict(
        session.exec(
            select(col(Item.code), col(Item.unit_cost))
            .where(col(Item.code).in_(consumed))
            .where(Item.unit_cost > 0)
        ).all()
    )
    pools = tuple(
        pc.OverheadPool(p.name, p.amount, pc.AllocationBasis(p.basis))
        for p in session.exec(
            select(OverheadPool).where(OverheadPool.period_id == period.id).order_by(col(OverheadPool.id))
        )
    )
    return pc.CostingInput(
        period=pc.CostPeriod(period.code),
        pools=pools,
        orders=tuple(orders),
        joint_products=joints,
        consumptions=tuple(consumptions),
        item_unit_costs=item_unit_costs,
    )


def period_end(session: Session, code: str) -> date:
    """The last day of a monthly period (``YYYY-MM``); the planning clock for a period named otherwise."""
    try:
        return parse_period(code).last_day
    except InvalidInputError:
        return dataset_today(session)


def standard_costs(
    session: Session, qty_by_item: Mapping[str, Decimal], on: date
) -> dict[str, pc.StandardCost]:
    """Standard unit costs (CONTRACT): a make or subcontract item with a BOM by its BOM roll-up
    (planning.bom_cost, the BOMs in force ``on``), any other item by its ``unit_cost`` where it has one.

    A BOM standard is split like actual cost, one level at a time: material is the direct components at
    their rolled-up cost (actual material includes sub-assemblies made by other orders too), labor the
    item's own operations (work centers' cost per hour, setups spread over ``qty_by_item``, the quantity
    costed) and subcontract its own processing fee; overhead has no standard.
    """
    items = set(qty_by_item)
    with_bom = set(
        session.exec(
            select(col(Item.code))
            .join(Bom, col(Bom.item_id) == col(Item.id))
            .where(col(Item.code).in_(items))
        ).all()
    )
    rows = session.exec(select(col(Item.code), col(Item.unit_cost)).where(col(Item.code).in_(items))).all()
    standards = {
        code: pc.StandardCost(code, cost) for code, cost in rows if cost > 0 and code not in with_bom
    }
    if not with_bom:
        return standards
    plant = load_plant_from_session(session, on)
    for code in sorted(with_bom):
        if code not in plant.boms:
            continue
        qty = qty_by_item[code] if qty_by_item[code] > 0 else Decimal(1)
        cost = bom_cost.get_bom_cost(plant, code, qty)
        own: dict[bom_cost.CostLineKind, Decimal] = defaultdict(Decimal)
        for line in cost.lines:
            if line.level == 1:
                own[line.kind] += line.extended_cost / qty
        standards[code] = pc.StandardCost(
            code,
            cost.unit_cost,
            material=own[bom_cost.CostLineKind.MATERIAL],
            labor=own[bom_cost.CostLineKind.OPERATION],
            subcontract=own[bom_cost.CostLineKind.SUBCONTRACT_FEE],
        )
    return standards


def _standards(session: Session, period: CostPeriod, result: pc.CostingResult) -> dict[str, pc.StandardCost]:
    """Standards of the items the period's orders completed, setups spread over what each completed."""
    qty: dict[str, Decimal] = defaultdict(Decimal)
    for cost in result.orders:
        for output in cost.outputs:
            if not output.by_product:
                qty[output.item] += output.qty
    return standard_costs(session, qty, period_end(session, period.code))


# --------------------------------------------------------------------------------------------------------------
# Output models
# --------------------------------------------------------------------------------------------------------------


class CostProblemOut(BaseModel):
    code: str = Field(description="e.g. missing_labor_hours, negative_value, no_output, cycle, no_unit_cost")
    severity: str = Field(description="error (nothing is costed until fixed) or warning")
    message: str
    production_order: str | None = None
    pool: str | None = None
    path: list[str] = Field(default_factory=list, description="a cycle of orders, first repeated last")


class WipOut(BaseModel):
    qty: Num
    material: Num
    conversion: Num
    subcontract: Num
    total: Num


class OutputOut(BaseModel):
    item: str
    qty: Num
    total: Num
    unit_cost: Num
    by_product: bool = False


class AllocationOut(BaseModel):
    pool: str
    basis: str = Field(
        description="labor_hours | output_qty (equivalent units of conversion) | material_cost"
    )
    basis_qty: Num = Field(description="this order's quantity of the basis")
    share: Num = Field(description="fraction of the pool")
    amount: Num
    amount_cents: Num = Field(description="amount rounded to cents; the pool's cents add up to the pool")


class ElementOut(BaseModel):
    element: str = Field(description="material | conversion | subcontract")
    opening: Num
    current: Num
    charged: Num
    equivalent_units: Num
    cost_per_eu: Num
    completed: Num
    wip: Num


class CheckOut(BaseModel):
    name: str
    expected: Num
    actual: Num
    ok: bool


class OrderCostOut(BaseModel):
    production_order: str
    item: str
    kind: str
    level: int = Field(description="costing sequence: 0 uses no other order's output")
    completed_qty: Num
    material: Num = Field(description="material cost of the completed output (transferred-in included)")
    labor: Num
    overhead: Num
    subcontract: Num = Field(description="subcontract fee in the completed output")
    other_conversion: Num
    rework: Num = Field(description="rework orders' cost added to this order's product")
    total: Num = Field(description="cost of the completed output")
    unit_cost: Num = Field(description="total / completed_qty")
    wip: WipOut = Field(description="ending work in process")
    outputs: list[OutputOut] = Field(description="each product; several for a joint-production order")
    allocations: list[AllocationOut]
    elements: list[ElementOut] = Field(description="weighted-average equivalent units per cost element")
    transferred_in: Num = Field(description="material charged from other orders' output (roll-up)")
    charged: Num = Field(description="opening WIP + all cost of the period (+ rework) = total + wip.total")
    rework_of: str | None = None
    checks: list[CheckOut]


def _order_out(cost: pc.OrderCost) -> OrderCostOut:
    return OrderCostOut(
        production_order=cost.order,
        item=cost.item,
        kind=cost.kind.value,
        level=cost.level,
        completed_qty=cost.completed_qty,
        material=cost.material,
        labor=cost.labor,
        overhead=cost.overhead,
        subcontract=cost.subcontract,
        other_conversion=cost.other_conversion,
        rework=cost.rework,
        total=cost.total,
        unit_cost=cost.unit_cost,
        wip=WipOut(
            qty=cost.wip.qty,
            material=cost.wip.material,
            conversion=cost.wip.conversion,
            subcontract=cost.wip.subcontract,
            total=cost.wip.total,
        ),
        outputs=[
            OutputOut(item=o.item, qty=o.qty, total=o.total, unit_cost=o.unit_cost, by_product=o.by_product)
            for o in cost.outputs
        ],
        allocations=[
            AllocationOut(
                pool=s.pool,
                basis=s.basis.value,
                basis_qty=s.basis_qty,
                share=s.share,
                amount=s.amount,
                amount_cents=s.amount_cents,
            )
            for s in cost.allocations
        ],
        elements=[
            ElementOut(
                element=e.element.value,
                opening=e.opening,
                current=e.current,
                charged=e.charged,
                equivalent_units=e.equivalent_units,
                cost_per_eu=e.cost_per_eu,
                completed=e.completed,
                wip=e.wip,
            )
            for e in cost.elements
        ],
        transferred_in=cost.transferred_in,
        charged=cost.charged,
        rework_of=cost.rework_of,
        checks=[CheckOut(name=c.name, expected=c.expected, actual=c.actual, ok=c.ok) for c in cost.checks],
    )


def _problem_out(p: pc.CostingProblem) -> CostProblemOut:
    return CostProblemOut(
        code=p.code,
        severity=p.severity.value,
        message=p.message,
        production_order=p.order,
        pool=p.pool,
        path=list(p.path),
    )


# --------------------------------------------------------------------------------------------------------------
# get_cost_report
# --------------------------------------------------------------------------------------------------------------


class GetCostReportIn(BaseModel):
    production_order: str = Field(min_length=1, max_length=64, description="production order id, e.g. MO-7")
    period: str | None = Field(
        default=None,
        max_length=20,
        description="cost period, e.g. 2026-11; default: the latest with this order's inputs",
    )


class GetCostReportOut(OrderCostOut):
    period: str
    warnings: list[CostProblemOut] = Field(description="problems of the period that did not stop costing")
    closed: bool = Field(
        default=False, description="the period is closed: these are the results stored when it was closed"
    )


@tool(kind="read", tags=("costing",))
def get_cost_report(ctx: ToolContext, args: GetCostReportIn) -> GetCostReportOut:
    """Actual cost of one production order in a cost period: what its completed output and ending WIP cost.

    Weighted-average equivalent units per element: cost per unit = (opening WIP + period cost) /
    (completed + WIP × completion). Conversion = labor + overhead, each overhead pool allocated over all
    orders of the period by labor hours, equivalent units of conversion, or direct material cost.
    Sub-assemblies and subcontracted parts made by other orders of the period are costed first and flow in as
    material; rework cost goes to the reworked order. Returns material, labor, overhead, subcontract and total
    of the completed output, completed_qty, unit_cost, wip {qty, material, conversion, total}, outputs per
    product (several for joint production), each overhead allocation, and a check that completed + WIP equals
    all cost charged. Amounts are in the dataset's currency. For a closed period (`closed` true) these are
    the results stored when it was closed.
    """
    mo = ctx.session.exec(
        select(ProductionOrder).where(ProductionOrder.code == args.production_order)
    ).first()
    if mo is None:
        raise not_found("production order", args.production_order)
    period = _period_row(ctx.session, args.period, mo.id)
    costing = period_report(ctx.session, period, with_variances=False)
    report = costing.report
    if not report.ok:
        problems = [p for p in report.problems if p.severity == pc.Severity.ERROR.value]
        raise ToolError(
            "conflict",
            f"the cost inputs of {period.code} have {len(problems)} problem(s); first: {problems[0].message}",
            {"period": period.code, "problems": [p.model_dump(mode="json") for p in problems]},
        )
    cost = next((o for o in report.orders if o.production_order == args.production_order), None)
    if cost is None:
        raise ToolError(
            "not_found",
            f"production order {args.production_order} has no cost inputs in {period.code}",
            {"kind": "order cost input", "key": args.production_order, "period": period.code},
        )
    return GetCostReportOut(
        period=period.code,
        warnings=report.problems,
        closed=costing.stored,
        **cost.model_dump(),
    )


# --------------------------------------------------------------------------------------------------------------
# run_costing
# --------------------------------------------------------------------------------------------------------------


class ShareOut(BaseModel):
    production_order: str
    basis_qty: Num
    share: Num
    amount: Num
    amount_cents: Num


class PoolOut(BaseModel):
    pool: str
    basis: str
    amount: Num
    total_basis: Num
    shares: list[ShareOut]


class ElementVarianceOut(BaseModel):
    element: str
    standard: Num
    actual: Num
    variance: Num


class VarianceOut(BaseModel):
    production_order: str
    item: str
    qty: Num
    standard_unit_cost: Num
    actual_unit_cost: Num
    standard_total: Num
    actual_total: Num
    variance: Num = Field(description="actual - standard; positive is unfavourable")
    elements: list[ElementVarianceOut]


class RunCostingIn(BaseModel):
    period: str | None = Field(
        default=None, max_length=20, description="cost period, e.g. 2026-11; default: latest"
    )


class RunCostingOut(BaseModel):
    period: str
    ok: bool = Field(description="false when problems hold an error; then nothing is costed")
    problems: list[CostProblemOut]
    orders: list[OrderCostOut] = Field(
        description="in costing sequence: sub-assemblies first, finished goods last"
    )
    pools: list[PoolOut]
    variances: list[VarianceOut] = Field(description="against the item's standard cost where it has one")
    charged: Num = Field(description="all cost of the period, opening WIP included, each cost counted once")
    completed: Num = Field(description="charged - wip: completed output not used up by another order's work")
    wip: Num = Field(description="ending work in process of all orders")


@tool(kind="read", tags=("costing",))
def run_costing(ctx: ToolContext, args: RunCostingIn) -> RunCostingOut:
    """One-click costing of a cost period: check the cost inputs, then cost every production order bottom-up.

    First lists problems (negative values, labor without hours when overhead goes by labor hours, orders with
    nothing completed and no WIP, pools with no basis, cycles …); with any error nothing is costed. Otherwise
    allocates every overhead pool, costs sub-assembly and subcontract orders first and carries their unit cost
    into the orders that used them, up to finished goods, and compares with standard cost (BOM roll-up, or
    the item's standard cost without a BOM). A closed period reports the results stored when it was closed.
    Read-only: nothing is written.
    """
    return period_report(ctx.session, _period_row(ctx.session, args.period)).report


# --------------------------------------------------------------------------------------------------------------
# The period's costing, live or as stored when it was closed
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodCosting:
    """A period costed: the inputs and result (live costing only) and the report tools give."""

    period: CostPeriod
    report: RunCostingOut
    inputs: pc.CostingInput | None = None
    result: pc.CostingResult | None = None
    run: CostRun | None = None  # the closing it was read from

    @property
    def stored(self) -> bool:
        return self.run is not None


def current_run(session: Session, period: CostPeriod) -> CostRun | None:
    """The closing whose results stand for ``period`` (None while it is open)."""
    if period.status != "closed":
        return None
    return session.exec(
        select(CostRun)
        .where(CostRun.period_id == period.id, CostRun.status == "current")
        .order_by(col(CostRun.id).desc())
    ).first()


def _variance_out(v: pc.CostVariance) -> VarianceOut:
    return VarianceOut(
        production_order=v.order,
        item=v.item,
        qty=v.qty,
        standard_unit_cost=v.standard_unit_cost,
        actual_unit_cost=v.actual_unit_cost,
        standard_total=v.standard_total,
        actual_total=v.actual_total,
        variance=v.variance,
        elements=[
            ElementVarianceOut(element=e.element, standard=e.standard, actual=e.actual, variance=e.variance)
            for e in v.elements
        ],
    )


def cost_period_live(session: Session, period: CostPeriod, with_variances: bool = True) -> PeriodCosting:
    """Cost ``period`` from its current inputs (whatever its status); variances need the BOM roll-up."""
    inputs = load_cost_inputs(session, period)
    result = pc.roll_up_costs(inputs)
    standards = _standards(session, period, result) if result.ok and with_variances else {}
    variances = pc.compute_variances(result, standards)
    # What flowed from one order into another (consumed output, rework) is counted where it was first charged.
    charged = sum((c.charged - c.transferred_in - c.rework for c in result.orders), Decimal(0))
    wip = sum((c.wip.total for c in result.orders), Decimal(0))
    report = RunCostingOut(
        period=period.code,
        ok=result.ok,
        problems=[_problem_out(p) for p in result.problems],
        orders=[_order_out(c) for c in result.orders],
        pools=[
            PoolOut(
                pool=p.pool,
                basis=p.basis.value,
                amount=p.amount,
                total_basis=p.total_basis,
                shares=[
                    ShareOut(
                        production_order=s.order,
                        basis_qty=s.basis_qty,
                        share=s.share,
                        amount=s.amount,
                        amount_cents=s.amount_cents,
                    )
                    for s in p.shares
                ],
            )
            for p in result.pools
        ],
        variances=[_variance_out(v) for v in variances],
        charged=charged,
        completed=charged - wip,
        wip=wip,
    )
    return PeriodCosting(period, report, inputs, result)


def period_report(session: Session, period: CostPeriod, with_variances: bool = True) -> PeriodCosting:
    """The period's costing: as stored when it was closed, else computed from its inputs now."""
    run = current_run(session, period)
    if run is not None:
        return PeriodCosting(period, RunCostingOut.model_validate(run.report), run=run)
    return cost_period_live(session, period, with_variances)
