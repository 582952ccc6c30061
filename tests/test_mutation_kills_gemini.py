"""The Gemini adapter (model/gemini.py), pinned where a mutation survived the API's tests.

The real google-genai SDK talks to the fake Gemini (a thread of this process); the adapter's
clock and sleep are the test's, so backoff and deadlines are checked exactly and at once.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from firstaid_chat.conversation import Turn
from firstaid_chat.errors import (
    ModelNoReply,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    UpstreamError,
)
from firstaid_chat.model import Chunk, Prompt, Usage
from firstaid_chat.model.gemini import GeminiModel, retry_delay, unusable_reason
from firstaid_chat.settings import Settings

from tests.conftest import SENTINEL_KEY
from tests.fakes.gemini import Behaviour, FakeGemini, error, invalid_key, rate_limited, raw, thoughts_only


class Clock:
    """The adapter's monotonic clock: moves only when the adapter sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Jitter:
    """Stands in for the adapter's ``random`` module: ``uniform`` is the test's."""

    def __init__(self, uniform: Any) -> None:
        self.uniform = uniform


class Keys:
    """A key source whose refresh hands out ``fresh`` (when given) and records what was rejected."""

    def __init__(self, fresh: str | None = None) -> None:
        self.key = SENTINEL_KEY
        self.fresh = fresh
        self.rejected: list[str] = []

    def get(self, deadline: float | None = None) -> str:
        return self.key

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        self.rejected.append(rejected)
        if self.fresh is None:
            return False
        self.key = self.fresh
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    # The jitter's upper bound: each backoff is its full exponential value.
    monkeypatch.setattr("firstaid_chat.model.gemini.random", Jitter(lambda low, high: high))
    return Clock()


def model_for(clock: Clock, keys: Keys | None = None, **settings: Any) -> GeminiModel:
    return GeminiModel(Settings(**settings), keys or Keys(), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def prompt(clock: Clock, seconds: float = 30.0, history: tuple[Turn, ...] = ()) -> Prompt:
    return Prompt("How do I treat a burn?", history, deadline=clock.now + seconds)


def reply(model: GeminiModel, asked: Prompt) -> list[Chunk]:
    return list(model.stream(asked))


def thinking(body: dict[str, Any]) -> int | None:
    """The thinking budget a request carries (the SDK writes the field in either case), or None."""
    config = body["generationConfig"].get("thinkingConfig") or body["generationConfig"].get("thinking_config")
    if config is None:
        return None
    return int(config.get("thinkingBudget", config.get("thinking_budget")))


# --- what is sent ----------------------------------------------------------------------------


def test_history_goes_as_alternating_user_and_model_turns_before_the_message(gemini: FakeGemini, clock: Clock) -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    history = (Turn(1, "q1", "a1", at), Turn(2, "q2", "a2", at))
    reply(model_for(clock), prompt(clock, history=history))
    sent = gemini.requests[0].body["contents"]
    assert [(c["role"], [p["text"] for p in c["parts"]]) for c in sent] == [
        ("user", ["q1"]), ("model", ["a1"]), ("user", ["q2"]), ("model", ["a2"]),
        ("user", ["How do I treat a burn?"]),
    ]  # fmt: skip


def test_the_configured_model_and_generation_settings_are_sent(gemini: FakeGemini, clock: Clock) -> None:
    model = model_for(
        clock,
        gemini_model="gemini-2.5-flash-lite",
        system_instruction="Be brief.",
        temperature=0.7,
        max_output_tokens=321,
        safety_settings=(("HARM_CATEGORY_HARASSMENT", "BLOCK_ONLY_HIGH"),),
    )
    reply(model, prompt(clock))
    (sent,) = gemini.requests
    assert (sent.method, sent.model, sent.api_key) == ("streamGenerateContent", "gemini-2.5-flash-lite", SENTINEL_KEY)
    assert sent.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert sent.body["generationConfig"]["temperature"] == 0.7
    assert sent.body["generationConfig"]["maxOutputTokens"] == 321
    assert thinking(sent.body) == 0
    assert sent.body["safetySettings"] == [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}]


@pytest.mark.parametrize(
    ("gemini_model", "thinking_budget", "sent"),
    [
        ("gemini-2.5-pro", None, 256),  # a quarter of 1024, above the minimum of 128
        ("gemini-2.0-flash", None, None),  # the model's own default: nothing sent
        ("gemini-2.0-flash", 64, 64),  # THINKING_BUDGET set: sent as is
    ],
)
def test_a_thinking_budget_is_sent_only_when_set_or_known(
    gemini: FakeGemini, clock: Clock, gemini_model: str, thinking_budget: int | None, sent: int | None
) -> None:
    reply(model_for(clock, gemini_model=gemini_model, thinking_budget=thinking_budget), prompt(clock))
    assert thinking(gemini.requests[0].body) == sent


@pytest.mark.parametrize(("attempt_timeout", "left", "header"), [(25.0, 7.2, "8"), (1.5, 30.0, "2")])
def test_an_attempt_may_take_its_timeout_or_what_is_left_of_the_turn_whichever_is_less(
    gemini: FakeGemini, clock: Clock, attempt_timeout: float, left: float, header: str
) -> None:
    reply(model_for(clock, model_attempt_timeout_seconds=attempt_timeout), prompt(clock, left))
    assert gemini.requests[0].headers["x-server-timeout"] == header  # whole seconds, rounded up


# --- what comes back -------------------------------------------------------------------------


def test_chunks_carry_the_text_without_thoughts_and_the_last_usage(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(chunks=["Cool ", "the burn."], thoughts=["Thinking..."], thoughts_tokens=5))
    chunks = reply(model_for(clock), prompt(clock))
    assert [c.text for c in chunks] == ["Cool ", "the burn."]
    assert [c.finish_reason for c in chunks] == [None, "STOP"]
    assert chunks[-1].usage == Usage(prompt_tokens=12, output_tokens=2, total_tokens=12 + 2 + 5)
    assert not any(c.prompt_blocked for c in chunks)


def test_a_blocked_prompt_is_a_safety_finish(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(chunks=[""], block_reason="PROHIBITED_CONTENT"))
    (chunk,) = reply(model_for(clock), prompt(clock))
    assert (chunk.text, chunk.prompt_blocked, chunk.finish_reason) == ("", True, "SAFETY")


def test_a_stream_still_running_at_the_deadline_is_a_timeout(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(chunks=["one ", "two ", "three"]))
    asked = prompt(clock, 10.0)
    stream = model_for(clock).stream(asked)
    assert next(stream).text == "one "
    clock.now = asked.deadline  # exactly at the deadline: still in time
    assert next(stream).text == "two "
    clock.now = asked.deadline + 0.01
    with pytest.raises(ModelTimeout):
        next(stream)


def test_thoughts_only_is_no_reply_and_the_log_says_why(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    gemini.enqueue(thoughts_only(700))
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelNoReply):
        reply(model_for(clock), prompt(clock))
    (record,) = [r for r in caplog.records if r.getMessage() == "gemini gave no usable reply"]
    assert record.levelname == "WARNING"
    assert (record.reason, record.finish_reason, record.thoughts_tokens) == ("no_text", "MAX_TOKENS", 700)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("produced", "finish_reason", "blocked", "reason"),
    [
        (False, "SAFETY", False, None),  # withheld: usable, answered honestly
        (False, None, True, None),  # prompt blocked
        (False, "STOP", False, "no_text"),
        (False, None, False, "no_text"),
        (True, None, False, "no_finish_reason"),
        (True, "STOP", False, None),
        (True, "MAX_TOKENS", False, None),
    ],
)
def test_what_makes_a_finished_stream_usable(
    produced: bool, finish_reason: str | None, blocked: bool, reason: str | None
) -> None:
    assert unusable_reason(produced, finish_reason, blocked) == reason


# --- retries ---------------------------------------------------------------------------------


def test_backoff_doubles_from_half_a_second_up_to_eight(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(*[error(503)] * 6)
    chunks = reply(model_for(clock, model_max_attempts=7), prompt(clock, 60.0))
    assert clock.sleeps == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert len(gemini.requests) == 7
    assert chunks[-1].finish_reason == "STOP"


def test_backoff_is_jittered_down_to_half(gemini: FakeGemini, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[tuple[float, float]] = []
    monkeypatch.setattr("firstaid_chat.model.gemini.random", Jitter(lambda low, high: drawn.append((low, high)) or low))
    gemini.enqueue(error(500), error(502))
    reply(model_for(clock), prompt(clock))
    assert drawn == [(0.5, 1.0), (0.5, 1.0)]
    assert clock.sleeps == [0.25, 0.5]


@pytest.mark.parametrize(("status", "raised"), [(503, ModelUnavailable), (500, ModelUnavailable), (408, ModelTimeout)])
def test_retries_stop_at_model_max_attempts(
    gemini: FakeGemini, clock: Clock, status: int, raised: type[Exception]
) -> None:
    gemini.default = error(status)
    with pytest.raises(raised):
        reply(model_for(clock, model_max_attempts=3), prompt(clock))
    assert len(gemini.requests) == 3


@pytest.mark.parametrize(
    ("behaviour", "raised"),
    [
        (error(400, "bad", "INVALID_ARGUMENT"), UpstreamError),
        (error(404, "no such model", "NOT_FOUND"), UpstreamError),
        (error(504, "deadline", "DEADLINE_EXCEEDED"), ModelTimeout),
    ],
)
def test_each_status_maps_to_its_error(
    gemini: FakeGemini, clock: Clock, behaviour: Behaviour, raised: type[Exception]
) -> None:
    gemini.default = behaviour
    with pytest.raises(raised) as caught:
        reply(model_for(clock, model_max_attempts=1), prompt(clock))
    assert type(caught.value) is raised


def test_a_client_error_is_not_retried(gemini: FakeGemini, clock: Clock) -> None:
    gemini.default = error(404, "no such model", "NOT_FOUND")
    with pytest.raises(UpstreamError):
        reply(model_for(clock, model_max_attempts=4), prompt(clock))
    assert len(gemini.requests) == 1
    assert clock.sleeps == []


def test_a_429_without_retry_info_asks_for_ten_seconds(gemini: FakeGemini, clock: Clock) -> None:
    gemini.default = error(429, "quota", "RESOURCE_EXHAUSTED")
    with pytest.raises(ModelRateLimited) as limited:
        reply(model_for(clock, model_max_attempts=1), prompt(clock))
    assert limited.value.retry_after == 10


@pytest.mark.parametrize(("delay", "retry_after"), [("2.2s", 3), ("0.250s", 1), ("7s", 7)])
def test_a_429_s_retry_info_becomes_its_retry_after_in_whole_seconds(
    gemini: FakeGemini, clock: Clock, delay: str, retry_after: int
) -> None:
    gemini.default = rate_limited(delay)
    with pytest.raises(ModelRateLimited) as limited:
        reply(model_for(clock, model_max_attempts=1), prompt(clock))
    assert limited.value.retry_after == retry_after


def test_a_retry_info_delay_that_fits_is_waited_exactly(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(rate_limited("3.5s"))
    reply(model_for(clock), prompt(clock, 4.5))  # 3.5 s wait + 1 s for the attempt: just fits
    assert clock.sleeps == [3.5]
    assert len(gemini.requests) == 2


def test_a_retry_info_delay_that_does_not_fit_ends_the_turn_at_once(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(rate_limited("3.5s"))
    with pytest.raises(ModelRateLimited) as limited:
        reply(model_for(clock), prompt(clock, 4.49))
    assert limited.value.retry_after == 4
    assert (clock.sleeps, len(gemini.requests)) == ([], 1)


@pytest.mark.parametrize(("left", "attempts"), [(1.5, 2), (1.49, 1)])
def test_a_backoff_must_leave_a_second_for_the_next_attempt(
    gemini: FakeGemini, clock: Clock, left: float, attempts: int
) -> None:
    gemini.enqueue(error(503))
    with contextlib.suppress(ModelUnavailable):
        reply(model_for(clock), prompt(clock, left))
    assert len(gemini.requests) == attempts


@pytest.mark.parametrize(("left", "asked"), [(0.49, False), (0.5, True)])
def test_no_attempt_starts_with_less_than_half_a_second_left(
    gemini: FakeGemini, clock: Clock, left: float, asked: bool
) -> None:
    if asked:
        assert reply(model_for(clock), prompt(clock, left))[-1].finish_reason == "STOP"
    else:
        with pytest.raises(ModelTimeout):
            reply(model_for(clock), prompt(clock, left))
    assert len(gemini.requests) == int(asked)


def test_the_attempt_count_is_logged_with_the_upstream_status(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    gemini.enqueue(error(503), error(502))
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"):
        reply(model_for(clock), prompt(clock))
    failed = [r for r in caplog.records if r.getMessage() == "gemini attempt failed"]
    assert [(r.attempt, r.upstream_status, r.levelname) for r in failed] == [  # type: ignore[attr-defined]
        (1, "503", "INFO"), (2, "502", "INFO"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("details", "seconds"),
    [
        ({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "53s"}]}}, 53.0),
        ({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.25s"}]}}, 0.25),
        ({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "5m"}]}}, None),
        ({"error": {"details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "retryDelay": "5s"}]}}, None),
        ({"error": {"details": ["RetryInfo 5s"]}}, None),
        ({"error": {"details": "RetryInfo 5s"}}, None),
        ("RetryInfo 5s", None),
    ],
)
def test_only_a_well_formed_retry_info_names_a_delay(details: Any, seconds: float | None) -> None:
    from google.genai import errors as genai_errors

    assert retry_delay(genai_errors.APIError(429, details if isinstance(details, dict) else {})) == seconds


# --- the key ---------------------------------------------------------------------------------


def test_a_rejected_key_is_re_read_once_and_the_new_key_is_used(gemini: FakeGemini, clock: Clock) -> None:
    keys = Keys(fresh="fresh-test-key")
    gemini.enqueue(invalid_key())
    chunks = reply(model_for(clock, keys, model_max_attempts=1), prompt(clock))
    assert chunks[-1].finish_reason == "STOP"
    assert keys.rejected == [SENTINEL_KEY]
    assert [r.api_key for r in gemini.requests] == [SENTINEL_KEY, "fresh-test-key"]
    assert clock.sleeps == []


@pytest.mark.parametrize("status", [401, 403])
def test_a_key_refused_twice_is_not_re_read_again(gemini: FakeGemini, clock: Clock, status: int) -> None:
    keys = Keys(fresh="fresh-test-key")
    gemini.default = error(status, "denied", "PERMISSION_DENIED")
    with pytest.raises(UpstreamError):
        reply(model_for(clock, keys), prompt(clock))
    assert keys.rejected == [SENTINEL_KEY]
    assert len(gemini.requests) == 2


def test_a_rejected_key_with_no_other_key_is_model_unavailable(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    gemini.enqueue(invalid_key())
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelUnavailable):
        reply(model_for(clock, Keys()), prompt(clock))
    assert len(gemini.requests) == 1
    (record,) = [r for r in caplog.records if r.getMessage() == "gemini rejected the api key; re-reading it"]
    assert (record.levelname, record.upstream_status) == ("WARNING", 400)  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "a bad key is not a bad request"


def test_a_bad_request_not_about_the_key_is_logged_as_an_error_naming_the_model(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    keys = Keys(fresh="fresh-test-key")
    gemini.default = error(400, "bad thinking budget", "INVALID_ARGUMENT")
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(UpstreamError):
        reply(model_for(clock, keys, gemini_model="gemini-2.5-flash"), prompt(clock))
    assert keys.rejected == []
    (record,) = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage().startswith("gemini rejected the request as invalid; check GEMINI_MODEL")
    assert (record.upstream_status, record.upstream_code, record.gemini_model) == (  # type: ignore[attr-defined]
        400, "INVALID_ARGUMENT", "gemini-2.5-flash",
    )  # fmt: skip


def test_one_sdk_client_serves_every_turn_until_the_key_changes(gemini: FakeGemini, clock: Clock) -> None:
    keys = Keys()
    model = model_for(clock, keys)
    reply(model, prompt(clock))
    first = model._client
    reply(model, prompt(clock))
    assert model._client is first
    keys.key = "rotated-test-key"
    reply(model, prompt(clock))
    assert model._client is not first
    assert [r.api_key for r in gemini.requests] == [SENTINEL_KEY, SENTINEL_KEY, "rotated-test-key"]


# --- transport failures and bodies the SDK cannot read ---------------------------------------


@pytest.mark.parametrize(("status", "raised"), [(429, ModelRateLimited), (502, ModelUnavailable), (504, ModelTimeout)])
def test_busy_and_gateway_statuses_are_retried(
    gemini: FakeGemini, clock: Clock, status: int, raised: type[Exception]
) -> None:
    gemini.default = error(status)
    with pytest.raises(raised):
        reply(model_for(clock, model_max_attempts=2), prompt(clock))
    assert len(gemini.requests) == 2


def test_nothing_listening_is_model_unavailable_after_every_attempt(
    gemini: FakeGemini, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.firestore_emulator import free_port

    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ModelUnavailable):
        reply(model_for(clock, model_max_attempts=2), prompt(clock))
    assert clock.sleeps == [0.5]  # the connection error was retried once


def test_an_attempt_with_no_answer_within_its_timeout_is_a_model_timeout(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(first_delay=5))
    with pytest.raises(ModelTimeout):
        reply(model_for(clock, model_max_attempts=1, model_attempt_timeout_seconds=1.0), prompt(clock))


def test_a_stream_broken_after_text_is_model_unavailable(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(chunks=["Apply ", "pressure ", "and ", "never"], break_after=2))
    stream = model_for(clock).stream(prompt(clock))
    assert [next(stream).text, next(stream).text] == ["Apply ", "pressure "]
    with pytest.raises(ModelUnavailable):
        next(stream)


EVENT = b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "Cool it."}]}}]}\r\n\r\n'


@pytest.mark.parametrize(
    ("body", "text_first"),
    [(b"data: {not json\r\n\r\n", False), (EVENT + b"data: {not json\r\n\r\n", True)],
    ids=["first-event", "later-event"],
)
def test_a_body_the_sdk_cannot_read_is_no_reply_logged_with_its_error_type_only(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture, body: bytes, text_first: bool
) -> None:
    gemini.enqueue(raw(body))
    texts: list[str] = []
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelNoReply):
        texts.extend(chunk.text for chunk in model_for(clock).stream(prompt(clock)))
    assert texts == (["Cool it."] if text_first else [])
    (record,) = [r for r in caplog.records if r.getMessage() == "gemini gave no usable reply"]
    assert record.reason == "sdk_error"  # type: ignore[attr-defined]
    assert record.error_type.endswith("Error")  # type: ignore[attr-defined]
    assert len(gemini.requests) == 1, "an unreadable answer is not retried"


def test_missing_token_counts_read_as_zero(gemini: FakeGemini, clock: Clock) -> None:
    event = (
        b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],'
        b' "usageMetadata": {"totalTokenCount": 5}}\r\n\r\n'
    )
    gemini.enqueue(raw(event))
    (chunk,) = reply(model_for(clock), prompt(clock))
    assert (chunk.text, chunk.finish_reason, chunk.usage) == ("ok", "STOP", Usage(0, 0, 5))
