"""The HTTP API in process: the real function target, the real SDK, the local fake Gemini, SQLite."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import SENTINEL_KEY
from tests.fakes.gemini import Behaviour, FakeGemini, error

JSON = {"Content-Type": "application/json"}


def post_chat(client: Any, body: Any, **headers: str) -> Any:
    return client.post("/v1/chat", data=json.dumps(body), headers={**JSON, **headers})


def sse_events(response: Any) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for frame in response.get_data(as_text=True).strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    return events


@pytest.fixture
def client(gemini: FakeGemini, make_client: Any) -> Any:
    return make_client()


def test_first_message_starts_a_session_and_returns_the_reply(client: Any, gemini: FakeGemini) -> None:
    response = post_chat(client, {"message": "How do I treat a burn?"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["reply"] == "Fake reply to: How do I treat a burn?"
    assert body["finish_reason"] == "STOP"
    assert body["source"] == "gemini"
    assert body["turn"] == 1
    assert len(body["session_id"]) >= 22
    assert len(gemini.requests) == 1


def test_session_ids_are_random_and_url_safe(client: Any) -> None:
    ids = {post_chat(client, {"message": f"hello {i}"}).get_json()["session_id"] for i in range(5)}
    assert len(ids) == 5
    for session_id in ids:
        assert all(c.isalnum() or c in "-_" for c in session_id)
        assert len(session_id) * 6 >= 128


def test_follow_up_sends_the_earlier_turns_to_the_model(client: Any, gemini: FakeGemini) -> None:
    session_id = post_chat(client, {"message": "My son cut his knee"}).get_json()["session_id"]
    post_chat(client, {"message": "It is still bleeding", "session_id": session_id})
    contents = gemini.requests[-1].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[0]["parts"][0]["text"] == "My son cut his knee"
    assert contents[1]["parts"][0]["text"] == "Fake reply to: My son cut his knee"
    assert contents[2]["parts"][0]["text"] == "It is still bleeding"


def test_model_settings_from_config_reach_gemini(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(
        SYSTEM_INSTRUCTION="You are a lifeguard.",
        TEMPERATURE="0.7",
        MAX_OUTPUT_TOKENS="321",
        GEMINI_MODEL="gemini-test-model",
        SAFETY_SETTINGS="HARM_CATEGORY_DANGEROUS_CONTENT=BLOCK_NONE",
    )
    post_chat(client, {"message": "hi"})
    sent = gemini.requests[0]
    assert sent.model == "gemini-test-model"
    assert sent.body["systemInstruction"]["parts"][0]["text"] == "You are a lifeguard."
    assert sent.body["generationConfig"]["temperature"] == 0.7
    assert sent.body["generationConfig"]["maxOutputTokens"] == 321
    assert "thinkingConfig" not in sent.body["generationConfig"]  # sent only to models known to accept it
    assert sent.body["safetySettings"] == [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"}]


def test_default_persona_is_the_first_aid_assistant(client: Any, gemini: FakeGemini) -> None:
    post_chat(client, {"message": "hi"})
    instruction = gemini.requests[0].body["systemInstruction"]["parts"][0]["text"]
    assert instruction.startswith("You are a first-aid assistant.")


def test_only_recent_history_that_fits_the_budget_is_sent(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(HISTORY_BUDGET_CHARS="200")
    session_id = post_chat(client, {"message": "a" * 60}).get_json()["session_id"]
    for letter in "bcd":
        post_chat(client, {"message": letter * 60, "session_id": session_id})
    contents = gemini.requests[-1].body["contents"]
    # Each stored turn is 60 + ~80 characters: only the newest fits in 200.
    assert len(contents) == 3
    assert contents[0]["parts"][0]["text"] == "c" * 60
    transcript = client.get(f"/v1/sessions/{session_id}").get_json()["messages"]
    assert len(transcript) == 8  # older turns stay stored


def test_unknown_session_is_404_and_never_adopted(client: Any, gemini: FakeGemini) -> None:
    unknown = "A" * 32
    response = post_chat(client, {"message": "hi", "session_id": unknown})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "session_not_found"
    assert client.get(f"/v1/sessions/{unknown}").status_code == 404
    assert gemini.requests == []


def test_transcript_lists_messages_with_role_text_and_time(client: Any) -> None:
    session_id = post_chat(client, {"message": "first"}).get_json()["session_id"]
    post_chat(client, {"message": "second", "session_id": session_id})
    response = client.get(f"/v1/sessions/{session_id}")
    assert response.status_code == 200
    messages = response.get_json()["messages"]
    assert [(m["role"], m["text"]) for m in messages] == [
        ("user", "first"),
        ("model", "Fake reply to: first"),
        ("user", "second"),
        ("model", "Fake reply to: second"),
    ]
    assert all(m["time"].endswith("+00:00") for m in messages)
    assert response.get_json()["emergency_number"] == "112"


def test_delete_erases_the_conversation(client: Any) -> None:
    session_id = post_chat(client, {"message": "first"}).get_json()["session_id"]
    assert client.delete(f"/v1/sessions/{session_id}").status_code == 204
    assert client.get(f"/v1/sessions/{session_id}").status_code == 404
    assert client.delete(f"/v1/sessions/{session_id}").status_code == 404
    assert post_chat(client, {"message": "again", "session_id": session_id}).status_code == 404


def test_streaming_sends_deltas_then_done_with_the_json_answer(client: Any, gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Press ", "firmly ", "on the wound."]))
    response = post_chat(client, {"message": "bleeding"}, Accept="text/event-stream")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    events = sse_events(response)
    assert [name for name, _ in events] == ["delta", "delta", "delta", "done"]
    assert "".join(data["text"] for name, data in events if name == "delta") == "Press firmly on the wound."
    done = events[-1][1]
    assert done["reply"] == "Press firmly on the wound."
    assert response.headers["X-Session-Id"] == done["session_id"]
    stored = client.get(f"/v1/sessions/{done['session_id']}").get_json()["messages"]
    assert stored[-1]["text"] == done["reply"]


def test_retried_post_does_not_call_the_model_twice(client: Any, gemini: FakeGemini) -> None:
    first = post_chat(client, {"message": "hi"}).get_json()
    body = {"message": "what now?", "session_id": first["session_id"], "client_message_id": "m-1"}
    reply = post_chat(client, body).get_json()
    retry = post_chat(client, body).get_json()
    assert len(gemini.requests) == 2
    assert retry["reply"] == reply["reply"]
    assert retry["turn"] == reply["turn"] == 2
    assert retry["replayed"] is True
    assert reply["replayed"] is False
    assert len(client.get(f"/v1/sessions/{first['session_id']}").get_json()["messages"]) == 4


@pytest.mark.parametrize(
    "behaviour",
    [Behaviour(block_reason="SAFETY"), Behaviour(chunks=[""], finish_reason="SAFETY")],
    ids=["prompt-blocked", "reply-blocked"],
)
def test_blocked_message_gets_an_honest_reply_and_is_not_resent(
    client: Any, gemini: FakeGemini, behaviour: Behaviour
) -> None:
    gemini.enqueue(behaviour)
    body = post_chat(client, {"message": "something the filter blocks"}).get_json()
    assert body["finish_reason"] == "SAFETY"
    assert body["reply"].startswith("I can't help with that message")
    assert "112" in body["reply"]
    post_chat(client, {"message": "next", "session_id": body["session_id"]})
    assert [c["parts"][0]["text"] for c in gemini.requests[-1].body["contents"]] == ["next"]


def test_reply_cut_at_max_tokens_is_kept_and_marked(client: Any, gemini: FakeGemini) -> None:
    gemini.enqueue(Behaviour(chunks=["Step one. Step"], finish_reason="MAX_TOKENS"))
    body = post_chat(client, {"message": "long answer please"}).get_json()
    assert body["finish_reason"] == "MAX_TOKENS"
    assert body["reply"].startswith("Step one. Step")
    assert "cut short" in body["reply"]


def test_rate_limit_is_retried_then_answered(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(FALLBACK="none")
    gemini.enqueue(error(429, "quota", "RESOURCE_EXHAUSTED"), error(503))
    response = post_chat(client, {"message": "hi"})
    assert response.status_code == 200
    assert len(gemini.requests) == 3


@pytest.mark.parametrize(
    ("status", "expected_status", "code"),
    [
        (429, 429, "model_busy"),
        (503, 503, "model_unavailable"),
        (500, 503, "model_unavailable"),
        (400, 502, "upstream_error"),
    ],
)
def test_persistent_upstream_failure_maps_to_a_clear_error(
    gemini: FakeGemini, make_client: Any, status: int, expected_status: int, code: str
) -> None:
    client = make_client(FALLBACK="none", MODEL_MAX_ATTEMPTS="2")
    gemini.default = error(status, "secret upstream detail /internal/path")
    response = post_chat(client, {"message": "hi"})
    assert response.status_code == expected_status
    assert response.get_json()["error"]["code"] == code
    assert "upstream detail" not in response.get_data(as_text=True)
    if expected_status == 429:
        assert int(response.headers["Retry-After"]) > 0
    assert len(gemini.requests) == (1 if status == 400 else 2)


def test_model_that_hangs_past_the_deadline_gives_504(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(FALLBACK="none", REQUEST_TIMEOUT_SECONDS="2", MODEL_ATTEMPT_TIMEOUT_SECONDS="1")
    gemini.default = Behaviour(first_delay=5)
    response = post_chat(client, {"message": "hi"})
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "model_timeout"


def test_failed_turn_stores_nothing(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(FALLBACK="none", MODEL_MAX_ATTEMPTS="1")
    session_id = post_chat(client, {"message": "first"}).get_json()["session_id"]
    gemini.enqueue(error(503))
    assert post_chat(client, {"message": "second", "session_id": session_id}).status_code == 503
    assert len(client.get(f"/v1/sessions/{session_id}").get_json()["messages"]) == 2


def test_health_check(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_key_never_appears_in_responses_or_logs(client: Any, gemini: FakeGemini, capsys: Any) -> None:
    gemini.enqueue(error(400, f"bad key {SENTINEL_KEY}", "INVALID_ARGUMENT"))
    responses = [post_chat(client, {"message": "hi"}), client.get("/healthz"), post_chat(client, {"message": "x"})]
    captured = capsys.readouterr()
    assert gemini.requests[0].api_key == SENTINEL_KEY  # the key was used...
    for response in responses:
        assert SENTINEL_KEY not in response.get_data(as_text=True)  # ...and never shown
        assert SENTINEL_KEY not in str(response.headers)
    assert SENTINEL_KEY not in captured.out + captured.err


def test_logs_are_json_lines_without_message_text(client: Any, capsys: Any) -> None:
    post_chat(client, {"message": "private health detail"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    turn = next(line for line in lines if line["message"] == "turn stored")
    assert turn["severity"] == "INFO"
    assert turn["request_id"]
    assert turn["total_tokens"] > 0
    assert "latency_ms" in turn
    assert not any("private health detail" in json.dumps(line) for line in lines)
