"""Closing a month for vouchers (结账) on the bike month of test_vouchers (SQLite and PostgreSQL): the checks list
every problem with its records (documents without vouchers, closing vouchers not made, an unbalanced voucher,
negative stock, the cost period open, finished orders that received nothing); closing refuses while they fail,
then posts the month's vouchers and locks it; reopening needs a manager and is audit-logged."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest
from sqlmodel import select

from data_model.stock import post_move
from data_model.tables import AuditLog, FinancePeriod, Item, StockMove, Voucher, VoucherLine
from tests.helpers import call, confirm_as, do
from tests.integration.test_costing_close import MANAGER
from tests.integration.test_production_helpers import PLANNER, WAREHOUSE
from tests.integration.test_vouchers import PERIOD, closed_month, generate, month_data
from tools.context import open_context
from tools.errors import ToolError


def data_with_december_orders() -> dict[str, Any]:
    """The month's data plus two one-bike orders for December (no November documents: not in its costing)."""
    data = month_data()
    data["production_orders"] += [
        {"id": f"MO-S{n}", "item": "BIKE", "qty": 1, "due": f"2026-12-0{n + 2}", "status": "released",
         "components": [{"item": "FRAME", "required": 1}]}
        for n in (1, 2)
    ]  # fmt: skip
    return data


@pytest.fixture
def month(db_url: str) -> str:
    return closed_month(db_url, data_with_december_orders())


def checks(url: str, period: str = PERIOD) -> dict[str, Any]:
    return call(url, "get_period_close_checks", period=period)


def errors(out: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(p["code"], p["records"]) for p in out["problems"] if p["severity"] == "error"]


def move_id(url: str, doc_ref: str, move_type: str) -> str:
    with open_context(url) as ctx:
        moves = ctx.session.exec(
            select(StockMove).where(StockMove.doc_ref == doc_ref, StockMove.move_type == move_type)
        ).all()
        return ",".join(str(m.id) for m in moves)


def test_checks_list_every_problem_with_its_records(month: str) -> None:
    # Nothing vouchered yet: every document of the month is listed with its stock moves, and the closing.
    out = checks(month)
    assert not out["ok"] and out["drafts"] == 0
    listed = errors(out)
    assert listed[0] == ("document_without_voucher", [move_id(month, "PO-F1", "receipt")])
    assert ("document_without_voucher", [move_id(month, "IQ-00001", "return")]) in listed
    assert ("document_without_voucher", move_id(month, "MO-B10", "issue").split(",")) in listed
    assert [c for c, _ in listed].count("document_without_voucher") == 11
    assert [c for c, _ in listed].count("closing_without_voucher") == 3
    first = out["problems"][0]["message"]
    assert first.startswith("receipt_notice RN-00001 (采购入库, 2026-11-02, 500.00) has no voucher")

    generate(month)
    out = checks(month)
    assert (out["ok"], out["problems"], out["drafts"]) == (True, [], 14)

    # A voucher changed behind OrderPilot's back no longer balances; stock driven below zero at the month end.
    with open_context(month) as ctx:
        voucher = ctx.session.exec(select(Voucher).where(Voucher.code == "记-2026-11-0004")).one()
        ctx.session.add(VoucherLine(voucher_id=voucher.id or 0, line_no=3, account="1403", debit=D(1)))
        seat = ctx.session.exec(select(Item).where(Item.code == "SEAT-B")).one()
        loss = post_move(ctx.session, item_id=seat.id or 0, qty=D(5), from_code="STOCK", to_code="ADJUSTMENT",
                         move_type="adjustment", move_date=date(2026, 11, 29), allow_negative=True)  # fmt: skip
        loss_id = str(loss.id)
    out = checks(month)
    assert errors(out) == [
        ("unbalanced_voucher", ["记-2026-11-0004"]),
        ("document_without_voucher", [loss_id]),  # the count loss (盘亏) of SEAT-B needs its voucher too
        ("negative_stock", ["SEAT-B@STOCK"]),  # 3 opening - 5
    ]
    assert out["problems"][0]["message"] == (
        "voucher 记-2026-11-0004 does not balance: its lines debit 51.00 and credit 50.00 (totals 50.00 / 50.00): "
        "reverse it (propose_voucher_reversal) and generate again"
    )
    assert out["problems"][2]["message"] == (
        "SEAT-B at STOCK is -2 at the end of 2026-11: post the missing receipts or an adjustment first"
    )


def test_december_orders_that_took_material_and_received_nothing(month: str) -> None:
    generate(month)
    for order, day in (("MO-S1", "2026-12-02"), ("MO-S2", "2026-12-03")):
        do(month, "propose_material_issue", WAREHOUSE, order=order, issue_date=day,
           lines=[{"item": "FRAME", "qty": 1}])  # fmt: skip
    do(month, "propose_close_production_order", PLANNER, order="MO-S1", reason="客户取消")
    out = checks(month, "2026-12")
    assert errors(out) == [
        ("document_without_voucher", [move_id(month, "MO-S1", "issue")]),
        ("document_without_voucher", [move_id(month, "MO-S2", "issue")]),
        ("cost_period_open", ["2026-12"]),
        ("unreceived_order", ["MO-S1"]),  # closed short with its frame still in WIP
    ]
    warnings = [(p["code"], p["production_order"]) for p in out["problems"] if p["severity"] == "warning"]
    assert warnings == [("overdue_unreceived_order", "MO-S2")]  # due 12-04, nothing received
    # November is not concerned: its checks still pass.
    assert checks(month)["ok"]


def test_close_posts_and_locks_the_month_and_only_a_manager_reopens_it(month: str) -> None:
    with pytest.raises(ToolError) as refused:
        call(month, "propose_finance_period_close", period=PERIOD)
    assert refused.value.code == "conflict"
    assert refused.value.message.startswith(
        "cannot close 2026-11 for vouchers: 14 error(s): receipt_notice RN-00001"
    )
    assert len(refused.value.details["problems"]) == 14

    generate(month)
    out = call(month, "propose_finance_period_close", period=PERIOD)
    assert (out["kind"], out["drafts"], out["warnings"]) == ("finance_period_close", 14, [])
    with pytest.raises(ToolError) as forbidden:
        confirm_as(month, out["proposal_id"], WAREHOUSE)
    assert forbidden.value.code == "forbidden"
    confirm_as(month, out["proposal_id"], PLANNER)
    listed = call(month, "list_vouchers", period=PERIOD)
    assert {(v["status"], v["posted_by"]) for v in listed["vouchers"]} == {("posted", "pat")}
    assert call(month, "get_voucher_status", period=PERIOD)["finance_status"] == "locked"

    # Locked: no generation, no reversal into November; a reversal goes into the next month.
    for tool, args in (
        ("propose_voucher_generation", {"period": PERIOD}),
        ("propose_voucher_reversal", {"voucher": "记-2026-11-0003", "reason": "单价有误"}),  # today is 11-30
        (
            "propose_voucher_reversal",
            {"voucher": "记-2026-11-0003", "reason": "x", "reversal_date": "2026-11-30"},
        ),
        ("propose_finance_period_close", {"period": PERIOD}),
    ):
        with pytest.raises(ToolError) as locked:
            call(month, tool, **args)
        assert locked.value.code == "conflict", tool
        assert "finance period 2026-11 is closed" in locked.value.message, tool
    reversal = call(month, "propose_voucher_reversal", voucher="记-2026-11-0003", reason="单价有误",
                       reversal_date="2026-12-01")  # fmt: skip
    assert reversal["reversal"]["voucher"] == "记-2026-12-0001"
    confirm_as(month, reversal["proposal_id"], PLANNER)
    assert call(month, "get_voucher", voucher="记-2026-11-0003")["reversed_by"] == "记-2026-12-0001"

    # Reopening: a planner may not; a manager may, and the reason is in the audit log.
    again = call(month, "propose_finance_period_reopen", period=PERIOD, reason="补录采购发票差异")
    with pytest.raises(ToolError) as planner:
        confirm_as(month, again["proposal_id"], PLANNER)
    assert planner.value.code == "forbidden"
    confirm_as(month, again["proposal_id"], MANAGER)
    with open_context(month) as ctx:
        period = ctx.session.exec(select(FinancePeriod).where(FinancePeriod.code == PERIOD)).one()
        assert (period.status, period.reopened_by, period.reopen_reason) == (
            "open",
            "max",
            "补录采购发票差异",
        )
        log = ctx.session.exec(
            select(AuditLog).where(AuditLog.entity == "finance_period", AuditLog.action == "reopen")
        ).one()
        assert (log.actor, log.after) == ("max", {"status": "open", "reason": "补录采购发票差异"})
        # posted vouchers stay posted
        assert {v.status for v in ctx.session.exec(select(Voucher).where(Voucher.period == PERIOD))} == {
            "posted", "reversed"}  # fmt: skip
    # Open again: RN-00002, reversed in December, is vouchered anew in November.
    redo = generate(month)
    assert [(v["voucher"], v["summary"]) for v in redo["vouchers"]] == [
        ("记-2026-11-0015", "采购入库 RN-00002(PO-S1)")]  # fmt: skip
    with pytest.raises(ToolError) as not_closed:
        call(month, "propose_finance_period_reopen", period=PERIOD, reason="again")
    assert not_closed.value.code == "conflict"
