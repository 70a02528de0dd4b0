"""Shared column types, naming conventions and helpers of every table."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

QTY = sa.Numeric(20, 6)
MONEY = sa.Numeric(20, 6)


def utcnow() -> datetime:
    return datetime.now(UTC)


def qty_field(default: Decimal | int = 0, **kw: Any) -> Any:
    """An exact decimal column (20 digits, 6 places)."""
    return Field(default=Decimal(default), sa_type=QTY, **kw)


def opt_qty_field(**kw: Any) -> Any:
    """A nullable exact decimal column."""
    return Field(default=None, sa_type=QTY, nullable=True, **kw)


def fk(target: str, *, nullable: bool = False, index: bool = True, **kw: Any) -> Any:
    return Field(
        default=None if nullable else ...,
        foreign_key=target,
        index=index,
        nullable=nullable,
        **kw,
    )


def check(sql: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=name)
