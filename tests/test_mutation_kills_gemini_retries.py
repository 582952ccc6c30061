"""The Gemini adapter (model/gemini.py): its retries, backoff and deadlines, and the API key.

Pinned where a mutation survived the API's tests. The real google-genai SDK talks to the fake
Gemini (a thread of this process); the adapter's clock and sleep are the test's
(tests/gemini_adapter.py), so backoff and deadlines are checked exactly and at once.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pytest
from firstaid_chat.errors import (
    ModelRateLimited,
    ModelTimeout,
    ModelUnavailable,
    UpstreamError,
)
from firstaid_chat.model.gemini import retry_delay

from tests.conftest import PROJECT, SENTINEL_KEY, VERTEX_LOCATION
from tests.fakes.gemini import Behaviour, FakeGemini, error, invalid_key, rate_limited
from tests.fakes.vertex import FakeTokenServer, FakeVertex
from tests.gemini_adapter import Clock, Jitter, Keys, full_backoff_clock, model_for, prompt, reply


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return full_backoff_clock(monkeypatch)


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
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "a busy Gemini is not a bad request"


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
        ({"message": "slow down"}, None),  # a JSON object, but not Google's error envelope
    ],
)
def test_only_a_well_formed_retry_info_names_a_delay(details: Any, seconds: float | None) -> None:
    from google.genai import errors as genai_errors

    exc = genai_errors.APIError(429, {})
    exc.details = details  # what the SDK parsed from the body: not always a JSON object
    assert retry_delay(exc) == seconds


# --- the key ---------------------------------------------------------------------------------


def test_a_rejected_key_is_re_read_once_and_the_new_key_is_used(gemini: FakeGemini, clock: Clock) -> None:
    keys = Keys(fresh="fresh-test-key")
    gemini.enqueue(invalid_key())
    turn = prompt(clock)
    chunks = reply(model_for(clock, keys, model_max_attempts=1), turn)
    assert chunks[-1].finish_reason == "STOP"
    assert keys.rejected == [SENTINEL_KEY]
    assert keys.refresh_deadlines == [turn.deadline], "the re-read waits no longer than the turn may"
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
    assert record.getMessage() == (
        "gemini rejected the request as invalid; check GEMINI_MODEL, THINKING_BUDGET, "
        "MAX_OUTPUT_TOKENS and SAFETY_SETTINGS"
    )
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


def test_no_vertex_ai_token_is_model_unavailable_at_once_and_logged_with_its_cause(
    vertex: FakeVertex, token_server: FakeTokenServer, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """google-auth has already retried what it could: the adapter does not try again."""
    token_server.fail_with = 400
    model = model_for(
        clock, gemini_backend="vertex", google_cloud_project=PROJECT, google_cloud_location=VERTEX_LOCATION
    )
    with caplog.at_level(logging.INFO, logger="firstaid_chat.model.gemini"), pytest.raises(ModelUnavailable):
        reply(model, prompt(clock))
    failed = [r for r in caplog.records if r.getMessage() == "gemini attempt failed"]
    assert [(r.attempt, r.upstream_status) for r in failed] == [(1, "RefreshError")]  # type: ignore[attr-defined]
    assert (clock.sleeps, vertex.requests) == ([], [])
