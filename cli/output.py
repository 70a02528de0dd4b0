"""JSON output and error reporting shared by every command (no tracebacks reach a user)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(code: str, message: str, details: dict[str, Any] | None = None, as_json: bool = True) -> NoReturn:
    """Print the contract's error shape (JSON on stdout, or a line on stderr) and exit 1."""
    if as_json:
        emit_json({"error": {"code": code, "message": message, "details": details or {}}})
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)
