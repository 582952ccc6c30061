"""Structured JSON log lines that Cloud Logging reads as severity, trace and fields.

Message text is never logged, nor the key: only what the service chooses to
put in a record's ``extra`` fields and the record's own message. Stack traces
keep the frames and the exception types but not the exceptions' text (nor
source lines), because an SDK error can quote the model's reply.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import traceback
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

# The field Cloud Logging correlates a line with its request's trace by, and the span's.
TRACE_FIELD = "logging.googleapis.com/trace"
SPAN_FIELD = "logging.googleapis.com/spanId"

# Fields of the request being served (request id, trace), added to every log line it writes.
request_context: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar("request_context", default=None)

_STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object a line, in the shape Cloud Logging's agent parses."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "logger": record.name,
        }
        entry.update(request_context.get() or {})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The stack trace goes to the log (for the operator), never to a client.
            entry["stack_trace"] = stack_without_text(record.exc_info)
        return json.dumps(entry, default=str)


def stack_without_text(
    exc_info: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None],
) -> str:
    """A Python-style traceback (causes first) with frames and exception types, no messages or source lines."""
    if exc_info[1] is None:
        return ""
    blocks: list[str] = []
    summary: traceback.TracebackException | None = traceback.TracebackException(
        type(exc_info[1]), exc_info[1], exc_info[2], lookup_lines=False
    )
    seen: set[int] = set()
    while summary is not None and id(summary) not in seen:
        seen.add(id(summary))
        frames = "".join(f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in summary.stack)
        kind = summary.exc_type
        name = f"{kind.__module__}.{kind.__qualname__}" if kind is not None else "Exception"
        blocks.append(f"Traceback (most recent call last):\n{frames}{name}: (text withheld)\n")
        summary = summary.__cause__ or (None if summary.__suppress_context__ else summary.__context__)
    return "\nThe above exception was the direct cause of, or occurred while handling:\n\n".join(reversed(blocks))


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at the time (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(level: str) -> None:
    """Send the service's logs to stdout as JSON; quiet the HTTP libraries' request logs."""
    handler = _StdoutHandler()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("firstaid_chat")
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    for noisy in ("httpx", "httpx2", "httpcore", "google_genai", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
