"""Conversations with the offline assistant: follow-ups reuse the previous question, missing or ambiguous
slots are asked for (never guessed), threads are kept apart, and answers follow the question's language."""

from __future__ import annotations

import re
import uuid

from assistant.backend import AssistantReply
from assistant.offline.numbers import format_qty
from assistant.service import ask
from tests.helpers import call
from tools.context import open_context
from tools.proposals import get_proposal
from tools.registry import load_all


class Chat:
    """One conversation (thread) with the offline backend."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.thread = f"t-{uuid.uuid4().hex[:12]}"

    def say(self, question: str) -> AssistantReply:
        return ask(question, backend="offline", db_url=self.url, thread_id=self.thread)


def calls(reply: AssistantReply) -> list[tuple[str, dict[str, object]]]:
    return [(c.name, c.args) for c in reply.tool_calls]


def listed_codes(answer: str) -> list[str]:
    """The item codes of a numbered candidate list ("1. DSK-1200 办公桌1200")."""
    return re.findall(r"^\d+\. (\S+)", answer, flags=re.MULTILINE)


def test_a_follow_up_reuses_the_previous_question(demo_db: str) -> None:
    chat = Chat(demo_db)
    assert calls(chat.say("SO-1020 什么时候发货？")) == [
        ("get_sales_order", {"order": "SO-1020"}),
        ("estimate_delivery_date", {"sales_order": "SO-1020"}),
    ]
    second = chat.say("那 SO-1009 呢？")
    assert calls(second) == [
        ("get_sales_order", {"order": "SO-1009"}),
        ("estimate_delivery_date", {"sales_order": "SO-1009"}),
    ]
    out = call(demo_db, "get_sales_order", order="SO-1009")
    assert format_qty(out["open_qty"]) in second.answer


def test_an_english_follow_up_on_a_production_order(demo_db: str) -> None:
    chat = Chat(demo_db)
    chat.say("how far along is MO-2612-05?")
    reply = chat.say("what about MO-2611-03?")
    assert calls(reply) == [("get_production_order", {"order": "MO-2611-03"})]
    assert reply.language == "en"
    assert "MO-2611-03" in reply.answer


def test_a_follow_up_with_a_new_quantity_keeps_item_and_date(demo_db: str) -> None:
    chat = Chat(demo_db)
    chat.say("能接500张DSK-1200、12月15日交货吗")
    reply = chat.say("那 600 张呢?")
    if "promise_order" in load_all():
        assert calls(reply) == [("promise_order", {"item": "DSK-1200", "qty": 600, "due_date": "2026-12-15"})]
    else:
        # the same honest answer as the first question, not a misunderstanding
        assert reply.tool_calls == [] and "promise_order" in reply.answer and "还没有上线" in reply.answer


def test_a_follow_up_can_switch_substitutes_on(demo_db: str) -> None:
    chat = Chat(demo_db)
    chat.say("how many CHR-STF can we build right now?")
    reply = chat.say("and with substitutes?")
    if "check_kitting" in load_all():
        assert calls(reply) == [("check_kitting", {"item": "CHR-STF", "use_substitutes": True})]
    else:
        assert reply.tool_calls == [] and "check_kitting" in reply.answer


def test_a_missing_item_is_asked_for_then_used(demo_db: str) -> None:
    chat = Chat(demo_db)
    first = chat.say("帮我查一下库存")
    assert first.tool_calls == []
    assert "哪个物料" in first.answer
    second = chat.say("DSK-1200")
    assert calls(second) == [("get_item", {"item": "DSK-1200"})]
    assert second.language == "zh"


def test_a_missing_order_is_asked_for_then_used(demo_db: str) -> None:
    chat = Chat(demo_db)
    first = chat.say("when will the order ship?")
    assert first.tool_calls == [] and "Which order?" in first.answer
    second = chat.say("SO-1020")
    assert calls(second) == [
        ("get_sales_order", {"order": "SO-1020"}),
        ("estimate_delivery_date", {"sales_order": "SO-1020"}),
    ]


def test_two_matching_items_are_listed_and_the_pick_is_used(demo_db: str) -> None:
    chat = Chat(demo_db)
    first = chat.say("桌子还有多少库存？")
    assert "get_item" not in [c.name for c in first.tool_calls]
    codes = listed_codes(first.answer)
    assert {"DSK-1200", "DSK-1400E"} <= set(codes)
    second = chat.say("第二个")
    assert calls(second) == [("get_item", {"item": codes[1]})]


def test_an_ambiguous_item_is_never_guessed_for_a_write(demo_db: str) -> None:
    chat = Chat(demo_db)
    first = chat.say("帮我请购 100 个螺丝，12月10日要")
    assert first.tool_calls == [] and first.proposals == []
    assert {"SCREW-M6", "SCREW-M8"} <= set(listed_codes(first.answer))
    second = chat.say("M8 的")
    assert [c.name for c in second.tool_calls] == ["propose_purchase_requests"]
    assert second.tool_calls[0].args["lines"] == [{"item": "SCREW-M8", "qty": 100, "need_date": "2026-12-10"}]
    assert second.proposals and second.proposals[0]["status"] == "pending"


def test_a_follow_up_without_history_asks_to_rephrase(demo_db: str) -> None:
    reply = Chat(demo_db).say("what about 600?")
    assert reply.tool_calls == []
    assert "ask it in full" in reply.answer


def test_threads_are_kept_apart(demo_db: str) -> None:
    Chat(demo_db).say("SO-1020 什么时候发货？")
    other = Chat(demo_db).say("那 SO-1009 呢？")
    assert other.tool_calls == []


def test_the_answer_follows_the_language_of_each_question(demo_db: str) -> None:
    chat = Chat(demo_db)
    assert chat.say("SO-1020 什么时候发货？").language == "zh"
    reply = chat.say("and SO-1009?")
    assert reply.language == "en"
    assert "still to ship" in reply.answer


def test_purchase_requests_for_the_shortages_just_analyzed(demo_db: str) -> None:
    chat = Chat(demo_db)
    chat.say("MO-2612-02 缺什么料？")
    reply = chat.say("帮我把这些缺料做成请购单")
    assert [c.name for c in reply.tool_calls] == ["analyze_shortages", "propose_purchase_requests"]
    assert reply.tool_calls[0].args == {"production_order": "MO-2612-02"}
    [proposal] = reply.proposals
    pid = proposal["proposal_id"]
    assert pid in reply.answer and "待确认" in reply.answer
    assert f"orderpilot proposals confirm {pid}" in reply.answer
    with open_context(demo_db) as ctx:
        assert get_proposal(ctx.session, pid).status == "pending"


def test_nothing_to_purchase_when_open_orders_or_production_cover_it(demo_db: str) -> None:
    reply = Chat(demo_db).say("draft purchase requests for the shortages of MO-2612-05")
    assert [c.name for c in reply.tool_calls] == ["analyze_shortages"]
    assert reply.proposals == []
    shortages = call(demo_db, "analyze_shortages", production_order="MO-2612-05")["shortages"]
    for s in shortages:
        assert s["item"] in reply.answer


def test_the_stream_carries_the_calls_and_the_reply(demo_db: str) -> None:
    from assistant.backend import FinalEvent, ToolCallEvent, ToolResultEvent
    from assistant.service import ask_stream

    events = list(
        ask_stream("SO-1020 什么时候发货？", backend="offline", db_url=demo_db, thread_id="t-stream")
    )
    assert [type(e) for e in events[:2]] == [ToolCallEvent, ToolResultEvent]
    final = events[-1]
    assert isinstance(final, FinalEvent)
    assert final.reply.backend == "offline" and "SO-1020" in final.reply.answer
