"""Metrics over runs: pass^k (τ-bench), end-state accuracy, fact recall, tool precision/recall, latency, tokens."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

from evals.records import Rates, RunResult, ScenarioResult, ToolCounts


def pass_hat_k(successes: int, runs: int, k: int) -> float:
    """τ-bench's unbiased estimate of the chance that k runs drawn from ``runs`` all succeed: C(c,k)/C(n,k)."""
    if not 1 <= k <= runs:
        raise ValueError(f"k={k} must be between 1 and the number of runs ({runs})")
    return math.comb(successes, k) / math.comb(runs, k)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _p95(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]


def rates(scenarios: Iterable[ScenarioResult], clarifying: set[str] | None = None) -> Rates:
    """Metrics of the runs of ``scenarios`` (skipped ones left out); pass^k over scenarios, the rest per run.

    pass^k is given for every k up to the smallest number of runs any scenario had.
    """
    ran = [s for s in scenarios if s.status == "run" and s.runs]
    runs: list[RunResult] = [r for s in ran for r in s.runs]
    if not ran:
        return Rates()
    k_max = min(len(s.runs) for s in ran)
    pass_hat = {
        k: statistics.fmean(pass_hat_k(sum(r.passed for r in s.runs), len(s.runs), k) for s in ran)
        for k in range(1, k_max + 1)
    }
    read = sum((r.read_tools for r in runs), ToolCounts())
    write = sum((r.write_tools for r in runs), ToolCounts())
    facts_total = sum(len(r.facts) for r in runs)
    facts_found = sum(sum(f.found for f in r.facts) for r in runs)
    clarify_ids = clarifying if clarifying is not None else set()
    clarify_runs = [r for s in ran if s.id in clarify_ids for r in s.runs]
    latencies = [t.latency_s for r in runs for t in r.turns]
    with_tokens = [r for r in runs if r.input_tokens is not None]
    return Rates(
        scenarios=len(ran),
        runs=len(runs),
        passes=sum(r.passed for r in runs),
        pass_hat=pass_hat,
        end_state_accuracy=_ratio(sum(r.end_state_ok for r in runs), len(runs)),
        fact_recall=_ratio(facts_found, facts_total),
        read_precision=read.precision,
        read_recall=read.recall,
        write_precision=write.precision,
        write_recall=write.recall,
        unapproved_writes=sum(r.unapproved_write for r in runs),
        clarification_rate=_ratio(sum(r.clarified for r in clarify_runs), len(clarify_runs)),
        errors=sum(r.status == "error" for r in runs),
        mean_turns=statistics.fmean(len(r.turns) for r in runs),
        mean_latency_s=statistics.fmean(latencies) if latencies else None,
        p95_latency_s=_p95(latencies),
        mean_input_tokens=statistics.fmean(r.input_tokens or 0 for r in with_tokens) if with_tokens else None,
        mean_output_tokens=statistics.fmean(r.output_tokens or 0 for r in with_tokens)
        if with_tokens
        else None,
    )
