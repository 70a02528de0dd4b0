"""The assistant over HTTP: one question per request, as JSON or as server-sent events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlmodel import Session

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.tool_routes import ERROR_RESPONSES
from assistant.backend import AssistantReply
from assistant.service import ask, ask_stream

router = APIRouter(prefix="/api/v1/chat", tags=["assistant"], responses=ERROR_RESPONSES)

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ChatIn(BaseModel):
    message: str = Field(min_length=1, max_length=4000, description="the question, in Chinese or English")
    thread_id: str | None = Field(
        default=None,
        max_length=80,
        pattern=r"^[A-Za-z0-9_.:-]+$",
        description="continue this conversation (the thread_id of an earlier reply); default: a new one",
    )
    backend: Literal["offline", "openai"] | None = Field(
        default=None, description="default: openai when a model is configured, else offline"
    )


def _end_auth_transaction(session: Session) -> None:
    """Close the transaction the token check opened: a turn can take minutes, and each tool call has a
    transaction of its own."""
    session.rollback()


@router.post("", response_model=AssistantReply, summary="Ask the assistant one question")
def chat_route(
    body: ChatIn, actor: CurrentUser, session: SessionDep, settings: SettingsDep
) -> AssistantReply:
    """The answer with every tool call made and every proposal stored (pending, requested by the calling
    user). When the assistant could not answer (no backend, the model failed) the reply says so and
    ``error`` is set; nothing was changed."""
    _end_auth_transaction(session)
    return ask(
        body.message,
        backend=body.backend,
        thread_id=body.thread_id,
        db_url=settings.database_url,
        actor=actor,
        settings=settings,
    )


@router.post(
    "/stream",
    summary="Ask the assistant, streamed as server-sent events",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "token, tool_call, tool_result, final"}
    },
)
def chat_stream_route(
    body: ChatIn, actor: CurrentUser, session: SessionDep, settings: SettingsDep
) -> StreamingResponse:
    """Events ``token`` ({text}), ``tool_call`` ({id, name, args}), ``tool_result`` ({id, name, ok, error,
    output}) as they happen, then one ``final`` ({reply}) carrying the same reply as POST /api/v1/chat."""
    _end_auth_transaction(session)

    def events() -> Iterator[str]:
        for event in ask_stream(
            body.message,
            backend=body.backend,
            thread_id=body.thread_id,
            db_url=settings.database_url,
            actor=actor,
            settings=settings,
        ):
            yield f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
