"""The LLM path in CI: recorded model turns replayed through the real LLMBackend (no network)."""

from __future__ import annotations

from pathlib import Path

from evals.backends import load_recordings
from evals.runner import EvalOptions, run_suite
from evals.scenario import load_scenarios


def test_recordings_name_real_scenarios_and_tools() -> None:
    from tools.registry import load_all

    recordings = load_recordings()
    assert len(recordings) >= 10
    scenarios = {s.id: s for s in load_scenarios()}
    registry = load_all()
    for recording in recordings.values():
        assert recording.scenario in scenarios
        assert len(recording.turns) == len(scenarios[recording.scenario].turns)
        for turn in recording.turns:
            assert turn and not turn[-1].tool_calls, f"{recording.scenario}: a turn ends with a text answer"
            for step in turn:
                for call in step.tool_calls:
                    assert call.name in registry, call.name
                    registry[call.name].input_model.model_validate(call.args)


def test_scripted_backend_passes_its_recorded_scenarios(tmp_path: Path) -> None:
    result = run_suite(EvalOptions(backend="scripted", k=2, out=tmp_path, heldout=False))
    ran = result.in_scope()
    assert len(ran) >= 10
    failures = {
        s.id: [f"{c.name}: {c.detail}" for r in s.runs for c in r.failed_checks()]
        for s in ran
        if s.rates.passes != 2
    }
    assert not failures, failures
    assert result.overall.pass_hat == {1: 1.0, 2: 1.0}
    assert result.overall.unapproved_writes == 0
    # tokens come from the responses' usage metadata
    assert result.overall.mean_input_tokens and result.overall.mean_input_tokens > 0
    assert all(r.model_calls and r.model_calls >= 1 for s in ran for r in s.runs)
