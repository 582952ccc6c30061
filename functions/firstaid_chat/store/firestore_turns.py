"""A turn's claim, commit and release on Firestore: the Store's turn protocol (mixed into ``FirestoreStore``).

A claim is one write to the session document on the precondition that it has not
changed since the turn loaded it (a new session's claim creates the document instead).
Storing is one atomic batch, on the precondition that the session document has not
changed since the claim: create the turn document, update the session's tail, index and
turn count, and clear the claim. When a precondition fails, the session is read again:
this turn's own key there means an earlier attempt landed and only its response was
lost, so nothing is written twice; a turn already stored for the same client message is
returned as a replay; a Delete or expiry discards the turn, and so does a retry of the
same client message that took the claim over; otherwise the commit is tried again, with
jittered backoff, for up to ``COMMIT_DEADLINE_SECONDS``.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import firestore

from ..conversation import INDEXED_TURNS, Claim, Session, Stored, Turn, TurnDraft, ref_for_turn, text_hash
from ..errors import SessionNotFound, StoreUnavailable, TurnSuperseded
from ..history import recent_tail
from . import ClaimConflict
from .firestore_documents import (
    is_live,
    ref_fields,
    session_from_snapshot,
    store_errors,
    turn_document_id,
    turn_fields,
)

log = logging.getLogger(__name__)

# How long storing a turn may keep retrying against concurrent writers.
COMMIT_DEADLINE_SECONDS = 20.0
# Turn starts older than this are dropped from the session's ``claims`` (the rate-limit window).
CLAIMS_KEPT_SECONDS = 60
# What a write whose precondition no longer holds fails with (including a retried write
# whose first attempt had landed).
_CONFLICT = (
    api_exceptions.FailedPrecondition,
    api_exceptions.Conflict,
    api_exceptions.Aborted,
    api_exceptions.NotFound,
)


class FirestoreTurns:
    """The Store's ``claim_turn``, ``append_turn`` and ``release_turn`` on Firestore."""

    _client: firestore.Client
    _sessions: Any
    _timeout: float
    _retry: Any
    _ttl: timedelta
    _max_age: timedelta
    _tail_chars: int

    def _snapshot(self, session_id: str) -> Any:
        raise NotImplementedError

    def _live_session(self, session_id: str, now: datetime) -> Session | None:
        raise NotImplementedError

    def find_turn(self, session_id: str, client_message_id: str, now: datetime) -> Turn | None:
        raise NotImplementedError

    def _ends_at(self, session: Session | None, now: datetime) -> datetime:
        return (session.created_at if session else now) + self._max_age

    # Claiming

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
        claims = ([c for c in (loaded.claims if loaded else ()) if c > window_start] + [now])[-1000:]
        fields: dict[str, Any] = {
            "updated_at": now,
            "expires_at": min(now + self._ttl, ends_at),
            "claims": claims,
            "pending": {"key": key, "until": until, "message": pending_message},
        }
        batch = self._client.batch()
        if loaded is None:
            fields.update(created_at=now, ends_at=ends_at, turn_count=0, recent=[], refs=[])
            batch.create(ref, fields)
        else:
            batch.update(ref, fields, option=self._client.write_option(last_update_time=loaded.version))
        with store_errors():
            try:
                result = batch.commit(retry=self._retry, timeout=self._timeout)
            except (*_CONFLICT, api_exceptions.AlreadyExists):
                # Either someone else wrote, or this very write landed and only its response was lost.
                snapshot = self._snapshot(session_id)
                current = session_from_snapshot(session_id, snapshot) if is_live(snapshot, now) else None
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
                ref.delete(option=option, retry=self._retry, timeout=self._timeout)
            else:
                ref.update({"pending": firestore.DELETE_FIELD}, option=option, retry=self._retry, timeout=self._timeout)
        except Exception:  # noqa: BLE001 - best effort: the claim lapses on its own
            log.info("turn claim not released; it lapses on its own")

    # Storing

    def append_turn(self, claim: Claim, draft: TurnDraft, now: datetime) -> Stored:
        deadline = time.monotonic() + COMMIT_DEADLINE_SECONDS
        current = claim.session
        attempt = 0
        with store_errors():
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
            "recent": [turn_fields(t) for t in recent_tail([*current.recent, turn], self._tail_chars)],
            "refs": [ref_fields(r) for r in refs],
        }
        if current.pending_key in (draft.key, None):
            session_fields["pending"] = firestore.DELETE_FIELD
        batch = self._client.batch()
        batch.create(
            ref.collection("turns").document(turn_document_id(turn.seq, turn.client_message_id)),
            {**turn_fields(turn), "expires_at": ends_at},
        )
        batch.update(ref, session_fields, option=self._client.write_option(last_update_time=current.version))
        batch.commit(retry=self._retry, timeout=self._timeout)
        return turn
