"""Who a message is about: a baby, a child, an adult, or only an animal.

CPR and choking are done differently on a baby, a child and an adult, so
"my baby is choking" must never get abdominal thrusts. The age bands follow
the resuscitation councils: a baby is under 1 year, a child is from 1 year to
puberty (taken here as 12), anyone older is treated as an adult.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence

from .lexicon import DATA_DIR, read_word_lists


class AgeGroup(enum.Enum):
    """Which version of an age-specific first-aid procedure applies."""

    INFANT = "infant"
    CHILD = "child"
    ADULT = "adult"


# The word lists, with why each word is there, are in subject.toml.
_LISTS = read_word_lists(
    DATA_DIR / "subject.toml",
    ("infant", "child", "adult", "pets", "person_cues", "first_person", "question_verbs", "body_parts"),
)
INFANT_WORDS: frozenset[str] = _LISTS["infant"]
CHILD_WORDS: frozenset[str] = _LISTS["child"]
ADULT_WORDS: frozenset[str] = _LISTS["adult"]
PET_WORDS: frozenset[str] = _LISTS["pets"]
# Words that put a person in the picture even when a pet is mentioned ("my dog bit me").
_PERSON_CUES = _LISTS["person_cues"]
# "I" as the one hurt ("I tripped over the cat"), not as the one asking ("what do I do").
_FIRST_PERSON = _LISTS["first_person"]
_QUESTION_VERBS = _LISTS["question_verbs"]
# "my wrist", "my head": the writer is the one hurt, whatever animal is involved.
_BODY_PARTS = _LISTS["body_parts"]

# An age counts when it is said as an age ("7 month old", "my 4yo", "aged 3"),
# not as a duration ("coughing for 3 months").
_OWNER = r"(?:my|our|a|an|the|his|her|their|your)"
_MONTHS = re.compile(
    rf"\b{_OWNER} (\d{{1,2}}) ?(?:months?|mths?|mos?|mnths?)\b"
    r"|\b(\d{1,2}) ?(?:months?|mths?|mos?|mnths?) old\b"
)
_WEEKS_OR_DAYS = re.compile(rf"\b{_OWNER} \d{{1,2}} ?(?:weeks?|wks?|days?)\b|\b\d{{1,2}} ?(?:weeks?|wks?|days?) old\b")
_YEARS = re.compile(
    rf"\b{_OWNER} (\d{{1,2}}) ?(?:years?|yrs?|yo|y o)\b"
    r"|\b(\d{1,2}) ?(?:years?|yrs?) old\b|\b(\d{1,2}) ?(?:yo|y o)\b|\bage[d]? (\d{1,2})\b"
)


def age_group_of(normalised: str, words: Sequence[str]) -> AgeGroup | None:
    """Return the age group a message talks about, or None when it gives no cue.

    An explicit age ("my 4 year old", "7 month old") wins over words; a baby
    word wins over a child word, which wins over an adult word, because a
    message naming a baby is about the baby even if it mentions "my wife".
    """
    explicit = _explicit_age(normalised)
    if explicit is not None:
        return explicit
    present = set(words)
    if present & INFANT_WORDS:
        return AgeGroup.INFANT
    if present & CHILD_WORDS:
        return AgeGroup.CHILD
    if present & ADULT_WORDS:
        return AgeGroup.ADULT
    return None


def _explicit_age(normalised: str) -> AgeGroup | None:
    if _WEEKS_OR_DAYS.search(normalised):
        return AgeGroup.INFANT
    months = _MONTHS.search(normalised)
    if months:
        return AgeGroup.INFANT if _first_number(months) < 12 else AgeGroup.CHILD
    years = _YEARS.search(normalised)
    if years:
        age = _first_number(years)
        if age < 1:
            return AgeGroup.INFANT
        return AgeGroup.CHILD if age <= 12 else AgeGroup.ADULT
    return None


def _first_number(match: re.Match[str]) -> int:
    """The number captured by whichever alternative of an age pattern matched."""
    return int(next(group for group in match.groups() if group is not None))


def about_an_animal_only(words: Sequence[str]) -> bool:
    """Whether a message is about someone's pet rather than a person ("my dog ate chocolate").

    The offline guidance is for people; an animal's emergency needs a vet, and
    an honest "I can't help with that" beats dog-choking advice written for humans.
    Any sign of a person keeps the message: "I tripped over the cat and hurt my wrist".
    """
    present = set(words)
    if not present & PET_WORDS:
        return False
    if present & (INFANT_WORDS | CHILD_WORDS | ADULT_WORDS | _PERSON_CUES):
        return False
    return not any(
        (word in _FIRST_PERSON and (index == 0 or words[index - 1] not in _QUESTION_VERBS))
        or (word == "my" and index + 1 < len(words) and words[index + 1] in _BODY_PARTS)
        for index, word in enumerate(words)
    )
