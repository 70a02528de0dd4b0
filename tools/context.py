"""What every tool handler receives: the session, the clock, the acting user and the settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import Session

from data_model.db import make_engine, upgrade
from data_model.settings import Settings, get_settings
from data_model.tables import Meta


@dataclass(frozen=True)
class Actor:
    """The person (or program) on whose behalf a tool runs."""

    username: str
    role: str
    display_name: str = ""


SYSTEM_ACTOR = Actor("local", "admin", "local command line")


@dataclass
class ToolContext:
    session: Session
    actor: Actor = SYSTEM_ACTOR
    settings: Settings = field(default_factory=get_settings)
    # injected in tests; else settings.today, dataset today, system date
    clock: Callable[[], date] | None = None

    @property
    def today(self) -> date:
        if self.clock is not None:
            return self.clock()
        return dataset_today(self.session, self.settings)


def dataset_today(session: Session, settings: Settings | None = None) -> date:
    """The planning clock: the ORDERPILOT_TODAY setting, else the dataset's ``today``, else the system date."""
    if settings is not None and settings.today is not None:
        return settings.today
    row = session.get(Meta, "today")
    if row is not None and row.value:
        return date.fromisoformat(row.value)
    return date.today()


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per database URL per process, migrated to the latest schema on first use."""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(url)
        if engine is None:
            engine = make_engine(url)
            upgrade(engine)
            _ENGINES[url] = engine
        return engine


def made_engine(url: str) -> Engine | None:
    """The engine ``engine_for`` already made for ``url`` (nothing to connect to or check), else None."""
    return _ENGINES.get(url)


def dispose_engine(url: str) -> None:
    """Close the pooled connections of ``url`` (before dropping a database, or at shutdown)."""
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


@contextmanager
def open_context(
    url: str | None = None,
    actor: Actor = SYSTEM_ACTOR,
    settings: Settings | None = None,
    clock: Callable[[], date] | None = None,
) -> Iterator[ToolContext]:
    """A context on its own session; the transaction commits when the block ends without error."""
    settings = settings or get_settings()
    engine = engine_for(url or settings.database_url)
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield ToolContext(session=session, actor=actor, settings=settings, clock=clock)
            session.commit()
        except BaseException:
            session.rollback()
            raise
