"""Request counts, the daily token count and per-client turn leases in the local SQLite file.

One file serialises its writers, so the token count needs no shards: one row per day.
A rate-limit key keeps one row, its count restarting when a new window starts.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime

from ..errors import StoreUnavailable

COUNTER_SCHEMA = """
CREATE TABLE IF NOT EXISTS token_usage (
    day TEXT PRIMARY KEY,
    tokens INTEGER NOT NULL,
    spent_at REAL
);
CREATE TABLE IF NOT EXISTS client_turns (
    client TEXT NOT NULL,
    lease TEXT NOT NULL,
    until REAL NOT NULL,
    PRIMARY KEY (client, lease)
);
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    window_start REAL NOT NULL,
    count INTEGER NOT NULL
);
"""


class SQLiteCounters:
    """The Store's rate-limit, token-budget and lease methods on SQLite (mixed into ``SQLiteStore``)."""

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

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

    def add_tokens(self, day: str, tokens: int, now: datetime) -> None:
        if tokens <= 0:
            return
        try:
            with self._read() as db:
                db.execute(
                    "INSERT INTO token_usage (day, tokens) VALUES (?, ?) "
                    "ON CONFLICT(day) DO UPDATE SET tokens = tokens + excluded.tokens",
                    (day, tokens),
                )
        except StoreUnavailable:
            pass  # as on Firestore: a lost count is absorbed by the budget's margin

    def tokens_used(self, day: str) -> int:
        with self._read() as db:
            row = db.execute("SELECT tokens FROM token_usage WHERE day = ?", (day,)).fetchone()
        return int(row[0]) if row else 0

    def mark_budget_spent(self, day: str, now: datetime) -> bool:
        try:
            with self._write() as db:
                db.execute("INSERT OR IGNORE INTO token_usage (day, tokens) VALUES (?, 0)", (day,))
                changed = db.execute(
                    "UPDATE token_usage SET spent_at = ? WHERE day = ? AND spent_at IS NULL", (now.timestamp(), day)
                ).rowcount
        except StoreUnavailable:
            return False  # as on Firestore: the log line is skipped, the budget still holds
        return bool(changed)

    def acquire_client_slot(self, client: str, lease: str, cap: int, now: datetime, until: datetime) -> bool:
        with self._write() as db:
            db.execute("DELETE FROM client_turns WHERE client = ? AND until <= ?", (client, now.timestamp()))
            (held,) = db.execute("SELECT COUNT(*) FROM client_turns WHERE client = ?", (client,)).fetchone()
            if held >= cap:
                return False
            db.execute(
                "INSERT INTO client_turns (client, lease, until) VALUES (?, ?, ?)", (client, lease, until.timestamp())
            )
        return True

    def release_client_slot(self, client: str, lease: str, now: datetime) -> None:
        try:
            with self._write() as db:
                db.execute("DELETE FROM client_turns WHERE client = ? AND lease = ?", (client, lease))
        except StoreUnavailable:
            pass  # best effort: the lease lapses on its own
