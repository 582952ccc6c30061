"""Local run: the function under functions-framework plus the static page on its own origin."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from build_guide import build_guide
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--api-port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="the API's port (default: PORT or 8080)",
    )
    parser.add_argument("--page-port", type=int, default=8000, help="the chat page's port (default: 8000)")
    args = parser.parse_args()
    taken = [f"{name} port {port}" for name, port in (("page", args.page_port), ("API", args.api_port)) if _taken(port)]
    if taken:
        print(
            f"Cannot start: the {' and the '.join(taken)} on 127.0.0.1 "
            f"{'is' if len(taken) == 1 else 'are'} already in use (another program, or an earlier run.sh "
            "still running).\nChoose free ports, e.g.: bash scripts/run.sh --page-port 8001 --api-port 8081 "
            "(PORT=8081 also sets the API's port).",
            file=sys.stderr,
        )
        return 1

    api_url = f"http://127.0.0.1:{args.api_port}"
    page_url = f"http://127.0.0.1:{args.page_port}"
    env = {
        "CHAT_STORE": "sqlite",
        "SQLITE_PATH": str(ROOT / ".data" / "chat.sqlite3"),
        "ALLOWED_ORIGINS": f"{page_url},http://localhost:{args.page_port}",
        **{k: v for k, v in dotenv_values(ROOT / ".env").items() if v},
        **{k: v for k, v in os.environ.items() if k not in ("PORT",)},
    }
    mode = "Gemini" if env.get("GEMINI_API_KEY") or env.get("GEMINI_API_KEY_SECRET") else "the offline first-aid guide"
    if env.get("GEMINI_BACKEND") == "vertex":
        mode = "Gemini on Vertex AI"
    if env.get("MODEL_PROVIDER") == "offline":
        mode = "the offline first-aid guide"

    page_dir = Path(tempfile.mkdtemp(prefix="firstaid-page-"))
    shutil.copytree(ROOT / "static_site", page_dir, dirs_exist_ok=True)
    config = {"apiBaseUrl": api_url, "emergencyNumber": env.get("EMERGENCY_NUMBER") or "112"}
    (page_dir / "config.json").write_text(json.dumps(config) + "\n")
    build_guide(page_dir)  # the offline guide's static copy, from the function's topic files

    bin_dir = Path(sys.executable).parent
    api = subprocess.Popen(
        [
            str(bin_dir / "functions-framework"),
            "--target=chat",
            "--source=main.py",
            "--host=127.0.0.1",
            f"--port={args.api_port}",
        ],
        cwd=ROOT / "functions",
        env=env,
    )
    page = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(args.page_port), "--bind", "127.0.0.1", "--directory", str(page_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        if not _wait_for(f"{api_url}/healthz", api):
            print("The function did not start; see the messages above.", file=sys.stderr)
            return 1
        print(
            f"\n  Chat page:  {page_url}\n  API:        {api_url}  (replies from {mode})\n  Stop with Ctrl+C.\n",
            flush=True,
        )
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        while api.poll() is None and page.poll() is None:
            time.sleep(0.5)
        return api.returncode or page.returncode or 0
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (api, page):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=10)
        shutil.rmtree(page_dir, ignore_errors=True)


def _taken(port: int) -> bool:
    """Whether something already listens on (or holds) 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - our own http://127.0.0.1 URL
                return True
        except OSError:
            time.sleep(0.2)
    return False


if __name__ == "__main__":
    sys.exit(main())
