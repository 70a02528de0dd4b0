"""`orderpilot users demo`: one user per role with a token, and the web sign-in password."""

from __future__ import annotations

from tools.auth import authenticate_password, authenticate_token, ensure_demo_users
from tools.context import open_context


def test_demo_users_get_tokens_and_the_web_password(sqlite_url: str) -> None:
    with open_context(sqlite_url) as ctx:
        tokens = ensure_demo_users(ctx.session, password="s3cret-pw")
    assert sorted(tokens) == sorted(f"demo-{r}" for r in
                                    ("sales", "planner", "buyer", "warehouse", "quality", "manager", "admin"))
    with open_context(sqlite_url) as ctx:
        actor = authenticate_token(ctx.session, tokens["demo-buyer"])
        assert actor is not None and actor.role == "buyer"
        signed_in = authenticate_password(ctx.session, "demo-planner", "s3cret-pw")
        assert signed_in is not None and signed_in.role == "planner"
        assert authenticate_password(ctx.session, "demo-planner", "wrong") is None
