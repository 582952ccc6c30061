"""A turn's claim, commit and release in SQLite: the Store's turn protocol (mixed into ``SQLiteStore``).

Each step is one ``BEGIN IMMEDIATE`` transaction, so it sees the session as no other
writer can change it meanwhile. A claim checks the session's ``version`` against the
loaded one and bumps it (a new session's claim inserts its row); storing inserts the
turn after the last one and clears the claim when it is still this turn's, unless the
session was deleted or expired (the turn is discarded), the same client message is
already stored (returned as a replay), or a retry of that message took the claim over
(the turn is discarded).
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from ..conversation import Claim, Session, Stored, Turn, TurnDraft, text_hash
from ..errors import SessionNotFound, StoreUnavailable, TurnSuperseded
from . import ClaimConflict
from .sqlite_rows import (
    TURN_COLUMNS,
    from_seconds,
    live_session_row,
    session_claim_state,
    session_from_row,
    to_seconds,
    turn_from_row,
)

# Turn starts older than this are dropped from the session's ``claims`` (the rate-limit window).
CLAIMS_KEPT_SECONDS = 60


class SQLiteTurns:
    """The Store's ``claim_turn``, ``append_turn`` and ``release_turn`` on SQLite."""

    _ttl: timedelta
    _max_age: timedelta
    _tail_chars: int

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _ends_at(self, row: sqlite3.Row | None, now: datetime) -> float:
        if row is not None and row["ends_at"] is not None:
            return float(row["ends_at"])
        created = from_seconds(row["created_at"]) if row is not None else now
        return to_seconds(created + self._max_age)

    def claim_turn(
        self,
        session_id: str,
        loaded: Session | None,
        key: str,
        now: datetime,
        until: datetime,
        client_message_id: str | None = None,
    ) -> Claim:
        with self._write() as db:
            row = live_session_row(db, session_id, now)
            if loaded is None:
                if row is not None:
                    raise ClaimConflict(None)
                # A fresh id can only collide with an expired leftover: clear it first.
                db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
                db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                db.execute(
                    "INSERT INTO sessions (id, created_at, updated_at, expires_at, turn_count, ends_at) "
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    (session_id, to_seconds(now), to_seconds(now), to_seconds(now), self._ends_at(None, now)),
                )
                row = live_session_row(db, session_id, now - timedelta(seconds=1))
            elif row is None:
                raise ClaimConflict(None)
            elif row["version"] != loaded.version:
                raise ClaimConflict(session_from_row(db, row, self._tail_chars))
            assert row is not None
            window_start = to_seconds(now) - CLAIMS_KEPT_SECONDS
            claims = [c for c in json.loads(row["claims"]) if c > window_start] + [to_seconds(now)]
            db.execute(
                "UPDATE sessions SET pending_key = ?, pending_until = ?, pending_message = ?, claims = ?, "
                "updated_at = ?, expires_at = ?, version = version + 1 WHERE id = ?",
                (
                    key,
                    to_seconds(until),
                    text_hash(client_message_id) if client_message_id else None,
                    json.dumps(claims[-1000:]),
                    to_seconds(now),
                    min(to_seconds(now + self._ttl), self._ends_at(row, now)),
                    session_id,
                ),
            )
            claimed_row = db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone()
            claimed = session_from_row(db, claimed_row, self._tail_chars)
        return Claim(session_id, key, claimed.version, claimed)

    def release_turn(self, claim: Claim, now: datetime) -> None:
        try:
            with self._write() as db:
                # A new conversation whose first turn failed: nothing of it is kept.
                db.execute(
                    "DELETE FROM sessions WHERE id = ? AND pending_key = ? AND turn_count = 0",
                    (claim.session_id, claim.key),
                )
                db.execute(
                    "UPDATE sessions SET pending_key = NULL, pending_until = NULL, version = version + 1 "
                    "WHERE id = ? AND pending_key = ?",
                    (claim.session_id, claim.key),
                )
        except StoreUnavailable:
            pass  # best effort: the claim lapses on its own

    def append_turn(self, claim: Claim, draft: TurnDraft, now: datetime) -> Stored:
        with self._write() as db:
            row = live_session_row(db, claim.session_id, now)
            if row is None:
                raise SessionNotFound("This conversation was deleted or has expired; the reply was not kept.")
            if draft.client_message_id is not None:
                existing = db.execute(
                    f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? AND client_message_id = ?",
                    (claim.session_id, draft.client_message_id),
                ).fetchone()
                if existing is not None:
                    db.execute(
                        "UPDATE sessions SET pending_key = NULL, pending_until = NULL, version = version + 1 "
                        "WHERE id = ? AND pending_key = ?",
                        (claim.session_id, draft.key),
                    )
                    return Stored(turn_from_row(existing), replayed=True)
                if session_claim_state(row).superseded(draft.key, draft.client_message_id):
                    raise TurnSuperseded()
            turn = Turn.from_draft(draft, row["turn_count"] + 1, now)
            db.execute(
                f"INSERT INTO turns (session_id, {TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    claim.session_id,
                    turn.seq,
                    turn.client_message_id,
                    turn.user_text,
                    turn.reply_text,
                    to_seconds(turn.created_at),
                    turn.finish_reason,
                    turn.source,
                    int(turn.emergency),
                    int(turn.in_context),
                    turn.key,
                ),
            )
            mine = row["pending_key"] in (draft.key, None)
            db.execute(
                "UPDATE sessions SET turn_count = ?, updated_at = ?, expires_at = ?, version = version + 1, "
                "pending_key = CASE WHEN ? THEN NULL ELSE pending_key END, "
                "pending_until = CASE WHEN ? THEN NULL ELSE pending_until END WHERE id = ?",
                (
                    turn.seq,
                    to_seconds(now),
                    min(to_seconds(now + self._ttl), self._ends_at(row, now)),
                    mine,
                    mine,
                    claim.session_id,
                ),
            )
            return Stored(turn)
