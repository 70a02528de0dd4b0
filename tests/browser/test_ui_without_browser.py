"""The web UI's server side without a browser: the mount in the API app, links, labels, tracking, decisions."""

from __future__ import annotations

import ast
import re
from datetime import date

import pytest
from fastapi.testclient import TestClient

from data_model.settings import Settings
from tests.helpers import ROOT
from tools.context import Actor
from ui.gateway import Gateway
from ui.i18n import TEXTS, Labels, language_from_header, t
from ui.links import linkify_html, linkify_markdown, parse_target

ITEMS = {"CAB-3D", "DRAWER", "LIFT-COL"}
UI_DIR = ROOT / "ui"


# ---------------------------------------------------------------- the mount


def test_the_ui_is_mounted_beside_the_api_and_loads_nothing_from_elsewhere(sqlite_url: str) -> None:
    from api.app import create_app

    client = TestClient(create_app(Settings(database_url=sqlite_url), ui=True))
    assert client.get("/health").json()["status"] == "ok"
    assert client.get("/api/v1/me").status_code == 401  # the API still wants its bearer token
    assert client.get("/docs").status_code == 200
    root = client.get("/", follow_redirects=False)
    assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200
    # no web fonts, CDN scripts or styles: every src/href of the page is relative or local
    sources = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
    remote = [
        s for s in sources if re.match(r"^(https?:)?//", s) and "127.0.0.1" not in s and "localhost" not in s
    ]
    assert remote == []
    assert "fonts.googleapis" not in page.text


def test_api_only_apps_have_no_ui(sqlite_url: str) -> None:
    from api.app import create_app

    client = TestClient(create_app(Settings(database_url=sqlite_url, ui_enabled=False)))
    assert client.get("/ui/").status_code == 404
    assert client.get("/health").status_code == 200


# ---------------------------------------------------------------- links


def test_record_ids_become_links_outside_code_and_existing_links() -> None:
    text = (
        "SO-1006/3 缺 DRAWER;见 `orderpilot proposals confirm P-1a2b3c4d5e` 和 [MO-2612-05](#x);P-1a2b3c4d5e"
    )
    out = linkify_markdown(text, ITEMS)
    assert "[SO-1006](#op/so/SO-1006)/3" in out
    assert "[DRAWER](#op/item/DRAWER)" in out
    assert "`orderpilot proposals confirm P-1a2b3c4d5e`" in out  # inside code: left alone
    assert "[MO-2612-05](#x)" in out  # an existing link is kept
    assert out.endswith("[P-1a2b3c4d5e](#op/proposal/P-1a2b3c4d5e)")


def test_planned_order_ids_and_unknown_codes_are_not_links() -> None:
    out = linkify_markdown("PL-LIFT-COL-1 buys LIFT-COL; MRP and BOM are words", ITEMS)
    assert "PL-LIFT-COL-1 buys [LIFT-COL](#op/item/LIFT-COL)" in out
    assert "[MRP]" not in out and "[BOM]" not in out


def test_html_links_escape_the_text_around_them() -> None:
    out = linkify_html("<b>SC-2612-01</b> & CAB-3D", ITEMS)
    assert out.startswith('&lt;b&gt;<a class="op-link" href="#op/mo/SC-2612-01">SC-2612-01</a>&lt;/b&gt;')
    assert 'href="#op/item/CAB-3D"' in out


def test_link_targets_are_parsed_strictly() -> None:
    assert parse_target("#op/so/SO-1006") is not None
    assert parse_target("cost/MO-2611-01").kind == "cost"  # type: ignore[union-attr]
    for bad in ("", "#op/so/", "#op/nope/SO-1", "#op/so/SO-1 OR 1=1", "javascript:alert(1)"):
        assert parse_target(bad) is None


# ---------------------------------------------------------------- labels


def test_every_label_has_both_languages_and_every_key_used_exists() -> None:
    assert all(zh.strip() and en.strip() for zh, en in TEXTS.values())
    used: set[str] = set()
    for path in UI_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "t" and len(node.args) >= 2:
                key = node.args[1]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    used.add(key.value)
            if isinstance(node, ast.Dict):  # labels.make(..., {"label": "key"})
                for value in node.values:
                    if (
                        isinstance(value, ast.Constant)
                        and isinstance(value.value, str)
                        and value.value in TEXTS
                    ):
                        used.add(value.value)
    missing = sorted(k for k in used if k not in TEXTS)
    assert missing == []


def test_labels_relabel_every_registered_component() -> None:
    import gradio as gr

    labels = Labels()
    with gr.Blocks():
        box = labels.make(gr.Textbox, {"label": "username", "placeholder": "chat_placeholder"})
        labels.make(gr.Button, {"value": "send"})
    assert box.label == "用户名"
    updates = labels.updates("en")
    assert updates[0]["label"] == "Username" and updates[1]["value"] == "Send"


def test_the_browser_language_picks_the_ui_language() -> None:
    assert language_from_header("en-US,en;q=0.9,zh;q=0.8") == "en"
    assert language_from_header("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert language_from_header(None) == "zh"
    assert t("en", "tool_call_title", name="run_mrp") == "Tool call: run_mrp"


# ---------------------------------------------------------------- on the demo factory


@pytest.fixture
def gateway(demo_url: str) -> Gateway:
    from tools.auth import ensure_demo_users
    from tools.context import open_context

    with open_context(demo_url) as ctx:
        ensure_demo_users(ctx.session)
    return Gateway(Settings(database_url=demo_url, ui_demo_password="orderpilot-test"))


def test_demo_users_get_the_demo_password_and_sign_in(gateway: Gateway) -> None:
    accounts = gateway.demo_accounts()
    assert "demo-buyer" in accounts and "demo-sales" in accounts
    assert gateway.sign_in("demo-buyer", "orderpilot-test") == Actor("demo-buyer", "buyer", "Demo buyer")
    assert gateway.sign_in("demo-buyer", "wrong-password") is None


def test_composed_tracking_flags_the_demo_orders_in_trouble(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the tracking tool: SO-1006 was due 2026-11-25 and is open on 2026-12-01 (overdue); SO-1009's
    standing desks need lifting columns whose buy suggestions come out late (README of the demo)."""
    from ui import tracking

    monkeypatch.setattr(Gateway, "has_tool", lambda self, name: name not in (tracking.TRACKING_TOOL,))
    report = tracking.track_orders(gateway, Actor("demo-manager", "manager"), open_only=True)
    assert report.source == "composed" and report.today == date(2026, 12, 1)
    by_code = {o.code: o for o in report.orders}
    assert by_code["SO-1006"].overdue
    assert any(f.kind == "late" and f.item == "LIFT-COL" for f in by_code["SO-1009"].flags)
    # SO-1020's 100 desks are made to order on MO-2612-05: 30 of 100 done
    assert by_code["SO-1020"].progress("production") == (30.0, 100.0)


def test_every_record_link_opens_a_view(gateway: Gateway) -> None:
    from ui.app import LINK_OUTPUTS, open_link

    actor = Actor("demo-manager", "manager")
    for raw in (
        "#op/so/SO-1008",
        "#op/mo/MO-2612-05",
        "#op/item/CAB-3D",
        "#op/cost/MO-2611-01",
        "#op/po/PO-2611-01",
    ):
        out = open_link(gateway, raw, actor, "zh", "2026-11")
        assert len(out) == LINK_OUTPUTS, raw


def test_the_navigation_event_has_as_many_outputs_as_open_link_fills(demo_url: str) -> None:
    from ui.app import LINK_OUTPUTS, build_ui

    blocks = build_ui(Settings(database_url=demo_url))
    navigate = [fn for fn in blocks.fns.values() if getattr(fn.fn, "__name__", "") == "navigate"]
    assert len(navigate) == 1 and len(navigate[0].outputs) == LINK_OUTPUTS


def test_a_refused_confirm_says_why_and_changes_nothing(gateway: Gateway) -> None:
    from ui.views.proposals import decide

    buyer = Actor("demo-buyer", "buyer", "Demo buyer")
    proposal = gateway.call(
        buyer,
        "propose_purchase_requests",
        {"lines": [{"item": "LIFT-COL", "qty": 40, "need_date": "2026-12-21"}]},
    )
    pid = proposal["proposal_id"]
    _, refused = decide(gateway, Actor("demo-sales", "sales"), "en", pid, "confirm", "")
    assert "Refused" in refused and "buyer" in refused
    assert gateway.proposal(buyer, pid).status == "pending"
    _, done = decide(gateway, buyer, "zh", pid, "confirm", "")
    assert "已确认并执行" in done
    assert gateway.proposal(buyer, pid).status == "confirmed"
