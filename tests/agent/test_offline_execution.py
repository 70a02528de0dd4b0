"""The offline assistant's execution questions — material issue, production progress, completion and purchase
receipts, inspections waiting, subcontract material and customer-supplied material — in Chinese and English.

Each answer must carry the figures of the tool it called (the test calls the tool itself with the same
arguments and looks for them); a propose question leaves one pending proposal and no other change: every
business table is the same, row for row, before and after. Demo factory, today 2026-12-01.
"""

from __future__ import annotations

import hashlib
import sqlite3
from typing import Any

import pytest

from assistant.backend import AssistantReply
from assistant.offline.numbers import format_qty as q
from tests.helpers import ask_offline, assert_figures_in, call, called_args

# tables a proposal itself writes (the proposal, its audit line, the data-version rows), that hold users, or
# the offline assistant's memory of each conversation (written every turn)
NOT_BUSINESS = {
    "proposal",
    "audit_log",
    "data_version",
    "meta",
    "app_user",
    "api_token",
    "alembic_version",
    "assistant_thread",
}


def _business_digest(url: str) -> dict[str, str]:
    """A digest of every business table's rows, per table."""
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        names = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        out = {}
        for name in names:
            if name in NOT_BUSINESS or name.startswith("sqlite_"):
                continue
            rows = con.execute(f'select * from "{name}" order by rowid').fetchall()
            out[name] = hashlib.sha256(repr(rows).encode()).hexdigest()
        return out
    finally:
        con.close()


def _proposal_status(url: str, proposal_id: str) -> str:
    con = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        row = con.execute("select status from proposal where id = ?", (proposal_id,)).fetchone()
    finally:
        con.close()
    assert row is not None, proposal_id
    return str(row[0])


def _proposes(url: str, question: str, tool: str) -> tuple[AssistantReply, dict[str, Any], dict[str, Any]]:
    """Ask a propose question: one pending proposal, nothing else changed. Returns the reply, its call's
    arguments and the tool's own output for them (a second, separate proposal)."""
    before = _business_digest(url)
    reply = ask_offline(url, question)
    args = called_args(reply, tool)
    assert _business_digest(url) == before
    [pid] = [p["proposal_id"] for p in reply.proposals]
    assert _proposal_status(url, pid) == "pending"
    assert pid in reply.answer
    assert ("pending" in reply.answer) and ("confirm" in reply.answer)
    return reply, args, call(url, tool, **args)


@pytest.mark.parametrize(
    ("question", "language"),
    [("发料给 MO-2612-03 的前 20 套", "zh"), ("Issue a kit of 20 sets to MO-2612-03", "en")],
)
def test_kit_issue_is_a_pending_proposal(demo_db: str, question: str, language: str) -> None:
    reply, args, out = _proposes(demo_db, question, "propose_kit_issue")
    assert reply.language == language
    assert args == {"order": "MO-2612-03", "sets": 20}
    assert out["lines"]
    for ln in out["lines"]:
        assert_figures_in([ln["item"], q(ln["qty"]), q(ln["required"]), q(ln["issued_after"])], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"),
    [("给 MO-2611-01 发 20 个 GASLIFT", "zh"), ("issue 20 GASLIFT to MO-2611-01", "en")],
)
def test_item_issue_is_a_pending_proposal(demo_db: str, question: str, language: str) -> None:
    reply, args, out = _proposes(demo_db, question, "propose_material_issue")
    assert reply.language == language
    assert args == {"order": "MO-2611-01", "lines": [{"item": "GASLIFT", "qty": 20}]}
    [ln] = out["lines"]
    # 180 of 200 gas lifts issued: 20 more makes 200
    assert_figures_in(["GASLIFT", "20", q(ln["required"]), q(ln["issued_after"]), "200"], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"),
    [("MO-2612-05 领了多少料？完工多少？", "zh"), ("how much material has MO-2612-05 drawn so far", "en")],
)
def test_production_progress(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_production_order")
    assert args == {"order": "MO-2612-05"}
    out = call(demo_db, "get_production_order", **args)
    assert_figures_in(
        [q(out["qty"]), q(out["completed_qty"]), q(out["open_qty"]), str(out["due_date"])], reply.answer
    )
    for c in out["components"]:
        assert_figures_in([c["item"], q(c["required"]), q(c["issued"]), q(c["remaining"])], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"),
    [("MO-2612-05 完工入库 30", "zh"), ("receive 30 completed on MO-2612-05", "en")],
)
def test_completion_receipt_is_a_pending_proposal(demo_db: str, question: str, language: str) -> None:
    reply, args, out = _proposes(demo_db, question, "propose_completion_receipt")
    assert reply.language == language
    assert args == {"order": "MO-2612-05", "qty": 30}
    r = out["receipt"]
    # 30 of 100 done before: 60/100 after
    assert_figures_in(
        [
            f"{q(r['completed_after'])}/{q(r['order_qty'])}",
            "60/100",
            r["to_location"],
            q(r["estimated_unit_cost"]),
        ],
        reply.answer,
    )
    for s in r["not_yet_issued"]:
        assert_figures_in([s["item"], q(s["issued"]), q(s["needed"])], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"), [("PO-2611-01 到货 60", "zh"), ("60 arrived on PO-2611-01", "en")]
)
def test_purchase_receipt_is_a_pending_proposal(demo_db: str, question: str, language: str) -> None:
    reply, args, out = _proposes(demo_db, question, "propose_purchase_receipt")
    assert reply.language == language
    assert args == {"purchase_order": "PO-2611-01", "lines": [{"qty": 60, "line_no": 1}]}
    [ln] = out["lines"]
    assert_figures_in(
        [ln["item"], q(ln["qty"]), f"{q(ln['received_after'])}/{q(ln['ordered'])}", out["status_after"]],
        reply.answer,
    )


@pytest.mark.parametrize(
    ("question", "language"),
    [("哪些来料在待检？", "zh"), ("which incoming lots are waiting for inspection?", "en")],
)
def test_inspections_waiting(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_inspection_orders")
    out = call(demo_db, "get_inspection_orders", **args)
    assert_figures_in([str(out["total"])], reply.answer)
    for o in out["orders"]:
        assert_figures_in([o["code"], o["item"], q(o["qty"]), o["source_ref"]], reply.answer)
    # the demo's opening stock in IQC (gas lifts, fabric) is on no inspection order yet
    assert out["uncovered"]
    for u in out["uncovered"]:
        assert_figures_in([u["item"], q(u["qty"]), u["location"]], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("SC-2612-01 还有多少料在供应商那里", "zh"),
        ("what's still at the subcontractor for SC-2612-01?", "en"),
    ],
)
def test_subcontract_order_material(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_subcontract_order")
    assert args == {"order": "SC-2612-01"}
    out = call(demo_db, "get_subcontract_order", **args)
    assert_figures_in(
        [f"{q(out['received_qty'])}/{q(out['qty'])}", q(out["open_qty"]), str(out["due_date"])], reply.answer
    )
    for m in out["materials"]:
        assert_figures_in([m["item"], q(m["sent"]), q(m["consumed"]), q(m["at_supplier"])], reply.answer)
    # 120 welded frames sent, 40 came back coated: 80 still at the coater
    assert "80" in reply.answer


@pytest.mark.parametrize(
    ("question", "language"),
    [("鑫彩那边还有我们多少料", "zh"), ("how much of our material is at the subcontractors?", "en")],
)
def test_subcontractor_stock(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_subcontractor_stock")
    out = call(demo_db, "get_subcontractor_stock", **args)
    [loc] = [x for x in out["locations"] if x["supplier"] == "S-XINCAI"]
    assert_figures_in([loc["location"], q(loc["total_value"])], reply.answer)
    for i in loc["items"]:
        assert_figures_in([i["item"], q(i["qty"]), q(i["value"])], reply.answer)


@pytest.mark.parametrize(
    ("question", "language"),
    [("客供料还有多少", "zh"), ("how much customer-supplied material do we have?", "en")],
)
def test_customer_materials(demo_db: str, question: str, language: str) -> None:
    reply = ask_offline(demo_db, question)
    assert reply.language == language
    args = called_args(reply, "get_customer_materials")
    out = call(demo_db, "get_customer_materials", **args)
    if not out["customers"]:
        assert ("没有客供料" if language == "zh" else "No customer-supplied material") in reply.answer
    for c in out["customers"]:
        for i in c["items"]:
            assert_figures_in([i["item"], q(i["on_hand"]), q(i["received"])], reply.answer)


def test_a_refused_proposal_stores_nothing(demo_db: str) -> None:
    # material goes to production orders, and PO-2611-01 orders lifting columns only: whether the question
    # is refused by the tool or asked again, no proposal is stored and nothing changes
    before = _business_digest(demo_db)
    reply = ask_offline(demo_db, "给 PO-2611-01 发 20 个 GASLIFT")
    assert reply.proposals == []
    assert _business_digest(demo_db) == before
