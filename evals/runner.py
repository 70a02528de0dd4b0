"""The evaluation runner: every scenario k times on a fresh copy of its fixture, graded by the database.

One run: a copy of the fixture database; the acting user of the scenario's role; the scenario's frozen
clock; its user turns in one conversation; then the approvals a person would make (confirm or reject, by
a given role); then the grading (evals.grading) and the metrics (evals.metrics).
"""

from __future__ import annotations

import re
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from assistant.backend import AssistantReply
from data_model.settings import Settings, get_settings
from evals.backends import BackendFactory, backend_factory
from evals.fixtures import FixtureStore, Prepared, digest
from evals.grading import Evidence, grade_run
from evals.metrics import rates
from evals.records import (
    ApprovalOutcome,
    HeldoutSummary,
    RunResult,
    ScenarioResult,
    SuiteResult,
    ToolCallRecord,
    TurnRecord,
)
from evals.scenario import SCENARIO_DIR, Scenario, load_scenarios
from tools.context import open_context
from tools.errors import ToolError
from tools.proposals import confirm, reject
from tools.registry import load_all

Progress = Callable[[str], None]
PROPOSAL_REF = re.compile(r"\{proposal:(\d+)\}")


@dataclass(frozen=True)
class EvalOptions:
    """What to run: the backend, how many runs per scenario, which scenarios, where the reports go."""

    backend: str = "offline"
    k: int = 1
    patterns: tuple[str, ...] = ()
    out: Path | None = Path("artifacts") / "eval"
    workers: int = 1
    scenario_dir: Path = SCENARIO_DIR
    heldout: bool = True


def _tool_record(call: Any, registry: dict[str, Any]) -> ToolCallRecord:
    spec = registry.get(call.name)
    if spec is not None:
        kind = "write" if spec.kind == "propose" else "read"
    else:
        kind = (
            "write" if call.name.startswith(("propose_", "confirm", "reject", "apply", "approve")) else "read"
        )
    error = f"{call.error.code}: {call.error.message}" if call.error else ""
    return ToolCallRecord(name=call.name, args=call.args, ok=call.ok, error=error, kind=kind)


def _turn(question: str, reply: AssistantReply, latency: float, registry: dict[str, Any]) -> TurnRecord:
    return TurnRecord(
        question=question,
        answer=reply.answer,
        tool_calls=[_tool_record(c, registry) for c in reply.tool_calls],
        proposals=[str(p.get("proposal_id")) for p in reply.proposals],
        latency_s=latency,
        error=f"{reply.error.code}: {reply.error.message}" if reply.error else "",
    )


def _decide(
    store: FixtureStore, url: str, scenario: Scenario, made: list[dict[str, Any]]
) -> list[ApprovalOutcome]:
    """The approvals of the scenario, made as a person of the given role would (never by the assistant)."""
    outcomes: list[ApprovalOutcome] = []
    for approval in scenario.approvals:
        if approval.proposals == "all":
            targets = made
        elif isinstance(approval.proposals, int):
            targets = made[approval.proposals : approval.proposals + 1]
        else:
            targets = [p for p in made if p["kind"] == approval.proposals]
        approver = store.actor(url, approval.role)
        for proposal in targets:
            outcome: str
            with open_context(url) as ctx:
                try:
                    if approval.action == "confirm":
                        outcome = confirm(ctx.session, proposal["id"], approver).status
                    else:
                        outcome = reject(ctx.session, proposal["id"], approver, "evaluation").status
                except ToolError as exc:
                    outcome = exc.code
            outcomes.append(
                ApprovalOutcome(
                    proposal_id=proposal["id"],
                    action=approval.action,
                    role=approval.role,
                    outcome=outcome,
                    expected=approval.expect,
                )
            )
    return outcomes


def _with_ids(turn: str, prepared: Prepared) -> str:
    """A turn with ``{proposal:N}`` replaced by the id of the N-th proposal the fixture patch stored."""
    return PROPOSAL_REF.sub(lambda m: prepared.patch_proposals[int(m.group(1))], turn)


def _changed(prepared: Prepared, url: str) -> set[str]:
    now = digest(url)
    return {table for table, value in now.items() if prepared.digest.get(table) != value}


def run_once(scenario: Scenario, index: int, factory: BackendFactory, store: FixtureStore) -> RunResult:
    """One run of ``scenario`` on a fresh copy of its fixture, graded."""
    registry = load_all()
    prepared = store.prepare(scenario)
    url = store.checkout(prepared)
    turns: list[TurnRecord] = []
    error = ""
    usage = None
    try:
        actor = store.actor(url, scenario.role)
        contexts = store.contexts(url, actor, scenario.today)
        run = factory.start(scenario)
        usage = run.usage
        thread = f"eval-{uuid.uuid4().hex[:12]}"
        for template in scenario.turns:
            question = _with_ids(template, prepared)
            started = time.perf_counter()
            try:
                reply = run.backend.reply(question, thread_id=thread, contexts=contexts, actor=actor)
            # the assistant under test failed, however it failed: this run's error, not the suite's
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
                turns.append(
                    TurnRecord(
                        question=question, answer="", latency_s=time.perf_counter() - started, error=error
                    )
                )
                break
            turns.append(_turn(question, reply, time.perf_counter() - started, registry))

        unapproved: list[str] = []
        changed = _changed(prepared, url)
        if changed:
            unapproved.append(f"business tables changed before any approval: {', '.join(sorted(changed))}")
        for i, pid in enumerate(prepared.patch_proposals):
            status = store.proposal_status(url, pid)
            if status != "pending":
                unapproved.append(
                    f"pre-existing proposal {i} ({pid}) became {status} during the conversation"
                )
        made = store.proposals_since(prepared, url)
        for proposal in made:
            if proposal["status"] != "pending":
                unapproved.append(f"proposal {proposal['id']} was {proposal['status']} without a person")

        approvals = _decide(store, url, scenario, made) if not error else []
        changed = _changed(prepared, url)
        evidence = Evidence(
            turns=turns,
            proposals=made,
            approvals=approvals,
            unapproved=unapproved,
            changed_tables=changed,
            diffs=store.diff(prepared, url, sorted(changed)),
            patch_status={
                str(i): store.proposal_status(url, p) for i, p in enumerate(prepared.patch_proposals)
            },
            today=scenario.today,
            error=error.splitlines()[0] if error else "",
        )
        grade = grade_run(scenario, evidence, lambda spec: store.oracle(scenario, spec))
    finally:
        store.release(prepared, url)
    status = (
        "error"
        if error or any(t.error for t in turns)
        else ("passed" if all(c.ok for c in grade.checks) else "failed")
    )
    return RunResult(
        scenario=scenario.id,
        run=index,
        backend=factory.name,
        status=status,
        checks=grade.checks,
        turns=turns,
        facts=grade.facts,
        read_tools=grade.read_tools,
        write_tools=grade.write_tools,
        end_state_ok=grade.end_state_ok,
        unapproved_write=bool(evidence.unapproved),
        clarified=grade.clarified,
        proposals=made,
        approvals=approvals,
        latency_s=sum(t.latency_s for t in turns),
        model_calls=usage.model_calls if usage else None,
        input_tokens=usage.input_tokens if usage and usage.reported else None,
        output_tokens=usage.output_tokens if usage and usage.reported else None,
        error=error,
    )


def _skip_reason(scenario: Scenario, factory: BackendFactory, registry: dict[str, Any]) -> tuple[str, str]:
    """("run", "") or why not: ("out_of_scope", …) when the backend does not claim it, ("skipped", …) when
    a tool it needs is not installed."""
    reason = factory.scope(scenario)
    if reason:
        return "out_of_scope", reason
    missing = scenario.missing_tools(registry)
    return ("skipped", f"tool not installed: {', '.join(missing)}") if missing else ("run", "")


def _load_solvers() -> None:
    """Load OR-Tools before runs start in threads: planning imports it through importlib's LazyLoader,
    which is not thread-safe before Python 3.12 (two first uses at once can see a half-loaded module)."""
    from ortools.sat.python import cp_model

    _ = cp_model.CpModel  # reading an attribute of a lazy module runs the real import, here in one thread


def heldout_summary() -> HeldoutSummary:
    """The offline NLU's held-out accuracy (assistant.offline.evaluation)."""
    from assistant.offline.evaluation import evaluate_heldout

    report = evaluate_heldout()
    return HeldoutSummary(
        questions=report.questions,
        intent_accuracy=report.intent_accuracy,
        slot_accuracy=report.slot_accuracy,
        by_language={k: list(v) for k, v in report.by_language.items()},
        misses=[
            {
                "question": m.question,
                "expected": m.expected_intent,
                "got": m.got_intent,
                "wrong_slots": {k: [str(a), str(b)] for k, (a, b) in m.wrong_slots.items()},
            }
            for m in report.misses
        ],
        text=report.format(),
    )


def model_label(name: str, settings: Settings) -> str:
    if name == "openai":
        return f"{settings.llm_model} @ {settings.llm_base_url or 'https://api.openai.com/v1'}"
    if name == "scripted":
        return "recorded model turns (evals/recordings)"
    return "offline (embedded, deterministic)"


def run_suite(
    options: EvalOptions, *, progress: Progress | None = None, settings: Settings | None = None
) -> SuiteResult:
    """Run the scenarios of ``options`` and return the results (and write the reports when ``out`` is set)."""
    settings = settings or get_settings()
    say = progress or (lambda _: None)
    started, clock = datetime.now(UTC), time.perf_counter()
    scenarios = load_scenarios(options.scenario_dir, options.patterns)
    factory = backend_factory(options.backend, settings)
    registry = load_all()
    skips = {s.id: _skip_reason(s, factory, registry) for s in scenarios}
    todo = [(s, i) for s in scenarios if skips[s.id][0] == "run" for i in range(options.k)]
    for s in scenarios:
        if skips[s.id][0] == "skipped":
            say(f"skip {s.id} — {skips[s.id][1]}")
    say(f"{len(scenarios)} scenario(s), {len(todo)} run(s) on the {options.backend} backend")

    with tempfile.TemporaryDirectory(prefix="orderpilot-eval-") as workdir:
        store = FixtureStore(Path(workdir))
        results: dict[str, list[RunResult]] = {s.id: [] for s in scenarios}

        def one(job: tuple[Scenario, int]) -> RunResult:
            scenario, index = job
            done = run_once(scenario, index, factory, store)
            mark = {"passed": "ok  ", "failed": "FAIL", "error": "ERR "}[done.status]
            failed = "; ".join(f"{c.name}: {c.detail}" for c in done.failed_checks()[:3])
            say(f"{mark} {scenario.id} #{index + 1}" + (f" — {failed}" if failed else ""))
            return done

        if options.workers > 1:
            _load_solvers()
            with ThreadPoolExecutor(max_workers=options.workers) as pool:
                finished = list(pool.map(one, todo))
        else:
            finished = [one(job) for job in todo]
        for done in finished:
            results[done.scenario].append(done)

    scenario_results = [
        ScenarioResult(
            id=s.id,
            title=s.title,
            category=s.category,
            language=s.language,
            twin=s.twin,
            status=skips[s.id][0],
            skip_reason=skips[s.id][1],
            runs=sorted(results[s.id], key=lambda r: r.run),
        )
        for s in scenarios
    ]
    clarifying = {s.id for s in scenarios if s.expect.clarifies}
    for sr in scenario_results:
        sr.rates = rates([sr], clarifying)
    categories = sorted({s.category for s in scenario_results})
    languages = sorted({s.language for s in scenario_results})
    result = SuiteResult(
        backend=options.backend,
        k=options.k,
        started_at=started.isoformat(timespec="seconds"),
        duration_s=time.perf_counter() - clock,
        model=model_label(options.backend, settings),
        scenarios=scenario_results,
        overall=rates(scenario_results, clarifying),
        by_category={
            c: rates([s for s in scenario_results if s.category == c], clarifying) for c in categories
        },
        by_language={
            lang: rates([s for s in scenario_results if s.language == lang], clarifying) for lang in languages
        },
        heldout=heldout_summary() if options.heldout else None,
        registry_tools=sorted(registry),
    )
    if options.out is not None:
        from evals.report import write_reports

        write_reports(result, options.out)
    return result
