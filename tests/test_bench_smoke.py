"""The benchmark still runs end to end (its short mode), so the README's command does not rot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e


def test_quick_benchmark_runs_and_writes_every_section(tmp_path: Path) -> None:
    output = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    figures = json.loads(output.read_text())
    names = set(figures["sections"])
    assert {"firestore_ops", "overhead", "streaming", "throughput", "cold_start", "memory"} <= names
    assert "## Firestore operations" in result.stdout
