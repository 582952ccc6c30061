"""How sessions and turns map to Firestore documents and back (the data model is in ``firestore.py``).

Plain functions over fields and snapshots, no I/O: a turn is one map of fields (in its
own document and in the session's ``recent`` tail), a turn's index entry in ``refs`` a
short map ``{s, k, c, h}``, and a session is read back from its document's snapshot.
``store_errors`` turns any failure to reach Firestore into ``StoreUnavailable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from google.api_core import exceptions as api_exceptions

from ..conversation import Session, Turn, TurnRef, text_hash
from ..errors import StoreUnavailable


def turn_fields(turn: Turn) -> dict[str, Any]:
    """A turn's fields as stored in its document and in the session's ``recent`` tail."""
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


def turn_from_fields(data: dict[str, Any]) -> Turn:
    """The turn a map of ``turn_fields`` describes (fields added after the first release get defaults)."""
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


def ref_fields(ref: TurnRef) -> dict[str, Any]:
    """A turn's entry in the session's ``refs`` index: seq, turn key, client message id hash, message hash."""
    return {"s": ref.seq, "k": ref.key, "c": ref.client_message_id_hash, "h": ref.message_hash}


def turn_document_id(seq: int, client_message_id: str | None) -> str:
    """A turn document's id: from its client message id when it has one (a duplicate create fails), else its number."""
    if client_message_id:
        return f"m-{text_hash(client_message_id)}"
    return f"{seq:08d}"


def is_live(snapshot: Any, now: datetime) -> bool:
    """Whether a session document's snapshot exists and has not expired at ``now``."""
    return bool(snapshot.exists) and snapshot.get("expires_at") > now


def session_from_snapshot(session_id: str, snapshot: Any) -> Session:
    """The session an existing session document holds; its version is the document's update time."""
    data = snapshot.to_dict()
    pending = data.get("pending") or {}
    refs = tuple(TurnRef(int(r["s"]), str(r["k"]), r.get("c"), str(r["h"])) for r in data.get("refs", []))
    turn_count = int(data["turn_count"])
    return Session(
        id=session_id,
        created_at=data["created_at"],
        expires_at=data["expires_at"],
        turn_count=turn_count,
        recent=tuple(turn_from_fields(t) for t in data.get("recent", [])),
        version=snapshot.update_time,
        pending_key=pending.get("key"),
        pending_until=pending.get("until"),
        pending_message=pending.get("message"),
        claims=tuple(data.get("claims", [])),
        refs=refs,
        indexed_all=len(refs) >= turn_count,
    )


@contextmanager
def store_errors() -> Iterator[None]:
    """Turn any failure to reach Firestore into StoreUnavailable (nothing was stored)."""
    try:
        yield
    except api_exceptions.GoogleAPIError as exc:
        raise StoreUnavailable() from exc
