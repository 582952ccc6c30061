"""Conversations in a local SQLite file: the embedded default for local runs.

The same semantics as the Firestore store (see ``store/__init__.py``): a turn claims
its session, stores after the model answered, and a Delete or an expired session
makes the store discard it. Each step is one ``BEGIN IMMEDIATE`` transaction that is
always rolled back when it fails, so a failed write never leaves the connection
inside a transaction.

``SQLiteStore`` owns the connections and transactions and reads, lists and erases
sessions; the turn protocol is in ``sqlite_turns.py``, the session and turn tables and
their rows in ``sqlite_rows.py``, and the rate-limit, token and lease counters (with
their tables) in ``sqlite_counters.py``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from ..conversation import Session, Turn
from ..errors import StoreUnavailable
from ..settings import Settings
from . import tail_chars_for
from .sqlite_counters import COUNTER_SCHEMA, SQLiteCounters
from .sqlite_rows import ADDED_COLUMNS, SCHEMA, TURN_COLUMNS, live_session_row, session_from_row, turn_from_row
from .sqlite_turns import SQLiteTurns

__all__ = ["SQLiteStore"]


class SQLiteStore(SQLiteTurns, SQLiteCounters):
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

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        with self._read() as db:
            row = live_session_row(db, session_id, now)
            return session_from_row(db, row, self._tail_chars) if row is not None else None

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        with self._read() as db:
            row = db.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? AND client_message_id = ?",
                (session_id, client_message_id),
            ).fetchone()
        return turn_from_row(row) if row is not None else None

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        with self._read() as db:
            if live_session_row(db, session_id, now) is None:
                return None
            rows = db.execute(
                f"SELECT {TURN_COLUMNS} FROM turns WHERE session_id = ? ORDER BY seq", (session_id,)
            ).fetchall()
        return [turn_from_row(r) for r in rows]

    def delete_session(self, session_id: str, now: datetime) -> bool:
        with self._write() as db:
            live = live_session_row(db, session_id, now) is not None
            db.execute("DELETE FROM turns WHERE session_id = ?", (session_id,))
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return live

    def close(self) -> None:
        with self._lock:
            for db in self._connections:
                db.close()
            self._connections.clear()
        self._local = threading.local()
