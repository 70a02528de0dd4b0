"""Fixtures of the planning unit tests."""

from __future__ import annotations

import pytest

from planning.model import Plant
from tests.helpers import bike_plant


@pytest.fixture(scope="module")
def bike() -> Plant:
    """The acceptance bike factory as a planning Plant (one per test module)."""
    return bike_plant()
