"""Firestore specifics, against the official emulator: what a turn costs, and very long conversations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from firstaid_chat.conversation import TurnDraft, new_session_id

from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.firestore_ops import FirestoreOps
from tests.test_store_contract import NOW, append, make_firestore, store_turn

KB = "k" * 1000


@pytest.fixture
def store(firestore_emulator: FirestoreEmulator) -> Iterator[Any]:
    made = make_firestore(firestore_emulator)
    yield made
    made.close()


def turn_through_store(store: Any, session_id: str, text: str, *, create: bool = False) -> None:
    """What the service does for one turn: load the session, claim it, store the finished turn."""
    store_turn(store, session_id, TurnDraft(text, text), NOW, create=create)


def grow(store: Any, session_id: str, turns: int) -> None:
    """Write ``turns`` 1 KB turns: the first through the store, the rest in bulk batches of the
    same documents the store writes (setup, not what is measured)."""
    from firstaid_chat.conversation import INDEXED_TURNS, Turn, ref_for_turn
    from firstaid_chat.history import recent_tail
    from firstaid_chat.store.firestore_documents import ref_fields, turn_document_id, turn_fields

    append(store, session_id, TurnDraft(KB, KB), NOW, create=True)
    session_ref = store._sessions.document(session_id)
    ends_at = session_ref.get().get("ends_at")
    made = [Turn(seq, KB, KB, NOW, key=f"k{seq}") for seq in range(2, turns + 1)]
    for start in range(0, len(made), 400):
        batch = store._client.batch()
        for turn in made[start : start + 400]:
            fields = {**turn_fields(turn), "expires_at": ends_at}
            batch.set(session_ref.collection("turns").document(turn_document_id(turn.seq, None)), fields)
        batch.commit()
    everything = store.load_session(session_id, NOW).recent + tuple(made)
    session_ref.update(
        {
            "turn_count": turns,
            "recent": [turn_fields(t) for t in recent_tail(everything, store._tail_chars)],
            "refs": [ref_fields(ref_for_turn(t)) for t in everything[-INDEXED_TURNS:]],
        }
    )


@pytest.mark.parametrize("length", [1, 100])
def test_a_turn_costs_one_read_and_three_writes(store: Any, length: int, capsys: Any) -> None:
    session_id = new_session_id()
    grow(store, session_id, length)
    ops = FirestoreOps(store._client)
    turn_through_store(store, session_id, "next")
    with capsys.disabled():
        print(f"\nfirestore turn at length {length}: {ops.reads} reads, {ops.writes} writes, {ops.rpcs} rpcs")
    # load (1 read), claim (1 write), store the turn (2 writes in one batch)
    assert (ops.reads, ops.writes, ops.rpcs) == (1, 3, 3)
    assert store.load_session(session_id, NOW).turn_count == length + 1


def test_first_turn_of_a_new_session_costs_no_read_and_three_writes(store: Any) -> None:
    ops = FirestoreOps(store._client)
    turn_through_store(store, new_session_id(), "hello", create=True)
    assert (ops.reads, ops.writes, ops.rpcs) == (0, 3, 2)


def test_a_claim_on_a_stale_load_conflicts_with_the_current_state(store: Any) -> None:
    from firstaid_chat.store import ClaimConflict

    session_id = new_session_id()
    append(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    stale = store.load_session(session_id, NOW)
    append(store, session_id, TurnDraft("two", "2"), NOW)  # someone else wrote meanwhile
    ops = FirestoreOps(store._client)
    with pytest.raises(ClaimConflict) as conflict:
        store.claim_turn(session_id, stale, "k", NOW, NOW + timedelta(seconds=60))
    assert conflict.value.session.turn_count == 2
    assert (ops.reads, ops.writes, ops.rpcs) == (1, 1, 2)  # the failed write, and one re-read


def test_conversation_far_past_the_document_limit_keeps_working(store: Any, capsys: Any) -> None:
    session_id = new_session_id()
    grow(store, session_id, 3000)  # about 6 MB of text, six times Firestore's 1 MiB document limit
    ops = FirestoreOps(store._client)
    turn_through_store(store, session_id, "still here?")
    with capsys.disabled():
        print(f"\nfirestore turn at length 3000: {ops.reads} reads, {ops.writes} writes, {ops.rpcs} rpcs")
    assert (ops.reads, ops.writes) == (1, 3)
    turns = store.list_turns(session_id, NOW)
    assert len(turns) == 3001
    assert turns[-1].user_text == "still here?"
    assert [t.seq for t in turns] == list(range(1, 3002))


def test_session_and_turn_documents_carry_expires_at_for_ttl(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, TurnDraft("hi", "hello"), NOW, create=True)
    client = store._client
    session_doc = client.collection("sessions").document(session_id).get().to_dict()
    turn_doc = (
        client.collection("sessions").document(session_id).collection("turns").document("00000001").get().to_dict()
    )
    assert session_doc["expires_at"] == NOW + timedelta(hours=1)
    # A turn lives as long as its conversation can: until the session's hard end.
    assert turn_doc["expires_at"] == session_doc["ends_at"] == NOW + timedelta(days=30)


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
        store_turn(store, new_session_id(), TurnDraft("a", "b"), NOW, create=True)


def test_operations_are_counted_at_the_channel_whatever_the_client_method(store: Any) -> None:
    session_id = new_session_id()
    append(store, session_id, TurnDraft("one", "1"), NOW, create=True)
    ops = FirestoreOps(store._client)
    sessions = store._client.collection("sessions")
    assert sessions.count().get()[0][0].value == 1  # RunAggregationQuery: one read
    assert [ref.id for ref in sessions.list_documents()] == [session_id]  # ListDocuments: one document
    sessions.document(session_id).collection("turns").document("00000001").delete()  # Commit, one write
    assert (ops.counts["RunAggregationQuery"], ops.counts["ListDocuments"], ops.counts["Commit"]) == (1, 1, 1)
    assert (ops.reads, ops.writes, ops.rpcs) == (2, 1, 3)
