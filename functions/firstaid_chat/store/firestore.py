"""Conversations in Firestore: a session document with an inline tail, one document per turn.

Data model (collection names from ``FIRESTORE_COLLECTION``, default ``sessions``)::

    sessions/{session_id}           created_at, updated_at, expires_at, ends_at, turn_count,
                                    recent: [turn, ...]   (newest turns, bounded in characters)
                                    refs: [{s, k, c, h}]  (newest turns' seq, turn key, hashes)
                                    claims: [time, ...]   (turn starts in the last minute)
                                    pending: {key, until} (the turn being answered, if any)
    sessions/{session_id}/turns/{id} seq, key, user_text, reply_text, created_at, client_message_id,
                                    finish_reason, source, emergency, in_context, expires_at
    ratelimits/{key}:{window}       count, expires_at

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
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import firestore

from ..conversation import INDEXED_TURNS, Claim, Session, Stored, Turn, TurnDraft, TurnRef, ref_for_turn, text_hash
from ..errors import SessionNotFound, StoreUnavailable, TurnSuperseded
from ..history import recent_tail
from ..settings import Settings
from . import ClaimConflict, tail_chars_for
from .firestore_counters import FirestoreCounters

log = logging.getLogger(__name__)

# How long storing a turn may keep retrying against concurrent writers.
COMMIT_DEADLINE_SECONDS = 20.0
DELETE_BATCH = 400
# Turn starts older than this are dropped from the session's ``claims`` (the rate-limit window).
CLAIMS_KEPT_SECONDS = 60
_TRANSIENT = api_retry.if_exception_type(
    api_exceptions.ServiceUnavailable,
    api_exceptions.InternalServerError,
    api_exceptions.DeadlineExceeded,
    api_exceptions.ResourceExhausted,
)
# What a write whose precondition no longer holds fails with (including a retried write
# whose first attempt had landed).
_CONFLICT = (
    api_exceptions.FailedPrecondition,
    api_exceptions.Conflict,
    api_exceptions.Aborted,
    api_exceptions.NotFound,
)


def _turn_fields(turn: Turn) -> dict[str, Any]:
    return {
        "seq": turn.seq,
        "key": turn.key,
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
        key=str(data.get("key", "")),
        user_text=str(data["user_text"]),
        reply_text=str(data["reply_text"]),
        created_at=data["created_at"],
        client_message_id=data.get("client_message_id"),
        finish_reason=str(data.get("finish_reason", "STOP")),
        source=str(data.get("source", "gemini")),
        emergency=bool(data.get("emergency", False)),
        in_context=bool(data.get("in_context", True)),
    )


def _ref_fields(ref: TurnRef) -> dict[str, Any]:
    return {"s": ref.seq, "k": ref.key, "c": ref.client_message_id_hash, "h": ref.message_hash}


def turn_document_id(seq: int, client_message_id: str | None) -> str:
    """A turn document's id: from its client message id when it has one (a duplicate create fails), else its number."""
    if client_message_id:
        return f"m-{text_hash(client_message_id)}"
    return f"{seq:08d}"


class FirestoreStore(FirestoreCounters):
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
        self._limits = client.collection("ratelimits")
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

    @staticmethod
    def _is_live(snapshot: Any, now: datetime) -> bool:
        return bool(snapshot.exists) and snapshot.get("expires_at") > now

    def _live_session(self, session_id: str, now: datetime) -> Session | None:
        snapshot = self._snapshot(session_id)
        return self._session(session_id, snapshot) if self._is_live(snapshot, now) else None

    def load_session(self, session_id: str, now: datetime) -> Session | None:
        with _store_errors():
            return self._live_session(session_id, now)

    @staticmethod
    def _session(session_id: str, snapshot: Any) -> Session:
        data = snapshot.to_dict()
        pending = data.get("pending") or {}
        refs = tuple(TurnRef(int(r["s"]), str(r["k"]), r.get("c"), str(r["h"])) for r in data.get("refs", []))
        turn_count = int(data["turn_count"])
        return Session(
            id=session_id,
            created_at=data["created_at"],
            expires_at=data["expires_at"],
            turn_count=turn_count,
            recent=tuple(_turn(t) for t in data.get("recent", [])),
            version=snapshot.update_time,
            pending_key=pending.get("key"),
            pending_until=pending.get("until"),
            pending_message=pending.get("message"),
            claims=tuple(data.get("claims", [])),
            refs=refs,
            indexed_all=len(refs) >= turn_count,
        )

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        ref = self._sessions.document(session_id).collection("turns").document(turn_document_id(0, client_message_id))
        with _store_errors():
            snapshot = ref.get(retry=self._retry, timeout=self._timeout)
        return _turn(snapshot.to_dict()) if snapshot.exists else None

    # Claiming

    def _ends_at(self, session: Session | None, now: datetime) -> datetime:
        return (session.created_at if session else now) + self._max_age

    def claim_turn(
        self,
        session_id: str,
        loaded: Session | None,
        key: str,
        now: datetime,
        until: datetime,
        client_message_id: str | None = None,
    ) -> Claim:
        ref = self._sessions.document(session_id)
        ends_at = self._ends_at(loaded, now)
        pending_message = text_hash(client_message_id) if client_message_id else None
        window_start = now - timedelta(seconds=CLAIMS_KEPT_SECONDS)
        claims = [c for c in (loaded.claims if loaded else ()) if c > window_start] + [now]
        fields: dict[str, Any] = {
            "updated_at": now,
            "expires_at": min(now + self._ttl, ends_at),
            "claims": claims[-1000:],
            "pending": {"key": key, "until": until, "message": pending_message},
        }
        batch = self._client.batch()
        if loaded is None:
            fields.update(created_at=now, ends_at=ends_at, turn_count=0, recent=[], refs=[])
            batch.create(ref, fields)
        else:
            batch.update(ref, fields, option=self._client.write_option(last_update_time=loaded.version))
        with _store_errors():
            try:
                result = batch.commit(retry=self._retry, timeout=self._timeout)
            except (*_CONFLICT, api_exceptions.AlreadyExists):
                # Either someone else wrote, or this very write landed and only its response was lost.
                snapshot = self._snapshot(session_id)
                current = self._session(session_id, snapshot) if self._is_live(snapshot, now) else None
                if current is not None and current.pending_key == key:
                    return Claim(session_id, key, current.version, current)
                raise ClaimConflict(current if loaded is not None else None) from None
        version = result[0].update_time
        base = loaded or Session(session_id, created_at=now, expires_at=fields["expires_at"], turn_count=0, recent=())
        claimed = Session(
            id=session_id,
            created_at=base.created_at,
            expires_at=fields["expires_at"],
            turn_count=base.turn_count,
            recent=base.recent,
            version=version,
            pending_key=key,
            pending_until=until,
            pending_message=pending_message,
            claims=tuple(claims),
            refs=base.refs,
            indexed_all=base.indexed_all if loaded else True,
        )
        return Claim(session_id, key, version, claimed)

    def release_turn(self, claim: Claim, now: datetime) -> None:
        ref = self._sessions.document(claim.session_id)
        option = self._client.write_option(last_update_time=claim.version)
        try:
            if claim.session.turn_count == 0:
                # A new conversation whose first turn failed: nothing of it is kept.
                ref.delete(option=option, timeout=self._timeout)
            else:
                ref.update({"pending": firestore.DELETE_FIELD}, option=option, timeout=self._timeout)
        except Exception:  # noqa: BLE001 - best effort: the claim lapses on its own
            log.info("turn claim not released; it lapses on its own")

    # Storing

    def append_turn(self, claim: Claim, draft: TurnDraft, now: datetime) -> Stored:
        deadline = time.monotonic() + COMMIT_DEADLINE_SECONDS
        current = claim.session
        attempt = 0
        with _store_errors():
            while True:
                try:
                    return Stored(self._commit_turn(claim.session_id, current, draft, now))
                except (*_CONFLICT, api_exceptions.AlreadyExists):
                    pass
                current_or_none = self._live_session(claim.session_id, now)
                if current_or_none is None:
                    raise SessionNotFound("This conversation was deleted or has expired; the reply was not kept.")
                current = current_or_none
                settled = self._settled(claim.session_id, current, draft, now)
                if settled is not None:
                    return settled
                if current.superseded(draft.key, draft.client_message_id):
                    raise TurnSuperseded()
                if time.monotonic() > deadline:
                    raise StoreUnavailable()
                attempt += 1
                time.sleep(random.uniform(0, min(0.5, 0.01 * 2**attempt)))

    def _settled(self, session_id: str, current: Session, draft: TurnDraft, now: datetime) -> Stored | None:
        """The stored result when this turn (or its client message id) is already in ``current``."""
        if current.holds_key(draft.key):
            # This turn's own earlier attempt landed; its response was lost.
            mine = next((t for t in current.recent if t.key == draft.key), None)
            if mine is None:
                seq = next(r.seq for r in current.refs if r.key == draft.key)
                mine = Turn.from_draft(draft, seq, now)
            return Stored(mine)
        cmid = draft.client_message_id
        if cmid is not None and (current.find(cmid) or current.ref_for(cmid) or not current.indexed_all):
            other = current.find(cmid) or self.find_turn(session_id, cmid, now)
            if other is not None:
                if current.pending_key == draft.key:
                    self.release_turn(Claim(session_id, draft.key, current.version, current), now)
                return Stored(other, replayed=True)
        return None

    def _commit_turn(self, session_id: str, current: Session, draft: TurnDraft, now: datetime) -> Turn:
        ref = self._sessions.document(session_id)
        turn = Turn.from_draft(draft, current.turn_count + 1, now)
        ends_at = self._ends_at(current, now)
        refs = [*current.refs, ref_for_turn(turn)][-INDEXED_TURNS:]
        session_fields: dict[str, Any] = {
            "turn_count": turn.seq,
            "updated_at": now,
            "expires_at": min(now + self._ttl, ends_at),
            "recent": [_turn_fields(t) for t in recent_tail([*current.recent, turn], self._tail_chars)],
            "refs": [_ref_fields(r) for r in refs],
        }
        if current.pending_key in (draft.key, None):
            session_fields["pending"] = firestore.DELETE_FIELD
        batch = self._client.batch()
        batch.create(
            ref.collection("turns").document(turn_document_id(turn.seq, turn.client_message_id)),
            {**_turn_fields(turn), "expires_at": ends_at},
        )
        batch.update(ref, session_fields, option=self._client.write_option(last_update_time=current.version))
        batch.commit(retry=self._retry, timeout=self._timeout)
        return turn

    # Transcripts, erasure, limits

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
            # for every reader, and a turn in progress fails its precondition and is discarded.
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
        # One write and no read: the commit returns the counter's new value. Never retried: an
        # increment whose response was lost would count twice. A failed count lets the request
        # through (the store calls that follow report a real outage).
        try:
            result = batch.commit(retry=None, timeout=self._timeout)[0]
        except api_exceptions.GoogleAPIError:
            log.warning("rate-limit count failed; request let through")
            return None
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
