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


class AgeGroup(enum.Enum):
    """Which version of an age-specific first-aid procedure applies."""

    INFANT = "infant"
    CHILD = "child"
    ADULT = "adult"


INFANT_WORDS = frozenset(
    {
        "baby",
        "babies",
        "babys",
        "infant",
        "infants",
        "newborn",
        "newborns",
        "bub",
        "bubba",
        "babyboy",
        "babygirl",
        "neonate",
    }
)
CHILD_WORDS = frozenset(
    {
        "child",
        "children",
        "childs",
        "kid",
        "kids",
        "kiddo",
        "kiddie",
        "toddler",
        "toddlers",
        "son",
        "sons",
        "daughter",
        "daughters",
        "boy",
        "girl",
        "grandson",
        "granddaughter",
        "grandchild",
        "grandkid",
        "grandkids",
        "preschooler",
        "schoolboy",
        "schoolgirl",
        "nephew",
        "niece",
        "youngster",
        "stepson",
        "stepdaughter",
    }
)
ADULT_WORDS = frozenset(
    {
        "adult",
        "man",
        "woman",
        "men",
        "women",
        "dad",
        "father",
        "mum",
        "mom",
        "mother",
        "mummy",
        "mommy",
        "husband",
        "wife",
        "grandma",
        "grandpa",
        "grandad",
        "granddad",
        "grandmother",
        "grandfather",
        "nan",
        "nana",
        "gran",
        "granny",
        "boyfriend",
        "girlfriend",
        "partner",
        "friend",
        "colleague",
        "coworker",
        "teen",
        "teenager",
        "guy",
        "lady",
        "neighbour",
        "neighbor",
        "brother",
        "sister",
        "uncle",
        "aunt",
        "stranger",
        "someone",
        "somebody",
        "person",
        "patient",
    }
)

PET_WORDS = frozenset(
    {
        "dog",
        "dogs",
        "puppy",
        "pup",
        "cat",
        "cats",
        "kitten",
        "kitty",
        "hamster",
        "rabbit",
        "bunny",
        "horse",
        "pony",
        "parrot",
        "budgie",
        "ferret",
        "tortoise",
        "pet",
        "pets",
        "gerbil",
        "hamsters",
        "guinea",
        "bird",
        "birds",
        "hedgehog",
        "squirrel",
        "fox",
        "deer",
        "sheep",
        "pigeon",
        "mouse",
        "rat",
        "goldfish",
        "lizard",
    }
)  # not "chicken" or "fish": "choking on a fish bone" is about a person
# Words that put a person in the picture even when a pet is mentioned:
# "my dog bit me", "I was bitten by the neighbour's dog".
_PERSON_CUES = frozenset(
    {
        "me",
        "bite",
        "scratched",
        "scratch",
        "attacked",
        "attack",
        "mauled",
        "oneself",
    }
)
# "I" as the one hurt ("I tripped over the cat"), not as the one asking ("what do I do").
_FIRST_PERSON = frozenset({"i", "im", "ive", "id"})
_QUESTION_VERBS = frozenset({"do", "should", "can", "could", "shall", "would", "will", "did", "am"})
# "my wrist", "my head": the writer is the one hurt, whatever animal is involved.
_BODY_PARTS = frozenset(
    {
        "head",
        "face",
        "eye",
        "eyes",
        "ear",
        "ears",
        "nose",
        "mouth",
        "lip",
        "lips",
        "tooth",
        "teeth",
        "tongue",
        "throat",
        "neck",
        "chest",
        "back",
        "shoulder",
        "arm",
        "arms",
        "elbow",
        "wrist",
        "hand",
        "hands",
        "finger",
        "fingers",
        "thumb",
        "hip",
        "leg",
        "legs",
        "knee",
        "ankle",
        "foot",
        "feet",
        "toe",
        "toes",
        "skin",
    }
)

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
