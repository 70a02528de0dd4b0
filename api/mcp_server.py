"""The MCP server: every registered tool with its JSON schemas, over stdio or streamable HTTP (bearer token)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from mcp.server.stdio import stdio_server
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from data_model.settings import Settings
from tools.auth import authenticate_token
from tools.context import Actor, engine_for, open_context
from tools.errors import ToolError
from tools.registry import call_tool, load_all

logger = logging.getLogger("orderpilot.mcp")

SERVER_NAME = "orderpilot"
ACTOR_SCOPE_KEY = "orderpilot.actor"
INSTRUCTIONS = (
    "OrderPilot answers manufacturing planning questions from its database. Read tools (get_, list_, "
    "find_, check_, run_, analyze_, promise_) change nothing. propose_* tools only store a proposal that "
    "a person with the right role must confirm in OrderPilot; tell the user its proposal_id."
)


def mcp_tools() -> list[types.Tool]:
    """The registry as MCP tool definitions (the same JSON schemas as REST and the CLI)."""
    return [
        types.Tool(
            name=spec.name,
            description=spec.description,
            input_schema=spec.input_schema(),
            output_schema=spec.output_schema(),
            annotations=types.ToolAnnotations(read_only_hint=spec.kind == "read", destructive_hint=False),
        )
        for spec in sorted(load_all().values(), key=lambda s: s.name)
    ]


def _text(data: Any) -> list[types.ContentBlock]:
    return [types.TextContent(text=json.dumps(data, ensure_ascii=False, default=str))]


def _error_result(code: str, message: str, details: dict[str, Any] | None = None) -> types.CallToolResult:
    payload = {"error": {"code": code, "message": message, "details": details or {}}}
    return types.CallToolResult(content=_text(payload), structured_content=payload, is_error=True)


def run_tool_call(
    settings: Settings, actor: Actor, name: str, arguments: dict[str, Any] | None
) -> types.CallToolResult:
    """Run one tool in a transaction of its own; expected failures come back as an error result."""
    try:
        with open_context(settings.database_url, actor=actor, settings=settings) as ctx:
            data = call_tool(ctx, name, arguments or {})
    except ToolError as exc:
        return _error_result(exc.code, exc.message, exc.details)
    except OperationalError as exc:
        logger.error("database unavailable: %s", str(exc.orig).strip()[:300])
        return _error_result("unavailable", "the database is not reachable; try again later")
    except Exception:  # the boundary to a remote client: log the trace, send none
        logger.exception("unexpected error in MCP tool %s", name)
        return _error_result("internal", "internal error; it has been logged")
    return types.CallToolResult(content=_text(data), structured_content=data)


def _request_actor(ctx: ServerRequestContext[Any, Any]) -> Actor | None:
    request = ctx.request
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        actor = scope.get(ACTOR_SCOPE_KEY)
        if isinstance(actor, Actor):
            return actor
    return None


def create_mcp_server(settings: Settings, actor: Actor | None = None) -> Server[Any]:
    """An MCP server for the registry. Over HTTP each request runs as its token's user; otherwise (stdio,
    in-process) as ``actor``. With neither, calls are refused."""

    async def list_tools(
        _ctx: ServerRequestContext[Any, Any], _params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=mcp_tools())

    async def call(
        ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        who = _request_actor(ctx) or actor
        if who is None:
            return _error_result("unauthenticated", "no user: send a bearer token")
        return await anyio.to_thread.run_sync(run_tool_call, settings, who, params.name, params.arguments)

    return Server(
        SERVER_NAME,
        version="1",
        title="OrderPilot",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call,
    )


def _authenticate(settings: Settings, token: str) -> Actor | None:
    with Session(engine_for(settings.database_url)) as session:
        return authenticate_token(session, token)


class BearerAuthMiddleware:
    """Every HTTP request needs a valid OrderPilot API token; the user is put in the ASGI scope."""

    def __init__(self, app: ASGIApp, authenticate: Callable[[str], Actor | None]) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        scheme, _, token = header.partition(" ")
        actor = None
        if scheme.lower() == "bearer" and token.strip():
            try:
                actor = await anyio.to_thread.run_sync(self.authenticate, token.strip())
            except OperationalError:
                response = JSONResponse(
                    {
                        "error": {
                            "code": "unavailable",
                            "message": "the database is not reachable",
                            "details": {},
                        }
                    },
                    status_code=503,
                )
                await response(scope, receive, send)
                return
        if actor is None:
            message = "invalid or revoked token" if token.strip() else "missing bearer token"
            response = JSONResponse(
                {"error": {"code": "unauthenticated", "message": message, "details": {}}},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope[ACTOR_SCOPE_KEY] = actor
        await self.app(scope, receive, send)


def create_mcp_http_app(settings: Settings, host: str = "127.0.0.1", path: str = "/mcp") -> Starlette:
    """The streamable HTTP MCP app at ``path``, each request authenticated by its bearer token."""
    server = create_mcp_server(settings)
    app = server.streamable_http_app(streamable_http_path=path, host=host, json_response=True)
    app.add_middleware(BearerAuthMiddleware, authenticate=lambda token: _authenticate(settings, token))
    return app


async def serve_stdio(settings: Settings, actor: Actor) -> None:
    """Serve MCP on this process's stdin/stdout as ``actor`` until the client disconnects."""
    server = create_mcp_server(settings, actor)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
