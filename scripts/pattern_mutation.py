"""Mutation testing of the emergency patterns: delete one alternative at a time, see whether a test fails.

    .venv/bin/python scripts/pattern_mutation.py            # 60 alternatives drawn at random (seed printed)
    .venv/bin/python scripts/pattern_mutation.py 200 --seed 7
    .venv/bin/python scripts/pattern_mutation.py all        # every alternative (hours)

mutmut mutates Python; the detector's knowledge is in safety/lang/<code>/emergency.toml,
so this does the same for the data: each mutant is the file with one entry of a kind's
`patterns` list removed, and it is killed when the safety tests that pin the patterns
(`tests/test_safety_detect.py`: the recorded verdict on every development message, the
pin list) fail. The work happens in a copy of the repository in a temporary folder, so
the tree is never changed. Prints each survivor and the killed / total.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LANG = Path("functions/firstaid_chat/safety/lang")
TESTS = ["tests/test_safety_detect.py", "-k", "reviewed or pinned"]
QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def alternatives(root: Path) -> list[tuple[Path, int, int, int]]:
    """(file, line index, start, end) of every quoted entry of a `[signals.*]` `patterns` list."""
    found = []
    for path in sorted((root / LANG).glob("*/emergency.toml")):
        in_signal = in_patterns = False
        for index, line in enumerate(path.read_text(encoding="utf-8").split("\n")):
            if line.startswith("["):
                in_signal = line.startswith("[signals.")
            if in_signal and line.startswith("patterns = ["):
                in_patterns = True
            if in_patterns:
                found += [(path, index, match.start(), match.end()) for match in QUOTED.finditer(line)]
                if line.rstrip().endswith("]"):
                    in_patterns = False
    return found


def main() -> None:
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    seed = int(sys.argv[sys.argv.index("--seed") + 1]) if "--seed" in sys.argv else random.randrange(10**6)
    if "--seed" in sys.argv:
        args.remove(str(seed))
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "repo"
        shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".mutation", "node_modules", ".git"))
        command = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", *TESTS]
        if subprocess.run(command, cwd=copy, capture_output=True, check=False).returncode != 0:
            sys.exit("the pattern tests fail on the unchanged copy: fix them first")
        every = alternatives(copy)
        chosen = every if args[:1] == ["all"] else random.Random(seed).sample(every, int(args[0]) if args else 60)
        print(f"{len(chosen)} of {len(every)} alternatives, seed {seed}", flush=True)
        killed = 0
        for path, index, start, end in chosen:
            original = path.read_text(encoding="utf-8")
            lines = original.split("\n")
            rest = lines[index][end:].removeprefix(",").lstrip(" ")
            lines[index] = lines[index][:start] + rest
            path.write_text("\n".join(lines), encoding="utf-8")
            try:
                result = subprocess.run(command, cwd=copy, capture_output=True, check=False)
            finally:
                path.write_text(original, encoding="utf-8")
            if result.returncode == 0:
                print(f"survived: {path.parent.name} {original.split(chr(10))[index][start:end]}", flush=True)
            else:
                killed += 1
        print(f"patterns: killed {killed} of {len(chosen)} ({killed / len(chosen):.2f})")


if __name__ == "__main__":
    main()
