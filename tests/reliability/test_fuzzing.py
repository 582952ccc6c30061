"""Bad input at scale: Schemathesis against openapi.yaml and the live server; Hypothesis on the pure parts."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.chat_request import validate_chat_fields
from firstaid_chat.conversation import Turn
from firstaid_chat.errors import ChatError
from firstaid_chat.history import history_window, recent_tail
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.fakes.gemini import FakeGemini
from tests.reliability import report
from tests.servers import FunctionServer, function_env

pytestmark = pytest.mark.reliability
HERE = Path(__file__).parent


@pytest.fixture
def server(gemini: FakeGemini, tmp_path: Path) -> Iterator[FunctionServer]:
    env = function_env(
        gemini.base_url,
        SQLITE_PATH=str(tmp_path / "fuzz.sqlite3"),
    )
    with FunctionServer(env, tmp_path / "server.log") as running:
        yield running


def fuzz_seed() -> int:
    """A fresh seed each run (``FUZZ_SEED`` replays one), printed so a failure can be rerun."""
    seed = int(os.environ.get("FUZZ_SEED") or random.SystemRandom().randrange(2**32))
    print(f"Schemathesis seed {seed}: rerun with FUZZ_SEED={seed}")
    return seed


def test_schemathesis_finds_no_server_error_and_no_contract_violation(server: FunctionServer, tmp_path: Path) -> None:
    report_path = tmp_path / "schemathesis.json"
    seed = fuzz_seed()
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file", str(HERE / "schemathesis.toml"),
        "run", str(ROOT / "openapi.yaml"),
        "--url", server.url,
        "--checks", "all",
        "--max-examples", "60",
        "--seed", str(seed),
        "--request-timeout", "30",
        "--report", "json", "--report-json-path", str(report_path),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    summary = json.loads(report_path.read_text())
    cases = summary["test_cases"]
    phases = ", ".join(f"{name} {phase['status']}" for name, phase in summary["phases"].items())
    operations = summary["operations"]
    report.add("fuzzing", f"Schemathesis, all checks, {operations['tested']} operations (both session id forms)",
               f"{cases['generated']} cases, {cases['with_failures']} failing; phases: {phases}")  # fmt: skip
    replay = f"FUZZ_SEED={seed}"
    assert result.returncode == 0, f"{replay}\n{result.stdout[-4000:]}"
    assert operations["tested"] == operations["total"] == 6  # chat, health, and the header and path session forms
    assert cases["with_failures"] == 0, replay
    statuses = server.request_statuses()
    assert len(statuses) >= cases["generated"], replay  # every case reached the function and was logged
    assert [status for status in statuses if status >= 500] == [], replay
    assert server.unexpected_errors() == [], replay


# Any code point, lone surrogates included (JSON's "\ud800" escape decodes to one), with NUL and
# surrogates drawn often enough to show up in every run.
CHARS = st.characters(codec=None, exclude_categories=()) | st.sampled_from(["\x00", "\ud800", "\udfff", "\ufeff"])


def any_text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(CHARS, max_size=max_size)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text(50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text(20), children, max_size=4),
    max_leaves=20,
)
BODIES = st.one_of(
    JSONISH,
    st.fixed_dictionaries(
        {"message": any_text(300)},
        optional={
            "session_id": st.one_of(st.none(), any_text(70), st.integers()),
            "client_message_id": st.one_of(st.none(), any_text(140)),
        },
    ),
)
counts = {"validation": 0, "window": 0}


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(BODIES)
def test_validation_accepts_or_rejects_with_a_4xx_never_anything_else(body: Any) -> None:
    counts["validation"] += 1
    try:
        request = validate_chat_fields(body, 200)
    except ChatError as exc:
        status = exc.status
    else:
        status = 200
        assert 0 < len(request.message) <= 200
        assert request.message == request.message.strip()
        request.message.encode("utf-8")  # storable as text: no lone surrogate
        assert "\x00" not in request.message
    assert status == 200 or 400 <= status < 500


NOW = datetime(2026, 1, 1, tzinfo=UTC)
TURNS = st.lists(
    st.builds(
        lambda i, u, r, ctx: Turn(
            seq=i, user_text=u, reply_text=r, created_at=NOW + timedelta(seconds=i), in_context=ctx
        ),
        st.integers(1, 10_000),
        any_text(40),
        any_text(40),
        st.booleans(),
    ),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(TURNS, st.integers(0, 400))
def test_history_window_is_the_longest_recent_in_context_run_within_budget(turns: list[Turn], budget: int) -> None:
    counts["window"] += 1
    window = history_window(turns, budget)
    in_context = [t for t in turns if t.in_context]
    assert window == in_context[len(in_context) - len(window) :]  # a suffix, in order
    assert sum(len(t.user_text) + len(t.reply_text) for t in window) <= budget
    if len(window) < len(in_context):  # the next older turn would not have fitted
        older = in_context[len(in_context) - len(window) - 1]
        used = sum(len(t.user_text) + len(t.reply_text) for t in window)
        assert used + len(older.user_text) + len(older.reply_text) > budget


@settings(max_examples=300, deadline=None)
@given(TURNS, st.integers(1, 400))
def test_recent_tail_keeps_the_newest_turn_and_fits_its_budget(turns: list[Turn], max_chars: int) -> None:
    tail = recent_tail(turns, max_chars)
    if turns:
        assert tail[-1] is turns[-1]
    assert tail == turns[len(turns) - len(tail) :]
    if len(tail) > 1:
        assert sum(len(t.user_text) + len(t.reply_text) for t in tail) <= max_chars


def test_record_property_counts() -> None:
    report.add("fuzzing", "Hypothesis: request validation", f"{counts['validation']} bodies, every one 200-able or 4xx")
    report.add(
        "fuzzing", "Hypothesis: history window", f"{counts['window']} histories, window always maximal within budget"
    )
    assert counts["validation"] > 0


@pytest.mark.parametrize(
    "wanted",
    [lambda c: "\ud800" <= c <= "\udfff", lambda c: c == "\x00", lambda c: c > "\uffff"],
    ids=["lone surrogate", "NUL", "astral"],
)
def test_text_strategy_produces_the_awkward_characters(wanted: Any) -> None:
    assert find(any_text(10), lambda text: any(wanted(c) for c in text))
