"""Text normalisation shared by topic retrieval and life-threat detection.

Messages arrive typed in a hurry: lowercase or shouting, apostrophes missing,
irregular verbs, common misspellings. Everything here is pure, deterministic
and cheap, because it runs on every message of a cold-starting function.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from .common_words import COMMON_WORDS
from .lexicon import DATA_DIR, read_rewrites, read_word_lists

# Word sequences rewritten to one canonical form before anything else ("epi pen"
# -> "epipen"), and single-word variants mapped to one form (negations read as
# "not", irregular verbs, synonyms): word_forms.toml, with why each is there.
_REWRITES = read_rewrites(DATA_DIR / "word_forms.toml")
_PHRASE_RULES: dict[tuple[str, ...], str] = _REWRITES.phrases
WORD_FORMS: dict[str, str] = _REWRITES.words
# The words `stem` leaves as they are, because its suffix rules would turn them into the
# stem of another word (stems.toml, with why each is there).
KEPT_WHOLE: frozenset[str] = read_word_lists(DATA_DIR / "stems.toml", ["keep"])["keep"]


def _by_first_word(phrases: Iterable[tuple[str, ...]]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Group phrases by their first word, longest first, so the longest match wins."""
    grouped: dict[str, tuple[tuple[str, ...], ...]] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        grouped[phrase[0]] = (*grouped.get(phrase[0], ()), phrase)
    return grouped


_PHRASE_STARTS = _by_first_word(_PHRASE_RULES)


_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`´']")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise(message: str) -> str:
    """Lower-case a message, drop apostrophes and punctuation, and canonicalise phrases."""
    tokens = _NON_WORD.sub(" ", _APOSTROPHES.sub("", message.lower())).split()
    out: list[str] = []
    position = 0
    while position < len(tokens):
        for phrase in _PHRASE_STARTS.get(tokens[position], ()):
            if tuple(tokens[position : position + len(phrase)]) == phrase:
                if _PHRASE_RULES[phrase]:
                    out.append(_PHRASE_RULES[phrase])
                position += len(phrase)
                break
        else:
            out.append(tokens[position])
            position += 1
    return " ".join(out)


def words(message: str) -> list[str]:
    """Split a message into normalised words, with variant spellings mapped to one form."""
    return [WORD_FORMS.get(word, word) for word in normalise(message).split()]


@functools.lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Strip common English suffixes so "burns", "burned" and "burning" compare equal.

    A deliberately small stemmer: it only has to be consistent between the
    keywords and the messages, not linguistically right.
    """
    if len(word) <= 3 or not word.isalpha() or word in KEPT_WHOLE:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("ing") and len(word) >= 6:
        word = _undouble(word[:-3])
    elif word.endswith("ed") and len(word) >= 5 and not word.endswith("eed"):
        word = _undouble(word[:-2])
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if word.endswith("e") and len(word) >= 5:
        word = word[:-1]
    return word


def _undouble(word: str) -> str:
    """Turn "cutt" (from "cutting") back into "cut"; keep "swell" and "press"."""
    if len(word) >= 3 and word[-1] == word[-2] and word[-1] not in "aeiouylsz":
        return word[:-1]
    return word


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau (optimal string alignment) distance, giving up once it exceeds `limit`.

    Transpositions count as one edit because "siezure" is the typo people make.
    """
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], previous2[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        previous2, previous = previous, current
    return previous[-1]


class SpellingCorrector:
    """Maps a misspelt word to the nearest word of a fixed vocabulary.

    Only words of five letters or more are corrected (short words are too
    easily confused), one edit away (two from nine letters on), and the first
    two letters must match or be swapped. Common English words that happen to
    be that close to the vocabulary ("bread" to "break", "concussion" to
    "convulsion") are never corrected; see common_words.txt. Results are cached:
    the vocabulary is fixed for the corrector's life.
    """

    def __init__(self, vocabulary: Iterable[str]) -> None:
        self._vocabulary = frozenset(vocabulary)
        self._by_prefix: dict[str, list[str]] = {}
        for word in sorted(self._vocabulary):
            if len(word) >= 5 and word.isalpha():
                self._by_prefix.setdefault(word[:2], []).append(word)
        self._cache: dict[str, str] = {}

    def correct(self, word: str) -> str:
        """Return the vocabulary word `word` was probably meant to be, or `word` itself."""
        cached = self._cache.get(word)
        if cached is None:
            cached = self._nearest(word)
            self._cache[word] = cached
        return cached

    def _nearest(self, word: str) -> str:
        if word in self._vocabulary or len(word) < 5 or not word.isalpha():
            return word
        if word in COMMON_WORDS:
            return word
        limit = 1 if len(word) < 9 else 2
        best, best_distance = word, limit + 1
        # Typos rarely hit the first two letters, except by swapping them.
        for prefix in dict.fromkeys((word[:2], word[1] + word[0])):
            for candidate in self._by_prefix.get(prefix, ()):
                distance = edit_distance(word, candidate, limit)
                if distance < best_distance:
                    best, best_distance = candidate, distance
        return best
