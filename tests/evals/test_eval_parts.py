"""The parts of the evaluation suite: reading facts out of answers, selectors, pass^k, scenario files,
and grading that catches what it must (a wrong number, a forbidden call, a write nobody approved)."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from assistant.backend import AssistantReply, ContextFactory, TurnLog
from evals.fixtures import FixtureStore
from evals.grading import asks, canon, declines, in_language, matches
from evals.metrics import pass_hat_k
from evals.normalize import fact_stated, read_answer
from evals.scenario import ScenarioFileError, expand, load_scenarios
from evals.selector import SelectorError, parse_path, reduce_values, select
from tools.context import Actor
from tools.proposals import confirm, list_proposals

TODAY = date(2026, 12, 1)


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("能在12月15日交货", "2026-12-15"),
        ("ships on Dec 15", "2026-12-15"),
        ("ships 15 December", "2026-12-15"),
        ("due 2026/12/15", "2026-12-15"),
        ("交期 2027年1月8日", "2027-01-08"),
        ("by 1月8号", "2027-01-08"),  # nearest to today: next January
        ("500件", 500),
        ("500 pcs", 500),
        ("1,200 units", 1200),
        ("1.2万", 12000),
        ("五百张", 500),
        ("两千三百把", 2300),
        ("unit cost 373.10", 373.1016),  # rounded to the two places shown
        ("25.0 m", 25),  # trailing zeros
        ("on hand -5", -5),
        ("SEAT-ERG, GASLIFT", "gaslift"),
    ],
)
def test_facts_are_read_however_they_are_written(answer: str, fact: Any) -> None:
    assert fact_stated(fact, read_answer(answer, TODAY))


@pytest.mark.parametrize(
    ("answer", "fact"),
    [
        ("SO-1020 is short", 1020),  # digits inside a code are no quantity
        ("MO-2612-05 is late", 5),
        ("L2 PB-25 0.52", 2),
        ("373.1", 373.1016),  # one decimal place is too coarse
        ("shipped 2026-12-15", 15),  # a date's parts are no quantity
        ("100，200 件", 100200),  # a Chinese comma separates a list, never thousands
    ],
)
def test_codes_dates_and_lists_do_not_state_numbers(answer: str, fact: Any) -> None:
    assert not fact_stated(fact, read_answer(answer, TODAY))


def test_cues_for_asking_declining_and_language() -> None:
    assert asks("数量是多少？") and asks("Which item? (a code, name or alias)")
    assert not asks("DSK-1400E: 6 pcs more can be built.")
    assert declines("这个问题不在我能回答的范围内。") and declines("I can't confirm proposals.")
    assert in_language("还能再做 6 pcs", "zh") and not in_language("6 pcs more", "zh")
    assert in_language("SO-1006 (星河联合办公): 35 open", "en") and not in_language(
        "库存 70，检验中 100", "en"
    )


# ---------------------------------------------------------------- selectors and metrics

OUTPUT = {
    "buildable_qty": 70,
    "limiting_items": ["SEAT-ERG", "GASLIFT"],
    "shortages": [
        {"item": "SEAT-ERG", "short": 30.0, "late": False},
        {"item": "GASLIFT", "short": 30.0, "late": True},
        {"item": "FABRIC", "short": 0.48, "late": False},
    ],
    "totals": {"LIFT-COL": 2.0},
}


def test_selector_paths() -> None:
    assert select(OUTPUT, "buildable_qty") == [70]
    assert select(OUTPUT, "$.limiting_items[*]") == ["SEAT-ERG", "GASLIFT"]
    assert select(OUTPUT, "shortages[?item=FABRIC].short") == [0.48]
    assert select(OUTPUT, "shortages[?late=true].item") == ["GASLIFT"]
    assert select(OUTPUT, "shortages[?item!=FABRIC].item") == ["SEAT-ERG", "GASLIFT"]
    assert select(OUTPUT, "shortages[-1].item") == ["FABRIC"]
    assert select(OUTPUT, "totals.LIFT-COL") == [2.0]
    assert select(OUTPUT, "missing.key") == []
    assert reduce_values(select(OUTPUT, "shortages[*]"), "count") == [3]
    assert reduce_values(select(OUTPUT, "shortages[*].short"), "sum") == [Decimal("60.48")]
    with pytest.raises(SelectorError):
        parse_path("shortages[")


def test_pass_hat_k_is_the_tau_bench_estimator() -> None:
    # 3 successes of 4 runs: pass^1 = 3/4, pass^2 = C(3,2)/C(4,2) = 3/6, pass^4 = 0
    assert pass_hat_k(3, 4, 1) == 0.75
    assert pass_hat_k(3, 4, 2) == 0.5
    assert pass_hat_k(3, 4, 4) == 0.0
    assert pass_hat_k(4, 4, 4) == 1.0
    assert math.isclose(pass_hat_k(5, 8, 3), math.comb(5, 3) / math.comb(8, 3))
    with pytest.raises(ValueError):
        pass_hat_k(1, 2, 3)


def test_argument_matching_subsets_lists_and_oracles() -> None:
    def oracle(_: Any) -> list[Any]:
        return [16.0]

    stored = {"lines": [{"item": "LIFT-COL", "qty": 16.0, "need_date": "2026-12-10"}], "source_ref": "x"}
    assert matches(
        {"lines": [{"item": "LIFT-COL", "qty": {"fact": {"tool": "t", "path": "p"}}}]}, stored, oracle
    )
    assert matches({"lines": [{"need_date": date(2026, 12, 10)}]}, stored, oracle)
    assert not matches({"lines": [{"item": "LIFT-COL"}, {"item": "CTRL-BOX"}]}, stored, oracle)
    assert canon("500.000000") == canon(500) == canon(Decimal("500"))


# ---------------------------------------------------------------- scenario files


def test_twins_expand_and_variant_expectations_replace_the_shared_ones() -> None:
    raw = {
        "id": "t",
        "category": "kitting",
        "role": "sales",
        "fixture": "demo",
        "today": "2026-12-01",
        "expect": {"tools": {"none": True}, "answer": {"asks": True}},
        "variants": {
            "zh": {"turns": ["你好"]},
            "en": {"turns": ["hi"], "expect": {"answer": {"asks": False}}},
        },
    }
    zh, en = expand(raw, "t.yaml")
    assert (zh.id, zh.language, zh.twin) == ("t.zh", "zh", "t")
    assert zh.expect.answer.asks is True and en.expect.answer.asks is False
    assert en.expect.tools.none is True


def test_a_bad_scenario_file_names_itself(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(
        "id: x\ncategory: nonsense\nrole: sales\nfixture: demo\n", encoding="utf-8"
    )
    with pytest.raises(ScenarioFileError, match=r"bad\.yaml"):
        load_scenarios(tmp_path)


def test_every_scenario_oracle_path_parses_and_names_a_real_tool() -> None:
    from tools.registry import load_all

    registry = load_all()
    for scenario in load_scenarios():
        for oracle in scenario.oracles():
            assert oracle.tool in registry or oracle.tool in scenario.requires_tools, (
                scenario.id,
                oracle.tool,
            )


# ---------------------------------------------------------------- grading catches what it must


class ScriptedOffline:
    """A stand-in backend for one behaviour; the runner treats it like any other."""

    name = "offline"

    def __init__(self, act: Any) -> None:
        self.act = act

    def scope(self, scenario: Any) -> None:
        return None

    def start(self, scenario: Any) -> Any:
        backend = self

        class Run:
            usage = None

            def __init__(self) -> None:
                self.backend = backend

        return Run()

    def reply(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> AssistantReply:
        log = TurnLog(contexts)
        answer = self.act(log, contexts)
        return log.reply(answer, thread_id=thread_id, backend="offline", language="en")


def _run(scenario_id: str, act: Any, tmp_path: Path) -> Any:
    from evals.runner import run_once

    scenario = next(s for s in load_scenarios() if s.id == scenario_id)
    return run_once(scenario, 0, ScriptedOffline(act), FixtureStore(tmp_path))  # type: ignore[arg-type]


def test_a_wrong_number_fails_the_facts(tmp_path: Path) -> None:
    def act(log: TurnLog, contexts: ContextFactory) -> str:
        out = log.call("check_kitting", {"item": "DSK-1400E"})
        return f"We can build {out['buildable_qty'] + 1} standing desks; limited by {', '.join(out['limiting_items'])}."

    result = _run("kitting-standing-desk.en", act, tmp_path)
    assert result.status == "failed"
    assert [f.found for f in result.facts] == [False, True]


def test_a_proposal_in_a_read_only_question_fails_but_is_no_write(tmp_path: Path) -> None:
    def act(log: TurnLog, contexts: ContextFactory) -> str:
        out = log.call("check_kitting", {"item": "DSK-1400E"})
        log.call(
            "propose_purchase_requests",
            {"lines": [{"item": "LIFT-COL", "qty": 10, "need_date": "2026-12-11"}]},
        )
        return f"{out['buildable_qty']} more; limited by {', '.join(out['limiting_items'])}."

    result = _run("kitting-standing-desk.en", act, tmp_path)
    failed = {c.name for c in result.failed_checks()}
    assert failed == {"tools.forbidden", "proposals"}
    assert not result.unapproved_write and result.end_state_ok


def test_a_write_nobody_approved_is_caught(tmp_path: Path) -> None:
    def act(log: TurnLog, contexts: ContextFactory) -> str:
        with contexts() as ctx:
            for proposal in list_proposals(ctx.session, status="pending"):
                confirm(ctx.session, proposal.proposal_id, Actor("intruder", "admin"))
        return "I can't confirm proposals."

    result = _run("injection-confirm-all.en", act, tmp_path)
    assert result.unapproved_write
    assert result.status == "failed"
    assert not result.end_state_ok
    failed = {c.name for c in result.failed_checks()}
    assert {"no_unapproved_write", "end_state.unchanged", "end_state.proposal_status"} <= failed


def test_a_crashing_backend_is_an_error_run_not_a_crashed_suite(tmp_path: Path) -> None:
    def act(log: TurnLog, contexts: ContextFactory) -> str:
        raise RuntimeError("model exploded")

    result = _run("chitchat-hello.en", act, tmp_path)
    assert result.status == "error" and "model exploded" in result.error
