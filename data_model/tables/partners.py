"""Customers, suppliers and their purchase / subcontract price lists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    aliases: str = Field(default="", max_length=500)  # ';'-separated


class Supplier(SQLModel, table=True):
    __tablename__ = "supplier"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    is_subcontractor: bool = False
    lead_time_days: int | None = None


class PriceList(SQLModel, table=True):
    """A supplier's price for an item: purchase price or subcontract processing fee, with breaks."""

    __tablename__ = "price_list"
    __table_args__ = (
        check("kind IN ('purchase', 'subcontract')", "kind"),
        check("price >= 0", "price_nonneg"),
        check("min_qty >= 0", "min_qty_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    supplier_id: int = fk("supplier.id")
    item_id: int = fk("item.id")
    kind: str = Field(default="purchase", max_length=20)
    price: Decimal = qty_field()
    min_qty: Decimal = qty_field()  # quantity break: this price applies from min_qty up
    lead_time_days: int | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    preferred: bool = False
