"""The offline assistant on the demo factory: each phrasing calls the right tool, and its answer carries that
tool's own figures (the test calls the tool itself and looks for them), in the language of the question.

A capability whose tool is not installed yet must say so plainly and call nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from assistant.backend import AssistantReply
from assistant.offline.numbers import format_qty as q
from tests.helpers import ask_offline, call
from tools.registry import load_all

TODAY = date(2026, 12, 1)  # the demo dataset's clock
NOT_AVAILABLE = {"zh": "还没有上线", "en": "not available yet"}

Figures = Callable[[dict[str, Any], "Case", AssistantReply], list[str]]


# ------------------------------------------------------------------------------------------------ figures


def item_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [
        out["code"],
        q(out["on_hand"]),
        q(out["open_supply_qty"]),
        q(out["open_demand_qty"]),
        q(out["projected_qty"]),
    ]


def sales_order_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    figs = [out["code"], out["customer"], q(out["open_qty"])]
    for line in out["lines"]:
        figs += [
            line["item"],
            q(line["qty"]),
            q(line["shipped_qty"]),
            q(line["open_qty"]),
            line["requested_date"],
        ]
    return figs


def production_order_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [
        out["code"],
        out["item"],
        q(out["qty"]),
        q(out["completed_qty"]),
        q(out["open_qty"]),
        out["due_date"],
    ]


def purchase_order_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    figs = [out["code"], out["supplier"]]
    for line in out["lines"]:
        figs += [line["item"], q(line["qty"]), q(line["received_qty"]), q(line["open_qty"]), line["due_date"]]
    return figs


def overdue_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    late = [o for o in out["orders"] if o["open_qty"] > 0 and date.fromisoformat(o["earliest_due"]) < TODAY]
    assert late, "the demo factory has overdue orders"
    return [f for o in late for f in (o["code"], q(o["open_qty"]), o["earliest_due"])]


def customer_order_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    assert out["orders"]
    return [f for o in out["orders"] for f in (o["code"], o["status"], q(o["open_qty"]))]


def cost_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [
        out["production_order"], out["period"], q(out["completed_qty"]), q(out["material"]), q(out["labor"]),
        q(out["overhead"]), q(out["total"]), q(out["unit_cost"]), q(out["wip"]["total"]),
    ]  # fmt: skip


def kitting_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    figs = [out["item"], q(out["buildable_qty"]), q(out["on_hand"]), *out["limiting_items"]]
    for s in out["shortages"] if "qty" in case.args else []:
        figs += [s["item"], q(s["short"])]
    return figs


def promise_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    figs = [f for p in out["promise"] for f in (q(p["qty"]), p["date"])]
    if out.get("earliest_full_date"):
        figs.append(out["earliest_full_date"])
    return figs


def shortage_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [f for s in out["shortages"] for f in (s["item"], q(s["short"]))]


def explosion_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [f"{code} {q(v)}" for code, v in out["totals"].items()]


def where_used_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [p["item"] for p in out["parents"]]


def bom_cost_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [out["item"], q(out["unit_cost"])]


def mrp_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return [str(len(out["suggestions"])), str(len(out["exceptions"]))]


def proposal_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    # a proposal cannot be asked for twice (it would be a second one): the reply's own proposal is checked
    assert len(reply.proposals) == 1
    prop = reply.proposals[0]
    assert prop["status"] == "pending"
    return [prop["proposal_id"], q(prop["total_amount"])] + [
        f for r in prop["requisitions"] for f in (r["item"], q(r["qty"]), r["need_date"])
    ]


def draft_figures(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    """The proposal drafted from the shortage analysis requests exactly what no open order covers yet."""
    uncovered = {s["item"]: s["uncovered"] for s in out["shortages"] if s["uncovered"] > 0}
    assert uncovered, "the case needs an order with uncovered shortages"
    assert [c.name for c in reply.tool_calls] == ["analyze_shortages", "propose_purchase_requests"]
    figs = proposal_figures(out, case, reply)
    requested = {r["item"]: r["qty"] for r in reply.proposals[0]["requisitions"]}
    assert requested.items() <= uncovered.items()
    return figs + [q(v) for v in requested.values()]


def called_only(out: dict[str, Any], case: Case, reply: AssistantReply) -> list[str]:
    return []


@dataclass(frozen=True)
class Case:
    question: str
    language: str
    tool: str | None
    args: dict[str, Any] = field(default_factory=dict)
    figures: Figures = called_only
    page: str = ""  # the help page a help answer cites
    recall: bool = True  # call the tool again in the test (False for writes)


CASES = [
    # find an item / stock (get_item)
    Case("DSK-1200 库存多少", "zh", "get_item", {"item": "DSK-1200"}, item_figures),
    Case("气杆还有几根？", "zh", "get_item", {"item": "GASLIFT"}, item_figures),
    Case("帮我查一下刨花板25mm", "zh", "get_item", {"item": "PB-25"}, item_figures),
    Case("how many gas lifts do we have in stock?", "en", "get_item", {"item": "GASLIFT"}, item_figures),
    Case("stock of PB-25", "en", "get_item", {"item": "PB-25"}, item_figures),
    Case("M6螺丝 on hand 还有多少", "zh", "get_item", {"item": "SCREW-M6"}, item_figures),
    Case("look up the lift controller", "en", "get_item", {"item": "CTRL-BOX"}, item_figures),
    # order status
    Case("SO-1020 什么时候发货？", "zh", "get_sales_order", {"order": "SO-1020"}, sales_order_figures),
    Case("SO-1006 发了多少了", "zh", "get_sales_order", {"order": "SO-1006"}, sales_order_figures),
    Case("when will SO-1009 ship", "en", "get_sales_order", {"order": "SO-1009"}, sales_order_figures),
    Case("what's the status of so1015", "en", "get_sales_order", {"order": "SO-1015"}, sales_order_figures),
    Case("SO-1008 的 status 怎么样了", "zh", "get_sales_order", {"order": "SO-1008"}, sales_order_figures),
    Case(
        "MO-2612-05 做到哪了", "zh", "get_production_order", {"order": "MO-2612-05"}, production_order_figures
    ),
    Case(
        "how far along is MO-2611-03?",
        "en",
        "get_production_order",
        {"order": "MO-2611-03"},
        production_order_figures,
    ),
    Case("PO-2611-02 到货了吗", "zh", "get_purchase_order", {"order": "PO-2611-02"}, purchase_order_figures),
    Case(
        "when does PO-2612-01 arrive",
        "en",
        "get_purchase_order",
        {"order": "PO-2612-01"},
        purchase_order_figures,
    ),
    # overdue orders
    Case("哪些订单逾期了？", "zh", "list_sales_orders", {"open_only": True}, overdue_figures),
    Case("有没有拖期的单子", "zh", "list_sales_orders", {"open_only": True}, overdue_figures),
    Case("which orders are overdue?", "en", "list_sales_orders", {"open_only": True}, overdue_figures),
    Case("anything past due?", "en", "list_sales_orders", {"open_only": True}, overdue_figures),
    # a customer's orders
    Case("致远科技有哪些订单", "zh", "list_sales_orders", {"customer": "C-ZHIYUAN"}, customer_order_figures),
    Case(
        "东方医院的单子都到哪了",
        "zh",
        "list_sales_orders",
        {"customer": "C-DONGFANG"},
        customer_order_figures,
    ),
    Case(
        "orders from Galaxy Cowork",
        "en",
        "list_sales_orders",
        {"customer": "C-XINGHE"},
        customer_order_figures,
    ),
    Case(
        "list sales orders for C-LANSHAN",
        "en",
        "list_sales_orders",
        {"customer": "C-LANSHAN"},
        customer_order_figures,
    ),
    # cost reports
    Case("MO-2611-01 的成本报告", "zh", "get_cost_report", {"production_order": "MO-2611-01"}, cost_figures),
    Case(
        "MO-2611-05 实际成本多少", "zh", "get_cost_report", {"production_order": "MO-2611-05"}, cost_figures
    ),
    Case(
        "cost report for MO-2611-02",
        "en",
        "get_cost_report",
        {"production_order": "MO-2611-02"},
        cost_figures,
    ),
    Case(
        "what did MO-2610-09 cost?", "en", "get_cost_report", {"production_order": "MO-2610-09"}, cost_figures
    ),
    Case(
        "MO-2611-03 的 unit cost 是多少",
        "zh",
        "get_cost_report",
        {"production_order": "MO-2611-03"},
        cost_figures,
    ),
    # purchase requests (proposals)
    Case(
        "帮我请购 200 个气压棒，12月10日要",
        "zh",
        "propose_purchase_requests",
        {},
        proposal_figures,
        recall=False,
    ),
    Case(
        "raise a PR for 500 chair casters needed by next Friday",
        "en",
        "propose_purchase_requests",
        {},
        proposal_figures,
        recall=False,
    ),
    # kitting
    Case("DSK-1200 现在能做多少", "zh", "check_kitting", {"item": "DSK-1200"}, kitting_figures),
    Case(
        "职员椅用替代料能做多少",
        "zh",
        "check_kitting",
        {"item": "CHR-STF", "use_substitutes": True},
        kitting_figures,
    ),
    Case(
        "how many CAB-3D can we build right now", "en", "check_kitting", {"item": "CAB-3D"}, kitting_figures
    ),
    Case(
        "can we kit 50 ergonomic chairs?",
        "en",
        "check_kitting",
        {"item": "CHR-ERG", "qty": 50},
        kitting_figures,
    ),
    Case(
        "check 一下 CHR-STF 的齐套，算上替代料",
        "zh",
        "check_kitting",
        {"item": "CHR-STF", "use_substitutes": True},
        kitting_figures,
    ),
    # order promising
    Case(
        "能接500张DSK-1200、12月15日交货吗",
        "zh",
        "promise_order",
        {"item": "DSK-1200", "qty": 500, "due_date": "2026-12-15"},
        promise_figures,
    ),
    Case(
        "客户要 100 把人体工学椅，下周五能交吗",
        "zh",
        "promise_order",
        {"item": "CHR-ERG", "qty": 100, "due_date": "2026-12-11"},
        promise_figures,
    ),
    Case(
        "can we deliver 300 staff chairs by Dec 20?",
        "en",
        "promise_order",
        {"item": "CHR-STF", "qty": 300, "due_date": "2026-12-20"},
        promise_figures,
    ),
    Case(
        "earliest date we could ship 50 CAB-FILE, customer wants them by end of month",
        "en",
        "promise_order",
        {"item": "CAB-FILE", "qty": 50, "due_date": "2026-12-31"},
        promise_figures,
    ),
    Case(
        "能接 80 standing desks by next Friday 吗",
        "zh",
        "promise_order",
        {"item": "DSK-1400E", "qty": 80, "due_date": "2026-12-11"},
        promise_figures,
    ),
    # shortages
    Case(
        "MO-2612-05 缺什么料", "zh", "analyze_shortages", {"production_order": "MO-2612-05"}, shortage_figures
    ),
    Case("SO-1009 还缺哪些物料", "zh", "analyze_shortages", {"sales_order": "SO-1009"}, shortage_figures),
    Case(
        "what is short for MO-2612-03?",
        "en",
        "analyze_shortages",
        {"production_order": "MO-2612-03"},
        shortage_figures,
    ),
    Case("shortages on SO-1013", "en", "analyze_shortages", {"sales_order": "SO-1013"}, shortage_figures),
    # purchase requests drafted from shortages
    Case(
        "把 MO-2612-02 的缺料做成请购单",
        "zh",
        "analyze_shortages",
        {"production_order": "MO-2612-02"},
        draft_figures,
    ),
    Case(
        "draft purchase requests for the shortages of MO-2612-01",
        "en",
        "analyze_shortages",
        {"production_order": "MO-2612-01"},
        draft_figures,
    ),
    # BOM
    Case("展开 CHR-ERG 的 BOM", "zh", "explode_bom", {"item": "CHR-ERG"}, explosion_figures),
    Case("做 10 个活动柜要哪些料", "zh", "explode_bom", {"item": "CAB-3D", "qty": 10}, explosion_figures),
    Case(
        "explode the BOM of 20 DSK-1400E",
        "en",
        "explode_bom",
        {"item": "DSK-1400E", "qty": 20},
        explosion_figures,
    ),
    Case("气压棒用在哪些产品上", "zh", "where_used", {"item": "GASLIFT"}, where_used_figures),
    Case("where is SCREW-M6 used?", "en", "where_used", {"item": "SCREW-M6"}, where_used_figures),
    Case("which products use PB-25", "en", "where_used", {"item": "PB-25"}, where_used_figures),
    Case("人体工学椅的 BOM 成本是多少", "zh", "get_bom_cost", {"item": "CHR-ERG"}, bom_cost_figures),
    Case("what's the BOM cost of CAB-FILE?", "en", "get_bom_cost", {"item": "CAB-FILE"}, bom_cost_figures),
    # planning
    Case("跑一下 MRP", "zh", "run_mrp", {}, mrp_figures),
    Case("what does MRP suggest?", "en", "run_mrp", {}, mrp_figures),
    Case("看一下生产排程", "zh", "get_schedule", {}),
    Case("show the production schedule", "en", "get_schedule", {}),
    # help pages
    Case("什么是齐套？", "zh", None, page="kitting.zh.md"),
    Case("what does backflush mean?", "en", None, page="backflush.en.md"),
    Case("怎么确认提案", "zh", None, page="proposals.zh.md"),
    Case("what is a phantom item", "en", None, page="phantom.en.md"),
    Case("约当产量怎么算", "zh", None, page="costing.zh.md"),
    Case("how do substitutes work?", "en", None, page="substitutes.en.md"),
    Case("跳层发料是什么意思", "zh", None, page="phantom.zh.md"),
    # chit-chat and out of scope: no tool call
    Case("你好", "zh", None),
    Case("thanks!", "en", None),
    Case("今天天气怎么样", "zh", None),
    Case("tell me a joke", "en", None),
]


def test_the_phrasings_cover_both_languages_and_every_intent() -> None:
    zh = [c for c in CASES if c.language == "zh"]
    en = [c for c in CASES if c.language == "en"]
    assert len(CASES) >= 60 and len(zh) >= 30 and len(en) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c.question for c in CASES])
def test_answer_carries_the_tools_figures(demo_db: str, case: Case) -> None:
    reply = ask_offline(demo_db, case.question)
    assert reply.backend == "offline"
    assert reply.language == case.language
    assert reply.answer.strip()
    if case.tool is None:
        assert reply.tool_calls == []
        if case.page:
            assert f"assistant/offline/help/{case.page}" in reply.answer
        return
    if case.tool not in load_all():
        # an honest gap: nothing called, nothing invented
        assert NOT_AVAILABLE[case.language] in reply.answer
        assert case.tool in reply.answer
        assert reply.tool_calls == []
        return
    calls = [c for c in reply.tool_calls if c.name == case.tool]
    assert calls, f"{case.tool} not called: {reply.tool_calls}"
    made = calls[0]
    assert made.ok, made.error
    assert case.args.items() <= made.args.items()
    output = call(demo_db, case.tool, **made.args) if case.recall else {}
    for figure in case.figures(output, case, reply):
        assert figure in reply.answer, f"{figure!r} missing from:\n{reply.answer}"


def test_the_reply_has_the_contract_shape(demo_db: str) -> None:
    data = ask_offline(demo_db, "SO-1020 什么时候发货？").contract_json()
    assert {"answer", "tool_calls", "proposals", "thread_id", "backend", "language"} <= set(data)
    assert data["tool_calls"] == [
        {"name": "get_sales_order", "args": {"order": "SO-1020"}, "ok": True},
        {"name": "estimate_delivery_date", "args": {"sales_order": "SO-1020"}, "ok": True},
    ]


def test_a_missing_record_is_reported_from_the_tool(demo_db: str) -> None:
    reply = ask_offline(demo_db, "SO-9999 什么时候发货")
    assert [c.name for c in reply.tool_calls] == ["get_sales_order"]
    assert not reply.tool_calls[0].ok
    assert "SO-9999" in reply.answer and "没有找到" in reply.answer


def test_out_of_scope_lists_what_can_be_answered(demo_db: str) -> None:
    reply = ask_offline(demo_db, "tell me a joke")
    assert "I can answer" in reply.answer
    assert "a customer's sales orders" in reply.answer


def test_a_help_answer_cites_its_page_and_uses_the_index(demo_db: str) -> None:
    reply = ask_offline(demo_db, "提案过期了怎么办？")
    assert "assistant/offline/help/proposals.zh.md" in reply.answer
    assert "orderpilot proposals confirm" in reply.answer
