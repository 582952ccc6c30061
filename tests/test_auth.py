"""Optional hardening: Firebase ID tokens or App Check tokens, verified against a local key server."""

from __future__ import annotations

import base64
import datetime
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from tests.fakes.gemini import FakeGemini

PROJECT = "demo-firstaid"
NUMBER = "123456789"
KID = "test-key-1"


def _b64(number: int) -> str:
    return base64.urlsafe_b64encode(number.to_bytes((number.bit_length() + 7) // 8, "big")).decode().rstrip("=")


class KeyServer:
    """Serves the public key both as Firebase's x509 map (/x509) and as App Check's JWKS (/jwks)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
        now = datetime.datetime.now(datetime.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.private.public_key())
            .serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self.private, hashes.SHA256())
        )
        numbers = self.private.public_key().public_numbers()
        documents = {
            "/x509": {KID: cert.public_bytes(serialization.Encoding.PEM).decode()},
            "/jwks": {"keys": [{"kty": "RSA", "kid": KID, "alg": "RS256", "n": _b64(numbers.n), "e": _b64(numbers.e)}]},
        }
        self.fetches = 0
        self.fail = False  # answer 503, as a Google front end in trouble does
        self.delay = 0.0  # seconds before answering
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.fetches += 1
                time.sleep(server.delay)
                body = json.dumps(documents.get(self.path, {})).encode()
                self.send_response(503 if server.fail else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http.server_address[1]}"

    def token(self, **claims: Any) -> str:
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        signer = crypt.RSASigner.from_string(pem, key_id=KID)
        now = int(time.time())
        payload = {"iat": now, "exp": now + 3600, "sub": "user-1", **claims}
        return jwt.encode(signer, payload).decode()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def keys() -> Iterator[KeyServer]:
    server = KeyServer()
    yield server
    server.stop()


ID_CLAIMS = {"iss": f"https://securetoken.google.com/{PROJECT}", "aud": PROJECT}
APP_CHECK_CLAIMS = {"iss": f"https://firebaseappcheck.googleapis.com/{NUMBER}", "aud": [f"projects/{NUMBER}"]}


@pytest.fixture
def id_client(gemini: FakeGemini, make_client: Any, keys: KeyServer) -> Any:
    return make_client(AUTH_MODE="firebase_id_token", FIREBASE_PROJECT=PROJECT, AUTH_KEYS_URL=f"{keys.url}/x509")


def chat(client: Any, **headers: str) -> Any:
    return client.post("/v1/chat", json={"message": "hi"}, headers=headers)


def test_valid_id_token_is_let_through(id_client: Any, keys: KeyServer) -> None:
    assert chat(id_client, Authorization=f"Bearer {keys.token(**ID_CLAIMS)}").status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {**ID_CLAIMS, "aud": "someone-else"},
        {**ID_CLAIMS, "iss": "https://securetoken.google.com/someone-else"},
        {**ID_CLAIMS, "exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
    ],
    ids=["wrong-audience", "wrong-issuer", "expired"],
)
def test_invalid_id_token_is_401_with_no_downstream_calls(
    id_client: Any, keys: KeyServer, gemini: FakeGemini, claims: dict[str, Any]
) -> None:
    response = chat(id_client, Authorization=f"Bearer {keys.token(**claims)}")
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert gemini.requests == []


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer not.a.jwt", "Basic dXNlcjpwYXNz"])
def test_missing_or_malformed_token_is_401(id_client: Any, gemini: FakeGemini, header: str) -> None:
    assert chat(id_client, Authorization=header).status_code == 401
    assert id_client.get("/v1/sessions/" + "a" * 32, headers={"Authorization": header}).status_code == 401
    assert gemini.requests == []


def test_token_signed_by_another_key_is_401(id_client: Any, gemini: FakeGemini) -> None:
    assert chat(id_client, Authorization=f"Bearer {KeyServer().token(**ID_CLAIMS)}").status_code == 401


def test_health_check_and_preflight_need_no_token(id_client: Any) -> None:
    assert id_client.get("/healthz").status_code == 200
    assert id_client.options("/v1/chat", headers={"Origin": "http://localhost:8000"}).status_code == 204


def test_keys_are_fetched_once_not_per_request(id_client: Any, keys: KeyServer) -> None:
    before = keys.fetches
    for _ in range(3):
        chat(id_client, Authorization=f"Bearer {keys.token(**ID_CLAIMS)}")
    assert keys.fetches - before == 1


def test_app_check_token_from_jwks(gemini: FakeGemini, make_client: Any, keys: KeyServer) -> None:
    client = make_client(AUTH_MODE="app_check", FIREBASE_PROJECT_NUMBER=NUMBER, AUTH_KEYS_URL=f"{keys.url}/jwks")
    assert chat(client).status_code == 401
    assert chat(client, **{"X-Firebase-AppCheck": keys.token(**ID_CLAIMS)}).status_code == 401
    assert gemini.requests == []
    assert chat(client, **{"X-Firebase-AppCheck": keys.token(**APP_CHECK_CLAIMS)}).status_code == 200
