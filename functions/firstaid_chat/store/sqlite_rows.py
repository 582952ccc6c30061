"""The SQLite store's session and turn tables, and how their rows map to sessions and turns.

Times are stored as UNIX seconds (``REAL``), a session's claim starts (``claims``) as a
JSON list of them. Plain functions over one connection, called inside the store's
read or write transactions (``sqlite.py``).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from ..conversation import Session, Turn
from ..history import recent_tail

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    turn_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    client_message_id TEXT,
    user_text TEXT NOT NULL,
    reply_text TEXT NOT NULL,
    created_at REAL NOT NULL,
    finish_reason TEXT NOT NULL,
    source TEXT NOT NULL,
    emergency INTEGER NOT NULL,
    in_context INTEGER NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS turns_client_message_id
    ON turns (session_id, client_message_id) WHERE client_message_id IS NOT NULL;
"""
# Columns added after the first release; added in place to an existing file.
ADDED_COLUMNS = (
    ("sessions", "ends_at", "REAL"),
    ("sessions", "version", "INTEGER NOT NULL DEFAULT 0"),
    ("sessions", "pending_key", "TEXT"),
    ("sessions", "pending_until", "REAL"),
    ("sessions", "pending_message", "TEXT"),
    ("sessions", "claims", "TEXT NOT NULL DEFAULT '[]'"),
    ("turns", "turn_key", "TEXT NOT NULL DEFAULT ''"),
)
TURN_COLUMNS = (
    "seq, client_message_id, user_text, reply_text, created_at, finish_reason, source, emergency, in_context, turn_key"
)
# Rows fetched to build the recent tail; the character budget usually stops far earlier.
TAIL_ROWS = 200


def to_seconds(moment: datetime) -> float:
    """A time as stored: UNIX seconds."""
    return moment.timestamp()


def from_seconds(value: float) -> datetime:
    """A stored time (UNIX seconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(value, tz=UTC)


def turn_from_row(row: sqlite3.Row) -> Turn:
    """The turn a ``turns`` row selected with ``TURN_COLUMNS`` holds."""
    return Turn(
        seq=row["seq"],
        client_message_id=row["client_message_id"],
        user_text=row["user_text"],
        reply_text=row["reply_text"],
        created_at=from_seconds(row["created_at"]),
        finish_reason=row["finish_reason"],
        source=row["source"],
        emergency=bool(row["emergency"]),
        in_context=bool(row["in_context"]),
        key=row["turn_key"],
    )


def live_session_row(db: sqlite3.Connection, session_id: str, now: datetime) -> sqlite3.Row | None:
    """The ``sessions`` row of a session that has not expired at ``now``, or None."""
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM sessions WHERE id = ? AND expires_at > ?", (session_id, to_seconds(now))
    ).fetchone()
    return row


def recent_turns(db: sqlite3.Connection, session_id: str, tail_chars: int) -> list[Turn]:
    """The session's newest turns, oldest first, within ``tail_chars`` characters (see ``recent_tail``)."""
    rows = db.execute(
        f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
        (session_id, TAIL_ROWS),
    ).fetchall()
    return recent_tail([turn_from_row(r) for r in reversed(rows)], tail_chars)


def session_from_row(db: sqlite3.Connection, row: sqlite3.Row, tail_chars: int) -> Session:
    """The session a ``sessions`` row holds, with its recent turns read through ``db``."""
    return Session(
        id=row["id"],
        created_at=from_seconds(row["created_at"]),
        expires_at=from_seconds(row["expires_at"]),
        turn_count=row["turn_count"],
        recent=tuple(recent_turns(db, row["id"], tail_chars)),
        version=row["version"],
        pending_key=row["pending_key"],
        pending_until=from_seconds(row["pending_until"]) if row["pending_until"] is not None else None,
        pending_message=row["pending_message"],
        claims=tuple(from_seconds(c) for c in json.loads(row["claims"])),
        # Older turns are found with one indexed query (find_turn), so none are indexed here.
        indexed_all=row["turn_count"] == 0,
    )


def session_claim_state(row: sqlite3.Row) -> Session:
    """The session's claim state from its row, without its turns."""
    return Session(
        id=row["id"],
        created_at=from_seconds(row["created_at"]),
        expires_at=from_seconds(row["expires_at"]),
        turn_count=row["turn_count"],
        recent=(),
        pending_key=row["pending_key"],
        pending_message=row["pending_message"],
    )
