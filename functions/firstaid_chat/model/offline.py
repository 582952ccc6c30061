"""Replies from the built-in first-aid guide: no network, no key, always there."""

from __future__ import annotations

import re
from collections.abc import Iterator

from . import Chunk, Prompt

# Streamed a few words at a time so offline replies arrive like any other.
_PIECES = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 6


class OfflineModel:
    """A Model that answers from the guide topic best matching the message.

    Messages in any language the safety package reads are matched through
    their English topic words (`safety.retrieval.topic_query`); the no-match
    reply and the note that the steps are in English are in the person's
    language.
    """

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
        from ..offline.compose import compose_reply
        from ..offline.retrieval import default_index
        from ..safety.detect import assess
        from ..safety.lead import text
        from ..safety.retrieval import topic_query

        assessment = assess(message)
        language = assessment.language
        match = default_index().best(topic_query(message, assessment))
        if match is None:
            return text(language, "no_match", number=self._number)
        reply = compose_reply(
            match.topic, self._number, crisis_line=self._crisis_line, poison_centre=self._poison_centre
        )
        # The guide is in English; say so in the person's language.
        return reply if language == "en" else text(language, "steps_in_english") + "\n\n" + reply

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        pieces = _PIECES.findall(self.reply_text(prompt.message))
        for start in range(0, len(pieces), WORDS_PER_CHUNK):
            yield Chunk(text="".join(pieces[start : start + WORDS_PER_CHUNK]))
        yield Chunk(finish_reason="STOP")
