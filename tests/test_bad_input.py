"""Bad input gets a clear 4xx error, never a 500, and calls nothing downstream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client(MAX_MESSAGE_CHARS="100", MAX_BODY_BYTES="2048")


def error_of(response: Any) -> tuple[int, str]:
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    return response.status_code, body["error"]["code"]


BAD_BODIES = [
    ("not json", b"{not json", 400, "invalid_json"),
    ("NaN is not JSON", b'{"message": "hi", "session_id": NaN}', 400, "invalid_json"),
    ("Infinity is not JSON", b'{"message": "hi", "client_message_id": -Infinity}', 400, "invalid_json"),
    ("invalid utf-8", b'{"message": "\xff\xfe"}', 400, "invalid_json"),
    ("array", b"[1, 2]", 400, "invalid_request"),
    ("null", b"null", 400, "invalid_request"),
    ("message missing", b"{}", 400, "invalid_request"),
    ("message number", b'{"message": 5}', 400, "invalid_request"),
    ("message empty", b'{"message": ""}', 400, "invalid_request"),
    ("message blank", b'{"message": "   \\n "}', 400, "invalid_request"),
    ("nul character", b'{"message": "a\\u0000b"}', 400, "invalid_request"),
    ("message too long", json.dumps({"message": "x" * 101}).encode(), 413, "message_too_long"),
    ("body too large", json.dumps({"message": "x", "pad": "y" * 6000}).encode(), 413, "payload_too_large"),
    ("unknown field", b'{"message": "hi", "role": "system"}', 400, "invalid_request"),
    ("session id number", b'{"message": "hi", "session_id": 7}', 400, "invalid_session_id"),
    ("session id malformed", b'{"message": "hi", "session_id": "../../etc"}', 400, "invalid_session_id"),
    ("session id short", b'{"message": "hi", "session_id": "abc"}', 400, "invalid_session_id"),
    ("client message id bad", b'{"message": "hi", "client_message_id": "has space"}', 400, "invalid_request"),
    ("deeply nested", b"[" * 5000 + b"]" * 5000, 413, "payload_too_large"),
]


@pytest.mark.parametrize(("body", "status", "code"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bad_chat_body_is_rejected_clearly(
    client: Any, gemini: FakeGemini, body: bytes, status: int, code: str
) -> None:
    response = client.post("/v1/chat", data=body, headers={"Content-Type": "application/json"})
    assert error_of(response) == (status, code)
    assert gemini.requests == []


def test_nested_json_within_the_size_cap_is_rejected_without_a_crash(client: Any) -> None:
    response = client.post("/v1/chat", data=b"[" * 1000 + b"]" * 1000, headers={"Content-Type": "application/json"})
    assert error_of(response)[0] == 400


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client: Any, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post("/v1/chat", data=b'{"message": "hi"}', headers=headers)
    assert error_of(response) == (415, "unsupported_media_type")


def test_json_content_type_with_charset_is_accepted(client: Any) -> None:
    response = client.post(
        "/v1/chat", data=b'{"message": "hi"}', headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/v1/chat", "OPTIONS, POST"),
        ("PUT", "/v1/sessions/" + "a" * 32, "DELETE, GET, HEAD, OPTIONS"),
        ("POST", "/healthz", "GET, HEAD, OPTIONS"),
    ],
)
def test_wrong_method_is_405_with_allow(client: Any, method: str, path: str, allowed: str) -> None:
    response = client.open(path, method=method)
    assert error_of(response) == (405, "method_not_allowed")
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize("path", ["/", "/v2/chat", "/v1/sessions", "/v1/sessions/a/b", "/.env"])
def test_unknown_path_is_404(client: Any, path: str) -> None:
    assert error_of(client.get(path)) == (404, "not_found")


@pytest.mark.parametrize("session_id", ["abc", "a" * 65, "bad$chars" * 4, "%00" * 10])
def test_malformed_session_id_in_path_is_400(client: Any, session_id: str) -> None:
    assert error_of(client.get(f"/v1/sessions/{session_id}")) == (400, "invalid_session_id")
    assert error_of(client.delete(f"/v1/sessions/{session_id}")) == (400, "invalid_session_id")


@pytest.mark.parametrize("path", ["/v1/sessions/a%0Ab", "/v1/chat%0A", "/%0A"])
def test_paths_the_framework_rejects_still_get_the_json_envelope(client: Any, path: str) -> None:
    response = client.get(path)
    assert response.mimetype == "application/json"
    assert error_of(response) == (404, "not_found")
