"""The synthetic factory generator: sizes as specified, deterministic per seed, acyclic, every reference resolved."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from benchmarks.synthetic import SIZES, generate_factory, write_factory_yaml
from planning.dataset import plant_from_dict
from tests.unit.test_demo_dataset import bom_levels, find_bom_cycle, reference_problems

TODAY = date(2026, 12, 1)
OPEN_PRODUCTION = ("planned", "released", "in_progress")


@pytest.fixture(scope="module")
def medium() -> dict[str, Any]:
    return generate_factory("medium", seed=7)


def _level_of(code: str) -> int:
    return int(code[1])  # codes are L<level>-…


def test_medium_has_the_specified_counts(medium: dict[str, Any]) -> None:
    assert len(medium["items"]) == 10_000
    bom_lines = sum(len(bom["lines"]) for bom in medium["boms"])
    assert 39_600 <= bom_lines <= 40_400  # "~40,000": within 1 %
    demand_lines = [
        line
        for so in medium["sales_orders"]
        if so["status"] in ("confirmed", "in_progress")
        for line in so["lines"]
        if line["qty"] > line.get("shipped_qty", 0)
    ]
    assert len(demand_lines) == 5_000
    open_purchases = [po for po in medium["purchase_orders"] if po["qty"] > po.get("received_qty", 0)]
    open_production = [mo for mo in medium["production_orders"] if mo["status"] in OPEN_PRODUCTION]
    assert len(open_purchases) + len(open_production) == 2_000
    assert open_purchases and open_production
    # a stock list with at most one row per item
    assert len({row["item"] for row in medium["stock"]}) == len(medium["stock"])


def test_medium_demand_spreads_over_a_180_day_horizon(medium: dict[str, Any]) -> None:
    dues = [line["due"] for so in medium["sales_orders"] for line in so["lines"]]
    assert max(dues) <= TODAY + timedelta(days=180)
    assert max(dues) >= TODAY + timedelta(days=150)
    assert min(dues) < TODAY  # a few are already late


def test_medium_has_six_levels_and_components_only_from_deeper_levels(medium: dict[str, Any]) -> None:
    levels = bom_levels(medium)
    # every item takes part in a BOM, and its low-level code is the level its code says
    assert len(levels) == len(medium["items"])
    assert all(level == _level_of(code) for code, level in levels.items())
    assert {_level_of(row["code"]) for row in medium["items"]} == set(range(6))
    for bom in medium["boms"]:
        assert all(_level_of(line["component"]) > _level_of(bom["parent"]) for line in bom["lines"])
    sources = {row["code"]: row["source"] for row in medium["items"]}
    assert all(sources[code] == "make" for code, level in levels.items() if level == 0)
    assert all(sources[code] == "buy" for code, level in levels.items() if level == 5)


def test_medium_has_no_bom_cycle(medium: dict[str, Any]) -> None:
    assert find_bom_cycle(medium) is None


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    data = {
        "boms": [
            {"parent": "A", "lines": [{"component": "B", "qty": 1}]},
            {"parent": "B", "lines": [{"component": "C", "qty": 1}]},
            {"parent": "C", "lines": [{"component": "A", "qty": 1}]},
        ]
    }
    assert find_bom_cycle(data) == ["A", "B", "C", "A"]


def test_medium_references_all_exist(medium: dict[str, Any]) -> None:
    assert reference_problems(medium) == []


def test_medium_has_phantoms_substitutes_lot_rules_and_routings(medium: dict[str, Any]) -> None:
    items = medium["items"]
    assert any(row.get("phantom") for row in items)
    assert all(not row.get("phantom") for row in items if _level_of(row["code"]) == 0)
    assert any(line.get("substitutes") for bom in medium["boms"] for line in bom["lines"])
    for key in ("min_order_qty", "order_multiple", "max_order_qty", "safety_stock"):
        assert any(row.get(key) for row in items), key
    assert any(row["source"] == "subcontract" for row in items)
    routed = {row["item"] for row in medium["routings"]}
    made = {row["code"] for row in items if row["source"] == "make" and not row.get("phantom")}
    assert routed == made
    assert len(medium["work_centers"]) == SIZES["medium"].work_centers
    assert medium["calendar"]["workdays"] == ["mon", "tue", "wed", "thu", "fri"]


def test_the_same_seed_gives_the_same_factory(medium: dict[str, Any]) -> None:
    assert generate_factory("medium", seed=7) == medium
    assert generate_factory("small", seed=8) != generate_factory("small", seed=7)


def test_small_is_demo_scale_and_valid() -> None:
    small = generate_factory("small", seed=3)
    assert 40 <= len(small["items"]) <= 100
    assert reference_problems(small) == []
    assert find_bom_cycle(small) is None
    assert max(bom_levels(small).values()) == 5


def test_a_generated_factory_is_read_by_planning_and_the_dataset_loader() -> None:
    from data_model.dataset import parse_dataset

    small = generate_factory("small")
    plant = plant_from_dict(small)
    assert len(plant.items) == len(small["items"])
    assert plant.today == TODAY
    assert len(parse_dataset(small).items) == len(small["items"])


def test_written_yaml_reads_back_the_same(tmp_path: Path) -> None:
    small = generate_factory("small")
    path = tmp_path / "small.yaml"
    write_factory_yaml(small, path)
    text = path.read_text(encoding="utf-8")
    assert "&id" not in text  # no anchors: every row stands on its own
    assert yaml.safe_load(text) == small


def test_an_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown size"):
        generate_factory("huge")
