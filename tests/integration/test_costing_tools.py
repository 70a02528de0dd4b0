"""get_cost_report and run_costing on datasets loaded through the loader (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.helpers import call, load_data
from tools.errors import ToolError

# FRAME is made (MO-FRAME), painted by a subcontractor (SC-1, FRAME → FRAME-P) and built into BIKE (MO-BIKE)
# with WHEEL (MO-WHEEL); RW-1 reworks wheels of MO-WHEEL. Period 2026-12 holds a joint-production order.
ROLL_UP_YAML = """
today: 2026-12-01
items:
  - {code: BIKE, source: make, lead_time_days: 1}
  - {code: FRAME, source: make}
  - {code: FRAME-P, source: subcontract, unit_cost: 50}
  - {code: WHEEL, source: make, unit_cost: 60}
  - {code: SEAT, source: buy, unit_cost: 70}
  - {code: OIL, source: make}
  - {code: OIL-A, source: make}
  - {code: OIL-B, source: make}
  - {code: RESIDUE, source: make}
production_orders:
  - {id: MO-FRAME, item: FRAME, qty: 10, due: 2026-11-10, status: completed}
  - id: SC-1
    item: FRAME-P
    kind: subcontract
    qty: 10
    due: 2026-11-15
    status: completed
    components: [{item: FRAME, required: 10, issued: 10}]
  - {id: MO-WHEEL, item: WHEEL, qty: 20, due: 2026-11-12, status: completed}
  - {id: RW-1, item: WHEEL, kind: rework, parent_order: MO-WHEEL, qty: 2, due: 2026-11-14, status: completed}
  - id: MO-BIKE
    item: BIKE
    qty: 10
    due: 2026-11-30
    components:
      - {item: FRAME-P, required: 10, issued: 10}
      - {item: WHEEL, required: 20, issued: 20}
      - {item: SEAT, required: 10, issued: 10}
  - {id: MO-9, item: OIL, qty: 1100, due: 2026-12-20}
costing:
  - period: 2026-11
    overhead_pools:
      - {name: 制造费用, amount: 1200, basis: labor_hours}
    orders:
      - {production_order: MO-FRAME, completed_qty: 10, material_cost: 1000, labor_cost: 600, labor_hours: 20}
      - {production_order: SC-1, completed_qty: 10, subcontract_cost: 500}
      - {production_order: MO-WHEEL, completed_qty: 20, material_cost: 800, labor_cost: 300, labor_hours: 10}
      - {production_order: RW-1, completed_qty: 2, material_cost: 65}
      - production_order: MO-BIKE
        completed_qty: 8
        wip_qty: 2
        wip_completion: {material: 1.0, conversion: 0.5}
        material_cost: 700
        labor_cost: 900
        labor_hours: 30
  - period: 2026-12
    overhead_pools:
      - {name: 制造费用, amount: 700, basis: labor_hours}
    orders:
      - {production_order: MO-9, completed_qty: 1100, material_cost: 8000, labor_cost: 1500, labor_hours: 10}
    joint_products:
      - production_order: MO-9
        outputs:
          - {item: OIL-A, qty: 600, coefficient: 1.0}
          - {item: OIL-B, qty: 400, coefficient: 1.5}
        by_products:
          - {item: RESIDUE, qty: 100, unit_value: 2}
"""


def load_text(url: str, text: str) -> None:
    load_data(url, yaml.safe_load(text))


@pytest.fixture
def roll_up_url(db_url: str) -> str:
    load_text(db_url, ROLL_UP_YAML)
    return db_url


def close(actual: float, expected: float, tolerance: float = 0.01) -> bool:
    return abs(actual - expected) <= tolerance


def test_get_cost_report_worked_example(bike_costing_url: str) -> None:
    # bike_factory.md: unit cost 28.085106; completed 2,527.66 (material 1,800; labor 440.43; overhead 287.23);
    # WIP 232.34 (material 200; conversion 32.34); 2,527.66 + 232.34 = 2,760.
    out = call(bike_costing_url, "get_cost_report", production_order="MO-7")
    assert out["period"] == "2026-11" and out["item"] == "WHEEL"
    assert abs(out["unit_cost"] - 28.085106) < 1e-4
    assert out["completed_qty"] == 90
    assert close(out["total"], 2527.66) and out["material"] == 1800
    assert close(out["labor"], 440.43) and close(out["overhead"], 287.23)
    assert out["wip"]["qty"] == 10 and out["wip"]["material"] == 200
    assert close(out["wip"]["conversion"], 32.34) and close(out["wip"]["total"], 232.34)
    assert close(out["total"] + out["wip"]["total"], 2760)
    assert [(o["item"], o["qty"]) for o in out["outputs"]] == [("WHEEL", 90)]
    assert close(out["outputs"][0]["total"], 2527.66)
    # The only order with labor hours takes the whole pool of 300.
    assert [(a["pool"], a["basis"], a["share"], a["amount"]) for a in out["allocations"]] == [
        ("制造费用", "labor_hours", 1.0, 300.0)
    ]
    assert all(c["ok"] for c in out["checks"])
    assert call(bike_costing_url, "get_cost_report", production_order="MO-7", period="2026-11") == out


def test_get_cost_report_errors(bike_costing_url: str) -> None:
    with pytest.raises(ToolError) as unknown_order:
        call(bike_costing_url, "get_cost_report", production_order="MO-404")
    assert unknown_order.value.code == "not_found"
    with pytest.raises(ToolError) as unknown_period:
        call(bike_costing_url, "get_cost_report", production_order="MO-7", period="1999-01")
    assert unknown_period.value.code == "not_found"


def test_run_costing_worked_example(bike_costing_url: str) -> None:
    out = call(bike_costing_url, "run_costing", period="2026-11")
    assert out["ok"] and out["problems"] == []
    (mo7,) = out["orders"]
    assert mo7["production_order"] == "MO-7" and abs(mo7["unit_cost"] - 28.085106) < 1e-4
    assert out["charged"] == 2760 and close(out["completed"], 2527.66) and close(out["wip"], 232.34)
    assert out["pools"][0]["shares"] == [
        {"production_order": "MO-7", "basis_qty": 10.0, "share": 1.0, "amount": 300.0, "amount_cents": 300.0}
    ]


def orders_by_code(out: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["production_order"]: o for o in out["orders"]}


def test_run_costing_rolls_up_three_levels_with_subcontract_and_rework(roll_up_url: str) -> None:
    # Overhead 1,200 / 60 h = 20 per hour → FRAME 400, WHEEL 200, BIKE 600 (SC-1 and RW-1 have no hours).
    # MO-FRAME 1,000 + 600 + 400 = 2,000 → 200;  SC-1: 10 FRAME = 2,000 + fee 500 = 2,500 → 250
    # MO-WHEEL 800 + 300 + 200 = 1,300, plus rework RW-1 65 → 1,365 / 20 = 68.25
    # MO-BIKE material 2,500 + 1,365 + 700 (SEAT is bought: in material_cost) = 4,565 / 10 EU = 456.5
    #   → completed 3,652, WIP 913; conversion 1,500 / 9 EU → WIP 166.67, completed 1,333.33
    #   (labor 800, overhead 533.33); completed 4,985.33 / 8 = 623.1667; WIP 1,079.67.
    out = call(roll_up_url, "run_costing", period="2026-11")
    assert out["ok"], out["problems"]
    assert [(o["production_order"], o["level"]) for o in out["orders"]] == [
        ("MO-FRAME", 0),
        ("RW-1", 0),
        ("MO-WHEEL", 1),
        ("SC-1", 1),
        ("MO-BIKE", 2),
    ]
    orders = orders_by_code(out)
    assert (orders["MO-FRAME"]["total"], orders["MO-FRAME"]["unit_cost"]) == (2000, 200)
    sc = orders["SC-1"]
    assert (sc["kind"], sc["transferred_in"], sc["subcontract"], sc["total"], sc["unit_cost"]) == (
        "subcontract",
        2000,
        500,
        2500,
        250,
    )
    wheel = orders["MO-WHEEL"]
    assert (wheel["rework"], wheel["total"], wheel["unit_cost"]) == (65, 1365, 68.25)
    assert orders["RW-1"]["rework_of"] == "MO-WHEEL" and orders["RW-1"]["outputs"] == []
    bike = orders["MO-BIKE"]
    assert (bike["transferred_in"], bike["material"], bike["wip"]["material"]) == (3865, 3652, 913)
    assert (bike["labor"], bike["overhead"]) == (800, 533.333333)
    assert (bike["total"], bike["unit_cost"]) == (4985.333333, 623.166667)
    assert bike["wip"]["total"] == 1079.666667
    # Everything charged once: 2,000 + 500 + 1,300 + 65 + 700 + 900 + 600 = 6,065; only the bikes' WIP is open.
    assert (out["charged"], out["wip"]) == (6065, 1079.666667)
    # FRAME-P has a standard of 50 but no BOM: 2,500 against 10 × 50 = 500 → +2,000. WHEEL's 60 × 20 = 1,200
    # against 1,365 → +165.
    variances = {v["item"]: v for v in out["variances"]}
    assert (variances["FRAME-P"]["standard_total"], variances["FRAME-P"]["variance"]) == (500, 2000)
    assert (variances["WHEEL"]["standard_total"], variances["WHEEL"]["variance"]) == (1200, 165)


def test_get_cost_report_of_a_joint_production_order(roll_up_url: str) -> None:
    # 8,000 + 1,500 + 700 = 10,200; RESIDUE 100 × 2 = 200 first; 10,000 by 600 × 1.0 : 400 × 1.5 → 5,000 each.
    out = call(roll_up_url, "get_cost_report", production_order="MO-9")
    assert out["period"] == "2026-12" and out["total"] == 10200
    assert [(o["item"], o["qty"], o["total"], o["unit_cost"], o["by_product"]) for o in out["outputs"]] == [
        ("OIL-A", 600, 5000, 8.333333, False),
        ("OIL-B", 400, 5000, 12.5, False),
        ("RESIDUE", 100, 200, 2, True),
    ]
    assert all(c["ok"] for c in out["checks"])


def test_problems_stop_costing_and_are_listed(db_url: str) -> None:
    load_text(
        db_url,
        """
items: [{code: P, source: make}, {code: Q, source: make}]
production_orders:
  - {id: MO-1, item: P, qty: 10, due: 2026-11-30}
  - {id: MO-2, item: Q, qty: 10, due: 2026-11-30}
costing:
  period: 2026-11
  overhead_pools: [{name: OH, amount: 100, basis: labor_hours}]
  orders:
    - {production_order: MO-1, completed_qty: 10, labor_cost: 50, labor_hours: 0}
    - {production_order: MO-2, completed_qty: 0, material_cost: 10}
""",
    )
    out = call(db_url, "run_costing")
    assert not out["ok"] and out["orders"] == []
    found = {(p["code"], p["production_order"], p["severity"]) for p in out["problems"]}
    assert ("missing_labor_hours", "MO-1", "error") in found
    assert ("no_output", "MO-2", "error") in found
    assert ("pool_without_basis", None, "error") in found
    with pytest.raises(ToolError) as refused:
        call(db_url, "get_cost_report", production_order="MO-1")
    assert refused.value.code == "conflict"
    assert {p["code"] for p in refused.value.details["problems"]} >= {"missing_labor_hours", "no_output"}
