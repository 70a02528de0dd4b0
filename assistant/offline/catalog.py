"""The names the offline assistant resolves: items and customers with their codes, names and aliases."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any


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


def catalog_from_tool(output: dict[str, Any]) -> Catalog:
    """The catalog from the ``list_catalog`` tool's output."""
    items = tuple(
        CatalogItem(
            code=i["code"],
            name=i["name"],
            aliases=tuple(i["aliases"]),
            description=i["description"],
            uom=i["uom"],
            source=i["source"],
            category=i["category"],
        )
        for i in output["items"]
    )
    customers = tuple(
        CatalogCustomer(code=c["code"], name=c["name"], aliases=tuple(c["aliases"]))
        for c in output["customers"]
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
