"""`orderpilot demo story`: a short run of real documents through the demo factory, confirmed by the demo roles.

After `orderpilot load data/demo/demo_factory.yaml --reset`, the story receives the overdue lifting columns
into inspection and records their inspection, issues a kit and a supplementary issue to the ergonomic chair
order and receives its first chairs (backflushing the cartons), ships welded shells to the coater and takes
back coated frames with the coater's scrap, receives material a customer supplies, opens a rework order for
returned desks — each through its propose_* tool and confirmed by the role that approves it — and leaves a
purchase request drafted from a shortage and a release of a planned order pending for people to confirm.
Every date is the dataset's today; the story refuses to run twice on one database.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import typer

from cli.output import DbOption, emit_json, fail, fail_unreachable

app = typer.Typer(help="The demo factory: documents that show each execution flow.", no_args_is_help=True)

# The purchase order whose receipt opens the story: once it has a receipt, the story has run.
MARKER_PO = "PO-2611-01"


class StoryAlreadyRun(Exception):
    """The database already holds the story's documents."""


@dataclass(frozen=True)
class StoryDocument:
    """One proposal the story made: what it is, who asked, who confirmed it (none: left pending)."""

    step: str
    proposal_id: str
    kind: str
    tool: str
    requested_by: str
    confirmed_by: str | None
    summary_zh: str
    summary_en: str
    output: dict[str, Any] = field(repr=False)
    result: dict[str, Any] = field(repr=False)


@dataclass(frozen=True)
class StoryStep:
    """A document to propose as ``requester`` and, unless ``approver`` is None, confirm as ``approver``."""

    step: str
    tool: str
    args: Callable[[Callable[..., dict[str, Any]]], dict[str, Any]]
    requester: str
    approver: str | None


def _steps() -> list[StoryStep]:
    """The story, in order. ``args`` may read earlier results through the read-tool caller it is given."""

    def inspection_of_columns(read: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        out = read("get_inspection_orders", status="pending", source_ref=MARKER_PO)
        [lot] = out["orders"]
        rejected = 3
        return {
            "inspection": lot["code"],
            "sampled_qty": 10,
            "accepted_qty": lot["qty"] - rejected,
            "rejected_qty": rejected,
            "defect_reason": "电机异响 / motor noise under load",
            "disposition": "return",
        }

    def shortage_requests(read: Callable[..., dict[str, Any]]) -> dict[str, Any]:
        return {"production_order": "MO-2612-01"}

    return [
        StoryStep(
            "purchase receipt into inspection",
            "propose_purchase_receipt",
            lambda read: {
                "purchase_order": MARKER_PO,
                "lines": [{"line_no": 1, "qty": 60}],
                "note": "捷力驱动送货单 JL-261201",
            },
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "inspection result",
            "propose_inspection_result",
            inspection_of_columns,
            "demo-quality",
            "demo-quality",
        ),
        StoryStep(
            "partial kit issue",
            "propose_kit_issue",
            lambda read: {"order": "MO-2612-03", "sets": 20},
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "supplementary issue",
            "propose_supplementary_issue",
            lambda read: {
                "order": "MO-2612-03",
                "lines": [{"item": "CASTER", "qty": 2}],
                "reason": "装配时压坏 2 个脚轮 / 2 casters cracked during assembly",
            },
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "completion receipt with backflush",
            "propose_completion_receipt",
            lambda read: {"order": "MO-2612-03", "qty": 20},
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "subcontract shipment",
            "propose_subcontract_shipment",
            lambda read: {
                "order": "SC-2612-02",
                "lines": [{"item": "CAB-SHELL-W", "qty": 10}],
                "note": "first 10 welded shells to 鑫彩",
            },
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "partial subcontract receipt with supplier scrap",
            "propose_subcontract_receipt",
            lambda read: {
                "order": "SC-2612-01",
                "qty": 30,
                "scrap": [{"item": "FRAME-W1200", "qty": 2, "reason": "喷涂起泡 / coating blistered"}],
                "note": "鑫彩送货单 XC-1201",
            },
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "customer-supplied material receipt",
            "propose_customer_material_receipt",
            lambda read: {
                "customer": "C-DONGFANG",
                "lines": [{"item": "LOCK", "qty": 50}],
                "reference": "SO-1008",
                "note": "医院指定的病历柜锁 / the hospital's own cabinet locks",
            },
            "demo-warehouse",
            "demo-warehouse",
        ),
        StoryStep(
            "rework order",
            "propose_rework_order",
            lambda read: {
                "original_order": "MO-2611-02",
                "qty": 3,
                "reason": "桌面封边开胶 / edge banding peeling",
                "source": "customer_return",
                "source_ref": "SO-1001 return",
                "materials": [{"item": "EDGE-PVC", "qty": 12}],
            },
            "demo-quality",
            "demo-planner",
        ),
        StoryStep(
            "purchase request from a shortage (pending)",
            "propose_purchase_requests_for_shortages",
            shortage_requests,
            "demo-buyer",
            None,
        ),
        StoryStep(
            "release of a planned order (pending)",
            "propose_release_production_orders",
            lambda read: {"orders": ["MO-2612-08"]},
            "demo-planner",
            None,
        ),
    ]


def run_story(url: str) -> list[StoryDocument]:
    """Drive the story's documents through ``url`` (a freshly loaded demo factory) and return them.

    Raises StoryAlreadyRun when the database already holds them; a tool refusing a step raises its
    ToolError (nothing of that step is written).
    """
    from tools.auth import actor_for, ensure_demo_users, list_users
    from tools.context import open_context
    from tools.proposals import confirm
    from tools.registry import call_tool

    with open_context(url) as ctx:
        po = call_tool(ctx, "get_purchase_order", {"order": MARKER_PO})
        if po.get("receipts"):
            raise StoryAlreadyRun(
                f"{MARKER_PO} already has a receipt: the demo story has run on this database"
            )
        names = {u.username for u in list_users(ctx.session)}
        if any(f"demo-{role}" not in names for role in ("warehouse", "quality", "planner", "buyer")):
            ensure_demo_users(ctx.session)

    def read(name: str, **args: Any) -> dict[str, Any]:
        with open_context(url) as ctx:
            return call_tool(ctx, name, args)

    documents = []
    for step in _steps():
        with open_context(url) as ctx:
            ctx.actor = actor_for(ctx.session, step.requester)
            out = call_tool(ctx, step.tool, step.args(read))
        result: dict[str, Any] = {}
        if step.approver is not None:
            with open_context(url) as ctx:
                detail = confirm(ctx.session, out["proposal_id"], actor_for(ctx.session, step.approver))
                result = detail.result
        documents.append(
            StoryDocument(
                step=step.step,
                proposal_id=out["proposal_id"],
                kind=out["kind"],
                tool=step.tool,
                requested_by=step.requester,
                confirmed_by=step.approver,
                summary_zh=out["summary_zh"],
                summary_en=out["summary_en"],
                output=out,
                result=result,
            )
        )
    return documents


@app.callback()
def demo() -> None:
    """The demo factory: documents that show each execution flow."""


@app.command("story")
def story(db: DbOption = None) -> None:
    """Run the demo story on a freshly loaded demo factory (refused when it has already run)."""
    from sqlalchemy.exc import OperationalError

    from data_model.settings import get_settings
    from tools.errors import ToolError

    url = db or get_settings().database_url
    try:
        documents = run_story(url)
    except StoryAlreadyRun as exc:
        fail("conflict", str(exc))
    except ToolError as exc:
        fail(exc.code, exc.message, exc.details)
    except OperationalError as exc:
        fail_unreachable(exc)
    emit_json(
        {
            "documents": [
                {
                    "step": d.step,
                    "proposal_id": d.proposal_id,
                    "kind": d.kind,
                    "status": "confirmed" if d.confirmed_by else "pending",
                    "requested_by": d.requested_by,
                    "confirmed_by": d.confirmed_by,
                    "summary_en": d.summary_en,
                    "summary_zh": d.summary_zh,
                }
                for d in documents
            ]
        }
    )


if __name__ == "__main__":
    app()
