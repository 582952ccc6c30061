"""Mutation testing of the core modules with mutmut, one module at a time; prints each module's score.

Usage: python scripts/mutation.py [module ...]   (default: every module in scripts/mutation.toml)

Each module gets its own work folder, ``.mutation/<module>/`` (git-ignored), where ``src`` links to
``functions/`` (mutmut 3 names mutants after their path with only a ``src.`` prefix removed) and a
generated pyproject.toml limits mutmut to that module and its tests. mutmut keeps its results
there, so a rerun only tests the mutants of functions that changed (its incremental mode).
One Firestore emulator serves every mutant's tests (``TEST_FIRESTORE_EMULATOR``) and one mutant
runs at a time, so the run fits a shared 2-core machine. ``../../.venv/bin/mutmut browse`` in a
work folder shows its survivors; ``.mutation/survivors.txt`` lists them all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
MODULES: dict[str, Any] = tomllib.loads((ROOT / "scripts" / "mutation.toml").read_text())["modules"]
KILLED = {1, 3, 36, -24, 37}  # a test failed, pytest's internal error, timeout (CPU limit), type check
STATUS = {0: "survived", 33: "no tests", 5: "no tests", 34: "skipped", None: "not run"}


def toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(value) for value in values) + "]"


def prepare(module: str) -> Path:
    """The module's work folder: links to the sources and tests, main.py alone, and its configuration."""
    work = WORK / module
    (work / "functions").mkdir(parents=True, exist_ok=True)
    links = {"src": ROOT / "functions", "tests": ROOT / "tests", "functions/main.py": ROOT / "functions" / "main.py"}
    for name, target in links.items():
        link = work / name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(target, link.parent))
    spec = MODULES[module]
    config = (ROOT / "pyproject.toml").read_text() + (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/firstaid_chat"]\n'
        f'only_mutate = ["src/firstaid_chat/{spec["file"]}"]\n'
        'also_copy = ["functions"]\n'
        f"pytest_add_cli_args_test_selection = {toml_list(spec['tests'])}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "--timeout=120"]\n'
        'process_isolation = "forkserver"\n'
    )
    target = work / "pyproject.toml"
    if not target.exists() or target.read_text() != config:
        target.write_text(config)
    return work


def score(module: str) -> tuple[Counter[str], list[str]]:
    """Counts by status and the names of the mutants no test killed."""
    results = json.loads(meta_file(module).read_text())["exit_code_by_key"]
    counts: Counter[str] = Counter()
    survivors = []
    for name, code in sorted(results.items()):
        status = "killed" if code in KILLED else STATUS.get(code, f"exit {code}")
        counts[status] += 1
        if status != "killed":
            survivors.append(f"{name} ({status})")
    return counts, survivors


def mutmut(work: Path, env: dict[str, str], *names: str) -> None:
    with (work / "mutmut.log").open("a") as log:
        result = subprocess.run(
            [str(MUTMUT), "run", "--max-children", "1", *names], cwd=work, env=env, stdout=log,
            stderr=subprocess.STDOUT, check=False,
        )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"mutmut failed in {work}: see {work / 'mutmut.log'}")


def run(module: str, env: dict[str, str]) -> None:
    """Test the module's new and changed mutants, then retest its survivors against today's tests."""
    print(f"==> mutmut: firstaid_chat.{module}", flush=True)
    work = prepare(module)
    (work / "mutmut.log").write_text("")
    survivors_before = survivors(module) if meta_file(module).exists() else []
    mutmut(work, env)
    again = [name for name in survivors(module) if name in survivors_before]
    if again:
        mutmut(work, env, *again)


def meta_file(module: str) -> Path:
    return WORK / module / "mutants" / "src" / "firstaid_chat" / f"{MODULES[module]['file']}.meta"


def survivors(module: str) -> list[str]:
    results = json.loads(meta_file(module).read_text())["exit_code_by_key"]
    return [name for name, code in results.items() if code not in KILLED]


def main(modules: list[str]) -> int:
    unknown = sorted(set(modules) - set(MODULES))
    if unknown:
        raise SystemExit(f"unknown module(s) {unknown}; choose from {sorted(MODULES)}")
    sys.path.insert(0, str(ROOT))
    from tests.fakes.firestore_emulator import FirestoreEmulator, jar_path

    jar = jar_path()
    if jar is None:
        raise SystemExit("the Firestore emulator and Java are needed: see tests/components.py for how to get them")
    emulator = FirestoreEmulator(jar).start()
    env = {**os.environ, "TEST_FIRESTORE_EMULATOR": emulator.host}
    try:
        for module in modules:
            run(module, env)
    finally:
        emulator.stop()
    lines = ["| module | mutants | killed | survived | no tests | score |", "|---|---|---|---|---|---|"]
    report = []
    for module in modules:
        counts, survivors = score(module)
        total = sum(counts.values())
        lines.append(
            f"| {module} | {total} | {counts['killed']} | {counts['survived']} | {counts['no tests']} "
            f"| {counts['killed'] / total:.2f} |"
        )
        report += [f"{module}: {name}" for name in survivors]
    print("\n".join(lines))
    (WORK / "survivors.txt").write_text("\n".join(report) + "\n")
    print(f"{len(report)} mutants not killed, listed in .mutation/survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or list(MODULES)))
