"""The chat service and its limits (service.py, limits.py), pinned where a mutation survived their tests.

Each test states one behaviour; scripts/mutation.py lists the mutants they kill.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.budget import TokenBudget
from firstaid_chat.errors import ModelUnavailable, RateLimited, SessionNotFound
from firstaid_chat.errors import RateLimited as SessionRateLimited
from firstaid_chat.model import Chunk, Prompt, Usage
from firstaid_chat.model.offline import OfflineModel
from firstaid_chat.safety.lead import text as lead_text
from firstaid_chat.service import ChatRequest, ChatService
from firstaid_chat.settings import Settings
from firstaid_chat.store.sqlite import SQLiteStore

from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.fakes.gemini import FakeGemini, error
from tests.firestore_ops import FirestoreOps
from tests.test_service import ScriptedModel
from tests.test_store_contract import make_firestore

STARTED = 1000.0  # a monotonic clock reading for the start of a turn
AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_json_answer_has_the_documented_fields(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(EMERGENCY_NUMBER="999")
    body = {"message": "someone collapsed and is not breathing", "client_message_id": "m1"}
    first = client.post("/v1/chat", json=body).get_json()
    assert set(first) == {
        "session_id", "reply", "finish_reason", "source", "emergency", "emergency_number", "language", "turn",
        "client_message_id", "created_at", "replayed",
    }  # fmt: skip
    assert (first["emergency"], first["emergency_number"], first["client_message_id"]) == (True, "999", "m1")
    assert first["language"] == "en"
    lead, rest = first["reply"].split("\n\n", 1)
    assert lead.startswith("**Call 999 now**")  # the emergency lead, then the model's words
    assert rest == "Fake reply to: someone collapsed and is not breathing"
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    assert first["replayed"] is False
    retried = client.post("/v1/chat", json={**body, "session_id": first["session_id"]})
    assert retried.headers["X-Session-Id"] == first["session_id"]  # a replay announces its session too
    again = retried.get_json()
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {k: v for k, v in first.items() if k != "replayed"}


def test_the_session_rate_limit_counts_the_last_minute_and_says_when_to_retry(tmp_path: Path) -> None:
    """Two turns a minute: the wait is rounded up to whole seconds, at least one; a minute-old turn is out."""
    now = [AT]
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=2)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    service = ChatService(config, store, ScriptedModel(), clock=lambda: now[0])

    def turn_at(seconds: float, session_id: str | None) -> str:
        now[0] = AT + timedelta(seconds=seconds)
        events = list(service.turn(ChatRequest("bleeding", session_id), client="c"))
        return str(events[0].session_id)

    session_id = turn_at(0, None)
    turn_at(0.5, session_id)
    for seconds, retry_after in [(30, 30), (30.25, 30), (59.9, 1)]:
        now[0] = AT + timedelta(seconds=seconds)
        with pytest.raises(SessionRateLimited) as limited:
            list(service.turn(ChatRequest("bleeding", session_id), client="c"))
        assert limited.value.retry_after == retry_after, seconds
    turn_at(60, session_id)  # the first turn is exactly a minute old: out of the window


class OneReply:
    """A model with one fixed answer: its chunks, as given."""

    source = "gemini"

    def __init__(self, *chunks: Chunk) -> None:
        self.chunks = chunks

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        yield from self.chunks


LOGGED_TURN_FIELDS = (
    "turn", "source", "finish_reason", "emergency", "latency_ms",
    "prompt_tokens", "output_tokens", "total_tokens", "client_disconnected",
)  # fmt: skip


def test_a_stored_turn_is_logged_with_its_figures_and_without_its_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ticks = iter([STARTED + 0.12345])
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    usage = Usage(prompt_tokens=11, output_tokens=7, total_tokens=18)
    model = OneReply(Chunk(text="Cool the burn."), Chunk(finish_reason="STOP", usage=usage))
    service = ChatService(config, store, model, monotonic=lambda: next(ticks))
    with caplog.at_level(logging.INFO, logger="firstaid_chat"):
        list(service.turn(ChatRequest("my secret burn question"), client="c", started=STARTED))
    (record,) = [r for r in caplog.records if r.getMessage() == "turn stored"]
    assert {k: getattr(record, k) for k in LOGGED_TURN_FIELDS} == {
        "turn": 1, "source": "gemini", "finish_reason": "STOP", "emergency": False, "latency_ms": 123.5,
        "prompt_tokens": 11, "output_tokens": 7, "total_tokens": 18, "client_disconnected": False,
    }  # fmt: skip
    assert "secret" not in caplog.text


def test_a_blocked_prompt_gets_the_honest_reply_and_stays_out_of_context(tmp_path: Path) -> None:
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    service = ChatService(config, store, OneReply(Chunk(prompt_blocked=True)))
    done = list(service.turn(ChatRequest("blocked words"), client="c"))[-1]
    assert done.payload["reply"].startswith("I can't help with that message")
    assert done.payload["finish_reason"] == "SAFETY"
    (turn,) = store.list_turns(done.payload["session_id"], datetime.now(UTC)) or []
    assert turn.in_context is False


def test_an_offline_answer_is_stored_as_offline(
    gemini: FakeGemini, make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = make_client(MODEL_MAX_ATTEMPTS="1")  # FALLBACK left at its default, offline
    gemini.enqueue(error(503))
    answer = client.post("/v1/chat", json={"message": "how do I treat a burn", "client_message_id": "m1"}).get_json()
    assert answer["source"] == "offline"
    assert answer["finish_reason"] == "STOP"
    assert answer["reply"].startswith("_Offline mode: the AI assistant is unavailable right now")
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    (record,) = [r for r in logged if "offline guide" in r["message"]]
    assert (record["message"], record["severity"]) == ("model failed; answering from the offline guide", "WARNING")
    assert record["error_code"] == "model_unavailable"
    session = client.get("/v1/session", headers={"X-Session-Id": answer["session_id"]}).get_json()
    assert [m.get("source") for m in session["messages"] if m["role"] == "model"] == ["offline"]


def test_a_retry_of_a_recent_message_is_answered_from_the_loaded_session(
    firestore_emulator: FirestoreEmulator,
) -> None:
    """One document read: the stored turn is in the session's inline tail, no direct read of it."""
    store = make_firestore(firestore_emulator)
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    model = ScriptedModel()
    service = ChatService(config, store, model)
    first = list(service.turn(ChatRequest("burn", None, "m1"), client="c"))[-1].payload
    ops = FirestoreOps(store._client)
    retry = list(service.turn(ChatRequest("burn", first["session_id"], "m1"), client="c"))[-1].payload
    assert retry["replayed"] is True
    assert retry["reply"] == first["reply"]
    assert len(model.prompts) == 1
    assert (ops.reads, ops.writes, ops.rpcs) == (1, 0, 1)
    store.close()


def sqlite_service(tmp_path: Path, model: Any, store: SQLiteStore | None = None, **settings: Any) -> ChatService:
    config = Settings(**{"rate_limit_client_per_minute": 0, "rate_limit_session_per_minute": 0, **settings})
    store = store or SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    return ChatService(config, store, model)


def test_the_client_rate_limit_counts_each_client_apart(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path, ScriptedModel(), rate_limit_client_per_minute=1)
    list(service.turn(ChatRequest("a"), client="203.0.113.7"))
    list(service.turn(ChatRequest("b"), client="198.51.100.9"))
    with pytest.raises(SessionRateLimited) as limited:
        list(service.turn(ChatRequest("c"), client="203.0.113.7"))
    assert limited.value.retry_after is not None
    assert 1 <= limited.value.retry_after <= 60


def test_a_reply_cut_at_max_tokens_before_any_word_is_still_an_answer(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path, OneReply(Chunk(finish_reason="MAX_TOKENS")))
    done = list(service.turn(ChatRequest("question"), client="c"))[-1].payload
    assert done["finish_reason"] == "MAX_TOKENS"
    assert done["reply"].strip().startswith("(This reply was cut short.")


class RacingStore(SQLiteStore):
    """A real SQLite store where something happens between a turn's load and its claim."""

    before_claim: Any = None

    def claim_turn(self, *args: Any, **kwargs: Any) -> Any:
        race, self.before_claim = self.before_claim, None
        if race is not None:
            race()
        return super().claim_turn(*args, **kwargs)


def test_a_delete_between_load_and_claim_is_session_not_found_not_a_new_session(tmp_path: Path) -> None:
    store = RacingStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    model = ScriptedModel()
    service = sqlite_service(tmp_path, model, store)
    events = list(service.turn(ChatRequest("first"), client="c"))
    session_id = events[0].session_id
    store.before_claim = lambda: store.delete_session(session_id, datetime.now(UTC))
    with pytest.raises(SessionNotFound):
        list(service.turn(ChatRequest("second", session_id), client="c"))
    assert len(model.prompts) == 1
    assert store.list_turns(session_id, datetime.now(UTC)) is None


def test_a_retry_stored_between_load_and_claim_is_answered_from_the_store(tmp_path: Path) -> None:
    store = RacingStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    model = ScriptedModel()
    service = sqlite_service(tmp_path, model, store)
    events = list(service.turn(ChatRequest("first"), client="c"))
    session_id = events[0].session_id
    retry = ChatRequest("second", session_id, "m2")
    other_instance = sqlite_service(tmp_path, model, store)
    store.before_claim = lambda: list(other_instance.turn(retry, client="c"))
    done = list(service.turn(retry, client="c"))[-1].payload
    assert done["replayed"] is True
    assert done["turn"] == 2
    assert len(model.prompts) == 2  # the first message and one answer to the second
    assert [t.seq for t in store.list_turns(session_id, datetime.now(UTC)) or []] == [1, 2]


@pytest.mark.parametrize(
    ("chunks", "reply_start", "finish_reason"),
    [
        ([Chunk(prompt_blocked=True, finish_reason="PROHIBITED_CONTENT")], "I can't help", "PROHIBITED_CONTENT"),
        ([Chunk(finish_reason="SAFETY")], "I can't help", "SAFETY"),  # blocked before any word
        ([Chunk(text="Press on the wound."), Chunk(finish_reason="SAFETY")], "Press on the wound.", "SAFETY"),
    ],
    ids=["prompt-blocked", "reply-blocked", "blocked-after-text"],
)
def test_blocking_is_reported_honestly(
    tmp_path: Path, chunks: list[Chunk], reply_start: str, finish_reason: str
) -> None:
    service = sqlite_service(tmp_path, OneReply(*chunks))
    done = list(service.turn(ChatRequest("question"), client="c"))[-1].payload
    assert done["reply"].startswith(reply_start)
    assert done["finish_reason"] == finish_reason
    if reply_start != "I can't help":
        assert "I can't help" not in done["reply"]  # text already given is not contradicted


def test_a_client_over_its_concurrent_turns_is_told_to_wait_for_one_to_finish(tmp_path: Any) -> None:
    from firstaid_chat.limits import TurnLimits
    from firstaid_chat.store.sqlite import SQLiteStore

    store = SQLiteStore(tmp_path / "limits.sqlite3", ttl=timedelta(hours=1), tail_chars=1000)
    limits = TurnLimits(Settings(client_concurrent_turns=1), store, lambda: datetime(2026, 1, 1, tzinfo=UTC))
    assert limits.take_slot("203.0.113.7") is not None
    with pytest.raises(RateLimited) as refused:
        limits.take_slot("203.0.113.7")
    assert refused.value.code == "too_many_turns"
    assert refused.value.message == "Too many replies are being written for you at once. Wait for one to finish."
    assert refused.value.headers["Retry-After"] == "2"
    store.close()


class Unavailable:
    """A model that fails before its first word."""

    source = "gemini"

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        raise ModelUnavailable()
        yield Chunk()  # pragma: no cover - makes this a generator


def test_the_fallback_notice_is_in_the_language_of_the_message(tmp_path: Path) -> None:
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    guide = OfflineModel(emergency_number="112")
    service = ChatService(config, store, Unavailable(), fallback=guide)
    done = list(service.turn(ChatRequest("comment soigner une brûlure légère"), client="c"))[-1].payload
    assert done["source"] == "offline"
    assert done["reply"].startswith(lead_text("fr", "fallback_notice") + "\n\n")
    store.close()


@pytest.mark.parametrize(
    ("message", "setting", "number"),
    [
        ("i want to kill myself tonight", "crisis_line", "555-0100"),
        ("my toddler just drank bleach", "poison_centre", "555-0199"),
    ],
)
def test_the_emergency_lead_names_the_configured_local_line(
    tmp_path: Path, message: str, setting: str, number: str
) -> None:
    done = list(sqlite_service(tmp_path, ScriptedModel(), **{setting: number}).turn(ChatRequest(message), client="c"))
    payload = done[-1].payload
    assert payload["emergency"] is True
    lead = payload["reply"].split("\n\n")[0]  # the first paragraph, before the model's words
    assert number in lead


def test_a_turn_holds_one_of_its_clients_slots_until_it_ends(tmp_path: Path) -> None:
    service = sqlite_service(tmp_path, ScriptedModel(), client_concurrent_turns=1)
    first = service.turn(ChatRequest("first"), client="203.0.113.7")
    next(first)  # started: the client's one slot is held
    with pytest.raises(RateLimited) as refused:
        list(service.turn(ChatRequest("second"), client="203.0.113.7"))
    assert refused.value.code == "too_many_turns"
    assert list(service.turn(ChatRequest("elsewhere"), client="198.51.100.9"))[-1].payload["turn"] == 1
    list(first)  # the first turn ends and gives its slot back
    for message in ("third", "fourth"):  # each in turn: the slot is free again after every turn
        assert list(service.turn(ChatRequest(message), client="203.0.113.7"))[-1].payload["turn"] == 1


@pytest.mark.parametrize("given_as", ["offline", "fallback"])
def test_once_the_days_budget_is_spent_the_offline_guide_answers_the_turn(tmp_path: Path, given_as: str) -> None:
    """The guide answers whether it was given as the budget's offline model or as the fallback."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    config = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    store.add_tokens("2026-11-30", 100, now)
    model = ScriptedModel()
    guide = {given_as: OfflineModel(emergency_number="112")}
    budget = TokenBudget(store, 100, check_seconds=0)
    service = ChatService(config, store, model, clock=lambda: now, budget=budget, **guide)  # type: ignore[arg-type]
    done = list(service.turn(ChatRequest("How do I treat a burn?"), client="c"))[-1].payload
    assert (done["source"], model.prompts) == ("offline", [])
    assert done["reply"].startswith("_Offline mode: the AI assistant has reached today's usage limit")
    store.close()


def test_a_turn_answered_by_a_racing_retry_gives_its_clients_slot_back(tmp_path: Path) -> None:
    store = RacingStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    service = sqlite_service(tmp_path, ScriptedModel(), store, client_concurrent_turns=1)
    events = list(service.turn(ChatRequest("first"), client="203.0.113.7"))
    session_id = events[0].session_id
    retry = ChatRequest("second", session_id, "m2")
    other_instance = sqlite_service(tmp_path, ScriptedModel(), store)  # the same person, through another address
    store.before_claim = lambda: list(other_instance.turn(retry, client="198.51.100.9"))
    assert list(service.turn(retry, client="203.0.113.7"))[-1].payload["replayed"] is True
    later = list(service.turn(ChatRequest("third", session_id), client="203.0.113.7"))[-1].payload
    assert later["turn"] == 3, "the slot taken for the replayed turn was given back"
