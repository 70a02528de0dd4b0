"""`orderpilot proposals …`: list, show, confirm and reject proposals."""

from __future__ import annotations

from typing import Annotated

import typer

from cli.output import DbOption, emit_json, fail, run_in_session

app = typer.Typer(help="Pending proposals: list, show, confirm, reject.", no_args_is_help=True)

AsOption = Annotated[
    str | None,
    typer.Option(
        "--as", help="Act as this user (their role decides what they may confirm); default: the local admin."
    ),
]
STATUSES = ("pending", "confirmed", "rejected", "expired", "failed")


@app.command("list")
def list_cmd(
    status: Annotated[
        str | None, typer.Option("--status", help=f"One of {', '.join(STATUSES)}.")
    ] = "pending",
    kind: Annotated[str | None, typer.Option("--kind", help="e.g. purchase_requests")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every status.")] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
    db: DbOption = None,
) -> None:
    """List proposals, newest first (default: the pending ones)."""
    from tools.proposals import list_proposals

    if status not in STATUSES and not all_:
        fail("invalid_input", f"--status must be one of {', '.join(STATUSES)}", {"field": "status"})
    rows = run_in_session(
        db,
        lambda s: list_proposals(s, status=None if all_ else status, kind=kind, limit=limit),  # type: ignore[arg-type]
    )
    emit_json(
        [
            {
                k: v
                for k, v in r.model_dump(mode="json").items()
                if k not in ("args", "effect", "result", "summary")
            }
            for r in rows
        ]
    )


@app.command("show")
def show(
    proposal_id: Annotated[str, typer.Argument(help="Proposal id, e.g. P-3f9a2c1b7e.")], db: DbOption = None
) -> None:
    """Show one proposal with its effect, and its result once decided."""
    from tools.proposals import get_proposal

    emit_json(run_in_session(db, lambda s: get_proposal(s, proposal_id)).model_dump(mode="json"))


@app.command("confirm")
def confirm_cmd(
    proposal_id: Annotated[str, typer.Argument(help="Proposal id.")],
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Confirm a proposal: apply it now (once; confirming again shows the first result)."""
    from tools.auth import actor_for
    from tools.proposals import confirm

    emit_json(
        run_in_session(db, lambda s: confirm(s, proposal_id, actor_for(s, as_user))).model_dump(mode="json")
    )


@app.command("reject")
def reject_cmd(
    proposal_id: Annotated[str, typer.Argument(help="Proposal id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (kept in the audit log).")] = "",
    as_user: AsOption = None,
    db: DbOption = None,
) -> None:
    """Reject a proposal: nothing is applied."""
    from tools.auth import actor_for
    from tools.proposals import reject

    emit_json(
        run_in_session(db, lambda s: reject(s, proposal_id, actor_for(s, as_user), reason)).model_dump(
            mode="json"
        )
    )
