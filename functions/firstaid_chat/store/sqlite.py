"""Conversations in a local SQLite file: the embedded default for local runs.

The same semantics as the Firestore store (see ``store/__init__.py``): a turn claims
its session, stores after the model answered, and a Delete or an expired session
makes the store discard it. Each step is one ``BEGIN IMMEDIATE`` transaction that is
always rolled back when it fails, so a failed write never leaves the connection
inside a transaction.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ..conversation import Claim, Session, Stored, Turn, TurnDraft, text_hash
from ..errors import SessionNotFound, StoreUnavailable, TurnSuperseded
from ..history import recent_tail
from ..settings import Settings
from . import ClaimConflict, tail_chars_for
from .sqlite_counters import COUNTER_SCHEMA, SQLiteCounters

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
CLAIMS_KEPT_SECONDS = 60


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
        key=row["turn_key"],
    )


class SQLiteStore(SQLiteCounters):
    """A Store in one SQLite file, one connection per thread, writes serialised by SQLite."""

    def __init__(
        self, path: Path | str, *, ttl: timedelta, tail_chars: int, max_age: timedelta | None = None
    ) -> None:
        self._path = str(path)
        self._ttl = ttl
        self._max_age = max_age if max_age is not None else max(ttl, timedelta(days=30))
        self._tail_chars = tail_chars
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self._path != ":memory:":
            Path(self._path).parent.mkdir(parents=True, exist_ok=True)
        with self._write() as db:
            for statement in (SCHEMA + COUNTER_SCHEMA).split(";"):
                if statement.strip():
                    db.execute(statement)
            for table, column, declaration in ADDED_COLUMNS:
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    @classmethod
    def from_settings(cls, settings: Settings) -> SQLiteStore:
        return cls(
            settings.sqlite_path,
            ttl=timedelta(hours=settings.session_ttl_hours),
            tail_chars=tail_chars_for(settings),
            max_age=timedelta(days=settings.session_max_age_days),
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

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed at the end and rolled back on any failure (COMMIT's too)."""
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        try:
            yield self._connect()
        except sqlite3.Error as exc:
            raise StoreUnavailable() from exc

    def _live_row(self, db: sqlite3.Connection, session_id: str, now: datetime) -> sqlite3.Row | None:
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

    def _session(self, db: sqlite3.Connection, row: sqlite3.Row) -> Session:
        return Session(
            id=row["id"],
            created_at=_dt(row["created_at"]),
            expires_at=_dt(row["expires_at"]),
            turn_count=row["turn_count"],
            recent=tuple(self._recent(db, row["id"])),
            version=row["version"],
            pending_key=row["pending_key"],
            pending_until=_dt(row["pending_until"]) if row["pending_until"] is not None else None,
            pending_message=row["pending_message"],
            claims=tuple(_dt(c) for c in json.loads(row["claims"])),
            # Older turns are found with one indexed query (find_turn), so none are indexed here.
            indexed_all=row["turn_count"] == 0,
        )

    @staticmethod
    def _session_fields_only(row: sqlite3.Row) -> Session:
        """The session's claim state from its row, without its turns."""
        return Session(
            id=row["id"],
            created_at=_dt(row["created_at"]),
            expires_at=_dt(row["expires_at"]),
            turn_count=row["turn_count"],
            recent=(),
            pending_key=row["pending_key"],
            pending_message=row["pending_message"],
        )

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        with self._read() as db:
            row = self._live_row(db, session_id, now)
            return self._session(db, row) if row is not None else None

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? AND client_message_id = ?",
                (session_id, client_message_id),
            ).fetchone()
        return _turn(row) if row is not None else None

    def _ends_at(self, row: sqlite3.Row | None, now: datetime) -> float:
        if row is not None and row["ends_at"] is not None:
            return float(row["ends_at"])
        created = _dt(row["created_at"]) if row is not None else now
        return _ts(created + self._max_age)

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
            row = self._live_row(db, session_id, now)
            if loaded is None:
                if row is not None:
                    raise ClaimConflict(None)
                # A fresh id can only collide with an expired leftover: clear it first.
                db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
                db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                db.execute(
                    "INSERT INTO sessions (id, created_at, updated_at, expires_at, turn_count, ends_at) "
                    "VALUES (?, ?, ?, ?, 0, ?)",
                    (session_id, _ts(now), _ts(now), _ts(now), self._ends_at(None, now)),
                )
                row = self._live_row(db, session_id, now - timedelta(seconds=1))
            elif row is None:
                raise ClaimConflict(None)
            elif row["version"] != loaded.version:
                raise ClaimConflict(self._session(db, row))
            assert row is not None
            window_start = _ts(now) - CLAIMS_KEPT_SECONDS
            claims = [c for c in json.loads(row["claims"]) if c > window_start] + [_ts(now)]
            db.execute(
                "UPDATE sessions SET pending_key = ?, pending_until = ?, pending_message = ?, claims = ?, "
                "updated_at = ?, expires_at = ?, version = version + 1 WHERE id = ?",
                (
                    key,
                    _ts(until),
                    text_hash(client_message_id) if client_message_id else None,
                    json.dumps(claims[-1000:]),
                    _ts(now),
                    min(_ts(now + self._ttl), self._ends_at(row, now)),
                    session_id,
                ),
            )
            claimed = self._session(db, db.execute("SELECT * FROM sessions WHERE id = ?", (session_id,)).fetchone())
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
            row = self._live_row(db, claim.session_id, now)
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
                    return Stored(_turn(existing), replayed=True)
                if self._session_fields_only(row).superseded(draft.key, draft.client_message_id):
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
                    _ts(turn.created_at),
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
                    _ts(now),
                    min(_ts(now + self._ttl), self._ends_at(row, now)),
                    mine,
                    mine,
                    claim.session_id,
                ),
            )
            return Stored(turn)

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        with self._read() as db:
            if self._live_row(db, session_id, now) is None:
                return None
            rows = db.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? ORDER BY seq", (session_id,)
            ).fetchall()
        return [_turn(r) for r in rows]

    def delete_session(self, session_id: str, now: datetime) -> bool:
        with self._write() as db:
            live = self._live_row(db, session_id, now) is not None
            db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return live

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        start = now.timestamp() // window_seconds * window_seconds
        with self._read() as db:
            (count,) = db.execute(
                "INSERT INTO rate_limits (key, window_start, count) VALUES (?, ?, 1) "
                "ON CONFLICT(key) DO UPDATE SET "
                "count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END, "
                "window_start = excluded.window_start RETURNING count",
                (key, start),
            ).fetchone()
        if count > limit:
            return max(1, int(start + window_seconds - now.timestamp() + 0.999))
        return None

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
