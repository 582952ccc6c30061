"""What a new instance does before its first answer, step by step, in a fresh interpreter.

Run by ``bench.startup`` as ``python -m bench.first_request OUT.json`` with the
deployed configuration in the environment; writes {step: seconds} to OUT.json
(stdout carries the function's own log lines).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

from bench import FUNCTIONS

# Not bench.harness: it imports the test fakes, and with them modules the function would import itself.
MESSAGE = json.dumps({"message": "How do I treat a small burn on my hand?"})

STEPS = (
    "create_app (imports main.py)",
    "import firstaid_chat.model.gemini (google-genai)",
    "import firstaid_chat.store.firestore (google-cloud-firestore)",
    "runtime.get_api: build store, model, service",
    "first POST /v1/chat (key read, SDK client, connections)",
    "second POST /v1/chat (a new session too)",
)


def main(out: Path) -> None:
    timings: dict[str, float] = {}

    def step(name: str, action: Callable[[], object]) -> object:
        started = time.perf_counter()
        result = action()
        timings[name] = time.perf_counter() - started
        return result

    import functions_framework

    app = step(STEPS[0], lambda: functions_framework.create_app(target="chat", source=str(FUNCTIONS / "main.py")))
    step(STEPS[1], lambda: __import__("firstaid_chat.model.gemini"))
    step(STEPS[2], lambda: __import__("firstaid_chat.store.firestore"))
    from firstaid_chat import runtime
    from firstaid_chat.settings import Settings

    step(STEPS[3], lambda: runtime.get_api(Settings.from_env()))
    client = app.test_client()  # type: ignore[attr-defined]
    for name in STEPS[4:]:
        response = step(name, lambda: client.post("/v1/chat", data=MESSAGE, content_type="application/json"))
        if response.status_code != 200:  # type: ignore[attr-defined]
            raise RuntimeError(f"POST /v1/chat answered {response.status_code}")  # type: ignore[attr-defined]
    out.write_text(json.dumps(timings))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
