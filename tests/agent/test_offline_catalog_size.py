"""A catalog larger than one chromadb call takes is indexed in batches."""

from __future__ import annotations

from assistant.offline.catalog import Catalog, CatalogItem
from assistant.offline.chroma import chroma_client
from assistant.offline.entities import EntityIndex


def test_a_catalog_over_the_chromadb_batch_limit_is_indexed() -> None:
    client = chroma_client()
    n = client.get_max_batch_size() + 10
    items = tuple(CatalogItem(code=f"P-{i:05d}", name=f"零件{i}") for i in range(n))
    index = EntityIndex(Catalog(items=items, customers=()), lambda: client)
    # two rows per item (code and name)
    assert index.collection.count() == 2 * n
