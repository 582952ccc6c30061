"""Finds the first-aid topic a lay person's message is about, or admits there is none.

A small keyword scorer, built for a cold-starting function: pure Python, no
model, an index built in milliseconds. Each topic's title and keywords become
terms (normalised words, stemmed, with stop words removed):

* a term that is a keyword on its own ("nosebleed", "choking") is evidence
  for the topic at full weight, scaled by how rare it is across topics (idf);
* a term that only appears inside a longer keyword ("cold" in "out in the
  cold") earns a fraction of that weight unless the whole phrase is present,
  and a whole phrase earns a bonus;
* a term from the topic's title (the condition's name) earns a bonus;
* misspelt words are corrected against the index's vocabulary and count a
  little less than exact ones.

Rarity is the BM25 inverse document frequency over topics; term frequency is
ignored because keyword lists repeat words on purpose. When two topics fit
about equally, the life-threatening one wins (it starts with calling for help).

Topics that differ only by age (`cpr-adult`, `cpr-child`, `cpr-infant`) are
scored as one group, then the member matching the age in the message is
chosen, so "my baby is choking" can't be answered with abdominal thrusts.
A message whose best score stays under a threshold matches nothing: the
offline mode must say it can't help rather than show a random topic.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from .common_words import COMMON_WORDS
from .knowledge import Topic, load_topics
from .lexicon import DATA_DIR, read_words
from .subject import (
    ADULT_WORDS,
    CHILD_WORDS,
    INFANT_WORDS,
    AgeGroup,
    about_an_animal_only,
    age_group_of,
)
from .text import SpellingCorrector, normalise, stem, words

# Weights, tuned on the evaluation set in tests/data (see test_offline_eval.py).
PARTIAL_CREDIT = 0.35  # share of a term's weight when only part of its phrase is present
FUZZY_CREDIT = 0.85  # share of a term's weight when it had to be spell-corrected
PHRASE_BONUS = 0.5  # bonus, as a share of a phrase's mean term weight, when all of it is present
TITLE_BONUS = 0.5  # bonus, as a share of a term's weight, when it names the topic in its title
PHRASE_SLACK = 2  # other terms allowed between the words of a phrase
# Safety first: when a message fits a life-threatening topic about as well as
# a milder one ("bee sting and her throat is swelling"), the topic that starts
# with calling for help is the better answer.
LIFE_THREAT_PRIOR = 1.15
MIN_SCORE = 2.8  # below this the best topic is a guess, and guesses are not shown

# Words that say nothing about which topic is meant (stopwords.txt says which
# are left out on purpose), and the people and age words, kept out of scoring
# because age is handled separately.
STOPWORDS: frozenset[str] = read_words(DATA_DIR / "stopwords.txt") | INFANT_WORDS | CHILD_WORDS | ADULT_WORDS

_AGE_SUFFIXES = {"-infant": AgeGroup.INFANT, "-child": AgeGroup.CHILD, "-adult": AgeGroup.ADULT}
# When a group has no member for the age asked about, the nearest one that exists.
_AGE_FALLBACK = {
    AgeGroup.INFANT: (AgeGroup.INFANT, AgeGroup.CHILD, AgeGroup.ADULT),
    AgeGroup.CHILD: (AgeGroup.CHILD, AgeGroup.ADULT, AgeGroup.INFANT),
    AgeGroup.ADULT: (AgeGroup.ADULT, AgeGroup.CHILD, AgeGroup.INFANT),
}


@dataclass(frozen=True)
class Match:
    """A topic that answers a message, and how strongly the message pointed to it."""

    topic: Topic
    score: float


@dataclass(frozen=True)
class _Group:
    """Topics scored together: one topic, or the age versions of one procedure."""

    members: dict[AgeGroup, Topic]
    life_threatening: bool
    title_terms: frozenset[str]
    standalone: frozenset[str]
    phrases: tuple[tuple[str, ...], ...]
    terms: frozenset[str]

    def member_for(self, age: AgeGroup | None) -> Topic:
        """The member for `age`, or the nearest age the group has (adults when unknown)."""
        for candidate in _AGE_FALLBACK[age or AgeGroup.ADULT]:
            if candidate in self.members:
                return self.members[candidate]
        raise AssertionError("a group always has at least one member")


@dataclass(frozen=True)
class _Query:
    """A message reduced to terms: their positions, and which ones were spell-corrected."""

    positions: dict[str, tuple[int, ...]]
    corrected: frozenset[str]
    age: AgeGroup | None
    about_an_animal: bool


def terms(text: str) -> list[str]:
    """Reduce keyword or title text to index terms: stemmed, without stop words."""
    return _terms_of_words(words(text))


def _terms_of_words(text_words: Sequence[str]) -> list[str]:
    return [stem(word) for word in text_words if _is_content(word)]


def _is_content(word: str) -> bool:
    # Short numbers are ages and counts; three digits or more may be "999" or "911".
    return word not in STOPWORDS and (not word.isdigit() or len(word) >= 3)


class TopicIndex:
    """Scores messages against a fixed set of topics; build once per instance and reuse."""

    def __init__(self, groups: Sequence[_Group], idf: dict[str, float]) -> None:
        self._groups = tuple(groups)
        self._idf = idf
        self._postings: dict[str, list[int]] = {}
        for number, group in enumerate(self._groups):
            for term in group.terms:
                self._postings.setdefault(term, []).append(number)
        self._corrector = SpellingCorrector(idf)

    @classmethod
    def build(cls, topics: Sequence[Topic]) -> TopicIndex:
        """Index `topics` (as returned by `load_topics`)."""
        members: dict[str, dict[AgeGroup, Topic]] = {}
        for topic in topics:
            key, age = _group_key(topic.slug)
            members.setdefault(key, {})[age] = topic
        groups = [_group_of(group_members) for _, group_members in sorted(members.items())]
        document_frequency: dict[str, int] = {}
        for group in groups:
            for term in group.terms:
                document_frequency[term] = document_frequency.get(term, 0) + 1
        total = len(groups)
        idf = {  # the BM25 form of inverse document frequency: always positive
            term: math.log(1 + (total - count + 0.5) / (count + 0.5)) for term, count in document_frequency.items()
        }
        return cls(groups, idf)

    def search(self, message: str, limit: int = 3) -> list[Match]:
        """Return up to `limit` confident matches for `message`, best first (maybe none)."""
        query = self._query(message)
        if query.about_an_animal:
            return []
        candidates = {number for term in query.positions for number in self._postings.get(term, ())}
        matches = []
        for number in candidates:
            group = self._groups[number]
            score = self._score(group, query)
            if group.life_threatening:
                score *= LIFE_THREAT_PRIOR
            if score >= MIN_SCORE:
                matches.append(Match(group.member_for(query.age), round(score, 3)))
        matches.sort(key=lambda match: (-match.score, match.topic.slug))
        return matches[:limit]

    def best(self, message: str) -> Match | None:
        """Return the single best topic for `message`, or None if nothing matches confidently."""
        matches = self.search(message, limit=1)
        return matches[0] if matches else None

    def _query(self, message: str) -> _Query:
        message_words = words(message)
        positions: dict[str, list[int]] = {}
        corrected: set[str] = set()
        position = 0
        for word in message_words:
            if not _is_content(word):
                continue
            term = stem(word)
            if term not in self._idf and word not in COMMON_WORDS:
                fixed = self._corrector.correct(term)
                if fixed != term:
                    term = fixed
                    corrected.add(term)
            positions.setdefault(term, []).append(position)
            position += 1
        return _Query(
            positions={term: tuple(found) for term, found in positions.items()},
            corrected=frozenset(corrected),
            age=age_group_of(normalise(message), message_words),
            about_an_animal=about_an_animal_only(message_words),
        )

    def _score(self, group: _Group, query: _Query) -> float:
        weight = {
            term: self._idf[term] * (FUZZY_CREDIT if term in query.corrected else 1.0)
            for term in query.positions
            if term in group.terms
        }
        full = set(weight) & group.standalone
        bonus = 0.0
        for phrase in group.phrases:
            if _phrase_present(phrase, query.positions):
                full.update(phrase)
                bonus += PHRASE_BONUS * sum(weight[term] for term in phrase) / len(phrase)
        credit = {term: w if term in full else w * PARTIAL_CREDIT for term, w in weight.items()}
        bonus += TITLE_BONUS * sum(weight[term] for term in full & group.title_terms)
        return sum(credit.values()) + bonus


def _phrase_present(phrase: tuple[str, ...], positions: dict[str, tuple[int, ...]]) -> bool:
    """Whether every term of `phrase` occurs in the message, close together, in any order.

    A sliding window over the terms' positions, so a long message with many
    repeats costs linear time rather than trying every combination.
    """
    if any(term not in positions for term in phrase):
        return False
    span_allowed = len(phrase) + PHRASE_SLACK
    events = sorted((position, term) for term in phrase for position in positions[term])
    seen: dict[str, int] = {}
    start = 0
    for position, term in events:
        seen[term] = seen.get(term, 0) + 1
        while len(seen) == len(phrase):
            first_position, first_term = events[start]
            if position - first_position < span_allowed:
                return True
            seen[first_term] -= 1
            if not seen[first_term]:
                del seen[first_term]
            start += 1
    return False


def _group_key(slug: str) -> tuple[str, AgeGroup]:
    for suffix, age in _AGE_SUFFIXES.items():
        if slug.endswith(suffix):
            return slug[: -len(suffix)], age
    return slug, AgeGroup.ADULT


def _group_of(members: dict[AgeGroup, Topic]) -> _Group:
    standalone: set[str] = set()
    phrases: set[tuple[str, ...]] = set()
    all_terms: set[str] = set()
    title_terms = frozenset(term for topic in members.values() for term in terms(topic.title))
    for topic in members.values():
        for text in (topic.title, *topic.keywords):
            text_words = words(text)
            found = tuple(dict.fromkeys(_terms_of_words(text_words)))  # no repeats, in order
            all_terms.update(found)
            if len(found) > 1:
                phrases.add(found)
            elif found and len(text_words) == 1:
                # Only a one-word keyword stands alone: "don't want to be here"
                # reduced to "not" must not make every "not" point at this topic.
                standalone.update(found)
    return _Group(
        members=members,
        life_threatening=any(topic.life_threatening for topic in members.values()),
        title_terms=title_terms,
        standalone=frozenset(standalone),
        phrases=tuple(sorted(phrases)),
        terms=frozenset(all_terms),
    )


@functools.cache
def default_index() -> TopicIndex:
    """The index over the package's own topics, built on first use and then reused."""
    return TopicIndex.build(load_topics())
