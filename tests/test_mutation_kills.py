"""Behaviours pinned because a mutation of the core code survived every other test.

Each test states one behaviour; scripts/mutation.py lists the mutants they kill.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.conversation import (
    Session,
    Turn,
    TurnRef,
    is_session_id,
    new_session_id,
    new_turn_key,
    ref_for_turn,
    text_hash,
)
from firstaid_chat.errors import ModelRateLimited, RateLimited, StoreUnavailable
from firstaid_chat.history import history_window, recent_tail
from firstaid_chat.service import ChatRequest

from tests.fakes.gemini import Behaviour, FakeGemini
from tests.test_api import sse_events
from tests.test_service import make_service

STARTED = 1000.0  # a monotonic clock reading for the start of a turn


@pytest.mark.parametrize(
    ("request_timeout", "store_timeout", "model_seconds"),
    [
        (55.0, 8.0, 47.0),  # the store's own timeout is kept free at the end of the turn
        (20.0, 8.0, 15.0),  # but never more than a quarter of the turn's deadline
        (60.0, 15.0, 45.0),  # exactly a quarter
    ],
)
def test_the_model_deadline_keeps_the_store_its_share(
    tmp_path: Path, request_timeout: float, store_timeout: float, model_seconds: float
) -> None:
    service, model = make_service(
        tmp_path, request_timeout_seconds=request_timeout, store_timeout_seconds=store_timeout
    )
    list(service.turn(ChatRequest("How do I treat a burn?"), client="c", started=STARTED))
    assert model.prompts[0].deadline == pytest.approx(STARTED + model_seconds)


def test_a_stream_broken_after_text_is_an_error_not_the_offline_guide(gemini: FakeGemini, make_client: Any) -> None:
    """With the default FALLBACK=offline, a reply Gemini already began is never finished by the guide."""
    client = make_client()  # FALLBACK left at its default, offline
    gemini.enqueue(Behaviour(chunks=["Apply ", "pressure ", "and ", "never"], break_after=2))
    body = {"message": "my arm is bleeding", "client_message_id": "m1"}
    response = client.post("/v1/chat", json=body, headers={"Accept": "text/event-stream"})
    events = sse_events(response)
    assert [name for name, _ in events] == ["delta", "delta", "error"]
    assert "".join(data["text"] for name, data in events if name == "delta") == "Apply pressure "
    assert events[-1][1]["status"] == 503
    assert events[-1][1]["error"]["code"] == "model_unavailable"
    session_id = response.headers["X-Session-Id"]
    # Nothing of the failed first message is kept: not even its (empty) conversation.
    assert client.get("/v1/session", headers={"X-Session-Id": session_id}).status_code == 404


def test_the_inline_tail_keeps_turns_that_fill_its_budget_exactly() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    turns = [Turn(1, "ab", "cd", at), Turn(2, "abc", "def", at), Turn(3, "x", "y", at)]  # 4 + 6 + 2 chars
    assert [t.seq for t in recent_tail(turns, 12)] == [1, 2, 3]
    assert [t.seq for t in recent_tail(turns, 11)] == [2, 3]


def test_the_history_window_counts_every_turn_it_keeps_against_its_budget() -> None:
    """Three turns of 40 characters each and a budget of 100: the newest two fit, not all three."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    turns = [Turn(n, "q" * 20, "a" * 20, at) for n in (1, 2, 3)]
    assert [t.seq for t in history_window(turns, 100)] == [2, 3]
    assert [t.seq for t in history_window(turns, 120)] == [1, 2, 3]  # exactly the budget still fits


def test_retry_after_is_a_whole_number_of_seconds_and_at_least_one() -> None:
    busy = ModelRateLimited(retry_after=0)
    assert busy.headers == {"Retry-After": "1"}  # "retry now" would only make a busy model busier
    assert busy.retry_after == 0  # kept as given for the stream's error event
    assert RateLimited(retry_after=7).headers == {"Retry-After": "7"}
    assert RateLimited(retry_after=7).retry_after == 7


def test_an_error_reads_as_its_message_for_the_person() -> None:
    assert str(StoreUnavailable()) == StoreUnavailable.default_message
    assert str(RateLimited("Slow down.", retry_after=3)) == "Slow down."


AT = datetime(2026, 1, 1, tzinfo=UTC)


def session_with(**fields: Any) -> Session:
    fields.setdefault("recent", ())
    return Session(id="s" * 22, created_at=AT, expires_at=AT + timedelta(hours=1), turn_count=0, **fields)


def test_text_hash_is_96_bits_of_hex_and_takes_any_string() -> None:
    assert len(text_hash("call 112")) == 24
    assert int(text_hash("call 112"), 16) >= 0
    # A lone surrogate (possible in JSON as "\\ud800") hashes instead of raising, and distinctly.
    assert text_hash("\ud800") != text_hash("\ud801")


def test_a_turn_key_is_found_in_the_index_or_in_the_inline_tail() -> None:
    indexed_only = session_with(refs=(TurnRef(1, "k-old", None, text_hash("a")),))
    assert indexed_only.holds_key("k-old")
    tail_only = session_with(recent=(Turn(1, "a", "b", AT, key="k-new"),))
    assert tail_only.holds_key("k-new")
    assert not tail_only.holds_key("k-old")


def test_a_turn_ref_keeps_the_turn_key() -> None:
    turn = Turn(3, "help", "ok", AT, client_message_id="m3", key="k3")
    assert ref_for_turn(turn) == TurnRef(3, "k3", text_hash("m3"), text_hash("help"))
    assert ref_for_turn(Turn(4, "x", "y", AT)).client_message_id_hash is None


def test_a_claim_holds_until_its_lapse_time_and_needs_a_key() -> None:
    until = AT + timedelta(seconds=55)
    claimed = session_with(pending_key="k", pending_until=until, pending_message=text_hash("m1"))
    assert claimed.turn_in_progress(until - timedelta(microseconds=1))
    assert not claimed.turn_in_progress(until)  # lapsed at exactly its end
    assert not session_with(pending_key=None, pending_until=until).turn_in_progress(AT)
    assert not claimed.turn_in_progress(AT, "m1")  # a retry of the same message takes it over
    assert claimed.turn_in_progress(AT, "m2")


def test_a_turn_is_superseded_only_by_a_retry_of_its_own_message() -> None:
    until = AT + timedelta(seconds=55)
    retried = session_with(pending_key="k2", pending_until=until, pending_message=text_hash("m1"))
    assert retried.superseded("k1", "m1")
    assert not retried.superseded("k2", "m1")  # still its own claim
    assert not retried.superseded("k1", "m9")  # another message's claim
    assert not retried.superseded("k1", None)  # a turn without a client message id
    assert not session_with(pending_message=text_hash("m1")).superseded("k1", "m1")  # no claim at all


def test_session_ids_carry_192_random_bits_and_turn_keys_128() -> None:
    session_ids = {new_session_id() for _ in range(50)}
    assert len(session_ids) == 50
    assert {len(session_id) for session_id in session_ids} == {32}  # 24 bytes in URL-safe base64
    assert all(is_session_id(session_id) for session_id in session_ids)
    keys = {new_turn_key() for _ in range(50)}
    assert len(keys) == 50
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)  # 16 bytes in hex
