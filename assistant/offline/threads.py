"""A conversation's memory between turns (ThreadState), kept in the database per user and thread.

Nothing is cached in the process: every turn reads the thread's state from the database and writes it back,
so a follow-up finds its context on any API worker and after a restart. The state is stored as JSON in
layout ``STATE_VERSION``; a state of another version or one that cannot be read back starts afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from assistant.backend import ContextFactory
from assistant.offline.entities import Candidate
from assistant.offline.intents import INTENTS, Slots
from assistant.offline.nlu import Language
from tools.conversations import forget_thread, load_thread, save_thread

# Raise when the JSON layout below changes: states saved in an older layout are then not read back.
STATE_VERSION = 1
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Pending:
    """What the last answer asked for: the intent waiting, its slots so far, and any candidates offered."""

    intent: str
    slots: Slots
    missing: tuple[str, ...]
    candidates: tuple[Candidate, ...] = ()


@dataclass
class ThreadState:
    """One conversation's memory: the last answered intent and slots, a pending question, the language."""

    intent: str | None = None
    slots: Slots = field(default_factory=Slots)
    pending: Pending | None = None
    language: Language | None = None


class StateFormatError(ValueError):
    """A stored state that does not have the layout of ``STATE_VERSION``."""


# ------------------------------------------------------------------------------------------------ JSON


def state_to_json(state: ThreadState) -> dict[str, Any]:
    """``state`` as JSON data (layout ``STATE_VERSION``)."""
    pending = state.pending
    return {
        "intent": state.intent,
        "slots": _slots_to_json(state.slots),
        "pending": None
        if pending is None
        else {
            "intent": pending.intent,
            "slots": _slots_to_json(pending.slots),
            "missing": list(pending.missing),
            "candidates": [_candidate_to_json(c) for c in pending.candidates],
        },
        "language": state.language,
    }


def state_from_json(data: dict[str, Any]) -> ThreadState:
    """The state ``state_to_json`` gave; raises StateFormatError when ``data`` does not have that layout or
    names an intent this version does not know."""
    try:
        pending = data["pending"]
        state = ThreadState(
            intent=_optional_str(data["intent"]),
            slots=_slots_from_json(data["slots"]),
            pending=None
            if pending is None
            else Pending(
                intent=str(pending["intent"]),
                slots=_slots_from_json(pending["slots"]),
                missing=tuple(str(s) for s in pending["missing"]),
                candidates=tuple(_candidate_from_json(c) for c in pending["candidates"]),
            ),
            language=data["language"],
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise StateFormatError(f"unreadable thread state: {exc!r}") from exc
    if state.language not in (None, *LANGUAGES):
        raise StateFormatError(f"unknown language {state.language!r}")
    # an intent renamed or removed since the state was saved would fail the next turn
    for intent in (state.intent, state.pending.intent if state.pending else None):
        if intent is not None and intent not in INTENTS:
            raise StateFormatError(f"unknown intent {intent!r}")
    return state


def _slots_to_json(slots: Slots) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(Slots):
        value = getattr(slots, f.name)
        if isinstance(value, Decimal):
            value = str(value)  # exact, unlike a JSON number
        elif isinstance(value, date):
            value = value.isoformat()
        elif f.name == "candidates":
            value = [_candidate_to_json(c) for c in value]
        out[f.name] = value
    return out


def _slots_from_json(data: dict[str, Any]) -> Slots:
    values: dict[str, Any] = {}
    for f in fields(Slots):
        if f.name not in data:
            continue  # a slot added since the state was saved keeps its default
        value = data[f.name]
        if value is not None and f.name == "qty":
            value = Decimal(str(value))
        elif value is not None and f.name == "date":
            value = date.fromisoformat(value)
        elif f.name == "candidates":
            value = tuple(_candidate_from_json(c) for c in value)
        values[f.name] = value
    return Slots(**values)


def _candidate_to_json(candidate: Candidate) -> dict[str, Any]:
    return {"code": candidate.code, "name": candidate.name, "score": candidate.score}


def _candidate_from_json(data: dict[str, Any]) -> Candidate:
    return Candidate(code=str(data["code"]), name=str(data["name"]), score=float(data["score"]))


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


# ------------------------------------------------------------------------------------------------ storage


def load_state(contexts: ContextFactory, thread_id: str) -> ThreadState:
    """The acting user's state of ``thread_id`` (a fresh one when none is kept or it cannot be read)."""
    with contexts() as ctx:
        stored = load_thread(ctx, thread_id)
    if stored is None or stored.version != STATE_VERSION:
        return ThreadState()
    try:
        return state_from_json(stored.state)
    except StateFormatError:
        # a damaged state costs the conversation its context, not the answer
        return ThreadState()


def save_state(contexts: ContextFactory, thread_id: str, state: ThreadState) -> None:
    """Keep ``state`` as the acting user's state of ``thread_id`` (a transaction of its own)."""
    with contexts() as ctx:
        save_thread(ctx, thread_id, state_to_json(state), STATE_VERSION)


def forget_state(contexts: ContextFactory, thread_id: str) -> bool:
    """Drop the acting user's state of ``thread_id``; whether one was kept."""
    with contexts() as ctx:
        return forget_thread(ctx, thread_id)
