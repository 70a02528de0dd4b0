"""The names of every item and customer, for resolving what people call them (the assistant's name index)."""

from __future__ import annotations

from collections import defaultdict

from pydantic import BaseModel, Field
from sqlmodel import col, select

from data_model.tables import Customer, Item, ItemAlias
from tools.context import ToolContext
from tools.proposals import current_versions
from tools.registry import tool


class ListCatalogIn(BaseModel):
    if_version_not: int | None = Field(
        default=None,
        description="Return no rows when the master data is still at this version (a cache check).",
    )


class CatalogItemOut(BaseModel):
    code: str
    name: str
    aliases: list[str]
    description: str
    uom: str
    source: str
    category: str


class CatalogCustomerOut(BaseModel):
    code: str
    name: str
    aliases: list[str]


class ListCatalogOut(BaseModel):
    version: int = Field(description="Version of the master data these names belong to.")
    unchanged: bool = Field(description="True when if_version_not matched: the caller's copy is current.")
    items: list[CatalogItemOut]
    customers: list[CatalogCustomerOut]


@tool(kind="read")
def list_catalog(ctx: ToolContext, args: ListCatalogIn) -> ListCatalogOut:
    """List every active item (code, name, aliases, description, unit, source, category) and every customer.

    For building a name index or a picker, not for answering questions: to look an item up by a word use
    find_items. With if_version_not equal to the current master-data version, nothing is listed.
    """
    version = current_versions(ctx.session, ["master"])["master"]
    if args.if_version_not is not None and args.if_version_not == version:
        return ListCatalogOut(version=version, unchanged=True, items=[], customers=[])
    aliases: dict[int, list[str]] = defaultdict(list)
    for item_id, alias in ctx.session.exec(
        select(ItemAlias.item_id, ItemAlias.alias).order_by(col(ItemAlias.id))
    ):
        aliases[item_id].append(alias)
    items = [
        CatalogItemOut(
            code=row.code,
            name=row.name,
            aliases=aliases.get(row.id or 0, []),
            description=row.description,
            uom=row.uom,
            source=row.source,
            category=row.category,
        )
        for row in ctx.session.exec(select(Item).where(col(Item.active)).order_by(col(Item.code)))
    ]
    customers = [
        CatalogCustomerOut(
            code=c.code, name=c.name, aliases=[a.strip() for a in c.aliases.split(";") if a.strip()]
        )
        for c in ctx.session.exec(select(Customer).order_by(col(Customer.code)))
    ]
    return ListCatalogOut(version=version, unchanged=False, items=items, customers=customers)
