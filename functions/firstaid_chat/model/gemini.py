"""Replies from Gemini through the google-genai SDK, with bounded retries and key rotation.

One rule lives here, at the model boundary: when Gemini yields no usable reply
text, whatever the cause (a body the SDK cannot parse, no candidates, only
thought parts, a stream that ends without a finish reason, an exception type
nobody listed), the adapter raises ``ModelNoReply``. It is an
``UpstreamError``, so the service treats it like any other upstream failure:
the offline guide answers when the fallback is on, otherwise the client gets a
clear 502, and nothing empty or unfinished is stored. A reply withheld by a
safety filter, or cut off at ``MAX_TOKENS`` after real text, is a usable reply.
"""

from __future__ import annotations

import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from google import genai
from google.auth import exceptions as google_auth_exceptions
from google.genai import errors as genai_errors
from google.genai import types

from ..api_key import KeySource
from ..errors import ChatError, ModelNoReply, ModelRateLimited, ModelTimeout, ModelUnavailable, UpstreamError
from ..settings import Settings, default_thinking_budget
from . import BLOCKED_FINISH_REASONS, Chunk, Prompt, Usage

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# An attempt started with less time than this left cannot finish a reply.
MIN_ATTEMPT_SECONDS = 1.0
# Retry-After for a 429 that carries no RetryInfo.
DEFAULT_RETRY_AFTER_SECONDS = 10
RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
DURATION = re.compile(r"^(\d+(?:\.\d+)?)s$")  # google.protobuf.Duration in JSON: "53s", "0.250s"


def _transport_errors() -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        found.append(module.TransportError)
    return tuple(found)


TRANSPORT_ERRORS = _transport_errors()


def _is_timeout(exc: BaseException) -> bool:
    return "Timeout" in type(exc).__name__


def _rejects_key(exc: genai_errors.APIError) -> bool:
    if exc.code in (401, 403):
        return True
    return exc.code == 400 and "API_KEY" in str(getattr(exc, "details", "") or "")


def retry_delay(exc: genai_errors.APIError) -> float | None:
    """Seconds the error's ``google.rpc.RetryInfo`` asks us to wait, or None when it names none."""
    details = exc.details.get("error", {}).get("details") if isinstance(exc.details, dict) else None
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict) and detail.get("@type") == RETRY_INFO:
            match = DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


def unusable_reason(produced_text: bool, finish_reason: str | None, blocked: bool) -> str | None:
    """Why a finished stream is not a usable reply, or None when it is one.

    A blocked reply is usable (the service answers it honestly); otherwise the
    stream must have produced text and said how it finished.
    """
    if blocked or finish_reason in BLOCKED_FINISH_REASONS:
        return None
    if not produced_text:
        return "no_text"
    if finish_reason is None:
        return "no_finish_reason"
    return None


def _no_reply(reason: str, **fields: object) -> ModelNoReply:
    # Only the reason and the error's type are logged: an SDK error's text can hold the reply.
    log.warning("gemini gave no usable reply", extra={"reason": reason, **fields})
    return ModelNoReply()


class GeminiModel:
    """A Model backed by Gemini; one SDK client per instance, rebuilt only when the key changes."""

    source = "gemini"

    def __init__(
        self,
        settings: Settings,
        keys: KeySource,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self._client: genai.Client | None = None
        self._client_key: str | None = None
        self._config = types.GenerateContentConfig(
            system_instruction=settings.system_instruction,
            temperature=settings.temperature,
            max_output_tokens=settings.max_output_tokens,
            # Thinking tokens count against max_output_tokens and delay the first word. A budget is
            # sent only when THINKING_BUDGET is set or the model is known to accept turning it off.
            thinking_config=_thinking_config(settings),
            safety_settings=[
                types.SafetySetting(category=types.HarmCategory(c), threshold=types.HarmBlockThreshold(t))
                for c, t in settings.safety_settings
            ],
        )

    def _sdk_client(self, key: str) -> genai.Client:
        with self._lock:
            if self._client is None or key != self._client_key:
                self._client = self._new_client(key)
                self._client_key = key
            return self._client

    def _new_client(self, key: str) -> genai.Client:
        # Retries are ours (they must fit the request deadline), so the SDK's are off.
        # The base URL is left to the SDK: GOOGLE_GEMINI_BASE_URL (or GOOGLE_VERTEX_BASE_URL
        # for Vertex AI) points it elsewhere.
        options = types.HttpOptions(retry_options=types.HttpRetryOptions(attempts=1))
        if self._settings.uses_vertex:
            # No key: google-auth finds the instance's credentials (ADC) and refreshes them.
            return genai.Client(
                vertexai=True,
                project=self._settings.google_cloud_project,
                location=self._settings.google_cloud_location,
                http_options=options,
            )
        return genai.Client(api_key=key, http_options=options)

    def _contents(self, prompt: Prompt) -> list[types.Content]:
        contents: list[types.Content] = []
        for turn in prompt.history:
            contents.append(types.Content(role="user", parts=[types.Part(text=turn.user_text)]))
            contents.append(types.Content(role="model", parts=[types.Part(text=turn.reply_text)]))
        contents.append(types.Content(role="user", parts=[types.Part(text=prompt.message)]))
        return contents

    def stream(self, prompt: Prompt) -> Iterator[Chunk]:
        contents = self._contents(prompt)
        attempt = 0
        rotated = False
        while True:
            attempt += 1
            key = self._keys.get(deadline=prompt.deadline)  # may wait for a shared Secret Manager read
            remaining = prompt.deadline - self._clock()
            if remaining < MIN_ATTEMPT_SECONDS / 2:
                raise ModelTimeout()
            timeout = min(self._settings.model_attempt_timeout_seconds, remaining)
            config = self._config.model_copy(update={"http_options": types.HttpOptions(timeout=int(timeout * 1000))})
            try:
                response = self._sdk_client(key).models.generate_content_stream(
                    model=self._settings.gemini_model, contents=contents, config=config
                )
                first = next(response, None)
            except genai_errors.APIError as exc:
                if _rejects_key(exc) and not rotated:
                    rotated = True
                    log.warning("gemini rejected the api key; re-reading it", extra={"upstream_status": exc.code})
                    if self._keys.refresh(key, deadline=prompt.deadline):
                        continue
                    raise ModelUnavailable() from None
                self._note_rejected_config(exc)
                error = self._error_for(exc)
                self._wait_or_raise(
                    error, attempt, exc.code in RETRYABLE_STATUS, exc.code, prompt.deadline, retry_delay(exc)
                )
                continue
            except TRANSPORT_ERRORS as exc:
                error = ModelTimeout() if _is_timeout(exc) else ModelUnavailable()
                self._wait_or_raise(error, attempt, True, type(exc).__name__, prompt.deadline)
                continue
            except ChatError:
                raise
            except google_auth_exceptions.GoogleAuthError as exc:
                # Vertex AI: no access token for the instance's identity. google-auth has
                # already retried what it could, so this attempt is the last.
                self._wait_or_raise(ModelUnavailable(), attempt, False, type(exc).__name__, prompt.deadline)
                continue
            except Exception as exc:  # noqa: BLE001 - any other failure is "no usable reply"
                raise _no_reply("sdk_error", error_type=type(exc).__name__) from None
            yield from self._chunks(first, response, prompt.deadline)
            return

    def _error_for(self, exc: genai_errors.APIError) -> UpstreamError:
        if exc.code == 429:
            return ModelRateLimited(retry_after=DEFAULT_RETRY_AFTER_SECONDS)
        if exc.code in (408, 504):
            return ModelTimeout()
        if exc.code >= 500:
            return ModelUnavailable()
        return UpstreamError()

    def _note_rejected_config(self, exc: genai_errors.APIError) -> None:
        """A 400 that is not about the key means our request is wrong: say so loudly, once per call."""
        if exc.code == 400 and not _rejects_key(exc):
            log.error(
                "gemini rejected the request as invalid; check GEMINI_MODEL, THINKING_BUDGET, "
                "MAX_OUTPUT_TOKENS and SAFETY_SETTINGS",
                extra={
                    "upstream_status": exc.code,
                    "upstream_code": exc.status,
                    "gemini_model": self._settings.gemini_model,
                },
            )

    def _wait_or_raise(
        self,
        error: UpstreamError,
        attempt: int,
        retryable: bool,
        cause: object,
        deadline: float,
        asked_delay: float | None = None,
    ) -> None:
        """Back off before the next attempt, or raise when no attempt can fit the deadline.

        ``asked_delay`` is the server's RetryInfo (seconds): it is honoured exactly,
        and when it does not fit the deadline the error is raised at once, with
        that delay as its Retry-After.
        """
        log.info("gemini attempt failed", extra={"attempt": attempt, "upstream_status": str(cause)})
        if asked_delay is not None and isinstance(error, ModelRateLimited):
            error = ModelRateLimited(retry_after=max(1, math.ceil(asked_delay)))
        if not retryable or attempt >= self._settings.model_max_attempts:
            raise error from None
        if asked_delay is not None:
            delay = asked_delay
        else:
            delay = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if self._clock() + delay + MIN_ATTEMPT_SECONDS > deadline:
            raise error from None
        self._sleep(delay)

    def _chunks(self, first: Any, response: Iterator[Any], deadline: float) -> Iterator[Chunk]:
        chunk = last = first
        produced = blocked = False
        finish_reason: str | None = None
        try:
            while chunk is not None:
                piece = _chunk(chunk)
                produced = produced or bool(piece.text)
                blocked = blocked or piece.prompt_blocked
                finish_reason = piece.finish_reason or finish_reason
                yield piece
                if self._clock() > deadline:
                    raise ModelTimeout()
                last, chunk = chunk, next(response, None)
        except genai_errors.APIError as exc:
            raise self._error_for(exc) from None
        except TRANSPORT_ERRORS as exc:
            raise (ModelTimeout() if _is_timeout(exc) else ModelUnavailable()) from None
        except ChatError:
            raise
        except Exception as exc:  # noqa: BLE001 - e.g. UnknownApiResponseError, whose text holds the reply
            raise _no_reply("sdk_error", error_type=type(exc).__name__) from None
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()
        reason = unusable_reason(produced, finish_reason, blocked)
        if reason is not None:
            raise _no_reply(reason, finish_reason=finish_reason, thoughts_tokens=_thoughts_tokens(last))


def _thinking_config(settings: Settings) -> types.ThinkingConfig | None:
    budget = settings.thinking_budget
    if budget is None:
        budget = default_thinking_budget(settings.gemini_model, settings.max_output_tokens)
    return None if budget is None else types.ThinkingConfig(thinking_budget=budget)


def _thoughts_tokens(response: Any) -> int:
    meta = getattr(response, "usage_metadata", None)
    return int(getattr(meta, "thoughts_token_count", 0) or 0)


def _chunk(response: types.GenerateContentResponse) -> Chunk:
    text = ""
    finish_reason: str | None = None
    if response.candidates:
        candidate = response.candidates[0]
        if candidate.content and candidate.content.parts:
            text = "".join(p.text for p in candidate.content.parts if p.text and not p.thought)
        if candidate.finish_reason is not None:
            finish_reason = getattr(candidate.finish_reason, "value", str(candidate.finish_reason))
    blocked = bool(response.prompt_feedback and response.prompt_feedback.block_reason)
    usage = None
    if response.usage_metadata is not None:
        meta = response.usage_metadata
        usage = Usage(
            prompt_tokens=meta.prompt_token_count or 0,
            output_tokens=meta.candidates_token_count or 0,
            total_tokens=meta.total_token_count or 0,
        )
    if blocked and finish_reason is None:
        finish_reason = "SAFETY"
    return Chunk(text=text, finish_reason=finish_reason, prompt_blocked=blocked, usage=usage)
