"""Replies from the built-in first-aid guide: no network, no key, always there."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from ..conversation import Turn
from . import Chunk, Prompt

# Streamed a few words at a time so offline replies arrive like any other.
_PIECES = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 6
# How many of the person's earlier messages a follow-up with no topic of its own
# ("and now what??", "shes only 8 months") may be read together with.
FOLLOW_UP_TURNS = 3


class OfflineModel:
    """A Model that answers from the guide topic best matching the message.

    Messages in any language the safety package reads are matched through
    their English topic words (`safety.retrieval.topic_query`); the no-match
    reply and the note that the steps are in English are in the person's
    language. A message that matches no topic is read together with the
    person's last few messages (newest first), so a follow-up is answered
    through the conversation it belongs to, after a note saying so.
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

    def reply_text(self, message: str, history: Sequence[Turn] = ()) -> str:
        """The guide's reply to `message`, reading `history` (oldest first) for a follow-up."""
        # Imported on first use: instances that never answer offline never load the guide.
        from ..offline.compose import compose_reply
        from ..offline.retrieval import default_index
        from ..safety.detect import assess
        from ..safety.lead import closing_language, text
        from ..safety.retrieval import find_topic

        assessment = assess(message)
        language = assessment.language
        index = default_index()
        match = find_topic(message, assessment, index, general=False)
        follow_up = False
        earlier = [turn.user_text for turn in history][-FOLLOW_UP_TURNS:]
        closing = closing_language(message, language) if match is None and earlier else None
        if closing is not None:
            # "thanks" after an emergency: a short reply, not the steps again.
            return text(closing, "closing_reply", number=self._number)
        for start in range(len(earlier) - 1, -1, -1) if match is None else ():
            together = "\n".join([*earlier[start:], message])
            together_assessment = assess(together)
            match = find_topic(together, together_assessment, index, general=False)
            if match is not None:
                follow_up, language = True, together_assessment.language
                break
        if match is None:
            # Nothing names a topic, in this message or with the earlier ones: the general
            # emergency topic when the model alone calls this message an emergency.
            match = find_topic(message, assessment, index)
        if match is None:
            return text(language, "no_match", number=self._number)
        reply = compose_reply(
            match.topic, self._number, crisis_line=self._crisis_line, poison_centre=self._poison_centre
        )
        # The guide is in English; say so in the person's language.
        if language != "en":
            reply = text(language, "steps_in_english") + "\n\n" + reply
        return text(language, "follow_up") + "\n\n" + reply if follow_up else reply

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        pieces = _PIECES.findall(self.reply_text(prompt.message, prompt.history))
        for start in range(0, len(pieces), WORDS_PER_CHUNK):
            yield Chunk(text="".join(pieces[start : start + WORDS_PER_CHUNK]))
        yield Chunk(finish_reason="STOP")
