"""Where a turn's CPU time goes: store calls timed directly, and a profile of whole turns in process."""

from __future__ import annotations

import cProfile
import pstats
import re
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.figures import INSTANT
from bench.harness import (
    MESSAGE,
    SEED_REPLY,
    SEED_USER,
    Backends,
    InProcessApp,
    environ,
    paced,
    progress,
)
from bench.report import Section, median, ms, percentile

_OURS = re.compile(r"functions/(firstaid_chat/[^.]+)\.py$")


def store_calls(backends: Backends, sessions: Mapping[str, Mapping[int, str | None]], calls: int) -> Section:
    """load_session and append_turn called directly, at each conversation length, on each store."""
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store, tail_chars_for

    section = Section(
        "store_calls",
        f"Store calls on their own (in process, median of {calls})",
        (
            "store",
            "inline tail",
            "length",
            "load_session ms",
            "load_session CPU ms",
            "append_turn ms",
            "append_turn CPU ms",
        ),
        notes=[
            "CPU ms: this thread's CPU time (encoding and decoding in Python; the emulator's own work is "
            "not included). Turns are about 2 KB each. The inline tail is the character budget of recent turns "
            "kept in the Firestore session document (SQLite reads its tail with a query instead).",
        ],
    )
    for store_name, by_length in sessions.items():
        progress(f"store calls, {store_name}")
        with environ(backends.env(store_name)):
            settings = Settings.from_env()
            store = build_store(settings)
        tail = f"{tail_chars_for(settings) // 1000}k chars" if store_name == "firestore" else "–"
        try:
            for length, session_id in by_length.items():
                if session_id is not None:
                    section.add(
                        store=store_name, length=length, **{"inline tail": tail}, **_costs(store, session_id, calls)
                    )
        finally:
            store.close()
    return section


def _costs(store: Any, session_id: str, calls: int) -> dict[str, float]:
    """Wall and CPU time of load_session, then claim_turn and append_turn on what it loaded (as the service does)."""

    from firstaid_chat.conversation import TurnDraft, new_turn_key

    load, load_cpu, append, append_cpu = [], [], [], []
    for _ in range(calls):
        started, cpu = time.monotonic(), time.thread_time()
        session = store.load_session(session_id, datetime.now(UTC))
        load.append(time.monotonic() - started)
        load_cpu.append(time.thread_time() - cpu)
        key = new_turn_key()
        draft = TurnDraft(user_text=SEED_USER, reply_text=SEED_REPLY, key=key)
        now = datetime.now(UTC)
        seconds, cpu = _timed(_claim_and_append, store, session_id, session, draft, now)
        append.append(seconds)
        append_cpu.append(cpu)
    return {
        "load_session ms": ms(median(load)),
        "load_session CPU ms": ms(median(load_cpu)),
        "append_turn ms": ms(median(append)),
        "append_turn CPU ms": ms(median(append_cpu)),
    }


def _claim_and_append(store: Any, session_id: str, session: Any, draft: Any, now: datetime) -> Any:
    claim = store.claim_turn(session_id, session, draft.key, now, now + timedelta(minutes=1))
    return store.append_turn(claim, draft, now)


def store_load(backends: Backends, levels: tuple[int, ...], turns: int) -> Section:
    """A turn's store work alone (load_session, then append_turn on it) from many threads at once."""
    from firstaid_chat.conversation import TurnDraft, new_session_id
    from firstaid_chat.settings import Settings
    from firstaid_chat.store import build_store, record_turn

    section = Section(
        "store_load",
        f"A turn's store work alone under concurrency (in process, {turns} turns per thread, each on its own session)",
        ("store", "threads", "turns/s", "p50 ms", "p95 ms"),
        notes=[
            "load_session, claim_turn, then append_turn per turn, no model: what the store (and, for "
            "Firestore, the emulator on the same 2 cores) sustains by itself.",
        ],
    )
    draft = TurnDraft(user_text=SEED_USER, reply_text=SEED_REPLY)
    for store_name in backends.stores:
        progress(f"store load, {store_name}")
        with environ(backends.env(store_name)):
            store = build_store(Settings.from_env())
        try:
            for threads in levels:
                latencies: list[float] = []

                def work(store: Any = store, latencies: list[float] = latencies) -> None:
                    session_id = new_session_id()
                    record_turn(store, session_id, draft, datetime.now(UTC), create=True)
                    for _ in range(turns):
                        started = time.monotonic()
                        record_turn(store, session_id, draft, datetime.now(UTC))
                        latencies.append(time.monotonic() - started)

                began = time.monotonic()
                with ThreadPoolExecutor(max_workers=threads) as pool:
                    for future in [pool.submit(work) for _ in range(threads)]:
                        future.result()
                seconds = time.monotonic() - began
                section.add(
                    store=store_name,
                    threads=threads,
                    **{
                        "turns/s": round(len(latencies) / seconds, 1),
                        "p50 ms": ms(median(latencies)),
                        "p95 ms": ms(percentile(latencies, 0.95)),
                    },
                )
        finally:
            store.close()
    return section


def _timed(call: Callable[..., object], *args: object, **kwargs: object) -> tuple[float, float]:
    cpu = time.thread_time()
    started = time.monotonic()
    call(*args, **kwargs)
    return time.monotonic() - started, time.thread_time() - cpu


def turn_profile(backends: Backends, sessions: Mapping[str, str | None], turns: int, top: int = 8) -> Section:
    """cProfile of whole turns in process (model answering at once): own time by package and by function."""
    section = Section(
        "turn_profile",
        f"CPU profile of a turn in process (cProfile, {turns} turns at the given length, model answers at once)",
        ("store", "length", "where", "own ms/turn", "share"),
        notes=[
            "own CPU time (thread time) of Python functions, grouped by package (site-packages top level, "
            "or the function's module); cProfile slows Python code several times, so read shares, not "
            "absolute times.",
        ],
    )
    for store_name, session_id in sessions.items():
        progress(f"profile, {store_name}")
        with paced(backends.gemini, INSTANT), InProcessApp(backends.env(store_name)) as app:
            app.chat(MESSAGE, session_id)
            profiler = cProfile.Profile(time.thread_time)  # CPU time, not time spent waiting
            length = 0
            for _ in range(turns):
                profiler.enable()
                result = app.chat(MESSAGE, session_id)
                profiler.disable()
                length = int(result.payload["turn"])
        stats = pstats.Stats(profiler)
        by_package: dict[str, float] = defaultdict(float)
        by_function: dict[str, float] = {}
        total = 0.0
        raw: dict[tuple[str, int, str], tuple[int, int, float, float, object]] = stats.stats  # type: ignore[attr-defined]
        for (filename, line, function), (_, _, own, _, _) in raw.items():
            total += own
            package = _package(filename, function)
            by_package[package] += own
            by_function[f"{package}:{function}" + (f" (line {line})" if line else "")] = own
        for label, own in sorted(by_package.items(), key=lambda i: -i[1])[:top]:
            section.add(store=store_name, length=length, where=label, **_own(own, total, turns))
        for label, own in sorted(by_function.items(), key=lambda i: -i[1])[: top // 2]:
            section.add(store=store_name, length=length, where=f"fn {label}", **_own(own, total, turns))
    return section


def _own(own: float, total: float, turns: int) -> dict[str, float | str]:
    return {"own ms/turn": ms(own / turns), "share": f"{100 * own / total:.0f}%"}


def _package(filename: str, function: str) -> str:
    ours = _OURS.search(filename)
    if ours:
        return ours[1].replace("/", ".")
    if "site-packages/" in filename:
        parts = filename.split("site-packages/", 1)[1].split("/")
        depth = 3 if parts[:2] == ["google", "cloud"] else 2 if parts[0] == "google" else 1
        return ".".join(parts[:depth]).removesuffix(".py")
    if filename == "~":  # C functions: name them by the extension they belong to, where it shows
        for extension in ("pydantic_core", "grpc", "sqlite3", "_json", "_ssl", "_socket"):
            if extension in function:
                return extension
        return "builtins"
    return "stdlib"
