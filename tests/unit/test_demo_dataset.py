"""The demo factory dataset is complete and consistent: references, BOM shape, coverage of every feature."""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from planning.dataset import plant_from_dict

DEMO_PATH = Path(__file__).resolve().parents[2] / "data" / "demo" / "demo_factory.yaml"
SO_STATUSES = {"draft", "confirmed", "in_progress", "done", "cancelled"}


# ---------------------------------------------------------------- checks shared with test_synthetic.py


def _bom_edges(data: dict[str, Any]) -> dict[str, set[str]]:
    """Parent → components over every BOM version (a cycle in any version is a cycle)."""
    edges: dict[str, set[str]] = {}
    for bom in data.get("boms", []):
        edges.setdefault(bom["parent"], set()).update(line["component"] for line in bom["lines"])
    return edges


def find_bom_cycle(data: dict[str, Any]) -> list[str] | None:
    """A cycle as a path (first item repeated last), or None; iterative DFS with white/grey/black marks."""
    edges = _bom_edges(data)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished
    for root in edges:
        if state.get(root):
            continue
        path = [root]
        stack = [iter(sorted(edges.get(root, ())))]
        state[root] = 1
        while stack:
            child = next(stack[-1], None)
            if child is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(child) == 1:
                return [*path[path.index(child) :], child]
            elif not state.get(child):
                state[child] = 1
                path.append(child)
                stack.append(iter(sorted(edges.get(child, ()))))
    return None


def bom_levels(data: dict[str, Any]) -> dict[str, int]:
    """Low-level code of every item in a BOM: the deepest level it appears at (top items are level 0)."""
    edges = _bom_edges(data)
    components = {c for comps in edges.values() for c in comps}
    level = {parent: 0 for parent in edges if parent not in components}
    frontier = list(level)
    while frontier:  # breadth-first relaxation; terminates because the BOM graph is acyclic
        nxt = []
        for parent in frontier:
            for child in edges.get(parent, ()):
                if level.get(child, -1) < level[parent] + 1:
                    level[child] = level[parent] + 1
                    nxt.append(child)
        frontier = nxt
    return level


def reference_problems(data: dict[str, Any]) -> list[str]:
    """Every dangling reference, duplicate key or non-positive quantity, as readable messages."""
    problems: list[str] = []

    def codes(key: str, field: str = "code") -> set[str]:
        values = [row[field] for row in data.get(key, [])]
        dupes = [v for v, n in Counter(values).items() if n > 1]
        if dupes:
            problems.append(f"{key}: duplicate {field} {dupes[:5]}")
        return set(values)

    items = codes("items")
    customers = codes("customers")
    suppliers = codes("suppliers")
    locations = codes("locations")
    work_centers = codes("work_centers")
    sales_lines = {
        f"{so['id']}/{n}" for so in data.get("sales_orders", []) for n in range(1, len(so["lines"]) + 1)
    }
    codes("sales_orders", "id")
    orders = codes("production_orders", "id")
    codes("purchase_orders", "id")

    def ref(where: str, value: Any, known: set[str]) -> None:
        if value not in known:
            problems.append(f"{where}: unknown reference {value!r}")

    def positive(where: str, value: Any) -> None:
        if Decimal(str(value)) <= 0:
            problems.append(f"{where}: quantity {value} is not positive")

    for row in data.get("items", []):
        if int(row.get("lead_time_days", 0)) < 0:
            problems.append(f"item {row['code']}: negative lead time")
        for key in ("safety_stock", "min_order_qty", "order_multiple", "max_order_qty", "unit_cost"):
            if Decimal(str(row.get(key, 0))) < 0:
                problems.append(f"item {row['code']}: negative {key}")
    for bom in data.get("boms", []):
        where = f"bom {bom['parent']} v{bom.get('version', '1')}"
        ref(where, bom["parent"], items)
        positive(where, bom.get("output_qty", 1))
        for line in bom["lines"]:
            ref(where, line["component"], items)
            positive(f"{where} {line['component']}", line["qty"])
            if not 0 <= Decimal(str(line.get("scrap_rate", 0))) < 1:
                problems.append(f"{where} {line['component']}: scrap_rate outside [0, 1)")
            for sub in line.get("substitutes") or ():
                ref(f"{where} substitute", sub["item"], items)
                positive(f"{where} substitute {sub['item']}", sub.get("ratio", 1))
    for row in data.get("locations", []):
        if row.get("supplier") is not None:
            ref(f"location {row['code']}", row["supplier"], suppliers)
    for row in data.get("price_lists", []):
        ref("price list", row["supplier"], suppliers)
        ref("price list", row["item"], items)
    for row in data.get("stock", []):
        ref("stock", row["item"], items)
        positive(f"stock {row['item']}", row["qty"])
        if row.get("location") is not None:
            ref(f"stock {row['item']}", row["location"], locations)
    for row in data.get("purchase_orders", []):
        where = f"purchase order {row['id']}"
        ref(where, row["item"], items)
        if row.get("supplier") is not None:
            ref(where, row["supplier"], suppliers)
        positive(where, row["qty"])
        if Decimal(str(row.get("received_qty", 0))) > Decimal(str(row["qty"])):
            problems.append(f"{where}: received more than ordered")
    for row in data.get("production_orders", []):
        where = f"production order {row['id']}"
        ref(where, row["item"], items)
        positive(where, row["qty"])
        if Decimal(str(row.get("completed_qty", 0))) > Decimal(str(row["qty"])):
            problems.append(f"{where}: completed more than ordered")
        if row.get("supplier") is not None:
            ref(where, row["supplier"], suppliers)
        if row.get("sales_order") is not None:
            ref(where, row["sales_order"], sales_lines)
        for comp in row.get("components") or ():
            ref(where, comp["item"], items)
            positive(f"{where} {comp['item']}", comp["required"])
    for so in data.get("sales_orders", []):
        where = f"sales order {so['id']}"
        ref(where, so["customer"], customers)
        for line in so["lines"]:
            ref(where, line["item"], items)
            positive(f"{where} {line['item']}", line["qty"])
            if Decimal(str(line.get("shipped_qty", 0))) > Decimal(str(line["qty"])):
                problems.append(f"{where}: shipped more than ordered")
    for row in data.get("forecasts", []):
        ref("forecast", row["item"], items)
        positive(f"forecast {row['item']}", row["qty"])
    for row in data.get("routings", []):
        ref("routing", row["item"], items)
        for op in row["operations"]:
            ref(f"routing {row['item']}", op["work_center"], work_centers)
    costing = data.get("costing") or {}
    for row in costing.get("orders", []):
        ref("costing order", row["production_order"], orders)
    for joint in costing.get("joint_products", []):
        ref("joint products", joint["production_order"], orders)
        for out in [*joint["outputs"], *joint.get("by_products", [])]:
            ref("joint products", out["item"], items)
            positive(f"joint products {out['item']}", out["qty"])
    return problems


# ---------------------------------------------------------------- the demo dataset


@pytest.fixture(scope="module")
def demo() -> dict[str, Any]:
    with DEMO_PATH.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def test_every_reference_exists_and_quantities_are_positive(demo: dict[str, Any]) -> None:
    assert reference_problems(demo) == []


def test_boms_have_no_cycle_and_at_least_four_levels(demo: dict[str, Any]) -> None:
    assert find_bom_cycle(demo) is None
    # levels 0 (finished goods) … 4 (tubes under a welded crossbeam under a coated beam under the lift frame)
    assert max(bom_levels(demo).values()) + 1 >= 4


def test_the_factory_is_big_enough_and_shows_every_master_data_feature(demo: dict[str, Any]) -> None:
    items = {row["code"]: row for row in demo["items"]}
    assert len(items) >= 40
    assert any(row.get("phantom") for row in items.values())
    assert any(row["source"] == "subcontract" for row in items.values())
    assert any(row.get("min_order_qty") for row in items.values())
    assert any(row.get("order_multiple") for row in items.values())
    assert any(row.get("max_order_qty") for row in items.values())
    assert any(row.get("safety_stock") for row in items.values())
    lines = [line for bom in demo["boms"] for line in bom["lines"]]
    assert any(line.get("substitutes") for line in lines)
    assert any(line.get("scrap_rate") for line in lines)
    assert 3 <= len(demo["work_centers"]) <= 5
    assert any(row["kind"] == "subcontract" for row in demo["price_lists"])
    assert any(row["kind"] == "inspection" for row in demo["locations"])


def test_sales_orders_cover_every_status_and_some_are_late(demo: dict[str, Any]) -> None:
    orders = demo["sales_orders"]
    assert len(orders) >= 20
    assert {so["status"] for so in orders} == SO_STATUSES
    today = demo["today"]
    late = [
        so["id"]
        for so in orders
        if so["status"] in ("confirmed", "in_progress")
        for line in so["lines"]
        if line["due"] < today and line["qty"] > line.get("shipped_qty", 0)
    ]
    assert late
    assert {so["priority"] for so in orders} >= {1, 9}


def test_supply_documents_show_partial_late_and_make_to_order(demo: dict[str, Any]) -> None:
    today = demo["today"]
    pos = demo["purchase_orders"]
    assert any(0 < po.get("received_qty", 0) < po["qty"] for po in pos)
    assert any(po["due"] < today for po in pos)
    mos = demo["production_orders"]
    assert {"released", "in_progress"} <= {mo["status"] for mo in mos}
    assert any(mo.get("sales_order") for mo in mos)
    assert any(mo.get("kind") == "subcontract" for mo in mos)


def test_costing_has_two_bases_wip_and_a_joint_order_with_a_by_product(demo: dict[str, Any]) -> None:
    costing = demo["costing"]
    assert str(costing["period"]) == "2026-11"
    assert len({pool["basis"] for pool in costing["overhead_pools"]}) == 2
    assert 4 <= len(costing["orders"]) <= 6
    assert any(order["wip_qty"] > 0 for order in costing["orders"])
    assert any(joint.get("by_products") for joint in costing["joint_products"])


def test_planning_reads_the_demo(demo: dict[str, Any]) -> None:
    plant = plant_from_dict(demo)
    assert plant.today == date(2026, 12, 1)
    assert plant.calendar.is_workday(date(2026, 12, 1))
    assert not plant.calendar.is_workday(date(2027, 1, 1))
    assert any(d.kind == "dependent" for d in plant.demands)


def test_the_dataset_loader_accepts_the_demo() -> None:
    from data_model.dataset import parse_dataset, read_dataset_file

    parsed = parse_dataset(read_dataset_file(DEMO_PATH))
    assert len(parsed.items) >= 40


# ---------------------------------------------------------------- the situations data/demo/README.md describes


def _main_stock(data: dict[str, Any], item: str) -> Decimal:
    return sum(
        (Decimal(str(r["qty"])) for r in data["stock"] if r["item"] == item and not r.get("location")),
        Decimal(0),
    )


def test_the_late_orders_the_readme_names_are_the_late_ones(demo: dict[str, Any]) -> None:
    today = demo["today"]
    late_lines = {
        f"{so['id']}/{n}"
        for so in demo["sales_orders"]
        if so["status"] in ("confirmed", "in_progress")
        for n, line in enumerate(so["lines"], start=1)
        if line["due"] < today and line["qty"] > line.get("shipped_qty", 0)
    }
    assert late_lines == {"SO-1006/1", "SO-1006/3", "SO-1015/1"}
    overdue_supply = {po["id"] for po in demo["purchase_orders"] if po["due"] < today} | {
        mo["id"]
        for mo in demo["production_orders"]
        if mo["status"] in ("released", "in_progress") and mo["due"] < today
    }
    assert overdue_supply == {"PO-2611-01", "PO-2611-04", "MO-2611-01", "SC-2611-03"}


def test_the_shortages_the_readme_describes_hold(demo: dict[str, Any]) -> None:
    items = {row["code"]: row for row in demo["items"]}
    # standing desks: two columns each; 4 on hand and 60 on order are far from the 80 desks of SO-1009 alone
    assert _main_stock(demo, "LIFT-COL") + 60 < 2 * 80
    # gas lifts below safety stock, more waiting in inspection
    assert _main_stock(demo, "GASLIFT") < items["GASLIFT"]["safety_stock"]
    assert any(r["item"] == "GASLIFT" and r.get("location") == "IQC" for r in demo["stock"])
    # the coating order for the hospital's cabinets needs 60 welded shells: 10 on hand + 40 still to weld
    assert _main_stock(demo, "CAB-SHELL-W") + (60 - 20) < 60
    # the old armrest is used only by the obsolete chair BOM version
    users = [bom for bom in demo["boms"] for line in bom["lines"] if line["component"] == "ARM-2D"]
    assert [bom.get("effective_to") for bom in users] == [date(2026, 11, 1)]
