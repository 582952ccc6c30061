"""Run the benchmark: ``.venv/bin/python -m bench [--quick] [--json PATH]`` from the repository root."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT
from bench.costs import store_calls, store_load, turn_profile
from bench.figures import (
    Pace,
    inprocess_overhead,
    key_reads,
    memory,
    overhead_section,
    server_overhead,
    store_ops,
    streaming_rows,
    streaming_section,
    throughput_rows,
    throughput_section,
)
from bench.harness import Backends, BareGemini, backends, function_server, progress, scrub_environ
from bench.harness import seed_conversation as seed
from bench.report import Section, render, write_json
from bench.spend import spend
from bench.startup import cold_start, first_request, import_experiments, import_time

DEFAULT_JSON = ROOT / "bench" / "results" / "latest.json"


@dataclass(frozen=True)
class Plan:
    """How much of everything to run."""

    lengths: tuple[int, ...]
    ops_turns: int
    overhead_reps: int
    stream_runs: int
    stream_lengths: tuple[int, ...]
    levels: tuple[int, ...]
    throughput_seconds: float
    threads: int
    key_turns: int
    memory_checkpoints: tuple[int, ...]
    cold_runs: int
    import_runs: int
    store_calls: int
    store_load_turns: int
    profile_turns: int


FULL = Plan(
    lengths=(1, 100, 3000),
    ops_turns=5,
    overhead_reps=9,
    stream_runs=20,
    stream_lengths=(1, 100),
    levels=(1, 8, 16, 32),
    throughput_seconds=6.0,
    threads=64,
    key_turns=1000,
    memory_checkpoints=(100, 1000, 2000, 3000, 4000, 5000),
    cold_runs=3,
    import_runs=15,
    store_calls=5,
    store_load_turns=10,
    profile_turns=20,
)
QUICK = Plan(
    lengths=(1, 100),
    ops_turns=2,
    overhead_reps=2,
    stream_runs=5,
    stream_lengths=(1,),
    levels=(1, 8, 32),
    throughput_seconds=2.4,
    threads=64,
    key_turns=200,
    memory_checkpoints=(100, 400),
    cold_runs=1,
    import_runs=2,
    store_calls=2,
    store_load_turns=3,
    profile_turns=5,
)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short smoke run (under ~2 minutes)")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help=f"where to write the figures ({DEFAULT_JSON})")
    parser.add_argument("--first-delay", type=float, default=0.5, help="fake model: seconds to the first chunk")
    parser.add_argument("--chunk-interval", type=float, default=0.02, help="fake model: seconds between chunks")
    return parser.parse_args(argv)


def _guarded(key: str, title: str, measure: Callable[[], Section]) -> Section:
    """Measure one section; a failure is reported in its place instead of ending the run."""
    try:
        return measure()
    except Exception as exc:
        progress(f"{key} failed: {exc!r}")
        return Section(key, title, (), error=f"{type(exc).__name__}: {exc}"[:500])


def _seed(b: Backends, plan: Plan) -> dict[str, dict[int, str | None]]:
    """Per store: length n → a session with n − 1 stored turns (None for n = 1: a new session)."""
    seeded: dict[str, dict[int, str | None]] = {}
    for store in b.stores:
        progress(f"seeding {store} conversations of {', '.join(str(n - 1) for n in plan.lengths if n > 1)} turns")
        try:
            seeded[store] = {n: (seed(b.env(store), n - 1) if n > 1 else None) for n in plan.lengths}
        except Exception as exc:
            progress(f"seeding {store} failed, its figures are skipped: {exc!r}")
    return seeded


def _per_store(
    b: Backends, plan: Plan, pace: Pace, workdir: Path, seeded: dict[str, dict[int, str | None]]
) -> list[Section]:
    """Overhead, streaming and throughput for each store, sharing seeded conversations and one server."""
    overhead = overhead_section(pace, plan.overhead_reps)
    streaming = streaming_section(pace, plan.stream_runs)
    throughput = throughput_section(pace, plan.threads)
    bare = BareGemini(b.gemini.base_url)
    for store, sessions in seeded.items():
        try:
            inprocess_overhead(overhead, b, bare, store, sessions, plan.overhead_reps)
            env = b.env(store, THREADS=str(plan.threads))
            with function_server(env, workdir / f"server-{store}.log") as server:
                assert server.process is not None
                server_overhead(overhead, server.url, b, bare, store, sessions, plan.overhead_reps)
                short = {n: s for n, s in sessions.items() if n in plan.stream_lengths}
                streaming_rows(streaming, server.url, b.gemini, pace, store, short, plan.stream_runs)
                emulator = b.emulator.process.pid if b.emulator and b.emulator.process else None
                throughput_rows(
                    throughput,
                    server.url,
                    server.process.pid,
                    bare,
                    emulator,
                    store,
                    plan.levels,
                    plan.throughput_seconds,
                )
            b.gemini.requests.clear()
        except Exception as exc:
            progress(f"{store} figures failed: {exc!r}")
            for section in (overhead, streaming, throughput):
                section.notes.append(f"{store}: not complete: {type(exc).__name__}: {exc}"[:500])
                section.check(f"{section.key}, {store}", "failed (see notes)", "", None)
    return [overhead, streaming, throughput]


def _meta(args: argparse.Namespace, plan: Plan, pace: Pace, seconds: float) -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit or None,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "model_pace": asdict(pace),
        "plan": asdict(plan),
        "seconds": round(seconds, 1),
        "command": "python -m bench" + (" --quick" if args.quick else ""),
    }


ORDER = (
    "firestore_ops",
    "spend",
    "key_reads",
    "overhead",
    "streaming",
    "throughput",
    "cold_start",
    "first_request",
    "import_time",
    "import_experiments",
    "memory",
    "store_calls",
    "store_load",
    "turn_profile",
)


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    plan = QUICK if args.quick else FULL
    pace = Pace(args.first_delay, args.chunk_interval)
    scrub_environ()
    started = time.monotonic()
    sections: dict[str, Section] = {}
    # Import times first, before the emulator's JVM starts competing for the CPU.
    sections["import_time"] = _guarded("import_time", "Import time", lambda: import_time(plan.import_runs))
    sections["import_experiments"] = _guarded(
        "import_experiments", "Import experiments", lambda: import_experiments(plan.import_runs)
    )
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp, backends(Path(tmp), pace.behaviour) as b:
        workdir = Path(tmp)
        sections["first_request"] = _guarded(
            "first_request", "First request", lambda: first_request(b, workdir, plan.cold_runs)
        )
        sections["cold_start"] = _guarded("cold_start", "Cold start", lambda: cold_start(b, workdir, plan.cold_runs))
        seeded = _seed(b, plan)
        if "firestore" in seeded:
            sessions = seeded["firestore"]
            sections["firestore_ops"] = _guarded(
                "firestore_ops", "Firestore operations", lambda: store_ops(b, sessions, plan.ops_turns)
            )
        else:
            sections["firestore_ops"] = Section(
                "firestore_ops", "Firestore operations", (), error="the Firestore emulator is not available"
            )
            sections["firestore_ops"].check(
                "Firestore operations per turn", "not measured", "≤ 2 reads, ≤ 2 writes", None
            )
        ops = sections["firestore_ops"]
        sections["spend"] = _guarded("spend", "Cost of 1,000 turns", lambda: spend(ops))
        sections["store_calls"] = _guarded(
            "store_calls", "Store calls", lambda: store_calls(b, seeded, plan.store_calls)
        )
        sections["store_load"] = _guarded(
            "store_load", "Store load", lambda: store_load(b, plan.levels, plan.store_load_turns)
        )
        middle = {store: sessions.get(100) for store, sessions in seeded.items()}
        sections["turn_profile"] = _guarded(
            "turn_profile", "Turn profile", lambda: turn_profile(b, middle, plan.profile_turns)
        )
        for section in _per_store(b, plan, pace, workdir, seeded):
            sections[section.key] = section
        sections["key_reads"] = _guarded(
            "key_reads", "Secret Manager reads", lambda: key_reads(b, workdir, plan.key_turns, 8)
        )
        sections["memory"] = _guarded("memory", "Memory", lambda: memory(b, workdir, plan.memory_checkpoints, 16))
    ordered = [sections[k] for k in ORDER if k in sections]
    seconds = time.monotonic() - started
    print(render(ordered))
    write_json(args.json, _meta(args, plan, pace, seconds), ordered)
    progress(f"done in {seconds:.0f} s; figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
