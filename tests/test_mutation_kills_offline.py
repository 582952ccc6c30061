"""The offline guide's model (model/offline.py), pinned where a mutation survived the API's tests."""

from __future__ import annotations

import pytest
from firstaid_chat.model import Prompt
from firstaid_chat.model.offline import WORDS_PER_CHUNK, OfflineModel
from firstaid_chat.safety.lead import text as lead_text


def ask(model: OfflineModel, message: str) -> list[str]:
    chunks = list(model.stream(Prompt(message, (), deadline=float("inf"))))
    assert chunks[-1].finish_reason == "STOP" and chunks[-1].text == ""
    assert all(chunk.finish_reason is None for chunk in chunks[:-1])
    return [chunk.text for chunk in chunks[:-1]]


def test_the_reply_streams_six_words_a_chunk_and_loses_no_character() -> None:
    model = OfflineModel(emergency_number="911")
    pieces = ask(model, "How do I treat a burn?")
    assert WORDS_PER_CHUNK == 6
    assert "".join(pieces) == model.reply_text("How do I treat a burn?")
    assert len(pieces) > 2
    assert [len(piece.split()) for piece in pieces[:-1]] == [6] * (len(pieces) - 1)
    assert 1 <= len(pieces[-1].split()) <= 6


def test_an_english_reply_is_the_guide_topic_with_the_configured_number() -> None:
    reply = OfflineModel(emergency_number="911").reply_text("How do I treat a burn?")
    assert reply.startswith("**")  # the topic's bold title, with no language note before it
    assert "911" in reply
    assert lead_text("en", "steps_in_english") not in reply


@pytest.mark.parametrize(
    ("message", "language"),
    [("cómo trato una quemadura", "es"), ("comment soigner une brûlure", "fr")],
)
def test_a_reply_in_another_language_says_first_that_the_steps_are_in_english(message: str, language: str) -> None:
    model = OfflineModel(emergency_number="911")
    reply = model.reply_text(message)
    note = lead_text(language, "steps_in_english")
    assert reply.startswith(note + "\n\n**")
    assert reply.removeprefix(note + "\n\n") == model.reply_text("How do I treat a burn?")


def test_a_message_matching_no_topic_gets_the_no_match_reply_with_the_number() -> None:
    reply = OfflineModel(emergency_number="911").reply_text("what will the weather be tomorrow")
    assert reply == lead_text("en", "no_match", number="911")
    assert "**call 911 now**" in reply


def test_the_configured_poison_centre_and_crisis_line_reach_the_guide_text() -> None:
    default = OfflineModel(emergency_number="911")
    local = OfflineModel(emergency_number="911", crisis_line="555-0100", poison_centre="555-0199")
    poisoning = "my toddler drank bleach"
    assert "555-0199" in local.reply_text(poisoning)
    assert "555-0199" not in default.reply_text(poisoning)
    self_harm = "i want to kill myself"
    assert "555-0100" in local.reply_text(self_harm)
    assert "555-0100" not in default.reply_text(self_harm)
