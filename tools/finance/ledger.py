"""Vouchers in the database: drafts, the balance check, numbering, writing, reversing, period locks, rules."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from data_model.base import utcnow
from data_model.tables import (
    FinancePeriod,
    LedgerAccount,
    Voucher,
    VoucherAccountRule,
    VoucherLine,
    VoucherSource,
)
from tools.errors import ToolError
from tools.finance.rules import AccountRule, RuleQuery, find_rule

CENT = Decimal("0.01")
ZERO = Decimal(0)
WORD = "记"  # 凭证字: one word for every voucher, as small businesses keep them
AUX_FIELDS = ("cost_center", "work_center", "item", "supplier", "customer", "production_order")


def cents(value: Decimal) -> Decimal:
    """An amount rounded half-up to whole cents (the ledger's unit)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def period_of(day: date) -> str:
    return day.strftime("%Y-%m")


def fmt_money(value: Decimal) -> str:
    text = format(cents(value), "f")
    return "0.00" if text == "-0.00" else text


# ---------------------------------------------------------------- drafts


@dataclass
class LineDraft:
    """One voucher line before it is written; the amount is on one side only."""

    account: str
    account_name: str
    role: str
    event: str
    debit: Decimal
    credit: Decimal
    summary: str
    cost_element: str = ""
    cost_center: str = ""
    work_center: str = ""
    item: str = ""
    supplier: str = ""
    customer: str = ""
    production_order: str = ""
    doc_type: str = ""
    doc_ref: str = ""
    move_ids: list[int] = field(default_factory=list)

    @property
    def side(self) -> str:
        return "debit" if self.debit != 0 else "credit"

    @property
    def merge_key(self) -> tuple[str, ...]:
        return (
            self.side,
            self.account,
            self.role,
            self.event,
            self.cost_element,
            *(getattr(self, name) for name in AUX_FIELDS),
            self.doc_type,
            self.doc_ref,
        )


@dataclass(frozen=True)
class SourceRef:
    """A record a voucher (or a memo) accounts for."""

    kind: str  # stock_move | material_issue_line | cost_run_labor | cost_run_overhead | cost_run_variance
    id: int
    event: str = ""
    doc_type: str = ""
    doc_ref: str = ""


@dataclass
class VoucherDraft:
    """A voucher about to be written: its lines (debits first), the sources it accounts for."""

    kind: str  # document | close | reversal
    event: str
    voucher_date: date
    summary: str
    source_type: str
    source_ref: str
    lines: list[LineDraft] = field(default_factory=list)
    sources: list[SourceRef] = field(default_factory=list)
    reversal_of: str = ""
    reason: str = ""
    sort_key: tuple[object, ...] = ()

    @property
    def period(self) -> str:
        return period_of(self.voucher_date)

    @property
    def debit_total(self) -> Decimal:
        return sum((ln.debit for ln in self.lines), ZERO)

    @property
    def credit_total(self) -> Decimal:
        return sum((ln.credit for ln in self.lines), ZERO)


def add_line(lines: list[LineDraft], line: LineDraft) -> None:
    """Add a line, merged into an equal one (same side, account and dimensions) of the same voucher."""
    if line.debit == 0 and line.credit == 0:
        return
    for existing in lines:
        if existing.merge_key == line.merge_key:
            existing.debit += line.debit
            existing.credit += line.credit
            existing.move_ids += [m for m in line.move_ids if m not in existing.move_ids]
            return
    lines.append(line)


def ordered_lines(lines: Sequence[LineDraft]) -> list[LineDraft]:
    """Debits before credits (先借后贷), each in the order they were added."""
    return [ln for ln in lines if ln.debit != 0] + [ln for ln in lines if ln.debit == 0]


def check_balanced(draft: VoucherDraft) -> None:
    """Refuse a voucher whose debits and credits differ, or that has no line (checked before saving)."""
    if not draft.lines:
        raise ToolError("conflict", f"voucher {draft.summary!r} has no lines", {"voucher": draft.summary})
    for line in draft.lines:
        if line.debit != 0 and line.credit != 0:
            raise ToolError(
                "conflict",
                f"voucher {draft.summary!r}: a line on {line.account} has both a debit and a credit",
                {"voucher": draft.summary, "account": line.account},
            )
    if draft.debit_total != draft.credit_total:
        raise ToolError(
            "conflict",
            f"voucher {draft.summary!r} does not balance: debits {fmt_money(draft.debit_total)}, "
            f"credits {fmt_money(draft.credit_total)}",
            {
                "voucher": draft.summary,
                "debit": fmt_money(draft.debit_total),
                "credit": fmt_money(draft.credit_total),
            },
        )


def digest(drafts: Iterable[VoucherDraft], extra: Iterable[object] = ()) -> str:
    """A fingerprint of what a generation would write (a confirmation checks it is still the same)."""
    payload = [
        {
            "kind": d.kind,
            "event": d.event,
            "date": d.voucher_date.isoformat(),
            "summary": d.summary,
            "reversal_of": d.reversal_of,
            "sources": [[s.kind, s.id] for s in d.sources],
            "lines": [
                [ln.account, str(ln.debit), str(ln.credit), *(getattr(ln, n) for n in AUX_FIELDS), ln.doc_ref]
                for ln in d.lines
            ],
        }
        for d in drafts
    ]
    text = json.dumps([payload, [str(x) for x in extra]], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# ---------------------------------------------------------------- rules and accounts


@dataclass(frozen=True)
class RuleSet:
    """The active chart of accounts and voucher account rules."""

    rules: tuple[AccountRule, ...]
    accounts: dict[str, LedgerAccount]

    def resolve(self, query: RuleQuery) -> AccountRule | None:
        return find_rule(self.rules, query)

    def name(self, account: str) -> str:
        row = self.accounts.get(account)
        return row.name if row is not None else ""

    def aux(self, account: str) -> tuple[str, ...] | None:
        """The auxiliary dimensions the account tracks (None: an account missing from the chart)."""
        row = self.accounts.get(account)
        if row is None:
            return None
        return tuple(a.strip() for a in row.aux.split(",") if a.strip())


def rule_of(row: VoucherAccountRule) -> AccountRule:
    return AccountRule(
        role=row.role,
        account=row.account,
        event=row.event,
        item_category=row.item_category,
        location_kind=row.location_kind,
        cost_element=row.cost_element,
        doc_type=row.doc_type,
        pool=row.pool,
    )


def load_rule_set(session: Session) -> RuleSet:
    rows = session.exec(select(VoucherAccountRule).where(col(VoucherAccountRule.active))).all()
    accounts = {a.code: a for a in session.exec(select(LedgerAccount)).all()}
    return RuleSet(tuple(rule_of(r) for r in rows), accounts)


# ---------------------------------------------------------------- periods


def find_finance_period(session: Session, code: str) -> FinancePeriod | None:
    return session.exec(
        select(FinancePeriod).where(FinancePeriod.code == code).execution_options(populate_existing=True)
    ).first()


def is_locked(session: Session, code: str) -> bool:
    """Whether the month ``code`` (YYYY-MM) is closed for vouchers (结账)."""
    row = find_finance_period(session, code)
    return row is not None and row.status == "locked"


def require_unlocked(session: Session, code: str, action: str) -> None:
    """``conflict`` when the month is locked: a manager must reopen it first."""
    if is_locked(session, code):
        raise ToolError(
            "conflict",
            f"finance period {code} is closed (结账): cannot {action}; a manager can reopen it "
            "(propose_finance_period_reopen)",
            {"record": code, "field": "status", "status": "locked"},
        )


def finance_period_locked(session: Session, day: date) -> bool:
    """Whether documents dated ``day`` fall in a month closed for vouchers (for document tools to refuse)."""
    return is_locked(session, period_of(day))


# ---------------------------------------------------------------- reading and writing vouchers


def find_voucher(session: Session, code: str) -> Voucher:
    row = session.exec(
        select(Voucher).where(Voucher.code == code).execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ToolError("not_found", f"voucher {code!r} not found", {"kind": "voucher", "key": code})
    return row


def voucher_lines(session: Session, voucher_ids: Sequence[int]) -> dict[int, list[VoucherLine]]:
    out: dict[int, list[VoucherLine]] = {i: [] for i in voucher_ids}
    if voucher_ids:
        for line in session.exec(
            select(VoucherLine)
            .where(col(VoucherLine.voucher_id).in_(list(voucher_ids)))
            .order_by(col(VoucherLine.voucher_id), col(VoucherLine.line_no))
        ).all():
            out[line.voucher_id].append(line)
    return out


def done_sources(session: Session, kind: str, ids: Iterable[int]) -> set[int]:
    """Of ``ids``, the sources of ``kind`` already dealt with: a memo, no entry, or a voucher not reversed."""
    wanted = sorted(set(ids))
    if not wanted:
        return set()
    done: set[int] = set()
    for chunk in (wanted[i : i + 900] for i in range(0, len(wanted), 900)):
        rows = session.exec(
            select(VoucherSource.source_id, VoucherSource.voucher_id, Voucher.status)
            .join(Voucher, col(Voucher.id) == col(VoucherSource.voucher_id), isouter=True)
            .where(VoucherSource.source_kind == kind, col(VoucherSource.source_id).in_(chunk))
        ).all()
        for source_id, voucher_id, status in rows:
            if voucher_id is None or status != "reversed":
                done.add(source_id)
    return done


def next_voucher_number(session: Session, period: str, word: str = WORD) -> int:
    """The next number of ``word`` in ``period``; the finance domain's version bump serializes writers."""
    highest = session.exec(
        select(sa.func.max(Voucher.number)).where(Voucher.period == period, Voucher.word == word)
    ).one()
    return int(highest or 0) + 1


def voucher_code(period: str, number: int, word: str = WORD) -> str:
    return f"{word}-{period}-{number:04d}"


def write_voucher(session: Session, draft: VoucherDraft, actor: str, proposal_id: str) -> Voucher:
    """Check the draft balances, number it and write it with its lines and sources; a reversal marks the
    voucher it reverses ``reversed``."""
    check_balanced(draft)
    require_unlocked(session, draft.period, "write vouchers into it")
    number = next_voucher_number(session, draft.period)
    reversed_row = None
    if draft.reversal_of:
        reversed_row = find_voucher(session, draft.reversal_of)
        if reversed_row.status == "reversed":
            raise ToolError(
                "conflict",
                f"voucher {reversed_row.code} is already reversed",
                {"record": reversed_row.code, "status": reversed_row.status},
            )
    voucher = Voucher(
        code=voucher_code(draft.period, number),
        word=WORD,
        number=number,
        period=draft.period,
        voucher_date=draft.voucher_date,
        kind=draft.kind,
        status="draft",
        event=draft.event,
        summary=draft.summary[:300],
        source_type=draft.source_type,
        source_ref=draft.source_ref[:64],
        reversal_of_id=reversed_row.id if reversed_row is not None else None,
        reason=draft.reason[:300],
        debit_total=draft.debit_total,
        credit_total=draft.credit_total,
        created_by=actor,
        proposal_id=proposal_id,
    )
    session.add(voucher)
    session.flush()
    for number_in_voucher, line in enumerate(draft.lines, start=1):
        session.add(
            VoucherLine(
                voucher_id=voucher.id or 0,
                line_no=number_in_voucher,
                account=line.account,
                account_name=line.account_name,
                role=line.role,
                event=line.event,
                cost_element=line.cost_element,
                debit=line.debit,
                credit=line.credit,
                summary=line.summary[:300],
                cost_center=line.cost_center,
                work_center=line.work_center,
                item=line.item,
                supplier=line.supplier,
                customer=line.customer,
                production_order=line.production_order,
                doc_type=line.doc_type,
                doc_ref=line.doc_ref[:64],
                stock_move_ids=",".join(str(m) for m in line.move_ids)[:2000],
            )
        )
    for source in draft.sources:
        session.add(
            VoucherSource(
                voucher_id=voucher.id,
                period=draft.period,
                source_kind=source.kind,
                source_id=source.id,
                treatment="voucher",
                event=source.event,
                doc_type=source.doc_type,
                doc_ref=source.doc_ref[:64],
                proposal_id=proposal_id,
            )
        )
    if reversed_row is not None:
        reversed_row.status = "reversed"
        session.add(reversed_row)
    session.flush()
    return voucher


def reversal_draft(voucher: Voucher, lines: Sequence[VoucherLine], on: date, reason: str) -> VoucherDraft:
    """The red-ink reversal (红字冲销) of a voucher: the same lines with negative amounts, dated ``on``."""
    text = f"冲销 {voucher.code}" + (f":{reason}" if reason else "")
    draft = VoucherDraft(
        kind="reversal",
        event=voucher.event,
        voucher_date=on,
        summary=text,
        source_type="voucher",
        source_ref=voucher.code,
        reversal_of=voucher.code,
        reason=reason,
        sort_key=(on, 1, voucher.number),
    )
    for line in lines:
        draft.lines.append(
            LineDraft(
                account=line.account,
                account_name=line.account_name,
                role=line.role,
                event=line.event,
                cost_element=line.cost_element,
                debit=-Decimal(line.debit),
                credit=-Decimal(line.credit),
                summary=f"冲销 {line.summary}"[:300],
                cost_center=line.cost_center,
                work_center=line.work_center,
                item=line.item,
                supplier=line.supplier,
                customer=line.customer,
                production_order=line.production_order,
                doc_type=line.doc_type,
                doc_ref=line.doc_ref,
                move_ids=[int(m) for m in line.stock_move_ids.split(",") if m],
            )
        )
    return draft


def record_treatment(
    session: Session,
    source: SourceRef,
    period: str,
    treatment: str,
    note: str,
    proposal_id: str,
) -> None:
    """Record a source kept off the books (memo) or needing no entry, so it is not reported as missing."""
    session.add(
        VoucherSource(
            voucher_id=None,
            period=period,
            source_kind=source.kind,
            source_id=source.id,
            treatment=treatment,
            event=source.event,
            doc_type=source.doc_type,
            doc_ref=source.doc_ref[:64],
            note=note[:300],
            proposal_id=proposal_id,
            created_at=utcnow(),
        )
    )
