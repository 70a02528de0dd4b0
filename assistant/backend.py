"""The assistant's backend protocol and what one turn gives back: the reply, its tool calls and proposals."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, Field

from tools.context import Actor, ToolContext

Language = Literal["zh", "en"]
BackendName = Literal["offline", "openai"]
ContextFactory = Callable[[], AbstractContextManager[ToolContext]]
"""Gives a fresh tool context (its own session and transaction) for each tool call, bound to the actor."""


class ErrorInfo(BaseModel):
    """A structured failure: a tool's error payload, or why a whole turn failed."""

    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ToolCallRecord(BaseModel):
    """One tool call the backend made this turn, and whether it succeeded."""

    name: str
    args: dict[str, Any]
    ok: bool
    error: ErrorInfo | None = None


class AssistantReply(BaseModel):
    """The answer to one question, with every tool call made and every proposal stored this turn."""

    answer: str
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    proposals: list[dict[str, Any]] = Field(
        default_factory=list, description="each proposal a propose_* tool returned this turn (pending)"
    )
    thread_id: str
    backend: BackendName
    language: Language
    error: ErrorInfo | None = Field(
        default=None, description="set when the turn itself failed (model unreachable, unusable output)"
    )

    def contract_json(self) -> dict[str, Any]:
        """The shape `orderpilot ask --json` prints (CONTRACT.md), plus thread, backend and any error."""
        data: dict[str, Any] = {
            "answer": self.answer,
            "tool_calls": [
                {"name": c.name, "args": c.args, "ok": c.ok}
                | ({"error": c.error.model_dump()} if c.error else {})
                for c in self.tool_calls
            ],
            "proposals": self.proposals,
            "thread_id": self.thread_id,
            "backend": self.backend,
            "language": self.language,
        }
        if self.error is not None:
            data["error"] = self.error.model_dump()
        return data


class TokenEvent(BaseModel):
    """A piece of the answer as the model writes it (the final event carries the whole answer)."""

    type: Literal["token"] = "token"
    text: str


class ToolCallEvent(BaseModel):
    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    args: dict[str, Any]


class ToolResultEvent(BaseModel):
    type: Literal["tool_result"] = "tool_result"
    id: str
    name: str
    ok: bool
    error: ErrorInfo | None = None
    output: dict[str, Any] | None = Field(default=None, description="the tool's JSON output when ok")


class FinalEvent(BaseModel):
    type: Literal["final"] = "final"
    reply: AssistantReply


AssistantEvent = Annotated[
    TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent, Field(discriminator="type")
]


class Backend(Protocol):
    """What the CLI, the API and the UI call; the offline and the LLM backends implement it.

    A backend class is built as ``Cls(settings)`` (``data_model.settings.Settings``) by
    ``assistant.service.load_backend``; the offline one is found at ``assistant.offline.backend:OfflineBackend``.
    """

    name: BackendName

    def reply(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> AssistantReply:
        """Answer one question in conversation ``thread_id``; tools run through ``contexts`` as ``actor``."""
        ...

    def stream(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> Iterator[TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent]:
        """The same turn as events: tokens, tool calls and results as they happen, then one final event."""
        ...


class BackendUnavailable(Exception):
    """The backend asked for cannot run here (not installed, not configured)."""

    def __init__(self, backend: str, message: str) -> None:
        super().__init__(message)
        self.backend = backend
        self.message = message


def new_thread_id() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def detect_language(text: str) -> Language:
    """Chinese when the text contains any CJK ideograph, else English."""
    return "zh" if any("\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf" for ch in text) else "en"


def tool_error(output: Any) -> ErrorInfo | None:
    """The error inside a tool's output (``{"error": {code, message, details}}``), or None if it succeeded."""
    if isinstance(output, dict) and isinstance(output.get("error"), dict):
        err = output["error"]
        return ErrorInfo(
            code=str(err.get("code", "internal")),
            message=str(err.get("message", "")),
            details=err.get("details") if isinstance(err.get("details"), dict) else {},
        )
    return None


def is_proposal(name: str, output: Any) -> bool:
    """Whether a tool output is a stored proposal (a propose_* tool that succeeded)."""
    return name.startswith("propose_") and isinstance(output, dict) and "proposal_id" in output


def parse_tool_content(content: Any) -> Any:
    """A tool message's content as JSON data when it is JSON, else the text itself."""
    if isinstance(content, str):
        try:
            return json.loads(content)
        except json.JSONDecodeError:
            return content
    return content


class TurnLog:
    """Runs tools for a backend that calls them directly (the offline one) and records calls and proposals."""

    def __init__(self, contexts: ContextFactory) -> None:
        self.contexts = contexts
        self.tool_calls: list[ToolCallRecord] = []
        self.proposals: list[dict[str, Any]] = []

    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Run tool ``name`` in a transaction of its own; returns its JSON output or an ``{"error": …}``."""
        from tools.langchain_tools import invoke

        output = invoke(self.contexts, name, args)
        self.record(name, args, output)
        return output

    def record(self, name: str, args: dict[str, Any], output: Any) -> ToolCallRecord:
        error = tool_error(output)
        record = ToolCallRecord(name=name, args=args, ok=error is None, error=error)
        self.tool_calls.append(record)
        if error is None and is_proposal(name, output):
            self.proposals.append(output)
        return record

    def reply(
        self,
        answer: str,
        *,
        thread_id: str,
        backend: BackendName,
        language: Language,
        error: ErrorInfo | None = None,
    ) -> AssistantReply:
        return AssistantReply(
            answer=answer,
            tool_calls=list(self.tool_calls),
            proposals=list(self.proposals),
            thread_id=thread_id,
            backend=backend,
            language=language,
            error=error,
        )


def events_for_reply(
    reply: AssistantReply,
) -> Iterator[TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent]:
    """A finished reply as a stream (for a backend that does not stream): calls, results, the answer, final."""
    for index, call in enumerate(reply.tool_calls):
        call_id = f"call-{index}"
        yield ToolCallEvent(id=call_id, name=call.name, args=call.args)
        yield ToolResultEvent(id=call_id, name=call.name, ok=call.ok, error=call.error)
    if reply.answer:
        yield TokenEvent(text=reply.answer)
    yield FinalEvent(reply=reply)


def reply_from_events(
    events: Iterable[TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent],
) -> AssistantReply:
    """The reply carried by the final event of a stream."""
    for event in events:
        if isinstance(event, FinalEvent):
            return event.reply
    raise RuntimeError("the assistant stream ended without a final event")
