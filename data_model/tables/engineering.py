"""Engineering change orders (ECN, 工程变更): the BOM line changes they list, their approval and application."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, opt_qty_field, utcnow

ECN_STATUSES = ("draft", "approved", "applied", "cancelled")
# How the ECN came about: a document taken through draft → approved → applied, a direct BOM edit, or a
# batch change; the last two are applied when their proposal is confirmed and kept for traceability.
ECN_SOURCES = ("ecn", "bom_change", "batch")
# update = another attribute of the line (issue method, substitutes, mixing) in a BOM edit
CHANGE_TYPES = ("replace", "qty", "scrap", "add", "remove", "update")


class Ecn(SQLModel, table=True):
    """One engineering change (ECN-00001): why, from when, who drafted, approved and applied it."""

    __tablename__ = "ecn"
    __table_args__ = (
        check("status IN ('draft', 'approved', 'applied', 'cancelled')", "status"),
        check("source IN ('ecn', 'bom_change', 'batch')", "source"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    title: str = Field(default="", max_length=200)
    reason: str = Field(default="", max_length=2000)
    effective_date: date
    status: str = Field(default="draft", index=True, max_length=20)
    source: str = Field(default="ecn", max_length=20)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    approved_by: str = Field(default="", max_length=64)
    approved_at: datetime | None = None
    applied_by: str = Field(default="", max_length=64)
    applied_at: datetime | None = None
    proposal_id: str = Field(default="", max_length=64)  # the proposal that created it


class EcnChange(SQLModel, table=True):
    """One change of an ECN to the BOM of ``parent_item``; the BOM versions it went from and to once applied."""

    __tablename__ = "ecn_change"
    __table_args__ = (
        check("change_type IN ('replace', 'qty', 'scrap', 'add', 'remove', 'update')", "change_type"),
        check("new_qty IS NULL OR new_qty > 0", "new_qty_positive"),
        check("new_scrap_rate IS NULL OR (new_scrap_rate >= 0 AND new_scrap_rate < 1)", "new_scrap_range"),
    )
    id: int | None = Field(default=None, primary_key=True)
    ecn_id: int = fk("ecn.id")
    seq: int = 10
    parent_item_id: int = fk("item.id")
    change_type: str = Field(max_length=20)
    component_id: int = fk("item.id")
    new_component_id: int | None = fk("item.id", nullable=True)
    old_qty: Decimal | None = opt_qty_field()
    new_qty: Decimal | None = opt_qty_field()
    old_scrap_rate: Decimal | None = opt_qty_field()
    new_scrap_rate: Decimal | None = opt_qty_field()
    issue_method: str = Field(default="", max_length=20)  # of an added line
    note: str = Field(default="", max_length=500)
    from_bom_id: int | None = fk("bom.id", nullable=True)
    to_bom_id: int | None = fk("bom.id", nullable=True)
