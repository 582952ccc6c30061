"""How a reply is written (replies.py), pinned where a mutation survived the service's tests.

Each test states what the person reads, what is stored with the turn, or what the day's
token budget is charged, for the model's answer, the offline fallback and the budget's end.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from firstaid_chat.budget import TokenBudget
from firstaid_chat.errors import KeyUnavailable, ModelNoReply, ModelUnavailable, UpstreamError
from firstaid_chat.model import Chunk, Prompt, Usage
from firstaid_chat.model.offline import OfflineModel
from firstaid_chat.replies import Reply, ReplyWriter
from firstaid_chat.safety.lead import text as lead_text
from firstaid_chat.store.sqlite import SQLiteStore

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
DAY = "2026-11-30"
BURN = Prompt("How do I treat a burn?", (), deadline=float("inf"))


class Scripted:
    """A model that yields the given chunks, then raises ``fail`` if one is given."""

    def __init__(self, *chunks: Chunk, fail: Exception | None = None, source: str = "gemini") -> None:
        self.chunks = chunks
        self.fail = fail
        self.source = source
        self.calls = 0

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        self.calls += 1
        yield from self.chunks
        if self.fail is not None:
            raise self.fail


def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore(tmp_path / "budget.sqlite3", ttl=timedelta(hours=1), tail_chars=1000)


def writer(model: Scripted, **kwargs: object) -> ReplyWriter:
    return ReplyWriter(model, emergency_number="911", clock=lambda: NOW, **kwargs)  # type: ignore[arg-type]


def write(replies: ReplyWriter, language: str = "en", lead: str = "") -> tuple[str, Reply]:
    """What the person reads, and the reply as it is stored."""
    reply = Reply()
    text = "".join(replies.texts(replies.chunks(BURN, reply, language), reply, lead))
    return text, reply


OFFLINE_BURN = "".join(chunk.text for chunk in OfflineModel(emergency_number="911").stream(BURN))


# --- notes the person reads ---------------------------------------------------------------


def test_a_reply_withheld_after_text_says_so_in_its_own_paragraph() -> None:
    text, reply = write(writer(Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="RECITATION"))))
    assert text == "Cool the burn.\n\n(The rest of this reply was withheld by a safety filter.)"
    assert reply.finish_reason == "RECITATION"


def test_a_reply_cut_at_max_tokens_says_so_and_offers_to_continue() -> None:
    text, reply = write(writer(Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="MAX_TOKENS"))))
    assert text == "Cool the burn.\n\n(This reply was cut short. Ask me to continue if you need more.)"
    assert reply.finish_reason == "MAX_TOKENS"


def test_a_finished_reply_gets_no_note_and_the_lead_comes_first() -> None:
    text, reply = write(writer(Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="STOP"))), lead="LEAD ")
    assert text == "LEAD Cool the burn."
    assert (reply.finish_reason, reply.source, reply.prompt_blocked) == ("STOP", "gemini", False)


def test_a_blocked_reply_names_the_configured_emergency_number() -> None:
    text, reply = write(writer(Scripted(Chunk(finish_reason="SAFETY"))))
    assert text == (
        "I can't help with that message as written. If someone is hurt or in danger, "
        "call 911 now. You can also rephrase your question about first aid."
    )
    assert reply.finish_reason == "SAFETY"


def test_a_prompt_blocked_with_no_blocking_reason_is_stored_as_safety() -> None:
    text, reply = write(writer(Scripted(Chunk(prompt_blocked=True, finish_reason="STOP"))))
    assert text.startswith("I can't help with that message as written.")
    assert (reply.finish_reason, reply.prompt_blocked) == ("SAFETY", True)


def test_the_last_usage_a_chunk_reports_is_the_replys() -> None:
    first, last = Usage(1, 0, 1), Usage(5, 7, 12)
    reply = Reply()
    reply.note(Chunk(text="a", usage=first))
    reply.note(Chunk(text="b"))  # no usage: the earlier figure stays
    assert reply.usage == first
    reply.note(Chunk(finish_reason="STOP", usage=last))
    reply.note(Chunk())  # no finish reason: the earlier one stays
    assert (reply.usage, reply.finish_reason) == (last, "STOP")


# --- the offline fallback ------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [ModelUnavailable(), ModelNoReply(), KeyUnavailable()],
    ids=["unavailable", "no-reply", "no-key"],
)
def test_a_model_failing_before_its_first_word_is_answered_by_the_guide_with_a_notice(
    failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    offline = OfflineModel(emergency_number="911")
    with caplog.at_level(logging.INFO, logger="firstaid_chat.replies"):
        text, reply = write(writer(Scripted(fail=failure), fallback=offline, offline=offline))
    assert text == lead_text("en", "fallback_notice") + "\n\n" + OFFLINE_BURN
    assert (reply.source, reply.finish_reason) == ("offline", "STOP")
    (record,) = [r for r in caplog.records if r.name == "firstaid_chat.replies"]
    assert (record.getMessage(), record.levelname) == ("model failed; answering from the offline guide", "WARNING")
    assert record.error_code == failure.code  # type: ignore[attr-defined]


def test_the_fallback_notice_is_in_the_persons_language() -> None:
    offline = OfflineModel(emergency_number="911")
    text, _ = write(writer(Scripted(fail=ModelUnavailable()), fallback=offline), language="es")
    assert text.startswith(lead_text("es", "fallback_notice") + "\n\n")
    assert lead_text("es", "fallback_notice") != lead_text("en", "fallback_notice")


def test_a_stream_that_ends_with_no_word_and_no_blocking_is_answered_by_the_guide() -> None:
    offline = OfflineModel(emergency_number="911")
    text, reply = write(writer(Scripted(Chunk(finish_reason="STOP")), fallback=offline))
    assert text.endswith(OFFLINE_BURN)
    assert reply.source == "offline"


def test_a_stream_that_ends_with_no_word_and_no_fallback_is_an_upstream_error() -> None:
    with pytest.raises(UpstreamError):
        write(writer(Scripted(Chunk(finish_reason="STOP"))))


@pytest.mark.parametrize(
    "chunks",
    [[Chunk(text="Cool "), Chunk(text="the burn")], [Chunk(prompt_blocked=True)]],
    ids=["after-text", "after-a-blocked-prompt"],
)
def test_a_model_failing_after_it_answered_is_an_error_not_the_guide(chunks: list[Chunk]) -> None:
    offline = OfflineModel(emergency_number="911")
    with pytest.raises(ModelUnavailable):
        write(writer(Scripted(*chunks, fail=ModelUnavailable()), fallback=offline, offline=offline))


def test_without_a_fallback_the_models_error_reaches_the_person() -> None:
    offline = OfflineModel(emergency_number="911")  # answers only when the budget is spent
    with pytest.raises(ModelUnavailable):
        write(writer(Scripted(fail=ModelUnavailable()), offline=offline))


def test_an_offline_answer_ends_as_a_finished_reply_whatever_the_model_said() -> None:
    """The model's MAX_TOKENS does not outlive the fallback: the guide's own STOP is what is stored."""
    offline = Scripted(Chunk(text="Guide steps."), source="offline")
    model = Scripted(Chunk(finish_reason="MAX_TOKENS", usage=Usage(3, 0, 3)), fail=ModelUnavailable())
    text, reply = write(writer(model, fallback=offline))  # type: ignore[arg-type]
    assert text.endswith("Guide steps.")
    assert "cut short" not in text
    assert (reply.finish_reason, reply.source) == ("STOP", "offline")


# --- the daily token budget ------------------------------------------------------------------


def test_a_gemini_turn_charges_the_budget_its_total_tokens(tmp_path: Path) -> None:
    shared = store(tmp_path)
    budget = TokenBudget(shared, 1000, check_seconds=0)
    model = Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="STOP", usage=Usage(11, 7, 20)))
    text, reply = write(writer(model, budget=budget, offline=OfflineModel(emergency_number="911")))
    assert (text, reply.source) == ("Cool the burn.", "gemini")
    assert shared.tokens_used(DAY) == 20
    shared.close()


def test_a_turn_without_usage_charges_nothing(tmp_path: Path) -> None:
    shared = store(tmp_path)
    budget = TokenBudget(shared, 1000, check_seconds=0)
    write(writer(Scripted(Chunk(text="ok"), Chunk(finish_reason="STOP")), budget=budget))
    assert shared.tokens_used(DAY) == 0
    shared.close()


def test_once_the_budget_is_spent_the_guide_answers_with_the_usage_limit_notice(tmp_path: Path) -> None:
    shared = store(tmp_path)
    shared.add_tokens(DAY, 100, NOW)
    budget = TokenBudget(shared, 100, check_seconds=0)
    model = Scripted(Chunk(text="never asked"), Chunk(finish_reason="MAX_TOKENS"))
    text, reply = write(writer(model, budget=budget, offline=OfflineModel(emergency_number="911")))
    assert model.calls == 0
    assert text == (
        "_Offline mode: the AI assistant has reached today's usage limit, "
        "so this answer comes from the built-in first-aid guide._\n\n" + OFFLINE_BURN
    )
    assert (reply.source, reply.finish_reason) == ("offline", "STOP")
    assert shared.tokens_used(DAY) == 100, "an offline answer costs no tokens"
    shared.close()


def test_the_usage_limit_notice_is_in_the_persons_language(tmp_path: Path) -> None:
    shared = store(tmp_path)
    shared.add_tokens(DAY, 100, NOW)
    budget = TokenBudget(shared, 100, check_seconds=0)
    model = Scripted(Chunk(text="never asked"))
    text, _ = write(writer(model, budget=budget, offline=OfflineModel(emergency_number="911")), language="es")
    assert text.startswith(
        "_Modo sin conexión: el asistente de IA ha alcanzado el límite de uso de hoy, "
        "así que esta respuesta viene de la guía de primeros auxilios integrada._\n\n"
    )
    shared.close()


def test_a_budget_not_yet_spent_leaves_gemini_answering(tmp_path: Path) -> None:
    shared = store(tmp_path)
    shared.add_tokens(DAY, 99, NOW)
    budget = TokenBudget(shared, 100, check_seconds=0)
    model = Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="STOP", usage=Usage(1, 1, 2)))
    text, reply = write(writer(model, budget=budget, offline=OfflineModel(emergency_number="911")))
    assert (text, reply.source, model.calls) == ("Cool the burn.", "gemini", 1)
    assert shared.tokens_used(DAY) == 101
    shared.close()


def test_with_the_guide_as_the_model_a_spent_budget_changes_nothing(tmp_path: Path) -> None:
    """MODEL_PROVIDER=offline: the guide is both model and offline answer; no notice, no budget read."""
    shared = store(tmp_path)
    shared.add_tokens(DAY, 100, NOW)
    guide = OfflineModel(emergency_number="911")
    text, reply = write(writer(guide, budget=TokenBudget(shared, 100, check_seconds=0), offline=guide))  # type: ignore[arg-type]
    assert text == OFFLINE_BURN
    assert reply.source == "offline"
    shared.close()


def test_a_spent_budget_with_no_offline_guide_leaves_the_model_answering(tmp_path: Path) -> None:
    shared = store(tmp_path)
    shared.add_tokens(DAY, 100, NOW)
    model = Scripted(Chunk(text="Cool the burn."), Chunk(finish_reason="STOP"))
    text, _ = write(writer(model, budget=TokenBudget(shared, 100, check_seconds=0)))
    assert (text, model.calls) == ("Cool the burn.", 1)
    shared.close()


def test_the_budget_is_read_at_the_writers_clock(tmp_path: Path) -> None:
    """Yesterday's spent budget does not hold today: the day comes from the clock the writer was given."""
    shared = store(tmp_path)
    shared.add_tokens("2026-11-29", 100, NOW - timedelta(days=1))
    budget = TokenBudget(shared, 100, check_seconds=0)
    model = Scripted(Chunk(text="ok"), Chunk(finish_reason="STOP", usage=Usage(1, 1, 2)))
    _, reply = write(writer(model, budget=budget, offline=OfflineModel(emergency_number="911")))
    assert reply.source == "gemini"
    assert shared.tokens_used(DAY) == 2, "charged to the clock's day"
    shared.close()
