"""The offline assistant's conversation state is kept in the database per user and thread: a follow-up works
on another worker (another app, another process) and after a restart, two users with the same thread id
keep two conversations, a failed turn leaves the stored state as it was, and old threads are dropped.

Demo factory (today 2026-12-01), SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.backend import AssistantReply
from assistant.offline.backend import OfflineBackend
from assistant.offline.entities import Candidate
from assistant.offline.intents import Slots
from assistant.offline.threads import (
    STATE_VERSION,
    Pending,
    StateFormatError,
    ThreadState,
    forget_state,
    load_state,
    state_from_json,
    state_to_json,
)
from assistant.service import ask, context_factory
from data_model.settings import Settings
from tests.helpers import DEMO_YAML, ROOT, load_into
from tools.auth import create_user, issue_token
from tools.context import Actor, open_context
from tools.conversations import load_thread, save_thread, thread_key

ANN = Actor("ann", "sales")
BOB = Actor("bob", "sales")
SO_1009 = [("get_sales_order", {"order": "SO-1009"}), ("estimate_delivery_date", {"sales_order": "SO-1009"})]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="module", params=BACKENDS)
def demo(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sqlite_template: Path,
    pg_server: Any,
) -> Iterator[str]:
    """The demo factory, shared by the tests of this module (each uses threads and users of its own)."""
    from tools.context import dispose_engine

    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("offline-threads") / "demo.sqlite"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
    elif pg_server is None:
        pytest.skip("ORDERPILOT_TEST_POSTGRES_URL is not set")
    else:
        name, url = pg_server.new_database()
    load_into(url, DEMO_YAML)
    yield url
    dispose_engine(url)
    if request.param == "postgres":
        pg_server.drop(name)


def say(url: str, question: str, thread: str, actor: Actor = ANN) -> AssistantReply:
    return ask(question, backend="offline", db_url=url, thread_id=thread, actor=actor)


def calls(reply: AssistantReply | dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    data = reply.model_dump() if isinstance(reply, AssistantReply) else reply
    return [(c["name"], c["args"]) for c in data["tool_calls"]]


def stored_rows(url: str) -> set[tuple[str, str]]:
    with open_context(url) as ctx:
        rows = ctx.session.execute(sa.text("SELECT username, thread_id FROM assistant_thread")).all()
    return {(r[0], r[1]) for r in rows}


def stored_state(url: str, actor: Actor, thread: str) -> dict[str, Any] | None:
    with open_context(url, actor=actor) as ctx:
        found = load_thread(ctx, thread)
    return None if found is None else found.state


# ------------------------------------------------------------------------------------------------ workers


def test_a_follow_up_is_answered_by_another_worker(demo: str) -> None:
    with open_context(demo) as ctx:
        create_user(ctx.session, "wendy", "sales")
        headers = {"Authorization": f"Bearer {issue_token(ctx.session, 'wendy')}"}
    settings = Settings(database_url=demo, assistant_backend="offline", ui_enabled=False)
    # two applications on the same database, as two API workers would be
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        first = one.post("/api/v1/chat", json={"message": "SO-1020 什么时候发货？"}, headers=headers)
        assert first.status_code == 200, first.text
        thread = first.json()["thread_id"]
        second = two.post(
            "/api/v1/chat", json={"message": "那 SO-1009 呢？", "thread_id": thread}, headers=headers
        )
    assert second.status_code == 200, second.text
    assert calls(second.json()) == SO_1009
    assert ("wendy", thread) in stored_rows(demo)


def test_a_follow_up_is_answered_by_another_process(demo: str) -> None:
    if not demo.startswith("sqlite"):
        pytest.skip("one separate process is enough (SQLite)")
    say(demo, "SO-1020 什么时候发货？", "t-process")
    code = f"""
import json
from assistant.service import ask
from tools.context import Actor
reply = ask("那 SO-1009 呢？", backend="offline", db_url={demo!r}, thread_id="t-process", actor=Actor("ann", "sales"))
print(json.dumps(reply.model_dump(mode="json")))
"""
    env = {**os.environ, "ORDERPILOT_LLM_BASE_URL": "", "ORDERPILOT_LLM_API_KEY": "", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert calls(json.loads(done.stdout.strip().splitlines()[-1])) == SO_1009


def test_the_state_survives_a_restart(demo: str) -> None:
    contexts = context_factory(demo, ANN, Settings(database_url=demo))

    def turn(backend: OfflineBackend, question: str, thread: str) -> AssistantReply:
        return backend.reply(question, thread_id=thread, contexts=contexts, actor=ANN)

    # a missing slot asked by one backend, given to a new one
    assert turn(OfflineBackend(), "帮我查一下库存", "t-restart-1").tool_calls == []
    assert calls(turn(OfflineBackend(), "DSK-1200", "t-restart-1")) == [("get_item", {"item": "DSK-1200"})]
    # candidates offered by one backend, picked by position on a new one
    first = turn(OfflineBackend(), "桌子还有多少库存？", "t-restart-2")
    pending = load_state(contexts, "t-restart-2").pending
    assert pending is not None and len(pending.candidates) >= 2
    second = turn(OfflineBackend(), "第二个", "t-restart-2")
    assert calls(second) == [("get_item", {"item": pending.candidates[1].code})]
    assert pending.candidates[1].code in first.answer


# ------------------------------------------------------------------------------------------------ users


def test_the_same_thread_id_under_two_users_keeps_two_conversations(demo: str) -> None:
    say(demo, "SO-1020 什么时候发货？", "t-shared", ANN)
    # bob's "t-shared" is a conversation of his own: no earlier question to follow up
    assert say(demo, "那 SO-1009 呢？", "t-shared", BOB).tool_calls == []
    assert calls(say(demo, "那 SO-1009 呢？", "t-shared", ANN)) == SO_1009
    ann, bob = stored_state(demo, ANN, "t-shared"), stored_state(demo, BOB, "t-shared")
    assert ann is not None and ann["slots"]["order"] == "SO-1009"
    assert bob is not None and bob["intent"] is None and bob["slots"]["order"] is None


def test_a_user_cannot_load_another_users_thread(demo: str) -> None:
    say(demo, "SO-1020 什么时候发货？", "t-ann-only", ANN)
    assert stored_state(demo, ANN, "t-ann-only") is not None
    assert stored_state(demo, BOB, "t-ann-only") is None
    assert load_state(context_factory(demo, BOB, Settings(database_url=demo)), "t-ann-only") == ThreadState()
    # nor forget it
    assert forget_state(context_factory(demo, BOB, Settings(database_url=demo)), "t-ann-only") is False
    assert ("ann", "t-ann-only") in stored_rows(demo)


def test_forgetting_a_thread_deletes_its_row(demo: str) -> None:
    say(demo, "SO-1020 什么时候发货？", "t-forget", ANN)
    contexts = context_factory(demo, ANN, Settings(database_url=demo))
    assert forget_state(contexts, "t-forget") is True
    assert ("ann", "t-forget") not in stored_rows(demo)
    assert say(demo, "那 SO-1009 呢？", "t-forget", ANN).tool_calls == []


# ------------------------------------------------------------------------------------------------ failures


def test_a_failed_turn_leaves_the_stored_state_as_it_was(demo: str, monkeypatch: pytest.MonkeyPatch) -> None:
    say(demo, "SO-1020 什么时候发货？", "t-fail", ANN)
    before = stored_state(demo, ANN, "t-fail")

    def failing_act(u: Any, turn: Any, state: ThreadState) -> str:
        state.intent, state.pending = "help", None  # changed in memory, then the turn fails
        raise RuntimeError("tool layer down")

    monkeypatch.setattr(OfflineBackend, "_act", staticmethod(failing_act))
    with pytest.raises(RuntimeError, match="tool layer down"):
        say(demo, "MO-2612-05 缺什么料？", "t-fail", ANN)
    monkeypatch.undo()
    assert stored_state(demo, ANN, "t-fail") == before
    assert calls(say(demo, "那 SO-1009 呢？", "t-fail", ANN)) == SO_1009


def test_a_state_of_another_version_or_damaged_starts_afresh(demo: str) -> None:
    contexts = context_factory(demo, ANN, Settings(database_url=demo))
    good = state_to_json(ThreadState(intent="item_info", slots=Slots(item="DSK-1200"), language="zh"))
    with open_context(demo, actor=ANN) as ctx:
        save_thread(ctx, "t-old-layout", good, STATE_VERSION + 1)
        save_thread(ctx, "t-damaged", {"intent": "item_info"}, STATE_VERSION)
        save_thread(ctx, "t-renamed", good | {"intent": "no_such_intent"}, STATE_VERSION)
    for thread in ("t-old-layout", "t-damaged", "t-renamed"):
        assert load_state(contexts, thread) == ThreadState()
        assert say(demo, "那 SO-1009 呢？", thread, ANN).tool_calls == []


def test_a_long_thread_id_is_kept_by_its_digest(demo: str) -> None:
    thread = "t-" + "x" * 300
    say(demo, "SO-1020 什么时候发货？", thread, ANN)
    assert calls(say(demo, "那 SO-1009 呢？", thread, ANN)) == SO_1009
    assert ("ann", thread_key(thread)) in stored_rows(demo)
    assert thread_key(thread).startswith("sha256:") and len(thread_key(thread)) == 71  # 7 + 64 hex digits


# ------------------------------------------------------------------------------------------------ retention


def test_at_most_n_threads_are_kept_per_user(demo: str) -> None:
    settings = Settings(database_url=demo, offline_threads_per_user=3)
    cleo, dan = Actor("cleo", "sales"), Actor("dan", "sales")
    start = datetime.now(UTC) - timedelta(hours=1)

    def save(actor: Actor, thread: str, minute: int) -> None:
        with open_context(demo, actor=actor, settings=settings) as ctx:
            save_thread(ctx, thread, {}, STATE_VERSION, now=start + timedelta(minutes=minute))

    save(dan, "d-1", 0)
    save(cleo, "c-1", 1)
    save(cleo, "c-2", 2)
    save(cleo, "c-3", 3)
    save(cleo, "c-1", 4)  # used again: c-2 is now the least recently used
    save(cleo, "c-4", 5)  # a fourth thread: c-2 goes; dan's thread is not cleo's to count
    rows = stored_rows(demo)
    assert {t for u, t in rows if u == "cleo"} == {"c-1", "c-3", "c-4"}
    assert ("dan", "d-1") in rows


def test_threads_unused_past_the_retention_days_are_dropped(demo: str) -> None:
    settings = Settings(database_url=demo, offline_thread_retention_days=30)
    eve = Actor("eve", "sales")
    now = datetime.now(UTC)
    with open_context(demo, actor=eve, settings=settings) as ctx:
        save_thread(ctx, "e-old", {"intent": None}, STATE_VERSION, now=now - timedelta(days=31))
        save_thread(ctx, "e-recent", {"intent": None}, STATE_VERSION, now=now - timedelta(days=29))
    # still stored (nothing was saved after it aged), but no longer read back
    assert ("eve", "e-old") in stored_rows(demo)
    with open_context(demo, actor=eve, settings=settings) as ctx:
        assert load_thread(ctx, "e-old") is None
        assert load_thread(ctx, "e-recent") is not None
    # the next save by anyone drops it
    with open_context(demo, actor=ANN, settings=settings) as ctx:
        save_thread(ctx, "t-any", {}, STATE_VERSION)
    rows = stored_rows(demo)
    assert ("eve", "e-old") not in rows and ("eve", "e-recent") in rows


# ------------------------------------------------------------------------------------------------ JSON


def test_every_part_of_a_state_round_trips_through_json() -> None:
    screws = (Candidate("SCREW-M6", "螺丝 M6", 0.82), Candidate("SCREW-M8", "螺丝 M8", 0.8))
    # every slot set to something other than its default
    slots = Slots(
        item="DSK-1200",
        qty=Decimal("600.125"),
        date=date(2026, 12, 15),
        order="MO-2612-05",
        order_kind="MO",
        customer="C-ZHIYUAN",
        proposal="P-1",
        use_substitutes=False,
        item_phrase="桌子",
        candidates=screws,
    )
    state = ThreadState(
        intent="promise_order",
        slots=slots,
        pending=Pending("request_purchase", Slots(qty=Decimal(100)), ("item", "date"), screws),
        language="en",
    )
    data = json.loads(json.dumps(state_to_json(state)))  # through text, as the database keeps it
    assert state_from_json(data) == state
    assert data["slots"]["qty"] == "600.125"  # exact, not a float
    assert state_from_json(state_to_json(ThreadState())) == ThreadState()
    with pytest.raises(StateFormatError):
        state_from_json(data | {"language": "fr"})
