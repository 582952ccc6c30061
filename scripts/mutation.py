"""Mutation testing of the core modules with mutmut, one module at a time; prints each module's score.

Usage: python scripts/mutation.py [module ...]   (default: every core module; names as in CORE)

mutmut 3 names mutants after their module path with only a ``src.`` prefix removed, so it runs
in ``.mutation/`` (git-ignored), where ``src`` links to ``functions/``. One Firestore emulator
serves every mutant's tests (``TEST_FIRESTORE_EMULATOR``) and one mutant runs at a time, so the
run fits a shared 2-core machine. The mutants and results stay in ``.mutation/mutants/`` (mutmut's
cache: which tests cover which function); ``.venv/bin/mutmut browse`` there shows the survivors.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutation"
MUTMUT = Path(sys.executable).with_name("mutmut")
CORE = ["history", "errors", "conversation", "settings", "api", "service", "store.sqlite", "store.firestore"]
KILLED = {1, 3, 36, -24, 37}  # test failed, pytest internal error, timeout (CPU limit), type check
STATUS = {0: "survived", 33: "no tests", 5: "no tests", 34: "skipped", None: "not run"}


def prepare() -> None:
    """The work folder: links to the sources, tests and configuration, and to main.py alone."""
    (WORK / "functions").mkdir(parents=True, exist_ok=True)
    links = {
        "src": ROOT / "functions",
        "tests": ROOT / "tests",
        "pyproject.toml": ROOT / "pyproject.toml",
        "openapi.yaml": ROOT / "openapi.yaml",
        "functions/main.py": ROOT / "functions" / "main.py",
    }
    for name, target in links.items():
        link = WORK / name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(target, link.parent))


def meta_path(module: str) -> Path:
    relative = Path(*module.split("."))
    return WORK / "mutants" / "src" / "firstaid_chat" / f"{relative}.py.meta"


def score(module: str) -> tuple[Counter[str], list[str]]:
    """Counts by status and the names of the mutants no test killed."""
    results = json.loads(meta_path(module).read_text())["exit_code_by_key"]
    counts: Counter[str] = Counter()
    survivors = []
    for name, code in sorted(results.items()):
        status = "killed" if code in KILLED else STATUS.get(code, f"exit {code}")
        counts[status] += 1
        if status != "killed":
            survivors.append(f"{name} ({status})")
    return counts, survivors


def run(module: str, env: dict[str, str]) -> None:
    print(f"==> mutmut: firstaid_chat.{module}", flush=True)
    result = subprocess.run(
        [str(MUTMUT), "run", "--max-children", "1", f"firstaid_chat.{module}.x*"],
        cwd=WORK, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SystemExit(f"mutmut failed on {module}:\n{result.stderr[-3000:]}")


def main(modules: list[str]) -> int:
    unknown = sorted(set(modules) - set(CORE))
    if unknown:
        raise SystemExit(f"unknown module(s) {unknown}; choose from {CORE}")
    sys.path.insert(0, str(ROOT))
    from tests.fakes.firestore_emulator import FirestoreEmulator, jar_path

    prepare()
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
    print(f"{len(report)} mutants not killed, listed in {WORK.relative_to(ROOT)}/survivors.txt")
    return 0


if __name__ == "__main__":
    if shutil.which("git") is None:
        print("note: mutmut uses git to notice changed files; without it every run starts over", file=sys.stderr)
    sys.exit(main(sys.argv[1:] or CORE))
