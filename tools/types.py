"""Shared field types of tool inputs and outputs (exact decimals inside, JSON numbers outside)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

SIX_PLACES = Decimal("0.000001")


def to_number(value: Decimal | float | int) -> float:
    """Round half-up to 6 decimals and give a JSON number (the contract's rounding rule)."""
    return float(Decimal(value).quantize(SIX_PLACES, rounding=ROUND_HALF_UP))


Num = Annotated[Decimal, PlainSerializer(to_number, return_type=float, when_used="json")]
"""A quantity or amount: exact ``Decimal`` in Python, a number rounded to 6 places in JSON."""
