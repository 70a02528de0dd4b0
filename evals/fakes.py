"""A scripted chat model for agent-loop tests: each model call takes the next step of a script."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

Step = AIMessage | str | Callable[[list[BaseMessage]], AIMessage]


def calls(*pairs: tuple[str, dict[str, Any]], text: str = "") -> AIMessage:
    """An assistant message that calls tools: ``calls(("get_item", {"item": "BIKE"}))``."""
    return AIMessage(
        content=text, tool_calls=[{"name": n, "args": a, "id": "", "type": "tool_call"} for n, a in pairs]
    )


class ScriptedChatModel(GenericFakeChatModel):
    """``bind_tools`` returns the model itself; a step is an AIMessage, a text, or a function of the messages
    the model was sent. Every call is recorded in ``seen``; a script that runs out fails the test loudly."""

    seen: list[list[BaseMessage]] = Field(default_factory=list)
    bound_tools: list[str] = Field(default_factory=list)

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        self.bound_tools[:] = [getattr(t, "name", None) or t["function"]["name"] for t in tools]
        return self

    def _next(self, messages: list[BaseMessage]) -> AIMessage:
        self.seen.append(list(messages))
        n = len(self.seen)
        step: Step = next(self.messages)  # type: ignore[assignment]
        if callable(step) and not isinstance(step, AIMessage):
            step = step(list(messages))
        message = AIMessage(content=step) if isinstance(step, str) else step
        # fresh ids each call: a repeated script step must not replace an earlier message in the thread
        return message.model_copy(
            update={
                "id": f"ai-{n}",
                "tool_calls": [{**c, "id": f"call-{n}-{i}"} for i, c in enumerate(message.tool_calls)],
            }
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        message = self._next(messages)
        text = message.text
        for start in range(0, len(text), 3):
            piece = text[start : start + 3]
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
            if run_manager:
                run_manager.on_llm_new_token(piece, chunk=chunk)
            yield chunk
        chunks = [
            tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
            for i, c in enumerate(message.tool_calls)
        ]
        yield ChatGenerationChunk(
            message=AIMessageChunk(content="", id=message.id, tool_call_chunks=chunks, chunk_position="last")
        )


def tool_results(messages: Sequence[BaseMessage]) -> dict[str, Any]:
    """The JSON results the model was sent, by tool name (the last of each name)."""
    out: dict[str, Any] = {}
    for m in messages:
        if isinstance(m, ToolMessage):
            try:
                out[m.name or ""] = json.loads(str(m.content))
            except json.JSONDecodeError:
                out[m.name or ""] = str(m.content)
    return out
