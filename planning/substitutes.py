"""Substitute materials: a CP-SAT model of which BOM lines to cover with substitutes, and how much."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from typing import TYPE_CHECKING

from planning.bom import BomIndex, EffectiveLine
from planning.errors import InfeasibleError
from planning.lazy import lazy_import
from planning.model import ZERO

if TYPE_CHECKING:
    from ortools.sat.python import cp_model
else:
    cp_model = lazy_import("ortools.sat.python.cp_model")  # OR-Tools loads when a model is first built

# Quantities in the integer model are counted in 1/scale of a unit, scale = 10^(the data's decimals),
# at most 10^6: finer grids make CP-SAT slow on what is at heart an LP. Stock is rounded down and fixed
# quantities up to the grid and every plan is re-netted exactly, so a plan is always feasible in exact
# arithmetic; where the exact optimum needs a finer grid (say half a unit of integer data) it may find a
# little less than exact arithmetic would.
MAX_SCALE_DIGITS = 6
# Share of the time limit the second stage (least substitute use or cost) may take.
STAGE2_SHARE = 0.2
# Keep every constraint's activity comfortably inside int64.
MAX_ACTIVITY = 10**17


class SubstituteStrategy(StrEnum):
    """How to choose among materials once the buildable quantity is fixed."""

    PRIORITY = "priority"  # use as little substitute as possible, preferring higher-priority substitutes
    LOWEST_COST = "lowest_cost"  # cheapest material mix (main and substitutes valued at unit cost)


@dataclass(frozen=True, slots=True)
class SubstituteUse:
    """``qty`` of ``substitute`` used on ``parent``'s line of ``component``, replacing ``replaces_qty`` of it."""

    parent: str
    component: str
    substitute: str
    ratio: Decimal
    priority: int
    qty: Decimal
    replaces_qty: Decimal


@dataclass(frozen=True, slots=True)
class LineCover:
    """How one BOM line with substitutes is covered: ``main_qty`` of the component plus substitutes."""

    parent: str
    component: str
    required: Decimal  # in units of ``component``
    main_qty: Decimal
    substitutes: tuple[SubstituteUse, ...]
    allow_mix: bool


@dataclass(frozen=True)
class SubstitutePlan:
    """A material plan with substitutes, re-netted exactly from the model's choices.

    ``builds`` holds what each item with a BOM is built (top items: their own quantity included);
    ``required`` is each item's gross use by its parents' lines; ``short`` what items without a BOM lack.
    """

    quantity: int | None  # the maximised quantity of the ``maximize`` item
    order: tuple[str, ...]  # items, parents before components
    levels: Mapping[str, int]
    builds: Mapping[str, Decimal]
    required: Mapping[str, Decimal]
    short: Mapping[str, Decimal]
    consumption: Mapping[str, tuple[tuple[str, Decimal], ...]]  # parent → (material, qty) over its lines
    covers: tuple[LineCover, ...]  # lines that have substitutes
    status: str  # optimal | feasible

    @property
    def substitutions(self) -> tuple[SubstituteUse, ...]:
        return tuple(use for cover in self.covers for use in cover.substitutes)


@dataclass(frozen=True, slots=True)
class _Line:
    parent: str
    line: EffectiveLine
    qty_per: Fraction
    materials: tuple[str, ...]  # main component first, then substitutes by priority
    ratios: tuple[Fraction, ...]  # units of each material per unit of the main component


def has_substitutes(index: BomIndex, tops: tuple[str, ...]) -> bool:
    """Whether any BOM line below ``tops`` offers a substitute."""
    return any(line.substitutes for code in index.reachable(tops) for line in index.lines.get(code, ()))


def plan_substitutes(
    index: BomIndex,
    avail: Mapping[str, Decimal],
    fixed: Mapping[str, Decimal],
    maximize: str | None = None,
    cap: int | None = None,
    strategy: SubstituteStrategy = SubstituteStrategy.PRIORITY,
    unit_costs: Mapping[str, Decimal] | None = None,
    time_limit_seconds: float = 5.0,
    seed: int = 0,
    hint_quantity: int = 0,
) -> SubstitutePlan:
    """Plan materials for building ``fixed`` quantities and, with ``maximize``, as many of that item as possible.

    With ``maximize``: first the largest whole quantity (at most ``cap``) buildable from ``avail`` together
    with ``fixed``, then the least substitute use (or cost) for it. Without: the smallest total shortage
    of items that cannot be built, then the least substitute use (or cost). Sub-assemblies in stock are
    used before building them. Raises InfeasibleError when ``fixed`` alone cannot be built in max mode.
    """
    # data
    tops = tuple(dict.fromkeys([*fixed, *([maximize] if maximize else [])]))
    order = index.reachable(tops, with_substitutes=True)
    lines = [
        _Line(
            parent=parent,
            line=line,
            qty_per=Fraction(line.numerator) / Fraction(line.denominator),
            materials=(line.component, *(s.item for s in line.substitutes)),
            ratios=(Fraction(1), *(Fraction(s.ratio) for s in line.substitutes)),
        )
        for parent in order
        for line in index.lines.get(parent, ())
    ]
    builders = [code for code in order if code in index.lines]
    allow_short = maximize is None
    levels = _levels(order, lines)

    # horizon: bounds on every quantity, and the grid
    quantity_bound = _capacity_bound(order, lines, avail, index, maximize) if maximize else 0
    if cap is not None:
        quantity_bound = min(quantity_bound, cap)
    direct_bound = {code: float(qty) for code, qty in fixed.items()}
    if maximize:
        direct_bound[maximize] = direct_bound.get(maximize, 0.0) + quantity_bound
    demand = _demand_bound(order, lines, direct_bound, index)
    consumers: dict[str, list[tuple[int, int, Fraction]]] = {code: [] for code in order}
    for i, ln in enumerate(lines):
        for k, material in enumerate(ln.materials):
            consumers[material].append((i, k, ln.ratios[k]))
    terms = max(
        [2, *(len(uses) + 2 for uses in consumers.values()), *(len(ln.materials) + 1 for ln in lines)]
    )
    scale = _scale(demand, avail, fixed, lines, order, terms)

    # variables
    model = cp_model.CpModel()
    quantity = model.new_int_var(0, quantity_bound, "quantity") if maximize else None
    build = {code: model.new_int_var(0, _grid_up(demand[code], scale), f"build[{code}]") for code in builders}
    use: dict[tuple[int, int], cp_model.IntVar] = {}
    choose: dict[tuple[int, int], cp_model.IntVar] = {}
    line_bounds: list[int] = []
    for i, ln in enumerate(lines):
        line_bound = _grid_up(
            (demand[ln.parent] + direct_bound.get(ln.parent, 0.0)) * float(ln.qty_per), scale
        )
        line_bounds.append(line_bound)
        for k, material in enumerate(ln.materials):
            use[i, k] = model.new_int_var(0, line_bound, f"cover[{ln.parent}>{ln.line.component}:{material}]")
            if not ln.line.allow_mix and len(ln.materials) > 1:
                choose[i, k] = model.new_bool_var(f"choose[{ln.parent}>{ln.line.component}:{material}]")
    short = (
        {
            code: model.new_int_var(0, _grid_up(demand[code], scale), f"short[{code}]")
            for code in order
            if code not in index.lines
        }
        if allow_short
        else {}
    )

    # constraints
    for i, ln in enumerate(lines):
        driven = _driven_qty(ln.parent, build, fixed, maximize, quantity, scale)
        # Σ cover ≥ qty_per × build, cleared of the fraction's denominator
        model.add(
            ln.qty_per.denominator * sum(use[i, k] for k in range(len(ln.materials)))
            >= ln.qty_per.numerator * driven
        )
        if (i, 0) in choose:
            model.add_exactly_one(choose[i, k] for k in range(len(ln.materials)))
            for k in range(len(ln.materials)):
                # big-M, not an enforcement literal, so the LP relaxation sees it
                model.add(use[i, k] <= line_bounds[i] * choose[i, k])
    for code in order:
        uses = consumers[code]
        if not uses:
            continue
        denominator = math.lcm(*(ratio.denominator for _, _, ratio in uses))
        supply = denominator * _grid_down(avail.get(code, ZERO), scale)
        inflow = [denominator * build[code]] if code in build else []
        if code in short:
            inflow.append(denominator * short[code])
        model.add(sum(int(ratio * denominator) * use[i, k] for i, k, ratio in uses) <= supply + sum(inflow))

    hint = _main_only_plan(index, order, lines, avail, fixed, maximize, hint_quantity, scale)
    for key, var in use.items():
        model.add_hint(var, hint.use.get(key, 0))
    for key, var in choose.items():
        model.add_hint(var, key[1] == 0)
    for code, var in build.items():
        model.add_hint(var, hint.build.get(code, 0))
    for code, var in short.items():
        model.add_hint(var, hint.short.get(code, 0))
    if quantity is not None:
        model.add_hint(quantity, hint_quantity)

    # objective, stage 1: the most buildable, or the least short
    if quantity is not None:
        model.maximize(quantity)
    else:
        model.minimize(sum(short.values()))

    # solve
    solver = _solver(time_limit_seconds, seed)
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise InfeasibleError(
            "no material plan found" + (" within the time limit" if status == cp_model.UNKNOWN else ""),
            {"status": solver.status_name(status), "items": list(tops)},
        )
    optimal = status == cp_model.OPTIMAL

    # objective, stage 2: with stage 1 held, the least substitute use or the lowest material cost
    best_quantity = solver.value(quantity) if quantity is not None else None
    if quantity is not None:
        model.add(quantity == best_quantity)
    else:
        for var in short.values():
            model.add(var == solver.value(var))
    first_cover = {key: solver.value(var) for key, var in use.items()}
    model.clear_hints()
    for var in [*build.values(), *use.values(), *short.values(), *choose.values()]:
        model.add_hint(var, solver.value(var))
    model.minimize(_material_objective(lines, use, strategy, unit_costs))
    # Stage 2 only polishes the material mix: a short budget, and its best plan so far is good enough.
    solver.parameters.max_time_in_seconds = max(0.1, time_limit_seconds * STAGE2_SHARE)
    second = solver.solve(model)
    if second in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        optimal = optimal and second == cp_model.OPTIMAL
        chosen = {key: solver.value(var) for key, var in use.items()}
    else:  # nothing found in time for stage 2: the stage-1 plan stands
        optimal = False
        chosen = first_cover

    # extract
    cover = {key: Fraction(value, scale) for key, value in chosen.items()}
    return _renet(
        index,
        order,
        lines,
        levels,
        avail,
        fixed,
        maximize,
        best_quantity,
        cover,
        strategy,
        unit_costs,
        "optimal" if optimal else "feasible",
    )


@dataclass(frozen=True)
class _Hint:
    build: dict[str, int]
    use: dict[tuple[int, int], int]
    short: dict[str, int]


def _main_only_plan(
    index: BomIndex,
    order: tuple[str, ...],
    lines: list[_Line],
    avail: Mapping[str, Decimal],
    fixed: Mapping[str, Decimal],
    maximize: str | None,
    quantity: int,
    scale: int,
) -> _Hint:
    """A grid solution using main components only (what MRP would plan): the solver's starting point."""
    lines_of: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        lines_of.setdefault(ln.parent, []).append(i)
    gross = dict.fromkeys(order, 0)
    hint = _Hint({}, {}, {})
    for code in order:
        net = max(0, gross[code] - _grid_down(avail.get(code, ZERO), scale))
        if code not in index.lines:
            hint.short[code] = net
            continue
        hint.build[code] = net
        driven = net + (math.ceil(Fraction(fixed[code]) * scale) if code in fixed else 0)
        if code == maximize:
            driven += quantity * scale
        for i in lines_of.get(code, ()):
            cover = math.ceil(lines[i].qty_per * driven)
            hint.use[i, 0] = cover
            gross[lines[i].materials[0]] += cover
    return hint


def _solver(time_limit_seconds: float, seed: int) -> cp_model.CpSolver:
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_seconds
    solver.parameters.random_seed = seed
    solver.parameters.num_workers = 1  # one worker: the same data always gives the same plan
    # The model is an LP at heart (quantities on a fine grid): put every constraint into the LP relaxation.
    solver.parameters.linearization_level = 2
    # Bound-driven tree search closes the objective gap on these LP-like models far more reliably than
    # the default single-worker search (measured on random multi-level plants with substitutes).
    solver.parameters.optimize_with_lb_tree_search = True
    return solver


def _driven_qty(
    parent: str,
    build: Mapping[str, cp_model.IntVar],
    fixed: Mapping[str, Decimal],
    maximize: str | None,
    quantity: cp_model.IntVar | None,
    scale: int,
) -> cp_model.LinearExprT:
    """What ``parent``'s lines must supply, on the grid: its builds as a component plus its own order."""
    terms: list[cp_model.LinearExprT] = [build[parent]] if parent in build else []
    if parent in fixed:
        terms.append(_grid_up(float(fixed[parent]), scale, exact=Fraction(fixed[parent])))
    if parent == maximize and quantity is not None:
        terms.append(scale * quantity)
    return sum(terms)


def _material_objective(
    lines: list[_Line],
    use: Mapping[tuple[int, int], cp_model.IntVar],
    strategy: SubstituteStrategy,
    unit_costs: Mapping[str, Decimal] | None,
) -> cp_model.LinearExprT:
    terms: list[cp_model.LinearExprT] = []
    for i, ln in enumerate(lines):
        if len(ln.materials) == 1:
            continue
        for k, material in enumerate(ln.materials):
            if strategy == SubstituteStrategy.LOWEST_COST:
                unit_cost = float((unit_costs or {}).get(material, ZERO))
                weight = unit_cost * float(ln.ratios[k])
            else:
                weight = float(k)  # main 0, then each substitute by its rank
            if weight:
                terms.append(weight * use[i, k])
    return sum(terms)


def _renet(
    index: BomIndex,
    order: tuple[str, ...],
    lines: list[_Line],
    levels: Mapping[str, int],
    avail: Mapping[str, Decimal],
    fixed: Mapping[str, Decimal],
    maximize: str | None,
    quantity: int | None,
    cover: Mapping[tuple[int, int], Fraction],
    strategy: SubstituteStrategy,
    unit_costs: Mapping[str, Decimal] | None,
    status: str,
) -> SubstitutePlan:
    """Net exactly in Decimal, taking from each line's materials no more than the model chose to.

    The model's quantities are on a grid and may cover a little more than needed; netting again with stock
    used first gives the exact, minimal builds and uses (never more of any material than the model's).
    """
    lines_of: dict[str, list[int]] = {}
    for i, ln in enumerate(lines):
        lines_of.setdefault(ln.parent, []).append(i)
    gross: dict[str, Decimal] = dict.fromkeys(order, ZERO)
    builds: dict[str, Decimal] = {}
    short: dict[str, Decimal] = {}
    consumption: dict[str, tuple[tuple[str, Decimal], ...]] = {}
    covers: list[LineCover] = []
    for code in order:
        direct = fixed.get(code, ZERO) + (Decimal(quantity) if code == maximize and quantity else ZERO)
        free = avail.get(code, ZERO)
        net = gross[code] - free if gross[code] > free else ZERO
        if code not in index.lines:
            if net > 0:
                short[code] = net
            continue
        total = net + direct
        builds[code] = total
        used: dict[str, Decimal] = {}
        for i in lines_of.get(code, ()):
            ln = lines[i]
            required = total * ln.line.numerator / ln.line.denominator
            by_material: dict[int, Decimal] = {}
            remaining = required
            for k in _material_order(ln, strategy, unit_costs):
                chosen = _to_decimal(cover.get((i, k), Fraction(0))) if len(ln.materials) > 1 else remaining
                by_material[k] = min(chosen, remaining)
                remaining -= by_material[k]
            if remaining > 0:  # only rounding leaves a sliver: the material the model chose most covers it
                k_most = max(by_material, key=lambda k: (by_material[k], -k))
                by_material[k_most] += remaining
            uses: list[SubstituteUse] = []
            for k, material in enumerate(ln.materials):
                take = by_material.get(k, ZERO)
                if not take:
                    continue
                material_qty = take * Decimal(ln.ratios[k].numerator) / Decimal(ln.ratios[k].denominator)
                gross[material] += material_qty
                used[material] = used.get(material, ZERO) + material_qty
                if k > 0:
                    sub = ln.line.substitutes[k - 1]
                    uses.append(
                        SubstituteUse(
                            code, ln.line.component, material, sub.ratio, sub.priority, material_qty, take
                        )
                    )
            if len(ln.materials) > 1:
                covers.append(
                    LineCover(
                        code,
                        ln.line.component,
                        required,
                        by_material.get(0, ZERO),
                        tuple(uses),
                        ln.line.allow_mix,
                    )
                )
        consumption[code] = tuple(used.items())
    required_by_parents = {code: qty for code, qty in gross.items() if qty}
    return SubstitutePlan(
        quantity=quantity,
        order=order,
        levels=levels,
        builds=builds,
        required=required_by_parents,
        short=short,
        consumption=consumption,
        covers=tuple(covers),
        status=status,
    )


def _material_order(
    ln: _Line, strategy: SubstituteStrategy, unit_costs: Mapping[str, Decimal] | None
) -> list[int]:
    """Which of the line's materials to take first when trimming the model's cover to the exact need."""
    ks = list(range(len(ln.materials)))
    if strategy == SubstituteStrategy.LOWEST_COST:
        costs = unit_costs or {}
        return sorted(ks, key=lambda k: (costs.get(ln.materials[k], ZERO) * _to_decimal(ln.ratios[k]), k))
    return ks


def _to_decimal(value: Fraction) -> Decimal:
    return Decimal(value.numerator) / Decimal(value.denominator)


def _levels(order: tuple[str, ...], lines: list[_Line]) -> dict[str, int]:
    """Depth of each item below the tops (its deepest, where it is netted); substitutes at their line's depth."""
    level = dict.fromkeys(order, 0)
    for ln in lines:  # lines come parents first, so a parent's depth is final when its lines are read
        for material in ln.materials:
            level[material] = max(level[material], level[ln.parent] + 1)
    return level


def _capacity_bound(
    order: tuple[str, ...],
    lines: list[_Line],
    avail: Mapping[str, Decimal],
    index: BomIndex,
    top: str,
) -> int:
    """An upper bound on how many ``top`` can be built: each item's stock plus what its lines allow."""
    lines_of: dict[str, list[_Line]] = {}
    for ln in lines:
        lines_of.setdefault(ln.parent, []).append(ln)
    capacity: dict[str, float] = {}
    for code in reversed(order):
        own = 0.0 if code == top else float(avail.get(code, ZERO))
        if code in index.lines:
            buildable = min(
                sum(capacity[m] / float(r) for m, r in zip(ln.materials, ln.ratios, strict=True))
                / float(ln.qty_per)
                for ln in lines_of[code]
            )
            own += buildable
        capacity[code] = own
    bound = capacity[top]
    return math.floor(bound * (1 + 1e-9) + 1e-9) if math.isfinite(bound) else 10**9


def _demand_bound(
    order: tuple[str, ...], lines: list[_Line], direct: Mapping[str, float], index: BomIndex
) -> dict[str, float]:
    """The most of each item the lines could ever ask for (every line taking any one of its materials)."""
    demand = dict.fromkeys(order, 0.0)
    lines_of: dict[str, list[_Line]] = {}
    for ln in lines:
        lines_of.setdefault(ln.parent, []).append(ln)
    for code in order:
        driven = demand[code] + direct.get(code, 0.0)
        for ln in lines_of.get(code, ()):
            for material, ratio in zip(ln.materials, ln.ratios, strict=True):
                demand[material] += driven * float(ln.qty_per) * float(ratio)
    return demand


def _scale(
    demand: Mapping[str, float],
    avail: Mapping[str, Decimal],
    fixed: Mapping[str, Decimal],
    lines: list[_Line],
    order: tuple[str, ...],
    terms: int,
) -> int:
    """A grid as fine as the data (at most 10^-6) that keeps activities inside int64."""
    data = [
        *(avail.get(code, ZERO) for code in order),
        *fixed.values(),
        *(value for ln in lines for value in (ln.line.numerator, ln.line.denominator)),
        *(sub.ratio for ln in lines for sub in ln.line.substitutes),
    ]
    digits_needed = max([0, *(_decimals(value) for value in data)])
    largest = max([1.0, *demand.values(), *(float(avail.get(code, ZERO)) for code in order)])
    coefficient = max(
        [
            1,
            *(max(ln.qty_per.numerator, ln.qty_per.denominator) for ln in lines),
            *(r.numerator for ln in lines for r in ln.ratios),
        ]
    )
    for digits in range(min(digits_needed, MAX_SCALE_DIGITS), -1, -1):
        if largest * 10**digits * coefficient * terms < MAX_ACTIVITY:
            return 10**digits
    return 1


def _decimals(value: Decimal) -> int:
    exponent = Decimal(value).normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _grid_up(value: float, scale: int, exact: Fraction | None = None) -> int:
    if exact is not None:
        return math.ceil(exact * scale)
    # Bounds only need to be safe: room for float error and for the grid's rounding up at every level.
    return math.ceil(value * scale * 1.001) + 1000


def _grid_down(value: Decimal, scale: int) -> int:
    return math.floor(Fraction(value) * scale)
