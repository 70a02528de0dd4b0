"""Sign-in with username and password (users and roles from tools.auth)."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from tools.context import Actor
from ui.gateway import Gateway
from ui.html import notice
from ui.i18n import role_label, t
from ui.views.common import Shell


@dataclass
class SignInView:
    username: gr.Textbox
    password: gr.Textbox
    button: gr.Button
    message: gr.HTML
    demo_hint: gr.Markdown


def build(shell: Shell) -> SignInView:
    labels = shell.labels
    with gr.Row():
        gr.Column(scale=1, min_width=0)
        with gr.Column(scale=2, min_width=320, elem_id="op-signin"):
            labels.make(gr.Markdown, {"value": lambda lang: f"## {t(lang, 'signin_title')}"})
            username = labels.make(gr.Textbox, {"label": "username"}, max_lines=1, elem_id="op-username")
            password = labels.make(
                gr.Textbox, {"label": "password"}, type="password", max_lines=1, elem_id="op-password"
            )
            button = labels.make(
                gr.Button, {"value": "signin_button"}, variant="primary", elem_id="op-signin-button"
            )
            message = gr.HTML(elem_id="op-signin-message")
            demo_hint = gr.Markdown("", elem_id="op-demo-hint")
        gr.Column(scale=1, min_width=0)
    return SignInView(username, password, button, message, demo_hint)


def demo_hint(gateway: Gateway, lang: str) -> str:
    """Which demo accounts exist and their password, when the demo password is in use."""
    users = gateway.demo_accounts()
    if not users:
        return ""
    return t(
        lang,
        "signin_demo_hint",
        users=", ".join(f"`{u}`" for u in users),
        password=gateway.settings.ui_demo_password,
    )


def who(actor: Actor | None, lang: str) -> str:
    if actor is None:
        return ""
    name = actor.display_name or actor.username
    return f"**{t(lang, 'signed_in_as', name=name, role=role_label(lang, actor.role))}** · `{actor.username}`"


def failed(lang: str) -> str:
    return notice(t(lang, "signin_failed"), "bad")
