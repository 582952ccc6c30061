"""Gemini through Vertex AI (GEMINI_BACKEND=vertex): the real google-genai SDK and real
google-auth against the local Vertex AI fake and OAuth token server, with no key anywhere."""

from __future__ import annotations

from typing import Any

import pytest
from firstaid_chat.settings import Settings, SettingsError

from tests.conftest import PROJECT, VERTEX_LOCATION
from tests.fakes.gemini import Behaviour
from tests.fakes.vertex import CLOUD_PLATFORM_SCOPE, FakeTokenServer, FakeVertex


def test_reply_comes_through_vertex_with_a_token_from_the_service_account(
    vertex: FakeVertex, token_server: FakeTokenServer, make_client: Any
) -> None:
    client = make_client()
    response = client.post("/v1/chat", json={"message": "how do I treat a burn"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["source"] == "gemini"
    assert body["reply"] == "Fake reply to: how do I treat a burn"
    (request,) = vertex.requests
    assert (request.project, request.location) == (PROJECT, VERTEX_LOCATION)
    assert request.api_key is None
    assert token_server.accepts(request.authorization)
    (grant,) = token_server.grants
    assert grant.issuer == token_server.client_email
    assert CLOUD_PLATFORM_SCOPE in (grant.scope or "").split()
    assert grant.error is None


def test_token_is_fetched_once_and_reused_across_turns(
    vertex: FakeVertex, token_server: FakeTokenServer, make_client: Any
) -> None:
    client = make_client()
    first = client.post("/v1/chat", json={"message": "first"}).get_json()
    client.post("/v1/chat", json={"message": "second", "session_id": first["session_id"]})
    client.post(
        "/v1/chat",
        json={"message": "third", "session_id": first["session_id"]},
        headers={"Accept": "text/event-stream"},
    )
    assert len(vertex.requests) == 3
    assert len(token_server.grants) == 1
    assert len({request.authorization for request in vertex.requests}) == 1


def test_streamed_reply_through_vertex(vertex: FakeVertex, make_client: Any) -> None:
    vertex.enqueue(Behaviour(chunks=["Cool ", "the burn ", "under water."]))
    response = make_client().post("/v1/chat", json={"message": "burn"}, headers={"Accept": "text/event-stream"})
    text = response.get_data(as_text=True)
    assert text.count("event: delta") == 3
    assert "event: done" in text
    assert "under water." in text


def test_refused_token_request_falls_back_to_the_offline_guide(
    vertex: FakeVertex, token_server: FakeTokenServer, make_client: Any
) -> None:
    token_server.fail_with = 400  # e.g. a deleted service-account key: invalid_grant
    client = make_client(REQUEST_TIMEOUT_SECONDS="6")
    response = client.post("/v1/chat", json={"message": "how do I treat a burn"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["source"] == "offline"
    assert vertex.requests == []


def test_refused_token_request_without_fallback_is_a_clear_503(
    vertex: FakeVertex, token_server: FakeTokenServer, make_client: Any
) -> None:
    token_server.fail_with = 400
    client = make_client(FALLBACK="none", REQUEST_TIMEOUT_SECONDS="6")
    response = client.post("/v1/chat", json={"message": "help"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "model_unavailable"


def test_missing_role_on_the_project_is_not_retried(vertex: FakeVertex, make_client: Any) -> None:
    vertex.project = "someone-elses-project"  # the service account holds no role there: 403
    try:
        client = make_client(FALLBACK="none", REQUEST_TIMEOUT_SECONDS="6")
        response = client.post("/v1/chat", json={"message": "help"})
    finally:
        vertex.project = PROJECT
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "model_unavailable"
    assert len(vertex.requests) == 1


# ----------------------------------------------------------------- settings --


def test_vertex_backend_needs_no_key_and_answers_with_gemini_in_auto_mode() -> None:
    settings = Settings.from_env({"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p-1"})
    assert settings.uses_gemini
    assert settings.google_cloud_location == "global"


def test_vertex_backend_without_project_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="GOOGLE_CLOUD_PROJECT"):
        Settings.from_env({"GEMINI_BACKEND": "vertex"})


@pytest.mark.parametrize(
    "key", [{"GEMINI_API_KEY": "k"}, {"GEMINI_API_KEY_SECRET": "projects/p/secrets/s/versions/latest"}]
)
def test_vertex_backend_refuses_a_configured_key(key: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="unset GEMINI_API_KEY"):
        Settings.from_env({"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p-1", **key})


@pytest.mark.parametrize(("name", "value"), [("GEMINI_BACKEND", "vertexai"), ("GOOGLE_CLOUD_LOCATION", "europe west1")])
def test_bad_vertex_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p-1", name: value})
