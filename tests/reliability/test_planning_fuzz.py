"""Random small plants loaded into the database and put through the tools — explosion, kitting, MRP and
promising — never crash (only a ToolError may refuse) and keep their invariants end to end.

The planning functions' own property tests stay where they are (tests/unit/test_bom.py: explosion totals are
the sum over paths; test_kitting.py: kitting is feasible and maximal; test_mrp.py: no balance below safety
stock after the suggestions, closed-form netting equals day-by-day netting; test_promising.py: promise
invariants). This adds the whole path: dataset → database → snapshot → planning → tool output.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.context import dispose_engine, open_context
from tools.dataset_io import load_dataset
from tools.errors import ToolError
from tools.registry import call_tool

TODAY = date(2026, 12, 1)  # a Tuesday
TOLERANCE = 1e-5


@st.composite
def plants(draw: Any) -> dict[str, Any]:
    n = draw(st.integers(3, 8))
    codes = [f"I{i}" for i in range(n)]
    items, boms = [], []
    for i, code in enumerate(codes):
        below = codes[i + 1 :]
        make = bool(below) and draw(st.booleans())
        items.append(
            {
                "code": code,
                "name": f"件{i} part",
                "source": "make" if make else "buy",
                "lead_time_days": draw(st.integers(0, 6)),
                "unit_cost": draw(st.integers(1, 50)),
                "min_order_qty": draw(st.sampled_from([0, 0, 5, 10])),
            }
        )
        if make:
            components = draw(st.lists(st.sampled_from(below), min_size=1, max_size=3, unique=True))
            boms.append(
                {
                    "parent": code,
                    "lines": [
                        {
                            "component": c,
                            "qty": draw(st.decimals("0.25", "4", places=2)),
                            "scrap_rate": draw(st.sampled_from(["0", "0", "0.05", "0.1"])),
                        }
                        for c in components
                    ],
                }
            )
    stock = [{"item": c, "qty": draw(st.integers(1, 60))} for c in codes if draw(st.booleans())]
    lines = [
        {
            "item": draw(st.sampled_from(codes)),
            "qty": draw(st.integers(1, 40)),
            "due": TODAY + timedelta(days=draw(st.integers(1, 45))),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]
    data: dict[str, Any] = {
        "today": TODAY,
        "calendar": {"workdays": ["mon", "tue", "wed", "thu", "fri"]},
        "items": items,
        "boms": boms,
        "stock": stock,
    }
    if lines:
        data["customers"] = [{"code": "C1", "name": "客户"}]
        data["sales_orders"] = [{"id": "SO-F1", "customer": "C1", "lines": lines}]
    return data


@pytest.fixture(scope="module")
def fuzz_db(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    path = tmp_path_factory.mktemp("plants") / "orderpilot.sqlite"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    yield url
    dispose_engine(url)


def _tool(url: str, name: str, **args: Any) -> dict[str, Any] | None:
    try:
        with open_context(url, clock=lambda: TODAY) as ctx:
            return call_tool(ctx, name, args)
    except ToolError as exc:  # a refusal is an answer; anything else fails the test
        assert exc.code in ("invalid_input", "not_found", "infeasible"), exc.to_dict()
        return None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
@given(data=plants(), qty=st.integers(1, 30), due_days=st.integers(0, 60))
def test_random_plants_through_the_tools(fuzz_db: str, data: dict[str, Any], qty: int, due_days: int) -> None:
    with open_context(fuzz_db) as ctx:
        load_dataset(ctx.session, data, reset=True, source="fuzz")
    top = data["items"][0]["code"]

    exploded = _tool(fuzz_db, "explode_bom", item=top, qty=qty)
    if exploded is not None:
        for item, total in exploded["totals"].items():
            on_lines = sum(line["qty"] for line in exploded["lines"] if line["item"] == item)
            assert total >= 0 and abs(total - on_lines) <= TOLERANCE * max(1, on_lines), (item, exploded)

    kit = _tool(fuzz_db, "check_kitting", item=top, qty=qty)
    if kit is not None:
        assert kit["buildable_qty"] >= 0
        assert all(s["short"] > 0 for s in kit["shortages"])
        assert kit["complete"] == (not kit["shortages"])

    mrp = _tool(fuzz_db, "run_mrp", horizon_days=90)
    if mrp is not None:
        for s in mrp["suggestions"]:
            assert s["qty"] > 0 and s["release_date"] <= s["due_date"], s
            if not s["late"]:  # a suggestion that is not late can still be released in time
                assert date.fromisoformat(s["release_date"]) >= TODAY, s

    due = TODAY + timedelta(days=due_days)
    promise = _tool(
        fuzz_db, "promise_order", item=top, qty=qty, due_date=due.isoformat(), time_limit_seconds=1
    )
    if promise is not None:
        promised = sum(Decimal(str(p["qty"])) for p in promise["promise"])
        assert promised == qty, promise["promise"]
        assert sum(Decimal(str(p["qty"])) for p in promise["deliveries"]) == qty
        dates = [date.fromisoformat(p["date"]) for p in promise["promise"]]
        earliest = date.fromisoformat(promise["earliest_full_date"])
        assert all(d >= TODAY for d in dates) and TODAY <= earliest <= max(dates)
        # the promise is the quantity by the due date, then the rest on the earliest date all is ready
        assert promise["on_time"] == (Decimal(str(promise["qty_by_due"])) >= qty)
        if not promise["on_time"]:
            assert earliest == max(dates) and earliest > due
