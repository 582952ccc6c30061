"""A browser SSE helper's preflight passes against the real server (gunicorn under functions-framework)."""

from __future__ import annotations

import httpx
import pytest

from tests.servers import FunctionServer

PAGE = "http://localhost:8000"  # in ALLOWED_ORIGINS by default

pytestmark = pytest.mark.e2e


def test_sse_helper_preflight_is_allowed_and_empty(server: FunctionServer) -> None:
    asked = "content-type, last-event-id, cache-control, x-session-id"
    response = httpx.options(
        f"{server.url}/v1/chat",
        headers={"Origin": PAGE, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": asked},
        timeout=10,
    )
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == PAGE
    allowed = {name.strip().lower() for name in response.headers["Access-Control-Allow-Headers"].split(",")}
    assert set(asked.split(", ")) <= allowed
    assert "content-type" not in response.headers
    assert response.content == b""
