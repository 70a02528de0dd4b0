"""BOM cost roll-up for quoting: buy prices, subcontract fees, make items through their BOM and routing.

Rules (CONTRACT.md):
- an item without a followed BOM costs its price from ``prices`` if given, else its ``unit_cost``
  (purchase price for buy items, standard cost for make items without a BOM);
- a subcontract item with a BOM costs its materials plus its processing fee (``prices`` or ``unit_cost``);
- a make item with a BOM costs its materials plus its operations; its own ``unit_cost`` is not used;
- phantoms are exploded through; substitutes are not costed (the main component is).

Operation cost per unit made = (run_minutes_per_unit + setup_minutes / lot) / 60 × the work center's
cost_per_hour, for operations on work centers with a cost rate. The lot over which a setup is spread is
the quantity of that item the quote needs (its gross requirement for ``qty`` of the costed item), but at
least its ``min_order_qty``: costing 1 unit carries whole setups, costing 500 spreads them over 500.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from planning.bom import BomIndex, bom_index, explode_totals
from planning.errors import InvalidInputError
from planning.model import ONE, ZERO, Plant, Source

MINUTES_PER_HOUR = Decimal(60)


class CostBasis(StrEnum):
    PRICE_LIST = "price_list"  # from the ``prices`` mapping
    UNIT_COST = "unit_cost"  # the item's purchase price / fee
    STANDARD = "standard"  # a make item without a BOM: its standard cost
    BOM = "bom"  # materials through the BOM plus operations
    SUBCONTRACT = "subcontract"  # materials through the BOM plus the processing fee
    NONE = "none"  # nothing to cost it by (see problems)


class CostLineKind(StrEnum):
    MATERIAL = "material"
    OPERATION = "operation"
    SUBCONTRACT_FEE = "subcontract_fee"


@dataclass(frozen=True, slots=True)
class BomCostLine:
    """One row of the breakdown; ``extended_cost`` = ``qty`` × ``unit_cost`` for the whole quote.

    Material rows: ``qty_per`` units of ``item`` per one ``parent``. Operation rows: ``item`` is the item
    made, ``qty_per`` its minutes per unit (setup share included), ``minutes`` the total. Fee rows:
    ``item`` is the subcontracted item, ``unit_cost`` its fee per unit.
    """

    kind: CostLineKind
    level: int
    item: str
    parent: str
    qty_per: Decimal
    qty: Decimal
    unit_cost: Decimal
    extended_cost: Decimal
    basis: CostBasis
    work_center: str = ""
    seq: int = 0
    minutes: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class CostProblem:
    """Something that makes the cost incomplete, with its cause (``no_cost``, ``unknown_work_center``…)."""

    item: str
    cause: str
    message: str


@dataclass(frozen=True)
class BomCost:
    """The rolled-up cost of ``qty`` × ``item``; material + operation + subcontract fee = total."""

    item: str
    qty: Decimal
    unit_cost: Decimal
    total_cost: Decimal
    material_cost: Decimal  # items costed without a BOM (bought, standard cost)
    operation_cost: Decimal
    subcontract_fee_cost: Decimal
    lines: tuple[BomCostLine, ...]
    item_costs: Mapping[str, Decimal]  # rolled-up cost per unit of every item in the structure
    bases: Mapping[str, CostBasis]
    problems: tuple[CostProblem, ...]


@dataclass(frozen=True, slots=True)
class _OperationCost:
    seq: int
    work_center: str
    minutes_per_unit: Decimal
    cost_per_unit: Decimal


def get_bom_cost(
    plant: Plant, item: str, qty: Decimal = ONE, prices: Mapping[str, Decimal] | None = None
) -> BomCost:
    """Roll up the cost of ``qty`` × ``item`` with a line-by-line breakdown usable for a quote.

    ``prices`` (item → price per unit) overrides ``unit_cost`` of items costed without a BOM and the
    processing fee of subcontract items. See the module docstring for the rules.
    """
    index = bom_index(plant)
    index.require_item(item)
    qty = Decimal(qty)
    if not qty > 0:
        raise InvalidInputError(f"quantity must be positive, got {qty}", {"qty": str(qty)})
    prices = prices or {}
    order = index.reachable((item,))
    gross = explode_totals(plant, item, qty)
    gross[item] = gross.get(item, ZERO) + qty
    problems: list[CostProblem] = []
    costs: dict[str, Decimal] = {}
    bases: dict[str, CostBasis] = {}
    operations: dict[str, list[_OperationCost]] = {}
    fees: dict[str, Decimal] = {}
    for code in reversed(order):
        known = index.items.get(code)
        if code in index.children:
            material = sum((qty_per * costs[c] for c, qty_per in index.children[code]), ZERO)
            if known is not None and known.source == Source.SUBCONTRACT:
                fees[code] = _price(code, known.unit_cost, prices)
                costs[code], bases[code] = material + fees[code], CostBasis.SUBCONTRACT
            else:
                lot = max(gross.get(code, ONE), known.min_order_qty if known else ZERO)
                operations[code] = _operation_costs(plant, code, lot, problems)
                costs[code] = material + sum((op.cost_per_unit for op in operations[code]), ZERO)
                bases[code] = CostBasis.BOM
        elif known is None:
            costs[code], bases[code] = ZERO, CostBasis.NONE
            problems.append(CostProblem(code, "unknown_item", f"{code} is not an item: costed at 0"))
        else:
            costs[code] = _price(code, known.unit_cost, prices)
            if code in prices:
                bases[code] = CostBasis.PRICE_LIST
            elif known.source == Source.MAKE:
                bases[code] = CostBasis.STANDARD
            else:
                bases[code] = CostBasis.UNIT_COST
            if code not in prices and not known.unit_cost:
                problems.append(
                    CostProblem(code, "no_cost", f"{code} has no price or unit cost: costed at 0")
                )
    lines = _breakdown(index, item, qty, costs, bases, operations, fees)
    material_cost = sum(
        (
            ln.extended_cost
            for ln in lines
            if ln.kind == CostLineKind.MATERIAL and ln.item not in index.children
        ),
        ZERO,
    )
    operation_cost = sum((ln.extended_cost for ln in lines if ln.kind == CostLineKind.OPERATION), ZERO)
    fee_cost = sum((ln.extended_cost for ln in lines if ln.kind == CostLineKind.SUBCONTRACT_FEE), ZERO)
    if item not in index.children:  # an item without a BOM is its own single material line
        material_cost = qty * costs[item]
    return BomCost(
        item=item,
        qty=qty,
        unit_cost=costs[item],
        total_cost=qty * costs[item],
        material_cost=material_cost,
        operation_cost=operation_cost,
        subcontract_fee_cost=fee_cost,
        lines=tuple(lines),
        item_costs={code: costs[code] for code in order},
        bases={code: bases[code] for code in order},
        problems=tuple(dict.fromkeys(problems)),
    )


def get_item_unit_costs(
    plant: Plant, codes: Iterable[str], prices: Mapping[str, Decimal] | None = None
) -> dict[str, Decimal]:
    """Cost per unit of each item (one unit costed: whole setups), e.g. to compare substitutes by cost."""
    return {code: get_bom_cost(plant, code, ONE, prices).unit_cost for code in dict.fromkeys(codes)}


def _price(code: str, unit_cost: Decimal, prices: Mapping[str, Decimal]) -> Decimal:
    return Decimal(prices[code]) if code in prices else unit_cost


def _operation_costs(
    plant: Plant, code: str, lot: Decimal, problems: list[CostProblem]
) -> list[_OperationCost]:
    routing = plant.routings.get(code)
    if routing is None:
        return []
    out: list[_OperationCost] = []
    for op in routing.operations:
        center = plant.work_centers.get(op.work_center)
        if center is None:
            problems.append(
                CostProblem(
                    code, "unknown_work_center", f"{code} op {op.seq}: work center {op.work_center} unknown"
                )
            )
            continue
        if not center.cost_per_hour:
            continue
        minutes = op.run_minutes_per_unit + op.setup_minutes / lot
        out.append(
            _OperationCost(op.seq, op.work_center, minutes, minutes / MINUTES_PER_HOUR * center.cost_per_hour)
        )
    return out


def _breakdown(
    index: BomIndex,
    item: str,
    qty: Decimal,
    costs: Mapping[str, Decimal],
    bases: Mapping[str, CostBasis],
    operations: Mapping[str, list[_OperationCost]],
    fees: Mapping[str, Decimal],
) -> list[BomCostLine]:
    """Rows level by level; under each parent its materials, then its operations or fee.

    Quantities reaching the same item at the same level are summed (as in the explosion), so the rows
    stay bounded by BOM lines × depth.
    """
    lines: list[BomCostLine] = []
    frontier: dict[str, Decimal] = {item: qty}
    level = 0
    while frontier:
        level += 1
        below: dict[str, Decimal] = {}
        for parent, parent_qty in frontier.items():
            for component, qty_per in index.children.get(parent, ()):
                component_qty = parent_qty * qty_per
                lines.append(
                    BomCostLine(
                        kind=CostLineKind.MATERIAL,
                        level=level,
                        item=component,
                        parent=parent,
                        qty_per=qty_per,
                        qty=component_qty,
                        unit_cost=costs[component],
                        extended_cost=component_qty * costs[component],
                        basis=bases[component],
                    )
                )
                below[component] = below.get(component, ZERO) + component_qty
            for op in operations.get(parent, ()):
                lines.append(
                    BomCostLine(
                        kind=CostLineKind.OPERATION,
                        level=level,
                        item=parent,
                        parent=parent,
                        qty_per=op.minutes_per_unit,
                        qty=parent_qty,
                        unit_cost=op.cost_per_unit,
                        extended_cost=parent_qty * op.cost_per_unit,
                        basis=CostBasis.BOM,
                        work_center=op.work_center,
                        seq=op.seq,
                        minutes=parent_qty * op.minutes_per_unit,
                    )
                )
            if parent in fees:
                lines.append(
                    BomCostLine(
                        kind=CostLineKind.SUBCONTRACT_FEE,
                        level=level,
                        item=parent,
                        parent=parent,
                        qty_per=ONE,
                        qty=parent_qty,
                        unit_cost=fees[parent],
                        extended_cost=parent_qty * fees[parent],
                        basis=CostBasis.SUBCONTRACT,
                    )
                )
        frontier = {code: q for code, q in below.items() if code in index.children}
    return lines
