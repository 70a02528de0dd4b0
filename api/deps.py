"""Request dependencies: settings, one database session per request, and the authenticated user."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from data_model.settings import Settings
from tools.auth import authenticate_token
from tools.context import Actor, engine_for

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


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request; what a route did not commit is rolled back."""
    with Session(engine_for(settings.database_url), expire_on_commit=False) as session:
        try:
            yield session
        finally:
            session.rollback()


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
