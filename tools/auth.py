"""Users, roles, API tokens (hashed at rest) and passwords: who is calling and what they may approve."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session, select

from data_model.tables import ApiToken, User
from data_model.tables.system import ROLES
from tools.context import SYSTEM_ACTOR, Actor
from tools.errors import ToolError

APPROVE_ALL_ROLES = ("manager", "admin")
DEMO_TOKEN_NAME = "demo"
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
# scrypt cost: 2**14 x 8 takes ~50 ms and 16 MiB, the interactive-login setting the scrypt paper recommends
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


class UserPublic(BaseModel):
    """A user as shown to people and programs (never the password hash or tokens)."""

    username: str
    display_name: str
    role: str
    active: bool
    created_at: datetime


def _public(user: User) -> UserPublic:
    return UserPublic(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        active=user.active,
        created_at=user.created_at,
    )


def hash_token(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored; the token itself is never kept."""
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    """A salted scrypt hash, self-describing: ``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a hash made by ``hash_password``."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    n, r, p = (int(x) for x in parts[1:4])
    digest = hashlib.scrypt(password.encode(), salt=bytes.fromhex(parts[4]), n=n, r=r, p=p, dklen=32)
    return hmac.compare_digest(digest.hex(), parts[5])


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise ToolError(
            "invalid_input", f"unknown role {role!r}; roles are {', '.join(ROLES)}", {"roles": list(ROLES)}
        )


def _user(session: Session, username: str) -> User:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise ToolError("not_found", f"user {username!r} not found", {"kind": "user", "key": username})
    return user


def create_user(
    session: Session, username: str, role: str, display_name: str = "", password: str | None = None
) -> UserPublic:
    """Add a user with a role (sales, planner, buyer, warehouse, quality, manager, admin)."""
    if not USERNAME_PATTERN.match(username):
        raise ToolError(
            "invalid_input",
            f"username {username!r}: use 1-64 letters, digits, '_', '.', '@' or '-'",
            {"field": "username"},
        )
    _check_role(role)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise ToolError("conflict", f"user {username!r} already exists", {"kind": "user", "key": username})
    user = User(
        username=username,
        role=role,
        display_name=display_name,
        password_hash=hash_password(password) if password else "",
    )
    session.add(user)
    session.flush()
    return _public(user)


def list_users(session: Session) -> list[UserPublic]:
    """Every user, by username."""
    return [_public(u) for u in session.exec(select(User).order_by(User.username)).all()]


def set_role(session: Session, username: str, role: str) -> UserPublic:
    """Change a user's role."""
    _check_role(role)
    user = _user(session, username)
    user.role = role
    session.add(user)
    session.flush()
    return _public(user)


def set_password(session: Session, username: str, password: str) -> None:
    """Set (or replace) a user's password for the web sign-in."""
    if len(password) < 8:
        raise ToolError("invalid_input", "a password needs at least 8 characters", {"field": "password"})
    user = _user(session, username)
    user.password_hash = hash_password(password)
    session.add(user)
    session.flush()


def issue_token(session: Session, username: str, name: str = "") -> str:
    """Create an API token for ``username`` and return it; only its hash is stored, so show it once."""
    user = _user(session, username)
    if not user.active:
        raise ToolError("forbidden", f"user {username!r} is deactivated", {"key": username})
    token = secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id or 0, token_hash=hash_token(token), name=name))
    session.flush()
    return token


def revoke_tokens(session: Session, username: str, name: str | None = None) -> int:
    """Revoke a user's tokens (those called ``name``, or all); returns how many were revoked."""
    user = _user(session, username)
    stmt = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked == False)  # noqa: E712
    if name is not None:
        stmt = stmt.where(ApiToken.name == name)
    tokens = session.exec(stmt).all()
    for tok in tokens:
        tok.revoked = True
        session.add(tok)
    session.flush()
    return len(tokens)


def _actor(user: User) -> Actor:
    return Actor(username=user.username, role=user.role, display_name=user.display_name)


# every API request runs it: built once (its compiled form is reused), reading the four columns it needs
_TOKEN_USER = (
    select(User.username, User.role, User.display_name, User.active)
    .join(ApiToken, ApiToken.user_id == User.id)  # type: ignore[arg-type]
    .where(ApiToken.token_hash == sa.bindparam("token_hash"), ApiToken.revoked == False)  # noqa: E712
)


def authenticate_token(session: Session, token: str) -> Actor | None:
    """The active user a bearer token belongs to, or None for an unknown, revoked or empty token."""
    if not token:
        return None
    row = session.connection().execute(_TOKEN_USER, {"token_hash": hash_token(token)}).first()
    if row is None or not row.active:
        return None
    return Actor(username=row.username, role=row.role, display_name=row.display_name)


def authenticate_password(session: Session, username: str, password: str) -> Actor | None:
    """The user if ``password`` is theirs (and they are active), else None."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not user.password_hash:
        return None
    return _actor(user) if verify_password(password, user.password_hash) else None


def actor_for(session: Session, username: str | None) -> Actor:
    """The actor for a named user; no name (or the local admin's name, when no such user exists) is the
    local administrator the command line runs as."""
    if not username:
        return SYSTEM_ACTOR
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None and username == SYSTEM_ACTOR.username:
        return SYSTEM_ACTOR
    if user is None:
        raise ToolError("not_found", f"user {username!r} not found", {"kind": "user", "key": username})
    if not user.active:
        raise ToolError("forbidden", f"user {username!r} is deactivated", {"key": username})
    return _actor(user)


def may_approve(role: str, approver_roles: tuple[str, ...]) -> bool:
    """Whether ``role`` may confirm a proposal approvable by ``approver_roles`` (manager and admin: all)."""
    return role in APPROVE_ALL_ROLES or role in approver_roles


def ensure_demo_users(session: Session, password: str = "") -> dict[str, str]:
    """One user per role (demo-sales, demo-planner, …, demo-admin), each with a fresh token that replaces
    any earlier demo token (and ``password`` for the web sign-in when given); returns ``{username: token}``
    to print once."""
    tokens: dict[str, str] = {}
    for role in ROLES:
        username = f"demo-{role}"
        if session.exec(select(User).where(User.username == username)).first() is None:
            create_user(session, username, role, display_name=f"Demo {role}")
        if password:
            set_password(session, username, password)
        revoke_tokens(session, username, name=DEMO_TOKEN_NAME)
        tokens[username] = issue_token(session, username, name=DEMO_TOKEN_NAME)
    return tokens
