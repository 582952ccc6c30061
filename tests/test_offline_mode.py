"""Offline first-aid mode through the API: no key, emergencies first, fallback when Gemini fails."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fakes.gemini import FakeGemini, error

COLLAPSE = "someone collapsed and isn't breathing"


def sse(response: Any) -> list[tuple[str, dict[str, Any]]]:
    frames = response.get_data(as_text=True).strip().split("\n\n")
    return [(f.split("\n")[0][7:], json.loads(f.split("\n")[1][6:])) for f in frames]


@pytest.fixture
def offline(make_client: Any) -> Any:
    """A fresh configuration with no key at all: what the README's run command gives a newcomer."""
    return make_client()


def test_no_key_answers_a_collapse_with_cpr_led_by_the_emergency_number(offline: Any) -> None:
    body = offline.post("/v1/chat", json={"message": COLLAPSE}).get_json()
    assert body["source"] == "offline"
    assert body["emergency"] is True
    assert body["reply"].lstrip("*").startswith("Call 112 now")
    assert "CPR" in body["reply"]
    assert "30" in body["reply"]  # compressions
    first_step = next(line for line in body["reply"].splitlines() if line.startswith("1. "))
    assert "112" in first_step


def test_streaming_works_the_same_offline(offline: Any) -> None:
    events = sse(offline.post("/v1/chat", json={"message": COLLAPSE}, headers={"Accept": "text/event-stream"}))
    names = [name for name, _ in events]
    assert names[-1] == "done"
    assert names.count("delta") > 3
    done = events[-1][1]
    assert "".join(d["text"] for n, d in events if n == "delta") == done["reply"]
    assert done["emergency"] is True and done["source"] == "offline"


def test_the_emergency_number_comes_from_config(make_client: Any) -> None:
    client = make_client(EMERGENCY_NUMBER="911")
    body = client.post("/v1/chat", json={"message": "my dad is clutching his chest and sweating"}).get_json()
    assert body["emergency"] is True and body["emergency_number"] == "911"
    assert "911" in body["reply"].split("\n")[0]
    assert "112" not in body["reply"]


def test_off_topic_message_gets_an_honest_offline_reply_not_a_random_topic(offline: Any) -> None:
    body = offline.post("/v1/chat", json={"message": "what's the capital of France?"}).get_json()
    assert body["emergency"] is False
    assert "first aid" in body["reply"].lower()
    assert "112" in body["reply"]
    assert "CPR for an adult" not in body["reply"]


def test_offline_turns_are_stored_like_any_other(offline: Any) -> None:
    first = offline.post("/v1/chat", json={"message": "how do I treat a burn"}).get_json()
    offline.post("/v1/chat", json={"message": "and a nosebleed?", "session_id": first["session_id"]})
    messages = offline.get(f"/v1/sessions/{first['session_id']}").get_json()["messages"]
    assert [m["role"] for m in messages] == ["user", "model"] * 2
    assert all(m["source"] == "offline" for m in messages if m["role"] == "model")
    assert "nose" in messages[3]["text"].lower()


def test_gemini_replies_also_lead_with_the_emergency_number(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client()
    body = client.post("/v1/chat", json={"message": "my wife's face is drooping and her speech is slurred"}).get_json()
    assert body["source"] == "gemini"
    assert body["emergency"] is True
    assert body["reply"].lstrip("*").startswith("Call 112 now")
    assert body["reply"].endswith("Fake reply to: my wife's face is drooping and her speech is slurred")


def test_ordinary_question_is_not_marked_emergency(gemini: FakeGemini, make_client: Any) -> None:
    body = make_client().post("/v1/chat", json={"message": "how do I get a splinter out"}).get_json()
    assert body["emergency"] is False
    assert body["reply"].startswith("Fake reply")


def test_gemini_quota_error_turns_into_a_marked_offline_answer(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(MODEL_MAX_ATTEMPTS="2")
    gemini.default = error(429, "Resource has been exhausted", "RESOURCE_EXHAUSTED")
    body = client.post("/v1/chat", json={"message": COLLAPSE}).get_json()
    assert body["source"] == "offline"
    assert body["emergency"] is True
    lines = body["reply"].split("\n")
    assert lines[0].lstrip("*").startswith("Call 112 now")
    assert any("Offline mode" in line for line in lines)
    assert "CPR" in body["reply"]


def test_fallback_none_returns_the_error_instead(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(FALLBACK="none", MODEL_MAX_ATTEMPTS="1")
    gemini.default = error(429, "quota", "RESOURCE_EXHAUSTED")
    response = client.post("/v1/chat", json={"message": COLLAPSE})
    assert response.status_code == 429


def test_model_provider_offline_never_calls_gemini(gemini: FakeGemini, make_client: Any) -> None:
    body = make_client(MODEL_PROVIDER="offline").post("/v1/chat", json={"message": "bee sting"}).get_json()
    assert body["source"] == "offline"
    assert gemini.requests == []


def test_an_emergency_in_spanish_is_led_in_spanish_and_says_the_steps_are_in_english(offline: Any) -> None:
    body = offline.post("/v1/chat", json={"message": "mi padre se desmayó y no respira"}).get_json()
    assert body["emergency"] is True
    assert body["reply"].startswith("**Llame al 112 ahora**")
    assert "_Los pasos siguientes están en inglés._" in body["reply"]
    assert "CPR" in body["reply"]


def test_gemini_replies_to_an_arabic_emergency_lead_in_arabic(gemini: FakeGemini, make_client: Any) -> None:
    body = make_client().post("/v1/chat", json={"message": "ابني لا يتنفس"}).get_json()
    assert body["source"] == "gemini" and body["emergency"] is True
    assert body["reply"].startswith("**اتصل بالرقم 112 الآن**")


def test_the_fallback_notice_is_in_the_persons_language(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(MODEL_MAX_ATTEMPTS="1")
    gemini.default = error(503, "unavailable", "UNAVAILABLE")
    body = client.post("/v1/chat", json={"message": "comment soigner une brûlure légère"}).get_json()
    assert body["source"] == "offline" and body["emergency"] is False
    assert body["reply"].startswith("_Mode hors ligne")


def test_the_no_match_reply_is_in_the_persons_language(offline: Any) -> None:
    body = offline.post("/v1/chat", json={"message": "wie wird das Wetter morgen in Berlin"}).get_json()
    assert body["emergency"] is False
    # The number first, for someone in a hurry; then why there is no guide answer.
    assert body["reply"].startswith("Wenn jemand schwer verletzt oder krank ist, **rufen Sie jetzt die 112 an**.")
    assert "Offline kann ich nur bei Erster Hilfe helfen" in body["reply"]


def test_self_harm_lead_names_the_configured_crisis_line(make_client: Any) -> None:
    client = make_client(MODEL_PROVIDER="offline", EMERGENCY_NUMBER="911")
    reply = client.post("/v1/chat", json={"message": "i want to kill myself tonight"}).get_json()
    assert reply["emergency"] is True
    lead = reply["reply"].split("\n\n")[0]  # the first paragraph, before any guide text
    assert lead.startswith("**Call 911 now**")
    assert "988 (Suicide & Crisis Lifeline)" in lead


def test_poisoning_lead_names_the_configured_poison_centre(make_client: Any) -> None:
    client = make_client(MODEL_PROVIDER="offline", EMERGENCY_NUMBER="911")
    reply = client.post("/v1/chat", json={"message": "my toddler just drank bleach"}).get_json()
    assert reply["emergency"] is True
    lead = reply["reply"].split("\n\n")[0]
    assert lead.startswith("**Call 911 now**")
    assert "1-800-222-1222" in lead
