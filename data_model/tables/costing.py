"""Cost inputs of a period: overhead pools, per-order collected costs, joint and by-products."""

from __future__ import annotations

from decimal import Decimal

from sqlmodel import Field, SQLModel

from data_model.base import check, fk, opt_qty_field, qty_field


class CostPeriod(SQLModel, table=True):
    __tablename__ = "cost_period"
    __table_args__ = (check("status IN ('open', 'closed')", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=20)  # e.g. 2026-11
    status: str = Field(default="open", max_length=20)


class OverheadPool(SQLModel, table=True):
    __tablename__ = "overhead_pool"
    __table_args__ = (
        check("basis IN ('labor_hours', 'output_qty', 'material_cost')", "basis"),
        check("amount >= 0", "amount_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = fk("cost_period.id")
    name: str = Field(max_length=100)
    amount: Decimal = qty_field()
    basis: str = Field(default="labor_hours", max_length=20)


class OrderCostInput(SQLModel, table=True):
    __tablename__ = "order_cost_input"
    __table_args__ = (
        check("completed_qty >= 0 AND wip_qty >= 0", "qty_nonneg"),
        check("wip_completion_material >= 0 AND wip_completion_material <= 1", "wip_material_range"),
        check("wip_completion_conversion >= 0 AND wip_completion_conversion <= 1", "wip_conversion_range"),
        check("material_cost >= 0 AND labor_cost >= 0 AND labor_hours >= 0", "costs_nonneg"),
    )
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = fk("cost_period.id")
    production_order_id: int = fk("production_order.id")
    completed_qty: Decimal = qty_field()
    wip_qty: Decimal = qty_field()
    wip_completion_material: Decimal = qty_field(1)
    wip_completion_conversion: Decimal = qty_field()
    opening_wip_material: Decimal = qty_field()
    opening_wip_conversion: Decimal = qty_field()
    material_cost: Decimal = qty_field()
    labor_cost: Decimal = qty_field()
    labor_hours: Decimal = qty_field()
    subcontract_cost: Decimal = qty_field()


class JointProductOutput(SQLModel, table=True):
    __tablename__ = "joint_product_output"
    __table_args__ = (check("qty > 0", "qty_positive"),)
    id: int | None = Field(default=None, primary_key=True)
    period_id: int = fk("cost_period.id")
    production_order_id: int = fk("production_order.id")
    item_id: int = fk("item.id")
    qty: Decimal = qty_field()
    coefficient: Decimal | None = opt_qty_field()
    sales_value: Decimal | None = opt_qty_field()
    by_product: bool = False
    unit_value: Decimal | None = opt_qty_field()  # by-products: fixed value per unit, deducted first
