"""Data versions per domain: every write bumps the domains it touches; proposals are checked against them."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa
from sqlmodel import Session, select

from data_model.tables import DataVersion


def current_versions(session: Session, domains: Iterable[str]) -> dict[str, int]:
    wanted = sorted(set(domains))
    found = {d.domain: d.version for d in session.exec(select(DataVersion).where(DataVersion.domain.in_(wanted)))}  # type: ignore[attr-defined]
    return {d: found.get(d, 0) for d in wanted}


def bump_versions(session: Session, domains: Iterable[str]) -> None:
    """Increment each domain's counter in the caller's transaction (creating it at 1)."""
    for domain in sorted(set(domains)):
        updated = session.execute(
            sa.update(DataVersion).where(DataVersion.domain == domain).values(version=DataVersion.version + 1)  # type: ignore[arg-type]
        )
        if updated.rowcount == 0:  # type: ignore[attr-defined]
            session.add(DataVersion(domain=domain, version=1))
            session.flush()
