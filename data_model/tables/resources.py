"""Work centers, the working calendar and routings."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field


class WorkCenter(SQLModel, table=True):
    __tablename__ = "work_center"
    __table_args__ = (
        check("machines > 0", "machines_positive"),
        check("hours_per_day > 0 AND hours_per_day <= 24", "hours_range"),
        check("cost_per_hour >= 0", "cost_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=200)
    machines: int = 1
    hours_per_day: Decimal = qty_field(8)
    cost_per_hour: Decimal = qty_field()
    overtime_hours_per_day: Decimal = qty_field()  # extra hours a planner may add as a lever


class CalendarDay(SQLModel, table=True):
    """A holiday (``working`` false) or an extra working day on the one factory calendar."""

    __tablename__ = "calendar_day"
    day: date = Field(primary_key=True)
    working: bool = False
    note: str = Field(default="", max_length=200)


class Routing(SQLModel, table=True):
    __tablename__ = "routing"
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = fk("item.id", unique=True)


class RoutingOperation(SQLModel, table=True):
    __tablename__ = "routing_operation"
    __table_args__ = (check("setup_minutes >= 0 AND run_minutes_per_unit >= 0", "times_nonneg"),)
    id: int | None = Field(default=None, primary_key=True)
    routing_id: int = fk("routing.id")
    seq: int
    work_center_id: int = fk("work_center.id")
    setup_minutes: Decimal = qty_field()
    run_minutes_per_unit: Decimal = qty_field()
    name: str = Field(default="", max_length=200)
