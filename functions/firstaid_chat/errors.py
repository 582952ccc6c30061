"""The service's errors, each carrying the HTTP status and stable code a client sees.

    ChatError                      500 internal_error (never raised for client input)
    ├── InvalidRequest             400 invalid_request / invalid_json / invalid_session_id
    ├── Unauthorized               401 unauthorized
    ├── NotFound                   404 not_found / session_not_found
    ├── MethodNotAllowed           405 method_not_allowed
    ├── TurnInProgress             409 turn_in_progress (with Retry-After)
    ├── ClientMessageIdReused      409 client_message_id_reused
    ├── TurnSuperseded             409 turn_superseded
    ├── PayloadTooLarge            413 payload_too_large / message_too_long
    ├── UnsupportedMediaType       415 unsupported_media_type
    ├── RateLimited                429 rate_limited (with Retry-After)
    ├── UpstreamError              502 upstream_error
    │   ├── ModelNoReply           502 upstream_error (answered, but no usable reply text)
    │   ├── ModelRateLimited       429 model_busy (with Retry-After)
    │   ├── ModelUnavailable       503 model_unavailable
    │   └── ModelTimeout           504 model_timeout
    ├── StoreUnavailable           503 store_unavailable
    └── KeyUnavailable             503 key_unavailable

`error_body` is the one place that turns any of them into the JSON envelope.
Messages are written for the person using the app: they never carry upstream
error text, stack traces or configuration values.
"""

from __future__ import annotations

from typing import Any


class ChatError(Exception):
    """Base of every error the service reports to a client."""

    status = 500
    code = "internal_error"
    default_message = "Something went wrong on our side. Please try again."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if code is not None:
            self.code = code
        self.retry_after = retry_after
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(max(1, int(retry_after)))
        super().__init__(self.message)


class InvalidRequest(ChatError):
    status = 400
    code = "invalid_request"
    default_message = "The request is not valid."


class Unauthorized(ChatError):
    status = 401
    code = "unauthorized"
    default_message = "A valid app token is required."


class NotFound(ChatError):
    status = 404
    code = "not_found"
    default_message = "Nothing is here."


class SessionNotFound(NotFound):
    code = "session_not_found"
    default_message = "This conversation does not exist or has expired. Start a new one."


class MethodNotAllowed(ChatError):
    status = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed here."


class TurnInProgress(ChatError):
    """Another message of this conversation is still being answered; retry after it is stored."""

    status = 409
    code = "turn_in_progress"
    default_message = "The previous message is still being answered. Send this one again in a moment."


class ClientMessageIdReused(ChatError):
    """A client message id already stored with different text: a client bug, never a retry."""

    status = 409
    code = "client_message_id_reused"
    default_message = "This message id was already used for a different message. Send it with a new id."


class TurnSuperseded(ChatError):
    """A retry of this very message took over while it was being answered; the retry answers it."""

    status = 409
    code = "turn_superseded"
    default_message = "This message was sent again; the newer request answers it."


class PayloadTooLarge(ChatError):
    status = 413
    code = "payload_too_large"
    default_message = "The request is too large."


class UnsupportedMediaType(ChatError):
    status = 415
    code = "unsupported_media_type"
    default_message = "Send the request as JSON (Content-Type: application/json)."


class RateLimited(ChatError):
    status = 429
    code = "rate_limited"
    default_message = "Too many messages in a short time. Please wait a moment and try again."


class UpstreamError(ChatError):
    """The model service failed in a way a retry is unlikely to fix."""

    status = 502
    code = "upstream_error"
    default_message = "The assistant could not answer this time. Please try again."


class ModelNoReply(UpstreamError):
    """The model answered, but with no usable reply: unparseable, empty, thoughts only or unfinished."""


class ModelRateLimited(UpstreamError):
    status = 429
    code = "model_busy"
    default_message = "The assistant is busy right now. Please try again shortly."


class ModelUnavailable(UpstreamError):
    status = 503
    code = "model_unavailable"
    default_message = "The assistant is temporarily unavailable. Please try again shortly."


class ModelTimeout(UpstreamError):
    status = 504
    code = "model_timeout"
    default_message = "The assistant took too long to answer. Please try again."


class StoreUnavailable(ChatError):
    status = 503
    code = "store_unavailable"
    default_message = "Conversations cannot be saved right now. Your message was not stored; please try again."


class KeyUnavailable(ChatError):
    status = 503
    code = "key_unavailable"
    default_message = "The assistant is not available right now. Please try again shortly."


def error_body(error: ChatError) -> dict[str, Any]:
    """The JSON envelope every error response carries."""
    return {"error": {"code": error.code, "message": error.message}}
