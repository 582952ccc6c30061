"""Real servers for end-to-end tests: the function under functions-framework, and a static file server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests import leaks
from tests.fakes.firestore_emulator import free_port
from tests.fakes.loopback import LoopbackServer
from tests.fakes.processes import stop, wait_until_answering

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_SECONDS = 30


def function_env(gemini_url: str, **overrides: str) -> dict[str, str]:
    """Settings for a function server answering from the fake Gemini, rate limits off (tests set their own)."""
    return {
        "GOOGLE_GEMINI_BASE_URL": gemini_url,
        "GEMINI_API_KEY": leaks.SENTINEL_KEY,
        "MODEL_PROVIDER": "gemini",
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_CLIENT_PER_MINUTE": "0",
        "CLIENT_CONCURRENT_TURNS": "0",
        "DAILY_TOKEN_BUDGET": "0",
        **overrides,
    }


class FunctionServer:
    """``functions-framework --target chat`` in its own process (gunicorn, as deployed), on loopback."""

    def __init__(self, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        """Start the process without waiting for it to answer."""
        executable = Path(sys.executable).with_name("functions-framework")
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                str(executable),
                "--target=chat",
                f"--source={ROOT / 'functions' / 'main.py'}",
                "--host=127.0.0.1",
                f"--port={self.port}",
            ],
            cwd=ROOT / "functions",
            env={**os.environ, **self.env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def start(self) -> FunctionServer:
        self.spawn()
        assert self.process is not None
        try:
            wait_until_answering(self.process, f"{self.url}/healthz", START_TIMEOUT_SECONDS, "functions-framework")
        except RuntimeError as exc:
            self.stop()
            raise RuntimeError(f"{exc}: {self.logs()[-2000:]}") from None
        return self

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        """The server's JSON log lines, parsed (lines that are not JSON objects, e.g. gunicorn's, left out)."""
        records = []
        for line in self.logs().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def request_statuses(self) -> list[int]:
        """The status of every request the function answered, from its ``request`` log records."""
        return [record["status"] for record in self.log_records() if record.get("message") == "request"]

    def unexpected_errors(self) -> list[str]:
        """Messages of ERROR records: unexpected exceptions, before or during a stream (a 500 or its event)."""
        return [record["message"] for record in self.log_records() if record.get("severity") in ("ERROR", "CRITICAL")]

    def stop(self) -> None:
        stop(self.process)
        self.process = None
        if hasattr(self, "_log"):
            self._log.close()
            leaks.check(self.logs(), "the function server's logs", "log_texts")

    def __enter__(self) -> FunctionServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


class StaticServer:
    """Serves a folder on its own loopback origin, in a thread."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        handler = partial(_QuietHandler, directory=str(directory))
        self._http = LoopbackServer(handler, port)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return self._http.url

    def start(self) -> StaticServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()


class _QuietHandler(SimpleHTTPRequestHandler):
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass
