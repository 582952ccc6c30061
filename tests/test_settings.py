"""Settings: working defaults, and a message that names the variable for every bad value."""

from __future__ import annotations

import pytest
from firstaid_chat.settings import Settings, SettingsError


def test_defaults_need_no_cloud_account() -> None:
    settings = Settings.from_env({})
    assert settings.chat_store == "sqlite"
    assert settings.model_provider == "auto"
    assert not settings.uses_gemini
    assert settings.gemini_model == "gemini-2.5-flash"
    assert settings.emergency_number == "112"
    assert settings.system_instruction.startswith("You are a first-aid assistant.")
    assert "Call 112 now." in settings.system_instruction


def test_a_key_switches_auto_to_gemini() -> None:
    assert Settings.from_env({"GEMINI_API_KEY": "k"}).uses_gemini
    assert Settings.from_env({"GEMINI_API_KEY_SECRET": "projects/p/secrets/s/versions/latest"}).uses_gemini
    assert not Settings.from_env({"GEMINI_API_KEY": "k", "MODEL_PROVIDER": "offline"}).uses_gemini


def test_the_key_is_not_in_the_settings_repr() -> None:
    assert "sekrit-value" not in repr(Settings.from_env({"GEMINI_API_KEY": "sekrit-value"}))


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"CHAT_STORE": "redis"}, "CHAT_STORE"),
        ({"MODEL_PROVIDER": "gemini"}, "GEMINI_API_KEY"),
        ({"CHAT_STORE": "firestore"}, "GOOGLE_CLOUD_PROJECT"),
        ({"GEMINI_API_KEY_SECRET": "my-secret"}, "GEMINI_API_KEY_SECRET"),
        ({"TEMPERATURE": "hot"}, "TEMPERATURE"),
        ({"TEMPERATURE": "3"}, "TEMPERATURE"),
        ({"MAX_OUTPUT_TOKENS": "0"}, "MAX_OUTPUT_TOKENS"),
        ({"HISTORY_BUDGET_CHARS": "10000000"}, "HISTORY_BUDGET_CHARS"),
        ({"ALLOWED_ORIGINS": "https://ok.example,https://bad.example/path"}, "ALLOWED_ORIGINS"),
        ({"EMERGENCY_NUMBER": "call-me"}, "EMERGENCY_NUMBER"),
        ({"SAFETY_SETTINGS": "HARM_CATEGORY_DANGEROUS_CONTENT=MAYBE"}, "SAFETY_SETTINGS"),
        ({"FALLBACK": "pray"}, "FALLBACK"),
        ({"FIRESTORE_COLLECTION": "a/b"}, "FIRESTORE_COLLECTION"),
        ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    ],
)
def test_bad_setting_names_the_variable_to_fix(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(env)
    assert names in str(raised.value)


def test_safety_settings_parse_into_pairs() -> None:
    settings = Settings.from_env(
        {"SAFETY_SETTINGS": "harm_category_harassment=block_none, HARM_CATEGORY_HATE_SPEECH=OFF"}
    )
    assert settings.safety_settings == (
        ("HARM_CATEGORY_HARASSMENT", "BLOCK_NONE"),
        ("HARM_CATEGORY_HATE_SPEECH", "OFF"),
    )


def test_origins_are_normalised() -> None:
    settings = Settings.from_env({"ALLOWED_ORIGINS": " https://a.example/ , http://localhost:8000"})
    assert settings.allowed_origins == ("https://a.example", "http://localhost:8000")


def test_invalid_settings_stop_the_function_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import functions_framework

    from tests.conftest import FUNCTIONS

    monkeypatch.setenv("CHAT_STORE", "mongo")
    with pytest.raises(SettingsError, match="CHAT_STORE"):
        functions_framework.create_app(target="chat", source=str(FUNCTIONS / "main.py"))


@pytest.mark.parametrize(
    ("number", "crisis_line", "poison_centre"),
    [
        ("911", "988 (Suicide & Crisis Lifeline)", "1-800-222-1222 (Poison Help)"),
        ("999", "116 123 (Samaritans)", "111 (NHS 111)"),
        ("000", "13 11 14 (Lifeline)", "13 11 26 (Poisons Information Centre)"),
        ("111", "1737 (Need to talk?)", "0800 764 766 (National Poisons Centre)"),
        ("112", None, None),
        ("190", None, None),
    ],
)
def test_crisis_line_and_poison_centre_default_from_the_emergency_number(
    number: str, crisis_line: str | None, poison_centre: str | None
) -> None:
    settings = Settings.from_env({"EMERGENCY_NUMBER": number})
    assert (settings.crisis_line, settings.poison_centre) == (crisis_line, poison_centre)


def test_crisis_line_and_poison_centre_can_be_set_or_turned_off() -> None:
    settings = Settings.from_env(
        {"EMERGENCY_NUMBER": "999", "CRISIS_LINE": "+49 800 111 0 111 (TelefonSeelsorge)", "POISON_CENTRE": "None"}
    )
    assert settings.crisis_line == "+49 800 111 0 111 (TelefonSeelsorge)"
    assert settings.poison_centre is None


@pytest.mark.parametrize("name", ["CRISIS_LINE", "POISON_CENTRE"])
@pytest.mark.parametrize("value", ["call your GP", "116 123 {emergency_number}", "116 123 (Sama{ritans)", "12"])
def test_a_contact_line_that_is_not_a_phone_line_names_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"^{name}=.*not a phone line"):
        Settings.from_env({name: value})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GEMINI_MODEL": "gemini-2.5-pro", "THINKING_BUDGET": "0"}, "cannot turn thinking off"),
        ({"THINKING_BUDGET": "1024", "MAX_OUTPUT_TOKENS": "1024"}, "leaves no room for the reply"),
    ],
)
def test_a_thinking_budget_the_model_cannot_use_stops_the_start(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message) as caught:
        Settings.from_env(env)
    assert "THINKING_BUDGET" in str(caught.value)


@pytest.mark.parametrize(
    ("model", "sent"),
    [("gemini-2.5-flash", 0), ("gemini-2.5-flash-lite", 0), ("gemini-2.5-pro", 256), ("gemini-3-pro-preview", 256),
     ("gemini-test-model", None)],
)  # fmt: skip
def test_unset_thinking_budget_is_off_where_allowed_and_leaves_room_where_not(model: str, sent: int | None) -> None:
    from firstaid_chat.settings import default_thinking_budget

    settings = Settings.from_env({"GEMINI_MODEL": model})
    assert settings.thinking_budget is None
    assert default_thinking_budget(settings.gemini_model, settings.max_output_tokens) == sent


def test_a_thinking_budget_that_leaves_room_is_accepted() -> None:
    settings = Settings.from_env(
        {"GEMINI_MODEL": "gemini-2.5-pro", "THINKING_BUDGET": "512", "MAX_OUTPUT_TOKENS": "2048"}
    )
    assert settings.thinking_budget == 512
