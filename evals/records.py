"""What an evaluation records: each turn, each check, each run, and the per-scenario and overall metrics."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal["passed", "failed", "error"]


class ToolCallRecord(BaseModel):
    name: str
    args: dict[str, Any]
    ok: bool
    error: str = ""
    kind: Literal["read", "write"]


class TurnRecord(BaseModel):
    """One user turn and the assistant's reply to it."""

    question: str
    answer: str
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)
    proposals: list[str] = Field(default_factory=list, description="proposal ids the reply reported")
    latency_s: float
    error: str = ""


class Check(BaseModel):
    """One thing the scenario requires, and whether this run did it."""

    name: str
    ok: bool
    detail: str = ""


class FactResult(BaseModel):
    label: str
    expected: list[str]
    found: bool


class ToolCounts(BaseModel):
    """Distinct tool names of one run (or summed over runs): called, called and allowed, expected, found."""

    called: int = 0
    relevant: int = 0
    expected: int = 0
    found: int = 0

    def __add__(self, other: ToolCounts) -> ToolCounts:
        return ToolCounts(
            called=self.called + other.called,
            relevant=self.relevant + other.relevant,
            expected=self.expected + other.expected,
            found=self.found + other.found,
        )

    @property
    def precision(self) -> float | None:
        return self.relevant / self.called if self.called else None

    @property
    def recall(self) -> float | None:
        return self.found / self.expected if self.expected else None


class ApprovalOutcome(BaseModel):
    proposal_id: str
    action: str
    role: str
    outcome: str
    expected: str


class RunResult(BaseModel):
    scenario: str
    run: int
    backend: str
    status: RunStatus
    checks: list[Check] = Field(default_factory=list)
    turns: list[TurnRecord] = Field(default_factory=list)
    facts: list[FactResult] = Field(default_factory=list)
    read_tools: ToolCounts = Field(default_factory=ToolCounts)
    write_tools: ToolCounts = Field(default_factory=ToolCounts)
    end_state_ok: bool = False
    unapproved_write: bool = False
    clarified: bool = False
    proposals: list[dict[str, Any]] = Field(default_factory=list)
    approvals: list[ApprovalOutcome] = Field(default_factory=list)
    latency_s: float = 0.0
    model_calls: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]


class Rates(BaseModel):
    """Metrics over a set of runs (one scenario, a category, a language, or all)."""

    scenarios: int = 0
    runs: int = 0
    passes: int = 0
    pass_hat: dict[int, float] = Field(
        default_factory=dict, description="pass^k for k = 1..runs per scenario"
    )
    end_state_accuracy: float | None = None
    fact_recall: float | None = None
    read_precision: float | None = None
    read_recall: float | None = None
    write_precision: float | None = None
    write_recall: float | None = None
    unapproved_writes: int = 0
    clarification_rate: float | None = Field(default=None, description="over scenarios that must ask")
    errors: int = 0
    mean_turns: float | None = None
    mean_latency_s: float | None = None
    p95_latency_s: float | None = None
    mean_input_tokens: float | None = None
    mean_output_tokens: float | None = None


class ScenarioResult(BaseModel):
    id: str
    title: str
    category: str
    language: str
    twin: str
    status: Literal["run", "skipped", "out_of_scope"] = Field(
        description="run; skipped (a tool it needs is not installed); out_of_scope (the backend does not claim it)"
    )
    skip_reason: str = ""
    rates: Rates = Field(default_factory=Rates)
    runs: list[RunResult] = Field(default_factory=list)


class HeldoutSummary(BaseModel):
    """The offline NLU's accuracy on its held-out questions (assistant.offline.evaluation)."""

    questions: int
    intent_accuracy: float
    slot_accuracy: float
    by_language: dict[str, list[int]]
    misses: list[dict[str, Any]]
    text: str


class SuiteResult(BaseModel):
    backend: str
    k: int
    started_at: str
    duration_s: float
    model: str = ""
    scenarios: list[ScenarioResult]
    overall: Rates
    by_category: dict[str, Rates]
    by_language: dict[str, Rates]
    heldout: HeldoutSummary | None = None
    registry_tools: list[str] = Field(default_factory=list)

    def in_scope(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.status == "run"]

    def skipped(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.status == "skipped"]

    def out_of_scope(self) -> list[ScenarioResult]:
        return [s for s in self.scenarios if s.status == "out_of_scope"]
