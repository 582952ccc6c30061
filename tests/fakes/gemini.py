"""A local Gemini API server speaking the REST wire format, for tests and benchmarks.

It answers ``models/{model}:generateContent`` and
``models/{model}:streamGenerateContent?alt=sse`` the way the real service
does, from a queue of scripted behaviours (replies, streamed chunks, error
bodies, blocked responses, slow or hanging answers, streams that break off,
thought parts, streams that end without a finish reason, 429s carrying
``RetryInfo``, and raw bytes no parser accepts), and records every request it
was sent. Point the real google-genai SDK at it
with ``GOOGLE_GEMINI_BASE_URL``.

Run it alone with ``python -m tests.fakes.gemini --port 8090 --latency 0.5``.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer

# The Gemini Developer API's path, or Vertex AI's, which names the project and location.
PATH = re.compile(
    r"^/(?P<version>v\w+)/(?:projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/publishers/google/)?"
    r"models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)$"
)
MAX_HANG_SECONDS = 30.0


@dataclass
class Behaviour:
    """What the fake does for one request."""

    chunks: list[str] = field(default_factory=lambda: ["Fake ", "reply."])
    finish_reason: str | None = "STOP"
    block_reason: str | None = None  # promptFeedback.blockReason: the prompt itself was blocked
    status: int = 200
    error_body: str | None = None  # sent as is with ``status`` (JSON or not)
    headers: dict[str, str] = field(default_factory=dict)
    first_delay: float = 0.0  # seconds before the first byte of the answer
    chunk_interval: float = 0.0  # seconds between streamed chunks
    break_after: int | None = None  # drop the connection after this many chunks
    thoughts: list[str] = field(default_factory=list)  # thought parts (``"thought": true``) sent before the text
    thoughts_tokens: int = 0  # usageMetadata.thoughtsTokenCount
    raw: bytes | None = None  # sent as the whole 200 body, byte for byte, instead of a well-formed answer
    raw_content_type: str = "text/event-stream"


def error(
    status: int, message: str = "error", status_name: str = "UNAVAILABLE", reason: str | None = None
) -> Behaviour:
    """A Google-style JSON error response."""
    body: dict[str, Any] = {"error": {"code": status, "message": message, "status": status_name}}
    if reason:
        body["error"]["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return Behaviour(status=status, error_body=json.dumps(body))


def rate_limited(retry_delay: str) -> Behaviour:
    """A 429 whose ``google.rpc.RetryInfo`` asks the caller to wait ``retry_delay`` (e.g. ``"53s"``)."""
    body = {
        "error": {
            "code": 429,
            "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaId": "fake"}]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay},
            ],
        }
    }
    return Behaviour(status=429, error_body=json.dumps(body))


def raw(body: bytes, content_type: str = "text/event-stream") -> Behaviour:
    """A 200 answer of exactly these bytes: what a misbehaving proxy or a captive portal sends."""
    return Behaviour(raw=body, raw_content_type=content_type)


def sse_without_space(text: str) -> Behaviour:
    """A stream whose events read ``data:{...}`` with no space after the colon."""
    event = {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]}
    return raw(b"data:" + json.dumps(event).encode() + b"\r\n\r\n")


def thoughts_only(limit: int = 1024) -> Behaviour:
    """A candidate that spent the whole output budget thinking: thought parts, no text, MAX_TOKENS."""
    return Behaviour(
        chunks=[""], thoughts=["Let me think about this."], thoughts_tokens=limit, finish_reason="MAX_TOKENS"
    )


def invalid_key() -> Behaviour:
    return error(400, "API key not valid. Please pass a valid API key.", "INVALID_ARGUMENT", "API_KEY_INVALID")


@dataclass
class Recorded:
    method: str
    model: str
    body: dict[str, Any]
    api_key: str | None
    at: float
    authorization: str | None = None  # the Authorization header (Vertex AI's OAuth access token)
    project: str | None = None  # from a Vertex AI path
    location: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # every request header, names lowercased

    @property
    def message(self) -> str:
        """The text of the last user content sent."""
        parts = self.body["contents"][-1]["parts"]
        return "".join(p.get("text", "") for p in parts)


class FakeGemini:
    """The server plus its script; use as a context manager or call start()/stop()."""

    def __init__(self, *, default: Behaviour | None = None, port: int = 0) -> None:
        self.default = default or Behaviour()
        self.echo = True  # default replies repeat the user's message, with the default's timing
        self.valid_keys: set[str] | None = None  # None accepts any key
        self.requests: list[Recorded] = []
        self.abandoned = 0  # streams the client closed before their last chunk (a write failed)
        self._queue: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = LoopbackServer(self._handler(), port)

    @property
    def base_url(self) -> str:
        return self._http.url

    def start(self) -> FakeGemini:
        self._http.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # releases handlers that are sleeping through a scripted delay
        self._http.stop()

    def __enter__(self) -> FakeGemini:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._queue.extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.abandoned = 0
        self.default = Behaviour()
        self.echo = True
        self.valid_keys = None

    def _rejection(self, recorded: Recorded) -> Behaviour | None:
        """The error answered instead of the script when the request's credentials are refused."""
        if self.valid_keys is not None and recorded.api_key not in self.valid_keys:
            return invalid_key()
        return None

    def _next(self, recorded: Recorded) -> Behaviour:
        with self._lock:
            self.requests.append(recorded)
            if self._queue:
                return self._queue.popleft()
        if not self.echo:
            return self.default
        words = f"Fake reply to: {recorded.message[:200]}".split(" ")
        return replace(self.default, chunks=[w + " " for w in words[:-1]] + [words[-1]])

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; False when it is."""
        return not self._stopping.wait(min(seconds, MAX_HANG_SECONDS))

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                path, _, query = self.path.partition("?")
                match = PATH.match(path)
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if match is None:
                    self._send(404, json.dumps({"error": {"code": 404, "message": "not found", "status": "NOT_FOUND"}}))
                    return
                recorded = Recorded(
                    method=match["method"],
                    model=match["model"],
                    body=json.loads(raw or b"{}"),
                    api_key=self.headers.get("x-goog-api-key"),
                    at=time.monotonic(),
                    authorization=self.headers.get("Authorization"),
                    project=match["project"],
                    location=match["location"],
                    headers={name.lower(): value for name, value in self.headers.items()},
                )
                behaviour = fake._next(recorded)
                behaviour = fake._rejection(recorded) or behaviour
                if behaviour.first_delay and not fake._sleep(behaviour.first_delay):
                    return
                if behaviour.status != 200:
                    self._send(behaviour.status, behaviour.error_body or "", behaviour.headers)
                    return
                if behaviour.raw is not None:
                    self._send_raw(behaviour.raw, behaviour.raw_content_type)
                    return
                if match["method"] == "streamGenerateContent" and "alt=sse" in query:
                    self._stream(behaviour)
                else:
                    answer = _response(behaviour, "".join(behaviour.chunks), True, thoughts=behaviour.thoughts)
                    self._send(200, json.dumps(answer))

            def _send(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
                data = body.encode()
                self.send_response(status)
                content_type = "application/json" if body.startswith("{") else "text/html"
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _send_raw(self, data: bytes, content_type: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _stream(self, behaviour: Behaviour) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunks = behaviour.chunks or [""]
                for index, text in enumerate(chunks):
                    if behaviour.break_after is not None and index >= behaviour.break_after:
                        self.close_connection = True
                        self.wfile.flush()
                        self.connection.shutdown(2)
                        return
                    if index and behaviour.chunk_interval and not fake._sleep(behaviour.chunk_interval):
                        return
                    last = index == len(chunks) - 1
                    answer = _response(behaviour, text, last, thoughts=behaviour.thoughts if index == 0 else [])
                    event = f"data: {json.dumps(answer)}\r\n\r\n".encode()
                    try:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
                        self.wfile.flush()
                    except OSError:
                        with fake._lock:
                            fake.abandoned += 1
                        return
                self.wfile.write(b"0\r\n\r\n")

        return Handler


def _response(behaviour: Behaviour, text: str, last: bool, thoughts: list[str] | None = None) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": 12,
        "candidatesTokenCount": max(1, len(text) // 4),
        "totalTokenCount": 12 + len(text) // 4 + behaviour.thoughts_tokens,
    }
    if behaviour.thoughts_tokens:
        usage["thoughtsTokenCount"] = behaviour.thoughts_tokens
    if behaviour.block_reason:
        return {"promptFeedback": {"blockReason": behaviour.block_reason}, "usageMetadata": usage}
    parts: list[dict[str, Any]] = [{"text": t, "thought": True} for t in thoughts or []]
    if text:
        parts.append({"text": text})
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if last and behaviour.finish_reason:
        candidate["finishReason"] = behaviour.finish_reason
    return {"candidates": [candidate], "usageMetadata": usage, "modelVersion": "fake"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds before the first chunk")
    parser.add_argument("--interval", type=float, default=0.05, help="seconds between chunks")
    args = parser.parse_args()
    fake = FakeGemini(port=args.port, default=Behaviour(first_delay=args.latency, chunk_interval=args.interval))
    print(f"fake Gemini on {fake.base_url}", flush=True)
    fake.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()


if __name__ == "__main__":
    main()
