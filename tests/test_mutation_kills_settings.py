"""Settings (settings.py), pinned where a mutation survived their tests.

What the operator sees: each variable reaches its setting, unset ones give the defaults the README's
Configuration table documents, and a value outside a variable's range stops the start with a message
that names the variable and the range. Each test states one behaviour; scripts/mutation.py lists the
mutants they kill.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.settings import DEFAULT_SYSTEM_INSTRUCTION, Settings, SettingsError, default_thinking_budget

# The checkout's README (the mutation work folders copy the tests a few levels below it).
README = next(folder / "README.md" for folder in Path(__file__).resolve().parents if (folder / "README.md").is_file())

# What an unset variable gives, as the README's Configuration table documents it.
DOCUMENTED_DEFAULTS: dict[str, tuple[str, Any]] = {
    "MODEL_PROVIDER": ("model_provider", "auto"),
    "FALLBACK": ("fallback", "offline"),
    "GEMINI_BACKEND": ("gemini_backend", "ai_studio"),
    "GOOGLE_CLOUD_LOCATION": ("google_cloud_location", "global"),
    "GEMINI_API_KEY": ("gemini_api_key", None),
    "GEMINI_API_KEY_SECRET": ("gemini_api_key_secret", None),
    "GEMINI_MODEL": ("gemini_model", "gemini-2.5-flash"),
    "TEMPERATURE": ("temperature", 0.3),
    "MAX_OUTPUT_TOKENS": ("max_output_tokens", 1024),
    "THINKING_BUDGET": ("thinking_budget", None),
    "HISTORY_BUDGET_CHARS": ("history_budget_chars", 16000),
    "MAX_MESSAGE_CHARS": ("max_message_chars", 4000),
    "MAX_BODY_BYTES": ("max_body_bytes", 32768),
    "RATE_LIMIT_SESSION_PER_MINUTE": ("rate_limit_session_per_minute", 10),
    "RATE_LIMIT_CLIENT_PER_MINUTE": ("rate_limit_client_per_minute", 30),
    "REQUEST_TIMEOUT_SECONDS": ("request_timeout_seconds", 55),
    "MODEL_ATTEMPT_TIMEOUT_SECONDS": ("model_attempt_timeout_seconds", 25),
    "MODEL_MAX_ATTEMPTS": ("model_max_attempts", 4),
    "EMERGENCY_NUMBER": ("emergency_number", "112"),
    "CRISIS_LINE": ("crisis_line", None),
    "POISON_CENTRE": ("poison_centre", None),
    "CLIENT_CONCURRENT_TURNS": ("client_concurrent_turns", 4),
    "DAILY_TOKEN_BUDGET": ("daily_token_budget", 2000000),
    "TOKEN_BUDGET_CHECK_SECONDS": ("token_budget_check_seconds", 10),
    "STORE_TIMEOUT_SECONDS": ("store_timeout_seconds", 8),
    "AUTH_MODE": ("auth_mode", "none"),
    "CHAT_STORE": ("chat_store", "sqlite"),
    "SQLITE_PATH": ("sqlite_path", Path(".data/chat.sqlite3")),
    "GOOGLE_CLOUD_PROJECT": ("google_cloud_project", None),
    "FIRESTORE_DATABASE": ("firestore_database", "(default)"),
    "FIRESTORE_COLLECTION": ("firestore_collection", "sessions"),
    "SESSION_TTL_HOURS": ("session_ttl_hours", 168),
    "SESSION_MAX_AGE_DAYS": ("session_max_age_days", 30),
    "ALLOWED_ORIGINS": ("allowed_origins", ("http://localhost:8000", "http://127.0.0.1:8000")),
    "LOG_LEVEL": ("log_level", "INFO"),
    "SECRET_MANAGER_ENDPOINT": ("secret_manager_endpoint", None),
}


def documented_default(variable: str) -> str:
    """The default the README's Configuration table gives ``variable`` ("" for none)."""
    for line in README.read_text(encoding="utf-8").splitlines():
        cells = line.split("|")
        if line.startswith("| `") and f"`{variable}`" in cells[1]:
            names = re.findall(r"`([A-Z_]+)`", cells[1])
            defaults = (
                [value.strip(" `") for value in cells[2].split(",")] if len(names) > 1 else [cells[2].strip(" `")]
            )
            return defaults[names.index(variable)]
    raise AssertionError(f"{variable} is not in the README's Configuration table")


@pytest.mark.parametrize("variable", sorted(DOCUMENTED_DEFAULTS))
def test_an_unset_variable_gives_the_default_the_readme_documents(variable: str) -> None:
    field, value = DOCUMENTED_DEFAULTS[variable]
    assert getattr(Settings.from_env({}), field) == value
    if variable == "ALLOWED_ORIGINS":
        assert documented_default(variable) == ",".join(value)
    elif not variable.startswith(("CRISIS", "POISON")):  # those two depend on EMERGENCY_NUMBER
        expected = str(value) if value is not None else "unset" if variable == "THINKING_BUDGET" else ""
        assert documented_default(variable) == expected


def test_unset_variables_give_the_default_instruction_and_safety_settings() -> None:
    settings = Settings.from_env({})
    assert settings.system_instruction == DEFAULT_SYSTEM_INSTRUCTION.replace("{emergency_number}", "112")
    assert settings.safety_settings == (
        ("HARM_CATEGORY_HARASSMENT", "BLOCK_MEDIUM_AND_ABOVE"),
        ("HARM_CATEGORY_HATE_SPEECH", "BLOCK_MEDIUM_AND_ABOVE"),
        ("HARM_CATEGORY_SEXUALLY_EXPLICIT", "BLOCK_MEDIUM_AND_ABOVE"),
        ("HARM_CATEGORY_DANGEROUS_CONTENT", "BLOCK_ONLY_HIGH"),
    )
    assert (settings.firebase_project, settings.firebase_project_number, settings.auth_keys_url) == (None, None, None)


@pytest.mark.parametrize(
    ("env", "field", "value"),
    [
        ({"CHAT_STORE": " Firestore ", "GOOGLE_CLOUD_PROJECT": "p"}, "chat_store", "firestore"),
        ({"SQLITE_PATH": "/var/chat.db"}, "sqlite_path", Path("/var/chat.db")),
        ({"GOOGLE_CLOUD_PROJECT": "proj-1"}, "google_cloud_project", "proj-1"),
        ({"GCLOUD_PROJECT": "proj-2"}, "google_cloud_project", "proj-2"),
        ({"GOOGLE_CLOUD_PROJECT": "proj-1", "GCLOUD_PROJECT": "proj-2"}, "google_cloud_project", "proj-1"),
        ({"FIRESTORE_DATABASE": "chat-db"}, "firestore_database", "chat-db"),
        ({"FIRESTORE_COLLECTION": "Chats_2-x"}, "firestore_collection", "Chats_2-x"),
        ({"MODEL_PROVIDER": "OFFLINE"}, "model_provider", "offline"),
        ({"GEMINI_BACKEND": "Vertex", "GOOGLE_CLOUD_PROJECT": "p"}, "gemini_backend", "vertex"),
        ({"GOOGLE_CLOUD_LOCATION": "Europe-West1"}, "google_cloud_location", "europe-west1"),
        ({"FALLBACK": "None"}, "fallback", "none"),
        ({"GEMINI_API_KEY": " k-1 "}, "gemini_api_key", "k-1"),
        ({"GEMINI_API_KEY_SECRET": "projects/p/secrets/s/versions/3"}, "gemini_api_key_secret",
         "projects/p/secrets/s/versions/3"),
        ({"SECRET_MANAGER_ENDPOINT": "http://127.0.0.1:9"}, "secret_manager_endpoint", "http://127.0.0.1:9"),
        ({"GEMINI_MODEL": "gemini-2.0-flash"}, "gemini_model", "gemini-2.0-flash"),
        ({"SYSTEM_INSTRUCTION": "Be brief. Call {emergency_number}.", "EMERGENCY_NUMBER": "999"},
         "system_instruction", "Be brief. Call 999."),
        ({"TEMPERATURE": "1.5"}, "temperature", 1.5),
        ({"MAX_OUTPUT_TOKENS": "2048"}, "max_output_tokens", 2048),
        ({"THINKING_BUDGET": "100"}, "thinking_budget", 100),
        ({"HISTORY_BUDGET_CHARS": "5000"}, "history_budget_chars", 5000),
        ({"MAX_MESSAGE_CHARS": "300"}, "max_message_chars", 300),
        ({"MAX_BODY_BYTES": "2048"}, "max_body_bytes", 2048),
        ({"SESSION_TTL_HOURS": "2.5"}, "session_ttl_hours", 2.5),
        ({"SESSION_MAX_AGE_DAYS": "9"}, "session_max_age_days", 9.0),
        ({"REQUEST_TIMEOUT_SECONDS": "30"}, "request_timeout_seconds", 30.0),
        ({"MODEL_ATTEMPT_TIMEOUT_SECONDS": "7.5"}, "model_attempt_timeout_seconds", 7.5),
        ({"MODEL_MAX_ATTEMPTS": "2"}, "model_max_attempts", 2),
        ({"STORE_TIMEOUT_SECONDS": "3"}, "store_timeout_seconds", 3.0),
        ({"ALLOWED_ORIGINS": "https://chat.example.org"}, "allowed_origins", ("https://chat.example.org",)),
        ({"ALLOWED_ORIGINS": "*"}, "allowed_origins", ("*",)),
        ({"EMERGENCY_NUMBER": "+44 999"}, "emergency_number", "+44 999"),
        ({"CRISIS_LINE": "116 123"}, "crisis_line", "116 123"),
        ({"POISON_CENTRE": "0800-764-766 (Poisons)"}, "poison_centre", "0800-764-766 (Poisons)"),
        ({"RATE_LIMIT_SESSION_PER_MINUTE": "3"}, "rate_limit_session_per_minute", 3),
        ({"RATE_LIMIT_CLIENT_PER_MINUTE": "5"}, "rate_limit_client_per_minute", 5),
        ({"CLIENT_CONCURRENT_TURNS": "2"}, "client_concurrent_turns", 2),
        ({"DAILY_TOKEN_BUDGET": "1000"}, "daily_token_budget", 1000),
        ({"TOKEN_BUDGET_CHECK_SECONDS": "2.5"}, "token_budget_check_seconds", 2.5),
        ({"AUTH_MODE": "App_Check", "FIREBASE_PROJECT_NUMBER": "1234"}, "auth_mode", "app_check"),
        ({"AUTH_MODE": "firebase_id_token", "FIREBASE_PROJECT": "fb"}, "firebase_project", "fb"),
        ({"FIREBASE_PROJECT_NUMBER": "1234"}, "firebase_project_number", "1234"),
        ({"AUTH_KEYS_URL": "http://127.0.0.1:9/keys"}, "auth_keys_url", "http://127.0.0.1:9/keys"),
        ({"LOG_LEVEL": "debug"}, "log_level", "DEBUG"),
    ],
)  # fmt: skip
def test_each_variable_reaches_its_setting(env: dict[str, str], field: str, value: Any) -> None:
    assert getattr(Settings.from_env(env), field) == value


# Each number's range (low, high, below, above), with what else it needs to be accepted at its ends.
RANGES: list[tuple[str, str, Any, Any, str, str, dict[str, str]]] = [
    ("TEMPERATURE", "temperature", 0.0, 2.0, "-0.001", "2.001", {}),
    ("MAX_OUTPUT_TOKENS", "max_output_tokens", 1, 65_536, "0", "65537", {}),
    ("THINKING_BUDGET", "thinking_budget", -1, 32_768, "-2", "32769", {"MAX_OUTPUT_TOKENS": "65536"}),
    ("HISTORY_BUDGET_CHARS", "history_budget_chars", 0, 200_000, "-1", "200001", {}),
    ("MAX_MESSAGE_CHARS", "max_message_chars", 1, 100_000, "0", "100001", {}),
    ("MAX_BODY_BYTES", "max_body_bytes", 1_024, 1_048_576, "1023", "1048577", {}),
    ("SESSION_TTL_HOURS", "session_ttl_hours", 0.01, 87_600.0, "0.009", "87600.001", {"SESSION_MAX_AGE_DAYS": "3650"}),
    ("SESSION_MAX_AGE_DAYS", "session_max_age_days", 0.01, 3650.0, "0.009", "3650.001", {"SESSION_TTL_HOURS": "0.01"}),
    ("REQUEST_TIMEOUT_SECONDS", "request_timeout_seconds", 1.0, 3600.0, "0.999", "3600.001", {}),
    ("MODEL_ATTEMPT_TIMEOUT_SECONDS", "model_attempt_timeout_seconds", 0.1, 3600.0, "0.099", "3600.001", {}),
    ("MODEL_MAX_ATTEMPTS", "model_max_attempts", 1, 10, "0", "11", {}),
    ("STORE_TIMEOUT_SECONDS", "store_timeout_seconds", 0.1, 60.0, "0.099", "60.001", {}),
    ("RATE_LIMIT_SESSION_PER_MINUTE", "rate_limit_session_per_minute", 0, 100_000, "-1", "100001", {}),
    ("RATE_LIMIT_CLIENT_PER_MINUTE", "rate_limit_client_per_minute", 0, 100_000, "-1", "100001", {}),
    ("CLIENT_CONCURRENT_TURNS", "client_concurrent_turns", 0, 10_000, "-1", "10001", {}),
    ("DAILY_TOKEN_BUDGET", "daily_token_budget", 0, 10**12, "-1", "1000000000001", {}),
    ("TOKEN_BUDGET_CHECK_SECONDS", "token_budget_check_seconds", 0.0, 3600.0, "-0.001", "3600.001", {}),
]  # fmt: skip


@pytest.mark.parametrize(("variable", "field", "low", "high", "below", "above", "others"), RANGES)
def test_a_number_is_accepted_at_both_ends_of_its_range(
    variable: str, field: str, low: Any, high: Any, below: str, above: str, others: dict[str, str]
) -> None:
    for value in (low, high):
        assert getattr(Settings.from_env({**others, variable: str(value)}), field) == value


@pytest.mark.parametrize(("variable", "field", "low", "high", "below", "above", "others"), RANGES)
def test_a_number_outside_its_range_stops_the_start_saying_the_range(
    variable: str, field: str, low: Any, high: Any, below: str, above: str, others: dict[str, str]
) -> None:
    says_range = f"set it to a number from {low} to {high}."
    for value in (below, above):
        with pytest.raises(SettingsError) as caught:
            Settings.from_env({**others, variable: value})
        assert str(caught.value) == f"{variable}={type(low)(value)} is out of range: {says_range}"
    kind = "a whole number" if isinstance(low, int) else "a number"
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({**others, variable: " twelve "})
    assert str(caught.value) == f"{variable}='twelve' is not {kind}: {says_range}"


def stops_with(env: dict[str, str]) -> str:
    """The message a start with ``env`` stops with."""
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env)
    return str(caught.value)


def test_a_conversation_may_end_no_earlier_than_it_could_first_expire() -> None:
    assert Settings.from_env({"SESSION_MAX_AGE_DAYS": "1", "SESSION_TTL_HOURS": "24"}).session_ttl_hours == 24.0
    assert stops_with({"SESSION_MAX_AGE_DAYS": "1", "SESSION_TTL_HOURS": "24.01"}) == (
        "SESSION_MAX_AGE_DAYS must be at least SESSION_TTL_HOURS (in days): a conversation "
        "cannot end before it could first expire."
    )


def test_gemini_without_a_key_stops_the_start_unless_vertex_ai_needs_none() -> None:
    assert stops_with({"MODEL_PROVIDER": "gemini"}) == (
        "MODEL_PROVIDER=gemini needs a Gemini API key: set GEMINI_API_KEY (or put it in .env "
        "for local runs), or set GEMINI_API_KEY_SECRET=projects/P/secrets/S/versions/latest. "
        "Set MODEL_PROVIDER=auto to answer offline when no key is configured."
    )
    vertex = Settings.from_env({"MODEL_PROVIDER": "gemini", "GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p"})
    assert vertex.uses_gemini and vertex.uses_vertex and not vertex.has_gemini_key
    assert Settings.from_env({"MODEL_PROVIDER": "gemini", "GEMINI_API_KEY": "k"}).uses_gemini


@pytest.mark.parametrize(
    ("env", "gemini"),
    [
        ({"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p"}, True),
        ({"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p", "MODEL_PROVIDER": "offline"}, False),
        ({"GEMINI_API_KEY": "k", "MODEL_PROVIDER": "auto"}, True),
        ({"MODEL_PROVIDER": "auto"}, False),
    ],
)
def test_auto_answers_with_gemini_when_vertex_ai_or_a_key_is_configured(env: dict[str, str], gemini: bool) -> None:
    assert Settings.from_env(env).uses_gemini is gemini


def test_vertex_ai_needs_a_project_and_no_key() -> None:
    assert stops_with({"GEMINI_BACKEND": "vertex"}) == (
        "GEMINI_BACKEND=vertex needs GOOGLE_CLOUD_PROJECT: the project whose Vertex AI is called "
        "(and billed), with the function's service account holding roles/aiplatform.user there."
    )
    with_key = (
        "GEMINI_BACKEND=vertex calls Gemini with the function's own identity and uses no API key: "
        "unset GEMINI_API_KEY and GEMINI_API_KEY_SECRET, or set GEMINI_BACKEND=ai_studio to use the key."
    )
    vertex = {"GEMINI_BACKEND": "vertex", "GOOGLE_CLOUD_PROJECT": "p"}
    assert stops_with({**vertex, "GEMINI_API_KEY": "k"}) == with_key
    assert stops_with({**vertex, "GEMINI_API_KEY_SECRET": "projects/p/secrets/s/versions/1"}) == with_key
    assert Settings.from_env({"GEMINI_API_KEY": "k", "GEMINI_BACKEND": "ai_studio"}).has_gemini_key


def test_firestore_needs_a_project() -> None:
    assert stops_with({"CHAT_STORE": "firestore"}) == (
        "CHAT_STORE=firestore needs GOOGLE_CLOUD_PROJECT (your project id); or set CHAT_STORE=sqlite for local runs."
    )
    assert Settings.from_env({"CHAT_STORE": "firestore", "GCLOUD_PROJECT": "p"}).google_cloud_project == "p"


def test_signed_in_users_need_a_firebase_project_and_app_check_a_project_number() -> None:
    assert stops_with({"AUTH_MODE": "firebase_id_token"}) == (
        "AUTH_MODE=firebase_id_token needs FIREBASE_PROJECT (your Firebase project id)."
    )
    assert Settings.from_env({"AUTH_MODE": "firebase_id_token", "GOOGLE_CLOUD_PROJECT": "p"}).auth_mode == (
        "firebase_id_token"
    )
    app_check = (
        "AUTH_MODE=app_check needs FIREBASE_PROJECT_NUMBER (the numeric project number, "
        "shown in the Firebase console's project settings)."
    )
    assert stops_with({"AUTH_MODE": "app_check"}) == app_check
    assert stops_with({"AUTH_MODE": "app_check", "FIREBASE_PROJECT_NUMBER": "my-project"}) == app_check
    assert (
        Settings.from_env({"AUTH_MODE": "app_check", "FIREBASE_PROJECT_NUMBER": "42"}).firebase_project_number == "42"
    )


@pytest.mark.parametrize("model", ["gemini-2.5-pro", "models/gemini-2.5-pro", "gemini-3-pro-preview"])
def test_a_model_that_always_thinks_cannot_have_thinking_turned_off(model: str) -> None:
    assert stops_with({"GEMINI_MODEL": model, "THINKING_BUDGET": "0"}) == (
        f"THINKING_BUDGET=0 does not work with GEMINI_MODEL={model}: it cannot turn thinking "
        "off. Unset THINKING_BUDGET (the model decides) or set it from 128 up."
    )
    assert Settings.from_env({"GEMINI_MODEL": model, "THINKING_BUDGET": "128"}).thinking_budget == 128
    assert Settings.from_env({"GEMINI_MODEL": "gemini-2.5-flash", "THINKING_BUDGET": "0"}).thinking_budget == 0


def test_a_thinking_budget_must_leave_the_reply_256_tokens() -> None:
    assert Settings.from_env({"THINKING_BUDGET": "768", "MAX_OUTPUT_TOKENS": "1024"}).thinking_budget == 768
    assert stops_with({"THINKING_BUDGET": "769", "MAX_OUTPUT_TOKENS": "1024"}) == (
        "THINKING_BUDGET=769 leaves no room for the reply: thinking counts against "
        "MAX_OUTPUT_TOKENS=1024. Keep it at most MAX_OUTPUT_TOKENS - 256, or raise MAX_OUTPUT_TOKENS."
    )


@pytest.mark.parametrize(
    ("model", "max_output_tokens", "sent"),
    [("models/gemini-2.5-flash", 1024, 0), ("gemini-2.5-pro", 256, 128), ("gemini-2.5-pro", 4000, 1000),
     ("gemini-2.5-pro", 515, 128), ("gemini-2.5-pro", 516, 129), ("gemini-2.0-flash", 1024, None)],
)  # fmt: skip
def test_the_default_thinking_budget_is_a_quarter_of_the_output_and_at_least_128(
    model: str, max_output_tokens: int, sent: int | None
) -> None:
    assert default_thinking_budget(model, max_output_tokens) == sent


@pytest.mark.parametrize(
    ("variable", "allowed"),
    [("CHAT_STORE", "sqlite, firestore"), ("MODEL_PROVIDER", "auto, gemini, offline"),
     ("GEMINI_BACKEND", "ai_studio, vertex"), ("FALLBACK", "offline, none"),
     ("AUTH_MODE", "none, firebase_id_token, app_check"), ("LOG_LEVEL", "DEBUG, INFO, WARNING, ERROR")],
)  # fmt: skip
def test_a_choice_outside_its_list_stops_the_start_listing_the_choices(variable: str, allowed: str) -> None:
    assert stops_with({variable: " Other "}) == f"{variable}='Other' is not valid: use one of {allowed}."


def test_a_blank_variable_counts_as_unset() -> None:
    blank = {variable: "  " for variable in DOCUMENTED_DEFAULTS}
    assert Settings.from_env(blank) == Settings.from_env({})


def test_a_firestore_collection_is_1_to_100_letters_digits_dashes_or_underscores() -> None:
    assert Settings.from_env({"FIRESTORE_COLLECTION": "c" * 100}).firestore_collection == "c" * 100
    for bad in ("c" * 101, "chat sessions", "a/b"):
        assert stops_with({"FIRESTORE_COLLECTION": bad}) == (
            f"FIRESTORE_COLLECTION={bad!r} is not valid: use letters, digits, '-' or '_' only."
        )


def test_a_vertex_ai_location_is_a_region_name() -> None:
    assert Settings.from_env({"GOOGLE_CLOUD_LOCATION": "us"}).google_cloud_location == "us"
    assert Settings.from_env({"GOOGLE_CLOUD_LOCATION": "a" * 41}).google_cloud_location == "a" * 41
    for bad in ("a", "a" * 42, "1us", "europe_west1", "us/central"):
        assert stops_with({"GOOGLE_CLOUD_LOCATION": bad}) == (
            f"GOOGLE_CLOUD_LOCATION={bad!r} is not a location: use a region such as europe-west1, or global."
        )


@pytest.mark.parametrize("value", ["my-secret", "projects/p/secrets/s", "projects/p/secrets/s/versions/"])
def test_a_key_secret_must_name_a_secret_version(value: str) -> None:
    assert stops_with({"GEMINI_API_KEY_SECRET": value}) == (
        "GEMINI_API_KEY_SECRET must name a secret version like projects/PROJECT/secrets/NAME/versions/latest."
    )


def test_allowed_origins_are_trimmed_and_blank_entries_dropped() -> None:
    settings = Settings.from_env({"ALLOWED_ORIGINS": ", https://a.example:8443/ ,,http://b.example , "})
    assert settings.allowed_origins == ("https://a.example:8443", "http://b.example")


def test_an_allowed_origin_written_with_capitals_matches_what_browsers_send() -> None:
    """Browsers send an Origin's scheme and host in lower case (RFC 6454); the list is compared as sent."""
    settings = Settings.from_env({"ALLOWED_ORIGINS": "HTTPS://Chat.Example.ORG/,https://BOX"})
    assert settings.allowed_origins == ("https://chat.example.org", "https://box")


@pytest.mark.parametrize(
    "origin", ["chat.example.org", "ftp://chat.example.org", "https://a.example:123456", "https://*"]
)
def test_an_allowed_origin_that_is_not_an_origin_stops_the_start(origin: str) -> None:
    assert stops_with({"ALLOWED_ORIGINS": f"https://ok.example,{origin}"}) == (
        f"ALLOWED_ORIGINS has {origin!r}, which is not an origin: list origins like "
        "https://chat.example.org,http://localhost:8000 (scheme, host and optional port, no path)."
    )


def test_an_emergency_number_is_2_to_15_digits_spaces_or_plus() -> None:
    for number in ("15", "+49 112 112 112"):
        assert Settings.from_env({"EMERGENCY_NUMBER": number}).emergency_number == number
    for bad in ("1", "+49 112 112 1120", "112a"):
        assert stops_with({"EMERGENCY_NUMBER": bad}) == (
            f"EMERGENCY_NUMBER={bad!r} is not a phone number: use digits such as 112, 911 or 999."
        )


def test_a_contact_line_turned_off_in_any_case_is_none() -> None:
    settings = Settings.from_env({"EMERGENCY_NUMBER": "911", "CRISIS_LINE": "NONE", "POISON_CENTRE": "none"})
    assert (settings.crisis_line, settings.poison_centre) == (None, None)
    assert stops_with({"CRISIS_LINE": "call your GP"}) == (
        "CRISIS_LINE='call your GP' is not a phone line: write the number, optionally followed by its "
        "name in brackets, such as 116 123 (Samaritans); or none for no line."
    )


def test_safety_settings_skip_blank_pairs_and_name_the_bad_one() -> None:
    settings = Settings.from_env({"SAFETY_SETTINGS": ", harm_category_harassment = block_none ,,"})
    assert settings.safety_settings == (("HARM_CATEGORY_HARASSMENT", "BLOCK_NONE"),)
    assert stops_with({"SAFETY_SETTINGS": "HARM_CATEGORY_HARASSMENT=OFF, HARM_CATEGORY_VIOLENCE=OFF "}) == (
        "SAFETY_SETTINGS has 'HARM_CATEGORY_VIOLENCE=OFF': write CATEGORY=THRESHOLD pairs separated by commas, "
        "with categories from HARM_CATEGORY_HARASSMENT, HARM_CATEGORY_HATE_SPEECH, HARM_CATEGORY_SEXUALLY_EXPLICIT, "
        "HARM_CATEGORY_DANGEROUS_CONTENT and thresholds from BLOCK_LOW_AND_ABOVE, BLOCK_MEDIUM_AND_ABOVE, "
        "BLOCK_ONLY_HIGH, BLOCK_NONE, OFF."
    )
    assert "'HARM_CATEGORY_HARASSMENT'" in stops_with({"SAFETY_SETTINGS": "HARM_CATEGORY_HARASSMENT"})
