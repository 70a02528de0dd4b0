"""Proposals: what is waiting for a decision, the change each would apply, and Confirm / Reject."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import gradio as gr

from tools.context import Actor
from tools.errors import ToolError
from tools.proposals import ProposalDetail
from ui.gateway import Gateway
from ui.html import badge, esc, heading, link, notice, record, table
from ui.i18n import TEXTS, role_label, status_label, t
from ui.views.common import NotSignedIn, Shell, error_html, require

STATUS_TONES = {
    "pending": "warn",
    "confirmed": "ok",
    "rejected": "muted",
    "expired": "muted",
    "failed": "bad",
}


@dataclass
class ProposalsView:
    status: gr.Radio
    refresh_button: gr.Button
    listing: gr.HTML
    picker: gr.Dropdown
    detail: gr.HTML
    reason: gr.Textbox
    confirm_button: gr.Button
    reject_button: gr.Button
    outcome: gr.HTML

    @property
    def list_outputs(self) -> list[Any]:
        return [self.listing, self.picker]

    @property
    def detail_outputs(self) -> list[Any]:
        return [self.detail, self.outcome]


def _status_choices(lang: str) -> list[tuple[str, str]]:
    return [
        (t(lang, "filter_mine"), "mine"),
        (t(lang, "filter_pending"), "pending"),
        (t(lang, "filter_all"), "all"),
    ]


def build(shell: Shell) -> ProposalsView:
    labels = shell.labels
    with gr.Row(elem_classes=["op-controls"]):
        status = labels.make(
            gr.Radio,
            {"label": "proposals_filter", "choices": _status_choices},
            value="mine",
            scale=1,
        )
        refresh_button = labels.make(gr.Button, {"value": "refresh"}, size="sm", scale=0, min_width=90)
    listing = gr.HTML(elem_id="op-proposals-list")
    picker = labels.make(
        gr.Dropdown,
        {"label": "proposal_pick"},
        choices=[],
        allow_custom_value=True,
        elem_id="op-proposal-pick",
    )
    detail = gr.HTML(elem_id="op-proposal-detail")
    with gr.Row(elem_classes=["op-controls"]):
        reason = labels.make(gr.Textbox, {"label": "reject_reason"}, max_lines=2, scale=3)
        confirm_button = labels.make(
            gr.Button, {"value": "confirm"}, variant="primary", scale=1, elem_id="op-confirm"
        )
        reject_button = labels.make(
            gr.Button, {"value": "reject"}, variant="stop", scale=1, elem_id="op-reject"
        )
    outcome = gr.HTML(elem_id="op-proposal-outcome")
    view = ProposalsView(
        status, refresh_button, listing, picker, detail, reason, confirm_button, reject_button, outcome
    )

    gateway = shell.gateway
    list_inputs = [shell.session, shell.lang, status]
    refresh_button.click(lambda a, lang, s: render_list(gateway, a, lang, s), list_inputs, view.list_outputs)
    status.change(lambda a, lang, s: render_list(gateway, a, lang, s), list_inputs, view.list_outputs)
    picker.input(
        lambda a, lang, pid: (render_detail(gateway, a, lang, pid), ""),
        [shell.session, shell.lang, picker],
        view.detail_outputs,
    )
    confirm_button.click(
        lambda a, lang, pid: decide(gateway, a, lang, pid, "confirm", ""),
        [shell.session, shell.lang, picker],
        view.detail_outputs,
    ).then(lambda a, lang, s: render_list(gateway, a, lang, s), list_inputs, view.list_outputs)
    reject_button.click(
        lambda a, lang, pid, why: decide(gateway, a, lang, pid, "reject", why),
        [shell.session, shell.lang, picker, reason],
        view.detail_outputs,
    ).then(lambda a, lang, s: render_list(gateway, a, lang, s), list_inputs, view.list_outputs)
    return view


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M") if moment else "—"


def kind_label(lang: str, kind: str) -> str:
    key = f"kind_{kind}"
    return t(lang, key) if key in TEXTS else kind.replace("_", " ")


def summary(p: ProposalDetail, lang: str) -> str:
    return (p.summary_en if lang == "en" else p.summary_zh) or p.summary


def may_confirm(p: ProposalDetail, actor: Actor) -> bool:
    return actor.role in p.approver_roles


def may_act(p: ProposalDetail, actor: Actor) -> bool:
    """Whether the user can decide it: confirm it (role), or reject it (role, or they asked for it)."""
    return p.status == "pending" and (may_confirm(p, actor) or p.requested_by == actor.username)


def list_html(proposals: list[ProposalDetail], actor: Actor, lang: str) -> str:
    """Proposals the user may act on first; each with its status, summary and who may confirm it."""
    ordered = sorted(proposals, key=lambda p: (p.status != "pending", not may_confirm(p, actor)))
    rows = [
        [
            link("proposal", p.proposal_id),
            badge(status_label(lang, p.status), STATUS_TONES.get(p.status, "muted")),
            esc(summary(p, lang)),
            esc(p.requested_by),
            esc(_when(p.created_at)),
            badge(t(lang, "proposal_you_may"), "ok")
            if may_confirm(p, actor)
            else badge(", ".join(role_label(lang, r) for r in p.approver_roles), "muted"),
        ]
        for p in ordered
    ]
    headers = [
        "ID",
        t(lang, "proposal_status"),
        t(lang, "proposal_summary"),
        t(lang, "proposal_requested_by"),
        t(lang, "proposal_created"),
        t(lang, "proposal_approvers"),
    ]
    return table(headers, rows, empty=t(lang, "proposal_none"), cls="op-proposals")


def render_list(gateway: Gateway, actor: Actor | None, lang: str, status: str | None) -> tuple[str, Any]:
    try:
        actor = require(actor)
        proposals = gateway.proposals(actor, None if status == "all" else "pending")
        if status == "mine":
            proposals = [p for p in proposals if may_act(p, actor)]
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc), gr.update()
    choices = [(f"{p.proposal_id} · {summary(p, lang)[:60]}", p.proposal_id) for p in proposals]
    return list_html(proposals, actor, lang), gr.update(choices=choices)


def detail_html(p: ProposalDetail, actor: Actor, lang: str, items: Container[str]) -> str:
    """Header, summary, who may confirm, the effect it will apply, and the decision and result once made."""
    allowed = ", ".join(role_label(lang, r) for r in p.approver_roles)
    permission = (
        badge(t(lang, "proposal_you_may"), "ok")
        if may_confirm(p, actor)
        else badge(f"{t(lang, 'proposal_you_may_not')} ({role_label(lang, actor.role)})", "warn")
    )
    head = (
        f"<div class='op-record-head'><span class='op-record-code'>{esc(p.proposal_id)}</span> "
        f"{badge(status_label(lang, p.status), STATUS_TONES.get(p.status, 'muted'))} "
        f"<span class='op-muted'>{esc(t(lang, 'proposal_kind'))}: {esc(kind_label(lang, p.kind))} · "
        f"{esc(t(lang, 'proposal_requested_by'))}: {esc(p.requested_by)} · "
        f"{esc(t(lang, 'proposal_created'))}: {esc(_when(p.created_at))} · "
        f"{esc(t(lang, 'proposal_expires'))}: {esc(_when(p.expires_at))}</span></div>"
        f"<p class='op-summary'>{esc(summary(p, lang))}</p>"
        f"<p>{esc(t(lang, 'proposal_approvers'))}: {esc(allowed)} {permission}</p>"
    )
    effect_title = "proposal_effect" if p.status == "pending" else "proposal_effect_decided"
    parts = [head, heading(t(lang, effect_title), 4), record(p.effect, lang, items)]
    if p.decided_by:
        parts.append(heading(t(lang, "proposal_decision"), 4))
        decided = t(
            lang,
            "proposal_decided",
            status=status_label(lang, p.status),
            who=p.decided_by,
            at=_when(p.decided_at),
        )
        parts.append(f"<p>{esc(decided)}{(' — ' + esc(p.reason)) if p.reason else ''}</p>")
    if p.result:
        parts.append(heading(t(lang, "proposal_result"), 4))
        parts.append(record(p.result, lang, items))
    versions = ", ".join(f"{k} {v}" for k, v in sorted(p.data_versions.items()))
    parts.append(
        f"<details><summary>{esc(t(lang, 'proposal_args'))}</summary>{record(p.args, lang, items)}"
        f"<p class='op-muted'>{esc(t(lang, 'proposal_versions'))}: {esc(versions)}</p></details>"
    )
    return "".join(parts)


def render_detail(gateway: Gateway, actor: Actor | None, lang: str, proposal_id: str | None) -> str:
    if not proposal_id:
        return notice(t(lang, "proposal_choose"), "info")
    try:
        actor = require(actor)
        proposal = gateway.proposal(actor, proposal_id.strip())
        items = gateway.items(actor)
    except (ToolError, NotSignedIn) as exc:
        return error_html(lang, exc)
    return detail_html(proposal, actor, lang, items)


def refusal(exc: ToolError, lang: str, action: str) -> str:
    """Why a confirm or reject was refused, in the user's language (the tool's own message otherwise)."""
    if exc.code == "forbidden" and "allowed" in exc.details:
        key = "refused_forbidden" if action == "confirm" else "refused_forbidden_reject"
        text = t(
            lang,
            key,
            role=role_label(lang, str(exc.details.get("role", ""))),
            kind=kind_label(lang, str(exc.details.get("kind", ""))),
            allowed=", ".join(role_label(lang, r) for r in exc.details["allowed"]),
        )
    elif exc.code == "conflict":
        text = t(lang, "refused_conflict", message=exc.message)
    else:
        text = t(lang, "refused_other", code=exc.code, message=exc.message)
    return notice(text, "bad")


def decide(
    gateway: Gateway, actor: Actor | None, lang: str, proposal_id: str | None, action: str, reason: str
) -> tuple[str, str]:
    """Confirm or reject as the signed-in user (role re-read from the database); the detail and the outcome."""
    if not proposal_id:
        return notice(t(lang, "proposal_choose"), "info"), ""
    proposal_id = proposal_id.strip()
    try:
        current = gateway.current_actor(require(actor))
    except NotSignedIn as exc:
        return error_html(lang, exc), ""
    except ToolError as exc:
        return "", notice(t(lang, "session_ended", reason=exc.message), "bad")
    try:
        if action == "confirm":
            done = gateway.confirm(current, proposal_id)
            outcome = notice(t(lang, "proposal_confirmed", id=done.proposal_id), "ok")
        else:
            done = gateway.reject(current, proposal_id, reason.strip())
            outcome = notice(t(lang, "proposal_rejected", id=done.proposal_id), "ok")
    except ToolError as exc:
        outcome = refusal(exc, lang, action)
    return render_detail(gateway, current, lang, proposal_id), outcome
