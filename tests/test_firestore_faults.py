"""The Firestore store on a network that fails: calls that are never answered, and dropped connections.

The real Firestore client talks to the official emulator through a TCP proxy
(``tests/fakes/tcp_proxy.py``) that lets a chosen number of requests through and then:

- **stalls**: swallows the request and keeps its connection open and silent. Only the
  store's own per-call timeout ends such a call; without it the client's default (60 s or
  more) would hold the person's turn. Each test here has a hang guard far above the store's
  0.3 s: a call that waits for the client's default trips it.
- **cuts** the connection before the request reaches Firestore: a transient error
  (UNAVAILABLE). The store retries it on a new connection, within its timeout; a call
  that fails on the first transient error loses a turn, a lease or a count for nothing.
  Cut on every try, a call gives up at the store's timeout, not the client's default retry.

Each case also checks that the proxy did fault a request, so it cannot pass without the fault.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from firstaid_chat.conversation import Claim, TurnDraft, new_session_id, new_turn_key
from firstaid_chat.errors import StoreUnavailable
from firstaid_chat.store import record_turn

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.fakes.tcp_proxy import LossyProxy

NOW = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
DAY = NOW.date().isoformat()
STALL_TIMEOUT = 0.3  # the store's timeout while calls stall (seconds)
CUT_TIMEOUT = 2.0  # the store's timeout while connections are cut: room for a retry on a new connection
GIVE_UP_TIMEOUT = 0.5  # the store's timeout while every connection is cut
HANG_GUARD = 20  # seconds: far above the store's timeout, far below the client's 60 s default


def make_store(host: str, timeout: float) -> Any:
    import os

    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    client = firestore.Client(project=PROJECT)
    return FirestoreStore(client, collection="sessions", ttl=HOUR, tail_chars=32_000, timeout=timeout, max_age=HOUR * 2)


@pytest.fixture
def direct(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A store straight on an empty emulator: it writes what the faulty store then reads."""
    firestore_emulator.clear(PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    made = make_store(firestore_emulator.host, 8.0)
    yield made
    made.close()


@pytest.fixture
def behind(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    """``behind(passed, how, times, timeout)``: a store behind a proxy armed with that fault (see the module)."""
    opened: list[tuple[Any, LossyProxy]] = []
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)

    @contextmanager
    def start(
        passed: int, how: str, times: int | None = None, timeout: float | None = None
    ) -> Iterator[tuple[Any, LossyProxy]]:
        proxy = LossyProxy(("127.0.0.1", firestore_emulator.port), hold=60).start()
        store = make_store(proxy.host, timeout or (STALL_TIMEOUT if how == "stall" else CUT_TIMEOUT))
        opened.append((store, proxy))
        proxy.fault_after(passed, how, times)
        yield store, proxy

    yield start
    for store, proxy in opened:
        proxy.stop()
        store.close()


def conversation(direct: Any, turns: int = 1) -> tuple[str, Any]:
    """A live conversation of ``turns`` turns, written directly; returns its id and loaded session."""
    session_id = new_session_id()
    for n in range(turns):
        record_turn(direct, session_id, TurnDraft(f"q{n}", f"a{n}", client_message_id=f"m-{n}"), NOW, create=n == 0)
    return session_id, direct.load_session(session_id, NOW)


def lease(direct: Any, client: str) -> dict[str, Any]:
    from firstaid_chat.store.firestore_counters import client_document_id

    snapshot = direct._client.collection("client_turns").document(client_document_id(client)).get()
    return dict((snapshot.to_dict() or {}).get("leases") or {})


# Calls that are never answered: each gives up at the store's timeout.


Call = Callable[[Any], Any]  # a call on the faulty store


def on_a_conversation(action: Callable[[Any, str, Any], Any]) -> Callable[[Any], Call]:
    """A set-up that writes a one-turn conversation directly, for ``action(store, id, loaded)``."""

    def prepare(direct: Any) -> Call:
        session_id, loaded = conversation(direct)
        return lambda store: action(store, session_id, loaded)

    return prepare


def with_a_lease(call: Call) -> Callable[[Any], Call]:
    """A set-up that takes client c-1's lease aa01 directly first."""

    def prepare(direct: Any) -> Call:
        assert direct.acquire_client_slot("c-1", "aa01", 2, NOW, NOW + HOUR)
        return call

    return prepare


def as_is(call: Call) -> Callable[[Any], Call]:
    return lambda direct: call


def _append(direct: Any, store: Any, session_id: str, loaded: Any) -> Any:
    key = new_turn_key()
    claim = direct.claim_turn(session_id, loaded, key, NOW, NOW + HOUR, "m-new")
    return store.append_turn(claim, TurnDraft("q", "a", key=key, client_message_id="m-new"), NOW)


def _release(direct: Any, store: Any, session_id: str, loaded: Any) -> None:
    claim = direct.claim_turn(session_id, loaded, new_turn_key(), NOW, NOW + HOUR)
    store.release_turn(claim, NOW)


def _acquire(lease_id: str) -> Call:
    return lambda store: store.acquire_client_slot("c-1", lease_id, 2, NOW, NOW + HOUR)


# name: (requests let through before the one that stalls, the set-up that returns the call)
STALLED_CONVERSATION_STEPS: dict[str, tuple[int, Callable[[Any], Call]]] = {
    "load the session": (0, on_a_conversation(lambda s, sid, _: s.load_session(sid, NOW))),
    "find a turn": (0, on_a_conversation(lambda s, sid, _: s.find_turn(sid, "m-0", NOW))),
    "read the session to list turns": (0, on_a_conversation(lambda s, sid, _: s.list_turns(sid, NOW))),
    "list the turns": (1, on_a_conversation(lambda s, sid, _: s.list_turns(sid, NOW))),
    "read the session to delete it": (0, on_a_conversation(lambda s, sid, _: s.delete_session(sid, NOW))),
    "delete the session document": (1, on_a_conversation(lambda s, sid, _: s.delete_session(sid, NOW))),
    "list the turns to delete": (2, on_a_conversation(lambda s, sid, _: s.delete_session(sid, NOW))),
    "delete the turns": (3, on_a_conversation(lambda s, sid, _: s.delete_session(sid, NOW))),
    "claim a new conversation": (0, as_is(lambda s: s.claim_turn(new_session_id(), None, "k", NOW, NOW + HOUR))),
    "claim a turn": (0, on_a_conversation(lambda s, sid, loaded: s.claim_turn(sid, loaded, "k", NOW, NOW + HOUR))),
    "sum the day's tokens": (0, as_is(lambda s: s.tokens_used(DAY))),
    "read a client's leases": (0, as_is(_acquire("aa01"))),
    "write a client's first lease": (1, as_is(_acquire("aa01"))),
    "add a client's lease": (1, with_a_lease(_acquire("aa02"))),
}


def _store_a_turn(direct: Any) -> Call:
    session_id, loaded = conversation(direct)
    return lambda store: _append(direct, store, session_id, loaded)


STALLED_CONVERSATION_STEPS["store a turn"] = (0, _store_a_turn)


@pytest.mark.timeout(HANG_GUARD)
@pytest.mark.parametrize("step", sorted(STALLED_CONVERSATION_STEPS))
def test_a_call_firestore_never_answers_is_store_unavailable_at_the_store_timeout(
    step: str, direct: Any, behind: Callable[..., Any]
) -> None:
    passed, prepare = STALLED_CONVERSATION_STEPS[step]
    call = prepare(direct)
    with behind(passed, "stall") as (store, proxy):
        with pytest.raises(StoreUnavailable):
            call(store)
        assert proxy.faulted >= 1


def _releasing(session_of: Callable[[Any], tuple[str, Any]]) -> Callable[[Any], Call]:
    def prepare(direct: Any) -> Call:
        session_id, loaded = session_of(direct)
        return lambda store: _release(direct, store, session_id, loaded)

    return prepare


# name: (the set-up that returns the call, the call's result, the log line it leaves)
STALLED_BEST_EFFORT_STEPS: dict[str, tuple[Callable[[Any], Call], Any, str]] = {
    "count a request": (as_is(lambda s: s.hit_rate_limit("client:1", 5, 60, NOW)), None, "rate-limit count failed"),
    "count tokens": (as_is(lambda s: s.add_tokens(DAY, 7, NOW)), None, "token count failed"),
    "mark the budget spent": (as_is(lambda s: s.mark_budget_spent(DAY, NOW)), False, "token budget marker"),
    "release a lease": (
        with_a_lease(lambda s: s.release_client_slot("c-1", "aa01", NOW)),
        None,
        "client lease not released",
    ),
    "release a turn's claim": (_releasing(conversation), None, "turn claim not released"),
    "release a first turn's claim": (_releasing(lambda d: (new_session_id(), None)), None, "turn claim not released"),
}


@pytest.mark.timeout(HANG_GUARD)
@pytest.mark.parametrize("step", sorted(STALLED_BEST_EFFORT_STEPS))
def test_a_best_effort_write_firestore_never_answers_lets_the_turn_go_on_and_says_so(
    step: str, direct: Any, behind: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    prepare, result, logged = STALLED_BEST_EFFORT_STEPS[step]
    call = prepare(direct)
    with behind(0, "stall") as (store, proxy), caplog.at_level(logging.INFO, logger="firstaid_chat.store"):
        assert call(store) == result
        assert proxy.faulted >= 1
    assert [r.getMessage() for r in caplog.records if logged in r.getMessage()], caplog.text


# Connections that drop once: retried on a new connection, nothing lost or counted twice.


def test_a_dropped_connection_is_retried_for_every_read(direct: Any, behind: Callable[..., Any]) -> None:
    session_id, _ = conversation(direct, turns=2)
    direct.add_tokens(DAY, 11, NOW)
    reads: dict[str, tuple[int, Callable[[Any], Any], Any]] = {
        "load the session": (0, lambda s: s.load_session(session_id, NOW).turn_count, 2),
        "find a turn": (0, lambda s: s.find_turn(session_id, "m-1", NOW).user_text, "q1"),
        "read the session to list turns": (0, lambda s: len(s.list_turns(session_id, NOW)), 2),
        "list the turns": (1, lambda s: [t.seq for t in s.list_turns(session_id, NOW)], [1, 2]),
        "sum the day's tokens": (0, lambda s: s.tokens_used(DAY), 11),
    }
    for name, (passed, call, expected) in reads.items():
        with behind(passed, "cut", times=1) as (store, proxy):
            assert call(store) == expected, name
            assert proxy.faulted == 1, name


def test_a_dropped_connection_is_retried_for_every_write(direct: Any, behind: Callable[..., Any]) -> None:
    with behind(0, "cut", times=1) as (store, proxy):
        session_id = new_session_id()
        claim = store.claim_turn(session_id, None, "k1", NOW, NOW + HOUR)  # a new conversation's claim
        assert proxy.faulted == 1
        assert direct.load_session(session_id, NOW).pending_key == "k1"
    with behind(0, "cut", times=1) as (store, proxy):
        stored = store.append_turn(claim, TurnDraft("q", "a", key="k1"), NOW)
        assert proxy.faulted == 1
        assert [t.seq for t in direct.list_turns(session_id, NOW)] == [stored.turn.seq] == [1]
    loaded = direct.load_session(session_id, NOW)
    with behind(0, "cut", times=1) as (store, proxy):
        claim = store.claim_turn(session_id, loaded, "k2", NOW, NOW + HOUR)
        assert proxy.faulted == 1
    with behind(0, "cut", times=1) as (store, proxy):
        store.release_turn(claim, NOW)
        assert proxy.faulted == 1
        assert direct.load_session(session_id, NOW).pending_key is None
    first = direct.claim_turn(other := new_session_id(), None, "k3", NOW, NOW + HOUR)
    with behind(0, "cut", times=1) as (store, proxy):
        store.release_turn(first, NOW)  # a new conversation's failed first turn: its document goes
        assert proxy.faulted == 1
        assert direct.load_session(other, NOW) is None
    for passed in (1, 2, 3):  # the session document, the turns' listing, the turns' deletion
        doomed, _ = conversation(direct, turns=2)
        with behind(passed, "cut", times=1) as (store, proxy):
            assert store.delete_session(doomed, NOW) is True
            assert proxy.faulted == 1
        assert direct.load_session(doomed, NOW) is None
        assert list(direct._sessions.document(doomed).collection("turns").list_documents()) == [], passed


def test_a_dropped_connection_is_retried_for_a_clients_leases(direct: Any, behind: Callable[..., Any]) -> None:
    with behind(1, "cut", times=1) as (store, proxy):  # the first lease: the document is created
        assert store.acquire_client_slot("c-1", "aa01", 2, NOW, NOW + HOUR) is True
        assert proxy.faulted == 1
    with behind(1, "cut", times=1) as (store, proxy):  # the second: the document is updated
        assert store.acquire_client_slot("c-1", "aa02", 2, NOW, NOW + HOUR) is True
        assert proxy.faulted == 1
    assert sorted(lease(direct, "c-1")) == ["aa01", "aa02"]
    with behind(0, "cut", times=1) as (store, proxy):
        store.release_client_slot("c-1", "aa01", NOW)
        assert proxy.faulted == 1
    assert sorted(lease(direct, "c-1")) == ["aa02"]


# Connections cut on every try: the store gives up at its own timeout, not the client's default retry.


@pytest.mark.timeout(HANG_GUARD)
def test_a_firestore_that_drops_every_connection_is_given_up_at_the_store_timeout(
    direct: Any, behind: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    session_id, loaded = conversation(direct)
    direct.acquire_client_slot("c-1", "aa01", 3, NOW, NOW + HOUR)
    failing: dict[str, tuple[int, Callable[[Any], Any]]] = {
        "load the session": (0, lambda s: s.load_session(session_id, NOW)),
        "find a turn": (0, lambda s: s.find_turn(session_id, "m-0", NOW)),
        "list the turns": (1, lambda s: s.list_turns(session_id, NOW)),
        "claim a turn": (0, lambda s: s.claim_turn(session_id, loaded, "k", NOW, NOW + HOUR)),
        "sum the day's tokens": (0, lambda s: s.tokens_used(DAY)),
        "write a client's first lease": (1, lambda s: s.acquire_client_slot("c-2", "bb01", 2, NOW, NOW + HOUR)),
        "add a client's lease": (1, lambda s: s.acquire_client_slot("c-1", "aa02", 3, NOW, NOW + HOUR)),
        "delete the session document": (1, lambda s: s.delete_session(session_id, NOW)),
        "list the turns to delete": (2, lambda s: s.delete_session(session_id, NOW)),
        "delete the turns": (3, lambda s: s.delete_session(session_id, NOW)),
    }
    for name, (passed, call) in failing.items():
        with behind(passed, "cut", timeout=GIVE_UP_TIMEOUT) as (store, proxy):
            with pytest.raises(StoreUnavailable):
                call(store)
            assert proxy.faulted >= 2, name  # retried at least once before giving up
    logs = caplog.at_level(logging.INFO, logger="firstaid_chat.store")
    with behind(0, "cut", timeout=GIVE_UP_TIMEOUT) as (store, proxy), logs:
        store.release_client_slot("c-1", "aa01", NOW)
        store.release_turn(Claim(session_id, "k", loaded.version, loaded), NOW)
        assert proxy.faulted >= 4
    assert [r.getMessage() for r in caplog.records] == [
        "client lease not released; it lapses on its own",
        "turn claim not released; it lapses on its own",
    ]


@pytest.mark.timeout(5)  # far below the 8 s default a store built without STORE_TIMEOUT_SECONDS would wait
def test_a_store_built_from_settings_gives_up_at_store_timeout_seconds(
    firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store

    proxy = LossyProxy(("127.0.0.1", firestore_emulator.port), hold=60).start()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.host)
    store = build_store(Settings(chat_store="firestore", google_cloud_project=PROJECT, store_timeout_seconds=0.3))
    try:
        proxy.fault_after(0, "stall")
        with pytest.raises(StoreUnavailable):
            store.load_session(new_session_id(), NOW)
        assert proxy.faulted >= 1
    finally:
        proxy.stop()
        store.close()
