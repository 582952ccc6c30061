"""The function and openapi.yaml agree, as judged by openapi-core's strict OpenAPI 3.0 validators.

Every request below is validated against the spec before it is sent and every response after it
comes back (status, headers, body), with the document as written: nullable fields, optional
security, the header form of the session routes, and each streamed event's data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.test import EnvironBuilder, TestResponse

from tests.contract.spec import SERVER_URL, SPEC, schema_validator
from tests.fakes.gemini import Behaviour, FakeGemini, error

# openapi-core passes bodies of media types it has no deserializer for on as bytes; an SSE body is text.
API = OpenAPI.from_dict(SPEC, config=Config(extra_media_type_deserializers={"text/event-stream": bytes.decode}))
STREAM_EVENT = schema_validator("ChatStreamEvent")


class Exchange:
    """One request and its response, each checked against the spec."""

    def __init__(self, client: Any, method: str, path: str, **kwargs: Any) -> None:
        def build() -> EnvironBuilder:
            return EnvironBuilder(path=path, method=method, base_url=SERVER_URL, **kwargs)

        self.request = WerkzeugOpenAPIRequest(build().get_request())
        self.request_errors = list(API.iter_request_errors(self.request))  # type: ignore[attr-defined]
        self.response: TestResponse = client.open(build())
        API.validate_response(self.request, WerkzeugOpenAPIResponse(self.response))

    @property
    def json(self) -> Any:
        return self.response.get_json()

    def events(self) -> list[dict[str, Any]]:
        """The SSE events as {event, data} pairs, each validated against ChatStreamEvent."""
        events = []
        for block in self.response.get_data(as_text=True).split("\n\n"):
            fields = dict(line.split(": ", 1) for line in block.splitlines() if line)
            if fields:
                event = {"event": fields["event"], "data": json.loads(fields["data"])}
                STREAM_EVENT.validate(event)
                events.append(event)
        return events


@pytest.fixture
def call(gemini: FakeGemini, make_client: Any) -> Callable[..., Exchange]:
    client = make_client(FALLBACK="none", MODEL_MAX_ATTEMPTS="1")

    def exchange(method: str, path: str, **kwargs: Any) -> Exchange:
        return Exchange(client, method, path, **kwargs)

    return exchange


def test_a_conversation_keeps_to_the_contract_including_nulls(call: Callable[..., Exchange]) -> None:
    first = call("POST", "/v1/chat", json={"message": "hi", "session_id": None, "client_message_id": None})
    assert first.request_errors == []
    assert first.response.status_code == 200
    assert first.json["client_message_id"] is None  # documented as nullable, sent as null
    session_id = first.json["session_id"]
    body = {"message": "and now?", "session_id": session_id, "client_message_id": "m-2"}
    second = call("POST", "/v1/chat", json=body)
    retried = call("POST", "/v1/chat", json=body)
    assert (second.json["turn"], second.json["replayed"], retried.json["replayed"]) == (2, False, True)
    for path, headers in (("/v1/session", {"X-Session-Id": session_id}), (f"/v1/sessions/{session_id}", {})):
        transcript = call("GET", path, headers=headers)
        assert transcript.request_errors == []
        assert [m["role"] for m in transcript.json["messages"]] == ["user", "model"] * 2
    erased = call("DELETE", "/v1/session", headers={"X-Session-Id": session_id})
    assert erased.response.status_code == 204
    assert call("DELETE", f"/v1/sessions/{session_id}").response.status_code == 404


def test_streamed_reply_events_match_their_schemas(call: Callable[..., Exchange], gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Press ", "firmly."]))
    stream = call("POST", "/v1/chat", json={"message": "bleeding"}, headers={"Accept": "text/event-stream"})
    assert stream.request_errors == []
    assert stream.response.mimetype == "text/event-stream"
    events = stream.events()
    assert [e["event"] for e in events] == ["delta", "delta", "done"]
    assert events[-1]["data"]["session_id"] == stream.response.headers["X-Session-Id"]


def test_stream_error_event_matches_its_schema(call: Callable[..., Exchange], gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Apply ", "pressure ", "and"], break_after=1))
    stream = call("POST", "/v1/chat", json={"message": "bleeding"}, headers={"Accept": "text/event-stream"})
    events = stream.events()
    assert [e["event"] for e in events] == ["delta", "error"]
    assert events[-1]["data"]["status"] == 503
    assert events[-1]["data"]["retry_after"] is None  # documented as nullable, always present


def test_rate_limit_before_the_stream_is_a_documented_429_with_retry_after(
    call: Callable[..., Exchange], gemini: FakeGemini
) -> None:
    gemini.enqueue(error(429, "quota", "RESOURCE_EXHAUSTED"))
    busy = call("POST", "/v1/chat", json={"message": "hi"}, headers={"Accept": "text/event-stream"})
    assert busy.response.status_code == 429
    assert int(busy.response.headers["Retry-After"]) >= 1
    assert busy.json["error"]["code"] == "model_busy"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"message": "hi", "session_id": None}, 200),
        ({"message": "hi", "client_message_id": None}, 200),
        ({"message": "hi", "extra": 1}, 400),
        ({"message": "hi", "session_id": 42}, 400),
        ({"message": "hi", "session_id": "short"}, 400),
        ({"message": "hi", "client_message_id": ""}, 400),
        ({"message": "   "}, 400),
        ({"session_id": None}, 400),
        ({"message": "x" * 4001}, 413),
    ],
)
def test_the_spec_and_the_server_agree_on_which_bodies_are_valid(
    call: Callable[..., Exchange], body: dict[str, Any], status: int
) -> None:
    exchange = call("POST", "/v1/chat", json=body)
    assert exchange.response.status_code == status
    assert (exchange.request_errors == []) == (status == 200), exchange.request_errors


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/v1/session", {}, 400),
        ("DELETE", "/v1/session", {"X-Session-Id": "not-an-id"}, 400),
        ("GET", "/v1/session", {"X-Session-Id": "A" * 32}, 404),
        ("GET", "/v1/sessions/not-an-id", {}, 400),
    ],
)
def test_session_errors_are_documented_and_the_spec_flags_the_bad_ids(
    call: Callable[..., Exchange], method: str, path: str, headers: dict[str, str], status: int
) -> None:
    exchange = call(method, path, headers=headers)
    assert exchange.response.status_code == status
    assert (exchange.request_errors == []) == (status == 404), exchange.request_errors


def test_wrong_media_type_is_a_documented_415(call: Callable[..., Exchange]) -> None:
    exchange = call("POST", "/v1/chat", data=b'{"message": "hi"}', content_type="text/plain")
    assert exchange.response.status_code == 415
    assert exchange.request_errors  # the spec accepts application/json only


def test_the_event_validator_rejects_what_the_spec_forbids() -> None:
    # The checks above only mean something if the validator is strict: these must fail.
    for bad in (
        {"event": "delta", "data": {"text": 3}},
        {"event": "error", "data": {"error": {"code": "x", "message": "m"}, "status": 503}},
        {"event": "done", "data": {"session_id": None}},
    ):
        assert not STREAM_EVENT.is_valid(bad), bad


def test_an_unexpected_failure_mid_stream_still_sends_a_documented_error_event(
    call: Callable[..., Exchange], monkeypatch: pytest.MonkeyPatch
) -> None:
    from firstaid_chat import service

    def broken_turn(self: Any, request: Any, **kwargs: Any) -> Any:
        yield service.Started(session_id="A" * 32)
        yield service.Delta(text="Press ")
        raise RuntimeError("a bug, not a documented failure")

    monkeypatch.setattr(service.ChatService, "turn", broken_turn)
    stream = call("POST", "/v1/chat", json={"message": "hi"}, headers={"Accept": "text/event-stream"})
    events = stream.events()
    assert [e["event"] for e in events] == ["delta", "error"]
    assert events[-1]["data"] == {**events[-1]["data"], "status": 500, "retry_after": None}
