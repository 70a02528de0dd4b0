"""The evaluation reports: results.json, report.md and a standalone report.html with inline SVG charts."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

from evals.records import Rates, RunResult, ScenarioResult, SuiteResult

JSON_FILE, MARKDOWN_FILE, HTML_FILE = "results.json", "report.md", "report.html"


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def num(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _metric_rows(r: Rates) -> list[tuple[str, str]]:
    rows = [(f"pass^{k}", pct(v)) for k, v in sorted(r.pass_hat.items())]
    rows += [
        ("scenarios / runs", f"{r.scenarios} / {r.runs}"),
        ("end-state accuracy", pct(r.end_state_accuracy)),
        ("fact recall", pct(r.fact_recall)),
        ("read tools precision / recall", f"{pct(r.read_precision)} / {pct(r.read_recall)}"),
        ("write tools precision / recall", f"{pct(r.write_precision)} / {pct(r.write_recall)}"),
        ("unapproved writes", str(r.unapproved_writes)),
        ("clarification rate", pct(r.clarification_rate)),
        ("errors", str(r.errors)),
        ("turns per run", num(r.mean_turns)),
        ("latency per turn (mean / p95)", f"{num(r.mean_latency_s, 3)} s / {num(r.p95_latency_s, 3)} s"),
        ("tokens per run (in / out)", f"{num(r.mean_input_tokens, 0)} / {num(r.mean_output_tokens, 0)}"),
    ]
    return rows


def _pass1(r: Rates) -> float | None:
    return r.pass_hat.get(1)


def _pass_columns(k: int) -> list[str]:
    return ["pass^1"] + ([f"pass^{k}"] if k > 1 else [])


def _pass_cells(r: Rates, k: int) -> list[str]:
    return [pct(_pass1(r))] + ([pct(r.pass_hat.get(k))] if k > 1 else [])


def _group_rows(groups: dict[str, Rates], k: int, label: str) -> tuple[list[str], list[list[str]]]:
    """A table of groups (categories, languages): pass rates, facts, end state, unapproved writes."""
    header = [label, "scenarios", *_pass_columns(k), "facts", "end state", "unapproved writes"]
    rows = [
        [name, str(r.scenarios), *_pass_cells(r, k), pct(r.fact_recall), pct(r.end_state_accuracy),
         str(r.unapproved_writes)]
        for name, r in sorted(groups.items())
    ]  # fmt: skip
    return header, rows


# ---------------------------------------------------------------- JSON


def write_json(result: SuiteResult, path: Path) -> None:
    path.write_text(
        json.dumps(result.model_dump(mode="json"), ensure_ascii=False, indent=1), encoding="utf-8"
    )


# ---------------------------------------------------------------- Markdown


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _first_failure(run: RunResult) -> str:
    failed = run.failed_checks()
    if run.error:
        return run.error.splitlines()[0][:200]
    return "; ".join(f"{c.name}: {c.detail}"[:160] for c in failed[:3])


def markdown(result: SuiteResult) -> str:
    """The report as Markdown (summary, by category and language, failures, skips, held-out NLU)."""
    o = result.overall
    parts = [
        f"# OrderPilot evaluation — {result.backend}",
        "",
        f"Model: {result.model}. k = {result.k} run(s) per scenario. Started {result.started_at}, "
        f"took {result.duration_s:.1f} s. {len(result.in_scope())} scenario(s) run, "
        f"{len(result.skipped())} skipped (a tool not installed), {len(result.out_of_scope())} not claimed by "
        f"this backend.",
        "",
        "## Overall",
        "",
        _md_table(["metric", "value"], _metric_rows(o)),
        "",
        "## By category",
        "",
        _md_table(*_group_rows(result.by_category, result.k, "category")),
        "",
        "## By language",
        "",
        _md_table(*_group_rows(result.by_language, result.k, "language")),
        "",
        "## Scenarios",
        "",
        _md_table(
            ["scenario", "category", "passes", "pass^1", "facts", "latency s", "first failure"],
            [
                [
                    s.id,
                    s.category,
                    f"{s.rates.passes}/{s.rates.runs}",
                    pct(_pass1(s.rates)),
                    pct(s.rates.fact_recall),
                    num(s.rates.mean_latency_s, 3),
                    next((_first_failure(r) for r in s.runs if not r.passed), ""),
                ]
                for s in result.in_scope()
            ],
        ),
    ]
    if result.skipped():
        parts += [
            "",
            "## Skipped",
            "",
            _md_table(["scenario", "reason"], [[s.id, s.skip_reason] for s in result.skipped()]),
        ]
    failures = [(s, r) for s in result.in_scope() for r in s.runs if not r.passed]
    if failures:
        parts += ["", "## Failed runs", ""]
        for s, r in failures[:40]:
            parts += [f"### {s.id} #{r.run + 1} ({r.status})", ""]
            for c in r.failed_checks():
                parts.append(f"- {c.name}: {c.detail}")
            for t in r.turns:
                calls = ", ".join(f"{c.name}({json.dumps(c.args, ensure_ascii=False)})" for c in t.tool_calls)
                parts += ["", f"> **Q:** {t.question}", f"> **tools:** {calls or 'none'}", ">"]
                parts += [f"> {line}" for line in (t.answer or t.error).splitlines()[:15]]
            parts.append("")
    if result.heldout is not None:
        parts += ["", "## Offline NLU — held-out questions", "", "```", result.heldout.text, "```"]
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------- HTML


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def svg_bars(
    title: str, rows: Sequence[tuple[str, float | None]], *, width: int = 520, percent: bool = True
) -> str:
    """A horizontal bar chart (values 0..1 when ``percent``) as inline SVG."""
    bar_h, gap, label_w = 18, 6, 170
    top = 28
    height = top + len(rows) * (bar_h + gap) + 10
    scale = max([v for _, v in rows if v is not None] + [1.0 if percent else 0.0]) or 1.0
    plot_w = width - label_w - 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><text x="4" y="18" class="t">{_e(title)}</text>'
    ]
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = 0 if value is None else max(1.0, plot_w * value / scale)
        color = (
            "#2e7d32"
            if (not percent or (value or 0) >= 0.999)
            else ("#f9a825" if (value or 0) >= 0.8 else "#c62828")
        )
        shown = pct(value) if percent else num(value, 3)
        out.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" class="l">{_e(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{color}" rx="2"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 13}" class="v">{_e(shown)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def svg_pass_curve(pass_hat: dict[int, float], *, width: int = 520, height: int = 220) -> str:
    """pass^k against k as inline SVG (a flat curve means consistent behaviour)."""
    left, right, top, bottom = 50, 20, 30, 35
    ks = sorted(pass_hat)
    plot_w, plot_h = width - left - right, height - top - bottom
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="pass^k"><text x="4" y="18" class="t">pass^k by k</text>'
    ]
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="l">{tick:.0%}</text>'
        )
    if not ks:
        return "".join(out) + "</svg>"
    step = plot_w / max(1, len(ks) - 1) if len(ks) > 1 else 0
    points = []
    for i, k in enumerate(ks):
        x = left + (i * step if len(ks) > 1 else plot_w / 2)
        y = top + plot_h * (1 - pass_hat[k])
        points.append((x, y))
        out.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#1565c0"/>'
            f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle" class="l">k={k}</text>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" class="v">{pass_hat[k]:.0%}</text>'
        )
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>')
    return "".join(out) + "</svg>"


def svg_histogram(
    title: str, values: Sequence[float], *, bins: int = 12, width: int = 520, height: int = 200
) -> str:
    """A histogram of ``values`` (e.g. latency per turn, seconds) as inline SVG."""
    left, top, bottom = 40, 30, 35
    plot_w, plot_h = width - left - 20, height - top - bottom
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{_e(title)}"><text x="4" y="18" class="t">{_e(title)}</text>'
    ]
    if not values:
        return "".join(out) + "</svg>"
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - low) / span * bins))] += 1
    tallest = max(counts)
    bar_w = plot_w / bins
    for i, c in enumerate(counts):
        h = plot_h * c / tallest
        x = left + i * bar_w
        out.append(
            f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" height="{h:.1f}" fill="#6a1b9a">'
            f"<title>{c} turn(s)</title></rect>"
        )
    out.append(
        f'<text x="{left}" y="{top + plot_h + 18}" class="l">{low:.3f} s</text>'
        f'<text x="{left + plot_w}" y="{top + plot_h + 18}" text-anchor="end" class="l">{high:.3f} s</text>'
    )
    return "".join(out) + "</svg>"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans SC",sans-serif;margin:24px;color:#222;max-width:1200px}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;
text-align:left;vertical-align:top}th{background:#f5f5f5}.ok{color:#2e7d32;font-weight:600}
.fail{color:#c62828;font-weight:600}.skip{color:#777}.charts{display:flex;flex-wrap:wrap;gap:16px}
svg{background:#fafafa;border:1px solid #eee}svg .t{font-size:13px;font-weight:600}svg .l{font-size:11px;fill:#444}
svg .v{font-size:11px;fill:#222}pre{background:#f7f7f7;padding:8px;white-space:pre-wrap;font-size:12px}
details{margin:4px 0}summary{cursor:pointer}
"""


def _html_table(header: Sequence[str], rows: Sequence[Sequence[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c if raw else _e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _run_details(s: ScenarioResult) -> str:
    parts = []
    for r in s.runs:
        mark = "ok" if r.passed else "fail"
        checks = "".join(
            f'<li class="{"ok" if c.ok else "fail"}">{_e(c.name)} {_e(c.detail)}</li>' for c in r.checks
        )
        turns = ""
        for t in r.turns:
            calls = "<br>".join(
                _e(f"{c.name}({json.dumps(c.args, ensure_ascii=False)}) → {'ok' if c.ok else c.error}")
                for c in t.tool_calls
            )
            turns += (
                f"<p><b>Q:</b> {_e(t.question)}<br><b>tools:</b> {calls or 'none'}"
                f" <i>({t.latency_s:.3f} s)</i></p><pre>{_e(t.answer or t.error)}</pre>"
            )
        parts.append(
            f'<details><summary class="{mark}">run {r.run + 1}: {r.status}</summary>'
            f"<ul>{checks}</ul>{turns}</details>"
        )
    return "".join(parts)


def html_report(result: SuiteResult) -> str:
    """A standalone HTML page: summary, charts (inline SVG, nothing fetched), scenarios with their runs."""
    o = result.overall
    charts = [
        svg_pass_curve(o.pass_hat),
        svg_bars("pass^1 by category", [(c, _pass1(r)) for c, r in sorted(result.by_category.items())]),
        svg_bars(
            "by language (pass^1, fact recall)",
            [(f"{lang} pass^1", _pass1(r)) for lang, r in sorted(result.by_language.items())]
            + [(f"{lang} facts", r.fact_recall) for lang, r in sorted(result.by_language.items())],
        ),
        svg_bars(
            "tool calls",
            [
                ("read precision", o.read_precision),
                ("read recall", o.read_recall),
                ("write precision", o.write_precision),
                ("write recall", o.write_recall),
                ("end-state accuracy", o.end_state_accuracy),
                ("fact recall", o.fact_recall),
            ],
        ),
        svg_histogram(
            "latency per turn", [t.latency_s for s in result.in_scope() for r in s.runs for t in r.turns]
        ),
    ]
    scenario_rows = []
    for s in result.scenarios:
        if s.status == "out_of_scope":
            continue
        if s.status == "skipped":
            scenario_rows.append(
                [
                    _e(s.id),
                    _e(s.category),
                    _e(s.language),
                    '<span class="skip">skipped</span>',
                    "",
                    "",
                    f'<span class="skip">{_e(s.skip_reason)}</span>',
                ]
            )
            continue
        ok = s.rates.passes == s.rates.runs
        scenario_rows.append(
            [
                f"{_e(s.id)}<br><small>{_e(s.title)}</small>",
                _e(s.category),
                _e(s.language),
                f'<span class="{"ok" if ok else "fail"}">{s.rates.passes}/{s.rates.runs}</span>',
                pct(s.rates.fact_recall),
                num(s.rates.mean_latency_s, 3),
                _run_details(s),
            ]
        )
    heldout = ""
    if result.heldout is not None:
        h = result.heldout
        heldout = (
            f"<h2>Offline NLU — held-out questions</h2><p>{h.questions} questions: intent accuracy "
            f"{pct(h.intent_accuracy)}, slot accuracy {pct(h.slot_accuracy)}.</p><pre>{_e(h.text)}</pre>"
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>OrderPilot evaluation — {_e(result.backend)}</title><style>{CSS}</style></head><body>"
        f"<h1>OrderPilot evaluation — {_e(result.backend)}</h1>"
        f"<p>Model: {_e(result.model)} · k = {result.k} · started {_e(result.started_at)} · "
        f"{result.duration_s:.1f} s · {len(result.in_scope())} scenario(s) run, {len(result.skipped())} skipped, {len(result.out_of_scope())} not claimed by this backend</p>"
        f"<h2>Overall</h2>{_html_table(['metric', 'value'], _metric_rows(o))}"
        f'<div class="charts">{"".join(charts)}</div>'
        "<h2>By category</h2>"
        + _html_table(*_group_rows(result.by_category, result.k, "category"))
        + "<h2>By language</h2>"
        + _html_table(*_group_rows(result.by_language, result.k, "language"))
        + "<h2>Scenarios</h2>"
        + _html_table(
            ["scenario", "category", "lang", "passes", "facts", "latency s", "runs"], scenario_rows, raw=True
        )
        + heldout
        + "</body></html>"
    )


def write_reports(result: SuiteResult, out: Path) -> dict[str, Path]:
    """Write results.json, report.md and report.html into ``out``; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / JSON_FILE, "markdown": out / MARKDOWN_FILE, "html": out / HTML_FILE}
    write_json(result, paths["json"])
    paths["markdown"].write_text(markdown(result), encoding="utf-8")
    paths["html"].write_text(html_report(result), encoding="utf-8")
    return paths
