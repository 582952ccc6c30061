"""Stream a first-aid chat reply with httpx and httpx-sse (pip install httpx httpx-sse).

    python stream_chat.py http://127.0.0.1:8080 "How do I treat a burn?"

``stream_chat`` sends one message with ``Accept: text/event-stream`` and handles everything the
API can answer (openapi.yaml): the ``X-Session-Id`` header before the first word, ``delta``
events, one ``done`` or one ``error`` event, and an error status with a JSON body (and
``Retry-After`` on 429) when the turn fails before the stream begins. Retry a failed message with
the same ``client_message_id``: the server never stores it twice.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from httpx_sse import connect_sse


class ChatFailed(Exception):
    """The turn failed: ``status`` is the HTTP status (0 if the stream was cut off), ``code`` the API's
    error code, ``retry_after`` the seconds to wait before retrying, when the server said so."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.retry_after = retry_after


def stream_chat(
    client: httpx.Client,
    message: str,
    *,
    session_id: str | None = None,
    client_message_id: str | None = None,
    on_session: Callable[[str], None] = lambda session_id: None,
    on_delta: Callable[[str], None] = lambda text: None,
) -> dict[str, Any]:
    """Send ``message`` and stream the reply; return the ``done`` payload (the API's ChatReply).

    ``on_session`` gets the conversation's id before the first word (if the connection is lost, the
    reply is still stored under it); ``on_delta`` gets each piece of the reply as it arrives.
    Raises ``ChatFailed``.
    """
    body = {"message": message, "session_id": session_id, "client_message_id": client_message_id}
    with connect_sse(client, "POST", "/v1/chat", json=body) as source:
        response = source.response
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("text/event-stream"):
            raise _failure_from(response)
        on_session(response.headers["X-Session-Id"])
        for event in source.iter_sse():
            data = json.loads(event.data)
            if event.event == "delta":
                on_delta(data["text"])
            elif event.event == "done":
                return dict(data)
            elif event.event == "error":
                error = data["error"]
                raise ChatFailed(data["status"], error["code"], error["message"], data.get("retry_after"))
            # Any other event name is one this client does not know yet: ignore it.
    raise ChatFailed(0, "stream_cut", "The reply broke off before it finished; retry with the same client_message_id.")


def _failure_from(response: httpx.Response) -> ChatFailed:
    response.read()
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):  # not the API's JSON (a proxy's error page, say)
        code, message = "http_error", f"The server answered {response.status_code}."
    retry_after = response.headers.get("Retry-After", "")
    return ChatFailed(response.status_code, code, message, int(retry_after) if retry_after.isdigit() else None)


def main(base_url: str, message: str) -> int:
    """Send one message, print the reply as it streams, and retry once when the server says when."""
    client_message_id = uuid.uuid4().hex  # the same id on the retry: the message is never stored twice
    with httpx.Client(base_url=base_url, timeout=httpx.Timeout(10.0, read=60.0)) as client:
        for attempt in (1, 2):
            try:
                reply = stream_chat(
                    client, message, client_message_id=client_message_id,
                    on_delta=lambda text: print(text, end="", flush=True),
                )  # fmt: skip
            except ChatFailed as failed:
                if attempt == 1 and failed.retry_after is not None and failed.retry_after <= 30:
                    print(f"\n[{failed.code}: retrying in {failed.retry_after} s]", file=sys.stderr)
                    time.sleep(failed.retry_after)
                    continue
                print(f"\n[{failed.status} {failed.code}] {failed}", file=sys.stderr)
                return 1
            print(f"\n[session {reply['session_id'][:6]}…, turn {reply['turn']}, source {reply['source']}]")
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
