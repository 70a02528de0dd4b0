"""`orderpilot ask` and `orderpilot chat`: the assistant on the command line (LangChain loads only for the LLM)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.output import DbOption, emit_json, fail, fail_unreachable, run_in_context

if TYPE_CHECKING:
    from assistant.backend import AssistantReply
    from tools.context import Actor

BackendOption = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="offline (embedded, no network) or openai (any OpenAI-compatible model); "
        "default: openai when ORDERPILOT_LLM_BASE_URL or ORDERPILOT_LLM_API_KEY is set, else offline.",
    ),
]
ThreadOption = Annotated[
    str | None, typer.Option("--thread", help="Continue this conversation (the id a previous answer gave).")
]
AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Ask as this user (they become the requester of proposals); default: local admin."
    ),
]
QUIT_COMMANDS = ("/quit", "/exit", "/q")


def _resolve(db: str | None, as_user: str | None, json_out: bool) -> tuple[str, Actor]:
    """The database URL and the acting user; an unknown user or a lost database ends the command."""
    from data_model.settings import get_settings
    from tools.auth import actor_for

    url = db or get_settings().database_url
    return url, run_in_context(url, lambda ctx: actor_for(ctx.session, as_user), as_json=json_out)


def _check_backend(backend: str | None, json_out: bool) -> None:
    if backend is not None and backend not in ("offline", "openai"):
        fail("invalid_input", "--backend must be offline or openai", {"field": "backend"}, as_json=json_out)


def _proposal_lines(reply: AssistantReply) -> list[str]:
    lines = []
    for proposal in reply.proposals:
        pid = proposal.get("proposal_id", "?")
        summary = proposal.get("summary_zh" if reply.language == "zh" else "summary_en", "")
        lines.append(f"  [pending {pid}] {summary}")
        lines.append(
            f"    confirm: orderpilot proposals confirm {pid}   reject: orderpilot proposals reject {pid}"
        )
    return lines


def ask(
    text: Annotated[str, typer.Argument(help="The question, in Chinese or English.")],
    db: DbOption = None,
    backend: BackendOption = None,
    json_out: Annotated[
        bool, typer.Option("--json", help='Print {"answer", "tool_calls", "proposals", "thread_id", …}.')
    ] = False,
    thread: ThreadOption = None,
    as_user: AsOption = None,
) -> None:
    """Ask the assistant one question. Write actions come back as pending proposals (nothing changes until
    a person confirms them). Exit 1 when the assistant could not answer (no backend, model failure)."""
    from sqlalchemy.exc import OperationalError

    from assistant.service import ask as ask_assistant

    _check_backend(backend, json_out)
    url, actor = _resolve(db, as_user, json_out)
    try:
        reply = ask_assistant(text, backend=backend, thread_id=thread, db_url=url, actor=actor)
    except OperationalError as exc:
        fail_unreachable(exc, as_json=json_out)
    if json_out:
        emit_json(reply.contract_json())
    else:
        typer.echo(reply.answer)
        for line in _proposal_lines(reply):
            typer.echo(line)
    if reply.error is not None:
        raise typer.Exit(1)


def _print_event(event: Any, segment: list[str]) -> None:
    """Show a token as it comes and each tool call on its own line; ``segment`` is the text since the last
    tool call (what the final answer should be)."""
    from assistant.backend import TokenEvent, ToolCallEvent, ToolResultEvent

    if isinstance(event, TokenEvent):
        segment.append(event.text)
        typer.echo(event.text, nl=False)
    elif isinstance(event, ToolCallEvent):
        if segment and not "".join(segment).endswith("\n"):
            typer.echo("")
        segment.clear()
        typer.secho(f"  · {event.name} {_short(event.args)}", dim=True, err=True)
    elif isinstance(event, ToolResultEvent) and not event.ok and event.error is not None:
        typer.secho(f"    ✗ {event.name}: {event.error.message[:160]}", dim=True, err=True)


def _short(args: dict[str, Any], limit: int = 100) -> str:
    import json

    text = json.dumps(args, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def chat(
    db: DbOption = None,
    backend: BackendOption = None,
    thread: ThreadOption = None,
    as_user: AsOption = None,
) -> None:
    """An interactive conversation with the assistant (the thread keeps the history). /new starts a new
    conversation, /quit ends."""
    from assistant.backend import BackendUnavailable, FinalEvent, new_thread_id
    from assistant.service import ask_stream, describe_backend
    from data_model.settings import get_settings

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and input history for input())
    _check_backend(backend, False)
    url, actor = _resolve(db, as_user, False)
    try:
        info = describe_backend(get_settings(), backend)
    except BackendUnavailable as exc:
        fail("invalid_input", exc.message, as_json=False)
    thread_id = thread or new_thread_id()
    where = f" ({info['model']} at {info['base_url']})" if info["backend"] == "openai" else ""
    typer.echo(f"OrderPilot assistant — {info['backend']} backend{where}, user {actor.username}.")
    typer.echo("Ask in Chinese or English. /new starts a new conversation, /quit ends.")
    while True:
        try:
            question = input("\n> ").strip()
        except (EOFError, KeyboardInterrupt):
            typer.echo("")
            return
        if not question:
            continue
        if question in QUIT_COMMANDS:
            return
        if question == "/new":
            thread_id = new_thread_id()
            typer.echo(f"(new conversation {thread_id})")
            continue
        segment: list[str] = []
        reply = None
        for event in ask_stream(question, backend=backend, thread_id=thread_id, db_url=url, actor=actor):
            if isinstance(event, FinalEvent):
                reply = event.reply
            else:
                _print_event(event, segment)
        if reply is None:
            continue
        said = "".join(segment).strip()
        if said:
            typer.echo("")
        if reply.answer.strip() != said:
            # the streamed text was not the answer (a failure the backend reported after the fact)
            typer.echo(reply.answer)
        for line in _proposal_lines(reply):
            typer.echo(line)
