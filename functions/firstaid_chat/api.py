"""The HTTP API: routing, CORS, request ids, responses, and errors mapped to responses.

This module, with ``chat_request`` (reading a request) and ``sse`` (writing a stream),
is all that knows about HTTP; everything it answers comes from ``ChatService``.
Every error becomes the JSON envelope from ``errors.error_body``, and anything
unexpected becomes a 500 with no detail (the stack trace goes to the log only).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import time
import uuid
from typing import Any

import flask
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, Rule

from .auth import Authenticator
from .chat_request import parse_chat_request
from .conversation import is_session_id
from .errors import (
    ChatError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    error_body,
)
from .logs import SPAN_FIELD, TRACE_FIELD, request_context
from .service import ChatService, Started, reply_language
from .settings import Settings
from .sse import final_payload, in_log_context, sse_stream

log = logging.getLogger(__name__)

ROUTES = Map(
    [
        Rule("/healthz", endpoint="health", methods=["GET"]),
        Rule("/v1/chat", endpoint="chat", methods=["POST"]),
        # The id travels in the X-Session-Id header: a path would put it in the platform's request logs.
        Rule("/v1/session", endpoint="session_by_header", methods=["GET", "DELETE"]),
        Rule("/v1/sessions/<session_id>", endpoint="session", methods=["GET", "DELETE"]),
    ],
    strict_slashes=False,
)
# Last-Event-ID and Cache-Control are what browser SSE helpers (fetch-event-source and the like) add.
CORS_ALLOW_HEADERS = (
    "Content-Type, Accept, Authorization, X-Firebase-AppCheck, X-Request-Id, X-Session-Id, Last-Event-ID, Cache-Control"
)
CORS_EXPOSE_HEADERS = "Retry-After, X-Request-Id, X-Session-Id"
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
CLOUD_TRACE = re.compile(r"^([0-9a-fA-F]{32})(?:/(\d{1,20}))?")
TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")


class ChatApi:
    """Turns a Flask request into a response, using one ChatService."""

    def __init__(self, settings: Settings, service: ChatService, auth: Authenticator | None = None) -> None:
        self.settings = settings
        self.service = service
        self.auth = auth

    def __call__(self, request: flask.Request) -> flask.Response:
        started = time.monotonic()
        request_id = _request_id(request, self.settings.google_cloud_project)
        token = request_context.set(request_id)
        try:
            try:
                response = self._dispatch(request, started)
            except ChatError as exc:
                response = _error_response(exc)
            except Exception:
                log.exception("unexpected error")
                response = _error_response(ChatError())
            response.headers["X-Request-Id"] = request_id["request_id"]
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            self._add_cors(request, response)
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": _loggable_path(request.path),
                    "status": response.status_code,
                    "latency_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )
            return response
        finally:
            request_context.reset(token)

    def framework_error(self, request: flask.Request, exc: HTTPException) -> flask.Response:
        """The JSON envelope for errors the web framework raises before the function runs.

        Flask's catch-all route does not match every path (a path with a newline, say);
        those requests never reach ``__call__`` and would otherwise get an HTML page.
        """
        mapped = {400: InvalidRequest, 404: NotFound, 405: MethodNotAllowed, 413: PayloadTooLarge}
        error = mapped.get(exc.code or 500, ChatError)()
        response = _error_response(error)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        self._add_cors(request, response)
        return response

    def _dispatch(self, request: flask.Request, started: float) -> flask.Response:
        if request.method == "OPTIONS":
            return self._preflight(request)
        try:
            endpoint, args = ROUTES.bind("", path_info=request.path).match(request.path, method=request.method)
        except WerkzeugNotFound:
            raise NotFound() from None
        except WerkzeugMethodNotAllowed as exc:
            allowed = ", ".join(sorted(set(exc.valid_methods or []) | {"OPTIONS"}))
            raise MethodNotAllowed(headers={"Allow": allowed}) from None
        if endpoint == "health":
            return _json({"status": "ok"})
        if self.auth is not None:
            self.auth.verify(request)
        if endpoint == "chat":
            return self._chat(request, started)
        if endpoint == "session_by_header":
            session_id = _session_id(request.headers.get("X-Session-Id", ""), "the X-Session-Id header")
        else:
            session_id = _session_id(args["session_id"])
        if request.method == "DELETE":
            self.service.erase(session_id)
            return _empty()
        transcript = _transcript(session_id, self.service.transcript(session_id))
        response = _json({**transcript, "emergency_number": self.settings.emergency_number})
        response.vary.add("X-Session-Id")
        return response

    def _chat(self, request: flask.Request, started: float) -> flask.Response:
        chat_request = parse_chat_request(request, self.settings)
        client = _client_address(request)
        events = self.service.turn(chat_request, client=client, started=started)
        accepted = next(events)
        assert isinstance(accepted, Started)
        # Sent before any text, so a client that stops or loses the stream still knows its session.
        headers = {"X-Session-Id": accepted.session_id}
        wants_stream = request.accept_mimetypes.best_match(["application/json", "text/event-stream"]) == (
            "text/event-stream"
        )
        if not wants_stream:
            response = _json(final_payload(events))
            response.headers.update(headers)
            return response
        first = next(events)  # a model that fails before its first word still gets a status code
        return flask.Response(
            in_log_context(request_context.get(), sse_stream(first, events)),
            status=200,
            mimetype="text/event-stream",
            headers={**headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    def _preflight(self, request: flask.Request) -> flask.Response:
        try:
            ROUTES.bind("", path_info=request.path).match(request.path, method="GET")
        except WerkzeugNotFound:
            raise NotFound() from None
        except WerkzeugMethodNotAllowed:
            pass
        response = _empty()
        if self._allowed_origin(request):
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = CORS_ALLOW_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    def _allowed_origin(self, request: flask.Request) -> str | None:
        origin = request.headers.get("Origin")
        if origin and (origin in self.settings.allowed_origins or "*" in self.settings.allowed_origins):
            return origin
        return None

    def _add_cors(self, request: flask.Request, response: flask.Response) -> None:
        response.vary.add("Origin")
        origin = self._allowed_origin(request)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSE_HEADERS


def _session_id(value: str, where: str = "the path") -> str:
    if not is_session_id(value):
        raise InvalidRequest(f"There is no valid session id in {where}.", code="invalid_session_id")
    return value


def _transcript(session_id: str, turns: list[Any]) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for turn in turns:
        time_text = turn.created_at.isoformat()
        messages.append({"role": "user", "text": turn.user_text, "time": time_text, "turn": turn.seq})
        messages.append(
            {
                "role": "model",
                "text": turn.reply_text,
                "time": time_text,
                "turn": turn.seq,
                "source": turn.source,
                "emergency": turn.emergency,
                "finish_reason": turn.finish_reason,
                "language": reply_language(turn.user_text),
            }
        )
    return {"session_id": session_id, "messages": messages}


def _json(body: dict[str, Any], status: int = 200) -> flask.Response:
    return flask.Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _empty() -> flask.Response:
    """A 204 with no body and so no Content-Type (Flask would otherwise say text/html)."""
    response = flask.Response(status=204)
    del response.headers["Content-Type"]
    return response


def _error_response(exc: ChatError) -> flask.Response:
    response = _json(error_body(exc), exc.status)
    response.headers.update(exc.headers)
    return response


def _request_id(request: flask.Request, project: str | None) -> dict[str, str]:
    """The log context of a request: its id, and its trace and span in Cloud Logging's fields."""
    context = {"request_id": uuid.uuid4().hex}
    trace = span = None
    w3c = TRACEPARENT.match(request.headers.get("traceparent", "").strip())
    cloud = CLOUD_TRACE.match(request.headers.get("X-Cloud-Trace-Context", "").strip())
    if w3c:
        trace, span = w3c[1], w3c[2]
    elif cloud:
        trace, span = cloud[1], f"{int(cloud[2]):016x}" if cloud[2] else None
    if trace:
        context[TRACE_FIELD] = f"projects/{project}/traces/{trace}" if project else trace
    if span and len(span) == 16:
        context[SPAN_FIELD] = span
    return context


def _client_address(request: flask.Request) -> str:
    # Google's front end appends the caller's address last; earlier entries are the caller's own claims.
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
    return client_key(forwarded[-1] if forwarded else (request.remote_addr or "unknown"))


def client_key(address: str) -> str:
    """Who the per-client limits count: a full IPv4 address, or an IPv6 address's /64 prefix.

    One IPv6 subscriber is usually given a whole /64 and can rotate through its 2**64
    addresses at will, so counting single IPv6 addresses would hand out a fresh
    allowance per address. An IPv4-mapped IPv6 address counts as its IPv4 address.
    Anything that is not an address is counted as the text it is.
    """
    try:
        parsed = ipaddress.ip_address(address.strip("[]").split("%")[0])
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def _loggable_path(path: str) -> str:
    # Session ids are capabilities: log only a prefix.
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "v1" and parts[2] == "sessions":
        parts[3] = parts[3][:6] + "…"
    return "/".join(parts)[:200]
