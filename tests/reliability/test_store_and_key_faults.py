"""Firestore, Secret Manager and client faults: the emulator frozen, contention, unreadable keys, lost clients."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.clients import post_resending
from tests.conftest import SENTINEL_KEY
from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.fakes.gemini import Behaviour, FakeGemini
from tests.fakes.secret_manager import FakeSecretManager
from tests.reliability import report
from tests.servers import FunctionServer, function_env
from tests.test_api import sse_events

pytestmark = pytest.mark.reliability


class Frozen:
    """SIGSTOP the emulator (a real outage: connections hang), SIGCONT to bring it back with its data."""

    def __init__(self, emulator: FirestoreEmulator) -> None:
        assert emulator.process is not None
        self.pid = emulator.process.pid

    def __enter__(self) -> Frozen:
        os.kill(self.pid, signal.SIGSTOP)
        return self

    def __exit__(self, *exc: Any) -> None:
        os.kill(self.pid, signal.SIGCONT)


@pytest.fixture
def fs_client(gemini: FakeGemini, firestore_env: FirestoreEmulator, make_client: Any) -> Any:
    return make_client(STORE_TIMEOUT_SECONDS="2", FALLBACK="none")


def messages(client: Any, session_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/sessions/{session_id}").get_json()["messages"])


def test_firestore_down_before_a_request(fs_client: Any, gemini: FakeGemini, firestore_env: FirestoreEmulator) -> None:
    session_id = fs_client.post("/v1/chat", json={"message": "first"}).get_json()["session_id"]
    gemini.reset()
    body = {"message": "second", "session_id": session_id, "client_message_id": "m2"}
    with Frozen(firestore_env):
        started = time.monotonic()
        response = fs_client.post("/v1/chat", json=body)
        seconds = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "store_unavailable"
    assert gemini.requests == []  # no model call when the conversation cannot be loaded
    assert len(messages(fs_client, session_id)) == 2
    assert fs_client.post("/v1/chat", json=body).get_json()["turn"] == 2
    assert len(messages(fs_client, session_id)) == 4
    report.add(
        "faults",
        "Firestore: down before a request",
        "503 store_unavailable",
        0,
        f"{seconds:.2f} s",
        "history intact; retry stores the turn once",
    )


def test_firestore_down_during_a_request(fs_client: Any, gemini: FakeGemini, firestore_env: FirestoreEmulator) -> None:
    session_id = fs_client.post("/v1/chat", json={"message": "first"}).get_json()["session_id"]
    gemini.reset()
    gemini.enqueue(Behaviour(first_delay=1.0, chunks=["Press ", "on the wound."]))
    body = {"message": "second", "session_id": session_id, "client_message_id": "m2"}
    result: dict[str, Any] = {}

    def post() -> None:
        started = time.monotonic()
        result["response"] = fs_client.post("/v1/chat", json=body, headers={"Accept": "text/event-stream"})
        result["events"] = sse_events(result["response"])
        result["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=post)
    thread.start()
    deadline = time.monotonic() + 10
    while not gemini.requests:  # the session is loaded and claimed: the model has been asked
        assert time.monotonic() < deadline, "the turn never reached the model"
        time.sleep(0.01)
    with Frozen(firestore_env):
        thread.join(timeout=30)
    assert not thread.is_alive()
    events = result["events"]
    assert [name for name, _ in events] == ["delta", "delta", "error"]  # the model answered, then the store failed
    assert "".join(data["text"] for name, data in events if name == "delta") == "Press on the wound."
    error = events[-1][1]
    assert (error["status"], error["error"]["code"]) == (503, "store_unavailable")
    assert "not stored" in error["error"]["message"]
    assert len(gemini.requests) == 1
    retry = fs_client.post("/v1/chat", json=body).get_json()
    assert retry["turn"] == 2
    stored = messages(fs_client, session_id)
    assert [m["turn"] for m in stored] == [1, 1, 2, 2]
    report.add(
        "faults",
        "Firestore: down during a request (after the model answered)",
        "503 store_unavailable, told the message was not stored",
        1,
        f"{result['seconds']:.2f} s",
        "retry stores the turn once, no double",
    )


def test_contention_on_one_session(fs_client: Any, gemini: FakeGemini) -> None:
    session_id = fs_client.post("/v1/chat", json={"message": "start"}).get_json()["session_id"]
    statuses: list[int] = []
    refusals: list[int] = []

    def post(i: int) -> None:
        body = {"message": f"m{i}", "session_id": session_id, "client_message_id": f"c{i}"}
        response, refused = post_resending(fs_client, body)
        statuses.append(response.status_code)
        refusals.append(refused)

    started = time.monotonic()
    threads = [threading.Thread(target=post, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.monotonic() - started
    assert statuses == [200] * 20
    assert len(gemini.requests) == 21  # one model call per stored turn: none wasted on a refused one
    stored = messages(fs_client, session_id)
    assert [m["turn"] for m in stored] == [n for n in range(1, 22) for _ in (0, 1)]
    assert [m["role"] for m in stored] == ["user", "model"] * 21
    report.add(
        "faults",
        "Firestore: 20 concurrent turns on one session",
        f"one at a time: {sum(refusals)} × 409 turn_in_progress, resent, then 20 × 200",
        20,
        f"{seconds:.2f} s total",
        "21 turns, numbered 1–21, user/model alternating, none lost or doubled",
    )


SECRET = "projects/demo/secrets/gemini-key"


@pytest.mark.parametrize("status", [403, 404, 503])
def test_secret_unreadable_at_cold_start(
    gemini: FakeGemini,
    secret_manager: FakeSecretManager,
    make_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    status: int,
) -> None:
    from firstaid_chat import api_key

    monkeypatch.setattr(api_key, "FAILURE_CACHE_SECONDS", 0.0)  # the failure cache has its own test
    monkeypatch.delenv("GEMINI_API_KEY")
    secret_manager.put(SECRET, SENTINEL_KEY)
    secret_manager.fail_next(status)
    client = make_client(
        GEMINI_API_KEY_SECRET=f"{SECRET}/versions/latest",
        SECRET_MANAGER_ENDPOINT=secret_manager.endpoint,
        FALLBACK="none",
    )
    started = time.monotonic()
    response = client.post("/v1/chat", json={"message": "hi"})
    seconds = time.monotonic() - started
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "key_unavailable"
    assert client.post("/v1/chat", json={"message": "hi"}).status_code == 200
    report.add(
        "faults",
        f"Secret Manager: {status} at cold start",
        "503 key_unavailable, then 200 once readable",
        0,
        f"{seconds:.2f} s",
        "nothing cached from the failure",
    )


def test_client_disconnecting_mid_stream_still_gets_its_reply_saved(
    gemini_server: FakeGemini, gemini: FakeGemini, tmp_path: Path
) -> None:
    env = function_env(
        gemini.base_url,
        SQLITE_PATH=str(tmp_path / "d.sqlite3"),
    )
    with FunctionServer(env, tmp_path / "server.log") as server:
        first = _post_json(server.url, {"message": "first"})
        gemini.enqueue(Behaviour(chunks=["one ", "two ", "three ", "four"], chunk_interval=0.3))
        request = urllib.request.Request(
            f"{server.url}/v1/chat",
            data=json.dumps({"message": "count", "session_id": first["session_id"]}).encode(),
            headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.readline().startswith(b"event: delta")
        # The client is gone; the server finishes the reply and stores it.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            stored = _get_json(f"{server.url}/v1/sessions/{first['session_id']}")["messages"]
            if len(stored) == 4:
                break
            time.sleep(0.2)
        assert [m["text"] for m in stored][-1] == "one two three four"
    report.add(
        "faults",
        "Client disconnects mid-stream (real server)",
        "reply finished server-side",
        1,
        "-",
        "full reply stored, visible in GET /v1/sessions/{id}",
    )


def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{url}/v1/chat", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result


def _get_json(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        result: dict[str, Any] = json.load(response)
        return result
