"""Shared fixtures: environment hygiene, the local fakes, the Firestore emulator, app clients."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"
sys.path.insert(0, str(FUNCTIONS))


from tests import components, leaks  # noqa: E402
from tests.fakes.firestore_emulator import FirestoreEmulator, jar_path  # noqa: E402
from tests.fakes.gemini import FakeGemini  # noqa: E402
from tests.fakes.secret_manager import FakeSecretManager  # noqa: E402
from tests.fakes.vertex import FakeTokenServer, FakeVertex  # noqa: E402
from tests.leaks import SENTINEL_KEY  # noqa: E402

PROJECT = "demo-firstaid"
VERTEX_LOCATION = "europe-west1"
IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture(autouse=True)
def _restore_environ() -> Iterator[None]:
    """Every test starts and ends with the same environment and a fresh instance."""
    from firstaid_chat import runtime

    saved = dict(os.environ)
    runtime.reset()
    yield
    runtime.reset()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(autouse=True)
def _no_key_in_responses(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every response an in-process client receives is checked for the test keys."""
    from flask.testing import FlaskClient

    original = FlaskClient.open

    def open_and_check(self: FlaskClient, *args: Any, **kwargs: Any) -> Any:
        response = original(self, *args, **kwargs)
        leaks.check(response.get_data() + str(response.headers).encode(), f"a response to {args[0] if args else ''}")
        return response

    monkeypatch.setattr(FlaskClient, "open", open_and_check)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Fail a test whose captured output or logs contain a test key, or that saw a leaking response.

    A leak seen in a fixture's setup or teardown fails that phase (an error for the test), and
    ``pytest_sessionfinish`` fails the run for any leak no test phase reported.
    """
    outcome = yield
    report = outcome.get_result()
    for name, text in report.sections:
        leaks.check(text, f"{item.nodeid} {name}", "log_texts")
    if leaks.found and report.passed:
        report.outcome = "failed"
        report.longrepr = "key leak: " + "; ".join(sorted(set(leaks.found)))
        leaks.reported.extend(leaks.found)
        leaks.found.clear()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A leak found after the last test phase (a session fixture's teardown) fails the run too."""
    if leaks.found and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.reliability import report

    table = report.render()
    if table:
        terminalreporter.write_sep("=", "reliability report")
        terminalreporter.write_line(table)
        report.write(ROOT / "artifacts" / "reliability.md")
    counts = leaks.checked
    terminalreporter.write_line(
        f"key leak guard: {counts['responses']} responses and {counts['log_texts']} captured outputs checked, "
        f"{len(leaks.found) + len(leaks.reported)} leaks"
    )
    for where in sorted(set(leaks.found)):
        terminalreporter.write_line(f"key leak outside any test phase: {where}", red=True)


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's own configuration or writes into the checkout."""
    for name in list(os.environ):
        if name.startswith(
            ("GEMINI_", "GOOGLE_GEMINI", "CHAT_STORE", "MODEL_PROVIDER", "FIRESTORE_", "ALLOWED_ORIGINS")
        ) or name.startswith(
            ("GOOGLE_VERTEX", "GOOGLE_GENAI", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS")
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SQLITE_PATH", str(tmp_path / "chat.sqlite3"))
    monkeypatch.setenv("RATE_LIMIT_SESSION_PER_MINUTE", "0")
    monkeypatch.setenv("RATE_LIMIT_CLIENT_PER_MINUTE", "0")
    monkeypatch.setenv("CLIENT_CONCURRENT_TURNS", "0")
    monkeypatch.setenv("DAILY_TOKEN_BUDGET", "0")


@pytest.fixture(scope="session")
def gemini_server() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture(scope="session")
def token_server() -> Iterator[FakeTokenServer]:
    server = FakeTokenServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def vertex_server(token_server: FakeTokenServer) -> Iterator[FakeVertex]:
    with FakeVertex(token_server, PROJECT, VERTEX_LOCATION) as fake:
        yield fake


@pytest.fixture
def vertex(
    vertex_server: FakeVertex, token_server: FakeTokenServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> FakeVertex:
    """The fake Vertex AI endpoint, reset, with GEMINI_BACKEND=vertex and no key anywhere.

    Credentials come the way Application Default Credentials find them: a
    service-account file (GOOGLE_APPLICATION_CREDENTIALS) whose token_uri is the
    local token server, so google-auth signs and exchanges a real JWT.
    """
    vertex_server.reset()
    token_server.reset()
    credentials = token_server.service_account_file(tmp_path / "service-account.json", PROJECT)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(credentials))
    monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", vertex_server.base_url)
    monkeypatch.setenv("GEMINI_BACKEND", "vertex")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", VERTEX_LOCATION)
    monkeypatch.setenv("MODEL_PROVIDER", "gemini")
    return vertex_server


@pytest.fixture
def gemini(request: pytest.FixtureRequest, gemini_server: FakeGemini, monkeypatch: pytest.MonkeyPatch) -> FakeGemini:
    """The fake Gemini, reset, with the SDK pointed at it and a key configured.

    Parametrized indirectly with "vertex", it is the fake Vertex AI endpoint instead (see ``vertex``).
    """
    if getattr(request, "param", "ai_studio") == "vertex":
        vertex_fake: FakeGemini = request.getfixturevalue("vertex")
        return vertex_fake
    gemini_server.reset()
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", gemini_server.base_url)
    monkeypatch.setenv("GEMINI_API_KEY", SENTINEL_KEY)
    monkeypatch.setenv("MODEL_PROVIDER", "gemini")
    return gemini_server


@pytest.fixture(scope="session")
def secret_server() -> Iterator[FakeSecretManager]:
    fake = FakeSecretManager().start()
    yield fake
    fake.stop()


@pytest.fixture
def secret_manager(secret_server: FakeSecretManager) -> FakeSecretManager:
    secret_server.reset()
    return secret_server


@pytest.fixture(scope="session")
def firestore_emulator() -> Iterator[FirestoreEmulator]:
    running = os.environ.get("TEST_FIRESTORE_EMULATOR")  # host:port of one started by scripts/mutation.sh
    if running:
        yield FirestoreEmulator.attach(running)
        return
    jar = jar_path()
    if jar is None:
        components.missing("emulator", "the Firestore emulator (Google Cloud CLI component) or java is not installed")
    emulator = FirestoreEmulator(jar).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def firestore_env(firestore_emulator: FirestoreEmulator, monkeypatch: pytest.MonkeyPatch) -> FirestoreEmulator:
    """Settings that point the service at an empty emulator database."""
    firestore_emulator.clear(PROJECT)
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", firestore_emulator.host)
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", PROJECT)
    monkeypatch.setenv("CHAT_STORE", "firestore")
    return firestore_emulator


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """A Flask test client of the real function target, built the way functions-framework builds it."""
    import functions_framework
    from firstaid_chat import runtime

    def build(**env: str) -> Any:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        runtime.reset()
        app = functions_framework.create_app(target="chat", source=str(FUNCTIONS / "main.py"))
        return app.test_client()

    return build
