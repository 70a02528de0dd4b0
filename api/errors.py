"""Every failure as {"error": {code, message, details}}: tool errors, bad input, a lost database, bugs."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import Unauthenticated
from tools.errors import ToolError

logger = logging.getLogger("orderpilot.api")

HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_input",
}


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        where, parts = parts[0], parts[1:]
        return ".".join(str(p) for p in parts) or ("(body)" if where == "body" else f"({where})")
    return ".".join(str(p) for p in parts) or "(input)"


async def tool_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ToolError)
    return JSONResponse(exc.to_dict(), status_code=exc.http_status)


async def validation_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field(e.get("loc", ())), "message": e.get("msg", "invalid")} for e in exc.errors()]
    first = errors[0] if errors else {"field": "(input)", "message": "invalid input"}
    return JSONResponse(
        error_body("invalid_input", f"field '{first['field']}': {first['message']}", {"errors": errors}),
        status_code=422,
    )


async def unauthenticated_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Unauthenticated)
    return JSONResponse(
        error_body("unauthenticated", exc.message), status_code=401, headers={"WWW-Authenticate": "Bearer"}
    )


async def http_error_handler(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers)


async def database_unavailable_handler(_: Request, exc: Exception) -> JSONResponse:
    logger.error("database unavailable: %s", str(getattr(exc, "orig", exc)).strip()[:300])
    return JSONResponse(
        error_body("unavailable", "the database is not reachable; try again later"), status_code=503
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A connection the driver reports lost (e.g. a SQLite file closed under it) is the database being
    unavailable (503); any other database error is a bug (500, logged with its trace)."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated:
        return await database_unavailable_handler(request, exc)
    logger.error("database error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal", "internal error; it has been logged"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ToolError, tool_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(Unauthenticated, unauthenticated_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(OperationalError, database_unavailable_handler)
    app.add_exception_handler(DBAPIError, database_error_handler)


async def _send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    response = JSONResponse(body, status_code=status)
    await send({"type": "http.response.start", "status": status, "headers": response.raw_headers})
    await send({"type": "http.response.body", "body": response.body})


class CatchAllMiddleware:
    """The last line of defence: an unexpected error is logged with its trace and answered 500 without it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_tracking)
        except Exception:  # a bug: the user sees a plain 500, the log gets the trace
            logger.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await _send_json(send, 500, error_body("internal", "internal error; it has been logged"))


class BodyLimitMiddleware:
    """Refuse a request body over the limit (413): at once when its declared length is over, else when the
    bytes read so far pass it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> dict[str, Any]:
        return error_body(
            "too_large", f"request body over {self.max_bytes} bytes", {"max_bytes": self.max_bytes}
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_json(send, 413, self._too_large())
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # an HTTPException passes through FastAPI's body parsing to the JSON error handler
                    raise StarletteHTTPException(413, f"request body over {self.max_bytes} bytes")
            return message

        await self.app(scope, counting_receive, send)
