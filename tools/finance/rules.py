"""Voucher account rules: which account a line of a role goes to, the most specific matching rule first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Tie-break order between rules with as many keys: the earlier key is the more telling one (a location at a
# subcontractor says more about where value sits than the item's category does).
KEY_ORDER = ("event", "location_kind", "doc_type", "cost_element", "pool", "item_category")
RULE_KEYS = ("role", *KEY_ORDER)


@dataclass(frozen=True, slots=True)
class RuleQuery:
    """One side of a voucher line: its role and what is known of it.

    ``item_categories`` are the item's category and then its source (make / buy / subcontract): a rule for
    the category wins over a rule for the source.
    """

    role: str
    event: str = ""
    item_categories: tuple[str, ...] = ()
    location_kind: str = ""
    cost_element: str = ""
    doc_type: str = ""
    pool: str = ""


@dataclass(frozen=True, slots=True)
class AccountRule:
    """Lines of ``role`` whose keys match (an empty key matches anything) go to ``account``."""

    role: str
    account: str
    event: str = ""
    item_category: str = ""
    location_kind: str = ""
    cost_element: str = ""
    doc_type: str = ""
    pool: str = ""

    @property
    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, name) for name in RULE_KEYS)

    def category_level(self, query: RuleQuery) -> int:
        """2: the item's own category matched; 1: its source; 0: the rule names no category; -1: no match."""
        if not self.item_category:
            return 0
        for level, value in zip((2, 1), query.item_categories, strict=False):
            if value and value == self.item_category:
                return level
        return -1

    def matches(self, query: RuleQuery) -> bool:
        if self.role != query.role or self.category_level(query) < 0:
            return False
        return all(
            not getattr(self, name) or getattr(self, name) == getattr(query, name)
            for name in ("event", "location_kind", "cost_element", "doc_type", "pool")
        )

    def specificity(self, query: RuleQuery) -> tuple[int, ...]:
        """More keys first, then the keys in KEY_ORDER (the item's category before its source)."""
        levels = [1 if getattr(self, name) else 0 for name in KEY_ORDER[:-1]]
        levels.append(self.category_level(query))
        return (sum(1 for v in levels if v), *levels)


def find_rule(rules: Iterable[AccountRule], query: RuleQuery) -> AccountRule | None:
    """The most specific rule matching ``query``; None when no rule matches."""
    matching = [rule for rule in rules if rule.matches(query)]
    return max(matching, key=lambda rule: rule.specificity(query), default=None)


@dataclass(frozen=True, slots=True)
class RuleProblem:
    index: int
    field: str
    message: str


def check_rules(
    rules: Sequence[AccountRule], accounts: set[str], roles: Sequence[str]
) -> tuple[RuleProblem, ...]:
    """Problems of a rule set: an unknown role, an account not in the chart, two rules with one key."""
    problems = []
    seen: dict[tuple[str, ...], int] = {}
    for index, rule in enumerate(rules):
        if rule.role not in roles:
            problems.append(
                RuleProblem(index, "role", f"role {rule.role!r} is not one of {', '.join(roles)}")
            )
        if rule.account not in accounts:
            problems.append(
                RuleProblem(index, "account", f"account {rule.account!r} is not in the chart of accounts")
            )
        if rule.key in seen:
            problems.append(RuleProblem(index, "role", f"rule {index + 1} repeats rule {seen[rule.key] + 1}"))
        seen.setdefault(rule.key, index)
    return tuple(problems)
