"""The offline assistant answers order-progress and "which orders may be late?" questions from the tracking
reports: the right tool is called, and the answer carries that tool's own figures (the test calls the tool
itself and looks for them), in the language of the question. Demo factory, today 2026-12-01.
"""

from __future__ import annotations

from typing import Any

import pytest

from assistant.offline.numbers import format_qty as q
from tests.helpers import ask_offline, assert_figures_in, call, called_args


def _line_figures(ln: dict[str, Any]) -> list[str]:
    figs = [ln["item"], q(ln["qty"]), q(ln["shipped_qty"]), q(ln["open_qty"]), ln["requested_date"]]
    if ln["projected_date"]:
        figs += [ln["projected_date"], ln["owed_date"]]
        figs += [
            q(ln[k])
            for k in ("ready_qty", "in_production_qty", "planned_qty", "incoming_qty", "uncovered_qty")
        ]
    if ln["days_late"]:
        figs.append(str(ln["days_late"]))
    for o in ln["production_orders"] + ln["subcontract_orders"]:
        figs += [o["code"], f"{q(o['completed_qty'])}/{q(o['qty'])}", o["due_date"]]
    figs += [r["record"] for r in ln["risks"][:6]]
    return figs


@pytest.mark.parametrize(
    ("question", "language", "order"),
    [
        ("SO-1020 到哪一步了？", "zh", "SO-1020"),
        ("客户催 SO-1008 了，现在到哪一步？", "zh", "SO-1008"),
        ("where is SO-1009 and when will it ship?", "en", "SO-1009"),
        ("track SO-1006", "en", "SO-1006"),
    ],
)
def test_where_is_a_sales_order(demo_db: str, question: str, language: str, order: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_sales_order_tracking")
    assert args == {"sales_order": order}
    out = call(demo_db, "get_sales_order_tracking", **args)
    assert_figures_in([order, str(out["total"]), str(out["at_risk"])], reply.answer)
    for ln in out["lines"]:
        assert_figures_in(_line_figures(ln), reply.answer)


def test_so1020_answer_says_what_holds_it_up(demo_db: str) -> None:
    reply = ask_offline(demo_db, "SO-1020 到哪一步了？")
    # 25 desks in stock for it, 70 still to make on MO-2612-05 (30 of 100 done), 5 not yet planned; the coated
    # frames for MO-2612-05 come from SC-2612-01 after its start
    assert_figures_in(
        ["已备 25", "生产中 70", "未安排 5", "MO-2612-05", "30/100", "SC-2612-01", "经 MO-2612-05"],
        reply.answer,
    )


def test_production_and_subcontract_orders_are_tracked_too(demo_db: str) -> None:
    reply = ask_offline(demo_db, "track production order MO-2612-01")
    args = called_args(reply, "get_production_order_tracking")
    [o] = call(demo_db, "get_production_order_tracking", **args)["orders"]
    assert_figures_in(
        [
            o["code"],
            f"{q(o['completed_qty'])}/{q(o['qty'])}",
            o["planned_finish"],
            o["projected_finish"],
            str(o["days_late"]),
            "not recorded",
        ],
        reply.answer,
    )
    reply = ask_offline(demo_db, "委外单 SC-2612-01 跟踪一下")
    args = called_args(reply, "get_subcontract_tracking")
    assert args == {"subcontract_order": "SC-2612-01"}
    [sc] = call(demo_db, "get_subcontract_tracking", **args)["orders"]
    [m] = sc["materials"]
    assert_figures_in(
        [
            sc["code"],
            f"{q(sc['received_qty'])}/{q(sc['qty'])}",
            q(sc["open_qty"]),
            sc["due_date"],
            m["item"],
            f"发出 {q(m['sent'])}",
            f"在外协厂 {q(m['at_supplier'])}",
        ],
        reply.answer,
    )


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("哪些订单可能延期？", "zh"),
        ("有哪些单子有交期风险", "zh"),
        ("which orders may be late?", "en"),
        ("show me the delivery warnings", "en"),
    ],
)
def test_which_orders_may_be_late(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_warnings")
    out = call(demo_db, "get_warnings", **args)
    sales = [w for w in out["warnings"] if w["kind"] in ("sales_overdue", "sales_projected_late")]
    overdue = sum(1 for w in sales if w["kind"] == "sales_overdue")
    assert_figures_in([out["today"], str(len(sales)), str(overdue), str(len(sales) - overdue)], reply.answer)
    for w in sales:
        assert_figures_in(
            [w["record"], q(w["qty"]), w["date"], w["projected_date"], str(w["days"])], reply.answer
        )
    # the demo's orders at risk are among them (data/demo/README.md)
    assert_figures_in(["SO-1006/1", "SO-1008/1", "SO-1009/1", "SO-1020/1"], reply.answer)
    for kind in ("purchase_overdue", "production_overdue", "subcontract_overdue", "purchase_late_for_need"):
        for w in [w for w in out["warnings"] if w["kind"] == kind][:5]:
            assert w["record"] in reply.answer
