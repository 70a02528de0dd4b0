"""The offline assistant: understands the supported questions without a model and answers from the tools.

Each turn: entities and intent (nlu), then the dialogue decides — answer, ask for a missing or ambiguous
slot, reuse the previous question's intent for a follow-up, or say what it cannot answer — and the
intent's handler calls the same tools as every other surface and renders their facts.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from assistant.backend import (
    AssistantReply,
    ContextFactory,
    FinalEvent,
    TokenEvent,
    ToolCallEvent,
    ToolResultEvent,
    TurnLog,
    events_for_reply,
)
from assistant.offline.catalog import Catalog, catalog_from_tool
from assistant.offline.entities import Candidate, EntityIndex, entity_index
from assistant.offline.intents import INTENTS, IntentSpec, Slots, Turn, capabilities, not_available
from assistant.offline.knowledge import knowledge_base
from assistant.offline.nlu import CONFIDENCE_THRESHOLD, Language, Parse, parse
from assistant.offline.render import tr
from assistant.offline.threads import Pending, ThreadState, load_state, save_state
from data_model.settings import Settings, get_settings
from tools.context import Actor

# A write (propose_*) runs only when the question clearly asks for it.
WRITE_CONFIDENCE = 0.5
# When a question answers what was asked for, a prediction below this does not start a new topic.
NEW_TOPIC_CONFIDENCE = 0.6
NO_TOOL_INTENTS = ("help", "chitchat", "confirm_request", "out_of_scope", "follow_up")
# Intents about a product to build: of several items named, the one made here is the subject.
PRODUCT_INTENTS = ("check_kitting", "explode_bom", "bom_cost", "promise_order")

SUBSTITUTES_RE = re.compile(r"替代|代用|substitut|alternat", re.IGNORECASE)
NO_SUBSTITUTES_RE = re.compile(
    r"(不用|不含|不算|不要|不考虑|没有|无)\s*替代|(without|no|excluding|exclude)\s+(any\s+)?(substitut|alternat)",
    re.IGNORECASE,
)
ORDINALS = {
    "第一": 0, "第二": 1, "第三": 2, "第四": 3, "第五": 4, "第六": 5, "第1": 0, "第2": 1, "第3": 2, "第4": 3,
    "第5": 4, "第6": 5, "first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "sixth": 5,
}  # fmt: skip
ORDINAL_RE = re.compile(
    r"(第[一二三四五六1-6])|\b(first|second|third|fourth|fifth|sixth)\b|^\s*#?([1-6])\s*[.)号]?\s*$",
    re.IGNORECASE,
)

SLOT_PROMPTS: dict[str, tuple[str, str]] = {
    "item": ("请问是哪个物料？（编码、名称或别名都可以）", "Which item? (a code, name or alias)"),
    "qty": ("数量是多少？", "How many?"),
    "date": ("要求哪天交货？", "By which date?"),
    "order": ("请问是哪张订单？（例如 SO-1020、MO-2612-05）", "Which order? (e.g. SO-1020, MO-2612-05)"),
    "customer": ("请问是哪个客户？", "Which customer?"),
}


Action = Literal["answer", "ask", "not_understood", "not_available", "unclear_write"]


@dataclass(frozen=True)
class Understanding:
    """What to do with a question: the intent with its slots, and whether to answer or ask."""

    action: Action
    intent: str
    slots: Slots
    language: Language
    missing: tuple[str, ...] = ()
    candidates: tuple[Candidate, ...] = ()
    missing_tools: tuple[str, ...] = ()
    parse: Parse | None = None


# ------------------------------------------------------------------------------------------------ slots


def slots_from(parsed: Parse) -> Slots:
    """The slot values said in one question (items only where a code, name or alias was said)."""
    ex = parsed.extraction
    with_unit = [q for q in ex.quantities if q.unit]
    said_qty = with_unit or ex.quantities
    quantity = said_qty[0] if said_qty else None
    order = ex.orders[0] if ex.orders else None
    subs: bool | None = None
    if NO_SUBSTITUTES_RE.search(ex.text):
        subs = False
    elif SUBSTITUTES_RE.search(ex.text):
        subs = True
    return Slots(
        item=ex.items[0].code if ex.items else None,
        qty=quantity.value if quantity else None,
        date=ex.dates[0].value if ex.dates else None,
        order=order.code if order else None,
        order_kind=order.kind if order else None,
        customer=ex.customers[0].code if ex.customers else None,
        proposal=ex.proposals[0] if ex.proposals else None,
        use_substitutes=subs,
        item_phrase=ex.items[0].surface if ex.items else "",
    )


def _choice(text: str, candidates: tuple[Candidate, ...], index: EntityIndex) -> str | None:
    """The candidate a reply picks: by position (第二个, the second one, 2) or by naming it."""
    m = ORDINAL_RE.search(text)
    if m:
        key = (m.group(1) or m.group(2) or "").casefold()
        pos = ORDINALS.get(key) if key else int(m.group(3)) - 1
        if pos is not None and 0 <= pos < len(candidates):
            return candidates[pos].code
    codes = tuple(c.code for c in candidates)
    # a distinguishing word: "M8 的" picks SCREW-M8 out of M4/M6/M8
    words = [w.casefold() for w in re.findall(r"[A-Za-z0-9][A-Za-z0-9-]*|[\u3400-\u9fff]{2,}", text)]
    for word in words:
        hits = [c.code for c in candidates if word in c.code.casefold() or word in c.name.casefold()]
        if len(hits) == 1:
            return hits[0]
    return index.resolve(text, restrict=codes).code


def _missing(spec: IntentSpec, slots: Slots) -> tuple[str, ...]:
    missing = [s for s in spec.required if getattr(slots, s) is None]
    if (
        "order" in spec.required
        and slots.order
        and spec.order_kinds
        and slots.order_kind not in spec.order_kinds
    ):
        missing.append("order")
    return tuple(dict.fromkeys(missing))


# ------------------------------------------------------------------------------------------------ dialogue


def understand(
    question: str, index: EntityIndex, today: date, state: ThreadState | None = None
) -> Understanding:
    """Decide what the question asks, with which slots, given the conversation so far (no tool is called)."""
    state = state or ThreadState()
    parsed = parse(question, index, today)
    language = _language(parsed, state)
    said = slots_from(parsed)
    intent, confidence = parsed.intent, parsed.confidence
    said = _product_first(said, parsed, index)
    slots = said
    continued = False

    pending = state.pending
    if pending is not None:
        picked = _choice(parsed.extraction.text, pending.candidates, index) if pending.candidates else None
        supplies = any(getattr(said, s) is not None for s in pending.missing) or picked is not None
        if supplies and (
            intent in ("follow_up", pending.intent)
            or confidence < NEW_TOPIC_CONFIDENCE
            or _only_slots(parsed)
        ):
            if picked is not None and ORDINAL_RE.search(parsed.extraction.text):
                # "第一个" / "the first one" gives a position, not a quantity
                said = replace(said, qty=None)
            slots = pending.slots.merged(said)
            if picked is not None:
                slots = replace(slots, item=picked, candidates=())
            intent, continued = pending.intent, True

    if not continued and intent == "follow_up" and confidence >= CONFIDENCE_THRESHOLD:
        if state.intent is None:
            return Understanding("not_understood", "follow_up", said, language, parse=parsed)
        intent, slots, continued = state.intent, state.slots.merged(said), True

    if not continued and (confidence < CONFIDENCE_THRESHOLD or intent == "out_of_scope"):
        return Understanding("not_understood", intent, said, language, parse=parsed)

    spec = INTENTS[intent]
    for name in spec.inherit:
        if getattr(slots, name) is None and getattr(state.slots, name) is not None:
            slots = replace(slots, **{name: getattr(state.slots, name)})
            if name == "order":
                slots = replace(slots, order_kind=state.slots.order_kind)

    answering_pick = continued and pending is not None and bool(pending.candidates)
    follow_up = continued and parsed.intent == "follow_up"
    phrase = parsed.residual
    if (
        spec.uses("item")
        and phrase
        and not answering_pick
        and (slots.item is None or follow_up)
        and said.item is None
    ):
        # words that name no item exactly: resolved through the index (in a follow-up they replace the item)
        resolved = parsed.item_guess or index.resolve(phrase)
        if resolved.code is not None:
            slots = replace(slots, item=resolved.code, item_phrase=phrase, candidates=())
        elif resolved.candidates or slots.item is None:
            slots = replace(slots, item=None, item_phrase=phrase, candidates=resolved.candidates)

    # a capability that is not installed is said so at once, before asking anything
    missing_tools = tuple(spec.missing_tools())
    if missing_tools:
        return Understanding(
            "not_available", intent, slots, language, missing_tools=missing_tools, parse=parsed
        )
    if slots.item is None and slots.candidates and spec.uses("item"):
        if spec.on_loose_item is not None:
            return Understanding("answer", intent, slots, language, parse=parsed)
        return Understanding("ask", intent, slots, language, ("item",), slots.candidates, parse=parsed)
    missing = _missing(spec, slots)
    if missing:
        if spec.on_loose_item is not None and missing == ("item",) and slots.item_phrase:
            return Understanding("answer", intent, slots, language, parse=parsed)
        return Understanding("ask", intent, slots, language, missing, parse=parsed)
    if spec.writes and not continued and confidence < WRITE_CONFIDENCE:
        return Understanding("unclear_write", intent, slots, language, parse=parsed)
    return Understanding("answer", intent, slots, language, parse=parsed)


def _product_first(said: Slots, parsed: Parse, index: EntityIndex) -> Slots:
    """For a question about building something, the product is the item made here, whichever item is named
    first ("用备用车座的话能装几辆自行车": the bicycle, not the spare seat)."""
    items = parsed.extraction.items
    if parsed.intent not in PRODUCT_INTENTS or len(items) < 2:
        return said
    made = [m for m in items if (found := index.item(m.code)) is not None and found.source == "make"]
    if not made or made[0].code == said.item:
        return said
    return replace(said, item=made[0].code, item_phrase=made[0].surface)


def _only_slots(parsed: Parse) -> bool:
    """A reply made of values only ("DSK-1200", "600 张", "下周五")."""
    rest = re.sub(r"_[a-z]+_|[\s\d.,，。?？!！]", "", parsed.extraction.delex)
    return len(rest) <= 3


def _language(parsed: Parse, state: ThreadState) -> Language:
    text = parsed.extraction.delex
    has_words = re.search(r"[\u3400-\u9fff]|[A-Za-z]{2,}", re.sub(r"_[a-z]+_", " ", text))
    if not has_words and state.language is not None:
        return state.language
    return parsed.language


# ------------------------------------------------------------------------------------------------ backend

_CATALOGS: dict[str, tuple[int, Catalog]] = {}
_CATALOG_LOCK = threading.Lock()


def _catalog(contexts: ContextFactory) -> tuple[Catalog, date]:
    """The catalog of the database behind ``contexts``, from list_catalog (re-read when master data changes)."""
    from tools.registry import call_tool

    with contexts() as ctx:
        today = ctx.today
        key = str(ctx.session.get_bind().engine.url)
        with _CATALOG_LOCK:
            cached = _CATALOGS.get(key)
        out = call_tool(ctx, "list_catalog", {"if_version_not": cached[0] if cached else None})
        if cached is not None and out["unchanged"]:
            return cached[1], today
        catalog = catalog_from_tool(out)
        with _CATALOG_LOCK:
            _CATALOGS[key] = (out["version"], catalog)
    return catalog, today


class OfflineBackend:
    """The embedded assistant: no model, no network; deterministic answers from the tools."""

    name: Literal["offline"] = "offline"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or get_settings()

    def reply(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> AssistantReply:
        """Answer one question of conversation ``thread_id``; tools run through ``contexts``.

        The thread's state is read from the database at the start and written back at the end, each in a
        transaction of its own and as the acting user: a turn that fails leaves the stored state as it was.
        """
        log = TurnLog(contexts)
        catalog, today = _catalog(contexts)
        index = entity_index(catalog, self.settings.chroma_path)
        state = load_state(contexts, thread_id)
        u = understand(question, index, today, state)
        turn = Turn(
            lang=u.language,
            today=today,
            index=index,
            log=log,
            knowledge=knowledge_base(self.settings.chroma_path),
            question=question,
        )
        answer = self._act(u, turn, state)
        state.language = u.language
        save_state(contexts, thread_id, state)
        return log.reply(answer, thread_id=thread_id, backend="offline", language=u.language)

    def stream(
        self, question: str, *, thread_id: str, contexts: ContextFactory, actor: Actor
    ) -> Iterator[TokenEvent | ToolCallEvent | ToolResultEvent | FinalEvent]:
        """The same turn as events (the offline backend answers at once, so the events follow the reply)."""
        yield from events_for_reply(self.reply(question, thread_id=thread_id, contexts=contexts, actor=actor))

    @staticmethod
    def _act(u: Understanding, turn: Turn, state: ThreadState) -> str:
        lang = turn.lang
        if u.action == "not_understood":
            state.pending = None
            return _not_understood(turn, u)
        spec = INTENTS[u.intent]
        if u.action == "not_available":
            # remembered all the same: a follow-up gets the same honest answer, not a misunderstanding
            state.pending, state.intent, state.slots = None, u.intent, u.slots
            return not_available(turn, spec, list(u.missing_tools))
        if u.action == "ask":
            state.pending = Pending(u.intent, u.slots, u.missing, u.candidates)
            return _ask(turn, u)
        if u.action == "unclear_write":
            state.pending = None
            return tr(
                lang,
                "你是想让我起草请购提案吗？请说得明确一些，例如“把 MO-2612-05 的缺料做成请购单”。",
                "Do you want me to draft purchase requests? Please say so explicitly, e.g. "
                "“draft purchase requests for the shortages of MO-2612-05”.",
            )
        state.pending = None
        if u.slots.item is None and spec.on_loose_item is not None and u.slots.item_phrase:
            answer, offered = spec.on_loose_item(turn, u.slots.item_phrase, u.slots.candidates)
            if offered:
                state.pending = Pending(u.intent, u.slots, ("item",), offered)
            return answer
        answer = spec.handler(turn, u.slots)
        if u.intent not in NO_TOOL_INTENTS:
            state.intent, state.slots = u.intent, u.slots
        return answer


def _ask(turn: Turn, u: Understanding) -> str:
    if u.candidates:
        rows = "\n".join(f"{n}. {c.code} {c.name}" for n, c in enumerate(u.candidates, 1))
        phrase = u.slots.item_phrase
        return turn.t(
            f"「{phrase}」对应多个物料，请问是哪一个？\n{rows}",
            f"'{phrase}' matches several items — which one?\n{rows}",
        )
    first = u.missing[0]
    if first == "order" and u.slots.order and u.slots.order_kind:
        spec = INTENTS[u.intent]
        return turn.t(
            f"{u.slots.order} 不适用：这个问题需要 {'/'.join(spec.order_kinds)} 开头的订单。请问是哪张订单？",
            f"{u.slots.order} does not fit: this needs an order starting with {'/'.join(spec.order_kinds)}. Which order?",
        )
    if first == "item" and u.slots.item_phrase:
        prompt = turn.t(
            f"没有找到和「{u.slots.item_phrase}」对应的物料。", f"No item matches '{u.slots.item_phrase}'. "
        )
        return prompt + turn.t(*SLOT_PROMPTS["item"])
    return " ".join(turn.t(*SLOT_PROMPTS[s]) for s in u.missing if s in SLOT_PROMPTS)


def _not_understood(turn: Turn, u: Understanding) -> str:
    if u.intent == "follow_up":
        head = turn.t(
            "我不确定你指的是哪个问题，请把问题说完整一些。",
            "I'm not sure which question you mean; please ask it in full.",
        )
    elif u.intent == "out_of_scope" and u.parse is not None and u.parse.confidence >= CONFIDENCE_THRESHOLD:
        head = turn.t("这个问题不在我能回答的范围内。", "That is outside what I can answer.")
    else:
        head = turn.t("抱歉，我没有理解这个问题。", "Sorry, I did not understand that.")
    return head + turn.t("我可以回答：\n", " I can answer:\n") + capabilities(turn)
