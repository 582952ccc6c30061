"""The limits a turn must pass before it is claimed: per session, per client, and the client's
concurrent turns (all shared by every instance through the store)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from .conversation import Session, new_turn_key
from .errors import RateLimited
from .settings import Settings
from .store import Store

RATE_WINDOW_SECONDS = 60
# What a client is told to wait before resending while the previous turn (or its own others) runs.
TURN_IN_PROGRESS_RETRY_SECONDS = 2


class TurnLimits:
    """Checks the per-session and per-client limits and holds the client's concurrent-turn slots.

    Raises ``RateLimited`` (429, with ``Retry-After``) over any of them.
    """

    def __init__(self, settings: Settings, store: Store, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.store = store
        self._clock = clock

    def check_session(self, session: Session, now: datetime) -> None:
        """``RateLimited`` when the session started its limit of turns in the last minute (stored or not)."""
        per_session = self.settings.rate_limit_session_per_minute
        if not per_session:
            return
        window_start = now - timedelta(seconds=RATE_WINDOW_SECONDS)
        recent = [c for c in session.claims if c > window_start]
        if len(recent) >= per_session:
            wait = (sorted(recent)[-per_session] - window_start).total_seconds()
            raise RateLimited(retry_after=max(1, int(wait + 0.999)))

    def check_client(self, client: str) -> None:
        """Count one request against the client's per-minute limit; ``RateLimited`` over it."""
        per_client = self.settings.rate_limit_client_per_minute
        if per_client:
            now = self._clock()
            wait_seconds = self.store.hit_rate_limit(f"client:{client}", per_client, RATE_WINDOW_SECONDS, now)
            if wait_seconds is not None:
                raise RateLimited(retry_after=wait_seconds)

    def take_slot(self, client: str) -> str | None:
        """One of the client's concurrent-turn slots (a lease id), or ``RateLimited`` when all are held.

        Shared by all instances through the store, so one client cannot hold every slot of
        the deployment. Taken before the session is claimed, so a refused turn writes nothing.
        """
        cap = self.settings.client_concurrent_turns
        if not cap:
            return None
        lease = new_turn_key()
        now = self._clock()
        until = now + timedelta(seconds=self.settings.request_timeout_seconds)
        if not self.store.acquire_client_slot(f"client:{client}", lease, cap, now, until):
            raise RateLimited(
                "Too many replies are being written for you at once. Wait for one to finish.",
                retry_after=TURN_IN_PROGRESS_RETRY_SECONDS,
                code="too_many_turns",
            )
        return lease

    def give_back(self, client: str, lease: str | None) -> None:
        """Return a slot taken by ``take_slot`` (nothing when there was none)."""
        if lease is not None:
            self.store.release_client_slot(f"client:{client}", lease, self._clock())
