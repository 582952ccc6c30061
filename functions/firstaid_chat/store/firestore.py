"""Conversations in Firestore: a session document with an inline tail, one document per turn.

Data model (collection names from ``FIRESTORE_COLLECTION``, default ``sessions``)::

    sessions/{session_id}                 created_at, updated_at, expires_at, turn_count,
                                          recent: [turn, ...]   (newest turns, bounded in bytes)
    sessions/{session_id}/turns/{seq:08d} seq, user_text, reply_text, created_at, client_message_id,
                                          finish_reason, source, emergency, in_context, expires_at
    ratelimits/{key}:{window}             count, expires_at

A turn costs one document read and one atomic batch of two writes: the session
document is read once (it holds every turn the model needs), the model answers
outside any transaction, then one batch creates the turn document and updates
the session document on the precondition that it has not changed since that
read (a new session's first turn reads nothing: its batch creates the session
document, which fails if the id exists). A concurrent writer makes the
precondition fail; the turn is then re-read and retried, so nothing is lost or
numbered twice. The full history
lives in the ``turns`` subcollection, so a conversation can grow far beyond
the 1 MiB document limit.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import firestore

from ..conversation import Session, Turn, TurnDraft
from ..errors import SessionNotFound, StoreUnavailable
from ..history import recent_tail
from ..settings import Settings
from . import tail_chars_for

# How long a turn may keep retrying its commit against concurrent writers.
COMMIT_DEADLINE_SECONDS = 20.0
DELETE_BATCH = 400
_TRANSIENT = api_retry.if_exception_type(
    api_exceptions.ServiceUnavailable,
    api_exceptions.InternalServerError,
    api_exceptions.DeadlineExceeded,
    api_exceptions.ResourceExhausted,
)
_CONFLICT = (api_exceptions.FailedPrecondition, api_exceptions.Conflict, api_exceptions.Aborted)


def _turn_fields(turn: Turn) -> dict[str, Any]:
    return {
        "seq": turn.seq,
        "user_text": turn.user_text,
        "reply_text": turn.reply_text,
        "created_at": turn.created_at,
        "client_message_id": turn.client_message_id,
        "finish_reason": turn.finish_reason,
        "source": turn.source,
        "emergency": turn.emergency,
        "in_context": turn.in_context,
    }


def _turn(data: dict[str, Any]) -> Turn:
    return Turn(
        seq=int(data["seq"]),
        user_text=str(data["user_text"]),
        reply_text=str(data["reply_text"]),
        created_at=data["created_at"],
        client_message_id=data.get("client_message_id"),
        finish_reason=str(data.get("finish_reason", "STOP")),
        source=str(data.get("source", "gemini")),
        emergency=bool(data.get("emergency", False)),
        in_context=bool(data.get("in_context", True)),
    )


class FirestoreStore:
    """A Store on Cloud Firestore (or its emulator, when FIRESTORE_EMULATOR_HOST is set)."""

    def __init__(
        self, client: firestore.Client, *, collection: str, ttl: timedelta, tail_chars: int, timeout: float = 8.0
    ) -> None:
        self._client = client
        # Each call is retried on transient errors until ``timeout``; an outage then
        # surfaces as StoreUnavailable instead of holding the request until the function's deadline.
        self._timeout = timeout
        self._retry = api_retry.Retry(predicate=_TRANSIENT, initial=0.1, maximum=1.0, multiplier=2.0, timeout=timeout)
        self._sessions = client.collection(collection)
        self._limits = client.collection("ratelimits")
        self._ttl = ttl
        self._tail_chars = tail_chars

    @classmethod
    def from_settings(cls, settings: Settings) -> FirestoreStore:
        client = firestore.Client(project=settings.google_cloud_project, database=settings.firestore_database)
        return cls(
            client,
            collection=settings.firestore_collection,
            ttl=timedelta(hours=settings.session_ttl_hours),
            tail_chars=tail_chars_for(settings),
            timeout=settings.store_timeout_seconds,
        )

    def _snapshot(self, session_id: str) -> Any:
        return self._sessions.document(session_id).get(retry=self._retry, timeout=self._timeout)

    @staticmethod
    def _is_live(snapshot: Any, now: datetime) -> bool:
        return bool(snapshot.exists) and snapshot.get("expires_at") > now

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        with _store_errors():
            snapshot = self._snapshot(session_id)
        if not self._is_live(snapshot, now):
            return None
        return self._session(session_id, snapshot)

    @staticmethod
    def _session(session_id: str, snapshot: Any) -> Session:
        data = snapshot.to_dict()
        return Session(
            id=session_id,
            created_at=data["created_at"],
            expires_at=data["expires_at"],
            turn_count=int(data["turn_count"]),
            recent=tuple(_turn(t) for t in data.get("recent", [])),
            version=snapshot.update_time,
        )

    def append_turn(
        self, session_id: str, draft: TurnDraft, now: datetime, *, create: bool, loaded: Session | None = None
    ) -> Turn:
        deadline = time.monotonic() + COMMIT_DEADLINE_SECONDS
        # First attempt without a read: the session as loaded for this turn (its update time is
        # the precondition), or, for a new session, a create that fails if the id exists.
        current, exists = (loaded, True) if loaded is not None and loaded.version is not None else (None, False)
        attempt = 0
        with _store_errors():
            while True:
                if attempt > 0 or (current is None and not create):
                    current, exists = self._current(session_id, now)
                try:
                    return self._commit_turn(session_id, current, exists, draft, now, create)
                except _CONFLICT:
                    if time.monotonic() > deadline:
                        raise StoreUnavailable() from None
                attempt += 1
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))

    def _current(self, session_id: str, now: datetime) -> tuple[Session | None, bool]:
        """The live session (or None), and whether a document exists at all."""
        snapshot = self._snapshot(session_id)
        if self._is_live(snapshot, now):
            return self._session(session_id, snapshot), True
        return None, bool(snapshot.exists)

    def _commit_turn(
        self, session_id: str, current: Session | None, exists: bool, draft: TurnDraft, now: datetime, create: bool
    ) -> Turn:
        ref = self._sessions.document(session_id)
        batch = self._client.batch()
        if current is not None:
            existing = current.find(draft.client_message_id)
            if existing is not None:
                return existing
            count, recent = current.turn_count, list(current.recent)
        elif create and not exists:
            count, recent = 0, []
        else:
            raise SessionNotFound()
        turn = Turn.from_draft(draft, count + 1, now)
        expires_at = now + self._ttl
        session_fields = {
            "turn_count": turn.seq,
            "updated_at": now,
            "expires_at": expires_at,
            "recent": [_turn_fields(t) for t in recent_tail([*recent, turn], self._tail_chars)],
        }
        batch.create(
            ref.collection("turns").document(f"{turn.seq:08d}"), {**_turn_fields(turn), "expires_at": expires_at}
        )
        if current is None:
            batch.create(ref, {**session_fields, "created_at": now})
        else:
            precondition = self._client.write_option(last_update_time=current.version)
            batch.update(ref, session_fields, option=precondition)
        batch.commit(retry=self._retry, timeout=self._timeout)
        return turn

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        with _store_errors():
            if not self._is_live(self._snapshot(session_id), now):
                return None
            query = self._sessions.document(session_id).collection("turns").order_by("seq")
            return [_turn(doc.to_dict()) for doc in query.stream(retry=self._retry, timeout=self._timeout)]

    def delete_session(self, session_id: str, now: datetime) -> bool:
        ref = self._sessions.document(session_id)
        with _store_errors():
            live = self._is_live(self._snapshot(session_id), now)
            # The session document goes first: from then on the conversation is gone
            # for every reader, and an in-flight turn's precondition fails.
            ref.delete(retry=self._retry, timeout=self._timeout)
            for chunk in _chunks(ref.collection("turns").list_documents(page_size=DELETE_BATCH), DELETE_BATCH):
                batch = self._client.batch()
                for turn_ref in chunk:
                    batch.delete(turn_ref)
                batch.commit(retry=self._retry, timeout=self._timeout)
        return live

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        window = int(now.timestamp() // window_seconds)
        doc_id = f"{hashlib.sha256(key.encode()).hexdigest()[:32]}:{window}"
        batch = self._client.batch()
        batch.set(
            self._limits.document(doc_id),
            {"count": firestore.Increment(1), "expires_at": now + timedelta(seconds=2 * window_seconds)},
            merge=True,
        )
        # One write and no read: the commit returns the counter's new value.
        with _store_errors():
            result = batch.commit(retry=self._retry, timeout=self._timeout)[0]
        count = int(result.transform_results[0].integer_value)
        if count > limit:
            return max(1, int((window + 1) * window_seconds - now.timestamp() + 0.999))
        return None

    def close(self) -> None:
        self._client.close()  # type: ignore[no-untyped-call]


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextmanager
def _store_errors() -> Iterator[None]:
    """Turn any failure to reach Firestore into StoreUnavailable (nothing was stored)."""
    try:
        yield
    except api_exceptions.GoogleAPIError as exc:
        raise StoreUnavailable() from exc
