"""Grading one run against its scenario: facts in the answer, tools, proposals, approvals and the end state."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from evals.fixtures import OracleError, TableDiff
from evals.normalize import AnswerFacts, describe_fact, fact_stated, fold, read_answer
from evals.records import ApprovalOutcome, Check, FactResult, ToolCounts, TurnRecord
from evals.scenario import AnswerExpect, Oracle, ProposalExpect, Scenario, TableChange, ToolsExpect

OracleFn = Callable[[Oracle], list[Any]]

ASK_CUES = re.compile(
    r"[?？]|请问|请告诉|请提供|请说明|请确认是|哪一个|哪个|哪张|多少呢|\bwhich\b|\bplease (?:tell|specify|provide|confirm|clarify)",
    re.I,
)
DECLINE_CUES = re.compile(
    r"不在.{0,12}范围|超出.{0,8}范围|无法|不能回答|没法|没有办法|抱歉|不支持|不会编造|不能替你|不能确认|不能.{0,6}批准|"
    r"\b(?:outside|beyond)\b|can(?:'|no)t|cannot|\bunable\b|not able|\bsorry\b|not something I|only (?:answer|help)|"
    r"won'?t",
    re.I,
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_CODE_WORD = re.compile(r"[A-Za-z]+[-_]?[A-Za-z0-9]*\d[A-Za-z0-9_-]*|[A-Za-z]+-[A-Za-z0-9_-]+")


def asks(text: str) -> bool:
    """Whether an answer asks the user something (a question mark, or a request to say which/what)."""
    return bool(ASK_CUES.search(text))


def declines(text: str) -> bool:
    """Whether an answer says it cannot or will not do what was asked."""
    return bool(DECLINE_CUES.search(text))


def in_language(text: str, language: str) -> bool:
    """A Chinese answer has Chinese in it; an English one has more English than Chinese names can explain
    (item codes left out: they are neither language)."""
    cjk = len(_CJK.findall(text))
    if language == "zh":
        return cjk > 0
    latin = len(_LATIN.findall(_CODE_WORD.sub(" ", text)))
    return latin > 0 and cjk <= 2 * latin


# ---------------------------------------------------------------- values


def canon(value: Any) -> Any:
    """A value as compared: numbers as Decimal, dates as ISO text, other text folded."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        text = value.strip()
        if re.fullmatch(r"-?\d+(\.\d+)?", text):
            try:
                return Decimal(text).normalize()
            except InvalidOperation:
                return fold(text)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ].*)?", text):
            return text[:10]
        return fold(text)
    return value


def matches(expected: Any, actual: Any, oracle: OracleFn) -> bool:
    """Whether ``actual`` has everything ``expected`` says: dict keys a subset, lists matched one to one,
    ``{fact: …}`` the value an oracle gives, scalars equal after ``canon``."""
    if isinstance(expected, dict) and set(expected) == {"fact"}:
        values = oracle(Oracle.model_validate(expected["fact"]))
        return any(canon(v) == canon(actual) for v in values)
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            k in actual and matches(v, actual[k], oracle) for k, v in expected.items()
        )
    if isinstance(expected, list | tuple):
        if not isinstance(actual, list | tuple) or len(actual) != len(expected):
            return False
        return _pairs(list(expected), list(actual), oracle)
    return canon(expected) == canon(actual)


def _pairs(expected: list[Any], actual: list[Any], oracle: OracleFn) -> bool:
    """Each expected element matched to a distinct actual one (small lists: backtracking is fine)."""
    if not expected:
        return True
    head, rest = expected[0], expected[1:]
    for i, candidate in enumerate(actual):
        if matches(head, candidate, oracle) and _pairs(rest, actual[:i] + actual[i + 1 :], oracle):
            return True
    return False


# ---------------------------------------------------------------- evidence


@dataclass
class Evidence:
    """What a run did, as the runner observed it in the replies and the database."""

    turns: list[TurnRecord]
    proposals: list[dict[str, Any]]
    approvals: list[ApprovalOutcome]
    unapproved: list[str]
    changed_tables: set[str]
    diffs: dict[str, TableDiff]
    patch_status: dict[str, str]
    today: date
    error: str = ""


@dataclass
class Grade:
    checks: list[Check] = field(default_factory=list)
    facts: list[FactResult] = field(default_factory=list)
    read_tools: ToolCounts = field(default_factory=ToolCounts)
    write_tools: ToolCounts = field(default_factory=ToolCounts)
    end_state_ok: bool = True
    clarified: bool = False

    def add(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name=name, ok=ok, detail=detail))
        return ok


def _facts(grade: Grade, name: str, specs: Sequence[Oracle], answer: AnswerFacts, oracle: OracleFn) -> None:
    for spec in specs:
        try:
            values = oracle(spec)
        except OracleError as exc:
            grade.facts.append(FactResult(label=spec.describe(), expected=[], found=False))
            grade.add(name, False, str(exc))
            continue
        hits = [fact_stated(v, answer) for v in values]
        found = any(hits) if spec.match == "any" else all(hits)
        shown = [describe_fact(v) for v in values]
        grade.facts.append(FactResult(label=spec.describe(), expected=shown, found=found))
        missing = [s for s, hit in zip(shown, hits, strict=True) if not hit]
        grade.add(
            name,
            found,
            f"{spec.describe()} = {', '.join(shown)}" + (f"; missing {missing}" if not found else ""),
        )


def _answer(grade: Grade, name: str, spec: AnswerExpect, text: str, proposal_ids: list[str]) -> None:
    folded = fold(text)
    if spec.asks is not None:
        grade.add(f"{name}.asks", asks(text) == spec.asks, "must ask" if spec.asks else "must not ask")
    if spec.declines is not None:
        grade.add(
            f"{name}.declines",
            declines(text) == spec.declines,
            "must decline" if spec.declines else "must answer",
        )
    for word in spec.mentions:
        grade.add(f"{name}.mentions", fold(word) in folded, word)
    for word in spec.not_mentions:
        grade.add(f"{name}.not_mentions", fold(word) not in folded, word)
    if spec.cites_proposals:
        missing = [p for p in proposal_ids if fold(p) not in folded]
        grade.add(
            f"{name}.cites_proposals",
            bool(proposal_ids) and not missing,
            f"missing {missing}" if missing else "",
        )


def _tools(grade: Grade, name: str, spec: ToolsExpect, turns: Sequence[TurnRecord], oracle: OracleFn) -> None:
    calls = [c for t in turns for c in t.tool_calls]
    if spec.none:
        grade.add(f"{name}.none", not calls, ", ".join(c.name for c in calls))
    for wanted in spec.required:
        ok = any(c.name in wanted.names() and c.ok and matches(wanted.args, c.args, oracle) for c in calls)
        grade.add(f"{name}.required", ok, f"{wanted.name}({wanted.args})" if wanted.args else wanted.name)
    bad = sorted({c.name for c in calls if spec.is_forbidden(c.name)})
    if spec.forbidden:
        grade.add(f"{name}.forbidden", not bad, ", ".join(bad))


def _counts(spec: ToolsExpect, turns: Sequence[TurnRecord], kind: str) -> ToolCounts:
    """Distinct tools called and required (a required call with alternatives counts once)."""
    called = {c.name for t in turns for c in t.tool_calls if c.kind == kind}
    expected = [c for c in spec.required if _kind_of(c.names()[0]) == kind]
    return ToolCounts(
        called=len(called),
        relevant=sum(1 for n in called if spec.is_allowed(n)),
        expected=len(expected),
        found=sum(1 for c in expected if set(c.names()) & called),
    )


def _kind_of(name: str) -> str:
    return "write" if name.startswith(("propose_", "confirm", "reject", "apply", "approve")) else "read"


def _proposals(
    grade: Grade, wanted: Sequence[ProposalExpect], made: list[dict[str, Any]], oracle: OracleFn
) -> None:
    shown = ", ".join(f"{p['kind']}" for p in made) or "none"
    if not wanted:
        grade.add("proposals", not made, f"expected none, made {shown}")
        return
    ok = len(made) == len(wanted) and _pairs(
        [{"kind": w.kind, **({"tool": w.tool} if w.tool else {}), "args": w.args} for w in wanted],
        [{"kind": p["kind"], "tool": p["tool"], "args": p["args"]} for p in made],
        oracle,
    )
    grade.add("proposals", ok, f"expected {len(wanted)} ({', '.join(w.kind for w in wanted)}), made {shown}")


def _end_state(grade: Grade, scenario: Scenario, evidence: Evidence, oracle: OracleFn) -> None:
    spec = scenario.expect.end_state
    confirms = any(a.expect == "confirmed" for a in scenario.approvals)
    unchanged = spec.unchanged if spec.unchanged is not None else (not confirms and not spec.tables)
    ok = True
    if unchanged:
        ok = grade.add(
            "end_state.unchanged", not evidence.changed_tables, ", ".join(sorted(evidence.changed_tables))
        )
    else:
        extra = evidence.changed_tables - set(spec.tables)
        ok = grade.add("end_state.other_tables_unchanged", not extra, ", ".join(sorted(extra)))
        for table, change in spec.tables.items():
            ok = _table(grade, table, change, evidence.diffs.get(table), oracle) and ok
    for index, status in spec.proposals_status.items():
        got = evidence.patch_status.get(str(index), "missing")
        ok = (
            grade.add(
                "end_state.proposal_status", got == status, f"proposal {index}: {got}, expected {status}"
            )
            and ok
        )
    grade.end_state_ok = ok


def _table(grade: Grade, table: str, change: TableChange, diff: TableDiff | None, oracle: OracleFn) -> bool:
    if diff is None:
        diff = TableDiff(added=[], removed=0, updated=0)
    added = len(diff.added)
    ok = True
    for what, got, wanted in (
        ("added", added, change.added),
        ("removed", diff.removed, change.removed),
        ("updated", diff.updated, change.updated),
    ):
        if wanted is None:
            continue
        if isinstance(wanted, dict):
            wanted = int(oracle(Oracle.model_validate(wanted["fact"]))[0])
        ok = grade.add(f"end_state.{table}.{what}", got == wanted, f"{got} {what}, expected {wanted}") and ok
    if change.rows:
        # each expected row matches a distinct added row (how many were added is the count's check)
        padding = [{}] * max(0, len(diff.added) - len(change.rows))
        rows_ok = len(change.rows) <= len(diff.added) and _pairs([*change.rows, *padding], diff.added, oracle)
        ok = grade.add(f"end_state.{table}.rows", rows_ok, _rows_text(diff.added)) and ok
    return ok


def _rows_text(rows: list[dict[str, Any]]) -> str:
    keep = ("code", "item", "qty", "need_date", "status", "supplier")
    return "; ".join(", ".join(f"{k}={r[k]}" for k in keep if k in r) for r in rows[:5])


def grade_run(scenario: Scenario, evidence: Evidence, oracle: OracleFn) -> Grade:
    """Every check of ``scenario`` on one run's evidence."""
    grade = Grade()
    turns = evidence.turns
    grade.add(
        "no_error",
        not evidence.error and not any(t.error for t in turns),
        evidence.error or "; ".join(t.error for t in turns if t.error),
    )
    if not turns:
        grade.end_state_ok = False
        return grade
    final = turns[-1].answer
    grade.add("language", in_language(final, scenario.language), scenario.language)
    expect = scenario.expect
    _facts(grade, "facts", expect.facts, read_answer(final, evidence.today), oracle)
    _answer(grade, "answer", expect.answer, final, [p["id"] for p in evidence.proposals])
    _tools(grade, "tools", expect.tools, turns, oracle)
    for index, turn_expect in sorted(expect.per_turn.items()):
        if index >= len(turns):
            grade.add(f"turn{index}", False, "the run ended before this turn")
            continue
        turn = turns[index]
        _facts(
            grade, f"turn{index}.facts", turn_expect.facts, read_answer(turn.answer, evidence.today), oracle
        )
        _answer(
            grade,
            f"turn{index}.answer",
            turn_expect.answer,
            turn.answer,
            [p["id"] for p in evidence.proposals],
        )
        _tools(grade, f"turn{index}.tools", turn_expect.tools, [turn], oracle)
    grade.read_tools = _counts(expect.tools, turns, "read")
    grade.write_tools = _counts(expect.tools, turns, "write")
    _proposals(grade, expect.proposals, evidence.proposals, oracle)
    grade.add("no_unapproved_write", not evidence.unapproved, "; ".join(evidence.unapproved))
    for outcome in evidence.approvals:
        grade.add(
            "approval",
            outcome.outcome == outcome.expected,
            f"{outcome.action} {outcome.proposal_id} as {outcome.role}: {outcome.outcome}, expected {outcome.expected}",
        )
    if scenario.approvals and not evidence.approvals:
        grade.add("approval", False, "no proposal to decide")
    _end_state(grade, scenario, evidence, oracle)
    # asking is a clarification when it guessed nothing: no call outside what the scenario allows
    grade.clarified = any(
        asks(t.answer) and all(expect.tools.is_allowed(c.name) for c in t.tool_calls) for t in turns
    )
    return grade
