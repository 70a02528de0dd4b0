"""ChatOpenAI against a loopback OpenAI-compatible stub: tool-call wire format, streaming, endpoint faults."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from assistant.agent import close_checkpointers
from assistant.backend import FinalEvent, TokenEvent, ToolCallEvent, ToolResultEvent
from assistant.service import ask, ask_stream
from data_model.settings import Settings
from tests.agent.openai_stub import Completion, Hang, OpenAIStub, Raw, ToolCallSpec
from tools.context import Actor, open_context

SALES = Actor("sam", "sales", "Sam Sales")
FRAME_REQUEST = {"lines": [{"item": "FRAME", "qty": 5, "need_date": "2026-12-08"}]}


@pytest.fixture
def bike(bike_url: str) -> Iterator[str]:
    yield bike_url
    close_checkpointers()


def settings_for(url: str, stub: OpenAIStub | None = None, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": url,
        "llm_base_url": stub.base_url if stub else "",
        "llm_api_key": "test-key",
        "llm_model": "stub-model",
        "llm_timeout_seconds": 5.0,
    }
    return Settings(**(values | overrides))


def count(url: str, table: str) -> int:
    with open_context(url) as ctx:
        return int(ctx.session.exec(sa.text(f"SELECT count(*) FROM {table}")).one()[0])  # type: ignore[call-overload]


def test_tool_calls_go_over_the_wire_in_openai_format(bike: str) -> None:
    script = [
        Completion(tool_calls=(ToolCallSpec("get_item", {"item": "BIKE"}, id="call_abc"),)),
        Completion(content="BIKE: 2 on hand; SO-100 needs 12 on 2026-12-15."),
    ]
    with OpenAIStub(script) as stub:
        reply = ask(
            "How many BIKE do we have?", backend="openai", settings=settings_for(bike, stub), actor=SALES
        )
    assert reply.error is None, reply.answer
    assert reply.answer == "BIKE: 2 on hand; SO-100 needs 12 on 2026-12-15."
    assert [(c.name, c.args, c.ok) for c in reply.tool_calls] == [("get_item", {"item": "BIKE"}, True)]

    first, second = stub.requests
    assert first["model"] == "stub-model" and not first.get("stream")
    tools = {t["function"]["name"]: t for t in first["tools"]}
    assert {"get_item", "find_items", "propose_purchase_requests"} <= set(tools)
    assert not any(name.startswith(("confirm", "reject")) for name in tools)
    assert tools["get_item"]["type"] == "function"
    assert "item" in tools["get_item"]["function"]["parameters"]["properties"]
    assert [m["role"] for m in first["messages"]][-1] == "user"
    assert first["messages"][0]["role"] in ("system", "developer")

    # the second request carries the assistant's tool call and the tool's JSON result under its id
    assistant_msg = next(m for m in second["messages"] if m["role"] == "assistant")
    [call] = assistant_msg["tool_calls"]
    assert call["id"] == "call_abc" and call["type"] == "function"
    assert call["function"]["name"] == "get_item"
    assert json.loads(call["function"]["arguments"]) == {"item": "BIKE"}
    tool_msg = next(m for m in second["messages"] if m["role"] == "tool")
    assert tool_msg["tool_call_id"] == "call_abc"
    result = json.loads(tool_msg["content"])
    # bike factory: BIKE stock 2, open demand SO-100 12 -> projected -10
    assert (result["code"], result["on_hand"], result["projected_qty"]) == ("BIKE", 2, -10)


def test_streaming_over_sse(bike: str) -> None:
    script = [
        Completion(tool_calls=(ToolCallSpec("get_item", {"item": "SEAT"}),)),
        Completion(content="SEAT has 4 on hand."),
    ]
    with OpenAIStub(script) as stub:
        events = list(
            ask_stream("SEAT stock?", backend="openai", settings=settings_for(bike, stub), actor=SALES)
        )
    assert all(r.get("stream") for r in stub.requests)
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    results = [e for e in events if isinstance(e, ToolResultEvent)]
    assert [(c.name, c.args) for c in calls] == [("get_item", {"item": "SEAT"})]
    # bike factory: stock SEAT 4
    assert results[0].ok and results[0].id == calls[0].id and results[0].output["on_hand"] == 4  # type: ignore[index]
    tokens = [e.text for e in events if isinstance(e, TokenEvent)]
    assert len(tokens) > 1 and "".join(tokens) == "SEAT has 4 on hand."
    final = events[-1]
    assert (
        isinstance(final, FinalEvent)
        and final.reply.answer == "SEAT has 4 on hand."
        and final.reply.error is None
    )


def test_a_broken_stream_is_reported(bike: str) -> None:
    head = b'data: {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m", "choices": '
    head += (
        b'[{"index": 0, "delta": {"role": "assistant", "content": "SEAT has"}, "finish_reason": null}]}\n\n'
    )
    script = [
        Raw(b"data: {not json}\n\n", content_type="text/event-stream"),
        Raw(head, content_type="text/event-stream", declared_length=len(head) + 500),
        Raw(head, content_type="text/event-stream", declared_length=len(head) + 500),
    ]
    with OpenAIStub(script) as stub:
        settings = settings_for(bike, stub)
        garbled = list(ask_stream("SEAT?", backend="openai", settings=settings, actor=SALES))
        dropped = list(ask_stream("SEAT?", backend="openai", settings=settings, actor=SALES))
    for events, code in ((garbled, "bad_model_output"), (dropped, "model_unreachable")):
        final = events[-1]
        assert isinstance(final, FinalEvent)
        assert final.reply.error is not None and final.reply.error.code == code, final.reply.error
        assert "Nothing was changed" in final.reply.answer
    assert count(bike, "proposal") == 0


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (Raw(b"this is not json"), "bad_model_output"),
        (Raw(b'{"foo": 1}'), "bad_model_output"),
        (Raw(b'{"choices": []}'), "bad_model_output"),
        (Raw(b"<html>proxy error</html>", 200, "text/html"), "bad_model_output"),
        (Raw(b'{"error": {"message": "model overloaded"}}', 500), "model_error"),
    ],
)
def test_garbage_from_the_endpoint_is_reported_and_nothing_is_written(bike: str, raw: Raw, code: str) -> None:
    with OpenAIStub([raw, raw]) as stub:
        reply = ask(
            "What is short for SO-100?", backend="openai", settings=settings_for(bike, stub), actor=SALES
        )
    assert reply.error is not None and reply.error.code == code
    assert "Nothing was changed" in reply.answer
    assert reply.tool_calls == [] and reply.proposals == []
    assert count(bike, "proposal") == 0 and count(bike, "purchase_requisition") == 0


def test_a_timeout_is_reported_plainly(bike: str) -> None:
    with OpenAIStub([Hang(30.0), Hang(30.0)]) as stub:
        started = time.monotonic()
        reply = ask(
            "BIKE 还有多少?",
            backend="openai",
            settings=settings_for(bike, stub, llm_timeout_seconds=0.3),
            actor=SALES,
        )
        elapsed = time.monotonic() - started
    assert reply.error is not None and reply.error.code == "model_timeout"
    assert (
        reply.language == "zh" and "0.3 秒内没有响应" in reply.answer and "没有修改任何数据" in reply.answer
    )
    # two attempts of 0.3 s, not the stub's 30 s (a wide margin: this machine may be busy)
    assert elapsed < 15
    assert count(bike, "proposal") == 0


def test_an_unreachable_endpoint_is_reported(bike: str) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = settings_for(bike, None, llm_base_url=f"http://127.0.0.1:{port}/v1")
    reply = ask("How many BIKE?", backend="openai", settings=settings, actor=SALES)
    assert reply.error is not None and reply.error.code == "model_unreachable"
    assert f"127.0.0.1:{port}" in reply.answer


def test_failure_after_a_proposal_says_it_is_pending_and_the_thread_recovers(bike: str) -> None:
    script = [
        Completion(tool_calls=(ToolCallSpec("propose_purchase_requests", FRAME_REQUEST, id="call_p"),)),
        Raw(b"garbage"),  # unparsable bodies are not retried
        Completion(content="Still pending."),
    ]
    with OpenAIStub(script) as stub:
        settings = settings_for(bike, stub)
        first = ask(
            "Draft a request for 5 FRAME", backend="openai", thread_id="w1", settings=settings, actor=SALES
        )
        second = ask("Is it done?", backend="openai", thread_id="w1", settings=settings, actor=SALES)
    assert first.error is not None and first.error.code == "bad_model_output"
    [proposal] = first.proposals
    assert proposal["status"] == "pending" and proposal["proposal_id"] in first.answer
    assert count(bike, "purchase_requisition") == 0
    assert second.error is None and second.answer == "Still pending."
    # the next request of the thread is a valid sequence: the tool call is followed by its result
    messages = stub.requests[-1]["messages"]
    roles = [m["role"] for m in messages]
    assert roles[-1] == "user" and roles.count("user") == 2
    call_index = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    assert messages[call_index + 1]["role"] == "tool" and messages[call_index + 1]["tool_call_id"] == "call_p"


def test_malformed_tool_arguments_fail_the_turn_without_poisoning_the_thread(bike: str) -> None:
    bad = {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "stub-model",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_bad",
                            "type": "function",
                            "function": {"name": "get_item", "arguments": "{oops"},
                        }
                    ],
                },
            }
        ],
    }
    script = [Raw(json.dumps(bad).encode()), Completion(content="Fine now.")]
    with OpenAIStub(script) as stub:
        settings = settings_for(bike, stub)
        first = ask("BIKE?", backend="openai", thread_id="w2", settings=settings, actor=SALES)
        second = ask("BIKE again?", backend="openai", thread_id="w2", settings=settings, actor=SALES)
    assert first.error is not None and first.error.code == "invalid_tool_call"
    assert first.tool_calls == []
    assert second.answer == "Fine now."
    assert not any(m.get("tool_calls") for m in stub.requests[-1]["messages"])


def test_a_text_tool_call_from_the_endpoint_is_a_failure(bike: str) -> None:
    text = '{"name": "propose_purchase_requests", "arguments": ' + json.dumps(FRAME_REQUEST) + "}"
    with OpenAIStub([Completion(content=text)]) as stub:
        reply = ask("Order 5 FRAME", backend="openai", settings=settings_for(bike, stub), actor=SALES)
    assert reply.error is not None and reply.error.code == "text_tool_call"
    assert count(bike, "proposal") == 0
