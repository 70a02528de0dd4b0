"""The tool registry: each tool is declared once and every surface is generated from that declaration."""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import os
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_type_hints

from pydantic import BaseModel, ValidationError

from planning.errors import DataError, InfeasibleError, InvalidInputError, PlanningError
from tools.cache import cache_dir
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


def _catalog_modules() -> list[Any]:
    import tools.catalog as catalog

    return sorted(pkgutil.iter_modules(catalog.__path__), key=lambda m: m.name)


def _index_path() -> Path:
    """Where the tool → module index of this exact catalog (file names, sizes and times) is cached."""
    import tools.catalog as catalog

    h = hashlib.sha256()
    for path in sorted(Path(catalog.__path__[0]).glob("*.py")):
        stat = path.stat()
        h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return cache_dir() / f"tool-index-{h.hexdigest()[:20]}.json"


def load_all() -> dict[str, ToolSpec]:
    """Import every module of ``tools.catalog`` (each declares its tools) and return the registry."""
    global _LOADED
    if not _LOADED:
        for mod in _catalog_modules():
            importlib.import_module(f"tools.catalog.{mod.name}")
        _LOADED = True
        _write_index()
    return _REGISTRY


def _write_index() -> None:
    index = {name: spec.handler.__module__ for name, spec in _REGISTRY.items()}
    try:
        path = _index_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(index, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # no writable cache: every lookup imports the whole catalog, which is only slower


def _load_one(name: str) -> None:
    """Import just the module that declares ``name`` when the cached index knows it (one CLI call)."""
    try:
        index = json.loads(_index_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    module = index.get(name)
    if isinstance(module, str) and module.startswith("tools.catalog."):
        importlib.import_module(module)


def tool_names() -> frozenset[str]:
    """The names of every registered tool, from the cached index when it is current (no imports)."""
    if not _LOADED:
        try:
            return frozenset(json.loads(_index_path().read_text(encoding="utf-8")))
        except (OSError, ValueError):
            pass
    return frozenset(load_all())


def get_tool(name: str) -> ToolSpec:
    if name in _REGISTRY:
        return _REGISTRY[name]
    if not _LOADED:
        _load_one(name)
        if name in _REGISTRY:
            return _REGISTRY[name]
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
