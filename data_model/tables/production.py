"""Production execution documents: material issues and returns, completion receipts, rework origins."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

# issue: picked by line (分批领料); kit: N complete sets (配套领料); merged: several orders at once (合并领料);
# supplement: replaces scrapped material (补料); return: back from the order (退料); backflush: consumed on
# completion (倒冲); flow: a sub-order's output consumed by its parent without a stock-in (半成品流转)
ISSUE_MODES = ("issue", "kit", "merged", "supplement", "return", "backflush", "flow")
REWORK_SOURCES = ("inspection", "customer_return", "other")


class MaterialIssue(SQLModel, table=True):
    """One material issue (MI-…) or return (MR-…) document; its quantities are its lines' stock moves."""

    __tablename__ = "material_issue"
    __table_args__ = (
        check(
            "mode IN ('issue', 'kit', 'merged', 'supplement', 'return', 'backflush', 'flow')",
            "mode",
        ),
        check("status IN ('posted')", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    mode: str = Field(max_length=20)
    status: str = Field(default="posted", max_length=20)
    issue_date: date
    location_id: int | None = fk("location.id", nullable=True)  # issued from / returned to
    reason: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=64)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class MaterialIssueLine(SQLModel, table=True):
    """One component issued to (or returned from) one production order, and the move that posted it."""

    __tablename__ = "material_issue_line"
    __table_args__ = (check("qty > 0", "qty_positive"), check("unit_cost >= 0", "unit_cost_nonneg"))
    id: int | None = Field(default=None, primary_key=True)
    material_issue_id: int = fk("material_issue.id")
    production_order_id: int = fk("production_order.id")
    component_id: int = fk("production_order_component.id")
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    unit_cost: Decimal = qty_field()
    stock_move_id: int | None = fk("stock_move.id", nullable=True)  # none for a semi-finished flow
    substitute_for_id: int | None = fk("item.id", nullable=True)
    via_phantom_id: int | None = fk("item.id", nullable=True)  # skip-level issue of a phantom kit (跳层)
    over_issue: bool = False


class CompletionReceipt(SQLModel, table=True):
    """Finished output reported on a production order (CR-…): into stock, inspection or a parent order."""

    __tablename__ = "completion_receipt"
    __table_args__ = (check("qty > 0", "qty_positive"), check("unit_cost >= 0", "unit_cost_nonneg"))
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    production_order_id: int = fk("production_order.id")
    qty: Decimal = qty_field()
    receipt_date: date
    unit_cost: Decimal = qty_field()
    to_location_id: int = fk("location.id")
    into_order_id: int | None = fk("production_order.id", nullable=True)  # semi-finished flow
    stock_move_id: int | None = fk("stock_move.id", nullable=True)
    backflush_issue_id: int | None = fk("material_issue.id", nullable=True)
    actor: str = Field(default="", max_length=64)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class ReworkOrigin(SQLModel, table=True):
    """Why a rework order exists: a failed inspection or a returned product, and the reason given."""

    __tablename__ = "rework_origin"
    __table_args__ = (check("source IN ('inspection', 'customer_return', 'other')", "source"),)
    id: int | None = Field(default=None, primary_key=True)
    production_order_id: int = fk("production_order.id")
    original_order_id: int | None = fk("production_order.id", nullable=True)
    source: str = Field(default="other", max_length=20)
    source_ref: str = Field(default="", max_length=200)
    reason: str = Field(max_length=300)
