"""CORS: listed origins get headers and preflight answers; every other origin gets none."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini

PAGE = "https://chat.example.org"


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client(ALLOWED_ORIGINS=f"{PAGE},http://localhost:8000")


def test_listed_origin_gets_cors_headers(client: Any) -> None:
    response = client.post("/v1/chat", json={"message": "hi"}, headers={"Origin": PAGE})
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert "Origin" in response.headers["Vary"]


def test_preflight_from_listed_origin(client: Any) -> None:
    response = client.options(
        "/v1/chat",
        headers={
            "Origin": PAGE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]


@pytest.mark.parametrize("origin", ["https://evil.example", "https://chat.example.org.evil.example", "null"])
def test_unlisted_origin_gets_no_cors_headers(client: Any, origin: str) -> None:
    for response in (
        client.options("/v1/chat", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}),
        client.post("/v1/chat", json={"message": "hi"}, headers={"Origin": origin}),
        client.get("/healthz", headers={"Origin": origin}),
    ):
        assert not any(name.startswith("Access-Control-") for name, _ in response.headers)


def test_error_responses_carry_cors_headers_so_the_page_can_read_them(client: Any) -> None:
    response = client.post("/v1/chat", data=b"nope", headers={"Origin": PAGE, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Access-Control-Allow-Origin"] == PAGE


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/session", "/v1/sessions/" + "a" * 32])
def test_preflight_allows_the_headers_sse_helpers_and_the_api_send(client: Any, path: str) -> None:
    asked = "content-type, accept, last-event-id, cache-control, x-session-id, authorization, x-firebase-appcheck"
    response = client.options(
        path,
        headers={"Origin": PAGE, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": asked},
    )
    assert response.status_code == 204
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(asked.split(", ")) <= allowed
    assert "DELETE" in response.headers["Access-Control-Allow-Methods"]


def test_empty_responses_carry_no_content_type(client: Any) -> None:
    preflight = client.options("/v1/chat", headers={"Origin": PAGE, "Access-Control-Request-Method": "POST"})
    session_id = client.post("/v1/chat", json={"message": "hi"}).get_json()["session_id"]
    erased = client.delete("/v1/session", headers={"X-Session-Id": session_id})
    for response in (preflight, erased):
        assert response.status_code == 204
        assert "Content-Type" not in response.headers
        assert response.get_data() == b""
