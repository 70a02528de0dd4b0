"""Dispatch lists (派工单): a confirmed schedule frozen as operations per work center, start and end."""

from __future__ import annotations

from datetime import datetime

from pydantic import NaiveDatetime
from sqlmodel import Field, SQLModel

from data_model.base import check, fk, utcnow

DISPATCH_STATUSES = ("active", "superseded")


class DispatchEntry(SQLModel, table=True):
    """One operation of a production order on a work center, as frozen by a confirmed schedule.

    Entries frozen together share ``dispatch_list`` (``DL-00001``…); freezing a new list supersedes the
    active one (entries are never deleted). Start and end are the plant's local clock time (naive).
    """

    __tablename__ = "dispatch_entry"
    __table_args__ = (
        check("status IN ('active', 'superseded')", "status"),
        check("end_at >= start_at", "ends_after_start"),
        check("machine >= 0 AND setup_minutes >= 0 AND duration_minutes >= 0", "nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    dispatch_list: str = Field(index=True, max_length=64)
    production_order_id: int = fk("production_order.id")
    seq: int  # routing operation
    item_id: int = fk("item.id")
    work_center_id: int = fk("work_center.id")
    machine: int = 0  # 0-based machine of the work center
    start_at: NaiveDatetime  # local plant time
    end_at: NaiveDatetime
    setup_minutes: int = 0
    duration_minutes: int = 0  # working minutes, setup included
    status: str = Field(default="active", max_length=20)
    proposal_id: str = Field(default="", max_length=64)
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
