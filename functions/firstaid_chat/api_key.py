"""Where the Gemini API key comes from: the environment, or Secret Manager.

The key is read once per instance and cached; ``refresh`` re-reads it after
Gemini rejects it, which is how a rotated key (a new secret version) reaches a
running instance without a redeploy. Nothing empty or failed is ever cached.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from .errors import KeyUnavailable
from .settings import Settings

SECRET_TIMEOUT_SECONDS = 10.0


class KeySource(Protocol):
    """Gives the current Gemini API key."""

    def get(self) -> str:
        """The cached key, read on first use; raises KeyUnavailable when it cannot be read."""

    def refresh(self) -> bool:
        """Re-read the key after a rejection; True when a different key was found."""


class StaticKey:
    """A key given directly (GEMINI_API_KEY, from the environment or .env)."""

    def __init__(self, key: str) -> None:
        self._key = key

    def __repr__(self) -> str:
        return "StaticKey(<redacted>)"

    def get(self) -> str:
        return self._key

    def refresh(self) -> bool:
        return False


class SecretManagerKey:
    """A key read from a Secret Manager secret version, once per instance."""

    def __init__(self, version_name: str, *, endpoint: str | None = None) -> None:
        self._name = version_name
        self._endpoint = endpoint
        self._client: Any = None
        self._key: str | None = None
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

    def get(self) -> str:
        with self._lock:
            if self._key is None:
                self._key = self._read()
            return self._key

    def refresh(self) -> bool:
        with self._lock:
            old = self._key
            self._key = None
            self._key = self._read()
            return self._key != old


class NoKey:
    """Vertex AI: the SDK authenticates as the instance's own identity (Application
    Default Credentials, refreshed by google-auth), so there is no key to read or rotate."""

    def get(self) -> str:
        return ""

    def refresh(self) -> bool:
        return False


def build_key_source(settings: Settings) -> KeySource:
    if settings.uses_vertex:
        return NoKey()
    if settings.gemini_api_key:
        return StaticKey(settings.gemini_api_key)
    if settings.gemini_api_key_secret:
        return SecretManagerKey(settings.gemini_api_key_secret, endpoint=settings.secret_manager_endpoint)
    raise KeyUnavailable()
