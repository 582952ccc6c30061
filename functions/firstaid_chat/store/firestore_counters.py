"""Firestore documents shared by every instance: request counts, the daily token count, turn leases.

Data model::

    ratelimits/{hash(key)}:{window}         count, expires_at      (one per rate-limit key and window)
    token_budget/{day}                      spent_at, expires_at   (created once, when the day's budget runs out)
    token_budget/{day}/token_shards/{n}     tokens, expires_at     (n in 0..TOKEN_SHARDS-1)
    client_turns/{hash(client)}             leases: {lease: until}, expires_at

A Firestore document sustains about one write a second, and every Gemini turn
adds its tokens, so the day's count is spread over ``TOKEN_SHARDS`` documents,
one picked at random per turn: 16 shards sustain about 16 turns a second, above
what the deployment's 48 slots can start. The total is one aggregation query
(``sum``) over the day's shards, billed as one document read however many shards
there are, and the service reads it at most every few seconds per instance (see
``budget.py``).

A rate-limit count is one increment of the window's document, whose commit returns
the new value: one write and no read per request.

A client's turns in progress are leases in one document: acquiring reads it and
writes it back on the precondition that it did not change; releasing deletes the
lease's field (one write, no read). A lease left by a crashed instance lapses at
its ``until``.
"""

from __future__ import annotations

import hashlib
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import firestore

from ..errors import StoreUnavailable

log = logging.getLogger(__name__)

TOKEN_SHARDS = 16
# How long the day's count and its marker are kept after the day (deleted by the TTL policy).
COUNTER_KEPT = timedelta(days=2)
LEASE_ATTEMPTS = 5
_CONFLICT = (api_exceptions.FailedPrecondition, api_exceptions.Conflict, api_exceptions.AlreadyExists)


def client_document_id(client: str) -> str:
    return hashlib.sha256(client.encode()).hexdigest()[:32]


class FirestoreCounters:
    """The Store's rate-limit, token-budget and lease methods on Firestore (mixed into ``FirestoreStore``)."""

    _client: firestore.Client
    _timeout: float
    _retry: Any

    def hit_rate_limit(self, key: str, limit: int, window_seconds: int, now: datetime) -> int | None:
        window = int(now.timestamp() // window_seconds)
        doc_id = f"{hashlib.sha256(key.encode()).hexdigest()[:32]}:{window}"
        batch = self._client.batch()
        batch.set(
            self._client.collection("ratelimits").document(doc_id),
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

    def _budget_day(self, day: str) -> Any:
        return self._client.collection("token_budget").document(day)

    def add_tokens(self, day: str, tokens: int, now: datetime) -> None:
        if tokens <= 0:
            return
        shard = self._budget_day(day).collection("token_shards").document(str(random.randrange(TOKEN_SHARDS)))
        batch = self._client.batch()
        batch.set(shard, {"tokens": firestore.Increment(tokens), "expires_at": now + COUNTER_KEPT}, merge=True)
        # Never retried: an increment whose response was lost would count twice. A lost count
        # lets those tokens go uncounted, which the budget's margin absorbs.
        try:
            batch.commit(retry=None, timeout=self._timeout)
        except api_exceptions.GoogleAPIError:
            log.warning("token count failed; these tokens are not counted", extra={"tokens": tokens})

    def tokens_used(self, day: str) -> int:
        query = self._budget_day(day).collection("token_shards").sum("tokens")
        try:
            results = query.get(retry=self._retry, timeout=self._timeout)
        except api_exceptions.GoogleAPIError as exc:
            raise StoreUnavailable() from exc
        # One aggregation, one result: the sum (0 when the day has no shard yet).
        return int(results[0][0].value or 0)

    def mark_budget_spent(self, day: str, now: datetime) -> bool:
        try:
            self._budget_day(day).create(
                {"spent_at": now, "expires_at": now + COUNTER_KEPT}, retry=None, timeout=self._timeout
            )
        except api_exceptions.AlreadyExists:
            return False
        except api_exceptions.GoogleAPIError:
            log.warning("token budget marker not written")
            return False
        return True

    def acquire_client_slot(self, client: str, lease: str, cap: int, now: datetime, until: datetime) -> bool:
        ref = self._client.collection("client_turns").document(client_document_id(client))
        try:
            for _ in range(LEASE_ATTEMPTS):
                snapshot = ref.get(retry=self._retry, timeout=self._timeout)
                data = snapshot.to_dict() or {} if snapshot.exists else {}
                live = {k: v for k, v in (data.get("leases") or {}).items() if v > now}
                if lease in live:
                    return True  # this very write landed before its response was lost
                if len(live) >= cap:
                    return False
                fields = {"leases": {**live, lease: until}, "expires_at": max([until, *live.values()])}
                try:
                    if snapshot.exists:
                        option = self._client.write_option(last_update_time=snapshot.update_time)
                        ref.update(fields, option=option, retry=self._retry, timeout=self._timeout)
                    else:
                        ref.create(fields, retry=self._retry, timeout=self._timeout)
                    return True
                except (*_CONFLICT, api_exceptions.NotFound):
                    continue  # another turn of this client changed the leases: count again
        except api_exceptions.GoogleAPIError as exc:
            raise StoreUnavailable() from exc
        raise StoreUnavailable()

    def release_client_slot(self, client: str, lease: str, now: datetime) -> None:
        ref = self._client.collection("client_turns").document(client_document_id(client))
        try:
            # Lease ids are hex digits; back-quoted, one is a single field name.
            ref.update({f"leases.`{lease}`": firestore.DELETE_FIELD}, retry=self._retry, timeout=self._timeout)
        except api_exceptions.GoogleAPIError:
            log.info("client lease not released; it lapses on its own")
