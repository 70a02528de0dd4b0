"""Bills of materials with versions and effective dates, their lines and substitutes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field

ISSUE_METHODS = ("manual", "backflush", "kit")


class Bom(SQLModel, table=True):
    __tablename__ = "bom"
    __table_args__ = (
        check("output_qty > 0", "output_qty_positive"),
        check("status IN ('draft', 'active', 'obsolete')", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("item.id")
    version: str = Field(default="1", max_length=20)
    output_qty: Decimal = qty_field(1)
    effective_from: date | None = None
    effective_to: date | None = None  # exclusive
    status: str = Field(default="active", max_length=20)


class BomLine(SQLModel, table=True):
    __tablename__ = "bom_line"
    __table_args__ = (
        check("qty > 0", "qty_positive"),
        check("scrap_rate >= 0 AND scrap_rate < 1", "scrap_rate_range"),
        check("issue_method IN ('manual', 'backflush', 'kit')", "issue_method"),
    )
    id: int | None = Field(default=None, primary_key=True)
    bom_id: int = fk("bom.id")
    seq: int = 10
    component_id: int = fk("item.id")
    qty: Decimal = qty_field()
    scrap_rate: Decimal = qty_field()
    issue_method: str = Field(default="manual", max_length=20)
    allow_mix: bool = True
    ecn_ref: str = Field(default="", max_length=64)  # the ECN that last changed this line


class BomSubstitute(SQLModel, table=True):
    __tablename__ = "bom_substitute"
    __table_args__ = (check("ratio > 0", "ratio_positive"),)
    id: int | None = Field(default=None, primary_key=True)
    bom_line_id: int = fk("bom_line.id")
    item_id: int = fk("item.id")
    priority: int = 1
    ratio: Decimal = qty_field(1)
