"""The HTTP API: authentication, tool routes, proposals, errors without traces, limits, CORS, OpenAPI."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from api.deps import get_session
from data_model.settings import Settings
from data_model.tables import PurchaseRequisition
from tools import registry
from tools.auth import ensure_demo_users
from tools.registry import load_all

BOARD_LINE = {"item": "BOARD", "qty": 12, "need_date": "2026-12-07"}


def make_client(engine: sa.engine.Engine, **settings: Any) -> tuple[FastAPI, TestClient]:
    app = create_app(Settings(database_url="sqlite://", **settings))

    def session_override() -> Iterator[Session]:
        with Session(engine, expire_on_commit=False) as session:
            try:
                yield session
            finally:
                session.rollback()

    app.dependency_overrides[get_session] = session_override
    return app, TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def tokens(memory_engine: sa.engine.Engine) -> dict[str, str]:
    """{role: bearer token} of the demo users."""
    with Session(memory_engine) as session:
        made = ensure_demo_users(session)
        session.commit()
    return {name.removeprefix("demo-"): token for name, token in made.items()}


@pytest.fixture
def client(memory_engine: sa.engine.Engine) -> TestClient:
    return make_client(memory_engine)[1]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def requisition_count(engine: sa.engine.Engine) -> int:
    with Session(engine) as session:
        return len(session.exec(select(PurchaseRequisition)).all())


# ---------------------------------------------------------------- health and authentication


def test_health_needs_no_token(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "database": "sqlite"}


def test_every_call_needs_a_valid_token(client: TestClient, tokens: dict[str, str]) -> None:
    for headers in ({}, auth("not-a-token"), {"Authorization": f"Basic {tokens['admin']}"}):
        r = client.post("/api/v1/tools/get_item", json={"item": "LEG"}, headers=headers)
        assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "unauthenticated"
    assert client.get("/api/v1/tools").status_code == 401
    assert client.get("/api/v1/proposals").status_code == 401
    me = client.get("/api/v1/me", headers=auth(tokens["planner"])).json()
    assert (me["username"], me["role"]) == ("demo-planner", "planner")


# ---------------------------------------------------------------- tool routes


def test_a_read_tool_answers_json_numbers(client: TestClient, tokens: dict[str, str]) -> None:
    r = client.post("/api/v1/tools/get_item", json={"item": "LEG"}, headers=auth(tokens["sales"]))
    assert r.status_code == 200
    body = r.json()
    assert (body["on_hand"], body["projected_qty"]) == (30, 62)  # see test_read_tools: 30 + 8 + 50 - 26
    r = client.post("/api/v1/tools/list_sales_orders", headers=auth(tokens["sales"]))  # no body: all defaults
    assert [o["code"] for o in r.json()["orders"]] == ["SO-1", "SO-2", "SO-3"]


def test_tool_errors_map_to_http_statuses(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["sales"])
    r = client.post("/api/v1/tools/get_item", json={"item": "NOPE"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post(
        "/api/v1/tools/propose_purchase_requests",
        json={"lines": [{"item": "DESK-A", "qty": 1, "need_date": "2026-12-07"}]},
        headers=h,
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"
    assert client.post("/api/v1/tools/no_such_tool", json={}, headers=h).status_code == 404


def test_invalid_input_names_the_fields(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["buyer"])
    r = client.post(
        "/api/v1/tools/propose_purchase_requests",
        json={"lines": [{"item": "BOARD", "qty": -1, "need_date": "2026-12-07"}]},
        headers=h,
    )
    assert r.status_code == 422
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    assert [e["field"] for e in error["details"]["errors"]] == ["lines.0.qty"]
    r = client.post("/api/v1/tools/get_item", json={}, headers=h)
    assert r.json()["error"]["details"]["errors"] == [{"field": "item", "message": "Field required"}]
    r = client.post(
        "/api/v1/tools/get_item", content=b"{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_input"


# ---------------------------------------------------------------- proposals


def test_propose_then_confirm_by_role(
    client: TestClient, tokens: dict[str, str], memory_engine: sa.engine.Engine
) -> None:
    r = client.post(
        "/api/v1/tools/propose_purchase_requests", json={"lines": [BOARD_LINE]}, headers=auth(tokens["sales"])
    )
    assert r.status_code == 200
    proposal = r.json()
    assert (proposal["status"], proposal["requested_by"]) == ("pending", "demo-sales")
    pid = proposal["proposal_id"]
    assert requisition_count(memory_engine) == 0

    r = client.post(f"/api/v1/proposals/{pid}/confirm", headers=auth(tokens["sales"]))
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert requisition_count(memory_engine) == 0

    listed = client.get(
        "/api/v1/proposals", params={"status": "pending"}, headers=auth(tokens["buyer"])
    ).json()
    assert [p["proposal_id"] for p in listed] == [pid]

    first = client.post(f"/api/v1/proposals/{pid}/confirm", headers=auth(tokens["buyer"]))
    assert first.status_code == 200
    assert first.json()["status"] == "confirmed"
    assert first.json()["result"]["requisitions"][0]["code"] == "PR-00001"
    second = client.post(f"/api/v1/proposals/{pid}/confirm", headers=auth(tokens["buyer"]))
    assert second.status_code == 200 and second.json()["result"] == first.json()["result"]
    assert requisition_count(memory_engine) == 1

    shown = client.get(f"/api/v1/proposals/{pid}", headers=auth(tokens["quality"])).json()
    assert (shown["status"], shown["decided_by"]) == ("confirmed", "demo-buyer")
    r = client.post(f"/api/v1/proposals/{pid}/reject", json={"reason": "late"}, headers=auth(tokens["buyer"]))
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"


def test_a_stale_proposal_is_409(
    client: TestClient, tokens: dict[str, str], memory_engine: sa.engine.Engine
) -> None:
    h = auth(tokens["buyer"])
    stale = client.post(
        "/api/v1/tools/propose_purchase_requests", json={"lines": [BOARD_LINE]}, headers=h
    ).json()
    fresh = client.post(
        "/api/v1/tools/propose_purchase_requests", json={"lines": [BOARD_LINE]}, headers=h
    ).json()
    assert client.post(f"/api/v1/proposals/{fresh['proposal_id']}/confirm", headers=h).status_code == 200
    r = client.post(f"/api/v1/proposals/{stale['proposal_id']}/confirm", headers=h)
    assert r.status_code == 409 and r.json()["error"]["details"]["stale"] is True
    assert requisition_count(memory_engine) == 1


def test_reject_and_unknown_proposals(client: TestClient, tokens: dict[str, str]) -> None:
    h = auth(tokens["planner"])
    pid = client.post(
        "/api/v1/tools/propose_purchase_requests", json={"lines": [BOARD_LINE]}, headers=h
    ).json()["proposal_id"]
    r = client.post(
        f"/api/v1/proposals/{pid}/reject", json={"reason": "duplicate"}, headers=h
    )  # the requester
    assert r.status_code == 200 and (r.json()["status"], r.json()["reason"]) == ("rejected", "duplicate")
    assert client.get("/api/v1/proposals/P-nope", headers=h).status_code == 404
    assert client.get("/api/v1/proposals/bad id!", headers=h).status_code in (404, 422)
    assert client.get("/api/v1/proposals", params={"status": "bogus"}, headers=h).status_code == 422


# ---------------------------------------------------------------- failures never show a trace


def test_an_unexpected_error_is_a_500_without_a_trace(
    client: TestClient, tokens: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(ctx: Any, args: Any) -> Any:
        raise RuntimeError("secret internals")

    spec = load_all()["find_items"]
    monkeypatch.setitem(registry._REGISTRY, "find_items", dataclasses.replace(spec, handler=boom))
    r = client.post("/api/v1/tools/find_items", json={"query": "x"}, headers=auth(tokens["admin"]))
    assert r.status_code == 500
    assert r.json() == {
        "error": {"code": "internal", "message": "internal error; it has been logged", "details": {}}
    }
    assert "secret" not in r.text and "Traceback" not in r.text


def test_a_lost_database_is_503(tmp_path: Any) -> None:
    gone = sa.create_engine(f"sqlite:///{tmp_path}/missing-dir/none.sqlite")  # the folder does not exist
    _, client = make_client(gone)
    r = client.get("/health")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "unavailable" and "Traceback" not in r.text


def test_request_body_limit_is_413(memory_engine: sa.engine.Engine, tokens: dict[str, str]) -> None:
    _, client = make_client(memory_engine, max_request_bytes=1000)
    big = {"query": "x" * 5000}
    r = client.post("/api/v1/tools/find_items", json=big, headers=auth(tokens["admin"]))
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"query": "'
        yield b"x" * 5000
        yield b'"}'

    r = client.post(
        "/api/v1/tools/find_items",
        content=chunks(),
        headers={**auth(tokens["admin"]), "Content-Type": "application/json"},
    )
    assert r.status_code == 413


def test_cors_is_closed_unless_origins_are_configured(memory_engine: sa.engine.Engine) -> None:
    preflight = {"Origin": "http://ui.example", "Access-Control-Request-Method": "POST"}
    _, closed = make_client(memory_engine)
    assert (
        "access-control-allow-origin"
        not in closed.options("/api/v1/tools/get_item", headers=preflight).headers
    )
    _, open_ = make_client(memory_engine, cors_origins="http://ui.example")
    r = open_.options("/api/v1/tools/get_item", headers=preflight)
    assert r.headers["access-control-allow-origin"] == "http://ui.example"
    r = open_.options("/api/v1/tools/get_item", headers={**preflight, "Origin": "http://evil.example"})
    assert "access-control-allow-origin" not in r.headers


# ---------------------------------------------------------------- OpenAPI


def test_openapi_describes_every_tool_route_with_its_models(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert doc["components"]["securitySchemes"]["token"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "API token from `orderpilot users token USERNAME`, sent as `Authorization: Bearer TOKEN`.",
    }
    for name, spec in load_all().items():
        op = doc["paths"][f"/api/v1/tools/{name}"]["post"]
        assert op["operationId"] == name
        assert op["security"] == [{"token": []}]
        body_ref = op["requestBody"]["content"]["application/json"]["schema"]
        body_ref = body_ref.get("$ref") or next(s["$ref"] for s in body_ref["anyOf"] if "$ref" in s)
        body = schemas[body_ref.rsplit("/", 1)[1]]
        assert set(body["properties"]) == set(spec.input_model.model_fields)
        assert set(body.get("required", [])) == {
            k for k, f in spec.input_model.model_fields.items() if f.is_required()
        }
        out_ref = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        assert set(schemas[out_ref.rsplit("/", 1)[1]]["properties"]) == set(spec.output_model.model_fields)
        assert op["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorOut")
    for path in ("/api/v1/proposals/{proposal_id}/confirm", "/api/v1/proposals/{proposal_id}/reject"):
        assert doc["paths"][path]["post"]["responses"]["200"]["content"]["application/json"]["schema"][
            "$ref"
        ].endswith("/ProposalDetail")
