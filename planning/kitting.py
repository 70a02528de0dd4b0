"""Kitting analysis (齐套分析): how many more can be built from stock now, what limits it, what is short.

Semantics (CONTRACT.md ``check_kitting``): the item's own stock is reported, not added; stocked
sub-assemblies are used first and the rest is built from their components, level by level (an item is
netted once, at its deepest level, so shared components are counted once for every use); quantities of
sub-assemblies are not rounded (a BOM's output batch is linear), only the answer is a whole number.
Without substitutes the answer is exact (Decimal netting); a fast float search finds the candidate and
exact netting confirms it. With substitutes a CP-SAT model decides the material mix (planning.substitutes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from planning.bom import BomIndex, bom_index
from planning.bom_cost import get_item_unit_costs
from planning.errors import InvalidInputError
from planning.model import ZERO, Plant
from planning.substitutes import (
    LineCover,
    SubstitutePlan,
    SubstituteStrategy,
    SubstituteUse,
    has_substitutes,
    plan_substitutes,
)

# Beyond 2^62 units nothing real is being kitted: the search stops there.
MAX_SEARCH = 2**62


@dataclass(frozen=True, slots=True)
class KitShortage:
    """``item`` lacks ``short`` of the ``required`` quantity; ``level`` is its depth below the built item.

    A sub-assembly (``is_subassembly``) is short by what cannot be built of it because of its components'
    shortages (its most binding component decides); its leaf causes are listed as their own rows.
    """

    item: str
    level: int
    required: Decimal  # gross quantity the parents need, after their own stock
    available: Decimal  # required − short: from free stock or, for sub-assemblies, built
    short: Decimal
    on_hand: Decimal  # free stock counted (stock − committed)
    to_build: Decimal  # sub-assemblies: what would have to be built from components
    is_subassembly: bool
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KitBuild:
    """A sub-assembly to build from its components (beyond its stock) for the kit."""

    item: str
    qty: Decimal


@dataclass(frozen=True)
class KitCheck:
    """How many more ``item`` can be built now from free stock, and what stops one more."""

    item: str
    on_hand: Decimal  # stock of the item itself: reported, not added
    buildable_qty: int
    limiting_items: tuple[str, ...]  # short for one more; sub-assemblies and their leaf causes, by level
    limiting: tuple[KitShortage, ...]
    qty: Decimal | None  # the quantity asked for, if any
    complete: bool | None  # buildable_qty ≥ qty
    shortages: tuple[KitShortage, ...]  # to build ``qty`` (empty without it)
    builds: tuple[KitBuild, ...]  # sub-assemblies to build for ``qty`` (or for buildable_qty)
    use_substitutes: bool
    substitutions: tuple[SubstituteUse, ...]  # substitutes used for ``qty`` (or for buildable_qty)


@dataclass(frozen=True, slots=True)
class KitAllocation:
    """One product of a combined kit check: how many of ``qty`` can be built after the ones before it."""

    item: str
    qty: Decimal
    on_hand: Decimal
    buildable_qty: int
    complete: bool


@dataclass(frozen=True)
class MultiKitCheck:
    """A combined kit check of several products sharing components, allocated in the order given."""

    requests: tuple[KitAllocation, ...]
    complete: bool  # all of them together
    shortages: tuple[KitShortage, ...]  # to build all of them together
    limiting_items: tuple[str, ...]
    builds: tuple[KitBuild, ...]
    use_substitutes: bool
    substitutions: tuple[SubstituteUse, ...]


@dataclass(frozen=True)
class SubstituteRecommendation:
    """Which substitutes, how much, to cover what the main components lack for ``qty`` × ``item``."""

    item: str
    qty: Decimal
    strategy: SubstituteStrategy
    covers: tuple[LineCover, ...]  # lines that use a substitute
    shortages_without: tuple[KitShortage, ...]  # main components only
    shortages_with: tuple[KitShortage, ...]  # what is still short after substituting
    complete: bool  # nothing short with the substitutes
    status: str  # optimal | feasible (the solver's proof)


def free_stock(plant: Plant, committed: Mapping[str, Decimal] | None = None) -> dict[str, Decimal]:
    """Stock free for kitting: on hand minus ``committed`` (reservations, other orders' needs), never below 0."""
    committed = committed or {}
    free = {code: qty - Decimal(committed.get(code, ZERO)) for code, qty in plant.on_hand.items()}
    return {code: qty for code, qty in free.items() if qty > 0}


def check_kitting(
    plant: Plant,
    item: str,
    qty: Decimal | None = None,
    *,
    use_substitutes: bool = False,
    committed: Mapping[str, Decimal] | None = None,
    strategy: SubstituteStrategy = SubstituteStrategy.PRIORITY,
    prices: Mapping[str, Decimal] | None = None,
    time_limit_seconds: float = 10.0,
) -> KitCheck:
    """How many more ``item`` can be built from free stock now (a whole number, rounded down).

    Reports the limiting items (what is short for one more, sub-assemblies with their leaf causes) and,
    with ``qty``, every shortage to build that many. ``committed`` is subtracted from stock first.
    With ``use_substitutes`` BOM substitutes may replace short components (``strategy`` picks among them).
    """
    index = bom_index(plant)
    _require_buildable(index, item)
    if qty is not None:
        qty = _positive(qty)
    avail = free_stock(plant, committed)
    on_hand = plant.on_hand.get(item, ZERO)
    if use_substitutes and has_substitutes(index, (item,)):
        costs = _substitute_costs(plant, index, (item,), strategy, prices)
        graph = _KitGraph(index, (item,))
        without, _, _ = graph.max_buildable(avail, {}, graph.position[item], None)
        # One time limit for the whole check: the most buildable, what one more lacks, the plan for ``qty``.
        best = plan_substitutes(
            index, avail, {}, item, None, strategy, costs, time_limit_seconds / 2, hint_quantity=without
        )
        buildable = best.quantity or 0
        one_more = plan_substitutes(
            index, avail, {item: Decimal(buildable + 1)}, None, None, strategy, costs, time_limit_seconds / 4
        )
        limiting = _plan_shortages(one_more, {item}, avail)
        plan = best
        shortages: tuple[KitShortage, ...] = ()
        if qty is not None:
            plan = plan_substitutes(
                index, avail, {item: qty}, None, None, strategy, costs, time_limit_seconds / 4
            )
            shortages = _plan_shortages(plan, {item}, avail)
        return KitCheck(
            item=item,
            on_hand=on_hand,
            buildable_qty=buildable,
            limiting_items=_codes(limiting),
            limiting=limiting,
            qty=qty,
            complete=None if qty is None else buildable >= qty,
            shortages=shortages,
            builds=_plan_builds(plan, {item}),
            use_substitutes=True,
            substitutions=plan.substitutions,
        )
    graph = _KitGraph(index, (item,))
    top = graph.position[item]
    buildable, at_max, one_more_net = graph.max_buildable(avail, {}, top, None)
    limiting = graph.shortages(one_more_net, avail) if one_more_net is not None else ()
    shortages = ()
    netting = at_max
    if qty is not None:
        netting = graph.net_exact(avail, {top: qty})
        shortages = graph.shortages(netting, avail)
    return KitCheck(
        item=item,
        on_hand=on_hand,
        buildable_qty=buildable,
        limiting_items=_codes(limiting),
        limiting=limiting,
        qty=qty,
        complete=None if qty is None else buildable >= qty,
        shortages=shortages,
        builds=graph.builds(netting),
        use_substitutes=use_substitutes,
        substitutions=(),
    )


def check_kitting_multi(
    plant: Plant,
    requests: Sequence[tuple[str, Decimal]],
    *,
    use_substitutes: bool = False,
    committed: Mapping[str, Decimal] | None = None,
    strategy: SubstituteStrategy = SubstituteStrategy.PRIORITY,
    prices: Mapping[str, Decimal] | None = None,
    time_limit_seconds: float = 10.0,
) -> MultiKitCheck:
    """A combined kit check of several (item, qty): shared components are counted once for all of them.

    ``requests`` are allocated in the order given (the first gets the most it can, up to its qty, then the
    next from what is left); ``shortages`` are what building all of them together lacks.
    """
    if not requests:
        raise InvalidInputError("no products to check", {"requests": []})
    index = bom_index(plant)
    wanted: dict[str, Decimal] = {}
    for code, qty in requests:
        _require_buildable(index, code)
        wanted[code] = wanted.get(code, ZERO) + _positive(qty)
    avail = free_stock(plant, committed)
    tops = tuple(wanted)
    allocations: list[KitAllocation] = []
    allocated: dict[str, Decimal] = {}
    if use_substitutes and has_substitutes(index, tops):
        costs = _substitute_costs(plant, index, tops, strategy, prices)
        share = time_limit_seconds / (len(wanted) + 1)
        for code, qty in wanted.items():
            best = plan_substitutes(index, avail, allocated, code, int(qty), strategy, costs, share)
            allocated[code] = Decimal(best.quantity or 0)
            allocations.append(_allocation(plant, code, qty, best.quantity or 0))
        together = plan_substitutes(index, avail, wanted, None, None, strategy, costs, share)
        shortages = _plan_shortages(together, set(tops), avail)
        return MultiKitCheck(
            requests=tuple(allocations),
            complete=not shortages,
            shortages=shortages,
            limiting_items=_codes(shortages),
            builds=_plan_builds(together, set(tops)),
            use_substitutes=True,
            substitutions=together.substitutions,
        )
    graph = _KitGraph(index, tops)
    fixed: dict[int, Decimal] = {}
    for code, qty in wanted.items():
        position = graph.position[code]
        buildable, _, _ = graph.max_buildable(avail, fixed, position, int(qty))
        fixed[position] = Decimal(buildable)
        allocations.append(_allocation(plant, code, qty, buildable))
    together_net = graph.net_exact(avail, {graph.position[code]: qty for code, qty in wanted.items()})
    shortages = graph.shortages(together_net, avail)
    return MultiKitCheck(
        requests=tuple(allocations),
        complete=not shortages,
        shortages=shortages,
        limiting_items=_codes(shortages),
        builds=graph.builds(together_net),
        use_substitutes=use_substitutes,
        substitutions=(),
    )


def recommend_substitutes(
    plant: Plant,
    item: str,
    qty: Decimal,
    *,
    strategy: SubstituteStrategy = SubstituteStrategy.PRIORITY,
    committed: Mapping[str, Decimal] | None = None,
    prices: Mapping[str, Decimal] | None = None,
    time_limit_seconds: float = 10.0,
) -> SubstituteRecommendation:
    """Substitutes, with quantities, that cover what the main components lack to build ``qty`` × ``item``.

    Lines sharing components or substitutes are decided together (CP-SAT): least total shortage first,
    then the least substitute use in priority order (or the lowest material cost).
    """
    index = bom_index(plant)
    _require_buildable(index, item)
    qty = _positive(qty)
    avail = free_stock(plant, committed)
    graph = _KitGraph(index, (item,))
    without = graph.shortages(graph.net_exact(avail, {graph.position[item]: qty}), avail)
    if not has_substitutes(index, (item,)):
        return SubstituteRecommendation(item, qty, strategy, (), without, without, not without, "optimal")
    costs = _substitute_costs(plant, index, (item,), strategy, prices)
    plan = plan_substitutes(index, avail, {item: qty}, None, None, strategy, costs, time_limit_seconds)
    with_subs = _plan_shortages(plan, {item}, avail)
    covers = tuple(cover for cover in plan.covers if cover.substitutes)
    return SubstituteRecommendation(
        item, qty, strategy, covers, without, with_subs, not with_subs, plan.status
    )


def _require_buildable(index: BomIndex, item: str) -> None:
    index.require_item(item)
    if item not in index.lines:
        raise InvalidInputError(f"{item} has no BOM to build it from", {"item": item})


def _positive(qty: Decimal) -> Decimal:
    qty = Decimal(qty)
    if not qty > 0:
        raise InvalidInputError(f"quantity must be positive, got {qty}", {"qty": str(qty)})
    return qty


def _allocation(plant: Plant, code: str, qty: Decimal, buildable: int) -> KitAllocation:
    return KitAllocation(code, qty, plant.on_hand.get(code, ZERO), buildable, buildable >= qty)


def _codes(shortages: Sequence[KitShortage]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.item for s in shortages))


def _substitute_costs(
    plant: Plant,
    index: BomIndex,
    tops: tuple[str, ...],
    strategy: SubstituteStrategy,
    prices: Mapping[str, Decimal] | None,
) -> dict[str, Decimal] | None:
    if strategy != SubstituteStrategy.LOWEST_COST:
        return None
    materials = [
        code
        for parent in index.reachable(tops, with_substitutes=True)
        for line in index.lines.get(parent, ())
        if line.substitutes
        for code in (line.component, *(s.item for s in line.substitutes))
    ]
    return get_item_unit_costs(plant, materials, prices)


@dataclass(frozen=True)
class _Netting:
    direct: Mapping[int, Decimal]
    gross: list[Decimal]
    to_build: list[Decimal]
    short: list[Decimal]

    @property
    def feasible(self) -> bool:
        return not any(self.short)


class _KitGraph:
    """The items below some top items, ordered by depth, as lists and numpy layers for fast netting."""

    def __init__(self, index: BomIndex, tops: tuple[str, ...]) -> None:
        reachable = index.reachable(tops)
        depth = dict.fromkeys(reachable, 0)
        for code in reachable:  # parents come first: a parent's depth is final when its children are read
            for component, _ in index.children.get(code, ()):
                depth[component] = max(depth[component], depth[code] + 1)
        self.nodes = sorted(reachable, key=lambda code: depth[code])  # stable: by depth, then by position
        self.position = {code: i for i, code in enumerate(self.nodes)}
        self.level = [depth[code] for code in self.nodes]
        self.builds_from_bom = [code in index.children for code in self.nodes]
        self.children = [
            tuple((self.position[c], q) for c, q in index.children.get(code, ())) for code in self.nodes
        ]
        self.tops = tops
        self._layers: list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None

    def layers(self) -> list[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per depth: (start, end, leaf mask, edge parent offsets, edge children, edge quantities)."""
        if self._layers is None:
            layers = []
            start = 0
            n = len(self.nodes)
            while start < n:
                end = start
                while end < n and self.level[end] == self.level[start]:
                    end += 1
                parents = [i - start for i in range(start, end) for _ in self.children[i]]
                kids = [c for i in range(start, end) for c, _ in self.children[i]]
                qtys = [float(q) for i in range(start, end) for _, q in self.children[i]]
                leaf = np.array([not self.builds_from_bom[i] for i in range(start, end)], dtype=bool)
                layers.append(
                    (
                        start,
                        end,
                        leaf,
                        np.array(parents, dtype=np.intp),
                        np.array(kids, dtype=np.intp),
                        np.array(qtys, dtype=float),
                    )
                )
                start = end
            self._layers = layers
        return self._layers

    def feasible_float(self, avail: np.ndarray, tolerance: np.ndarray, direct: np.ndarray) -> bool:
        """Float netting: a quick screen, confirmed exactly by ``net_exact``."""
        n = len(self.nodes)
        gross = np.zeros(n)
        for start, end, leaf, parents, kids, qtys in self.layers():
            net = np.maximum(gross[start:end] - avail[start:end], 0.0) + direct[start:end]
            if leaf.any() and (net[leaf] > tolerance[start:end][leaf]).any():
                return False
            if kids.size:
                gross += np.bincount(kids, weights=net[parents] * qtys, minlength=n)
        return True

    def net_exact(self, avail: Mapping[str, Decimal], direct: Mapping[int, Decimal]) -> _Netting:
        """Exact netting, parents first: stock first, then build (sub-assemblies) or short (the rest)."""
        n = len(self.nodes)
        gross = [ZERO] * n
        to_build = [ZERO] * n
        short = [ZERO] * n
        for i in range(n):
            free = avail.get(self.nodes[i], ZERO)
            need = gross[i] - free if gross[i] > free else ZERO
            if i in direct:
                need += direct[i]
            if not need:
                continue
            if self.builds_from_bom[i]:
                to_build[i] = need
                for child, qty_per in self.children[i]:
                    gross[child] += need * qty_per
            else:
                short[i] = need
        return _Netting(direct, gross, to_build, short)

    def max_buildable(
        self, avail: Mapping[str, Decimal], fixed: Mapping[int, Decimal], top: int, cap: int | None
    ) -> tuple[int, _Netting, _Netting | None]:
        """Largest whole quantity of ``top`` (≤ ``cap``) buildable together with ``fixed``; the netting at it
        and at one more (None when ``cap`` is reached)."""
        avail_f = np.array([float(avail.get(code, ZERO)) for code in self.nodes])
        tolerance = 1e-9 * (1.0 + avail_f)
        direct_f = np.zeros(len(self.nodes))
        for i, qty in fixed.items():
            direct_f[i] += float(qty)

        def feasible(n: int) -> bool:
            direct_f[top] = float(fixed.get(top, ZERO)) + n
            return self.feasible_float(avail_f, tolerance, direct_f)

        limit = MAX_SEARCH if cap is None else cap
        low, high = 0, 1
        while high <= limit and feasible(high):
            low, high = high, high * 2
        high = min(high, limit + 1)
        while high - low > 1:
            middle = (low + high) // 2
            if feasible(middle):
                low = middle
            else:
                high = middle

        def exact(n: int) -> _Netting:
            return self.net_exact(avail, {**fixed, top: fixed.get(top, ZERO) + n})

        # Float rounding can misplace a boundary by a unit: exact netting has the last word.
        at = exact(low)
        while not at.feasible and low > 0:
            low -= 1
            at = exact(low)
        if low >= limit:
            return low, at, None
        above = exact(low + 1)
        while above.feasible and low + 1 <= limit:
            low, at = low + 1, above
            if low >= limit:
                return low, at, None
            above = exact(low + 1)
        return low, at, above

    def builds(self, netting: _Netting) -> tuple[KitBuild, ...]:
        return tuple(
            KitBuild(self.nodes[i], netting.to_build[i])
            for i in range(len(self.nodes))
            if netting.to_build[i] and i not in netting.direct
        )

    def shortages(self, netting: _Netting, avail: Mapping[str, Decimal]) -> tuple[KitShortage, ...]:
        consumption = {
            i: [(c, netting.to_build[i] * q) for c, q in self.children[i]]
            for i in range(len(self.nodes))
            if netting.to_build[i]
        }
        return _shortage_rows(
            self.nodes,
            self.level,
            netting.gross,
            netting.to_build,
            netting.short,
            consumption,
            set(netting.direct),
            self.builds_from_bom,
            [avail.get(code, ZERO) for code in self.nodes],
        )


def _shortage_rows(
    nodes: Sequence[str],
    levels: Sequence[int],
    gross: Sequence[Decimal],
    to_build: Sequence[Decimal],
    short_leaf: Sequence[Decimal],
    consumption: Mapping[int, Sequence[tuple[int, Decimal]]],
    tops: set[int],
    is_subassembly: Sequence[bool],
    free: Sequence[Decimal],
) -> tuple[KitShortage, ...]:
    """Shortage rows of leaves and sub-assemblies, deepest-netted level order, tops left out.

    A sub-assembly is short by the share of its build that its most binding component blocks:
    to_build × max over components of min(component short, what it consumes) / what it consumes.
    """
    n = len(nodes)
    short = list(short_leaf)
    parents: dict[int, list[int]] = {}
    for i in range(n - 1, -1, -1):
        uses = consumption.get(i, ())
        for child, _ in uses:
            parents.setdefault(child, []).append(i)
        if not is_subassembly[i] or not to_build[i]:
            continue
        short[i] = max(
            (min(short[c], used) * to_build[i] / used for c, used in uses if used and short[c]), default=ZERO
        )
    rows = []
    for i in range(n):
        if i in tops or not short[i]:
            continue
        required = gross[i]
        rows.append(
            KitShortage(
                item=nodes[i],
                level=levels[i],
                required=required,
                available=required - short[i],
                short=short[i],
                on_hand=free[i],
                to_build=to_build[i] if is_subassembly[i] else ZERO,
                is_subassembly=is_subassembly[i],
                parents=tuple(nodes[p] for p in sorted(set(parents.get(i, ())))),
            )
        )
    rows.sort(key=lambda row: row.level)
    return tuple(rows)


def _plan_shortages(
    plan: SubstitutePlan, tops: set[str], avail: Mapping[str, Decimal]
) -> tuple[KitShortage, ...]:
    nodes = sorted(plan.order, key=lambda code: plan.levels[code])
    position = {code: i for i, code in enumerate(nodes)}
    consumption = {
        position[parent]: [(position[material], qty) for material, qty in uses]
        for parent, uses in plan.consumption.items()
    }
    return _shortage_rows(
        nodes,
        [plan.levels[code] for code in nodes],
        [plan.required.get(code, ZERO) for code in nodes],
        [plan.builds.get(code, ZERO) for code in nodes],
        [plan.short.get(code, ZERO) for code in nodes],
        consumption,
        {position[code] for code in tops},
        [code in plan.builds for code in nodes],
        [avail.get(code, ZERO) for code in nodes],
    )


def _plan_builds(plan: SubstitutePlan, tops: set[str]) -> tuple[KitBuild, ...]:
    return tuple(KitBuild(code, qty) for code, qty in plan.builds.items() if qty and code not in tops)
