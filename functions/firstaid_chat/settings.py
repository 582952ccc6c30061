"""Settings for one instance, read once from environment variables and validated.

Every setting has a default that works on a laptop with no cloud account; a
bad value stops the instance at start with a message naming the variable and
how to fix it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .env import Env
from .env import SettingsError as SettingsError  # raised by Settings.from_env; importable from here

# The default system instruction (a data file): keeps Gemini to first aid, in the person's
# language, leading with the emergency number; ``{emergency_number}`` becomes EMERGENCY_NUMBER.
SYSTEM_INSTRUCTION_FILE = Path(__file__).with_name("system_instruction.txt")
DEFAULT_SYSTEM_INSTRUCTION = SYSTEM_INSTRUCTION_FILE.read_text(encoding="utf-8").strip()

# Gemini's harm thresholds by default (categories and thresholds: env.py): a first-aid assistant
# must be able to talk about injuries and bleeding, so dangerous content is only blocked when
# the model judges it highly likely to be harmful.
DEFAULT_SAFETY_SETTINGS = (
    "HARM_CATEGORY_HARASSMENT=BLOCK_MEDIUM_AND_ABOVE,"
    "HARM_CATEGORY_HATE_SPEECH=BLOCK_MEDIUM_AND_ABOVE,"
    "HARM_CATEGORY_SEXUALLY_EXPLICIT=BLOCK_MEDIUM_AND_ABOVE,"
    "HARM_CATEGORY_DANGEROUS_CONTENT=BLOCK_ONLY_HIGH"
)
# Where Gemini is called: the Gemini Developer API with an AI Studio key, or Vertex AI
# with the instance's own identity (Application Default Credentials), no key at all.
GEMINI_BACKENDS = ("ai_studio", "vertex")
# Default crisis line and poison centre for the countries an EMERGENCY_NUMBER most
# likely means (911: United States, 999: United Kingdom, 000: Australia,
# 111: New Zealand). Any other number (112 serves many countries with different
# lines) has no default: replies then point to a local line or the emergency number.
# Canada also dials 911 and shares 988 but not the US poison line: set POISON_CENTRE.
CONTACT_DEFAULTS: dict[str, tuple[str, str]] = {
    "911": ("988 (Suicide & Crisis Lifeline)", "1-800-222-1222 (Poison Help)"),
    "999": ("116 123 (Samaritans)", "111 (NHS 111)"),
    "000": ("13 11 14 (Lifeline)", "13 11 26 (Poisons Information Centre)"),
    "111": ("1737 (Need to talk?)", "0800 764 766 (National Poisons Centre)"),
}
# Models that can turn thinking off (THINKING_BUDGET=0 is what they get when it is unset),
# and models that reject a budget of 0 because they always think.
THINKING_OFF_BY_DEFAULT = re.compile(r"^(models/)?gemini-2\.5-flash")
ALWAYS_THINKING = re.compile(r"^(models/)?gemini-[\d.]+-pro")
MIN_THINKING_TOKENS = 128  # the smallest budget models that always think accept
# Output tokens a thinking budget must leave for the reply itself (thoughts count against MAX_OUTPUT_TOKENS).
MIN_REPLY_TOKENS = 256
# A session document keeps recent turns inline; this keeps it well under Firestore's
# 1 MiB document limit whatever HISTORY_BUDGET_CHARS says.
MAX_HISTORY_BUDGET_CHARS = 200_000


@dataclass(frozen=True)
class Settings:
    """Everything an instance needs to know, validated."""

    chat_store: str = "sqlite"
    sqlite_path: Path = Path(".data/chat.sqlite3")
    google_cloud_project: str | None = None
    firestore_database: str = "(default)"
    firestore_collection: str = "sessions"
    model_provider: str = "auto"
    gemini_backend: str = "ai_studio"
    google_cloud_location: str = "global"
    fallback: str = "offline"
    gemini_api_key: str | None = field(default=None, repr=False)
    gemini_api_key_secret: str | None = None
    secret_manager_endpoint: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    system_instruction: str = DEFAULT_SYSTEM_INSTRUCTION
    safety_settings: tuple[tuple[str, str], ...] = ()
    temperature: float = 0.3
    max_output_tokens: int = 1024
    thinking_budget: int | None = None  # None: default_thinking_budget(gemini_model)
    history_budget_chars: int = 16_000
    max_message_chars: int = 4_000
    max_body_bytes: int = 32_768
    session_ttl_hours: float = 24.0 * 7
    session_max_age_days: float = 30.0
    request_timeout_seconds: float = 55.0
    model_attempt_timeout_seconds: float = 25.0
    model_max_attempts: int = 4
    store_timeout_seconds: float = 8.0
    allowed_origins: tuple[str, ...] = ("http://localhost:8000", "http://127.0.0.1:8000")
    emergency_number: str = "112"
    crisis_line: str | None = None
    poison_centre: str | None = None
    rate_limit_session_per_minute: int = 10
    rate_limit_client_per_minute: int = 30
    client_concurrent_turns: int = 4
    daily_token_budget: int = 2_000_000
    token_budget_check_seconds: float = 10.0
    auth_mode: str = "none"
    firebase_project: str | None = None
    firebase_project_number: str | None = None
    auth_keys_url: str | None = None
    log_level: str = "INFO"

    @property
    def has_gemini_key(self) -> bool:
        return bool(self.gemini_api_key or self.gemini_api_key_secret)

    @property
    def uses_vertex(self) -> bool:
        """Whether Gemini is reached through Vertex AI with the instance's own credentials."""
        return self.gemini_backend == "vertex"

    @property
    def uses_gemini(self) -> bool:
        """Whether Gemini answers (else the offline first-aid provider does)."""
        if self.model_provider == "auto":
            return self.uses_vertex or self.has_gemini_key
        return self.model_provider == "gemini"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (``os.environ`` by default)."""
        env = Env(os.environ if environ is None else environ)
        emergency_number = env.emergency_number("EMERGENCY_NUMBER", "112")
        crisis_default, poison_default = CONTACT_DEFAULTS.get(emergency_number, (None, None))
        settings = cls(
            chat_store=env.choice("CHAT_STORE", "sqlite", ("sqlite", "firestore")),
            sqlite_path=Path(env.text("SQLITE_PATH", ".data/chat.sqlite3")),
            google_cloud_project=env.optional("GOOGLE_CLOUD_PROJECT") or env.optional("GCLOUD_PROJECT"),
            firestore_database=env.text("FIRESTORE_DATABASE", "(default)"),
            firestore_collection=env.name("FIRESTORE_COLLECTION", "sessions"),
            model_provider=env.choice("MODEL_PROVIDER", "auto", ("auto", "gemini", "offline")),
            gemini_backend=env.choice("GEMINI_BACKEND", "ai_studio", GEMINI_BACKENDS),
            google_cloud_location=env.location("GOOGLE_CLOUD_LOCATION", "global"),
            fallback=env.choice("FALLBACK", "offline", ("offline", "none")),
            gemini_api_key=env.optional("GEMINI_API_KEY"),
            gemini_api_key_secret=env.secret_version("GEMINI_API_KEY_SECRET"),
            secret_manager_endpoint=env.optional("SECRET_MANAGER_ENDPOINT"),
            gemini_model=env.text("GEMINI_MODEL", "gemini-2.5-flash"),
            system_instruction=env.text("SYSTEM_INSTRUCTION", DEFAULT_SYSTEM_INSTRUCTION).replace(
                "{emergency_number}", emergency_number
            ),
            safety_settings=env.safety_settings("SAFETY_SETTINGS", DEFAULT_SAFETY_SETTINGS),
            temperature=env.number("TEMPERATURE", 0.3, 0.0, 2.0),
            max_output_tokens=env.integer("MAX_OUTPUT_TOKENS", 1024, 1, 65_536),
            thinking_budget=env.optional_integer("THINKING_BUDGET", -1, 32_768),
            history_budget_chars=env.integer("HISTORY_BUDGET_CHARS", 16_000, 0, MAX_HISTORY_BUDGET_CHARS),
            max_message_chars=env.integer("MAX_MESSAGE_CHARS", 4_000, 1, 100_000),
            max_body_bytes=env.integer("MAX_BODY_BYTES", 32_768, 1_024, 1_048_576),
            session_ttl_hours=env.number("SESSION_TTL_HOURS", 24.0 * 7, 0.01, 24.0 * 3650),
            session_max_age_days=env.number("SESSION_MAX_AGE_DAYS", 30.0, 0.01, 3650.0),
            request_timeout_seconds=env.number("REQUEST_TIMEOUT_SECONDS", 55.0, 1.0, 3600.0),
            model_attempt_timeout_seconds=env.number("MODEL_ATTEMPT_TIMEOUT_SECONDS", 25.0, 0.1, 3600.0),
            model_max_attempts=env.integer("MODEL_MAX_ATTEMPTS", 4, 1, 10),
            store_timeout_seconds=env.number("STORE_TIMEOUT_SECONDS", 8.0, 0.1, 60.0),
            allowed_origins=env.origins("ALLOWED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000"),
            emergency_number=emergency_number,
            crisis_line=env.contact_line("CRISIS_LINE", crisis_default),
            poison_centre=env.contact_line("POISON_CENTRE", poison_default),
            rate_limit_session_per_minute=env.integer("RATE_LIMIT_SESSION_PER_MINUTE", 10, 0, 100_000),
            rate_limit_client_per_minute=env.integer("RATE_LIMIT_CLIENT_PER_MINUTE", 30, 0, 100_000),
            client_concurrent_turns=env.integer("CLIENT_CONCURRENT_TURNS", 4, 0, 10_000),
            daily_token_budget=env.integer("DAILY_TOKEN_BUDGET", 2_000_000, 0, 10**12),
            token_budget_check_seconds=env.number("TOKEN_BUDGET_CHECK_SECONDS", 10.0, 0.0, 3600.0),
            auth_mode=env.choice("AUTH_MODE", "none", ("none", "firebase_id_token", "app_check")),
            firebase_project=env.optional("FIREBASE_PROJECT"),
            firebase_project_number=env.optional("FIREBASE_PROJECT_NUMBER"),
            auth_keys_url=env.optional("AUTH_KEYS_URL"),
            log_level=env.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
        )
        settings._check_combinations()
        return settings

    def _check_combinations(self) -> None:
        if self.session_max_age_days * 24 < self.session_ttl_hours:
            raise SettingsError(
                "SESSION_MAX_AGE_DAYS must be at least SESSION_TTL_HOURS (in days): a conversation "
                "cannot end before it could first expire."
            )
        self._check_thinking()
        self._check_vertex()
        if self.model_provider == "gemini" and not self.uses_vertex and not self.has_gemini_key:
            raise SettingsError(
                "MODEL_PROVIDER=gemini needs a Gemini API key: set GEMINI_API_KEY (or put it in .env "
                "for local runs), or set GEMINI_API_KEY_SECRET=projects/P/secrets/S/versions/latest. "
                "Set MODEL_PROVIDER=auto to answer offline when no key is configured."
            )
        if self.chat_store == "firestore" and not self.google_cloud_project:
            raise SettingsError(
                "CHAT_STORE=firestore needs GOOGLE_CLOUD_PROJECT (your project id); "
                "or set CHAT_STORE=sqlite for local runs."
            )
        if self.auth_mode == "firebase_id_token" and not (self.firebase_project or self.google_cloud_project):
            raise SettingsError("AUTH_MODE=firebase_id_token needs FIREBASE_PROJECT (your Firebase project id).")
        if self.auth_mode == "app_check" and not (self.firebase_project_number or "").isdigit():
            raise SettingsError(
                "AUTH_MODE=app_check needs FIREBASE_PROJECT_NUMBER (the numeric project number, "
                "shown in the Firebase console's project settings)."
            )

    def _check_thinking(self) -> None:
        budget = self.thinking_budget
        if budget == 0 and ALWAYS_THINKING.match(self.gemini_model):
            raise SettingsError(
                f"THINKING_BUDGET=0 does not work with GEMINI_MODEL={self.gemini_model}: it cannot turn thinking "
                "off. Unset THINKING_BUDGET (the model decides) or set it from 128 up."
            )
        if budget is not None and budget > self.max_output_tokens - MIN_REPLY_TOKENS:
            raise SettingsError(
                f"THINKING_BUDGET={budget} leaves no room for the reply: thinking counts against "
                f"MAX_OUTPUT_TOKENS={self.max_output_tokens}. Keep it at most MAX_OUTPUT_TOKENS - {MIN_REPLY_TOKENS}, "
                "or raise MAX_OUTPUT_TOKENS."
            )

    def _check_vertex(self) -> None:
        if not self.uses_vertex:
            return
        if not self.google_cloud_project:
            raise SettingsError(
                "GEMINI_BACKEND=vertex needs GOOGLE_CLOUD_PROJECT: the project whose Vertex AI is called "
                "(and billed), with the function's service account holding roles/aiplatform.user there."
            )
        if self.has_gemini_key:
            raise SettingsError(
                "GEMINI_BACKEND=vertex calls Gemini with the function's own identity and uses no API key: "
                "unset GEMINI_API_KEY and GEMINI_API_KEY_SECRET, or set GEMINI_BACKEND=ai_studio to use the key."
            )


def default_thinking_budget(model: str, max_output_tokens: int) -> int | None:
    """The budget sent when THINKING_BUDGET is unset, in tokens; None sends none (the model's default).

    0 (off) where the model allows it; for models that always think, a quarter of
    MAX_OUTPUT_TOKENS (at least their minimum of 128), so thinking cannot use up the reply's room.
    """
    if THINKING_OFF_BY_DEFAULT.match(model):
        return 0
    if ALWAYS_THINKING.match(model):
        return max(MIN_THINKING_TOKENS, max_output_tokens // 4)
    return None
