"""Server-sent events: a turn's events as ``delta`` frames, then one ``done`` or one ``error``.

A stream's status is sent before its reply is known, so an error after the first frame
travels as an ``error`` frame with the status the JSON answer would have had.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

from .errors import ChatError, error_body
from .logs import request_context
from .service import Delta, Done, Event

log = logging.getLogger(__name__)

# JSON leaves these unescaped, but line-splitting SSE clients (Python's str.splitlines, so
# requests' iter_lines, and several mobile libraries) break a data line at them.
SSE_LINE_BREAKS = str.maketrans({"\u0085": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def final_payload(events: Iterator[Event]) -> dict[str, Any]:
    """The ``done`` payload of a turn answered as one JSON body; ``ChatError`` (500) if it never came."""
    for event in events:
        if isinstance(event, Done):
            return event.payload
    raise ChatError()


def sse_stream(first: Event, events: Iterator[Event]) -> Iterator[str]:
    """The frames of a streamed turn: ``delta`` pieces, then one ``done`` or one ``error``."""
    try:
        yield sse_event(first)
        for event in events:
            yield sse_event(event)
    except ChatError as exc:
        yield sse_frame("error", {**error_body(exc), "status": exc.status, "retry_after": exc.retry_after})
    except Exception:
        log.exception("unexpected error while streaming")
        yield sse_frame("error", {**error_body(ChatError()), "status": 500, "retry_after": None})
    finally:
        # After a disconnect, closing finishes the turn (the model and the store): a failure
        # there has no client left to tell, so it becomes one log line.
        try:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        except ChatError as exc:
            log.warning(
                "turn failed after the client disconnected", extra={"error_code": exc.code, "status": exc.status}
            )
        except Exception:
            log.exception("unexpected error after the client disconnected")


def in_log_context(context: dict[str, str] | None, frames: Iterator[str]) -> Iterator[str]:
    """Iterate ``frames`` with the request's log context set, however late the server pulls them."""
    try:
        while True:
            token = request_context.set(context)
            try:
                frame = next(frames, None)
            finally:
                request_context.reset(token)
            if frame is None:
                return
            yield frame
    finally:
        token = request_context.set(context)
        try:
            close = getattr(frames, "close", None)
            if close is not None:
                close()
        finally:
            request_context.reset(token)


def sse_event(event: Event) -> str:
    """One event's frame: ``delta`` for text, ``done`` for the answer, nothing for ``Started``."""
    if isinstance(event, Delta):
        return sse_frame("delta", {"text": event.text})
    if isinstance(event, Done):
        return sse_frame("done", event.payload)
    return ""  # Started travels as the X-Session-Id header


def sse_frame(name: str, data: dict[str, Any]) -> str:
    """``event: <name>`` and one ``data:`` line of JSON, with no raw line break a client could split at."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False).translate(SSE_LINE_BREAKS)}\n\n"
