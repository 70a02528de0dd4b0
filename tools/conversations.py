"""The offline assistant's stored conversation state: one row per user and thread, bounded in number and age.

Not a tool: the offline backend reads a thread's state at the start of a turn and writes it at the end, each
in a transaction of its own, always as the context's actor, so no user can read another user's thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, delete, select

from data_model.tables import AssistantThread
from tools.context import ToolContext

# longer thread ids are stored by their digest (the column holds 100 characters)
MAX_THREAD_ID_CHARS = 100


@dataclass(frozen=True)
class StoredThread:
    """A thread's state as stored: the version of its JSON layout and the JSON."""

    version: int
    state: dict[str, Any]


def thread_key(thread_id: str) -> str:
    """The stored id of ``thread_id``: itself, or ``sha256:<hex>`` when too long for the column."""
    if len(thread_id) <= MAX_THREAD_ID_CHARS:
        return thread_id
    return "sha256:" + hashlib.sha256(thread_id.encode()).hexdigest()


def load_thread(ctx: ToolContext, thread_id: str, *, now: datetime | None = None) -> StoredThread | None:
    """The acting user's state of ``thread_id``; None when never saved, forgotten or unused past retention."""
    row = ctx.session.exec(
        select(AssistantThread).where(
            AssistantThread.username == ctx.actor.username,
            AssistantThread.thread_id == thread_key(thread_id),
            # compared in the database, like the retention pass (a stored timestamp's zone is the server's)
            col(AssistantThread.updated_at) >= _cutoff(ctx, now),
        )
    ).first()
    if row is None:
        return None
    return StoredThread(version=row.state_version, state=dict(row.state))


def save_thread(
    ctx: ToolContext, thread_id: str, state: dict[str, Any], version: int, *, now: datetime | None = None
) -> None:
    """Store the acting user's state of ``thread_id`` and drop threads past the retention settings: any
    user's thread unused for ``offline_thread_retention_days``, and this user's least recently used threads
    beyond ``offline_threads_per_user`` (this one counted)."""
    moment = _now(now)
    username, key = ctx.actor.username, thread_key(thread_id)
    session = ctx.session
    # a write first, so a SQLite transaction holds the write lock before it reads
    session.exec(delete(AssistantThread).where(col(AssistantThread.updated_at) < _cutoff(ctx, moment)))
    keep_others = max(ctx.settings.offline_threads_per_user, 1) - 1
    overflow = session.exec(
        select(AssistantThread.thread_id)
        .where(AssistantThread.username == username, AssistantThread.thread_id != key)
        .order_by(col(AssistantThread.updated_at).desc(), col(AssistantThread.thread_id))
        .offset(keep_others)
    ).all()
    if overflow:
        session.exec(
            delete(AssistantThread).where(
                AssistantThread.username == username, col(AssistantThread.thread_id).in_(overflow)
            )
        )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"state_version": version, "state": state, "updated_at": moment}
    # ON CONFLICT: two workers may save the first turn of a thread at once; the later one wins
    stmt = (
        insert(AssistantThread)
        .values(username=username, thread_id=key, created_at=moment, **values)
        .on_conflict_do_update(index_elements=["username", "thread_id"], set_=values)
    )
    session.exec(stmt)  # type: ignore[call-overload]


def forget_thread(ctx: ToolContext, thread_id: str) -> bool:
    """Delete the acting user's state of ``thread_id``; whether there was one."""
    result = ctx.session.exec(
        delete(AssistantThread).where(
            AssistantThread.username == ctx.actor.username, AssistantThread.thread_id == thread_key(thread_id)
        )
    )
    return bool(result.rowcount)


def _now(now: datetime | None) -> datetime:
    """``now`` (a naive one taken as UTC) or the current time, as aware UTC."""
    if now is None:
        return datetime.now(UTC)
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _cutoff(ctx: ToolContext, now: datetime | None) -> datetime:
    return _now(now) - timedelta(days=max(ctx.settings.offline_thread_retention_days, 1))
