"""The official Firestore emulator (from the Google Cloud CLI), started and stopped by pid."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import urllib.request
from pathlib import Path

from tests.fakes.processes import stop, wait_until_answering

JAR = Path("/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar")
MAIN_CLASS = "com.google.cloud.datastore.emulator.firestore.CloudFirestore"
START_TIMEOUT_SECONDS = 60


def jar_path() -> Path | None:
    configured = os.environ.get("FIRESTORE_EMULATOR_JAR")
    path = Path(configured) if configured else JAR
    return path if path.exists() and shutil.which("java") else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class FirestoreEmulator:
    """One emulator process on a loopback port."""

    def __init__(self, jar: Path, port: int | None = None) -> None:
        self.jar = jar
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @classmethod
    def attach(cls, host: str) -> FirestoreEmulator:
        """An emulator someone else started and will stop (``stop`` leaves it running)."""
        return cls(Path(), int(host.rsplit(":", 1)[1]))

    def start(self) -> FirestoreEmulator:
        self.process = subprocess.Popen(
            ["java", "-cp", str(self.jar), MAIN_CLASS, "start", "--host=127.0.0.1", f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_answering(self.process, f"http://{self.host}/", START_TIMEOUT_SECONDS, "the Firestore emulator")
        return self

    def clear(self, project: str) -> None:
        request = urllib.request.Request(
            f"http://{self.host}/emulator/v1/projects/{project}/databases/(default)/documents", method="DELETE"
        )
        with urllib.request.urlopen(request, timeout=10):
            pass

    def stop(self) -> None:
        stop(self.process)
        self.process = None
