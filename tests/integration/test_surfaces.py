"""Every registered tool is reachable on every surface (CLI, REST, MCP, LangChain) with the same schema."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.mcp_server import create_mcp_server
from data_model.settings import Settings
from tools import registry
from tools.auth import ensure_demo_users
from tools.context import Actor, open_context
from tools.errors import ToolError
from tools.langchain_tools import langchain_tools
from tools.registry import load_all

TOOL_NAMES = sorted(load_all())


def inline(schema: Any, defs: dict[str, Any], prefix: str) -> Any:
    """The schema with every local $ref replaced by what it points to (to compare across documents).

    FastAPI leaves out ``"default": null``, which says nothing a missing default does not; so is it here.
    """
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith(prefix):
            return inline(defs[ref[len(prefix) :]], defs, prefix)
        return {
            k: inline(v, defs, prefix)
            for k, v in schema.items()
            if k != "$defs" and not (k == "default" and v is None)
        }
    if isinstance(schema, list):
        return [inline(v, defs, prefix) for v in schema]
    return schema


def pydantic_inlined(schema: dict[str, Any]) -> Any:
    return inline(schema, schema.get("$defs", {}), "#/$defs/")


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every handler answers 'reached <name>' so each surface's dispatch is checked without running it."""
    for name, spec in load_all().items():

        def reached(ctx: Any, args: Any, name: str = name) -> Any:
            raise ToolError("infeasible", f"reached {name}", {"tool": name})

        monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(spec, handler=reached))


def assert_reached(name: str, error: dict[str, Any]) -> None:
    """Either the tool's own input validation refused ``{}``, or its handler ran."""
    assert error["code"] in ("invalid_input", "infeasible"), (name, error)
    if error["code"] == "infeasible":
        assert error["details"] == {"tool": name}


def test_schemas_are_the_same_on_every_surface(shop_sqlite_url: str) -> None:
    specs = load_all()
    # CLI
    from cli.main import app as cli_app

    listed = json.loads(CliRunner().invoke(cli_app, ["tools"]).stdout)
    assert [t["name"] for t in listed] == TOOL_NAMES
    for t in listed:
        assert t["input_schema"] == specs[t["name"]].input_schema()
        assert t["output_schema"] == specs[t["name"]].output_schema()

    # REST: the listing, and the OpenAPI document's body and response models
    with open_context(shop_sqlite_url) as ctx:
        token = ensure_demo_users(ctx.session)["demo-admin"]
    client = TestClient(create_app(Settings(database_url=shop_sqlite_url)))
    rest = client.get("/api/v1/tools", headers={"Authorization": f"Bearer {token}"}).json()
    assert [t["name"] for t in rest] == TOOL_NAMES
    for t in rest:
        assert (t["input_schema"], t["output_schema"]) == (
            specs[t["name"]].input_schema(),
            specs[t["name"]].output_schema(),
        )
    doc = client.get("/openapi.json").json()
    components = doc["components"]["schemas"]
    for name in TOOL_NAMES:
        op = doc["paths"][f"/api/v1/tools/{name}"]["post"]
        body = op["requestBody"]["content"]["application/json"]["schema"]
        body = next((s for s in body.get("anyOf", []) if "$ref" in s), body)  # an optional body: Model | null
        assert inline(body, components, "#/components/schemas/") == pydantic_inlined(
            specs[name].input_schema()
        )
        out = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert inline(out, components, "#/components/schemas/") == pydantic_inlined(
            specs[name].output_schema()
        )

    # MCP
    async def mcp_listing() -> dict[str, Any]:
        from mcp import Client

        async with Client(
            create_mcp_server(Settings(database_url=shop_sqlite_url), Actor("x", "admin"))
        ) as c:
            return {t.name: t for t in (await c.list_tools()).tools}

    mcp = anyio.run(mcp_listing)
    assert sorted(mcp) == TOOL_NAMES
    for name, t in mcp.items():
        assert (t.input_schema, t.output_schema, t.description) == (
            specs[name].input_schema(),
            specs[name].output_schema(),
            specs[name].description,
        )

    # LangChain
    lc = langchain_tools(lambda: open_context(shop_sqlite_url))
    assert [t.name for t in lc] == TOOL_NAMES
    for t in lc:
        assert t.args_schema is specs[t.name].input_model
        assert t.description == specs[t.name].description


@pytest.mark.usefixtures("stubbed")
def test_every_tool_is_reachable_on_every_surface(shop_sqlite_url: str) -> None:
    from cli.main import app as cli_app

    with open_context(shop_sqlite_url) as ctx:
        token = ensure_demo_users(ctx.session)["demo-sales"]
    client = TestClient(create_app(Settings(database_url=shop_sqlite_url)))
    lc = {t.name: t for t in langchain_tools(lambda: open_context(shop_sqlite_url))}

    async def mcp_calls() -> dict[str, Any]:
        from mcp import Client

        async with Client(
            create_mcp_server(Settings(database_url=shop_sqlite_url), Actor("x", "sales"))
        ) as c:
            return {name: (await c.call_tool(name, {})).structured_content for name in TOOL_NAMES}

    mcp = anyio.run(mcp_calls)
    for name in TOOL_NAMES:
        cli = CliRunner().invoke(cli_app, ["tool", name, "--args", "{}", "--db", shop_sqlite_url])
        assert cli.exit_code == 1
        assert_reached(name, json.loads(cli.stdout)["error"])

        r = client.post(f"/api/v1/tools/{name}", json={}, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (409, 422), (name, r.text)  # infeasible -> 409, invalid input -> 422
        assert_reached(name, r.json()["error"])

        assert_reached(name, mcp[name]["error"])

        out = lc[name].invoke({})
        assert_reached(name, (json.loads(out) if isinstance(out, str) else out)["error"])
