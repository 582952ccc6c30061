"""Scope: the default system instruction keeps Gemini to first aid, and the evaluation script runs."""

from __future__ import annotations

from typing import Any

import pytest

from bench import scope_eval
from tests.fakes.gemini import FakeGemini


def _instruction(gemini: FakeGemini) -> str:
    return str(gemini.requests[-1].body["systemInstruction"]["parts"][0]["text"])


def test_default_instruction_keeps_to_first_aid_and_never_declines_an_emergency(
    gemini: FakeGemini, make_client: Any
) -> None:
    client = make_client(EMERGENCY_NUMBER="999", MAX_OUTPUT_TOKENS="512")
    assert client.post("/v1/chat", json={"message": "write me an essay on tax law"}).status_code == 200
    instruction = _instruction(gemini)
    assert "Decline everything else" in instruction
    assert "in one short sentence" in instruction
    assert "Never decline a message that might be an emergency." in instruction
    assert "Reply in the language of the person's last message." in instruction
    assert "start with: Call 999 now." in instruction
    assert "{emergency_number}" not in instruction
    # An off-topic request costs at most the output cap, whatever the model writes.
    assert gemini.requests[-1].body["generationConfig"]["maxOutputTokens"] == 512


def test_a_deployer_instruction_replaces_the_default(gemini: FakeGemini, make_client: Any) -> None:
    client = make_client(SYSTEM_INSTRUCTION="Only first aid. Call {emergency_number}.", EMERGENCY_NUMBER="911")
    client.post("/v1/chat", json={"message": "hi"})
    assert _instruction(gemini) == "Only first aid. Call 911."


@pytest.mark.parametrize(
    ("kind", "reply", "tokens", "declined", "passed"),
    [
        ("off_topic", "I can only help with first aid.", 9, True, True),
        ("off_topic", "Sorry, I only help with first aid. " + "Tax law is a broad subject. " * 20, 300, False, False),
        ("off_topic", "Je ne peux aider qu'en matière de premiers secours.", 14, True, True),
        ("on_topic", "1. Cool the burn under cool running water for 20 minutes.", 20, False, True),
        ("on_topic", "I can only help with first aid.", 9, True, False),
    ],
)
def test_scoring_rules(kind: str, reply: str, tokens: int, declined: bool, passed: bool) -> None:
    actions = ("cool",) if kind == "on_topic" else ()
    case = scope_eval.Case(kind, "en", False, "message", actions)
    scored = scope_eval.score(case, reply, "gemini", tokens, "112")
    assert (scored.declined, scored.passed) == (declined, passed)


def test_an_emergency_reply_without_the_number_fails() -> None:
    case = scope_eval.Case("on_topic", "en", True, "not breathing", ("cpr",))
    assert not scope_eval.score(case, "Start CPR.", "gemini", 5, "112").passed
    assert scope_eval.score(case, "Call 112 now. Start CPR.", "gemini", 8, "112").passed


def test_evaluation_runs_offline_with_no_key(capsys: pytest.CaptureFixture[str]) -> None:
    status = scope_eval.main(["--offline"])
    out = capsys.readouterr().out
    cases = scope_eval.load_cases()
    assert "answered by the offline first-aid guide" in out
    rows = [line for line in out.splitlines() if line.startswith(("| on_topic", "| borderline", "| off_topic"))]
    assert len(rows) == len(cases) >= 25
    assert {c.kind for c in cases} == {"on_topic", "borderline", "off_topic"}
    assert "off_topic:" in out and "no Gemini tokens" in out
    assert status in (0, 1)
    # Every message that signals a life threat is answered with the number, offline too.
    results = scope_eval.run(scope_eval.Settings.from_env({"MODEL_PROVIDER": "offline"}), cases)
    assert all(r.number for r in results if r.case.emergency)
    assert all(r.output_tokens is None for r in results)


def test_evaluation_uses_gemini_with_a_key(gemini: FakeGemini, capsys: pytest.CaptureFixture[str]) -> None:
    scope_eval.main([])
    out = capsys.readouterr().out
    assert "answered by Gemini (gemini-2.5-flash)" in out
    assert len(gemini.requests) == len(scope_eval.load_cases())
    assert "Decline everything else" in _instruction(gemini)
    assert "output tokens max" in out
