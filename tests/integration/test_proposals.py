"""Proposals end to end: propose, confirm once, refuse the wrong role, stale and expired ones, races."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from data_model.tables import AuditLog, Proposal, PurchaseRequisition
from tests.helpers import call, confirm_as, race
from tools.context import Actor, engine_for, open_context
from tools.errors import ToolError
from tools.proposals import bump_versions, confirm, current_versions, get_proposal, list_proposals, reject

BUYER = Actor("bea", "buyer")
SALES = Actor("sam", "sales")
MANAGER = Actor("max", "manager")


def propose(url: str, **args: Any) -> dict[str, Any]:
    args.setdefault("lines", [{"item": "BOARD", "qty": 12, "need_date": "2026-12-07"}])
    return call(url, "propose_purchase_requests", actor=SALES, **args)


def requisitions(url: str) -> list[PurchaseRequisition]:
    with open_context(url) as ctx:
        return list(ctx.session.exec(select(PurchaseRequisition).order_by(PurchaseRequisition.code)).all())


def audit_actions(url: str, proposal_id: str) -> list[tuple[str, str, str]]:
    with open_context(url) as ctx:
        rows = ctx.session.exec(
            select(AuditLog).where(AuditLog.proposal_id == proposal_id).order_by(AuditLog.id)
        )
        return [(r.action, r.actor, r.entity_ref) for r in rows]


# ---------------------------------------------------------------- proposing


def test_propose_stores_a_pending_proposal_and_changes_nothing(shop_url: str) -> None:
    out = propose(shop_url, source_ref="MO-1 shortage")
    assert (out["kind"], out["status"], out["requested_by"]) == ("purchase_requests", "pending", "sam")
    # BOARD has a price at SUP-WOOD but no preferred supplier, so none is chosen
    assert out["summary_zh"] == "新建 1 张请购单(来源:MO-1 shortage):BOARD 12 pcs,需求日 2026-12-07。"
    assert out["summary_en"].startswith("Create 1 purchase requisition(s) (MO-1 shortage): BOARD 12 pcs")
    # the shop load bumped every domain once
    assert out["data_versions"] == {"master": 1, "purchasing": 1}
    assert out["approver_roles"] == ["buyer", "manager", "admin"]
    (line,) = out["requisitions"]
    assert (line["qty"], line["supplier"], line["unit_price"]) == (12, None, 30)  # the item's unit_cost
    assert requisitions(shop_url) == []
    expires = datetime.fromisoformat(out["expires_at"]) - datetime.fromisoformat(out["created_at"])
    assert expires == timedelta(hours=72)


def test_propose_picks_the_preferred_supplier_and_its_price_break(shop_url: str) -> None:
    out = propose(shop_url, lines=[{"item": "LEG", "qty": 200, "need_date": "2026-12-09"}])
    (line,) = out["requisitions"]
    # SUP-STEEL is LEG's preferred supplier; from 200 pieces its price is 10 instead of 11
    assert (line["supplier"], line["supplier_source"], line["unit_price"], line["amount"]) == (
        "SUP-STEEL",
        "preferred",
        10,
        2000,
    )


def test_propose_rounds_to_lot_rules_only_when_asked(shop_url: str) -> None:
    plain = propose(shop_url, lines=[{"item": "LEG", "qty": 130, "need_date": "2026-12-09"}])
    assert [r["qty"] for r in plain["requisitions"]] == [130]
    # LEG: minimum 100, multiple 50, maximum 200. 130 -> 150 (next multiple of 50)
    rounded = propose(
        shop_url, lines=[{"item": "LEG", "qty": 130, "need_date": "2026-12-09"}], round_to_lot_rules=True
    )
    assert [(r["requested_qty"], r["qty"]) for r in rounded["requisitions"]] == [(130, 150)]
    # 430 -> two full lots of 200, the remaining 30 raised to the minimum 100
    split = propose(
        shop_url, lines=[{"item": "LEG", "qty": 430, "need_date": "2026-12-09"}], round_to_lot_rules=True
    )
    assert [r["qty"] for r in split["requisitions"]] == [200, 200, 100]
    # 200-lots at the 200 price break (10), the 100-lot at 11: 2000 + 2000 + 1100
    assert split["total_amount"] == 5100


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"item": "NOPE", "qty": 1, "need_date": "2026-12-07"}, "not_found"),
        ({"item": "BOARD", "qty": 1, "need_date": "2026-12-07", "supplier": "NOPE"}, "not_found"),
        ({"item": "DESK-A", "qty": 1, "need_date": "2026-12-07"}, "invalid_input"),  # a make item
        ({"item": "BOARD", "qty": 0, "need_date": "2026-12-07"}, "invalid_input"),
        ({"item": "BOARD", "qty": 1, "need_date": "someday"}, "invalid_input"),
    ],
)
def test_propose_refuses_bad_lines_and_stores_nothing(shop_url: str, line: dict[str, Any], code: str) -> None:
    with pytest.raises(ToolError) as err:
        propose(shop_url, lines=[line])
    assert err.value.code == code
    with open_context(shop_url) as ctx:
        assert list_proposals(ctx.session) == []


# ---------------------------------------------------------------- confirming


def test_round_trip_creates_exactly_one_requisition_and_double_confirm_none_extra(shop_url: str) -> None:
    pid = propose(shop_url, source_ref="MO-1 shortage")["proposal_id"]
    first = confirm_as(shop_url, pid, BUYER)
    assert (first["status"], first["decided_by"]) == ("confirmed", "bea")
    assert first["result"]["requisitions"] == [
        {
            "code": "PR-00001",
            "item": "BOARD",
            "qty": 12,
            "need_date": "2026-12-07",
            "supplier": None,
            "status": "approved",
        }
    ]
    (pr,) = requisitions(shop_url)
    assert (pr.code, pr.qty, pr.status, pr.source_ref, pr.proposal_id, pr.created_by) == (
        "PR-00001",
        Decimal(12),
        "approved",
        "MO-1 shortage",
        pid,
        "bea",
    )
    again = confirm_as(shop_url, pid, MANAGER)
    assert again["result"] == first["result"] and again["decided_by"] == "bea"
    assert len(requisitions(shop_url)) == 1
    assert audit_actions(shop_url, pid) == [
        ("propose", "sam", pid),
        ("create", "bea", "PR-00001"),
        ("confirm", "bea", pid),
    ]
    with open_context(shop_url) as ctx:
        assert current_versions(ctx.session, ["purchasing", "master"]) == {"master": 1, "purchasing": 2}


def test_codes_continue_after_the_highest(shop_url: str) -> None:
    confirm_as(shop_url, propose(shop_url)["proposal_id"], BUYER)
    two = propose(
        shop_url,
        lines=[
            {"item": "BOARD", "qty": 1, "need_date": "2026-12-07"},
            {"item": "SCREW", "qty": 1000, "need_date": "2026-12-08"},
        ],
    )
    assert [r["code"] for r in confirm_as(shop_url, two["proposal_id"], BUYER)["result"]["requisitions"]] == [
        "PR-00002",
        "PR-00003",
    ]


def test_a_role_that_may_not_approve_is_forbidden_and_nothing_is_written(shop_url: str) -> None:
    pid = propose(shop_url)["proposal_id"]
    with pytest.raises(ToolError) as err:
        confirm_as(shop_url, pid, SALES)
    assert err.value.code == "forbidden" and err.value.http_status == 403
    assert requisitions(shop_url) == []
    with open_context(shop_url) as ctx:
        assert get_proposal(ctx.session, pid).status == "pending"
    assert confirm_as(shop_url, pid, MANAGER)["status"] == "confirmed"  # managers approve every kind


def test_a_stale_proposal_is_refused_marked_and_nothing_is_written(shop_url: str) -> None:
    stale = propose(shop_url)["proposal_id"]
    fresh = propose(shop_url, lines=[{"item": "SCREW", "qty": 500, "need_date": "2026-12-08"}])["proposal_id"]
    confirm_as(shop_url, fresh, BUYER)  # purchasing moves on: 1 -> 2
    with pytest.raises(ToolError) as err:
        confirm_as(shop_url, stale, BUYER)
    assert err.value.code == "conflict" and err.value.http_status == 409
    assert err.value.details["changed"] == {"purchasing": {"proposed_on": 1, "now": 2}}
    assert [r.proposal_id for r in requisitions(shop_url)] == [fresh]
    with open_context(shop_url) as ctx:
        marked = get_proposal(ctx.session, stale)
        assert marked.status == "failed" and marked.reason.startswith("stale")
    with pytest.raises(ToolError) as err:  # and it stays refused
        confirm_as(shop_url, stale, BUYER)
    assert err.value.code == "conflict"


def test_a_write_elsewhere_to_a_domain_it_read_makes_it_stale(shop_url: str) -> None:
    pid = propose(shop_url)["proposal_id"]
    with open_context(shop_url) as ctx:
        bump_versions(ctx.session, ["master"])  # e.g. an item's lot rules were edited
    with pytest.raises(ToolError) as err:
        confirm_as(shop_url, pid, BUYER)
    assert err.value.details["changed"] == {"master": {"proposed_on": 1, "now": 2}}
    assert requisitions(shop_url) == []


def test_an_expired_proposal_is_refused(shop_url: str) -> None:
    out = propose(shop_url)
    later = datetime.fromisoformat(out["expires_at"]) + timedelta(seconds=1)
    with pytest.raises(ToolError) as err:
        confirm_as(shop_url, out["proposal_id"], BUYER, now=later)
    assert err.value.code == "conflict" and "expired" in err.value.message
    assert requisitions(shop_url) == []
    with open_context(shop_url) as ctx:
        assert get_proposal(ctx.session, out["proposal_id"]).status == "expired"


def test_a_pending_proposal_past_expiry_lists_as_expired(shop_url: str) -> None:
    pid = propose(shop_url)["proposal_id"]
    with open_context(shop_url) as ctx:
        row = ctx.session.get(Proposal, pid)
        assert row is not None
        row.expires_at = datetime.now(UTC) - timedelta(minutes=1)
        ctx.session.add(row)
    with open_context(shop_url) as ctx:
        assert [p.proposal_id for p in list_proposals(ctx.session, status="expired")] == [pid]
        assert list_proposals(ctx.session, status="pending") == []


def test_reject_then_confirm_is_a_conflict(shop_url: str) -> None:
    pid = propose(shop_url)["proposal_id"]
    with open_context(shop_url) as ctx:
        with pytest.raises(ToolError) as err:
            reject(ctx.session, pid, Actor("wu", "warehouse"))
        assert err.value.code == "forbidden"
        # whoever asked may withdraw it
        out = reject(ctx.session, pid, SALES, "asked twice")
        assert (out.status, out.decided_by, out.reason) == ("rejected", "sam", "asked twice")
        assert reject(ctx.session, pid, BUYER).decided_by == "sam"  # idempotent
    with pytest.raises(ToolError) as err:
        confirm_as(shop_url, pid, BUYER)
    assert err.value.code == "conflict" and "rejected" in err.value.message
    assert requisitions(shop_url) == []
    with open_context(shop_url) as ctx, pytest.raises(ToolError) as err:
        reject(ctx.session, "P-unknown", BUYER)
    assert err.value.code == "not_found"


# ---------------------------------------------------------------- races


def test_concurrent_confirms_of_one_proposal_apply_it_once(shop_url: str) -> None:
    pid = propose(shop_url)["proposal_id"]
    for _ in range(3):  # the race is repeated: each round must end with exactly one application
        results = race(shop_url, [pid, pid], BUYER)
        assert all(isinstance(r, dict) and r["status"] == "confirmed" for r in results), results
        assert results[0]["result"] == results[1]["result"]  # type: ignore[index]
    assert len(requisitions(shop_url)) == 1
    assert [a for a in audit_actions(shop_url, pid) if a[0] == "confirm"] == [("confirm", "bea", pid)]


def test_two_proposals_computed_on_the_same_data_cannot_both_apply(shop_url: str) -> None:
    a = propose(shop_url)["proposal_id"]
    b = propose(shop_url, lines=[{"item": "SCREW", "qty": 500, "need_date": "2026-12-08"}])["proposal_id"]
    results = race(shop_url, [a, b], BUYER)
    applied = [r for r in results if isinstance(r, dict)]
    refused = [r for r in results if isinstance(r, ToolError)]
    assert len(applied) == 1 and len(refused) == 1, results
    assert refused[0].code == "conflict"
    assert [r.code for r in requisitions(shop_url)] == ["PR-00001"]


@pytest.fixture
def slow_apply(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Make applying a purchase request take a while, and signal when it starts (to force an overlap)."""
    import dataclasses
    import time

    from tools import proposals

    spec = proposals.get_applier("purchase_requests")
    started = threading.Event()

    def apply(session: Session, proposal: Proposal, actor: Actor) -> dict[str, Any]:
        started.set()
        time.sleep(0.5)
        return spec.apply(session, proposal, actor)

    monkeypatch.setitem(proposals._APPLIERS, "purchase_requests", dataclasses.replace(spec, apply=apply))
    return started


def overlap(url: str, first: str, second: str, started: threading.Event) -> tuple[Any, Any]:
    """Confirm ``first``; while it is applying (uncommitted), confirm ``second`` on another connection."""
    engine = engine_for(url)
    out: dict[str, Any] = {}

    def run(key: str, pid: str) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                out[key] = confirm(session, pid, BUYER).model_dump(mode="json")
            except ToolError as exc:
                out[key] = exc

    a = threading.Thread(target=run, args=("a", first))
    a.start()
    assert started.wait(10)
    b = threading.Thread(target=run, args=("b", second))
    b.start()
    a.join(30)
    b.join(30)
    return out["a"], out["b"]


def test_a_confirm_arriving_while_another_applies_returns_the_winners_result(
    shop_url: str, slow_apply: threading.Event
) -> None:
    pid = propose(shop_url)["proposal_id"]
    winner, loser = overlap(shop_url, pid, pid, slow_apply)
    assert winner["status"] == loser["status"] == "confirmed"
    assert loser["result"] == winner["result"]
    assert len(requisitions(shop_url)) == 1


def test_a_proposal_on_the_same_data_arriving_while_another_applies_is_stale(
    shop_url: str, slow_apply: threading.Event
) -> None:
    a = propose(shop_url)["proposal_id"]
    b = propose(shop_url, lines=[{"item": "SCREW", "qty": 500, "need_date": "2026-12-08"}])["proposal_id"]
    applied, refused = overlap(shop_url, a, b, slow_apply)
    assert applied["status"] == "confirmed"
    assert isinstance(refused, ToolError) and refused.code == "conflict" and refused.details["stale"]
    assert [r.proposal_id for r in requisitions(shop_url)] == [a]
