"""Which stored turns go to the model with the next message."""

from __future__ import annotations

from collections.abc import Sequence

from .conversation import Turn


def history_window(turns: Sequence[Turn], budget_chars: int) -> list[Turn]:
    """The most recent in-context turns whose text fits in ``budget_chars``, oldest first.

    Whole turns only: a user message without its reply would break the alternation
    the model expects. Older turns stay stored; they just are not resent.
    """
    window: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        if not turn.in_context:
            continue
        size = len(turn.user_text) + len(turn.reply_text)
        if used + size > budget_chars:
            break
        window.append(turn)
        used += size
    window.reverse()
    return window


def recent_tail(turns: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The most recent turns (in context or not) whose text fits in ``max_chars``, oldest first.

    Stores keep this tail inline with the session so that one read gives a turn
    everything it needs; it always keeps at least the newest turn.
    """
    tail: list[Turn] = []
    used = 0
    for turn in reversed(turns):
        size = len(turn.user_text) + len(turn.reply_text)
        if tail and used + size > max_chars:
            break
        tail.append(turn)
        used += size
    tail.reverse()
    return tail
