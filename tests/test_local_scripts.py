"""scripts/setup.sh and scripts/run.sh (serve.py) as a new user meets them: a taken port,
a Python that is too old, a .venv left broken."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_infra import require_tool

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another program is listening on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def serve(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "scripts" / "serve.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_taken_page_port_is_named_with_how_to_choose_others(busy_port: int) -> None:
    result = serve("--page-port", str(busy_port), "--api-port", str(free_port()))
    assert result.returncode == 1
    assert f"page port {busy_port} on 127.0.0.1 is already in use" in result.stderr
    assert "--page-port" in result.stderr
    assert "--api-port" in result.stderr
    assert "PORT=" in result.stderr
    assert "Chat page" not in result.stdout


def test_taken_api_port_from_port_variable_is_named(busy_port: int) -> None:
    result = serve("--page-port", str(free_port()), PORT=str(busy_port))
    assert result.returncode == 1
    assert f"API port {busy_port}" in result.stderr
    assert "page port" not in result.stderr


def fake_python(path: Path, version: str) -> Path:
    """An interpreter that reports an old version, as python3.9 would (none is installed here)."""
    path.write_text(f'#!/bin/sh\nif [ "$1" = -V ]; then echo "Python {version}"; exit 0; fi\nexit 1\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of setup.sh with empty requirements: installs nothing, needs no network."""
    root = tmp_path / "repo"
    (root / "scripts").mkdir(parents=True)
    (root / "functions").mkdir()
    shutil.copy(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    (root / "requirements-dev.txt").write_text("")
    (root / "functions" / "requirements.txt").write_text("")
    return root


def setup(checkout: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(checkout / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        env={**os.environ, "PIP_NO_INDEX": "1", "PYTHON": sys.executable, **env},
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def test_setup_refuses_an_old_python_before_making_a_venv(checkout: Path) -> None:
    result = setup(checkout, PYTHON=str(fake_python(checkout / "python3.9", "3.9.18")))
    assert result.returncode == 1
    assert "Python 3.11 or newer is needed" in result.stderr
    assert "Python 3.9.18" in result.stderr
    assert "PYTHON=" in result.stderr
    assert not (checkout / ".venv").exists()


def test_setup_rebuilds_a_venv_whose_python_is_gone(checkout: Path) -> None:
    bin_dir = checkout / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(checkout / "removed-python")  # e.g. made by a Python since uninstalled
    result = setup(checkout)
    assert result.returncode == 0, result.stderr
    assert "rebuilding it" in result.stdout
    check = subprocess.run([str(bin_dir / "python"), "-m", "pip", "--version"], capture_output=True, timeout=60)
    assert check.returncode == 0
    again = setup(checkout)
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # nothing left to do


def test_local_scripts_pass_shellcheck() -> None:
    shellcheck = require_tool("shellcheck")
    scripts = sorted(str(path.relative_to(REPO)) for path in (REPO / "scripts").glob("*.sh"))
    result = subprocess.run([shellcheck, *scripts], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
