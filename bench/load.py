"""Many clients at once: a thread pool of keep-alive HTTP clients, each holding its own sessions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bench.harness import MESSAGE, BenchError, ChatClient


@dataclass
class LoadResult:
    """What one load run produced."""

    turns: int
    seconds: float  # from the first request sent to the last reply received
    latencies: list[float] = field(default_factory=list)
    sources: dict[str, int] = field(default_factory=dict)
    sessions: int = 0

    @property
    def per_second(self) -> float:
        return self.turns / self.seconds if self.seconds > 0 else 0.0


class _Tickets:
    """Hands out the run's turns one at a time, so fast clients take more of them."""

    def __init__(self, total: int) -> None:
        self._left = total
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True


def run_load(url: str, concurrency: int, turns: int, turns_per_session: int) -> LoadResult:
    """Send ``turns`` chat turns from ``concurrency`` clients at once; each client starts a new
    session every ``turns_per_session`` turns."""
    tickets = _Tickets(turns)
    start = threading.Barrier(concurrency)
    lock = threading.Lock()
    result = LoadResult(turns=0, seconds=0.0)
    bounds: list[float] = []

    def client() -> None:
        with ChatClient(url) as chat:
            start.wait()
            first = time.monotonic()
            session_id: str | None = None
            in_session = 0
            while tickets.take():
                if in_session == turns_per_session:
                    session_id, in_session = None, 0
                turn = chat.chat(MESSAGE, session_id)
                if session_id is None:
                    with lock:
                        result.sessions += 1
                session_id = turn.session_id
                in_session += 1
                with lock:
                    result.turns += 1
                    result.latencies.append(turn.seconds)
                    source = str(turn.payload.get("source"))
                    result.sources[source] = result.sources.get(source, 0) + 1
            with lock:
                bounds.extend((first, time.monotonic()))

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    result.seconds = max(bounds) - min(bounds)
    return result


@dataclass
class SteadyRate:
    """Steady-state completions per second of a closed-loop run, and every call's latency."""

    per_second: float
    latencies: list[float] = field(default_factory=list)


def closed_loop(
    make_worker: Callable[[], Callable[[], float]], concurrency: int, seconds: float, warmup: float
) -> SteadyRate:
    """Run ``concurrency`` workers back to back for ``seconds`` and measure their steady rate.

    Each worker calls its function (one turn; it returns the call's latency) until time is up.
    A worker's rate is the number of calls it completed after ``warmup`` divided by the time
    between the first and the last of them; the run's rate is the sum over workers. That leaves
    out ramp-up and drain, and does not depend on where the workers' cycles fall in a window.
    """
    start = threading.Barrier(concurrency + 1, timeout=60)
    lock = threading.Lock()
    latencies: list[float] = []
    completions: list[list[float]] = []
    deadline: list[float] = []

    def worker() -> None:
        call = make_worker()
        mine: list[float] = []
        start.wait()
        while time.monotonic() < deadline[0]:
            latency = call()
            mine.append(time.monotonic())
            with lock:
                latencies.append(latency)
        with lock:
            completions.append(mine)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        began = time.monotonic()
        deadline.append(began + seconds)
        start.wait()
        for future in futures:
            future.result()
    rate = 0.0
    for mine in completions:
        steady = [at for at in mine if at >= began + warmup]
        if len(steady) < 2:
            raise BenchError(f"a closed-loop worker completed {len(steady)} calls after warm-up: run longer")
        rate += (len(steady) - 1) / (steady[-1] - steady[0])
    return SteadyRate(rate, latencies)


class ChatTurns:
    """One closed-loop client: one keep-alive connection, a new session every few turns."""

    def __init__(self, url: str, turns_per_session: int) -> None:
        self._client = ChatClient(url)
        self._per_session = turns_per_session
        self._session: str | None = None
        self._left = 0

    def __call__(self) -> float:
        if self._left == 0:
            self._session, self._left = None, self._per_session
        turn = self._client.chat(MESSAGE, self._session)
        if turn.payload.get("source") != "gemini":
            raise BenchError(f"a reply came from {turn.payload.get('source')!r}, not the (fake) model")
        self._session, self._left = turn.session_id, self._left - 1
        return turn.seconds
