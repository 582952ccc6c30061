"""The suite-wide guard: the sentinel key must never show up in a response, a log line or an error."""

from __future__ import annotations

SENTINEL_KEY = "AIzaFAKE-sentinel-key-never-shown-0001"
# Other keys the tests hand out (rotation tests); none may leak either.
WATCHED = [SENTINEL_KEY, "AIzaFAKE-old-key-0000000000000000000", "AIzaFAKE-new-key-1111111111111111111"]
found: list[str] = []  # leaks not yet reported by a failed test phase
reported: list[str] = []
checked = {"responses": 0, "log_texts": 0}


def check(text: str | bytes, where: str, kind: str = "responses") -> None:
    """Record a leak when any watched key is in ``text``."""
    checked[kind] += 1
    data = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    for key in WATCHED:
        if key in data:
            found.append(f"a test key appeared in {where}")
