"""The offline assistant's conversation state: one row per user and thread."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from data_model.base import check, utcnow


class AssistantThread(SQLModel, table=True):
    """What the offline assistant remembers of one conversation between turns (its ThreadState as JSON).

    Keyed by the user and the thread id together: the same thread id under another user is another
    conversation. ``state_version`` is the version of the JSON layout; a state of another version is not
    read back (the conversation starts afresh). Rows are dropped past the retention settings.
    """

    __tablename__ = "assistant_thread"
    __table_args__ = (
        check("state_version > 0", "state_version_positive"),
        # the retention pass reads one user's threads newest first
        sa.Index("ix_assistant_thread_username_updated_at", "username", "updated_at"),
    )
    username: str = Field(primary_key=True, max_length=64)
    thread_id: str = Field(primary_key=True, max_length=100)
    state_version: int = 1
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow, index=True)
