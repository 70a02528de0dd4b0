"""Planning a month's vouchers: one per business document from the stock ledger, then the closing ones.

Every stock move of the month not yet dealt with is classified into an event (tools.finance.chart.EVENTS)
whose template debits one role and credits another; the rules give each side its account. Moves of one
document (a receipt notice, a material issue, a completion receipt, a subcontract order's day, an
inspection) make one voucher; the value of a move is its quantity × unit cost in whole cents, the same on
both sides, so each voucher balances. Customer-supplied material is kept off the books (memo); opening
balances and moves between locations on the same account need no entry.

Once the month's cost period is closed, three closing vouchers follow from its cost results: direct labor
and overhead charged to the orders, then each order's work in process brought to the costing's ending WIP
(per account: opening WIP + what the month's vouchers put in − the ending WIP), the difference going to
its product's inventory; sub-assemblies made in the month are charged to the orders that used them at
their actual cost (半成品成本调整), the difference from the moving average they were issued at coming out
of their inventory.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlmodel import Session, col, select

from data_model.tables import (
    CompletionReceipt,
    CostResult,
    Customer,
    InspectionOrder,
    Item,
    LaborReport,
    Location,
    MaterialIssue,
    MaterialIssueLine,
    OrderCostInput,
    ProductionOrder,
    PurchaseOrder,
    ReceiptNotice,
    ReceiptNoticeLine,
    Routing,
    RoutingOperation,
    SalesOrder,
    StockMove,
    Supplier,
    Voucher,
    VoucherLine,
    VoucherSource,
    WorkCenter,
)
from data_model.tables.inventory import INTERNAL_KINDS
from planning import costing_collection as cc
from tools.catalog.costing import RunCostingOut, current_run
from tools.catalog.costing_collection import find_period, month
from tools.catalog.subcontracting import order_fee
from tools.finance.chart import EVENTS, MEMO_EVENTS, NO_ENTRY_EVENTS, event_title
from tools.finance.ledger import (
    ZERO,
    LineDraft,
    RuleSet,
    SourceRef,
    VoucherDraft,
    add_line,
    cents,
    done_sources,
    load_rule_set,
    ordered_lines,
    reversal_draft,
    voucher_lines,
)
from tools.finance.rules import RuleQuery

CLOSE_KINDS = ("cost_run_labor", "cost_run_overhead", "cost_run_variance")
# a document voucher's main event, when its moves have several (a subcontract receipt consumes material too)
PRIMARY = (
    "subcontract_receipt",
    "production_receipt",
    "purchase_receipt",
    "purchase_return",
    "subcontract_send",
)
KIND_RANK = {"document": 0, "reversal": 1, "close": 2}


@dataclass(frozen=True)
class Memo:
    """A source kept off the books (``memo``: customer-supplied material) or needing no entry."""

    source: SourceRef
    treatment: str  # memo | no_entry
    day: date
    item: str
    qty: Decimal
    location_from: str
    location_to: str
    customer: str
    note: str


@dataclass(frozen=True)
class Unmapped:
    """A source that could not be vouchered: no template for it, or no rule for one of its lines."""

    source: SourceRef
    day: date
    message: str


@dataclass
class PeriodPlan:
    """What generating a month's vouchers would write, and what it leaves out and why."""

    period: str
    vouchers: list[VoucherDraft] = field(default_factory=list)
    memos: list[Memo] = field(default_factory=list)
    unmapped: list[Unmapped] = field(default_factory=list)
    skipped: int = 0
    close_status: str = "none"
    close_run: int | None = None
    close_empty: list[SourceRef] = field(default_factory=list)  # closing steps with nothing to book
    warnings: list[str] = field(default_factory=list)

    @property
    def document_vouchers(self) -> list[VoucherDraft]:
        return [v for v in self.vouchers if v.kind == "document"]


def classify(move_type: str, doc_type: str, from_kind: str, to_kind: str, customer_owned: bool) -> str:
    """The event of a stock move (or ``customer_material`` / ``opening_balance``; ``unclassified``)."""
    if doc_type == "opening":
        return "opening_balance"
    if customer_owned:
        return "customer_material"
    from_in, to_in = from_kind in INTERNAL_KINDS, to_kind in INTERNAL_KINDS
    if from_kind == "vendor" and to_in:
        return "purchase_receipt"
    if from_in and to_kind == "vendor":
        return "purchase_return"
    if from_in and to_in:
        if to_kind == "supplier" and from_kind != "supplier":
            return "subcontract_send"
        if from_kind == "supplier" and to_kind != "supplier":
            return "subcontract_return"
        return "stock_transfer"
    if from_in and to_kind == "production":
        if from_kind == "supplier":
            return "subcontract_scrap" if move_type == "scrap" else "subcontract_consume"
        if doc_type == "inspection":
            return "quality_scrap" if move_type == "scrap" else "quality_return"
        return "stock_scrap" if move_type == "scrap" else "material_issue"
    if from_kind == "production" and to_in:
        if move_type == "production_receipt":
            return "subcontract_receipt" if doc_type == "subcontract_order" else "production_receipt"
        return "material_return"
    if from_in and to_kind == "customer":
        return "sales_shipment"
    if from_kind == "customer" and to_in:
        return "sales_return"
    if from_kind == "adjustment" and to_in:
        return "stock_gain"
    if from_in and to_kind == "adjustment":
        return "stock_loss"
    return "unclassified"


def split_cents(amount: Decimal, weights: Sequence[Decimal]) -> list[Decimal]:
    """``amount`` (whole cents) split in proportion to ``weights``; the rounding goes to the largest part."""
    total = sum((abs(w) for w in weights), ZERO)
    if total == 0:
        parts = [ZERO] * len(weights)
        if parts:
            parts[0] = amount
        return parts
    parts = [cents(amount * abs(w) / total) for w in weights]
    largest = max(range(len(weights)), key=lambda i: (abs(weights[i]), -i))
    parts[largest] += amount - sum(parts, ZERO)
    return parts


class Lookups:
    """The rows a month's moves refer to, loaded once."""

    def __init__(self, session: Session, moves: Sequence[StockMove]) -> None:
        self.session = session
        self.locations = {loc.id: loc for loc in session.exec(select(Location)).all()}
        self.items = {i.id: i for i in session.exec(select(Item)).all()}
        self.items_by_code = {i.code: i for i in self.items.values()}
        self.suppliers = dict(session.exec(select(col(Supplier.id), col(Supplier.code))).all())
        self.customers = dict(session.exec(select(col(Customer.id), col(Customer.code))).all())
        move_ids = [m.id for m in moves]
        refs = {m.doc_ref for m in moves if m.doc_ref}
        self.orders_by_code = {
            o.code: o
            for o in session.exec(select(ProductionOrder).where(col(ProductionOrder.code).in_(refs))).all()
        }
        self.orders_by_id = {o.id: o for o in self.orders_by_code.values()}
        self.inspections = {
            r.code: r
            for r in session.exec(select(InspectionOrder).where(col(InspectionOrder.code).in_(refs))).all()
        }
        self.orders_by_code.update(
            {
                o.code: o
                for o in session.exec(
                    select(ProductionOrder).where(
                        col(ProductionOrder.code).in_({r.source_ref for r in self.inspections.values()})
                    )
                ).all()
            }
        )
        self.po_supplier = {
            code: self.suppliers.get(sid, "")
            for code, sid in session.exec(
                select(col(PurchaseOrder.code), col(PurchaseOrder.supplier_id)).where(
                    col(PurchaseOrder.code).in_(refs | {r.source_ref for r in self.inspections.values()})
                )
            ).all()
        }
        self.so_customer = {
            code: self.customers.get(cid, "")
            for code, cid in session.exec(
                select(col(SalesOrder.code), col(SalesOrder.customer_id)).where(
                    col(SalesOrder.code).in_(refs)
                )
            ).all()
        }
        self.receipt_notice = dict(
            session.exec(
                select(col(ReceiptNoticeLine.stock_move_id), col(ReceiptNotice.code))
                .join(ReceiptNotice, col(ReceiptNotice.id) == col(ReceiptNoticeLine.receipt_notice_id))
                .where(col(ReceiptNoticeLine.stock_move_id).in_(move_ids))
            ).all()
        )
        self.material_issue = dict(
            session.exec(
                select(col(MaterialIssueLine.stock_move_id), col(MaterialIssue.code))
                .join(MaterialIssue, col(MaterialIssue.id) == col(MaterialIssueLine.material_issue_id))
                .where(col(MaterialIssueLine.stock_move_id).in_(move_ids))
            ).all()
        )
        self.completion_receipt = dict(
            session.exec(
                select(col(CompletionReceipt.stock_move_id), col(CompletionReceipt.code)).where(
                    col(CompletionReceipt.stock_move_id).in_(move_ids)
                )
            ).all()
        )
        self._centers: dict[int, str] = {}

    def item_code(self, item_id: int) -> str:
        item = self.items.get(item_id)
        return item.code if item is not None else str(item_id)

    def categories(self, item_code_or_id: str | int) -> tuple[str, ...]:
        """The item's category, then its source (make / buy / subcontract): what rules match items by."""
        if isinstance(item_code_or_id, int):
            item = self.items.get(item_code_or_id)
        else:
            item = self.items_by_code.get(item_code_or_id)
        return (item.category, item.source) if item is not None else ()

    def order(self, code: str) -> ProductionOrder | None:
        if code not in self.orders_by_code:
            row = self.session.exec(select(ProductionOrder).where(ProductionOrder.code == code)).first()
            if row is None:
                return None
            self.orders_by_code[code] = row
            self.orders_by_id[row.id] = row
        return self.orders_by_code[code]

    def order_by_id(self, order_id: int) -> ProductionOrder | None:
        if order_id not in self.orders_by_id:
            row = self.session.get(ProductionOrder, order_id)
            if row is None:
                return None
            self.orders_by_id[order_id] = row
            self.orders_by_code[row.code] = row
        return self.orders_by_id[order_id]

    def center(self, order: ProductionOrder | None) -> str:
        """The order's cost center: its routing's first work center, else where most of its labor was."""
        if order is None or order.id is None:
            return ""
        if order.id not in self._centers:
            first = self.session.exec(
                select(col(WorkCenter.code))
                .join(RoutingOperation, col(RoutingOperation.work_center_id) == col(WorkCenter.id))
                .join(Routing, col(Routing.id) == col(RoutingOperation.routing_id))
                .where(Routing.item_id == order.item_id)
                .order_by(col(RoutingOperation.seq))
            ).first()
            if first is None:
                hours: dict[str, Decimal] = defaultdict(Decimal)
                for wc, h in self.session.exec(
                    select(col(WorkCenter.code), col(LaborReport.hours))
                    .join(WorkCenter, col(WorkCenter.id) == col(LaborReport.work_center_id))
                    .where(LaborReport.production_order_id == order.id)
                ).all():
                    hours[wc] += Decimal(h)
                first = max(sorted(hours), key=lambda k: hours[k], default=None)
            self._centers[order.id] = first or ""
        return self._centers[order.id]


def order_doc_type(order: ProductionOrder | None) -> str:
    return "subcontract_order" if order is not None and order.kind == "subcontract" else "production_order"


@dataclass
class Side:
    """One side of an event's line: the role and what the rule and the auxiliary dimensions need."""

    role: str
    location_kind: str = ""
    cost_element: str = ""
    doc_type: str = ""
    pool: str = ""
    categories: tuple[str, ...] = ()
    aux: dict[str, str] = field(default_factory=dict)


class Builder:
    """Turns events into voucher lines through the rules, remembering what no rule covered."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.missing: list[str] = []

    def line(
        self,
        event: str,
        side: Side,
        amount: Decimal,
        debit: bool,
        doc_type: str,
        doc_ref: str,
        moves: list[int],
    ) -> LineDraft | None:
        query = RuleQuery(
            role=side.role,
            event=event,
            item_categories=side.categories,
            location_kind=side.location_kind,
            cost_element=side.cost_element,
            doc_type=side.doc_type,
            pool=side.pool,
        )
        rule = self.rules.resolve(query)
        if rule is None:
            keys = ", ".join(
                f"{k} {v}"
                for k, v in (
                    ("event", event),
                    ("item category", "/".join(c for c in side.categories if c)),
                    ("location kind", side.location_kind),
                    ("cost element", side.cost_element),
                    ("document type", side.doc_type),
                    ("pool", side.pool),
                )
                if v
            )
            self.missing.append(f"no account rule for role {side.role} ({keys})")
            return None
        tracked = self.rules.aux(rule.account)
        keep = set(tracked) if tracked is not None else set(side.aux)
        if side.role == "wip":
            keep |= {"production_order", "item"}  # closing reads WIP per order and item
        aux = {k: v for k, v in side.aux.items() if k in keep and v}
        item = f" {aux['item']}" if "item" in aux else ""
        return LineDraft(
            account=rule.account,
            account_name=self.rules.name(rule.account),
            role=side.role,
            event=event,
            debit=amount if debit else ZERO,
            credit=ZERO if debit else amount,
            summary=f"{event_title(event)} {doc_ref}{item}".strip(),
            cost_element=side.cost_element,
            doc_type=doc_type,
            doc_ref=doc_ref,
            move_ids=list(moves),
            **aux,
        )

    def pair(
        self,
        lines: list[LineDraft],
        event: str,
        amount: Decimal,
        debit: Side,
        credit: Side,
        doc_type: str,
        doc_ref: str,
        moves: list[int],
    ) -> bool:
        """Add the debit and credit lines of one event; False when both land on the same account and
        dimensions (nothing to book) or a rule is missing."""
        if amount == 0:
            return False
        dr = self.line(event, debit, amount, True, doc_type, doc_ref, moves)
        cr = self.line(event, credit, amount, False, doc_type, doc_ref, moves)
        if dr is None or cr is None:
            return False
        if dr.merge_key[1:] == cr.merge_key[1:]:
            return False
        add_line(lines, dr)
        add_line(lines, cr)
        return True


# ---------------------------------------------------------------- documents


def _group_key(m: StockMove, look: Lookups) -> tuple[str, str, date]:
    """(source type, source ref, date) of the document a move belongs to."""
    if m.doc_type == "subcontract_order":
        return ("subcontract_order", m.doc_ref, m.move_date)
    for kind, links in (
        ("receipt_notice", look.receipt_notice),
        ("material_issue", look.material_issue),
        ("completion_receipt", look.completion_receipt),
    ):
        if m.id in links:
            return (kind, links[m.id], m.move_date)
    if m.doc_type == "inspection":
        return ("inspection", m.doc_ref, m.move_date)
    return (m.doc_type or m.move_type, m.doc_ref or f"SM-{m.id}", m.move_date)


def _move_sides(m: StockMove, event: str, look: Lookups) -> tuple[Side, Side, str, ProductionOrder | None]:
    """The debit and credit sides of a move's event, its item and the order it concerns."""
    src, dst = look.locations[m.from_location_id], look.locations[m.to_location_id]
    item = look.item_code(m.item_id)
    cats = look.categories(m.item_id)
    inspection = look.inspections.get(m.doc_ref) if m.doc_type == "inspection" else None
    doc_type = inspection.source_type if inspection is not None else m.doc_type
    if doc_type in ("production_order", "subcontract_order"):
        order = look.order(inspection.source_ref if inspection is not None else m.doc_ref)
    else:
        order = None
    supplier = ""
    if doc_type == "purchase_order":
        supplier = look.po_supplier.get(inspection.source_ref if inspection else m.doc_ref, "")
    if inspection is not None and inspection.supplier_id:
        supplier = look.suppliers.get(inspection.supplier_id, supplier)
    if order is not None and order.supplier_id and not supplier:
        supplier = look.suppliers.get(order.supplier_id, "")
    for loc in (src, dst):
        if loc.supplier_id and not supplier:
            supplier = look.suppliers.get(loc.supplier_id, "")
    center = look.center(order)
    aux = {
        "item": item,
        "supplier": supplier,
        "customer": look.so_customer.get(m.doc_ref, ""),
        "production_order": order.code if order is not None else "",
        "cost_center": center,
        "work_center": center,
    }
    spec = EVENTS[event]

    def side(role: str, loc: Location) -> Side:
        if role == "wip":
            return Side(role, "production", "material", order_doc_type(order), categories=cats, aux=aux)
        return Side(role, loc.kind, doc_type=doc_type, categories=cats, aux=aux)

    return side(spec.debit_role, dst), side(spec.credit_role, src), item, order


def _document_vouchers(moves: Sequence[StockMove], look: Lookups, rules: RuleSet, plan: PeriodPlan) -> None:
    """Vouchers of the moves, one per document, into ``plan`` (with the memos and what no rule covers)."""
    groups: dict[tuple[str, str, date], list[tuple[StockMove, str]]] = defaultdict(list)
    for m in moves:
        src, dst = look.locations[m.from_location_id], look.locations[m.to_location_id]
        event = classify(m.move_type, m.doc_type, src.kind, dst.kind, m.owner_customer_id is not None)
        source = SourceRef("stock_move", m.id or 0, event, m.doc_type, m.doc_ref)
        if event in MEMO_EVENTS or event in NO_ENTRY_EVENTS:
            treatment = "memo" if event in MEMO_EVENTS else "no_entry"
            notes = MEMO_EVENTS.get(event) or NO_ENTRY_EVENTS[event]
            plan.memos.append(
                Memo(
                    source,
                    treatment,
                    m.move_date,
                    look.item_code(m.item_id),
                    Decimal(m.qty),
                    src.code,
                    dst.code,
                    look.customers.get(m.owner_customer_id, "") if m.owner_customer_id else "",
                    notes[0],
                )
            )
            continue
        if event == "unclassified":
            plan.unmapped.append(
                Unmapped(
                    source,
                    m.move_date,
                    f"no voucher template for a {m.move_type} move from {src.kind} to {dst.kind}",
                )
            )
            continue
        groups[_group_key(m, look)].append((m, event))
    for (source_type, source_ref, day), members in groups.items():
        builder = Builder(rules)
        lines: list[LineDraft] = []
        sources: list[SourceRef] = []
        refs: list[str] = []
        quiet: list[Memo] = []
        for m, event in members:
            source = SourceRef("stock_move", m.id or 0, event, m.doc_type, m.doc_ref)
            debit, credit, item, order = _move_sides(m, event, look)
            value = cents(Decimal(m.qty) * Decimal(m.unit_cost))
            booked = builder.pair(lines, event, value, debit, credit, m.doc_type, m.doc_ref, [m.id or 0])
            if event == "subcontract_receipt" and order is not None:
                booked |= _subcontract_fee(builder, lines, m, order, look, debit.aux)
            if booked:
                sources.append(source)
                origin = look.inspections.get(m.doc_ref) if m.doc_type == "inspection" else None
                for ref in (m.doc_ref, origin.source_ref if origin is not None else ""):
                    if ref and ref not in refs:
                        refs.append(ref)
            elif not builder.missing:
                why = "zero_value" if value == 0 else "same_account"
                quiet.append(
                    Memo(
                        SourceRef("stock_move", m.id or 0, why, m.doc_type, m.doc_ref),
                        "no_entry",
                        m.move_date,
                        item,
                        Decimal(m.qty),
                        look.locations[m.from_location_id].code,
                        look.locations[m.to_location_id].code,
                        "",
                        NO_ENTRY_EVENTS[why][0],
                    )
                )
        if builder.missing:
            for m, event in members:
                plan.unmapped.append(
                    Unmapped(
                        SourceRef("stock_move", m.id or 0, event, m.doc_type, m.doc_ref),
                        m.move_date,
                        "; ".join(dict.fromkeys(builder.missing)),
                    )
                )
            continue
        plan.memos += quiet
        if not lines:
            continue
        events = [e for _, e in members]
        primary = next((e for e in PRIMARY if e in events), events[0])
        others = [r for r in refs if r != source_ref]
        summary = f"{event_title(primary)} {source_ref}" + (f"({'、'.join(others)})" if others else "")
        plan.vouchers.append(
            VoucherDraft(
                kind="document",
                event=primary,
                voucher_date=day,
                summary=summary,
                source_type=source_type,
                source_ref=source_ref,
                lines=ordered_lines(lines),
                sources=sources,
                sort_key=(day, 0, min(m.id or 0 for m, _ in members)),
            )
        )


def _subcontract_fee(
    builder: Builder,
    lines: list[LineDraft],
    m: StockMove,
    order: ProductionOrder,
    look: Lookups,
    aux: dict[str, str],
) -> bool:
    """The processing fee of a subcontract receipt (委外加工费): into the order's WIP, owed to the supplier."""
    item = look.items.get(order.item_id)
    supplier = look.session.get(Supplier, order.supplier_id) if order.supplier_id else None
    if item is None or supplier is None:
        return False
    fee = cents(Decimal(m.qty) * Decimal(order_fee(look.session, order, item, supplier, m.move_date)))
    cats = look.categories(order.item_id)
    return builder.pair(
        lines,
        "subcontract_fee",
        fee,
        Side("wip", "production", "subcontract", "subcontract_order", categories=cats, aux=aux),
        Side("gr_ir", "", doc_type="subcontract_order", categories=cats, aux=aux),
        m.doc_type,
        m.doc_ref,
        [m.id or 0],
    )


def _flow_vouchers(session: Session, rng: cc.PeriodRange, rules: RuleSet, plan: PeriodPlan) -> None:
    """Semi-finished output consumed by its parent order without a stock-in (半成品流转): WIP to WIP."""
    rows = session.exec(
        select(MaterialIssueLine, MaterialIssue)
        .join(MaterialIssue, col(MaterialIssue.id) == col(MaterialIssueLine.material_issue_id))
        .where(MaterialIssue.mode == "flow")
        .where(col(MaterialIssue.issue_date).between(rng.first_day, rng.last_day))
        .order_by(col(MaterialIssueLine.id))
    ).all()
    if not rows:
        return
    done = done_sources(session, "material_issue_line", [ln.id or 0 for ln, _ in rows])
    plan.skipped += len(done)
    look = Lookups(session, [])
    by_doc: dict[str, list[tuple[MaterialIssueLine, MaterialIssue]]] = defaultdict(list)
    for ln, doc in rows:
        if (ln.id or 0) not in done:
            by_doc[doc.code].append((ln, doc))
    for code, members in by_doc.items():
        builder = Builder(rules)
        lines: list[LineDraft] = []
        sources = []
        for ln, doc in members:
            parent = look.order_by_id(ln.production_order_id)
            child_row = session.exec(
                select(CompletionReceipt).where(
                    CompletionReceipt.proposal_id == doc.proposal_id,
                    CompletionReceipt.into_order_id == ln.production_order_id,
                )
            ).first()
            child = look.order_by_id(child_row.production_order_id) if child_row is not None else None
            item = look.item_code(ln.item_id)
            cats = look.categories(ln.item_id)

            def aux(order: ProductionOrder | None, item: str = item) -> dict[str, str]:
                center = look.center(order)
                return {
                    "item": item,
                    "production_order": order.code if order is not None else "",
                    "cost_center": center,
                    "work_center": center,
                }

            value = cents(Decimal(ln.qty) * Decimal(ln.unit_cost))
            ref = parent.code if parent is not None else code
            builder.pair(
                lines,
                "semi_finished_flow",
                value,
                Side(
                    "wip", "production", "material", order_doc_type(parent), categories=cats, aux=aux(parent)
                ),
                Side("wip", "production", "material", order_doc_type(child), categories=cats, aux=aux(child)),
                "production_order",
                ref,
                [],
            )
            sources.append(
                SourceRef("material_issue_line", ln.id or 0, "semi_finished_flow", "material_issue", code)
            )
        if builder.missing:
            for ln, doc in members:
                plan.unmapped.append(
                    Unmapped(
                        SourceRef(
                            "material_issue_line", ln.id or 0, "semi_finished_flow", "material_issue", code
                        ),
                        doc.issue_date,
                        "; ".join(dict.fromkeys(builder.missing)),
                    )
                )
            continue
        if lines:
            day = members[0][1].issue_date
            plan.vouchers.append(
                VoucherDraft(
                    kind="document",
                    event="semi_finished_flow",
                    voucher_date=day,
                    summary=f"{event_title('semi_finished_flow')} {code}",
                    source_type="material_issue",
                    source_ref=code,
                    lines=ordered_lines(lines),
                    sources=sources,
                    sort_key=(day, 0, 10**12 + (members[0][0].id or 0)),
                )
            )


# ---------------------------------------------------------------- closing


def _close_sources(session: Session, code: str) -> list[tuple[Voucher, str, int]]:
    """The period's closing vouchers not reversed, with the kind and cost run they came from."""
    rows = session.exec(
        select(Voucher, VoucherSource.source_kind, VoucherSource.source_id)
        .join(VoucherSource, col(VoucherSource.voucher_id) == col(Voucher.id))
        .where(Voucher.period == code, col(VoucherSource.source_kind).in_(CLOSE_KINDS))
        .where(Voucher.status != "reversed")
        .order_by(col(Voucher.number))
    ).all()
    return [(v, kind, run_id) for v, kind, run_id in rows]


def _wip_book(session: Session, code: str, planned: Sequence[VoucherDraft]) -> list[LineDraft | VoucherLine]:
    """Every WIP line of the period: written (reversals included) and about to be written."""
    existing = session.exec(
        select(VoucherLine)
        .join(Voucher, col(Voucher.id) == col(VoucherLine.voucher_id))
        .where(Voucher.period == code, VoucherLine.role == "wip")
    ).all()
    return [*existing, *(ln for d in planned for ln in d.lines if ln.role == "wip")]


def _results(session: Session, run_id: int) -> dict[int, dict[str, CostResult]]:
    out: dict[int, dict[str, CostResult]] = defaultdict(dict)
    for row in session.exec(select(CostResult).where(CostResult.run_id == run_id)).all():
        out[row.production_order_id][row.element] = row
    return out


def _opening(session: Session, code: str) -> dict[int, dict[str, Decimal]]:
    """Opening WIP per order and element: the previous month's closing, else the cost inputs' opening."""
    opening: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    previous = find_period(session, cc.previous_period(code))
    run = current_run(session, previous) if previous is not None else None
    if run is not None:
        for row in session.exec(select(CostResult).where(CostResult.run_id == run.id)).all():
            opening[row.production_order_id][row.element] += Decimal(row.wip)
        return opening
    period = find_period(session, code)
    if period is not None:
        for inp in session.exec(select(OrderCostInput).where(OrderCostInput.period_id == period.id)).all():
            # conversion is carried as one figure: it stands with labor, the first conversion element
            opening[inp.production_order_id]["material"] += Decimal(inp.opening_wip_material)
            opening[inp.production_order_id]["labor"] += Decimal(inp.opening_wip_conversion)
    return opening


class Closing:
    """The closing vouchers of a period's current cost run."""

    def __init__(self, session: Session, code: str, rng: cc.PeriodRange, rules: RuleSet, run_id: int) -> None:
        self.session = session
        self.code = code
        self.day = rng.last_day
        self.rules = rules
        self.run_id = run_id
        self.look = Lookups(session, [])
        self.builder = Builder(rules)

    def _side(self, role: str, order: ProductionOrder, element: str, item: str, pool: str = "") -> Side:
        center = self.look.center(order)
        return Side(
            role,
            "production" if role == "wip" else ("stock" if role == "inventory" else ""),
            element if role == "wip" else "",
            order_doc_type(order) if role in ("wip", "inventory") else "",
            pool,
            self.look.categories(item),
            {
                "item": item,
                "production_order": order.code,
                "cost_center": center,
                "work_center": center,
                "supplier": self.look.suppliers.get(order.supplier_id, "") if order.supplier_id else "",
            },
        )

    def _draft(self, step: str, event: str, title: str, lines: list[LineDraft], rank: int) -> VoucherDraft:
        return VoucherDraft(
            kind="close",
            event=event,
            voucher_date=self.day,
            summary=f"{self.code} {title}",
            source_type="cost_run",
            source_ref=str(self.run_id),
            lines=ordered_lines(lines),
            sources=[SourceRef(step, self.run_id, event, "cost_run", str(self.run_id))],
            sort_key=(self.day, 2, rank),
        )

    def labor(self) -> VoucherDraft:
        """Direct labor of the month (the cost inputs' labor cost) into each order's WIP, owed as wages."""
        period = find_period(self.session, self.code)
        lines: list[LineDraft] = []
        rows = self.session.exec(
            select(OrderCostInput, ProductionOrder)
            .join(ProductionOrder, col(ProductionOrder.id) == col(OrderCostInput.production_order_id))
            .where(OrderCostInput.period_id == (period.id if period else -1))
            .order_by(col(ProductionOrder.code))
        ).all()
        for inp, order in rows:
            amount = cents(Decimal(inp.labor_cost))
            item = self.look.item_code(order.item_id)
            self.builder.pair(
                lines,
                "labor_allocation",
                amount,
                self._side("wip", order, "labor", item),
                self._side("labor_payable", order, "", item),
                order_doc_type(order),
                order.code,
                [],
            )
        return self._draft("cost_run_labor", "labor_allocation", "分配直接人工", lines, 0)

    def overhead(self, report: RunCostingOut) -> VoucherDraft:
        """Each overhead pool's allocation (to the cent) into the orders' WIP, out of the overhead account."""
        lines: list[LineDraft] = []
        for pool in report.pools:
            for share in pool.shares:
                order = self.look.order(share.production_order)
                if order is None:
                    continue
                item = self.look.item_code(order.item_id)
                self.builder.pair(
                    lines,
                    "overhead_allocation",
                    cents(Decimal(share.amount_cents)),
                    self._side("wip", order, "overhead", item, pool.pool),
                    self._side("overhead", order, "", item, pool.pool),
                    order_doc_type(order),
                    order.code,
                    [],
                )
        return self._draft("cost_run_overhead", "overhead_allocation", "分配制造费用", lines, 1)

    def _wip_account(self, order: ProductionOrder, element: str) -> str | None:
        item = self.look.item_code(order.item_id)
        rule = self.rules.resolve(
            RuleQuery(
                "wip",
                "cost_variance",
                self.look.categories(item),
                "production",
                element,
                order_doc_type(order),
            )
        )
        if rule is None:
            self.builder.missing.append(
                f"no account rule for role wip (cost element {element}, {order.code})"
            )
        return rule.account if rule is not None else None

    def variance(self, report: RunCostingOut, book: Sequence[LineDraft | VoucherLine]) -> VoucherDraft:
        """Bring every order's WIP accounts to the costing's ending WIP; the rest is its completed output."""
        results = _results(self.session, self.run_id)
        opening = _opening(self.session, self.code)
        for order_id in [*results, *opening]:
            self.look.order_by_id(order_id)
        balance: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        by_item: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for ln in book:
            if not ln.production_order:
                continue
            amount = Decimal(ln.debit) - Decimal(ln.credit)
            balance[(ln.production_order, ln.account)] += amount
            by_item[(ln.production_order, ln.item)] += amount
            self.look.order(ln.production_order)
        outputs = {o.production_order: o.outputs for o in report.orders}
        made = {
            self.look.item_code(self.look.orders_by_id[oid].item_id)
            for oid in results
            if oid in self.look.orders_by_id and self.look.orders_by_id[oid].kind != "rework"
        } | {out.item for outs in outputs.values() for out in outs}
        codes = sorted(
            {o.code for oid in [*results, *opening] if (o := self.look.orders_by_id.get(oid)) is not None}
            | {code for code, _ in balance}
        )
        lines: list[LineDraft] = []
        for code in codes:
            order = self.look.order(code)
            if order is None:
                continue
            own = self.look.item_code(order.item_id)
            target: dict[str, Decimal] = defaultdict(Decimal)
            start: dict[str, Decimal] = defaultdict(Decimal)
            element_of: dict[str, str] = {}
            for element, row in results.get(order.id or 0, {}).items():
                account = self._wip_account(order, element)
                if account is not None:
                    target[account] += Decimal(row.wip)
                    element_of.setdefault(account, element)
            for element, amount in opening.get(order.id or 0, {}).items():
                account = self._wip_account(order, element)
                if account is not None:
                    start[account] += amount
                    element_of.setdefault(account, element)
            material = self._wip_account(order, "material")
            if material is None:
                continue
            transferred = cents(
                sum((Decimal(r.transferred_in) for r in results.get(order.id or 0, {}).values()), ZERO)
            )
            issued = {
                item: amount
                for (o, item), amount in sorted(by_item.items())
                if o == code and item in made and item != own and amount != 0
            }
            correction = transferred - sum(issued.values(), ZERO)
            if correction != 0:
                weights = issued or self._children(order, results)
                if weights:
                    for (item, _), part in zip(
                        weights.items(), split_cents(correction, list(weights.values())), strict=True
                    ):
                        into_wip = self._side("wip", order, "material", item)
                        out_of_stock = self._side("inventory", order, "", item)
                        # charged below the moving average: the difference goes back to the sub-assembly
                        debit, credit = (into_wip, out_of_stock) if part > 0 else (out_of_stock, into_wip)
                        self.builder.pair(
                            lines, "transferred_in", abs(part), debit, credit, order_doc_type(order), code, []
                        )
                    balance[(code, material)] += correction
            adjust: dict[str, Decimal] = {}
            for account in sorted({a for c, a in balance if c == code} | set(target) | set(start)):
                amount = cents(start[account]) + balance[(code, account)] - cents(target[account])
                if amount != 0:
                    adjust[account] = amount
            if not adjust:
                continue
            total = sum(adjust.values(), ZERO)
            products = [(o.item, Decimal(o.total)) for o in outputs.get(code, [])] or [(own, Decimal(1))]
            for (item, _), part in zip(products, split_cents(total, [w for _, w in products]), strict=True):
                self._book(lines, "inventory", order, "", item, part, True)
            for account, amount in adjust.items():
                self._book(
                    lines, "wip", order, element_of.get(account, "material"), own, amount, False, account
                )
        return self._draft("cost_run_variance", "cost_variance", "结转完工产品成本", lines, 2)

    def _children(
        self, order: ProductionOrder, results: dict[int, dict[str, CostResult]]
    ) -> dict[str, Decimal]:
        """Sub-orders whose whole output the order took without an issue: their products by completed cost."""
        weights: dict[str, Decimal] = defaultdict(Decimal)
        for oid, rows in results.items():
            child = self.look.orders_by_id.get(oid)
            if child is not None and child.parent_order_id == order.id and child.kind != "rework":
                weights[self.look.item_code(child.item_id)] += sum(
                    (Decimal(r.completed) for r in rows.values()), ZERO
                )
        return {k: v for k, v in weights.items() if v}

    def _book(
        self,
        lines: list[LineDraft],
        role: str,
        order: ProductionOrder,
        element: str,
        item: str,
        amount: Decimal,
        debit: bool,
        account: str | None = None,
    ) -> None:
        """One side of the completed-cost entry; a negative amount goes to the other side."""
        if amount == 0:
            return
        side = self._side(role, order, element, item)
        line = self.builder.line(
            "cost_variance", side, abs(amount), debit == (amount > 0), "", order.code, []
        )
        if line is None:
            return
        line.doc_type = order_doc_type(order)
        if account is not None and line.account != account:
            line.account, line.account_name = account, self.rules.name(account)
        add_line(lines, line)


def _close_vouchers(
    session: Session, code: str, rng: cc.PeriodRange, rules: RuleSet, plan: PeriodPlan
) -> None:
    """The closing vouchers due: reversals of a superseded closing, then the current run's missing steps."""
    period = find_period(session, code)
    run = current_run(session, period) if period is not None else None
    active = _close_sources(session, code)
    stale = {v.id: v for v, _, run_id in active if run is None or run_id != run.id}
    if stale:
        lines = voucher_lines(session, list(stale))
        for vid, voucher in stale.items():
            draft = reversal_draft(
                voucher, lines[vid], rng.last_day, "成本期间已反结账 (cost period reopened)"
            )
            draft.sort_key = (rng.last_day, 1, voucher.number)
            plan.vouchers.append(draft)
    if period is None:
        plan.close_status = "no_cost_period"
        return
    if run is None:
        plan.close_status = "cost_period_open"
        return
    plan.close_run = run.id
    done = {kind for v, kind, run_id in active if run_id == run.id}
    done |= {kind for kind in CLOSE_KINDS if done_sources(session, kind, [run.id or 0])}
    if all(kind in done for kind in CLOSE_KINDS):
        plan.close_status = "done"
        if any(ln.role == "wip" for d in plan.document_vouchers for ln in d.lines):
            plan.warnings.append(
                f"{code}'s closing vouchers were made before these documents: reopen the cost period and close "
                "it again, then generate, to bring them into the closing"
            )
        return
    if plan.unmapped:
        plan.close_status = "waiting_documents"
        plan.warnings.append(
            f"closing vouchers of {code} wait until every document of the month has a voucher "
            f"({len(plan.unmapped)} without an account rule)"
        )
        return
    report = RunCostingOut.model_validate(run.report)
    closing = Closing(session, code, rng, rules, run.id or 0)
    drafts = []
    if "cost_run_labor" not in done:
        drafts.append(closing.labor())
    if "cost_run_overhead" not in done:
        drafts.append(closing.overhead(report))
    if "cost_run_variance" not in done:
        book = _wip_book(session, code, [*plan.vouchers, *drafts])
        drafts.append(closing.variance(report, book))
    if closing.builder.missing:
        plan.close_status = "waiting_rules"
        for message in dict.fromkeys(closing.builder.missing):
            plan.unmapped.append(
                Unmapped(
                    SourceRef("cost_run_variance", run.id or 0, "cost_variance", "cost_run"),
                    rng.last_day,
                    message,
                )
            )
        return
    for draft in drafts:
        if draft.lines:
            plan.vouchers.append(draft)
        else:
            plan.close_empty.append(draft.sources[0])
    plan.close_status = "generated"


# ---------------------------------------------------------------- the plan


def plan_period(session: Session, code: str) -> PeriodPlan:
    """What generating ``code``'s vouchers would write now (nothing is written)."""
    rng = month(code)
    rules = load_rule_set(session)
    plan = PeriodPlan(rng.code)
    moves = session.exec(
        select(StockMove)
        .where(col(StockMove.move_date).between(rng.first_day, rng.last_day))
        .order_by(col(StockMove.id))
    ).all()
    done = done_sources(session, "stock_move", [m.id or 0 for m in moves])
    plan.skipped = len(done)
    pending = [m for m in moves if (m.id or 0) not in done]
    if pending:
        _document_vouchers(pending, Lookups(session, pending), rules, plan)
    _flow_vouchers(session, rng, rules, plan)
    _close_vouchers(session, rng.code, rng, rules, plan)
    plan.vouchers.sort(key=lambda d: d.sort_key)
    return plan
