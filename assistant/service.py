"""Ask the assistant: choose the backend from settings, bind tools to the database and the actor, answer."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, cast

from assistant.backend import (
    AssistantReply,
    Backend,
    BackendName,
    BackendUnavailable,
    ContextFactory,
    ErrorInfo,
    FinalEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    detect_language,
    new_thread_id,
)
from data_model.settings import Settings, get_settings
from tools.context import SYSTEM_ACTOR, Actor, open_context

OFFLINE_BACKEND = "assistant.offline.backend:OfflineBackend"
LLM_BACKEND = "assistant.agent:LLMBackend"
BACKENDS: dict[str, str] = {"offline": OFFLINE_BACKEND, "openai": LLM_BACKEND}

Event = TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent


def choose_backend(settings: Settings, requested: str | None = None) -> BackendName:
    """``requested`` if given; else openai when a model endpoint or key is configured and the
    ``assistant_backend`` setting is not "offline"; else offline (the embedded default)."""
    choice = (requested or settings.assistant_backend or "").strip().lower()
    if choice in ("offline", "openai"):
        return cast(BackendName, choice)
    if choice:
        raise BackendUnavailable(choice, f"unknown assistant backend {choice!r}: use offline or openai")
    return "openai" if (settings.llm_base_url or settings.llm_api_key) else "offline"


def load_backend(name: BackendName, settings: Settings) -> Backend:
    """Import and build the backend ``name`` (lazily: the offline path never imports LangChain)."""
    if name == "openai" and not (settings.llm_base_url or settings.llm_api_key):
        raise BackendUnavailable(
            "openai",
            "no language model is configured: set ORDERPILOT_LLM_BASE_URL (any OpenAI-compatible server) "
            "and/or ORDERPILOT_LLM_API_KEY, or use the offline backend",
        )
    module_name, _, class_name = BACKENDS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # a dependency of the backend is missing: a broken install, not a missing backend
        raise BackendUnavailable(
            name, f"the {name} assistant backend is not available in this build ({BACKENDS[name]} is missing)"
        ) from None
    backend_class = getattr(module, class_name, None)
    if backend_class is None:
        raise BackendUnavailable(name, f"the {name} assistant backend is not available ({BACKENDS[name]})")
    return cast(Backend, backend_class(settings))


def unavailable_reply(exc: BackendUnavailable, question: str, thread_id: str) -> AssistantReply:
    """A reply that says plainly why no backend could answer."""
    language = detect_language(question)
    prefix = "助手无法作答:" if language == "zh" else "The assistant cannot answer: "
    return AssistantReply(
        answer=prefix + exc.message,
        thread_id=thread_id,
        backend=cast(BackendName, exc.backend if exc.backend in ("offline", "openai") else "offline"),
        language=language,
        error=ErrorInfo(code="unavailable", message=exc.message, details={"backend": exc.backend}),
    )


def context_factory(db_url: str, actor: Actor, settings: Settings) -> ContextFactory:
    """Each tool call gets its own session and transaction on ``db_url``, acting as ``actor``."""
    return lambda: open_context(db_url, actor=actor, settings=settings)


def _prepare(
    backend: str | None, db_url: str | None, settings: Settings | None, thread_id: str | None
) -> tuple[Settings, str, str, Callable[[], Backend]]:
    settings = settings or get_settings()
    url = db_url or settings.database_url
    thread = thread_id or new_thread_id()

    def build() -> Backend:
        return load_backend(choose_backend(settings, backend), settings)

    return settings, url, thread, build


def ask(
    question: str,
    *,
    backend: str | None = None,
    thread_id: str | None = None,
    db_url: str | None = None,
    actor: Actor = SYSTEM_ACTOR,
    settings: Settings | None = None,
) -> AssistantReply:
    """Answer one question with the chosen backend (``None``: by settings, ``"offline"`` or ``"openai"``).

    Tools run on ``db_url`` (default: the configured database) as ``actor``, who becomes the requester of
    any proposal. A backend that cannot run gives a reply that says so (``reply.error`` is set).
    """
    settings, url, thread, build = _prepare(backend, db_url, settings, thread_id)
    try:
        chosen = build()
    except BackendUnavailable as exc:
        return unavailable_reply(exc, question, thread)
    return chosen.reply(
        question, thread_id=thread, contexts=context_factory(url, actor, settings), actor=actor
    )


def ask_stream(
    question: str,
    *,
    backend: str | None = None,
    thread_id: str | None = None,
    db_url: str | None = None,
    actor: Actor = SYSTEM_ACTOR,
    settings: Settings | None = None,
) -> Iterator[Event]:
    """The same as ``ask`` as events: tokens, tool calls and results, then a final event with the reply."""
    settings, url, thread, build = _prepare(backend, db_url, settings, thread_id)
    try:
        chosen = build()
    except BackendUnavailable as exc:
        reply = unavailable_reply(exc, question, thread)
        yield TokenEvent(text=reply.answer)
        yield FinalEvent(reply=reply)
        return
    yield from chosen.stream(
        question, thread_id=thread, contexts=context_factory(url, actor, settings), actor=actor
    )


def describe_backend(settings: Settings | None = None, requested: str | None = None) -> dict[str, Any]:
    """Which backend would answer, and on which model (for `orderpilot chat` and the UI's status line)."""
    settings = settings or get_settings()
    name = choose_backend(settings, requested)
    info: dict[str, Any] = {"backend": name}
    if name == "openai":
        info |= {
            "model": settings.llm_model,
            "base_url": settings.llm_base_url or "https://api.openai.com/v1",
        }
    return info
