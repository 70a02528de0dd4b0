"""The web app in headless Chromium: sign-in, a Chinese question, proposals confirmed or refused by role,
orders, planning and costs, the language switch; screenshots under artifacts/screenshots/."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import UI_TIMEOUT_MS, LiveApp, Visit
from tools.context import Actor

pytestmark = pytest.mark.browser


def call_as(app: LiveApp, actor: Actor, name: str, **args: Any) -> dict[str, Any]:
    """A tool called the way the UI calls it, as ``actor``, on the served database."""
    from tools.context import open_context
    from tools.registry import call_tool

    with open_context(app.db_url, actor=actor, settings=app.settings) as ctx:
        return call_tool(ctx, name, args)


def proposal_status(app: LiveApp, proposal_id: str) -> str:
    from tools.context import open_context
    from tools.proposals import get_proposal

    with open_context(app.db_url, settings=app.settings) as ctx:
        return get_proposal(ctx.session, proposal_id).status


def test_sign_in_rejects_a_wrong_password_and_shows_the_home_view(visit: Visit) -> None:
    page = visit.page
    visit.open()
    page.locator("#op-demo-hint", has_text="demo-buyer").wait_for()
    visit.shot("sign-in")
    visit.sign_in("demo-planner", "not-the-password")
    page.locator("#op-signin-message .op-notice").wait_for()
    assert "用户名或密码不对" in page.locator("#op-signin-message").inner_text()
    visit.sign_in_ok("demo-planner")
    header = page.locator("#op-who").inner_text()
    assert "demo-planner" in header and "计划" in header
    # the home view's figures and warnings, each warning linked to its record
    assert page.locator("#op-home-figures .op-kpi").count() == 5
    page.locator("#op-home-warnings a.op-link").first.wait_for()
    visit.shot("home")


def test_a_chinese_question_is_answered_with_the_tools_number(visit: Visit) -> None:
    # what the answer must say, from the tool itself: how many more CAB-3D stock can build now
    kitting = call_as(visit.app, Actor("demo-planner", "planner"), "check_kitting", item="CAB-3D")
    buildable = str(kitting["buildable_qty"])
    page = visit.page
    visit.open()
    visit.sign_in_ok("demo-planner")
    visit.tab("chat")
    page.locator("#op-question textarea").fill("CAB-3D 现在能做多少套?")
    page.locator("#op-send").click()
    chat = page.locator("#op-chat")
    chat.get_by_text("三抽活动柜").first.wait_for(timeout=UI_TIMEOUT_MS)
    text = chat.inner_text()
    assert re.search(rf"(?<![\d.]){buildable}(?![\d.])", text), f"expected {buildable} in {text!r}"
    # the tool call behind the answer is there to expand, and the record ids are links
    assert page.locator("#op-chat", has_text="调用工具 check_kitting").count() == 1
    visit.shot("chat-answer")
    page.locator("#op-chat a[href='#op/item/CAB-3D']").first.click()
    page.locator("#op-record-detail .op-record-code", has_text="CAB-3D").wait_for()
    assert page.locator("#op-record-key input").input_value() == "CAB-3D"
    visit.shot("item-from-link")


def test_a_proposal_is_refused_to_sales_and_confirmed_by_the_buyer(visit: Visit) -> None:
    buyer = Actor("demo-buyer", "buyer", "Demo buyer")
    proposal = call_as(
        visit.app,
        buyer,
        "propose_purchase_requests",
        lines=[{"item": "LIFT-COL", "qty": 40, "need_date": "2026-12-21"}],
        source_ref="SO-1009",
    )
    pid = proposal["proposal_id"]
    page = visit.page
    visit.open()

    # sales may look but not confirm: not in their own list, shown among all pending; refused, and why
    visit.sign_in_ok("demo-sales")
    visit.tab("proposals")
    page.locator("#op-proposals-list .op-empty").wait_for()
    page.locator("label", has_text="全部待确认").click()
    page.locator(f"#op-proposals-list a[href='#op/proposal/{pid}']").click()
    detail = page.locator("#op-proposal-detail")
    detail.locator(".op-record-code", has_text=pid).wait_for()
    assert "LIFT-COL" in detail.inner_text()  # the effect it would apply
    visit.shot("proposal-as-sales")
    page.locator("#op-confirm").click()
    refusal = page.locator("#op-proposal-outcome .op-notice.op-bad")
    refusal.wait_for()
    assert "不能确认" in refusal.inner_text() and "采购" in refusal.inner_text()
    visit.shot("refused-for-sales")
    assert proposal_status(visit.app, pid) == "pending"

    # the buyer confirms it: applied once, and the requisition it made is shown
    visit.sign_out()
    visit.sign_in_ok("demo-buyer")
    visit.tab("proposals")
    page.locator(f"#op-proposals-list a[href='#op/proposal/{pid}']").click()
    detail.locator(".op-record-code", has_text=pid).wait_for()
    page.locator("#op-confirm").click()
    page.locator("#op-proposal-outcome .op-notice.op-ok").wait_for()
    assert pid in page.locator("#op-proposal-outcome").inner_text()
    assert proposal_status(visit.app, pid) == "confirmed"
    requisitions = call_as(visit.app, buyer, "list_purchase_requisitions", item="LIFT-COL")
    codes = [r["code"] for r in requisitions["requisitions"] if float(r["qty"]) == 40]
    assert codes, requisitions
    detail.get_by_text("已确认").first.wait_for()
    assert codes[0] in detail.inner_text()
    visit.shot("confirmed-by-buyer")


def test_orders_planning_and_costs_views(visit: Visit) -> None:
    page = visit.page
    visit.open()
    visit.sign_in_ok("demo-manager")

    visit.tab("orders")
    page.locator("#op-orders-list a[href='#op/so/SO-1008']").first.click()
    order = page.locator("#op-order-detail")
    order.locator(".op-record-code", has_text="SO-1008").wait_for()
    assert "MO-2612-06" in order.inner_text()  # the production order made for its filing cabinets
    visit.shot("order-detail")

    visit.tab("planning")
    page.locator("#op-run-mrp").click()
    page.locator("#op-mrp-suggestions table").wait_for()
    assert page.locator("#op-mrp-suggestions a[href='#op/item/LIFT-COL']").count() >= 1
    visit.shot("mrp")
    page.locator("#op-planning-tabs button[role=tab]").nth(2).click()
    page.locator("#op-run-schedule").click()
    page.locator("#op-schedule-summary .op-notice").wait_for()
    from tools.registry import load_all

    if "get_schedule" in load_all():
        page.locator("#op-gantt .js-plotly-plot").wait_for()
    else:
        assert "get_schedule" in page.locator("#op-schedule-summary").inner_text()
    visit.shot("schedule")

    visit.tab("costs")
    page.locator("#op-run-costing").click()
    page.locator("#op-costs-orders a[href='#op/cost/MO-2611-01']").click()
    page.locator("#op-cost-report h3", has_text="MO-2611-01").wait_for()
    page.locator("#op-cost-chart .js-plotly-plot").wait_for()
    visit.shot("cost-report")


def test_the_language_switch_relabels_the_ui(visit: Visit) -> None:
    page = visit.page
    visit.open()
    assert page.locator("#op-signin-button").inner_text().strip() == "登录"
    page.locator("#op-lang label", has_text="English").click()
    page.locator("#op-signin-button", has_text="Sign in").wait_for()
    visit.sign_in_ok("demo-buyer")
    tabs = page.locator("#op-tabs button[role=tab]").all_inner_texts()[:7]
    assert tabs == ["Home", "Assistant", "Proposals", "Orders", "Planning", "Costs", "Lookup"]
    assert "Open sales orders" in page.locator("#op-home-figures").inner_text()
    visit.tab("chat")
    # the buyer's own questions, about this factory's orders
    page.locator("#op-suggestions button", has_text="Draft purchase requests for the shortages of").wait_for()
    visit.shot("english")
    page.locator("#op-lang label", has_text="中文").click()
    page.locator("#op-tabs button[role=tab]", has_text="首页").wait_for()


def test_a_proposal_drafted_in_the_chat_opens_from_its_link(visit: Visit) -> None:
    page = visit.page
    visit.open()
    visit.sign_in_ok("demo-buyer")
    visit.tab("chat")
    # the buyer's suggested question: purchase requests for an order's uncovered shortages
    suggestion = page.locator("#op-suggestions button", has_text="做成请购单")
    suggestion.wait_for()
    suggestion.click()
    link = page.locator("#op-chat a[href^='#op/proposal/P-']").last
    link.wait_for()
    pid = link.inner_text().strip()
    assert page.locator("#op-chat", has_text="调用工具 propose_purchase_requests").count() == 1
    visit.shot("chat-proposal")
    link.click()
    detail = page.locator("#op-proposal-detail")
    detail.locator(".op-record-code", has_text=pid).wait_for()
    assert "你可以确认" in detail.inner_text()
    assert proposal_status(visit.app, pid) == "pending"  # drafted, not applied
    visit.shot("proposal-from-chat")
