"""Conversations survive failures: no turn lost, doubled, reordered, expired early or brought back after Delete.

Each test drives the real service over a real store (SQLite, and Firestore on the
official emulator) through an interleaving it controls: the service's turn is a
generator, so a test can hold one turn in the middle of its reply while it sends
another message, presses Delete or moves the clock. Faults the emulator cannot
produce are put between the real pieces: a TCP proxy that loses a response, and a
TTL sweep that deletes what a TTL policy would.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.errors import ChatError, RateLimited, SessionNotFound
from firstaid_chat.model import Chunk, Prompt
from firstaid_chat.service import ChatRequest, ChatService, Delta, Done, Started
from firstaid_chat.settings import Settings

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.fakes.tcp_proxy import LossyProxy

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class HeldModel:
    """A test model that records its prompts and replies with ``reply`` in two chunks.

    ``on_reply`` runs after the first chunk, inside the model call: the moment a
    test uses to arm a fault so that it hits the store write that follows.
    """

    source = "gemini"

    def __init__(self) -> None:
        self.prompts: list[Prompt] = []
        self.reply = "ok"
        self.on_reply: Callable[[], None] | None = None

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        self.prompts.append(prompt)
        yield Chunk(text=self.reply)
        if self.on_reply is not None:
            hook, self.on_reply = self.on_reply, None
            hook()
        yield Chunk(text=".", finish_reason="STOP")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class Rig:
    """A service, its model and its clock on one store."""

    def __init__(self, kind: str, settings: Settings, client: Any = None) -> None:
        from firstaid_chat.store import build_store

        self.kind = kind
        self.model = HeldModel()
        self.clock = Clock()
        self.store: Any = build_store(settings)
        self.service = ChatService(settings, self.store, self.model, clock=self.clock)

    def send(self, message: str, session_id: str | None = None, cmid: str | None = None) -> dict[str, Any]:
        """One whole turn; the ``done`` payload."""
        events = list(self.service.turn(ChatRequest(message, session_id, cmid), client="c"))
        done = events[-1]
        assert isinstance(done, Done)
        return done.payload

    def hold(self, message: str, session_id: str | None = None, cmid: str | None = None) -> tuple[str, Iterator[Any]]:
        """Start a turn and hold it after the first words of its reply; its session id and the rest."""
        events = self.service.turn(ChatRequest(message, session_id, cmid), client="c")
        started = next(events)
        assert isinstance(started, Started)
        assert isinstance(next(events), Delta)
        return started.session_id, events

    def texts(self, session_id: str) -> list[str]:
        return [t.user_text for t in self.service.transcript(session_id)]


def settings_for(kind: str, tmp_path: Path, **overrides: Any) -> Settings:
    base: dict[str, Any] = {
        "rate_limit_client_per_minute": 0,
        "rate_limit_session_per_minute": 0,
        "session_ttl_hours": 1.0,
        "store_timeout_seconds": 8.0,
    }
    if kind == "firestore":
        base.update(chat_store="firestore", google_cloud_project=PROJECT)
    else:
        base.update(sqlite_path=tmp_path / "chat.sqlite3")
    base.update(overrides)
    return Settings(**base)


@pytest.fixture(params=["sqlite", "firestore"])
def rig_for(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Rig]:
    kind = request.param
    if kind == "firestore":
        emulator: FirestoreEmulator = request.getfixturevalue("firestore_emulator")
        emulator.clear(PROJECT)
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
    rigs: list[Rig] = []

    def build(**overrides: Any) -> Rig:
        rig = Rig(kind, settings_for(kind, tmp_path, **overrides))
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        rig.store.close()


@pytest.fixture
def proxied(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[LossyProxy]:
    """A lossy proxy in front of an empty emulator, with the Firestore client pointed at it."""
    firestore_emulator.clear(PROJECT)
    proxy = LossyProxy(("127.0.0.1", firestore_emulator.port)).start()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.host)
    yield proxy
    proxy.stop()


def firestore_rig(tmp_path: Path, **overrides: Any) -> Rig:
    return Rig("firestore", settings_for("firestore", tmp_path, **overrides))


# 1. A lost commit response


def test_lost_commit_response_does_not_double_the_turn(proxied: LossyProxy, tmp_path: Path) -> None:
    rig = firestore_rig(tmp_path)
    first = rig.send("hello")
    rig.model.on_reply = proxied.lose_next_response  # the next write after the model: storing the turn
    second = rig.send("help, burn", first["session_id"])
    assert proxied.lost == 1
    assert second["turn"] == 2
    assert second["replayed"] is False
    assert rig.texts(first["session_id"]) == ["hello", "help, burn"]


def test_lost_response_on_a_new_conversations_first_write_does_not_double_it(
    proxied: LossyProxy, tmp_path: Path
) -> None:
    rig = firestore_rig(tmp_path)
    proxied.lose_next_response()
    first = rig.send("help, burn")
    assert proxied.lost == 1
    assert rig.texts(first["session_id"]) == ["help, burn"]
    assert rig.send("and now?", first["session_id"])["turn"] == 2


def test_lost_rate_limit_count_is_not_counted_twice(proxied: LossyProxy, tmp_path: Path) -> None:
    rig = firestore_rig(tmp_path, rate_limit_client_per_minute=1)
    proxied.lose_next_response()  # the first write of a turn is the client's rate-limit count
    payload = rig.send("my son has a fever")
    assert proxied.lost == 1
    assert payload["turn"] == 1
    with pytest.raises(RateLimited):
        rig.send("and another", payload["session_id"])


# 2. TTL


def ttl_sweep(client: Any, at: datetime) -> int:
    """Delete every document whose ``expires_at`` has passed, as a Firestore TTL policy would."""
    from google.cloud.firestore_v1.base_query import FieldFilter

    deleted = 0
    for group in ("sessions", "turns", "ratelimits"):
        for snapshot in client.collection_group(group).where(filter=FieldFilter("expires_at", "<", at)).stream():
            snapshot.reference.delete()
            deleted += 1
    return deleted


def test_ttl_never_deletes_turns_of_a_live_conversation(firestore_emulator: FirestoreEmulator, tmp_path: Path) -> None:
    from google.cloud import firestore

    firestore_emulator.clear(PROJECT)
    os.environ["FIRESTORE_EMULATOR_HOST"] = firestore_emulator.host
    rig = firestore_rig(tmp_path)  # SESSION_TTL_HOURS=1
    client = firestore.Client(project=PROJECT)
    session_id = rig.send("one")["session_id"]
    for minutes, text in ((45, "two"), (90, "three"), (135, "four")):
        rig.clock.now = T0 + timedelta(minutes=minutes)
        ttl_sweep(client, rig.clock.now)
        rig.send(text, session_id)
    rig.clock.now = T0 + timedelta(minutes=180)
    ttl_sweep(client, rig.clock.now)
    assert rig.texts(session_id) == ["one", "two", "three", "four"]
    # Idle past the TTL, the conversation is gone at once, and a sweep can remove it.
    rig.clock.now = T0 + timedelta(minutes=135 + 61)
    with pytest.raises(SessionNotFound):
        rig.service.transcript(session_id)
    assert ttl_sweep(client, rig.clock.now + timedelta(days=31)) >= 5


# 3. Delete during a reply


def test_delete_during_a_new_conversations_first_reply_erases_it_for_good(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id, rest = rig.hold("my question")
    rig.service.erase(session_id)  # the page's Delete while the reply streams: must not be a 404
    with pytest.raises(SessionNotFound):
        list(rest)
    with pytest.raises(SessionNotFound):
        rig.service.transcript(session_id)
    with pytest.raises(SessionNotFound):
        rig.send("still there?", session_id)


def test_delete_during_a_reply_discards_that_reply(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id = rig.send("one")["session_id"]
    _, rest = rig.hold("two", session_id)
    rig.service.erase(session_id)
    with pytest.raises(SessionNotFound):
        list(rest)
    with pytest.raises(SessionNotFound):
        rig.service.transcript(session_id)


# 4. Stop, then a quick follow-up


def test_follow_up_while_a_new_conversations_first_reply_is_written_waits(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id, rest = rig.hold("one")  # Stop pressed: the server still finishes and stores it
    with pytest.raises(ChatError) as refused:
        rig.send("two", session_id)
    assert (refused.value.status, refused.value.code) == (409, "turn_in_progress")
    assert refused.value.headers.get("Retry-After")
    list(rest)
    assert rig.send("two", session_id)["turn"] == 2
    assert rig.texts(session_id) == ["one", "two"]


def test_follow_up_while_a_reply_is_written_keeps_order_and_context(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id = rig.send("one")["session_id"]
    _, rest = rig.hold("two", session_id)
    with pytest.raises(ChatError) as refused:
        rig.send("three", session_id)
    assert refused.value.code == "turn_in_progress"
    list(rest)
    rig.send("three", session_id)
    assert rig.texts(session_id) == ["one", "two", "three"]
    assert [t.user_text for t in rig.model.prompts[-1].history] == ["one", "two"]


def test_a_failed_turn_releases_the_conversation(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id = rig.send("one")["session_id"]

    def fail() -> None:
        from firstaid_chat.errors import ModelTimeout

        raise ModelTimeout()

    rig.model.on_reply = fail
    with pytest.raises(ChatError):
        list(rig.service.turn(ChatRequest("two", session_id), client="c"))
    assert rig.send("three", session_id)["turn"] == 2
    assert rig.texts(session_id) == ["one", "three"]


def test_a_claim_left_by_a_crashed_instance_lapses(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(request_timeout_seconds=30.0)
    session_id = rig.send("one")["session_id"]
    _, abandoned = rig.hold("two", session_id)  # never resumed nor closed: the instance died
    rig.clock.now = T0 + timedelta(seconds=31)
    assert rig.send("three", session_id)["turn"] == 2
    del abandoned


# 5. The per-session rate limit


def test_session_rate_limit_counts_every_turn_however_long_the_replies(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(rate_limit_session_per_minute=3, history_budget_chars=0)
    rig.model.reply = "x" * 3000
    session_id = rig.send("one")["session_id"]
    rig.send("two", session_id)
    rig.send("three", session_id)
    with pytest.raises(RateLimited) as limited:
        rig.send("four", session_id)
    assert 1 <= int(limited.value.headers["Retry-After"]) <= 60
    assert len(rig.model.prompts) == 3
    rig.clock.now = T0 + timedelta(seconds=61)
    assert rig.send("four", session_id)["turn"] == 4


def test_parallel_messages_to_one_session_reach_the_model_one_at_a_time(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(rate_limit_session_per_minute=10)
    session_id = rig.send("one")["session_id"]
    held = [rig.hold("two", session_id)]
    refused: list[str] = []
    for i in range(5):
        try:
            held.append(rig.hold(f"parallel {i}", session_id))
        except ChatError as exc:
            refused.append(exc.code)
    for _, rest in held:
        list(rest)
    assert refused == ["turn_in_progress"] * 5
    assert len(rig.model.prompts) == 2
    assert rig.texts(session_id) == ["one", "two"]


# 6. Client message ids


def test_reused_client_message_id_with_other_text_is_refused(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id = rig.send("how do I treat a burn?", cmid="m-1")["session_id"]
    with pytest.raises(ChatError) as refused:
        rig.send("and a sprain?", session_id, cmid="m-1")
    assert (refused.value.status, refused.value.code) == (409, "client_message_id_reused")
    assert rig.texts(session_id) == ["how do I treat a burn?"]
    assert len(rig.model.prompts) == 1


def test_late_retry_after_the_tail_moved_on_is_replayed_not_resent(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for(history_budget_chars=0)
    rig.model.reply = "y" * 3000
    first = rig.send("first", cmid="m-1")
    session_id = first["session_id"]
    for i in range(2, 12):
        rig.send(f"turn {i}", session_id, cmid=f"m-{i}")
    calls = len(rig.model.prompts)
    events = list(rig.service.turn(ChatRequest("first", session_id, "m-1"), client="c"))
    streamed = "".join(e.text for e in events if isinstance(e, Delta))
    done = events[-1].payload
    assert done["replayed"] is True
    assert (done["turn"], done["reply"]) == (1, first["reply"])
    assert streamed == first["reply"]
    assert len(rig.model.prompts) == calls
    assert [t.seq for t in rig.service.transcript(session_id)] == list(range(1, 12))
    with pytest.raises(ChatError) as refused:
        rig.send("something else", session_id, cmid="m-1")
    assert refused.value.code == "client_message_id_reused"


def test_retry_while_its_turn_is_being_written_takes_over_and_stores_once(rig_for: Callable[..., Rig]) -> None:
    rig = rig_for()
    session_id = rig.send("one")["session_id"]
    _, first_attempt = rig.hold("two", session_id, cmid="m-2")
    retry = rig.send("two", session_id, cmid="m-2")  # the client lost the stream and resent at once
    assert (retry["turn"], retry["replayed"]) == (2, False)
    with pytest.raises(ChatError) as superseded:
        list(first_attempt)
    assert superseded.value.code == "turn_superseded"
    assert rig.texts(session_id) == ["one", "two"]
    again = rig.send("two", session_id, cmid="m-2")
    assert (again["turn"], again["replayed"], again["reply"]) == (2, True, retry["reply"])


# 7. Smaller ones


def test_a_failed_sqlite_write_leaves_no_transaction_open(tmp_path: Path) -> None:
    from firstaid_chat.errors import StoreUnavailable
    from firstaid_chat.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "chat.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    rig = Rig("sqlite", settings_for("sqlite", tmp_path))
    session_id = rig.send("hello")["session_id"]
    db = store._connect()
    db.execute("PRAGMA query_only = ON")  # every write on this connection now fails, as a full disk would
    with pytest.raises(StoreUnavailable):
        store.delete_session(session_id, T0)
    assert not db.in_transaction
    db.execute("PRAGMA query_only = OFF")
    assert store.delete_session(session_id, T0) is True  # was: "cannot start a transaction within a transaction"
    store.close()
    rig.store.close()


@pytest.mark.parametrize("method", ["GET", "DELETE", "POST"])
def test_reserved_firestore_ids_are_not_session_ids(method: str, make_client: Callable[..., Any]) -> None:
    client = make_client()
    reserved = "__" + "a" * 22 + "__"
    if method == "POST":
        response = client.post("/v1/chat", json={"message": "hi", "session_id": reserved})
    else:
        response = client.open(f"/v1/sessions/{reserved}", method=method)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_session_id"


def test_new_session_ids_are_never_reserved_firestore_ids(monkeypatch: pytest.MonkeyPatch) -> None:
    from firstaid_chat import conversation

    made = iter(["__" + "b" * 28 + "__", "c" * 32])
    monkeypatch.setattr(conversation.secrets, "token_urlsafe", lambda n: next(made))
    assert conversation.new_session_id() == "c" * 32


def test_a_failed_first_message_leaves_no_conversation_behind(rig_for: Callable[..., Rig]) -> None:
    from firstaid_chat.errors import ModelTimeout

    rig = rig_for()

    def fail() -> None:
        raise ModelTimeout()

    rig.model.on_reply = fail
    events = rig.service.turn(ChatRequest("help"), client="c")
    started = next(events)
    assert isinstance(started, Started)
    with pytest.raises(ModelTimeout):
        list(events)
    with pytest.raises(SessionNotFound):
        rig.service.transcript(started.session_id)


def test_a_turn_finished_after_the_client_left_is_stored_and_logged(
    rig_for: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    rig = rig_for()
    session_id, rest = rig.hold("one")
    with caplog.at_level("INFO", logger="firstaid_chat.service"):
        rest.close()  # what the server does when the connection drops
    assert rig.texts(session_id) == ["one"]
    stored = [r for r in caplog.records if r.getMessage() == "turn stored"]
    assert len(stored) == 1
    assert stored[0].client_disconnected is True
    assert stored[0].turn == 1


def test_a_session_changed_under_every_claim_is_busy_not_unavailable(tmp_path: Path) -> None:
    from firstaid_chat.conversation import TurnDraft
    from firstaid_chat.errors import TurnInProgress
    from firstaid_chat.store import record_turn
    from firstaid_chat.store.sqlite import SQLiteStore

    path = tmp_path / "raced.sqlite3"
    other = SQLiteStore(path, ttl=timedelta(hours=1), tail_chars=32_000)

    class RacedStore(SQLiteStore):
        """Another instance stores a turn between every load and every claim (a real write)."""

        def claim_turn(self, session_id: str, loaded: Any, *args: Any, **kwargs: Any) -> Any:
            if loaded is not None:
                record_turn(other, session_id, TurnDraft("other", "reply"), T0)
            return super().claim_turn(session_id, loaded, *args, **kwargs)

    settings = settings_for("sqlite", tmp_path)
    store = RacedStore(path, ttl=timedelta(hours=1), tail_chars=32_000)
    session_id = "s" * 32
    record_turn(other, session_id, TurnDraft("one", "1"), T0, create=True)
    service = ChatService(settings, store, HeldModel(), clock=lambda: T0)
    with pytest.raises(TurnInProgress) as busy:
        list(service.turn(ChatRequest("mine", session_id), client="c"))
    assert busy.value.headers["Retry-After"] == "2"
    store.close()
    other.close()
