"""Optional caller verification in front of the API (AUTH_MODE).

``firebase_id_token``: ``Authorization: Bearer <Firebase Auth ID token>`` (signed-in users).
``app_check``: ``X-Firebase-AppCheck: <App Check token>`` (genuine copies of your app and page).

Both are RS256 JWTs checked against Google's published keys, which are fetched
on first use and cached for an hour. A request without a valid token is
answered 401 before anything else (store, model, key) is touched.

The keys are fetched by one background fetch at a time, never under a lock
that requests wait on: at a cold start every request waits for the same fetch;
once keys are cached, requests keep using them while a refresh runs, and a
failed refresh keeps the old keys (tried again after ``KEYS_RETRY_SECONDS``).
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import Any, Protocol

import flask

from .errors import Unauthorized
from .settings import Settings

FIREBASE_ID_TOKEN_KEYS = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"  # noqa: S105 - a public URL, not a secret
APP_CHECK_KEYS = "https://firebaseappcheck.googleapis.com/v1/jwks"
KEYS_TTL_SECONDS = 3600.0
# After a failed fetch: the next one is tried no sooner than this.
KEYS_RETRY_SECONDS = 10.0
# Cached keys past this age are no longer used, whatever the refreshes do (Google rotates them daily).
KEYS_MAX_AGE_SECONDS = 24 * 3600.0
FETCH_TIMEOUT_SECONDS = 5.0
CLOCK_SKEW_SECONDS = 30

log = logging.getLogger(__name__)


class Authenticator(Protocol):
    """Checks that a request comes from a genuine app; raises Unauthorized otherwise."""

    def verify(self, request: flask.Request) -> None: ...


class KeySet:
    """Public keys by key id, fetched from a URL and cached; see the module docstring for when."""

    def __init__(self, url: str, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._url = url
        self._clock = clock
        self._keys: dict[str, str] = {}
        self._fetched = 0.0
        self._retry_at = 0.0
        self._fetching: Future[dict[str, str]] | None = None
        self._lock = threading.Lock()  # guards the fields above only; never held during a fetch

    def get(self) -> dict[str, str]:
        """The keys; raises OSError or ValueError when none are usable and none could be fetched."""
        with self._lock:
            now = self._clock()
            age = now - self._fetched
            usable = bool(self._keys) and age <= KEYS_MAX_AGE_SECONDS
            if usable and age <= KEYS_TTL_SECONDS:
                return self._keys
            if self._fetching is None and now >= self._retry_at:
                self._start_fetch()
            fetching, keys = self._fetching, self._keys
        if usable:
            return keys  # a refresh is running or recently failed: the cached keys still verify
        if fetching is None:
            raise OSError("the auth keys could not be fetched; retrying shortly")
        return fetching.result(timeout=FETCH_TIMEOUT_SECONDS + 1)

    def _start_fetch(self) -> None:
        fetching: Future[dict[str, str]] = Future()
        self._fetching = fetching
        threading.Thread(target=self._fetch_into, args=(fetching,), name="auth-keys", daemon=True).start()

    def _fetch_into(self, fetching: Future[dict[str, str]]) -> None:
        try:
            keys = _fetch_keys(self._url)
            if not keys:
                raise ValueError("the key document holds no keys")
        except Exception as exc:  # noqa: BLE001 - whatever failed, waiters must be released
            log.warning("auth keys fetch failed", extra={"error_type": type(exc).__name__})
            with self._lock:
                self._fetching = None
                self._retry_at = self._clock() + KEYS_RETRY_SECONDS
            fetching.set_exception(exc if isinstance(exc, (OSError, ValueError)) else OSError("fetch failed"))
            return
        with self._lock:
            self._keys, self._fetched, self._fetching = keys, self._clock(), None
        fetching.set_result(keys)


def _fetch_keys(url: str) -> dict[str, str]:
    """PEM keys by key id, from an x509 map ({kid: cert}) or a JWKS ({"keys": [...]})."""
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 - configured URL
        document = json.load(response)
    if "keys" not in document:
        return {str(k): str(v) for k, v in document.items()}
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    keys = {}
    for jwk in document["keys"]:
        if jwk.get("kty") != "RSA":
            continue
        numbers = RSAPublicNumbers(
            e=int.from_bytes(_b64url(jwk["e"]), "big"),
            n=int.from_bytes(_b64url(jwk["n"]), "big"),
        )
        pem = numbers.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        keys[jwk["kid"]] = pem.decode()
    return keys


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


class JwtAuthenticator:
    """Verifies an RS256 token from a header against a key set, issuer and audience."""

    def __init__(self, *, header: str, keys_url: str, issuer: str, audience: str, bearer: bool) -> None:
        self._header = header
        self._keys = KeySet(keys_url)
        self._issuer = issuer
        self._audience = audience
        self._bearer = bearer

    def _token(self, request: flask.Request) -> str:
        value = request.headers.get(self._header, "")
        if self._bearer:
            scheme, _, value = value.partition(" ")
            if scheme.lower() != "bearer":
                return ""
        return value.strip()

    def verify(self, request: flask.Request) -> None:
        token = self._token(request)
        if not token:
            raise Unauthorized()
        from google.auth import jwt

        try:
            keys = self._keys.get()
        except (OSError, ValueError) as exc:
            raise Unauthorized("App verification is unavailable right now. Please try again.") from exc
        try:
            # The audience is checked below: App Check tokens carry a list of audiences.
            claims: Mapping[str, Any] = jwt.decode(  # type: ignore[no-untyped-call]
                token, certs=keys, clock_skew_in_seconds=CLOCK_SKEW_SECONDS
            )
        except (ValueError, KeyError, TypeError):
            raise Unauthorized() from None
        audiences = claims.get("aud")
        audiences = audiences if isinstance(audiences, list) else [audiences]
        if claims.get("iss") != self._issuer or self._audience not in audiences:
            raise Unauthorized()


def build_authenticator(settings: Settings) -> Authenticator | None:
    if settings.auth_mode == "none":
        return None
    project = settings.firebase_project or settings.google_cloud_project or ""
    if settings.auth_mode == "firebase_id_token":
        return JwtAuthenticator(
            header="Authorization",
            keys_url=settings.auth_keys_url or FIREBASE_ID_TOKEN_KEYS,
            issuer=f"https://securetoken.google.com/{project}",
            audience=project,
            bearer=True,
        )
    number = settings.firebase_project_number or ""
    return JwtAuthenticator(
        header="X-Firebase-AppCheck",
        keys_url=settings.auth_keys_url or APP_CHECK_KEYS,
        issuer=f"https://firebaseappcheck.googleapis.com/{number}",
        audience=f"projects/{number}",
        bearer=False,
    )
