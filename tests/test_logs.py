"""Log lines: request id and Cloud Logging trace on every line of a turn, streamed or not; no message text."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from tests.fakes.gemini import Behaviour, FakeGemini

TRACE = "105445aa7843bc8bf206b12000100000"
TRACE_FIELD = "logging.googleapis.com/trace"


def log_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client(GOOGLE_CLOUD_PROJECT="demo-firstaid", FALLBACK="none")


def test_every_line_of_a_streamed_turn_carries_the_request_id_and_the_trace(
    client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    headers = {"Accept": "text/event-stream", "X-Cloud-Trace-Context": f"{TRACE}/1;o=1"}
    response = client.post("/v1/chat", json={"message": "my friend fainted"}, headers=headers)
    assert "event: done" in response.get_data(as_text=True)
    lines = log_lines(capsys.readouterr().out)
    stored = [line for line in lines if line["message"] == "turn stored"]
    assert stored, lines
    for line in lines:
        assert "fainted" not in json.dumps(line)  # neither the message nor the reply (which echoes it)
        assert line["request_id"] == response.headers["X-Request-Id"]
        assert line[TRACE_FIELD] == f"projects/demo-firstaid/traces/{TRACE}"
        assert line["logging.googleapis.com/spanId"] == "0000000000000001"


def test_w3c_traceparent_is_understood_too(client: Any, capsys: pytest.CaptureFixture[str]) -> None:
    client.post("/v1/chat", json={"message": "hi"}, headers={"traceparent": f"00-{TRACE}-00f067aa0ba902b7-01"})
    line = log_lines(capsys.readouterr().out)[-1]
    assert line[TRACE_FIELD] == f"projects/demo-firstaid/traces/{TRACE}"
    assert line["logging.googleapis.com/spanId"] == "00f067aa0ba902b7"


def test_a_failure_after_the_client_left_is_one_structured_line(
    client: Any, gemini: FakeGemini, capsys: pytest.CaptureFixture[str]
) -> None:
    gemini.enqueue(Behaviour(chunks=["Lay ", "them ", "down ", "and"], chunk_interval=0.05, break_after=3))
    # Straight to the WSGI app: the test client would read the whole stream before we could leave.
    environ = EnvironBuilder(
        path="/v1/chat", method="POST", json={"message": "how to help someone who fainted"},
        headers={"Accept": "text/event-stream"},
    ).get_environ()  # fmt: skip
    headers: dict[str, str] = {}
    body = client.application(environ, lambda status, sent, exc_info=None: headers.update(sent))
    assert next(iter(body)).startswith(b"event: delta")
    body.close()  # the client goes away; the server finishes the turn, which then fails
    out = capsys.readouterr().out
    lines = log_lines(out)
    failed = [line for line in lines if "after the client disconnected" in line["message"]]
    assert len(failed) == 1
    assert failed[0]["error_code"] == "model_unavailable"
    assert failed[0]["request_id"] == headers["X-Request-Id"]
    assert all(line.startswith("{") for line in out.splitlines() if line.strip())


def test_stack_traces_name_the_error_but_never_carry_its_text(capsys: pytest.CaptureFixture[str]) -> None:
    from firstaid_chat import logs

    logs.configure("INFO")
    log = logging.getLogger("firstaid_chat.test")
    try:
        try:
            raise KeyError("the wound is on my leg")
        except KeyError as inner:
            raise ValueError("Raw response: my friend is bleeding heavily") from inner
    except ValueError:
        log.exception("unexpected error")
    line = log_lines(capsys.readouterr().out)[-1]
    assert "ValueError" in line["stack_trace"]
    assert "KeyError" in line["stack_trace"]
    assert "test_logs.py" in line["stack_trace"]
    assert "bleeding" not in json.dumps(line)
    assert "wound" not in json.dumps(line)
    assert sys.exc_info() == (None, None, None)
