"""Store behaviours pinned because a mutation of a store module survived every other test.

Each test states what a store keeps or returns, on SQLite and on Firestore (the official
emulator) alike unless its name says otherwise; scripts/mutation.py lists the mutants they kill.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.conversation import TurnDraft, new_session_id, new_turn_key, text_hash
from firstaid_chat.errors import SessionNotFound, TurnSuperseded
from firstaid_chat.store import ClaimConflict, record_turn
from firstaid_chat.store.sqlite import SQLiteStore

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(params=["sqlite", "firestore"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Builds stores of the parameter's kind (``ttl``, ``max_age``) on one empty database."""
    made: list[Any] = []
    if request.param == "firestore":
        emulator: FirestoreEmulator = request.getfixturevalue("firestore_emulator")
        emulator.clear(PROJECT)
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", emulator.host)

    def build(ttl: timedelta = HOUR, max_age: timedelta | None = None) -> Any:
        store: Any
        if request.param == "sqlite":
            store = SQLiteStore(tmp_path / "chat.sqlite3", ttl=ttl, tail_chars=32_000, max_age=max_age)
        else:
            from firstaid_chat.store.firestore import FirestoreStore
            from google.cloud import firestore

            client = firestore.Client(project=PROJECT)
            store = FirestoreStore(client, collection="sessions", ttl=ttl, tail_chars=32_000, max_age=max_age)
        made.append(store)
        return store

    yield build
    for store in made:
        store.close()


def turn(store: Any, session_id: str, text: str, at: datetime, cmid: str | None = None, **fields: Any) -> Any:
    """One whole turn as the service stores it (load, claim, store); the stored turn."""
    draft = TurnDraft(text, f"reply to {text}", cmid, **fields)
    return record_turn(store, session_id, draft, at, create=store.load_session(session_id, at) is None).turn


# The lifetime of a conversation


def test_a_conversation_ends_at_its_max_age_however_active(make_store: Callable[..., Any]) -> None:
    store = make_store(ttl=HOUR, max_age=2 * HOUR)
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    assert store.load_session(session_id, NOW).expires_at == NOW + HOUR  # idle expiry first
    turn(store, session_id, "two", NOW + timedelta(minutes=50))
    claim = store.claim_turn(
        session_id, store.load_session(session_id, NOW + timedelta(minutes=100)), new_turn_key(),
        NOW + timedelta(minutes=100), NOW + timedelta(minutes=101),
    )  # fmt: skip
    assert claim.session.expires_at == NOW + 2 * HOUR  # not 160 minutes: the max age comes first
    assert store.load_session(session_id, NOW + timedelta(minutes=100)).expires_at == NOW + 2 * HOUR
    store.append_turn(claim, TurnDraft("three", "3", key=claim.key), NOW + timedelta(minutes=100))
    assert store.load_session(session_id, NOW + 2 * HOUR - timedelta(seconds=1)).expires_at == NOW + 2 * HOUR
    assert store.load_session(session_id, NOW + 2 * HOUR) is None
    assert store.list_turns(session_id, NOW + 2 * HOUR) is None


def test_without_a_max_age_a_conversation_ends_thirty_days_after_it_began(make_store: Callable[..., Any]) -> None:
    store = make_store(ttl=timedelta(days=29))
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    turn(store, session_id, "two", NOW + timedelta(days=28))
    assert store.load_session(session_id, NOW + timedelta(days=30) - timedelta(seconds=1)) is not None
    assert store.load_session(session_id, NOW + timedelta(days=30)) is None


def test_a_ttl_longer_than_thirty_days_is_the_max_age_too(make_store: Callable[..., Any]) -> None:
    store = make_store(ttl=timedelta(days=40))
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    turn(store, session_id, "two", NOW + timedelta(days=20))
    assert store.load_session(session_id, NOW + timedelta(days=40) - timedelta(seconds=1)) is not None
    assert store.load_session(session_id, NOW + timedelta(days=40)) is None


@pytest.mark.parametrize("kind", ["sqlite", "firestore"])
def test_the_configured_max_age_ends_a_conversation(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store

    where: dict[str, Any] = {"sqlite_path": tmp_path / "chat.sqlite3"}
    if kind == "firestore":
        emulator: FirestoreEmulator = request.getfixturevalue("firestore_emulator")
        emulator.clear(PROJECT)
        request.getfixturevalue("monkeypatch").setenv("FIRESTORE_EMULATOR_HOST", emulator.host)
        where = {"chat_store": "firestore", "google_cloud_project": PROJECT}
    store = build_store(Settings(session_ttl_hours=20.0, session_max_age_days=1.0, **where))
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    turn(store, session_id, "two", NOW + timedelta(hours=19))
    assert store.load_session(session_id, NOW + timedelta(hours=24) - timedelta(seconds=1)) is not None
    assert store.load_session(session_id, NOW + timedelta(hours=24)) is None
    store.close()


# Claims


@pytest.mark.parametrize("cmid", ["m-1", None])
def test_a_claim_records_the_turn_in_progress_until_it_lapses(make_store: Callable[..., Any], cmid: str | None) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    key, at, until = new_turn_key(), NOW + timedelta(seconds=5), NOW + timedelta(seconds=65)
    claim = store.claim_turn(session_id, store.load_session(session_id, at), key, at, until, cmid)
    assert (claim.session_id, claim.key) == (session_id, key)
    loaded = store.load_session(session_id, at)
    for session in (claim.session, loaded):
        assert session.id == session_id
        assert session.turn_count == 1
        assert [t.user_text for t in session.recent] == ["one"]
        assert session.pending_key == key
        assert session.pending_until == until
        assert session.pending_message == (text_hash(cmid) if cmid else None)
        assert session.created_at == NOW
        assert session.expires_at == at + HOUR
        assert session.turn_in_progress(at)
        assert not session.turn_in_progress(until)
        assert session.turn_in_progress(at, "m-other")
        assert session.turn_in_progress(at, cmid) is (cmid is None)  # a retry of that message takes over
    assert claim.version == claim.session.version == loaded.version  # the state the claim wrote


def test_a_new_conversations_claim_holds_an_empty_session(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    key = new_turn_key()
    claim = store.claim_turn(session_id, None, key, NOW, NOW + timedelta(seconds=60), "m-1")
    loaded = store.load_session(session_id, NOW)
    for session in (claim.session, loaded):
        assert (session.id, session.turn_count, session.recent) == (session_id, 0, ())
        assert (session.created_at, session.expires_at) == (NOW, NOW + HOUR)
        assert (session.pending_key, session.pending_until) == (key, NOW + timedelta(seconds=60))
        assert session.pending_message == text_hash("m-1")
        assert session.claims == (NOW,)
        assert session.indexed_all  # nothing stored yet, so a retry needs no lookup
    assert claim.version == claim.session.version == loaded.version


def test_a_session_remembers_the_turn_starts_of_the_last_minute_only(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    for seconds in (0, 30, 59):
        turn(store, session_id, f"at {seconds}", NOW + timedelta(seconds=seconds))
    starts = (NOW, NOW + timedelta(seconds=30), NOW + timedelta(seconds=59))
    assert store.load_session(session_id, NOW + timedelta(seconds=59)).claims == starts
    minute = NOW + timedelta(seconds=60)
    turn(store, session_id, "at 60", minute)  # the start at 0 is now a minute old
    assert store.load_session(session_id, minute).claims == (*starts[1:], minute)


def test_a_session_keeps_at_most_a_thousand_turn_starts(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    starts = [NOW + timedelta(milliseconds=10 * i) for i in range(1000)]  # all within the last minute
    if isinstance(store, SQLiteStore):
        with store._write() as db:
            db.execute(
                "UPDATE sessions SET claims = ? WHERE id = ?", (json.dumps([s.timestamp() for s in starts]), session_id)
            )
    else:
        store._sessions.document(session_id).update({"claims": starts})
    at = NOW + timedelta(seconds=20)
    claim = store.claim_turn(session_id, store.load_session(session_id, at), new_turn_key(), at, at + HOUR)
    for session in (claim.session, store.load_session(session_id, at)):
        assert len(session.claims) == 1000
        assert (session.claims[0], session.claims[-2], session.claims[-1]) == (starts[1], starts[-1], at)


def test_a_claim_on_a_conversation_changed_or_deleted_since_its_load_conflicts(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    stale = store.load_session(session_id, NOW)
    turn(store, session_id, "two", NOW)  # another turn stored meanwhile
    with pytest.raises(ClaimConflict) as changed:
        store.claim_turn(session_id, stale, new_turn_key(), NOW, NOW + HOUR)
    assert (changed.value.session.id, changed.value.session.turn_count) == (session_id, 2)
    with pytest.raises(ClaimConflict) as taken:  # a new conversation whose id is taken
        store.claim_turn(session_id, None, new_turn_key(), NOW, NOW + HOUR)
    assert taken.value.session is None
    loaded = store.load_session(session_id, NOW)
    store.delete_session(session_id, NOW)  # the page's Delete meanwhile
    with pytest.raises(ClaimConflict) as deleted:
        store.claim_turn(session_id, loaded, new_turn_key(), NOW, NOW + HOUR)
    assert deleted.value.session is None
    assert store.load_session(session_id, NOW) is None


# Releasing a claim


def test_a_released_claim_frees_the_conversation_and_keeps_its_turns(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    claim = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR)
    store.release_turn(claim, NOW)
    session = store.load_session(session_id, NOW)
    assert (session.pending_key, session.pending_until) == (None, None)
    assert not session.turn_in_progress(NOW)
    assert [t.user_text for t in session.recent] == ["one"]
    assert turn(store, session_id, "two", NOW).seq == 2


def test_releasing_a_lapsed_claim_leaves_the_next_turns_claim(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    lapsed = store.claim_turn(
        session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + timedelta(seconds=30)
    )
    later = NOW + timedelta(seconds=40)
    next_key = new_turn_key()
    store.claim_turn(session_id, store.load_session(session_id, later), next_key, later, later + timedelta(seconds=30))
    store.release_turn(lapsed, later)  # the first instance gives up late
    session = store.load_session(session_id, later)
    assert session.pending_key == next_key
    assert session.turn_in_progress(later)


def test_a_failed_first_turn_leaves_the_id_free_for_a_new_conversation(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    claim = store.claim_turn(session_id, None, new_turn_key(), NOW, NOW + HOUR)
    store.release_turn(claim, NOW)
    assert store.load_session(session_id, NOW) is None
    assert store.list_turns(session_id, NOW) is None
    assert turn(store, session_id, "again", NOW).seq == 1


def test_a_failed_first_turn_released_late_leaves_its_retrys_conversation(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    lapsed = store.claim_turn(session_id, None, new_turn_key(), NOW, NOW + timedelta(seconds=30), "m-1")
    later = NOW + timedelta(seconds=40)
    retry = store.claim_turn(
        session_id, store.load_session(session_id, later), new_turn_key(), later, later + HOUR, "m-1"
    )
    store.release_turn(lapsed, later)  # the first attempt failed, and gives up after its retry took over
    assert store.load_session(session_id, later).pending_key == retry.key
    assert store.append_turn(retry, TurnDraft("hi", "hello", "m-1", key=retry.key), later).turn.seq == 1


# Storing


def test_a_turn_keeps_every_field_it_was_stored_with(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    key = new_turn_key()
    claim = store.claim_turn(session_id, None, key, NOW, NOW + HOUR, "m-1")
    draft = TurnDraft(
        "my arm is bleeding", "Press on it.", "m-1", finish_reason="MAX_TOKENS", source="offline",
        emergency=True, in_context=False, key=key,
    )  # fmt: skip
    stored = store.append_turn(claim, draft, NOW + timedelta(seconds=3))
    assert stored.replayed is False
    expected = (1, "my arm is bleeding", "Press on it.", NOW + timedelta(seconds=3), "m-1", "MAX_TOKENS", "offline")
    for got in (
        stored.turn,
        store.list_turns(session_id, NOW)[0],
        store.load_session(session_id, NOW).recent[0],
        store.find_turn(session_id, "m-1", NOW),
    ):
        assert (got.seq, got.user_text, got.reply_text, got.created_at, got.client_message_id) == expected[:5]
        assert (got.finish_reason, got.source) == expected[5:]
        assert (got.emergency, got.in_context, got.key) == (True, False, key)
    assert store.find_turn(session_id, "m-2", NOW) is None


def test_a_stored_turn_moves_the_expiry_and_clears_its_claim(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    at = NOW + timedelta(minutes=30)
    claim = store.claim_turn(session_id, store.load_session(session_id, at), new_turn_key(), at, at + HOUR)
    store.append_turn(claim, TurnDraft("two", "2", key=claim.key), at + timedelta(seconds=10))
    session = store.load_session(session_id, at)
    assert session.expires_at == at + timedelta(seconds=10) + HOUR
    assert session.turn_count == 2
    assert (session.pending_key, session.pending_until) == (None, None)


def test_a_late_turn_is_stored_without_clearing_the_claim_that_replaced_its_own(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    slow = store.claim_turn(
        session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + timedelta(seconds=30)
    )
    later = NOW + timedelta(seconds=40)
    next_claim = store.claim_turn(
        session_id, store.load_session(session_id, later), new_turn_key(), later, later + timedelta(seconds=30), "m-3"
    )
    store.append_turn(slow, TurnDraft("slow", "s", key=slow.key), later)  # its claim lapsed, nothing else changed
    session = store.load_session(session_id, later)
    assert session.turn_count == 2
    assert session.pending_key == next_claim.key  # the next turn still holds the conversation
    assert session.turn_in_progress(later)
    # The next turn, which still holds its claim, stores after it: not taken for a superseded attempt.
    stored = store.append_turn(next_claim, TurnDraft("next", "n", "m-3", key=next_claim.key), later)
    assert (stored.turn.seq, stored.replayed) == (3, False)
    assert store.load_session(session_id, later).pending_key is None


def test_a_racing_retry_already_stored_is_replayed_and_its_claim_cleared(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    first = turn(store, session_id, "two", NOW, cmid="m-2")
    # A retry of "two" that claimed without seeing it stored (as when it is past the inline tail).
    loaded = store.load_session(session_id, NOW)
    retry_claim = store.claim_turn(session_id, loaded, new_turn_key(), NOW, NOW + HOUR, "m-2")
    stored = store.append_turn(retry_claim, TurnDraft("two", "other", "m-2", key=retry_claim.key), NOW)
    assert stored.replayed is True
    assert (stored.turn.seq, stored.turn.reply_text) == (first.seq, "reply to two")
    session = store.load_session(session_id, NOW)
    assert session.turn_count == 2
    assert session.pending_key is None
    assert [t.user_text for t in store.list_turns(session_id, NOW)] == ["one", "two"]


def test_a_reply_to_a_deleted_conversation_tells_the_person_it_was_not_kept(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    claim = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR)
    assert store.delete_session(session_id, NOW) is True  # the page's Delete while the reply streams
    with pytest.raises(SessionNotFound) as gone:
        store.append_turn(claim, TurnDraft("two", "2", key=claim.key), NOW)
    assert gone.value.message == "This conversation was deleted or has expired; the reply was not kept."
    assert store.list_turns(session_id, NOW) is None


def test_a_first_attempt_overtaken_by_its_retry_is_discarded(make_store: Callable[..., Any]) -> None:
    store = make_store()
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    first = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR, "m-2")
    # The client lost the stream and resent the message: its retry takes the claim over.
    retry = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR, "m-2")
    with pytest.raises(TurnSuperseded):
        store.append_turn(first, TurnDraft("two", "first", "m-2", key=first.key), NOW)
    session = store.load_session(session_id, NOW)
    assert (session.turn_count, session.pending_key) == (1, retry.key)
    stored = store.append_turn(retry, TurnDraft("two", "retry", "m-2", key=retry.key), NOW)
    assert (stored.turn.seq, stored.turn.reply_text, stored.replayed) == (2, "retry", False)
    assert [t.reply_text for t in store.list_turns(session_id, NOW)] == ["reply to one", "retry"]


# Counters


@pytest.mark.parametrize(("after", "wait"), [(20.0, 40), (20.5, 40), (59.5, 1), (0.0, 60)])
def test_a_limited_request_is_told_the_seconds_left_in_its_window(
    make_store: Callable[..., Any], after: float, wait: int
) -> None:
    store = make_store()
    at = NOW + timedelta(seconds=after)  # NOW starts a minute
    assert store.hit_rate_limit("client:1", 1, 60, at) is None
    assert store.hit_rate_limit("client:1", 1, 60, at) == wait  # rounded up, and never 0
    assert store.hit_rate_limit("client:1", 1, 60, NOW + timedelta(seconds=60)) is None  # a new window


# SQLite only: the file's own properties


def test_sqlite_a_file_of_the_first_release_is_upgraded_in_place_and_keeps_its_conversations(tmp_path: Path) -> None:
    from firstaid_chat.store.sqlite_rows import SCHEMA

    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.execute(
            "INSERT INTO sessions (id, created_at, updated_at, expires_at, turn_count) VALUES (?, ?, ?, ?, 1)",
            ("s" * 32, NOW.timestamp(), NOW.timestamp(), (NOW + HOUR).timestamp()),
        )
        db.execute(
            "INSERT INTO turns (session_id, seq, client_message_id, user_text, reply_text, created_at, "
            "finish_reason, source, emergency, in_context) VALUES (?, 1, NULL, 'old', 'reply', ?, 'STOP', "
            "'gemini', 0, 1)",
            ("s" * 32, NOW.timestamp()),
        )
    db.close()
    store = SQLiteStore(path, ttl=HOUR, tail_chars=32_000, max_age=HOUR)
    session = store.load_session("s" * 32, NOW)
    assert session is not None
    assert ([t.user_text for t in session.recent], session.claims, session.pending_key) == (["old"], (), None)
    assert session.recent[0].key == ""
    # Without a stored end, the conversation ends at its max age from when it began.
    turn(store, "s" * 32, "new", NOW + timedelta(minutes=30))
    assert store.load_session("s" * 32, NOW + HOUR - timedelta(seconds=1)) is not None
    assert store.load_session("s" * 32, NOW + HOUR) is None
    store.close()
    SQLiteStore(path, ttl=HOUR, tail_chars=32_000).close()  # opening an upgraded file again changes nothing


def test_sqlite_a_budget_mark_that_cannot_be_written_is_not_the_days_first(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chat.sqlite3", ttl=HOUR, tail_chars=32_000)
    with store._read() as db:
        db.execute("PRAGMA query_only = ON")  # every write now fails, as on a full disk
    assert store.mark_budget_spent("2026-11-27", NOW) is False
    with store._read() as db:
        db.execute("PRAGMA query_only = OFF")
    assert store.mark_budget_spent("2026-11-27", NOW) is True
    assert store.mark_budget_spent("2026-11-27", NOW) is False
    store.close()


def test_sqlite_a_closed_store_reconnects_when_used_again(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "chat.sqlite3", ttl=HOUR, tail_chars=32_000)
    session_id = new_session_id()
    turn(store, session_id, "one", NOW)
    store.close()
    assert [t.user_text for t in store.list_turns(session_id, NOW)] == ["one"]
    store.close()


def test_sqlite_the_file_is_made_where_configured_written_ahead_with_a_log(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "chat.sqlite3"
    store = SQLiteStore(path, ttl=HOUR, tail_chars=32_000)
    turn(store, new_session_id(), "one", NOW)
    with store._read() as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert path.exists()
    assert path.with_name("chat.sqlite3-wal").exists()
    store.close()
