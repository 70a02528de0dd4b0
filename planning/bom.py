"""BOM engine: multi-level explosion, where-used, low-level codes and an indented tree, on a per-plant index."""

from __future__ import annotations

import weakref
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from planning.errors import BomCycleError, InvalidInputError
from planning.graph import find_cycle
from planning.model import ONE, ZERO, Bom, Item, Plant, Source, Substitute

# Which BOMs are followed. One rule for explosion, where-used, kitting and cost: an item's BOM is exploded
# unless the item is bought (a buy item that still carries a BOM is purchased whole, as MRP plans it).
# Phantom items are exploded through: their lines become lines of the phantom's parent, scaled by the
# phantom's quantity, so a phantom never appears in any result. A phantom without a BOM has nothing to
# explode through and is kept as an ordinary leaf.


@dataclass(frozen=True, slots=True)
class EffectiveLine:
    """One BOM line of a parent after phantoms are exploded through.

    ``qty_per`` units of ``component`` (scrap included) per one parent; it equals ``numerator /
    denominator`` exactly, both finite decimals (kept apart so integer models can scale without rounding).
    """

    component: str
    qty_per: Decimal
    numerator: Decimal
    denominator: Decimal
    substitutes: tuple[Substitute, ...] = ()
    allow_mix: bool = True
    via: tuple[str, ...] = ()  # phantom items passed through, outermost first
    scrap_rate: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class ExplosionLine:
    """``qty`` of ``item`` needed at ``level`` for the ``parent``s at the level above (all paths summed)."""

    level: int
    item: str
    qty: Decimal
    parent: str
    qty_per: Decimal  # per one ``parent``, scrap included


@dataclass(frozen=True)
class BomExplosion:
    """Gross requirements of ``qty`` × ``item``: per level and parent, and totals over all levels."""

    item: str
    qty: Decimal
    lines: tuple[ExplosionLine, ...]
    totals: Mapping[str, Decimal]  # every component, sub-assemblies and leaves, in first-seen order
    depth: int  # deepest level reached (0 for an item without a BOM)


@dataclass(frozen=True, slots=True)
class WhereUsedLine:
    """``item`` uses ``qty_per`` of the queried item per one unit, through its component ``via``."""

    level: int
    item: str
    qty_per: Decimal
    via: str
    is_top: bool  # nothing uses ``item``: an end item


@dataclass(frozen=True)
class WhereUsed:
    """Every parent (single level) or ancestor (multi-level) of ``item``."""

    item: str
    multi_level: bool
    parents: tuple[WhereUsedLine, ...]
    totals: Mapping[str, Decimal]  # per ancestor: units of ``item`` per one ancestor, all paths summed
    top_items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class BomTreeNode:
    """One row of the indented BOM: ``qty_per`` per one parent row, ``qty`` for the requested quantity."""

    level: int
    item: str
    name: str
    qty_per: Decimal
    qty: Decimal
    uom: str
    source: str
    scrap_rate: Decimal
    phantom: bool
    has_bom: bool
    substitutes: tuple[str, ...]
    path: tuple[str, ...]  # item codes from the root down to this row's parent


@dataclass(frozen=True)
class BomTree:
    """The BOM of ``qty`` × ``item`` as rows in depth-first order; row 0 is the item itself."""

    item: str
    qty: Decimal
    nodes: tuple[BomTreeNode, ...]
    truncated: bool  # stopped at ``max_nodes`` rows


def find_bom_cycle(boms: Mapping[str, Bom]) -> list[str] | None:
    """A BOM cycle as a path with the first item repeated last (``["A", "B", "C", "A"]``), or None."""
    return find_cycle({parent: _bom_edges(bom) for parent, bom in boms.items()})


def _bom_edges(bom: Bom) -> list[str]:
    """Components and their substitutes: a substitute stands where its component stands."""
    return [code for line in bom.lines for code in (line.component, *(s.item for s in line.substitutes))]


class BomIndex:
    """Everything explosion, where-used, kitting and cost need, precomputed once per plant.

    Build it with ``BomIndex.for_plant(plant)`` (cached for the plant's lifetime). Raises BomCycleError
    when the BOMs contain a cycle, with the cycle's path.
    """

    def __init__(self, items: Mapping[str, Item], boms: Mapping[str, Bom]) -> None:
        self.items = items
        self.boms = {parent: bom for parent, bom in boms.items() if bom.lines}
        cycle = find_bom_cycle(self.boms)
        if cycle:
            raise BomCycleError(cycle)
        self.low_level_codes: dict[str, int] = _low_level_codes(items, self.boms)
        ordered = sorted(self.low_level_codes, key=lambda code: (self.low_level_codes[code], code))
        self.position: dict[str, int] = {code: i for i, code in enumerate(ordered)}
        self.phantoms: frozenset[str] = frozenset(
            code for code, item in items.items() if item.phantom and code in self.boms
        )
        self.lines: dict[str, tuple[EffectiveLine, ...]] = {}
        for parent in sorted(self.boms, key=lambda code: -self.low_level_codes[code]):
            if self.expands(parent):
                self.lines[parent] = self._effective_lines(parent)
        self.children: dict[str, tuple[tuple[str, Decimal], ...]] = {
            parent: _aggregate(lines) for parent, lines in self.lines.items()
        }
        parents: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
        for parent, kids in self.children.items():
            if parent in self.phantoms:
                continue
            for component, qty_per in kids:
                parents[component].append((parent, qty_per))
        self.parents: dict[str, tuple[tuple[str, Decimal], ...]] = {c: tuple(ps) for c, ps in parents.items()}
        raw_parents: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
        for parent, bom in self.boms.items():
            if self.expands(parent):
                for line in bom.lines:
                    raw_parents[line.component].append((parent, bom.qty_per_parent(line)))
        self._raw_parents = raw_parents
        self._subgraphs: dict[tuple[str, ...], tuple[str, ...]] = {}

    _CACHE: dict[int, BomIndex] = {}

    @classmethod
    def for_plant(cls, plant: Plant) -> BomIndex:
        """The index of ``plant``'s BOMs, built on first use and kept while the plant lives."""
        key = id(plant)
        index = cls._CACHE.get(key)
        if index is None:
            index = cls(plant.items, plant.boms)
            cls._CACHE[key] = index
            weakref.finalize(plant, cls._CACHE.pop, key, None)
        return index

    def expands(self, code: str) -> bool:
        """Whether ``code``'s BOM is followed (it has one and is not bought; phantoms always are)."""
        if code not in self.boms:
            return False
        item = self.items.get(code)
        return item is None or item.phantom or item.source != Source.BUY

    def is_phantom(self, code: str) -> bool:
        return code in self.phantoms

    def require_item(self, code: str) -> None:
        if code not in self.items and code not in self.boms:
            raise InvalidInputError(f"unknown item {code!r}", {"item": code})

    def _effective_lines(self, parent: str) -> tuple[EffectiveLine, ...]:
        """Lines of ``parent`` with phantom components replaced by their own (already computed) lines."""
        bom = self.boms[parent]
        out: list[EffectiveLine] = []
        for line in bom.lines:
            numerator = line.qty * (ONE + line.scrap_rate)
            qty_per = bom.qty_per_parent(line)
            if line.component in self.phantoms:
                for inner in self.lines[line.component]:
                    out.append(
                        EffectiveLine(
                            component=inner.component,
                            qty_per=qty_per * inner.qty_per,
                            numerator=numerator * inner.numerator,
                            denominator=bom.output_qty * inner.denominator,
                            substitutes=inner.substitutes,
                            allow_mix=inner.allow_mix,
                            via=(line.component, *inner.via),
                            scrap_rate=inner.scrap_rate,
                        )
                    )
            else:
                out.append(
                    EffectiveLine(
                        component=line.component,
                        qty_per=qty_per,
                        numerator=numerator,
                        denominator=bom.output_qty,
                        substitutes=tuple(sorted(line.substitutes, key=lambda s: s.priority)),
                        allow_mix=line.allow_mix,
                        scrap_rate=line.scrap_rate,
                    )
                )
        return tuple(out)

    def effective_parents(self, code: str) -> tuple[tuple[str, Decimal], ...]:
        """Direct users of ``code`` (phantom parents passed through), with the quantity per one user."""
        if code not in self.phantoms:
            return self.parents.get(code, ())
        out: dict[str, Decimal] = {}
        for parent, qty_per in self._raw_parents.get(code, ()):
            if parent in self.phantoms:
                for grand, qty_per_grand in self.effective_parents(parent):
                    out[grand] = out.get(grand, ZERO) + qty_per * qty_per_grand
            else:
                out[parent] = out.get(parent, ZERO) + qty_per
        return tuple(out.items())

    def reachable(self, tops: tuple[str, ...], with_substitutes: bool = False) -> tuple[str, ...]:
        """Every item below ``tops`` (tops included, phantoms excluded), parents before components."""
        key = (*tops, "\x00subs") if with_substitutes else tops
        cached = self._subgraphs.get(key)
        if cached is not None:
            return cached
        # Breadth first, so items of the same low-level code keep the order they are met in the BOMs.
        seen: dict[str, int] = dict.fromkeys(tops, 0)
        queue = deque(tops)
        while queue:
            node = queue.popleft()
            for line in self.lines.get(node, ()):
                codes = [line.component]
                if with_substitutes:
                    codes.extend(sub.item for sub in line.substitutes)
                for code in codes:
                    if code not in seen:
                        seen[code] = len(seen)
                        queue.append(code)
        llc = self.low_level_codes
        result = tuple(sorted(seen, key=lambda code: (llc.get(code, 0), seen[code])))
        if len(self._subgraphs) > 256:
            self._subgraphs.clear()
        self._subgraphs[key] = result
        return result

    def level_lines(self, item: str, qty: Decimal) -> Iterator[tuple[int, str, str, Decimal, Decimal]]:
        """(level, parent, component, qty_per, qty) breadth first, each parent's components together.

        Quantities reaching the same item at the same level are summed before going down, so the work is
        bounded by (BOM lines × depth), not by the number of paths.
        """
        frontier: dict[str, Decimal] = {item: qty}
        level = 0
        children = self.children
        while frontier:
            level += 1
            below: dict[str, Decimal] = {}
            for parent, parent_qty in frontier.items():
                for component, qty_per in children.get(parent, ()):
                    component_qty = parent_qty * qty_per
                    yield level, parent, component, qty_per, component_qty
                    below[component] = below.get(component, ZERO) + component_qty
            frontier = {code: q for code, q in below.items() if code in children}


def bom_index(plant: Plant) -> BomIndex:
    """The plant's BOM index (built once per plant)."""
    return BomIndex.for_plant(plant)


def _low_level_codes(items: Mapping[str, Item], boms: Mapping[str, Bom]) -> dict[str, int]:
    """Low-level code of every item: its deepest level in any BOM, substitutes included (0 = unused)."""
    kids: dict[str, list[str]] = {parent: _bom_edges(bom) for parent, bom in boms.items()}
    codes = set(items) | set(kids)
    for components in kids.values():
        codes.update(components)
    indegree = dict.fromkeys(codes, 0)
    for components in kids.values():
        for component in set(components):
            indegree[component] += 1
    llc = dict.fromkeys(codes, 0)
    ready = [code for code in sorted(codes) if indegree[code] == 0]
    while ready:
        node = ready.pop()
        for component in set(kids.get(node, ())):
            llc[component] = max(llc[component], llc[node] + 1)
            indegree[component] -= 1
            if indegree[component] == 0:
                ready.append(component)
    return llc


def _aggregate(lines: tuple[EffectiveLine, ...]) -> tuple[tuple[str, Decimal], ...]:
    """Several lines of the same component add up (in the order each component first appears)."""
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.component] = totals.get(line.component, ZERO) + line.qty_per
    return tuple(totals.items())


def _require_positive(qty: Decimal) -> Decimal:
    qty = Decimal(qty)
    if not qty > 0:
        raise InvalidInputError(f"quantity must be positive, got {qty}", {"qty": str(qty)})
    return qty


def get_low_level_codes(plant: Plant) -> Mapping[str, int]:
    """Low-level code of every item (0 = end item; a component's code is its deepest level)."""
    return bom_index(plant).low_level_codes


def explode_bom(plant: Plant, item: str, qty: Decimal = ONE) -> BomExplosion:
    """Gross requirements of ``qty`` × ``item`` over all levels, scrap included, no stock netting.

    Lines are per (level, parent, component); several lines of the same component add up; phantoms
    are exploded through and never appear. ``totals`` sums every component over all levels.
    """
    index = bom_index(plant)
    index.require_item(item)
    qty = _require_positive(qty)
    lines: list[ExplosionLine] = []
    totals: dict[str, Decimal] = {}
    depth = 0
    for level, parent, component, qty_per, component_qty in index.level_lines(item, qty):
        lines.append(ExplosionLine(level, component, component_qty, parent, qty_per))
        totals[component] = totals.get(component, ZERO) + component_qty
        depth = level
    return BomExplosion(item=item, qty=qty, lines=tuple(lines), totals=totals, depth=depth)


def explode_totals(plant: Plant, item: str, qty: Decimal = ONE) -> dict[str, Decimal]:
    """Only the totals of ``explode_bom``, computed in one pass in low-level-code order."""
    index = bom_index(plant)
    index.require_item(item)
    qty = _require_positive(qty)
    required: dict[str, Decimal] = {item: qty}
    children = index.children
    for code in index.reachable((item,)):
        code_qty = required.get(code)
        if code_qty:
            for component, qty_per in children.get(code, ()):
                required[component] = required.get(component, ZERO) + code_qty * qty_per
    del required[item]
    return required


def where_used(plant: Plant, item: str, multi_level: bool = True) -> WhereUsed:
    """Parents of ``item`` (level 1) and, multi-level, every ancestor with the quantity per one ancestor.

    Each row is an (ancestor, level, via) with ``qty_per`` summed over the paths at that level;
    ``totals`` sums an ancestor's rows over all levels. Phantom parents are passed through.
    """
    index = bom_index(plant)
    index.require_item(item)
    rows: list[WhereUsedLine] = []
    totals: dict[str, Decimal] = {}
    frontier: dict[str, Decimal] = {item: ONE}
    level = 0
    while frontier and (multi_level or level == 0):
        level += 1
        above: dict[str, Decimal] = {}
        for child, child_qty in frontier.items():
            for parent, qty_per in index.effective_parents(child):
                parent_qty = child_qty * qty_per
                rows.append(WhereUsedLine(level, parent, parent_qty, child, not index.parents.get(parent)))
                above[parent] = above.get(parent, ZERO) + parent_qty
                totals[parent] = totals.get(parent, ZERO) + parent_qty
        frontier = above
    tops = tuple(row.item for row in rows if row.is_top)
    return WhereUsed(
        item=item,
        multi_level=multi_level,
        parents=tuple(rows),
        totals=totals,
        top_items=tuple(dict.fromkeys(tops)),
    )


def get_bom_tree(
    plant: Plant,
    item: str,
    qty: Decimal = ONE,
    *,
    max_depth: int | None = None,
    max_nodes: int = 5000,
    include_phantoms: bool = False,
) -> BomTree:
    """The indented BOM of ``qty`` × ``item`` for people: one row per BOM line per path, depth first.

    Phantoms are exploded through unless ``include_phantoms`` (then shown, marked, with their lines
    below them). Stops after ``max_nodes`` rows (``truncated``) since a tree grows with the paths.
    """
    index = bom_index(plant)
    index.require_item(item)
    qty = _require_positive(qty)
    nodes: list[BomTreeNode] = []
    truncated = False
    stack = [_tree_node(index, 0, item, ONE, qty, ZERO, (), ())]
    while stack:
        if len(nodes) >= max_nodes:
            truncated = True
            break
        node = stack.pop()
        nodes.append(node)
        if not node.has_bom or (max_depth is not None and node.level >= max_depth):
            continue
        path = (*node.path, node.item)
        children = [
            _tree_node(
                index, node.level + 1, component, qty_per, node.qty * qty_per, scrap_rate, subs, path, phantom
            )
            for component, qty_per, scrap_rate, subs, phantom in _tree_children(
                index, node.item, include_phantoms
            )
        ]
        stack.extend(reversed(children))  # depth first: a row's children come right after it
    return BomTree(item=item, qty=qty, nodes=tuple(nodes), truncated=truncated)


def _tree_children(
    index: BomIndex, code: str, include_phantoms: bool
) -> list[tuple[str, Decimal, Decimal, tuple[str, ...], bool]]:
    """(component, qty_per, scrap_rate, substitute codes, is_phantom_row) for one tree level under ``code``."""
    if not include_phantoms:
        return [
            (line.component, line.qty_per, line.scrap_rate, tuple(s.item for s in line.substitutes), False)
            for line in index.lines[code]
        ]
    bom = index.boms[code]
    return [
        (
            line.component,
            bom.qty_per_parent(line),
            line.scrap_rate,
            tuple(s.item for s in line.substitutes),
            line.component in index.phantoms,
        )
        for line in bom.lines
    ]


def _tree_node(
    index: BomIndex,
    level: int,
    code: str,
    qty_per: Decimal,
    qty: Decimal,
    scrap_rate: Decimal,
    substitutes: tuple[str, ...],
    path: tuple[str, ...],
    phantom: bool = False,
) -> BomTreeNode:
    item = index.items.get(code)
    return BomTreeNode(
        level=level,
        item=code,
        name=item.name if item else "",
        qty_per=qty_per,
        qty=qty,
        uom=item.uom if item else "",
        source=str(item.source) if item else "",
        scrap_rate=scrap_rate,
        phantom=phantom,
        has_bom=code in index.lines,
        substitutes=substitutes,
        path=path,
    )


def format_qty(value: Decimal) -> str:
    """A quantity for people: no trailing zeros (``734.40`` → ``734.4``), at most 6 decimals."""
    value = Decimal(value)
    if value.as_tuple().exponent < -6:  # type: ignore[operator]
        value = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def render_bom_tree(tree: BomTree) -> str:
    """The tree as indented text with box-drawing branches, one row per line, for people to read."""
    rows: list[str] = []
    nodes = tree.nodes
    # A row is the last of its siblings when no later row sits at its level before one shallower than it.
    last: list[bool] = [True] * len(nodes)
    next_at_level: dict[int, int] = {}
    for i in range(len(nodes) - 1, -1, -1):
        level = nodes[i].level
        for deeper in [lv for lv in next_at_level if lv > level]:
            del next_at_level[deeper]
        last[i] = level not in next_at_level
        next_at_level[level] = i
    open_branches: list[bool] = []
    for i, node in enumerate(nodes):
        label = node.item + (f" {node.name}" if node.name else "")
        if node.level == 0:
            rows.append(f"{label} — {format_qty(node.qty)} {node.uom}".rstrip())
            open_branches = []
            continue
        del open_branches[node.level - 1 :]
        prefix = "".join("│   " if still_open else "    " for still_open in open_branches)
        branch = "└── " if last[i] else "├── "
        detail = f"×{format_qty(node.qty_per)}"
        if node.scrap_rate:
            detail += f" (scrap {format_qty(node.scrap_rate * 100)}%)"
        text = f"{prefix}{branch}{label} {detail} = {format_qty(node.qty)} {node.uom}".rstrip()
        if node.phantom:
            text += " [phantom]"
        if node.substitutes:
            text += " [alt: " + ", ".join(node.substitutes) + "]"
        rows.append(text)
        open_branches.append(not last[i])
    if tree.truncated:
        rows.append("… (truncated)")
    return "\n".join(rows)
