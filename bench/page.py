"""The chat page on a slow connection: bytes transferred and first paint, in headless Chromium.

``.venv/bin/python -m bench.page [--runs 5] [--kbps 400] [--latency-ms 400]`` builds the page as
``scripts/serve.py`` does, serves it on loopback, and opens it in a fresh browser context per run
with Chromium's network emulation (CDP ``Network.emulateNetworkConditions``). For each run it
records the page's own ``first-contentful-paint`` (Performance API), the bytes the page's
requests moved (CDP ``encodedDataLength``, headers included), and the bytes the static server
sent in all (which also counts what a service worker fetches for itself). Prints medians.
Text files are sent gzip-compressed, as static hosts (Firebase Hosting, Cloud Storage with
``gzip`` encoding) send them; ``--no-gzip`` sends them as they are. No API runs: a first visit
with no stored conversation makes no API request.
"""

from __future__ import annotations

import argparse
import gzip
import mimetypes
import shutil
import statistics
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler
from pathlib import Path
from typing import Any

from playwright.sync_api import sync_playwright

from bench import ROOT
from tests.fakes.loopback import LoopbackServer

CHROMIUM = "/usr/bin/chromium"
SETTLE_MS = 1500  # after `load`, time for late requests (a service worker's cache fill)
COMPRESSED = {".html", ".css", ".js", ".json", ".svg"}


class _CountingHandler(SimpleHTTPRequestHandler):
    """Serves files and adds every byte it writes to the server-wide counter."""

    counter: list[int]
    compress = True
    lock = threading.Lock()

    def do_GET(self) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if not (self.compress and accepts and path.is_file() and path.suffix in COMPRESSED):
            super().do_GET()
            return
        body = gzip.compress(path.read_bytes(), compresslevel=9)
        self.send_response(200)
        self.send_header("Content-Type", mimetypes.guess_type(path.name)[0] or "application/octet-stream")
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        raw = self.wfile
        counter = self.counter
        lock = self.lock

        class _Counted:
            def write(self, data: bytes) -> int:
                with lock:
                    counter[0] += len(data)
                return raw.write(data)

            def flush(self) -> None:
                raw.flush()

            def __getattr__(self, name: str) -> Any:
                return getattr(raw, name)

        self.wfile = _Counted()  # type: ignore[assignment]


@dataclass(frozen=True)
class Run:
    fcp_ms: float
    page_bytes: int
    server_bytes: int
    requests: int


def build_site(dest: Path) -> None:
    """The page as the local run serves it (with the generated guide when the build step exists)."""
    shutil.copytree(ROOT / "static_site", dest, dirs_exist_ok=True)
    (dest / "config.json").write_text('{"apiBaseUrl": "http://127.0.0.1:9"}\n')
    builder = ROOT / "scripts" / "build_guide.py"
    if builder.exists():
        sys.path.insert(0, str(builder.parent))
        from build_guide import build_guide  # type: ignore[import-not-found]

        build_guide(dest)


def measure(site: Path, runs: int, kbps: int, latency_ms: int, compress: bool = True) -> list[Run]:
    counter = [0]
    handler = type("Handler", (_CountingHandler,), {"counter": counter, "compress": compress})
    server = LoopbackServer(partial(handler, directory=str(site)))  # type: ignore[arg-type]
    server.start()
    results: list[Run] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            for _ in range(runs):
                counter[0] = 0
                context = browser.new_context(viewport={"width": 360, "height": 740})
                page = context.new_page()
                cdp = context.new_cdp_session(page)
                cdp.send("Network.enable")
                cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
                cdp.send(
                    "Network.emulateNetworkConditions",
                    {
                        "offline": False,
                        "latency": latency_ms,
                        "downloadThroughput": kbps * 1000 / 8,
                        "uploadThroughput": kbps * 1000 / 8,
                    },
                )
                sizes: dict[str, float] = {}
                cdp.on(
                    "Network.loadingFinished",
                    lambda e, s=sizes: s.__setitem__(e["requestId"], e["encodedDataLength"]),
                )
                page.goto(f"{server.url}/", wait_until="load", timeout=120_000)
                page.wait_for_timeout(SETTLE_MS)
                fcp = page.evaluate(
                    "performance.getEntriesByName('first-contentful-paint').map(e => e.startTime)[0] ?? -1"
                )
                results.append(Run(float(fcp), int(sum(sizes.values())), counter[0], len(sizes)))
                context.close()
            browser.close()
    finally:
        server.stop()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--kbps", type=int, default=400, help="download and upload throughput, kbit/s")
    parser.add_argument("--latency-ms", type=int, default=400, help="added round-trip latency")
    parser.add_argument("--no-gzip", action="store_true", help="send text files uncompressed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="firstaid-page-bench-") as work:
        site = Path(work) / "site"
        build_site(site)
        runs = measure(site, args.runs, args.kbps, args.latency_ms, compress=not args.no_gzip)
    encoding = "uncompressed" if args.no_gzip else "gzip"
    print(
        f"Chat page, first visit, {args.kbps} kbit/s, {args.latency_ms} ms latency, {encoding}, "
        f"{len(runs)} runs (median)"
    )
    print(f"  first-contentful-paint   {statistics.median(r.fcp_ms for r in runs):8.0f} ms")
    print(f"  page requests            {statistics.median(r.requests for r in runs):8.0f}")
    print(f"  bytes, page requests     {statistics.median(r.page_bytes for r in runs):8.0f} B")
    print(f"  bytes, server sent (all) {statistics.median(r.server_bytes for r in runs):8.0f} B")
    print("  FCP per run (ms):", ", ".join(f"{r.fcp_ms:.0f}" for r in runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
