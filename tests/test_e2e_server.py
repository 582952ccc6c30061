"""End to end through a real functions-framework server process, over real HTTP."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import SENTINEL_KEY
from tests.fakes.gemini import Behaviour, FakeGemini
from tests.servers import FunctionServer, function_env

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    tmp_path = tmp_path_factory.mktemp("e2e")
    env = function_env(
        gemini_server.base_url,
        SQLITE_PATH=str(tmp_path / "e2e.sqlite3"),
        ALLOWED_ORIGINS="http://localhost:8000",
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running


def request(url: str, body: Any = None, method: str = "GET", **headers: str) -> tuple[int, dict[str, str], bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_conversation_over_real_http(server: FunctionServer, gemini: FakeGemini) -> None:
    status, _headers, body = request(f"{server.url}/v1/chat", {"message": "hello"}, "POST")
    assert status == 200
    first = json.loads(body)
    status, _, body = request(f"{server.url}/v1/chat", {"message": "again", "session_id": first["session_id"]}, "POST")
    assert json.loads(body)["turn"] == 2
    status, _, body = request(f"{server.url}/v1/sessions/{first['session_id']}")
    assert [m["role"] for m in json.loads(body)["messages"]] == ["user", "model", "user", "model"]
    assert request(f"{server.url}/v1/sessions/{first['session_id']}", method="DELETE")[0] == 204


def test_stream_arrives_as_it_is_generated(server: FunctionServer, gemini: FakeGemini) -> None:
    import time

    gemini.enqueue(Behaviour(chunks=["one ", "two ", "three"], chunk_interval=0.4))
    req = urllib.request.Request(
        f"{server.url}/v1/chat",
        data=json.dumps({"message": "count"}).encode(),
        headers={"Content-Type": "application/json", "Accept": "text/event-stream"},
    )
    arrivals = []
    started = time.monotonic()
    with urllib.request.urlopen(req, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        for line in response:
            if line.startswith(b"event: "):
                arrivals.append((line[7:].strip().decode(), time.monotonic() - started))
    names = [name for name, _ in arrivals]
    assert names == ["delta", "delta", "delta", "done"]
    # The first delta left well before the last chunk was produced: nothing is buffered.
    assert arrivals[0][1] < arrivals[2][1] - 0.5


def test_bad_input_over_real_http_is_a_4xx(server: FunctionServer, gemini: FakeGemini) -> None:
    req = urllib.request.Request(f"{server.url}/v1/chat", data=b"\xff", headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(req, timeout=10)
    assert raised.value.code == 400


def test_server_logs_are_json_and_never_hold_the_key(server: FunctionServer, gemini: FakeGemini) -> None:
    request(f"{server.url}/v1/chat", {"message": "hello"}, "POST")
    logs = server.logs()
    assert SENTINEL_KEY not in logs
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert any(r["message"] == "turn stored" for r in records)
