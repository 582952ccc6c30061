"""What one function instance builds once and reuses: settings, store, model, service, API."""

from __future__ import annotations

import threading

from .api import ChatApi
from .api_key import build_key_source
from .auth import build_authenticator
from .model import Model
from .service import ChatService
from .settings import Settings
from .store import build_store

_lock = threading.Lock()
_api: ChatApi | None = None


def build_models(settings: Settings) -> tuple[Model, Model | None]:
    """The model that answers and the one that steps in when it fails (if any)."""
    from .model.offline import OfflineModel

    offline = OfflineModel(
        emergency_number=settings.emergency_number,
        crisis_line=settings.crisis_line,
        poison_centre=settings.poison_centre,
    )
    if not settings.uses_gemini:
        return offline, None
    from .model.gemini import GeminiModel

    gemini = GeminiModel(settings, build_key_source(settings))
    return gemini, offline if settings.fallback == "offline" else None


def build_service(settings: Settings) -> ChatService:
    """One instance's service: its store, its models and its view of the daily token budget."""
    model, fallback = build_models(settings)
    store = build_store(settings)
    budget = None
    offline = fallback
    if settings.daily_token_budget and settings.uses_gemini:
        from .budget import TokenBudget
        from .model.offline import OfflineModel

        budget = TokenBudget(store, settings.daily_token_budget, check_seconds=settings.token_budget_check_seconds)
        if offline is None:
            offline = OfflineModel(
                emergency_number=settings.emergency_number,
                crisis_line=settings.crisis_line,
                poison_centre=settings.poison_centre,
            )
    return ChatService(settings, store, model, fallback=fallback, budget=budget, offline=offline)


def build_api(settings: Settings) -> ChatApi:
    return ChatApi(settings, build_service(settings), build_authenticator(settings))


def get_api(settings: Settings) -> ChatApi:
    """The instance's API, built on first use (not at import) and shared by all threads."""
    global _api
    if _api is None:
        with _lock:
            if _api is None:
                _api = build_api(settings)
    return _api


def reset() -> None:
    """Forget the built API (tests build a fresh instance per configuration)."""
    global _api
    with _lock:
        if _api is not None:
            _api.service.store.close()
        _api = None
