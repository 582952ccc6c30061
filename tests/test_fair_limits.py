"""Fair limits: an IPv6 client is counted by its /64, and one client cannot hold every turn slot."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.api import client_key
from firstaid_chat.errors import RateLimited
from firstaid_chat.runtime import build_service
from firstaid_chat.service import ChatRequest, ChatService, Done, Started
from firstaid_chat.settings import Settings
from firstaid_chat.store import build_store

from tests.fakes.gemini import FakeGemini
from tests.fakes.tcp_proxy import LossyProxy
from tests.reliability import report


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::1]", "2001:db8:1:2::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("unknown", "unknown"),
    ],
)
def test_client_key_is_the_ipv4_address_or_the_ipv6_slash_64(address: str, key: str) -> None:
    assert client_key(address) == key


def test_rotating_ipv6_addresses_within_a_slash_64_shares_one_allowance(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(RATE_LIMIT_CLIENT_PER_MINUTE="3")
    statuses = [
        client.post(
            "/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": f"2001:db8:77:1:{i:x}:{i * 7:x}::{i + 1:x}"}
        ).status_code
        for i in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    other_prefix = client.post("/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": "2001:db8:77:2::1"})
    assert other_prefix.status_code == 200
    neighbour_v4 = [
        client.post("/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
        for i in range(1, 5)
    ]
    assert neighbour_v4 == [200] * 4, "IPv4 addresses are counted one by one"
    assert len(gemini.requests) == 3 + 1 + 4
    report.add("limits", "IPv6 address rotation", "RATE_LIMIT_CLIENT_PER_MINUTE=30",
               "counted per /64 prefix (IPv4: per address); 5 addresses in one /64 share one allowance")  # fmt: skip


def _instances(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cap: int) -> tuple[ChatService, ChatService]:
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "shared.sqlite3"))
    monkeypatch.setenv("CLIENT_CONCURRENT_TURNS", str(cap))
    settings = Settings.from_env()
    return build_service(settings), build_service(settings)


@pytest.mark.parametrize("store", ["sqlite", "firestore"])
def test_one_client_holds_at_most_its_cap_of_concurrent_turns_across_instances(
    gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    if store == "firestore":
        request.getfixturevalue("firestore_env")
    first, second = _instances(monkeypatch, tmp_path, cap=2)
    try:
        # A turn holds its slot from before its claim until it ends: a started generator is a turn in progress.
        running = [first.turn(ChatRequest(message="hi"), client="2001:db8::/64") for _ in range(1)]
        running.append(second.turn(ChatRequest(message="hi"), client="2001:db8::/64"))
        assert all(isinstance(next(turn), Started) for turn in running)
        with pytest.raises(RateLimited) as refused:
            next(first.turn(ChatRequest(message="hi"), client="2001:db8::/64"))
        assert refused.value.code == "too_many_turns"
        assert refused.value.headers["Retry-After"] == "2"
        other = second.turn(ChatRequest(message="hi"), client="203.0.113.9")
        assert isinstance(next(other), Started), "another client is not held back"
        assert isinstance(list(other)[-1], Done)
        assert isinstance(list(running.pop(0))[-1], Done)  # one turn ends: its slot is free again
        again = first.turn(ChatRequest(message="hi"), client="2001:db8::/64")
        assert isinstance(next(again), Started)
        running.append(again)
        for turn in running:
            turn.close()  # a consumer that goes away gives its slot back too
        final = [first.turn(ChatRequest(message="hi"), client="2001:db8::/64") for _ in range(2)]
        assert all(isinstance(next(turn), Started) for turn in final)
        for turn in final:
            turn.close()
    finally:
        first.store.close()
        second.store.close()
    if store == "firestore":
        outcome = (
            "429 too_many_turns + Retry-After: 2 past the cap; leases in the store shared by all instances "
            "(tested with two), lapsing at the request deadline; one client holds ≤ 4 of the 48 slots"
        )
        report.add("limits", "concurrent turns per client", "CLIENT_CONCURRENT_TURNS=4", outcome)


def test_a_refused_turn_writes_nothing(gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, second = _instances(monkeypatch, tmp_path, cap=1)
    second.store.close()
    done = list(first.turn(ChatRequest(message="hi"), client="c"))[-1]
    assert isinstance(done, Done)
    session_id = done.payload["session_id"]
    holding = first.turn(ChatRequest(message="hi"), client="c")
    next(holding)
    with pytest.raises(RateLimited):
        next(first.turn(ChatRequest(message="more", session_id=session_id), client="c"))
    session = first.store.load_session(session_id, first._clock())
    assert session is not None and session.pending_key is None and len(session.claims) == 1
    holding.close()
    first.store.close()


@pytest.fixture
def proxied(firestore_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LossyProxy]:
    """A lossy proxy in front of an empty emulator, with the Firestore client pointed at it."""
    firestore_emulator.clear("demo-firstaid")
    proxy = LossyProxy(("127.0.0.1", firestore_emulator.port)).start()
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", proxy.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "demo-firstaid")
    monkeypatch.setenv("CHAT_STORE", "firestore")
    yield proxy
    proxy.stop()


def test_a_lease_whose_response_was_lost_is_held_once(proxied: LossyProxy) -> None:
    store = build_store(Settings.from_env())
    now = datetime.now(UTC)
    until = now + timedelta(minutes=1)
    try:
        assert store.acquire_client_slot("client:c", "a", 2, now, until)
        api = store._client._firestore_api  # type: ignore[attr-defined]
        original = api.batch_get_documents

        def read_then_lose_the_write(*args: Any, **kwargs: Any) -> Iterator[Any]:
            responses = list(original(*args, **kwargs))
            api.batch_get_documents = original
            proxied.lose_next_response()  # the lease's write lands; its acknowledgement is lost
            return iter(responses)

        api.batch_get_documents = read_then_lose_the_write
        assert store.acquire_client_slot("client:c", "b", 2, now, until) is True
        assert proxied.lost == 1
        assert store.acquire_client_slot("client:c", "x", 2, now, until) is False  # a and b, each once
        store.release_client_slot("client:c", "b", now)
        assert store.acquire_client_slot("client:c", "y", 2, now, until) is True
    finally:
        store.close()
