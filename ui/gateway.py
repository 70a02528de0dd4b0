"""The UI's only way in: sign-in, tools and proposals as the signed-in user, and the assistant."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

from assistant.service import Event, ask_stream, describe_backend
from data_model.settings import Settings
from tools.auth import actor_for, authenticate_password, list_users, set_password
from tools.context import Actor, ToolContext, dataset_today, open_context
from tools.proposals import (
    DOMAINS,
    ProposalDetail,
    ProposalStatus,
    confirm,
    current_versions,
    get_proposal,
    list_proposals,
    reject,
)
from tools.registry import call_tool, load_all

logger = logging.getLogger(__name__)
T = TypeVar("T")

DEMO_PREFIX = "demo-"
CATALOG_TTL_SECONDS = 30.0
MEMO_SIZE = 32
DEMO_RECHECK_SECONDS = 300.0  # checking a password costs ~50 ms of scrypt per demo user


@dataclass(frozen=True)
class CatalogEntry:
    """An item as the UI lists it (pickers, links)."""

    code: str
    name: str
    source: str


@dataclass
class _CatalogCache:
    version: int | None = None
    items: dict[str, CatalogEntry] = field(default_factory=dict)
    checked_at: float = 0.0


class Gateway:
    """Calls tools, proposals and the assistant on the configured database, on behalf of an actor."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._catalog = _CatalogCache()
        self._lock = threading.Lock()
        self._demo_checked = False
        self._demo_ready: tuple[float, list[str]] | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}

    @property
    def url(self) -> str:
        return self.settings.database_url

    def context(self, actor: Actor) -> AbstractContextManager[ToolContext]:
        """A tool context of its own (one transaction) acting as ``actor``."""
        return open_context(self.url, actor=actor, settings=self.settings)

    # ------------------------------------------------------------------ tools

    def call(self, actor: Actor, name: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run tool ``name`` as ``actor`` and return its JSON output (raises ToolError)."""
        with self.context(actor) as ctx:
            return call_tool(ctx, name, args or {})

    def tool_names(self) -> set[str]:
        return set(load_all())

    def has_tool(self, name: str) -> bool:
        """Whether a tool of that name is registered in this build (e.g. ``get_schedule``)."""
        return name in load_all()

    def today(self, actor: Actor) -> date:
        """The planning clock (setting, dataset, or system date)."""
        with self.context(actor) as ctx:
            return dataset_today(ctx.session, self.settings)

    def items(self, actor: Actor) -> dict[str, CatalogEntry]:
        """Every active item by code, refreshed when the master data changes."""
        with self._lock:
            cache = self._catalog
            fresh = time.monotonic() - cache.checked_at < CATALOG_TTL_SECONDS
            if fresh and cache.version is not None:
                return cache.items
        out = self.call(actor, "list_catalog", {"if_version_not": cache.version})
        with self._lock:
            if not out["unchanged"]:
                self._catalog = _CatalogCache(
                    version=out["version"],
                    items={i["code"]: CatalogEntry(i["code"], i["name"], i["source"]) for i in out["items"]},
                )
            self._catalog.checked_at = time.monotonic()
            return self._catalog.items

    def memo(self, actor: Actor, key: tuple[Any, ...], compute: Callable[[], T]) -> T:
        """``compute()`` once per version of the data: a read that several views show at sign-in (tracking)
        is computed once until something is written (every write bumps a data version)."""
        with self.context(actor) as ctx:
            versions = current_versions(ctx.session, DOMAINS)
            today = dataset_today(ctx.session, self.settings)
        full_key = (*key, today, tuple(sorted(versions.items())))
        with self._lock:
            if full_key in self._memo:
                return self._memo[full_key]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            if len(self._memo) >= MEMO_SIZE:
                self._memo.pop(next(iter(self._memo)))
            self._memo[full_key] = value
        return value

    # ------------------------------------------------------------------ users

    def sign_in(self, username: str, password: str) -> Actor | None:
        """The user if the password is theirs and they are active, else None."""
        if not username or not password:
            return None
        self.demo_accounts()  # a sign-in faster than the page's load still finds the demo passwords set
        with open_context(self.url, settings=self.settings) as ctx:
            return authenticate_password(ctx.session, username.strip(), password)

    def current_actor(self, actor: Actor) -> Actor:
        """The signed-in user as the database has them now: a changed role or a deactivation counts at once
        (raises ToolError forbidden / not_found)."""
        with open_context(self.url, settings=self.settings) as ctx:
            return actor_for(ctx.session, actor.username)

    def demo_accounts(self) -> list[str]:
        """The demo users (``orderpilot users demo``) who sign in with the demo password, setting it for them
        once per process when ``ui_demo_password`` is configured; empty when there are none."""
        password = self.settings.ui_demo_password
        if not password:
            return []
        cached = self._demo_ready
        if cached is not None and time.monotonic() - cached[0] < DEMO_RECHECK_SECONDS:
            return cached[1]
        with open_context(self.url, settings=self.settings) as ctx:
            demo = [
                u.username
                for u in list_users(ctx.session)
                if u.active and u.username == f"{DEMO_PREFIX}{u.role}"
            ]
            ready: list[str] = []
            for username in demo:
                if authenticate_password(ctx.session, username, password) is not None:
                    ready.append(username)
                elif not self._demo_checked:
                    # demo accounts sign in with the demo password: set when the UI first sees them
                    set_password(ctx.session, username, password)
                    logger.info("demo user %s: password set to the configured demo password", username)
                    ready.append(username)
        self._demo_checked = True
        self._demo_ready = (time.monotonic(), ready)
        return ready

    # ------------------------------------------------------------------ proposals

    def proposals(
        self, actor: Actor, status: ProposalStatus | None, limit: int = 100
    ) -> list[ProposalDetail]:
        load_all()  # the appliers (and so the approver roles) are declared next to the propose tools
        with self.context(actor) as ctx:
            return list_proposals(ctx.session, status=status, limit=limit)

    def proposal(self, actor: Actor, proposal_id: str) -> ProposalDetail:
        load_all()
        with self.context(actor) as ctx:
            return get_proposal(ctx.session, proposal_id)

    def confirm(self, actor: Actor, proposal_id: str) -> ProposalDetail:
        """Confirm as ``actor``: the same function as POST /api/v1/proposals/{id}/confirm (role checked)."""
        with self.context(actor) as ctx:
            return confirm(ctx.session, proposal_id, actor)

    def reject(self, actor: Actor, proposal_id: str, reason: str) -> ProposalDetail:
        with self.context(actor) as ctx:
            return reject(ctx.session, proposal_id, actor, reason=reason)

    # ------------------------------------------------------------------ assistant

    def ask(self, actor: Actor, question: str, thread_id: str | None) -> Iterator[Event]:
        """The assistant's events for one question (tokens, tool calls and results, the final reply)."""
        return ask_stream(question, thread_id=thread_id, db_url=self.url, actor=actor, settings=self.settings)

    def backend(self) -> dict[str, Any]:
        return describe_backend(self.settings)
