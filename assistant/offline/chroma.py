"""chromadb for the offline assistant: the hashing embedding as a chromadb function, and the clients.

Imported only when a collection is needed (a loose item name, a help question): chromadb takes most of a
second to import, which the command line should not pay for questions that name their records.
"""

from __future__ import annotations

import threading
from typing import Any, cast

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.types import Documents, Embeddable, EmbeddingFunction, Embeddings
from chromadb.utils.embedding_functions import register_embedding_function

from assistant.offline.embedding import DEFAULT_DIMS, embed_text


@register_embedding_function
class HashingEmbedding(EmbeddingFunction[Documents]):
    """Signed feature hashing of character n-grams: works for Chinese and English names, fully offline."""

    def __init__(self, dims: int = DEFAULT_DIMS) -> None:
        self.dims = dims

    def __call__(self, input: Documents) -> Embeddings:
        return [embed_text(text, self.dims) for text in input]

    @staticmethod
    def name() -> str:
        return "orderpilot_hashing_ngrams"

    def get_config(self) -> dict[str, Any]:
        return {"dims": self.dims}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        return HashingEmbedding(int(config.get("dims", DEFAULT_DIMS)))

    def default_space(self) -> str:  # type: ignore[override]
        return "cosine"


def offline_embedding() -> EmbeddingFunction[Embeddable]:
    """The embedding function every collection of the offline assistant is created with."""
    # chromadb types collections over any embeddable input; this one embeds text only
    return cast("EmbeddingFunction[Embeddable]", HashingEmbedding())


def cosine_collection(client: ClientAPI, name: str) -> Any:
    return client.get_or_create_collection(
        name, embedding_function=offline_embedding(), configuration={"hnsw": {"space": "cosine"}}
    )


_LOCK = threading.Lock()
_CLIENTS: dict[str, ClientAPI] = {}


def chroma_client(path: str = "") -> ClientAPI:
    """The process's chromadb client: persistent at ``path``, else in memory."""
    with _LOCK:
        client = _CLIENTS.get(path)
        if client is None:
            client = chromadb.PersistentClient(path=path) if path else chromadb.EphemeralClient()
            _CLIENTS[path] = client
        return client


def add_in_batches(client: ClientAPI, collection: Any, ids: list[str], docs: list[str], metas: list[Any]) -> None:
    """Add rows within the client's largest batch (a factory's whole catalog is more than one call takes)."""
    size = max(1, client.get_max_batch_size())
    for start in range(0, len(ids), size):
        end = start + size
        collection.add(ids=ids[start:end], documents=docs[start:end], metadatas=metas[start:end])
