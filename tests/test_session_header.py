"""Reading and erasing a conversation with its id in the X-Session-Id header, never in the URL."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client()


def start(client: Any, message: str = "first") -> str:
    session_id: str = client.post("/v1/chat", json={"message": message}).get_json()["session_id"]
    return session_id


def test_get_with_the_header_returns_the_transcript(client: Any) -> None:
    session_id = start(client)
    response = client.get("/v1/session", headers={"X-Session-Id": session_id})
    assert response.status_code == 200
    body = response.get_json()
    assert body["session_id"] == session_id
    assert [(m["role"], m["text"]) for m in body["messages"]] == [("user", "first"), ("model", "Fake reply to: first")]
    assert body == client.get(f"/v1/sessions/{session_id}").get_json()  # the path form answers the same


def test_delete_with_the_header_erases_the_conversation(client: Any) -> None:
    session_id = start(client)
    assert client.delete("/v1/session", headers={"X-Session-Id": session_id}).status_code == 204
    assert client.get("/v1/session", headers={"X-Session-Id": session_id}).status_code == 404
    assert client.get(f"/v1/sessions/{session_id}").status_code == 404
    assert client.delete("/v1/session", headers={"X-Session-Id": session_id}).status_code == 404


def test_unknown_session_in_the_header_is_404(client: Any) -> None:
    response = client.get("/v1/session", headers={"X-Session-Id": "A" * 32})
    assert (response.status_code, response.get_json()["error"]["code"]) == (404, "session_not_found")


@pytest.mark.parametrize("headers", [{}, {"X-Session-Id": ""}, {"X-Session-Id": "abc"}, {"X-Session-Id": "a b" * 10}])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_missing_or_malformed_header_is_400(client: Any, method: str, headers: dict[str, str]) -> None:
    response = client.open("/v1/session", method=method, headers=headers)
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "invalid_session_id")
    assert "X-Session-Id" in response.get_json()["error"]["message"]


def test_the_path_id_is_ignored_when_the_header_form_is_used(client: Any) -> None:
    # The header names the conversation; a session id cannot be smuggled in through the query string.
    session_id = start(client)
    assert client.get(f"/v1/session?session_id={session_id}").status_code == 400


def test_responses_vary_on_the_header_and_are_never_cached(client: Any) -> None:
    session_id = start(client)
    response = client.get("/v1/session", headers={"X-Session-Id": session_id})
    assert "X-Session-Id" in response.headers["Vary"]
    assert response.headers["Cache-Control"] == "no-store"


def test_request_log_has_no_session_id(client: Any, caplog: pytest.LogCaptureFixture) -> None:
    session_id = start(client)
    with caplog.at_level(logging.INFO):
        client.get("/v1/session", headers={"X-Session-Id": session_id})
        client.delete("/v1/session", headers={"X-Session-Id": session_id})
    assert caplog.records
    assert all(session_id not in record.getMessage() + str(record.__dict__) for record in caplog.records)
