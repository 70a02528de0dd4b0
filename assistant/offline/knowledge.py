"""The help pages (help/<topic>.<lang>.md) and their chromadb index, for "what is … / how do I …" questions."""

from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.offline.embedding import normalize_text
from assistant.offline.entities import chroma_client

if TYPE_CHECKING:
    from chromadb.api.types import Metadata

HELP_DIR = Path(__file__).parent / "help"
# A keyword of the page said in the question counts this much on top of the text similarity.
KEYWORD_BONUS = 0.5
MIN_SCORE = 0.2
FALLBACK_TOPIC = "overview"


@dataclass(frozen=True)
class HelpPage:
    topic: str
    language: str
    title: str
    keywords: tuple[str, ...]
    body: str

    @property
    def path(self) -> str:
        """Where the page lives, as cited in answers."""
        return f"assistant/offline/help/{self.topic}.{self.language}.md"


@dataclass(frozen=True)
class HelpMatch:
    page: HelpPage
    score: float


def load_pages(directory: Path = HELP_DIR) -> list[HelpPage]:
    """Every help page: ``# title``, a ``keywords:`` line, then the body in Markdown."""
    pages = []
    for path in sorted(directory.glob("*.md")):
        topic, _, language = path.stem.rpartition(".")
        lines = path.read_text(encoding="utf-8").strip().splitlines()
        title = lines[0].lstrip("# ").strip()
        keywords: tuple[str, ...] = ()
        rest = lines[1:]
        if rest and rest[0].startswith("keywords:"):
            keywords = tuple(k.strip() for k in rest[0][len("keywords:") :].split(",") if k.strip())
            rest = rest[1:]
        pages.append(HelpPage(topic, language, title, keywords, "\n".join(rest).strip()))
    return pages


class KnowledgeBase:
    """Help pages indexed by paragraph in chromadb with the offline embedding."""

    def __init__(self, pages: list[HelpPage], chroma_path: str = "") -> None:
        self.pages = {(p.topic, p.language): p for p in pages}
        digest = hashlib.sha256(
            "".join(p.title + "|".join(p.keywords) + p.body for p in pages).encode("utf-8")
        ).hexdigest()[:16]
        self._name = f"op-help-{digest}"
        self._chroma_path = chroma_path
        self._collection: Any = None

    @property
    def collection(self) -> Any:
        """The indexed pages, built on the first help question (chromadb is imported then)."""
        if self._collection is None:
            self._collection = self._build()
        return self._collection

    def _build(self) -> Any:
        from assistant.offline.chroma import add_in_batches, cosine_collection

        client = chroma_client(self._chroma_path)
        collection = cosine_collection(client, self._name)
        pages = list(self.pages.values())
        if collection.count() == 0 and pages:
            ids: list[str] = []
            docs: list[str] = []
            metas: list[Metadata] = []
            for page in pages:
                chunks = [f"{page.title}. {', '.join(page.keywords)}"]
                chunks += [c for c in re.split(r"\n\s*\n", page.body) if c.strip()]
                for n, chunk in enumerate(chunks):
                    ids.append(f"{page.topic}.{page.language}.{n}")
                    docs.append(chunk)
                    metas.append({"topic": page.topic, "language": page.language})
            add_in_batches(client, collection, ids, docs, metas)
        return collection

    def search(self, question: str, language: str) -> HelpMatch:
        """The page that best answers ``question`` in ``language`` (the overview when none fits)."""
        result = self.collection.query(
            query_texts=[normalize_text(question)], n_results=10, where={"language": language}
        )
        scores: dict[str, float] = {}
        for meta, dist in zip(result["metadatas"][0], result["distances"][0], strict=True):
            topic = str(meta["topic"])
            scores[topic] = max(scores.get(topic, 0.0), 1.0 - float(dist))
        folded = question.casefold()
        for (topic, lang), page in self.pages.items():
            if lang == language and any(k.casefold() in folded for k in page.keywords if len(k) >= 2):
                scores[topic] = scores.get(topic, 0.0) + KEYWORD_BONUS
        best = max(scores.items(), key=lambda kv: (kv[1], kv[0] != FALLBACK_TOPIC), default=None)
        if best is None or best[1] < MIN_SCORE:
            return HelpMatch(self.pages[(FALLBACK_TOPIC, language)], 0.0)
        return HelpMatch(self.pages[(best[0], language)], round(best[1], 4))


_KB: dict[str, KnowledgeBase] = {}
_LOCK = threading.Lock()


def knowledge_base(chroma_path: str = "") -> KnowledgeBase:
    """The process's knowledge base (indexed once)."""
    with _LOCK:
        kb = _KB.get(chroma_path)
        if kb is None:
            kb = _KB[chroma_path] = KnowledgeBase(load_pages(), chroma_path)
        return kb
