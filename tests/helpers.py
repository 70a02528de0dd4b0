"""Helpers for tests: dataset paths, loading a dataset, calling a tool."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
ACCEPTANCE = SHARED / "acceptance"
BIKE_YAML = ACCEPTANCE / "bike_factory.yaml"
BIKE_COSTING_YAML = ACCEPTANCE / "bike_costing.yaml"
DEMO_YAML = ROOT / "data" / "demo" / "demo_factory.yaml"


def load_into(url: str, path: Path, reset: bool = True) -> None:
    from tools.context import open_context
    from tools.dataset_io import load_dataset_file

    with open_context(url) as ctx:
        load_dataset_file(ctx.session, path, reset=reset)


def call(url: str, name: str, today: date | None = None, **args: Any) -> dict[str, Any]:
    """Call a tool as the local admin and return its JSON output."""
    from tools.context import open_context
    from tools.registry import call_tool

    with open_context(url, clock=(lambda: today) if today else None) as ctx:
        return call_tool(ctx, name, args)
