"""Who writes the replies: one interface, Gemini and the offline first-aid guide behind it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..conversation import Turn

# Finish reasons (Gemini's names) that mean the reply was withheld by a filter.
BLOCKED_FINISH_REASONS = frozenset(
    {"SAFETY", "RECITATION", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY", "LANGUAGE", "OTHER"}
)


@dataclass(frozen=True)
class Prompt:
    """What the model is asked: the new message, the history window and a deadline."""

    message: str
    history: Sequence[Turn]
    deadline: float  # time.monotonic() value by which the reply must be complete


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


@dataclass(frozen=True)
class Chunk:
    """A piece of a reply as it arrives; the last one carries how it finished."""

    text: str = ""
    finish_reason: str | None = None
    prompt_blocked: bool = False
    usage: Usage | None = None


class Model(Protocol):
    """Writes a reply, yielding text as it is produced."""

    source: str  # recorded with every turn: "gemini" or "offline"

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        """Yield the reply's chunks; raise an UpstreamError subclass when no reply can be had."""
