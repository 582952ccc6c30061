"""A TCP proxy between a client and a real server that injects network faults (Toxiproxy's model).

Used between the Firestore client and the official emulator (gRPC over plain HTTP/2).

- ``lose_next_response()``: it forwards the client's next request to the server, throws away
  everything the server answers, and after ``hold`` seconds cuts both connections: the request
  has landed, but the client sees a broken connection and retries. A commit can succeed while
  its acknowledgement is lost.
- ``fault_after(passed, "stall")``: after ``passed`` more requests, each request is swallowed
  and its connection goes silent but stays open: a Firestore that accepts calls and never
  answers. Only the client's own deadline ends such a call.
- ``fault_after(passed, "cut", times)``: after ``passed`` more requests, the next ``times``
  requests (every one, if ``times`` is None) are not forwarded and their connection is cut: the
  client sees a transient error (UNAVAILABLE), and a retry on a new connection may succeed.

A request is one gRPC request message: a non-empty HTTP/2 DATA frame from the client.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA_FRAME = 0x0


class _FrameScanner:
    """Follows the client's HTTP/2 frames to tell a request's body (a DATA frame) from control frames."""

    def __init__(self) -> None:
        self._buffer = b""
        self._preface_checked = False

    def feed(self, data: bytes) -> int:
        """How many non-empty DATA frames (gRPC request messages) ``data`` completes."""
        self._buffer += data
        if not self._preface_checked and len(self._buffer) >= len(PREFACE):
            if self._buffer.startswith(PREFACE):
                self._buffer = self._buffer[len(PREFACE) :]
            self._preface_checked = True
        if not self._preface_checked:
            return 0
        found = 0
        while len(self._buffer) >= 9:
            length = int.from_bytes(self._buffer[:3], "big")
            if len(self._buffer) < 9 + length:
                break
            if self._buffer[3] == DATA_FRAME and length > 0:
                found += 1
            self._buffer = self._buffer[9 + length :]
        return found


class LossyProxy:
    """Forwards 127.0.0.1:port to ``target`` (host, port); one instance per test."""

    def __init__(self, target: tuple[str, int], hold: float = 0.5) -> None:
        self._target = target
        self._hold = hold
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self._armed = threading.Event()
        self._running = True
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self.lost = 0
        self.faulted = 0
        self._fault: str | None = None
        self._passing = 0
        self._faults_left: int | None = None
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> LossyProxy:
        self._thread.start()
        return self

    def lose_next_response(self) -> None:
        """Let the next request through and lose its response."""
        self._armed.set()

    def fault_after(self, passed: int, how: str, times: int | None = None) -> None:
        """Let ``passed`` more requests through, then ``"stall"`` or ``"cut"`` the next ``times`` (None: all)."""
        if how not in ("stall", "cut"):
            raise ValueError(f"unknown fault {how!r}")
        with self._lock:
            self._fault, self._passing, self._faults_left = how, passed, times

    def _next_fault(self, requests: int) -> str | None:
        """The fault for a chunk holding ``requests`` request messages, if any; counts them."""
        with self._lock:
            if self._fault is None or requests == 0:
                return None
            if self._passing >= requests:
                self._passing -= requests
                return None
            fault = self._fault
            self.faulted += 1
            if self._faults_left is not None:
                self._faults_left -= 1
                if self._faults_left <= 0:
                    self._fault = None
            return fault

    def stop(self) -> None:
        self._running = False
        self._thread.join(timeout=5)
        self._listener.close()
        with self._lock:
            for pair in self._pairs:
                for sock in pair:
                    sock.close()

    def _accept(self) -> None:
        while self._running:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            server = socket.create_connection(self._target)
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        losing_since: float | None = None
        stalled = False
        frames = _FrameScanner()
        try:
            while self._running:
                if losing_since is not None and time.monotonic() - losing_since > self._hold:
                    self.lost += 1
                    return
                readable, _, _ = select.select([client, server], [], [], 0.05)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if stalled:
                        continue  # a silent connection: nothing goes either way until the client gives up
                    if sock is client:
                        requests = frames.feed(data)
                        fault = self._next_fault(requests)
                        if fault == "cut":
                            return
                        if fault == "stall":
                            stalled = True
                            continue
                        server.sendall(data)
                        if requests and losing_since is None and self._armed.is_set():
                            self._armed.clear()
                            losing_since = time.monotonic()
                    elif losing_since is None:
                        client.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, server):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
