"""The daily token budget: counted in the store across instances, and past it the offline guide answers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.budget import EXHAUSTED_EVENT, TokenBudget
from firstaid_chat.errors import StoreUnavailable
from firstaid_chat.runtime import build_service
from firstaid_chat.service import ChatRequest, ChatService, Done
from firstaid_chat.settings import Settings
from firstaid_chat.store import Store, build_store

from tests.fakes.gemini import Behaviour, FakeGemini
from tests.reliability import report

# The fake reports 12 prompt tokens plus a quarter of the last chunk's length: 62 tokens a turn here.
REPLY = "x" * 200
TOKENS_PER_TURN = 62
MESSAGE = "How do I treat a burn?"


class Recorder(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def budget_log() -> Any:
    recorder = Recorder()
    logger = logging.getLogger("firstaid_chat.budget")
    logger.addHandler(recorder)
    logger.setLevel(logging.INFO)
    yield recorder
    logger.removeHandler(recorder)


def _instances(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> tuple[ChatService, ChatService]:
    """Two instances of the service, each with its own store client and budget view, sharing one store."""
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "shared.sqlite3"))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    return build_service(settings), build_service(settings)


def _turn(service: ChatService, client: str = "203.0.113.5") -> dict[str, Any]:
    events = list(service.turn(ChatRequest(message=MESSAGE), client=client))
    done = events[-1]
    assert isinstance(done, Done)
    return done.payload


@pytest.mark.parametrize("store", ["sqlite", "firestore"])
def test_budget_trips_across_two_instances_and_the_offline_guide_answers_after_it(
    gemini: FakeGemini,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    budget_log: Recorder,
    store: str,
) -> None:
    if store == "firestore":
        request.getfixturevalue("firestore_env")
    first, second = _instances(
        monkeypatch, tmp_path, DAILY_TOKEN_BUDGET=str(TOKENS_PER_TURN + 1), TOKEN_BUDGET_CHECK_SECONDS="0"
    )
    gemini.enqueue(Behaviour(chunks=[REPLY]), Behaviour(chunks=[REPLY]))
    try:
        replies = [_turn(service) for service in (first, second, first, second)]
    finally:
        first.store.close()
        second.store.close()
    # The first instance spends 62 tokens, the second sees 62 < 63 and spends 62 more; both then see 124.
    assert [r["source"] for r in replies] == ["gemini", "gemini", "offline", "offline"]
    assert len(gemini.requests) == 2
    for reply in replies[2:]:
        assert reply["reply"].startswith("_Offline mode: the AI assistant has reached today's usage limit")
        assert "burn" in reply["reply"].lower()
    tripped = [r for r in budget_log.records if getattr(r, "event", None) == EXHAUSTED_EVENT]
    assert len(tripped) == 1, "one log line per day, whichever instance notices first"
    assert tripped[0].tokens_used == 2 * TOKENS_PER_TURN  # type: ignore[attr-defined]
    assert tripped[0].levelname == "WARNING"
    if store == "firestore":
        outcome = (
            "counted in sharded store counters by all instances (tested with two, on SQLite and the emulator); "
            'past it, answers from the offline guide marked "source": "offline", one WARNING log line'
        )
        report.add("limits", "Gemini tokens per day", "DAILY_TOKEN_BUDGET=2000000", outcome)


@pytest.mark.parametrize("store", ["sqlite", "firestore"])
def test_token_count_is_spread_over_shards_and_summed_exactly(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    if store == "firestore":
        request.getfixturevalue("firestore_env")
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "s.sqlite3"))
    shared = build_store(Settings.from_env())
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    try:
        for tokens in range(1, 41):
            shared.add_tokens("2026-11-30", tokens, now)
        shared.add_tokens("2026-12-01", 5, now)
        assert shared.tokens_used("2026-11-30") == sum(range(1, 41))
        assert shared.tokens_used("2026-12-01") == 5
        assert shared.tokens_used("2026-12-02") == 0
        assert shared.mark_budget_spent("2026-11-30", now) is True
        assert shared.mark_budget_spent("2026-11-30", now) is False
        if store == "firestore":
            day = shared._client.collection("token_budget").document("2026-11-30")  # type: ignore[attr-defined]
            shards = list(day.collection("token_shards").stream())
            # 40 writes over 16 shards: each document takes a fraction of the day's write rate.
            assert len(shards) > 8
    finally:
        shared.close()


class CountingStore:
    """A store that counts reads of the day's token total (every other call goes to the real store)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    def tokens_used(self, day: str) -> int:
        self.reads += 1
        return self.store.tokens_used(day)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def test_an_instance_reads_the_total_once_per_interval_and_counts_its_own_turns_between(tmp_path: Path) -> None:
    from firstaid_chat.store.sqlite import SQLiteStore

    store = CountingStore(SQLiteStore(tmp_path / "b.sqlite3", ttl=timedelta(hours=1), tail_chars=1000))
    clock = [0.0]
    budget = TokenBudget(store, 100, check_seconds=10, monotonic=lambda: clock[0])  # type: ignore[arg-type]
    other = TokenBudget(store, 100, check_seconds=10, monotonic=lambda: clock[0])  # type: ignore[arg-type]
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert budget.exhausted(now) is False
    for _ in range(5):
        budget.record(15, now)  # 75 tokens of its own
        assert budget.exhausted(now) is False
    assert store.reads == 1
    other.record(30, now)  # another instance's turn: not seen until the next read
    assert budget.exhausted(now) is False
    clock[0] = 10.0
    assert budget.exhausted(now) is True
    assert store.reads == 2
    # A new UTC day starts from zero at once, whatever the interval.
    assert budget.exhausted(now + timedelta(days=1)) is False
    assert store.reads == 3


def test_no_budget_means_no_token_count(gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    service, other = _instances(monkeypatch, tmp_path, DAILY_TOKEN_BUDGET="0")
    other.store.close()
    assert service.budget is None
    assert _turn(service)["source"] == "gemini"
    assert service.store.tokens_used(datetime.now(UTC).date().isoformat()) == 0
    service.store.close()


def test_budget_applies_with_fallback_off(gemini: FakeGemini, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first, second = _instances(
        monkeypatch, tmp_path, DAILY_TOKEN_BUDGET="1", TOKEN_BUDGET_CHECK_SECONDS="0", FALLBACK="none"
    )
    second.store.close()
    assert [_turn(first)["source"] for _ in range(2)] == ["gemini", "offline"]
    first.store.close()


class UnreadableCount(CountingStore):
    """A store whose day total cannot be read (everything else works)."""

    def tokens_used(self, day: str) -> int:
        self.reads += 1
        raise StoreUnavailable()


def test_an_unreadable_count_keeps_gemini_answering_and_is_read_again_later(tmp_path: Path) -> None:
    from firstaid_chat.store.sqlite import SQLiteStore

    store = UnreadableCount(SQLiteStore(tmp_path / "u.sqlite3", ttl=timedelta(hours=1), tail_chars=1000))
    clock = [0.0]
    budget = TokenBudget(store, 10, check_seconds=5, monotonic=lambda: clock[0])  # type: ignore[arg-type]
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    assert budget.exhausted(now) is False
    assert budget.exhausted(now) is False
    assert store.reads == 2, "a failed read is retried on the next turn, not left marked as in progress"


def test_firestore_outage_loses_a_count_but_never_fails_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    from tests.fakes.firestore_emulator import free_port

    # Nothing listens on this port: every call fails as in an outage.
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    client = firestore.Client(project="demo-firstaid")
    store = FirestoreStore(client, collection="sessions", ttl=timedelta(hours=1), tail_chars=1000, timeout=0.5)
    now = datetime(2026, 11, 30, 9, tzinfo=UTC)
    try:
        store.add_tokens("2026-11-30", 100, now)  # logged, not raised
        assert store.mark_budget_spent("2026-11-30", now) is False
        with pytest.raises(StoreUnavailable):
            store.tokens_used("2026-11-30")
        with pytest.raises(StoreUnavailable):
            store.acquire_client_slot("client:c", "lease", 4, now, now + timedelta(minutes=1))
        store.release_client_slot("client:c", "lease", now)  # best effort, never raises
        budget = TokenBudget(store, 10, check_seconds=0)
        assert budget.exhausted(now) is False, "an unreadable count does not stop Gemini"
    finally:
        store.close()
