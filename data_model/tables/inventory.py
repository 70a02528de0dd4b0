"""Warehouses, locations, the append-only stock ledger and reservations."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

# internal kinds hold stock we count; the others are the virtual ends of a move
LOCATION_KINDS = ("stock", "inspection", "supplier", "transit", "vendor", "customer", "production", "adjustment")
INTERNAL_KINDS = ("stock", "inspection", "supplier", "transit")
MOVE_TYPES = ("receipt", "issue", "return", "transfer", "adjustment", "production_receipt", "shipment", "scrap")


class Warehouse(SQLModel, table=True):
    __tablename__ = "warehouse"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)


class Location(SQLModel, table=True):
    """A place stock can be; ``supplier`` locations hold material sent to a subcontractor."""

    __tablename__ = "location"
    __table_args__ = (
        check(
            "kind IN ('stock', 'inspection', 'supplier', 'transit', 'vendor', 'customer', 'production', 'adjustment')",
            "kind",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    kind: str = Field(default="stock", max_length=20)
    warehouse_id: int | None = fk("warehouse.id", nullable=True)
    supplier_id: int | None = fk("supplier.id", nullable=True)


class StockMove(SQLModel, table=True):
    """One posted movement of stock; never updated or deleted (corrections are new moves)."""

    __tablename__ = "stock_move"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("from_location_id <> to_location_id", "distinct_locations"),
    )
    id: int | None = Field(default=None, primary_key=True)
    move_date: date = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    move_type: str = Field(max_length=30)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    from_location_id: int = fk("location.id")
    to_location_id: int = fk("location.id")
    unit_cost: Decimal = qty_field()
    owner_customer_id: int | None = fk("customer.id", nullable=True)  # customer-supplied material
    doc_type: str = Field(default="", max_length=40)
    doc_ref: str = Field(default="", max_length=64, index=True)
    reason: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=64)


class Reservation(SQLModel, table=True):
    """Stock or supply set aside for a demand (a sales order line, a production order)."""

    __tablename__ = "reservation"
    __table_args__ = (check("qty > 0", "qty_positive"), check("status IN ('active', 'released', 'consumed')", "status"))
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    demand_type: str = Field(max_length=40)
    demand_ref: str = Field(max_length=64, index=True)
    supply_ref: str = Field(default="stock", max_length=64)
    status: str = Field(default="active", max_length=20)
    created_at: datetime = Field(default_factory=utcnow)


class ItemValuation(SQLModel, table=True):
    """Moving-average valuation of an item's own stock (customer-owned stock is not valued)."""

    __tablename__ = "item_valuation"
    item_id: int = Field(primary_key=True, foreign_key="item.id")
    qty: Decimal = qty_field()
    value: Decimal = qty_field()
    avg_cost: Decimal = qty_field()
