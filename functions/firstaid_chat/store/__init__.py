"""Where conversations live: one interface, a Firestore and a SQLite implementation."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from ..conversation import Session, Turn, TurnDraft
from ..settings import Settings

# The tail of recent turns kept inline with a session: the model's history budget plus
# room for exchanges kept out of its context (blocked ones). It is re-encoded on every
# turn, so it is kept no larger than that (at most 208,000 characters: even at 4 bytes
# a character the session document stays below Firestore's 1 MiB limit).
TAIL_MARGIN_CHARS = 8_000


def tail_chars_for(settings: Settings) -> int:
    return settings.history_budget_chars + TAIL_MARGIN_CHARS


class Store(Protocol):
    """Stores sessions and their turns; every method is safe to call from many threads."""

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        """The live session with its recent turns, or None when unknown or expired."""

    def append_turn(
        self, session_id: str, draft: TurnDraft, now: datetime, *, create: bool, loaded: Session | None = None
    ) -> Turn:
        """Store a finished turn atomically after the last one and return it.

        ``loaded`` is the session as this turn loaded it; a store may use it to skip
        reading the session again (it must still detect a change since then).

        When a turn with the same client message id is already stored, return that
        one instead and store nothing. Raises ``SessionNotFound`` when ``create`` is
        false and the session is unknown or expired, ``StoreUnavailable`` when the
        store cannot be reached (nothing is stored then).
        """

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        """Every stored turn of a live session in order, or None when unknown or expired."""

    def delete_session(self, session_id: str, now: datetime) -> bool:
        """Erase a session and all its turns; False when there was no live session."""

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        """Count one request against ``key``; the seconds to wait when over ``limit``, else None."""

    def close(self) -> None:
        """Release connections."""


def build_store(settings: Settings) -> Store:
    """The store the settings ask for (imports only the one that is used)."""
    if settings.chat_store == "firestore":
        from .firestore import FirestoreStore

        return FirestoreStore.from_settings(settings)
    from .sqlite import SQLiteStore

    return SQLiteStore.from_settings(settings)
