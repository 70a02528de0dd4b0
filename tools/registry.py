"""The tool registry: each tool is declared once and every surface is generated from that declaration."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError

from planning.errors import DataError, InfeasibleError, InvalidInputError, PlanningError
from tools.context import ToolContext
from tools.errors import ToolError

ToolKind = Literal["read", "propose"]
In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)
Handler = Callable[[ToolContext, Any], BaseModel]


@dataclass(frozen=True)
class ToolSpec:
    """One tool: its name, the model-facing description, typed input and output, kind and handler."""

    name: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    kind: ToolKind
    handler: Handler
    tags: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        return self.description.strip().splitlines()[0] if self.description else self.name

    def input_schema(self) -> dict[str, Any]:
        return self.input_model.model_json_schema()

    def output_schema(self) -> dict[str, Any]:
        return self.output_model.model_json_schema(mode="serialization")


_REGISTRY: dict[str, ToolSpec] = {}
_LOADED = False


def tool(*, kind: ToolKind = "read", tags: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
    """Register ``fn(ctx, args: InputModel) -> OutputModel``; its docstring is the model-facing description.

    The name is the function's name; write tools must be named ``propose_*`` and declared ``kind="propose"``.
    """

    def register(fn: Handler) -> Handler:
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        if len(params) != 2:
            raise TypeError(f"tool {fn.__name__} must take (ctx, args)")
        input_model = hints[params[1]]
        output_model = hints["return"]
        name = fn.__name__
        if (kind == "propose") != name.startswith("propose_"):
            raise TypeError(f"tool {name}: write tools, and only they, are named propose_*")
        if name in _REGISTRY and _REGISTRY[name].handler is not fn:
            raise TypeError(f"tool {name} is declared twice")
        _REGISTRY[name] = ToolSpec(
            name=name,
            description=inspect.getdoc(fn) or "",
            input_model=input_model,
            output_model=output_model,
            kind=kind,
            handler=fn,
            tags=tags,
        )
        return fn

    return register


def load_all() -> dict[str, ToolSpec]:
    """Import every module of ``tools.catalog`` (each declares its tools) and return the registry."""
    global _LOADED
    if not _LOADED:
        import tools.catalog as catalog

        for mod in sorted(pkgutil.iter_modules(catalog.__path__), key=lambda m: m.name):
            importlib.import_module(f"tools.catalog.{mod.name}")
        _LOADED = True
    return _REGISTRY


def get_tool(name: str) -> ToolSpec:
    registry = load_all()
    if name not in registry:
        raise ToolError(
            "not_found", f"no tool named {name!r}", {"kind": "tool", "key": name, "available": sorted(registry)}
        )
    return registry[name]


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(input)", "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]


def parse_args(spec: ToolSpec, raw: dict[str, Any] | None) -> BaseModel:
    try:
        return spec.input_model.model_validate(raw or {})
    except ValidationError as exc:
        details = validation_details(exc)
        first = details[0]
        raise ToolError(
            "invalid_input",
            f"{spec.name}: field '{first['field']}': {first['message']}",
            {"errors": details},
        ) from None


def run_tool(ctx: ToolContext, name: str, raw_args: dict[str, Any] | None) -> BaseModel:
    """Validate, run and return the typed output; every expected failure becomes a ToolError."""
    spec = get_tool(name)
    args = parse_args(spec, raw_args)
    try:
        return spec.handler(ctx, args)
    except ToolError:
        raise
    except InvalidInputError as exc:
        raise ToolError("invalid_input", exc.message, exc.details) from None
    except InfeasibleError as exc:
        raise ToolError("infeasible", exc.message, exc.details) from None
    except DataError as exc:
        raise ToolError("conflict", exc.message, exc.details) from None
    except PlanningError as exc:
        raise ToolError("invalid_input", exc.message, exc.details) from None


def call_tool(ctx: ToolContext, name: str, raw_args: dict[str, Any] | None) -> dict[str, Any]:
    """Run a tool and give its output as JSON-ready data (quantities as numbers)."""
    return run_tool(ctx, name, raw_args).model_dump(mode="json")
