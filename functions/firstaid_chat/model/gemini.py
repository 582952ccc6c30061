"""Replies from Gemini through the google-genai SDK, with bounded retries and key rotation."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from google import genai
from google.auth import exceptions as google_auth_exceptions
from google.genai import errors as genai_errors
from google.genai import types

from ..api_key import KeySource
from ..errors import ModelRateLimited, ModelTimeout, ModelUnavailable, UpstreamError
from ..settings import Settings
from . import Chunk, Prompt, Usage

log = logging.getLogger(__name__)

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
INITIAL_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 8.0
# An attempt started with less time than this left cannot finish a reply.
MIN_ATTEMPT_SECONDS = 1.0


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
            # Thinking tokens count against max_output_tokens and delay the first word;
            # first-aid steps need neither, so thinking is off unless THINKING_BUDGET says otherwise.
            thinking_config=types.ThinkingConfig(thinking_budget=settings.thinking_budget),
            safety_settings=[
                types.SafetySetting(category=types.HarmCategory(c), threshold=types.HarmBlockThreshold(t))
                for c, t in settings.safety_settings
            ],
        )

    def _sdk_client(self) -> genai.Client:
        key = self._keys.get()
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
            remaining = prompt.deadline - self._clock()
            if remaining < MIN_ATTEMPT_SECONDS / 2:
                raise ModelTimeout()
            timeout = min(self._settings.model_attempt_timeout_seconds, remaining)
            config = self._config.model_copy(update={"http_options": types.HttpOptions(timeout=int(timeout * 1000))})
            try:
                response = self._sdk_client().models.generate_content_stream(
                    model=self._settings.gemini_model, contents=contents, config=config
                )
                first = next(response, None)
            except genai_errors.APIError as exc:
                if _rejects_key(exc) and not rotated:
                    rotated = True
                    log.warning("gemini rejected the api key; re-reading it", extra={"upstream_status": exc.code})
                    if self._keys.refresh():
                        continue
                    raise ModelUnavailable() from None
                error = self._error_for(exc)
                self._wait_or_raise(error, attempt, exc.code in RETRYABLE_STATUS, exc.code, prompt.deadline)
                continue
            except TRANSPORT_ERRORS as exc:
                error = ModelTimeout() if _is_timeout(exc) else ModelUnavailable()
                self._wait_or_raise(error, attempt, True, type(exc).__name__, prompt.deadline)
                continue
            except google_auth_exceptions.GoogleAuthError as exc:
                # Vertex AI: no access token for the instance's identity. google-auth has
                # already retried what it could, so this attempt is the last.
                self._wait_or_raise(ModelUnavailable(), attempt, False, type(exc).__name__, prompt.deadline)
                continue
            yield from self._chunks(first, response, prompt.deadline)
            return

    def _error_for(self, exc: genai_errors.APIError) -> UpstreamError:
        if exc.code == 429:
            return ModelRateLimited(retry_after=10)
        if exc.code in (408, 504):
            return ModelTimeout()
        if exc.code >= 500:
            return ModelUnavailable()
        return UpstreamError()

    def _wait_or_raise(
        self, error: UpstreamError, attempt: int, retryable: bool, cause: object, deadline: float
    ) -> None:
        """Back off before the next attempt, or raise when no attempt can fit the deadline."""
        log.info("gemini attempt failed", extra={"attempt": attempt, "upstream_status": str(cause)})
        if not retryable or attempt >= self._settings.model_max_attempts:
            raise error from None
        delay = min(MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
        if self._clock() + delay + MIN_ATTEMPT_SECONDS > deadline:
            raise error from None
        self._sleep(delay)

    def _chunks(self, first: Any, response: Iterator[Any], deadline: float) -> Iterator[Chunk]:
        chunk = first
        try:
            while chunk is not None:
                yield _chunk(chunk)
                if self._clock() > deadline:
                    raise ModelTimeout()
                chunk = next(response, None)
        except genai_errors.APIError as exc:
            raise self._error_for(exc) from None
        except TRANSPORT_ERRORS as exc:
            raise (ModelTimeout() if _is_timeout(exc) else ModelUnavailable()) from None
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()


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
