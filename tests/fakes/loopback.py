"""A threaded HTTP server on 127.0.0.1 for the local fakes, started and stopped by its owner."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Server(ThreadingHTTPServer):
    # Python's default backlog of 5 overflows when a client's connection pool opens many
    # connections at once; the dropped SYNs are retried a second later and distort timings.
    request_queue_size = 256
    daemon_threads = True


class LoopbackServer:
    """Serves one handler class on a loopback port from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        # Without this, each small write after the first (a streamed chunk) waits for the
        # client's delayed ACK, about 40 ms: Google's front ends do not behave like that.
        if isinstance(handler, type):
            handler.disable_nagle_algorithm = True
        self._server = _Server(("127.0.0.1", port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
