"""Sales orders, forecasts, purchase requisitions and orders, production orders and their components."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow


class SalesOrder(SQLModel, table=True):
    __tablename__ = "sales_order"
    __table_args__ = (
        check("status IN ('draft', 'confirmed', 'in_progress', 'done', 'cancelled')", "status"),
        check("priority >= 0", "priority_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    customer_id: int = fk("customer.id")
    priority: int = 5
    order_date: date | None = None
    status: str = Field(default="confirmed", max_length=20)
    note: str = Field(default="", max_length=1000)


class SalesOrderLine(SQLModel, table=True):
    __tablename__ = "sales_order_line"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("shipped_qty >= 0", "shipped_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    sales_order_id: int = fk("sales_order.id")
    line_no: int = 1
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    due_date: date  # requested by the customer
    promised_date: date | None = None
    shipped_qty: Decimal = qty_field()
    unit_price: Decimal = qty_field()


class Forecast(SQLModel, table=True):
    __tablename__ = "forecast"
    __table_args__ = (check("qty > 0", "qty_positive"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    forecast_date: date


class PurchaseRequisition(SQLModel, table=True):
    __tablename__ = "purchase_requisition"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("status IN ('draft', 'approved', 'ordered', 'cancelled')", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    need_date: date
    supplier_id: int | None = fk("supplier.id", nullable=True)
    status: str = Field(default="approved", max_length=20)
    source_ref: str = Field(default="", max_length=200)  # what it was drafted from (shortage of MO-1, MRP…)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: str = Field(default="", max_length=64)


class PurchaseOrder(SQLModel, table=True):
    __tablename__ = "purchase_order"
    __table_args__ = (
        check("status IN ('draft', 'confirmed', 'partial', 'received', 'closed', 'cancelled')", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    supplier_id: int | None = fk("supplier.id", nullable=True)
    order_date: date | None = None
    status: str = Field(default="confirmed", max_length=20)


class PurchaseOrderLine(SQLModel, table=True):
    __tablename__ = "purchase_order_line"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("received_qty >= 0", "received_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    purchase_order_id: int = fk("purchase_order.id")
    line_no: int = 1
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    received_qty: Decimal = qty_field()
    due_date: date
    unit_price: Decimal = qty_field()
    requisition_id: int | None = fk("purchase_requisition.id", nullable=True)


class ProductionOrder(SQLModel, table=True):
    """A make (or rework) order; ``kind`` subcontract orders are made by a supplier."""

    __tablename__ = "production_order"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("completed_qty >= 0", "completed_nonneg"),
        check(
            "status IN ('planned', 'released', 'in_progress', 'completed', 'closed', 'cancelled')",
            "status",
        ),
        check("kind IN ('production', 'subcontract', 'rework')", "kind"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    kind: str = Field(default="production", max_length=20)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    completed_qty: Decimal = qty_field()
    start_date: date | None = None
    due_date: date
    status: str = Field(default="released", max_length=20)
    priority: int = 5
    bom_id: int | None = fk("bom.id", nullable=True)
    supplier_id: int | None = fk("supplier.id", nullable=True)
    sales_order_line_id: int | None = fk("sales_order_line.id", nullable=True)
    parent_order_id: int | None = fk("production_order.id", nullable=True)  # semi-finished flow / rework
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ProductionOrderComponent(SQLModel, table=True):
    """A component requirement of a production order: what to issue and what was issued."""

    __tablename__ = "production_order_component"
    __table_args__ = (
        check("required_qty >= 0", "required_nonneg"),
        check("issued_qty >= 0", "issued_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = fk("production_order.id")
    item_id: int = fk("item.id")
    required_qty: Decimal = qty_field()
    issued_qty: Decimal = qty_field()
    issue_method: str = Field(default="manual", max_length=20)
    substitute_for_id: int | None = fk("item.id", nullable=True)
