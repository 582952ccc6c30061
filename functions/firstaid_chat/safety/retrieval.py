"""A topic search query in English for a message in any language we read.

The guide's topics are written, and indexed, in English. A message in another
language, or an English one in vague lay words ("he's gone limp"), is given
the English words that name its first-aid problem: the topic words of every
kind of life threat found in it (`signals.toml`), and the words of every
glossary entry of its language that matches (`lang/<code>/glossary.toml`,
a regular expression per entry, read like the emergency patterns). The
message itself stays in the query, so English keywords still count.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from typing import TYPE_CHECKING

from .detect import Assessment, kinds, without_idioms
from .language import ENGLISH, languages, read, read_data

if TYPE_CHECKING:
    from ..offline.retrieval import Match, TopicIndex

# What a message the model alone calls an emergency searches for when nothing else names its topic.
LIKELY_TOPIC_WORDS = "when to call emergency services ambulance"


def topic_query(message: str, assessment: Assessment) -> str:
    """`message` followed by the English words that point to its topic (shapes: plain text)."""
    # An English message already holds the guide's own words; adding the
    # signals' words to it would only blur which topic it names.
    # Only the most specific kind found speaks: "collapsed and not breathing"
    # is CPR, not the recovery position.
    # Exceptions: not breathing (CPR comes first whatever else the message
    # names, "after the fit"), talk of suicide (said in words the guide's
    # topic does not use, "end it tonight") and an overdose ("took 30 pills
    # and wont wake up" is the overdose topic).
    first = _speaking_signal(assessment.signals)
    english_exception = first in ("not_breathing", "self_harm", "overdose")
    signals = [first] if first and (assessment.language != ENGLISH or english_exception) else []
    extra = [kinds()[signal].topic_words for signal in signals]
    for code in dict.fromkeys((assessment.language, ENGLISH)):
        extra += glossary_words(message, code)
    return " ".join([message, *(words for words in extra if words)])


def _speaking_signal(signals: tuple[str, ...]) -> str | None:
    """The kind whose topic words a search gets: the first found that has any.

    Choking comes before not breathing unless the person is also unresponsive:
    a conscious choking person ("turning blue", "can't breathe") needs back
    blows and abdominal thrusts, not CPR (ERC 2025 choking algorithm).
    """
    if "choking" in signals and not {"unconscious", "not_moving"} & set(signals):
        return "choking"
    return next((signal for signal in signals if kinds()[signal].topic_words), None)


def find_topic(message: str, assessment: Assessment, index: TopicIndex, *, general: bool = True) -> Match | None:
    """The guide topic `index` finds for `message` (its `topic_query`), or None.

    A message with a life-threat signal whose search finds no topic, or only a
    topic that is not life-threatening, is searched again with that signal's
    topic words, and the new topic is taken when it is life-threatening. When the message is an
    emergency (a signal, or the model alone: `assessment.likely`) and no topic is found, the
    general "when to call the emergency services" topic answers, rather than no topic at all
    (unless `general` is False): "my grandad is dying" names no injury or illness.
    """
    query = topic_query(without_idioms(message, assessment.language) or message, assessment)
    match = index.best(query)
    first = _speaking_signal(assessment.signals)
    if first and (match is None or not match.topic.life_threatening):
        # A life threat in words that name a milder topic ("cut his hand badly, lots of blood")
        # or none ("he hasnt come round"): its signal's words decide, if they name a topic.
        retried = index.best(" ".join([query, kinds()[first].topic_words]))
        if retried is not None and (match is None or retried.topic.life_threatening):
            match = retried
    if match is None and (assessment.likely or assessment.signals) and general:
        match = index.best(LIKELY_TOPIC_WORDS)
    return match


def glossary_words(message: str, code: str) -> list[str]:
    """The English words of every glossary entry of language `code` that `message` matches."""
    forms = read(message, code).forms
    return [english for pattern, english in _glossary(code) if any(pattern.search(form) for form in forms)]


@functools.cache
def _glossary(code: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    data = read_data(code, "glossary")
    boundaries = languages()[code].word_boundaries
    entries = []
    chars = languages()[code].chars
    for key, english in data["terms"].items():
        pattern = "".join(chars.get(char, char) for char in unicodedata.normalize("NFKC", key))
        wrapped = rf"(?<!\S)(?:{pattern})(?!\S)" if boundaries else pattern
        try:
            entries.append((re.compile(wrapped), str(english)))
        except re.error as error:
            raise ValueError(f"lang/{code}/glossary.toml: {pattern!r}: {error}") from error
    return tuple(entries)
