"""Schemathesis against the OpenAPI document, in process on the ASGI app with a manager's token: whatever
the generated requests hold, no answer is a server error (5xx) and every error has the documented shape.

schemathesis is a dev dependency (pyproject: dev extras; constraints.txt pins it); without it the module is
skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402

from api.app import create_app  # noqa: E402
from data_model.settings import Settings  # noqa: E402
from tests.helpers import DEMO_YAML, load_into  # noqa: E402
from tools.auth import ensure_demo_users  # noqa: E402
from tools.context import dispose_engine, open_context  # noqa: E402

EXAMPLES = 6
MAX_SOLVER_SECONDS = 0.5  # generated requests may ask the solver for a minute; the fuzz keeps it short


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[Any, str]]:
    path = tmp_path_factory.mktemp("fuzz") / "orderpilot.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    load_into(url, DEMO_YAML)
    with open_context(url) as ctx:
        token = ensure_demo_users(ctx.session)["demo-manager"]
    yield create_app(Settings(database_url=url, ui_enabled=False)), token
    dispose_engine(url)


def _check(case: Any, token: str, failures: list[str], answered: list[int]) -> None:
    if isinstance(case.body, dict) and isinstance(case.body.get("time_limit_seconds"), (int, float)):
        case.body["time_limit_seconds"] = min(case.body["time_limit_seconds"], MAX_SOLVER_SECONDS)
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    answered.append(response.status_code)
    if response.status_code >= 500:
        failures.append(
            f"{case.method} {case.path} {str(case.body)[:300]}: {response.status_code} {response.text[:300]}"
        )
    elif response.status_code >= 400:
        error = response.json()["error"]
        if set(error) != {"code", "message", "details"}:
            failures.append(f"{case.method} {case.path}: error shape {response.text[:300]}")


def test_no_request_is_a_server_error(fuzz_app: tuple[Any, str]) -> None:
    app, token = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    answered: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case: Any) -> None:
            _check(case, token, failures, answered)

        check()
    assert operations >= 70
    assert sum(200 <= status < 300 for status in answered) >= operations  # not only refusals
    assert failures == [], "\n".join(failures[:20])
