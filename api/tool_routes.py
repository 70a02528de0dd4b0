"""One REST route per registered tool (its input model as the body, its output model as the response)."""

from __future__ import annotations

import inspect
from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, SessionDep, SettingsDep
from tools.context import ToolContext
from tools.errors import HTTP_STATUS
from tools.registry import ToolSpec, load_all, run_tool

TOOLS_PREFIX = "/api/v1/tools"


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorOut(BaseModel):
    """The shape of every error response."""

    error: ErrorInfo


class ToolInfo(BaseModel):
    name: str
    kind: str
    summary: str
    description: str
    endpoint: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in sorted({*HTTP_STATUS.values(), 401, 500})
}


def describe_tools() -> list[ToolInfo]:
    """Every registered tool with its JSON schemas, by name."""
    return [
        ToolInfo(
            name=spec.name,
            kind=spec.kind,
            summary=spec.summary,
            description=spec.description,
            endpoint=f"{TOOLS_PREFIX}/{spec.name}",
            input_schema=spec.input_schema(),
            output_schema=spec.output_schema(),
        )
        for spec in sorted(load_all().values(), key=lambda s: s.name)
    ]


def _has_required_fields(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def _endpoint(spec: ToolSpec) -> Any:
    """A route function whose signature FastAPI reads: the tool's input model as the JSON body."""

    def run(args: BaseModel | None, session: Any, actor: Any, settings: Any) -> BaseModel:
        ctx = ToolContext(session=session, actor=actor, settings=settings)
        raw = args.model_dump(by_alias=True, exclude_unset=True) if args is not None else {}
        result = run_tool(ctx, spec.name, raw)
        session.commit()  # a propose tool stores its proposal; read tools commit nothing
        return result

    async def call(args: BaseModel | None, session: Any, actor: Any, settings: Any) -> BaseModel:
        # the tool and its commit in one worker thread; FastAPI then checks the result against the output
        # model on the event loop (for an instance of that model, a type check), not in another thread
        return await run_in_threadpool(run, args, session, actor, settings)

    body = (
        Annotated[spec.input_model, Body()]
        if _has_required_fields(spec.input_model)
        else Annotated[spec.input_model | None, Body()]
    )
    params = [
        inspect.Parameter(
            "args",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=body,
            default=inspect.Parameter.empty if _has_required_fields(spec.input_model) else None,
        ),
        inspect.Parameter("session", inspect.Parameter.KEYWORD_ONLY, annotation=SessionDep),
        inspect.Parameter("actor", inspect.Parameter.KEYWORD_ONLY, annotation=CurrentUser),
        inspect.Parameter("settings", inspect.Parameter.KEYWORD_ONLY, annotation=SettingsDep),
    ]
    call.__signature__ = inspect.Signature(params, return_annotation=spec.output_model)  # type: ignore[attr-defined]
    call.__name__ = spec.name
    return call


def build_tool_router() -> APIRouter:
    """GET /api/v1/tools and POST /api/v1/tools/{name} for every tool in the registry."""
    router = APIRouter(prefix=TOOLS_PREFIX, responses=ERROR_RESPONSES)

    @router.get("", response_model=list[ToolInfo], tags=["tools"], summary="List tools with their schemas")
    def list_tools(_: CurrentUser) -> list[ToolInfo]:
        return describe_tools()

    for spec in sorted(load_all().values(), key=lambda s: s.name):
        router.add_api_route(
            f"/{spec.name}",
            _endpoint(spec),
            methods=["POST"],
            response_model=spec.output_model,
            operation_id=spec.name,
            summary=spec.summary,
            description=spec.description,
            tags=["propose tools" if spec.kind == "propose" else "read tools", *spec.tags],
        )
    return router
