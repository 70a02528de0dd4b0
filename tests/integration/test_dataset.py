"""Dataset import/export: loads, lossless round trips (YAML and xlsx), and bad input refused whole."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlmodel import select

from data_model.dataset import DatasetError, write_xlsx
from data_model.dataset_store import export_dataset
from data_model.stock import on_hand
from data_model.tables import Item, ProductionOrderComponent, SalesOrderLine
from tests.helpers import BIKE_COSTING_YAML, BIKE_YAML, bike_factory_data, load_into
from tools.context import open_context
from tools.dataset_io import load_dataset, load_dataset_file


def exported(url: str) -> dict:
    with open_context(url) as ctx:
        return export_dataset(ctx.session)


def test_bike_factory_loads_with_its_figures(bike_url: str) -> None:
    with open_context(bike_url) as ctx:
        items = {i.code: i for i in ctx.session.exec(select(Item))}
        assert len(items) == 8
        assert items["SPOKE"].min_order_qty == Decimal(500)
        stock = {items_by_id.code: q for items_by_id in items.values()
                 for iid, q in on_hand(ctx.session).items() if iid == items_by_id.id}
        assert stock == {"BIKE": 2, "WHEEL": 4, "FRAME": 10, "RIM": 6, "SPOKE": 300, "TIRE": 20, "SEAT": 4,
                         "SEAT-B": 3}
        line = ctx.session.exec(select(SalesOrderLine)).one()
        assert (line.qty, line.due_date.isoformat()) == (Decimal(12), "2026-12-15")
        assert ctx.today.isoformat() == "2026-12-01"


@pytest.mark.parametrize("source", [BIKE_YAML, BIKE_COSTING_YAML], ids=["bike", "costing"])
def test_yaml_export_load_round_trip_is_identical(db_url: str, tmp_path: Path, source: Path) -> None:
    load_into(db_url, source)
    first = exported(db_url)
    out = tmp_path / "export.yaml"
    with open_context(db_url) as ctx:
        from tools.dataset_io import export_dataset_file

        export_dataset_file(ctx.session, out)
    load_into(db_url, out)
    assert exported(db_url) == first
    # and the export says what the source said
    original = yaml.safe_load(source.read_text(encoding="utf-8"))
    assert [i["code"] for i in first["items"]] == [i["code"] for i in original["items"]]


@pytest.mark.parametrize("source", [BIKE_YAML, BIKE_COSTING_YAML], ids=["bike", "costing"])
def test_xlsx_made_from_yaml_loads_and_round_trips(db_url: str, tmp_path: Path, source: Path) -> None:
    workbook = tmp_path / "dataset.xlsx"
    write_xlsx(yaml.safe_load(source.read_text(encoding="utf-8")), workbook)
    load_into(db_url, workbook)
    from_xlsx = exported(db_url)
    load_into(db_url, source)
    assert from_xlsx == exported(db_url)
    again = tmp_path / "again.xlsx"
    with open_context(db_url) as ctx:
        from tools.dataset_io import export_dataset_file

        export_dataset_file(ctx.session, again)
    load_into(db_url, again)
    assert exported(db_url) == from_xlsx


def test_production_order_components_come_from_the_bom_through_phantoms(sqlite_url: str) -> None:
    data = {
        "items": [{"code": "P", "source": "make"}, {"code": "KIT", "source": "make", "phantom": True},
                  {"code": "S", "source": "buy"}, {"code": "B", "source": "buy"}],
        "boms": [{"parent": "P", "lines": [{"component": "KIT", "qty": 2}, {"component": "B", "qty": 1,
                                                                            "scrap_rate": 0.1}]},
                 {"parent": "KIT", "output_qty": 2, "lines": [{"component": "S", "qty": 3}]}],
        "production_orders": [{"id": "MO-1", "item": "P", "qty": 10, "due": "2026-12-10"}],
    }
    with open_context(sqlite_url) as ctx:
        load_dataset(ctx.session, data, reset=True)
    with open_context(sqlite_url) as ctx:
        code = {i.id: i.code for i in ctx.session.exec(select(Item))}
        comps = {code[c.item_id]: c.required_qty for c in ctx.session.exec(select(ProductionOrderComponent))}
    # KIT is phantom: 10 P × 2 KIT = 20 KIT → 20 × 3 / 2 = 30 S; B: 10 × 1 × 1.1 = 11
    assert comps == {"S": Decimal(30), "B": Decimal(11)}


BAD_CASES = {
    "cycle": ("items:\n  - {code: A, source: make}\n  - {code: B, source: make}\n  - {code: C, source: make}\n"
              "boms:\n  - {parent: A, lines: [{component: B, qty: 1}]}\n"
              "  - {parent: B, lines: [{component: C, qty: 1}]}\n  - {parent: C, lines: [{component: A, qty: 1}]}\n",
              "sheet 'boms' row 1 field 'lines': BOM cycle: A → B → C → A"),
    "unknown_code": ("items:\n  - {code: A, source: make}\nboms:\n  - {parent: A, lines: [{component: ZZ, qty: 1}]}\n",
                     "sheet 'boms' row 1 field 'lines[1].component': unknown item 'ZZ'"),
    "zero_qty": ("items:\n  - {code: A, source: make}\n  - {code: B}\n"
                 "boms:\n  - {parent: A, lines: [{component: B, qty: 0}]}\n",
                 "sheet 'boms' row 1 field 'lines[1].qty': Input should be greater than 0"),
    "negative_qty": ("items:\n  - {code: A}\nsales_orders:\n"
                     "  - {id: S1, customer: X, lines: [{item: A, qty: -5, due: 2026-12-01}]}\n",
                     "sheet 'sales_orders' row 1 field 'lines[1].qty': Input should be greater than 0"),
    "bad_date": ("items:\n  - {code: A}\npurchase_orders:\n  - {id: P1, item: A, qty: 5, due: 2026-13-45}\n",
                 "sheet 'purchase_orders' row 1 field 'due'"),
    "duplicate_code": ("items:\n  - {code: A}\n  - {code: B}\n  - {code: A}\n",
                       "sheet 'items' row 3 field 'code': duplicate code 'A'"),
    "unknown_field": ("items:\n  - {code: A, lead_time: 3}\n", "sheet 'items' row 1 field 'lead_time': unknown field"),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
@pytest.mark.parametrize("reset", [False, True], ids=["append", "reset"])
def test_bad_dataset_is_refused_whole_and_changes_nothing(bike_url: str, tmp_path: Path, case: str,
                                                          reset: bool) -> None:
    text, expected = BAD_CASES[case]
    bad = tmp_path / f"{case}.yaml"
    bad.write_text(text, encoding="utf-8")
    before = exported(bike_url)
    with pytest.raises(DatasetError) as err, open_context(bike_url) as ctx:
        load_dataset_file(ctx.session, bad, reset=reset)
    assert expected in str(err.value)
    assert exported(bike_url) == before


def test_xlsx_errors_name_the_spreadsheet_row(sqlite_url: str, tmp_path: Path) -> None:
    data = bike_factory_data()
    data["boms"][1]["lines"][1]["qty"] = -36  # WHEEL's SPOKE line: the 5th data row of the boms sheet
    workbook = tmp_path / "bad.xlsx"
    write_xlsx(data, workbook)
    with pytest.raises(DatasetError) as err, open_context(sqlite_url) as ctx:
        load_dataset_file(ctx.session, workbook, reset=True)
    # header is row 1; BIKE's 3 lines are rows 2-4; WHEEL/RIM row 5; WHEEL/SPOKE row 6
    assert "sheet 'boms' row 6 field 'lines[2].qty'" in str(err.value)


def test_loading_an_existing_item_without_reset_is_refused(bike_url: str) -> None:
    before = exported(bike_url)
    with pytest.raises(DatasetError, match="item 'BIKE' already exists"), open_context(bike_url) as ctx:
        load_dataset(ctx.session, {"items": [{"code": "BIKE"}]})
    assert exported(bike_url) == before


def test_append_load_may_reference_existing_items(bike_url: str) -> None:
    with open_context(bike_url) as ctx:
        load_dataset(ctx.session, {"sales_orders": [{"id": "SO-200", "customer": "城市单车",
                                                     "lines": [{"item": "BIKE", "qty": 3, "due": "2026-12-20"}]}]})
    data = exported(bike_url)
    assert [so["id"] for so in data["sales_orders"]] == ["SO-100", "SO-200"]


def test_an_appended_production_order_takes_its_components_from_the_bom_in_the_database(bike_url: str) -> None:
    with open_context(bike_url) as ctx:
        load_dataset(ctx.session, {"production_orders": [{"id": "MO-50", "item": "WHEEL", "qty": 5,
                                                          "due": "2026-12-08"}]})
    with open_context(bike_url) as ctx:
        code = {i.id: i.code for i in ctx.session.exec(select(Item))}
        comps = {code[c.item_id]: c.required_qty for c in ctx.session.exec(select(ProductionOrderComponent))}
    # WHEEL × 5: RIM 5, SPOKE 5 × 36 × 1.02 = 183.6, TIRE 5
    assert comps == {"RIM": Decimal(5), "SPOKE": Decimal("183.6"), "TIRE": Decimal(5)}
