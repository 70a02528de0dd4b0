"""Entities in a question: items, customers, order and proposal ids, dates and quantities.

Items and customers are found by their exact codes, names and aliases (a gazetteer, longest first), by
fuzzy code matching (difflib), and — for words that name no record exactly — through a chromadb index of
names, aliases and descriptions embedded with the offline hashing function.
"""

from __future__ import annotations

import difflib
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from assistant.offline.catalog import Catalog, CatalogItem
from assistant.offline.dates import DateMention, extract_dates
from assistant.offline.embedding import embed_text, normalize_text
from assistant.offline.numbers import Quantity, extract_quantities

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.types import Metadata

# Cosine similarity a vector hit needs to count as a candidate, and to be taken as the item when no other
# comes within AMBIGUOUS_RATIO of it (else the question lists the candidates and asks). English words share
# letters with every name, so an English phrase needs a higher score than a Chinese one.
MIN_VECTOR_SCORE = {"zh": 0.2, "en": 0.45}
ACCEPT_SCORE = {"zh": 0.5, "en": 0.65}
HEAD_NOUN_SCORE = 0.6
AMBIGUOUS_RATIO = 0.8
MAX_CANDIDATES = 6
CODE_FUZZY_CUTOFF = 0.8
# Description hits weigh less than names: a description mentions other things too.
FIELD_WEIGHT = {"code": 1.0, "name": 1.0, "alias": 1.0, "description": 0.8}

ORDER_RE = re.compile(
    r"(?<![A-Za-z0-9])(SO|MO|PO|SC|PR)[\s-]?(\d[\dA-Za-z]*(?:-[\dA-Za-z]+)*)(?:/(\d+))?(?![A-Za-z0-9])",
    re.IGNORECASE,
)
PROPOSAL_RE = re.compile(r"(?<![A-Za-z0-9])P-[0-9a-fA-F]{4,}(?![A-Za-z0-9])")
# a code-like token: DSK-1200, dsk1200, DSK 1200 (a space only before digits)
CODE_TOKEN_RE = re.compile(
    r"(?<![A-Za-z0-9-])[A-Za-z][A-Za-z0-9]*(?:[-_]?[A-Za-z0-9]+| (?=\d)[0-9][A-Za-z0-9]*)*"
)
PLACEHOLDERS = ("_item_", "_cust_", "_qty_", "_date_", "_so_", "_mo_", "_po_", "_sc_", "_pr_", "_proposal_")


def prepare(question: str) -> str:
    """NFKC (full-width digits, letters and punctuation to half-width), whitespace collapsed."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", question)).strip()


def lower_same_length(text: str) -> str:
    """Lower-case character by character, keeping every index valid for the original text."""
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _key(code: str) -> str:
    """Codes compared without case or separators: dsk1200 = DSK-1200."""
    return re.sub(r"[^0-9a-z]", "", code.casefold())


@dataclass(frozen=True)
class Mention:
    """A record named in the question: its code, the words used and where."""

    code: str
    surface: str
    start: int
    end: int
    how: str  # exact | code | fuzzy | vector


@dataclass(frozen=True)
class OrderRef:
    kind: str  # SO | MO | PO | SC | PR
    code: str
    line: int | None
    start: int
    end: int


@dataclass(frozen=True)
class Candidate:
    code: str
    name: str
    score: float


@dataclass(frozen=True)
class Resolution:
    """What a phrase resolves to: one item, several candidates (ask which), or nothing."""

    phrase: str
    code: str | None
    candidates: tuple[Candidate, ...] = ()


@dataclass
class Extraction:
    """Everything recognised in one question, and the question with each entity replaced by a placeholder."""

    text: str
    items: list[Mention] = field(default_factory=list)
    customers: list[Mention] = field(default_factory=list)
    orders: list[OrderRef] = field(default_factory=list)
    proposals: list[str] = field(default_factory=list)
    dates: list[DateMention] = field(default_factory=list)
    quantities: list[Quantity] = field(default_factory=list)
    delex: str = ""


@dataclass(frozen=True)
class _Surface:
    text: str  # lower-cased
    code: str
    kind: str  # item | customer
    field: str


class EntityIndex:
    """Names of one catalog: a gazetteer for exact mentions and a chromadb collection for the rest."""

    def __init__(self, catalog: Catalog, client: Callable[[], ClientAPI]) -> None:
        """``client`` makes the chromadb client when the index is first searched (not every question is)."""
        self.catalog = catalog
        surfaces: list[_Surface] = []
        for item in catalog.items:
            surfaces.append(_Surface(item.code.lower(), item.code, "item", "code"))
            for fld, text in [("name", item.name), *[("alias", a) for a in item.aliases]]:
                if len(text.strip()) >= 2:
                    surfaces.append(_Surface(lower_same_length(prepare(text)), item.code, "item", fld))
        for cust in catalog.customers:
            surfaces.append(_Surface(cust.code.lower(), cust.code, "customer", "code"))
            for text in (cust.name, *cust.aliases):
                if len(text.strip()) >= 2:
                    surfaces.append(_Surface(lower_same_length(prepare(text)), cust.code, "customer", "name"))
        self.surfaces = sorted(surfaces, key=lambda s: (-len(s.text), s.code))
        self.code_keys = {_key(i.code): i.code for i in catalog.items}
        self._client = client
        self._collection: Any = None
        self._collection_lock = threading.Lock()

    @property
    def collection(self) -> Any:
        with self._collection_lock:
            if self._collection is None:
                self._collection = self._build_collection(self._client())
            return self._collection

    def _build_collection(self, client: ClientAPI) -> Any:
        from assistant.offline.chroma import add_in_batches, cosine_collection

        collection = cosine_collection(client, f"op-items-{self.catalog.fingerprint}")
        if collection.count() == 0 and self.catalog.items:
            ids: list[str] = []
            docs: list[str] = []
            metas: list[Metadata] = []
            for item in self.catalog.items:
                texts = [("code", item.code), ("name", item.name)]
                texts += [("alias", a) for a in item.aliases]
                if item.description:
                    texts.append(("description", item.description))
                for n, (fld, text) in enumerate(texts):
                    if text.strip():
                        ids.append(f"{item.code}|{n}")
                        docs.append(text)
                        metas.append({"code": item.code, "field": fld})
            add_in_batches(client, collection, ids, docs, metas)
        return collection

    # ------------------------------------------------------------------ extraction

    def extract(self, question: str, today: date) -> Extraction:
        """Find order ids, proposal ids, items and customers, dates and quantities, in that order."""
        text = prepare(question)
        low = lower_same_length(text)
        taken: list[tuple[int, int, str]] = []
        ex = Extraction(text=text)

        def free(start: int, end: int) -> bool:
            return not any(start < e and s < end for s, e, _ in taken)

        for m in PROPOSAL_RE.finditer(text):
            ex.proposals.append("P-" + m.group(0)[2:].lower())
            taken.append((m.start(), m.end(), "_proposal_"))
        for m in ORDER_RE.finditer(text):
            if not free(m.start(), m.end()):
                continue
            kind = m.group(1).upper()
            code = f"{kind}-{m.group(2).upper()}"
            ex.orders.append(
                OrderRef(kind, code, int(m.group(3)) if m.group(3) else None, m.start(), m.end())
            )
            taken.append((m.start(), m.end(), f"_{kind.lower()}_"))
        for surface in self.surfaces:
            start = low.find(surface.text)
            while start >= 0:
                end = start + len(surface.text)
                if (
                    _is_latin(low[end - 1])
                    and low[end : end + 1] == "s"
                    and not _is_latin(low[end + 1 : end + 2] or " ")
                ):
                    end += 1  # a plural: standing desks
                if surface.kind == "item":
                    end = self._with_model_number(low, end, surface)
                if free(start, end) and self._bounded(low, start, end):
                    mention = Mention(surface.code, text[start:end], start, end, "exact")
                    if surface.kind == "item":
                        ex.items.append(mention)
                        taken.append((start, end, "_item_"))
                    else:
                        ex.customers.append(mention)
                        taken.append((start, end, "_cust_"))
                start = low.find(surface.text, end)
        for m in CODE_TOKEN_RE.finditer(text):
            token = m.group(0)
            if not free(m.start(), m.end()) or not (re.search(r"\d", token) or "-" in token):
                continue
            matched = self.match_code(token)
            if matched is not None:
                ex.items.append(Mention(matched, token, m.start(), m.end(), "code"))
                taken.append((m.start(), m.end(), "_item_"))
        masked = self._mask(text, taken)
        for d in extract_dates(masked, today):
            ex.dates.append(d)
            taken.append((d.start, d.end, "_date_"))
        masked = self._mask(text, taken)
        for q in extract_quantities(masked):
            ex.quantities.append(q)
            taken.append((q.start, q.end, "_qty_"))
        ex.items.sort(key=lambda m: m.start)
        ex.customers.sort(key=lambda m: m.start)
        ex.delex = self._delex(text, taken)
        return ex

    def _with_model_number(self, low: str, end: int, surface: _Surface) -> int:
        """Where a name is written with digits the item's own name carries (升降桌1400 for 电动升降桌1400), the
        digits are part of the name, not a quantity."""
        digits = re.match(r"\d+", low[end:])
        item = self.catalog.item_by_code.get(surface.code)
        if digits is None or item is None:
            return end
        written = surface.text + digits.group(0)
        names = (lower_same_length(prepare(n)) for n in (item.name, *item.aliases))
        return end + len(digits.group(0)) if any(written in n for n in names) else end

    @staticmethod
    def _bounded(low: str, start: int, end: int) -> bool:
        """Latin words and codes must stand alone (desk is not in desktop); CJK needs no boundary."""
        if _is_latin(low[start]) and start > 0 and _is_latin(low[start - 1]):
            return False
        return not (_is_latin(low[end - 1]) and end < len(low) and _is_latin(low[end]))

    @staticmethod
    def _mask(text: str, taken: list[tuple[int, int, str]]) -> str:
        chars = list(text)
        for s, e, _ in taken:
            for i in range(s, e):
                chars[i] = " " if chars[i].isspace() else "\u3000"
        return "".join(chars)

    @staticmethod
    def _delex(text: str, taken: list[tuple[int, int, str]]) -> str:
        out, pos = [], 0
        for s, e, tag in sorted(taken):
            out.append(text[pos:s])
            out.append(f" {tag} ")
            pos = e
        out.append(text[pos:])
        return re.sub(r"\s+", " ", "".join(out)).strip()

    def match_code(self, token: str) -> str | None:
        """An item code written loosely (dsk1200, DSK 1200) or with a small typo (DKS-1200)."""
        key = _key(token)
        if len(key) < 3:
            return None
        if key in self.code_keys:
            code = self.code_keys[key]
            # a plain word is no code with its hyphen left out: "casters" is a plural, not CASTER-S
            if not (token.isalpha() and not code.isalpha()):
                return code
        if not (re.search(r"\d", key) and re.search(r"[a-z]", key)) and "-" not in token:
            return None
        close = difflib.get_close_matches(key, list(self.code_keys), n=2, cutoff=CODE_FUZZY_CUTOFF)
        if len(close) == 1 or (len(close) == 2 and _ratio(key, close[0]) > _ratio(key, close[1])):
            return self.code_keys[close[0]]
        return None

    # ------------------------------------------------------------------ resolving a loose phrase

    def resolve(self, phrase: str, restrict: tuple[str, ...] = ()) -> Resolution:
        """Resolve words that name no record exactly ("桌子", "ergo chair"): one item, candidates, or none.

        With ``restrict`` (the candidates offered in the previous turn), only those are considered.
        """
        phrase = phrase.strip()
        if not phrase:
            return Resolution(phrase, None)
        code = self.match_code(phrase)
        if code is not None and (not restrict or code in restrict):
            return Resolution(phrase, code)
        low = lower_same_length(prepare(phrase)).strip()
        # a Chinese head noun names a kind of item: 桌子 → every item whose names contain 桌
        cores = {low, low[:-1]} if len(low) >= 2 and low.endswith("子") else {low}
        variants = cores | {re.sub(r"(?<=[a-z])e?s\b", "", low)}
        exact = {s.code for s in self.surfaces if s.kind == "item" and s.text in variants}
        exact &= set(restrict) if restrict else exact
        if len(exact) == 1:
            return Resolution(phrase, exact.pop())
        script = phrase_script(phrase)
        floor = MIN_VECTOR_SCORE[script]
        scores = self.search(phrase, restrict=restrict)
        headed: set[str] = set()
        for item in self.catalog.items:
            if restrict and item.code not in restrict:
                continue
            names = [lower_same_length(prepare(t)) for t in (item.code, item.name, *item.aliases)]
            if any(_english_head(n) == _singular(low) for n in names if _english_head(n)):
                headed.add(item.code)  # "pedestals": a mobile pedestal is one, a pedestal caster is not
            for core in cores:
                hits = [n for n in names if core and core in n]
                if hits:
                    similarity = max(float(embed_text(core) @ embed_text(n)) for n in hits)
                    # a Chinese compound ends in its head noun: 办公桌 is a kind of 桌, 桌面板 is not
                    if any(_head(n).endswith(core) for n in hits if _head(n)):
                        similarity = max(similarity, HEAD_NOUN_SCORE)
                        headed.add(item.code)
                    scores[item.code] = max(scores.get(item.code, 0.0), similarity, floor)
        ranked = sorted(
            (Candidate(c, self.catalog.item_by_code[c].name, round(s, 4)) for c, s in scores.items()),
            key=lambda c: (-c.score, c.code),
        )
        ranked = [c for c in ranked if c.score >= floor]
        if not ranked:
            return Resolution(phrase, None)
        if len(headed) == 1 and not restrict:
            # the only item that is a kind of what was named (办公桌 → 办公桌1200, not 办公桌纸箱)
            return Resolution(phrase, headed.pop(), tuple(ranked[:MAX_CANDIDATES]))
        best = ranked[0]
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        # among the candidates just offered, a clear best is enough
        accept = floor if restrict else ACCEPT_SCORE[script]
        if best.score >= accept and runner_up < best.score * AMBIGUOUS_RATIO:
            return Resolution(phrase, best.code, tuple(ranked[:MAX_CANDIDATES]))
        return Resolution(phrase, None, tuple(ranked[:MAX_CANDIDATES]))

    def search(self, phrase: str, k: int = 20, restrict: tuple[str, ...] = ()) -> dict[str, float]:
        """Best cosine similarity per item code for ``phrase`` in the chromadb index."""
        count = self.collection.count()
        if count == 0:
            return {}
        where: Any = {"code": {"$in": list(restrict)}} if restrict else None
        result = self.collection.query(
            query_texts=[normalize_text(phrase)], n_results=min(k, count), where=where
        )
        scores: dict[str, float] = {}
        for meta, dist in zip(result["metadatas"][0], result["distances"][0], strict=True):
            code = str(meta["code"])
            score = (1.0 - float(dist)) * FIELD_WEIGHT.get(str(meta["field"]), 1.0)
            scores[code] = max(scores.get(code, 0.0), score)
        return scores

    def item(self, code: str) -> CatalogItem | None:
        return self.catalog.item_by_code.get(code)


def phrase_script(phrase: str) -> str:
    """zh when the phrase has Chinese characters, else en."""
    return "zh" if re.search(r"[\u3400-\u9fff]", phrase) else "en"


def _singular(word: str) -> str:
    return re.sub(r"(?<=[a-z])(?<!s)s$", "", word.strip())


def _english_head(name: str) -> str:
    """The last English word of a name, singular (mobile pedestal → pedestal); '' for other names."""
    m = re.search(r"(?:^|\s)([a-z]+)$", name.strip())
    return _singular(m.group(1)) if m and re.fullmatch(r"[a-z0-9 .\-]+", name.strip()) else ""


def _head(name: str) -> str:
    """The Chinese part of a name up to its last Chinese character (办公桌1200 → 办公桌)."""
    m = re.search(r"^.*[\u3400-\u9fff]", name)
    return m.group(0) if m else ""


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


# ---------------------------------------------------------------------- one index per catalog per process

_LOCK = threading.Lock()
_INDEXES: dict[tuple[str, str], EntityIndex] = {}


def chroma_client(path: str = "") -> ClientAPI:
    """The process's chromadb client (see assistant.offline.chroma; imported on first use)."""
    from assistant.offline.chroma import chroma_client as client

    return client(path)


def entity_index(catalog: Catalog, chroma_path: str = "") -> EntityIndex:
    """The shared index of ``catalog`` (built once per catalog content and process)."""
    key = (chroma_path, catalog.fingerprint)
    with _LOCK:
        index = _INDEXES.get(key)
    if index is None:
        index = EntityIndex(catalog, lambda: chroma_client(chroma_path))
        with _LOCK:
            index = _INDEXES.setdefault(key, index)
    return index
