"""Text normalisation shared by topic retrieval and life-threat detection.

Messages arrive typed in a hurry: lowercase or shouting, apostrophes missing,
irregular verbs, common misspellings. Everything here is pure, deterministic
and cheap, because it runs on every message of a cold-starting function.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from .common_words import COMMON_WORDS

# Word sequences rewritten to one canonical form before anything else, so
# "epi pen", "epi-pen" and "epipen" all reach the scorer as the same word.
# Kept as word tuples rather than regular expressions: one dictionary lookup
# per word keeps normalising a message in the microseconds.
_PHRASE_RULES: dict[tuple[str, ...], str] = {
    ("can", "not"): "cant",
    # "a bit dizzy" must not read as "bite".
    **dict.fromkeys(
        (("a", "bit"), ("a", "bit", "of"), ("a", "little", "bit"), ("a", "little", "bit", "of")),
        "",
    ),
    ("epi", "pen"): "epipen",
    ("auto", "injector"): "autoinjector",
    # Split, so that "nose ... bleeding" and "nosebleed" meet in the middle.
    ("nosebleed",): "nose bleed",
    ("nosebleeds",): "nose bleeds",
    **dict.fromkeys(
        (
            ("heart", "breaks"),
            ("heart", "break"),
            ("heart", "broken"),
            ("heart", "is", "broken"),
            ("broken", "heart"),
            ("broken", "hearted"),
            ("heartbroken",),
            ("brokenhearted",),
        ),
        "heartbreak",
    ),
    **dict.fromkeys((("heat", "stroke"), ("sun", "stroke"), ("sunstroke",), ("heat", "strokes")), "heatstroke"),
    ("jelly", "fish"): "jellyfish",
    ("frost", "bite"): "frostbite",
    ("snake", "bite"): "snakebite",
    **dict.fromkeys((("self", "harm"), ("self", "harming"), ("selfharming",)), "selfharm"),
    **dict.fromkeys((("throw", "up"), ("threw", "up"), ("throwing", "up"), ("thrown", "up")), "vomit"),
    # "broke out in hives" is a rash, not a fracture.
    **dict.fromkeys((("broke", "out"), ("break", "out"), ("breaking", "out"), ("broken", "out")), "breakout"),
    ("c", "p", "r"): "cpr",
    ("over", "dose"): "overdose",
    **dict.fromkeys((("od", "d"), ("o", "d")), "od"),
}


def _by_first_word(phrases: Iterable[tuple[str, ...]]) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Group phrases by their first word, longest first, so the longest match wins."""
    grouped: dict[str, tuple[tuple[str, ...], ...]] = {}
    for phrase in sorted(phrases, key=len, reverse=True):
        grouped[phrase[0]] = (*grouped.get(phrase[0], ()), phrase)
    return grouped


_PHRASE_STARTS = _by_first_word(_PHRASE_RULES)


# Single-word variants mapped to one form: negations (so "isn't", "wont" and
# "no" all read as "not"), irregular verbs the suffix stripper can't reach,
# and everyday synonyms.
WORD_FORMS: dict[str, str] = {
    **dict.fromkeys(
        (
            "isnt",
            "wasnt",
            "arent",
            "werent",
            "doesnt",
            "didnt",
            "dont",
            "wont",
            "aint",
            "hasnt",
            "havent",
            "hadnt",
            "no",
            "nope",
            "never",
            "not",
            "stopped",
        ),  # "stopped breathing" is "not breathing"
        "not",
    ),
    **dict.fromkeys(("cannot", "couldnt", "unable", "cnt", "carnt"), "cant"),
    **dict.fromkeys(("bit", "bitten", "biting", "bites"), "bite"),
    **dict.fromkeys(("stung", "stinging"), "sting"),
    **dict.fromkeys(("broke", "broken"), "break"),
    **dict.fromkeys(("fell", "fallen"), "fall"),
    **dict.fromkeys(("froze", "frozen"), "freeze"),
    **dict.fromkeys(("ate", "eaten"), "eat"),
    **dict.fromkeys(("took", "taken"), "take"),
    **dict.fromkeys(("drank", "drunk"), "drink"),
    **dict.fromkeys(("seizing", "seized", "seizuring"), "seizure"),
    **dict.fromkeys(("convulsing", "convulsions", "convulsed", "convulse"), "convulsion"),
    **dict.fromkeys(("electrocution", "electrocute", "electrocuting"), "electrocuted"),
    **dict.fromkeys(("diabetes", "diabetics"), "diabetic"),
    **dict.fromkeys(
        ("vomiting", "vomited", "vommit", "vomitting", "vommiting", "puke", "puking", "puked", "vomits"),
        "vomit",
    ),
    **dict.fromkeys(("tummy", "belly"), "stomach"),
    **dict.fromkeys(
        (
            "pills",
            "tablet",
            "tablets",
            "tabs",
            "meds",
            "medication",
            "medications",
            "medicine",
            "medicines",
            "capsules",
            "capsule",
        ),
        "pill",
    ),
    **dict.fromkeys(("defib", "defibrillator", "defibrilator"), "aed"),
    **dict.fromkeys(("went", "gone", "goes"), "go"),
    **dict.fromkeys(
        ("myself", "himself", "herself", "themselves", "themself", "yourself", "ourselves"),
        "oneself",
    ),
    "bled": "bleed",
    "burnt": "burn",
    "swollen": "swell",
    "breathin": "breathing",
    "chokin": "choking",
    "bleedin": "bleeding",
}

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
    if len(word) <= 3 or not word.isalpha() or word in _kept_whole():
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


@functools.cache
def _kept_whole() -> frozenset[str]:
    """The words `stem` leaves as they are (stems.toml)."""
    with (Path(__file__).resolve().parent / "stems.toml").open("rb") as file:
        return frozenset(tomllib.load(file)["keep"])


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
    "convulsion") are never corrected; see common_words.py. Results are cached:
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
