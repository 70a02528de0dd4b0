"""`orderpilot eval`: run the evaluation scenarios against a backend and write the reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.output import fail

BACKENDS = ("offline", "openai", "scripted")


def eval_cmd(
    backend: Annotated[
        str,
        typer.Option(
            "--backend",
            help="offline (embedded), openai (the model at ORDERPILOT_LLM_BASE_URL / _MODEL / _API_KEY) or "
            "scripted (recorded model turns in evals/recordings, no network).",
        ),
    ] = "offline",
    k: Annotated[
        int, typer.Option("-k", "--runs", min=1, max=50, help="Runs per scenario (pass^1 … pass^k).")
    ] = 1,
    scenario: Annotated[
        list[str] | None,
        typer.Option(
            "--scenario", help="Only scenarios whose id matches this glob (repeatable), e.g. 'kitting-*'."
        ),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Directory for results.json, report.md, report.html.")
    ] = Path("artifacts/eval"),
    workers: Annotated[
        int, typer.Option("--workers", min=1, max=32, help="Runs in parallel (useful for a remote model).")
    ] = 1,
    heldout: Annotated[
        bool, typer.Option("--heldout/--no-heldout", help="Include the offline NLU held-out accuracy report.")
    ] = True,
    min_pass: Annotated[
        float | None,
        typer.Option(
            "--min-pass", min=0.0, max=1.0, help="Exit 1 when pass^1 is below this (e.g. 1.0 in CI)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No line per run.")] = False,
) -> None:
    """Run the evaluation suite: every scenario k times on a fresh copy of its fixture, graded on the database.

    Prints one line per run and a summary; exits 1 if any run wrote without approval (or pass^1 is below
    --min-pass).
    """
    from assistant.backend import BackendUnavailable
    from evals.report import pct
    from evals.runner import EvalOptions, run_suite
    from evals.scenario import ScenarioFileError

    if backend not in BACKENDS:
        fail("invalid_input", f"--backend must be one of {', '.join(BACKENDS)}", as_json=False)
    options = EvalOptions(
        backend=backend, k=k, patterns=tuple(scenario or ()), out=out, workers=workers, heldout=heldout
    )
    say = (lambda _: None) if quiet else (lambda line: typer.echo(line, err=True))
    try:
        result = run_suite(options, progress=say)
    except BackendUnavailable as exc:
        fail("unavailable", exc.message, as_json=False)
    except ScenarioFileError as exc:
        fail("invalid_input", str(exc), as_json=False)
    o = result.overall
    passes = ", ".join(f"pass^{n} {pct(v)}" for n, v in sorted(o.pass_hat.items()))
    typer.echo(
        f"{result.backend}: {o.scenarios} scenario(s) × {k}, {passes or 'nothing run'}; "
        f"end state {pct(o.end_state_accuracy)}, facts {pct(o.fact_recall)}, "
        f"unapproved writes {o.unapproved_writes}, skipped {len(result.skipped())}; "
        f"{result.duration_s:.1f} s"
    )
    if result.heldout is not None:
        typer.echo(
            f"offline NLU held-out: intents {pct(result.heldout.intent_accuracy)}, "
            f"slots {pct(result.heldout.slot_accuracy)} ({result.heldout.questions} questions)"
        )
    typer.echo(f"reports: {out / 'report.html'}, {out / 'report.md'}, {out / 'results.json'}")
    if o.unapproved_writes:
        raise typer.Exit(1)
    if min_pass is not None and (o.pass_hat.get(1) or 0.0) < min_pass:
        raise typer.Exit(1)
