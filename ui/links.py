"""Record ids in text (SO-…, MO-…, P-…, item codes) as links to their detail views, and parsing those links."""

from __future__ import annotations

import html
import re
from collections.abc import Container
from dataclasses import dataclass

LINK_PREFIX = "#op/"
# Link kinds and the views that open them (ui/app.py): sales orders, production/subcontract/rework orders,
# purchase orders, proposals, items, and the cost report of a production order.
KINDS = ("so", "mo", "po", "proposal", "item", "cost")
DOC_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"SO-\d[A-Za-z0-9-]*"), "so"),
    (re.compile(r"(?:MO|SC|RW)-\d[A-Za-z0-9-]*"), "mo"),
    (re.compile(r"PO-\d[A-Za-z0-9-]*"), "po"),
    (re.compile(r"P-[0-9a-f]{6,}"), "proposal"),
)
# A candidate token: an upper-case code, optionally with dash-separated parts (CAB-3D, MO-2612-05, P-1a2b3c);
# not glued to letters, digits, dashes, dots or slashes before it (so PL-BASE-5N-1 yields no BASE-5N).
TOKEN = re.compile(r"(?<![\w#/.@-])([A-Z][A-Z0-9]*(?:-[A-Za-z0-9]+)*)(?![\w-])")
# Markdown spans left alone: fenced and inline code, and existing links.
PROTECTED = re.compile(r"```.*?```|`[^`\n]*`|\[[^\]\n]*\]\([^)\n]*\)", re.S)
TARGET = re.compile(r"^(?P<kind>[a-z]+)/(?P<key>[A-Za-z0-9_.:-]{1,80})$")


@dataclass(frozen=True)
class LinkTarget:
    kind: str
    key: str


def classify(token: str, items: Container[str]) -> str | None:
    """The link kind of ``token``: an item code of the catalog, a document number, or None."""
    if token in items:
        return "item"
    for pattern, kind in DOC_PATTERNS:
        if pattern.fullmatch(token):
            return kind
    return None


def href(kind: str, key: str) -> str:
    return f"{LINK_PREFIX}{kind}/{key}"


def _linkify(text: str, items: Container[str], make: type[_Markdown] | type[_Html]) -> str:
    def replace(match: re.Match[str]) -> str:
        token = match.group(1)
        kind = classify(token, items)
        return make.link(kind, token) if kind else token

    return TOKEN.sub(replace, text)


class _Markdown:
    @staticmethod
    def link(kind: str, token: str) -> str:
        return f"[{token}]({href(kind, token)})"


class _Html:
    @staticmethod
    def link(kind: str, token: str) -> str:
        return f'<a class="op-link" href="{href(kind, token)}">{token}</a>'


def linkify_markdown(text: str, items: Container[str]) -> str:
    """Markdown with every record id outside code spans and existing links turned into a link."""
    out: list[str] = []
    last = 0
    for span in PROTECTED.finditer(text):
        out.append(_linkify(text[last : span.start()], items, _Markdown))
        out.append(span.group(0))
        last = span.end()
    out.append(_linkify(text[last:], items, _Markdown))
    return "".join(out)


def linkify_html(text: str, items: Container[str]) -> str:
    """Plain text escaped for HTML, with every record id turned into a link."""
    return _linkify(html.escape(text), items, _Html)


def parse_target(raw: str | None) -> LinkTarget | None:
    """The view a link points at (``so/SO-1006`` or ``#op/so/SO-1006``), or None for anything else."""
    value = (raw or "").strip()
    if value.startswith(LINK_PREFIX):
        value = value[len(LINK_PREFIX) :]
    match = TARGET.match(value)
    if match is None or match.group("kind") not in KINDS:
        return None
    return LinkTarget(match.group("kind"), match.group("key"))
