"""The key from Secret Manager: the real client (REST transport) against a local fake server."""

from __future__ import annotations

from typing import Any

import pytest
from firstaid_chat import api_key
from firstaid_chat.api_key import FAILURE_CACHE_SECONDS, SecretManagerKey
from firstaid_chat.errors import KeyUnavailable

from tests.fakes.gemini import FakeGemini
from tests.fakes.secret_manager import FakeSecretManager

SECRET = "projects/demo/secrets/gemini-key"
VERSION = f"{SECRET}/versions/latest"
OLD_KEY = "AIzaFAKE-old-key-0000000000000000000"
NEW_KEY = "AIzaFAKE-new-key-1111111111111111111"


@pytest.fixture
def secret_client(
    gemini: FakeGemini, secret_manager: FakeSecretManager, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The function configured with a secret version instead of a key."""
    monkeypatch.delenv("GEMINI_API_KEY")
    return lambda **env: make_client(
        GEMINI_API_KEY_SECRET=VERSION, SECRET_MANAGER_ENDPOINT=secret_manager.endpoint, FALLBACK="none", **env
    )


def test_key_is_read_once_and_cached(secret_manager: FakeSecretManager) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    source = SecretManagerKey(VERSION, endpoint=secret_manager.endpoint)
    assert source.get() == OLD_KEY
    assert source.get() == OLD_KEY
    assert secret_manager.accesses == [VERSION]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("status", [403, 404, 503])
def test_unreadable_secret_is_key_unavailable_and_only_the_failure_is_cached_briefly(
    secret_manager: FakeSecretManager, status: int
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    secret_manager.fail_next(status)
    clock = Clock()
    source = SecretManagerKey(VERSION, endpoint=secret_manager.endpoint, clock=clock)
    with pytest.raises(KeyUnavailable):
        source.get()
    with pytest.raises(KeyUnavailable):
        source.get()  # within the failure cache: answered at once, Secret Manager not asked again
    assert len(secret_manager.accesses) == 1
    clock.now += FAILURE_CACHE_SECONDS + 0.01
    assert source.get() == OLD_KEY  # recovers as soon as the cache lapses and the secret is readable
    assert len(secret_manager.accesses) == 2


def test_empty_secret_is_not_accepted(secret_manager: FakeSecretManager) -> None:
    secret_manager.put(SECRET, "  \n")
    with pytest.raises(KeyUnavailable):
        SecretManagerKey(VERSION, endpoint=secret_manager.endpoint).get()


def test_chat_uses_the_key_from_secret_manager(
    secret_client: Any, gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    client = secret_client()
    for _ in range(3):
        assert client.post("/v1/chat", json={"message": "hi"}).status_code == 200
    assert [r.api_key for r in gemini.requests] == [OLD_KEY] * 3
    assert secret_manager.accesses == [VERSION]  # once per instance, not per request


@pytest.mark.parametrize("status", [403, 404, 503])
def test_secret_failure_at_cold_start_is_a_clear_503_then_recovers(
    secret_client: Any, gemini: FakeGemini, secret_manager: FakeSecretManager, status: int, monkeypatch: Any
) -> None:
    monkeypatch.setattr(api_key, "FAILURE_CACHE_SECONDS", 0.0)
    secret_manager.put(SECRET, OLD_KEY)
    secret_manager.fail_next(status)
    client = secret_client()
    response = client.post("/v1/chat", json={"message": "hi"})
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "key_unavailable"
    assert gemini.requests == []
    assert client.post("/v1/chat", json={"message": "hi"}).status_code == 200


def test_rotated_key_is_picked_up_after_gemini_rejects_the_old_one(
    secret_client: Any, gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    client = secret_client()
    assert client.post("/v1/chat", json={"message": "before"}).status_code == 200
    secret_manager.put(SECRET, NEW_KEY)  # rotation: a new version; the old key is revoked
    gemini.valid_keys = {NEW_KEY}
    response = client.post("/v1/chat", json={"message": "after"})
    assert response.status_code == 200
    assert [r.api_key for r in gemini.requests] == [OLD_KEY, OLD_KEY, NEW_KEY]
    assert len(secret_manager.accesses) == 2


def test_rejected_key_without_a_new_version_fails_cleanly(
    secret_client: Any, gemini: FakeGemini, secret_manager: FakeSecretManager
) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    gemini.valid_keys = {NEW_KEY}
    client = secret_client()
    response = client.post("/v1/chat", json={"message": "hi"})
    assert response.status_code == 503
    assert len(gemini.requests) == 1  # re-read once, no retry storm
    assert OLD_KEY not in response.get_data(as_text=True)


def test_refresh_after_another_request_rotated_the_key_does_not_read_again(secret_manager: FakeSecretManager) -> None:
    secret_manager.put(SECRET, OLD_KEY)
    source = SecretManagerKey(VERSION, endpoint=secret_manager.endpoint)
    assert source.get() == OLD_KEY
    secret_manager.put(SECRET, NEW_KEY)
    assert source.refresh(OLD_KEY) is True  # the first caller to see the rejection reads the new version
    assert source.refresh(OLD_KEY) is True  # a second caller rejected with the old key: already rotated
    assert source.get() == NEW_KEY
    assert len(secret_manager.accesses) == 2
    assert source.refresh(NEW_KEY) is False  # the newest version is rejected too: nothing better to offer


def test_a_waiter_stops_at_its_deadline_and_the_read_still_serves_later_requests(
    secret_manager: FakeSecretManager,
) -> None:
    import time

    secret_manager.put(SECRET, OLD_KEY)
    secret_manager.delay = 1.0
    source = SecretManagerKey(VERSION, endpoint=secret_manager.endpoint)
    started = time.monotonic()
    with pytest.raises(KeyUnavailable):
        source.get(deadline=started + 0.8)  # waits until 0.5 s before its deadline
    assert time.monotonic() - started < 0.6
    assert source.get(deadline=time.monotonic() + 5) == OLD_KEY  # joins the same read
    assert len(secret_manager.accesses) == 1
