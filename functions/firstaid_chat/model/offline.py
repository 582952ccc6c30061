"""Replies from the built-in first-aid guide: no network, no key, always there."""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import Chunk, Prompt

# Streamed a few words at a time so offline replies arrive like any other.
_PIECES = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 6


class OfflineModel:
    """A Model that answers from the guide topic best matching the message."""

    source = "offline"

    def __init__(
        self,
        *,
        emergency_number: str,
        crisis_line: str | None = None,
        poison_centre: str | None = None,
    ) -> None:
        self._number = emergency_number
        self._crisis_line = crisis_line
        self._poison_centre = poison_centre

    def reply_text(self, message: str) -> str:
        # Imported on first use: instances that never answer offline never load the guide.
        from ..offline.compose import compose_reply, no_match_reply
        from ..offline.retrieval import default_index

        match = default_index().best(message)
        if match is None:
            return no_match_reply(self._number)
        return compose_reply(
            match.topic, self._number, crisis_line=self._crisis_line, poison_centre=self._poison_centre
        )

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        pieces = _PIECES.findall(self.reply_text(prompt.message))
        for start in range(0, len(pieces), WORDS_PER_CHUNK):
            yield Chunk(text="".join(pieces[start : start + WORDS_PER_CHUNK]))
        yield Chunk(finish_reason="STOP")
