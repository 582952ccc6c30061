"""The chat service on its own: streaming consumers that leave, concurrency through the API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from firstaid_chat.model import Chunk, Prompt
from firstaid_chat.service import ChatRequest, ChatService, Delta, Done, Started
from firstaid_chat.settings import Settings
from firstaid_chat.store.sqlite import SQLiteStore

from tests.clients import post_resending


class ScriptedModel:
    """A test model: replies from a queue and records every prompt it was given."""

    source = "gemini"

    def __init__(self) -> None:
        self.replies: list[list[str]] = []
        self.prompts: list[Prompt] = []

    def enqueue(self, *chunks: str) -> None:
        self.replies.append(list(chunks))

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        self.prompts.append(prompt)
        for text in self.replies.pop(0) if self.replies else ["ok"]:
            yield Chunk(text=text)
        yield Chunk(finish_reason="STOP")


def make_service(tmp_path: Path, **settings: Any) -> tuple[ChatService, ScriptedModel]:
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0, **settings)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    model = ScriptedModel()
    return ChatService(config, store, model), model


def test_reply_is_stored_when_the_client_leaves_mid_stream(tmp_path: Path) -> None:
    service, model = make_service(tmp_path)
    model.enqueue("one ", "two ", "three")
    events = service.turn(ChatRequest("count"), client="c")
    assert isinstance(next(events), Started)
    assert next(events) == Delta("one ")
    events.close()  # what the server does when the connection drops
    sessions = service.store._connect().execute("SELECT id FROM sessions").fetchall()
    assert len(sessions) == 1
    turns = service.transcript(sessions[0]["id"])
    assert [t.reply_text for t in turns] == ["one two three"]


def test_done_carries_what_was_streamed(tmp_path: Path) -> None:
    service, model = make_service(tmp_path)
    model.enqueue("a", "b")
    events = list(service.turn(ChatRequest("x"), client="c"))
    assert isinstance(events[0], Started)
    assert events[1:3] == [Delta("a"), Delta("b")]
    assert events[-1].payload["session_id"] == events[0].session_id
    assert isinstance(events[-1], Done)
    assert events[-1].payload["reply"] == "ab"


def test_twenty_concurrent_posts_to_one_session_through_the_api(make_client: Any, gemini: Any) -> None:
    client = make_client()
    session_id = client.post("/v1/chat", json={"message": "start"}).get_json()["session_id"]
    statuses: list[int] = []

    def post(i: int) -> None:
        body = {"message": f"m{i}", "session_id": session_id, "client_message_id": f"c{i}"}
        statuses.append(post_resending(client, body)[0].status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 20
    messages = client.get(f"/v1/sessions/{session_id}").get_json()["messages"]
    assert len(messages) == 42
    assert [m["role"] for m in messages] == ["user", "model"] * 21
    assert [m["turn"] for m in messages] == [n for n in range(1, 22) for _ in (0, 1)]
    for user, model in zip(messages[::2], messages[1::2], strict=False):
        assert model["text"] == f"Fake reply to: {user['text']}"
