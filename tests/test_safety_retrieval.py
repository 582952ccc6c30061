"""Which guide topic a message finds through the safety package (`safety.retrieval`): the signals'
English topic words, the glossaries, and the general emergency topic for what only the model saw."""

from __future__ import annotations

import pytest
from firstaid_chat.offline.retrieval import default_index
from firstaid_chat.safety.detect import assess
from firstaid_chat.safety.retrieval import LIKELY_TOPIC_WORDS, find_topic


def slug(message: str) -> str | None:
    match = find_topic(message, assess(message), default_index())
    return match.topic.slug if match else None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # Not breathing names CPR whatever else the message names (English adds no other signal words).
        ("he had a seizure and now hes not breathing", "cpr-adult"),
        ("after the fit hes not breathing", "cpr-adult"),
        # Talk of suicide in words the guide's topic does not use.
        ("im going to end it tonight", "suicidal-crisis"),
        ("i cant go on anymore i want to end it all", "suicidal-crisis"),
        # In other languages only the most specific kind speaks: CPR, not the recovery position.
        ("se desmayó y no respira", "cpr-adult"),
        ("er ist umgekippt und atmet nicht", "cpr-adult"),
    ],
)
def test_the_most_urgent_signal_names_the_topic(message: str, expected: str) -> None:
    assert slug(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("man at the next table in the restaurant is holding his throat and cant speak or cough", "choking-adult"),
        ("sudden headache like being hit with a bat, worst pain ive ever had, came on in secs", "thunderclap-headache"),
        ("waters went and i can see the head already, ambulance isnt here, what do i do", "emergency-childbirth"),
    ],
)
def test_an_emergency_only_the_model_saw_keeps_the_topic_its_own_words_name(message: str, expected: str) -> None:
    assessment = assess(message)
    assert assessment.likely and not assessment.signals
    assert slug(message) == expected


def test_an_emergency_only_the_model_saw_and_no_word_names_gets_the_general_emergency_topic() -> None:
    message = "صدري كأن عليه حجر ثقيل وعرق بارد والوجع نازل على دراعي الشمال"
    assessment = assess(message)
    assert assessment.likely and not assessment.signals
    assert default_index().best(message) is None
    general = default_index().best(LIKELY_TOPIC_WORDS)
    assert general is not None and slug(message) == general.topic.slug == "when-to-call-emergency-services"


@pytest.mark.parametrize(
    "message", ["my grandad is dying please help me", "mi abuelo se está muriendo", "我爷爷快不行了"]
)
def test_an_emergency_whose_words_name_no_topic_gets_the_general_emergency_topic(message: str) -> None:
    assessment = assess(message)
    assert assessment.signals and default_index().best(message) is None
    assert slug(message) == "when-to-call-emergency-services"


def test_a_message_that_is_no_emergency_and_names_no_topic_finds_nothing() -> None:
    assert slug("what will the weather be like tomorrow") is None


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # "severe" is not "severed": a bad burn is no amputation, in English or through a signal's words.
        ("she has a severe burn", "burns-and-scalds"),
        ("chai ka pura bhagona bachhe pe gir gaya, chest aur pet ki skin nikal gayi", "burns-and-scalds"),
        ("his thumb was severed", "amputation"),
    ],
)
def test_severe_and_severed_name_different_topics(message: str, expected: str) -> None:
    assert slug(message) == expected


def test_an_english_emergency_whose_own_words_name_no_topic_gets_its_signals_topic() -> None:
    message = "grandad fell over in the garden and he hasnt come round"
    assert assess(message).signals == ("unconscious",)
    assert default_index().best(message) is None
    assert slug(message) == "unconscious-breathing"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # A conscious choking person turning blue or unable to breathe: back blows, not CPR.
        ("ele tá engasgado não consegue respirar", "choking-adult"),
        ("bacche ke gale mein kuch atak gaya hai saans nahi aa rahi", "choking-child"),
        ("mon bébé s'étouffe il devient bleu", "choking-infant"),
        # Unresponsive as well: CPR.
        ("he collapsed after choking and isnt breathing", "cpr-adult"),
    ],
)
def test_choking_comes_before_cpr_unless_the_person_is_unresponsive(message: str, expected: str) -> None:
    assert slug(message) == expected


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        # Its own words name a milder topic; the life threat's topic wins.
        ("my son cut his hand badly with a knife lots of blood", "severe-bleeding"),
        # The first kind found has no topic words ("other"): the next one speaks.
        ("我妈妈突然晕倒了叫不醒", "unconscious-breathing"),
        # An overdose with other signs is the overdose topic.
        ("my friend took like 30 pills and wont wake up", "overdose"),
    ],
)
def test_a_life_threat_gets_a_life_threatening_topic(message: str, expected: str) -> None:
    assert assess(message).emergency
    assert slug(message) == expected


@pytest.mark.parametrize(
    "message",
    ["i nearly died laughing at that movie", "this traffic is giving me a heart attack", "im drowning in paperwork"],
)
def test_an_idiom_names_no_topic(message: str) -> None:
    assert not assess(message).emergency
    assert slug(message) is None


def test_an_idiom_beside_a_real_question_leaves_the_question_its_topic() -> None:
    assert slug("lol i nearly died laughing, but seriously how do i treat a burn") == "burns-and-scalds"
