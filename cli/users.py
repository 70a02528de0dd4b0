"""`orderpilot users …`: add and list users, issue API tokens, set passwords, make the demo users."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import DbOption, emit_json, run_in_session

app = typer.Typer(help="Users, roles and API tokens.", no_args_is_help=True)

ROLES_HELP = "sales, planner, buyer, warehouse, quality, manager or admin"


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="Login name: letters, digits, '_', '.', '@', '-'.")],
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of {ROLES_HELP}.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
    db: DbOption = None,
) -> None:
    """Add a user with a role."""
    from tools.auth import create_user

    user = run_in_session(db, lambda s: create_user(s, username, role, display_name=name))
    emit_json(user.model_dump(mode="json"))


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """List users and their roles."""
    from tools.auth import list_users

    users = run_in_session(db, list_users)
    emit_json([u.model_dump(mode="json") for u in users])


@app.command("token")
def token(
    username: Annotated[str, typer.Argument(help="The user the token is for.")],
    name: Annotated[
        str, typer.Option("--name", help="A label for the token (e.g. the program using it).")
    ] = "cli",
    db: DbOption = None,
) -> None:
    """Issue an API token and print it once (only its hash is stored)."""
    from tools.auth import issue_token

    value = run_in_session(db, lambda s: issue_token(s, username, name=name))
    typer.echo(value)
    typer.echo(f"token for {username}: store it now, it cannot be shown again", err=True)


@app.command("revoke")
def revoke(
    username: Annotated[str, typer.Argument(help="Whose tokens to revoke.")],
    name: Annotated[str | None, typer.Option("--name", help="Only tokens with this label.")] = None,
    db: DbOption = None,
) -> None:
    """Revoke a user's API tokens."""
    from tools.auth import revoke_tokens

    count = run_in_session(db, lambda s: revoke_tokens(s, username, name=name))
    emit_json({"username": username, "revoked": count})


@app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument(help="Whose password to set.")],
    db: DbOption = None,
) -> None:
    """Set a user's password for the web sign-in (asked twice, not echoed)."""
    from tools.auth import set_password

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    run_in_session(db, lambda s: set_password(s, username, password))
    typer.echo(f"password set for {username}", err=True)


@app.command("demo")
def demo(db: DbOption = None) -> None:
    """Create one demo user per role (demo-sales … demo-admin); print their fresh tokens and the web password."""
    from data_model.settings import get_settings
    from tools.auth import ensure_demo_users

    password = get_settings().ui_demo_password
    tokens = run_in_session(db, lambda session: ensure_demo_users(session, password))
    emit_json(
        {
            "web_sign_in": {
                "users": sorted(tokens),
                "password": password or "(none: ORDERPILOT_UI_DEMO_PASSWORD is empty)",
            },
            "api_tokens": tokens,
        }
    )
