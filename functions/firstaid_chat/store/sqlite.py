"""Conversations in a local SQLite file: the embedded default for local runs."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..conversation import Session, Turn, TurnDraft
from ..errors import SessionNotFound, StoreUnavailable
from ..history import recent_tail
from ..settings import Settings
from . import tail_chars_for

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
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    count INTEGER NOT NULL
);
"""
TURN_COLUMNS = "seq, client_message_id, user_text, reply_text, created_at, finish_reason, source, emergency, in_context"
# Rows fetched to build the recent tail; the byte budget usually stops far earlier.
TAIL_ROWS = 200


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _turn(row: sqlite3.Row) -> Turn:
    return Turn(
        seq=row["seq"],
        client_message_id=row["client_message_id"],
        user_text=row["user_text"],
        reply_text=row["reply_text"],
        created_at=_dt(row["created_at"]),
        finish_reason=row["finish_reason"],
        source=row["source"],
        emergency=bool(row["emergency"]),
        in_context=bool(row["in_context"]),
    )


class SQLiteStore:
    """A Store in one SQLite file, one connection per thread, writes serialised by SQLite."""

    def __init__(self, path: Path | str, *, ttl: timedelta, tail_chars: int) -> None:
        self._path = str(path)
        self._ttl = ttl
        self._tail_chars = tail_chars
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(SCHEMA)

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteStore:
        return cls(
            settings.sqlite_path,
            ttl=timedelta(hours=settings.session_ttl_hours),
            tail_chars=tail_chars_for(settings),
        )

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self._path, timeout=30, isolation_level=None, check_same_thread=False)
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA foreign_keys=ON")
                db.execute("PRAGMA busy_timeout=30000")
            except sqlite3.Error as exc:
                raise StoreUnavailable() from exc
            self._local.db = db
            with self._lock:
                self._connections.append(db)
        return db

    def _live_session(self, db: sqlite3.Connection, session_id: str, now: datetime) -> sqlite3.Row | None:
        row: sqlite3.Row | None = db.execute(
            "SELECT * FROM sessions WHERE id = ? AND expires_at > ?", (session_id, _ts(now))
        ).fetchone()
        return row

    def _recent(self, db: sqlite3.Connection, session_id: str) -> list[Turn]:
        rows = db.execute(
            f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? ORDER BY seq DESC LIMIT ?",
            (session_id, TAIL_ROWS),
        ).fetchall()
        return recent_tail([_turn(r) for r in reversed(rows)], self._tail_chars)

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        try:
            db = self._connect()
            row = self._live_session(db, session_id, now)
            if row is None:
                return None
            recent = self._recent(db, session_id)
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc
        return Session(
            id=session_id,
            created_at=_dt(row["created_at"]),
            expires_at=_dt(row["expires_at"]),
            turn_count=row["turn_count"],
            recent=tuple(recent),
        )

    def append_turn(
        self, session_id: str, draft: TurnDraft, now: datetime, *, create: bool, loaded: Session | None = None
    ) -> Turn:
        # A local re-read inside the write transaction costs next to nothing: ``loaded`` is not needed.
        try:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                turn = self._append(db, session_id, draft, now, create)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return turn
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc

    def _append(self, db: sqlite3.Connection, session_id: str, draft: TurnDraft, now: datetime, create: bool) -> Turn:
        expires = _ts(now + self._ttl)
        row = self._live_session(db, session_id, now)
        if row is None:
            if not create:
                raise SessionNotFound()
            # A fresh id can only collide with an expired leftover: clear it first.
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            db.execute(
                "INSERT INTO sessions (id, created_at, updated_at, expires_at, turn_count) VALUES (?, ?, ?, ?, 0)",
                (session_id, _ts(now), _ts(now), expires),
            )
            count = 0
        else:
            count = row["turn_count"]
            if draft.client_message_id is not None:
                existing = db.execute(
                    f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? AND client_message_id = ?",
                    (session_id, draft.client_message_id),
                ).fetchone()
                if existing is not None:
                    return _turn(existing)
        turn = Turn.from_draft(draft, count + 1, now)
        db.execute(
            f"INSERT INTO turns (session_id, {TURN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session_id,
                turn.seq,
                turn.client_message_id,
                turn.user_text,
                turn.reply_text,
                _ts(turn.created_at),
                turn.finish_reason,
                turn.source,
                int(turn.emergency),
                int(turn.in_context),
            ),
        )
        db.execute(
            "UPDATE sessions SET turn_count = ?, updated_at = ?, expires_at = ? WHERE id = ?",
            (turn.seq, _ts(now), expires, session_id),
        )
        return turn

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        try:
            db = self._connect()
            if self._live_session(db, session_id, now) is None:
                return None
            rows = db.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? ORDER BY seq", (session_id,)
            ).fetchall()
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc
        return [_turn(r) for r in rows]

    def delete_session(self, session_id: str, now: datetime) -> bool:
        try:
            db = self._connect()
            db.execute("BEGIN IMMEDIATE")
            live = self._live_session(db, session_id, now) is not None
            db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc
        return live

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        start = now.timestamp() // window_seconds * window_seconds
        try:
            db = self._connect()
            (count,) = db.execute(
                "INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT(key) DO UPDATE SET "
                "count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, "
                "window_start = excluded.window_start RETURNING count",
                (key, start),
            ).fetchone()
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc
        if count > limit:
            return max(1, int(start + window_seconds - now.timestamp() + 0.999))
        return None

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
