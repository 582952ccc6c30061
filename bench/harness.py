"""The moving parts of a benchmark run: fakes, the emulator, the function in process or as a server, clients.

Nothing here measures anything by itself; ``bench.figures`` and ``bench.startup``
use these pieces and decide what to time.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import FUNCTIONS
from tests.fakes.firestore_emulator import FirestoreEmulator, jar_path
from tests.fakes.gemini import Behaviour, FakeGemini
from tests.fakes.secret_manager import FakeSecretManager
from tests.servers import FunctionServer

BENCH_KEY = "AIzaBENCH-not-a-real-key-0001"
PROJECT = "demo-bench"
SECRET = f"projects/{PROJECT}/secrets/gemini-api-key"
# A plain first-aid question: no emergency lead, so the first delta is the model's own text.
MESSAGE = "How do I treat a small burn on my hand?"
# Seeded turns are about 2 KB, a typical question and a typical model answer.
SEED_USER = "My daughter touched the oven door and has a red patch on two fingers, what should I do next?"
SEED_REPLY = (
    "Cool the burn under cool running water for at least 20 minutes. Remove rings or anything tight "
    "before it swells. Do not use ice, butter or creams. Cover it loosely with cling film or a clean "
    "non-fluffy dressing. Give pain relief suitable for her age if needed. "
) * 7


def _pieces(text: str, count: int) -> tuple[str, ...]:
    words = text.split(" ")
    size = -(-len(words) // count)
    return tuple(
        " ".join(words[i : i + size]) + (" " if i + size < len(words) else "") for i in range(0, len(words), size)
    )


# The fake model's reply: a typical first-aid answer (about 1.9 KB) streamed in ten chunks, so that
# measured turns are stored and resent as history like real ones.
REPLY_CHUNKS = _pieces(SEED_REPLY.strip(), 10)


def model_reply(first_delay: float, chunk_interval: float) -> Behaviour:
    """How the fake model answers every request: REPLY_CHUNKS with the given latency and pace."""
    return Behaviour(chunks=list(REPLY_CHUNKS), first_delay=first_delay, chunk_interval=chunk_interval)


# Turns at the end of a seeded conversation written with the store's usual inline tail.
SEED_FULL_TAIL_TURNS = 50
# Settings that would change what is measured if inherited from the caller's shell.
_SCRUBBED = (
    "GEMINI_",
    "GOOGLE_GEMINI",
    "CHAT_STORE",
    "MODEL_PROVIDER",
    "FALLBACK",
    "FIRESTORE_",
    "GOOGLE_CLOUD_PROJECT",
    "GCLOUD_PROJECT",
    "SECRET_MANAGER_",
    "RATE_LIMIT_",
    "CLIENT_CONCURRENT_TURNS",
    "DAILY_TOKEN_BUDGET",
    "TOKEN_BUDGET_",
    "AUTH_MODE",
    "FIREBASE_",
    "SQLITE_PATH",
    "HISTORY_BUDGET",
    "THREADS",
    "WORKERS",
    "LOG_LEVEL",
    "GOOGLE_APPLICATION_CREDENTIALS",
)


class BenchError(RuntimeError):
    """A run could not be measured (a server answered with an error, a process did not start)."""


_STARTED = time.monotonic()


def progress(text: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:5.0f}s] {text}", file=sys.stderr, flush=True)


def scrub_environ() -> None:
    """Drop inherited settings so every configuration is exactly what the benchmark says."""
    for name in list(os.environ):
        if name.startswith(_SCRUBBED):
            del os.environ[name]


@contextlib.contextmanager
def environ(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block (in-process runs read os.environ)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class Backends:
    """The outside systems the function talks to, all local."""

    gemini: FakeGemini
    secrets: FakeSecretManager
    emulator: FirestoreEmulator | None
    workdir: Path
    stores: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.stores = ("sqlite", "firestore") if self.emulator else ("sqlite",)

    def env(self, store: str, **overrides: str) -> dict[str, str]:
        """Settings for one configuration: Gemini via the fake, limits off, the given store."""
        env = {
            "MODEL_PROVIDER": "gemini",
            "GEMINI_API_KEY": BENCH_KEY,
            "GOOGLE_GEMINI_BASE_URL": self.gemini.base_url,
            "RATE_LIMIT_SESSION_PER_MINUTE": "0",
            "RATE_LIMIT_CLIENT_PER_MINUTE": "0",
            "CLIENT_CONCURRENT_TURNS": "0",
            "DAILY_TOKEN_BUDGET": "0",
            "LOG_LEVEL": "INFO",
            "CHAT_STORE": store,
            "SQLITE_PATH": str(self.workdir / "chat.sqlite3"),
        }
        if store == "firestore":
            if self.emulator is None:
                raise BenchError("the Firestore emulator is not available")
            env |= {"FIRESTORE_EMULATOR_HOST": self.emulator.host, "GOOGLE_CLOUD_PROJECT": PROJECT}
        env |= overrides
        return env

    def secret_env(self, store: str, **overrides: str) -> dict[str, str]:
        """Like ``env``, with the key read from the fake Secret Manager instead of the environment."""
        self.secrets.put(SECRET, BENCH_KEY)
        env = self.env(store, **overrides)
        del env["GEMINI_API_KEY"]
        env |= {"GEMINI_API_KEY_SECRET": f"{SECRET}/versions/latest", "SECRET_MANAGER_ENDPOINT": self.secrets.endpoint}
        return env


@contextlib.contextmanager
def backends(workdir: Path, pace: Behaviour) -> Iterator[Backends]:
    """Start the fake Gemini, the fake Secret Manager and (when installed) the Firestore emulator."""
    with contextlib.ExitStack() as stack:
        gemini = FakeGemini(default=pace)
        secrets = FakeSecretManager()
        gemini.echo = False  # every request gets ``pace`` as it is (REPLY_CHUNKS, see model_reply)
        stack.enter_context(gemini)
        secrets.start()
        stack.callback(secrets.stop)
        emulator = None
        jar = jar_path()
        if jar is None:
            progress("Firestore emulator or java not installed: Firestore figures are skipped")
        else:
            progress("starting the Firestore emulator")
            emulator = FirestoreEmulator(jar).start()
            stack.callback(emulator.stop)
            emulator.clear(PROJECT)
        yield Backends(gemini=gemini, secrets=secrets, emulator=emulator, workdir=workdir)


@contextlib.contextmanager
def paced(fake: FakeGemini, behaviour: Behaviour) -> Iterator[None]:
    """Answer with another latency and streaming pace for the duration of a block."""
    saved = fake.default
    fake.default = behaviour
    try:
        yield
    finally:
        fake.default = saved


def chat_body(message: str, session_id: str | None) -> bytes:
    body: dict[str, str] = {"message": message, "client_message_id": uuid.uuid4().hex}
    if session_id is not None:
        body["session_id"] = session_id
    return json.dumps(body).encode()


@dataclass(frozen=True)
class TurnResult:
    """One answered chat request as the client saw it."""

    seconds: float
    payload: dict[str, Any]
    cpu_seconds: float | None = None  # the serving thread's CPU time (in process only)

    @property
    def session_id(self) -> str:
        return str(self.payload["session_id"])


@dataclass(frozen=True)
class StreamResult:
    """One streamed chat request: when it was sent, when the first delta and the end arrived."""

    sent_at: float
    first_delta_at: float
    done_at: float
    payload: dict[str, Any]


class InProcessApp:
    """The function built as functions-framework builds it, driven through Flask's test client."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = dict(env)
        self._stack = contextlib.ExitStack()
        self._client: Any = None
        self.api: Any = None

    def __enter__(self) -> InProcessApp:
        import functions_framework
        from firstaid_chat import runtime
        from firstaid_chat.settings import Settings

        stack = self._stack
        stack.enter_context(environ(self.env))
        # The function logs a JSON line per request to stdout; keep them out of the report.
        devnull = stack.enter_context(open(os.devnull, "w"))
        stack.enter_context(contextlib.redirect_stdout(devnull))
        runtime.reset()
        stack.callback(runtime.reset)
        app = functions_framework.create_app(target="chat", source=str(FUNCTIONS / "main.py"))
        self._client = app.test_client()
        # main.chat calls runtime.get_api, which returns this same instance.
        self.api = runtime.get_api(Settings.from_env())
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def chat(self, message: str, session_id: str | None = None) -> TurnResult:
        body = chat_body(message, session_id)
        cpu = time.thread_time()
        started = time.monotonic()
        response = self._client.post("/v1/chat", data=body, content_type="application/json")
        data = response.get_data()
        seconds = time.monotonic() - started
        cpu = time.thread_time() - cpu
        if response.status_code != 200:
            raise BenchError(f"POST /v1/chat answered {response.status_code}: {data[:300]!r}")
        return TurnResult(seconds, json.loads(data), cpu)


class ChatClient:
    """One keep-alive HTTP/1.1 connection to a running function, as one app user would hold."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ChatClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> http.client.HTTPResponse:
        # A kept-alive connection the server has closed fails on first use; the body carries a
        # client_message_id, so sending it again cannot store the turn twice.
        for attempt in (1, 2):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                return self._conn.getresponse()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, path: str) -> tuple[int, bytes]:
        response = self._send("GET", path, None, {})
        return response.status, response.read()

    def chat(self, message: str, session_id: str | None = None) -> TurnResult:
        body = chat_body(message, session_id)
        started = time.monotonic()
        response = self._send("POST", "/v1/chat", body, {"Content-Type": "application/json"})
        data = response.read()
        seconds = time.monotonic() - started
        if response.status != 200:
            raise BenchError(f"POST /v1/chat answered {response.status}: {data[:300]!r}")
        return TurnResult(seconds, json.loads(data))

    def stream(self, message: str, session_id: str | None = None) -> StreamResult:
        body = chat_body(message, session_id)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        sent_at = time.monotonic()
        response = self._send("POST", "/v1/chat", body, headers)
        if response.status != 200:
            raise BenchError(f"streamed POST /v1/chat answered {response.status}: {response.read()[:300]!r}")
        received = b""
        first_delta_at: float | None = None
        while chunk := response.read1(65536):
            received += chunk
            if first_delta_at is None and b"event: delta" in received:
                first_delta_at = time.monotonic()
        done_at = time.monotonic()
        payload = _done_payload(received)
        if first_delta_at is None:
            raise BenchError("the stream ended without a delta event")
        return StreamResult(sent_at, first_delta_at, done_at, payload)


def _done_payload(stream: bytes) -> dict[str, Any]:
    for frame in stream.decode().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if lines.get("event") == "done":
            payload: dict[str, Any] = json.loads(lines["data"])
            return payload
        if lines.get("event") == "error":
            raise BenchError(f"the stream ended with an error event: {lines.get('data', '')[:300]}")
    raise BenchError("the stream ended without a done event")


class BareGemini:
    """The same model call the service makes, made directly with the google-genai SDK."""

    def __init__(self, base_url: str) -> None:
        from firstaid_chat.settings import Settings
        from google import genai
        from google.genai import types

        settings = Settings.from_env({})
        self._model = settings.gemini_model
        self._client = genai.Client(api_key=BENCH_KEY, http_options=types.HttpOptions(base_url=base_url))
        self._config = types.GenerateContentConfig(
            system_instruction=settings.system_instruction,
            temperature=settings.temperature,
            max_output_tokens=settings.max_output_tokens,
            safety_settings=[
                types.SafetySetting(category=types.HarmCategory(c), threshold=types.HarmBlockThreshold(t))
                for c, t in settings.safety_settings
            ],
        )

    def call(self, contents: list[dict[str, Any]]) -> tuple[float, float]:
        """Stream one reply to the end; (seconds, this thread's CPU seconds)."""
        cpu = time.thread_time()
        started = time.monotonic()
        for _ in self._client.models.generate_content_stream(model=self._model, contents=contents, config=self._config):
            pass
        return time.monotonic() - started, time.thread_time() - cpu


def last_contents(fake: FakeGemini) -> list[dict[str, Any]]:
    """What the service last sent the model (history window and message), to replay bare."""
    contents: list[dict[str, Any]] = fake.requests[-1].body["contents"]
    return contents


def seed_conversation(env: Mapping[str, str], turns: int) -> str:
    """A live session with ``turns`` stored turns, each claimed and stored through the store (record_turn).

    On Firestore the early turns go through a FirestoreStore that keeps a one-byte
    inline tail (so each write is small and seeding is quick); the last turns go
    through the store as configured, so the session document ends up exactly as
    the service would have left it.
    """
    from firstaid_chat.conversation import TurnDraft, new_session_id
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store, record_turn

    session_id = new_session_id()
    start = datetime.now(UTC) - timedelta(hours=2)
    with environ(env):
        settings = Settings.from_env()
        full = build_store(settings)
        thin = (
            firestore_with_tail(settings, 1)
            if turns > SEED_FULL_TAIL_TURNS and settings.chat_store == "firestore"
            else None
        )
        try:
            for index in range(turns):
                store = thin if thin is not None and index < turns - SEED_FULL_TAIL_TURNS else full
                draft = TurnDraft(user_text=f"{SEED_USER} ({index + 1})", reply_text=SEED_REPLY)
                record_turn(store, session_id, draft, start + timedelta(seconds=index), create=index == 0)
        finally:
            full.close()
            if thin is not None:
                thin.close()
    return session_id


def firestore_with_tail(settings: Any, tail_chars: int) -> Any:
    """A FirestoreStore like the configured one but with another inline tail size."""
    from firstaid_chat.store.firestore import FirestoreStore
    from google.cloud import firestore

    client = firestore.Client(project=settings.google_cloud_project, database=settings.firestore_database)
    return FirestoreStore(
        client,
        collection=settings.firestore_collection,
        ttl=timedelta(hours=settings.session_ttl_hours),
        tail_chars=tail_chars,
    )


@contextlib.contextmanager
def function_server(env: Mapping[str, str], log_path: Path) -> Iterator[FunctionServer]:
    """``functions-framework --target chat`` as a process (stopped by pid when the block ends)."""
    server = FunctionServer(dict(env), log_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def worker_pid(master_pid: int) -> int:
    """The gunicorn worker that serves requests (the master only supervises it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
        if children.exists():
            pids = children.read_text().split()
        else:
            pids = [p.name for p in Path("/proc").iterdir() if p.name.isdigit() and _parent(int(p.name)) == master_pid]
        if pids:
            return int(pids[0])
        time.sleep(0.05)
    raise BenchError(f"no gunicorn worker under pid {master_pid}")


def _parent(pid: int) -> int | None:
    try:
        return int(_stat_fields(pid)[1])
    except (OSError, IndexError, ValueError):
        return None


def _stat_fields(pid: int) -> list[str]:
    # Fields after the command name, which may itself contain spaces and parentheses.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchError(f"no VmRSS for pid {pid}")


def pss_kib(pid: int) -> int | None:
    """Proportional set size: shared pages split between the processes that map them."""
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if not rollup.exists():
        return None
    for line in rollup.read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return None


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far."""
    fields = _stat_fields(pid)
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
