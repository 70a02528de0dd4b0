"""Checks before a month is closed for vouchers (结账检查): every problem with the records it concerns."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from data_model.tables import (
    CompletionReceipt,
    Location,
    ProductionOrder,
    StockMove,
    Voucher,
    VoucherLine,
)
from planning import costing_collection as cc
from tools.catalog.costing_collection import find_period, month, negative_balances
from tools.finance.chart import event_title
from tools.finance.generation import PeriodPlan, plan_period
from tools.finance.ledger import ZERO, find_finance_period, fmt_money

FINISHED = ("completed", "closed", "cancelled")


@dataclass(frozen=True)
class CloseProblem:
    """One reason a month cannot (error) or perhaps should not (warning) be closed, and its records."""

    code: str
    severity: str  # error | warning
    message: str
    records: tuple[str, ...] = ()
    voucher: str | None = None
    production_order: str | None = None
    item: str | None = None
    location: str | None = None


@dataclass
class CloseCheck:
    period: str
    status: str  # the finance period: open | locked
    problems: list[CloseProblem] = field(default_factory=list)
    drafts: int = 0  # vouchers closing would post
    plan: PeriodPlan | None = None

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


def _unbalanced(session: Session, code: str) -> list[CloseProblem]:
    vouchers = session.exec(select(Voucher).where(Voucher.period == code).order_by(col(Voucher.number))).all()
    sums: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for line in session.exec(
        select(VoucherLine).where(col(VoucherLine.voucher_id).in_([v.id for v in vouchers]))
    ).all():
        sums[line.voucher_id][0] += Decimal(line.debit)
        sums[line.voucher_id][1] += Decimal(line.credit)
    problems = []
    for v in vouchers:
        debit, credit = sums[v.id or 0]
        if debit != credit or debit != Decimal(v.debit_total) or credit != Decimal(v.credit_total):
            problems.append(
                CloseProblem(
                    "unbalanced_voucher",
                    "error",
                    f"voucher {v.code} does not balance: its lines debit {fmt_money(debit)} and credit "
                    f"{fmt_money(credit)} (totals {fmt_money(v.debit_total)} / {fmt_money(v.credit_total)}): "
                    "reverse it (propose_voucher_reversal) and generate again",
                    (v.code,),
                    voucher=v.code,
                )
            )
    return problems


def _missing(plan: PeriodPlan) -> list[CloseProblem]:
    """Documents of the month without a voucher, and closing vouchers not made."""
    problems = []
    for draft in plan.vouchers:
        records = tuple(str(s.id) for s in draft.sources)
        if draft.kind == "document":
            problems.append(
                CloseProblem(
                    "document_without_voucher",
                    "error",
                    f"{draft.source_type} {draft.source_ref} ({event_title(draft.event)}, "
                    f"{draft.voucher_date.isoformat()}, {fmt_money(draft.debit_total)}) has no voucher: generate "
                    f"the month's vouchers (propose_voucher_generation); stock moves {', '.join(records)}",
                    records,
                )
            )
        elif draft.kind == "close":
            problems.append(
                CloseProblem(
                    "closing_without_voucher",
                    "error",
                    f"{draft.summary} ({fmt_money(draft.debit_total)}) has no voucher yet: generate the month's "
                    "vouchers",
                    (f"cost_run {draft.source_ref}",),
                )
            )
        else:
            problems.append(
                CloseProblem(
                    "stale_closing_voucher",
                    "error",
                    f"voucher {draft.reversal_of} was made from a cost closing that has been reopened: generate the "
                    "month's vouchers to reverse it",
                    (draft.reversal_of,),
                    voucher=draft.reversal_of,
                )
            )
    by_doc: dict[tuple[str, str], list[str]] = defaultdict(list)
    messages: dict[tuple[str, str], str] = {}
    for u in plan.unmapped:
        key = (u.source.doc_type, u.source.doc_ref)
        by_doc[key].append(f"{u.source.kind} {u.source.id}")
        messages.setdefault(key, u.message)
    for (doc_type, doc_ref), sources in by_doc.items():
        problems.append(
            CloseProblem(
                "document_without_voucher",
                "error",
                f"{doc_type} {doc_ref} cannot be vouchered: {messages[(doc_type, doc_ref)]}; add the rule "
                "(propose_voucher_account_rules) and generate again",
                tuple(sources),
            )
        )
    return problems


def _unreceived(session: Session, rng: cc.PeriodRange) -> list[CloseProblem]:
    """Orders that took material by the month end and received nothing: finished ones are errors (their
    material is stuck in WIP), open ones past due are warnings."""
    production = select(Location.id).where(Location.kind == "production")
    docs = col(StockMove.doc_type).in_(("production_order", "subcontract_order"))
    by_end = col(StockMove.move_date) <= rng.last_day
    net: dict[str, Decimal] = defaultdict(Decimal)
    for column, move_type, sign in (
        (StockMove.to_location_id, "issue", 1),
        (StockMove.from_location_id, "return", -1),
    ):
        for doc_ref, qty in session.exec(
            select(StockMove.doc_ref, sa.func.sum(StockMove.qty))
            .where(docs, by_end, StockMove.move_type == move_type, col(column).in_(production))
            .group_by(StockMove.doc_ref)
        ).all():
            net[doc_ref] += sign * Decimal(str(qty or 0))
    received = set(
        session.exec(
            select(StockMove.doc_ref)
            .where(docs, by_end, StockMove.move_type == "production_receipt")
            .distinct()
        ).all()
    )
    took = {code for code, qty in net.items() if qty > 0 and code not in received}
    if not took:
        return []
    orders = session.exec(select(ProductionOrder).where(col(ProductionOrder.code).in_(took))).all()
    flowed = set(
        session.exec(
            select(col(CompletionReceipt.production_order_id)).where(
                col(CompletionReceipt.production_order_id).in_([o.id for o in orders]),
                CompletionReceipt.receipt_date <= rng.last_day,
            )
        ).all()
    )
    problems = []
    for order in sorted(orders, key=lambda o: o.code):
        if order.id in flowed:
            continue
        if order.status in FINISHED:
            problems.append(
                CloseProblem(
                    "unreceived_order",
                    "error",
                    f"{order.code} is {order.status} but received nothing by {rng.last_day.isoformat()} while "
                    "material was issued to it: post its receipt, or return the material",
                    (order.code,),
                    production_order=order.code,
                )
            )
        elif order.due_date <= rng.last_day:
            problems.append(
                CloseProblem(
                    "overdue_unreceived_order",
                    "warning",
                    f"{order.code} was due {order.due_date.isoformat()} and has received nothing: its material "
                    "stays in WIP",
                    (order.code,),
                    production_order=order.code,
                )
            )
    return problems


def period_close_checks(session: Session, code: str) -> CloseCheck:
    """Everything that stops (errors) or questions (warnings) closing ``code`` for vouchers."""
    rng = month(code)
    row = find_finance_period(session, rng.code)
    check = CloseCheck(rng.code, row.status if row is not None else "open")
    plan = plan_period(session, rng.code)
    check.plan = plan
    check.problems += _unbalanced(session, rng.code)
    check.problems += _missing(plan)
    period = find_period(session, rng.code)
    has_wip = session.exec(
        select(VoucherLine.id)
        .join(Voucher, col(Voucher.id) == col(VoucherLine.voucher_id))
        .where(Voucher.period == rng.code, VoucherLine.role == "wip")
    ).first() is not None or any(ln.role == "wip" for d in plan.vouchers for ln in d.lines)
    if has_wip and (period is None or period.status != "closed"):
        check.problems.append(
            CloseProblem(
                "cost_period_open",
                "error",
                f"cost period {rng.code} is not closed: collect and close it (propose_period_close) so its "
                "closing vouchers (labor, overhead, completed cost) can be made",
                (rng.code,),
            )
        )
    for balance in negative_balances(session, rng.last_day):
        check.problems.append(
            CloseProblem(
                "negative_stock",
                "error",
                f"{balance.item} at {balance.location} is {balance.qty.normalize():f} at the end of {rng.code}: "
                "post the missing receipts or an adjustment first",
                (f"{balance.item}@{balance.location}",),
                item=balance.item,
                location=balance.location,
            )
        )
    check.problems += _unreceived(session, rng)
    check.problems.sort(key=lambda p: p.severity != "error")
    check.drafts = len(
        session.exec(select(Voucher.id).where(Voucher.period == rng.code, Voucher.status == "draft")).all()
    )
    return check
