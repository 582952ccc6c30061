"""openapi.yaml is a valid contract and the code keeps to it."""

from __future__ import annotations

from typing import Any

import pytest
from firstaid_chat.api import ROUTES
from firstaid_chat.chat_request import CHAT_FIELDS
from firstaid_chat.conversation import SESSION_ID_PATTERN
from firstaid_chat.settings import Settings
from openapi_spec_validator import validate

from tests.contract.spec import SPEC, schema_validator
from tests.fakes.gemini import FakeGemini, error


def schema(name: str) -> Any:
    """A strict OAS 3.0 validator for a component schema of the document as written (no rewriting)."""
    return schema_validator(name)


def test_spec_is_valid_openapi() -> None:
    validate(SPEC)


def test_spec_paths_and_methods_match_the_routes() -> None:
    code = {
        (rule.rule.replace("<session_id>", "{session_id}"), method.lower())
        for rule in ROUTES.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    spec = {(path, method) for path, item in SPEC["paths"].items() for method in item if method in methods}
    assert code == spec


def test_request_fields_and_limits_match_the_code() -> None:
    request = SPEC["components"]["schemas"]["ChatRequest"]
    assert set(request["properties"]) == CHAT_FIELDS
    assert request["properties"]["message"]["maxLength"] == Settings().max_message_chars
    assert SPEC["components"]["schemas"]["SessionId"]["pattern"] == SESSION_ID_PATTERN.pattern
    # OpenAPI 3.0 ignores nullable beside a $ref, so the request's nullable session_id repeats the pattern.
    assert request["properties"]["session_id"]["pattern"] == SESSION_ID_PATTERN.pattern


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client()


def test_chat_reply_and_transcript_match_their_schemas(client: Any) -> None:
    reply = client.post("/v1/chat", json={"message": "hi", "client_message_id": "c1"}).get_json()
    schema("ChatReply").validate(reply)
    assert set(reply) == set(SPEC["components"]["schemas"]["ChatReply"]["properties"])
    transcript = client.get("/v1/session", headers={"X-Session-Id": reply["session_id"]}).get_json()
    schema("Transcript").validate(transcript)


def test_error_responses_match_the_error_schema_and_documented_statuses(client: Any, gemini: FakeGemini) -> None:
    documented = set(SPEC["paths"]["/v1/chat"]["post"]["responses"])
    gemini.default = error(503)
    for response in (
        client.post("/v1/chat", data=b"x", headers={"Content-Type": "application/json"}),
        client.post("/v1/chat", data=b"x", headers={"Content-Type": "text/plain"}),
        client.post("/v1/chat", json={"message": "hi", "session_id": "B" * 30}),
        client.post("/v1/chat", json={"message": "x" * 5000}),
    ):
        schema("Error").validate(response.get_json())
        assert str(response.status_code) in documented
