"""The Gemini adapter (model/gemini.py): what it sends and what it makes of the answer.

Pinned where a mutation survived the API's tests. The real google-genai SDK talks to the fake
Gemini (a thread of this process); the adapter's clock and sleep are the test's
(tests/gemini_adapter.py), so deadlines are checked exactly and at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from firstaid_chat.conversation import Turn
from firstaid_chat.errors import (
    ModelNoReply,
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
)
from firstaid_chat.model import Chunk, Usage
from firstaid_chat.model.gemini import unusable_reason

from tests.conftest import SENTINEL_KEY
from tests.fakes.gemini import Behaviour, FakeGemini, error, raw, thoughts_only
from tests.gemini_adapter import Clock, Keys, full_backoff_clock, model_for, prompt, reply, thinking


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return full_backoff_clock(monkeypatch)


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


@pytest.mark.parametrize(("attempt_timeout", "left", "header"), [(25.0, 7.2, "8"), (1.5, 30.0, "2"), (2.0, 30.0, "2")])
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


def test_a_reply_cut_short_at_the_deadline_closes_its_stream_at_once(gemini: FakeGemini, clock: Clock) -> None:
    """The connection is closed when the model gives up, not whenever the error is forgotten."""
    gemini.enqueue(Behaviour(chunks=["one ", *["more "] * 500], chunk_interval=0.01))
    before = gemini.abandoned  # a stream an earlier test left may still be noticed now
    asked = prompt(clock, 10.0)
    stream = model_for(clock).stream(asked)
    assert next(stream).text == "one "
    clock.now = asked.deadline + 0.01
    try:
        next(stream)
    except ModelTimeout:
        # The error (and its traceback, which holds the adapter's frames) is still alive here:
        # only an explicit close has ended the stream. The fake sees it at its next write.
        closed = wait_until(lambda: gemini.abandoned > before)
    else:
        pytest.fail("the stream went on past its deadline")
    assert closed, "the fake Gemini is still streaming to a client that gave up"


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """Poll ``condition`` every 10 ms for up to ``seconds``; whether it came true (an event, not a speed)."""
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.01)
    return True


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
    gemini: FakeGemini, clock: Clock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.fakes.firestore_emulator import free_port

    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", f"http://127.0.0.1:{free_port()}")
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelUnavailable):
        reply(model_for(clock, model_max_attempts=2), prompt(clock))
    assert clock.sleeps == [0.5]  # the connection error was retried once
    failed = [r for r in caplog.records if r.getMessage() == "gemini attempt failed"]
    assert [(r.attempt, r.upstream_status) for r in failed] == [(1, "ConnectError"), (2, "ConnectError")]  # type: ignore[attr-defined]


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


def test_the_transport_errors_caught_are_those_of_both_http_clients_the_sdk_may_use() -> None:
    import httpx
    import httpx2  # type: ignore[import-not-found, unused-ignore]
    from firstaid_chat.model.gemini import _transport_errors

    assert _transport_errors() == (httpx.TransportError, httpx2.TransportError)


@pytest.mark.parametrize(
    ("event", "usage"),
    [
        (b'data: {"candidates": [{"finishReason": "STOP"}]}\r\n\r\n', None),
        (
            b'data: {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 12}}\r\n\r\n',
            Usage(12, 0, 0),
        ),
    ],
    ids=["no-usage", "no-thought-count"],
)
def test_no_reply_without_a_thought_count_logs_zero_thought_tokens(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture, event: bytes, usage: Usage | None
) -> None:
    gemini.enqueue(raw(event))
    chunks: list[Chunk] = []
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelNoReply):
        chunks.extend(model_for(clock).stream(prompt(clock)))
    assert [chunk.usage for chunk in chunks] == [usage]
    (record,) = [r for r in caplog.records if r.getMessage() == "gemini gave no usable reply"]
    assert (record.reason, record.thoughts_tokens) == ("no_text", 0)  # type: ignore[attr-defined]


def test_a_blocked_prompt_is_answered_honestly_whatever_finish_reason_comes_with_it(
    gemini: FakeGemini, clock: Clock
) -> None:
    gemini.enqueue(
        raw(b'data: {"promptFeedback": {"blockReason": "SAFETY"}, "candidates": [{"finishReason": "STOP"}]}\r\n\r\n')
    )
    (chunk,) = reply(model_for(clock), prompt(clock))  # no ModelNoReply: the service answers it honestly
    assert (chunk.text, chunk.prompt_blocked, chunk.finish_reason) == ("", True, "STOP")


def test_an_error_event_in_the_middle_of_a_stream_maps_to_its_status(gemini: FakeGemini, clock: Clock) -> None:
    text = b'data: {"candidates": [{"content": {"role": "model", "parts": [{"text": "Cool "}]}}]}\r\n\r\n'
    failure = b'data: {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}\r\n\r\n'
    gemini.enqueue(raw(text + failure))
    stream = model_for(clock).stream(prompt(clock))
    assert next(stream).text == "Cool "
    with pytest.raises(ModelUnavailable):
        next(stream)


def test_a_stream_that_stalls_past_the_attempt_timeout_is_a_model_timeout(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(Behaviour(chunks=["Cool ", "the burn."], chunk_interval=5))
    stream = model_for(clock, model_attempt_timeout_seconds=1.0).stream(prompt(clock))
    assert next(stream).text == "Cool "
    with pytest.raises(ModelTimeout):
        next(stream)


def test_every_text_part_of_a_chunk_is_kept_and_a_new_finish_reason_passes_through(
    gemini: FakeGemini, clock: Clock
) -> None:
    parts = b'[{"text": "Cool "}, {"text": "it.", "thought": false}]'
    gemini.enqueue(
        raw(
            b'data: {"candidates": [{"content": {"role": "model", "parts": ' + parts + b"}, "
            b'"finishReason": "A_REASON_NOT_YET_KNOWN"}]}\r\n\r\n'
        )
    )
    with pytest.warns(UserWarning, match="not a valid FinishReason"):  # the SDK warns, and keeps it
        (chunk,) = reply(model_for(clock), prompt(clock))
    assert (chunk.text, chunk.finish_reason) == ("Cool it.", "A_REASON_NOT_YET_KNOWN")


def test_a_blocked_reply_without_content_is_answered_honestly(gemini: FakeGemini, clock: Clock) -> None:
    gemini.enqueue(raw(b'data: {"candidates": [{"finishReason": "SAFETY"}]}\r\n\r\n'))
    (chunk,) = reply(model_for(clock), prompt(clock))
    assert (chunk.text, chunk.finish_reason, chunk.prompt_blocked) == ("", "SAFETY", False)


def test_an_empty_answer_is_no_reply_for_want_of_text(
    gemini: FakeGemini, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    gemini.enqueue(raw(b""))
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelNoReply):
        reply(model_for(clock), prompt(clock))
    (record,) = [r for r in caplog.records if r.getMessage() == "gemini gave no usable reply"]
    assert record.reason == "no_text"  # type: ignore[attr-defined]


def test_the_key_is_asked_for_within_the_turns_deadline(gemini: FakeGemini, clock: Clock) -> None:
    asked: list[float | None] = []

    class TimedKeys(Keys):
        def get(self, deadline: float | None = None) -> str:
            asked.append(deadline)
            return super().get(deadline)

    turn = prompt(clock)
    reply(model_for(clock, TimedKeys()), turn)
    assert asked == [turn.deadline]
