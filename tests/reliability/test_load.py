"""A bounded load test: one real functions-framework instance, Firestore emulator, fake Gemini with real latency."""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT
from tests.fakes.firestore_emulator import FirestoreEmulator
from tests.fakes.gemini import Behaviour, FakeGemini
from tests.reliability import report
from tests.servers import FunctionServer, function_env

pytestmark = pytest.mark.reliability
SESSIONS = 40
TURNS_PER_SESSION = 8
CONCURRENCY = 16


def call(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        result: dict[str, Any] = json.load(response)
        return result


def run_session(base: str, index: int) -> tuple[str, list[float]]:
    """One user: a conversation of several turns, each sent after the previous reply arrived."""
    latencies = []
    session_id = None
    for turn in range(TURNS_PER_SESSION):
        body: dict[str, Any] = {"message": f"user {index} turn {turn}", "client_message_id": f"u{index}-t{turn}"}
        if session_id:
            body["session_id"] = session_id
        started = time.monotonic()
        reply = call(f"{base}/v1/chat", body)
        latencies.append(time.monotonic() - started)
        session_id = reply["session_id"]
    assert session_id is not None
    return session_id, latencies


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def test_load_many_sessions_nothing_lost_and_every_history_ordered(
    gemini: FakeGemini, firestore_emulator: FirestoreEmulator, tmp_path: Path
) -> None:
    firestore_emulator.clear(PROJECT)
    gemini.default = Behaviour(first_delay=0.3, chunk_interval=0.02)
    env = function_env(
        gemini.base_url,
        CHAT_STORE="firestore",
        FIRESTORE_EMULATOR_HOST=firestore_emulator.host,
        GOOGLE_CLOUD_PROJECT=PROJECT,
        THREADS="32",
    )
    with FunctionServer(env, tmp_path / "server.log") as server:
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(lambda i: run_session(server.url, i), range(SESSIONS)))
        elapsed = time.monotonic() - started
        for index, (session_id, _) in enumerate(results):
            messages = call(f"{server.url}/v1/sessions/{session_id}")["messages"]
            assert [m["role"] for m in messages] == ["user", "model"] * TURNS_PER_SESSION
            expected = [f"user {index} turn {t}" for t in range(TURNS_PER_SESSION)]
            assert [m["text"] for m in messages[::2]] == expected
            assert [m["turn"] for m in messages[::2]] == list(range(1, TURNS_PER_SESSION + 1))
        statuses = server.request_statuses()
        assert len(statuses) >= SESSIONS * (TURNS_PER_SESSION + 1)  # every turn and history read was logged
        assert [status for status in statuses if status >= 500] == []
        assert server.unexpected_errors() == []
    latencies = [latency for _, session in results for latency in session]
    turns = len(latencies)
    assert turns == SESSIONS * TURNS_PER_SESSION
    assert len(gemini.requests) == turns  # one model call per turn, no retries
    setup = (
        "1 instance (gunicorn, 32 threads), Firestore emulator, fake Gemini 0.3 s + streaming; "
        f"{SESSIONS} sessions × {TURNS_PER_SESSION} turns at concurrency {CONCURRENCY}"
    )
    report.add("load", "setup", setup)
    report.add("load", "turns / errors / lost", f"{turns} / 0 / 0 (every history complete, alternating, in order)")
    report.add("load", "throughput", f"{turns / elapsed:.1f} turns/s ({elapsed:.1f} s)")
    report.add(
        "load", "latency p50 / p95 / p99",
        f"{percentile(latencies, 50) * 1000:.0f} / {percentile(latencies, 95) * 1000:.0f} / "
        f"{percentile(latencies, 99) * 1000:.0f} ms (model alone: ~420 ms)",
    )  # fmt: skip
