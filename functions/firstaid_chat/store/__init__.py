"""Where conversations live: one interface, a Firestore and a SQLite implementation.

A turn goes through the store in three steps, each one atomic:

1. ``claim_turn`` marks the session as answering one turn (creating the session for
   its first turn), on the precondition that nothing changed since it was loaded;
2. the model answers, outside the store;
3. ``append_turn`` stores the exchange and clears the claim, on the precondition that
   nothing changed since the claim (a Delete or an expired claim stops it), or
   ``release_turn`` clears the claim when the turn failed.

Every write carries a server-made turn key, so a retry after a lost response finds
its own write instead of writing again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Protocol

from ..conversation import Claim, Session, Stored, Turn, TurnDraft, new_turn_key
from ..errors import SessionNotFound
from ..settings import Settings

# The tail of recent turns kept inline with a session: the model's history budget plus
# room for exchanges kept out of its context (blocked ones). It is re-encoded on every
# turn, so it is kept no larger than that (at most 208,000 characters: even at 4 bytes
# a character the session document stays below Firestore's 1 MiB limit).
TAIL_MARGIN_CHARS = 8_000


def tail_chars_for(settings: Settings) -> int:
    return settings.history_budget_chars + TAIL_MARGIN_CHARS


class ClaimConflict(Exception):
    """The session changed between loading it and claiming it; ``session`` is its state now.

    ``session`` is None when it no longer exists (deleted or expired), or, for a new
    session, when the id is taken.
    """

    def __init__(self, session: Session | None) -> None:
        super().__init__("session changed since it was loaded")
        self.session = session


class Store(Protocol):
    """Stores sessions and their turns; every method is safe to call from many threads.

    Every method raises ``StoreUnavailable`` when the store cannot be reached; nothing
    is half-written then.
    """

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        """The live session with its recent turns, or None when unknown, expired or deleted."""

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        """The stored turn with this client message id, however old, or None (one direct read)."""

    def claim_turn(
        self,
        session_id: str,
        loaded: Session | None,
        key: str,
        now: datetime,
        until: datetime,
        client_message_id: str | None = None,
    ) -> Claim:
        """Mark ``session_id`` as answering the turn ``key`` (for ``client_message_id``) until ``until``.

        ``loaded`` is the session as this turn loaded it, or None to create a new
        session. Raises ``ClaimConflict`` with the session's current state when it
        changed since ``loaded`` (another turn claimed or stored, a Delete), or when a
        new session's id is taken.
        """

    def append_turn(self, claim: Claim, draft: TurnDraft, now: datetime) -> Stored:
        """Store the finished turn after the last one, clear the claim, and return it.

        When a turn with the same client message id is already stored, return that one
        (``replayed``) and store nothing. Raises ``SessionNotFound`` when the session
        was deleted or expired since the claim, ``TurnSuperseded`` when a retry of the
        same client message took the claim over (the turn is discarded in both cases).
        """

    def release_turn(self, claim: Claim, now: datetime) -> None:
        """Clear the claim of a turn that will not be stored (best effort, never raises).

        A new session whose first turn this was is removed, so a failed first message
        leaves nothing stored.
        """

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        """Every stored turn of a live session in order, or None when unknown or expired."""

    def delete_session(self, session_id: str, now: datetime) -> bool:
        """Erase a session and all its turns; False when there was no live session.

        A turn in progress on the session is discarded when it tries to store.
        """

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        """Count one request against ``key``; the seconds to wait when over ``limit``, else None.

        Counts at most once per call, even when a response is lost (never retried).
        """

    def add_tokens(self, day: str, tokens: int, now: datetime) -> None:
        """Add Gemini ``tokens`` to the count of ``day`` (UTC ``YYYY-MM-DD``) shared by all instances.

        One write, never retried and never raising: a lost count is logged and dropped.
        """

    def tokens_used(self, day: str) -> int:
        """The tokens every instance counted on ``day`` (one aggregation read on Firestore)."""

    def mark_budget_spent(self, day: str, now: datetime) -> bool:
        """Record that the day's token budget ran out: True for the first caller of the day only."""

    def acquire_client_slot(self, client: str, lease: str, cap: int, now: datetime, until: datetime) -> bool:
        """Take one of ``client``'s ``cap`` turn slots as ``lease`` until ``until``; False when all are held."""

    def release_client_slot(self, client: str, lease: str, now: datetime) -> None:
        """Give a slot back (best effort, never raises: an unreleased lease lapses at its ``until``)."""

    def close(self) -> None:
        """Release connections."""


def record_turn(store: Store, session_id: str, draft: TurnDraft, now: datetime, *, create: bool = False) -> Stored:
    """Load, claim and store one finished turn at once: a turn without its model call.

    For seeding conversations in benchmarks and tests. Raises ``SessionNotFound`` when
    ``create`` is false and the session is not live, ``ClaimConflict`` when another turn
    holds it.
    """
    session = None if create else store.load_session(session_id, now)
    if not create and session is None:
        raise SessionNotFound()
    if session is not None and session.turn_in_progress(now):
        raise ClaimConflict(session)
    key = new_turn_key()
    claim = store.claim_turn(session_id, session, key, now, now + timedelta(minutes=1), draft.client_message_id)
    return store.append_turn(claim, replace(draft, key=key), now)


def build_store(settings: Settings) -> Store:
    """The store the settings ask for (imports only the one that is used)."""
    if settings.chat_store == "firestore":
        from .firestore import FirestoreStore

        return FirestoreStore.from_settings(settings)
    from .sqlite import SQLiteStore

    return SQLiteStore.from_settings(settings)
