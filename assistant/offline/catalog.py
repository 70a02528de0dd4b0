"""The names the offline assistant resolves: items and customers with their codes, names and aliases."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any

from sqlmodel import Session, col, select

from data_model.tables import Customer, Item, ItemAlias


@dataclass(frozen=True)
class CatalogItem:
    code: str
    name: str
    aliases: tuple[str, ...] = ()
    description: str = ""
    uom: str = "pcs"
    source: str = "buy"
    category: str = ""


@dataclass(frozen=True)
class CatalogCustomer:
    code: str
    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Catalog:
    """A snapshot of the names in one database; its fingerprint keys the shared index built from it."""

    items: tuple[CatalogItem, ...]
    customers: tuple[CatalogCustomer, ...]

    @cached_property
    def fingerprint(self) -> str:
        payload = json.dumps([[asdict(i) for i in self.items], [asdict(c) for c in self.customers]])
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]

    @cached_property
    def item_by_code(self) -> dict[str, CatalogItem]:
        return {i.code: i for i in self.items}

    @cached_property
    def customer_by_code(self) -> dict[str, CatalogCustomer]:
        return {c.code: c for c in self.customers}


def load_catalog(session: Session) -> Catalog:
    """Active items with their aliases, and customers, read from the database (read-only).

    The registry has no tool that lists every item's names yet (find_items needs a query), so the
    name index reads the two name tables directly; nothing here writes.
    """
    aliases: dict[int, list[str]] = defaultdict(list)
    for item_id, alias in session.exec(
        select(ItemAlias.item_id, ItemAlias.alias).order_by(col(ItemAlias.id))
    ).all():
        aliases[item_id].append(alias)
    items = tuple(
        CatalogItem(
            code=row.code,
            name=row.name,
            aliases=tuple(aliases.get(row.id or 0, [])),
            description=row.description,
            uom=row.uom,
            source=row.source,
            category=row.category,
        )
        for row in session.exec(select(Item).where(Item.active == True).order_by(Item.code)).all()  # noqa: E712
    )
    customers = tuple(
        CatalogCustomer(code=c.code, name=c.name, aliases=tuple(a for a in c.aliases.split(";") if a))
        for c in session.exec(select(Customer).order_by(Customer.code)).all()
    )
    return Catalog(items=items, customers=customers)


def catalog_from_dataset(dataset: dict[str, Any]) -> Catalog:
    """The catalog of a dataset file (as loaded from YAML), for evaluations that need no database."""
    items = tuple(
        sorted(
            (
                CatalogItem(
                    code=str(i["code"]),
                    name=str(i.get("name", "")),
                    aliases=tuple(str(a) for a in i.get("aliases", []) or []),
                    description=str(i.get("description", "") or ""),
                    uom=str(i.get("uom", "pcs")),
                    source=str(i.get("source", "buy")),
                    category=str(i.get("category", "") or ""),
                )
                for i in dataset.get("items", [])
                if i.get("active", True)
            ),
            key=lambda i: i.code,
        )
    )
    customers = tuple(
        sorted(
            (
                CatalogCustomer(
                    code=str(c["code"]),
                    name=str(c.get("name", "")),
                    aliases=tuple(str(a) for a in c.get("aliases", []) or []),
                )
                for c in dataset.get("customers", [])
            ),
            key=lambda c: c.code,
        )
    )
    return Catalog(items=items, customers=customers)
