"""The streaming examples in examples/ work against the real function under functions-framework.

The Python example uses httpx-sse (from PyPI, requirements-dev.txt); the JavaScript one uses
eventsource-parser over fetch (from the npm registry, examples/js/package-lock.json, installed by
scripts/test.sh with npm ci). Each test runs the example's own function and checks what it reports:
the session id before the first word, the deltas, `done`, the `error` event, an error status before
the stream with Retry-After, and an unknown session.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests import components
from tests.conftest import ROOT
from tests.fakes.gemini import Behaviour, FakeGemini, error
from tests.servers import FunctionServer

EXAMPLES = ROOT / "examples"
Run = Callable[..., list[dict[str, Any]]]

pytestmark = pytest.mark.e2e


def python_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("stream_chat_example", EXAMPLES / "python" / "stream_chat.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_python(server: FunctionServer, **options: Any) -> list[dict[str, Any]]:
    """What the Python example reported, as the same JSON lines the JavaScript driver prints."""
    example = python_example()
    seen: list[dict[str, Any]] = []
    with httpx.Client(base_url=server.url, timeout=30) as client:
        try:
            done = example.stream_chat(
                client,
                options["message"],
                session_id=options.get("sessionId"),
                client_message_id=options.get("clientMessageId"),
                on_session=lambda session_id: seen.append({"session": session_id}),
                on_delta=lambda text: seen.append({"delta": text}),
            )
            seen.append({"done": done})
        except example.ChatFailed as failed:
            seen.append({"failed": {"status": failed.status, "code": failed.code, "message": str(failed),
                                    "retry_after": failed.retry_after}})  # fmt: skip
    return seen


def node() -> str:
    """The node executable, once the example's packages are installed (else skip, or fail in CI)."""
    found = shutil.which("node")
    if found is None or not (EXAMPLES / "js" / "node_modules" / "eventsource-parser").exists():
        message = "node and `npm ci` in examples/js are needed (scripts/test.sh installs the packages)"
        components.missing("node", message)
    return found


def run_js(server: FunctionServer, **options: Any) -> list[dict[str, Any]]:
    result = subprocess.run(
        [node(), str(Path(__file__).with_name("drive_stream_example.mjs")), server.url, json.dumps(options)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture(params=["python", "js"])
def run(request: pytest.FixtureRequest, server: FunctionServer) -> Run:
    runner = run_python if request.param == "python" else run_js

    def run_example(**options: Any) -> list[dict[str, Any]]:
        return runner(server, **options)

    return run_example


def test_example_streams_a_conversation(run: Run, gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Cool ", "the burn ", "under water."]))
    seen = run(message="How do I treat a burn?", clientMessageId="m-1")
    session_id = seen[0]["session"]  # announced before the first word
    assert [line["delta"] for line in seen[1:-1]] == ["Cool ", "the burn ", "under water."]
    done = seen[-1]["done"]
    assert (done["session_id"], done["reply"], done["turn"]) == (session_id, "Cool the burn under water.", 1)
    again = run(message="And then?", sessionId=session_id)
    assert again[-1]["done"]["turn"] == 2
    assert again[0] == {"session": session_id}


def test_example_reports_an_error_event_and_its_retry_stores_the_message_once(run: Run, gemini: FakeGemini) -> None:
    session_id = run(message="hello")[0]["session"]
    gemini.enqueue(Behaviour(chunks=["Apply ", "pressure ", "now"], break_after=1))
    seen = run(message="bleeding", sessionId=session_id, clientMessageId="m-err")
    assert seen[:2] == [{"session": session_id}, {"delta": "Apply "}]
    failed = seen[-1]["failed"]
    assert (failed["status"], failed["code"], failed["retry_after"]) == (503, "model_unavailable", None)
    retried = run(message="bleeding", sessionId=session_id, clientMessageId="m-err")
    assert retried[-1]["done"]["turn"] == 2  # the failed attempt stored nothing
    assert run(message="bleeding", sessionId=session_id, clientMessageId="m-err")[-1]["done"]["replayed"] is True


def test_example_reports_an_error_status_before_the_stream_with_retry_after(run: Run, gemini: FakeGemini) -> None:
    gemini.enqueue(error(429, "quota", "RESOURCE_EXHAUSTED"))
    seen = run(message="hi")
    assert len(seen) == 1  # no session announced: nothing began
    failed = seen[0]["failed"]
    assert (failed["status"], failed["code"]) == (429, "model_busy")
    assert failed["retry_after"] >= 1  # read from the Retry-After header
    assert failed["message"]


def test_example_reports_an_unknown_session(run: Run, gemini: FakeGemini) -> None:
    seen = run(message="hi", sessionId="A" * 32)
    assert seen == [{"failed": {"status": 404, "code": "session_not_found", "message": seen[0]["failed"]["message"],
                                "retry_after": None}}]  # fmt: skip
    assert gemini.requests == []


@pytest.mark.parametrize("language", ["python", "js"])
def test_example_runs_as_a_program(language: str, server: FunctionServer, gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Rinse ", "it."]))
    if language == "python":
        command = [sys.executable, str(EXAMPLES / "python" / "stream_chat.py"), server.url, "a small cut"]
    else:
        command = [node(), str(EXAMPLES / "js" / "stream-chat.mjs"), server.url, "a small cut"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("Rinse it.\n[session ")
    assert result.stdout.endswith(", turn 1, source gemini]\n")
