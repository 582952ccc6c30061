"""Reading a chat request: its media type, its body within the size limit, its JSON and its fields.

Each problem raises the matching ``ChatError`` (415, 413 or 400 with a code that says which),
and nothing is stored before a request has passed every check here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import flask

from .conversation import CLIENT_MESSAGE_ID_PATTERN, is_session_id
from .errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from .service import ChatRequest
from .settings import Settings

CHAT_FIELDS = frozenset({"message", "session_id", "client_message_id"})
# The most bytes one character of a message can take in a JSON body: an astral character
# escaped as a surrogate pair, "\ud83d\ude00". Plus room for the other fields, escaped too.
MAX_JSON_BYTES_PER_CHAR = 12
BODY_OVERHEAD_BYTES = 4096
UNPAIRED_SURROGATE = re.compile("[\ud800-\udfff]")  # JSON escapes like "\ud800" decode to these alone


def parse_chat_request(request: flask.Request, settings: Settings) -> ChatRequest:
    """Validate a chat request's headers and body; raise the matching ChatError."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType()
    data = _parse_json(_read_body(request, body_limit(settings)))
    return validate_chat_fields(data, settings.max_message_chars)


def body_limit(settings: Settings) -> int:
    """MAX_BODY_BYTES, raised when needed so any message within MAX_MESSAGE_CHARS fits however it is escaped."""
    return max(settings.max_body_bytes, settings.max_message_chars * MAX_JSON_BYTES_PER_CHAR + BODY_OVERHEAD_BYTES)


def validate_chat_fields(data: Any, max_message_chars: int) -> ChatRequest:
    """Check a decoded chat body's fields (a plain function so tests can drive it directly)."""
    if not isinstance(data, dict):
        raise InvalidRequest("The body must be a JSON object.")
    unknown = sorted(set(data) - CHAT_FIELDS)
    if unknown:
        raise InvalidRequest(
            f"Unknown field: {unknown[0][:40]!r}. Send message, session_id and client_message_id only."
        )
    message = data.get("message")
    if not isinstance(message, str):
        raise InvalidRequest("'message' is required and must be a string.")
    if "\x00" in message:
        raise InvalidRequest("'message' contains characters that are not valid text.")
    if len(message) > max_message_chars:  # before trimming, as openapi.yaml's maxLength counts
        raise PayloadTooLarge(
            f"The message is too long: keep it to {max_message_chars} characters at most.", code="message_too_long"
        )
    # Half of a surrogate pair (a client that cut an emoji in two) cannot be stored as UTF-8:
    # it becomes U+FFFD, so the message is kept, and the check matches openapi.yaml's pattern.
    message = UNPAIRED_SURROGATE.sub("\ufffd", message).strip()
    if not message:
        raise InvalidRequest("'message' must not be empty.")
    session_id = data.get("session_id")
    if session_id is not None and (not isinstance(session_id, str) or not is_session_id(session_id)):
        raise InvalidRequest("'session_id' is not a valid session id.", code="invalid_session_id")
    client_message_id = data.get("client_message_id")
    if client_message_id is not None and (
        not isinstance(client_message_id, str) or not CLIENT_MESSAGE_ID_PATTERN.match(client_message_id)
    ):
        raise InvalidRequest("'client_message_id' must be 1 to 128 letters, digits or . _ : -")
    return ChatRequest(message=message, session_id=session_id, client_message_id=client_message_id)


def _read_body(request: flask.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"The request body is too large: the limit is {limit} bytes.")
    body: bytes = request.stream.read(limit + 1)
    if len(body) > limit:
        raise PayloadTooLarge(f"The request body is too large: the limit is {limit} bytes.")
    return body


def _parse_json(body: bytes) -> Any:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequest("The body is not valid UTF-8.", code="invalid_json") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except (json.JSONDecodeError, RecursionError, ValueError):
        raise InvalidRequest("The body is not valid JSON.", code="invalid_json") from None


def _reject_constant(name: str) -> Any:
    """NaN and Infinity are not JSON (RFC 8259), though Python's parser accepts them."""
    raise ValueError(name)
