"""Every way a send can fail shows a specific message, keeps the typed text, and retries cleanly."""

from __future__ import annotations

import json
import urllib.request

import pytest
from playwright.sync_api import Route, expect

from tests.browser.conftest import ChatPage, Stack
from tests.fakes.gemini import Behaviour, FakeGemini, error

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]


def turns_stored(stack: Stack, session_id: str) -> int:
    with urllib.request.urlopen(f"{stack.api.url}/v1/sessions/{session_id}", timeout=10) as response:
        messages = json.load(response)["messages"]
    return sum(1 for m in messages if m["role"] == "model")


def fail_then_retry(chat: ChatPage, message: str, headline: str) -> None:
    """Send `message`, see the failure `headline` with the text kept, then Retry and get the reply."""
    chat.send(message)
    panel = chat.page.locator("#error")
    expect(panel).to_be_visible()
    expect(panel.locator("#error-text")).to_have_text(headline)
    expect(panel).to_contain_text("call 112")
    expect(chat.page.locator("#message")).to_have_value(message)
    expect(chat.page.locator("#message")).to_be_enabled()
    expect(chat.page.locator("#messages .message-model")).to_have_count(0)
    retry = panel.get_by_role("button", name="Retry")
    expect(retry).to_be_focused()

    retry.click()

    chat.wait_for_replies(1)
    expect(panel).to_be_hidden()
    assert chat.user_messages() == [message]
    assert chat.replies() == [f"Fake reply to: {message}"]
    expect(chat.page.locator("#message")).to_have_value("")


def test_model_busy_429_shows_the_wait_from_retry_after(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(error(429, "quota", "RESOURCE_EXHAUSTED"))
    chat.open()
    chat.send("How do I help someone who feels dizzy?")
    hint = chat.page.locator("#error-hint")
    expect(hint).to_contain_text("Please wait 10 seconds before retrying")
    expect(chat.page.locator("#error")).to_have_attribute("data-wait", "10")
    # The wait counts down.
    expect(hint).to_contain_text("Please wait 9 seconds", timeout=3000)
    expect(chat.page.locator("#error-text")).to_have_text("The assistant is busy right now.")

    chat.page.get_by_role("button", name="Retry").click()

    chat.wait_for_replies(1)
    assert chat.replies() == ["Fake reply to: How do I help someone who feels dizzy?"]


def test_service_unavailable_503_can_be_retried(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(error(503, "overloaded", "UNAVAILABLE"))
    chat.open()
    chat.send("Bee sting on the arm")
    expect(chat.page.locator("#error")).to_be_visible()
    chat.screenshot("error-unavailable")
    chat.page.locator("#message").fill("")  # the retry button still resends the failed text
    expect(chat.page.locator("#error-text")).to_have_text("The assistant is temporarily unavailable.")
    chat.page.get_by_role("button", name="Retry").click()
    chat.wait_for_replies(1)
    assert chat.user_messages() == ["Bee sting on the arm"]


def test_gateway_timeout_504_can_be_retried(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(error(504, "deadline", "DEADLINE_EXCEEDED"))
    chat.open()
    fail_then_retry(chat, "Twisted my ankle", "The assistant took too long to answer.")


def test_reply_that_breaks_off_mid_stream_can_be_retried(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(
        Behaviour(chunks=["Sit them ", "down and ", "lean forward."], chunk_interval=0.2, break_after=2)
    )
    chat.open()
    fail_then_retry(chat, "Nosebleed that won't stop", "The assistant is temporarily unavailable.")
    # The failed first reply was not stored, so its conversation never existed: no "expired" detour.
    expect(chat.page.get_by_text("has expired")).to_have_count(0)


def test_client_gives_up_after_sixty_quiet_seconds(chat: ChatPage) -> None:
    held: list[Route] = []
    chat.page.clock.install()
    chat.page.route("**/v1/chat", lambda route: held.append(route))  # never answered
    chat.open()
    chat.send("Is this a concussion?")
    chat.page.wait_for_function("() => document.querySelector('#stop') && !document.querySelector('#stop').hidden")
    chat.page.clock.run_for(50_000)
    expect(chat.page.locator("#error")).to_be_hidden()

    chat.page.clock.run_for(11_000)

    expect(chat.page.locator("#error-text")).to_have_text("The assistant is taking too long to answer.")
    assert held, "the page never sent the request"
    chat.page.unroute("**/v1/chat")
    chat.page.get_by_role("button", name="Retry").click()
    chat.wait_for_replies(1)
    assert chat.replies() == ["Fake reply to: Is this a concussion?"]


def test_lost_connection_says_offline_and_retries_when_back(chat: ChatPage) -> None:
    chat.open()
    chat.context.set_offline(True)
    chat.send("Cut my finger")
    expect(chat.page.locator("#error-text")).to_have_text("You are offline.")
    expect(chat.page.locator("#message")).to_have_value("Cut my finger")

    chat.context.set_offline(False)
    expect(chat.page.locator("#error-hint")).to_contain_text("back online")
    chat.page.get_by_role("button", name="Retry").click()
    chat.wait_for_replies(1)
    assert chat.replies() == ["Fake reply to: Cut my finger"]


def test_unreachable_server_is_a_connection_error(chat: ChatPage) -> None:
    chat.page.route("**/v1/chat", lambda route: route.abort("connectionrefused"))
    chat.open()
    chat.send("Sprained wrist")
    expect(chat.page.locator("#error-text")).to_have_text("The connection to the assistant was lost.")
    chat.page.unroute("**/v1/chat")
    chat.page.get_by_role("button", name="Retry").click()
    chat.wait_for_replies(1)


def test_retry_after_a_lost_reply_does_not_store_the_turn_twice(
    chat: ChatPage, stack: Stack, fake_gemini: FakeGemini
) -> None:
    chat.open()
    chat.send("First")
    chat.wait_for_replies(1)
    sent: list[dict[str, str]] = []
    chat.page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if r.method == "POST" else None)
    # The server answers and stores the turn, but the answer never reaches the page.
    chat.page.route("**/v1/chat", lambda route: (route.fetch(), route.abort("connectionreset")))
    chat.send("Second")
    expect(chat.page.locator("#error")).to_be_visible()
    chat.page.unroute("**/v1/chat")

    chat.page.get_by_role("button", name="Retry").click()

    chat.wait_for_replies(2)
    assert [m["message"] for m in sent] == ["Second", "Second"]
    assert sent[0]["client_message_id"] == sent[1]["client_message_id"]
    session_id = chat.page.evaluate("localStorage.getItem('firstaid.sessionId')")
    assert turns_stored(stack, session_id) == 2
    assert [r.message for r in fake_gemini.requests] == ["First", "Second"]
    assert chat.replies() == ["Fake reply to: First", "Fake reply to: Second"]


@pytest.mark.parametrize(
    ("restored", "divider"),
    [(False, "no longer available"), (True, "expired")],
    ids=["announced-on-this-page", "restored-from-an-earlier-visit"],
)
def test_lost_conversation_is_replaced_by_a_new_one(chat: ChatPage, stack: Stack, restored: bool, divider: str) -> None:
    chat.open()
    chat.send("Before expiry")
    chat.wait_for_replies(1)
    session_id = chat.page.evaluate("localStorage.getItem('firstaid.sessionId')")
    if restored:
        chat.page.reload()  # the conversation now comes from an earlier visit: only such a one can expire
        chat.wait_for_replies(1)
    urllib.request.urlopen(urllib.request.Request(f"{stack.api.url}/v1/sessions/{session_id}", method="DELETE"))

    chat.send("After expiry")
    chat.wait_for_replies(2)

    expect(chat.page.locator("#messages .divider")).to_contain_text(divider)
    expect(chat.page.locator("#error")).to_be_hidden()
    new_id = chat.page.evaluate("localStorage.getItem('firstaid.sessionId')")
    assert new_id
    assert new_id != session_id
    assert turns_stored(stack, new_id) == 1

    chat.page.reload()
    expect(chat.page.locator("#messages .message-user .user-text")).to_have_text(["After expiry"])


def test_expired_conversation_on_load_shows_a_notice(chat: ChatPage) -> None:
    chat.context.add_init_script("localStorage.setItem('firstaid.sessionId', 'A' + 'x'.repeat(31))")
    chat.open()
    expect(chat.page.locator("#session-notice")).to_contain_text("has expired")
    expect(chat.page.locator("#welcome")).to_be_visible()
