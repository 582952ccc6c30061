"""How a well-behaved client sends a message: resend while the conversation is busy, as the page does."""

from __future__ import annotations

import time
from typing import Any


def post_resending(client: Any, body: dict[str, Any], *, attempts: int = 400, pause: float = 0.05) -> tuple[Any, int]:
    """POST ``body`` to /v1/chat with a Flask test client, resending on 409 turn_in_progress.

    Returns the last response and how many times the message was refused as busy.
    """
    refused = 0
    for _ in range(attempts):
        response = client.post("/v1/chat", json=body)
        if response.status_code != 409 or response.get_json()["error"]["code"] != "turn_in_progress":
            return response, refused
        refused += 1
        time.sleep(pause)
    return response, refused
