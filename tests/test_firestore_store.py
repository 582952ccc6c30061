"""Firestore specifics, against the official emulator: what a turn costs, and very long conversations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from firstaid_chat.conversation import TurnDraft, new_session_id

from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.firestore_ops import FirestoreOps
from tests.test_store_contract import NOW, make_firestore

KB = "k" * 1000


@pytest.fixture
def store(firestore_emulator: FirestoreEmulator) -> Iterator[Any]:
    made = make_firestore(firestore_emulator)
    yield made
    made.close()


def turn_through_store(store: Any, session_id: str, text: str, *, create: bool = False) -> None:
    """What the service does for one turn: load the session, then append the finished turn."""
    session = None if create else store.load_session(session_id, NOW)
    assert create or session is not None
    store.append_turn(session_id, TurnDraft(text, text), NOW, create=create, loaded=session)


def grow(store: Any, session_id: str, turns: int) -> None:
    """Write ``turns`` 1 KB turns directly (fast setup, not what is measured)."""
    store.append_turn(session_id, TurnDraft(KB, KB), NOW, create=True)
    for _ in range(turns - 1):
        store.append_turn(session_id, TurnDraft(KB, KB), NOW, create=False)


@pytest.mark.parametrize("length", [1, 100])
def test_a_turn_costs_at_most_two_reads_and_two_writes(store: Any, length: int, capsys: Any) -> None:
    session_id = new_session_id()
    grow(store, session_id, length)
    ops = FirestoreOps(store._client)
    turn_through_store(store, session_id, "next")
    with capsys.disabled():
        print(f"\nfirestore turn at length {length}: {ops.reads} reads, {ops.writes} writes, {ops.rpcs} rpcs")
    assert (ops.reads, ops.writes, ops.rpcs) == (1, 2, 2)
    assert store.load_session(session_id, NOW).turn_count == length + 1


def test_first_turn_of_a_new_session_costs_no_read_and_two_writes(store: Any) -> None:
    ops = FirestoreOps(store._client)
    turn_through_store(store, new_session_id(), "hello", create=True)
    assert (ops.reads, ops.writes, ops.rpcs) == (0, 2, 1)


def test_a_turn_loaded_before_a_concurrent_write_is_retried_not_lost(store: Any) -> None:
    session_id = new_session_id()
    store.append_turn(session_id, TurnDraft("one", "1"), NOW, create=True)
    stale = store.load_session(session_id, NOW)
    store.append_turn(session_id, TurnDraft("two", "2"), NOW, create=False)  # someone else wrote meanwhile
    store.append_turn(session_id, TurnDraft("three", "3"), NOW, create=False, loaded=stale)
    assert [t.user_text for t in store.list_turns(session_id, NOW)] == ["one", "two", "three"]


def test_conversation_far_past_the_document_limit_keeps_working(store: Any, capsys: Any) -> None:
    session_id = new_session_id()
    grow(store, session_id, 3000)  # about 6 MB of text, six times Firestore's 1 MiB document limit
    ops = FirestoreOps(store._client)
    turn_through_store(store, session_id, "still here?")
    with capsys.disabled():
        print(f"\nfirestore turn at length 3000: {ops.reads} reads, {ops.writes} writes, {ops.rpcs} rpcs")
    assert (ops.reads, ops.writes) == (1, 2)
    turns = store.list_turns(session_id, NOW)
    assert len(turns) == 3001
    assert turns[-1].user_text == "still here?"
    assert [t.seq for t in turns] == list(range(1, 3002))


def test_session_and_turn_documents_carry_expires_at_for_ttl(store: Any) -> None:
    session_id = new_session_id()
    store.append_turn(session_id, TurnDraft("hi", "hello"), NOW, create=True)
    client = store._client
    session_doc = client.collection("sessions").document(session_id).get().to_dict()
    turn_doc = (
        client.collection("sessions").document(session_id).collection("turns").document("00000001").get().to_dict()
    )
    assert session_doc["expires_at"] == NOW + timedelta(hours=1)
    assert turn_doc["expires_at"] == NOW + timedelta(hours=1)


def test_unreachable_firestore_is_store_unavailable() -> None:
    import os

    from firstaid_chat.errors import StoreUnavailable
    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    from tests.fakes.firestore_emulator import free_port

    os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{free_port()}"
    store = FirestoreStore(
        firestore.Client(project="nobody"), collection="sessions", ttl=timedelta(hours=1), tail_chars=1000
    )
    with pytest.raises(StoreUnavailable):
        store.append_turn(new_session_id(), TurnDraft("a", "b"), NOW, create=True)
