"""Firestore store behaviours pinned because a mutation of a Firestore store module survived.

What the documents hold (the data model in store/firestore.py), documents older releases
wrote, writes retried after a lost response, and what each counter stores and logs, against
the official emulator. scripts/mutation.py lists the mutants these tests kill.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from firstaid_chat.conversation import TurnDraft, new_session_id, new_turn_key, text_hash
from firstaid_chat.errors import StoreUnavailable
from firstaid_chat.store import record_turn

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator, free_port

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def firestore_store(host: str, *, tail_chars: int = 32_000, timeout: float = 8.0) -> Any:
    import os

    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    client = firestore.Client(project=PROJECT)
    return FirestoreStore(
        client, collection="sessions", ttl=HOUR, tail_chars=tail_chars, timeout=timeout, max_age=2 * HOUR
    )


@pytest.fixture
def store(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    firestore_emulator.clear(PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    made = firestore_store(firestore_emulator.host)
    yield made
    made.close()


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A store whose Firestore does not answer (nothing listens on its port)."""
    host = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", host)
    made = firestore_store(host, timeout=0.2)
    yield made
    made.close()


def document(store: Any, *path: str) -> dict[str, Any]:
    snapshot = store._client.document(*path).get()
    assert snapshot.exists, "/".join(path)
    data: dict[str, Any] = snapshot.to_dict()
    return data


# The session and turn documents


def test_the_session_and_turn_documents_hold_the_documented_fields(store: Any) -> None:
    session_id = new_session_id()
    key = new_turn_key()
    claim = store.claim_turn(session_id, None, key, NOW, NOW + timedelta(seconds=60), "m-1")
    claimed = document(store, "sessions", session_id)
    assert claimed == {
        "created_at": NOW,
        "updated_at": NOW,
        "expires_at": NOW + HOUR,
        "ends_at": NOW + 2 * HOUR,
        "turn_count": 0,
        "recent": [],
        "refs": [],
        "claims": [NOW],
        "pending": {"key": key, "until": NOW + timedelta(seconds=60), "message": text_hash("m-1")},
    }
    stored_at = NOW + timedelta(seconds=5)
    store.append_turn(claim, TurnDraft("help", "reply", "m-1", key=key), stored_at)
    session = document(store, "sessions", session_id)
    turn = {
        "seq": 1,
        "key": key,
        "user_text": "help",
        "reply_text": "reply",
        "created_at": stored_at,
        "client_message_id": "m-1",
        "finish_reason": "STOP",
        "source": "gemini",
        "emergency": False,
        "in_context": True,
    }
    assert session == {
        **{name: value for name, value in claimed.items() if name != "pending"},  # the claim is cleared
        "updated_at": stored_at,
        "expires_at": stored_at + HOUR,
        "turn_count": 1,
        "recent": [turn],
        "refs": [{"s": 1, "k": key, "c": text_hash("m-1"), "h": text_hash("help")}],
    }
    # A turn with a client message id is found by it; one without, by its number.
    assert document(store, "sessions", session_id, "turns", f"m-{text_hash('m-1')}") == {
        **turn,
        "expires_at": NOW + 2 * HOUR,
    }
    record_turn(store, session_id, TurnDraft("more", "r"), stored_at)
    assert document(store, "sessions", session_id, "turns", "00000002")["user_text"] == "more"


def test_documents_written_before_the_turn_index_read_with_their_defaults(store: Any) -> None:
    session_id = new_session_id()
    old_turn = {"seq": 1, "user_text": "old", "reply_text": "reply", "created_at": NOW}
    session_ref = store._client.collection("sessions").document(session_id)
    session_ref.set({"created_at": NOW, "expires_at": NOW + HOUR, "turn_count": 1, "recent": [old_turn]})
    session_ref.collection("turns").document("00000001").set(old_turn)
    session = store.load_session(session_id, NOW)
    assert (session.refs, session.claims, session.pending_key, session.pending_until) == ((), (), None, None)
    assert not session.indexed_all  # no index: a retry looks its message up
    claim = store.claim_turn(session_id, session, new_turn_key(), NOW, NOW + HOUR)
    assert not claim.session.indexed_all
    for turn in (session.recent[0], store.list_turns(session_id, NOW)[0]):
        assert (turn.seq, turn.user_text, turn.client_message_id, turn.key) == (1, "old", None, "")
        assert (turn.finish_reason, turn.source, turn.emergency, turn.in_context) == ("STOP", "gemini", False, True)


def test_a_retried_write_that_landed_long_ago_returns_that_turn(firestore_emulator: FirestoreEmulator) -> None:
    firestore_emulator.clear(PROJECT)
    store = firestore_store(firestore_emulator.host, tail_chars=6)  # the inline tail holds one turn
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    claim = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR)
    draft = TurnDraft("two", "2", key=claim.key)
    store.append_turn(claim, draft, NOW)
    # The first write's response was lost: its retry finds the turn it stored, as it was stored.
    soon = store.append_turn(claim, draft, NOW + timedelta(seconds=1))
    assert (soon.turn.seq, soon.turn.created_at, soon.replayed) == (2, NOW, False)
    record_turn(store, session_id, TurnDraft("three", "3"), NOW)  # turn 2 leaves the inline tail
    # Once it left the tail, a retry finds it by its key in the index.
    again = store.append_turn(claim, draft, NOW)
    assert (again.turn.seq, again.turn.user_text, again.turn.key, again.replayed) == (2, "two", claim.key, False)
    assert again.turn.created_at == NOW
    assert [t.seq for t in store.list_turns(session_id, NOW)] == [1, 2, 3]
    assert [t.seq for t in store.load_session(session_id, NOW).recent] == [3]
    store.close()


@pytest.mark.parametrize("indexed", [True, False])
def test_a_racing_retry_of_a_message_past_the_tail_is_replayed_from_its_document(
    firestore_emulator: FirestoreEmulator, indexed: bool
) -> None:
    firestore_emulator.clear(PROJECT)
    store = firestore_store(firestore_emulator.host, tail_chars=6)  # the inline tail holds one turn
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    record_turn(store, session_id, TurnDraft("two", "2", "m-2"), NOW)
    record_turn(store, session_id, TurnDraft("six", "6"), NOW)  # turn 2 leaves the inline tail
    if not indexed:  # as a session written before the turn index
        store._client.document("sessions", session_id).update({"refs": []})
    # A retry of "two" that claimed without seeing it stored.
    claim = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW + HOUR, "m-2")
    stored = store.append_turn(claim, TurnDraft("two", "other", "m-2", key=claim.key), NOW)
    assert (stored.turn.seq, stored.turn.reply_text, stored.replayed) == (2, "2", True)
    session = store.load_session(session_id, NOW)
    assert (session.turn_count, session.pending_key) == (3, None)
    store.close()


def test_a_claim_whose_write_landed_before_its_response_was_lost_is_this_turns_claim(store: Any) -> None:
    session_id = new_session_id()
    key, until = new_turn_key(), NOW + HOUR
    first = store.claim_turn(session_id, None, key, NOW, until)
    again = store.claim_turn(session_id, None, key, NOW, until)  # the retried create finds the document
    assert (again.session_id, again.key, again.version) == (session_id, key, first.version)
    store.append_turn(again, TurnDraft("one", "1", key=key), NOW)
    loaded = store.load_session(session_id, NOW)
    key = new_turn_key()
    first = store.claim_turn(session_id, loaded, key, NOW, until)
    again = store.claim_turn(session_id, loaded, key, NOW, until)  # the retried update fails its precondition
    assert (again.session_id, again.key, again.version) == (session_id, key, first.version)
    assert (again.session.id, again.session.pending_key, again.session.turn_count) == (session_id, key, 1)


def test_a_claim_that_cannot_be_released_is_logged(store: Any, caplog: pytest.LogCaptureFixture) -> None:
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    lapsed = store.claim_turn(session_id, store.load_session(session_id, NOW), new_turn_key(), NOW, NOW)
    record_turn(store, session_id, TurnDraft("two", "2"), NOW + timedelta(seconds=1))
    with caplog.at_level(logging.INFO, logger="firstaid_chat.store.firestore_turns"):
        store.release_turn(lapsed, NOW + timedelta(seconds=2))  # the session changed since: not released
    assert [r.getMessage() for r in caplog.records] == ["turn claim not released; it lapses on its own"]


def test_a_delete_erases_every_turn_document(store: Any) -> None:
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1", "m-1"), NOW, create=True)
    record_turn(store, session_id, TurnDraft("two", "2"), NOW)
    turns = store._client.collection("sessions", session_id, "turns")
    assert len(list(turns.list_documents())) == 2
    assert store.delete_session(session_id, NOW) is True
    assert list(turns.list_documents()) == []  # nothing of the conversation is left behind
    assert not store._client.document("sessions", session_id).get().exists


def test_a_long_conversation_is_erased_in_pages_and_batches_within_firestores_limits(store: Any) -> None:
    """Firestore takes at most 500 writes in one commit: 501 turns are listed and deleted 400 at a time."""
    from firstaid_chat.store.firestore import DELETE_BATCH

    from tests.firestore_ops import FirestoreOps

    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    turns = store._client.collection("sessions", session_id, "turns")
    for start in range(1, 501, DELETE_BATCH):  # 500 more turn documents, written straight in
        batch = store._client.batch()
        for n in range(start, min(start + DELETE_BATCH, 501)):
            batch.set(turns.document(f"{n + 1:08d}"), {"seq": n + 1})
        batch.commit()
    ops = FirestoreOps(store._client)
    assert store.delete_session(session_id, NOW) is True
    assert list(turns.list_documents()) == []
    # One read of the session, its deletion and two batches of turn deletions (the turn ids come in
    # pages of the server's size: the emulator sends fewer than the 400 asked for).
    assert (ops.counts["BatchGetDocuments"], ops.counts["Commit"]) == (1, 3)
    assert ops.counts["ListDocuments"] >= 2
    assert ops.writes == 1 + 501


def test_a_delete_erases_turns_in_batches_of_at_most_the_batch_size() -> None:
    from firstaid_chat.store.firestore import _chunks

    assert list(_chunks(iter(range(5)), 2)) == [[0, 1], [2, 3], [4]]
    assert list(_chunks(iter(range(4)), 2)) == [[0, 1], [2, 3]]
    assert list(_chunks(iter([]), 2)) == []


def test_the_configured_collection_holds_the_sessions(
    firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store

    firestore_emulator.clear(PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    store = build_store(Settings(chat_store="firestore", google_cloud_project=PROJECT, firestore_collection="chats"))
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    assert document(store, "chats", session_id)["turn_count"] == 1
    assert not store._client.document("sessions", session_id).get().exists
    store.close()


def test_the_configured_database_holds_the_sessions(
    firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FIRESTORE_DATABASE names a Firestore database other than ``(default)`` (the emulator keeps each apart)."""
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store
    from google.cloud import firestore

    firestore_emulator.clear(PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    store = build_store(Settings(chat_store="firestore", google_cloud_project=PROJECT, firestore_database="chat-eu"))
    session_id = new_session_id()
    record_turn(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    store.close()
    named = firestore.Client(project=PROJECT, database="chat-eu")
    default = firestore.Client(project=PROJECT)
    try:
        assert named.document("sessions", session_id).get().to_dict()["turn_count"] == 1
        assert not default.document("sessions", session_id).get().exists
    finally:
        named.close()
        default.close()


# Counters


def test_a_rate_limit_count_is_one_document_per_key_and_window_kept_two_windows(store: Any) -> None:
    assert store.hit_rate_limit("client:1", 5, 60, NOW + timedelta(seconds=10)) is None
    assert store.hit_rate_limit("client:1", 5, 60, NOW + timedelta(seconds=20)) is None
    window = int(NOW.timestamp()) // 60
    doc_id = f"{hashlib.sha256(b'client:1').hexdigest()[:32]}:{window}"
    assert document(store, "ratelimits", doc_id) == {"count": 2, "expires_at": NOW + timedelta(seconds=140)}


def test_token_counts_are_kept_two_days_and_summed(store: Any) -> None:
    day = "2026-11-27"
    store.add_tokens(day, 5, NOW)
    store.add_tokens(day, 0, NOW)  # nothing to count: nothing written (checked on another day below)
    store.add_tokens(day, 1, NOW)
    assert store.tokens_used(day) == 6
    assert store.tokens_used("2026-11-28") == 0
    shards = {s.id: s.to_dict() for s in store._client.collection("token_budget", day, "token_shards").stream()}
    assert sum(s["tokens"] for s in shards.values()) == 6
    assert {s["expires_at"] for s in shards.values()} == {NOW + timedelta(days=2)}
    for _ in range(40):
        store.add_tokens(day, 1, NOW)
    shard_ids = {s.id for s in store._client.collection("token_budget", day, "token_shards").stream()}
    assert shard_ids <= {str(n) for n in range(16)}  # a fixed set of shards, not one document per turn
    assert store.tokens_used(day) == 46
    store.add_tokens("2026-11-26", 0, NOW)
    assert list(store._client.collection("token_budget", "2026-11-26", "token_shards").list_documents()) == []
    assert store.mark_budget_spent(day, NOW) is True
    assert store.mark_budget_spent(day, NOW + HOUR) is False
    assert document(store, "token_budget", day) == {"spent_at": NOW, "expires_at": NOW + timedelta(days=2)}


def test_a_clients_turn_leases_are_one_document_kept_until_the_last_lapses(store: Any) -> None:
    doc_id = hashlib.sha256(b"client-a").hexdigest()[:32]
    soon, later = NOW + timedelta(seconds=30), NOW + timedelta(seconds=90)
    assert store.acquire_client_slot("client-a", "aa01", 2, NOW, later) is True
    assert store.acquire_client_slot("client-a", "aa02", 2, NOW, soon) is True
    assert document(store, "client_turns", doc_id) == {"leases": {"aa01": later, "aa02": soon}, "expires_at": later}
    assert store.acquire_client_slot("client-a", "aa03", 2, NOW, later) is False  # both slots held
    assert store.acquire_client_slot("client-a", "aa01", 2, NOW, later) is True  # a retry of a landed lease
    # At ``soon`` the second lease has lapsed: its slot is free again.
    assert store.acquire_client_slot("client-a", "aa03", 2, soon, later) is True
    assert document(store, "client_turns", doc_id)["leases"] == {"aa01": later, "aa03": later}
    store.release_client_slot("client-a", "aa01", soon)
    assert document(store, "client_turns", doc_id)["leases"] == {"aa03": later}


def test_a_lease_taken_between_a_clients_read_and_write_is_counted(store: Any, firestore_emulator: Any) -> None:
    """Acquiring writes on the precondition that the leases did not change since it read them."""
    other = firestore_store(firestore_emulator.host)  # another instance of the service
    later = NOW + HOUR
    try:
        assert store.acquire_client_slot("client-a", "aa01", 2, NOW, later) is True
        api = store._client._firestore_api
        original = api.batch_get_documents

        def read_then_let_the_other_instance_in(*args: Any, **kwargs: Any) -> Iterator[Any]:
            responses = list(original(*args, **kwargs))
            api.batch_get_documents = original
            assert other.acquire_client_slot("client-a", "aa03", 2, NOW, later) is True
            return iter(responses)

        api.batch_get_documents = read_then_let_the_other_instance_in
        # It read one lease (a free slot), but the other instance took that slot before it wrote.
        assert store.acquire_client_slot("client-a", "aa02", 2, NOW, later) is False
    finally:
        other.close()
    doc_id = hashlib.sha256(b"client-a").hexdigest()[:32]
    assert document(store, "client_turns", doc_id)["leases"] == {"aa01": later, "aa03": later}


# An unreachable Firestore


@pytest.mark.timeout(20)  # a hang guard: each step gives up after the store's timeout (0.2 s here)
def test_every_conversation_step_on_an_unreachable_firestore_is_store_unavailable(unreachable: Any) -> None:
    """Releasing a claim too gives up within the store's timeout (it once retried for about 50 s)."""
    from firstaid_chat.conversation import Claim, Session

    session_id = new_session_id()
    for step in (
        lambda: unreachable.load_session(session_id, NOW),
        lambda: unreachable.find_turn(session_id, "m-1", NOW),
        lambda: unreachable.list_turns(session_id, NOW),
        lambda: unreachable.delete_session(session_id, NOW),
        lambda: unreachable.claim_turn(session_id, None, "k", NOW, NOW + HOUR),
    ):
        with pytest.raises(StoreUnavailable):
            step()
    claim = Claim(session_id, "k", None, Session(session_id, NOW, NOW + HOUR, 1, ()))
    with pytest.raises(StoreUnavailable):
        unreachable.append_turn(claim, TurnDraft("a", "b", key="k"), NOW)
    unreachable.release_turn(claim, NOW)  # best effort: never raises
    first = Claim(session_id, "k", None, Session(session_id, NOW, NOW + HOUR, 0, ()))
    unreachable.release_turn(first, NOW)  # a new conversation's first turn: its document is deleted


def test_counters_on_an_unreachable_firestore_let_the_turn_through_and_say_so(
    unreachable: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="firstaid_chat.store.firestore_counters"):
        assert unreachable.hit_rate_limit("client:1", 1, 60, NOW) is None
        unreachable.add_tokens("2026-11-27", 5, NOW)
        assert unreachable.mark_budget_spent("2026-11-27", NOW) is False
        unreachable.release_client_slot("client-a", "aa01", NOW)
    assert [r.getMessage() for r in caplog.records] == [
        "rate-limit count failed; request let through",
        "token count failed; these tokens are not counted",
        "token budget marker not written",
        "client lease not released; it lapses on its own",
    ]
    assert [r.levelname for r in caplog.records] == ["WARNING", "WARNING", "WARNING", "INFO"]
    assert caplog.records[1].tokens == 5
    with pytest.raises(StoreUnavailable):
        unreachable.tokens_used("2026-11-27")
    with pytest.raises(StoreUnavailable):
        unreachable.acquire_client_slot("client-a", "aa01", 2, NOW, NOW + HOUR)
