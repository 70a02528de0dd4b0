"""Suggested questions for each role, filled with this factory's own orders and items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway

MAX_SUGGESTIONS = 4
MAX_ORDERS_CHECKED = 12
PROMISE_DAYS_AHEAD = 21


@dataclass(frozen=True)
class Facts:
    """Records to ask about: the most urgent open sales order, a product on it, a production order with
    something short that nobody has ordered, one with a cost report, and that cost period."""

    sales_order: str | None = None
    product: str | None = None
    short_order: str | None = None
    cost_order: str | None = None
    period: str | None = None
    promise_date: str | None = None


@dataclass(frozen=True)
class Question:
    zh: str
    en: str
    needs: tuple[str, ...] = ()  # tools the question needs (left out when one is not registered)
    uses: tuple[str, ...] = ()  # facts it names (left out when one is unknown)

    def text(self, lang: str, facts: Facts) -> str:
        return (self.en if lang == "en" else self.zh).format(**facts.__dict__)


OVERDUE = Question("有哪些逾期的订单?", "Which orders are overdue?", ("list_sales_orders",))
RUN_MRP = Question("跑一下 MRP", "Run MRP", ("run_mrp",))
KITTING = Question(
    "{product} 现在能做多少套?", "How many {product} can we build now?", ("check_kitting",), ("product",)
)
ORDER_STATUS = Question(
    "{sales_order} 的进度怎么样?",
    "What is the status of {sales_order}?",
    ("get_sales_order",),
    ("sales_order",),
)
SO_SHORTAGES = Question(
    "{sales_order} 缺什么料?", "What is short for {sales_order}?", ("analyze_shortages",), ("sales_order",)
)
MO_SHORTAGES = Question(
    "{short_order} 缺什么料?", "What is short for {short_order}?", ("analyze_shortages",), ("short_order",)
)
PURCHASE_REQUESTS = Question(
    "把 {short_order} 的缺料做成请购单",
    "Draft purchase requests for the shortages of {short_order}",
    ("analyze_shortages", "propose_purchase_requests"),
    ("short_order",),
)
PROMISE = Question(
    "能接 50 个 {product}、{promise_date} 交货吗?",
    "Can we ship 50 {product} by {promise_date}?",
    ("promise_order",),
    ("product", "promise_date"),
)
SCHEDULE = Question("排一下生产计划", "Show the production schedule", ("get_schedule",))
COST_REPORT = Question(
    "{cost_order} 的成本报告", "Cost report of {cost_order}", ("get_cost_report",), ("cost_order",)
)

BY_ROLE: dict[str, tuple[Question, ...]] = {
    "sales": (PROMISE, ORDER_STATUS, KITTING, OVERDUE),
    "planner": (RUN_MRP, SO_SHORTAGES, SCHEDULE, KITTING),
    "buyer": (MO_SHORTAGES, PURCHASE_REQUESTS, RUN_MRP, OVERDUE),
    "manager": (OVERDUE, COST_REPORT, RUN_MRP, ORDER_STATUS),
    "warehouse": (MO_SHORTAGES, KITTING, ORDER_STATUS, OVERDUE),
    "quality": (MO_SHORTAGES, ORDER_STATUS, OVERDUE, KITTING),
    "admin": (OVERDUE, RUN_MRP, COST_REPORT, KITTING),
}
FALLBACK = (OVERDUE, RUN_MRP, KITTING, ORDER_STATUS, SO_SHORTAGES, COST_REPORT)


def previous_period(today: date) -> str:
    """The cost period before ``today``'s month (the one normally closed), as YYYY-MM."""
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


def gather_facts(gateway: Gateway, actor: Actor) -> Facts:
    """Pick the records the suggestions name, from the tools (what is missing stays None)."""
    sales = gateway.call(actor, "list_sales_orders", {"open_only": True, "limit": 20})["orders"]
    confirmed = [o for o in sales if o["status"] != "draft"] or sales
    sales_order = confirmed[0]["code"] if confirmed else None
    product = confirmed[0]["items"][0] if confirmed and confirmed[0].get("items") else None
    production = gateway.call(actor, "list_production_orders", {"open_only": True, "limit": 100})["orders"]
    short_order = None
    for order in [o for o in production if o["kind"] == "production"][:MAX_ORDERS_CHECKED]:
        analysis = gateway.call(actor, "analyze_shortages", {"production_order": order["code"]})
        if any(s.get("uncovered", 0) > 0 for s in analysis.get("shortages", [])):
            short_order = order["code"]
            break
    if short_order is None and production:
        short_order = production[0]["code"]
    today = gateway.today(actor)
    period = previous_period(today)
    cost_order = None
    if gateway.has_tool("run_costing"):
        try:
            costing = gateway.call(actor, "run_costing", {"period": period})
        except ToolError:
            costing = {"orders": []}  # no cost inputs for that period: no cost question
        costed = [o for o in costing.get("orders", []) if o.get("completed_qty")]
        cost_order = costed[0]["production_order"] if costed else None
    promise_date = (today + timedelta(days=PROMISE_DAYS_AHEAD)).isoformat()
    return Facts(sales_order, product, short_order, cost_order, period, promise_date)


def suggestions(role: str, lang: str, facts: Facts, available: set[str]) -> list[str]:
    """Up to four questions for ``role`` that this build can answer about records that exist."""
    chosen: list[str] = []
    for question in (*BY_ROLE.get(role, ()), *FALLBACK):
        if not all(tool in available for tool in question.needs):
            continue
        if not all(getattr(facts, name) for name in question.uses):
            continue
        text = question.text(lang, facts)
        if text not in chosen:
            chosen.append(text)
        if len(chosen) == MAX_SUGGESTIONS:
            break
    return chosen
