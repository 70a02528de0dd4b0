"""One-order tracking reports find the order by its code as written, and in any case."""

from __future__ import annotations

import pytest

from tests.helpers import call
from tools.errors import ToolError


def test_production_order_tracking_finds_the_order_in_any_case(shop_url: str) -> None:
    exact = call(shop_url, "get_production_order_tracking", production_order="MO-1")
    assert [o["code"] for o in exact["orders"]] == ["MO-1"]
    # the exact code is looked up first; failing that, every order's code ignoring case
    assert call(shop_url, "get_production_order_tracking", production_order=" mo-1 ") == exact
    with pytest.raises(ToolError) as err:
        call(shop_url, "get_production_order_tracking", production_order="MO-9")
    assert err.value.code == "not_found"
