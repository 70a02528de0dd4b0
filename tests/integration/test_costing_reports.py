"""Cost reports on the bike factory: standard (BOM) against actual, composition by level / item / order,
profitability of SO-100, and the Excel export of a period (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from tests.helpers import call, do
from tests.integration.test_costing_close import collect, november, three_level_data
from tests.integration.test_costing_collection import bike_costing_data, load, run_wheel_documents
from tests.integration.test_production_helpers import PLANNER
from tools.errors import ToolError


@pytest.fixture
def wheel(db_url: str) -> str:
    """MO-100 of test_costing_collection collected, with 300 of overhead by labor hours."""
    load(db_url, bike_costing_data())
    run_wheel_documents(db_url)
    do(db_url, "propose_cost_collection", PLANNER, period="2026-11",
       completion=[{"production_order": "MO-100", "conversion": 0.4}])  # fmt: skip
    do(
        db_url,
        "propose_overhead_pools",
        PLANNER,
        period="2026-11",
        pools=[{"name": "制造费用", "amount": 300}],
    )
    return db_url


@pytest.fixture
def closed(db_url: str) -> str:
    """The three-level month of test_costing_close, closed."""
    load(db_url, three_level_data())
    november(db_url)
    collect(db_url)
    do(db_url, "propose_period_close", PLANNER, period="2026-11")
    return db_url


def test_variance_against_the_bom_standard(wheel: str) -> None:
    out = call(wheel, "get_cost_variance", period="2026-11")
    assert not out["closed"] and out["without_standard"] == []
    (mo,) = out["orders"]
    # WHEEL's BOM standard (bike_factory.md): 8 + 36.72 × 0.2 + 6 = 21.344, all of it material.
    # 90 completed: standard 90 × 21.344 = 1,920.96; actual 2,654.037766 (test_costing_collection)
    # → +733.077766, 38.16 % over.
    assert (mo["production_order"], mo["standard_from"], mo["standard_unit_cost"]) == (
        "MO-100",
        "bom",
        21.344,
    )
    assert (mo["standard_total"], mo["actual_total"]) == (1920.96, 2654.037766)
    assert mo["variance"] == pytest.approx(733.077766, abs=1e-6)
    assert mo["variance_rate"] == pytest.approx(733.077766 / 1920.96, abs=1e-6)
    # Material: actual 90 × 22.0425 = 1,983.825 against 1,920.96 → +62.865 (dearer rims, spokes and tires).
    # Labor: no operations in the standard (0) against 670.212766 × 400 / 700 = 382.978723.
    assert {e["element"]: (e["standard"], e["actual"], e["variance"]) for e in mo["elements"]} == {
        "material": (1920.96, 1983.825, 62.865),
        "labor": (0, 382.978723, 382.978723),
        "subcontract": (0, 0, 0),
    }
    assert (out["standard_total"], out["actual_total"]) == (1920.96, 2654.037766)
    # run_costing gives the same variance (its standards come from get_bom_cost now).
    run = call(wheel, "run_costing", period="2026-11")
    assert run["variances"][0]["standard_unit_cost"] == 21.344
    assert call(wheel, "get_bom_cost", item="WHEEL")["unit_cost"] == 21.344


def test_composition_by_level_item_and_order(closed: str) -> None:
    out = call(closed, "get_cost_composition", period="2026-11", by="level")
    assert out["closed"]
    levels = {g["key"]: g for g in out["groups"]}
    assert list(levels) == ["0", "1", "2"]
    # Level 0: SC-1 only (RW-1's 82.5 is rework on MO-W20): 164 material + 30 fee = 194.
    assert (levels["0"]["orders"], levels["0"]["material"], levels["0"]["subcontract"], levels["0"]["total"]) == (
        ["SC-1"], 164, 30, 194)  # fmt: skip
    # Level 1: MO-W20 279.224 + 194 transferred = 473.224 material, labor 200, overhead 150, rework 82.5.
    one = levels["1"]
    assert (one["material"], one["transferred_in"], one["labor"], one["overhead"], one["rework"]) == (
        473.224, 194, 200, 150, 82.5)  # fmt: skip
    assert one["total"] == 905.724
    assert one["shares"]["material"] == pytest.approx(473.224 / 905.724, abs=1e-6)
    # Level 2: MO-B10 1,204.5792 material (905.724 of it the wheels), labor 355.555556, overhead 213.333333.
    two = levels["2"]
    assert (two["material"], two["transferred_in"]) == (1204.5792, 905.724)
    assert (two["labor"], two["overhead"]) == pytest.approx((355.555556, 213.333333), abs=1e-6)
    assert two["total"] == pytest.approx(1773.468089, abs=1e-6)
    assert two["wip_total"] == pytest.approx(372.255911, abs=1e-6)
    assert two["unit_cost"] is None  # by level there is no unit
    assert out["totals"]["total"] == pytest.approx(194 + 905.724 + 1773.468089, abs=1e-6)

    items = call(closed, "get_cost_composition", period="2026-11", by="item")
    assert [(g["key"], g["name"], g["completed_qty"]) for g in items["groups"]] == [
        ("BIKE", "自行车", 8), ("RIM-P", "抛光轮圈", 20), ("WHEEL", "车轮", 20)]  # fmt: skip
    assert items["groups"][0]["unit_cost"] == pytest.approx(221.683511, abs=1e-6)
    orders = call(closed, "get_cost_composition", period="2026-11", by="order")
    assert [g["key"] for g in orders["groups"]] == ["SC-1", "MO-W20", "MO-B10"]
    assert orders["groups"][1]["unit_cost"] == pytest.approx(45.2862, abs=1e-6)
    with pytest.raises(ToolError) as err:
        call(closed, "get_cost_composition", period="2099-01")
    assert err.value.code == "not_found"


def profit_data() -> dict[str, Any]:
    """SO-100 (城市单车): 12 BIKE at 180 (10 shipped) made by MO-B12, and 4 WHEEL at 30 from stock."""
    data = bike_costing_data()
    data["sales_orders"] = [
        {"id": "SO-100", "customer": "城市单车", "lines": [
            {"item": "BIKE", "qty": 12, "due": "2026-12-15", "unit_price": 180, "shipped_qty": 10},
            {"item": "WHEEL", "qty": 4, "due": "2026-12-15", "unit_price": 30}]},
    ]  # fmt: skip
    data["production_orders"].append(
        {"id": "MO-B12", "item": "BIKE", "qty": 12, "due": "2026-11-30", "status": "completed",
         "completed_qty": 12, "sales_order": "SO-100/1"}
    )  # fmt: skip
    return data


def test_profitability_of_so_100(db_url: str) -> None:
    load(db_url, profit_data())
    do(db_url, "propose_order_cost_input", PLANNER, period="2026-11", production_order="MO-B12", completed_qty=12,
       material_cost=1200, labor_cost=150, labor_hours=3)  # fmt: skip
    do(
        db_url,
        "propose_overhead_pools",
        PLANNER,
        period="2026-11",
        pools=[{"name": "制造费用", "amount": 90}],
    )
    out = call(db_url, "get_order_profitability", sales_order="SO-100")
    (so,) = out["sales_orders"]
    bike, wheel = so["lines"]
    # MO-B12: 1,200 + 150 + 90 = 1,440 for 12 → 120 a bike. 10 shipped: revenue 10 × 180 = 1,800,
    # cost 10 × 120 = 1,200, margin 600 (a third).
    assert (bike["qty"], bike["qty_basis"], bike["revenue"], bike["unit_cost"], bike["cost_source"]) == (
        10, "shipped", 1800, 120, "actual")  # fmt: skip
    assert (bike["cost"], bike["margin"]) == (1200, 600)
    assert bike["margin_rate"] == pytest.approx(1 / 3, abs=1e-6)
    assert bike["production_orders"] == [
        {
            "production_order": "MO-B12",
            "period": "2026-11",
            "completed_qty": 12,
            "total": 1440,
            "unit_cost": 120,
        }
    ]
    # WHEEL comes from stock (no production order of its own): its BOM standard 21.344. Nothing shipped, so
    # the 4 ordered: revenue 120, cost 85.376, margin 34.624.
    assert (wheel["qty_basis"], wheel["cost_source"], wheel["cost"], wheel["margin"]) == (
        "ordered", "standard", 85.376, 34.624)  # fmt: skip
    # The order: 1,920 - 1,285.376 = 634.624.
    assert (so["customer"], so["revenue"], so["cost"], so["margin"]) == ("城市单车", 1920, 1285.376, 634.624)
    ordered = call(db_url, "get_order_profitability", sales_order="SO-100", basis="ordered")
    assert ordered["sales_orders"][0]["lines"][0]["revenue"] == 2160  # 12 × 180, cost 1,440
    assert ordered["sales_orders"][0]["lines"][0]["margin"] == 720
    by_period = call(db_url, "get_order_profitability", period="2026-11")
    assert [s["sales_order"] for s in by_period["sales_orders"]] == ["SO-100"] and by_period[
        "margin"
    ] == 634.624
    with pytest.raises(ToolError) as err:
        call(db_url, "get_order_profitability")
    assert err.value.code == "invalid_input"


def test_excel_export_of_a_period(closed: str, tmp_path: Path) -> None:
    from cli.costing import app

    path = tmp_path / "costs-2026-11.xlsx"
    result = CliRunner().invoke(app, ["export", "2026-11", "--out", str(path), "--db", closed])
    assert result.exit_code == 0, result.output
    assert "exported 2026-11 (4 orders" in result.output
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == [
        "成本计算单 Cost report",
        "成本构成-层级 By level",
        "成本构成-物料 By item",
        "成本差异 Variance",
        "订单利润 Profitability",
        "制造费用分配 Overhead",
        "问题 Problems",
    ]
    rows = list(book["成本计算单 Cost report"].iter_rows(values_only=True))
    assert rows[0][:2] == ("生产订单 order", "物料 item")
    by_order = {r[0]: r for r in rows[1:]}
    assert set(by_order) == {"RW-1", "SC-1", "MO-W20", "MO-B10"}
    assert by_order["MO-W20"][12] == pytest.approx(905.724) and by_order["MO-W20"][13] == pytest.approx(
        45.2862
    )
    levels = list(book["成本构成-层级 By level"].iter_rows(values_only=True))
    assert [r[0] for r in levels[1:]] == ["0", "1", "2", "total"]
    overhead = list(book["制造费用分配 Overhead"].iter_rows(values_only=True))
    # 420 by 14 hours: MO-W20 150, RW-1 30, MO-B10 240
    assert sorted((r[4], r[7]) for r in overhead[1:]) == [("MO-B10", 240), ("MO-W20", 150), ("RW-1", 30),
                                                           ("SC-1", 0)]  # fmt: skip
    book.close()
    bad = CliRunner().invoke(app, ["export", "2026-11", "--out", str(tmp_path / "x.csv"), "--db", closed])
    assert bad.exit_code == 1 and "must be an .xlsx file" in bad.output


def test_the_assistant_summarizes_a_cost_report_with_composition_and_variance(wheel: str) -> None:
    from assistant.service import ask

    reply = ask("MO-100 的成本报告", backend="offline", db_url=wheel, thread_id="t-costing-zh")
    assert [c.name for c in reply.tool_calls] == [
        "get_cost_report",
        "get_cost_composition",
        "get_cost_variance",
    ]
    # Composition of 2,654.037766: material 1,983.825 → 74.7 %, labor 382.978723 → 14.4 %,
    # overhead 287.234043 → 10.8 %. Variance +733.077766 on a standard of 1,920.96 → +38.2 %.
    assert "成本构成：材料 74.7%、人工 14.4%、制造费用 10.8%。" in reply.answer
    assert "标准单位成本 21.344，实际 29.489309" in reply.answer
    assert "差异 +733.077766，+38.2%（不利）；材料差异 +62.865；人工差异 +382.978723。" in reply.answer
    reply = ask("how does MO-100 compare with its standard cost", backend="offline", db_url=wheel,
                thread_id="t-costing-en")  # fmt: skip
    assert "Cost composition: material 74.7%, labor 14.4%, overhead 10.8%." in reply.answer
    assert "variance +733.077766, +38.2% (unfavourable); material +62.865; labor +382.978723." in reply.answer
