"""The key-leak guard fails the run wherever a key shows up: a test, a fixture's teardown, a session fixture."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.leaks import SENTINEL_KEY

CONFTEST = "from tests.conftest import pytest_runtest_makereport, pytest_sessionfinish, pytest_terminal_summary\n"


def run_pytest(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_leaky.py").write_text(body)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )  # fmt: skip


LEAKY_TEARDOWN = f'''
import pytest
from tests import leaks

@pytest.fixture({{scope}})
def leaky():
    yield
    leaks.check("key={SENTINEL_KEY}", "a fixture's teardown")

def test_uses_it(leaky):
    assert True
'''


@pytest.mark.parametrize("scope", ["", "scope='session'"])
def test_a_leak_in_a_fixture_teardown_fails_the_run(tmp_path: Path, scope: str) -> None:
    result = run_pytest(tmp_path, LEAKY_TEARDOWN.replace("{scope}", scope))
    assert result.returncode == 1, result.stdout[-3000:]
    assert "key leak" in result.stdout
    assert SENTINEL_KEY not in result.stdout


def test_a_run_without_leaks_passes(tmp_path: Path) -> None:
    result = run_pytest(tmp_path, LEAKY_TEARDOWN.replace("{scope}", "").replace(SENTINEL_KEY, "no-key-here"))
    assert result.returncode == 0, result.stdout[-3000:]
    assert "0 leaks" in result.stdout
