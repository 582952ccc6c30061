"""Helpers for the Gemini adapter's tests: a test clock and sleep, a key source, the jitter."""

from __future__ import annotations

from typing import Any

import pytest
from firstaid_chat.conversation import Turn
from firstaid_chat.model import Chunk, Prompt
from firstaid_chat.model.gemini import GeminiModel
from firstaid_chat.settings import Settings

from tests.conftest import SENTINEL_KEY


class Clock:
    """The adapter's monotonic clock: moves only when the adapter sleeps or the test says so."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Jitter:
    """Stands in for the adapter's ``random`` module: ``uniform`` is the test's."""

    def __init__(self, uniform: Any) -> None:
        self.uniform = uniform


class Keys:
    """A key source whose refresh hands out ``fresh`` (when given) and records what was rejected."""

    def __init__(self, fresh: str | None = None) -> None:
        self.key = SENTINEL_KEY
        self.fresh = fresh
        self.rejected: list[str] = []
        self.refresh_deadlines: list[float | None] = []

    def get(self, deadline: float | None = None) -> str:
        return self.key

    def refresh(self, rejected: str, deadline: float | None = None) -> bool:
        self.rejected.append(rejected)
        self.refresh_deadlines.append(deadline)
        if self.fresh is None:
            return False
        self.key = self.fresh
        return True


def full_backoff_clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """A test clock, with the jitter at its upper bound: each backoff is its full exponential value."""
    monkeypatch.setattr("firstaid_chat.model.gemini.random", Jitter(lambda low, high: high))
    return Clock()


def model_for(clock: Clock, keys: Keys | None = None, **settings: Any) -> GeminiModel:
    return GeminiModel(Settings(**settings), keys or Keys(), sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]


def prompt(clock: Clock, seconds: float = 30.0, history: tuple[Turn, ...] = ()) -> Prompt:
    return Prompt("How do I treat a burn?", history, deadline=clock.now + seconds)


def reply(model: GeminiModel, asked: Prompt) -> list[Chunk]:
    return list(model.stream(asked))


def thinking(body: dict[str, Any]) -> int | None:
    """The thinking budget a request carries (the SDK writes the field in either case), or None."""
    config = body["generationConfig"].get("thinkingConfig") or body["generationConfig"].get("thinking_config")
    if config is None:
        return None
    return int(config.get("thinkingBudget", config.get("thinking_budget")))
