"""Which emergency pattern alternatives no development life-threat message matches.

Each entry of a `patterns` list in `safety/lang/<code>/emergency.toml` is an
alternative. It is pinned when at least one life_threat message of that
language in tests/data/safety/dev/ matches it on its own (as the detector
reads the message), so deleting or breaking it changes what a test sees.
`tests/data/safety/unpinned_patterns.tsv` lists the alternatives not yet
pinned; tests/test_safety_detect.py fails when an alternative outside that
list is unpinned (a new pattern must come with a message) and when the list
names one that is pinned or gone (the list only shrinks).

`tests/data/safety/dev_verdicts.tsv` records what the detector says of every
development message (the kinds the patterns find, and whether the model alone
calls it); a test fails when any of them changes, so removing an alternative
that alone catches a message shows as a failure and, once rewritten, as a
reviewable diff of which messages changed.

    python -m tests.safety_pins          # counts per language
    python -m tests.safety_pins --list   # every unpinned alternative (language, kind, pattern)
    python -m tests.safety_pins --write  # rewrite both files from the current data and patterns
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from firstaid_chat.safety.detect import _expand, assess, kinds  # noqa: E402
from firstaid_chat.safety.language import language_codes, languages, read, read_data  # noqa: E402

DEV = ROOT / "tests" / "data" / "safety" / "dev"
UNPINNED = ROOT / "tests" / "data" / "safety" / "unpinned_patterns.tsv"
VERDICTS = ROOT / "tests" / "data" / "safety" / "dev_verdicts.tsv"

Alternative = tuple[str, str, str]  # language code, kind, pattern as written


def _threats() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted(DEV.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row["label"] == "life_threat":
                found.setdefault(row["lang"], []).append(row["text"])
    return found


def alternatives() -> dict[Alternative, bool]:
    """Every alternative, in file order, and whether a development life-threat message pins it."""
    threats = _threats()
    result: dict[Alternative, bool] = {}
    for code in language_codes():
        data = read_data(code, "emergency")
        macros = {str(name): str(value) for name, value in data["macros"].items()}
        chars = languages()[code].chars
        boundaries = languages()[code].word_boundaries
        forms = [form for message in threats.get(code, []) for form in read(message, code).forms]
        for kind in kinds():
            for pattern in data["signals"][kind]["patterns"]:
                part = unicodedata.normalize("NFKC", _expand(str(pattern), macros, kind))
                part = "".join(chars.get(char, char) for char in part)
                compiled = re.compile(rf"(?<!\S)(?:{part})(?!\S)" if boundaries else f"(?:{part})")
                result[(code, kind, str(pattern))] = any(compiled.search(form) for form in forms)
    return result


def listed() -> set[Alternative]:
    """The alternatives `unpinned_patterns.tsv` allows to be unpinned."""
    rows = set()
    for line in UNPINNED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            code, kind, pattern = line.split("\t")
            rows.add((code, kind, pattern))
    return rows


def verdicts() -> list[str]:
    """One line per development message: id, the kinds found (comma-separated, "-" for none), "likely" or "-"."""
    lines = []
    for path in sorted(DEV.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            found = assess(row["text"])
            lines.append(f"{row['id']}\t{','.join(found.signals) or '-'}\t{'likely' if found.likely else '-'}")
    return lines


def recorded_verdicts() -> list[str]:
    """The lines of `dev_verdicts.tsv`, without its header."""
    return [line for line in VERDICTS.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]


def main() -> None:
    found = alternatives()
    unpinned = [alternative for alternative, pinned in found.items() if not pinned]
    if "--write" in sys.argv:
        header = "# Pattern alternatives no development life-threat message matches yet (tests/safety_pins.py).\n"
        UNPINNED.write_text(header + "".join("\t".join(row) + "\n" for row in unpinned), encoding="utf-8")
        header = "# What the detector says of each development message: id, kinds the patterns found, model alone.\n"
        VERDICTS.write_text(header + "".join(line + "\n" for line in verdicts()), encoding="utf-8")
    if "--list" in sys.argv:
        for row in unpinned:
            print("\t".join(row))
        return
    for code in language_codes():
        mine = [pinned for (lang, _, _), pinned in found.items() if lang == code]
        print(f"{code:8} {sum(mine):5} of {len(mine):5} pinned")
    print(f"{'all':8} {sum(found.values()):5} of {len(found):5} pinned")


if __name__ == "__main__":
    main()
