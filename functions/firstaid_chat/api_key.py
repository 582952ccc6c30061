"""Where the Gemini API key comes from: the environment, or Secret Manager.

The key is read once per instance and cached; ``refresh`` re-reads it after
Gemini rejects it, which is how a rotated key (a new secret version) reaches a
running instance without a redeploy. Nothing empty is ever cached.

Under concurrency: one Secret Manager read at a time, shared by every request
waiting for it, each of which waits only until its own deadline (the read goes
on, and its result serves later requests). A failed read is remembered for
``FAILURE_CACHE_SECONDS``, so a broken secret answers at once instead of
queueing requests behind new reads. A rejection rotates the key only if the
cached key is still the one the caller used: another request may already
have found the new one.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from .errors import KeyUnavailable
from .settings import Settings

log = logging.getLogger(__name__)

SECRET_TIMEOUT_SECONDS = 10.0
FAILURE_CACHE_SECONDS = 2.0
# A request stops waiting for the key this long before its deadline, leaving time for the fallback.
WAIT_MARGIN_SECONDS = 0.5


class KeySource(Protocol):
    """Gives the current Gemini API key."""

    def get(self, deadline: float | None = None) -> str:
        """The cached key, read on first use; raises KeyUnavailable when it cannot be had by ``deadline``.

        ``deadline`` is a ``time.monotonic()`` value; None waits for the read to finish.
        """

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        """After Gemini rejected the key ``rejected``: True when a different key is now available."""


class StaticKey:
    """A key given directly (GEMINI_API_KEY, from the environment or .env)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "StaticKey(<redacted>)"

    def get(self, deadline: float | None = None) -> str:
        return self._key

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        return False


class SecretManagerKey:
    """A key read from a Secret Manager secret version, once per instance."""

    def __init__(
        self, version_name: str, *, endpoint: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._name = version_name
        self._endpoint = endpoint
        self._clock = clock
        self._client: Any = None
        self._key: str | None = None
        self._reading: Future[str] | None = None
        self._failed_until = 0.0
        self._lock = threading.Lock()
        self.reads = 0

    def __repr__(self) -> str:
        return f"SecretManagerKey({self._name!r})"

    def _secret_client(self) -> Any:
        if self._client is None:
            # Imported here: only instances that use Secret Manager pay for it.
            from google.cloud import secretmanager

            options: dict[str, Any] = {}
            credentials = None
            if self._endpoint:
                options["api_endpoint"] = self._endpoint
                if self._endpoint.startswith("http://"):
                    # A plain-HTTP endpoint is a local emulator or test server, never Google's.
                    from google.auth.credentials import AnonymousCredentials

                    credentials = AnonymousCredentials()  # type: ignore[no-untyped-call]
            self._client = secretmanager.SecretManagerServiceClient(
                credentials=credentials, transport="rest", client_options=options or None
            )
        return self._client

    def _read(self) -> str:
        from google.api_core import exceptions as api_exceptions

        self.reads += 1
        try:
            response = self._secret_client().access_secret_version(
                name=self._name, timeout=SECRET_TIMEOUT_SECONDS, retry=None
            )
        except (api_exceptions.GoogleAPIError, OSError, ValueError) as exc:
            # 403 (no accessor role), 404 (no such secret) and 5xx all leave the
            # instance without a key: the client sees a 503 and the next request retries.
            raise KeyUnavailable() from exc
        key = bytes(response.payload.data).decode("utf-8", errors="replace").strip()
        if not key:
            raise KeyUnavailable()
        return key

    def get(self, deadline: float | None = None) -> str:
        with self._lock:
            if self._key is not None:
                return self._key
            reading = self._start_read()
        return self._wait(reading, deadline)

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        with self._lock:
            if self._key is not None and self._key != rejected:
                return True  # another request already rotated it
            if self._key == rejected:
                self._key = None
                self._failed_until = 0.0  # a rejection is news: read again even after a recent failure
            try:
                reading = self._start_read()
            except KeyUnavailable:
                return False
        try:
            return self._wait(reading, deadline) != rejected
        except KeyUnavailable:
            return False

    def _start_read(self) -> Future[str]:
        """The read in flight, or a new one started in the background (call with the lock held)."""
        if self._reading is not None:
            return self._reading
        if self._clock() < self._failed_until:
            raise KeyUnavailable()
        reading: Future[str] = Future()
        self._reading = reading
        threading.Thread(target=self._read_into, args=(reading,), name="secret-read", daemon=True).start()
        return reading

    def _read_into(self, reading: Future[str]) -> None:
        try:
            key = self._read()
        except Exception as exc:  # noqa: BLE001 - whatever failed, waiters must be released
            log.warning("secret manager read failed", extra={"error_type": type(exc.__cause__ or exc).__name__})
            with self._lock:
                self._failed_until = self._clock() + FAILURE_CACHE_SECONDS
                self._reading = None
            reading.set_exception(KeyUnavailable())
            return
        with self._lock:
            self._key = key
            self._reading = None
        reading.set_result(key)

    def _wait(self, reading: Future[str], deadline: float | None) -> str:
        timeout = None if deadline is None else max(0.0, deadline - self._clock() - WAIT_MARGIN_SECONDS)
        try:
            return reading.result(timeout)
        except FutureTimeout:
            raise KeyUnavailable() from None


class NoKey:
    """Vertex AI: the SDK authenticates as the instance's own identity (Application
    Default Credentials, refreshed by google-auth), so there is no key to read or rotate."""

    def get(self, deadline: float | None = None) -> str:
        return ""

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        return False


def build_key_source(settings: Settings) -> KeySource:
    if settings.uses_vertex:
        return NoKey()
    if settings.gemini_api_key:
        return StaticKey(settings.gemini_api_key)
    if settings.gemini_api_key_secret:
        return SecretManagerKey(settings.gemini_api_key_secret, endpoint=settings.secret_manager_endpoint)
    raise KeyUnavailable()
