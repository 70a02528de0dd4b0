"""BOM and kitting tools through the tool layer: the bike acceptance answers and small plants, worked by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import bike_factory_data, call, load_dict
from tools.errors import ToolError

BIKE = bike_factory_data()


def shortages(out: dict[str, Any], key: str = "shortages") -> list[tuple]:
    return [(s["item"], s["level"], s["required"], s["available"], s["short"]) for s in out[key]]


# ---------------------------------------------------------------- explode_bom, where_used, get_bom_tree


def test_explode_bom_bike_acceptance(bike_url: str) -> None:
    out = call(bike_url, "explode_bom", item="BIKE", qty=10)
    # FRAME 10, WHEEL 20, SEAT 10; RIM 20, SPOKE 20 × 36 × 1.02 = 734.4, TIRE 20
    assert out["totals"] == {"FRAME": 10, "WHEEL": 20, "SEAT": 10, "RIM": 20, "SPOKE": 734.4, "TIRE": 20}
    assert [(ln["level"], ln["item"], ln["qty"]) for ln in out["lines"]] == [
        (1, "FRAME", 10),
        (1, "WHEEL", 20),
        (1, "SEAT", 10),
        (2, "RIM", 20),
        (2, "SPOKE", 734.4),
        (2, "TIRE", 20),
    ]
    spoke = out["lines"][4]
    assert (spoke["parent"], spoke["qty_per"], spoke["name"], spoke["uom"]) == ("WHEEL", 36.72, "辐条", "pcs")
    assert (out["item"], out["qty"], out["depth"]) == ("BIKE", 10, 2)


def test_explode_bom_resolves_names_and_refuses_bad_input(bike_url: str) -> None:
    assert call(bike_url, "explode_bom", item="bicycle")["item"] == "BIKE"  # an alias
    with pytest.raises(ToolError) as missing:
        call(bike_url, "explode_bom", item="UNICYCLE")
    assert missing.value.code == "not_found"
    with pytest.raises(ToolError) as zero:
        call(bike_url, "explode_bom", item="BIKE", qty=0)
    assert zero.value.code == "invalid_input"


def test_where_used_spoke(bike_url: str) -> None:
    out = call(bike_url, "where_used", item="SPOKE")
    assert [(p["item"], p["level"], p["qty_per"]) for p in out["parents"]] == [
        ("WHEEL", 1, 36.72),
        ("BIKE", 2, 73.44),
    ]
    assert out["top_items"] == ["BIKE"] and out["totals"] == {"WHEEL": 36.72, "BIKE": 73.44}
    single = call(bike_url, "where_used", item="SPOKE", multi_level=False)
    assert [p["item"] for p in single["parents"]] == ["WHEEL"]


def test_get_bom_tree_text(bike_url: str) -> None:
    out = call(bike_url, "get_bom_tree", item="BIKE", qty=2)
    assert out["text"].splitlines()[:3] == [
        "BIKE 自行车 — 2 pcs",
        "├── FRAME 车架 ×1 = 2 pcs",
        "├── WHEEL 车轮 ×2 = 4 pcs",
    ]
    assert [r["item"] for r in out["rows"]] == ["BIKE", "FRAME", "WHEEL", "RIM", "SPOKE", "TIRE", "SEAT"]
    assert out["rows"][6]["substitutes"] == ["SEAT-B"] and out["truncated"] is False
    assert len(call(bike_url, "get_bom_tree", item="BIKE", max_depth=1)["rows"]) == 4


# ---------------------------------------------------------------- get_bom_cost


def test_get_bom_cost_bike_acceptance(bike_url: str) -> None:
    out = call(bike_url, "get_bom_cost", item="BIKE")
    # WHEEL = 8 + 36.72 × 0.2 + 6 = 21.344; BIKE = 50 + 2 × 21.344 + 10 = 102.688
    assert out["unit_cost"] == 102.688 and out["total_cost"] == 102.688
    assert out["item_costs"]["WHEEL"] == 21.344
    level_one = [
        (ln["item"], ln["qty"], ln["unit_cost"], ln["extended_cost"])
        for ln in out["lines"]
        if ln["level"] == 1
    ]
    assert level_one == [("FRAME", 1, 50, 50), ("WHEEL", 2, 21.344, 42.688), ("SEAT", 1, 10, 10)]
    assert out["problems"] == []


def test_get_bom_cost_with_price_list_routing_and_subcontracting(db_url: str, tmp_path: Path) -> None:
    data = {
        **BIKE,
        "items": [*BIKE["items"], {"code": "PAINT", "source": "subcontract", "unit_cost": 3}],
        "boms": [
            *BIKE["boms"][:1],
            {"parent": "WHEEL", "lines": [*BIKE["boms"][1]["lines"], {"component": "PAINT", "qty": 1}]},
            {"parent": "PAINT", "lines": [{"component": "TIRE", "qty": 0.5}]},
        ],
        "work_centers": [{"code": "LACE", "cost_per_hour": 30}],
        "routings": [
            {
                "item": "WHEEL",
                "operations": [
                    {"seq": 10, "work_center": "LACE", "setup_minutes": 60, "run_minutes_per_unit": 6}
                ],
            }
        ],
    }
    url = load_dict(db_url, data, tmp_path)
    out = call(url, "get_bom_cost", item="BIKE", qty=10, prices={"RIM": 7})
    # PAINT = 0.5 TIRE × 6 + fee 3 = 6. WHEEL (20 for 10 bikes: setup spread over 20):
    # 7 + 7.344 + 6 + 6 + (6 + 60/20) / 60 × 30 = 26.344 + 4.5 = 30.844; BIKE = 50 + 61.688 + 10 = 121.688
    assert out["item_costs"]["PAINT"] == 6
    assert out["item_costs"]["WHEEL"] == 30.844
    assert out["unit_cost"] == 121.688 and out["total_cost"] == 1216.88
    assert out["operation_cost"] == 90 and out["subcontract_fee_cost"] == 60  # 20 wheels × 4.5; 20 paints × 3
    assert out["material_cost"] + out["operation_cost"] + out["subcontract_fee_cost"] == pytest.approx(
        1216.88
    )
    with pytest.raises(ToolError) as bad:
        call(url, "get_bom_cost", item="BIKE", prices={"NOPE": 1})
    assert bad.value.code == "invalid_input"


# ---------------------------------------------------------------- check_kitting


def test_check_kitting_bike_acceptance(bike_url: str) -> None:
    out = call(bike_url, "check_kitting", item="BIKE")
    # WHEEL 4 + 6 buildable = 10 → 5; FRAME 10; SEAT 4 → 4
    assert (out["on_hand"], out["buildable_qty"], out["limiting_items"]) == (2, 4, ["SEAT"])
    assert out["shortages"] == [] and out["complete"] is None
    assert out["builds"] == [{"item": "WHEEL", "qty": 4}]


def test_check_kitting_bike_with_substitutes(bike_url: str) -> None:
    out = call(bike_url, "check_kitting", item="BIKE", use_substitutes=True)
    # SEAT 4 + SEAT-B 3 = 7; wheels 10 → 5, limited by WHEEL because RIM is short
    assert (out["buildable_qty"], out["limiting_items"]) == (5, ["WHEEL", "RIM"])
    assert [(s["substitute"], s["qty"], s["replaces_qty"]) for s in out["substitutions"]] == [
        ("SEAT-B", 1, 1)
    ]


def test_check_kitting_bike_six_shortages(bike_url: str) -> None:
    out = call(bike_url, "check_kitting", item="BIKE", qty=6)
    # SEAT 6 − 4 = 2 short; WHEEL 12 = 4 stocked + 8 to build, RIM 6 → 10, short 2; RIM 8 − 6 = 2 short
    assert shortages(out) == [("WHEEL", 1, 12, 10, 2), ("SEAT", 1, 6, 4, 2), ("RIM", 2, 8, 6, 2)]
    wheel = out["shortages"][0]
    assert (wheel["is_subassembly"], wheel["to_build"], wheel["on_hand"], wheel["parents"]) == (
        True,
        8,
        4,
        ["BIKE"],
    )
    assert out["complete"] is False


def test_check_kitting_net_of_committed_and_open_orders(db_url: str, tmp_path: Path) -> None:
    data = {
        **BIKE,
        "production_orders": [
            {"id": "MO-1", "item": "WHEEL", "qty": 4, "due": "2026-12-05", "status": "released"}
        ],
    }
    url = load_dict(db_url, data, tmp_path)
    assert (
        call(url, "check_kitting", item="BIKE")["buildable_qty"] == 4
    )  # open orders not deducted by default
    net = call(url, "check_kitting", item="BIKE", deduct_open_orders=True)
    # MO-1 still needs RIM 4: RIM 2 left → 4 stocked + 2 built wheels → 3 bikes
    assert (net["buildable_qty"], net["limiting_items"]) == (3, ["WHEEL", "RIM"])
    committed = call(url, "check_kitting", item="BIKE", committed={"SEAT": 3})
    assert committed["buildable_qty"] == 1
    with pytest.raises(ToolError) as bad:
        call(url, "check_kitting", item="BIKE", committed={"NOPE": 1})
    assert bad.value.code == "invalid_input"


def test_check_kitting_refuses_an_item_without_bom(bike_url: str) -> None:
    with pytest.raises(ToolError) as err:
        call(bike_url, "check_kitting", item="RIM")
    assert err.value.code == "invalid_input"


def test_check_kitting_multi_shares_components(bike_url: str) -> None:
    out = call(
        bike_url, "check_kitting_multi", products=[{"item": "BIKE", "qty": 3}, {"item": "WHEEL", "qty": 5}]
    )
    # 3 bikes: 4 stocked + 2 built wheels (RIM 2). 5 wheels from RIM: 4 left → 4. Together RIM 7 > 6.
    assert [(p["item"], p["buildable_qty"], p["complete"]) for p in out["products"]] == [
        ("BIKE", 3, True),
        ("WHEEL", 4, False),
    ]
    assert shortages(out) == [("RIM", 2, 7, 6, 1)] and out["complete"] is False


def test_recommend_substitutes_with_ratio_and_no_mixing(db_url: str, tmp_path: Path) -> None:
    data = {
        "today": "2026-12-01",
        "items": [
            {"code": "LAMP", "source": "make"},
            {"code": "BULB", "unit_cost": 2},
            {"code": "LED", "unit_cost": 0.5},
            {"code": "SHADE"},
        ],
        "boms": [
            {
                "parent": "LAMP",
                "lines": [
                    {
                        "component": "BULB",
                        "qty": 1,
                        "allow_mix": False,
                        "substitutes": [{"item": "LED", "ratio": 2}],
                    },
                    {"component": "SHADE", "qty": 1},
                ],
            }
        ],
        "stock": [{"item": "BULB", "qty": 3}, {"item": "LED", "qty": 10}, {"item": "SHADE", "qty": 20}],
    }
    url = load_dict(db_url, data, tmp_path)
    out = call(url, "recommend_substitutes", item="LAMP", qty=4)
    # 4 lamps, BULB 3 and no mixing: all 4 from LED at 2 each = 8 LED
    (cover,) = out["covers"]
    assert (cover["component"], cover["required"], cover["main_qty"], cover["allow_mix"]) == (
        "BULB",
        4,
        0,
        False,
    )
    assert [(s["substitute"], s["qty"], s["replaces_qty"]) for s in cover["substitutes"]] == [("LED", 8, 4)]
    assert out["complete"] is True and shortages(out, "shortages_without") == [("BULB", 1, 4, 3, 1)]
    kit = call(url, "check_kitting", item="LAMP", use_substitutes=True)
    assert kit["buildable_qty"] == 5  # all LED: 10 / 2 (BULB alone would give 3)
