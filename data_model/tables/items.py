"""Items, their aliases and units of measure."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field

SOURCES = ("make", "buy", "subcontract")


class Uom(SQLModel, table=True):
    __tablename__ = "uom"
    code: str = Field(primary_key=True, max_length=20)
    name: str = Field(default="", max_length=60)


class Item(SQLModel, table=True):
    __tablename__ = "item"
    __table_args__ = (
        check("source IN ('make', 'buy', 'subcontract')", "source"),
        check("lead_time_days >= 0", "lead_time_nonneg"),
        check("safety_stock >= 0", "safety_stock_nonneg"),
        check("min_order_qty >= 0 AND order_multiple >= 0 AND max_order_qty >= 0", "lot_sizes_nonneg"),
        check("unit_cost >= 0", "unit_cost_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="", max_length=60)
    uom: str = Field(default="pcs", foreign_key="uom.code", max_length=20)
    source: str = Field(default="buy", max_length=20)
    lead_time_days: int = 0
    safety_stock: Decimal = qty_field()
    min_order_qty: Decimal = qty_field()
    order_multiple: Decimal = qty_field()
    max_order_qty: Decimal = qty_field()
    unit_cost: Decimal = qty_field()
    phantom: bool = False
    inspection_required: bool = False
    active: bool = True


class ItemAlias(SQLModel, table=True):
    __tablename__ = "item_alias"
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("item.id")
    alias: str = Field(max_length=200)
