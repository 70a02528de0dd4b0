"""CI gate: the offline backend passes every scenario it claims (pass^1 = 100 %) and never writes unapproved.

The suite runs once per session (tests/evals/conftest.py). A failure lists each failed run with its failed
checks and the answers, so the cause is readable in the CI log.
"""

from __future__ import annotations

import json
from pathlib import Path

from assistant.offline.intents import INTENTS
from evals.records import SuiteResult
from evals.scenario import CATEGORIES, load_scenarios
from tools.registry import load_all

MIN_SCENARIOS = 80


def _failures(result: SuiteResult) -> str:
    lines = []
    for s in result.in_scope():
        for r in s.runs:
            if r.passed:
                continue
            lines.append(
                f"{s.id} ({r.status}): " + "; ".join(f"{c.name}: {c.detail}" for c in r.failed_checks())
            )
            for t in r.turns:
                calls = ", ".join(f"{c.name}{json.dumps(c.args, ensure_ascii=False)}" for c in t.tool_calls)
                lines.append(
                    f"   Q: {t.question}\n   tools: {calls or 'none'}\n   A: {(t.answer or t.error)[:400]}"
                )
    return "\n".join(lines)


def test_offline_passes_every_scenario_it_claims(offline_suite: tuple[SuiteResult, Path]) -> None:
    result, _ = offline_suite
    assert result.overall.pass_hat[1] == 1.0, _failures(result)
    assert result.overall.errors == 0


def test_offline_never_writes_without_approval(offline_suite: tuple[SuiteResult, Path]) -> None:
    result, _ = offline_suite
    assert result.overall.unapproved_writes == 0
    assert all(not r.unapproved_write for s in result.in_scope() for r in s.runs)


def test_suite_is_large_bilingual_and_mostly_claimed_by_offline(
    offline_suite: tuple[SuiteResult, Path],
) -> None:
    result, _ = offline_suite
    scenarios = load_scenarios()
    assert len(scenarios) >= MIN_SCENARIOS
    assert len(result.in_scope()) >= MIN_SCENARIOS, [(s.id, s.skip_reason) for s in result.skipped()]
    twins: dict[str, set[str]] = {}
    for s in scenarios:
        twins.setdefault(s.twin, set()).add(s.language)
    assert all(langs == {"zh", "en"} for langs in twins.values()), {
        k: v for k, v in twins.items() if v != {"zh", "en"}
    }
    assert {s.category for s in scenarios} == set(CATEGORIES)


def test_every_offline_capability_is_exercised(offline_suite: tuple[SuiteResult, Path]) -> None:
    """Each tool an installed offline intent uses is called by some scenario run (the offline scope is covered)."""
    result, _ = offline_suite
    registry = load_all()
    called = {c.name for s in result.in_scope() for r in s.runs for t in r.turns for c in t.tool_calls}
    wanted = {t for spec in INTENTS.values() if not spec.missing_tools() for t in spec.tools if t in registry}
    # tools an intent only falls back to when a better one is missing
    fallbacks = {"list_production_orders", "list_purchase_orders"}
    assert wanted - fallbacks <= called, sorted(wanted - fallbacks - called)
    categories = {s.category for s in result.in_scope()}
    assert set(CATEGORIES) - {"multi_tool"} <= categories


def test_clarification_scenarios_ask_and_guess_nothing(offline_suite: tuple[SuiteResult, Path]) -> None:
    result, _ = offline_suite
    assert result.overall.clarification_rate == 1.0


def test_reports_are_written_standalone(offline_suite: tuple[SuiteResult, Path]) -> None:
    result, out = offline_suite
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert data["overall"]["pass_hat"]["1"] == result.overall.pass_hat[1]
    assert data["heldout"]["questions"] > 0 and data["heldout"]["intent_accuracy"] >= 0.95
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "## Overall" in markdown and "held-out" in markdown
    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") >= 4
    # standalone: nothing is fetched (the only URL is the SVG namespace)
    assert "<script src" not in page and "<link" not in page
    assert "http" not in page.replace("http://www.w3.org/2000/svg", "")
