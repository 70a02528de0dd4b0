"""POST /api/v1/chat and /api/v1/chat/stream with the app's test client and a loopback model."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.chat import router as chat_router
from assistant.agent import close_checkpointers
from data_model.settings import Settings
from tests.agent.openai_stub import Completion, OpenAIStub, ToolCallSpec
from tools.auth import create_user, issue_token
from tools.context import open_context

FRAME_REQUEST = {"lines": [{"item": "FRAME", "qty": 5, "need_date": "2026-12-08"}]}


def chat_app(settings: Settings) -> FastAPI:
    app = create_app(settings)
    if not any(getattr(r, "path", "") == "/api/v1/chat" for r in app.routes):
        app.include_router(chat_router)
    return app


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server
    close_checkpointers()


@pytest.fixture
def client(bike_url: str, stub: OpenAIStub) -> Iterator[tuple[TestClient, dict[str, str]]]:
    settings = Settings(
        database_url=bike_url,
        llm_base_url=stub.base_url,
        llm_api_key="k",
        llm_model="stub",
        llm_timeout_seconds=5,
    )
    with open_context(bike_url) as ctx:
        create_user(ctx.session, "sam", "sales", display_name="Sam")
        token = issue_token(ctx.session, "sam")
    with TestClient(chat_app(settings)) as test_client:
        yield test_client, {"Authorization": f"Bearer {token}"}


def sse_events(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_chat_needs_a_token(client: tuple[TestClient, dict[str, str]]) -> None:
    test_client, _ = client
    response = test_client.post("/api/v1/chat", json={"message": "hi"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert test_client.post("/api/v1/chat/stream", json={"message": "hi"}).status_code == 401


def test_chat_answers_and_the_user_requests_the_proposal(
    client: tuple[TestClient, dict[str, str]], stub: OpenAIStub
) -> None:
    test_client, auth = client
    stub.script[:] = [
        Completion(tool_calls=(ToolCallSpec("propose_purchase_requests", FRAME_REQUEST),)),
        Completion(content="Drafted; pending until a buyer confirms."),
    ]
    response = test_client.post(
        "/api/v1/chat", json={"message": "Buy 5 FRAME", "thread_id": "api-1"}, headers=auth
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == "Drafted; pending until a buyer confirms."
    assert body["thread_id"] == "api-1" and body["backend"] == "openai" and body["error"] is None
    assert [(c["name"], c["args"], c["ok"]) for c in body["tool_calls"]] == [
        ("propose_purchase_requests", FRAME_REQUEST, True)
    ]
    [proposal] = body["proposals"]
    assert proposal["requested_by"] == "sam" and proposal["status"] == "pending"
    shown = test_client.get(f"/api/v1/proposals/{proposal['proposal_id']}", headers=auth).json()
    assert shown["status"] == "pending" and shown["requested_by"] == "sam"


def test_chat_validates_its_input(client: tuple[TestClient, dict[str, str]]) -> None:
    test_client, auth = client
    assert test_client.post("/api/v1/chat", json={"message": ""}, headers=auth).status_code == 422
    bad_thread = test_client.post("/api/v1/chat", json={"message": "x", "thread_id": "a b"}, headers=auth)
    assert bad_thread.status_code == 422
    bad_backend = test_client.post("/api/v1/chat", json={"message": "x", "backend": "gpt"}, headers=auth)
    assert bad_backend.status_code == 422


def test_chat_stream_sends_server_sent_events(
    client: tuple[TestClient, dict[str, str]], stub: OpenAIStub
) -> None:
    test_client, auth = client
    stub.script[:] = [
        Completion(tool_calls=(ToolCallSpec("get_item", {"item": "WHEEL"}),)),
        Completion(content="WHEEL: 4 on hand."),
    ]
    with test_client.stream(
        "POST", "/api/v1/chat/stream", json={"message": "WHEEL stock?"}, headers=auth
    ) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        events = sse_events(resp.read().decode())
    names = [name for name, _ in events]
    assert names[0] == "tool_call" and names[-1] == "final"
    assert names.index("tool_call") < names.index("tool_result") < names.index("token")
    result = dict(events)["tool_result"]
    # bike factory: stock WHEEL 4
    assert result["ok"] and result["output"]["on_hand"] == 4
    assert "".join(data["text"] for name, data in events if name == "token") == "WHEEL: 4 on hand."
    final = events[-1][1]["reply"]
    assert final["answer"] == "WHEEL: 4 on hand." and final["tool_calls"][0]["name"] == "get_item"


@pytest.mark.skipif(
    importlib.util.find_spec("assistant.offline.backend") is not None, reason="the offline backend exists"
)
def test_a_missing_offline_backend_is_said_plainly(client: tuple[TestClient, dict[str, str]]) -> None:
    test_client, auth = client
    body = test_client.post("/api/v1/chat", json={"message": "hi", "backend": "offline"}, headers=auth).json()
    assert body["error"]["code"] == "unavailable" and "offline" in body["answer"]
