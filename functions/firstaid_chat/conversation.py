"""What a conversation is made of: sessions, their turns, and the claim on the turn in progress."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Firestore reserves document ids of the form __.*__: never a session id.
RESERVED_ID_PATTERN = re.compile(r"^__.*__$")
SESSION_ID_PATTERN = re.compile(r"^(?!__.*__$)[A-Za-z0-9_-]{22,64}$")
CLIENT_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
# How many of the newest turns a session indexes by turn key and client message id.
INDEXED_TURNS = 256


def new_session_id() -> str:
    """A fresh, unguessable, URL-safe session id (192 random bits), never a reserved Firestore id."""
    while True:
        candidate = secrets.token_urlsafe(24)
        if not RESERVED_ID_PATTERN.match(candidate):
            return candidate


def new_turn_key() -> str:
    """A server-made idempotency key for one turn attempt (128 random bits).

    Written with the claim and with the stored turn, so that a retry after a lost
    response can recognise its own write instead of writing the turn again.
    """
    return secrets.token_hex(16)


def is_session_id(value: str) -> bool:
    """Whether ``value`` is a well-formed session id (the shape ``new_session_id`` makes)."""
    return bool(SESSION_ID_PATTERN.match(value))


def text_hash(text: str) -> str:
    """A short stable digest of a message or an id (96 bits, hex), for comparing without storing it twice."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]


@dataclass(frozen=True)
class TurnDraft:
    """A finished exchange that is about to be stored."""

    user_text: str
    reply_text: str
    client_message_id: str | None = None
    finish_reason: str = "STOP"
    source: str = "gemini"
    emergency: bool = False
    # False for exchanges the model must not see again (a blocked prompt would block
    # every later turn of the conversation if it were resent).
    in_context: bool = True
    key: str = ""


@dataclass(frozen=True)
class Turn:
    """One stored exchange: the user's message and the reply, numbered from 1."""

    seq: int
    user_text: str
    reply_text: str
    created_at: datetime
    client_message_id: str | None = None
    finish_reason: str = "STOP"
    source: str = "gemini"
    emergency: bool = False
    in_context: bool = True
    key: str = ""

    @classmethod
    def from_draft(cls, draft: TurnDraft, seq: int, created_at: datetime) -> Turn:
        return cls(
            seq=seq,
            user_text=draft.user_text,
            reply_text=draft.reply_text,
            created_at=created_at,
            client_message_id=draft.client_message_id,
            finish_reason=draft.finish_reason,
            source=draft.source,
            emergency=draft.emergency,
            in_context=draft.in_context,
            key=draft.key,
        )


@dataclass(frozen=True)
class TurnRef:
    """What a session remembers of each of its newest turns without their text.

    ``client_message_id_hash`` and ``message_hash`` are ``text_hash`` digests (or None
    when the turn had no client message id).
    """

    seq: int
    key: str
    client_message_id_hash: str | None
    message_hash: str


@dataclass(frozen=True)
class Session:
    """A conversation as loaded for one turn: its counters, most recent turns and the turn in progress."""

    id: str
    created_at: datetime
    expires_at: datetime
    turn_count: int
    recent: tuple[Turn, ...]
    # The store's marker of the state that was read (Firestore: the document's update
    # time; SQLite: a counter); writing with it as a precondition needs no second read.
    version: Any = field(default=None, compare=False)
    # The turn being answered right now, if any: its key and when its claim lapses.
    pending_key: str | None = None
    pending_until: datetime | None = None
    # ``text_hash`` of the client message id the turn in progress answers, if it has one.
    pending_message: str | None = None
    # When each turn of the last rate-limit window was started (claimed), newest last.
    claims: tuple[datetime, ...] = ()
    # The newest turns (up to INDEXED_TURNS) by key and client message id; ``indexed_all``
    # says whether that covers every turn, so a miss there means "never stored".
    refs: tuple[TurnRef, ...] = ()
    indexed_all: bool = False

    def find(self, client_message_id: str | None) -> Turn | None:
        """The recent turn stored for this client message id, if it is in the inline tail."""
        if client_message_id is None:
            return None
        return next((t for t in self.recent if t.client_message_id == client_message_id), None)

    def ref_for(self, client_message_id: str) -> TurnRef | None:
        """The indexed turn stored for this client message id, if any."""
        wanted = text_hash(client_message_id)
        return next((r for r in self.refs if r.client_message_id_hash == wanted), None)

    def holds_key(self, key: str) -> bool:
        """Whether a turn written with this turn key is among the newest turns."""
        return any(r.key == key for r in self.refs) or any(t.key == key for t in self.recent)

    def turn_in_progress(self, now: datetime, client_message_id: str | None = None) -> bool:
        """Whether another turn holds a live claim on this session.

        A claim for the same client message id does not count: a retry of the message
        being answered takes the claim over (its first attempt is discarded when it ends).
        """
        if self.pending_key is None or self.pending_until is None or self.pending_until <= now:
            return False
        return client_message_id is None or self.pending_message != text_hash(client_message_id)

    def superseded(self, key: str, client_message_id: str | None) -> bool:
        """Whether a retry of the same client message has taken over the claim of turn ``key``."""
        return (
            client_message_id is not None
            and self.pending_key not in (None, key)
            and self.pending_message == text_hash(client_message_id)
        )


def ref_for_turn(turn: Turn) -> TurnRef:
    """The index entry a stored turn leaves in its session."""
    cmid = turn.client_message_id
    return TurnRef(turn.seq, turn.key, text_hash(cmid) if cmid else None, text_hash(turn.user_text))


@dataclass(frozen=True)
class Claim:
    """A session's turn in progress, as written by ``Store.claim_turn``.

    ``version`` is the store's marker of the state the claim wrote; storing the turn
    with it as a precondition detects any change since (a Delete, an expired claim).
    """

    session_id: str
    key: str
    version: Any
    session: Session


@dataclass(frozen=True)
class Stored:
    """The result of storing a turn: the turn, and whether it had been stored before."""

    turn: Turn
    replayed: bool = False
