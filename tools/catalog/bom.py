"""BOM tools: multi-level explosion, where-used, the indented BOM tree and the BOM cost roll-up."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from planning import bom as engine
from planning import bom_cost
from planning.model import Plant
from tools.catalog.items import resolve_item
from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import tool
from tools.snapshot import load_plant
from tools.types import Num

ITEM_FIELD = "item code (or exact name / alias)"


def _name(plant: Plant, code: str) -> str:
    item = plant.items.get(code)
    return item.name if item else ""


def _uom(plant: Plant, code: str) -> str:
    item = plant.items.get(code)
    return item.uom if item else ""


# ---------------------------------------------------------------- explode_bom


class ExplodeBomIn(BaseModel):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num = Field(default=Decimal(1), gt=0, description="quantity of the item to explode, in its unit")


class ExplosionLineOut(BaseModel):
    level: int = Field(description="1 = direct component of the item")
    item: str
    name: str
    qty: Num = Field(description="gross quantity at this level for this parent, scrap included")
    uom: str
    parent: str
    qty_per: Num = Field(description="per one parent, scrap included")


class ExplodeBomOut(BaseModel):
    item: str
    name: str
    qty: Num
    uom: str
    lines: list[ExplosionLineOut] = Field(description="per level and parent; same-item quantities summed")
    totals: dict[str, Num] = Field(description="every component over all levels (sub-assemblies and leaves)")
    depth: int = Field(description="deepest level")


@tool(kind="read", tags=("bom",))
def explode_bom(ctx: ToolContext, args: ExplodeBomIn) -> ExplodeBomOut:
    """Multi-level BOM explosion (展开BOM): the gross quantities of every component needed for ``qty`` of
    ``item``, scrap included (qty × (1 + scrap_rate)), batch BOMs divided by their output quantity, with no
    stock netting. ``lines`` are per level and parent; ``totals`` sums each component over all levels.
    Phantom (skip-level) items are exploded through and never appear. Quantities in each item's unit.
    For stock-aware questions ("how many can we build?") use check_kitting; for cost use get_bom_cost."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    result = engine.explode_bom(plant, code, args.qty)
    return ExplodeBomOut(
        item=code,
        name=_name(plant, code),
        qty=result.qty,
        uom=_uom(plant, code),
        lines=[
            ExplosionLineOut(
                level=ln.level,
                item=ln.item,
                name=_name(plant, ln.item),
                qty=ln.qty,
                uom=_uom(plant, ln.item),
                parent=ln.parent,
                qty_per=ln.qty_per,
            )
            for ln in result.lines
        ],
        totals=dict(result.totals),
        depth=result.depth,
    )


# ---------------------------------------------------------------- where_used


class WhereUsedIn(BaseModel):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    multi_level: bool = Field(default=True, description="all ancestors up to the end items, not only parents")


class WhereUsedLineOut(BaseModel):
    item: str = Field(description="the item that uses it")
    name: str
    level: int = Field(description="1 = direct parent")
    qty_per: Num = Field(description="units of the asked item per one unit of this item, through `via`")
    via: str = Field(description="the component of this item on the path (the asked item itself at level 1)")
    is_top: bool = Field(description="an end item: nothing uses it")


class WhereUsedOut(BaseModel):
    item: str
    name: str
    multi_level: bool
    parents: list[WhereUsedLineOut]
    totals: dict[str, Num] = Field(
        description="per ancestor: units of the asked item per one unit, all paths"
    )
    top_items: list[str] = Field(description="end items that use it")


@tool(kind="read", tags=("bom",))
def where_used(ctx: ToolContext, args: WhereUsedIn) -> WhereUsedOut:
    """Where-used (反查): which items use ``item`` in their BOM, and how much per unit. Single level gives
    the direct parents; multi-level (default) every ancestor up to the end items, with its level and the
    quantity of ``item`` per one unit of that ancestor. Phantom parents are passed through. Use it to see
    what an engineering change or a shortage of a component affects."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    result = engine.where_used(plant, code, args.multi_level)
    return WhereUsedOut(
        item=code,
        name=_name(plant, code),
        multi_level=result.multi_level,
        parents=[
            WhereUsedLineOut(
                item=r.item,
                name=_name(plant, r.item),
                level=r.level,
                qty_per=r.qty_per,
                via=r.via,
                is_top=r.is_top,
            )
            for r in result.parents
        ],
        totals=dict(result.totals),
        top_items=list(result.top_items),
    )


# ---------------------------------------------------------------- get_bom_tree


class GetBomTreeIn(BaseModel):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num = Field(default=Decimal(1), gt=0, description="quantity of the item")
    max_depth: int | None = Field(default=None, ge=1, description="levels to show (default: all)")
    include_phantoms: bool = Field(default=False, description="show phantom items as their own rows")
    max_rows: int = Field(default=500, ge=1, le=20000, description="stop after this many rows")


class BomTreeRowOut(BaseModel):
    level: int
    item: str
    name: str
    qty_per: Num = Field(description="per one unit of the row above, scrap included")
    qty: Num = Field(description="for the requested quantity")
    uom: str
    source: str
    scrap_rate: Num
    phantom: bool
    has_bom: bool
    substitutes: list[str]
    path: list[str] = Field(description="item codes from the top down to the parent")


class GetBomTreeOut(BaseModel):
    item: str
    qty: Num
    text: str = Field(description="the indented tree, ready to show a person")
    rows: list[BomTreeRowOut]
    truncated: bool


@tool(kind="read", tags=("bom",))
def get_bom_tree(ctx: ToolContext, args: GetBomTreeIn) -> GetBomTreeOut:
    """The BOM of ``item`` as an indented tree (BOM结构) for people: one row per BOM line per path, with
    quantity per parent (scrap included), quantity for ``qty``, source, scrap and substitutes. ``text`` is
    ready to display. Phantoms are exploded through unless ``include_phantoms``."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    tree = engine.get_bom_tree(
        plant,
        code,
        args.qty,
        max_depth=args.max_depth,
        max_nodes=args.max_rows,
        include_phantoms=args.include_phantoms,
    )
    return GetBomTreeOut(
        item=code,
        qty=tree.qty,
        text=engine.render_bom_tree(tree),
        rows=[
            BomTreeRowOut(
                level=n.level,
                item=n.item,
                name=n.name,
                qty_per=n.qty_per,
                qty=n.qty,
                uom=n.uom,
                source=n.source,
                scrap_rate=n.scrap_rate,
                phantom=n.phantom,
                has_bom=n.has_bom,
                substitutes=list(n.substitutes),
                path=list(n.path),
            )
            for n in tree.nodes
        ],
        truncated=tree.truncated,
    )


# ---------------------------------------------------------------- get_bom_cost


class GetBomCostIn(BaseModel):
    item: str = Field(min_length=1, description=ITEM_FIELD)
    qty: Num = Field(
        default=Decimal(1),
        gt=0,
        description="quantity to cost (a quote's quantity): routing setups are spread over the lots it needs",
    )
    prices: dict[str, Num] = Field(
        default_factory=dict,
        description="optional price list {item code: price per unit} overriding unit_cost of bought items "
        "and the fee of subcontracted items",
    )


class BomCostLineOut(BaseModel):
    kind: str = Field(description="material | operation | subcontract_fee")
    level: int
    item: str = Field(description="the material; for operation and fee rows the item made")
    name: str
    parent: str
    qty_per: Num = Field(description="material: per one parent; operation: minutes per unit made")
    qty: Num = Field(description="for the costed quantity")
    unit_cost: Num = Field(
        description="material: the item's rolled-up cost per unit; operation/fee: per unit made"
    )
    extended_cost: Num = Field(description="qty × unit_cost")
    basis: str = Field(description="price_list | unit_cost | standard | bom | subcontract | none")
    work_center: str = ""
    seq: int = 0
    minutes: Num = Field(default=Decimal(0), description="operation rows: setup + run minutes in all")


class CostProblemOut(BaseModel):
    item: str
    cause: str
    message: str


class GetBomCostOut(BaseModel):
    item: str
    name: str
    qty: Num
    unit_cost: Num = Field(description="rolled-up cost per unit")
    total_cost: Num = Field(description="unit_cost × qty")
    material_cost: Num = Field(description="bought items and standard costs, for qty")
    operation_cost: Num = Field(description="routing operations on work centers with a cost rate, for qty")
    subcontract_fee_cost: Num = Field(description="subcontractors' processing fees, for qty")
    lines: list[BomCostLineOut] = Field(
        description="level-1 rows add up to total_cost; deeper rows detail them"
    )
    item_costs: dict[str, Num] = Field(description="rolled-up cost per unit of every item in the structure")
    problems: list[CostProblemOut] = Field(description="what makes the cost incomplete (e.g. no price)")


@tool(kind="read", tags=("bom", "costing"))
def get_bom_cost(ctx: ToolContext, args: GetBomCostIn) -> GetBomCostOut:
    """BOM cost roll-up (BOM成本/报价): the standard cost of ``item`` from its BOM, usable for a quote.
    Bought items at their price (``prices`` if given, else unit_cost); subcontracted items at their
    materials plus their processing fee; make items through their BOM plus routing operations on work
    centers with a cost per hour (setup spread over the lot the quoted ``qty`` needs, at least the item's
    minimum order quantity); a make item without a BOM at its own standard unit_cost. Returns the unit and
    total cost, material / operation / fee split, and a line-by-line breakdown. For actual production order
    costs use get_cost_report."""
    code = resolve_item(ctx.session, args.item).code
    plant = load_plant(ctx)
    unknown = sorted(c for c in args.prices if c not in plant.items)
    if unknown:
        raise ToolError(
            "invalid_input",
            f"unknown item(s) in prices: {', '.join(unknown)}",
            {"field": "prices", "items": unknown},
        )
    cost = bom_cost.get_bom_cost(plant, code, args.qty, args.prices)
    return GetBomCostOut(
        item=code,
        name=_name(plant, code),
        qty=cost.qty,
        unit_cost=cost.unit_cost,
        total_cost=cost.total_cost,
        material_cost=cost.material_cost,
        operation_cost=cost.operation_cost,
        subcontract_fee_cost=cost.subcontract_fee_cost,
        lines=[
            BomCostLineOut(
                kind=ln.kind.value,
                level=ln.level,
                item=ln.item,
                name=_name(plant, ln.item),
                parent=ln.parent,
                qty_per=ln.qty_per,
                qty=ln.qty,
                unit_cost=ln.unit_cost,
                extended_cost=ln.extended_cost,
                basis=ln.basis.value,
                work_center=ln.work_center,
                seq=ln.seq,
                minutes=ln.minutes,
            )
            for ln in cost.lines
        ],
        item_costs=dict(cost.item_costs),
        problems=[CostProblemOut(item=p.item, cause=p.cause, message=p.message) for p in cost.problems],
    )
