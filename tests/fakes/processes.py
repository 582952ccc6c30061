"""Helpers for the server processes tests start themselves: wait until they answer, stop them by pid."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request


def wait_until_answering(process: subprocess.Popen[bytes], url: str, seconds: float, name: str) -> None:
    """Poll ``url`` until it answers 200; raise if the process exits or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"{name} did not answer {url} within {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes] | None) -> None:
    """Terminate a process we started (by its pid), killing it if it does not exit."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
