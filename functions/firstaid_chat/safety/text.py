"""Unicode-aware text normalisation for every language the safety checks read.

Unicode decides what a letter is (`unicodedata` categories L, M and N), never
an `[a-z]` class: Devanagari vowel signs are combining marks, Chinese has no
spaces, Arabic letters take attached particles. A message becomes clauses
(split at sentence punctuation of any script) of tokens, case-folded and NFKC
normalised. Diacritics are kept; `fold` gives the extra matching form without
them ("bébé" -> "bebe"), and only on Latin letters, because in Devanagari or
Arabic a combining mark is part of the spelling or a harmless vowel sign.
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Mapping

# Where a sentence ends in the scripts we read: Latin, Devanagari (danda),
# Arabic, Chinese (full-width), plus newlines.
SENTENCE_ENDS = frozenset(".!?;\n\r…。！？；।॥؟؛")
APOSTROPHES = frozenset("'’‘ʼ`´")
_LATIN_END = 0x024F  # Basic Latin to Latin Extended-B
_LATIN_ADDITIONAL = range(0x1E00, 0x1F00)


def clauses(message: str, *, join_apostrophes: bool, chars: Mapping[str, str] | None = None) -> list[list[str]]:
    """Split `message` into sentences of tokens, case-folded and NFKC normalised.

    `join_apostrophes` drops apostrophes inside a word ("isn't" -> "isnt", for
    English); otherwise they separate words ("l'eau" -> "l", "eau", for French).
    `chars` replaces single characters after folding case (Arabic alef forms,
    for example). Empty sentences are left out; the result may be empty.
    """
    text = unicodedata.normalize("NFKC", message.casefold())
    if chars:
        text = "".join(chars.get(char, char) for char in text)
    sentences: list[list[str]] = [[]]
    token: list[str] = []

    def end_token() -> None:
        if token:
            sentences[-1].append("".join(token))
            token.clear()

    for char in text:
        if char in APOSTROPHES and join_apostrophes:
            continue
        if unicodedata.category(char)[0] in "LMN":
            token.append(char)
            continue
        end_token()
        if char in SENTENCE_ENDS and sentences[-1]:
            sentences.append([])
    end_token()
    return [sentence for sentence in sentences if sentence]


@functools.lru_cache(maxsize=16384)
def fold(token: str) -> str:
    """Strip diacritics from Latin letters only: "bébé" -> "bebe", "साँस" unchanged."""
    decomposed = unicodedata.normalize("NFKD", token)
    kept: list[str] = []
    base_is_latin = False
    for char in decomposed:
        if unicodedata.combining(char):
            if base_is_latin:
                continue
        else:
            code = ord(char)
            base_is_latin = char.isalpha() and (code <= _LATIN_END or code in _LATIN_ADDITIONAL)
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def script_of(char: str) -> str:
    """The script of a letter as one of "latin", "devanagari", "arabic", "han", or "other"."""
    code = ord(char)
    if code <= _LATIN_END or code in _LATIN_ADDITIONAL:
        return "latin" if char.isalpha() else "other"
    if 0x0900 <= code <= 0x097F or 0xA8E0 <= code <= 0xA8FF:
        return "devanagari"
    if 0x0600 <= code <= 0x06FF or 0x0750 <= code <= 0x077F or 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF:
        return "arabic"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF:
        return "han"
    return "other"
