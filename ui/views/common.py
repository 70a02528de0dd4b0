"""What every view shares: the shell's components, the signed-in user, and errors shown to people."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway
from ui.html import notice
from ui.i18n import Labels, t


@dataclass
class Shell:
    """The parts of the app a view builds on: the gateway to the tools, the label registry, the signed-in
    user (a ``gr.State`` holding an ``Actor`` or None) and the language radio."""

    gateway: Gateway
    labels: Labels
    session: gr.State
    lang: gr.Radio


class NotSignedIn(Exception):
    """A handler ran without a signed-in user (the page outlived its session)."""


def require(actor: Actor | None) -> Actor:
    if actor is None:
        raise NotSignedIn
    return actor


def error_html(lang: str, exc: ToolError | NotSignedIn) -> str:
    """A failure as a message box: not signed in, or the tool's own message."""
    if isinstance(exc, NotSignedIn):
        return notice(t(lang, "not_signed_in"), "warn")
    if exc.code == "not_found":
        key = exc.details.get("key")
        return notice(t(lang, "not_found", key=key) if key else t(lang, "error", message=exc.message), "warn")
    return notice(t(lang, "error", message=exc.message), "bad")


def choices(values: list[tuple[str, str]] | list[str]) -> Any:
    """A dropdown update with new choices, keeping whatever is selected."""
    return gr.update(choices=values)
