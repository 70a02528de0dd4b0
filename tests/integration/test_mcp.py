"""The MCP server through the SDK's own client: in process, over streamable HTTP with tokens, over stdio."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from api.mcp_server import create_mcp_http_app, create_mcp_server
from data_model.settings import Settings
from tests.helpers import ROOT
from tools.auth import ensure_demo_users
from tools.context import Actor, open_context
from tools.proposals import get_proposal
from tools.registry import load_all

BOARD_LINE = {"item": "BOARD", "qty": 12, "need_date": "2026-12-07"}


def settings_for(url: str) -> Settings:
    return Settings(database_url=url)


def test_in_process_client_lists_and_calls_every_tool(shop_sqlite_url: str) -> None:
    server = create_mcp_server(settings_for(shop_sqlite_url), Actor("pat", "planner"))

    async def session() -> None:
        async with Client(server) as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
            assert set(listed) == set(load_all())
            assert not any(name.startswith("confirm") for name in listed)  # confirming is never a tool
            assert (
                listed["get_item"].annotations is not None and listed["get_item"].annotations.read_only_hint
            )

            found = await client.call_tool("find_items", {"query": "oak desk"})
            assert not found.is_error
            assert found.structured_content["matches"][0]["code"] == "DESK-A"
            assert json.loads(found.content[0].text) == found.structured_content  # type: ignore[union-attr]

            missing = await client.call_tool("get_item", {"item": "NOPE"})
            assert missing.is_error and missing.structured_content["error"]["code"] == "not_found"
            bad = await client.call_tool("get_item", {})
            assert bad.is_error and bad.structured_content["error"]["details"]["errors"][0]["field"] == "item"
            unknown = await client.call_tool("no_such_tool", {})
            assert unknown.is_error and unknown.structured_content["error"]["code"] == "not_found"

            proposed = await client.call_tool("propose_purchase_requests", {"lines": [BOARD_LINE]})
            assert not proposed.is_error and proposed.structured_content["status"] == "pending"
            assert proposed.structured_content["requested_by"] == "pat"

    anyio.run(session)


@pytest.fixture
def mcp_http(shop_sqlite_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """The streamable HTTP MCP app served by uvicorn on a free port: (url, {role: token})."""
    with open_context(shop_sqlite_url) as ctx:
        tokens = {name.removeprefix("demo-"): tok for name, tok in ensure_demo_users(ctx.session).items()}
    app = create_mcp_http_app(settings_for(shop_sqlite_url))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "MCP HTTP server did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/mcp", tokens
    server.should_exit = True
    thread.join(timeout=10)


def test_http_transport_authenticates_each_request_by_its_token(
    mcp_http: tuple[str, dict[str, str]], shop_sqlite_url: str
) -> None:
    url, tokens = mcp_http

    async def session() -> str:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {tokens['buyer']}"}, timeout=30)
        async with http, Client(streamable_http_client(url, http_client=http)) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert names == set(load_all())
            item = await client.call_tool("get_item", {"item": "LEG"})
            assert not item.is_error and item.structured_content["on_hand"] == 30
            proposed = await client.call_tool("propose_purchase_requests", {"lines": [BOARD_LINE]})
            return str(proposed.structured_content["proposal_id"])

    pid = anyio.run(session)
    with open_context(shop_sqlite_url) as ctx:
        assert get_proposal(ctx.session, pid).requested_by == "demo-buyer"

    for headers in ({}, {"Authorization": "Bearer wrong"}):
        r = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=headers)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthenticated"


def test_stdio_transport_runs_as_the_named_user(shop_sqlite_url: str) -> None:
    with open_context(shop_sqlite_url) as ctx:
        ensure_demo_users(ctx.session)
    params = StdioServerParameters(
        command=sys.executable,
        args=[
            "-c",
            "import typer; from cli.server import mcp; typer.run(mcp)",
            "--db",
            shop_sqlite_url,
            "--user",
            "demo-quality",
        ],
        cwd=str(ROOT),
    )

    async def session() -> dict[str, Any]:
        async with Client(params, read_timeout_seconds=60) as client:
            assert {t.name for t in (await client.list_tools()).tools} == set(load_all())
            proposed = await client.call_tool("propose_purchase_requests", {"lines": [BOARD_LINE]})
            assert not proposed.is_error
            return dict(proposed.structured_content)

    out = anyio.run(session)
    assert (out["status"], out["requested_by"]) == ("pending", "demo-quality")
