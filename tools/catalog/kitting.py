"""Kitting tools (齐套分析): how many can be built from stock now, combined kit checks, substitute advice."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlmodel import select

from data_model.tables import Item, Reservation
from planning import kitting as engine
from planning.kitting import KitBuild, KitShortage
from planning.model import DemandKind, Plant
from planning.substitutes import LineCover, SubstituteStrategy, SubstituteUse
from tools.catalog.items import resolve_item
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.snapshot import load_plant
from tools.types import Num

ITEM_FIELD = "item code (or exact name / alias)"
Strategy = Literal["priority", "lowest_cost"]
STRATEGY_FIELD = (
    "how to choose substitutes: priority (main component first, then substitutes in priority order) "
    "or lowest_cost (cheapest material mix)"
)
# A kit check looks at one product's structure; a few seconds is plenty even for CP-SAT with substitutes.
TIME_LIMIT_SECONDS = 10.0


class StockBasis(BaseModel):
    """What stock counts as free for the kit."""

    deduct_reserved: bool = Field(default=False, description="leave out stock reserved for other demands")
    deduct_open_orders: bool = Field(
        default=False, description="leave out components still to issue to open production/subcontract orders"
    )
    committed: dict[str, Num] = Field(
        default_factory=dict, description="further stock to leave out: {item code: quantity}"
    )


class ShortageOut(BaseModel):
    item: str
    name: str
    level: int = Field(description="depth below the built item where the item is netted (1 = direct)")
    required: Num = Field(description="what the parents need after their own stock")
    available: Num = Field(description="required - short: from free stock, or built (sub-assemblies)")
    short: Num
    on_hand: Num = Field(description="free stock of the item counted")
    to_build: Num = Field(description="sub-assemblies: quantity to build from components")
    is_subassembly: bool = Field(description="short because its own components are short (listed too)")
    parents: list[str]
    uom: str


class BuildOut(BaseModel):
    item: str
    qty: Num = Field(description="sub-assembly to build from its components, beyond its stock")


class SubstitutionOut(BaseModel):
    parent: str
    component: str = Field(description="the BOM line's main component")
    substitute: str
    qty: Num = Field(description="of the substitute, in its unit")
    replaces_qty: Num = Field(description="of the main component it replaces")
    ratio: Num = Field(description="substitute units per unit of the component")
    priority: int


def _shortage(plant: Plant, s: KitShortage) -> ShortageOut:
    item = plant.items.get(s.item)
    return ShortageOut(
        item=s.item,
        name=item.name if item else "",
        level=s.level,
        required=s.required,
        available=s.available,
        short=s.short,
        on_hand=s.on_hand,
        to_build=s.to_build,
        is_subassembly=s.is_subassembly,
        parents=list(s.parents),
        uom=item.uom if item else "",
    )


def _builds(builds: tuple[KitBuild, ...]) -> list[BuildOut]:
    return [BuildOut(item=b.item, qty=b.qty) for b in builds]


def _substitution(u: SubstituteUse) -> SubstitutionOut:
    return SubstitutionOut(
        parent=u.parent,
        component=u.component,
        substitute=u.substitute,
        qty=u.qty,
        replaces_qty=u.replaces_qty,
        ratio=u.ratio,
        priority=u.priority,
    )


def _committed(ctx: ToolContext, plant: Plant, basis: StockBasis) -> dict[str, Decimal]:
    """Stock to leave out of the kit: reservations, other open orders' components, and the explicit list."""
    committed: dict[str, Decimal] = defaultdict(Decimal)
    unknown = sorted(code for code in basis.committed if code not in plant.items)
    if unknown:
        raise ToolError(
            "invalid_input",
            f"unknown item(s) in committed: {', '.join(unknown)}",
            {"field": "committed", "items": unknown},
        )
    for code, qty in basis.committed.items():
        committed[code] += qty
    if basis.deduct_open_orders:
        for demand in plant.demands:
            if demand.kind == DemandKind.DEPENDENT:
                committed[demand.item] += demand.qty
    if basis.deduct_reserved:
        rows = ctx.session.exec(
            select(Item.code, Reservation.qty)
            .join(Item, Item.id == Reservation.item_id)  # type: ignore[arg-type]
            .where(Reservation.status == "active", Reservation.supply_ref == "stock")
        ).all()
        for code, qty in rows:
            committed[code] += Decimal(qty)
    return dict(committed)


# ---------------------------------------------------------------- check_kitting


class CheckKittingIn(StockBasis):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num | None = Field(
        default=None, gt=0, description="quantity to check; omit to get only how many can be built"
    )
    use_substitutes: bool = Field(default=False, description="let BOM substitutes replace short components")
    strategy: Strategy = Field(default="priority", description=STRATEGY_FIELD)


class CheckKittingOut(BaseModel):
    item: str
    name: str
    uom: str
    on_hand: Num = Field(description="stock of the item itself: reported, not added to buildable_qty")
    buildable_qty: int = Field(description="how many more can be built from free stock now (rounded down)")
    limiting_items: list[str] = Field(description="short for one more: sub-assemblies and their leaf causes")
    limiting: list[ShortageOut] = Field(description="the shortages of building buildable_qty + 1")
    qty: Num | None
    complete: bool | None = Field(description="buildable_qty ≥ qty (None without qty)")
    shortages: list[ShortageOut] = Field(
        description="every shortage, all levels, to build qty (empty without qty)"
    )
    builds: list[BuildOut] = Field(description="sub-assemblies to build for qty (or for buildable_qty)")
    use_substitutes: bool
    substitutions: list[SubstitutionOut] = Field(
        description="substitutes used for qty (or for buildable_qty)"
    )


@tool(kind="read", tags=("kitting",))
def check_kitting(ctx: ToolContext, args: CheckKittingIn) -> CheckKittingOut:
    """Kitting check (齐套分析): how many more of ``item`` can be built from free stock right now (a whole
    number, rounded down), using stocked sub-assemblies first and building the rest from their components,
    and which items limit it (a short sub-assembly is listed with the leaf component that causes it). The
    item's own stock is reported as ``on_hand``, not added. With ``qty``: every shortage, on every level, to
    build that many. ``use_substitutes`` lets BOM substitutes cover short components. Optionally leave
    reserved stock, other open orders' components, or a ``committed`` list out of the free stock. Does not
    look at future receipts: for dates use promise_order or analyze_shortages."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    result = engine.check_kitting(
        plant,
        code,
        args.qty,
        use_substitutes=args.use_substitutes,
        committed=_committed(ctx, plant, args),
        strategy=SubstituteStrategy(args.strategy),
        time_limit_seconds=TIME_LIMIT_SECONDS,
    )
    item = plant.items.get(code)
    return CheckKittingOut(
        item=code,
        name=item.name if item else "",
        uom=item.uom if item else "",
        on_hand=result.on_hand,
        buildable_qty=result.buildable_qty,
        limiting_items=list(result.limiting_items),
        limiting=[_shortage(plant, s) for s in result.limiting],
        qty=result.qty,
        complete=result.complete,
        shortages=[_shortage(plant, s) for s in result.shortages],
        builds=_builds(result.builds),
        use_substitutes=result.use_substitutes,
        substitutions=[_substitution(u) for u in result.substitutions],
    )


# ---------------------------------------------------------------- check_kitting_multi


class KitProductIn(BaseModel):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num = Field(gt=0)


class CheckKittingMultiIn(StockBasis):
    products: list[KitProductIn] = Field(
        min_length=1, max_length=200, description="products to build together, most important first"
    )
    use_substitutes: bool = Field(default=False, description="let BOM substitutes replace short components")
    strategy: Strategy = Field(default="priority", description=STRATEGY_FIELD)


class KitProductOut(BaseModel):
    item: str
    name: str
    qty: Num
    on_hand: Num = Field(description="stock of the product itself: reported, not used")
    buildable_qty: int = Field(description="buildable from what the products listed before it leave")
    complete: bool


class CheckKittingMultiOut(BaseModel):
    complete: bool = Field(description="all products together can be built")
    products: list[KitProductOut]
    shortages: list[ShortageOut] = Field(description="shortages of building all of them together")
    limiting_items: list[str]
    builds: list[BuildOut]
    use_substitutes: bool
    substitutions: list[SubstitutionOut]


@tool(kind="read", tags=("kitting",))
def check_kitting_multi(ctx: ToolContext, args: CheckKittingMultiIn) -> CheckKittingMultiOut:
    """Combined kitting check of several products that share components (多产品齐套): whether all of them
    can be built together from free stock now and, if not, every shortage (all levels) of building them
    together. Products are served in the order listed: each gets the most it can (up to its qty) from what
    the ones before it leave. The same product listed twice adds up. Same options as check_kitting."""
    plant = load_plant(ctx)
    requests = [(resolve_item(ctx.session, p.item).code, p.qty) for p in args.products]
    result = engine.check_kitting_multi(
        plant,
        requests,
        use_substitutes=args.use_substitutes,
        committed=_committed(ctx, plant, args),
        strategy=SubstituteStrategy(args.strategy),
        time_limit_seconds=TIME_LIMIT_SECONDS,
    )
    return CheckKittingMultiOut(
        complete=result.complete,
        products=[
            KitProductOut(
                item=a.item,
                name=plant.items[a.item].name if a.item in plant.items else "",
                qty=a.qty,
                on_hand=a.on_hand,
                buildable_qty=a.buildable_qty,
                complete=a.complete,
            )
            for a in result.requests
        ],
        shortages=[_shortage(plant, s) for s in result.shortages],
        limiting_items=list(result.limiting_items),
        builds=_builds(result.builds),
        use_substitutes=result.use_substitutes,
        substitutions=[_substitution(u) for u in result.substitutions],
    )


# ---------------------------------------------------------------- recommend_substitutes


class RecommendSubstitutesIn(StockBasis):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num = Field(gt=0, description="quantity of the item to build")
    strategy: Strategy = Field(default="priority", description=STRATEGY_FIELD)


class LineCoverOut(BaseModel):
    parent: str
    component: str
    required: Num = Field(description="what the line needs, in the component's unit")
    main_qty: Num = Field(description="taken from the component itself")
    allow_mix: bool = Field(description="false: one material for the whole build")
    substitutes: list[SubstitutionOut]


class RecommendSubstitutesOut(BaseModel):
    item: str
    qty: Num
    strategy: Strategy
    complete: bool = Field(description="nothing is short with the recommended substitutes")
    covers: list[LineCoverOut] = Field(description="BOM lines that should use substitutes, and how much")
    shortages_without: list[ShortageOut] = Field(description="shortages with main components only")
    shortages_with: list[ShortageOut] = Field(description="what is still short after substituting")
    optimal: bool = Field(description="the solver proved the recommendation optimal")


def _cover(cover: LineCover) -> LineCoverOut:
    return LineCoverOut(
        parent=cover.parent,
        component=cover.component,
        required=cover.required,
        main_qty=cover.main_qty,
        allow_mix=cover.allow_mix,
        substitutes=[_substitution(u) for u in cover.substitutes],
    )


@tool(kind="read", tags=("kitting",))
def recommend_substitutes(ctx: ToolContext, args: RecommendSubstitutesIn) -> RecommendSubstitutesOut:
    """Recommend BOM substitutes (替代料建议) to build ``qty`` of ``item`` when main components are short:
    which substitutes, on which BOM lines, in what quantities (a substitute's ratio says how many of it
    replace one of the component), honouring lines that forbid mixing. Lines sharing components or
    substitutes are decided together (least total shortage first, then least substitute use in priority
    order, or the lowest material cost). Shows the shortages without and with the substitutes. Read-only."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    result = engine.recommend_substitutes(
        plant,
        code,
        args.qty,
        strategy=SubstituteStrategy(args.strategy),
        committed=_committed(ctx, plant, args),
        time_limit_seconds=TIME_LIMIT_SECONDS,
    )
    return RecommendSubstitutesOut(
        item=code,
        qty=result.qty,
        strategy=args.strategy,
        complete=result.complete,
        covers=[_cover(c) for c in result.covers],
        shortages_without=[_shortage(plant, s) for s in result.shortages_without],
        shortages_with=[_shortage(plant, s) for s in result.shortages_with],
        optimal=result.status == "optimal",
    )
