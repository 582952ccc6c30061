"""Which language a message is written in, and how to read it in that language.

Each language is a folder `lang/<code>/` (spaCy's layout): the same file names
in every folder, so adding a language means adding a folder, and a reader of
that language reviews one place. `language.toml` holds the script, the stop
words used to tell languages of one script apart, and how to normalise words
(character replacements, multi-word phrases, word forms, spelling vocabulary).

Identification is deliberately small: the script of the letters decides
Hindi (Devanagari), Arabic and Chinese; among Latin-script languages the one
with the most stop words wins, English on a tie. It runs in microseconds and
needs nothing at run time beyond the data files.
"""

from __future__ import annotations

import functools
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .text import clauses, fold, script_of

LANG_DIR = Path(__file__).resolve().parent / "lang"
ENGLISH = "en"
SCRIPTS = frozenset({"latin", "devanagari", "arabic", "han"})
BOUNDARIES = frozenset({"word", "none"})


@dataclass(frozen=True)
class Language:
    """How to recognise and read one language (from `lang/<code>/language.toml`)."""

    code: str
    name: str
    script: str
    join_apostrophes: bool
    word_boundaries: bool  # False: patterns match inside words (Chinese, Arabic clitics)
    framing_follows: bool  # questions may end with what frames them: "stroke ke symptoms kya hai"
    stopwords: frozenset[str]
    chars: dict[str, str]
    phrases: dict[tuple[str, ...], str]
    forms: dict[str, str]
    spelling: frozenset[str]


@dataclass(frozen=True)
class Reading:
    """A message read in one language: one or more matching forms of the same text.

    Each form is the message's tokens joined by single spaces; `clause_starts`
    gives, for each form, the character offset where each sentence begins.
    Forms: as typed (normalised), without diacritics, and spell-corrected,
    whichever differ.
    """

    language: str
    forms: tuple[str, ...]
    clause_starts: tuple[tuple[int, ...], ...]


def read_data(code: str, name: str) -> dict[str, Any]:
    """Parse `lang/<code>/<name>.toml`; ValueError naming the file when it is broken."""
    path = LANG_DIR / code / f"{name}.toml"
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"{path}: {error}") from error


def language_codes() -> tuple[str, ...]:
    """Every language with a data folder, sorted."""
    return tuple(sorted(path.name for path in LANG_DIR.iterdir() if (path / "language.toml").is_file()))


@functools.cache
def languages() -> dict[str, Language]:
    """All languages, loaded and validated on first use."""
    return {code: _language(code, read_data(code, "language")) for code in language_codes()}


def _language(code: str, data: dict[str, Any]) -> Language:
    if data.get("script") not in SCRIPTS or data.get("boundaries") not in BOUNDARIES:
        raise ValueError(
            f"lang/{code}/language.toml: script must be one of {sorted(SCRIPTS)}, "
            f"boundaries one of {sorted(BOUNDARIES)}"
        )
    if data.get("apostrophes") not in ("join", "split") or data.get("framing") not in ("before", "either"):
        raise ValueError(
            f"lang/{code}/language.toml: apostrophes must be 'join' or 'split', framing 'before' or 'either'"
        )
    chars = {str(key): str(value) for key, value in data["chars"].items()}
    forms = {str(key): str(value) for key, value in data["forms"].items()}
    phrases = {tuple(str(key).split()): str(value) for key, value in data["phrases"].items()}
    return Language(
        code=code,
        name=str(data["name"]),
        script=str(data["script"]),
        join_apostrophes=data["apostrophes"] == "join",
        word_boundaries=data["boundaries"] == "word",
        framing_follows=data["framing"] == "either",
        stopwords=frozenset(fold(str(word)) for word in data["stopwords"]),
        chars=chars,
        phrases=phrases,
        forms=forms,
        spelling=frozenset(str(word) for word in data["spelling"]),
    )


def scores(message: str) -> Counter[str]:
    """How strongly `message` looks like each language: letters of its script, or stop words."""
    letters = Counter(script_of(char) for char in message if char.isalpha())
    letters.pop("other", None)
    found: Counter[str] = Counter()
    if not letters:
        return found
    script = letters.most_common(1)[0][0]
    candidates = [lang for lang in languages().values() if lang.script == script]
    if len(candidates) == 1:
        found[candidates[0].code] = 1
        return found
    words = [fold(token) for sentence in clauses(message, join_apostrophes=False) for token in sentence]
    for lang in candidates:
        hits = sum(word in lang.stopwords for word in words)
        if hits:
            found[lang.code] = hits
    return found


def identify(message: str) -> str:
    """The code of the language `message` is most likely written in (English when unsure)."""
    found = scores(message)
    if not found:
        return ENGLISH
    best = max(found.values())
    if found.get(ENGLISH) == best:
        return ENGLISH
    return min(code for code, score in found.items() if score == best)


def read(message: str, code: str, *, correct: bool = True) -> Reading:
    """Normalise `message` the way language `code` is read, in each of its matching forms.

    `correct=False` leaves out the spell-corrected form: when a message is
    only tried in a language it was not identified as, correcting its words
    would turn them into that language's ("convulsao" -> "convulsion").
    """
    lang = languages()[code]
    tokens = clauses(message, join_apostrophes=lang.join_apostrophes, chars=lang.chars)
    sentences = [_words(sentence, lang) for sentence in tokens]
    variants = [sentences, [[fold(word) for word in sentence] for sentence in sentences]]
    if lang.spelling and correct:
        variants.append([[_corrected(word, lang.code) for word in sentence] for sentence in sentences])
    forms: list[str] = []
    starts: list[tuple[int, ...]] = []
    for variant in variants:
        text, offsets = _joined(variant)
        if text not in forms:
            forms.append(text)
            starts.append(offsets)
    return Reading(code, tuple(forms), tuple(starts))


def _words(tokens: list[str], lang: Language) -> list[str]:
    """Apply the language's phrase rewrites (longest first), then its word forms."""
    out: list[str] = []
    position = 0
    longest = max((len(phrase) for phrase in lang.phrases), default=0)
    while position < len(tokens):
        for size in range(min(longest, len(tokens) - position), 0, -1):
            replacement = lang.phrases.get(tuple(tokens[position : position + size]))
            if replacement is not None:
                out.extend(replacement.split())
                position += size
                break
        else:
            out.append(tokens[position])
            position += 1
    return [lang.forms.get(word, word) for word in out]


def _joined(sentences: list[list[str]]) -> tuple[str, tuple[int, ...]]:
    text = ""
    offsets: list[int] = []
    for sentence in sentences:
        if not sentence:
            continue
        if text:
            text += " "
        offsets.append(len(text))
        text += " ".join(sentence)
    return text, tuple(offsets)


@functools.cache
def _corrector(code: str) -> Any:
    # The English corrector and its list of common words that must never be
    # "corrected" live with the offline guide, which shares them.
    from ..offline.text import SpellingCorrector

    return SpellingCorrector(languages()[code].spelling)


def _corrected(word: str, code: str) -> str:
    return str(_corrector(code).correct(word))
