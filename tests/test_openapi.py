"""openapi.yaml is a valid contract and the code keeps to it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from firstaid_chat.api import CHAT_FIELDS, ROUTES
from firstaid_chat.conversation import SESSION_ID_PATTERN
from firstaid_chat.settings import Settings
from openapi_spec_validator import validate

from tests.fakes.gemini import FakeGemini, error

SPEC = yaml.safe_load((Path(__file__).resolve().parents[1] / "openapi.yaml").read_text())


def schema(name: str) -> dict[str, Any]:
    """A component schema with its $refs resolved against the spec, as JSON Schema."""
    resolved: Any = json.loads(
        json.dumps(SPEC["components"]["schemas"][name]).replace("#/components/schemas/", "#/$defs/")
    )
    resolved["$defs"] = json.loads(
        json.dumps(SPEC["components"]["schemas"]).replace("#/components/schemas/", "#/$defs/")
    )
    return _nullable_to_types(resolved)


def _nullable_to_types(node: Any) -> Any:
    if isinstance(node, dict):
        node = {k: _nullable_to_types(v) for k, v in node.items()}
        if node.pop("nullable", False):
            node = {"anyOf": [node, {"type": "null"}]}
    elif isinstance(node, list):
        node = [_nullable_to_types(v) for v in node]
    return node


def test_spec_is_valid_openapi() -> None:
    validate(SPEC)


def test_spec_paths_and_methods_match_the_routes() -> None:
    code = {
        (rule.rule.replace("<session_id>", "{session_id}"), method.lower())
        for rule in ROUTES.iter_rules()
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    spec = {(path, method) for path, item in SPEC["paths"].items() for method in item if method != "parameters"}
    assert code == spec


def test_request_fields_and_limits_match_the_code() -> None:
    request = SPEC["components"]["schemas"]["ChatRequest"]
    assert set(request["properties"]) == CHAT_FIELDS
    assert request["properties"]["message"]["maxLength"] == Settings().max_message_chars
    assert SPEC["components"]["schemas"]["SessionId"]["pattern"] == SESSION_ID_PATTERN.pattern


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client()


def test_chat_reply_and_transcript_match_their_schemas(client: Any) -> None:
    reply = client.post("/v1/chat", json={"message": "hi", "client_message_id": "c1"}).get_json()
    jsonschema.validate(reply, schema("ChatReply"))
    assert set(reply) == set(SPEC["components"]["schemas"]["ChatReply"]["properties"])
    transcript = client.get(f"/v1/sessions/{reply['session_id']}").get_json()
    jsonschema.validate(transcript, schema("Transcript"))


def test_error_responses_match_the_error_schema_and_documented_statuses(client: Any, gemini: FakeGemini) -> None:
    documented = set(SPEC["paths"]["/v1/chat"]["post"]["responses"])
    gemini.default = error(503)
    for response in (
        client.post("/v1/chat", data=b"x", headers={"Content-Type": "application/json"}),
        client.post("/v1/chat", data=b"x", headers={"Content-Type": "text/plain"}),
        client.post("/v1/chat", json={"message": "hi", "session_id": "B" * 30}),
        client.post("/v1/chat", json={"message": "x" * 5000}),
    ):
        jsonschema.validate(response.get_json(), schema("Error"))
        assert str(response.status_code) in documented
