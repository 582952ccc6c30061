"""Conversations in Firestore: a session document with an inline tail, one document per turn.

Data model (collection names from ``FIRESTORE_COLLECTION``, default ``sessions``)::

    sessions/{session_id}           created_at, updated_at, expires_at, ends_at, turn_count,
                                    recent: [turn, ...]   (newest turns, bounded in characters)
                                    refs: [{s, k, c, h}]  (newest turns' seq, turn key, hashes)
                                    claims: [time, ...]   (turn starts in the last minute)
                                    pending: {key, until} (the turn being answered, if any)
    sessions/{session_id}/turns/{id} seq, key, user_text, reply_text, created_at, client_message_id,
                                    finish_reason, source, emergency, in_context, expires_at

A turn reads the session document once (it holds every turn the model needs), claims
it with one write on the precondition that it has not changed since that read (a new
session's claim creates the document instead, and reads nothing), asks the model outside
any transaction, then writes one atomic batch: create the turn document and update the
session document, on the precondition that it has not changed since the claim.

Every write carries the turn's server-made key; after a lost response, the retry's
precondition fails and the re-read finds that key, so the turn is never written twice.
A turn document's id is derived from its client message id when there is one, so the
same message can never be stored twice either. ``expires_at`` is what the TTL policy
deletes by: on the session it moves with every turn (idle expiry) but never past
``ends_at`` (created_at + SESSION_MAX_AGE_DAYS), and every turn document carries
``ends_at``, so TTL never deletes a turn of a conversation that is still live.

``FirestoreStore`` reads, lists and erases sessions; the turn protocol is in
``firestore_turns.py``, the mapping between sessions, turns and documents in
``firestore_documents.py``, and the rate-limit, token and lease counters (with their
documents) in ``firestore_counters.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import firestore

from ..conversation import Session, Turn
from ..settings import Settings
from . import tail_chars_for
from .firestore_counters import FirestoreCounters
from .firestore_documents import is_live, session_from_snapshot, store_errors, turn_document_id, turn_from_fields
from .firestore_turns import FirestoreTurns

__all__ = ["FirestoreStore"]

DELETE_BATCH = 400
_TRANSIENT = api_retry.if_exception_type(
    api_exceptions.ServiceUnavailable,
    api_exceptions.InternalServerError,
    api_exceptions.DeadlineExceeded,
    api_exceptions.ResourceExhausted,
)


class FirestoreStore(FirestoreTurns, FirestoreCounters):
    """A Store on Cloud Firestore (or its emulator, when FIRESTORE_EMULATOR_HOST is set)."""

    def __init__(
        self,
        client: firestore.Client,
        *,
        collection: str,
        ttl: timedelta,
        tail_chars: int,
        timeout: float = 8.0,
        max_age: timedelta | None = None,
    ) -> None:
        self._client = client
        # Each call is retried on transient errors until ``timeout``; an outage then
        # surfaces as StoreUnavailable instead of holding the request until the function's deadline.
        self._timeout = timeout
        self._retry = api_retry.Retry(predicate=_TRANSIENT, initial=0.1, maximum=1.0, multiplier=2.0, timeout=timeout)
        self._sessions = client.collection(collection)
        self._ttl = ttl
        self._max_age = max_age if max_age is not None else max(ttl, timedelta(days=30))
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
            max_age=timedelta(days=settings.session_max_age_days),
        )

    # Reading

    def _snapshot(self, session_id: str) -> Any:
        return self._sessions.document(session_id).get(retry=self._retry, timeout=self._timeout)

    def _live_session(self, session_id: str, now: datetime) -> Session | None:
        snapshot = self._snapshot(session_id)
        return session_from_snapshot(session_id, snapshot) if is_live(snapshot, now) else None

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        with store_errors():
            return self._live_session(session_id, now)

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        ref = self._sessions.document(session_id).collection("turns").document(turn_document_id(0, client_message_id))
        with store_errors():
            snapshot = ref.get(retry=self._retry, timeout=self._timeout)
        return turn_from_fields(snapshot.to_dict()) if snapshot.exists else None

    # Transcripts, erasure

    def list_turns(self, session_id: str, now: datetime) -> list[Turn] | None:
        with store_errors():
            if not is_live(self._snapshot(session_id), now):
                return None
            query = self._sessions.document(session_id).collection("turns").order_by("seq")
            return [turn_from_fields(doc.to_dict()) for doc in query.stream(retry=self._retry, timeout=self._timeout)]

    def delete_session(self, session_id: str, now: datetime) -> bool:
        ref = self._sessions.document(session_id)
        with store_errors():
            live = is_live(self._snapshot(session_id), now)
            # The session document goes first: from then on the conversation is gone
            # for every reader, and a turn in progress fails its precondition and is discarded.
            ref.delete(retry=self._retry, timeout=self._timeout)
            turns = ref.collection("turns").list_documents(
                page_size=DELETE_BATCH, retry=self._retry, timeout=self._timeout
            )
            for chunk in _chunks(turns, DELETE_BATCH):
                batch = self._client.batch()
                for turn_ref in chunk:
                    batch.delete(turn_ref)
                batch.commit(retry=self._retry, timeout=self._timeout)
        return live

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
