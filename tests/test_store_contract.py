"""One contract for every Store: SQLite always, Firestore against the official emulator."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.conversation import Stored, Turn, TurnDraft, new_session_id
from firstaid_chat.errors import SessionNotFound
from firstaid_chat.store import ClaimConflict, record_turn
from firstaid_chat.store.sqlite import SQLiteStore

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator

TTL = timedelta(hours=1)
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def make_firestore(emulator: FirestoreEmulator, tail_chars: int = 32_000) -> Any:
    import os

    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    os.environ["FIRESTORE_EMULATOR_HOST"] = emulator.host
    emulator.clear(PROJECT)
    client = firestore.Client(project=PROJECT)
    return FirestoreStore(client, collection="sessions", ttl=TTL, tail_chars=tail_chars)


@pytest.fixture(params=["sqlite", "firestore"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    if request.param == "sqlite":
        made: Any = SQLiteStore(tmp_path / "chat.sqlite3", ttl=TTL, tail_chars=32_000)
    else:
        made = make_firestore(request.getfixturevalue("firestore_emulator"))
    yield made
    made.close()


def store_turn(store: Any, session_id: str, turn: TurnDraft, now: datetime, *, create: bool = False) -> Stored:
    """What the service does for one turn: load the session, claim it, store the finished turn."""
    return record_turn(store, session_id, turn, now, create=create)


def append(store: Any, session_id: str, turn: TurnDraft, now: datetime, *, create: bool = False) -> Turn:
    return store_turn(store, session_id, turn, now, create=create).turn


def draft(text: str, client_message_id: str | None = None, **fields: Any) -> TurnDraft:
    return TurnDraft(user_text=text, reply_text=f"reply to {text}", client_message_id=client_message_id, **fields)


def test_new_session_holds_its_first_turn(store: Any) -> None:
    session_id = new_session_id()
    turn = append(store, session_id, draft("hello"), NOW, create=True)
    assert turn.seq == 1
    session = store.load_session(session_id, NOW)
    assert session.turn_count == 1
    assert [t.user_text for t in session.recent] == ["hello"]
    assert session.expires_at == NOW + TTL


def test_turns_are_numbered_in_order_and_listed_in_order(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("t1"), NOW, create=True)
    for i in range(2, 6):
        append(store, session_id, draft(f"t{i}", source="offline", emergency=i == 3), NOW, create=False)
    turns = store.list_turns(session_id, NOW)
    assert [t.seq for t in turns] == [1, 2, 3, 4, 5]
    assert [t.user_text for t in turns] == ["t1", "t2", "t3", "t4", "t5"]
    assert turns[2].emergency
    assert turns[2].source == "offline"
    assert turns[0].created_at == NOW


def test_unknown_session_is_none_and_cannot_be_appended_to(store: Any) -> None:
    session_id = new_session_id()
    assert store.load_session(session_id, NOW) is None
    assert store.list_turns(session_id, NOW) is None
    with pytest.raises(SessionNotFound):
        append(store, session_id, draft("hi"), NOW, create=False)
    assert store.load_session(session_id, NOW) is None


def test_expired_session_is_gone_before_any_cleanup(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("hi"), NOW, create=True)
    later = NOW + TTL + timedelta(seconds=1)
    assert store.load_session(session_id, later) is None
    assert store.list_turns(session_id, later) is None
    with pytest.raises(SessionNotFound):
        append(store, session_id, draft("again"), later, create=False)
    assert store.delete_session(session_id, later) is False


def test_each_turn_extends_the_expiry(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("hi"), NOW, create=True)
    append(store, session_id, draft("again"), NOW + timedelta(minutes=50), create=False)
    assert store.load_session(session_id, NOW + timedelta(minutes=70)) is not None


def test_same_client_message_id_is_stored_once(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("hi", "c-1"), NOW, create=True)
    first = append(store, session_id, draft("retry me", "c-2"), NOW, create=False)
    again = append(store, session_id, TurnDraft("retry me", "a different reply", "c-2"), NOW, create=False)
    assert again == first
    assert [t.seq for t in store.list_turns(session_id, NOW)] == [1, 2]
    assert store.load_session(session_id, NOW).find("c-2") == first


def test_delete_removes_the_session_and_its_turns(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("hi"), NOW, create=True)
    append(store, session_id, draft("again"), NOW, create=False)
    assert store.delete_session(session_id, NOW) is True
    assert store.load_session(session_id, NOW) is None
    assert store.list_turns(session_id, NOW) is None
    assert store.delete_session(session_id, NOW) is False


def test_recent_tail_is_bounded_but_history_is_complete(store: Any) -> None:
    session_id = new_session_id()
    big = "x" * 1000
    append(store, session_id, draft(big + "0"), NOW, create=True)
    for i in range(1, 60):
        append(store, session_id, draft(big + str(i)), NOW, create=False)
    session = store.load_session(session_id, NOW)
    assert session.turn_count == 60
    assert 10 <= len(session.recent) < 60
    assert session.recent[-1].seq == 60
    assert [t.seq for t in session.recent] == list(range(61 - len(session.recent), 61))
    assert len(store.list_turns(session_id, NOW)) == 60


def test_concurrent_turns_on_one_session_lose_and_duplicate_nothing(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, draft("start"), NOW, create=True)
    errors: list[BaseException] = []

    def post(i: int) -> None:
        # Each client resends while another turn holds the session (409 turn_in_progress).
        for _ in range(5000):
            try:
                append(store, session_id, draft(f"concurrent {i}", f"id-{i}"), NOW)
                return
            except ClaimConflict:
                time.sleep(0.001)
            except BaseException as exc:
                errors.append(exc)
                return
        errors.append(TimeoutError(f"client {i} never got its turn"))

    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    turns = store.list_turns(session_id, NOW)
    assert [t.seq for t in turns] == list(range(1, 22))
    assert sorted(t.user_text for t in turns[1:]) == sorted(f"concurrent {i}" for i in range(20))
    assert all(t.reply_text == f"reply to {t.user_text}" for t in turns)


def test_rate_limit_counts_within_a_window(store: Any) -> None:
    assert store.hit_rate_limit("client:1", 2, 60, NOW) is None
    assert store.hit_rate_limit("client:1", 2, 60, NOW) is None
    wait = store.hit_rate_limit("client:1", 2, 60, NOW)
    assert wait is not None
    assert 1 <= wait <= 60
    assert store.hit_rate_limit("client:2", 2, 60, NOW) is None
    assert store.hit_rate_limit("client:1", 2, 60, NOW + timedelta(seconds=60)) is None
