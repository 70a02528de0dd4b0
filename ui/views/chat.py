"""The assistant: answers streamed as they come, the tool calls behind each answer, record ids as links."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import gradio as gr

from assistant.backend import BackendUnavailable, FinalEvent, TokenEvent, ToolCallEvent, ToolResultEvent
from tools.context import Actor
from tools.errors import ToolError
from ui.gateway import Gateway
from ui.i18n import t
from ui.links import href, linkify_markdown
from ui.suggestions import Facts, gather_facts, suggestions
from ui.views.common import NotSignedIn, Shell, require

MAX_SUGGESTIONS = 4
MAX_TOOL_JSON_CHARS = 1500
Message = dict[str, Any]


@dataclass
class ChatView:
    chatbot: gr.Chatbot
    question: gr.Textbox
    send: gr.Button
    new_chat: gr.Button
    suggestion_buttons: list[gr.Button]
    backend: gr.Markdown
    messages: gr.State
    thread: gr.State
    facts: gr.State

    @property
    def suggestion_outputs(self) -> list[Any]:
        return [self.backend, *self.suggestion_buttons]


def build(shell: Shell) -> ChatView:
    labels = shell.labels
    messages = gr.State([])
    thread = gr.State(None)
    facts = gr.State(Facts())
    chatbot = labels.make(
        gr.Chatbot,
        {"label": "chat_label", "placeholder": "chat_welcome"},
        elem_id="op-chat",
        height=520,
        layout="panel",
        feedback_options=None,
        buttons=["copy"],
    )
    labels.make(
        gr.Markdown, {"value": lambda lang: f"**{t(lang, 'suggested')}**"}, elem_classes=["op-suggest-title"]
    )
    with gr.Row(elem_id="op-suggestions"):
        suggestion_buttons = [
            gr.Button("", size="sm", visible=False, elem_classes=["op-suggestion"])
            for _ in range(MAX_SUGGESTIONS)
        ]
    with gr.Row(elem_classes=["op-controls"]):
        question = labels.make(
            gr.Textbox,
            {"placeholder": "chat_placeholder", "label": "chat_input"},
            show_label=False,
            lines=1,
            max_lines=4,
            scale=6,
            elem_id="op-question",
            autofocus=False,
        )
        send = labels.make(gr.Button, {"value": "send"}, variant="primary", scale=1, elem_id="op-send")
        new_chat = labels.make(gr.Button, {"value": "new_chat"}, scale=1)
    backend = gr.Markdown("", elem_classes=["op-muted"])
    view = ChatView(chatbot, question, send, new_chat, suggestion_buttons, backend, messages, thread, facts)

    gateway = shell.gateway

    def run(q: str, msgs: list[Message], tid: str | None, actor: Actor | None, lang: str) -> Iterator[Any]:
        yield from respond(gateway, q, msgs, tid, actor, lang)

    outputs = [chatbot, messages, thread, question]
    inputs_tail = [messages, thread, shell.session, shell.lang]
    send.click(run, [question, *inputs_tail], outputs)
    question.submit(run, [question, *inputs_tail], outputs)
    for button in suggestion_buttons:
        button.click(run, [button, *inputs_tail], outputs)
    new_chat.click(lambda: ([], [], None, ""), None, outputs)
    return view


def backend_line(gateway: Gateway, lang: str) -> str:
    try:
        info = gateway.backend()
    except BackendUnavailable as exc:
        return t(lang, "backend_unknown", message=exc.message)
    if info["backend"] == "offline":
        return t(lang, "backend_offline")
    return t(lang, "backend_llm", model=info.get("model", ""))


def load_facts(gateway: Gateway, actor: Actor | None) -> Facts:
    """What the suggested questions name, for the signed-in user (nothing when signed out)."""
    if actor is None:
        return Facts()
    try:
        return gather_facts(gateway, actor)
    except ToolError:
        return Facts()  # suggestions are a convenience: without them the chat still works


def render_suggestions(gateway: Gateway, actor: Actor | None, lang: str, facts: Facts) -> list[Any]:
    """The backend line and the suggestion buttons for the user's role."""
    if actor is None:
        return ["", *[gr.update(visible=False) for _ in range(MAX_SUGGESTIONS)]]
    available = gateway.tool_names()
    texts = suggestions(actor.role, lang, facts, available)
    buttons = [
        gr.update(value=texts[i], visible=True) if i < len(texts) else gr.update(value="", visible=False)
        for i in range(MAX_SUGGESTIONS)
    ]
    return [backend_line(gateway, lang), *buttons]


def _json_block(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, indent=1)
    if len(text) > MAX_TOOL_JSON_CHARS:
        text = text[:MAX_TOOL_JSON_CHARS] + "\n…"
    return f"```json\n{text}\n```"


def _say(content: str) -> Message:
    return {"role": "assistant", "content": content}


def respond(
    gateway: Gateway,
    question: str | None,
    messages: list[Message],
    thread_id: str | None,
    actor: Actor | None,
    lang: str,
) -> Iterator[tuple[list[Message], list[Message], str | None, Any]]:
    """Ask the assistant and yield the conversation as it grows: the question, each tool call (collapsible,
    pending then done), the answer with its record ids linked, and any proposal it stored."""
    text = (question or "").strip()
    if not text:
        yield messages, messages, thread_id, gr.skip()
        return
    try:
        current = gateway.current_actor(require(actor))
    except NotSignedIn:
        shown = [*messages, _say(t(lang, "not_signed_in"))]
        yield shown, shown, thread_id, gr.skip()
        return
    except ToolError as exc:
        shown = [*messages, _say(t(lang, "session_ended", reason=exc.message))]
        yield shown, shown, thread_id, gr.skip()
        return
    items = gateway.items(current)
    convo: list[Message] = [*messages, {"role": "user", "content": text}]
    yield convo, convo, thread_id, ""
    calls: dict[str, int] = {}
    answer = ""
    answer_at: int | None = None
    for event in gateway.ask(current, text, thread_id):
        if isinstance(event, ToolCallEvent):
            calls[event.id] = len(convo)
            convo.append(
                {
                    "role": "assistant",
                    "content": f"**{t(lang, 'tool_args')}**\n{_json_block(event.args)}",
                    "metadata": {"title": t(lang, "tool_call_title", name=event.name), "status": "pending"},
                }
            )
        elif isinstance(event, ToolResultEvent):
            index = calls.get(event.id)
            if index is not None:
                message = dict(convo[index])
                status = (
                    t(lang, "tool_ok")
                    if event.ok
                    else t(lang, "tool_failed", message=event.error.message if event.error else "")
                )
                body = message["content"] + f"\n\n**{t(lang, 'tool_result')}**: {status}"
                if event.ok and event.output is not None:
                    body += "\n" + _json_block(event.output)
                message["content"] = body
                message["metadata"] = {**message["metadata"], "status": "done"}
                convo[index] = message
        elif isinstance(event, TokenEvent):
            answer += event.text
            if answer_at is None:
                answer_at = len(convo)
                convo.append(_say(""))
            convo[answer_at] = _say(linkify_markdown(answer, items))
        elif isinstance(event, FinalEvent):
            reply = event.reply
            thread_id = reply.thread_id
            final = linkify_markdown(reply.answer, items)
            if answer_at is None:
                convo.append(_say(final))
            else:
                convo[answer_at] = _say(final)
            for proposal in reply.proposals:
                pid = str(proposal.get("proposal_id", ""))
                summary = proposal.get("summary_en" if lang == "en" else "summary_zh") or proposal.get(
                    "summary", ""
                )
                convo.append(
                    _say(t(lang, "proposal_made", link=f"[{pid}]({href('proposal', pid)})", summary=summary))
                )
            if reply.error is not None and reply.error.message not in reply.answer:
                convo.append(_say(t(lang, "assistant_error", message=reply.error.message)))
        yield convo, convo, thread_id, gr.skip()
