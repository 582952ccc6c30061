"""The measured figures: store operations, overhead, streaming, throughput, key reads, memory."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    MESSAGE,
    Backends,
    BareGemini,
    BenchError,
    ChatClient,
    InProcessApp,
    TurnResult,
    cpu_seconds,
    function_server,
    last_contents,
    model_reply,
    paced,
    progress,
    pss_kib,
    rss_kib,
    worker_pid,
)
from bench.load import ChatTurns, closed_loop, run_load
from bench.report import Section, median, ms, percentile
from tests.fakes.gemini import Behaviour, FakeGemini

ChatFn = Callable[[str, str | None], TurnResult]
# Answers at once: for figures that count things or load the server, not ones that time the model.
INSTANT = model_reply(0.0, 0.0)
OVERHEAD_TARGET = 1.05
STREAM_TARGET_MS = 15.0
THROUGHPUT_TARGET = 0.9
INSTANCE_MIB = 256


@dataclass(frozen=True)
class Pace:
    """The fake model's timing for timed figures."""

    first_delay: float
    chunk_interval: float

    @property
    def behaviour(self) -> Behaviour:
        return model_reply(self.first_delay, self.chunk_interval)


def _turns(results: list[TurnResult]) -> str:
    numbers = [int(r.payload["turn"]) for r in results]
    return f"{min(numbers)}–{max(numbers)}" if min(numbers) != max(numbers) else str(numbers[0])


def _sources_ok(results: list[TurnResult]) -> None:
    sources = {r.payload.get("source") for r in results}
    if sources != {"gemini"}:
        raise BenchError(f"replies came from {sources}, not only from the (fake) Gemini model")


# What the abuse and spend controls add to a turn, one configuration at a time (limits high enough
# never to refuse): the Firestore operations of each are compared with the first.
STORE_OPS_CONFIGS: dict[str, dict[str, str]] = {
    "all off": {},
    "client limiter": {"RATE_LIMIT_CLIENT_PER_MINUTE": "100000"},
    "token budget (read ≤ every 10 s)": {"DAILY_TOKEN_BUDGET": "1000000000"},
    "token budget (read every turn)": {"DAILY_TOKEN_BUDGET": "1000000000", "TOKEN_BUDGET_CHECK_SECONDS": "0"},
    "concurrent-turn cap": {"CLIENT_CONCURRENT_TURNS": "4"},
    "defaults (all on)": {
        "RATE_LIMIT_CLIENT_PER_MINUTE": "100000",
        "DAILY_TOKEN_BUDGET": "1000000000",
        "CLIENT_CONCURRENT_TURNS": "4",
    },
}


def store_ops(backends: Backends, sessions: Mapping[int, str | None], turns: int) -> Section:
    """Firestore reads, writes and RPCs per turn, counted on the client the service really uses."""
    from tests.firestore_ops import FirestoreOps

    section = Section(
        "firestore_ops",
        "Firestore operations and Gemini calls per turn (in process, emulator)",
        (
            "configuration",
            "length",
            "turns",
            "reads",
            "writes",
            "RPCs",
            "max reads",
            "max writes",
            "Gemini calls",
            "turn ms",
        ),
    )
    fake = backends.gemini
    worst: dict[str, tuple[int, int]] = {}
    means: dict[str, tuple[float, float, float]] = {}
    for name, overrides in STORE_OPS_CONFIGS.items():
        env = backends.env("firestore", **overrides)
        with paced(fake, INSTANT), InProcessApp(env) as app:
            ops = FirestoreOps(app.api.service.store._client)
            app.chat(MESSAGE)  # builds the clients
            every: list[tuple[int, int, int]] = []
            for length, session_id in sessions.items():
                reads, writes, rpcs, calls, results = [], [], [], [], []
                for _ in range(turns):
                    ops.reset()
                    before = len(fake.requests)
                    results.append(app.chat(MESSAGE, session_id))
                    reads.append(ops.reads)
                    writes.append(ops.writes)
                    rpcs.append(ops.rpcs)
                    calls.append(len(fake.requests) - before)
                _sources_ok(results)
                every += zip(reads, writes, rpcs, strict=True)
                section.add(
                    **{
                        "configuration": name,
                        "length": length,
                        "turns": _turns(results),
                        "reads": round(sum(reads) / len(reads), 2),
                        "writes": round(sum(writes) / len(writes), 2),
                        "RPCs": round(sum(rpcs) / len(rpcs), 2),
                        "max reads": max(reads),
                        "max writes": max(writes),
                        "Gemini calls": max(calls),
                        "turn ms": ms(median([r.seconds for r in results])),
                    }
                )
                top = worst.get(name, (0, 0))
                worst[name] = (max(top[0], *reads), max(top[1], *writes))
            means[name] = tuple(sum(column) / len(every) for column in zip(*every, strict=True))  # type: ignore[assignment]
    lengths = ", ".join(str(n) for n in sessions)
    off, on = worst["all off"], worst["client limiter"]
    section.check(
        f"Firestore ops/turn, limiter off (lengths {lengths})",
        f"max {off[0]} reads, {off[1]} writes",
        "≤ 2 reads, ≤ 3 writes",
        off[0] <= 2 and off[1] <= 3,
    )
    section.check(
        "Firestore ops/turn, client limiter on (default 30/min)",
        f"max {on[0]} reads, {on[1]} writes",
        "≤ 2 reads, ≤ 4 writes",
        on[0] <= 2 and on[1] <= 4,
    )
    base = means["all off"]
    for name in list(STORE_OPS_CONFIGS)[1:]:
        extra = [value - base[i] for i, value in enumerate(means[name])]
        section.notes.append(
            f"Added per turn by {name}: {extra[0]:+.2f} reads, {extra[1]:+.2f} writes, {extra[2]:+.2f} RPCs (mean)."
        )
    calls_max = max(int(row["Gemini calls"] or 0) for row in section.rows)
    section.check("Gemini calls per turn (in process)", f"max {calls_max}", "1", calls_max == 1)
    section.notes.append(
        "length n = the n-th turn of a conversation (n−1 turns seeded through the store's append_turn); "
        "'turns' shows the turn numbers measured; reads, writes and RPCs are means per turn. Counted with "
        "tests/firestore_ops.FirestoreOps on the service's own Firestore client (an aggregation query counts "
        "as the one read it is billed as). Limits are set high enough never to refuse. The token budget's "
        "total is one aggregation read, made at most every TOKEN_BUDGET_CHECK_SECONDS per instance; its "
        "count is one write per Gemini turn. The cap's lease is one read and one write to take, one write "
        "to give back. turn ms: the whole turn in process with the model answering at once."
    )
    return section


def overhead_rows(
    section: Section,
    chat: ChatFn,
    bare: BareGemini,
    fake: FakeGemini,
    sessions: Mapping[int, str | None],
    reps: int,
    *,
    store: str,
    path: str,
) -> None:
    """Full turns through the HTTP API against the bare SDK call, alternated in the same run."""
    for length, session_id in sessions.items():
        chat(MESSAGE, session_id)  # warm: clients, connection, the session's first load
        bare.call(last_contents(fake))
        full: list[TurnResult] = []
        bare_s: list[float] = []
        bare_cpu: list[float] = []
        for rep in range(reps):
            if rep % 2:
                full.append(chat(MESSAGE, session_id))
            seconds, cpu = bare.call(last_contents(fake))
            bare_s.append(seconds)
            bare_cpu.append(cpu)
            if not rep % 2:
                full.append(chat(MESSAGE, session_id))
        _sources_ok(full)
        full_s = [r.seconds for r in full]
        cpu = [r.cpu_seconds for r in full if r.cpu_seconds is not None]
        ratio = median(full_s) / median(bare_s)
        section.add(
            store=store,
            path=path,
            length=length,
            turns=_turns(full),
            **{
                "full ms": ms(median(full_s)),
                "bare ms": ms(median(bare_s)),
                "overhead ms": ms(median(full_s) - median(bare_s)),
                "full/bare": round(ratio, 3),
                "CPU ms": ms(median(cpu)) if cpu else None,
                "bare CPU ms": ms(median(bare_cpu)),
                "CPU ms besides SDK": ms(median(cpu) - median(bare_cpu)) if cpu else None,
            },
        )
        section.check(
            f"overhead ratio, {store}, {path}, length {length}",
            f"{ratio:.3f} (+{ms(median(full_s) - median(bare_s))} ms)",
            f"< {OVERHEAD_TARGET}",
            ratio < OVERHEAD_TARGET,
        )


def overhead_section(pace: Pace, reps: int) -> Section:
    return Section(
        "overhead",
        f"Overhead of a turn over the bare SDK call (model: {ms(pace.first_delay)} ms to first chunk, "
        f"{ms(pace.chunk_interval)} ms between chunks; median of {reps})",
        (
            "store",
            "path",
            "length",
            "turns",
            "full ms",
            "bare ms",
            "overhead ms",
            "full/bare",
            "CPU ms",
            "bare CPU ms",
            "CPU ms besides SDK",
        ),
        notes=[
            "full: POST /v1/chat (JSON) in process via create_app(...).test_client() or through a "
            "functions-framework server; bare: the same contents and config sent with "
            "google-genai's generate_content_stream, consumed fully, against the same fake. "
            "Runs alternate, so drift hits both.",
            "CPU ms: CPU time of the thread serving the turn (in process only); 'bare CPU ms' is the "
            "SDK call's own; 'besides SDK' is the difference. Length 1 sends no history; from about "
            "8 turns on, the history window (HISTORY_BUDGET_CHARS=16000, ~2 KB turns) is full, so "
            "lengths 100 and 3000 send the same amount.",
        ],
    )


def inprocess_overhead(
    section: Section, backends: Backends, bare: BareGemini, store: str, sessions: Mapping[int, str | None], reps: int
) -> None:
    progress(f"overhead in process, {store}")
    with InProcessApp(backends.env(store)) as app:
        overhead_rows(section, app.chat, bare, backends.gemini, sessions, reps, store=store, path="in process")


def server_overhead(
    section: Section,
    url: str,
    backends: Backends,
    bare: BareGemini,
    store: str,
    sessions: Mapping[int, str | None],
    reps: int,
) -> None:
    progress(f"overhead through the server, {store}")
    with ChatClient(url) as client:
        overhead_rows(section, client.chat, bare, backends.gemini, sessions, reps, store=store, path="server")


def streaming_section(pace: Pace, runs: int) -> Section:
    return Section(
        "streaming",
        f"Streaming: first delta at the client vs the model's first chunk (server, median of {runs})",
        ("store", "length", "runs", "gap ms", "gap p90 ms", "gap max ms", "to model ms", "first delta ms"),
        notes=[
            "gap: client receives the first `delta` event minus the fake model's first chunk "
            f"(its request arrival time + {ms(pace.first_delay)} ms first-chunk delay); to model: client "
            "sends the POST until the fake receives the model request (session load, checks); first "
            "delta: client send to first delta byte (Accept: text/event-stream, one keep-alive connection).",
        ],
    )


def streaming_rows(
    section: Section,
    url: str,
    fake: FakeGemini,
    pace: Pace,
    store: str,
    sessions: Mapping[int, str | None],
    runs: int,
) -> None:
    progress(f"streaming, {store}")
    worst = 0.0
    with ChatClient(url) as client:
        for length, session_id in sessions.items():
            client.stream(MESSAGE, session_id)  # warm
            gaps, to_model, first = [], [], []
            for _ in range(runs):
                before = len(fake.requests)
                result = client.stream(MESSAGE, session_id)
                request = fake.requests[before]
                gaps.append(result.first_delta_at - (request.at + pace.first_delay))
                to_model.append(request.at - result.sent_at)
                first.append(result.first_delta_at - result.sent_at)
            section.add(
                store=store,
                length=length,
                runs=runs,
                **{
                    "gap ms": ms(median(gaps)),
                    "gap p90 ms": ms(percentile(gaps, 0.9)),
                    "gap max ms": ms(max(gaps)),
                    "to model ms": ms(median(to_model)),
                    "first delta ms": ms(median(first)),
                },
            )
            worst = max(worst, median(gaps))
    section.check(
        f"first delta after model's first chunk, {store}",
        f"median {ms(worst)} ms (worst length)",
        f"≤ {STREAM_TARGET_MS:.0f} ms",
        worst * 1000 <= STREAM_TARGET_MS,
    )


def throughput_section(pace: Pace, threads: int) -> Section:
    return Section(
        "throughput",
        f"Throughput of one instance (one functions-framework process, THREADS={threads}, model "
        f"{ms(pace.first_delay)} ms + {ms(pace.chunk_interval)} ms/chunk)",
        (
            "store",
            "concurrency",
            "turns",
            "turns/s",
            "ideal turns/s",
            "of ideal",
            "bare SDK calls/s",
            "of bare",
            "p50 ms",
            "p95 ms",
            "server CPU ms/turn",
            "emulator CPU ms/turn",
        ),
        notes=[
            "Closed loop: each client sends its next turn as soon as the last is answered; turns/s is the "
            "sum over clients of (turns completed after a warm-up − 1) / (time from the first to the last "
            "of them), which leaves out ramp-up and drain. "
            "ideal = concurrency / median bare SDK call time (one at a time), measured in the same run. "
            "bare SDK calls/s: the same closed loop of bare SDK calls from as many threads in this "
            "process, i.e. what the fake model and this 2-core machine allow without the function. "
            "Clients: a thread pool of http.client keep-alive connections, a new session every 4 turns; "
            "the clients, the fake model and the emulator share the machine's 2 cores with the server "
            "(see 'store work alone under concurrency' for what the emulator sustains by itself).",
        ],
    )


def throughput_rows(
    section: Section,
    url: str,
    master_pid: int,
    bare: BareGemini,
    emulator_pid: int | None,
    store: str,
    levels: tuple[int, ...],
    seconds: float,
) -> None:
    contents = [{"role": "user", "parts": [{"text": MESSAGE}]}]
    bare_seconds = median([bare.call(contents)[0] for _ in range(5)])
    worker = worker_pid(master_pid)
    warmup = min(1.5, seconds / 4)
    for concurrency in levels:
        progress(f"throughput, {store}, concurrency {concurrency}")
        bare_rate = closed_loop(lambda: lambda: bare.call(contents)[0], concurrency, seconds, warmup)
        cpu = cpu_seconds(worker)
        emulator_cpu = cpu_seconds(emulator_pid) if emulator_pid and store == "firestore" else None
        result = closed_loop(lambda: ChatTurns(url, 4), concurrency, seconds, warmup)
        cpu = cpu_seconds(worker) - cpu
        if emulator_cpu is not None and emulator_pid:
            emulator_cpu = cpu_seconds(emulator_pid) - emulator_cpu
        turns = len(result.latencies)
        ideal = concurrency / bare_seconds
        share = result.per_second / ideal
        section.add(
            store=store,
            concurrency=concurrency,
            turns=turns,
            **{
                "turns/s": round(result.per_second, 2),
                "ideal turns/s": round(ideal, 2),
                "of ideal": round(share, 3),
                "bare SDK calls/s": round(bare_rate.per_second, 2),
                "of bare": round(result.per_second / bare_rate.per_second, 3),
                "p50 ms": ms(median(result.latencies)),
                "p95 ms": ms(percentile(result.latencies, 0.95)),
                "server CPU ms/turn": ms(cpu / turns),
                "emulator CPU ms/turn": ms(emulator_cpu / turns) if emulator_cpu is not None else None,
            },
        )
        if concurrency >= 8:
            section.check(
                f"throughput at concurrency {concurrency}, {store}",
                f"{result.per_second:.2f}/s = {share:.3f} of ideal {ideal:.2f}/s",
                f"≥ {THROUGHPUT_TARGET} of ideal",
                share >= THROUGHPUT_TARGET,
            )


def key_reads(backends: Backends, workdir: Path, turns: int, concurrency: int) -> Section:
    """Secret Manager reads and Gemini calls over many turns on one instance."""
    section = Section(
        "key_reads",
        "Secret Manager reads and Gemini calls per instance (server, SQLite, key from the fake Secret Manager)",
        ("turns", "concurrency", "sessions", "Secret Manager reads", "Gemini calls", "Gemini calls/turn", "sources"),
    )
    secrets, fake = backends.secrets, backends.gemini
    secrets.reset()
    env = backends.secret_env("sqlite", THREADS=str(max(8, concurrency)))
    progress(f"Secret Manager reads over {turns} turns")
    with paced(fake, INSTANT), function_server(env, workdir / "key-reads.log") as server:
        before = len(fake.requests)
        result = run_load(server.url, concurrency, turns, turns_per_session=10)
        calls = len(fake.requests) - before
        reads = len(secrets.accesses)
    section.add(
        turns=result.turns,
        concurrency=concurrency,
        sessions=result.sessions,
        **{
            "Secret Manager reads": reads,
            "Gemini calls": calls,
            "Gemini calls/turn": round(calls / result.turns, 3),
            "sources": ", ".join(f"{k}: {v}" for k, v in sorted(result.sources.items())),
        },
    )
    section.check(f"Secret Manager reads per instance over {result.turns} turns", str(reads), "1", reads == 1)
    section.check(
        f"Gemini calls per turn over {result.turns} turns (server)",
        f"{calls / result.turns:.3f}",
        "1",
        calls == result.turns,
    )
    return section


def memory(backends: Backends, workdir: Path, checkpoints: tuple[int, ...], concurrency: int) -> Section:
    """Resident memory of the serving process as turns accumulate over many sessions."""
    section = Section(
        "memory",
        f"Memory of one instance (server, SQLite, {concurrency} clients, new session every 10 turns)",
        ("turns", "worker RSS MiB", "master RSS MiB", "worker+master PSS MiB", "of 256 MiB"),
    )
    threads = max(8, concurrency)
    env = backends.env("sqlite", THREADS=str(threads))
    with paced(backends.gemini, INSTANT), function_server(env, workdir / "memory.log") as server:
        assert server.process is not None
        master = server.process.pid
        worker = worker_pid(master)
        done = 0
        samples: dict[int, float] = {}
        for target in (0, *checkpoints):
            if target > done:
                progress(f"memory: {target} turns")
                run_load(server.url, concurrency, target - done, turns_per_session=10)
                done = target
            worker_rss, master_rss = rss_kib(worker) / 1024, rss_kib(master) / 1024
            pss = [pss_kib(worker), pss_kib(master)]
            total = sum(p for p in pss if p is not None) / 1024 if None not in pss else worker_rss + master_rss
            samples[target] = worker_rss
            section.add(
                turns=target,
                **{
                    "worker RSS MiB": round(worker_rss, 1),
                    "master RSS MiB": round(master_rss, 1),
                    "worker+master PSS MiB": round(total, 1),
                    "of 256 MiB": f"{100 * total / INSTANCE_MIB:.0f}%",
                },
            )
    first, last = checkpoints[0], checkpoints[-1]
    # The first turns fill per-thread connections, caches and allocator pools; a leak keeps growing after.
    settled = checkpoints[1] if len(checkpoints) > 2 else first
    per_1000 = (samples[last] - samples[settled]) / (last - settled) * 1000
    section.check(
        f"worker RSS growth {settled} → {last} turns",
        f"{samples[last] - samples[settled]:+.1f} MiB ({per_1000:+.2f} MiB per 1,000 turns); "
        f"{first} → {last}: {samples[last] - samples[first]:+.1f} MiB",
        "≤ 0.5 MiB per 1,000 turns",
        per_1000 <= 0.5,
    )
    peak = max(float(row["worker+master PSS MiB"] or 0) for row in section.rows)
    section.check(
        "instance memory (worker+master PSS)", f"{peak:.1f} MiB", f"< {INSTANCE_MIB} MiB", peak < INSTANCE_MIB
    )
    section.notes.append(
        f"THREADS={threads}; the model answers at once here so that {last} turns fit in the run. "
        "gunicorn forks the worker from the master after the function is imported, so they share "
        "pages: PSS counts each shared page once in total."
    )
    return section
