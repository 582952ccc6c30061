"""The daily token budget (DAILY_TOKEN_BUDGET): past it, Gemini rests until the next UTC day.

Every Gemini turn adds its tokens (prompt and reply, as Gemini reports them) to a
count in the store shared by all instances. Before asking Gemini, a turn checks
the day's total; reading it costs one store read, so an instance reads it at most
once every ``check_seconds`` and adds its own turns to what it read in between.
What the budget can overshoot by is bounded: the turns other instances finish
within ``check_seconds``, plus the turns already running when it ran out.

When the budget runs out, the first instance to notice writes one log line
(``"event": "token_budget_exhausted"``), which a log-based alert can watch for;
turns then answer from the offline first-aid guide, marked as such.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from .errors import StoreUnavailable
from .store import Store

log = logging.getLogger(__name__)

EXHAUSTED_EVENT = "token_budget_exhausted"


def budget_day(now: datetime) -> str:
    """The budget's day: the UTC date, ``YYYY-MM-DD`` (``now`` must be aware)."""
    return now.astimezone(UTC).date().isoformat()


class TokenBudget:
    """A per-instance view of the day's shared token count; safe to use from many threads."""

    def __init__(
        self,
        store: Store,
        daily_tokens: int,
        *,
        check_seconds: float = 10.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._limit = daily_tokens
        self._check_seconds = check_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._day = ""
        self._total = 0  # the store's total at the last read, plus this instance's turns since
        self._read_at = float("-inf")
        self._reading = False
        self._announced = ""

    def exhausted(self, now: datetime) -> bool:
        """Whether the day's budget is used up (reads the store only when its figure is stale)."""
        day = budget_day(now)
        with self._lock:
            stale = day != self._day or self._monotonic() - self._read_at >= self._check_seconds
            read_now = stale and not self._reading
            if read_now:
                self._reading = True
        if read_now:
            self._refresh(day)
        with self._lock:
            spent = self._day == day and self._total >= self._limit
            announce = spent and self._announced != day
            if announce:
                self._announced = day
        if announce and self._store.mark_budget_spent(day, now):
            log.warning(
                "daily token budget reached; answering from the offline guide until the next UTC day",
                extra={
                    "event": EXHAUSTED_EVENT,
                    "day": day,
                    "tokens_used": self._total,
                    "daily_token_budget": self._limit,
                },
            )
        return spent

    def _refresh(self, day: str) -> None:
        try:
            total = self._store.tokens_used(day)
        except StoreUnavailable:
            # Keep the last figure: an outage of the count must not stop first aid, and
            # the turn's own store calls report a real outage.
            log.warning("token count unreadable; using the last figure")
            return
        finally:
            with self._lock:
                self._reading = False
        with self._lock:
            self._total = total
            self._day = day
            self._read_at = self._monotonic()

    def record(self, tokens: int, now: datetime) -> None:
        """Count a Gemini turn's tokens: one store write, and this instance's figure at once."""
        if tokens <= 0:
            return
        day = budget_day(now)
        self._store.add_tokens(day, tokens, now)
        with self._lock:
            if day == self._day:
                self._total += tokens
