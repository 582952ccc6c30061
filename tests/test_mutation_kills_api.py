"""The HTTP API (api.py), pinned where a mutation survived its tests.

Each test states one behaviour: what the client gets back (status, headers, body, SSE frames) or what
the log says. scripts/mutation.py lists the mutants they kill.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import flask
import pytest
from firstaid_chat import runtime
from firstaid_chat.api import client_key
from firstaid_chat.errors import ChatError, ModelUnavailable, RateLimited
from firstaid_chat.service import Delta, Event, Started
from firstaid_chat.settings import Settings
from werkzeug.exceptions import default_exceptions
from werkzeug.test import EnvironBuilder

from tests.fakes.gemini import Behaviour, FakeGemini

PAGE = "https://chat.example.org"
TRACE = "105445aa7843bc8bf206b12000100000"


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def request_line(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The last "request" log line written since the last read."""
    return [line for line in log_lines(capsys.readouterr().out) if line["message"] == "request"][-1]


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client(ALLOWED_ORIGINS=f"{PAGE},http://localhost:8000", GOOGLE_CLOUD_PROJECT="demo-firstaid")


def test_every_response_carries_a_fresh_request_id_and_the_security_headers(client: Any) -> None:
    first, second = client.get("/healthz"), client.get("/healthz")
    assert first.get_json() == {"status": "ok"}
    assert first.mimetype == "application/json"
    assert re.fullmatch(r"[0-9a-f]{32}", first.headers["X-Request-Id"])
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert first.headers["Cache-Control"] == "no-store"
    assert first.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in first.headers


def test_each_request_is_logged_once_with_its_method_path_status_and_latency(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    response = client.delete("/v1/sessions/" + "A" * 32)
    line = request_line(capsys)
    assert (line["method"], line["path"], line["status"]) == ("DELETE", "/v1/sessions/AAAAAA…", 404)
    assert line["request_id"] == response.headers["X-Request-Id"]
    assert isinstance(line["latency_ms"], float)
    assert 0 <= line["latency_ms"] < 60_000


def test_a_long_path_is_logged_cut_to_200_characters(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert client.get("/v1/" + "a" * 300).status_code == 404
    assert request_line(capsys)["path"] == "/v1/" + "a" * 196


def test_a_streamed_reply_says_not_to_buffer_or_cache_and_names_its_session(client: Any) -> None:
    response = client.post("/v1/chat", json={"message": "a burn"}, headers={"Accept": "text/event-stream"})
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    frames = response.get_data(as_text=True).split("\n\n")
    done = json.loads(frames[-2].split("data: ", 1)[1])
    assert response.headers["X-Session-Id"] == done["session_id"]
    assert frames[-2].startswith("event: done\ndata: {")
    assert frames[-1] == ""


@pytest.mark.parametrize(
    ("accept", "streams"),
    [
        ("text/event-stream", True),
        ("application/json", False),
        ("*/*", False),
        ("application/json, text/event-stream", False),
        ("text/event-stream, application/json;q=0.5", True),
    ],
)
def test_a_reply_streams_only_when_the_client_prefers_server_sent_events(
    client: Any, accept: str, streams: bool
) -> None:
    response = client.post("/v1/chat", json={"message": "a cut finger"}, headers={"Accept": accept})
    assert response.status_code == 200
    assert (response.mimetype == "text/event-stream") is streams
    assert response.headers["X-Session-Id"]


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("[2001:db8::1]", "2001:db8::/64"),
        ("fe80::1%eth0", "fe80::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("x" * 70, "x" * 64),
        ("X192.0.2.7", "X192.0.2.7"),  # not an address, though it holds one: counted as the text it is
    ],
)
def test_a_client_is_its_address_its_slash_64_or_at_most_64_characters(address: str, key: str) -> None:
    assert client_key(address) == key


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, "invalid_request"), (404, "not_found"), (405, "method_not_allowed"), (413, "payload_too_large"),
     (414, "internal_error"), (500, "internal_error")],
)  # fmt: skip
def test_an_error_the_web_framework_raises_gets_the_json_envelope(client: Any, status: int, code: str) -> None:
    api = runtime.get_api(Settings.from_env())  # the instance's API, as functions-framework's error handler gets it
    with client.application.test_request_context("/v1/chat", headers={"Origin": PAGE}):
        response = api.framework_error(flask.request, default_exceptions[status]())
    assert response.status_code == {414: 500}.get(status, status)
    assert response.get_json()["error"]["code"] == code
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Vary"] == "Origin"


def test_a_preflight_from_a_listed_origin_is_answered_and_cached_for_ten_minutes(client: Any) -> None:
    response = client.options("/v1/session", headers={"Origin": PAGE, "Access-Control-Request-Method": "DELETE"})
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["Access-Control-Allow-Methods"] == "GET, POST, DELETE, OPTIONS"
    assert response.headers["Access-Control-Max-Age"] == "600"
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After, X-Request-Id, X-Session-Id"


def test_a_preflight_for_an_unknown_path_is_404(client: Any) -> None:
    response = client.options("/v1/nowhere", headers={"Origin": PAGE, "Access-Control-Request-Method": "GET"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_a_preflight_from_an_unlisted_origin_gets_no_cors_answer(client: Any) -> None:
    response = client.options("/v1/chat", headers={"Origin": "https://elsewhere.example"})
    assert response.status_code == 204
    assert not [name for name, _ in response.headers if name.startswith("Access-Control")]


def test_any_origin_is_allowed_with_a_star(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(ALLOWED_ORIGINS="*")
    response = client.get("/healthz", headers={"Origin": "https://anyone.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "https://anyone.example"
    assert "Access-Control-Allow-Origin" not in client.get("/healthz").headers


@pytest.mark.parametrize(
    ("headers", "trace", "span"),
    [
        ({"X-Cloud-Trace-Context": f"{TRACE}/255;o=1"}, f"projects/demo-firstaid/traces/{TRACE}", "00000000000000ff"),
        ({"X-Cloud-Trace-Context": f" {TRACE} "}, f"projects/demo-firstaid/traces/{TRACE}", None),
        ({"X-Cloud-Trace-Context": f"{TRACE}/99999999999999999999"}, f"projects/demo-firstaid/traces/{TRACE}", None),
        ({"X-Cloud-Trace-Context": "not-a-trace"}, None, None),
        ({"traceparent": f" 00-{TRACE}-00f067aa0ba902b7-01 ", "X-Cloud-Trace-Context": f"{'f' * 32}/1"},
         f"projects/demo-firstaid/traces/{TRACE}", "00f067aa0ba902b7"),
        ({"traceparent": f"00-{TRACE.upper()}-00f067aa0ba902b7-01"}, None, None),
    ],
)  # fmt: skip
def test_the_request_log_carries_the_callers_trace_and_span(
    client: Any, capsys: pytest.CaptureFixture[str], headers: dict[str, str], trace: str | None, span: str | None
) -> None:
    capsys.readouterr()
    client.get("/healthz", headers=headers)
    line = request_line(capsys)
    assert line.get("logging.googleapis.com/trace") == trace
    assert line.get("logging.googleapis.com/spanId") == span


def test_without_a_project_the_trace_is_logged_bare(gemini: FakeGemini, make_client: Any, capsys: Any) -> None:
    client = make_client()
    capsys.readouterr()
    client.get("/healthz", headers={"X-Cloud-Trace-Context": f"{TRACE}/1"})
    assert request_line(capsys)["logging.googleapis.com/trace"] == TRACE


BAD_CLIENT_MESSAGE_ID = "'client_message_id' must be 1 to 128 letters, digits or . _ : -"


def post_raw(client: Any, body: bytes, **headers: str) -> Any:
    return client.post("/v1/chat", data=body, headers={"Content-Type": "application/json", **headers})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[]", "The body must be a JSON object."),
        (b'{"message": "hi", "zz": 1, "a' + b"b" * 50 + b'": 2}',
         f"Unknown field: {'a' + 'b' * 39!r}. Send message, session_id and client_message_id only."),
        (b'{"message": null}', "'message' is required and must be a string."),
        (b'{"message": "a\\u0000"}', "'message' contains characters that are not valid text."),
        (b'{"message": " \\t "}', "'message' must not be empty."),
        (b'{"message": "hi", "session_id": "short"}', "'session_id' is not a valid session id."),
        (b'{"message": "hi", "client_message_id": ""}', BAD_CLIENT_MESSAGE_ID),
        (b'{"message": "hi", "client_message_id": 5}', BAD_CLIENT_MESSAGE_ID),
        (b'{"message": "\xff"}', "The body is not valid UTF-8."),
        (b'{"message": "hi"', "The body is not valid JSON."),
        (b'{"message": NaN}', "The body is not valid JSON."),
    ],
)  # fmt: skip
def test_a_bad_chat_body_is_told_what_is_wrong(client: Any, gemini: FakeGemini, body: bytes, message: str) -> None:
    response = post_raw(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"]["message"] == message
    assert gemini.requests == []


def test_a_message_over_the_limit_is_told_the_limit(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(MAX_MESSAGE_CHARS="10")
    assert post_raw(client, json.dumps({"message": "x" * 10}).encode()).status_code == 200
    response = post_raw(client, json.dumps({"message": "x" * 11}).encode())
    assert response.status_code == 413
    assert response.get_json()["error"] == {
        "code": "message_too_long",
        "message": "The message is too long: keep it to 10 characters at most.",
    }


def test_the_body_limit_leaves_room_for_any_message_within_max_message_chars() -> None:
    from firstaid_chat.chat_request import body_limit

    assert body_limit(Settings(max_message_chars=100, max_body_bytes=2048)) == 100 * 12 + 4096
    assert body_limit(Settings(max_message_chars=100, max_body_bytes=6000)) == 6000


@pytest.mark.parametrize("declared", [True, False])
def test_a_body_over_the_limit_is_refused_whether_or_not_its_length_is_declared(
    gemini: FakeGemini, make_client: Any, declared: bool
) -> None:
    client = make_client(MAX_MESSAGE_CHARS="1", MAX_BODY_BYTES="4108")  # the limit: 4108 bytes
    fits = json.dumps({"message": "x", "session_id": None, "client_message_id": None}).encode()
    for body, status in ((fits + b" " * (4108 - len(fits)), 200), (fits + b" " * (4109 - len(fits)), 413)):
        environ = {} if declared else {"wsgi.input_terminated": True}
        headers = {"Content-Type": "application/json"}
        if not declared:
            headers["Transfer-Encoding"] = "chunked"
        response = client.post("/v1/chat", input_stream=io.BytesIO(body), headers=headers,
                               environ_base=environ, content_length=len(body) if declared else None)  # fmt: skip
        assert response.status_code == status, response.get_data(as_text=True)
        if status == 413:
            assert response.get_json()["error"] == {
                "code": "payload_too_large",
                "message": "The request body is too large: the limit is 4108 bytes.",
            }


def test_a_transcript_gives_each_turns_messages_with_their_figures(client: Any) -> None:
    first = client.post("/v1/chat", json={"message": "a bee sting"}).get_json()
    response = client.get("/v1/session", headers={"X-Session-Id": first["session_id"]})
    assert response.headers["Vary"] == "X-Session-Id, Origin"
    body = response.get_json()
    assert set(body) == {"session_id", "messages", "emergency_number"}
    assert body["session_id"] == first["session_id"]
    user, model = body["messages"]
    assert user == {"role": "user", "text": "a bee sting", "time": user["time"], "turn": 1}
    assert model == {
        "role": "model", "text": first["reply"], "time": user["time"], "turn": 1,
        "source": "gemini", "emergency": False, "finish_reason": "STOP", "language": first["language"],
    }  # fmt: skip
    assert first["language"] == "en"


@pytest.mark.parametrize(
    ("path", "headers", "message"),
    [
        ("/v1/sessions/short", {}, "There is no valid session id in the path."),
        ("/v1/session", {"X-Session-Id": "short"}, "There is no valid session id in the X-Session-Id header."),
        ("/v1/session", {}, "There is no valid session id in the X-Session-Id header."),
    ],
)
def test_a_bad_session_id_is_told_where_it_was_looked_for(
    client: Any, path: str, headers: dict[str, str], message: str
) -> None:
    response = client.get(path, headers=headers)
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "invalid_session_id", "message": message}


class Broken(RuntimeError):
    """A failure that is no ChatError: a defect, whose text must reach neither the client nor the log."""


def test_an_unexpected_failure_is_a_500_with_no_detail_and_one_log_line(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def transcript(session_id: str) -> list[Any]:
        raise Broken("internal detail")

    monkeypatch.setattr(runtime.get_api(Settings.from_env()).service, "transcript", transcript)
    capsys.readouterr()
    response = client.get("/v1/session", headers={"X-Session-Id": "A" * 32, "Origin": PAGE})
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "internal detail" not in response.get_data(as_text=True)
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert response.headers["X-Request-Id"]
    lines = log_lines(capsys.readouterr().out)
    assert [line["message"] for line in lines] == ["unexpected error", "request"]
    assert "Broken" in lines[0]["stack_trace"]
    assert lines[1]["status"] == 500


def streamed_turn(client: Any, monkeypatch: pytest.MonkeyPatch, events: Any) -> str:
    """The SSE body of a chat request whose turn yields ``events`` (a generator function)."""
    monkeypatch.setattr(runtime.get_api(Settings.from_env()).service, "turn", events)
    response = client.post("/v1/chat", json={"message": "hi"}, headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    return str(response.get_data(as_text=True))


def test_an_unexpected_failure_mid_stream_ends_it_with_a_500_error_event(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def turn(*args: Any, **kwargs: Any) -> Iterator[Event]:
        yield Started("A" * 32)
        yield Delta("Hold ")
        raise Broken("internal detail")

    capsys.readouterr()
    text = streamed_turn(client, monkeypatch, turn)
    error = {"error": {"code": "internal_error", "message": ChatError().message}, "status": 500, "retry_after": None}
    assert text == f'event: delta\ndata: {{"text": "Hold "}}\n\nevent: error\ndata: {json.dumps(error)}\n\n'
    lines = log_lines(capsys.readouterr().out)
    assert [line["message"] for line in lines] == ["request", "unexpected error while streaming"]
    assert lines[1]["request_id"] == lines[0]["request_id"]  # logged in the request's context
    assert "Broken" in lines[1]["stack_trace"]
    assert "internal detail" not in json.dumps(lines)


def test_a_refusal_mid_stream_carries_its_status_and_when_to_retry(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def turn(*args: Any, **kwargs: Any) -> Iterator[Event]:
        yield Started("A" * 32)
        yield Delta("Über")
        raise RateLimited(retry_after=7)

    text = streamed_turn(client, monkeypatch, turn)
    frames = text.split("\n\n")
    assert frames[0] == 'event: delta\ndata: {"text": "Über"}'  # as UTF-8, not \u escapes
    name, data = frames[1].split("\n")
    assert name == "event: error"
    assert json.loads(data.removeprefix("data: ")) == {
        "error": {"code": "rate_limited", "message": RateLimited(retry_after=7).message},
        "status": 429,
        "retry_after": 7,
    }


@pytest.mark.parametrize(
    ("failure", "line"),
    [
        (ModelUnavailable(), {"message": "turn failed after the client disconnected", "severity": "WARNING",
                              "error_code": "model_unavailable", "status": 503}),
        (Broken("internal detail"), {"message": "unexpected error after the client disconnected", "severity": "ERROR"}),
    ],
)  # fmt: skip
def test_a_turn_that_fails_once_the_client_has_left_is_one_log_line_in_the_requests_context(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, failure: Exception,
    line: dict[str, Any],
) -> None:  # fmt: skip
    def turn(*args: Any, **kwargs: Any) -> Iterator[Event]:
        try:
            yield Started("A" * 32)
            yield Delta("Lay them down")
            yield Delta(" and")
        finally:
            raise failure

    monkeypatch.setattr(runtime.get_api(Settings.from_env()).service, "turn", turn)
    environ = EnvironBuilder(
        path="/v1/chat", method="POST", json={"message": "hi"}, headers={"Accept": "text/event-stream"}
    ).get_environ()
    headers: dict[str, str] = {}
    body = client.application(environ, lambda status, sent, exc_info=None: headers.update(sent))
    assert next(iter(body)) == b'event: delta\ndata: {"text": "Lay them down"}\n\n'
    capsys.readouterr()
    body.close()  # the client goes away
    lines = log_lines(capsys.readouterr().out)
    assert len(lines) == 1
    assert {name: lines[0].get(name) for name in line} == line
    assert lines[0]["request_id"] == headers["X-Request-Id"]
    assert "internal detail" not in json.dumps(lines)


@pytest.mark.parametrize(
    ("first", "second", "shared"),
    [
        ({"X-Forwarded-For": "198.51.100.1,203.0.113.9"}, {"X-Forwarded-For": "198.51.100.2,203.0.113.9"}, True),
        ({"REMOTE_ADDR": "192.0.2.1"}, {"REMOTE_ADDR": "192.0.2.2"}, False),
        ({"REMOTE_ADDR": "192.0.2.1", "X-Forwarded-For": "203.0.113.9"}, {"REMOTE_ADDR": "192.0.2.1"}, False),
    ],
)
def test_a_client_is_counted_by_the_address_the_front_end_saw(
    gemini: FakeGemini, make_client: Any, first: dict[str, str], second: dict[str, str], shared: bool
) -> None:
    """The last X-Forwarded-For entry (Google's front end appends it), else the connection's address."""
    client = make_client(RATE_LIMIT_CLIENT_PER_MINUTE="1")
    statuses = []
    for sender in (first, second):
        headers = {name: value for name, value in sender.items() if name != "REMOTE_ADDR"}
        address = {"REMOTE_ADDR": sender.get("REMOTE_ADDR", "127.0.0.1")}  # the test client's default
        statuses.append(
            client.post("/v1/chat", json={"message": "hi"}, headers=headers, environ_base=address).status_code
        )
    assert statuses == ([200, 429] if shared else [200, 200])


def test_the_request_log_gives_the_latency_in_milliseconds_to_a_tenth(
    client: Any, gemini: FakeGemini, capsys: pytest.CaptureFixture[str]
) -> None:
    gemini.enqueue(Behaviour(first_delay=0.25))
    capsys.readouterr()
    assert client.post("/v1/chat", json={"message": "a sprained ankle"}).status_code == 200
    lines = log_lines(capsys.readouterr().out)
    turn = next(line for line in lines if line["message"] == "turn stored")
    request = next(line for line in lines if line["message"] == "request")
    assert request["latency_ms"] >= turn["latency_ms"] >= 250
    assert request["latency_ms"] == round(request["latency_ms"], 1)


def test_json_answers_are_utf_8_not_ascii_escapes(client: Any) -> None:
    session_id = client.post("/v1/chat", json={"message": "Brûlure à la main"}).get_json()["session_id"]
    response = client.get("/v1/session", headers={"X-Session-Id": session_id})
    assert response.mimetype == "application/json"
    assert "Brûlure à la main".encode() in response.get_data()


class SlowBody(io.BytesIO):
    """A request body that takes ``delay`` seconds to arrive, as from a slow mobile connection."""

    def __init__(self, body: bytes, delay: float) -> None:
        super().__init__(body)
        self.delay = delay

    def _wait(self) -> None:
        time.sleep(self.delay)
        self.delay = 0.0

    def read(self, size: int | None = -1, /) -> bytes:
        self._wait()
        return super().read(size)

    def readinto(self, buffer: Any, /) -> int:
        self._wait()
        return super().readinto(buffer)


def test_the_turns_deadline_counts_from_the_requests_arrival(gemini: FakeGemini, make_client: Any) -> None:
    """A body that took all of REQUEST_TIMEOUT_SECONDS to arrive leaves the model no time: 504, not a late reply."""
    client = make_client(FALLBACK="none", REQUEST_TIMEOUT_SECONDS="2", STORE_TIMEOUT_SECONDS="0.1")
    assert client.post("/v1/chat", json={"message": "warm up"}).status_code == 200
    body = json.dumps({"message": "a nosebleed"}).encode()
    response = client.post(
        "/v1/chat", input_stream=SlowBody(body, 2.0), content_length=len(body), content_type="application/json"
    )
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "model_timeout"
