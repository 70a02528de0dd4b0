"""The small error hierarchy raised by the planning core."""

from __future__ import annotations


class PlanningError(Exception):
    """Base class of every error the planning core raises."""

    def __init__(self, message: str, details: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class DataError(PlanningError):
    """The plant data itself is inconsistent (a BOM cycle, an unknown item, a missing routing)."""


class InvalidInputError(PlanningError):
    """The request is not meaningful (a non-positive quantity, an unknown item code)."""


class InfeasibleError(PlanningError):
    """The request cannot be satisfied under the constraints (e.g. a schedule with no solution)."""


class BomCycleError(DataError):
    """A BOM refers back to one of its own parents; ``path`` is the cycle, first item repeated last."""

    def __init__(self, path: list[str]) -> None:
        super().__init__("BOM cycle: " + " → ".join(path), {"path": path})
        self.path = path
