"""The registry as LangChain tools for the assistant: errors come back to the model as data, never raised."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from tools.context import ToolContext
from tools.errors import ToolError
from tools.registry import ToolSpec, call_tool, load_all, validation_details

if TYPE_CHECKING:
    from langchain_core.tools import StructuredTool

logger = logging.getLogger("orderpilot.tools")

ContextSource = ToolContext | Callable[[], AbstractContextManager[ToolContext]]


def error_payload(code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """The structured error the model sees (the same shape as the CLI's and the API's)."""
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _context(source: ContextSource) -> AbstractContextManager[ToolContext]:
    # a shared context belongs to the caller (who commits); a factory gives each call its own transaction
    return nullcontext(source) if isinstance(source, ToolContext) else source()


def invoke(source: ContextSource, name: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run tool ``name`` and return its JSON output, or an ``{"error": …}`` payload; never raises for an
    expected failure (bad input, missing record, conflict, database unavailable)."""
    try:
        with _context(source) as ctx:
            return call_tool(ctx, name, args)
    except ToolError as exc:
        return exc.to_dict()
    except OperationalError as exc:
        logger.error("database unavailable: %s", str(exc.orig).strip()[:300])
        return error_payload("unavailable", "the database is not reachable; try again later")
    except Exception:  # the agent loop must go on: the model is told, the log gets the trace
        logger.exception("unexpected error in tool %s", name)
        return error_payload("internal", f"internal error in {name}; it has been logged")


def _validation_message(name: str) -> Callable[[ValidationError], str]:
    def handle(exc: ValidationError) -> str:
        details = validation_details(exc)
        first = details[0] if details else {"field": "(input)", "message": "invalid"}
        payload = error_payload(
            "invalid_input", f"{name}: field '{first['field']}': {first['message']}", {"errors": details}
        )
        return json.dumps(payload, ensure_ascii=False)

    return handle


def to_langchain_tool(spec: ToolSpec, source: ContextSource) -> StructuredTool:
    """One StructuredTool: the tool's input model as ``args_schema``, its JSON output (or error) as result."""
    from langchain_core.tools import StructuredTool

    def run(**kwargs: Any) -> dict[str, Any]:
        return invoke(source, spec.name, kwargs)

    return StructuredTool(
        name=spec.name,
        description=spec.description,
        args_schema=spec.input_model,
        func=run,
        handle_validation_error=_validation_message(spec.name),
        metadata={"kind": spec.kind},
    )


def langchain_tools(source: ContextSource, names: Iterable[str] | None = None) -> list[StructuredTool]:
    """LangChain tools for every registered tool (or those in ``names``), in name order.

    ``source`` is a ToolContext shared by all calls (the caller commits), or a factory of context managers
    such as ``lambda: open_context(url, actor=actor)`` giving each call a transaction of its own.
    """
    registry = load_all()
    wanted = sorted(registry) if names is None else list(names)
    unknown = [n for n in wanted if n not in registry]
    if unknown:
        raise ToolError("not_found", f"no tool named {unknown[0]!r}", {"kind": "tool", "key": unknown[0]})
    return [to_langchain_tool(registry[n], source) for n in wanted]
