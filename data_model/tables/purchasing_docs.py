"""Receiving documents (收料通知) for purchase, subcontract and customer-supplied goods; subcontract terms."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

RECEIPT_SOURCES = ("purchase_order", "subcontract_order", "customer_material")


class ReceiptNotice(SQLModel, table=True):
    """One delivery received (RN-…): what arrived, against which document; its quantities are ledger moves.

    It is ``inspecting`` while an inspection order of one of its lines is pending, else ``done``.
    """

    __tablename__ = "receipt_notice"
    __table_args__ = (
        check("source_type IN ('purchase_order', 'subcontract_order', 'customer_material')", "source_type"),
        check("status IN ('inspecting', 'done')", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    source_type: str = Field(max_length=30)
    source_ref: str = Field(default="", max_length=64, index=True)  # PO / subcontract code, customer ref
    supplier_id: int | None = fk("supplier.id", nullable=True)
    customer_id: int | None = fk("customer.id", nullable=True)
    receipt_date: date
    status: str = Field(default="done", max_length=20)
    note: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=64)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ReceiptNoticeLine(SQLModel, table=True):
    """One item received on a receipt notice, where it went (QC or stock) and the move that posted it."""

    __tablename__ = "receipt_notice_line"
    __table_args__ = (check("qty > 0", "qty_positive"), check("unit_cost >= 0", "unit_cost_nonneg"))
    id: int | None = Field(default=None, primary_key=True)
    receipt_notice_id: int = fk("receipt_notice.id")
    line_no: int = 1
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    unit_cost: Decimal = qty_field()
    purchase_order_line_id: int | None = fk("purchase_order_line.id", nullable=True)
    production_order_id: int | None = fk("production_order.id", nullable=True)
    owner_customer_id: int | None = fk("customer.id", nullable=True)
    to_location_id: int = fk("location.id")
    stock_move_id: int | None = fk("stock_move.id", nullable=True)


class SubcontractTerms(SQLModel, table=True):
    """The processing fee per unit agreed on a subcontract order (委外加工费) and where it came from."""

    __tablename__ = "subcontract_terms"
    __table_args__ = (
        check("unit_fee >= 0", "unit_fee_nonneg"),
        check("price_source IN ('price_list', 'item_unit_cost', 'given')", "price_source"),
    )
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = Field(foreign_key="production_order.id", unique=True, index=True)
    unit_fee: Decimal = qty_field()
    price_source: str = Field(default="price_list", max_length=20)
