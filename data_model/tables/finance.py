"""The business–finance link (业财一体化): chart of accounts, voucher account rules, vouchers, period locks."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from data_model.base import check, fk, qty_field, utcnow

# What a rule gives an account for: the inventory side of a move, goods received not invoiced (GR/IR),
# work in process, wages payable, the overhead pools, cost of sales, inventory losses.
ACCOUNT_ROLES = ("inventory", "gr_ir", "wip", "labor_payable", "overhead", "cost_of_sales", "inventory_loss")
AUX_DIMENSIONS = ("cost_center", "work_center", "item", "supplier", "customer", "production_order")
VOUCHER_KINDS = ("document", "close", "reversal")
VOUCHER_STATUSES = ("draft", "posted", "reversed")
SOURCE_TREATMENTS = ("voucher", "memo", "no_entry")
FINANCE_PERIOD_STATUSES = ("open", "locked")


class LedgerAccount(SQLModel, table=True):
    """One account of the general ledger (会计科目) as the accounting package has it.

    ``aux`` lists the auxiliary dimensions (辅助核算) the package tracks on it, comma-separated from
    AUX_DIMENSIONS; exports give only those. An account is switched off (``active`` false), never deleted.
    """

    __tablename__ = "ledger_account"
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(max_length=200)
    aux: str = Field(default="", max_length=200)
    active: bool = True
    note: str = Field(default="", max_length=300)
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class VoucherAccountRule(SQLModel, table=True):
    """Which account a voucher line of ``role`` goes to, for lines matching the non-empty keys.

    Keys: the event (business transaction, e.g. purchase_receipt), the item's category (its source when it
    has none), the location kind, the cost element, the document type and the overhead pool; empty matches
    anything. The most specific matching rule wins. Switched off (``active`` false), never deleted.
    """

    __tablename__ = "voucher_account_rule"
    __table_args__ = (
        check(
            "role IN ('inventory', 'gr_ir', 'wip', 'labor_payable', 'overhead', 'cost_of_sales', "
            "'inventory_loss')",
            "role",
        ),
        sa.UniqueConstraint(
            "role",
            "event",
            "item_category",
            "location_kind",
            "cost_element",
            "doc_type",
            "pool",
            name="uq_voucher_account_rule_key",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=30)
    event: str = Field(default="", max_length=40)
    item_category: str = Field(default="", max_length=60)
    location_kind: str = Field(default="", max_length=20)
    cost_element: str = Field(default="", max_length=20)
    doc_type: str = Field(default="", max_length=40)
    pool: str = Field(default="", max_length=100)
    account: str = Field(max_length=64)
    active: bool = True
    note: str = Field(default="", max_length=300)
    updated_by: str = Field(default="", max_length=64)
    updated_at: datetime = Field(default_factory=utcnow)


class FinancePeriod(SQLModel, table=True):
    """A month's lock for vouchers (结账): ``locked`` takes no new vouchers, reversals or generation."""

    __tablename__ = "finance_period"
    __table_args__ = (check("status IN ('open', 'locked')", "status"),)
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=20)  # e.g. 2026-11
    status: str = Field(default="open", max_length=20)
    locked_by: str = Field(default="", max_length=64)
    locked_at: datetime | None = None
    proposal_id: str = Field(default="", max_length=64)
    reopened_by: str = Field(default="", max_length=64)
    reopened_at: datetime | None = None
    reopen_reason: str = Field(default="", max_length=300)


class Voucher(SQLModel, table=True):
    """One accounting voucher (记账凭证), e.g. 记-2026-11-0001, balanced by construction and by constraint.

    Never edited: a correction is a reversal voucher (red-ink, the same lines with negative amounts) whose
    ``reversal_of_id`` names it, and the original becomes ``reversed``. ``posted`` once its period is closed.
    """

    __tablename__ = "voucher"
    __table_args__ = (
        check("kind IN ('document', 'close', 'reversal')", "kind"),
        check("status IN ('draft', 'posted', 'reversed')", "status"),
        check("debit_total = credit_total", "balanced"),
        sa.UniqueConstraint("period", "word", "number", name="uq_voucher_number"),
    )
    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(index=True, unique=True, max_length=40)
    word: str = Field(default="记", max_length=4)  # 凭证字
    number: int  # 凭证号 within the period and word
    period: str = Field(index=True, max_length=7)
    voucher_date: date = Field(index=True)
    kind: str = Field(default="document", max_length=20)
    status: str = Field(default="draft", max_length=20, index=True)
    event: str = Field(default="", max_length=40)
    summary: str = Field(default="", max_length=300)
    source_type: str = Field(default="", max_length=40)
    source_ref: str = Field(default="", max_length=64, index=True)
    reversal_of_id: int | None = fk("voucher.id", nullable=True)
    reason: str = Field(default="", max_length=300)
    debit_total: Decimal = qty_field()  # whole cents
    credit_total: Decimal = qty_field()  # whole cents
    created_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    proposal_id: str = Field(default="", max_length=64)
    posted_by: str = Field(default="", max_length=64)
    posted_at: datetime | None = None


class VoucherLine(SQLModel, table=True):
    """One line (分录) of a voucher: an account, a debit or a credit, the summary and the auxiliary dimensions,
    traceable to its source document and stock moves."""

    __tablename__ = "voucher_line"
    __table_args__ = (check("debit = 0 OR credit = 0", "one_side"),)
    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int = fk("voucher.id")
    line_no: int = 1
    account: str = Field(max_length=64, index=True)
    account_name: str = Field(default="", max_length=200)
    role: str = Field(default="", max_length=30)
    event: str = Field(default="", max_length=40)
    cost_element: str = Field(default="", max_length=20)
    debit: Decimal = qty_field()  # whole cents
    credit: Decimal = qty_field()  # whole cents
    summary: str = Field(default="", max_length=300)
    cost_center: str = Field(default="", max_length=64)
    work_center: str = Field(default="", max_length=64)
    item: str = Field(default="", max_length=64)
    supplier: str = Field(default="", max_length=64)
    customer: str = Field(default="", max_length=64)
    production_order: str = Field(default="", max_length=64, index=True)
    doc_type: str = Field(default="", max_length=40)
    doc_ref: str = Field(default="", max_length=64, index=True)
    stock_move_ids: str = Field(default="", max_length=2000)  # comma-separated


class VoucherSource(SQLModel, table=True):
    """A source record a voucher generation has dealt with: vouchered, kept off the books as a memo
    (customer-supplied material), or needing no entry (same account on both sides, opening balances).

    A source is done while its row has no voucher or its voucher is not reversed; reversing a voucher makes
    its sources due again.
    """

    __tablename__ = "voucher_source"
    __table_args__ = (
        check("treatment IN ('voucher', 'memo', 'no_entry')", "treatment"),
        sa.Index("ix_voucher_source_key", "source_kind", "source_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    voucher_id: int | None = fk("voucher.id", nullable=True)
    period: str = Field(index=True, max_length=7)
    source_kind: str = Field(max_length=30)  # stock_move | material_issue_line | cost_run_labor | …
    source_id: int
    treatment: str = Field(default="voucher", max_length=20)
    event: str = Field(default="", max_length=40)
    doc_type: str = Field(default="", max_length=40)
    doc_ref: str = Field(default="", max_length=64)
    note: str = Field(default="", max_length=300)
    proposal_id: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
