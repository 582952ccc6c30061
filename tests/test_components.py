"""A missing outside component fails the run with how to get it, unless SKIP_COMPONENTS names it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

NEEDS_EMULATOR = "def test_needs_it(firestore_emulator):\n    assert firestore_emulator.host\n"


def run_without_emulator(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a one-test file needing the emulator, with the project's own conftest and settings.

    The file lives in ``tmp_path``, never in the checkout (a killed run leaves nothing a later
    run collects); ``-p tests.conftest`` loads the real ``firestore_emulator`` fixture, and
    ``-c``/``--rootdir`` the project's pytest settings.
    """
    test = tmp_path / "test_components_probe.py"
    test.write_text(NEEDS_EMULATOR)
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "SKIP_COMPONENTS", "TEST_FIRESTORE_EMULATOR")}
    return subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-rs", "-p", "tests.conftest",
            "-c", str(ROOT / "pyproject.toml"), f"--rootdir={ROOT}", str(test),
        ],
        capture_output=True, text=True, cwd=ROOT, timeout=120, check=False,
        env={**clean, "FIRESTORE_EMULATOR_JAR": str(tmp_path / "absent.jar"), **env},
    )  # fmt: skip


def test_missing_emulator_fails_with_how_to_get_it(tmp_path: Path) -> None:
    result = run_without_emulator(tmp_path)
    assert result.returncode == 1, result.stdout[-2000:]
    assert "1 error" in result.stdout
    assert "openjdk-17-jre-headless" in result.stdout
    assert "SKIP_COMPONENTS=emulator" in result.stdout


def test_opting_out_skips_with_the_reason(tmp_path: Path) -> None:
    result = run_without_emulator(tmp_path, SKIP_COMPONENTS="browser,emulator")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "1 skipped" in result.stdout
    assert "SKIP_COMPONENTS names emulator" in result.stdout


def test_ci_ignores_the_opt_out(tmp_path: Path) -> None:
    result = run_without_emulator(tmp_path, SKIP_COMPONENTS="emulator", CI="true")
    assert result.returncode == 1, result.stdout[-2000:]


@pytest.mark.parametrize("name", ["emulator", "browser", "gcloud", "shellcheck", "node"])
def test_every_component_says_how_to_get_it(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests import components

    monkeypatch.delenv("SKIP_COMPONENTS", raising=False)  # an opt-out would skip, not fail, right here
    with pytest.raises(pytest.fail.Exception, match=f"SKIP_COMPONENTS={name}"):
        components.missing(name, f"{name} is missing")
