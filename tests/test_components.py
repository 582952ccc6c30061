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
    monkeypatch.delenv("CI", raising=False)  # under CI the message says the opt-out is ignored instead
    with pytest.raises(pytest.fail.Exception, match=f"SKIP_COMPONENTS={name}"):
        components.missing(name, f"{name} is missing")


def path_without(tmp_path: Path, *programs: str) -> str:
    """A PATH with every program of the current one except ``programs`` (linked into one folder)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            link, target = folder / name, Path(directory, name)
            if name not in programs and not link.exists() and os.access(target, os.X_OK) and target.is_file():
                link.symlink_to(target)
    return str(folder)


def run_test_command(path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The README's test command, stopped by its component check (nothing else may run: it would recurse)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("CI", "SKIP_COMPONENTS", "FIRESTORE_EMULATOR_JAR")}
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "test.sh"), "--collect-only", "-q"],
        capture_output=True, text=True, cwd=ROOT, timeout=60, check=False, env={**clean, "PATH": path, **env},
    )  # fmt: skip


@pytest.mark.parametrize("ci", [None, "true", "True"])
def test_the_test_command_without_java_stops_at_once_saying_how_to_get_it(tmp_path: Path, ci: str | None) -> None:
    path = path_without(tmp_path, "java")
    assert subprocess.run(["bash", "-c", "command -v java"], env={"PATH": path}, check=False).returncode != 0
    result = run_test_command(path, **({"CI": ci, "SKIP_COMPONENTS": "emulator"} if ci else {}))
    assert result.returncode == 1, result.stdout[-2000:]
    assert "==>" not in result.stdout  # stopped before installing or running anything
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: java (for the Firestore emulator) is missing: install Java 17")
    if ci:
        assert line.endswith("(CI=true: every component must be present; SKIP_COMPONENTS is ignored)")
    else:
        assert line.endswith("or set SKIP_COMPONENTS=emulator to skip the tests that need it")


def test_the_test_command_names_a_missing_emulator_jar(tmp_path: Path) -> None:
    absent = tmp_path / "absent.jar"
    result = run_test_command(os.environ["PATH"], FIRESTORE_EMULATOR_JAR=str(absent))
    assert result.returncode == 1, result.stdout[-2000:]
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: the Firestore emulator ({absent}) is missing: install it")
    assert "FIRESTORE_EMULATOR_JAR" in line


def test_ci_says_the_opt_out_is_ignored(tmp_path: Path) -> None:
    result = run_without_emulator(tmp_path, SKIP_COMPONENTS="emulator", CI="TRUE")
    assert result.returncode == 1, result.stdout[-2000:]
    assert "CI=true: every component must be present, and SKIP_COMPONENTS is ignored" in result.stdout
