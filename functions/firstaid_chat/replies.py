"""How a reply is written: the model's chunks, the offline guide when the model cannot answer
or the day's token budget is spent, and the honest notes a blocked or cut-short reply gets."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from .budget import TokenBudget
from .errors import KeyUnavailable, UpstreamError
from .model import BLOCKED_FINISH_REASONS, Chunk, Model, Prompt, Usage
from .safety.lead import text as lead_text

log = logging.getLogger(__name__)



@dataclass
class Reply:
    """A reply as it accumulates: its text pieces, how it finished, its token use and who wrote it."""

    parts: list[str] = field(default_factory=list)
    finish_reason: str = "STOP"
    prompt_blocked: bool = False
    usage: Usage | None = None
    source: str = "gemini"

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def note(self, chunk: Chunk) -> None:
        """Record what a chunk says about the reply (finish reason, blocking, token use)."""
        if chunk.finish_reason:
            self.finish_reason = chunk.finish_reason
        if chunk.prompt_blocked:
            self.prompt_blocked = True
        if chunk.usage is not None:
            self.usage = chunk.usage


class ReplyWriter:
    """Writes replies from the model, falling back to the offline guide, within the token budget."""

    def __init__(
        self,
        model: Model,
        *,
        emergency_number: str,
        clock: Callable[[], datetime],
        fallback: Model | None = None,
        offline: Model | None = None,
        budget: TokenBudget | None = None,
    ) -> None:
        self.model = model
        self.fallback = fallback
        self.offline = offline
        self.budget = budget
        self._emergency_number = emergency_number
        self._clock = clock

    def texts(self, chunks: Iterator[Chunk], reply: Reply, lead: str, language: str = "en") -> Iterator[str]:
        """The reply's text pieces, with the emergency lead first and honest notes where needed.

        The notes (blocked, withheld, cut short) are in `language`, a code of
        `safety.language` (English when it has no texts).
        """
        if lead:
            yield lead
        produced = False
        for chunk in chunks:
            if chunk.text:
                produced = True
                yield chunk.text
        if reply.prompt_blocked or (not produced and reply.finish_reason in BLOCKED_FINISH_REASONS):
            reply.finish_reason = reply.finish_reason if reply.finish_reason in BLOCKED_FINISH_REASONS else "SAFETY"
            yield lead_text(language, "blocked_reply", number=self._emergency_number)
        elif reply.finish_reason in BLOCKED_FINISH_REASONS:
            yield "\n\n" + lead_text(language, "withheld_note")
        elif reply.finish_reason == "MAX_TOKENS":
            yield "\n\n" + lead_text(language, "cut_short_note")

    def chunks(self, prompt: Prompt, reply: Reply, language: str = "en") -> Iterator[Chunk]:
        """The model's chunks, or the offline guide's when the model fails before its first word."""
        if self._budget_spent():
            assert self.offline is not None
            yield from self._offline_chunks(prompt, reply, lead_text(language, "budget_notice") + "\n\n")
            return
        reply.source = self.model.source
        produced = False
        try:
            for chunk in self.model.stream(prompt):
                reply.note(chunk)
                produced = produced or bool(chunk.text) or chunk.prompt_blocked
                yield chunk
            self._spend(reply)
            if (
                not produced
                and reply.finish_reason not in BLOCKED_FINISH_REASONS
                and reply.finish_reason != "MAX_TOKENS"
            ):
                raise UpstreamError()
        except (UpstreamError, KeyUnavailable) as exc:
            if produced or self.fallback is None:
                raise
            log.warning("model failed; answering from the offline guide", extra={"error_code": exc.code})
            notice = lead_text(language, "fallback_notice") + "\n\n"
            yield from self._offline_chunks(prompt, reply, notice, self.fallback)

    def _offline_chunks(
        self, prompt: Prompt, reply: Reply, notice: str, model: Model | None = None
    ) -> Iterator[Chunk]:
        """The offline guide's answer, after a line saying why it answers."""
        model = model or self.offline
        assert model is not None
        reply.source = model.source
        reply.finish_reason = "STOP"
        yield Chunk(text=notice)
        for chunk in model.stream(prompt):
            reply.note(chunk)
            yield chunk

    def _budget_spent(self) -> bool:
        """Whether the daily token budget keeps Gemini from answering (the offline guide answers)."""
        if self.budget is None or self.offline is None or self.model.source == self.offline.source:
            return False
        return self.budget.exhausted(self._clock())

    def _spend(self, reply: Reply) -> None:
        if self.budget is not None and reply.usage is not None:
            self.budget.record(reply.usage.total_tokens, self._clock())
