"""Users, roles, tokens hashed at rest, passwords, demo users, and the users/proposals commands."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli.proposals import app as proposals_cli
from cli.users import app as users_cli
from data_model.tables import ApiToken, PurchaseRequisition, User
from tools.auth import (
    actor_for,
    authenticate_password,
    authenticate_token,
    create_user,
    ensure_demo_users,
    issue_token,
    list_users,
    may_approve,
    revoke_tokens,
    set_password,
)
from tools.context import SYSTEM_ACTOR, open_context
from tools.errors import ToolError

ROLES = ["sales", "planner", "buyer", "warehouse", "quality", "manager", "admin"]


def test_users_have_one_of_the_roles(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        user = create_user(ctx.session, "li.wei", "planner", display_name="李伟")
        assert (user.username, user.role, user.display_name, user.active) == (
            "li.wei",
            "planner",
            "李伟",
            True,
        )
        for bad, code in (
            (("li.wei", "buyer"), "conflict"),
            (("zhang", "boss"), "invalid_input"),
            (("no spaces", "buyer"), "invalid_input"),
        ):
            with pytest.raises(ToolError) as err:
                create_user(ctx.session, *bad)
            assert err.value.code == code
        assert [u.username for u in list_users(ctx.session)] == ["li.wei"]


def test_tokens_are_stored_as_their_sha256_only(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        create_user(ctx.session, "bea", "buyer")
        token = issue_token(ctx.session, "bea", name="script")
    assert len(token) >= 43  # 32 random bytes, base64url
    with open_context(sqlite_url) as ctx:
        (row,) = ctx.session.exec(select(ApiToken)).all()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in row.token_hash
        actor = authenticate_token(ctx.session, token)
        assert actor is not None and (actor.username, actor.role) == ("bea", "buyer")
        assert authenticate_token(ctx.session, token + "x") is None
        assert authenticate_token(ctx.session, "") is None
        assert revoke_tokens(ctx.session, "bea") == 1
        assert authenticate_token(ctx.session, token) is None


def test_a_deactivated_user_cannot_authenticate(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        create_user(ctx.session, "old", "sales")
        token = issue_token(ctx.session, "old")
        user = ctx.session.exec(select(User).where(User.username == "old")).one()
        user.active = False
        ctx.session.add(user)
        ctx.session.flush()
        assert authenticate_token(ctx.session, token) is None
        with pytest.raises(ToolError) as err:
            actor_for(ctx.session, "old")
        assert err.value.code == "forbidden"


def test_passwords_are_optional_and_salted(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        create_user(ctx.session, "mia", "manager")
        assert authenticate_password(ctx.session, "mia", "") is None  # no password set: no password sign-in
        set_password(ctx.session, "mia", "correct horse")
        stored = ctx.session.exec(select(User.password_hash).where(User.username == "mia")).one()
        assert stored.startswith("scrypt$") and "correct horse" not in stored
        assert authenticate_password(ctx.session, "mia", "correct horse") is not None
        assert authenticate_password(ctx.session, "mia", "wrong horse") is None
        with pytest.raises(ToolError):
            set_password(ctx.session, "mia", "short")


def test_demo_users_get_fresh_tokens_each_time(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        first = ensure_demo_users(ctx.session)
    assert sorted(first) == sorted(f"demo-{r}" for r in ROLES)
    with open_context(sqlite_url) as ctx:
        second = ensure_demo_users(ctx.session)
        for username, token in second.items():
            actor = authenticate_token(ctx.session, token)
            assert actor is not None and (actor.username, actor.role) == (
                username,
                username.removeprefix("demo-"),
            )
            assert (
                authenticate_token(ctx.session, first[username]) is None
            )  # the earlier demo token is revoked
        assert len(list_users(ctx.session)) == len(ROLES)


def test_who_may_approve() -> None:
    assert (
        may_approve("buyer", ("buyer",)) and may_approve("manager", ("buyer",)) and may_approve("admin", ())
    )
    assert not may_approve("sales", ("buyer",)) and not may_approve("planner", ("buyer",))


def test_the_local_admin_needs_no_user_row(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        assert actor_for(ctx.session, None) == SYSTEM_ACTOR
        assert actor_for(ctx.session, SYSTEM_ACTOR.username) == SYSTEM_ACTOR
        with pytest.raises(ToolError) as err:
            actor_for(ctx.session, "ghost")
        assert err.value.code == "not_found"


# ---------------------------------------------------------------- commands


def test_users_commands(sqlite_url: str) -> None:
    run = CliRunner().invoke
    added = run(users_cli, ["add", "bea", "--role", "buyer", "--name", "Bea", "--db", sqlite_url])
    assert added.exit_code == 0 and json.loads(added.stdout)["role"] == "buyer"
    dup = run(users_cli, ["add", "bea", "--role", "buyer", "--db", sqlite_url])
    assert dup.exit_code == 1 and json.loads(dup.stdout)["error"]["code"] == "conflict"
    bad = run(users_cli, ["add", "x", "--role", "boss", "--db", sqlite_url])
    assert bad.exit_code == 1 and json.loads(bad.stdout)["error"]["code"] == "invalid_input"
    listed = json.loads(run(users_cli, ["list", "--db", sqlite_url]).stdout)
    assert [(u["username"], u["role"], u["display_name"]) for u in listed] == [("bea", "buyer", "Bea")]
    issued = run(users_cli, ["token", "bea", "--db", sqlite_url])
    token = issued.stdout.strip()
    assert issued.exit_code == 0 and "\n" not in token
    with open_context(sqlite_url) as ctx:
        actor = authenticate_token(ctx.session, token)
        assert actor is not None and actor.username == "bea"
    demo = json.loads(run(users_cli, ["demo", "--db", sqlite_url]).stdout)
    assert sorted(demo["api_tokens"]) == sorted(f"demo-{r}" for r in ROLES)
    assert demo["web_sign_in"]["password"] == "orderpilot"


def test_proposals_commands_confirm_as_a_user(shop_sqlite_url: str) -> None:
    from tests.helpers import call

    run = CliRunner().invoke
    db = ["--db", shop_sqlite_url]
    pid = call(
        shop_sqlite_url,
        "propose_purchase_requests",
        lines=[{"item": "BOARD", "qty": 12, "need_date": "2026-12-07"}],
    )["proposal_id"]
    with open_context(shop_sqlite_url) as ctx:
        create_user(ctx.session, "sam", "sales")
        create_user(ctx.session, "bea", "buyer")

    pending = json.loads(run(proposals_cli, ["list", *db]).stdout)
    assert [p["proposal_id"] for p in pending] == [pid]
    shown = json.loads(run(proposals_cli, ["show", pid, *db]).stdout)
    assert shown["effect"]["requisitions"][0]["item"] == "BOARD"

    refused = run(proposals_cli, ["confirm", pid, "--as", "sam", *db])
    assert refused.exit_code == 1 and json.loads(refused.stdout)["error"]["code"] == "forbidden"
    done = run(proposals_cli, ["confirm", pid, "--as", "bea", *db])
    assert done.exit_code == 0 and json.loads(done.stdout)["decided_by"] == "bea"
    again = run(proposals_cli, ["confirm", pid, *db])  # the local admin: the first result again
    assert again.exit_code == 0 and json.loads(again.stdout)["decided_by"] == "bea"
    with open_context(shop_sqlite_url) as ctx:
        assert len(ctx.session.exec(select(PurchaseRequisition)).all()) == 1

    other = call(
        shop_sqlite_url,
        "propose_purchase_requests",
        lines=[{"item": "SCREW", "qty": 500, "need_date": "2026-12-08"}],
    )["proposal_id"]
    rejected = run(proposals_cli, ["reject", other, "--reason", "not needed", *db])
    assert rejected.exit_code == 0 and json.loads(rejected.stdout)["status"] == "rejected"
    assert json.loads(run(proposals_cli, ["list", *db]).stdout) == []
    assert len(json.loads(run(proposals_cli, ["list", "--all", *db]).stdout)) == 2
    missing = run(proposals_cli, ["show", "P-none", *db])
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["code"] == "not_found"
