"""Proposals over REST: list, show, confirm and reject (confirmation is never a tool)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep
from api.tool_routes import ERROR_RESPONSES
from tools.proposals import ProposalDetail, ProposalStatus, confirm, get_proposal, list_proposals, reject

router = APIRouter(prefix="/api/v1/proposals", tags=["proposals"], responses=ERROR_RESPONSES)
ProposalId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_-]+$")]


class RejectIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


@router.get("", response_model=list[ProposalDetail], summary="List proposals, newest first")
def list_route(
    session: SessionDep,
    _: CurrentUser,
    status: ProposalStatus | None = None,
    kind: Annotated[str | None, Query(max_length=60)] = None,
    requested_by: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[ProposalDetail]:
    return list_proposals(session, status=status, kind=kind, requested_by=requested_by, limit=limit)


@router.get("/{proposal_id}", response_model=ProposalDetail, summary="Show one proposal")
def show_route(proposal_id: ProposalId, session: SessionDep, _: CurrentUser) -> ProposalDetail:
    return get_proposal(session, proposal_id)


@router.post("/{proposal_id}/confirm", response_model=ProposalDetail, summary="Confirm (apply) a proposal")
def confirm_route(proposal_id: ProposalId, session: SessionDep, actor: CurrentUser) -> ProposalDetail:
    """Apply the proposal as the calling user: 403 if their role may not approve its kind, 409 if it is
    stale, expired or rejected. Confirming twice returns the first result."""
    return confirm(session, proposal_id, actor)


@router.post("/{proposal_id}/reject", response_model=ProposalDetail, summary="Reject a proposal")
def reject_route(
    proposal_id: ProposalId,
    session: SessionDep,
    actor: CurrentUser,
    body: Annotated[RejectIn | None, Body()] = None,
) -> ProposalDetail:
    return reject(session, proposal_id, actor, reason=body.reason if body else "")
