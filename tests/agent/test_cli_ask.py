"""`orderpilot ask` and `orderpilot chat` on the command line: the --json shape, errors, lazy imports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from assistant.agent import close_checkpointers
from cli import assistant as assistant_cli
from data_model.settings import get_settings
from tests.agent.openai_stub import Completion, OpenAIStub, Raw, ToolCallSpec
from tests.helpers import ROOT

FRAME_REQUEST = {"lines": [{"item": "FRAME", "qty": 5, "need_date": "2026-12-08"}], "source_ref": "SO-100"}


def cli_app() -> typer.Typer:
    """The real `orderpilot` app, with ask/chat registered here if the lead has not registered them yet."""
    from cli.main import app

    names = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    if "ask" not in names:
        app.command("ask")(assistant_cli.ask)
    if "chat" not in names:
        app.command("chat")(assistant_cli.chat)
    return app


@pytest.fixture
def llm_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAIStub]:
    script = [
        Completion(tool_calls=(ToolCallSpec("propose_purchase_requests", FRAME_REQUEST),)),
        Completion(content="Proposal drafted; it is pending until a buyer confirms it."),
    ]
    with OpenAIStub(script) as stub:
        monkeypatch.setenv("ORDERPILOT_LLM_BASE_URL", stub.base_url)
        monkeypatch.setenv("ORDERPILOT_LLM_API_KEY", "test-key")
        monkeypatch.setenv("ORDERPILOT_ASSISTANT_BACKEND", "")
        get_settings.cache_clear()
        yield stub
    get_settings.cache_clear()
    close_checkpointers()


def test_ask_json_has_the_contract_shape(bike_url: str, llm_env: OpenAIStub) -> None:
    result = CliRunner().invoke(cli_app(), ["ask", "Draft a request for 5 FRAME", "--db", bike_url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert {"answer", "tool_calls", "proposals"} <= set(data)
    assert data["answer"] == "Proposal drafted; it is pending until a buyer confirms it."
    assert [(c["name"], c["args"]) for c in data["tool_calls"]] == [
        ("propose_purchase_requests", FRAME_REQUEST)
    ]
    [proposal] = data["proposals"]
    assert proposal["status"] == "pending" and proposal["proposal_id"].startswith("P-")
    assert proposal["requested_by"] == "local"
    # FRAME unit_cost 50 -> 5 x 50 = 250
    assert proposal["total_amount"] == 250
    assert data["backend"] == "openai" and data["thread_id"] and "error" not in data


def test_ask_text_lists_pending_proposals_and_acts_as_the_given_user(
    bike_url: str, llm_env: OpenAIStub
) -> None:
    from tools.auth import create_user
    from tools.context import open_context

    with open_context(bike_url) as ctx:
        create_user(ctx.session, "bea", "buyer")
    result = CliRunner().invoke(
        cli_app(),
        ["ask", "Draft a request for 5 FRAME", "--db", bike_url, "--as", "bea", "--thread", "cli-1"],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Proposal drafted; it is pending until a buyer confirms it."
    assert lines[1].startswith("  [pending P-") and "FRAME 5 pcs" in lines[1]
    assert "orderpilot proposals confirm P-" in lines[2]
    from tools.context import open_context as ctx_open
    from tools.proposals import list_proposals

    with ctx_open(bike_url) as ctx:
        assert [p.requested_by for p in list_proposals(ctx.session)] == ["bea"]


def test_ask_errors(bike_url: str, llm_env: OpenAIStub) -> None:
    runner = CliRunner()
    bad_backend = runner.invoke(cli_app(), ["ask", "hi", "--db", bike_url, "--backend", "gpt", "--json"])
    assert bad_backend.exit_code == 1
    assert json.loads(bad_backend.stdout)["error"]["code"] == "invalid_input"
    unknown_user = runner.invoke(cli_app(), ["ask", "hi", "--db", bike_url, "--as", "nobody", "--json"])
    assert unknown_user.exit_code == 1
    assert json.loads(unknown_user.stdout)["error"]["code"] == "not_found"
    llm_env.script[:] = [Raw(b"garbage")]
    failed = runner.invoke(cli_app(), ["ask", "hi", "--db", bike_url, "--json"])
    assert failed.exit_code == 1
    data = json.loads(failed.stdout)
    assert data["error"]["code"] == "bad_model_output" and "Nothing was changed" in data["answer"]


def test_chat_keeps_the_thread_until_quit(bike_url: str, llm_env: OpenAIStub) -> None:
    llm_env.script[:] = [
        Completion(tool_calls=(ToolCallSpec("get_item", {"item": "BIKE"}),)),
        Completion(content="BIKE: 2 on hand."),
        Completion(content="SO-100 needs 12."),
    ]
    result = CliRunner().invoke(
        cli_app(), ["chat", "--db", bike_url], input="How many BIKE?\nAnd the demand?\n/quit\n"
    )
    assert result.exit_code == 0, result.output
    assert "openai backend" in result.stdout
    assert "BIKE: 2 on hand." in result.stdout and "SO-100 needs 12." in result.stdout
    assert "· get_item" in result.output
    # the second question was sent with the first one's history
    users = [m["content"] for m in llm_env.requests[-1]["messages"] if m["role"] == "user"]
    assert users == ["How many BIKE?", "And the demand?"]


def test_ask_offline_imports_no_langchain_or_gradio(bike_url: str) -> None:
    code = f"""
import json, sys
from typer.testing import CliRunner
from cli.main import app
from cli import assistant
if "ask" not in {{c.name for c in app.registered_commands}}:
    app.command("ask")(assistant.ask)
result = CliRunner().invoke(app, ["ask", "BIKE 有多少?", "--db", {bike_url!r}, "--backend", "offline", "--json"])
heavy = sorted({{m.split(".")[0] for m in sys.modules}} & {{"langchain", "langchain_core", "langchain_openai",
    "langgraph", "openai", "gradio"}})
print(json.dumps({{"heavy": heavy, "output": result.output}}))
"""
    env = {**os.environ, "ORDERPILOT_LLM_BASE_URL": "", "ORDERPILOT_LLM_API_KEY": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["heavy"] == [], report
    assert json.loads(report["output"])["backend"] == "offline"
