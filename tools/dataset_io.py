"""Import and export of whole datasets: validated first, then written in one transaction."""

from __future__ import annotations

import zipfile
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from sqlalchemy.exc import DataError, IntegrityError
from sqlmodel import Session, select

from data_model.dataset import (
    Dataset,
    DatasetError,
    DatasetProblem,
    dump_yaml,
    parse_dataset,
    read_dataset_file,
    write_xlsx,
)
from data_model.dataset_limits import check_limits
from data_model.dataset_store import (
    bom_edges,
    check_references,
    clear_business_data,
    export_dataset,
    write_dataset,
)
from data_model.tables import AuditLog, Item
from planning.bom_cost import get_bom_cost
from planning.dataset import plant_from_dict
from planning.graph import find_cycle
from tools.proposals import DOMAINS, bump_versions


class LoadResult(BaseModel):
    file: str
    reset: bool
    counts: dict[str, int]
    today: date | None


def validate_dataset(raw: Any, existing_items: set[str] | None = None) -> Dataset:
    """Parse and check a raw dataset dict; raises DatasetError naming each sheet, row and field."""
    ds = parse_dataset(raw)
    problems = check_limits(ds)
    problems += check_references(ds, existing_items or set())
    cycle = find_cycle(bom_edges(ds))
    if cycle:
        first = next((i for i, b in enumerate(ds.boms, start=1) if b.parent == cycle[0]), None)
        row = (ds.boms[first - 1].row_ or first) if first else None
        problems.append(DatasetProblem(sheet="boms", row=row, field="lines",
                                       message="BOM cycle: " + " → ".join(cycle)))
    if problems:
        raise DatasetError(problems)
    return ds


def load_dataset(session: Session, raw: Any, *, reset: bool = False, actor: str = "load",
                 source: str = "") -> LoadResult:
    """Replace (``reset``) or extend the data with a dataset, all or nothing, in the caller's transaction."""
    existing = set() if reset else set(session.exec(select(Item.code)).all())
    ds = validate_dataset(raw, existing)
    if existing:
        clash = [(i, it.code) for i, it in enumerate(ds.items, start=1) if it.code in existing]
        if clash:
            i, code = clash[0]
            raise DatasetError([DatasetProblem(sheet="items", row=ds.items[i - 1].row_ or i, field="code",
                                               message=f"item {code!r} already exists (load with --reset to "
                                                       f"replace the data)")])
    try:
        with session.begin_nested():
            if reset:
                clear_business_data(session)
            counts = write_dataset(session, ds, ds.today or date.today(),
                                   standard_costs=opening_standard_costs(raw, ds))
            session.add(AuditLog(actor=actor, action="dataset.load", entity="dataset", entity_ref=source,
                                 after={"reset": reset, "counts": counts}))
            bump_versions(session, DOMAINS)
    except IntegrityError as exc:
        raise DatasetError([DatasetProblem(sheet="(dataset)", message="conflicts with data already in the "
                                           f"database ({_constraint(exc)}); load with --reset to replace it")]) from None
    except DataError as exc:  # a value the checks above let through and the database refuses
        raise DatasetError([DatasetProblem(sheet="(dataset)", message="a value does not fit the database "
                                           f"({_constraint(exc)})")]) from None
    return LoadResult(file=source, reset=reset, counts=counts, today=ds.today)


def opening_standard_costs(raw: Any, ds: Dataset) -> dict[str, Decimal]:
    """Unit cost of opening stock of made and subcontracted items given no cost: their BOM roll-up.

    A make item with a BOM is costed through it (CONTRACT.md); setups are spread over the stock held.
    """
    made = {it.code for it in ds.items if it.source in ("make", "subcontract")}
    wanted: dict[str, Decimal] = {}
    for st in ds.stock:
        if st.item in made and st.unit_cost is None and st.qty > 0:
            wanted[st.item] = wanted.get(st.item, Decimal(0)) + st.qty
    if not wanted or not isinstance(raw, dict):
        return {}
    plant = plant_from_dict(raw)
    return {code: get_bom_cost(plant, code, qty).unit_cost for code, qty in wanted.items() if code in plant.boms}


def _constraint(exc: IntegrityError) -> str:
    text = str(exc.orig) if exc.orig is not None else str(exc)
    return text.splitlines()[0][:200]


def read_dataset(path: Path) -> Any:
    """The raw dataset in a YAML or .xlsx file; a file that cannot be read as one is a DatasetError (a
    damaged or truncated workbook, a file that is not text, YAML that does not parse)."""
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        return read_dataset_file(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, InvalidFileException, UnicodeDecodeError, yaml.YAMLError,
            OSError, KeyError, ValueError) as exc:
        kind = "an .xlsx workbook" if path.suffix.lower() in (".xlsx", ".xlsm") else "a YAML dataset"
        reason = " ".join(str(exc).split())[:200] or type(exc).__name__
        raise DatasetError([DatasetProblem(sheet="(file)", message=f"{path.name} cannot be read as {kind}: "
                                           f"{reason}")]) from None


def load_dataset_file(session: Session, path: Path, *, reset: bool = False, actor: str = "load") -> LoadResult:
    return load_dataset(session, read_dataset(path), reset=reset, actor=actor, source=str(path))


def export_dataset_file(session: Session, path: Path) -> dict[str, Any]:
    """Write the database as a dataset file; the format follows the extension (.yaml/.yml or .xlsx)."""
    data = export_dataset(session)
    if path.suffix.lower() == ".xlsx":
        write_xlsx(data, path)
    else:
        path.write_text(dump_yaml(data), encoding="utf-8")
    return data
