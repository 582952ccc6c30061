"""Gemini answer shapes the SDK or the service used to mishandle: each ends in a usable reply or a clear error.

The real google-genai SDK talks to the raw-bytes fake. The rule under test: no usable reply
text (unparseable body, thoughts only, no finish reason) is handled like an upstream failure.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.fakes.gemini import Behaviour, FakeGemini, error, rate_limited, raw, sse_without_space, thoughts_only
from tests.reliability import report

pytestmark = pytest.mark.reliability
DEADLINE = "6"
BLEEDING = "My friend is bleeding heavily from the leg"
REPLY_MARKER = "Press-firmly-on-the-wound-marker"
HTML_PAGE = f"<html><body><h1>Proxy login</h1><p>{REPLY_MARKER}</p></body></html>".encode()


def client_for(make_client: Any, fallback: str) -> Any:
    return make_client(FALLBACK=fallback, REQUEST_TIMEOUT_SECONDS=DEADLINE, MODEL_ATTEMPT_TIMEOUT_SECONDS="1.5")


def sse(client: Any, body: dict[str, Any]) -> tuple[list[tuple[str, dict[str, Any]]], float]:
    started = time.monotonic()
    response = client.post("/v1/chat", json=body, headers={"Accept": "text/event-stream"})
    text = response.get_data(as_text=True)
    seconds = time.monotonic() - started
    events = []
    for frame in text.strip().split("\n\n"):
        name, data = frame.split("\n", 1)
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events, seconds


def timed_post(client: Any, body: dict[str, Any]) -> tuple[Any, float]:
    started = time.monotonic()
    response = client.post("/v1/chat", json=body)
    response.get_data()
    return response, time.monotonic() - started


def stored(client: Any, session_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/v1/sessions/{session_id}").get_json()["messages"])


def row(name: str, outcome: str, attempts: int, seconds: float, data: str) -> None:
    report.add("faults", f"Gemini: {name}", outcome, attempts, f"{seconds:.2f} s", data)


@pytest.mark.parametrize(
    ("name", "behaviour"),
    [
        ("`data:` without the space (SSE)", sse_without_space("Apply pressure.")),
        ("HTML page with status 200", raw(HTML_PAGE, "text/html")),
        ("unparseable JSON body", raw(b'{"candidates": [{"content": ')),
    ],
)
def test_unparseable_answer_to_an_emergency_streams_the_offline_steps(
    gemini: FakeGemini, make_client: Any, capsys: pytest.CaptureFixture[str], name: str, behaviour: Behaviour
) -> None:
    client = client_for(make_client, "offline")
    gemini.enqueue(behaviour)
    events, seconds = sse(client, {"message": BLEEDING})
    names = [n for n, _ in events]
    assert names[-1] == "done", events[-1]
    assert "error" not in names
    done = events[-1][1]
    assert done["source"] == "offline"
    assert done["emergency"] is True
    assert done["reply"].startswith("**Call 112 now")
    assert "pressure" in done["reply"].lower()  # the steps, not only the lead
    assert stored(client, done["session_id"])[1]["source"] == "offline"
    assert REPLY_MARKER not in capsys.readouterr().out  # the SDK error's text stays out of the logs
    row(f"{name}, FALLBACK=offline, emergency, SSE", "lead, then the offline steps; `done` 200 STOP, source offline",
        1, seconds, "offline turn stored")  # fmt: skip


def test_unparseable_answer_without_fallback_is_a_clear_502(
    gemini: FakeGemini, make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = client_for(make_client, "none")
    session_id = client.post("/v1/chat", json={"message": "first"}).get_json()["session_id"]
    gemini.reset()
    gemini.enqueue(raw(HTML_PAGE, "text/html"))
    response, seconds = timed_post(client, {"message": "burn on my hand", "session_id": session_id})
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_error"
    assert len(stored(client, session_id)) == 2
    logs = capsys.readouterr().out
    assert REPLY_MARKER not in logs
    assert "Traceback" not in logs
    row("HTML page with status 200, FALLBACK=none", "502 upstream_error", 1, seconds, "nothing stored; history intact")


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("no candidates", b'data: {"usageMetadata": {"promptTokenCount": 12}}\r\n\r\n'),
        ("candidates of the wrong type", b'data: {"candidates": "not a list"}\r\n\r\n'),
    ],
)
def test_answer_without_usable_candidates_falls_back(
    gemini: FakeGemini, make_client: Any, name: str, body: bytes
) -> None:
    client = client_for(make_client, "offline")
    gemini.enqueue(raw(body))
    response, seconds = timed_post(client, {"message": "how do I treat a burn"})
    assert response.status_code == 200
    assert response.get_json()["source"] == "offline"
    row(f"{name}, FALLBACK=offline", "200 STOP, source offline", 1, seconds, "offline turn stored")


def test_thoughts_only_answer_falls_back_and_is_not_kept_in_context(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "offline")
    gemini.enqueue(thoughts_only(limit=1024))
    response, seconds = timed_post(client, {"message": "how do I treat a burn"})
    body = response.get_json()
    assert response.status_code == 200
    assert body["source"] == "offline"
    assert "cut short" not in body["reply"]
    assert "Let me think" not in body["reply"]
    assert "water" in body["reply"].lower()
    client.post("/v1/chat", json={"message": "and then?", "session_id": body["session_id"]})
    resent = json.dumps(gemini.requests[-1].body["contents"])
    assert "cut short" not in resent
    row("thoughts only, MAX_TOKENS, thoughtsTokenCount = the limit", "200 STOP, source offline", 1, seconds,
        "offline turn stored; no empty \"cut short\" turn")  # fmt: skip


def test_thoughts_only_answer_without_fallback_is_a_clear_502(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "none")
    gemini.enqueue(thoughts_only(limit=1024))
    response, _ = timed_post(client, {"message": "how do I treat a burn"})
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_error"


def test_thought_parts_never_show_as_reply_text(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "none")
    gemini.enqueue(Behaviour(thoughts=["Private reasoning: maybe a tourniquet"], chunks=["Press ", "on the wound."]))
    events, _ = sse(client, {"message": "cut on my arm"})
    text = "".join(data["text"] for name, data in events if name == "delta")
    assert text == "Press on the wound."
    assert events[-1][1]["reply"] == "Press on the wound."


def test_reply_cut_at_max_tokens_after_real_text_keeps_its_note(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "offline")
    gemini.enqueue(
        Behaviour(thoughts=["hmm"], thoughts_tokens=900, chunks=["1. Call for help."], finish_reason="MAX_TOKENS")
    )
    body = client.post("/v1/chat", json={"message": "cpr steps"}).get_json()
    assert body["source"] == "gemini"
    assert body["reply"].startswith("1. Call for help.")
    assert "cut short" in body["reply"]


def test_stream_ending_without_a_finish_reason_is_not_stored_as_complete(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "none")
    session_id = client.post("/v1/chat", json={"message": "first"}).get_json()["session_id"]
    gemini.reset()
    gemini.enqueue(Behaviour(chunks=["Cool the burn ", "under running"], finish_reason=None))
    body = {"message": "burn", "session_id": session_id, "client_message_id": "m-unfinished"}
    events, seconds = sse(client, body)
    assert [n for n, _ in events] == ["delta", "delta", "error"]
    assert events[-1][1]["status"] == 502
    assert len(stored(client, session_id)) == 2  # the unfinished reply was not stored
    retry = client.post("/v1/chat", json=body).get_json()
    assert (retry["turn"], retry["finish_reason"]) == (2, "STOP")
    row("stream ends cleanly without a finish reason", "deltas, then `error` event (502)", 1, seconds,
        "not stored; retry with same client_message_id stores it once")  # fmt: skip


def test_stream_ending_without_a_finish_reason_is_a_502_for_json_clients(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "none")
    gemini.enqueue(Behaviour(chunks=["Cool the burn ", "under running"], finish_reason=None))
    response, _ = timed_post(client, {"message": "burn"})
    assert response.status_code == 502


def test_retry_delay_longer_than_the_deadline_answers_429_with_that_delay_at_once(
    gemini: FakeGemini, make_client: Any
) -> None:
    client = client_for(make_client, "none")
    gemini.default = rate_limited("53s")
    response, seconds = timed_post(client, {"message": "help"})
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "model_busy"
    assert response.headers["Retry-After"] == "53"
    assert len(gemini.requests) == 1  # no retry that the deadline cannot hold
    row("429 with RetryInfo retryDelay 53 s (deadline 6 s)", "429 model_busy, Retry-After: 53", 1, seconds,
        "nothing stored")  # fmt: skip


def test_retry_delay_longer_than_the_deadline_falls_back_at_once(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "offline")
    gemini.default = rate_limited("53s")
    response, seconds = timed_post(client, {"message": "how do I treat a burn"})
    assert response.get_json()["source"] == "offline"
    assert len(gemini.requests) == 1
    row("429 with RetryInfo 53 s, FALLBACK=offline", "200 STOP, source offline", 1, seconds, "offline turn stored")


def test_retry_delay_that_fits_the_deadline_is_waited_exactly(gemini: FakeGemini, make_client: Any) -> None:
    client = client_for(make_client, "none")
    gemini.enqueue(rate_limited("1.2s"))
    response, seconds = timed_post(client, {"message": "help"})
    assert response.status_code == 200
    first, second = gemini.requests
    assert second.at - first.at >= 1.2
    row("429 with RetryInfo 1.2 s, then success", "200 STOP, source gemini", 2, seconds, "turn stored once")


def test_model_that_rejects_the_request_is_logged_as_a_configuration_error(
    gemini: FakeGemini, make_client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = client_for(make_client, "offline")
    gemini.enqueue(error(400, "Budget 0 is invalid. This model only works in thinking mode.", "INVALID_ARGUMENT"))
    response = client.post("/v1/chat", json={"message": "how do I treat a burn"})
    assert response.get_json()["source"] == "offline"
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    errors = [line for line in lines if line["severity"] == "ERROR"]
    assert errors and "THINKING_BUDGET" in errors[0]["message"]


@pytest.mark.parametrize(
    ("model", "sent"), [("gemini-2.5-flash", [0]), ("gemini-2.5-pro", [256]), ("gemini-other", None)]
)
def test_thinking_budget_is_sent_only_where_the_model_accepts_it(
    gemini: FakeGemini, make_client: Any, model: str, sent: list[int] | None
) -> None:
    client = make_client(GEMINI_MODEL=model, FALLBACK="none")
    assert client.post("/v1/chat", json={"message": "hi"}).status_code == 200
    thinking = gemini.requests[0].body["generationConfig"].get("thinkingConfig")
    assert (None if thinking is None else list(thinking.values())) == sent
