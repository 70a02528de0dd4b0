"""A loopback OpenAI-compatible chat-completions server for tests: scripted replies, SSE streaming, faults."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class ToolCallSpec:
    name: str
    args: dict[str, Any]
    id: str = ""


@dataclass(frozen=True)
class Completion:
    """A well-formed assistant message: text and/or tool calls (sent as JSON, or as SSE when asked to stream)."""

    content: str = ""
    tool_calls: tuple[ToolCallSpec, ...] = ()


@dataclass(frozen=True)
class Raw:
    """Any HTTP answer, e.g. garbage with status 200."""

    body: bytes
    status: int = 200
    content_type: str = "application/json"
    declared_length: int | None = None  # more than len(body): the connection drops mid-response


@dataclass(frozen=True)
class Hang:
    """Answer only after ``seconds`` (longer than the client's timeout)."""

    seconds: float
    then: Completion = field(default_factory=lambda: Completion(content="too late"))


Scripted = Completion | Raw | Hang


def completion_json(reply: Completion, model: str, index: int) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id or f"call_{index}_{n}",
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.args, ensure_ascii=False)},
            }
            for n, call in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-{index}",
        "object": "chat.completion",
        "created": 1_790_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def completion_chunks(reply: Completion, model: str, index: int) -> Iterator[dict[str, Any]]:
    """The same message as streamed chunks: role, content in pieces, tool-call deltas, finish."""

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {
            "id": f"chatcmpl-{index}",
            "object": "chat.completion.chunk",
            "created": 1_790_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}],
        }

    yield chunk({"role": "assistant", "content": ""})
    text = reply.content
    for start in range(0, len(text), 4):
        yield chunk({"content": text[start : start + 4]})
    for n, call in enumerate(reply.tool_calls):
        arguments = json.dumps(call.args, ensure_ascii=False)
        half = len(arguments) // 2
        head = {
            "index": n,
            "id": call.id or f"call_{index}_{n}",
            "type": "function",
            "function": {"name": call.name, "arguments": arguments[:half]},
        }
        yield chunk({"tool_calls": [head]})
        yield chunk({"tool_calls": [{"index": n, "function": {"arguments": arguments[half:]}}]})
    yield chunk({}, "tool_calls" if reply.tool_calls else "stop")


class OpenAIStub:
    """Serves ``POST /v1/chat/completions`` from a script, one entry per request, and records requests."""

    def __init__(self, script: list[Scripted] | None = None) -> None:
        self.script: list[Scripted] = list(script or [])
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    index = len(stub.requests)
                    step = stub.script.pop(0) if stub.script else Raw(b'{"error": "script exhausted"}', 500)
                if not self.path.endswith("/chat/completions"):
                    self._send(Raw(b'{"error": {"message": "not found"}}', 404))
                    return
                if isinstance(step, Hang):
                    time.sleep(step.seconds)
                    step = step.then
                if isinstance(step, Raw):
                    self._send(step)
                elif body.get("stream"):
                    self._stream(step, body.get("model", "stub"), index)
                else:
                    payload = json.dumps(completion_json(step, body.get("model", "stub"), index)).encode()
                    self._send(Raw(payload))

            def _send(self, raw: Raw) -> None:
                try:
                    self.send_response(raw.status)
                    self.send_header("Content-Type", raw.content_type)
                    self.send_header("Content-Length", str(raw.declared_length or len(raw.body)))
                    self.end_headers()
                    self.wfile.write(raw.body)
                    if raw.declared_length:
                        self.close_connection = True
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def _stream(self, reply: Completion, model: str, index: int) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                for data in completion_chunks(reply, model, index):
                    self.wfile.write(f"data: {json.dumps(data, ensure_ascii=False)}\n\n".encode())
                    self.wfile.flush()
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        port = self.server.server_address[1]
        return f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> OpenAIStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
