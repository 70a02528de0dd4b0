"""Cost accounting per production order: overhead allocation, equivalent units, joint products, roll-up."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from enum import StrEnum
from typing import ParamSpec, TypeVar

from planning.errors import InvalidInputError

ZERO = Decimal(0)
ONE = Decimal(1)

MONEY_QUANTUM = Decimal("1e-12")
"""Internal scale of every amount: fine enough to be exact for reporting at 6 places, coarse enough that
sums and differences of amounts are exact, so a pool is fully allocated and completed + WIP = charged."""

CENT = Decimal("0.01")

# 50 significant digits: amounts up to 10^30 keep all 12 places through a division.
_CONTEXT = Context(prec=50, rounding=ROUND_HALF_UP)

P = ParamSpec("P")
R = TypeVar("R")


def _exact(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in the module's decimal context, whatever context the caller has set."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(_CONTEXT):
            return fn(*args, **kwargs)

    return wrapper


def _money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_UP)


# --------------------------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------------------------


class AllocationBasis(StrEnum):
    """What an overhead pool is spread by.

    ``output_qty`` is the equivalent units of conversion (completed + WIP × conversion completion): overhead
    is a conversion cost, so a half-finished unit has taken half a finished unit's share (the textbook rule).
    ``material_cost`` is the order's own direct material, not what flows in from other orders in the roll-up:
    that would make each order's share depend on the other orders' overhead.
    """

    LABOR_HOURS = "labor_hours"
    OUTPUT_QTY = "output_qty"
    MATERIAL_COST = "material_cost"


class OrderKind(StrEnum):
    PRODUCTION = "production"
    SUBCONTRACT = "subcontract"
    REWORK = "rework"


class CostElement(StrEnum):
    MATERIAL = "material"
    CONVERSION = "conversion"  # labor + allocated overhead + other conversion cost
    SUBCONTRACT = "subcontract"  # the subcontractor's processing fee


class Severity(StrEnum):
    ERROR = "error"  # costing cannot be done (or would be wrong) until it is fixed
    WARNING = "warning"  # costing is done; the result may not be what was meant


@dataclass(frozen=True, slots=True)
class CostPeriod:
    code: str  # e.g. 2026-11


@dataclass(frozen=True, slots=True)
class OverheadPool:
    name: str
    amount: Decimal
    basis: AllocationBasis = AllocationBasis.LABOR_HOURS


@dataclass(frozen=True, slots=True)
class WipCompletion:
    """Share (0..1) of each cost element that the ending work in process has received.

    The subcontract fee is, unless stated, charged in full when goods go out (completion 1.0), like material.
    """

    material: Decimal = ONE
    conversion: Decimal = ZERO
    subcontract: Decimal = ONE


@dataclass(frozen=True, slots=True)
class OpeningWip:
    """Cost carried in from the previous period's ending work in process, per element."""

    material: Decimal = ZERO
    conversion: Decimal = ZERO
    subcontract: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.material + self.conversion + self.subcontract


@dataclass(frozen=True, slots=True)
class OrderCostInput:
    """Costs collected on one production order in the period and its output at the period end.

    ``material_cost`` is the material issued directly (purchased); sub-assemblies and subcontracted parts
    made by other orders of the period are added by the roll-up from ``Consumption`` records.
    A rework order (``rework_of`` set) makes no new product: its completed cost goes to the original order.
    """

    order: str
    item: str
    completed_qty: Decimal
    wip_qty: Decimal = ZERO
    wip_completion: WipCompletion = field(default_factory=WipCompletion)
    opening_wip: OpeningWip = field(default_factory=OpeningWip)
    material_cost: Decimal = ZERO
    labor_cost: Decimal = ZERO
    labor_hours: Decimal = ZERO
    subcontract_cost: Decimal = ZERO
    other_conversion_cost: Decimal = ZERO  # e.g. machine energy charged directly; a conversion cost
    kind: OrderKind = OrderKind.PRODUCTION
    rework_of: str | None = None

    @property
    def conversion_equivalent_units(self) -> Decimal:
        return self.completed_qty + self.wip_qty * self.wip_completion.conversion

    def basis_qty(self, basis: AllocationBasis) -> Decimal:
        """This order's quantity of an overhead allocation basis."""
        if basis is AllocationBasis.LABOR_HOURS:
            return self.labor_hours
        if basis is AllocationBasis.OUTPUT_QTY:
            return self.conversion_equivalent_units
        return self.material_cost


@dataclass(frozen=True, slots=True)
class JointOutput:
    """A main product of a joint process; weighted by ``qty × coefficient`` or by its total ``sales_value``."""

    item: str
    qty: Decimal
    coefficient: Decimal | None = None
    sales_value: Decimal | None = None  # the sales value of the whole ``qty``, not a unit price

    @property
    def weight(self) -> Decimal:
        if self.coefficient is not None:
            return self.qty * self.coefficient
        return self.sales_value if self.sales_value is not None else ZERO


@dataclass(frozen=True, slots=True)
class ByProduct:
    """A by-product: valued at a fixed ``unit_value`` and deducted from the joint cost first."""

    item: str
    qty: Decimal
    unit_value: Decimal

    @property
    def value(self) -> Decimal:
        return self.qty * self.unit_value


@dataclass(frozen=True, slots=True)
class JointProduction:
    order: str
    outputs: tuple[JointOutput, ...]
    by_products: tuple[ByProduct, ...] = ()

    @property
    def items(self) -> tuple[str, ...]:
        """Every product of the order, main products first."""
        return tuple(o.item for o in self.outputs) + tuple(b.item for b in self.by_products)


@dataclass(frozen=True, slots=True)
class Consumption:
    """``consumer`` used ``qty`` of the output of ``supplier_order``, or of ``item`` made by the period's orders."""

    consumer: str
    qty: Decimal
    supplier_order: str | None = None
    item: str | None = None


@dataclass(frozen=True, slots=True)
class StandardCost:
    """Standard cost per unit of ``item`` (e.g. from the BOM roll-up), with the elements that are known."""

    item: str
    unit_cost: Decimal
    material: Decimal | None = None
    labor: Decimal | None = None
    overhead: Decimal | None = None
    subcontract: Decimal | None = None


@dataclass(frozen=True)
class CostingInput:
    """Everything costing a period reads.

    ``item_unit_costs`` values consumed items that no order of the period made (e.g. last period's cost).
    """

    period: CostPeriod
    pools: tuple[OverheadPool, ...] = ()
    orders: tuple[OrderCostInput, ...] = ()
    joint_products: tuple[JointProduction, ...] = ()
    consumptions: tuple[Consumption, ...] = ()
    item_unit_costs: Mapping[str, Decimal] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CostingProblem:
    """Something wrong with the period's cost inputs, with what it concerns."""

    code: str
    severity: Severity
    message: str
    order: str | None = None
    pool: str | None = None
    path: tuple[str, ...] = ()  # a cycle, first order repeated last


@dataclass(frozen=True, slots=True)
class OverheadShare:
    """One order's share of one pool. ``amount`` is what costing uses; ``amount_cents`` is it in cents.

    Both columns add up to the pool exactly: the rounding difference goes to the largest share.
    """

    order: str
    pool: str
    basis: AllocationBasis
    basis_qty: Decimal
    share: Decimal  # basis_qty / the pool's total basis
    amount: Decimal
    amount_cents: Decimal


@dataclass(frozen=True, slots=True)
class PoolAllocation:
    pool: str
    basis: AllocationBasis
    amount: Decimal
    total_basis: Decimal
    shares: tuple[OverheadShare, ...]


@dataclass(frozen=True, slots=True)
class ElementCost:
    """Weighted average for one cost element: (opening + current) / equivalent units, split completed / WIP."""

    element: CostElement
    opening: Decimal
    current: Decimal
    charged: Decimal
    equivalent_units: Decimal
    cost_per_eu: Decimal
    completed: Decimal
    wip: Decimal


@dataclass(frozen=True, slots=True)
class WipCost:
    qty: Decimal
    material: Decimal
    conversion: Decimal
    subcontract: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True)
class OutputCost:
    item: str
    qty: Decimal
    total: Decimal
    unit_cost: Decimal
    by_product: bool = False


@dataclass(frozen=True, slots=True)
class CostCheck:
    name: str
    expected: Decimal
    actual: Decimal

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass(frozen=True, slots=True)
class OrderCost:
    """The cost of one order's completed output (material … total) and of its ending work in process.

    ``transferred_in`` is the part of ``material`` charged that came from other orders of the period;
    ``rework`` is the completed cost of rework orders on this order's product. ``level`` is the costing
    sequence: 0 uses no other order's output, n uses output of orders up to level n - 1.
    """

    order: str
    item: str
    kind: OrderKind
    level: int
    completed_qty: Decimal
    material: Decimal
    labor: Decimal
    overhead: Decimal
    other_conversion: Decimal
    subcontract: Decimal
    rework: Decimal
    total: Decimal
    unit_cost: Decimal
    wip: WipCost
    elements: tuple[ElementCost, ...]
    outputs: tuple[OutputCost, ...]
    allocations: tuple[OverheadShare, ...]
    transferred_in: Decimal
    charged: Decimal  # opening WIP + every cost of the period + rework received
    checks: tuple[CostCheck, ...]
    rework_of: str | None = None

    @property
    def balanced(self) -> bool:
        return all(check.ok for check in self.checks)


@dataclass(frozen=True, slots=True)
class CostingResult:
    """A period costed bottom-up; ``orders`` in costing sequence, empty when ``problems`` hold an error."""

    period: CostPeriod
    orders: tuple[OrderCost, ...]
    pools: tuple[PoolAllocation, ...]
    problems: tuple[CostingProblem, ...]

    @property
    def ok(self) -> bool:
        return not any(p.severity is Severity.ERROR for p in self.problems)

    def find_order(self, order: str) -> OrderCost | None:
        return next((cost for cost in self.orders if cost.order == order), None)


@dataclass(frozen=True, slots=True)
class ElementVariance:
    element: str  # material | labor | overhead | subcontract
    standard: Decimal
    actual: Decimal
    variance: Decimal  # actual - standard: positive is unfavourable


@dataclass(frozen=True, slots=True)
class CostVariance:
    """Actual cost of the completed output against standard unit cost × completed quantity."""

    order: str
    item: str
    qty: Decimal
    standard_unit_cost: Decimal
    actual_unit_cost: Decimal
    standard_total: Decimal
    actual_total: Decimal
    variance: Decimal  # actual - standard: positive is unfavourable
    elements: tuple[ElementVariance, ...] = ()


# --------------------------------------------------------------------------------------------------------------
# Allocation
# --------------------------------------------------------------------------------------------------------------


@_exact
def split_amount(
    amount: Decimal, weights: Sequence[Decimal], quantum: Decimal = MONEY_QUANTUM
) -> tuple[Decimal, ...]:
    """Split ``amount`` in proportion to ``weights``, each part rounded half-up to ``quantum``.

    The parts add up to ``amount`` (rounded to ``quantum``) exactly: the rounding difference goes to the part
    with the largest weight, the first of equal ones, where it is the smallest change relative to the part.
    """
    if any(w < 0 for w in weights):
        raise InvalidInputError("weights must not be negative", {"weights": [str(w) for w in weights]})
    total_weight = sum(weights, ZERO)
    if total_weight == 0:
        raise InvalidInputError("cannot split an amount over weights that are all zero")
    target = amount.quantize(quantum, rounding=ROUND_HALF_UP)
    parts = [(amount * w / total_weight).quantize(quantum, rounding=ROUND_HALF_UP) for w in weights]
    largest = max(range(len(weights)), key=lambda i: (weights[i], -i))
    parts[largest] += target - sum(parts, ZERO)
    return tuple(parts)


@_exact
def allocate_overhead(
    pools: Iterable[OverheadPool], orders: Sequence[OrderCostInput]
) -> tuple[PoolAllocation, ...]:
    """Allocate each pool over all ``orders`` in proportion to its basis; see ``AllocationBasis``.

    Raises InvalidInputError for a pool with an amount but no order with any of its basis.
    """
    allocations = []
    for pool in pools:
        bases = [order.basis_qty(pool.basis) for order in orders]
        total_basis = sum(bases, ZERO)
        if total_basis == 0:
            if pool.amount != 0:
                raise InvalidInputError(
                    f"overhead pool {pool.name!r} has no {pool.basis.value} to be allocated by",
                    {"pool": pool.name, "basis": pool.basis.value},
                )
            allocations.append(PoolAllocation(pool.name, pool.basis, pool.amount, ZERO, ()))
            continue
        amounts = split_amount(pool.amount, bases)
        cents = split_amount(pool.amount, bases, CENT)
        shares = tuple(
            OverheadShare(
                order=order.order,
                pool=pool.name,
                basis=pool.basis,
                basis_qty=basis_qty,
                share=basis_qty / total_basis,
                amount=amount,
                amount_cents=cent_amount,
            )
            for order, basis_qty, amount, cent_amount in zip(orders, bases, amounts, cents, strict=True)
        )
        allocations.append(PoolAllocation(pool.name, pool.basis, pool.amount, total_basis, shares))
    return tuple(allocations)


# --------------------------------------------------------------------------------------------------------------
# One order
# --------------------------------------------------------------------------------------------------------------


def _element_cost(
    element: CostElement, opening: Decimal, current: Decimal, order: OrderCostInput, completion: Decimal
) -> ElementCost:
    charged = opening + current
    wip_units = order.wip_qty * completion
    equivalent_units = order.completed_qty + wip_units
    cost_per_eu = charged / equivalent_units if equivalent_units else ZERO
    # Nothing completed: every cost stays in WIP, even what has no equivalent units to carry it.
    wip = charged if order.completed_qty == 0 else _money(cost_per_eu * wip_units)
    # Completed is the remainder, so completed + WIP = charged exactly.
    return ElementCost(element, opening, current, charged, equivalent_units, cost_per_eu, charged - wip, wip)


@_exact
def cost_joint_products(joint_cost: Decimal, joint: JointProduction) -> tuple[OutputCost, ...]:
    """Split a joint cost over the main products after deducting by-products at ``qty × unit_value``.

    Main products are weighted by ``qty × coefficient`` or by their sales value; the outputs' totals add up
    to ``joint_cost`` exactly. Raises InvalidInputError if by-products are worth more than the joint cost.
    """
    by_product_value = _money(sum((b.value for b in joint.by_products), ZERO))
    net_cost = joint_cost - by_product_value
    if net_cost < 0:
        raise InvalidInputError(
            f"order {joint.order}: by-products ({by_product_value}) are worth more than the joint cost "
            f"({joint_cost})",
            {"order": joint.order, "joint_cost": str(joint_cost), "by_products": str(by_product_value)},
        )
    amounts = split_amount(net_cost, [output.weight for output in joint.outputs])
    main = tuple(
        OutputCost(output.item, output.qty, amount, _money(amount / output.qty) if output.qty else ZERO)
        for output, amount in zip(joint.outputs, amounts, strict=True)
    )
    by_products = tuple(
        OutputCost(b.item, b.qty, _money(b.value), b.unit_value, by_product=True) for b in joint.by_products
    )
    return main + by_products


@_exact
def cost_order(
    order: OrderCostInput,
    allocations: Sequence[OverheadShare] = (),
    transferred_in: Decimal = ZERO,
    rework_in: Decimal = ZERO,
    joint: JointProduction | None = None,
    level: int = 0,
) -> OrderCost:
    """Cost one order by the weighted-average method, per element.

    Cost per equivalent unit = (opening WIP + current cost) / (completed + WIP × completion). Conversion is
    labor + allocated overhead + other conversion cost; the completed conversion cost is split into labor,
    overhead and other in proportion to the period's own amounts (opening WIP conversion included; with none
    in the period it is reported as labor). ``rework_in`` is added to the completed output only.
    """
    overhead = sum((share.amount for share in allocations), ZERO)
    material = _element_cost(
        CostElement.MATERIAL,
        order.opening_wip.material,
        order.material_cost + transferred_in,
        order,
        order.wip_completion.material,
    )
    conversion = _element_cost(
        CostElement.CONVERSION,
        order.opening_wip.conversion,
        order.labor_cost + overhead + order.other_conversion_cost,
        order,
        order.wip_completion.conversion,
    )
    subcontract = _element_cost(
        CostElement.SUBCONTRACT,
        order.opening_wip.subcontract,
        order.subcontract_cost,
        order,
        order.wip_completion.subcontract,
    )
    conversion_weights = [order.labor_cost, overhead, order.other_conversion_cost]
    if sum(conversion_weights, ZERO) == 0:
        conversion_weights = [ONE, ZERO, ZERO]
    labor, overhead_done, other = split_amount(conversion.completed, conversion_weights)
    total = material.completed + conversion.completed + subcontract.completed + rework_in
    unit_cost = _money(total / order.completed_qty) if order.completed_qty else ZERO
    wip = WipCost(
        qty=order.wip_qty,
        material=material.wip,
        conversion=conversion.wip,
        subcontract=subcontract.wip,
        total=material.wip + conversion.wip + subcontract.wip,
    )
    charged = material.charged + conversion.charged + subcontract.charged + rework_in
    if joint is not None:
        outputs = cost_joint_products(total, joint)
    elif order.rework_of is not None or order.completed_qty == 0:
        outputs = ()
    else:
        outputs = (OutputCost(order.item, order.completed_qty, total, unit_cost),)
    checks = [CostCheck("completed + wip = charged", charged, total + wip.total)]
    if joint is not None:
        checks.append(CostCheck("outputs = completed", total, sum((o.total for o in outputs), ZERO)))
    return OrderCost(
        order=order.order,
        item=order.item,
        kind=order.kind,
        level=level,
        completed_qty=order.completed_qty,
        material=material.completed,
        labor=labor,
        overhead=overhead_done,
        other_conversion=other,
        subcontract=subcontract.completed,
        rework=rework_in,
        total=total,
        unit_cost=unit_cost,
        wip=wip,
        elements=(material, conversion, subcontract),
        outputs=outputs,
        allocations=tuple(allocations),
        transferred_in=transferred_in,
        charged=charged,
        checks=tuple(checks),
        rework_of=order.rework_of,
    )


# --------------------------------------------------------------------------------------------------------------
# The period: validation and the bottom-up roll-up
# --------------------------------------------------------------------------------------------------------------


def _error(
    code: str, message: str, *, order: str | None = None, pool: str | None = None, path: tuple[str, ...] = ()
) -> CostingProblem:
    return CostingProblem(code, Severity.ERROR, message, order=order, pool=pool, path=path)


def _warning(code: str, message: str, *, order: str | None = None) -> CostingProblem:
    return CostingProblem(code, Severity.WARNING, message, order=order)


def _producers(inputs: CostingInput) -> dict[str, list[str]]:
    """Orders of the period whose output is each item (rework orders make no new product)."""
    joint_by_order = {joint.order: joint for joint in inputs.joint_products}
    producers: dict[str, list[str]] = defaultdict(list)
    for order in inputs.orders:
        if order.rework_of is not None:
            continue
        joint = joint_by_order.get(order.order)
        items = [order.item] if joint is None else list(joint.items)
        for item in dict.fromkeys(items):
            producers[item].append(order.order)
    return producers


def _suppliers(inputs: CostingInput) -> dict[str, list[str]]:
    """For each order, the orders whose cost must be known before it (suppliers and its rework orders)."""
    known = {order.order for order in inputs.orders}
    producers = _producers(inputs)
    suppliers: dict[str, dict[str, None]] = {order.order: {} for order in inputs.orders}
    for use in inputs.consumptions:
        if use.consumer not in known:
            continue
        if use.supplier_order is not None:
            if use.supplier_order in known:
                suppliers[use.consumer][use.supplier_order] = None
        elif use.item is not None:
            for producer in producers.get(use.item, ()):
                suppliers[use.consumer][producer] = None
    for order in inputs.orders:
        if order.rework_of is not None and order.rework_of in known:
            suppliers[order.rework_of][order.order] = None
    return {order: list(deps) for order, deps in suppliers.items()}


def _find_cycle(suppliers: Mapping[str, Sequence[str]]) -> list[str] | None:
    """A dependency cycle as a path, first order repeated last, or None (iterative depth-first search)."""
    done: set[str] = set()
    for root in suppliers:
        if root in done:
            continue
        path = [root]
        on_path = {root}
        stack = [iter(suppliers.get(root, ()))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                finished = path.pop()
                on_path.discard(finished)
                done.add(finished)
            elif nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            elif nxt not in done:
                path.append(nxt)
                on_path.add(nxt)
                stack.append(iter(suppliers.get(nxt, ())))
    return None


def _check_order_values(order: OrderCostInput) -> list[CostingProblem]:
    problems = []
    values = {
        "completed_qty": order.completed_qty,
        "wip_qty": order.wip_qty,
        "material_cost": order.material_cost,
        "labor_cost": order.labor_cost,
        "labor_hours": order.labor_hours,
        "subcontract_cost": order.subcontract_cost,
        "other_conversion_cost": order.other_conversion_cost,
        "opening_wip.material": order.opening_wip.material,
        "opening_wip.conversion": order.opening_wip.conversion,
        "opening_wip.subcontract": order.opening_wip.subcontract,
    }
    for name, value in values.items():
        if value < 0:
            problems.append(
                _error("negative_value", f"order {order.order}: {name} is {value}", order=order.order)
            )
    completion = order.wip_completion
    for name, value in (
        ("material", completion.material),
        ("conversion", completion.conversion),
        ("subcontract", completion.subcontract),
    ):
        if not ZERO <= value <= ONE:
            problems.append(
                _error(
                    "completion_out_of_range",
                    f"order {order.order}: WIP completion of {name} is {value}, not between 0 and 1",
                    order=order.order,
                )
            )
    if order.completed_qty == 0 and order.wip_qty == 0:
        has_cost = any(v > 0 for v in values.values())
        make = _error if has_cost else _warning
        problems.append(
            make(
                "no_output",
                f"order {order.order}: completed_qty is 0 and there is no WIP"
                + (", so its cost has nowhere to go" if has_cost else ""),
                order=order.order,
            )
        )
    return problems


def _check_joint(joint: JointProduction, known: set[str]) -> list[CostingProblem]:
    if joint.order not in known:
        return [
            _error(
                "unknown_order",
                f"joint products of {joint.order}, which has no cost inputs",
                order=joint.order,
            )
        ]
    problems = []
    if not joint.outputs:
        problems.append(
            _error(
                "joint_without_outputs",
                f"order {joint.order}: joint production has no main product",
                order=joint.order,
            )
        )
    methods = {
        "coefficient" if o.coefficient is not None else "sales_value" if o.sales_value is not None else "none"
        for o in joint.outputs
    }
    if (
        "none" in methods
        or len(methods) > 1
        or any(o.coefficient is not None and o.sales_value is not None for o in joint.outputs)
    ):
        problems.append(
            _error(
                "joint_method",
                f"order {joint.order}: every main product needs a coefficient, or every one a sales value",
                order=joint.order,
            )
        )
    numbers = [(f"{o.item}.qty", o.qty) for o in joint.outputs]
    numbers += [(f"{o.item}.coefficient", o.coefficient) for o in joint.outputs if o.coefficient is not None]
    numbers += [(f"{o.item}.sales_value", o.sales_value) for o in joint.outputs if o.sales_value is not None]
    numbers += [(f"{b.item}.qty", b.qty) for b in joint.by_products]
    numbers += [(f"{b.item}.unit_value", b.unit_value) for b in joint.by_products]
    for name, value in numbers:
        if value is not None and value < 0:
            problems.append(
                _error("negative_value", f"order {joint.order}: {name} is {value}", order=joint.order)
            )
    if joint.outputs and not problems and sum((o.weight for o in joint.outputs), ZERO) == 0:
        problems.append(
            _error(
                "joint_without_weight",
                f"order {joint.order}: the main products' weights are all 0",
                order=joint.order,
            )
        )
    return problems


def _check_consumption(
    use: Consumption,
    orders: Mapping[str, OrderCostInput],
    joints: Mapping[str, JointProduction],
    producers: Mapping[str, list[str]],
    item_unit_costs: Mapping[str, Decimal],
) -> list[CostingProblem]:
    where = f"consumption by {use.consumer}"
    if use.consumer not in orders:
        return [_error("unknown_order", f"{where}: {use.consumer} has no cost inputs", order=use.consumer)]
    if use.qty < 0:
        return [_error("negative_value", f"{where}: qty is {use.qty}", order=use.consumer)]
    if use.supplier_order is None and use.item is None:
        return [
            _error(
                "consumption_without_source",
                f"{where}: name the supplier order or the item",
                order=use.consumer,
            )
        ]
    if use.supplier_order is not None:
        supplier = orders.get(use.supplier_order)
        if supplier is None:
            return [
                _error(
                    "unknown_order",
                    f"{where}: supplier order {use.supplier_order} has no cost inputs",
                    order=use.consumer,
                )
            ]
        if supplier.rework_of is not None:
            return [
                _error(
                    "consumption_of_rework",
                    f"{where}: {use.supplier_order} is a rework order; consume the "
                    f"original order {supplier.rework_of}",
                    order=use.consumer,
                )
            ]
        joint = joints.get(supplier.order)
        if joint is not None:
            items = set(joint.items)
            if use.item not in items:
                return [
                    _error(
                        "unknown_output",
                        f"{where}: {supplier.order} makes {sorted(items)}; "
                        f"name which one (item {use.item!r})",
                        order=use.consumer,
                    )
                ]
            return []
        if use.item is not None and use.item != supplier.item:
            return [
                _error(
                    "unknown_output",
                    f"{where}: {supplier.order} makes {supplier.item}, not {use.item}",
                    order=use.consumer,
                )
            ]
        if supplier.completed_qty == 0:
            return [
                _error(
                    "no_unit_cost",
                    f"{where}: {supplier.order} completed nothing, so it has no unit cost",
                    order=use.consumer,
                )
            ]
        return []
    item = use.item or ""
    made = [orders[p] for p in producers.get(item, ())]
    if not any(o.completed_qty > 0 for o in made) and item not in item_unit_costs:
        return [
            _error(
                "no_unit_cost",
                f"{where}: no order of the period completed {item} and it has no given unit cost",
                order=use.consumer,
            )
        ]
    return []


def _check_over_consumption(
    inputs: CostingInput, orders: Mapping[str, OrderCostInput], joints: Mapping[str, JointProduction]
) -> list[CostingProblem]:
    """Orders whose output was used more than it was completed, by all consumers together (a warning)."""
    used: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for use in inputs.consumptions:
        supplier = use.supplier_order
        if supplier is not None and supplier in orders and supplier not in joints:
            used[(supplier, orders[supplier].item)] += use.qty
    problems = []
    for (supplier, item), qty in used.items():
        if qty > orders[supplier].completed_qty:
            problems.append(
                _warning(
                    "over_consumption",
                    f"{qty} {item} of {supplier} used, but it completed only {orders[supplier].completed_qty}",
                    order=supplier,
                )
            )
    return problems


@_exact
def validate_costing(inputs: CostingInput) -> tuple[CostingProblem, ...]:
    """Every problem in a period's cost inputs, errors first; costing is only done when there is no error.

    Checks: negative values and completions outside 0..1, orders with nothing completed and no WIP, labor
    without hours when a pool is allocated by labor hours, pools with no basis, joint products without a
    consistent weighting, consumptions of unknown or uncosted output, rework of orders not in the period,
    and cycles (an order that, through what it consumes, uses its own output).
    """
    problems: list[CostingProblem] = []
    orders: dict[str, OrderCostInput] = {}
    for order in inputs.orders:
        if order.order in orders:
            problems.append(
                _error("duplicate_order", f"order {order.order} has cost inputs twice", order=order.order)
            )
        orders[order.order] = order
        problems += _check_order_values(order)
    pool_names: set[str] = set()
    for pool in inputs.pools:
        if pool.name in pool_names:
            problems.append(
                _error("duplicate_pool", f"overhead pool {pool.name!r} is given twice", pool=pool.name)
            )
        pool_names.add(pool.name)
        if pool.amount < 0:
            problems.append(
                _error(
                    "negative_value", f"overhead pool {pool.name!r}: amount is {pool.amount}", pool=pool.name
                )
            )
        elif pool.amount > 0 and sum((o.basis_qty(pool.basis) for o in inputs.orders), ZERO) == 0:
            problems.append(
                _error(
                    "pool_without_basis",
                    f"overhead pool {pool.name!r} ({pool.amount}) cannot be "
                    f"allocated: no order has any {pool.basis.value}",
                    pool=pool.name,
                )
            )
    if any(p.basis is AllocationBasis.LABOR_HOURS and p.amount > 0 for p in inputs.pools):
        for order in inputs.orders:
            if order.labor_hours == 0 and order.labor_cost > 0:
                problems.append(
                    _error(
                        "missing_labor_hours",
                        f"order {order.order}: labor cost {order.labor_cost} "
                        "but no labor hours, so it would get no overhead",
                        order=order.order,
                    )
                )
            elif order.labor_hours == 0 and order.kind is OrderKind.PRODUCTION and order.rework_of is None:
                problems.append(
                    _warning(
                        "no_labor_hours",
                        f"order {order.order}: no labor hours, so no overhead allocated by labor hours",
                        order=order.order,
                    )
                )
    known = set(orders)
    joints: dict[str, JointProduction] = {}
    for joint in inputs.joint_products:
        if joint.order in joints:
            problems.append(
                _error("duplicate_order", f"order {joint.order} has joint products twice", order=joint.order)
            )
        joints[joint.order] = joint
        problems += _check_joint(joint, known)
    producers = _producers(inputs)
    for use in inputs.consumptions:
        problems += _check_consumption(use, orders, joints, producers, inputs.item_unit_costs)
    problems += _check_over_consumption(inputs, orders, joints)
    for order in inputs.orders:
        if order.rework_of is not None and order.rework_of not in known:
            problems.append(
                _warning(
                    "rework_original_missing",
                    f"rework order {order.order}: the original order "
                    f"{order.rework_of} has no cost inputs this period, so the rework cost stays "
                    "on the rework order",
                    order=order.order,
                )
            )
        elif order.kind is OrderKind.REWORK and order.rework_of is None:
            problems.append(
                _warning(
                    "rework_original_missing",
                    f"rework order {order.order} names no original order; it is costed as a normal order",
                    order=order.order,
                )
            )
    cycle = _find_cycle(_suppliers(inputs))
    if cycle is not None:
        problems.append(
            _error(
                "cycle",
                "orders use each other's output: " + " → ".join(cycle),
                order=cycle[0],
                path=tuple(cycle),
            )
        )
    return tuple(sorted(problems, key=lambda p: p.severity is not Severity.ERROR))


def _levels(suppliers: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """0 for an order that uses no other order's cost, else one more than its highest supplier (acyclic)."""
    levels: dict[str, int] = {}
    for root in suppliers:
        stack = [root]
        while stack:
            node = stack[-1]
            pending = [s for s in suppliers.get(node, ()) if s not in levels]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            levels[node] = 1 + max((levels[s] for s in suppliers.get(node, ())), default=-1)
    return levels


def _consumed_value(
    use: Consumption,
    costed: Mapping[str, OrderCost],
    producers: Mapping[str, list[str]],
    item_unit_costs: Mapping[str, Decimal],
) -> Decimal:
    """What ``use`` adds to its consumer's material: its share of the supplier's completed cost.

    Valued as total × qty / completed qty rather than qty × rounded unit cost, so a consumer that takes a
    supplier's whole output receives exactly the supplier's completed cost.
    """
    if use.supplier_order is not None:
        outputs = costed[use.supplier_order].outputs
        output = outputs[0] if use.item is None else next(o for o in outputs if o.item == use.item)
        return _money(output.total * use.qty / output.qty)
    made = [o for p in producers.get(use.item or "", ()) for o in costed[p].outputs if o.item == use.item]
    made_qty = sum((o.qty for o in made), ZERO)
    if made_qty == 0:
        return _money(use.qty * item_unit_costs[use.item or ""])
    # Several orders made the item: their weighted average cost.
    return _money(sum((o.total for o in made), ZERO) * use.qty / made_qty)


@_exact
def roll_up_costs(inputs: CostingInput) -> CostingResult:
    """Validate and cost every order of the period bottom-up (one click).

    Overhead pools are allocated over all the period's orders first (their bases do not depend on the
    roll-up). Then orders are costed by level: sub-assembly and subcontract orders first, the value of what
    each consumer used flowing into its material cost, then the orders using them, up to finished goods.
    A rework order's completed cost goes to the completed output of the order whose product it reworked.
    With any error among ``problems`` nothing is costed.
    """
    problems = validate_costing(inputs)
    if any(p.severity is Severity.ERROR for p in problems):
        return CostingResult(inputs.period, (), (), problems)
    pools = allocate_overhead(inputs.pools, inputs.orders)
    shares: dict[str, list[OverheadShare]] = defaultdict(list)
    for pool in pools:
        for share in pool.shares:
            shares[share.order].append(share)
    suppliers = _suppliers(inputs)
    levels = _levels(suppliers)
    producers = _producers(inputs)
    joints = {joint.order: joint for joint in inputs.joint_products}
    uses: dict[str, list[Consumption]] = defaultdict(list)
    for use in inputs.consumptions:
        uses[use.consumer].append(use)
    reworks: dict[str, list[str]] = defaultdict(list)
    for order in inputs.orders:
        if order.rework_of is not None:
            reworks[order.rework_of].append(order.order)
    sequence = sorted(enumerate(inputs.orders), key=lambda pair: (levels[pair[1].order], pair[0]))
    costed: dict[str, OrderCost] = {}
    for _, order in sequence:
        transferred_in = sum(
            (_consumed_value(use, costed, producers, inputs.item_unit_costs) for use in uses[order.order]),
            ZERO,
        )
        rework_in = sum((costed[r].total for r in reworks[order.order]), ZERO)
        try:
            costed[order.order] = cost_order(
                order,
                shares[order.order],
                transferred_in,
                rework_in,
                joints.get(order.order),
                levels[order.order],
            )
        except InvalidInputError as exc:
            problem = _error("by_products_exceed_cost", exc.message, order=order.order)
            return CostingResult(inputs.period, (), pools, (problem, *problems))
    return CostingResult(inputs.period, tuple(costed.values()), pools, problems)


# --------------------------------------------------------------------------------------------------------------
# Variance against standard
# --------------------------------------------------------------------------------------------------------------


@_exact
def compare_with_standard(
    cost: OrderCost, standard: StandardCost, output: OutputCost | None = None
) -> CostVariance:
    """Actual cost of an order's completed output against standard × completed quantity.

    Per element (material, labor, overhead, subcontract) where the standard gives one; rework and other
    conversion cost have no standard and show only in the total. With ``output`` (a product of a joint order)
    only its total is compared.
    """
    qty = output.qty if output is not None else cost.completed_qty
    actual_total = output.total if output is not None else cost.total
    standard_total = _money(standard.unit_cost * qty)
    elements: list[ElementVariance] = []
    if output is None:
        for name, unit, actual in (
            ("material", standard.material, cost.material),
            ("labor", standard.labor, cost.labor),
            ("overhead", standard.overhead, cost.overhead),
            ("subcontract", standard.subcontract, cost.subcontract),
        ):
            if unit is not None:
                expected = _money(unit * qty)
                elements.append(ElementVariance(name, expected, actual, actual - expected))
    return CostVariance(
        order=cost.order,
        item=output.item if output is not None else cost.item,
        qty=qty,
        standard_unit_cost=standard.unit_cost,
        actual_unit_cost=_money(actual_total / qty) if qty else ZERO,
        standard_total=standard_total,
        actual_total=actual_total,
        variance=actual_total - standard_total,
        elements=tuple(elements),
    )


def compute_variances(
    result: CostingResult, standards: Mapping[str, StandardCost]
) -> tuple[CostVariance, ...]:
    """Variances of every costed output whose item has a standard (by-products are at standard by definition)."""
    variances = []
    for cost in result.orders:
        main = [o for o in cost.outputs if not o.by_product and o.item in standards]
        for output in main:
            single = len(cost.outputs) == 1 and output.item == cost.item
            variances.append(compare_with_standard(cost, standards[output.item], None if single else output))
    return tuple(variances)
