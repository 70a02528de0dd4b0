"""Lot sizing rules: lot-for-lot, minimum, multiple, maximum splitting, whole units."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planning.lot_sizing import LotSizingRule, is_countable, make_float_lot_sizer, make_lot_sizer, size_lots
from planning.model import Item


def test_lot_for_lot_orders_exactly_the_net_requirement():
    assert size_lots(D("287.52"), LotSizingRule()) == (D("287.52"),)


def test_nothing_to_order_for_a_zero_or_negative_requirement():
    assert size_lots(D(0), LotSizingRule(min_order_qty=D(500))) == ()
    assert size_lots(D(-3), LotSizingRule()) == ()


def test_minimum_raises_a_small_order():
    # SPOKE in bike_factory: net 287.52 < minimum 500 -> 500
    assert size_lots(D("287.52"), LotSizingRule(min_order_qty=D(500))) == (D(500),)
    # above the minimum the net requirement is ordered as is
    assert size_lots(D(620), LotSizingRule(min_order_qty=D(500))) == (D(620),)


def test_multiple_rounds_up():
    # 23 / 10 = 2.3 -> 3 multiples = 30
    assert size_lots(D(23), LotSizingRule(order_multiple=D(10))) == (D(30),)
    # an exact multiple stays
    assert size_lots(D(40), LotSizingRule(order_multiple=D(10))) == (D(40),)


def test_minimum_is_itself_rounded_up_to_the_multiple():
    # minimum 25 with multiple 10 -> the smallest allowed order is 30; net 7 -> 30
    assert size_lots(D(7), LotSizingRule(min_order_qty=D(25), order_multiple=D(10))) == (D(30),)


def test_maximum_splits_into_full_lots_and_a_rest():
    # 250 with maximum 100 -> 100 + 100 + 50
    assert size_lots(D(250), LotSizingRule(max_order_qty=D(100))) == (D(100), D(100), D(50))


def test_maximum_split_rest_obeys_minimum_and_multiple():
    # 230, max 100, min 40, multiple 20: 100 + 100, rest 30 -> min 40 (a multiple of 20) -> 40
    rule = LotSizingRule(min_order_qty=D(40), order_multiple=D(20), max_order_qty=D(100))
    assert size_lots(D(230), rule) == (D(100), D(100), D(40))


def test_maximum_is_rounded_down_to_the_multiple():
    # max 105 with multiple 10 -> a full lot is 100; 250 -> 100 + 100 + 50
    rule = LotSizingRule(order_multiple=D(10), max_order_qty=D(105))
    assert size_lots(D(250), rule) == (D(100), D(100), D(50))


def test_conflicting_settings_are_resolved_and_reported():
    # minimum 150 above maximum 100: the maximum wins
    rule = LotSizingRule(min_order_qty=D(150), max_order_qty=D(100))
    assert size_lots(D(30), rule) == (D(100),)
    assert rule.conflicts() and "above max_order_qty" in rule.conflicts()[0]
    # maximum 5 below one multiple 12: orders are one multiple (12), 30 -> 12 + 12 + 12
    rule = LotSizingRule(order_multiple=D(12), max_order_qty=D(5))
    assert size_lots(D(30), rule) == (D(12), D(12), D(12))
    assert rule.conflicts()
    assert LotSizingRule(min_order_qty=D(5), max_order_qty=D(10)).conflicts() == ()


def test_whole_units_round_up_countable_items():
    rule = LotSizingRule(whole_units=True)
    # 287.52 pcs -> 288
    assert size_lots(D("287.52"), rule) == (D(288),)
    # with an explicit multiple the multiple is the step, even a fractional one: 1.2 / 0.5 -> 3 x 0.5
    assert size_lots(D("1.2"), LotSizingRule(order_multiple=D("0.5"), whole_units=True)) == (D("1.5"),)


def test_rule_for_item_reads_the_master_and_the_uom():
    item = Item(code="X", min_order_qty=D(5), order_multiple=D(2), max_order_qty=D(50), uom="kg")
    assert LotSizingRule.for_item(item) == LotSizingRule(D(5), D(2), D(50), whole_units=False)
    assert LotSizingRule.for_item(Item(code="Y", uom="pcs")).whole_units
    assert is_countable("件") and is_countable(" PCS ") and not is_countable("m")


quantities = st.decimals(min_value=D("0.01"), max_value=D(5000), places=2)
settings_values = st.sampled_from([D(0), D(0), D(3), D(10), D(25), D("2.5")])


@settings(max_examples=100, deadline=None)
@given(
    net=quantities,
    low=settings_values,
    multiple=settings_values,
    cap=st.sampled_from([D(0), D(30), D(100)]),
    whole=st.booleans(),
)
def test_lots_cover_the_requirement_and_obey_the_rule(net, low, multiple, cap, whole):
    rule = LotSizingRule(min_order_qty=low, order_multiple=multiple, max_order_qty=cap, whole_units=whole)
    lots = size_lots(net, rule)
    assert make_lot_sizer(rule)(net) == lots
    # the MRP engine's float sizer gives the same lots
    assert make_float_lot_sizer(rule)(float(net)) == pytest.approx([float(lot) for lot in lots], abs=1e-9)
    assert sum(lots) >= net
    step = rule.step
    for lot in lots:
        assert lot > 0
        if step:
            assert lot % step == 0
        if rule.max_lot:
            assert lot <= rule.max_lot
        assert lot >= rule.min_lot
    # no lot is wasted: without the last lot the requirement would not be covered
    assert sum(lots[:-1]) < net
