"""Cost collection helpers: periods, material netting, WIP at the period end, figure merging, account mapping
of ledger lines, closing checks, composition and line profit."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.costing_collection import (
    AccountRule,
    CloseSeverity,
    CompositionKey,
    Figure,
    FigureAction,
    FigureSource,
    LedgerLine,
    MatchType,
    MaterialMove,
    MoveDirection,
    NegativeBalance,
    OrderElements,
    OrderFacts,
    check_period_close,
    check_rules,
    compose_costs,
    find_rule,
    labor_cost,
    line_profit,
    map_ledger_lines,
    merge_figures,
    parse_period,
    previous_period,
    total_material,
    wip_qty_at_end,
)
from planning.errors import InvalidInputError


def test_periods_are_months() -> None:
    nov = parse_period("2026-11")
    assert (nov.first_day, nov.last_day) == (date(2026, 11, 1), date(2026, 11, 30))
    assert parse_period("2028-02").last_day == date(2028, 2, 29)  # a leap year
    assert nov.holds(date(2026, 11, 30)) and not nov.holds(date(2026, 12, 1))
    assert previous_period("2027-01") == "2026-12" and previous_period("2026-11") == "2026-10"
    for bad in ("2026-13", "2026-1", "Nov 2026", "2026-00"):
        with pytest.raises(InvalidInputError):
            parse_period(bad)


def test_material_is_issues_less_returns_without_customer_rolled_up_or_reworked_items() -> None:
    moves = [
        MaterialMove("MO-1", "RIM", D(100), D("8.2")),  # 820
        MaterialMove("MO-1", "SPOKE", D(3672), D("0.21")),  # 771.12
        MaterialMove("MO-1", "TIRE", D(2), D("6.25"), MoveDirection.FROM_ORDER),  # -12.5
        MaterialMove("MO-1", "SEAT", D(12), D(0), customer_owned=True),  # the customer's: no value
        MaterialMove("MO-1", "WHEEL", D(20), D(40)),  # made by an order of the period: the roll-up's
        MaterialMove("MO-1", "BIKE", D(1), D(100)),  # the product being reworked
    ]
    total = total_material(moves, made_in_period={"WHEEL", "BIKE"}, reworked_item="BIKE")
    # 820 + 771.12 - 12.5 = 1,578.62
    assert total.cost == D("1578.62")
    assert total.customer_owned_qty == 12
    assert total.rolled_up == {"WHEEL": D(800)}
    assert total.reworked_item_value == 100


def test_labor_cost_is_entered_or_hours_times_rate() -> None:
    assert labor_cost(D(6), D(40), None) == 240
    assert labor_cost(D(6), D(40), D(200)) == 200  # an entered cost wins
    with pytest.raises(InvalidInputError):
        labor_cost(D(6), None, None)


@pytest.mark.parametrize(
    ("status", "by_end", "after_end", "subcontract", "expected"),
    [
        ("in_progress", D(90), D(0), False, D(10)),  # 100 released, 90 done
        ("released", D(0), D(0), False, D(100)),
        ("completed", D(90), D(10), False, D(10)),  # the last 10 were finished after the period end
        ("completed", D(100), D(0), False, D(0)),
        ("closed", D(90), D(0), False, D(0)),  # closed short: nothing left in process
        ("cancelled", D(0), D(0), False, D(0)),
        ("in_progress", D(90), D(0), True, D(0)),  # material at a subcontractor is stock, not WIP
        ("in_progress", D(120), D(0), False, D(0)),  # over-received
    ],
)
def test_wip_at_the_period_end(status: str, by_end: D, after_end: D, subcontract: bool, expected: D) -> None:
    assert wip_qty_at_end(D(100), by_end, after_end, status, subcontract) == expected


def test_merging_keeps_hand_entered_figures_unless_asked() -> None:
    existing = {"material_cost": D(2300), "labor_cost": D(400), "wip_qty": D(10)}
    sources = {"material_cost": FigureSource.MANUAL, "labor_cost": FigureSource.COLLECTED}
    proposed = [
        Figure("material_cost", D("2204.25"), FigureSource.COLLECTED),
        Figure("labor_cost", D(440), FigureSource.COLLECTED),
        Figure("wip_qty", D(10), FigureSource.COLLECTED),  # no source recorded: loaded, so manual
        Figure("wip_completion_conversion", D("0.4"), FigureSource.MANUAL),  # given now: replaces
    ]
    changes = {c.name: c for c in merge_figures(existing, sources, proposed)}
    assert (changes["material_cost"].action, changes["material_cost"].after) == (
        FigureAction.KEPT_MANUAL,
        2300,
    )
    assert (changes["labor_cost"].action, changes["labor_cost"].after) == (FigureAction.SET, 440)
    assert changes["wip_qty"].action is FigureAction.KEPT_MANUAL
    assert changes["wip_completion_conversion"].before == 0  # absent from the row: 0
    assert changes["wip_completion_conversion"].source_after is FigureSource.MANUAL
    forced = {c.name: c for c in merge_figures(existing, sources, proposed, overwrite_manual=True)}
    assert (forced["material_cost"].after, forced["material_cost"].source_after) == (
        D("2204.25"),
        FigureSource.COLLECTED,
    )
    assert forced["wip_qty"].action is FigureAction.UNCHANGED
    new = merge_figures(None, {}, proposed)  # an order without inputs yet: everything is set
    assert all(c.action is FigureAction.SET and c.before is None for c in new)


RULES = [
    AccountRule("5101", MatchType.PREFIX, "制造费用"),
    AccountRule("5101.01", MatchType.EXACT, "折旧", "output_qty"),
    AccountRule("51", MatchType.PREFIX, "其他"),
    AccountRule("5101", MatchType.PREFIX, "涂装费用", cost_center="PNT"),
]


def test_the_most_specific_account_rule_wins() -> None:
    assert find_rule(RULES, "5101.02").pool == "制造费用"  # the longer prefix beats 51
    assert find_rule(RULES, "5101.01").pool == "折旧"  # exact beats a prefix
    assert find_rule(RULES, "5102").pool == "其他"
    assert find_rule(RULES, "5101.01", "PNT").pool == "涂装费用"  # its cost center first
    assert find_rule(RULES, "6602") is None


def test_rules_must_agree_on_a_pools_basis() -> None:
    bad = [*RULES, AccountRule("5105", MatchType.EXACT, "折旧", "labor_hours"),
           AccountRule("5106", MatchType.EXACT, "X", "hours")]  # fmt: skip
    problems = check_rules(bad)
    assert [(p.row, p.field) for p in problems] == [(5, "basis"), (6, "basis")]
    assert "allocated by output_qty (rule 2), not labor_hours" in problems[0].message


def test_ledger_lines_add_up_into_pools_and_bad_lines_are_named() -> None:
    lines = [
        LedgerLine(2, "5101.01", D(1200), "WHL", "2026-11"),
        LedgerLine(3, "5101.01", D(-200), "WHL", "2026-11"),
        LedgerLine(4, "5101.02", D("350.5")),
        LedgerLine(5, "5101.02", D("99.5"), "PNT"),
    ]
    pools, problems = map_ledger_lines(lines, RULES, "2026-11")
    assert problems == ()
    assert [(p.name, p.basis, p.amount, p.rows) for p in pools] == [
        ("折旧", "output_qty", D(1000), (2, 3)),
        ("制造费用", "labor_hours", D("350.5"), (4,)),
        ("涂装费用", "labor_hours", D("99.5"), (5,)),
    ]
    wrong = [
        LedgerLine(2, "6602", D(10)),
        LedgerLine(3, "5101.02", D(5), period="2026-10"),
        LedgerLine(4, "5101.01", D(-50)),
    ]
    _, problems = map_ledger_lines(wrong, RULES, "2026-11")
    assert [(p.row, p.field) for p in problems] == [(2, "account"), (3, "period"), (None, "amount")]
    assert problems[2].message == "pool '折旧' adds up to -50 (rows 4): below zero"


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["5101.01", "5101.02", "5102", "5101.09"]),
            st.sampled_from(["", "PNT", "WHL"]),
            st.decimals(min_value=0, max_value=10_000, places=2),
        ),
        max_size=30,
    )
)
def test_mapping_conserves_the_amount(rows: list[tuple[str, str, D]]) -> None:
    lines = [LedgerLine(i + 2, account, amount, center) for i, (account, center, amount) in enumerate(rows)]
    pools, problems = map_ledger_lines(lines, RULES, "2026-11")
    assert problems == ()
    assert sum((p.amount for p in pools), D(0)) == sum((line.amount for line in lines), D(0))
    assert sorted(r for p in pools for r in p.rows) == [line.row for line in lines]


def facts(order: str, **values: object) -> OrderFacts:
    defaults: dict[str, object] = dict(
        kind="production", status="in_progress", has_inputs=True, has_documents=True,
        received_in_period=D(90), completed_qty=D(90), wip_qty=D(10), labor_hours=D(10), charged=D(2760),
    )  # fmt: skip
    defaults.update(values)
    return OrderFacts(order=order, **defaults)  # type: ignore[arg-type]


def test_closing_checks() -> None:
    problems = check_period_close(
        "2026-11",
        [
            facts("MO-OK"),
            facts("MO-NEW", has_inputs=False),  # documents, no inputs
            facts("MO-QUIET", has_inputs=False, has_documents=False),  # neither: nothing to say
            facts("MO-DONE", status="completed", completed_qty=D(0), wip_qty=D(0), received_in_period=D(0)),
            facts("MO-HOURS", labor_hours=D(0)),
            facts("SC-1", kind="subcontract", labor_hours=D(0)),  # no labor expected
            facts("MO-OPEN", completed_qty=D(0), received_in_period=D(0)),
            facts("MO-HAND", completed_qty=D(95)),
        ],
        labor_hours_pool=True,
        negative_balances=[NegativeBalance("SEAT-B", "STOCK", D(-2))],
        previous_open="2026-10",
    )
    found = [(p.code, p.order or p.item, p.severity) for p in problems]
    errors = CloseSeverity.ERROR
    assert found == [
        ("previous_period_open", None, errors),
        ("uncollected_order", "MO-NEW", errors),
        ("unreceived_order", "MO-DONE", errors),
        ("missing_labor_hours", "MO-HOURS", errors),
        ("negative_stock", "SEAT-B", errors),
        ("not_received", "MO-OPEN", CloseSeverity.WARNING),
        ("completed_differs_from_receipts", "MO-HAND", CloseSeverity.WARNING),
    ]
    assert problems[2].message == (
        "MO-DONE has cost 2760 but is finished and received nothing in the period: post its completion "
        "receipt, or give its WIP"
    )
    assert check_period_close("2026-11", [facts("MO-HOURS", labor_hours=D(0))], labor_hours_pool=False) == ()


def elements(order: str, item: str, level: int, total: D, **values: D) -> OrderElements:
    base = dict(completed_qty=D(10), material=total, transferred_in=D(0), labor=D(0), overhead=D(0),
                other_conversion=D(0), subcontract=D(0), rework=D(0), wip_total=D(0))  # fmt: skip
    base.update(values)
    return OrderElements(order=order, item=item, level=level, total=total, **base)


def test_composition_groups() -> None:
    orders = [
        elements("MO-W1", "WHEEL", 0, D(600), material=D(400), labor=D(200)),
        elements("MO-W2", "WHEEL", 0, D(300), material=D(300)),
        elements("MO-B1", "BIKE", 1, D(1500), material=D(1100), transferred_in=D(900), overhead=D(400)),
    ]
    by_level = compose_costs(orders, CompositionKey.LEVEL)
    assert [(g.key, g.orders, g.material, g.labor, g.total) for g in by_level] == [
        ("0", ("MO-W1", "MO-W2"), D(700), D(200), D(900)),
        ("1", ("MO-B1",), D(1100), D(0), D(1500)),
    ]
    assert by_level[0].share(by_level[0].material) == D(700) / D(900)
    by_item = compose_costs(orders, CompositionKey.ITEM)
    assert [(g.key, g.completed_qty) for g in by_item] == [("BIKE", D(10)), ("WHEEL", D(20))]
    assert [g.key for g in compose_costs(orders, CompositionKey.ORDER)] == ["MO-W1", "MO-W2", "MO-B1"]


def test_line_profit() -> None:
    profit = line_profit(D(10), D(180), D(120))  # revenue 1,800, cost 1,200
    assert (profit.revenue, profit.cost, profit.margin) == (1800, 1200, 600)
    assert profit.margin_rate == D(600) / D(1800)
    assert line_profit(D(4), D(0), D("21.344")).margin_rate is None
