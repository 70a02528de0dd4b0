"""The openai backend of the runner against a loopback OpenAI-compatible server (no network): the real
ChatOpenAI client, tool calls over the wire, token usage from the responses; and the CLI command."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from assistant.agent import close_checkpointers
from cli.evals import eval_cmd
from data_model.settings import Settings
from evals.runner import EvalOptions, run_suite
from tests.agent.openai_stub import Completion, OpenAIStub, Scripted, ToolCallSpec


def test_openai_backend_runs_a_scenario_over_the_wire(tmp_path: Path) -> None:
    # the bike factory's worked example (bike_factory.md): 4 more bikes from stock, limited by SEAT
    script: list[Scripted] = [
        Completion(tool_calls=(ToolCallSpec("check_kitting", {"item": "BIKE"}),)),
        Completion(content="We can assemble 4 more bikes from stock; seats (SEAT) are the limiting item."),
    ]
    with OpenAIStub(script) as stub:
        settings = Settings(
            llm_base_url=stub.base_url, llm_api_key="k", llm_model="stub", llm_timeout_seconds=5.0
        )
        result = run_suite(
            EvalOptions(backend="openai", patterns=("kitting-bike.en",), out=tmp_path, heldout=False),
            settings=settings,
        )
    close_checkpointers()
    (scenario,) = result.in_scope()
    (run,) = scenario.runs
    assert run.passed, [(c.name, c.detail) for c in run.failed_checks()]
    # two model calls, each reported by the stub as 10 prompt + 5 completion tokens
    assert (run.model_calls, run.input_tokens, run.output_tokens) == (2, 20, 10)
    assert result.model.startswith("stub @ http://127.0.0.1")
    assert len(stub.requests) == 2


def test_openai_backend_without_an_endpoint_is_refused_plainly(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_cmd)
    out = CliRunner().invoke(
        app,
        ["--backend", "openai", "--out", str(tmp_path)],
        env={"ORDERPILOT_LLM_BASE_URL": "", "ORDERPILOT_LLM_API_KEY": ""},
    )
    assert out.exit_code == 1
    assert "no language model is configured" in out.output


def test_cli_runs_a_subset_and_writes_the_reports(tmp_path: Path) -> None:
    app = typer.Typer()
    app.command("eval")(eval_cmd)
    out = CliRunner().invoke(
        app,
        ["--scenario", "chitchat-*", "--scenario", "kitting-bike.*", "-k", "2", "--out", str(tmp_path),
         "--no-heldout", "--min-pass", "1.0"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "pass^1 100.0%, pass^2 100.0%" in out.output
    data = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert sorted(s["id"] for s in data["scenarios"]) == [
        "chitchat-hello.en", "chitchat-hello.zh", "chitchat-thanks.en", "chitchat-thanks.zh",
        "kitting-bike.en", "kitting-bike.zh",
    ]  # fmt: skip
    assert all(len(s["runs"]) == 2 for s in data["scenarios"])
