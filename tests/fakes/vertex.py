"""Vertex AI's Gemini endpoint and a Google OAuth 2.0 token server, local, for tests.

``FakeTokenServer`` answers the token endpoint a service-account key file names
in its ``token_uri``: it checks the signed JWT assertion that google-auth sends
(signature, audience, issuer, scope, expiry) with google-auth's own verifier, and hands
out short random access tokens. ``FakeVertex`` is the fake Gemini server (same
scripted behaviours and records) that serves only Vertex AI's paths,
``/v1beta1/projects/P/locations/L/publishers/google/models/M:method``, and only
to a bearer token the token server issued. Together they let the real
google-genai SDK run in Vertex AI mode with real google-auth code: point
``GOOGLE_APPLICATION_CREDENTIALS`` at ``service_account_file(...)`` and
``GOOGLE_VERTEX_BASE_URL`` at ``FakeVertex.base_url``.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.fakes.gemini import Behaviour, FakeGemini, Recorded, error
from tests.fakes.loopback import LoopbackServer

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# The audience Google's token endpoint requires in the assertion, wherever token_uri points.
TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"


@dataclass
class TokenGrant:
    """One token request as the server judged it."""

    issuer: str | None
    scope: str | None
    error: str | None = None


@dataclass
class FakeTokenServer:
    """An OAuth 2.0 token endpoint for service-account JWT grants (RFC 7523)."""

    client_email: str = "firstaid-chat-fn@demo-firstaid.iam.gserviceaccount.com"
    grants: list[TokenGrant] = field(default_factory=list)
    issued: set[str] = field(default_factory=set)
    fail_with: int | None = None  # answer every request with this status (an error body)

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._public_pem = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self._lock = threading.Lock()
        self._http = LoopbackServer(self._handler())

    @property
    def token_uri(self) -> str:
        return f"{self._http.url}/token"

    def start(self) -> FakeTokenServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def reset(self) -> None:
        with self._lock:
            self.grants.clear()
            self.issued.clear()
            self.fail_with = None

    def accepts(self, authorization: str | None) -> bool:
        """Whether an Authorization header carries a token this server issued."""
        scheme, _, token = (authorization or "").partition(" ")
        with self._lock:
            return scheme == "Bearer" and token in self.issued

    def service_account_file(self, path: Path, project: str) -> Path:
        """Write a service-account key file whose token_uri is this server."""
        private_pem = self._key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_text(
            json.dumps(
                {
                    "type": "service_account",
                    "project_id": project,
                    "private_key_id": "fake-key-1",
                    "private_key": private_pem.decode(),
                    "client_email": self.client_email,
                    "client_id": "100000000000000000001",
                    "token_uri": self.token_uri,
                }
            )
        )
        return path

    def _grant(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != [JWT_BEARER] or len(form.get("assertion", [])) != 1:
            return 400, {"error": "unsupported_grant_type"}
        try:
            claims = jwt.decode(form["assertion"][0], certs=self._public_pem, audience=TOKEN_AUDIENCE)
        except ValueError as exc:
            self.grants.append(TokenGrant(None, None, f"invalid_grant: {exc}"))
            return 400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
        grant = TokenGrant(claims.get("iss"), claims.get("scope"))
        self.grants.append(grant)
        if grant.issuer != self.client_email or CLOUD_PLATFORM_SCOPE not in (grant.scope or "").split():
            grant.error = "invalid_scope"
            return 400, {"error": "invalid_scope"}
        token = "ya29.fake-" + secrets.token_urlsafe(24)
        self.issued.add(token)
        return 200, {"access_token": token, "expires_in": 3599, "token_type": "Bearer"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                with server._lock:
                    if self.path != "/token":
                        status, body = 404, {"error": "not_found"}
                    elif server.fail_with is not None:
                        # google-auth retries "internal_failure" itself, never "invalid_grant".
                        reason = "internal_failure" if server.fail_with >= 500 else "invalid_grant"
                        status, body = server.fail_with, {"error": reason}
                    else:
                        status, body = server._grant(form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


class FakeVertex(FakeGemini):
    """The fake Gemini behind Vertex AI's paths and OAuth: no API key is accepted."""

    def __init__(self, tokens: FakeTokenServer, project: str, location: str) -> None:
        super().__init__()
        self.tokens = tokens
        self.project = project
        self.location = location

    def _rejection(self, recorded: Recorded) -> Behaviour | None:
        if recorded.project is None:  # the Gemini Developer API's path: not served here
            return error(404, "not found", "NOT_FOUND")
        if recorded.api_key is not None or not self.tokens.accepts(recorded.authorization):
            return error(401, "Request had invalid authentication credentials.", "UNAUTHENTICATED")
        if (recorded.project, recorded.location) != (self.project, self.location):
            return error(403, "Permission denied on resource project.", "PERMISSION_DENIED")
        return None
