"""The web app: sign-in, language switch, the pages, record links; ``mount_ui`` serves it inside the API app."""

from __future__ import annotations

from typing import Any

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from data_model.settings import Settings, get_settings
from tools.context import Actor
from ui.gateway import Gateway
from ui.i18n import LANGUAGES, Labels, language_from_header, t
from ui.links import parse_target
from ui.suggestions import Facts
from ui.theme import CSS, LINK_SCRIPT, LINK_VALUE_SCRIPT, theme
from ui.views import chat, costs, home, orders, planning, proposals, records, signin
from ui.views.common import Shell

UI_PATH = "/ui"
CONCURRENCY_LIMIT = 8  # events of one kind run at once (gradio's default of 1 would queue every user's chat)


def build_ui(settings: Settings | None = None) -> gr.Blocks:
    """The whole UI on ``settings``' database; nothing is read until someone opens the page."""
    settings = settings or get_settings()
    gateway = Gateway(settings)
    labels = Labels()
    with gr.Blocks(title="OrderPilot", analytics_enabled=False, fill_width=True) as blocks:
        session = gr.State(None)
        with gr.Row(elem_id="op-header", equal_height=True):
            labels.make(
                gr.Markdown,
                {"value": lambda lang: f"## {t(lang, 'app_title')}\n{t(lang, 'app_tagline')}"},
                elem_classes=["op-title"],
                scale=4,
            )
            who = gr.Markdown("", elem_id="op-who", scale=2)
            lang = gr.Radio(
                LANGUAGES,
                value="zh",
                show_label=False,
                container=False,
                scale=1,
                min_width=170,
                elem_id="op-lang",
            )
            sign_out = labels.make(
                gr.Button, {"value": "sign_out"}, size="sm", visible=False, scale=0, min_width=90
            )
        shell = Shell(gateway=gateway, labels=labels, session=session, lang=lang)
        with gr.Column(visible=True) as signin_column:
            sign_in = signin.build(shell)
        with gr.Column(visible=False) as main_column, gr.Tabs(selected="home", elem_id="op-tabs") as tabs:
            with labels.make(gr.Tab, {"label": "tab_home"}, id="home"):
                home_view = home.build(shell)
            with labels.make(gr.Tab, {"label": "tab_chat"}, id="chat", elem_id="op-tab-chat"):
                chat_view = chat.build(shell)
            with labels.make(
                gr.Tab, {"label": "tab_proposals"}, id="proposals", elem_id="op-tab-proposals"
            ) as proposals_tab:
                proposals_view = proposals.build(shell)
            with labels.make(gr.Tab, {"label": "tab_orders"}, id="orders", elem_id="op-tab-orders"):
                orders_view = orders.build(shell)
            with labels.make(gr.Tab, {"label": "tab_planning"}, id="planning", elem_id="op-tab-planning"):
                planning_view = planning.build(shell)
            with labels.make(gr.Tab, {"label": "tab_costs"}, id="costs", elem_id="op-tab-costs"):
                costs_view = costs.build(shell)
            with labels.make(gr.Tab, {"label": "tab_records"}, id="records", elem_id="op-tab-records"):
                records_view = records.build(shell)
        link_value = gr.Textbox(visible=False)
        link_button = gr.Button("go", elem_id="op-link-button", elem_classes=["op-hidden"])

        # ------------------------------------------------------------ refreshing every page

        page_outputs: list[Any] = [
            who,
            *home_view.outputs,
            *chat_view.suggestion_outputs,
            *proposals_view.list_outputs,
            *orders_view.list_outputs,
            planning_view.shortage_picker,
        ]

        def refresh_pages(
            actor: Actor | None, language: str, facts: Facts, status: str, only: bool
        ) -> list[Any]:
            return [
                signin.who(actor, language),
                *home.render(gateway, actor, language),
                *chat.render_suggestions(gateway, actor, language, facts),
                *proposals.render_list(gateway, actor, language, status),
                *orders.render_list(gateway, actor, language, only),
                planning.shortage_choices(gateway, actor),
            ]

        page_inputs = [session, lang, chat_view.facts, proposals_view.status, orders_view.open_only]

        # ------------------------------------------------------------ page load, language, sign-in, sign-out

        def on_load(request: gr.Request) -> tuple[str, str]:
            language = language_from_header(request.headers.get("accept-language") if request else None)
            return language, signin.demo_hint(gateway, language)

        blocks.load(on_load, None, [lang, sign_in.demo_hint], show_progress="hidden")
        lang.change(lambda language: labels.updates(language), [lang], labels.components).then(
            refresh_pages, page_inputs, page_outputs
        ).then(lambda language: signin.demo_hint(gateway, language), [lang], [sign_in.demo_hint])

        def on_sign_in(username: str, password: str, language: str) -> list[Any]:
            actor = gateway.sign_in(username, password)
            if actor is None:
                return [None, gr.skip(), gr.skip(), gr.skip(), signin.failed(language), ""]
            return [actor, gr.update(visible=False), gr.update(visible=True), gr.update(visible=True), "", ""]

        def after_sign_in(actor: Actor | None) -> tuple[Facts, str]:
            return chat.load_facts(gateway, actor), costs.default_period(gateway, actor)

        signed_in = [session, signin_column, main_column, sign_out, sign_in.message, sign_in.password]
        for trigger in (sign_in.button.click, sign_in.password.submit):
            # the pages first; then what the suggested questions name, which takes a few tool calls
            trigger(on_sign_in, [sign_in.username, sign_in.password, lang], signed_in).then(
                refresh_pages, page_inputs, page_outputs
            ).then(after_sign_in, [session], [chat_view.facts, costs_view.period]).then(
                lambda actor, language, facts: chat.render_suggestions(gateway, actor, language, facts),
                [session, lang, chat_view.facts],
                chat_view.suggestion_outputs,
            )

        def on_sign_out() -> list[Any]:
            return [None, gr.update(visible=True), gr.update(visible=False), gr.update(visible=False), "", [], [],
                    None, Facts(), "", gr.Tabs(selected="home")]  # fmt: skip

        sign_out.click(
            on_sign_out,
            None,
            [session, signin_column, main_column, sign_out, who, chat_view.chatbot, chat_view.messages,
             chat_view.thread, chat_view.facts, sign_in.message, tabs],
        )  # fmt: skip

        # ------------------------------------------------------------ record links

        targets: list[Any] = [
            tabs,
            orders_view.picker, *orders_view.detail_outputs,
            proposals_view.picker, *proposals_view.detail_outputs,
            records_view.key, records_view.detail,
            costs_view.picker, *costs_view.report_outputs,
        ]  # fmt: skip

        def navigate(raw: str, actor: Actor | None, language: str, period: str) -> list[Any]:
            return open_link(gateway, raw, actor, language, period)

        link_button.click(None, None, [link_value], js=LINK_VALUE_SCRIPT).then(
            navigate, [link_value, session, lang, costs_view.period], targets
        )
        proposals_tab.select(
            lambda a, language, s: proposals.render_list(gateway, a, language, s),
            [session, lang, proposals_view.status],
            proposals_view.list_outputs,
        )
    blocks.queue(default_concurrency_limit=CONCURRENCY_LIMIT)
    return blocks


LINK_OUTPUTS = 13  # tabs; orders picker, detail, shortages; proposals picker, detail, outcome; lookup key,
# detail; costs picker, report, chart, details (the order of ``targets`` in build_ui)


def open_link(gateway: Gateway, raw: str, actor: Actor | None, lang: str, period: str) -> list[Any]:
    """Updates that open the view a record link points at: tab, picker and detail (see ``targets``)."""
    out: list[Any] = [gr.skip()] * LINK_OUTPUTS
    target = parse_target(raw)
    if target is None:
        return out
    key = target.key
    if target.kind == "so":
        out[0] = gr.Tabs(selected="orders")
        out[1:4] = [gr.update(value=key), *orders.render_detail(gateway, actor, lang, key)]
    elif target.kind == "proposal":
        out[0] = gr.Tabs(selected="proposals")
        out[4:7] = [gr.update(value=key), proposals.render_detail(gateway, actor, lang, key), ""]
    elif target.kind == "cost":
        out[0] = gr.Tabs(selected="costs")
        out[9:13] = [gr.update(value=key), *costs.render_report(gateway, actor, lang, period, key)]
    else:
        out[0] = gr.Tabs(selected="records")
        out[7:9] = [key, records.render(gateway, actor, lang, key)]
    return out


def mount_ui(app: FastAPI, settings: Settings, path: str = UI_PATH) -> FastAPI:
    """Serve the UI at ``path`` of ``app`` (and redirect "/" to it); no CDN, analytics or share links."""

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{path}/")

    return gr.mount_gradio_app(
        app,
        build_ui(settings),
        path=path,
        theme=theme(),
        css=CSS,
        js=LINK_SCRIPT,
        footer_links=[],
        show_error=False,
        ssr_mode=False,
        pwa=False,
        mcp_server=False,
    )
