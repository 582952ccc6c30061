"""Replies from the built-in first-aid guide: no network, no key, always there."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from . import Chunk, Prompt

if TYPE_CHECKING:
    from ..offline.retrieval import TopicIndex

_index: TopicIndex | None = None
_index_lock = threading.Lock()
# Streamed a few words at a time so offline replies arrive like any other.
_PIECES = re.compile(r"\S+\s*|\s+")
WORDS_PER_CHUNK = 6


def topic_index() -> TopicIndex:
    """The index over the guide's topics, built once per instance on first use."""
    global _index
    if _index is None:
        # Built on first use: instances that never fall back never read the guide.
        from ..offline.knowledge import load_topics
        from ..offline.retrieval import TopicIndex

        with _index_lock:
            if _index is None:
                _index = TopicIndex.build(load_topics())
    return _index


class OfflineModel:
    """A Model that answers from the guide topic best matching the message."""

    source = "offline"

    def __init__(self, *, emergency_number: str) -> None:
        self._number = emergency_number

    def reply_text(self, message: str) -> str:
        from ..offline.compose import compose_reply, no_match_reply

        match = topic_index().best(message)
        if match is None:
            return no_match_reply(self._number)
        return compose_reply(match.topic, self._number)

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        pieces = _PIECES.findall(self.reply_text(prompt.message))
        for start in range(0, len(pieces), WORDS_PER_CHUNK):
            yield Chunk(text="".join(pieces[start : start + WORDS_PER_CHUNK]))
        yield Chunk(finish_reason="STOP")
