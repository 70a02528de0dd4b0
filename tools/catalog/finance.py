"""Finance link tools (业财一体化): voucher account rules, vouchers generated from documents, reversals, the
month's close for vouchers, and reading vouchers for people and integrations.

OrderPilot is not an accounting system; it hands the accounting package balanced vouchers (记账凭证) made from
its documents — purchase and subcontract receipts, material issues and returns, production receipts, the
cost closing — each traceable to its documents and stock moves, generated once per document, corrected
only by red-ink reversals. See docs/vouchers.md for the rules, the voucher templates and the export layouts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, ValidationInfo, field_validator
from sqlmodel import Session, col, select

from data_model.base import utcnow
from data_model.tables import (
    Customer,
    FinancePeriod,
    Item,
    LedgerAccount,
    Location,
    Proposal,
    StockMove,
    Voucher,
    VoucherAccountRule,
    VoucherLine,
    VoucherSource,
)
from data_model.tables.costing_docs import COST_RESULT_ELEMENTS
from data_model.tables.finance import ACCOUNT_ROLES, AUX_DIMENSIONS
from data_model.tables.inventory import LOCATION_KINDS
from tools.catalog.costing_collection import close_refusal, find_period, month
from tools.context import Actor, ToolContext
from tools.errors import ToolError
from tools.finance.chart import DEFAULT_ACCOUNTS, DEFAULT_RULES, EVENTS, event_group
from tools.finance.checks import CloseCheck, period_close_checks
from tools.finance.generation import PeriodPlan, plan_period
from tools.finance.ledger import (
    LineDraft,
    VoucherDraft,
    digest,
    find_finance_period,
    find_voucher,
    fmt_money,
    next_voucher_number,
    period_of,
    record_treatment,
    require_unlocked,
    reversal_draft,
    voucher_code,
    voucher_lines,
    write_voucher,
)
from tools.finance.rules import RULE_KEYS, AccountRule, check_rules
from tools.finance.sheets import read_rule_file
from tools.proposals import ProposalOut, applier, audit, create_proposal
from tools.registry import tool
from tools.types import Num

RULES_KIND = "voucher_account_rules"
GENERATION_KIND = "voucher_generation"
REVERSAL_KIND = "voucher_reversal"
CLOSE_KIND = "finance_period_close"
REOPEN_KIND = "finance_period_reopen"
FINANCE_ROLES = ("planner",)  # the cost accountant; managers and admins always may
READ_DOMAINS = ("stock", "production", "purchasing", "costing", "master")
Role = Literal["inventory", "gr_ir", "wip", "labor_payable", "overhead", "cost_of_sales", "inventory_loss"]
COST_ELEMENTS = COST_RESULT_ELEMENTS
MAX_PREVIEW = 200


# ---------------------------------------------------------------- shared output models


class VoucherLineOut(BaseModel):
    line_no: int
    account: str
    account_name: str
    debit: Num
    credit: Num
    summary: str = Field(description="摘要, in Chinese")
    event: str
    cost_element: str
    cost_center: str
    work_center: str
    item: str
    supplier: str
    customer: str
    production_order: str
    doc_type: str
    doc_ref: str
    stock_move_ids: list[int] = Field(description="the stock moves the line accounts for")


class VoucherOut(BaseModel):
    voucher: str = Field(description="voucher code, e.g. 记-2026-11-0001")
    word: str = Field(description="凭证字")
    number: int = Field(description="凭证号 within the period")
    period: str
    voucher_date: date
    kind: str = Field(description="document | close | reversal")
    status: str = Field(description="draft | posted | reversed")
    event: str
    summary: str
    source_type: str = Field(
        description="receipt_notice, material_issue, completion_receipt, cost_run, voucher …"
    )
    source_ref: str
    debit_total: Num
    credit_total: Num
    reversal_of: str | None = Field(default=None, description="the voucher this one reverses")
    reversed_by: str | None = Field(default=None, description="the reversal voucher of this one")
    reason: str = ""
    created_by: str = ""
    created_at: datetime | None = None
    posted_by: str = ""
    posted_at: datetime | None = None
    line_count: int = 0
    lines: list[VoucherLineOut] = Field(default_factory=list)


def _line_out(ln: VoucherLine | LineDraft, number: int) -> VoucherLineOut:
    moves = ln.move_ids if isinstance(ln, LineDraft) else [int(m) for m in ln.stock_move_ids.split(",") if m]
    return VoucherLineOut(
        line_no=number,
        account=ln.account,
        account_name=ln.account_name,
        debit=Decimal(ln.debit),
        credit=Decimal(ln.credit),
        summary=ln.summary,
        event=ln.event,
        cost_element=ln.cost_element,
        cost_center=ln.cost_center,
        work_center=ln.work_center,
        item=ln.item,
        supplier=ln.supplier,
        customer=ln.customer,
        production_order=ln.production_order,
        doc_type=ln.doc_type,
        doc_ref=ln.doc_ref,
        stock_move_ids=moves,
    )


def _voucher_out(
    v: Voucher, lines: list[VoucherLine] | None, codes: dict[int, str], reversed_by: dict[int, str]
) -> VoucherOut:
    return VoucherOut(
        voucher=v.code,
        word=v.word,
        number=v.number,
        period=v.period,
        voucher_date=v.voucher_date,
        kind=v.kind,
        status=v.status,
        event=v.event,
        summary=v.summary,
        source_type=v.source_type,
        source_ref=v.source_ref,
        debit_total=Decimal(v.debit_total),
        credit_total=Decimal(v.credit_total),
        reversal_of=codes.get(v.reversal_of_id) if v.reversal_of_id else None,
        reversed_by=reversed_by.get(v.id or 0),
        reason=v.reason,
        created_by=v.created_by,
        created_at=v.created_at,
        posted_by=v.posted_by,
        posted_at=v.posted_at,
        line_count=len(lines) if lines is not None else 0,
        lines=[_line_out(ln, ln.line_no) for ln in lines or []],
    )


def _links(session: Session, vouchers: list[Voucher]) -> tuple[dict[int, str], dict[int, str]]:
    """Codes of the vouchers these reverse, and of the reversals of these."""
    ids = [v.id for v in vouchers]
    targets = {v.reversal_of_id for v in vouchers if v.reversal_of_id}
    codes = {
        vid or 0: code
        for vid, code in session.exec(
            select(col(Voucher.id), col(Voucher.code)).where(col(Voucher.id).in_(targets))
        ).all()
    }
    reversed_by = {
        rid or 0: code
        for rid, code in session.exec(
            select(col(Voucher.reversal_of_id), col(Voucher.code)).where(col(Voucher.reversal_of_id).in_(ids))
        ).all()
    }
    return codes, reversed_by


# ---------------------------------------------------------------- voucher account rules


class LedgerAccountIn(BaseModel):
    code: str = Field(min_length=1, max_length=64, description="account code, e.g. 1403 or 5001.01")
    name: str = Field(min_length=1, max_length=200, description="account name, e.g. 原材料")
    aux: list[str] = Field(
        default_factory=list,
        description="auxiliary dimensions the accounting package tracks on it: cost_center, work_center, item, "
        "supplier, customer, production_order",
    )
    active: bool = True
    note: str = Field(default="", max_length=300)

    @field_validator("aux", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [a.strip() for a in value.replace("，", ",").replace(";", ",").split(",") if a.strip()]
        return value

    @field_validator("aux")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in AUX_DIMENSIONS]
        if unknown:
            raise ValueError(f"unknown dimension(s) {', '.join(unknown)}; use {', '.join(AUX_DIMENSIONS)}")
        return list(dict.fromkeys(value))


# The rule fields limited to a list: (what one is called, what they are called, the list).
_RULE_CHOICES: dict[str, tuple[str, str, Collection[str]]] = {
    "event": ("event", "events", EVENTS),
    "location_kind": ("location kind", "kinds", LOCATION_KINDS),
    "cost_element": ("cost element", "elements", COST_ELEMENTS),
}


class VoucherRuleIn(BaseModel):
    role: Role = Field(
        description="inventory | gr_ir (goods received not invoiced) | wip | labor_payable | overhead | "
        "cost_of_sales | inventory_loss"
    )
    account: str = Field(min_length=1, max_length=64, description="the account lines of this role go to")
    event: str = Field(
        default="", max_length=40, description="only this business event, e.g. purchase_receipt"
    )
    item_category: str = Field(
        default="",
        max_length=60,
        description="only items of this category (or source: make / buy / subcontract)",
    )
    location_kind: str = Field(
        default="", max_length=20, description="only at this location kind, e.g. supplier"
    )
    cost_element: str = Field(default="", max_length=20, description="only this cost element, e.g. labor")
    doc_type: str = Field(
        default="", max_length=40, description="only this document type, e.g. subcontract_order"
    )
    pool: str = Field(default="", max_length=100, description="only this overhead pool")
    active: bool = Field(default=True, description="false switches the rule off")
    note: str = Field(default="", max_length=300)

    @field_validator("event", "location_kind", "cost_element")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        what, plural, known = _RULE_CHOICES[str(info.field_name)]
        if value and value not in known:
            raise ValueError(f"unknown {what} {value!r}; {plural} are {', '.join(known)}")
        return value

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in RULE_KEYS)


class ProposeVoucherAccountRulesIn(BaseModel):
    accounts: list[LedgerAccountIn] = Field(default_factory=list, max_length=2000)
    rules: list[VoucherRuleIn] = Field(default_factory=list, max_length=2000)
    file: str | None = Field(
        default=None,
        max_length=500,
        description="a .xlsx (sheets accounts and / or rules) or .csv on the server in the layout of "
        "docs/vouchers.md (`orderpilot vouchers rules --out FILE` writes the current ones)",
    )
    defaults: bool = Field(
        default=False,
        description="add the default Chinese small-business chart of accounts and rules (only what is missing)",
    )


class AccountOut(BaseModel):
    code: str
    name: str
    aux: list[str]
    active: bool
    note: str
    change: str = Field(default="", description="new | changed | unchanged (in a proposal)")


class RuleOut(BaseModel):
    role: str
    event: str
    item_category: str
    location_kind: str
    cost_element: str
    doc_type: str
    pool: str
    account: str
    account_name: str = ""
    active: bool
    note: str
    change: str = Field(default="", description="new | changed | unchanged (in a proposal)")


class VoucherRulesProposalOut(ProposalOut):
    accounts: list[AccountOut]
    rules: list[RuleOut]


def _account_out(a: LedgerAccount | LedgerAccountIn, change: str = "") -> AccountOut:
    aux = a.aux if isinstance(a.aux, list) else [x for x in a.aux.split(",") if x]
    return AccountOut(code=a.code, name=a.name, aux=aux, active=a.active, note=a.note, change=change)


def _rule_out(r: VoucherAccountRule | VoucherRuleIn, names: dict[str, str], change: str = "") -> RuleOut:
    return RuleOut(
        role=r.role,
        event=r.event,
        item_category=r.item_category,
        location_kind=r.location_kind,
        cost_element=r.cost_element,
        doc_type=r.doc_type,
        pool=r.pool,
        account=r.account,
        account_name=names.get(r.account, ""),
        active=r.active,
        note=r.note,
        change=change,
    )


def _flag(value: object) -> bool:
    return str(value).strip().lower() not in ("false", "0", "no", "n", "否", "停用")


def _from_file(path: str) -> tuple[list[LedgerAccountIn], list[VoucherRuleIn], list[dict[str, Any]]]:
    account_rows, rule_rows, account_sheet, rule_sheet = read_rule_file(path)
    accounts, rules, problems = [], [], []
    for row, rec in account_rows:
        data = {k: rec.get(k) for k in ("code", "name", "aux", "note") if rec.get(k) is not None}
        data = {k: str(v) for k, v in data.items()}
        if "active" in rec:
            data["active"] = _flag(rec["active"])  # type: ignore[assignment]
        try:
            accounts.append(LedgerAccountIn.model_validate(data))
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(
                    {"sheet": account_sheet, "row": row, "field": str(err["loc"][0]), "message": err["msg"]}
                )
    for row, rec in rule_rows:
        data = {k: str(rec[k]) for k in ("role", "account", *RULE_KEYS[1:], "note") if rec.get(k) is not None}
        if "active" in rec:
            data["active"] = _flag(rec["active"])  # type: ignore[assignment]
        try:
            rule = VoucherRuleIn.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                problems.append(
                    {"sheet": rule_sheet, "row": row, "field": str(err["loc"][0]), "message": err["msg"]}
                )
            continue
        rules.append(rule)
        name = str(rec.get("account_name") or "").strip()
        if name and not any(a.code == rule.account for a in accounts):
            accounts.append(LedgerAccountIn(code=rule.account, name=name))
    return accounts, rules, problems


@tool(kind="propose", tags=("finance",))
def propose_voucher_account_rules(
    ctx: ToolContext, args: ProposeVoucherAccountRulesIn
) -> VoucherRulesProposalOut:
    """Propose changes to the chart of accounts (会计科目, with the auxiliary dimensions the accounting package
    tracks) and the voucher account rules: which account the lines of a role (inventory, gr_ir, wip,
    labor_payable, overhead, cost_of_sales, inventory_loss) go to, by event, item category (or source),
    location kind, cost element, document type and overhead pool — the most specific rule wins. Given as
    lists, a .xlsx / .csv file, or `defaults: true` to add the default small-business chart (1403 原材料,
    1405 库存商品, 1408 委托加工物资, 2202.02 应付账款-暂估, 5001 生产成本 …) where missing. A rule with the same
    keys is replaced; active false switches one off. Nothing changes until a planner (or manager) confirms."""
    session = ctx.session
    accounts = [a.model_copy(update={"code": a.code.strip(), "name": a.name.strip()}) for a in args.accounts]
    rules = [r.model_copy(update={"account": r.account.strip()}) for r in args.rules]
    if args.file:
        file_accounts, file_rules, problems = _from_file(args.file)
        if problems:
            first = problems[0]
            raise ToolError(
                "invalid_input",
                f"voucher rules import refused, nothing written: {len(problems)} problem(s); sheet "
                f"{first['sheet']} row {first['row']}, field {first['field']}: {first['message']}",
                {"errors": problems},
            )
        accounts += file_accounts
        rules += file_rules
    existing_accounts = {a.code: a for a in session.exec(select(LedgerAccount)).all()}
    existing_rules = {
        tuple(getattr(r, n) for n in RULE_KEYS): r for r in session.exec(select(VoucherAccountRule)).all()
    }
    if args.defaults:
        given_codes = {a.code for a in accounts}
        accounts += [
            LedgerAccountIn(code=d.code, name=d.name, aux=d.aux)  # type: ignore[arg-type]
            for d in DEFAULT_ACCOUNTS
            if d.code not in existing_accounts and d.code not in given_codes
        ]
        given_keys = {r.key for r in rules}
        rules += [
            VoucherRuleIn(**{n: getattr(d, n) for n in (*RULE_KEYS, "account")})
            for d in DEFAULT_RULES
            if d.key not in existing_rules and d.key not in given_keys
        ]
    if not accounts and not rules:
        raise ToolError(
            "invalid_input",
            "nothing to change: give accounts, rules or a file"
            + (" (the default chart is already in place)" if args.defaults else ""),
            {"field": "rules"},
        )
    seen_codes: dict[str, int] = {}
    for index, a in enumerate(accounts):
        if a.code in seen_codes:
            raise ToolError(
                "invalid_input",
                f"account {a.code} is given twice (entries {seen_codes[a.code] + 1} and {index + 1})",
                {"field": f"accounts.{index}.code"},
            )
        seen_codes[a.code] = index
    chart = {code for code, a in existing_accounts.items() if a.active}
    chart |= {a.code for a in accounts if a.active}
    chart -= {a.code for a in accounts if not a.active}
    after = {
        k: AccountRule(r.role, r.account, *(getattr(r, n) for n in RULE_KEYS[1:]))
        for k, r in existing_rules.items()
        if r.active
    }
    keys: dict[tuple[str, ...], int] = {}
    for index, r in enumerate(rules):
        if r.key in keys:
            raise ToolError(
                "invalid_input",
                f"rule {index + 1} repeats rule {keys[r.key] + 1} ({r.role} → {r.account})",
                {"field": f"rules.{index}.role"},
            )
        keys[r.key] = index
        if r.active:
            after[r.key] = AccountRule(r.role, r.account, *(getattr(r, n) for n in RULE_KEYS[1:]))
        else:
            after.pop(r.key, None)
    bad = check_rules(list(after.values()), chart, ACCOUNT_ROLES)
    if bad:
        rule = list(after.values())[bad[0].index]
        raise ToolError(
            "invalid_input",
            f"voucher rules refused: {len(bad)} problem(s); {rule.role} → {rule.account}: {bad[0].message}",
            {"errors": [{"field": p.field, "message": p.message} for p in bad]},
        )
    names = {code: a.name for code, a in existing_accounts.items()} | {a.code: a.name for a in accounts}
    account_out = []
    for a in accounts:
        old = existing_accounts.get(a.code)
        same = old is not None and (old.name, old.aux, old.active, old.note) == (
            a.name,
            ",".join(a.aux),
            a.active,
            a.note,
        )
        account_out.append(_account_out(a, "new" if old is None else "unchanged" if same else "changed"))
    rule_out = []
    for r in rules:
        old_rule = existing_rules.get(r.key)
        same = old_rule is not None and (old_rule.account, old_rule.active, old_rule.note) == (
            r.account,
            r.active,
            r.note,
        )
        rule_out.append(
            _rule_out(r, names, "new" if old_rule is None else "unchanged" if same else "changed")
        )
    text = "、".join(
        f"{r.role}"
        + "".join(
            f"/{v}"
            for v in (r.event, r.item_category, r.location_kind, r.cost_element, r.doc_type, r.pool)
            if v
        )
        + f"→{r.account}"
        for r in rule_out[:6]
    )
    more = " …" if len(rule_out) > 6 else ""
    base = create_proposal(
        ctx,
        kind=RULES_KIND,
        tool="propose_voucher_account_rules",
        args=args,
        summary_zh=f"凭证科目设置:科目 {len(account_out)} 个,规则 {len(rule_out)} 条"
        + (f"({text}{more})" if text else "")
        + "。",
        summary_en=f"Voucher accounts: {len(account_out)} account(s), {len(rule_out)} rule(s)"
        + (f" ({text}{more})" if text else "")
        + ".",
        effect={
            "accounts": [a.model_dump(mode="json") for a in account_out],
            "rules": [r.model_dump(mode="json") for r in rule_out],
        },
    )
    return VoucherRulesProposalOut(**base.model_dump(), accounts=account_out, rules=rule_out)


@applier(RULES_KIND, roles=FINANCE_ROLES, domains=("finance",))
def apply_voucher_account_rules(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    accounts, rules = [], []
    for raw in proposal.effect["accounts"]:
        a = AccountOut.model_validate(raw)
        row = session.exec(select(LedgerAccount).where(LedgerAccount.code == a.code)).first()
        before = _account_out(row).model_dump(mode="json") if row is not None else {}
        row = row or LedgerAccount(code=a.code, name=a.name)
        row.name, row.aux, row.active, row.note = a.name, ",".join(a.aux), a.active, a.note
        row.updated_by, row.updated_at = actor.username, utcnow()
        session.add(row)
        after = _account_out(row).model_dump(mode="json")
        audit(
            session,
            actor,
            "set",
            entity="ledger_account",
            entity_ref=a.code,
            proposal_id=proposal.id,
            before=before,
            after=after,
        )
        accounts.append(a.code)
    session.flush()
    names = {a.code: a.name for a in session.exec(select(LedgerAccount)).all()}
    for raw in proposal.effect["rules"]:
        r = RuleOut.model_validate(raw)
        query = select(VoucherAccountRule)
        for name in RULE_KEYS:
            query = query.where(getattr(VoucherAccountRule, name) == getattr(r, name))
        rule_row = session.exec(query).first()
        before = _rule_out(rule_row, names).model_dump(mode="json") if rule_row is not None else {}
        rule_row = rule_row or VoucherAccountRule(**{n: getattr(r, n) for n in RULE_KEYS}, account=r.account)
        rule_row.account, rule_row.active, rule_row.note = r.account, r.active, r.note
        rule_row.updated_by, rule_row.updated_at = actor.username, utcnow()
        session.add(rule_row)
        after = _rule_out(rule_row, names).model_dump(mode="json")
        audit(
            session,
            actor,
            "set",
            entity="voucher_account_rule",
            entity_ref="/".join(getattr(r, n) for n in RULE_KEYS),
            proposal_id=proposal.id,
            before=before,
            after=after,
        )
        rules.append(after)
    session.flush()
    return {"accounts": accounts, "rules": len(rules)}


class ListVoucherAccountRulesIn(BaseModel):
    include_inactive: bool = False


class ListVoucherAccountRulesOut(BaseModel):
    accounts: list[AccountOut]
    rules: list[RuleOut]
    events: dict[str, str] = Field(description="business events and their Chinese names")


@tool(kind="read", tags=("finance",))
def list_voucher_account_rules(
    ctx: ToolContext, args: ListVoucherAccountRulesIn
) -> ListVoucherAccountRulesOut:
    """The chart of accounts (code, name, auxiliary dimensions) and the voucher account rules (role and keys →
    account) vouchers are generated with, and the business events a rule may name."""
    accounts = ctx.session.exec(select(LedgerAccount).order_by(col(LedgerAccount.code))).all()
    rules = ctx.session.exec(
        select(VoucherAccountRule).order_by(col(VoucherAccountRule.role), col(VoucherAccountRule.id))
    ).all()
    names = {a.code: a.name for a in accounts}
    return ListVoucherAccountRulesOut(
        accounts=[_account_out(a) for a in accounts if a.active or args.include_inactive],
        rules=[_rule_out(r, names) for r in rules if r.active or args.include_inactive],
        events={name: spec.title_zh for name, spec in EVENTS.items()},
    )


# ---------------------------------------------------------------- generation


class VoucherPeriodIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM, e.g. 2026-11")


class MemoOut(BaseModel):
    stock_move: int
    date: date
    item: str
    qty: Num
    from_location: str
    to_location: str
    customer: str
    doc_type: str
    doc_ref: str
    note: str


class UnmappedOut(BaseModel):
    source_kind: str
    source_id: int
    date: date
    doc_type: str
    doc_ref: str
    event: str
    message: str


class VoucherPreviewOut(BaseModel):
    voucher: str = Field(description="the code it will get (numbers are taken at confirmation)")
    voucher_date: date
    kind: str
    event: str
    summary: str
    source_type: str
    source_ref: str
    reversal_of: str | None
    debit_total: Num
    credit_total: Num
    lines: list[VoucherLineOut]


class VoucherGenerationProposalOut(ProposalOut):
    period: str
    vouchers: list[VoucherPreviewOut] = Field(description=f"the vouchers to write (the first {MAX_PREVIEW})")
    voucher_count: int
    debit_total: Num
    memos: list[MemoOut] = Field(description="customer-supplied material kept off the books")
    no_entry: int = Field(description="moves needing no entry (opening balances, same account both sides)")
    unmapped: list[UnmappedOut] = Field(description="documents no rule covers: left without a voucher")
    skipped: int = Field(description="documents already vouchered, left alone")
    close_status: str = Field(
        description="closing vouchers: generated | done | cost_period_open | no_cost_period | "
        "waiting_documents | waiting_rules"
    )
    warnings: list[str]


def _previews(session: Session, plan: PeriodPlan) -> list[VoucherPreviewOut]:
    numbers: Counter[str] = Counter()
    out = []
    for draft in plan.vouchers:
        period = draft.period
        if period not in numbers:
            numbers[period] = next_voucher_number(session, period) - 1
        numbers[period] += 1
        out.append(
            VoucherPreviewOut(
                voucher=voucher_code(period, numbers[period]),
                voucher_date=draft.voucher_date,
                kind=draft.kind,
                event=draft.event,
                summary=draft.summary,
                source_type=draft.source_type,
                source_ref=draft.source_ref,
                reversal_of=draft.reversal_of or None,
                debit_total=draft.debit_total,
                credit_total=draft.credit_total,
                lines=[_line_out(ln, i) for i, ln in enumerate(draft.lines, start=1)],
            )
        )
    return out


def _memos(plan: PeriodPlan) -> list[MemoOut]:
    return [
        MemoOut(
            stock_move=m.source.id,
            date=m.day,
            item=m.item,
            qty=m.qty,
            from_location=m.location_from,
            to_location=m.location_to,
            customer=m.customer,
            doc_type=m.source.doc_type,
            doc_ref=m.source.doc_ref,
            note=m.note,
        )
        for m in plan.memos
        if m.treatment == "memo"
    ]


def _unmapped(plan: PeriodPlan) -> list[UnmappedOut]:
    return [
        UnmappedOut(
            source_kind=u.source.kind,
            source_id=u.source.id,
            date=u.day,
            doc_type=u.source.doc_type,
            doc_ref=u.source.doc_ref,
            event=u.source.event,
            message=u.message,
        )
        for u in plan.unmapped
    ]


def _plan_digest(plan: PeriodPlan) -> str:
    extra = [f"{m.source.kind}:{m.source.id}:{m.treatment}" for m in plan.memos]
    extra += [f"{s.kind}:{s.id}" for s in plan.close_empty]
    return digest(plan.vouchers, extra)


def _require_rules(session: Session) -> None:
    if session.exec(select(VoucherAccountRule.id).where(col(VoucherAccountRule.active))).first() is None:
        raise ToolError(
            "conflict",
            "there are no voucher account rules yet: add the default chart of accounts first "
            "(propose_voucher_account_rules with defaults true, or `orderpilot vouchers seed`)",
            {"field": "rules"},
        )


@tool(kind="propose", tags=("finance",))
def propose_voucher_generation(ctx: ToolContext, args: VoucherPeriodIn) -> VoucherGenerationProposalOut:
    """Propose generating a month's accounting vouchers (记账凭证) from its documents: purchase receipts
    (Dr inventory / Cr 应付账款-暂估), returns to vendors, material issues and returns (生产成本-直接材料 ↔
    inventory), production receipts (inventory / 生产成本), subcontracting (material sent, used, the
    processing fee, goods received — through 委托加工物资), and once the cost period is closed the closing
    vouchers (direct labor, overhead allocation, completed cost and WIP brought to the costing's results).
    Each voucher balances and names its documents and stock moves; documents already vouchered are skipped,
    customer-supplied material is listed as a memo only. Refused for a month closed for vouchers. Nothing
    changes until a planner (or manager) confirms."""
    code = month(args.period).code
    require_unlocked(ctx.session, code, "generate vouchers")
    _require_rules(ctx.session)
    plan = plan_period(ctx.session, code)
    memos = _memos(plan)
    if not plan.vouchers and not plan.memos and not plan.close_empty:
        why = "; ".join(u.message for u in plan.unmapped[:3])
        raise ToolError(
            "conflict",
            f"nothing to generate for {code}: its {plan.skipped} stock move(s) and documents already have "
            "vouchers (or are memos / need no entry)"
            + (f"; {len(plan.unmapped)} cannot be vouchered ({why})" if plan.unmapped else "")
            + (
                f"; closing vouchers: {plan.close_status}"
                if plan.close_status not in ("done", "none")
                else ""
            ),
            {
                "period": code,
                "skipped": plan.skipped,
                "close_status": plan.close_status,
                "unmapped": [u.model_dump(mode="json") for u in _unmapped(plan)],
            },
        )
    previews = _previews(ctx.session, plan)
    total = sum((d.debit_total for d in plan.vouchers), Decimal(0))
    no_entry = sum(1 for m in plan.memos if m.treatment == "no_entry")
    closing = sum(1 for d in plan.vouchers if d.kind == "close")
    documents = sum(1 for d in plan.vouchers if d.kind == "document")
    reversals = len(plan.vouchers) - closing - documents
    zh = (
        f"生成 {code} 凭证 {len(plan.vouchers)} 张(单据 {documents}、结转 {closing}"
        + (f"、冲销 {reversals}" if reversals else "")
        + f"),借贷合计 {fmt_money(total)}"
        + (f";客供料备查 {len(memos)} 笔" if memos else "")
        + (f";{len(plan.unmapped)} 笔无科目规则未生成" if plan.unmapped else "")
        + "。"
    )
    en = (
        f"Generate {len(plan.vouchers)} voucher(s) for {code} ({documents} document, {closing} closing"
        + (f", {reversals} reversal" if reversals else "")
        + f"), total {fmt_money(total)}"
        + (f"; {len(memos)} customer-material memo(s)" if memos else "")
        + (f"; {len(plan.unmapped)} without an account rule left out" if plan.unmapped else "")
        + "."
    )
    base = create_proposal(
        ctx,
        kind=GENERATION_KIND,
        tool="propose_voucher_generation",
        args=args,
        summary_zh=zh,
        summary_en=en,
        effect={
            "period": code,
            "digest": _plan_digest(plan),
            "vouchers": len(plan.vouchers),
            "debit_total": fmt_money(total),
        },
        read_domains=READ_DOMAINS,
    )
    return VoucherGenerationProposalOut(
        **base.model_dump(),
        period=code,
        vouchers=previews[:MAX_PREVIEW],
        voucher_count=len(plan.vouchers),
        debit_total=total,
        memos=memos,
        no_entry=no_entry,
        unmapped=_unmapped(plan),
        skipped=plan.skipped,
        close_status=plan.close_status,
        warnings=plan.warnings,
    )


@applier(GENERATION_KIND, roles=FINANCE_ROLES, domains=("finance",))
def apply_voucher_generation(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Plan the month again (the data versions say nothing moved), check it is what was proposed, write it."""
    code = str(proposal.effect["period"])
    require_unlocked(session, code, "generate vouchers")
    plan = plan_period(session, code)
    if _plan_digest(plan) != proposal.effect["digest"]:
        raise ToolError(
            "conflict",
            f"the vouchers of {code} would differ from the proposal: propose the generation again",
            {"period": code},
        )
    written = [write_voucher(session, draft, actor.username, proposal.id) for draft in plan.vouchers]
    for memo in plan.memos:
        record_treatment(session, memo.source, code, memo.treatment, memo.note, proposal.id)
    for step in plan.close_empty:
        record_treatment(session, step, code, "no_entry", "nothing to book", proposal.id)
    session.flush()
    codes = [v.code for v in written]
    audit(
        session,
        actor,
        "generate",
        entity="voucher",
        entity_ref=code,
        proposal_id=proposal.id,
        after={
            "period": code,
            "vouchers": codes,
            "memos": sum(1 for m in plan.memos if m.treatment == "memo"),
            "no_entry": sum(1 for m in plan.memos if m.treatment == "no_entry"),
            "close_status": plan.close_status,
        },
    )
    return {"period": code, "vouchers": codes, "close_status": plan.close_status}


# ---------------------------------------------------------------- reversal


class ProposeVoucherReversalIn(BaseModel):
    voucher: str = Field(min_length=1, max_length=40, description="voucher code, e.g. 记-2026-11-0003")
    reason: str = Field(min_length=1, max_length=300, description="why it is wrong")
    reversal_date: date | None = Field(
        default=None,
        description="date of the reversal; default: the voucher's own date if its month is open, else today",
    )


class VoucherReversalProposalOut(ProposalOut):
    voucher: str
    reversal_date: date
    reversal: VoucherPreviewOut


def _reversal(session: Session, args: ProposeVoucherReversalIn, today: date) -> tuple[Voucher, VoucherDraft]:
    voucher = find_voucher(session, args.voucher)
    if voucher.status == "reversed":
        raise ToolError(
            "conflict",
            f"voucher {voucher.code} is already reversed",
            {"record": voucher.code, "status": "reversed"},
        )
    if voucher.kind == "reversal":
        raise ToolError(
            "conflict",
            f"voucher {voucher.code} is itself a reversal: generate the month's vouchers again instead",
            {"record": voucher.code, "kind": voucher.kind},
        )
    on = args.reversal_date
    if on is None:
        on = (
            voucher.voucher_date
            if find_finance_period(session, voucher.period) is None
            or (
                find_finance_period(session, voucher.period).status != "locked"  # type: ignore[union-attr]
            )
            else today
        )
    if on < voucher.voucher_date:
        raise ToolError(
            "invalid_input",
            f"a reversal cannot be dated {on.isoformat()}, before the voucher ({voucher.voucher_date.isoformat()})",
            {"field": "reversal_date"},
        )
    require_unlocked(session, period_of(on), "write the reversal into it")
    lines = voucher_lines(session, [voucher.id or 0])[voucher.id or 0]
    return voucher, reversal_draft(voucher, lines, on, args.reason.strip())


@tool(kind="propose", tags=("finance",))
def propose_voucher_reversal(ctx: ToolContext, args: ProposeVoucherReversalIn) -> VoucherReversalProposalOut:
    """Propose reversing a voucher (红字冲销): a new voucher with the same lines in negative amounts, dated the
    voucher's own date (or today when its month is closed), with the reason. Vouchers are never edited;
    after the reversal, the documents it covered are vouchered again by the next generation (with the rules
    then in force). Nothing changes until a planner (or manager) confirms."""
    voucher, draft = _reversal(ctx.session, args, ctx.today)
    number = next_voucher_number(ctx.session, draft.period)
    preview = VoucherPreviewOut(
        voucher=voucher_code(draft.period, number),
        voucher_date=draft.voucher_date,
        kind=draft.kind,
        event=draft.event,
        summary=draft.summary,
        source_type=draft.source_type,
        source_ref=draft.source_ref,
        reversal_of=voucher.code,
        debit_total=draft.debit_total,
        credit_total=draft.credit_total,
        lines=[_line_out(ln, i) for i, ln in enumerate(draft.lines, start=1)],
    )
    base = create_proposal(
        ctx,
        kind=REVERSAL_KIND,
        tool="propose_voucher_reversal",
        args=args,
        summary_zh=f"红字冲销凭证 {voucher.code}({voucher.summary}),金额 {fmt_money(voucher.debit_total)},"
        f"冲销日期 {draft.voucher_date.isoformat()};原因:{args.reason}。",
        summary_en=f"Reverse voucher {voucher.code} ({voucher.summary}), {fmt_money(voucher.debit_total)}, "
        f"dated {draft.voucher_date.isoformat()}; reason: {args.reason}.",
        effect={
            "voucher": voucher.code,
            "reversal_date": draft.voucher_date.isoformat(),
            "reason": args.reason,
        },
    )
    return VoucherReversalProposalOut(
        **base.model_dump(), voucher=voucher.code, reversal_date=draft.voucher_date, reversal=preview
    )


@applier(REVERSAL_KIND, roles=FINANCE_ROLES, domains=("finance",))
def apply_voucher_reversal(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    eff = proposal.effect
    args = ProposeVoucherReversalIn(
        voucher=eff["voucher"], reason=eff["reason"], reversal_date=date.fromisoformat(eff["reversal_date"])
    )
    voucher, draft = _reversal(session, args, date.fromisoformat(eff["reversal_date"]))
    written = write_voucher(session, draft, actor.username, proposal.id)
    audit(
        session,
        actor,
        "reverse",
        entity="voucher",
        entity_ref=voucher.code,
        proposal_id=proposal.id,
        before={"status": "draft" if voucher.posted_at is None else "posted"},
        after={"status": "reversed", "reversal": written.code, "reason": args.reason},
    )
    return {"voucher": voucher.code, "reversal": written.code, "status": "reversed"}


# ---------------------------------------------------------------- reading vouchers


class ListVouchersIn(BaseModel):
    period: str | None = Field(default=None, max_length=7, description="month YYYY-MM; default: every month")
    status: Literal["draft", "posted", "reversed"] | None = None
    kind: Literal["document", "close", "reversal"] | None = None
    doc_ref: str | None = Field(
        default=None, max_length=64, description="vouchers with a line on this document"
    )
    account: str | None = Field(
        default=None, max_length=64, description="vouchers with a line under this account"
    )
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


class ListVouchersOut(BaseModel):
    total: int
    vouchers: list[VoucherOut] = Field(description="in period and number order, without their lines")


@tool(kind="read", tags=("finance",))
def list_vouchers(ctx: ToolContext, args: ListVouchersIn) -> ListVouchersOut:
    """Accounting vouchers generated from the documents (记账凭证): code, date, kind, status (draft, posted,
    reversed), summary, source document and totals, by month, status, kind, document or account. Use
    get_voucher for the lines."""
    session = ctx.session
    query = select(Voucher)
    if args.period:
        query = query.where(Voucher.period == month(args.period).code)
    if args.status:
        query = query.where(Voucher.status == args.status)
    if args.kind:
        query = query.where(Voucher.kind == args.kind)
    if args.doc_ref or args.account:
        lines = select(VoucherLine.voucher_id)
        if args.doc_ref:
            lines = lines.where(VoucherLine.doc_ref == args.doc_ref)
        if args.account:
            lines = lines.where(col(VoucherLine.account).startswith(args.account))
        query = query.where(col(Voucher.id).in_(lines))
    rows = session.exec(query.order_by(col(Voucher.period), col(Voucher.number))).all()
    page = list(rows[args.offset : args.offset + args.limit])
    counts = Counter(
        session.exec(
            select(VoucherLine.voucher_id).where(col(VoucherLine.voucher_id).in_([v.id for v in page]))
        ).all()
    )
    codes, reversed_by = _links(session, page)
    out = []
    for v in page:
        item = _voucher_out(v, None, codes, reversed_by)
        item.line_count = counts[v.id]
        out.append(item)
    return ListVouchersOut(total=len(rows), vouchers=out)


class GetVoucherIn(BaseModel):
    voucher: str = Field(min_length=1, max_length=40, description="voucher code, e.g. 记-2026-11-0001")


class SourceOut(BaseModel):
    source_kind: str
    source_id: int
    event: str
    doc_type: str
    doc_ref: str


class GetVoucherOut(VoucherOut):
    sources: list[SourceOut] = Field(description="the records it accounts for (stock moves, cost runs …)")


@tool(kind="read", tags=("finance",))
def get_voucher(ctx: ToolContext, args: GetVoucherIn) -> GetVoucherOut:
    """One voucher with its lines (account, debit, credit, Chinese summary, cost center, item, supplier,
    customer, production order, document and stock moves), the records it accounts for, and the voucher
    it reverses or that reverses it."""
    session = ctx.session
    voucher = find_voucher(session, args.voucher)
    lines = voucher_lines(session, [voucher.id or 0])[voucher.id or 0]
    codes, reversed_by = _links(session, [voucher])
    sources = session.exec(
        select(VoucherSource).where(VoucherSource.voucher_id == voucher.id).order_by(col(VoucherSource.id))
    ).all()
    return GetVoucherOut(
        **_voucher_out(voucher, lines, codes, reversed_by).model_dump(),
        sources=[
            SourceOut(
                source_kind=s.source_kind,
                source_id=s.source_id,
                event=s.event,
                doc_type=s.doc_type,
                doc_ref=s.doc_ref,
            )
            for s in sources
        ],
    )


class VoucherStatusIn(BaseModel):
    period: str | None = Field(default=None, max_length=7, description="month YYYY-MM; default: this month")


class GroupStatusOut(BaseModel):
    group: str = Field(description="purchase | production | subcontract | close | inventory | sales | other")
    title: str
    vouchers: int = Field(description="vouchers written (reversed ones and reversals not counted)")
    pending: int = Field(description="documents (or closing steps) still without a voucher")


class VoucherStatusOut(BaseModel):
    period: str
    finance_status: str = Field(description="open | locked (closed for vouchers)")
    cost_period_status: str = Field(description="open | closed | none")
    vouchers: int
    drafts: int
    posted: int
    groups: list[GroupStatusOut]
    pending_documents: int
    unmapped: list[UnmappedOut]
    close_status: str = Field(
        description="closing vouchers: done | generated (would be) | cost_period_open | no_cost_period | "
        "waiting_documents | waiting_rules | none"
    )
    production_generated: bool = Field(
        description="every production and subcontract document has its voucher and the closing ones are done"
    )
    memos: list[MemoOut] = Field(description="customer-supplied material of the month, kept off the books")
    rules_configured: bool = Field(
        description="false: no voucher account rules yet (seed the defaults first)"
    )


GROUP_TITLES = {
    "purchase": "采购入库 purchase",
    "production": "生产领料/退料/完工入库 production",
    "subcontract": "委外加工 subcontracting",
    "close": "成本结转 cost closing",
    "inventory": "库存调整 inventory",
    "sales": "销售出库 sales",
    "other": "其他 other",
}


@tool(kind="read", tags=("finance",))
def get_voucher_status(ctx: ToolContext, args: VoucherStatusIn) -> VoucherStatusOut:
    """Whether a month's vouchers have been generated (本月凭证生成了吗): per group (purchase, production,
    subcontract, cost closing …) the vouchers written and the documents still without one, the closing
    vouchers' state (done, waiting for the cost period to close …), whether the production cost vouchers
    are all done, and the customer-supplied material kept off the books. Read-only."""
    session = ctx.session
    code = month(args.period).code if args.period else ctx.today.strftime("%Y-%m")
    plan = plan_period(session, code)
    vouchers = session.exec(select(Voucher).where(Voucher.period == code)).all()
    written: Counter[str] = Counter(
        event_group(v.event) for v in vouchers if v.kind != "reversal" and v.status != "reversed"
    )
    pending: Counter[str] = Counter(event_group(d.event) for d in plan.vouchers if d.kind != "reversal")
    for u in plan.unmapped:
        pending[event_group(u.source.event)] += 1
    groups = [
        GroupStatusOut(group=g, title=t, vouchers=written[g], pending=pending[g])
        for g, t in GROUP_TITLES.items()
        if written[g] or pending[g] or g in ("production", "subcontract", "close")
    ]
    cost = find_period(session, code)
    finance = find_finance_period(session, code)
    production_pending = pending["production"] + pending["subcontract"]
    close_done = plan.close_status in ("done", "none") or (
        plan.close_status == "no_cost_period" and pending["production"] + written["production"] == 0
    )
    return VoucherStatusOut(
        period=code,
        finance_status=finance.status if finance is not None else "open",
        cost_period_status=cost.status if cost is not None else "none",
        vouchers=len(vouchers),
        drafts=sum(1 for v in vouchers if v.status == "draft"),
        posted=sum(1 for v in vouchers if v.status == "posted"),
        groups=groups,
        pending_documents=sum(1 for d in plan.vouchers if d.kind == "document") + len(plan.unmapped),
        unmapped=_unmapped(plan),
        close_status=plan.close_status,
        production_generated=production_pending == 0 and close_done,
        memos=_recorded_memos(session, code) + _memos(plan),
        rules_configured=session.exec(
            select(VoucherAccountRule.id).where(col(VoucherAccountRule.active))
        ).first()
        is not None,
    )


def _recorded_memos(session: Session, code: str) -> list[MemoOut]:
    """The month's customer-supplied material already recorded as memos, from their stock moves."""
    rows = session.exec(
        select(VoucherSource, StockMove)
        .join(StockMove, col(StockMove.id) == col(VoucherSource.source_id))
        .where(VoucherSource.period == code, VoucherSource.treatment == "memo")
        .where(VoucherSource.source_kind == "stock_move")
        .order_by(col(StockMove.id))
    ).all()
    items = dict(session.exec(select(col(Item.id), col(Item.code))).all())
    locations = dict(session.exec(select(col(Location.id), col(Location.code))).all())
    customers = dict(session.exec(select(col(Customer.id), col(Customer.code))).all())
    return [
        MemoOut(
            stock_move=move.id or 0,
            date=move.move_date,
            item=items.get(move.item_id, ""),
            qty=Decimal(move.qty),
            from_location=locations.get(move.from_location_id, ""),
            to_location=locations.get(move.to_location_id, ""),
            customer=customers.get(move.owner_customer_id, "") if move.owner_customer_id else "",
            doc_type=source.doc_type,
            doc_ref=source.doc_ref,
            note=source.note,
        )
        for source, move in rows
    ]


# ---------------------------------------------------------------- closing the month for vouchers


class CloseProblemOut(BaseModel):
    code: str = Field(
        description="unbalanced_voucher | document_without_voucher | closing_without_voucher | "
        "stale_closing_voucher | cost_period_open | negative_stock | unreceived_order | overdue_unreceived_order"
    )
    severity: str = Field(description="error (the month cannot be closed) or warning")
    message: str
    records: list[str] = Field(description="the records concerned: voucher codes, stock move ids, orders …")
    voucher: str | None = None
    production_order: str | None = None
    item: str | None = None
    location: str | None = None


class PeriodCloseChecksOut(BaseModel):
    period: str
    status: str = Field(description="the month for vouchers: open | locked")
    ok: bool = Field(description="no error: the month can be closed for vouchers")
    problems: list[CloseProblemOut]
    drafts: int = Field(description="draft vouchers closing would post")


def _problems_out(check: CloseCheck) -> list[CloseProblemOut]:
    return [
        CloseProblemOut(
            code=p.code,
            severity=p.severity,
            message=p.message,
            records=list(p.records),
            voucher=p.voucher,
            production_order=p.production_order,
            item=p.item,
            location=p.location,
        )
        for p in check.problems
    ]


@tool(kind="read", tags=("finance",))
def get_period_close_checks(ctx: ToolContext, args: VoucherPeriodIn) -> PeriodCloseChecksOut:
    """Checks before closing a month for vouchers (结账检查), each with the records concerned: unbalanced
    vouchers, documents without a voucher (and closing vouchers not made), the cost period still open,
    negative stock at the month end, production orders that took material and received nothing (finished
    ones: errors; overdue ones: warnings). Errors stop propose_finance_period_close. Read-only."""
    check = period_close_checks(ctx.session, args.period)
    return PeriodCloseChecksOut(
        period=check.period,
        status=check.status,
        ok=check.ok,
        problems=_problems_out(check),
        drafts=check.drafts,
    )


class FinanceCloseProposalOut(ProposalOut):
    period: str
    drafts: int = Field(description="draft vouchers that will be posted")
    warnings: list[CloseProblemOut]


def _refuse(check: CloseCheck) -> ToolError:
    return close_refusal(f"{check.period} for vouchers", check.period, _problems_out(check), shown=3)


@tool(kind="propose", tags=("finance",))
def propose_finance_period_close(ctx: ToolContext, args: VoucherPeriodIn) -> FinanceCloseProposalOut:
    """Propose closing a month for vouchers (结账): refused, with the list, while get_period_close_checks has
    errors (vouchers missing or unbalanced, cost period open, negative stock, finished orders that received
    nothing). Closing posts the month's draft vouchers and locks the month: no more generation or reversals
    into it until a manager reopens it. (The cost period itself is closed by propose_period_close.) Nothing
    changes until a planner (or manager) confirms."""
    code = month(args.period).code
    require_unlocked(ctx.session, code, "close it again")
    check = period_close_checks(ctx.session, code)
    if not check.ok:
        raise _refuse(check)
    warnings = [p for p in _problems_out(check) if p.severity == "warning"]
    base = create_proposal(
        ctx,
        kind=CLOSE_KIND,
        tool="propose_finance_period_close",
        args=args,
        summary_zh=f"{code} 凭证结账:过账 {check.drafts} 张凭证并锁定本月"
        + (f";{len(warnings)} 条提醒" if warnings else "")
        + "。",
        summary_en=f"Close {code} for vouchers: post {check.drafts} voucher(s) and lock the month"
        + (f"; {len(warnings)} warning(s)" if warnings else "")
        + ".",
        effect={"period": code, "drafts": check.drafts},
        read_domains=READ_DOMAINS,
    )
    return FinanceCloseProposalOut(**base.model_dump(), period=code, drafts=check.drafts, warnings=warnings)


@applier(CLOSE_KIND, roles=FINANCE_ROLES, domains=("finance",))
def apply_finance_period_close(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    code = str(proposal.effect["period"])
    require_unlocked(session, code, "close it again")
    check = period_close_checks(session, code)
    if not check.ok:
        raise _refuse(check)
    now = utcnow()
    drafts = session.exec(select(Voucher).where(Voucher.period == code, Voucher.status == "draft")).all()
    for v in drafts:
        v.status, v.posted_by, v.posted_at = "posted", actor.username, now
        session.add(v)
    row = find_finance_period(session, code) or FinancePeriod(code=code)
    row.status, row.locked_by, row.locked_at, row.proposal_id = "locked", actor.username, now, proposal.id
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        "close",
        entity="finance_period",
        entity_ref=code,
        proposal_id=proposal.id,
        before={"status": "open"},
        after={"status": "locked", "posted": [v.code for v in drafts]},
    )
    return {"period": code, "status": "locked", "posted": len(drafts)}


class ProposeFinancePeriodReopenIn(BaseModel):
    period: str = Field(min_length=7, max_length=7, description="month YYYY-MM")
    reason: str = Field(min_length=1, max_length=300, description="why vouchers of the month must change")


class FinanceReopenProposalOut(ProposalOut):
    period: str
    locked_by: str
    locked_at: datetime | None


@tool(kind="propose", tags=("finance",))
def propose_finance_period_reopen(
    ctx: ToolContext, args: ProposeFinancePeriodReopenIn
) -> FinanceReopenProposalOut:
    """Propose reopening a month closed for vouchers (反结账), with a reason (kept in the audit log): generation
    and reversals into it are allowed again; its posted vouchers stay posted (corrections are reversals).
    Only a manager or admin may confirm."""
    code = month(args.period).code
    row = find_finance_period(ctx.session, code)
    if row is None or row.status != "locked":
        raise ToolError(
            "conflict",
            f"finance period {code} is not closed",
            {"record": code, "field": "status", "status": row.status if row else "open"},
        )
    base = create_proposal(
        ctx,
        kind=REOPEN_KIND,
        tool="propose_finance_period_reopen",
        args=args,
        summary_zh=f"凭证反结账 {code}(原因:{args.reason})。",
        summary_en=f"Reopen {code} for vouchers ({args.reason}).",
        effect={"period": code, "reason": args.reason},
    )
    return FinanceReopenProposalOut(
        **base.model_dump(), period=code, locked_by=row.locked_by, locked_at=row.locked_at
    )


@applier(REOPEN_KIND, roles=(), domains=("finance",))
def apply_finance_period_reopen(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
    """Open the month again (managers and admins only); the reason goes to the audit log."""
    code = str(proposal.effect["period"])
    row = find_finance_period(session, code)
    if row is None or row.status != "locked":
        raise ToolError(
            "conflict", f"finance period {code} is not closed", {"record": code, "field": "status"}
        )
    reason = str(proposal.effect["reason"])
    row.status, row.reopened_by, row.reopened_at, row.reopen_reason = (
        "open",
        actor.username,
        utcnow(),
        reason[:300],
    )
    session.add(row)
    session.flush()
    audit(
        session,
        actor,
        "reopen",
        entity="finance_period",
        entity_ref=code,
        proposal_id=proposal.id,
        before={"status": "locked", "locked_by": row.locked_by},
        after={"status": "open", "reason": reason},
    )
    return {"period": code, "status": "open"}
