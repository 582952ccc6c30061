"""What a conversation is made of: sessions and their turns."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

SESSION_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
CLIENT_MESSAGE_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")


def new_session_id() -> str:
    """A fresh, unguessable, URL-safe session id (192 random bits)."""
    return secrets.token_urlsafe(24)


def is_session_id(value: str) -> bool:
    return bool(SESSION_ID_PATTERN.match(value))


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
        )


@dataclass(frozen=True)
class Session:
    """A conversation as loaded for one turn: its counters and its most recent turns."""

    id: str
    created_at: datetime
    expires_at: datetime
    turn_count: int
    recent: tuple[Turn, ...]
    # The store's marker of the state that was read (Firestore: the document's update
    # time); appending with it as a precondition needs no second read.
    version: Any = field(default=None, compare=False)

    def find(self, client_message_id: str | None) -> Turn | None:
        """The recent turn stored for this client message id, if any."""
        if client_message_id is None:
            return None
        return next((t for t in self.recent if t.client_message_id == client_message_id), None)
