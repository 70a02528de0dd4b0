"""Request dependencies: settings, one database session per request, and the authenticated user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from data_model.settings import Settings
from tools.auth import authenticate_token
from tools.context import Actor, engine_for, made_engine

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="API token from `orderpilot users token USERNAME`, sent as `Authorization: Bearer TOKEN`.",
)


class Unauthenticated(Exception):
    """No valid bearer token (401)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# The dependencies that do not talk to the database are async: FastAPI runs a plain function in a worker
# thread, and each hand-over to a thread and back cost as much CPU as a small query.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(settings: SettingsDep) -> AsyncIterator[Session]:
    """One session per request; what a route did not commit is rolled back.

    A session connects on first use, so it is made on the event loop (the engine too once it exists); it
    is closed there after a commit, and in a worker thread when a transaction is still open (a rollback
    talks to the database)."""
    engine = made_engine(settings.database_url) or await run_in_threadpool(engine_for, settings.database_url)
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


SessionDep = Annotated[Session, Depends(get_session)]


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> Actor:
    """The user the bearer token belongs to; 401 without a valid one."""
    if credentials is None:
        raise Unauthenticated("missing bearer token: send Authorization: Bearer TOKEN")
    actor = authenticate_token(session, credentials.credentials)
    if actor is None:
        raise Unauthenticated("invalid or revoked token")
    return actor


CurrentUser = Annotated[Actor, Depends(get_current_user)]
