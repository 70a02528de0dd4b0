"""Settings stored with the data, data versions, proposals, the audit log and users."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from data_model.base import check, utcnow

ROLES = ("sales", "planner", "buyer", "warehouse", "quality", "manager", "admin")
PROPOSAL_STATUSES = ("pending", "confirmed", "rejected", "expired", "failed")


class Meta(SQLModel, table=True):
    """Key/value facts of the dataset: the planning clock (``today``), the calendar's workdays."""

    __tablename__ = "meta"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(default="", max_length=2000)


class DataVersion(SQLModel, table=True):
    """A counter per data domain, bumped by every write to it; proposals are checked against it."""

    __tablename__ = "data_version"
    domain: str = Field(primary_key=True, max_length=40)
    version: int = 0


class Proposal(SQLModel, table=True):
    __tablename__ = "proposal"
    __table_args__ = (
        check("status IN ('pending', 'confirmed', 'rejected', 'expired', 'failed')", "status"),
    )
    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(index=True, max_length=60)
    tool: str = Field(default="", max_length=80)
    args: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    effect: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    summary_zh: str = Field(default="", max_length=4000)
    summary_en: str = Field(default="", max_length=4000)
    data_versions: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    requested_by: str = Field(default="", max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    status: str = Field(default="pending", index=True, max_length=20)
    decided_by: str = Field(default="", max_length=64)
    decided_at: datetime | None = None
    result: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    reason: str = Field(default="", max_length=1000)


class AuditLog(SQLModel, table=True):
    """Append-only: who did what, when, with references to what it changed."""

    __tablename__ = "audit_log"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(default="", max_length=64)
    action: str = Field(max_length=60)
    entity: str = Field(default="", max_length=60)
    entity_ref: str = Field(default="", max_length=200)
    proposal_id: str = Field(default="", max_length=40, index=True)
    before: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))
    after: dict[str, Any] = Field(default_factory=dict, sa_column=Column(sa.JSON, nullable=False))


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    __table_args__ = (
        check("role IN ('sales', 'planner', 'buyer', 'warehouse', 'quality', 'manager', 'admin')", "role"),
    )
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True, max_length=64)
    display_name: str = Field(default="", max_length=200)
    role: str = Field(max_length=20)
    password_hash: str = Field(default="", max_length=200)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class ApiToken(SQLModel, table=True):
    """A bearer token, stored as its SHA-256 only."""

    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    token_hash: str = Field(index=True, unique=True, max_length=64)
    name: str = Field(default="", max_length=100)
    created_at: datetime = Field(default_factory=utcnow)
    revoked: bool = False
