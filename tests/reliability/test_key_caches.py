"""Key and token caches under concurrency: Gemini key rotation, slow Secret Manager, auth key refreshes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from firstaid_chat import auth

from tests.fakes.gemini import FakeGemini
from tests.fakes.secret_manager import FakeSecretManager
from tests.reliability import report
from tests.test_auth import ID_CLAIMS, PROJECT, KeyServer

pytestmark = pytest.mark.reliability
SECRET = "projects/demo/secrets/gemini-key"
OLD_KEY = "AIzaFAKE-old-key-0000000000000000000"
NEW_KEY = "AIzaFAKE-new-key-1111111111111111111"


def concurrently(count: int, call: Callable[[int], Any]) -> list[tuple[Any, float]]:
    """Run ``call(i)`` for i in range(count) at once; each result with its own latency in seconds."""
    results: list[tuple[Any, float]] = [(None, 0.0)] * count
    barrier = threading.Barrier(count)

    def run(i: int) -> None:
        barrier.wait()
        started = time.monotonic()
        outcome = call(i)
        results[i] = (outcome, time.monotonic() - started)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def span(results: list[tuple[Any, float]]) -> str:
    times = sorted(seconds for _, seconds in results)
    return f"{times[0]:.2f} to {times[-1]:.2f} s each"


@pytest.fixture
def secret_client(
    gemini: FakeGemini, secret_manager: FakeSecretManager, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., Any]:
    monkeypatch.delenv("GEMINI_API_KEY")
    return lambda **env: make_client(
        GEMINI_API_KEY_SECRET=f"{SECRET}/versions/latest", SECRET_MANAGER_ENDPOINT=secret_manager.endpoint, **env
    )


def test_two_requests_rejected_together_both_rotate_to_the_new_key(
    secret_client: Callable[..., Any], gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    client = secret_client(FALLBACK="none")
    assert client.post("/v1/chat", json={"message": "warm"}).status_code == 200
    secret_manager.put(SECRET, NEW_KEY)  # rotated; the old key is revoked
    gemini.valid_keys = {NEW_KEY}
    secret_manager.delay = 0.5  # both rejections arrive while the first re-read is under way
    results = concurrently(2, lambda i: client.post("/v1/chat", json={"message": f"m{i}"}))
    assert [r.status_code for r, _ in results] == [200, 200]
    assert [r.get_json()["source"] for r, _ in results] == ["gemini", "gemini"]
    assert len(secret_manager.accesses) == 2  # the cold read and one shared re-read
    assert [r.api_key for r in gemini.requests].count(NEW_KEY) == 2
    report.add("faults", "Gemini key rotated while 2 requests are in flight (Secret Manager read 0.5 s)",
               "2 × 200, source gemini", 4, span(results), "one shared re-read of the secret")  # fmt: skip


def test_slow_failing_secret_manager_is_read_once_for_all_waiters(
    secret_client: Callable[..., Any], gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    secret_manager.fail_next(*[503] * 6)
    secret_manager.delay = 1.0
    client = secret_client(FALLBACK="offline", REQUEST_TIMEOUT_SECONDS="6")
    results = concurrently(6, lambda i: client.post("/v1/chat", json={"message": "how do I treat a burn"}))
    assert [r.get_json()["source"] for r, _ in results] == ["offline"] * 6
    assert max(seconds for _, seconds in results) < 2.0
    assert len(secret_manager.accesses) == 1
    assert gemini.requests == []
    report.add("faults", "Secret Manager: 1 s read then 503, 6 concurrent cold requests", "6 × 200, source offline",
               0, span(results), "1 Secret Manager read; failure cached 2 s")  # fmt: skip


def test_hanging_secret_manager_is_cut_off_at_each_requests_deadline(
    secret_client: Callable[..., Any], gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    secret_manager.delay = 30.0  # past the client's own 10 s read timeout
    client = secret_client(FALLBACK="offline", REQUEST_TIMEOUT_SECONDS="4")
    results = concurrently(6, lambda i: client.post("/v1/chat", json={"message": "someone is not breathing"}))
    assert [r.get_json()["source"] for r, _ in results] == ["offline"] * 6
    assert all(r.get_json()["reply"].startswith("**Call 112 now") for r, _ in results)
    assert max(seconds for _, seconds in results) < 4.0
    secret_manager.delay = 0.0
    report.add("faults", "Secret Manager: read hangs, 6 concurrent cold emergency requests (deadline 4 s)",
               "6 × 200, source offline, call-112 steps", 0, span(results), "1 read in flight, shared")  # fmt: skip


@pytest.fixture
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.stop()


@pytest.fixture
def auth_client(gemini: FakeGemini, make_client: Any, keys: KeyServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(auth, "KEYS_TTL_SECONDS", 0.0)  # every request finds the keys due for a refresh
    return make_client(AUTH_MODE="firebase_id_token", FIREBASE_PROJECT=PROJECT, AUTH_KEYS_URL=f"{keys.url}/x509")


def authed(client: Any, keys: KeyServer) -> Callable[[int], Any]:
    token = keys.token(**ID_CLAIMS)
    return lambda i: client.post("/v1/chat", json={"message": "hi"}, headers={"Authorization": f"Bearer {token}"})


def test_failed_auth_key_refresh_keeps_serving_the_cached_keys(auth_client: Any, keys: KeyServer) -> None:
    call = authed(auth_client, keys)
    assert call(0).status_code == 200
    keys.fail = True
    started = time.monotonic()
    statuses = [call(i).status_code for i in range(5)]
    seconds = time.monotonic() - started
    assert statuses == [200] * 5
    assert keys.fetches <= 3  # the cold fetch, then refreshes spaced by KEYS_RETRY_SECONDS, not one per request
    report.add("faults", "Auth keys: refresh fails (503), 5 requests", "5 × 200 with the cached keys", 0,
               f"{seconds:.2f} s total", f"{keys.fetches} key fetches")  # fmt: skip


def test_slow_auth_key_refresh_holds_no_request(auth_client: Any, keys: KeyServer) -> None:
    call = authed(auth_client, keys)
    assert call(0).status_code == 200
    keys.delay = 1.0
    results = concurrently(5, call)
    assert [r.status_code for r, _ in results] == [200] * 5
    assert max(seconds for _, seconds in results) < 0.9
    report.add("faults", "Auth keys: refresh takes 1 s, 5 concurrent requests", "5 × 200", 0, span(results),
               "refresh in the background, cached keys used meanwhile")  # fmt: skip


def test_cold_auth_key_fetch_is_shared_and_its_failure_answered_at_once(auth_client: Any, keys: KeyServer) -> None:
    keys.fail, keys.delay = True, 0.5
    results = concurrently(5, authed(auth_client, keys))
    assert [r.status_code for r, _ in results] == [401] * 5
    assert keys.fetches == 1
    assert max(seconds for _, seconds in results) < 1.5
    report.add("faults", "Auth keys: unreachable at cold start (0.5 s, 503), 5 concurrent requests",
               "5 × 401 unauthorized", 0, span(results), "1 shared fetch; retried after 10 s")  # fmt: skip
