"""`orderpilot serve` (the HTTP API) and `orderpilot mcp` (tools over MCP, stdio or streamable HTTP)."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from cli.output import DbOption, run_in_context

if TYPE_CHECKING:
    from data_model.settings import Settings


class Transport(StrEnum):
    stdio = "stdio"
    http = "http"


def _settings(db: str | None) -> Settings:
    from data_model.settings import get_settings

    settings = get_settings()
    return settings.model_copy(update={"database_url": db}) if db else settings


def serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    db: DbOption = None,
) -> None:
    """Serve the web app (/ui, sign in with a user's password) and the HTTP API (/api/v1, OpenAPI docs at /docs;
    every API call needs a bearer token) on one port."""
    import uvicorn

    from api.app import create_app

    uvicorn.run(create_app(_settings(db)), host=host, port=port, log_level="info")


def mcp(
    transport: Annotated[
        Transport, typer.Option("--transport", help="stdio, or streamable HTTP at /mcp.")
    ] = Transport.stdio,
    host: Annotated[str, typer.Option("--host", help="HTTP: interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="HTTP: port.")] = 8001,
    user: Annotated[
        str | None, typer.Option("--user", help="stdio: act as this user; default: the local admin.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Serve every tool over MCP: stdio as one user, or HTTP where each call carries a bearer token."""
    settings = _settings(db)
    if transport is Transport.http:
        import uvicorn

        from api.mcp_server import create_mcp_http_app

        uvicorn.run(create_mcp_http_app(settings, host=host), host=host, port=port, log_level="info")
        return

    import anyio

    from api.mcp_server import serve_stdio
    from tools.auth import actor_for

    actor = run_in_context(
        settings.database_url, lambda ctx: actor_for(ctx.session, user), as_json=False, settings=settings
    )
    anyio.run(serve_stdio, settings, actor)
