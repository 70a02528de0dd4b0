"""Cost collection for a period: order figures from documents, ledger lines to overhead pools, closing checks.

Decisions (the tools follow them):
- Material is what the period's documents charged an order: issues, supplements, kit and backflush issues
  at the moving-average cost on their moves, less returns at the cost they came back at; customer-supplied
  material carries no value. Material made by another order of the period (a sub-assembly, a subcontracted
  part) is left out: the roll-up charges it at that order's actual cost. A rework order's own item (the
  product being reworked) is left out too: it was costed by the order that made it.
- Labor is the labor reports' cost (hours × rate, or a cost entered as such); labor hours their hours.
- WIP at the period end is what a released order had not completed by then; a subcontract order holds no
  WIP of its own (material at the subcontractor is still our stock until a receipt consumes it).
- A figure entered by hand is never overwritten by a collection unless asked; a collected or defaulted one
  is recomputed every time.
"""

from __future__ import annotations

import calendar
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from planning.errors import InvalidInputError

ZERO = Decimal(0)
ONE = Decimal(1)
_PERIOD = re.compile(r"^(\d{4})-(\d{2})$")

# --------------------------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeriodRange:
    """A monthly cost period and its first and last day."""

    code: str
    first_day: date
    last_day: date

    def holds(self, day: date) -> bool:
        return self.first_day <= day <= self.last_day


def parse_period(code: str) -> PeriodRange:
    """The month ``YYYY-MM`` as a period; raises InvalidInputError for anything else."""
    found = _PERIOD.match(code.strip())
    if found is None or not 1 <= int(found.group(2)) <= 12:
        raise InvalidInputError(
            f"a cost period is a month written YYYY-MM, got {code!r}", {"field": "period", "value": code}
        )
    year, month = int(found.group(1)), int(found.group(2))
    return PeriodRange(
        code.strip(), date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
    )


def previous_period(code: str) -> str:
    """The month before ``code``."""
    period = parse_period(code)
    year, month = period.first_day.year, period.first_day.month - 1
    if month == 0:
        year, month = year - 1, 12
    return f"{year:04d}-{month:02d}"


# --------------------------------------------------------------------------------------------------------------
# Figures of one order
# --------------------------------------------------------------------------------------------------------------


class MoveDirection(StrEnum):
    TO_ORDER = "to_order"  # an issue, supplement, backflush, scrap at the subcontractor, semi-finished flow
    FROM_ORDER = "from_order"  # a return


@dataclass(frozen=True, slots=True)
class MaterialMove:
    """Material charged to (or returned from) an order by one document line; ``unit_cost`` as posted."""

    order: str
    item: str
    qty: Decimal
    unit_cost: Decimal
    direction: MoveDirection = MoveDirection.TO_ORDER
    customer_owned: bool = False

    @property
    def value(self) -> Decimal:
        sign = ONE if self.direction is MoveDirection.TO_ORDER else -ONE
        return ZERO if self.customer_owned else sign * self.qty * self.unit_cost


@dataclass(frozen=True, slots=True)
class MaterialTotal:
    """An order's net material cost of the period and what was left out of it (and why)."""

    cost: Decimal
    customer_owned_qty: Decimal  # customer-supplied material used, at no cost
    rolled_up: Mapping[str, Decimal]  # item → net value at moving average, charged by the roll-up instead
    reworked_item_value: Decimal  # the product a rework order reworks, at its moving average


def total_material(
    moves: Iterable[MaterialMove], made_in_period: set[str], reworked_item: str | None = None
) -> MaterialTotal:
    """Net material cost of one order's moves, by the rules in the module docstring."""
    cost = ZERO
    customer_qty = ZERO
    rolled: dict[str, Decimal] = defaultdict(Decimal)
    reworked = ZERO
    for move in moves:
        if move.customer_owned:
            sign = ONE if move.direction is MoveDirection.TO_ORDER else -ONE
            customer_qty += sign * move.qty
        elif move.item == reworked_item:
            reworked += move.value
        elif move.item in made_in_period:
            rolled[move.item] += move.value
        else:
            cost += move.value
    return MaterialTotal(cost, customer_qty, dict(rolled), reworked)


def labor_cost(hours: Decimal, rate: Decimal | None, entered_cost: Decimal | None) -> Decimal:
    """A labor report's cost: the cost entered, else hours × rate."""
    if entered_cost is not None:
        return entered_cost
    if rate is None:
        raise InvalidInputError("a labor report needs a rate (or its work center's cost per hour) or a cost")
    return hours * rate


def wip_qty_at_end(
    order_qty: Decimal,
    completed_by_end: Decimal,
    completed_after_end: Decimal,
    status: str,
    subcontract: bool = False,
) -> Decimal:
    """Units an order had started but not completed at the period end.

    An open order (released, in progress) holds what it has not completed; a completed or closed order held
    what it completed after the period end (it was still running then); a cancelled or planned order and a
    subcontract order hold none.
    """
    if subcontract or status in ("planned", "cancelled"):
        return ZERO
    if status in ("released", "in_progress"):
        return max(order_qty - completed_by_end, ZERO)
    return max(completed_after_end, ZERO)


class FigureSource(StrEnum):
    COLLECTED = "collected"  # from the documents of the period
    MANUAL = "manual"  # entered by a person (or loaded with a dataset)
    DEFAULT = "default"  # a setting's default (WIP completion)


FIGURES = (
    "completed_qty",
    "wip_qty",
    "wip_completion_material",
    "wip_completion_conversion",
    "opening_wip_material",
    "opening_wip_conversion",
    "material_cost",
    "labor_cost",
    "labor_hours",
    "subcontract_cost",
)
"""The figures of an order's cost inputs, in the order they are shown."""


@dataclass(frozen=True, slots=True)
class Figure:
    """One figure of an order's cost inputs and where it came from."""

    name: str
    value: Decimal
    source: FigureSource
    detail: str = ""


class FigureAction(StrEnum):
    SET = "set"  # written (new or changed)
    UNCHANGED = "unchanged"  # already that value; its source is refreshed
    KEPT_MANUAL = "kept_manual"  # entered by hand: left as it is


@dataclass(frozen=True, slots=True)
class FigureChange:
    name: str
    before: Decimal | None
    after: Decimal
    source_before: FigureSource | None
    source_after: FigureSource
    action: FigureAction
    detail: str = ""


def merge_figures(
    existing: Mapping[str, Decimal] | None,
    sources: Mapping[str, FigureSource],
    proposed: Sequence[Figure],
    overwrite_manual: bool = False,
) -> tuple[FigureChange, ...]:
    """What writing ``proposed`` over an order's existing figures does, figure by figure.

    ``existing`` is None for an order with no cost inputs yet. An existing figure with no recorded source was
    loaded with a dataset and counts as manual. A manual figure is kept unless ``overwrite_manual``; a figure
    proposed as manual (a person gave it now) always replaces what is there.
    """
    changes = []
    for figure in proposed:
        before = None if existing is None else existing.get(figure.name, ZERO)
        source_before = None if existing is None else sources.get(figure.name, FigureSource.MANUAL)
        keep = (
            source_before is FigureSource.MANUAL
            and figure.source is not FigureSource.MANUAL
            and not overwrite_manual
        )
        if keep:
            action = FigureAction.KEPT_MANUAL
            after, source_after = before if before is not None else ZERO, FigureSource.MANUAL
        else:
            action = FigureAction.UNCHANGED if before == figure.value else FigureAction.SET
            after, source_after = figure.value, figure.source
        changes.append(
            FigureChange(figure.name, before, after, source_before, source_after, action, figure.detail)
        )
    return tuple(changes)


# --------------------------------------------------------------------------------------------------------------
# General-ledger lines to overhead pools
# --------------------------------------------------------------------------------------------------------------


class MatchType(StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"


BASES = ("labor_hours", "output_qty", "material_cost")


@dataclass(frozen=True, slots=True)
class AccountRule:
    """Lines of ``account`` (exactly, or every account starting with it) go to overhead ``pool``.

    ``cost_center`` empty matches any cost center.
    """

    account: str
    match_type: MatchType
    pool: str
    basis: str = "labor_hours"
    cost_center: str = ""

    def matches(self, account: str, cost_center: str) -> bool:
        if self.cost_center and self.cost_center != cost_center:
            return False
        if self.match_type is MatchType.EXACT:
            return account == self.account
        return account.startswith(self.account)

    @property
    def specificity(self) -> tuple[bool, bool, int]:
        return (bool(self.cost_center), self.match_type is MatchType.EXACT, len(self.account))


def find_rule(rules: Iterable[AccountRule], account: str, cost_center: str = "") -> AccountRule | None:
    """The most specific rule matching a ledger line: one naming its cost center before one for any cost
    center, then an exact account before a prefix, then the longest prefix."""
    matching = [rule for rule in rules if rule.matches(account, cost_center)]
    return max(matching, key=lambda rule: rule.specificity, default=None)


@dataclass(frozen=True, slots=True)
class LedgerLine:
    """One voucher line of the general ledger; ``row`` is its row in the file (or position in the list)."""

    row: int
    account: str
    amount: Decimal
    cost_center: str = ""
    period: str = ""


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """A bad line of an import: its row, the field and what is wrong."""

    row: int | None
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class PoolTotal:
    """An overhead pool built from ledger lines: its amount and the rows it came from."""

    name: str
    basis: str
    amount: Decimal
    rows: tuple[int, ...]


def check_rules(rules: Sequence[AccountRule]) -> tuple[ImportProblem, ...]:
    """Problems of a set of mapping rules: unknown basis, or one pool given two different bases."""
    problems = []
    basis_of: dict[str, tuple[str, int]] = {}
    for index, rule in enumerate(rules):
        if rule.basis not in BASES:
            problems.append(
                ImportProblem(index + 1, "basis", f"basis {rule.basis!r} is not one of {', '.join(BASES)}")
            )
            continue
        if not rule.account.strip():
            problems.append(ImportProblem(index + 1, "account", "the account is empty"))
        if not rule.pool.strip():
            problems.append(ImportProblem(index + 1, "pool", "the overhead pool is empty"))
        seen = basis_of.setdefault(rule.pool, (rule.basis, index + 1))
        if seen[0] != rule.basis:
            problems.append(
                ImportProblem(
                    index + 1,
                    "basis",
                    f"pool {rule.pool!r} is allocated by {seen[0]} (rule {seen[1]}), not {rule.basis}",
                )
            )
    return tuple(problems)


def map_ledger_lines(
    lines: Sequence[LedgerLine], rules: Sequence[AccountRule], period: str
) -> tuple[tuple[PoolTotal, ...], tuple[ImportProblem, ...]]:
    """Add ledger lines up into overhead pools by the account rules, all or nothing.

    Every problem is listed with its row and field: a line of another period, an account no rule maps, a pool
    whose lines add up below zero. Pools come in the order their first line appears. With any problem the
    pools are not to be used.
    """
    problems = list(check_rules(rules))
    amounts: dict[str, Decimal] = {}
    bases: dict[str, str] = {}
    rows: dict[str, list[int]] = defaultdict(list)
    for line in lines:
        if line.period and line.period != period:
            problems.append(ImportProblem(line.row, "period", f"the line is for {line.period}, not {period}"))
            continue
        rule = find_rule(rules, line.account, line.cost_center)
        if rule is None:
            where = f" (cost center {line.cost_center})" if line.cost_center else ""
            problems.append(
                ImportProblem(
                    line.row,
                    "account",
                    f"account {line.account}{where} is not mapped to an overhead pool: "
                    "add an account mapping (propose_account_mapping)",
                )
            )
            continue
        amounts[rule.pool] = amounts.get(rule.pool, ZERO) + line.amount
        bases.setdefault(rule.pool, rule.basis)
        rows[rule.pool].append(line.row)
    for pool, amount in amounts.items():
        if amount < 0:
            problems.append(
                ImportProblem(
                    None,
                    "amount",
                    f"pool {pool!r} adds up to {_num(amount)} (rows {_rows(rows[pool])}): below zero",
                )
            )
    pools = tuple(PoolTotal(name, bases[name], amounts[name], tuple(rows[name])) for name in amounts)
    return pools, tuple(problems)


def _num(value: Decimal) -> str:
    """A number as a person writes it: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text


def _rows(rows: Sequence[int]) -> str:
    shown = ", ".join(str(r) for r in rows[:10])
    return shown + (f" … {len(rows)} in all" if len(rows) > 10 else "")


# --------------------------------------------------------------------------------------------------------------
# Closing checks
# --------------------------------------------------------------------------------------------------------------


class CloseSeverity(StrEnum):
    ERROR = "error"  # the period cannot be closed until it is fixed
    WARNING = "warning"  # it can be closed; the result may not be what was meant


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What closing checks know of one production order in a period."""

    order: str
    kind: str  # production | subcontract | rework
    status: str
    has_inputs: bool  # it has cost inputs in the period
    has_documents: bool  # issues, labor reports or receipts dated in the period
    received_in_period: Decimal  # receipts dated in the period
    completed_qty: Decimal = ZERO  # its cost inputs
    wip_qty: Decimal = ZERO
    labor_hours: Decimal = ZERO
    charged: Decimal = ZERO  # material + labor + subcontract of the period plus opening WIP


@dataclass(frozen=True, slots=True)
class NegativeBalance:
    item: str
    location: str
    qty: Decimal


@dataclass(frozen=True, slots=True)
class CloseProblem:
    code: str
    severity: CloseSeverity
    message: str
    order: str | None = None
    item: str | None = None
    location: str | None = None


def check_period_close(
    period: str,
    orders: Sequence[OrderFacts],
    labor_hours_pool: bool,
    negative_balances: Sequence[NegativeBalance] = (),
    previous_open: str | None = None,
) -> tuple[CloseProblem, ...]:
    """Problems that stop (errors) or question (warnings) closing a period, errors first.

    Errors: an order with documents in the period but no cost inputs (its cost would be missed); an order
    with cost that is finished but received nothing and holds no WIP (the cost has nowhere to go); a
    production order with output but no labor hours while overhead goes by labor hours; a negative stock
    balance at the period end (moving-average costs are wrong then); an earlier period still open.
    Warnings: an open order that has received nothing yet (all its cost stays in WIP); completed
    quantities that differ from the receipts of the period.
    """
    problems: list[CloseProblem] = []
    if previous_open is not None:
        problems.append(
            CloseProblem(
                "previous_period_open",
                CloseSeverity.ERROR,
                f"{previous_open} is still open: close it first (its ending WIP is {period}'s opening WIP)",
            )
        )
    for facts in orders:
        problems += _order_problems(facts, labor_hours_pool)
    for balance in negative_balances:
        problems.append(
            CloseProblem(
                "negative_stock",
                CloseSeverity.ERROR,
                f"{balance.item} at {balance.location} is {_num(balance.qty)} at the end of {period}: "
                "post the missing receipts or an adjustment first",
                item=balance.item,
                location=balance.location,
            )
        )
    return tuple(sorted(problems, key=lambda p: p.severity is not CloseSeverity.ERROR))


def _order_problems(facts: OrderFacts, labor_hours_pool: bool) -> list[CloseProblem]:
    if not facts.has_inputs:
        if not facts.has_documents:
            return []
        return [
            CloseProblem(
                "uncollected_order",
                CloseSeverity.ERROR,
                f"{facts.order} has documents in the period but no cost inputs: collect the period's costs "
                "(propose_cost_collection)",
                order=facts.order,
            )
        ]
    problems = []
    has_output = facts.completed_qty > 0 or facts.wip_qty > 0
    if facts.charged > 0 and not has_output:
        finished = facts.status in ("completed", "closed")
        problems.append(
            CloseProblem(
                "unreceived_order",
                CloseSeverity.ERROR,
                f"{facts.order} has cost {_num(facts.charged)} but "
                + ("is finished and received nothing in the period" if finished else "no output and no WIP")
                + ": post its completion receipt, or give its WIP",
                order=facts.order,
            )
        )
    elif facts.charged > 0 and facts.completed_qty == 0 and facts.received_in_period == 0:
        problems.append(
            CloseProblem(
                "not_received",
                CloseSeverity.WARNING,
                f"{facts.order} received nothing in the period: all its cost stays in WIP",
                order=facts.order,
            )
        )
    if labor_hours_pool and facts.kind == "production" and has_output and facts.labor_hours == 0:
        problems.append(
            CloseProblem(
                "missing_labor_hours",
                CloseSeverity.ERROR,
                f"{facts.order} has no labor hours, so it gets no overhead allocated by labor hours: report its "
                "labor (propose_labor_report) and collect again, or enter its hours",
                order=facts.order,
            )
        )
    if facts.has_documents and facts.completed_qty != facts.received_in_period:
        problems.append(
            CloseProblem(
                "completed_differs_from_receipts",
                CloseSeverity.WARNING,
                f"{facts.order}: completed quantity {_num(facts.completed_qty)} in its cost inputs, "
                f"{_num(facts.received_in_period)} received in the period",
                order=facts.order,
            )
        )
    return problems


# --------------------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------------------


class CompositionKey(StrEnum):
    LEVEL = "level"
    ITEM = "item"
    ORDER = "order"


@dataclass(frozen=True, slots=True)
class OrderElements:
    """The completed cost of one costed order by element (as costing reports it)."""

    order: str
    item: str
    level: int
    completed_qty: Decimal
    material: Decimal
    transferred_in: Decimal
    labor: Decimal
    overhead: Decimal
    other_conversion: Decimal
    subcontract: Decimal
    rework: Decimal
    total: Decimal
    wip_total: Decimal


@dataclass(frozen=True, slots=True)
class CompositionGroup:
    """Completed cost of a group of orders by element; ``shares`` are each element's part of ``total``."""

    key: str
    orders: tuple[str, ...]
    completed_qty: Decimal  # only meaningful when grouped by item or order
    material: Decimal
    transferred_in: Decimal
    labor: Decimal
    overhead: Decimal
    other_conversion: Decimal
    subcontract: Decimal
    rework: Decimal
    total: Decimal
    wip_total: Decimal

    def share(self, amount: Decimal) -> Decimal:
        return amount / self.total if self.total else ZERO


def compose_costs(orders: Sequence[OrderElements], by: CompositionKey) -> tuple[CompositionGroup, ...]:
    """Add costed orders up by level, item or order (levels and items in ascending order)."""
    groups: dict[str, list[OrderElements]] = defaultdict(list)
    for cost in orders:
        key = {CompositionKey.LEVEL: str(cost.level), CompositionKey.ITEM: cost.item}.get(by, cost.order)
        groups[key].append(cost)
    if by is CompositionKey.LEVEL:
        keys = sorted(groups, key=int)
    elif by is CompositionKey.ITEM:
        keys = sorted(groups)
    else:
        keys = list(groups)
    return tuple(_group(key, groups[key]) for key in keys)


def _group(key: str, costs: Sequence[OrderElements]) -> CompositionGroup:
    def total(name: str) -> Decimal:
        return sum((getattr(c, name) for c in costs), ZERO)

    return CompositionGroup(
        key=key,
        orders=tuple(c.order for c in costs),
        completed_qty=total("completed_qty"),
        material=total("material"),
        transferred_in=total("transferred_in"),
        labor=total("labor"),
        overhead=total("overhead"),
        other_conversion=total("other_conversion"),
        subcontract=total("subcontract"),
        rework=total("rework"),
        total=total("total"),
        wip_total=total("wip_total"),
    )


@dataclass(frozen=True, slots=True)
class LineProfit:
    """Revenue and production cost of a sales order line; ``margin`` = revenue - cost."""

    revenue: Decimal
    cost: Decimal
    margin: Decimal
    margin_rate: Decimal | None  # margin / revenue; None without revenue


def line_profit(qty: Decimal, unit_price: Decimal, unit_cost: Decimal) -> LineProfit:
    """Profit of ``qty`` sold at ``unit_price`` that cost ``unit_cost`` each to make."""
    revenue = qty * unit_price
    cost = qty * unit_cost
    margin = revenue - cost
    return LineProfit(revenue, cost, margin, margin / revenue if revenue else None)
