"""The FastAPI application: tools, proposals, the assistant, health; built by ``create_app`` (nothing at import time)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from pydantic import BaseModel

from api.deps import CurrentUser, SessionDep
from api.errors import BodyLimitMiddleware, CatchAllMiddleware, install_error_handlers
from api.proposal_routes import router as proposal_router
from api.tool_routes import ERROR_RESPONSES, build_tool_router
from data_model.settings import Settings, get_settings

API_TITLE = "OrderPilot API"


class Health(BaseModel):
    status: str
    database: str


class Me(BaseModel):
    username: str
    role: str
    display_name: str


def create_app(settings: Settings | None = None, *, ui: bool | None = None) -> FastAPI:
    """A new application on ``settings`` (default: the environment's); the engine is made on first use.

    With ``ui`` (default: the ``ui_enabled`` setting) the web UI is served at /ui and "/" redirects there.
    """
    settings = settings or get_settings()
    app = FastAPI(
        title=API_TITLE,
        version="1",
        description="Every tool of OrderPilot over HTTP. Write tools (propose_*) only store a proposal; "
        "a user whose role may approve it confirms it at POST /api/v1/proposals/{id}/confirm.",
    )
    app.state.settings = settings
    install_error_handlers(app)

    @app.get("/health", response_model=Health, tags=["health"], responses=ERROR_RESPONSES)
    def health(session: SessionDep) -> Health:
        """Whether the service and its database answer (503 when the database does not)."""
        session.exec(sa.select(sa.literal(1)))  # type: ignore[call-overload]
        return Health(status="ok", database=session.get_bind().dialect.name)

    @app.get("/api/v1/me", response_model=Me, tags=["users"], responses=ERROR_RESPONSES)
    def me(actor: CurrentUser) -> Me:
        """The user the token belongs to."""
        return Me(username=actor.username, role=actor.role, display_name=actor.display_name)

    app.include_router(build_tool_router())
    app.include_router(proposal_router)
    from api.chat import router as chat_router  # the assistant (imported here: it is the heaviest part)

    app.include_router(chat_router)

    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(CatchAllMiddleware)
    if settings.ui_enabled if ui is None else ui:
        from ui.app import mount_ui  # gradio is heavy: imported only when the UI is served

        app = mount_ui(app, settings)
    return app


def openapi_document(settings: Settings | None = None) -> dict[str, Any]:
    """The OpenAPI document (for docs and clients) without serving."""
    return create_app(settings, ui=False).openapi()
