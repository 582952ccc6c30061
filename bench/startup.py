"""Cold start: process start to first answered request, and what importing the function costs."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import FUNCTIONS, ROOT
from bench.figures import INSTANT
from bench.harness import MESSAGE, Backends, BenchError, ChatClient, paced, progress, rss_kib, worker_pid
from bench.report import Section, median, ms
from tests.servers import START_TIMEOUT_SECONDS, FunctionServer

IMPORT_LINE = re.compile(r"^import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)$")
# Imported by the first request that needs them (runtime.build_api and the key source), not at start.
FIRST_REQUEST_IMPORTS = ("firstaid_chat.model.gemini", "firstaid_chat.store.firestore", "google.cloud.secretmanager")


class TimedServer(FunctionServer):
    """A FunctionServer whose start is timed: spawn, listening, and the first /healthz answer."""

    spawned_at = 0.0
    answered_at = 0.0
    first_health_seconds = 0.0

    def start(self) -> TimedServer:
        self.spawned_at = time.monotonic()
        self.spawn()
        assert self.process is not None
        deadline = self.spawned_at + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"functions-framework exited with {self.process.returncode}: {self.logs()[-2000:]}")
            sent = time.monotonic()
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=START_TIMEOUT_SECONDS) as response:
                    if response.status == 200:
                        self.answered_at = time.monotonic()
                        self.first_health_seconds = self.answered_at - sent
                        return self
            except (urllib.error.URLError, OSError):
                time.sleep(0.01)
        self.stop()
        raise BenchError("functions-framework did not answer /healthz in time")


def cold_start(backends: Backends, workdir: Path, runs: int) -> Section:
    """Spawn the function as deployed (Firestore, key from Secret Manager) and time its first requests."""
    store = "firestore" if "firestore" in backends.stores else "sqlite"
    section = Section(
        "cold_start",
        f"Cold start (server, {store}, key from Secret Manager, model answers at once)",
        ("run", "spawn → /healthz ms", "first /healthz ms", "first POST ms", "second POST ms", "worker RSS MiB"),
    )
    env = backends.secret_env(store)
    rows: dict[str, list[float]] = defaultdict(list)
    with paced(backends.gemini, INSTANT):
        for run in range(1, runs + 1):
            progress(f"cold start {run}/{runs}")
            server = TimedServer(env, workdir / f"cold-{run}.log")
            try:
                server.start()
                with ChatClient(server.url) as client:
                    first = client.chat(MESSAGE)
                    second = client.chat(MESSAGE, first.session_id)
                assert server.process is not None
                rss = rss_kib(worker_pid(server.process.pid)) / 1024
            finally:
                server.stop()
            row = {
                "spawn → /healthz ms": ms(server.answered_at - server.spawned_at),
                "first /healthz ms": ms(server.first_health_seconds),
                "first POST ms": ms(first.seconds),
                "second POST ms": ms(second.seconds),
                "worker RSS MiB": round(rss, 1),
            }
            for name, value in row.items():
                rows[name].append(value)
            section.add(run=str(run), **row)
    if runs > 1:
        section.add(run="median", **{name: round(median(values), 1) for name, values in rows.items()})
    section.notes.append(
        "The first request of an instance, even GET /healthz, builds the API (runtime.get_api): it "
        "imports google-genai and google-cloud-firestore and creates their clients. The first POST "
        "then reads the key from Secret Manager and opens the model and Firestore connections."
    )
    return section


def first_request(backends: Backends, workdir: Path, runs: int) -> Section:
    """A new instance's steps to its first answer, timed one by one in a fresh interpreter."""
    from bench.first_request import STEPS

    store = "firestore" if "firestore" in backends.stores else "sqlite"
    section = Section(
        "first_request",
        f"A new instance's first answer, step by step (fresh interpreter, {store}, key from Secret Manager, "
        f"median of {runs})",
        ("step", "ms"),
    )
    samples: dict[str, list[float]] = defaultdict(list)
    env = {**os.environ, **backends.secret_env(store)}
    with paced(backends.gemini, INSTANT):
        for run in range(runs):
            progress(f"first request breakdown {run + 1}/{runs}")
            out = workdir / f"first-request-{run}.json"
            done = subprocess.run(
                [sys.executable, "-m", "bench.first_request", str(out)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise BenchError(f"bench.first_request failed: {done.stderr[-1500:]}")
            for step, seconds in json.loads(out.read_text()).items():
                samples[step].append(seconds)
    for step in STEPS:
        section.add(step=step, ms=ms(median(samples[step])))
    section.add(step="total", ms=round(sum(ms(median(samples[s])) for s in STEPS), 1))
    section.notes.append(
        "Each step runs on top of the previous ones, in the order a real first request meets them; the "
        "two imports are the ones runtime.get_api does lazily, timed apart here. On a server the first "
        "request of any kind (even GET /healthz) triggers the build."
    )
    return section


@dataclass(frozen=True)
class ImportRecord:
    name: str
    depth: int
    self_us: int
    cumulative_us: int
    chain: tuple[str, ...]  # the importers, outermost first


def parse_importtime(text: str) -> list[ImportRecord]:
    """Records of ``python -X importtime`` output, each with the chain of modules that imported it."""
    lines = [m for m in (IMPORT_LINE.match(line) for line in text.splitlines()) if m]
    parsed = [(m[4], len(m[3]) // 2, int(m[1]), int(m[2])) for m in lines]
    records = []
    # Children are printed before their parent: a module's importer is the next line one level up.
    for index, (name, depth, self_us, cumulative_us) in enumerate(parsed):
        chain: list[str] = []
        want = depth - 1
        for later, later_depth, _, _ in parsed[index + 1 :]:
            if want < 0:
                break
            if later_depth == want:
                chain.insert(0, later)
                want -= 1
        records.append(ImportRecord(name, depth, self_us, cumulative_us, tuple(chain)))
    return records


def _importtime(code: str, cwd: Path) -> list[ImportRecord]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"importing failed: {done.stderr[-1500:]}")
    return parse_importtime(done.stderr)


def _median_by_name(runs: Sequence[list[ImportRecord]]) -> dict[str, float]:
    values: dict[str, list[int]] = defaultdict(list)
    for records in runs:
        for record in records:
            values[record.name].append(record.cumulative_us)
    return {name: median(v) / 1000 for name, v in values.items()}


def import_time(runs: int) -> Section:
    """``python -X importtime -c "import main"`` in functions/, and the imports deferred to the first request."""
    progress(f"import time ({runs} runs)")
    section = Section(
        "import_time",
        f"Import time of functions/main.py (python -X importtime, median of {runs})",
        ("module", "cumulative ms", "depth", "imported via"),
    )
    start_runs = [_importtime("import main", FUNCTIONS) for _ in range(runs)]
    start = _median_by_name(start_runs)
    section.add(module="main (total)", **{"cumulative ms": round(start["main"], 1), "depth": 0})
    chains = {r.name: r for r in start_runs[0]}
    ranked = sorted((n for n in start if n != "main"), key=lambda n: -start[n])[:10]
    for name in ranked:
        record = chains.get(name)
        section.add(
            module=name,
            **{
                "cumulative ms": round(start[name], 1),
                "depth": record.depth if record else None,
                "imported via": " → ".join(record.chain) if record else None,
            },
        )
    direct = {r.name: start[r.name] for r in start_runs[0] if r.depth == 1}
    ours = sum(v for n, v in direct.items() if n.startswith("firstaid_chat"))
    section.notes.append(
        "main's direct imports: " + ", ".join(f"{n} {v:.1f} ms" for n, v in sorted(direct.items(), key=lambda i: -i[1]))
    )
    section.notes.append(f"the function's own package (firstaid_chat.*) at start: {ours:.1f} ms of {start['main']:.1f}")

    code = "import main; " + "; ".join(f"import {m}" for m in FIRST_REQUEST_IMPORTS)
    later_runs = [_importtime(code, FUNCTIONS) for _ in range(runs)]
    later = _median_by_name(later_runs)
    deferred = [(m, later[m]) for m in FIRST_REQUEST_IMPORTS if m in later]
    total = sum(v for _, v in deferred)
    section.notes.append(
        f"imported by the first request instead (after main, each on top of the previous): {total:.0f} ms — "
        + ", ".join(f"{m} {v:.0f} ms" for m, v in deferred)
    )
    heavy = sorted(
        (r for r in later_runs[0] if r.depth == 1 and r.chain and r.chain[0] in FIRST_REQUEST_IMPORTS),
        key=lambda r: -later[r.name],
    )[:6]
    section.notes.append(
        "largest pieces of those: " + ", ".join(f"{r.name} {later[r.name]:.0f} ms (via {r.chain[0]})" for r in heavy)
    )
    return section


@dataclass(frozen=True)
class Experiment:
    """An edit to a copy of functions/ whose effect on import time is measured (the checkout is untouched)."""

    name: str
    path: str  # relative to functions/
    old: str
    new: str


EXPERIMENTS = (
    Experiment(
        name="firstaid_chat/offline/__init__.py without its re-exports (compose, knowledge, retrieval, emergency)",
        path="firstaid_chat/offline/__init__.py",
        old=(
            "from .compose import compose_reply, no_match_reply\n"
            "from .emergency import emergency_preamble, signals_life_threat\n"
            "from .knowledge import Topic, load_topics\n"
            "from .retrieval import Match, TopicIndex, default_index\n"
        ),
        new="",
    ),
)


def import_experiments(runs: int, experiments: Sequence[Experiment] = EXPERIMENTS) -> Section:
    """Import time of main in an unchanged copy and in edited copies, runs interleaved."""
    section = Section(
        "import_experiments",
        f"Import-time experiments on a copy of functions/ (median of {runs}, interleaved)",
        ("edit", "before ms", "after ms", "saved ms", "firstaid_chat before ms", "firstaid_chat after ms"),
    )
    with tempfile.TemporaryDirectory(prefix="bench-imports-") as tmp:
        base = Path(tmp) / "base"
        shutil.copytree(FUNCTIONS, base, ignore=shutil.ignore_patterns("__pycache__", ".data"))
        for index, experiment in enumerate(experiments):
            progress(f"import experiment: {experiment.name}")
            copy = Path(tmp) / f"edit{index}"
            shutil.copytree(base, copy)
            target = copy / experiment.path
            text = target.read_text() if target.exists() else ""
            if experiment.old not in text:
                section.notes.append(f"{experiment.name}: not applicable (the code no longer has the text to edit)")
                continue
            target.write_text(text.replace(experiment.old, experiment.new))
            for tree in (base, copy):
                _importtime("import main", tree)  # compiles the copy's bytecode once
            before_runs, after_runs = [], []
            for _ in range(runs):
                before_runs.append(_importtime("import main", base))
                after_runs.append(_importtime("import main", copy))
            before, after = _median_by_name(before_runs), _median_by_name(after_runs)
            section.add(
                edit=experiment.name,
                **{
                    "before ms": round(before["main"], 1),
                    "after ms": round(after["main"], 1),
                    "saved ms": round(before["main"] - after["main"], 1),
                    "firstaid_chat before ms": round(_ours(before_runs[0], before), 1),
                    "firstaid_chat after ms": round(_ours(after_runs[0], after), 1),
                },
            )
    section.notes.append(
        "main's total import time swings by tens of ms from run to run (flask and werkzeug dominate it); "
        "the firstaid_chat columns, the function's own package, are the steadier measure of an edit."
    )
    return section


def _ours(records: Sequence[ImportRecord], medians: Mapping[str, float]) -> float:
    return sum(medians[r.name] for r in records if r.depth == 1 and r.name.startswith("firstaid_chat"))
