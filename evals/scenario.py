"""Evaluation scenarios as data: who asks what on which dataset and clock, and what must be true afterwards.

A scenario file (evals/scenarios/*.yaml) holds one scenario, or a pair of twins that share everything but
their wording: ``variants: {zh: {turns: […]}, en: {turns: […]}}`` expands into ``<id>.zh`` and ``<id>.en``
(a variant's keys replace the file's; ``expect`` is merged key by key).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from evals.selector import Reduce, parse_path

SCENARIO_DIR = Path(__file__).parent / "scenarios"
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 10× faster
Language = Literal["zh", "en"]
BackendName = Literal["offline", "openai", "scripted"]
ROLES = ("sales", "planner", "buyer", "warehouse", "quality", "manager", "admin")
CATEGORIES = (
    "promise",
    "kitting",
    "shortages",
    "purchase_requests",
    "order_status",
    "bom",
    "mrp",
    "schedule",
    "costs",
    "items",
    "execution",
    "clarification",
    "ambiguity",
    "out_of_scope",
    "chitchat",
    "help",
    "injection",
    "multi_tool",
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Oracle(Strict):
    """A fact the answer must state, computed by calling a tool on the scenario's fixture (never typed)."""

    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    path: str = Field(description="selector into the tool's output, e.g. shortages[?item=LIFT-COL].short")
    reduce: Reduce | None = None
    match: Literal["all", "any"] = Field(default="all", description="all selected values, or any one")
    label: str = ""

    @field_validator("path")
    @classmethod
    def _path_parses(cls, value: str) -> str:
        parse_path(value)
        return value

    def describe(self) -> str:
        return self.label or f"{self.tool}({_args_text(self.args)}).{self.path}" + (
            f"|{self.reduce}" if self.reduce else ""
        )


def _args_text(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


class ToolCallExpect(Strict):
    """A tool that must be called, with (a subset of) these arguments; ``a|b`` accepts either tool."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.name.split("|") if n.strip())


class ToolsExpect(Strict):
    required: tuple[ToolCallExpect, ...] = ()
    allowed: tuple[str, ...] = Field(default=(), description="globs of tools that may also be called")
    forbidden: tuple[str, ...] = Field(default=(), description="globs of tools that must not be called")
    none: bool = Field(default=False, description="no tool call at all")

    @field_validator("required", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        return [{"name": v} if isinstance(v, str) else v for v in value or []]

    def expected_names(self) -> set[str]:
        return {n for c in self.required for n in c.names()}

    def is_allowed(self, name: str) -> bool:
        return name in self.expected_names() or any(fnmatch.fnmatchcase(name, g) for g in self.allowed)

    def is_forbidden(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, g) for g in self.forbidden)


class AnswerExpect(Strict):
    asks: bool | None = Field(default=None, description="True: must ask the user something; False: must not")
    declines: bool | None = Field(default=None, description="True: must say it cannot answer")
    mentions: tuple[str, ...] = Field(default=(), description="identifiers the answer names (codes, ids)")
    not_mentions: tuple[str, ...] = ()
    cites_proposals: bool = Field(default=False, description="names every proposal the run created")


Expected = Any  # a literal (number, date, text), or {fact: <oracle>}: a value taken from a tool


class ProposalExpect(Strict):
    kind: str
    tool: str | None = None
    args: dict[str, Expected] = Field(default_factory=dict, description="a subset of the stored arguments")


class TableChange(Strict):
    added: int | dict[str, Any] | None = Field(default=None, description="a count, or {fact: …}")
    removed: int | None = Field(default=0, description="null: not checked")
    updated: int | dict[str, Any] | None = Field(
        default=0, description="a count, {fact: …}, or null: not checked"
    )
    rows: tuple[dict[str, Expected], ...] = Field(
        default=(), description="added rows (foreign keys shown as the referenced code, item_id → item)"
    )


class EndState(Strict):
    """The business tables after the run: unchanged, or exactly these tables changed as described."""

    unchanged: bool | None = None
    tables: dict[str, TableChange] = Field(default_factory=dict)
    proposals_status: dict[str, str] = Field(
        default_factory=dict, description="pre-existing proposals (patch index as text) and their status"
    )


class TurnExpect(Strict):
    answer: AnswerExpect = Field(default_factory=AnswerExpect)
    facts: tuple[Oracle, ...] = ()
    tools: ToolsExpect = Field(default_factory=ToolsExpect)


class Expect(Strict):
    facts: tuple[Oracle, ...] = Field(default=(), description="stated in the final answer")
    answer: AnswerExpect = Field(default_factory=AnswerExpect)
    tools: ToolsExpect = Field(default_factory=ToolsExpect)
    proposals: tuple[ProposalExpect, ...] = Field(
        default=(), description="exactly the proposals the run creates"
    )
    end_state: EndState = Field(default_factory=EndState)
    per_turn: dict[int, TurnExpect] = Field(default_factory=dict, description="by turn index, 0-based")
    clarifies: bool = Field(default=False, description="the scenario is about asking for what is missing")


class Approval(Strict):
    """A person's decision on the proposals the run created, simulated by the runner after the turns."""

    action: Literal["confirm", "reject"]
    role: str
    proposals: Literal["all"] | int | str = Field(default="all", description="all, an index, or a kind")
    expect: Literal["confirmed", "rejected", "forbidden", "conflict"]


class ItemPatch(Strict):
    code: str
    description: str | None = None
    name: str | None = None


class ProposalPatch(Strict):
    """A proposal stored before the run (e.g. one an attacker wants confirmed)."""

    tool: str
    args: dict[str, Any]
    role: str = "planner"


class Patch(Strict):
    items: tuple[ItemPatch, ...] = ()
    proposals: tuple[ProposalPatch, ...] = ()

    def is_empty(self) -> bool:
        return not self.items and not self.proposals


class Scenario(Strict):
    id: str
    title: str = ""
    category: str
    language: Language
    role: str
    fixture: str = Field(description="demo, bike, or a dataset path")
    today: date
    turns: tuple[str, ...] = Field(min_length=1)
    approvals: tuple[Approval, ...] = ()
    patch: Patch = Field(default_factory=Patch)
    expect: Expect = Field(default_factory=Expect)
    backends: tuple[Literal["offline", "openai"], ...] = ("offline", "openai")
    openai_only: bool = False
    requires_tools: tuple[str, ...] = ()
    twin: str = Field(default="", description="the id shared by the zh/en twins")
    source: str = ""

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"role {value!r} is not one of {', '.join(ROLES)}")
        return value

    @field_validator("category")
    @classmethod
    def _category(cls, value: str) -> str:
        if value not in CATEGORIES:
            raise ValueError(f"category {value!r} is not one of {', '.join(CATEGORIES)}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        for approval in self.approvals:
            if approval.role not in ROLES:
                raise ValueError(f"approval role {approval.role!r} is not one of {', '.join(ROLES)}")
        if self.expect.tools.none and self.expect.tools.required:
            raise ValueError("tools.none and tools.required contradict each other")
        for index in self.expect.per_turn:
            if not 0 <= index < len(self.turns):
                raise ValueError(f"per_turn index {index} is not a turn (0-{len(self.turns) - 1})")
        return self

    def in_scope(self, backend: BackendName) -> bool:
        """Whether ``backend`` claims this scenario (scripted: decided by the recordings)."""
        if backend == "offline":
            return not self.openai_only and "offline" in self.backends
        if backend == "openai":
            return "openai" in self.backends or self.openai_only
        return True

    def oracles(self) -> list[Oracle]:
        found = list(self.expect.facts)
        for turn in self.expect.per_turn.values():
            found.extend(turn.facts)
        found.extend(_refs(self.expect.proposals))
        for change in self.expect.end_state.tables.values():
            found.extend(_refs([*change.rows, change.added, change.updated]))
        return found

    def missing_tools(self, installed: Iterable[str]) -> list[str]:
        """Tools the scenario cannot be judged without that are not installed: its oracles, declared needs,
        expected proposals, and required calls (one of a call's alternatives is enough)."""
        have = set(installed)
        names = {o.tool for o in self.oracles()} | set(self.requires_tools)
        names |= {p.tool for p in self.expect.proposals if p.tool}
        missing = names - have
        required = list(self.expect.tools.required)
        for turn in self.expect.per_turn.values():
            required.extend(turn.tools.required)
        missing |= {c.names()[0] for c in required if not set(c.names()) & have}
        return sorted(missing)

    def expects_write(self) -> bool:
        return bool(self.expect.proposals)


def _refs(values: Iterable[Any]) -> list[Oracle]:
    found: list[Oracle] = []

    def walk(value: Any) -> None:
        if isinstance(value, BaseModel):
            for field in type(value).model_fields:
                walk(getattr(value, field))
        elif isinstance(value, dict):
            if set(value) == {"fact"}:
                found.append(Oracle.model_validate(value["fact"]))
                return
            for v in value.values():
                walk(v)
        elif isinstance(value, list | tuple):
            for v in value:
                walk(v)

    for v in values:
        walk(v)
    return found


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if key == "expect" and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


class ScenarioFileError(ValueError):
    """A scenario file that cannot be read; says which file and why."""


def expand(raw: dict[str, Any], source: str) -> list[Scenario]:
    """The scenarios one file describes (its twins expanded)."""
    variants = raw.pop("variants", None)
    if variants is None:
        return [
            Scenario.model_validate({**raw, "source": source, "twin": raw.get("twin", raw.get("id", ""))})
        ]
    base_id = raw["id"]
    found = []
    for language, variant in variants.items():
        data = _merge(raw, variant or {})
        data |= {"id": f"{base_id}.{language}", "language": language, "twin": base_id, "source": source}
        found.append(Scenario.model_validate(data))
    return found


def load_scenarios(directory: Path = SCENARIO_DIR, patterns: Iterable[str] = ()) -> list[Scenario]:
    """Every scenario under ``directory`` (sorted by id), optionally only those whose id matches a glob."""
    scenarios: list[Scenario] = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
            if not isinstance(raw, dict):
                raise ScenarioFileError(f"{path.name}: a scenario file holds one mapping")
            scenarios.extend(expand(raw, path.name))
        except (ValueError, yaml.YAMLError) as exc:
            raise ScenarioFileError(f"{path.name}: {exc}") from exc
    seen: set[str] = set()
    for s in scenarios:
        if s.id in seen:
            raise ScenarioFileError(f"scenario id {s.id!r} is used twice")
        seen.add(s.id)
    globs = [p for p in patterns if p]
    if globs:
        scenarios = [s for s in scenarios if any(fnmatch.fnmatchcase(s.id, g) for g in globs)]
    return sorted(scenarios, key=lambda s: s.id)
