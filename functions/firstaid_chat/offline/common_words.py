"""Everyday English words that must never be spell-corrected into first-aid words.

The spelling correctors fix typos by looking for a first-aid word one or two
edits away, and many ordinary words are that close to one ("bread" to "break",
"cooking" to "choking"). The list, how it was made from the wordfreq project's
data and its licence (CC BY-SA 4.0) are in common_words.txt, read once at import.
"""

from __future__ import annotations

from .lexicon import DATA_DIR, read_words

COMMON_WORDS: frozenset[str] = read_words(DATA_DIR / "common_words.txt")
