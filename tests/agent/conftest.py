"""Fixtures of the assistant tests: the demo factory, one database per test module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import DEMO_YAML, load_into


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    """The demo factory in a SQLite file shared by the tests of one module."""
    from tools.context import dispose_engine

    path = tmp_path_factory.mktemp("offline") / "demo.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    load_into(url, DEMO_YAML)
    yield url
    dispose_engine(url)
