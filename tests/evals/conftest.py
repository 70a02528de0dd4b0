"""Shared fixtures for the evaluation tests: one offline suite run per session (it takes a while)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evals.records import SuiteResult
from evals.runner import EvalOptions, run_suite


@pytest.fixture(scope="session")
def offline_suite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SuiteResult, Path]]:
    """The whole scenario suite on the offline backend, k=1, with its reports written."""
    out = tmp_path_factory.mktemp("eval-offline")
    result = run_suite(EvalOptions(backend="offline", k=1, out=out, heldout=True))
    yield result, out
