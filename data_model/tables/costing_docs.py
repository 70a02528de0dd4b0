"""Costing documents: labor reports, account mappings, where each cost figure came from, closings and results."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

ALLOCATION_BASES = ("labor_hours", "output_qty", "material_cost")
FIGURE_SOURCES = ("collected", "manual", "default")
COST_RESULT_ELEMENTS = ("material", "labor", "overhead", "other_conversion", "subcontract", "rework")


class LaborReport(SQLModel, table=True):
    """Hours worked on a production order (LR-…), at a work center or by an employee group.

    ``labor_cost`` is ``hours × rate`` (the rate given, else the work center's cost_per_hour when reported),
    or the cost entered as such (``cost_entered``; ``rate`` is then 0).
    """

    __tablename__ = "labor_report"
    __table_args__ = (
        check("hours >= 0 AND rate >= 0 AND labor_cost >= 0", "values_nonneg"),
        check("hours > 0 OR labor_cost > 0", "not_empty"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    production_order_id: int = fk("production_order.id")
    report_date: date = Field(index=True)
    work_center_id: int | None = fk("work_center.id", nullable=True)
    employee_group: str = Field(default="", max_length=100)
    hours: Decimal = qty_field()
    rate: Decimal = qty_field()
    labor_cost: Decimal = qty_field()
    cost_entered: bool = False
    note: str = Field(default="", max_length=300)
    actor: str = Field(default="", max_length=64)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)


class AccountMapping(SQLModel, table=True):
    """Which general-ledger account (exact, or every account under a prefix) feeds which overhead pool.

    ``cost_center`` empty matches every cost center; a mapping is switched off (``active`` false), never deleted.
    """

    __tablename__ = "account_mapping"
    __table_args__ = (
        check("match_type IN ('exact', 'prefix')", "match_type"),
        check("basis IN ('labor_hours', 'output_qty', 'material_cost')", "basis"),
        sa.UniqueConstraint("account", "match_type", "cost_center", name="uq_account_mapping_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    account: str = Field(max_length=64)
    match_type: str = Field(default="exact", max_length=10)
    cost_center: str = Field(default="", max_length=64)
    pool: str = Field(max_length=100)
    basis: str = Field(default="labor_hours", max_length=20)
    active: bool = True
    note: str = Field(default="", max_length=300)
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class CostFigureSource(SQLModel, table=True):
    """Where one figure of an order's cost inputs in a period came from.

    ``collected`` from the documents (issues, labor reports, receipts), ``default`` from a setting, ``manual``
    entered by a person; a figure with no row was loaded with a dataset and counts as manual.
    """

    __tablename__ = "cost_figure_source"
    __table_args__ = (
        check("source IN ('collected', 'manual', 'default')", "source"),
        sa.UniqueConstraint("period_id", "production_order_id", "figure", name="uq_cost_figure_source_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = fk("cost_period.id")
    production_order_id: int = fk("production_order.id")
    figure: str = Field(max_length=40)  # an OrderCostInput column, e.g. material_cost
    source: str = Field(max_length=20)
    detail: str = Field(default="", max_length=300)
    proposal_id: str = Field(default="", max_length=64)
    actor: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class CostRun(SQLModel, table=True):
    """One closing of a cost period: who closed it and the full costing report as it was then.

    A reopening supersedes it (its results stay, for the record); closing again makes a new run.
    """

    __tablename__ = "cost_run"
    __table_args__ = (check("status IN ('current', 'superseded')", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = fk("cost_period.id")
    status: str = Field(default="current", max_length=20)
    closed_by: str = Field(default="", max_length=64)
    closed_at: datetime = Field(default_factory=utcnow)
    proposal_id: str = Field(default="", max_length=64)
    reopened_by: str = Field(default="", max_length=64)
    reopened_at: datetime | None = None
    reopen_reason: str = Field(default="", max_length=300)
    report: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))


class CostResult(SQLModel, table=True):
    """One cost element of one order in a closed period: what its completed output and its ending WIP hold."""

    __tablename__ = "cost_result"
    __table_args__ = (
        check(
            "element IN ('material', 'labor', 'overhead', 'other_conversion', 'subcontract', 'rework')",
            "element",
        ),
        sa.UniqueConstraint("run_id", "production_order_id", "element", name="uq_cost_result_key"),
    )
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = fk("cost_run.id")
    period_id: int = fk("cost_period.id")
    production_order_id: int = fk("production_order.id")
    item_id: int = fk("item.id")
    kind: str = Field(default="production", max_length=20)
    level: int = 0
    element: str = Field(max_length=20)
    completed: Decimal = qty_field()  # in the completed output
    wip: Decimal = qty_field()  # in the ending work in process
    transferred_in: Decimal = qty_field()  # material only: the part that came from other orders' output
    completed_qty: Decimal = qty_field()
    wip_qty: Decimal = qty_field()
