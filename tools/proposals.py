"""Proposals: write tools store one; a person whose role may approve its kind confirms or rejects it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import BaseModel, Field
from pydantic_core import to_jsonable_python
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from data_model.tables import AuditLog, DataVersion, Proposal
from tools.auth import APPROVE_ALL_ROLES, may_approve
from tools.context import Actor, ToolContext
from tools.errors import ToolError

ProposalStatus = Literal["pending", "confirmed", "rejected", "expired", "failed"]
ApplyFn = Callable[[Session, Proposal, Actor], dict[str, Any]]

# Data domains whose versions proposals are checked against; a write path bumps the domains it writes
# (a dataset load bumps them all).
DOMAINS = ("master", "bom", "engineering", "stock", "sales", "purchasing", "production", "costing", "finance")


@dataclass(frozen=True)
class ApplierSpec:
    """How a confirmed proposal of ``kind`` is applied, who may approve it and which domains it writes."""

    kind: str
    apply: ApplyFn
    roles: tuple[str, ...]
    domains: tuple[str, ...]


_APPLIERS: dict[str, ApplierSpec] = {}


def applier(kind: str, *, roles: Iterable[str], domains: Iterable[str]) -> Callable[[ApplyFn], ApplyFn]:
    """Register ``apply(session, proposal, actor) -> result`` for proposals of ``kind``.

    ``roles`` may confirm it (manager and admin always may); ``domains`` are the data domains it writes,
    whose versions a confirmation checks and bumps. ``apply`` runs inside the confirming transaction and
    must not commit.
    """

    def register(fn: ApplyFn) -> ApplyFn:
        existing = _APPLIERS.get(kind)
        if existing is not None and existing.apply is not fn:
            raise TypeError(f"proposal kind {kind!r} has two appliers")
        _APPLIERS[kind] = ApplierSpec(kind=kind, apply=fn, roles=tuple(roles), domains=tuple(domains))
        return fn

    return register


def get_applier(kind: str) -> ApplierSpec:
    if kind not in _APPLIERS:
        # the catalog registers the appliers next to their propose tools
        from tools.registry import load_all

        load_all()
    if kind not in _APPLIERS:
        raise ToolError(
            "not_found", f"no applier for proposal kind {kind!r}", {"kind": "proposal_kind", "key": kind}
        )
    return _APPLIERS[kind]


class ProposalOut(BaseModel):
    """A stored proposal: nothing has changed until a person whose role may approve it confirms it."""

    proposal_id: str
    kind: str
    status: ProposalStatus
    summary: str = Field(description="what confirming it would do, in Chinese then English")
    summary_zh: str
    summary_en: str
    requested_by: str
    created_at: datetime
    expires_at: datetime | None
    data_versions: dict[str, int] = Field(description="versions of the data domains it was computed on")
    approver_roles: list[str] = Field(description="roles that may confirm it")


class ProposalDetail(ProposalOut):
    """A proposal with its arguments, computed effect and, once decided, the decision and its result."""

    tool: str
    args: dict[str, Any]
    effect: dict[str, Any]
    decided_by: str
    decided_at: datetime | None
    result: dict[str, Any]
    reason: str


def _utc(moment: datetime | None) -> datetime | None:
    """A timestamp as aware UTC (a naive one is taken to be UTC already)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _now(now: datetime | None = None) -> datetime:
    return _utc(now) or datetime.now(UTC)


def _approver_roles(kind: str) -> list[str]:
    spec = _APPLIERS.get(kind)
    roles = list(spec.roles) if spec else []
    return roles + [r for r in APPROVE_ALL_ROLES if r not in roles]


def _effective_status(row: Proposal, now: datetime) -> ProposalStatus:
    if row.status == "pending" and row.expires_at is not None and _utc(row.expires_at) <= now:  # type: ignore[operator]
        return "expired"
    return row.status  # type: ignore[return-value]


def _out_fields(row: Proposal, now: datetime) -> dict[str, Any]:
    return {
        "proposal_id": row.id,
        "kind": row.kind,
        "status": _effective_status(row, now),
        "summary": f"{row.summary_zh}\n{row.summary_en}",
        "summary_zh": row.summary_zh,
        "summary_en": row.summary_en,
        "requested_by": row.requested_by,
        "created_at": _utc(row.created_at),
        "expires_at": _utc(row.expires_at),
        "data_versions": {k: int(v) for k, v in row.data_versions.items()},
        "approver_roles": _approver_roles(row.kind),
    }


def _detail(row: Proposal, now: datetime | None = None) -> ProposalDetail:
    return ProposalDetail(
        **_out_fields(row, _now(now)),
        tool=row.tool,
        args=row.args,
        effect=row.effect,
        decided_by=row.decided_by,
        decided_at=_utc(row.decided_at),
        result=row.result,
        reason=row.reason,
    )


# ---------------------------------------------------------------- data versions


def _ensure_domain_rows(session: Session, domains: Iterable[str]) -> None:
    wanted = sorted(set(domains))
    if not wanted:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # ON CONFLICT DO NOTHING: two first writers of a domain must not collide on its primary key
    stmt = insert(DataVersion).values([{"domain": d, "version": 0} for d in wanted]).on_conflict_do_nothing()
    session.exec(stmt)  # type: ignore[call-overload]


def current_versions(session: Session, domains: Iterable[str]) -> dict[str, int]:
    """The version of each domain (0 for a domain never written)."""
    wanted = sorted(set(domains))
    rows = session.exec(select(DataVersion).where(DataVersion.domain.in_(wanted))).all()  # type: ignore[attr-defined]
    found = {r.domain: r.version for r in rows}
    return {d: int(found.get(d, 0)) for d in wanted}


class StaleData(Exception):
    """A domain's version moved on since a proposal was computed."""

    def __init__(self, changed: dict[str, dict[str, int]]) -> None:
        super().__init__(f"data changed since: {changed}")
        self.changed = changed


def advance_versions(session: Session, expected: Mapping[str, int], written: Iterable[str]) -> dict[str, int]:
    """Check that each domain of ``expected`` is still at its version and bump the ``written`` ones.

    A written domain is bumped by a conditional UPDATE (of two writers computed on the same version only
    one succeeds); a domain only read is locked for share on PostgreSQL, so it cannot move on before this
    transaction ends. Domains are taken in one order, so concurrent transactions cannot deadlock. Raises
    ``StaleData`` (the caller rolls back) if any domain moved on; returns the new versions of ``written``.
    """
    writes = set(written)
    domains = sorted(writes | set(expected))
    _ensure_domain_rows(session, domains)
    share_lock = session.get_bind().dialect.name == "postgresql"
    changed: dict[str, dict[str, int]] = {}
    for domain in domains:
        if domain in writes:
            stmt = sa.update(DataVersion).where(DataVersion.domain == domain)  # type: ignore[arg-type]
            if domain in expected:
                stmt = stmt.where(DataVersion.version == expected[domain])  # type: ignore[arg-type]
            stmt = stmt.values(version=DataVersion.version + 1).execution_options(synchronize_session=False)
            moved = session.exec(stmt).rowcount != 1  # type: ignore[call-overload]
        else:
            read = select(DataVersion.version).where(DataVersion.domain == domain)
            moved = (
                session.exec(read.with_for_update(read=True) if share_lock else read).one()
                != expected[domain]
            )
        if moved:
            now = current_versions(session, [domain])[domain]
            changed[domain] = {"proposed_on": int(expected.get(domain, 0)), "now": now}
    if changed:
        raise StaleData(changed)
    return current_versions(session, writes)


def bump_versions(
    session: Session, domains: Iterable[str], expected: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Add one to each domain's version and return the new versions; every write path calls it.

    With ``expected``, a domain is bumped only if its version is still the expected one; otherwise
    ``StaleData`` is raised and the caller rolls back.
    """
    wanted = set(domains)
    return advance_versions(session, {d: v for d, v in (expected or {}).items() if d in wanted}, wanted)


# ---------------------------------------------------------------- audit log


def audit(
    session: Session,
    actor: Actor,
    action: str,
    *,
    entity: str = "",
    entity_ref: str = "",
    proposal_id: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Append one line to the audit log (in the caller's transaction)."""
    session.add(
        AuditLog(
            actor=actor.username,
            action=action,
            entity=entity,
            entity_ref=entity_ref,
            proposal_id=proposal_id,
            before=before or {},
            after=after or {},
        )
    )


# ---------------------------------------------------------------- proposing


def new_proposal_id() -> str:
    return f"P-{secrets.token_hex(5)}"


def create_proposal(
    ctx: ToolContext,
    *,
    kind: str,
    args: BaseModel | dict[str, Any],
    summary_zh: str,
    summary_en: str,
    effect: dict[str, Any] | None = None,
    tool: str = "",
    read_domains: Iterable[str] = (),
) -> ProposalOut:
    """Store a pending proposal of ``kind`` and return it; no business table changes.

    It records the versions of the domains the applier writes plus ``read_domains`` (what the effect was
    computed from): if any of them moves on before confirmation, the proposal is stale. ``effect`` is the
    computed change as JSON-ready data (the applier applies it as computed).
    """
    spec = get_applier(kind)
    raw_args = args.model_dump(mode="json") if isinstance(args, BaseModel) else dict(args)
    now = _now()
    row = Proposal(
        id=new_proposal_id(),
        kind=kind,
        tool=tool,
        args=raw_args,
        effect=to_jsonable_python(effect or {}),
        summary_zh=summary_zh,
        summary_en=summary_en,
        data_versions=current_versions(ctx.session, [*spec.domains, *read_domains]),
        requested_by=ctx.actor.username,
        created_at=now,
        expires_at=now + timedelta(hours=ctx.settings.proposal_ttl_hours),
        status="pending",
    )
    ctx.session.add(row)
    ctx.session.flush()
    audit(
        ctx.session,
        ctx.actor,
        "propose",
        entity=kind,
        entity_ref=row.id,
        proposal_id=row.id,
        after={"summary_en": summary_en},
    )
    return ProposalOut(**_out_fields(row, now))


def next_codes(session: Session, column: Any, prefix: str, count: int, width: int = 5) -> list[str]:
    """The next ``count`` document codes ``PREFIX00001``… after the highest numbered one in ``column``.

    Call it after bumping the domain the documents belong to: the bump's row lock (the file lock on
    SQLite) serializes writers of the domain, so two transactions cannot take the same numbers; the
    column's unique constraint is the last guard.
    """
    highest = 0
    for code in session.exec(select(column).where(column.like(f"{prefix}%"))).all():
        suffix = code[len(prefix) :]
        if suffix.isdigit():
            highest = max(highest, int(suffix))
    return [f"{prefix}{n:0{width}d}" for n in range(highest + 1, highest + 1 + count)]


# ---------------------------------------------------------------- reading


def _load(session: Session, proposal_id: str) -> Proposal:
    row = session.exec(
        select(Proposal).where(Proposal.id == proposal_id).execution_options(populate_existing=True)
    ).first()
    if row is None:
        raise ToolError(
            "not_found", f"proposal {proposal_id!r} not found", {"kind": "proposal", "key": proposal_id}
        )
    return row


def get_proposal(session: Session, proposal_id: str) -> ProposalDetail:
    """One proposal with its effect, decision and result."""
    return _detail(_load(session, proposal_id))


def list_proposals(
    session: Session,
    *,
    status: ProposalStatus | None = None,
    kind: str | None = None,
    requested_by: str | None = None,
    limit: int = 50,
) -> list[ProposalDetail]:
    """Proposals, newest first; ``status`` is the effective one (a pending proposal past expiry is expired)."""
    now = _now()
    stmt = select(Proposal)
    if status == "pending":
        expires = col(Proposal.expires_at)
        stmt = stmt.where(Proposal.status == "pending", sa.or_(expires.is_(None), expires > now))
    elif status == "expired":
        stmt = stmt.where(
            sa.or_(
                Proposal.status == "expired",
                sa.and_(Proposal.status == "pending", col(Proposal.expires_at) <= now),
            )
        )
    elif status is not None:
        stmt = stmt.where(Proposal.status == status)
    if kind:
        stmt = stmt.where(Proposal.kind == kind)
    if requested_by:
        stmt = stmt.where(Proposal.requested_by == requested_by)
    stmt = stmt.order_by(Proposal.created_at.desc(), Proposal.id).limit(max(1, min(limit, 500)))  # type: ignore[attr-defined]
    return [_detail(r, now) for r in session.exec(stmt).all()]


# ---------------------------------------------------------------- deciding


def _claim(session: Session, proposal_id: str, values: dict[str, Any]) -> bool:
    """Move a pending proposal to a decided state; False if someone else decided it first."""
    stmt = (
        sa.update(Proposal)
        .where(Proposal.id == proposal_id, Proposal.status == "pending")  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return session.exec(stmt).rowcount == 1  # type: ignore[call-overload]


def _refuse_decided(row: Proposal) -> ToolError:
    status = row.status
    message = {
        "rejected": f"proposal {row.id} was rejected by {row.decided_by}",
        "expired": f"proposal {row.id} expired; ask for a new one",
        "failed": f"proposal {row.id} can no longer be applied: {row.reason}; ask for a new one",
        "confirmed": f"proposal {row.id} was already confirmed by {row.decided_by}",
    }.get(status, f"proposal {row.id} is {status}")
    return ToolError("conflict", message, {"proposal_id": row.id, "status": status, "reason": row.reason})


def _close(session: Session, proposal_id: str, actor: Actor, status: str, reason: str, now: datetime) -> None:
    """Mark a pending proposal expired or failed, in a transaction of its own."""
    if _claim(
        session,
        proposal_id,
        {"status": status, "reason": reason[:1000], "decided_by": actor.username, "decided_at": now},
    ):
        audit(
            session,
            actor,
            status,
            entity="proposal",
            entity_ref=proposal_id,
            proposal_id=proposal_id,
            before={"status": "pending"},
            after={"status": status, "reason": reason},
        )
    session.commit()


def confirm(
    session: Session, proposal_id: str, actor: Actor, *, now: datetime | None = None
) -> ProposalDetail:
    """Apply a pending proposal on behalf of ``actor`` and return it with its result; commits.

    Only a role that may approve the proposal's kind may confirm (else ``forbidden``). Single-use and
    idempotent: confirming a confirmed proposal returns the first result, and of two concurrent confirms
    exactly one applies. A proposal past its expiry, or whose data domains moved on since it was computed,
    is refused with ``conflict`` (and marked expired / failed): ask for a new one.
    """
    now = _now(now)
    row = _load(session, proposal_id)
    spec = get_applier(row.kind)
    if not may_approve(actor.role, spec.roles):
        raise ToolError(
            "forbidden",
            f"role {actor.role!r} may not confirm {row.kind} proposals; roles that may: "
            f"{', '.join(_approver_roles(row.kind))}",
            {
                "proposal_id": row.id,
                "kind": row.kind,
                "role": actor.role,
                "allowed": _approver_roles(row.kind),
            },
        )
    if row.status == "confirmed":
        return _detail(row, now)
    if row.status != "pending":
        raise _refuse_decided(row)
    expires_at = _utc(row.expires_at)
    if expires_at is not None and expires_at <= now:
        _close(
            session,
            row.id,
            actor,
            "expired",
            f"expired at {expires_at.isoformat(timespec='seconds')} UTC",
            now,
        )
        raise _refuse_decided(_load(session, proposal_id))
    session.commit()  # the claim below must be the first statement of the applying transaction

    try:
        if not _claim(
            session, row.id, {"status": "confirmed", "decided_by": actor.username, "decided_at": now}
        ):
            session.rollback()
            winner = _load(session, proposal_id)
            if winner.status == "confirmed":
                return _detail(winner, now)
            raise _refuse_decided(winner)
        recorded = {d: int(v) for d, v in row.data_versions.items()}
        new_versions = advance_versions(session, recorded, spec.domains)
        result = to_jsonable_python(spec.apply(session, row, actor))
        session.exec(
            sa.update(Proposal)  # type: ignore[call-overload]
            .where(Proposal.id == row.id)
            .values(result=result)
            .execution_options(synchronize_session=False)
        )
        audit(
            session,
            actor,
            "confirm",
            entity=row.kind,
            entity_ref=row.id,
            proposal_id=row.id,
            before={"status": "pending", "data_versions": recorded},
            after={"status": "confirmed", "data_versions": new_versions, "result": result},
        )
        session.commit()
    except StaleData as exc:
        session.rollback()
        reason = (
            "stale: data changed since it was proposed ("
            + ", ".join(f"{d} {v['proposed_on']}→{v['now']}" for d, v in sorted(exc.changed.items()))
            + ")"
        )
        _close(session, row.id, actor, "failed", reason, now)
        raise ToolError(
            "conflict",
            f"proposal {row.id} is stale: {reason[7:]}; ask for a new one",
            {"proposal_id": row.id, "status": "failed", "stale": True, "changed": exc.changed},
        ) from None
    except ToolError as exc:
        session.rollback()
        _close(session, row.id, actor, "failed", exc.message, now)
        raise
    except BaseException:
        session.rollback()
        raise
    return _detail(_load(session, proposal_id), now)


def reject(
    session: Session, proposal_id: str, actor: Actor, reason: str = "", *, now: datetime | None = None
) -> ProposalDetail:
    """Reject a pending proposal (an approver of its kind, or whoever asked for it); commits.

    Idempotent: rejecting a rejected proposal returns it unchanged; a confirmed one is a ``conflict``.
    """
    now = _now(now)
    row = _load(session, proposal_id)
    spec = get_applier(row.kind)
    if not (may_approve(actor.role, spec.roles) or actor.username == row.requested_by):
        raise ToolError(
            "forbidden",
            f"role {actor.role!r} may not reject {row.kind} proposals",
            {
                "proposal_id": row.id,
                "kind": row.kind,
                "role": actor.role,
                "allowed": _approver_roles(row.kind),
            },
        )
    if row.status == "rejected":
        return _detail(row, now)
    if row.status != "pending":
        raise _refuse_decided(row)
    session.commit()
    if _claim(
        session,
        row.id,
        {"status": "rejected", "decided_by": actor.username, "decided_at": now, "reason": reason[:1000]},
    ):
        audit(
            session,
            actor,
            "reject",
            entity=row.kind,
            entity_ref=row.id,
            proposal_id=row.id,
            before={"status": "pending"},
            after={"status": "rejected", "reason": reason},
        )
        session.commit()
        return _detail(_load(session, proposal_id), now)
    session.rollback()
    other = _load(session, proposal_id)
    if other.status == "rejected":
        return _detail(other, now)
    raise _refuse_decided(other)
