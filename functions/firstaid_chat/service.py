"""The chat service: one turn of a conversation, independent of HTTP.

A turn loads the session (one store read), claims it (one write: one turn at a
time per session, and the per-session rate limit counts every turn started),
asks the model outside any store transaction, streams the reply out as it comes,
then stores the finished exchange atomically, or releases the claim when the turn
fails. Nothing about a conversation is kept in memory between requests.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .budget import TokenBudget
from .conversation import Claim, Session, Stored, Turn, TurnDraft, new_session_id, new_turn_key, text_hash
from .errors import (
    ClientMessageIdReused,
    SessionNotFound,
    TurnInProgress,
    TurnSuperseded,
)
from .history import history_window
from .limits import TURN_IN_PROGRESS_RETRY_SECONDS, TurnLimits
from .model import BLOCKED_FINISH_REASONS, Model, Prompt, Usage
from .replies import Reply, ReplyWriter
from .safety.detect import assess
from .safety.lead import emergency_lead
from .settings import Settings
from .store import ClaimConflict, Store

log = logging.getLogger(__name__)

# How often a turn re-checks and retries its claim when the session changed under it.
CLAIM_ATTEMPTS = 5


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat request."""

    message: str
    session_id: str | None = None
    client_message_id: str | None = None


@dataclass(frozen=True)
class Started:
    """The turn was accepted: its session (new or existing) is known before any text."""

    session_id: str


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    payload: dict[str, Any]


Event = Started | Delta | Done


def _utcnow() -> datetime:
    return datetime.now(UTC)


def reply_language(user_text: str) -> str:
    """The code of the language a reply to `user_text` leads in (`safety.detect.assess`), e.g. "es"."""
    return assess(user_text).language


def turn_payload(
    session_id: str, turn: Turn, emergency_number: str, *, replayed: bool, language: str
) -> dict[str, Any]:
    """The JSON answer to a chat request (also the ``done`` event of a stream).

    ``language`` is the code the emergency lead and notes were written in
    (`safety.detect.assess`), so a page can show its own emergency banner in it.
    """
    return {
        "session_id": session_id,
        "reply": turn.reply_text,
        "finish_reason": turn.finish_reason,
        "source": turn.source,
        "emergency": turn.emergency,
        "emergency_number": emergency_number,
        "language": language,
        "turn": turn.seq,
        "client_message_id": turn.client_message_id,
        "created_at": turn.created_at.isoformat(),
        "replayed": replayed,
    }


class ChatService:
    """Runs turns and reads or erases conversations."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        model: Model,
        *,
        fallback: Model | None = None,
        clock: Callable[[], datetime] = _utcnow,
        monotonic: Callable[[], float] = time.monotonic,
        budget: TokenBudget | None = None,
        offline: Model | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # The daily token budget, and who answers once it is spent (the offline guide).
        self.budget = budget
        self.offline = offline or fallback
        self._clock = clock
        self._monotonic = monotonic
        self.replies = ReplyWriter(
            model,
            emergency_number=settings.emergency_number,
            clock=clock,
            fallback=fallback,
            offline=self.offline,
            budget=budget,
        )
        self.limits = TurnLimits(settings, store, clock)

    def turn(self, request: ChatRequest, *, client: str, started: float | None = None) -> Iterator[Event]:
        """Run one turn: ``Started``, then the reply's text as it comes, then the stored result.

        An unknown session, a turn already in progress on it (``TurnInProgress``), a
        reused client message id or a rate limit is raised before ``Started``; a model
        that fails before its first word is raised before the first ``Delta``; so the
        HTTP layer can still answer those with a status code. When the consumer goes
        away mid-stream, the reply is still finished and stored. When the session is
        deleted during the turn, the reply is discarded (``SessionNotFound``).
        """
        started = self._monotonic() if started is None else started
        # The model must finish early enough to leave time for storing the turn.
        timeout = self.settings.request_timeout_seconds
        deadline = started + timeout - min(self.settings.store_timeout_seconds, timeout / 4)
        session = self._load(request.session_id) if request.session_id else None
        claim: Claim | Turn | None = self._replay(session, request)
        lease = None
        if claim is None:
            # The per-client limits come first: a refused request writes nothing else.
            self.limits.check_client(client)
            lease = self.limits.take_slot(client)
            try:
                claim = self._claim(session, request)
            except BaseException:
                self.limits.give_back(client, lease)
                raise
        if isinstance(claim, Turn):
            self.limits.give_back(client, lease)
            # A retry of a stored message: its stored reply, and no model call.
            session_id = request.session_id or ""
            yield Started(session_id)
            yield Delta(claim.reply_text)
            number, language = self.settings.emergency_number, reply_language(claim.user_text)
            yield Done(turn_payload(session_id, claim, number, replayed=True, language=language))
            return
        outcome: tuple[Stored, Reply, str] | None = None
        disconnected = False
        try:
            yield Started(claim.session_id)
            answer = self._answer(request, claim, deadline)
            while outcome is None:
                try:
                    event = next(answer)
                except StopIteration as finished:
                    outcome = finished.value
                    break
                if not disconnected:
                    try:
                        yield event
                    except GeneratorExit:
                        # The client left; finish the reply anyway so the conversation is complete.
                        disconnected = True
        finally:
            if outcome is None:
                self.store.release_turn(claim, self._clock())
            self.limits.give_back(client, lease)
        stored, reply, language = outcome
        self._log_turn(stored.turn, reply, started, disconnected)
        if not disconnected:
            number = self.settings.emergency_number
            yield Done(turn_payload(claim.session_id, stored.turn, number, replayed=stored.replayed, language=language))

    def _answer(
        self, request: ChatRequest, claim: Claim, deadline: float
    ) -> Generator[Event, None, tuple[Stored, Reply, str]]:
        """Stream the model's reply for a claimed turn, then store it.

        Returns what was stored, the reply, and the code of the language it was answered in.
        """
        session = claim.session
        # Deterministic and in the person's language, before any model output, in both modes.
        assessment = assess(request.message)
        emergency = assessment.emergency
        history = history_window(session.recent, self.settings.history_budget_chars)
        reply = Reply()
        chunks = self.replies.chunks(Prompt(request.message, history, deadline), reply, assessment.language)
        lead = emergency_lead(
            assessment,
            self.settings.emergency_number,
            crisis_line=self.settings.crisis_line,
            poison_centre=self.settings.poison_centre,
        )
        for text in self.replies.texts(chunks, reply, lead, assessment.language):
            reply.parts.append(text)
            yield Delta(text)
        draft = TurnDraft(
            user_text=request.message,
            reply_text=reply.text,
            client_message_id=request.client_message_id,
            finish_reason=reply.finish_reason,
            source=reply.source,
            emergency=emergency,
            in_context=not (reply.prompt_blocked or reply.finish_reason in BLOCKED_FINISH_REASONS),
            key=claim.key,
        )
        stored = self.store.append_turn(claim, draft, self._clock())
        if stored.replayed:
            # A retry of this message took over and stored its own reply first; this one's
            # streamed text is not what was kept, so it must not end as if it were.
            raise TurnSuperseded()
        return stored, reply, assessment.language

    def _replay(self, session: Session | None, request: ChatRequest) -> Turn | None:
        """The stored turn this request retries, if any; ``ClientMessageIdReused`` if its text differs."""
        cmid = request.client_message_id
        if session is None or cmid is None:
            return None
        turn = session.find(cmid)
        if turn is None:
            ref = session.ref_for(cmid)
            if ref is not None and ref.message_hash != text_hash(request.message):
                raise ClientMessageIdReused()
            if ref is not None or not session.indexed_all:
                # Older than the inline tail: one direct read, only for late retries.
                turn = self.store.find_turn(session.id, cmid, self._clock())
        if turn is not None and turn.user_text != request.message:
            raise ClientMessageIdReused()
        return turn

    def _claim(self, session: Session | None, request: ChatRequest) -> Claim | Turn:
        """Claim the session for this turn (creating it for a first turn), after the limits allow it.

        Raises ``TurnInProgress`` while another turn of the session is being answered,
        ``RateLimited`` over a limit. When the session changed since it was loaded, the
        checks run again on its new state; if that state holds this very message (a
        concurrent retry stored it), that stored turn is returned instead of a claim.
        """
        key = new_turn_key()
        for _ in range(CLAIM_ATTEMPTS):
            now = self._clock()
            if session is not None:
                if session.turn_in_progress(now, request.client_message_id):
                    raise TurnInProgress(retry_after=TURN_IN_PROGRESS_RETRY_SECONDS)
                self.limits.check_session(session, now)
            until = now + timedelta(seconds=self.settings.request_timeout_seconds)
            session_id = session.id if session is not None else new_session_id()
            try:
                return self.store.claim_turn(session_id, session, key, now, until, request.client_message_id)
            except ClaimConflict as conflict:
                if session is not None and conflict.session is None:
                    raise SessionNotFound() from None
                session = conflict.session
                replay = self._replay(session, request)
                if replay is not None:
                    return replay
        # Other turns kept changing the session under this one: it is busy, so resend later.
        raise TurnInProgress(retry_after=TURN_IN_PROGRESS_RETRY_SECONDS)

    def _load(self, session_id: str) -> Session:
        session = self.store.load_session(session_id, self._clock())
        if session is None:
            raise SessionNotFound()
        return session

    def _log_turn(self, turn: Turn, reply: Reply, started: float, disconnected: bool) -> None:
        usage = reply.usage or Usage()
        log.info(
            "turn stored",
            extra={
                "turn": turn.seq,
                "source": turn.source,
                "finish_reason": turn.finish_reason,
                "emergency": turn.emergency,
                "latency_ms": round((self._monotonic() - started) * 1000, 1),
                "prompt_tokens": usage.prompt_tokens,
                "output_tokens": usage.output_tokens,
                "total_tokens": usage.total_tokens,
                "client_disconnected": disconnected,
            },
        )

    def transcript(self, session_id: str) -> list[Turn]:
        turns = self.store.list_turns(session_id, self._clock())
        if turns is None:
            raise SessionNotFound()
        return turns

    def erase(self, session_id: str) -> None:
        if not self.store.delete_session(session_id, self._clock()):
            raise SessionNotFound()
