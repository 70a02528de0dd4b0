"""The LLM backend: a LangChain agent over any OpenAI-compatible chat model, with the read and propose tools."""

from __future__ import annotations

import importlib
import json
import logging
import re
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import openai
from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    ClearToolUsesEdit,
    ContextEditingMiddleware,
    ModelCallLimitMiddleware,
    ModelRequest,
    ModelResponse,
    ToolCallLimitMiddleware,
    ToolCallRequest,
    hook_config,
)
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from sqlalchemy.engine import URL, make_url

from assistant.backend import (
    AssistantReply,
    ContextFactory,
    ErrorInfo,
    FinalEvent,
    Language,
    TokenEvent,
    ToolCallEvent,
    ToolCallRecord,
    ToolResultEvent,
    detect_language,
    is_proposal,
    parse_tool_content,
    reply_from_events,
    tool_error,
)
from assistant.prompts import PENDING_NOTE, failure_message, system_prompt
from data_model.settings import Settings
from tools.context import Actor
from tools.langchain_tools import error_payload, langchain_tools
from tools.registry import load_all

logger = logging.getLogger("orderpilot.assistant")

AGENT_TOOL_KINDS = ("read", "propose")
# defence in depth: deciding a proposal is a person's act, never a tool, whatever the registry holds
FORBIDDEN_TOOL_PREFIXES = ("confirm", "reject", "apply", "approve", "decide")
LLM_MAX_RETRIES = 1
MAX_FAILED_TOOL_CALLS = 4
# old tool results are replaced by a placeholder in what the model sees once a thread grows past this
CONTEXT_TRIGGER_TOKENS = 30_000
KEEP_TOOL_RESULTS = 8
FAILURE_KEY = "orderpilot_failure"
CHECKPOINT_SETUP_LOCK = 0x4F50_4350  # advisory lock id ("OPCP") held while creating the checkpoint tables
PLACEHOLDER_API_KEY = "not-needed"  # local OpenAI-compatible servers take any key; the client demands one

Event = TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client's own errors (a connection dropped mid-stream is not wrapped by the openai client);
    openai 3 ships on httpx2, earlier versions on httpx."""
    found: list[type[Exception]] = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except (ImportError, AttributeError):
            continue
    return tuple(found)


ENDPOINT_ERRORS: tuple[type[Exception], ...] = (openai.APIError, *_transport_errors())


class ModelEndpointError(Exception):
    """The chat model endpoint failed: timed out, unreachable, an HTTP error, or a response it cannot parse."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class AgentLimits:
    """Per question: at most ``tool_calls`` tool calls and ``model_calls`` model calls."""

    model_calls: int
    tool_calls: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AgentLimits:
        tool_calls = max(1, settings.llm_max_tool_calls)
        # one model call per tool round (when every round calls one tool) and one for the answer, plus slack
        return cls(model_calls=tool_calls + 2, tool_calls=tool_calls)


def build_chat_model(settings: Settings) -> BaseChatModel:
    """``ChatOpenAI`` on the configured endpoint (any OpenAI-compatible server), model and timeout."""
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url or None,
        api_key=settings.llm_api_key or PLACEHOLDER_API_KEY,  # type: ignore[arg-type]
        timeout=settings.llm_timeout_seconds,
        max_retries=LLM_MAX_RETRIES,
        temperature=0,
    )


def agent_tools(contexts: ContextFactory) -> list[BaseTool]:
    """The registry's read and propose tools, each call in a transaction of its own; never confirm/reject."""
    names = sorted(
        spec.name
        for spec in load_all().values()
        if spec.kind in AGENT_TOOL_KINDS and not spec.name.startswith(FORBIDDEN_TOOL_PREFIXES)
    )
    return list(langchain_tools(contexts, names))


# ---------------------------------------------------------------- conversation state


_CHECKPOINTERS: dict[str, tuple[BaseCheckpointSaver[Any], Callable[[], None]]] = {}
_CHECKPOINTERS_LOCK = threading.Lock()


def _postgres_conninfo(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _setup_postgres(pool: Any, migrations: Sequence[str]) -> None:
    """PostgresSaver.setup() without CREATE INDEX CONCURRENTLY.

    A concurrent index build waits for every transaction open in the database to end, including the one
    of the request asking the question, so the first question of a process could wait forever. The
    indexes are on tables the same migrations just created, so a plain CREATE INDEX locks nothing anyone
    waits for; an advisory lock keeps two processes from migrating at once.
    """
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHECKPOINT_SETUP_LOCK,))
        conn.execute(migrations[0])
        row = conn.execute("SELECT v FROM checkpoint_migrations ORDER BY v DESC LIMIT 1").fetchone()
        version = -1 if row is None else int(row["v"])
        for v in range(version + 1, len(migrations)):
            conn.execute(migrations[v].replace("CREATE INDEX CONCURRENTLY", "CREATE INDEX"))
            conn.execute("INSERT INTO checkpoint_migrations (v) VALUES (%s)", (v,))


def _open_checkpointer(url: URL) -> tuple[BaseCheckpointSaver[Any], Callable[[], None]]:
    if url.get_backend_name() == "postgresql":
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(
            _postgres_conninfo(url),
            min_size=1,
            max_size=4,
            kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
            open=True,
        )
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        _setup_postgres(pool, saver.MIGRATIONS)
        return saver, pool.close
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        from langgraph.checkpoint.sqlite import SqliteSaver

        # the same file as the business tables; waits for their writers like the engine does
        conn = sqlite3.connect(url.database, check_same_thread=False, timeout=30)  # type: ignore[arg-type]
        saver_sqlite = SqliteSaver(conn)
        saver_sqlite.setup()
        return saver_sqlite, conn.close
    return InMemorySaver(), lambda: None


def checkpointer_for(url: str | URL) -> BaseCheckpointSaver[Any]:
    """One checkpointer per database per process, storing conversation threads in that database.

    SQLite files get ``SqliteSaver``, PostgreSQL ``PostgresSaver`` (tables ``checkpoints``, ``writes`` …,
    created on first use); an in-memory SQLite database gets an in-memory saver.
    """
    parsed = make_url(url) if isinstance(url, str) else url
    key = parsed.render_as_string(hide_password=False)
    with _CHECKPOINTERS_LOCK:
        found = _CHECKPOINTERS.get(key)
        if found is None:
            found = _open_checkpointer(parsed)
            _CHECKPOINTERS[key] = found
        return found[0]


def close_checkpointers() -> None:
    """Close every checkpointer's connections (at shutdown, or between tests)."""
    with _CHECKPOINTERS_LOCK:
        entries = list(_CHECKPOINTERS.values())
        _CHECKPOINTERS.clear()
    for _, close in entries:
        close()


# ---------------------------------------------------------------- model output checks


_TOOL_CALL_MARKUP = re.compile(
    r"<\|?(?:tool_call|tool_calls|function_call)\|?>|<function=|\[TOOL_CALLS\]", re.I
)
_FENCED = re.compile(r"^\s*```[a-zA-Z]*\s*(.*?)\s*```\s*$", re.S)
_INLINE_CALL = re.compile(r'\{\s*"(?:name|tool|function|tool_name)"\s*:\s*"([A-Za-z_]\w*)"')


def _names_a_tool(data: Any, tool_names: set[str]) -> bool:
    for entry in data if isinstance(data, list) else [data]:
        if not isinstance(entry, dict):
            continue
        if "tool_calls" in entry or "function_call" in entry:
            return True
        name = entry.get("name") or entry.get("tool") or entry.get("tool_name") or entry.get("function")
        if isinstance(name, dict):
            name = name.get("name")
        if name in tool_names:
            return True
        if isinstance(name, str) and any(k in entry for k in ("arguments", "parameters", "args")):
            return True
    return False


def looks_like_text_tool_call(text: str, tool_names: set[str]) -> bool:
    """Whether an answer is a tool call written as text (JSON or a model's call markup) instead of made.

    It is never parsed or run: such an answer counts as a failed turn.
    """
    if not text.strip():
        return False
    if _TOOL_CALL_MARKUP.search(text):
        return True
    fenced = _FENCED.match(text)
    candidate = (fenced.group(1) if fenced else text).strip()
    if candidate[:1] in "{[":
        try:
            if _names_a_tool(json.loads(candidate), tool_names):
                return True
        except ValueError:
            pass
    return any(m.group(1) in tool_names for m in _INLINE_CALL.finditer(text))


def _failed(message: AIMessage, code: str, detail: str) -> AIMessage:
    """The model's message replaced by a marked failure without tool calls (so the loop stops here)."""
    return AIMessage(
        id=message.id,
        content=f"[unusable model output: {code}]",
        response_metadata={FAILURE_KEY: {"code": code, "detail": detail[:300]}},
    )


def _valid_history(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    """What the model is sent: no malformed tool calls and no tool call left without its result.

    A turn that failed half-way (a timeout after the model asked for tools) must not make every later
    question of the thread fail on an invalid message sequence.
    """
    answered = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    requested = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    cleaned: list[AnyMessage] = []
    for message in messages:
        if isinstance(message, AIMessage) and (
            message.invalid_tool_calls or any(c["id"] not in answered for c in message.tool_calls)
        ):
            message = message.model_copy(
                update={
                    "tool_calls": [c for c in message.tool_calls if c["id"] in answered],
                    "invalid_tool_calls": [],
                }
            )
        if isinstance(message, ToolMessage) and message.tool_call_id not in requested:
            continue
        cleaned.append(message)
    return cleaned


class ModelGuard(AgentMiddleware):
    """Endpoint failures end the turn with a typed error; unusable answers end it as a marked failure."""

    def __init__(self, tool_names: set[str]) -> None:
        super().__init__()
        self.tool_names = tool_names

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse | AIMessage:
        request = request.override(messages=_valid_history(request.messages))
        try:
            response = handler(request)
        except openai.APITimeoutError as exc:
            raise ModelEndpointError("model_timeout", str(exc)) from exc
        except openai.APIConnectionError as exc:
            raise ModelEndpointError("model_unreachable", str(exc.__cause__ or exc)[:200]) from exc
        except openai.APIStatusError as exc:
            raise ModelEndpointError("model_error", f"HTTP {exc.status_code}: {exc.message[:200]}") from exc
        except ENDPOINT_ERRORS as exc:
            raise ModelEndpointError("model_error", str(exc)[:200]) from exc
        except (ValueError, TypeError, LookupError) as exc:
            # the client's parsing of a malformed body (bad JSON, no choices, wrong types) fails with these
            logger.warning("unusable response from the model endpoint", exc_info=True)
            raise ModelEndpointError("bad_model_output", f"{type(exc).__name__}: {str(exc)[:200]}") from exc
        return ModelResponse(
            result=[self._check(m) for m in response.result], structured_response=response.structured_response
        )

    def _check(self, message: BaseMessage) -> BaseMessage:
        if not isinstance(message, AIMessage):
            return message
        if message.invalid_tool_calls:
            bad = message.invalid_tool_calls[0]
            return _failed(message, "invalid_tool_call", f"{bad.get('name')}: {bad.get('args')}")
        if not message.tool_calls and looks_like_text_tool_call(message.text, self.tool_names):
            return _failed(message, "text_tool_call", message.text)
        return message


def _current_turn(messages: Sequence[AnyMessage]) -> list[AnyMessage]:
    for index in range(len(messages) - 1, -1, -1):
        if isinstance(messages[index], HumanMessage):
            return list(messages[index + 1 :])
    return list(messages)


def _error_message(call: ToolCall, code: str, message: str) -> ToolMessage:
    return ToolMessage(
        content=json.dumps(error_payload(code, message), ensure_ascii=False),
        tool_call_id=call["id"],
        name=call["name"],
        status="error",
    )


class ToolGuard(AgentMiddleware):
    """Unknown tools and repeated failures get a structured error instead of running, so a model cannot
    loop on a refused call; tool errors are marked as such."""

    def __init__(self, max_failures: int = MAX_FAILED_TOOL_CALLS) -> None:
        super().__init__()
        self.max_failures = max_failures

    def wrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]]
    ) -> ToolMessage | Command[Any]:
        call = request.tool_call
        if request.tool is None:
            hint = (
                " Confirming or rejecting a proposal is done by a person in OrderPilot, never by the assistant."
                if call["name"].startswith(FORBIDDEN_TOOL_PREFIXES)
                else ""
            )
            return _error_message(call, "not_found", f"there is no tool named {call['name']!r}.{hint}")
        turn = _current_turn(request.state["messages"])
        calls = {c["id"]: c for m in turn if isinstance(m, AIMessage) for c in m.tool_calls}
        failures = [m for m in turn if isinstance(m, ToolMessage) and m.status == "error"]
        for failed in failures:
            earlier = calls.get(failed.tool_call_id)
            if earlier is not None and earlier["name"] == call["name"] and earlier["args"] == call["args"]:
                return _error_message(
                    call,
                    "repeated_call",
                    "this exact call already failed in this turn; do not repeat it. Tell the user what "
                    f"failed: {str(failed.content)[:300]}",
                )
        if len(failures) >= self.max_failures:
            return _error_message(
                call,
                "too_many_failures",
                f"{len(failures)} tool calls failed in this turn; stop calling tools and tell the user what failed.",
            )
        result = handler(request)
        if isinstance(result, ToolMessage) and tool_error(parse_tool_content(result.content)) is not None:
            result = result.model_copy(update={"status": "error"})
        return result


class TurnModelCallLimit(ModelCallLimitMiddleware):
    """ModelCallLimitMiddleware whose stop message is marked, so the reply can say so in the user's language."""

    @hook_config(can_jump_to=["end"])
    def before_model(self, state: Any, runtime: Any) -> dict[str, Any] | None:
        update = super().before_model(state, runtime)
        if update and update.get("messages"):
            update["messages"] = [
                _failed(m, "limit", str(m.content)) if isinstance(m, AIMessage) else m
                for m in update["messages"]
            ]
        return update


def build_agent(
    model: BaseChatModel,
    tools: list[BaseTool],
    *,
    prompt: str,
    checkpointer: BaseCheckpointSaver[Any] | None,
    limits: AgentLimits,
) -> Any:
    """The agent graph: the model, the tools, the guards and the per-question limits."""
    names = {t.name for t in tools}
    middleware: list[AgentMiddleware[Any, Any, Any]] = [
        TurnModelCallLimit(run_limit=limits.model_calls, exit_behavior="end"),
        ToolCallLimitMiddleware(run_limit=limits.tool_calls, exit_behavior="continue"),
        ToolGuard(),
        ContextEditingMiddleware(
            edits=[ClearToolUsesEdit(trigger=CONTEXT_TRIGGER_TOKENS, keep=KEEP_TOOL_RESULTS)]
        ),
        ModelGuard(names),  # innermost: it sees exactly what the endpoint did
    ]
    return create_agent(model, tools, system_prompt=prompt, middleware=middleware, checkpointer=checkpointer)


# ---------------------------------------------------------------- the backend


def _update_messages(update: Any) -> list[BaseMessage]:
    if not isinstance(update, dict):
        return []
    messages = update.get("messages")
    if isinstance(messages, BaseMessage):
        return [messages]
    return [m for m in messages or [] if isinstance(m, BaseMessage)]


def _tool_outcome(message: ToolMessage) -> tuple[Any, ErrorInfo | None]:
    data = parse_tool_content(message.content)
    error = tool_error(data)
    if error is None and message.status == "error":
        error = ErrorInfo(code="refused", message=str(message.content)[:500])
    return data, error


def _events_of(part: dict[str, Any]) -> Iterator[Event]:
    if part["type"] == "messages":
        chunk, meta = part["data"]
        if isinstance(chunk, AIMessageChunk) and meta.get("langgraph_node") == "model" and chunk.text:
            yield TokenEvent(text=chunk.text)
        return
    if part["type"] != "updates":
        return
    for update in part["data"].values():
        for message in _update_messages(update):
            if isinstance(message, AIMessage):
                for call in message.tool_calls:
                    yield ToolCallEvent(id=call["id"] or "", name=call["name"], args=call["args"])
            elif isinstance(message, ToolMessage):
                data, error = _tool_outcome(message)
                yield ToolResultEvent(
                    id=message.tool_call_id,
                    name=message.name or "",
                    ok=error is None,
                    error=error,
                    output=data if error is None and isinstance(data, dict) else None,
                )


def _records(turn: Sequence[BaseMessage]) -> tuple[list[ToolCallRecord], list[dict[str, Any]]]:
    results = {m.tool_call_id: m for m in turn if isinstance(m, ToolMessage)}
    records: list[ToolCallRecord] = []
    proposals: list[dict[str, Any]] = []
    for message in turn:
        if not isinstance(message, AIMessage):
            continue
        for call in message.tool_calls:
            result = results.get(call["id"] or "")
            if result is None:
                missing = ErrorInfo(code="not_run", message="the turn ended before this call ran")
                records.append(ToolCallRecord(name=call["name"], args=call["args"], ok=False, error=missing))
                continue
            data, error = _tool_outcome(result)
            records.append(
                ToolCallRecord(name=call["name"], args=call["args"], ok=error is None, error=error)
            )
            if error is None and is_proposal(call["name"], data):
                proposals.append(data)
    return records, proposals


class LLMBackend:
    """The assistant on an OpenAI-compatible chat model (``ORDERPILOT_LLM_*`` settings)."""

    name = "openai"

    def __init__(
        self,
        settings: Settings,
        *,
        model: BaseChatModel | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
        limits: AgentLimits | None = None,
    ) -> None:
        self.settings = settings
        self._model = model
        self._checkpointer = checkpointer
        self.limits = limits or AgentLimits.from_settings(settings)

    def reply(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> AssistantReply:
        """Answer one question; the conversation of ``thread_id`` (per user) is kept in the database."""
        return reply_from_events(self._turn(question, thread_id, contexts, actor, tokens=False))

    def stream(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> Iterator[Event]:
        """The same turn as events: tokens as the model writes, tool calls and results, then the reply."""
        return self._turn(question, thread_id, contexts, actor, tokens=True)

    def _turn(
        self, question: str, thread_id: str, contexts: ContextFactory, actor: Actor, *, tokens: bool
    ) -> Iterator[Event]:
        language = detect_language(question)
        with contexts() as ctx:
            today = ctx.today
            db_url = ctx.session.get_bind().engine.url
        checkpointer = self._checkpointer or checkpointer_for(db_url)
        tools = agent_tools(contexts)
        agent = build_agent(
            self._model or build_chat_model(self.settings),
            tools,
            prompt=system_prompt(language, today=today, user=actor.username, role=actor.role),
            checkpointer=checkpointer,
            limits=self.limits,
        )
        # threads are per user: another user's thread id opens a different conversation
        config: dict[str, Any] = {
            "configurable": {"thread_id": f"{actor.username}:{thread_id}"},
            "recursion_limit": 8 * self.limits.model_calls + 10,
        }
        human = HumanMessage(content=question, id=f"q-{uuid.uuid4().hex}")
        failure: ModelEndpointError | None = None
        try:
            for part in agent.stream(
                {"messages": [human]},
                config,
                stream_mode=["messages", "updates"] if tokens else ["updates"],
                version="v2",
            ):
                yield from _events_of(part)
        except ModelEndpointError as exc:
            logger.warning("model endpoint failed: %s", exc)
            failure = exc
        messages = agent.get_state(config).values.get("messages", [])
        ids = [m.id for m in messages]
        turn = messages[ids.index(human.id) + 1 :] if human.id in ids else []
        yield FinalEvent(reply=self._reply(turn, failure, thread_id, language))

    def _reply(
        self,
        turn: Sequence[BaseMessage],
        failure: ModelEndpointError | None,
        thread_id: str,
        language: Language,
    ) -> AssistantReply:
        records, proposals = _records(turn)
        final = next((m for m in reversed(turn) if isinstance(m, AIMessage) and not m.tool_calls), None)
        error: ErrorInfo | None = None
        answer = final.text.strip() if final is not None else ""
        code, detail = "", ""
        if failure is not None:
            code, detail = failure.code, failure.detail
        elif final is not None and FAILURE_KEY in final.response_metadata:
            code = final.response_metadata[FAILURE_KEY]["code"]
            detail = final.response_metadata[FAILURE_KEY].get("detail", "")
        elif not answer:
            code = "empty_answer"
        if code:
            answer = failure_message(
                code,
                language,
                timeout=self.settings.llm_timeout_seconds,
                base_url=self.settings.llm_base_url or "api.openai.com",
                detail=detail[:200],
                model_calls=self.limits.model_calls,
            )
            if proposals:
                ids = ", ".join(str(p["proposal_id"]) for p in proposals)
                answer += " " + PENDING_NOTE[language].format(ids=ids)
            error = ErrorInfo(code=code, message=answer, details={"detail": detail} if detail else {})
        return AssistantReply(
            answer=answer,
            tool_calls=records,
            proposals=proposals,
            thread_id=thread_id,
            backend="openai",
            language=language,
            error=error,
        )
