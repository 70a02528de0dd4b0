"""Inspection orders (质检单): goods held in QC until accepted into stock or rejected."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

INSPECTION_SOURCES = ("purchase_order", "subcontract_order", "production_order")
INSPECTION_STATUSES = ("pending", "done", "cancelled")
DISPOSITIONS = ("", "return", "scrap")


class InspectionOrder(SQLModel, table=True):
    """One lot to inspect (IQ-…), referencing the document it was received on.

    ``unit_cost`` is what the lot came in at: a rejected purchase goes back to the vendor at that price.
    """

    __tablename__ = "inspection_order"
    __table_args__ = (
        check("source_type IN ('purchase_order', 'subcontract_order', 'production_order')", "source_type"),
        check("status IN ('pending', 'done', 'cancelled')", "status"),
        check("disposition IN ('', 'return', 'scrap')", "disposition"),
        check("qty > 0", "qty_positive"),
        check("sampled_qty >= 0 AND sampled_qty <= qty", "sampled_range"),
        check(
            "accepted_qty >= 0 AND rejected_qty >= 0 AND accepted_qty + rejected_qty <= qty", "decided_range"
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    source_type: str = Field(max_length=30)
    source_ref: str = Field(max_length=64, index=True)
    receipt_line_id: int | None = fk("receipt_notice_line.id", nullable=True)
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    unit_cost: Decimal = qty_field()
    location_id: int = fk("location.id")  # where the lot waits (a QC location)
    supplier_id: int | None = fk("supplier.id", nullable=True)
    status: str = Field(default="pending", max_length=20, index=True)
    sampled_qty: Decimal = qty_field()
    accepted_qty: Decimal = qty_field()
    rejected_qty: Decimal = qty_field()
    defect_reason: str = Field(default="", max_length=300)
    disposition: str = Field(default="", max_length=20)
    inspection_date: date | None = None
    inspected_by: str = Field(default="", max_length=64)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
