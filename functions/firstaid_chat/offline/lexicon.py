"""Reads the offline guide's word lists from their data files, strictly.

Three shapes, each a file a reviewer reads in a diff:

* a word list (`common_words.txt`, `stopwords.txt`): one word a line, `#`
  starts a comment line, blank lines are ignored;
* a table of named word lists (`subject.toml`): `name = ["word", ...]`;
* rewrites (`word_forms.toml`): `[phrases]` maps a word sequence to the words
  it is rewritten to (or `""` to drop it), `[words]` maps one word to another.

Every word must be one the normaliser (text.py) can produce, lower-case ASCII
letters and digits: an entry it never produces ("Epi-pen", "don't") could
never match, which is a silent bug in safety-relevant data. Any problem,
including a missing file, raises ValueError naming the file (and the line,
list or entry).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Rewrites:
    """Word-level rewrites applied before matching: phrases first, then single words."""

    phrases: dict[tuple[str, ...], str]  # word sequence -> replacement text ("" drops it)
    words: dict[str, str]  # word -> the one form it is read as


def read_words(path: Path) -> frozenset[str]:
    """The words of a one-word-a-line list; ValueError naming the file and line when it is malformed."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read ({error})") from error
    first_seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        word = line.strip()
        if not word or word.startswith("#"):
            continue
        if len(word.split()) > 1:
            raise ValueError(f"{path}:{number}: {word!r} is not one word a line")
        if not _WORD.fullmatch(word):
            raise ValueError(f"{path}:{number}: {word!r} must be lower-case letters and digits only")
        if word in first_seen:
            raise ValueError(f"{path}:{number}: {word!r} repeats line {first_seen[word]}")
        first_seen[word] = number
    if not first_seen:
        raise ValueError(f"{path}: holds no words")
    return frozenset(first_seen)


def read_word_lists(path: Path, names: Collection[str]) -> dict[str, frozenset[str]]:
    """The lists `names` of a TOML file of `name = ["word", ...]`, each non-empty; no other keys allowed."""
    data = _read_toml(path)
    missing = [name for name in names if name not in data]
    unknown = sorted(set(data) - set(names))
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing list(s) {', '.join(map(repr, missing))}")
        if unknown:
            problems.append(f"unknown list(s) {', '.join(map(repr, unknown))}")
        raise ValueError(f"{path}: {'; '.join(problems)} (expected exactly {', '.join(names)})")
    return {name: _word_list(path, name, data[name]) for name in names}


def read_rewrites(path: Path) -> Rewrites:
    """The `[phrases]` and `[words]` tables of a rewrites file, validated."""
    data = _read_toml(path)
    if set(data) != {"phrases", "words"} or not all(isinstance(table, dict) for table in data.values()):
        raise ValueError(f"{path}: needs exactly the tables [phrases] and [words]")
    phrases: dict[tuple[str, ...], str] = {}
    for key, value in data["phrases"].items():
        if not _is_words(key) or not isinstance(value, str) or (value and not _is_words(value)):
            raise ValueError(
                f"{path}: [phrases] {key!r} = {value!r}: both sides must be words separated by single spaces "
                "(lower-case letters and digits), the replacement may be empty"
            )
        phrases[tuple(key.split(" "))] = value
    words: dict[str, str] = {}
    for key, value in data["words"].items():
        if not _WORD.fullmatch(key) or not isinstance(value, str) or not _WORD.fullmatch(value):
            raise ValueError(f"{path}: [words] {key!r} = {value!r}: both sides must be one word")
        words[key] = value
    return Rewrites(phrases=phrases, words=words)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ValueError(f"{path}: cannot be read ({error})") from error
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path}: not valid TOML ({error})") from error


def _word_list(path: Path, name: str, value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(word, str) for word in value):
        raise ValueError(f"{path}: {name} must be a list of words")
    if not value:
        raise ValueError(f"{path}: {name} holds no words")
    seen: set[str] = set()
    for word in value:
        if not _WORD.fullmatch(word):
            raise ValueError(f"{path}: {name}: {word!r} must be one word of lower-case letters and digits")
        if word in seen:
            raise ValueError(f"{path}: {name}: {word!r} is listed twice")
        seen.add(word)
    return frozenset(seen)


def _is_words(text: str) -> bool:
    return all(_WORD.fullmatch(word) for word in text.split(" "))
