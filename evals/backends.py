"""The assistant backends an evaluation runs: offline, a real model (openai), or recorded model turns (scripted).

``scripted`` replays evals/recordings/<scenario>.yaml — the messages a model produced, tool calls and final
text — through the real LLMBackend with a fake chat model, so the agent loop, the tool bindings and the
proposal handling are exercised without a network. A recording's text may read the tool results the model
was sent: ``{{check_kitting.buildable_qty}}`` is replaced by that value, as a model would copy it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, cast

import yaml
from pydantic import BaseModel, ConfigDict, Field

from assistant.backend import Backend, BackendUnavailable
from data_model.settings import Settings, get_settings
from evals.scenario import BackendName, Scenario
from evals.selector import SelectorError, reduce_values, select

RECORDING_DIR = Path(__file__).parent / "recordings"
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*)(?:#(\d+))?\.([^}|]+?)\s*(?:\|\s*(\w+)\s*)?\}\}")


@dataclass
class Usage:
    """Model calls and tokens of one run, from the responses' usage metadata when the endpoint gives it."""

    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    reported: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, input_tokens: int, output_tokens: int, reported: bool) -> None:
        with self._lock:
            self.model_calls += 1
            self.input_tokens += input_tokens
            self.output_tokens += output_tokens
            self.reported = self.reported or reported


def usage_handler(usage: Usage) -> Any:
    """A LangChain callback that adds each model response's token usage to ``usage``."""
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import LLMResult

    class UsageHandler(BaseCallbackHandler):
        def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
            tokens_in = tokens_out = 0
            reported = False
            for generations in response.generations:
                for generation in generations:
                    meta = getattr(getattr(generation, "message", None), "usage_metadata", None)
                    if meta:
                        tokens_in += int(meta.get("input_tokens", 0))
                        tokens_out += int(meta.get("output_tokens", 0))
                        reported = True
            if not reported and response.llm_output:
                found = response.llm_output.get("token_usage") or {}
                if found:
                    tokens_in = int(found.get("prompt_tokens", 0))
                    tokens_out = int(found.get("completion_tokens", 0))
                    reported = True
            usage.add(tokens_in, tokens_out, reported)

    return UsageHandler()


class RunBackend(Protocol):
    """The backend of one run (a conversation of one or more turns) and what it used."""

    backend: Backend
    usage: Usage | None


@dataclass
class _Run:
    backend: Backend
    usage: Usage | None = None


class BackendFactory(Protocol):
    name: BackendName

    def scope(self, scenario: Scenario) -> str | None:
        """None when this backend claims the scenario, else why not."""
        ...

    def start(self, scenario: Scenario) -> RunBackend:
        """A backend for one run of ``scenario``."""
        ...


class OfflineFactory:
    """The embedded offline assistant (one instance; runs are kept apart by their thread ids)."""

    name: BackendName = "offline"

    def __init__(self, settings: Settings | None = None) -> None:
        from assistant.offline.backend import OfflineBackend

        self.settings = settings or get_settings()
        self._backend = OfflineBackend(self.settings)

    def scope(self, scenario: Scenario) -> str | None:
        return None if scenario.in_scope("offline") else "not claimed by the offline backend"

    def start(self, scenario: Scenario) -> RunBackend:
        return _Run(cast(Backend, self._backend))


class OpenAIFactory:
    """Any OpenAI-compatible endpoint configured by ORDERPILOT_LLM_* (the product's LLM backend)."""

    name: BackendName = "openai"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()
        if not (self.settings.llm_base_url or self.settings.llm_api_key):
            raise BackendUnavailable(
                "openai",
                "no language model is configured: set ORDERPILOT_LLM_BASE_URL (any OpenAI-compatible server), "
                "ORDERPILOT_LLM_MODEL and, if it needs one, ORDERPILOT_LLM_API_KEY",
            )

    def scope(self, scenario: Scenario) -> str | None:
        return None if scenario.in_scope("openai") else "not claimed by model backends"

    def start(self, scenario: Scenario) -> RunBackend:
        from langgraph.checkpoint.memory import InMemorySaver

        from assistant.agent import LLMBackend, build_chat_model

        usage = Usage()
        model = build_chat_model(self.settings)
        model.callbacks = [usage_handler(usage)]
        backend = LLMBackend(self.settings, model=model, checkpointer=InMemorySaver())
        return _Run(cast(Backend, backend), usage)


# ---------------------------------------------------------------- recordings


class RecordedCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class RecordedStep(BaseModel):
    """One model response: tool calls and/or text (which may read tool results through ``{{tool.path}}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = ""
    tool_calls: tuple[RecordedCall, ...] = ()
    usage: dict[str, int] = Field(default_factory=dict, description="input_tokens, output_tokens")


class Recording(BaseModel):
    """The model turns recorded for one scenario: for each user turn, the model's responses in order."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scenario: str
    model: str = "hand-written"
    note: str = ""
    turns: tuple[tuple[RecordedStep, ...], ...]


def load_recordings(directory: Path = RECORDING_DIR) -> dict[str, Recording]:
    found: dict[str, Recording] = {}
    for path in sorted(directory.glob("*.yaml")):
        recording = Recording.model_validate(
            yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        )
        if path.stem != recording.scenario:
            raise ValueError(f"{path.name}: the file must be named after its scenario ({recording.scenario})")
        found[recording.scenario] = recording
    return found


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ", ".join(_shown(v) for v in value)
    return str(value)


def _tool_outputs(messages: Sequence[Any]) -> dict[str, list[Any]]:
    """The results of each tool in the messages the model was sent, in order."""
    from langchain_core.messages import ToolMessage

    outputs: dict[str, list[Any]] = {}
    for message in messages:
        if isinstance(message, ToolMessage):
            try:
                data = json.loads(str(message.content))
            except json.JSONDecodeError:
                data = str(message.content)
            outputs.setdefault(message.name or "", []).append(data)
    return outputs


def fill(text: str, messages: Sequence[Any]) -> str:
    """The recorded text with each ``{{tool.path|reduce}}`` replaced by what that tool last returned
    (``{{tool#0.path}}``: its first result). "??" if the tool was not called or the value is missing: the
    answer then lacks the fact and fails, as a model's would."""
    outputs = _tool_outputs(messages)

    def value(m: re.Match[str]) -> str:
        tool, nth, path, how = m.group(1), m.group(2), m.group(3).strip(), m.group(4)
        results = outputs.get(tool) or []
        position = int(nth) if nth is not None else len(results) - 1
        if not 0 <= position < len(results):
            return "??"
        try:
            values = reduce_values(select(results[position], path), how)  # type: ignore[arg-type]
        except (SelectorError, ArithmeticError, ValueError):
            return "??"
        return _shown(values if len(values) != 1 else values[0]) if values else "??"

    return _PLACEHOLDER.sub(value, text)


def script_of(recording: Recording) -> list[Callable[[list[Any]], Any]]:
    """The recording as scripted-model steps: each renders its text from the messages it is sent."""
    from langchain_core.messages import AIMessage

    steps: list[Callable[[list[Any]], Any]] = []
    for turn in recording.turns:
        for step in turn:

            def respond(messages: list[Any], step: RecordedStep = step) -> AIMessage:
                usage = None
                if step.usage:
                    tokens_in = int(step.usage.get("input_tokens", 0))
                    tokens_out = int(step.usage.get("output_tokens", 0))
                    usage = {
                        "input_tokens": tokens_in,
                        "output_tokens": tokens_out,
                        "total_tokens": tokens_in + tokens_out,
                    }
                return AIMessage(
                    content=fill(step.text, messages),
                    tool_calls=[
                        {"name": c.name, "args": dict(c.args), "id": "", "type": "tool_call"}
                        for c in step.tool_calls
                    ],
                    usage_metadata=usage,
                )

            steps.append(respond)
    return steps


class ScriptedFactory:
    """Recorded model turns replayed through the real LLMBackend (agent loop, tools, proposals)."""

    name: BackendName = "scripted"

    def __init__(self, settings: Settings | None = None, directory: Path = RECORDING_DIR) -> None:
        base = settings or get_settings()
        # the recordings stand in for the endpoint: no network settings are needed or used
        self.settings = base.model_copy(update={"llm_base_url": "http://recorded.invalid/v1"})
        self.recordings = load_recordings(directory)

    def scope(self, scenario: Scenario) -> str | None:
        if scenario.id not in self.recordings:
            return "no recording"
        if len(self.recordings[scenario.id].turns) != len(scenario.turns):
            return "the recording does not have one entry per user turn"
        return None

    def start(self, scenario: Scenario) -> RunBackend:
        from langgraph.checkpoint.memory import InMemorySaver

        from assistant.agent import LLMBackend
        from evals.fakes import ScriptedChatModel

        usage = Usage()
        model = ScriptedChatModel(messages=iter(script_of(self.recordings[scenario.id])))
        model.callbacks = [usage_handler(usage)]
        backend = LLMBackend(self.settings, model=model, checkpointer=InMemorySaver())
        return _Run(cast(Backend, backend), usage)


def backend_factory(name: str, settings: Settings | None = None) -> BackendFactory:
    """The factory for ``name`` (offline, openai or scripted); raises BackendUnavailable if it cannot run."""
    if name == "offline":
        return OfflineFactory(settings)
    if name == "openai":
        return OpenAIFactory(settings)
    if name == "scripted":
        return ScriptedFactory(settings)
    raise BackendUnavailable(name, f"unknown backend {name!r}: use offline, openai or scripted")
