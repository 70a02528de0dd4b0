"""Frozen, typed inputs of the planning core: the in-memory snapshot of a plant."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.calendar import Calendar

ZERO = Decimal(0)
ONE = Decimal(1)


class Source(StrEnum):
    MAKE = "make"
    BUY = "buy"
    SUBCONTRACT = "subcontract"


@dataclass(frozen=True, slots=True)
class Item:
    code: str
    name: str = ""
    source: Source = Source.BUY
    lead_time_days: int = 0
    safety_stock: Decimal = ZERO
    min_order_qty: Decimal = ZERO
    order_multiple: Decimal = ZERO
    max_order_qty: Decimal = ZERO
    unit_cost: Decimal = ZERO
    phantom: bool = False
    uom: str = "pcs"


@dataclass(frozen=True, slots=True)
class Substitute:
    """``ratio`` units of ``item`` replace one unit of the line's component."""

    item: str
    ratio: Decimal = ONE
    priority: int = 1


@dataclass(frozen=True, slots=True)
class BomLine:
    component: str
    qty: Decimal  # per ``Bom.output_qty`` parents
    scrap_rate: Decimal = ZERO
    substitutes: tuple[Substitute, ...] = ()
    issue_method: str = "manual"  # manual | backflush | kit
    allow_mix: bool = True  # may main and substitutes be mixed within one build


@dataclass(frozen=True, slots=True)
class Bom:
    parent: str
    lines: tuple[BomLine, ...]
    output_qty: Decimal = ONE
    version: str = "1"

    def qty_per_parent(self, line: BomLine) -> Decimal:
        """Gross quantity of the line's component per one parent, scrap included."""
        return line.qty * (ONE + line.scrap_rate) / self.output_qty


@dataclass(frozen=True, slots=True)
class WorkCenter:
    code: str
    machines: int = 1
    hours_per_day: Decimal = Decimal(8)
    cost_per_hour: Decimal = ZERO
    name: str = ""
    overtime_hours_per_day: Decimal = ZERO  # extra hours a planner may add per working day (a promising lever)


@dataclass(frozen=True, slots=True)
class Operation:
    seq: int
    work_center: str
    setup_minutes: Decimal = ZERO
    run_minutes_per_unit: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Routing:
    item: str
    operations: tuple[Operation, ...]


class SupplyKind(StrEnum):
    PURCHASE = "purchase"
    PRODUCTION = "production"
    SUBCONTRACT = "subcontract"
    TRANSIT = "transit"
    INSPECTION = "inspection"


@dataclass(frozen=True, slots=True)
class Supply:
    """Open supply of ``item``: the quantity still to be received, expected on ``due``."""

    id: str
    item: str
    qty: Decimal
    due: date
    kind: SupplyKind = SupplyKind.PURCHASE
    status: str = "open"


class DemandKind(StrEnum):
    SALES = "sales"
    FORECAST = "forecast"
    DEPENDENT = "dependent"  # components still to issue to an open production/subcontract order
    SAFETY = "safety"


@dataclass(frozen=True, slots=True)
class Demand:
    """Independent or dependent demand for ``item`` of ``qty`` on ``due``."""

    id: str
    item: str
    qty: Decimal
    due: date
    kind: DemandKind = DemandKind.SALES
    priority: int = 5  # lower number = more important
    customer: str = ""


@dataclass(frozen=True)
class Plant:
    """Everything the planning core may read, loaded once (load → solve → export)."""

    today: date
    items: Mapping[str, Item]
    boms: Mapping[str, Bom] = field(default_factory=dict)  # effective BOM per parent code
    on_hand: Mapping[str, Decimal] = field(default_factory=dict)  # available stock per item
    supplies: tuple[Supply, ...] = ()
    demands: tuple[Demand, ...] = ()
    calendar: Calendar = field(default_factory=Calendar)
    work_centers: Mapping[str, WorkCenter] = field(default_factory=dict)
    routings: Mapping[str, Routing] = field(default_factory=dict)
