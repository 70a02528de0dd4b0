"""Document states and their legal transitions; nothing is deleted, documents are cancelled or closed."""

from __future__ import annotations

from typing import Protocol


class StateError(Exception):
    """An illegal state change, e.g. releasing a cancelled order."""

    def __init__(self, doc: str, ref: str, current: str, target: str, allowed: tuple[str, ...]) -> None:
        msg = f"{doc} {ref} is {current}: it cannot become {target}"
        msg += f" (from {current} it can become {', '.join(allowed)})" if allowed else " (it is final)"
        super().__init__(msg)
        self.message = msg
        self.details = {"document": doc, "ref": ref, "current": current, "target": target, "allowed": list(allowed)}


TRANSITIONS: dict[str, dict[str, tuple[str, ...]]] = {
    "sales_order": {
        "draft": ("confirmed", "cancelled"),
        "confirmed": ("in_progress", "done", "cancelled"),
        "in_progress": ("done", "cancelled"),
        "done": (),
        "cancelled": (),
    },
    "purchase_requisition": {
        "draft": ("approved", "cancelled"),
        "approved": ("ordered", "cancelled"),
        "ordered": (),
        "cancelled": (),
    },
    "purchase_order": {
        "draft": ("confirmed", "cancelled"),
        "confirmed": ("partial", "received", "closed", "cancelled"),
        "partial": ("received", "closed"),
        "received": ("closed",),
        "closed": (),
        "cancelled": (),
    },
    "production_order": {
        "planned": ("released", "cancelled"),
        "released": ("in_progress", "completed", "cancelled"),
        "in_progress": ("completed",),
        "completed": ("closed", "in_progress"),
        "closed": (),
        "cancelled": (),
    },
    "bom": {"draft": ("active", "obsolete"), "active": ("obsolete",), "obsolete": ()},
    "ecn": {
        "draft": ("approved", "cancelled"),
        "approved": ("applied", "cancelled"),
        "applied": (),
        "cancelled": (),
    },
    "cost_period": {"open": ("closed",), "closed": ("open",)},
    "proposal": {
        "pending": ("confirmed", "rejected", "expired", "failed"),
        "confirmed": (),
        "rejected": (),
        "expired": (),
        "failed": (),
    },
}


class HasStatus(Protocol):
    status: str


def can_transition(doc: str, current: str, target: str) -> bool:
    return target in TRANSITIONS[doc].get(current, ())


def transition(doc: str, record: HasStatus, target: str, ref: str = "") -> None:
    """Move ``record`` to ``target`` or raise StateError naming what is allowed from its state."""
    states = TRANSITIONS[doc]
    if target not in states:
        raise ValueError(f"unknown {doc} state {target!r}")
    current = record.status
    if not can_transition(doc, current, target):
        raise StateError(doc, ref or str(getattr(record, "code", "")), current, target, states.get(current, ()))
    record.status = target
