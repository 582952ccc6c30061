"""Replies in the person's language beyond the emergency lead: the notes a Gemini reply may end
with, and the offline guide answering a follow-up through the person's earlier message."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firstaid_chat.conversation import Turn
from firstaid_chat.model import Chunk, Prompt
from firstaid_chat.model.offline import OfflineModel
from firstaid_chat.safety.language import language_codes
from firstaid_chat.safety.lead import LEAD_KEYS, texts
from firstaid_chat.safety.lead import text as lead_text
from firstaid_chat.service import ChatRequest, ChatService
from firstaid_chat.settings import Settings
from firstaid_chat.store.sqlite import SQLiteStore


class Finishing:
    """A Gemini stand-in that writes one sentence (or none) and finishes with `reason`."""

    source = "gemini"

    def __init__(self, reason: str, text: str = "Tenga calma.", blocked: bool = False) -> None:
        self.reason, self.text, self.blocked = reason, text, blocked

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        if self.text:
            yield Chunk(text=self.text)
        yield Chunk(finish_reason=self.reason, prompt_blocked=self.blocked)


def answer(tmp_path: Path, model: object, message: str) -> str:
    settings = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0, emergency_number="112")
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    events = list(ChatService(settings, store, model).turn(ChatRequest(message), client="c"))  # type: ignore[arg-type]
    return str(events[-1].payload["reply"])


SPANISH = "¿cuánto tiempo tengo que enfriar una quemadura con agua?"
GERMAN = "wie lange soll ich eine verbrennung mit wasser kühlen?"


@pytest.mark.parametrize(
    ("message", "code", "reason", "key"),
    [
        (SPANISH, "es", "MAX_TOKENS", "cut_short_note"),
        (SPANISH, "es", "RECITATION", "withheld_note"),
        (GERMAN, "de", "MAX_TOKENS", "cut_short_note"),
        (GERMAN, "de", "SAFETY", "withheld_note"),
    ],
)
def test_a_cut_short_or_withheld_reply_says_so_in_the_persons_language(
    tmp_path: Path, message: str, code: str, reason: str, key: str
) -> None:
    reply = answer(tmp_path, Finishing(reason), message)
    assert reply == "Tenga calma.\n\n" + lead_text(code, key)
    assert lead_text(code, key) != lead_text("en", key)


def test_a_blocked_message_is_answered_in_the_persons_language_with_the_number(tmp_path: Path) -> None:
    reply = answer(tmp_path, Finishing("SAFETY", text="", blocked=True), SPANISH)
    assert reply == lead_text("es", "blocked_reply", number="112")
    assert "112" in reply and "{number}" not in reply


def test_every_language_has_every_note_and_keeps_the_number_placeholder() -> None:
    for code in language_codes():
        notes = texts(code)
        assert set(LEAD_KEYS) <= set(notes), code
        assert "{number}" in notes["blocked_reply"], code
        if code != "en":
            for key in ("blocked_reply", "withheld_note", "cut_short_note", "follow_up"):
                assert notes[key] != texts("en")[key], (code, key)


# --- the offline guide answering a follow-up -------------------------------------------------

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def offline_reply(message: str, *earlier: str) -> str:
    history = [Turn(seq, text, "(steps)", created_at=NOW) for seq, text in enumerate(earlier, start=1)]
    chunks = OfflineModel(emergency_number="112").stream(Prompt(message, history, deadline=float("inf")))
    return "".join(chunk.text for chunk in chunks)


def title(reply: str) -> str:
    """The guide topic's bold title in an offline reply."""
    return reply.split("**")[1]


def test_a_follow_up_with_no_topic_of_its_own_is_answered_through_the_earlier_message() -> None:
    alone = offline_reply("and now what??")
    assert alone == lead_text("en", "no_match", number="112")
    reply = offline_reply("and now what??", "my dad collapsed and isnt breathing")
    assert reply.startswith(lead_text("en", "follow_up") + "\n\n**")
    assert title(reply) == title(offline_reply("my dad collapsed and isnt breathing"))
    assert "CPR" in title(reply)


def test_a_follow_up_that_gives_the_age_changes_the_steps_to_that_age() -> None:
    adult = offline_reply("shes choking")
    infant = offline_reply("shes only 8 months old", "shes choking")
    assert title(adult) != title(infant)
    assert "infant" in title(infant).lower() or "baby" in title(infant).lower()


def test_a_follow_up_reaches_back_past_a_message_with_no_topic() -> None:
    reply = offline_reply("what next", "my son is having a seizure", "ok")
    assert reply.startswith(lead_text("en", "follow_up"))
    assert title(reply) == title(offline_reply("my son is having a seizure"))


def test_a_message_with_its_own_topic_is_answered_alone() -> None:
    after = offline_reply("how do i treat a burn", "my dad collapsed and isnt breathing")
    assert after == offline_reply("how do i treat a burn")


def test_a_follow_up_to_an_off_topic_conversation_still_matches_nothing() -> None:
    reply = offline_reply("and then?", "what will the weather be tomorrow")
    assert reply == lead_text("en", "no_match", number="112")


def test_a_follow_up_in_spanish_is_answered_in_spanish_through_the_earlier_message() -> None:
    reply = offline_reply("¿y ahora qué hago?", "mi hijo no respira")
    assert reply.startswith(lead_text("es", "follow_up") + "\n\n" + lead_text("es", "steps_in_english"))
    assert title(reply.split("\n\n", 2)[2]) == title(offline_reply("mi hijo no respira").split("\n\n", 1)[1])


def test_a_follow_up_only_the_model_calls_an_emergency_keeps_the_conversations_topic() -> None:
    message = "its been 6 minutes now and he wont stop"
    assert offline_reply(message).startswith("**When to call emergency services**")
    reply = offline_reply(message, "my son is having a seizure")
    assert reply.startswith(lead_text("en", "follow_up"))
    assert title(reply) == title(offline_reply("my son is having a seizure"))


@pytest.mark.parametrize(
    ("message", "code"),
    [("thanks", "en"), ("ok thank you so much", "en"), ("muchas gracias", "es"), ("merci beaucoup", "fr"),
     ("danke", "de"), ("obrigado", "pt"), ("धन्यवाद", "hi"), ("shukriya", "hi-Latn"), ("شكرا", "ar"), ("谢谢", "zh")],
)
def test_thanks_after_an_emergency_gets_a_short_reply_not_the_guide_again(message: str, code: str) -> None:
    reply = offline_reply(message, "my dad collapsed and isnt breathing")
    assert reply == lead_text(code, "closing_reply", number="112")
    assert "112" in reply


def test_thanks_with_no_conversation_before_it_is_not_taken_for_a_closing() -> None:
    """A first message of "thanks" closes nothing: it gets the reply to what the guide cannot match."""
    assert offline_reply("thanks") == lead_text("en", "no_match", number="112")


def test_thanks_followed_by_a_new_problem_is_answered_as_the_problem() -> None:
    reply = offline_reply("thanks, but now hes not breathing again", "my dad collapsed")
    assert reply != lead_text("en", "closing_reply", number="112")
    assert "CPR" in title(reply)


def test_the_no_match_reply_gives_the_number_first_in_every_language() -> None:
    for code in language_codes():
        first_paragraph = lead_text(code, "no_match", number="112").split("\n\n")[0]
        assert "112" in first_paragraph, code


@pytest.mark.parametrize(
    ("message", "earlier"),
    [
        ("ok he's breathing now", "my dad collapsed and isnt breathing"),
        ("ya respira", "mi padre se desmayo y no respira"),
        ("il respire maintenant", "mon pere est tombe et ne respire plus"),
        ("er atmet wieder", "mein vater ist umgekippt und atmet nicht"),
        ("他现在有呼吸了", "我爸爸晕倒了没有呼吸"),
    ],
)
def test_breathing_again_after_cpr_gets_the_recovery_position_not_cpr_again(message: str, earlier: str) -> None:
    reply = offline_reply(message, earlier)
    assert title(reply) in ("The recovery position", "Unconscious but breathing")


def test_the_answer_names_the_language_its_lead_was_written_in(tmp_path: Path) -> None:
    settings = Settings(rate_limit_client_per_minute=0, rate_limit_session_per_minute=0)
    store = SQLiteStore(tmp_path / "s.sqlite3", ttl=timedelta(hours=1), tail_chars=32_000)
    service = ChatService(settings, store, Finishing("STOP", text="Ok."))  # type: ignore[arg-type]
    written = [("mi padre se desmayo y no respira", "es"), ("my dad collapsed", "en"), ("我爸爸晕倒了", "zh")]
    for message, code in written:
        done = list(service.turn(ChatRequest(message), client="c"))[-1].payload
        assert done["language"] == code
