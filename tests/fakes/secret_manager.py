"""A local Secret Manager REST server: enough of ``AccessSecretVersion`` for the real client.

Point ``google-cloud-secret-manager`` at it with the REST transport and
``api_endpoint=http://127.0.0.1:PORT``. Versions are set with ``put``;
scripted failures (403, 404, 503) with ``fail_next``; a slow service with ``delay``.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import zlib
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer

ACCESS = re.compile(r"^/v1/(?P<name>projects/[^/]+/secrets/[^/]+/versions/[^/:]+):access$")
STATUS_NAMES = {403: "PERMISSION_DENIED", 404: "NOT_FOUND", 503: "UNAVAILABLE", 500: "INTERNAL"}


class FakeSecretManager:
    def __init__(self) -> None:
        self.secrets: dict[str, list[str]] = {}  # "projects/P/secrets/S" -> versions, oldest first
        self.accesses: list[str] = []
        self._failures: deque[int] = deque()
        self.delay = 0.0  # seconds before every answer
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = LoopbackServer(self._handler())

    @property
    def endpoint(self) -> str:
        return self._http.url

    def start(self) -> FakeSecretManager:
        self._http.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers sleeping through a delay
        self._http.stop()

    def put(self, secret: str, value: str) -> None:
        """Add a version to ``projects/P/secrets/S`` (it becomes ``latest``)."""
        with self._lock:
            self.secrets.setdefault(secret, []).append(value)

    def fail_next(self, *statuses: int) -> None:
        with self._lock:
            self._failures.extend(statuses)

    def reset(self) -> None:
        with self._lock:
            self.secrets.clear()
            self.accesses.clear()
            self._failures.clear()
        self.delay = 0.0

    def _answer(self, name: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.accesses.append(name)
            if self._failures:
                status = self._failures.popleft()
                return status, _error(status)
            secret, _, version = name.rpartition("/versions/")
            versions = self.secrets.get(secret)
            if not versions:
                return 404, _error(404)
            index = len(versions) if version == "latest" else int(version) if version.isdigit() else 0
            if not 1 <= index <= len(versions):
                return 404, _error(404)
            data = versions[index - 1].encode()
        return 200, {
            "name": f"{secret}/versions/{index}",
            "payload": {"data": base64.b64encode(data).decode(), "dataCrc32c": str(zlib.crc32(data))},
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if fake.delay and fake._stopping.wait(fake.delay):
                    return
                match = ACCESS.match(self.path.partition("?")[0])
                status, body = fake._answer(match["name"]) if match else (404, _error(404))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET

        return Handler


def _error(status: int) -> dict[str, Any]:
    return {"error": {"code": status, "message": "scripted failure", "status": STATUS_NAMES.get(status, "UNKNOWN")}}
