"""A Python client generated from openapi.yaml by openapi-python-client holds a conversation.

The client is generated at test time into a temporary folder (never committed), as a team that
starts from the spec would, so a spec change that breaks generated clients fails the suite.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.contract.spec import SPEC_PATH
from tests.fakes.gemini import FakeGemini
from tests.servers import FunctionServer

PACKAGE = "firstaid_chat_client"

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    folder = tmp_path_factory.mktemp("generated-client")
    config = folder / "config.yaml"
    config.write_text(f"package_name_override: {PACKAGE}\npost_hooks: []\n")
    command = [
        str(Path(sys.executable).with_name("openapi-python-client")), "generate",
        "--path", str(SPEC_PATH), "--output-path", str(folder / PACKAGE), "--config", str(config), "--meta", "none",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr  # nothing skipped
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def api(name: str) -> Any:
    return importlib.import_module(f"{PACKAGE}.api.default.{name}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def test_generated_client_holds_a_conversation(
    generated: ModuleType, server: FunctionServer, gemini: FakeGemini
) -> None:
    m = models()
    with generated.Client(base_url=server.url, raise_on_unexpected_status=True) as client:
        first = api("chat").sync_detailed(client=client, body=m.ChatRequest(message="hello", session_id=None))
        assert first.status_code == 200
        reply = first.parsed
        assert isinstance(reply, m.ChatReply)
        assert (reply.turn, reply.client_message_id, first.headers["X-Session-Id"]) == (1, None, reply.session_id)
        body = m.ChatRequest(message="and then?", session_id=reply.session_id, client_message_id="m-2")
        second = api("chat").sync(client=client, body=body)
        retried = api("chat").sync(client=client, body=body)
        assert (second.turn, second.replayed, retried.replayed, retried.reply) == (2, False, True, second.reply)
        assert len(gemini.requests) == 2  # the retry was answered from the store

        transcript = api("get_conversation").sync(client=client, x_session_id=reply.session_id)
        assert isinstance(transcript, m.Transcript)
        assert [(msg.role, msg.text) for msg in transcript.messages][:2] == [("user", "hello"), ("model", reply.reply)]
        old_form = api("get_session").sync(client=client, session_id=reply.session_id)
        assert old_form.to_dict() == transcript.to_dict()

        assert api("delete_conversation").sync_detailed(client=client, x_session_id=reply.session_id).status_code == 204
        gone = api("get_conversation").sync_detailed(client=client, x_session_id=reply.session_id)
        assert gone.status_code == 404
        assert isinstance(gone.parsed, m.Error)
        assert gone.parsed.error.code == "session_not_found"


def test_generated_client_parses_documented_errors(generated: ModuleType, server: FunctionServer) -> None:
    m = models()
    with generated.Client(base_url=server.url, raise_on_unexpected_status=True) as client:
        unknown = api("chat").sync_detailed(client=client, body=m.ChatRequest(message="hi", session_id="A" * 32))
        assert unknown.status_code == 404
        assert unknown.parsed.error.code == "session_not_found"
        malformed = api("get_conversation").sync_detailed(client=client, x_session_id="nope")
        assert (malformed.status_code, malformed.parsed.error.code) == (400, "invalid_session_id")


def test_generated_models_accept_values_the_server_may_add_later(generated: ModuleType) -> None:
    m = models()
    reply = m.ChatReply.from_dict(
        {
            "session_id": "A" * 32, "reply": "r", "finish_reason": "NEW_REASON", "source": "a-future-model",
            "emergency": False, "emergency_number": "112", "turn": 1, "client_message_id": None,
            "created_at": "2026-01-01T00:00:00+00:00", "language": "xx", "replayed": False, "a_future_field": 1,
        }
    )  # fmt: skip
    assert reply.source == "a-future-model"
    message = m.Message.from_dict({"role": "system", "text": "t", "time": "2026-01-01T00:00:00+00:00", "turn": 1})
    assert message.role == "system"
