"""The public CLI of the foundation: load and export, errors without tracebacks, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers import BIKE_YAML, ROOT

CLI = [sys.executable, "-m", "cli.main"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORDERPILOT_LLM_BASE_URL": "", "NO_COLOR": "1"}
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)


def test_load_export_and_reload(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.sqlite"
    p = run("load", str(BIKE_YAML), "--db", db, "--reset")
    assert p.returncode == 0, p.stderr
    assert "8 items" in p.stdout
    out = tmp_path / "out.xlsx"
    assert run("export", str(out), "--db", db).returncode == 0
    assert run("load", str(out), "--db", db, "--reset").returncode == 0


def test_bad_dataset_exits_non_zero_with_a_located_message_and_no_traceback(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.sqlite"
    assert run("load", str(BIKE_YAML), "--db", db, "--reset").returncode == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("items:\n  - {code: A, source: make}\nboms:\n  - {parent: A, lines: [{component: A, qty: 1}]}\n",
                   encoding="utf-8")
    p = run("load", str(bad), "--db", db, "--reset")
    assert p.returncode == 1
    assert "Traceback" not in p.stderr + p.stdout
    assert "sheet 'boms' row 1 field 'lines[1].component': BOM cycle: A → A" in p.stderr
    missing = run("load", str(tmp_path / "nope.yaml"), "--db", db)
    assert missing.returncode == 1 and "no such file" in missing.stderr and "Traceback" not in missing.stderr


def test_tool_errors_are_json_on_stdout_with_exit_1(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/cli.sqlite"
    p = run("tool", "no_such_tool", "--args", "{}", "--db", db)
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"]["code"] == "not_found"
    p = run("tool", "no_such_tool", "--args", "{not json", "--db", db)
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"]["code"] == "invalid_input"


def test_tools_lists_schemas() -> None:
    p = run("tools")
    assert p.returncode == 0
    listed = json.loads(p.stdout)
    assert all({"name", "kind", "input_schema", "output_schema"} <= set(t) for t in listed)
