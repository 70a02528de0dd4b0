"""Structured tool errors: the only error shape any surface shows a user or a model."""

from __future__ import annotations

from typing import Any, Literal

ErrorCode = Literal["not_found", "invalid_input", "infeasible", "conflict", "forbidden", "unavailable"]

HTTP_STATUS: dict[str, int] = {
    "not_found": 404,
    "invalid_input": 422,
    "infeasible": 409,
    "conflict": 409,
    "forbidden": 403,
    "unavailable": 503,
}


class ToolError(Exception):
    """An expected failure with a code a program can act on and a message a person can read."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(kind: str, key: str) -> ToolError:
    return ToolError("not_found", f"{kind} {key!r} not found", {"kind": kind, "key": key})
