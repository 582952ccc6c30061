"""Bytes and characters on the wire: SSE lines that line-splitting clients can read, and a body cap
that fits every message within MAX_MESSAGE_CHARS however the client escapes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.gemini import Behaviour, FakeGemini

LINE_BREAKS = "\u2028\u2029\x85"


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client(FALLBACK="none")


def test_unicode_line_separators_in_a_reply_do_not_break_sse_lines(client: Any, gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Step 1\u2028Step 2", "\u2029Step 3\x85end"]))
    response = client.post("/v1/chat", json={"message": "steps?"}, headers={"Accept": "text/event-stream"})
    text = response.get_data(as_text=True)
    # What requests' iter_lines and str.splitlines-based clients see:
    data = [json.loads(line.removeprefix("data: ")) for line in text.splitlines() if line.startswith("data: ")]
    assert "".join(d["text"] for d in data[:-1]) == "Step 1\u2028Step 2\u2029Step 3\x85end"
    assert data[-1]["reply"] == "Step 1\u2028Step 2\u2029Step 3\x85end"
    assert not any(c in text for c in LINE_BREAKS)


@pytest.mark.parametrize("chars", [2849, 4000])
def test_emoji_message_escaped_by_json_dumps_is_accepted_up_to_max_message_chars(
    client: Any, gemini: FakeGemini, chars: int
) -> None:
    body = json.dumps({"message": "\U0001f600" * chars})  # ensure_ascii: "\ud83d\ude00" per emoji, 12 bytes
    assert len(body.encode()) > 32_768  # the default MAX_BODY_BYTES
    response = client.post("/v1/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert gemini.requests[0].message == "\U0001f600" * chars


def test_one_character_over_max_message_chars_is_message_too_long(client: Any, gemini: FakeGemini) -> None:
    body = json.dumps({"message": "\U0001f600" * 4001})
    response = client.post("/v1/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "message_too_long"
    assert gemini.requests == []


def test_a_body_past_any_possible_message_is_payload_too_large(client: Any, gemini: FakeGemini) -> None:
    body = json.dumps({"message": "x", "padding": " " * 60_000})
    response = client.post("/v1/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "payload_too_large"


def test_half_an_emoji_is_kept_as_a_replacement_character(client: Any, gemini: FakeGemini) -> None:
    body = b'{"message": "my finger hurts \\ud83d"}'  # a client cut the emoji after its high surrogate
    response = client.post("/v1/chat", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert gemini.requests[0].message == "my finger hurts \ufffd"
    session = client.get(f"/v1/sessions/{response.get_json()['session_id']}").get_json()
    assert session["messages"][0]["text"] == "my finger hurts \ufffd"
