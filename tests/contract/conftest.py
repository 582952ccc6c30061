"""One real functions-framework server for the generated client and the streaming examples."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.gemini import FakeGemini
from tests.servers import FunctionServer, function_env


@pytest.fixture(scope="package")
def server(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FunctionServer]:
    """The function under functions-framework, answering from the fake Gemini.

    FALLBACK=none and one model attempt, so a scripted Gemini failure reaches the client at once
    (a 429 before the stream, or an ``error`` event during it) instead of the offline guide.
    """
    tmp_path = tmp_path_factory.mktemp("contract-server")
    env = function_env(
        gemini_server.base_url,
        SQLITE_PATH=str(tmp_path / "chat.sqlite3"),
        FALLBACK="none",
        MODEL_MAX_ATTEMPTS="1",
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running
