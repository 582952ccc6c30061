"""Abuse and cost limits (OWASP LLM Top 10: unbounded consumption): each cap, and that it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini
from tests.reliability import report

pytestmark = pytest.mark.reliability


def test_message_and_body_size_caps(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(MAX_MESSAGE_CHARS="500", MAX_BODY_BYTES="4096")
    too_long = client.post("/v1/chat", json={"message": "x" * 501})
    # The body cap is raised to 12 bytes a character + 4 KiB (10,096 here), so any 500-character message fits.
    too_big = client.post(
        "/v1/chat", data=b'{"message": "' + b"y" * 10_100 + b'"}', headers={"Content-Type": "application/json"}
    )
    assert (too_long.status_code, too_big.status_code) == (413, 413)
    assert too_long.get_json()["error"]["code"] == "message_too_long"
    assert too_big.get_json()["error"]["code"] == "payload_too_large"
    assert gemini.requests == []
    report.add("limits", "message size", "MAX_MESSAGE_CHARS=4000", "413 message_too_long, model not called")
    report.add("limits", "request body size", "MAX_BODY_BYTES=32768, raised to 12 × MAX_MESSAGE_CHARS + 4 KiB "
               "(52,096)", "413 payload_too_large before the body is read")  # fmt: skip


def test_history_sent_to_the_model_is_capped(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(HISTORY_BUDGET_CHARS="1000")
    session_id = client.post("/v1/chat", json={"message": "a" * 300}).get_json()["session_id"]
    for _ in range(10):
        client.post("/v1/chat", json={"message": "b" * 300, "session_id": session_id})
    sent = gemini.requests[-1].body["contents"]
    history_chars = sum(len(p["text"]) for c in sent[:-1] for p in c["parts"])
    assert history_chars <= 1000
    assert len(client.get(f"/v1/sessions/{session_id}").get_json()["messages"]) == 22
    outcome = f"{history_chars} ≤ 1000 chars sent with a 1000 budget after 11 turns; all turns stay stored"
    report.add("limits", "history sent to the model", "HISTORY_BUDGET_CHARS=16000", outcome)


def test_output_tokens_are_capped_in_every_request(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(MAX_OUTPUT_TOKENS="256")
    client.post("/v1/chat", json={"message": "hi"})
    assert gemini.requests[0].body["generationConfig"]["maxOutputTokens"] == 256
    report.add(
        "limits",
        "output tokens",
        "MAX_OUTPUT_TOKENS=1024, THINKING_BUDGET unset (0 for gemini-2.5-flash)",
        "sent as maxOutputTokens on every call; a budget leaving < 256 tokens for the reply stops the start",
    )


def test_per_session_rate_limit(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(RATE_LIMIT_SESSION_PER_MINUTE="3")
    session_id = client.post("/v1/chat", json={"message": "1"}).get_json()["session_id"]
    statuses = [client.post("/v1/chat", json={"message": "n", "session_id": session_id}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = client.post("/v1/chat", json={"message": "n", "session_id": session_id})
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert len(gemini.requests) == 3
    report.add("limits", "turns per session", "RATE_LIMIT_SESSION_PER_MINUTE=10", "429 rate_limited + Retry-After, "
               "counted from the stored turns (so it holds across instances)")  # fmt: skip


@pytest.mark.parametrize("store", ["sqlite", "firestore"])
def test_per_client_limit_holds_across_instances(
    gemini: FakeGemini, make_client: Any, tmp_path: Path, request: pytest.FixtureRequest, store: str
) -> None:
    env = {"RATE_LIMIT_CLIENT_PER_MINUTE": "4", "SQLITE_PATH": str(tmp_path / "shared.sqlite3")}
    if store == "firestore":
        request.getfixturevalue("firestore_env")
    # Two instances of the function sharing one store, as two Cloud Run instances share Firestore.
    first, second = make_client(**env), make_client(**env)
    headers = {"X-Forwarded-For": "203.0.113.7"}
    responses = [c.post("/v1/chat", json={"message": "hi"}, headers=headers) for c in (first, second) * 3]
    statuses = [response.status_code for response in responses]
    assert statuses.count(200) == 4
    assert statuses[4:] == [429, 429]
    for limited in responses[4:]:
        assert limited.get_json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
    other = first.post("/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": "198.51.100.9"})
    assert other.status_code == 200
    if store == "firestore":
        report.add("limits", "requests per client", "RATE_LIMIT_CLIENT_PER_MINUTE=30", "429 + Retry-After; one counter "
                   "per client and minute in the store, shared by all instances (tested with two)")  # fmt: skip


def test_spoofed_forwarded_for_does_not_escape_the_client_limit(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(RATE_LIMIT_CLIENT_PER_MINUTE="2")
    statuses = [
        client.post(
            "/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": f"10.0.0.{i}, 203.0.113.7"}
        ).status_code
        for i in range(4)
    ]
    assert statuses == [200, 200, 429, 429]
