"""Optional caller verification in front of the API (AUTH_MODE).

``firebase_id_token``: ``Authorization: Bearer <Firebase Auth ID token>`` (signed-in users).
``app_check``: ``X-Firebase-AppCheck: <App Check token>`` (genuine copies of your app and page).

Both are RS256 JWTs checked against Google's published keys, which are fetched
on first use and cached for an hour. A request without a valid token is
answered 401 before anything else (store, model, key) is touched.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

import flask

from .errors import Unauthorized
from .settings import Settings

FIREBASE_ID_TOKEN_KEYS = "https://www.googleapis.com/robot/v1/metadata/x509/securetoken@system.gserviceaccount.com"  # noqa: S105 - a public URL, not a secret
APP_CHECK_KEYS = "https://firebaseappcheck.googleapis.com/v1/jwks"
KEYS_TTL_SECONDS = 3600.0
CLOCK_SKEW_SECONDS = 30


class Authenticator(Protocol):
    """Checks that a request comes from a genuine app; raises Unauthorized otherwise."""

    def verify(self, request: flask.Request) -> None: ...


class _KeySet:
    """Public keys by key id, fetched from a URL and cached."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._keys: dict[str, str] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    def get(self) -> dict[str, str]:
        with self._lock:
            if not self._keys or time.monotonic() - self._fetched > KEYS_TTL_SECONDS:
                self._keys = _fetch_keys(self._url)
                self._fetched = time.monotonic()
            return self._keys


def _fetch_keys(url: str) -> dict[str, str]:
    """PEM keys by key id, from an x509 map ({kid: cert}) or a JWKS ({"keys": [...]})."""
    with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - configured https URL
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
        self._keys = _KeySet(keys_url)
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
