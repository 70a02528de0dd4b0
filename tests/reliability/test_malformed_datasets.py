"""Malformed datasets and spreadsheets are refused whole through `orderpilot load`: a clean message naming the
problem (no traceback), exit 1, and nothing written, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import copy
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from data_model.dataset import write_xlsx
from tests.helpers import bike_factory_data
from tests.reliability.conftest import table_rows

runner = CliRunner()


def _bike() -> dict[str, Any]:
    return bike_factory_data()


def _changed(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(_bike())
    change(data)
    return data


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        target: Any = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


# (dataset change, what the message must say)
BAD_VALUES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "huge_stock": (_set(["stock", 0, "qty"], 10**30), "sheet 'stock' row 1 field 'qty'"),
    "huge_order_qty": (_set(["sales_orders", 0, "lines", 0, "qty"], 10**15), "field 'lines[1].qty'"),
    "qty_that_rounds_to_zero": (_set(["boms", 0, "lines", 0, "qty"], "0.0000001"), "rounds to 0"),
    "lead_time_of_a_million_years": (
        _set(["items", 0, "lead_time_days"], 365 * 10**6),
        "days is out of range",
    ),
    "year_9999": (_set(["sales_orders", 0, "lines", 0, "due"], "9999-12-31"), "out of range"),
    "name_too_long": (_set(["items", 0, "name"], "长" * 5000), "too long (at most 200)"),
    "nul_in_a_name": (_set(["items", 1, "name"], "WHEEL\x00DROP TABLE item"), "control character U+0000"),
    "lone_surrogate": (_set(["items", 1, "description"], "bad \ud800 text"), "lone surrogate"),
    "escape_sequences": (_set(["items", 1, "name"], "\x1b[31mred\x1b[0m"), "control character U+001B"),
    "infinity": (_set(["stock", 0, "qty"], float("inf")), "finite number"),
    "qty_as_text": (_set(["stock", 0, "qty"], "a dozen"), "sheet 'stock' row 1 field 'qty'"),
    "list_instead_of_record": (_set(["items", 0], ["BIKE", "make"]), "sheet 'items' row 1"),
}

BAD_FILES: dict[str, tuple[str, bytes | Callable[[Path], None], str]] = {
    "empty_xlsx": (".xlsx", b"", ""),
    "zip_that_is_no_workbook": (".xlsx", b"", ""),
    "garbage_xlsx": (".xlsx", bytes(range(256)) * 40, ""),
    "yaml_list": (".yaml", b"- a\n- b\n", "a dataset is a mapping"),
    "yaml_syntax_error": (".yaml", b"items: [ {code: A\n", ""),
    "yaml_python_tag": (".yaml", b"items: !!python/object/apply:os.system ['echo pwned']\n", ""),
    "binary_yaml": (".yaml", b"\xff\xfe\x00\x00\x81garbage", ""),
    "unicode_junk_yaml": (
        ".yaml",
        "items:\n  - {code: '\u202e\u200b', name: \"\\u0007bell\"}\n".encode(),
        "control character U+0007",
    ),
}


def _load(url: str, path: Path, reset: bool = True) -> Any:
    return runner.invoke(app, ["load", str(path), "--db", url, *(["--reset"] if reset else [])])


def _assert_refused_and_unchanged(url: str, result: Any, before: dict[str, Any], expected: str) -> None:
    out = result.output + (result.stderr if result.stderr_bytes else "")
    assert result.exit_code == 1, out[-1500:]
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "dataset refused, nothing was loaded" in out, out[-1500:]
    assert expected in out, out[-1500:]
    assert table_rows(url) == before


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_out_of_bounds_values_are_refused_and_nothing_is_written(
    bike_url: str, tmp_path: Path, case: str
) -> None:
    change, expected = BAD_VALUES[case]
    before = table_rows(bike_url)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(_changed(change), allow_unicode=True), encoding="utf-8")
    _assert_refused_and_unchanged(bike_url, _load(bike_url, path), before, expected)


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_out_of_bounds_values_in_a_workbook_are_refused(sqlite_url: str, tmp_path: Path, case: str) -> None:
    change, expected = BAD_VALUES[case]
    if case in ("lone_surrogate", "nul_in_a_name", "escape_sequences", "infinity", "list_instead_of_record"):
        pytest.skip("a spreadsheet cell cannot hold it")
    path = tmp_path / "bad.xlsx"
    write_xlsx(_changed(change), path)
    before = table_rows(sqlite_url)
    _assert_refused_and_unchanged(
        sqlite_url,
        _load(sqlite_url, path),
        before,
        expected.split(" row ")[0] if "sheet" in expected else expected,
    )


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_files_that_are_no_dataset_are_refused(bike_url: str, tmp_path: Path, case: str) -> None:
    suffix, content, expected = BAD_FILES[case]
    path = tmp_path / f"bad{suffix}"
    if case == "zip_that_is_no_workbook":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a workbook")
        content = buffer.getvalue()
    path.write_bytes(content if isinstance(content, bytes) else b"")
    before = table_rows(bike_url)
    _assert_refused_and_unchanged(bike_url, _load(bike_url, path), before, expected)


def _workbook(tmp_path: Path) -> Path:
    path = tmp_path / "bike.xlsx"
    write_xlsx(_bike(), path)
    return path


def test_a_truncated_workbook_is_refused(bike_url: str, tmp_path: Path) -> None:
    good = _workbook(tmp_path).read_bytes()
    before = table_rows(bike_url)
    for cut in (len(good) // 3, len(good) // 2, len(good) - 100):
        path = tmp_path / f"cut{cut}.xlsx"
        path.write_bytes(good[:cut])
        _assert_refused_and_unchanged(bike_url, _load(bike_url, path), before, "")


@pytest.mark.filterwarnings("ignore:Cell .* is marked as a date:UserWarning")
@pytest.mark.parametrize(
    "edit",
    [
        "number_as_text",
        "date_as_number",
        "formula_error",
        "header_missing",
        "sheet_of_numbers",
        "extra_sheet",
    ],
)
def test_wrong_cell_and_sheet_types_are_refused(bike_url: str, tmp_path: Path, edit: str) -> None:
    path = _workbook(tmp_path)
    book = openpyxl.load_workbook(path)
    if edit == "number_as_text":
        sheet = book["stock"]
        column = [c.value for c in sheet[1]].index("qty") + 1
        sheet.cell(row=2, column=column, value="twelve")
    elif edit == "date_as_number":
        sheet = book["sales_orders"]
        column = [c.value for c in sheet[1]].index("due") + 1
        sheet.cell(row=2, column=column, value=-99999999)
    elif edit == "formula_error":
        sheet = book["stock"]
        column = [c.value for c in sheet[1]].index("qty") + 1
        sheet.cell(row=2, column=column, value="#DIV/0!")
    elif edit == "header_missing":
        book["items"].delete_rows(1)
    elif edit == "sheet_of_numbers":
        sheet = book["items"]
        for row in sheet.iter_rows(min_row=1, max_row=3):
            for cell in row:
                cell.value = 3.14
    else:
        book.create_sheet("haxx").append(["code", "qty"])
    book.save(path)
    before = table_rows(bike_url)
    result = _load(bike_url, path)
    if edit == "extra_sheet" and result.exit_code == 0:
        pytest.fail("an unknown sheet was ignored silently")
    _assert_refused_and_unchanged(bike_url, result, before, "")
