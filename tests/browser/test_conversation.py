"""The chat page's main flows in a real browser: streaming, reload, new chat, delete, stop."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ChatPage, Stack
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]


def stored_session(chat: ChatPage) -> str | None:
    value = chat.page.evaluate("localStorage.getItem('firstaid.sessionId')")
    return value if isinstance(value, str) else None


def test_reply_streams_in_progressively_then_completes(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(
        Behaviour(
            chunks=["Cool the burn ", "under cool running water ", "for 20 minutes."],
            first_delay=0.6,
            chunk_interval=0.4,
        )
    )
    chat.open()
    expect(chat.page.locator("#welcome")).to_be_visible()
    chat.send("How do I treat a burn?")

    reply = chat.page.locator("#messages .message-model").last
    expect(chat.page.locator("#messages .message-user .user-text")).to_have_text(["How do I treat a burn?"])
    expect(chat.page.locator("#welcome")).to_be_hidden()
    # Before the first words: the typing indicator.
    expect(reply.locator(".typing")).to_be_visible()
    expect(reply.locator(".content")).to_have_text("")
    # Part of the reply is on screen while the rest is still coming.
    expect(reply.locator(".content")).to_contain_text("Cool the burn")
    expect(reply.locator(".typing")).to_be_hidden()
    expect(reply).to_have_attribute("aria-busy", "true")
    assert "20 minutes" not in reply.locator(".content").inner_text()
    expect(chat.page.locator("#message")).to_be_disabled()
    expect(chat.page.locator("#stop")).to_be_visible()

    expect(reply.locator(".content")).to_have_text("Cool the burn under cool running water for 20 minutes.")
    expect(reply).not_to_have_attribute("aria-busy", "true")
    expect(chat.page.locator("#message")).to_be_enabled()
    expect(chat.page.locator("#message")).to_be_focused()
    expect(chat.page.locator("#stop")).to_be_hidden()
    expect(chat.page.locator("#announcer")).to_contain_text("Cool the burn under cool running water")
    assert stored_session(chat)


def test_reload_restores_the_conversation(chat: ChatPage) -> None:
    chat.open()
    chat.send("First question")
    chat.wait_for_replies(1)
    chat.send("Second question")
    chat.wait_for_replies(2)
    session_id = stored_session(chat)

    chat.page.reload()
    chat.page.wait_for_selector("html[data-ready='true']")

    expect(chat.page.locator("#messages .message-user .user-text")).to_have_text(["First question", "Second question"])
    expect(chat.page.locator("#messages .message-model .content")).to_have_text(
        ["Fake reply to: First question", "Fake reply to: Second question"]
    )
    expect(chat.page.locator("#welcome")).to_be_hidden()
    assert stored_session(chat) == session_id
    # The restored conversation carries on in the same session.
    chat.send("Third question")
    chat.wait_for_replies(3)
    assert stored_session(chat) == session_id


def test_new_chat_starts_an_empty_conversation(chat: ChatPage) -> None:
    chat.open()
    chat.send("Old topic")
    chat.wait_for_replies(1)
    first_session = stored_session(chat)

    chat.page.get_by_role("button", name="New chat").click()

    expect(chat.page.locator("#welcome")).to_be_visible()
    expect(chat.page.locator("#messages li")).to_have_count(0)
    expect(chat.page.get_by_role("button", name="Delete conversation")).to_be_disabled()
    assert stored_session(chat) is None
    chat.send("New topic")
    chat.wait_for_replies(1)
    assert stored_session(chat) not in (None, first_session)
    expect(chat.page.locator("#messages .message-user .user-text")).to_have_text(["New topic"])


def test_delete_conversation_asks_then_erases_it_on_the_server(chat: ChatPage, stack: Stack) -> None:
    chat.open()
    chat.send("Please forget this")
    chat.wait_for_replies(1)
    session_id = stored_session(chat)
    assert session_id

    chat.page.get_by_role("button", name="Delete conversation").click()
    dialog = chat.page.get_by_role("dialog", name="Delete this conversation?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert transcript_status(stack, session_id) == 200

    chat.page.get_by_role("button", name="Delete conversation").click()
    dialog.get_by_role("button", name="Delete").click()

    expect(chat.page.locator("#session-notice")).to_have_text("The conversation was deleted.")
    expect(chat.page.locator("#welcome")).to_be_visible()
    expect(chat.page.locator("#messages li")).to_have_count(0)
    assert stored_session(chat) is None
    assert transcript_status(stack, session_id) == 404


def test_stop_keeps_the_partial_reply_and_frees_the_input(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=["Press firmly ", "on the wound ", "with a clean cloth."], chunk_interval=1.0))
    chat.open()
    chat.send("I grazed my knee")
    reply = chat.page.locator("#messages .message-model").last
    expect(reply.locator(".content")).to_contain_text("Press firmly")

    chat.page.get_by_role("button", name="Stop").click()

    expect(reply.locator(".badge-stopped")).to_have_text("Stopped")
    expect(chat.page.locator("#message")).to_be_enabled()
    expect(chat.page.locator("#stop")).to_be_hidden()
    chat.page.wait_for_timeout(1500)  # past the next chunk: nothing more is added
    assert reply.locator(".content").inner_text().strip() == "Press firmly"
    expect(chat.page.locator("#error")).to_be_hidden()


def test_example_question_is_sent_when_clicked(chat: ChatPage) -> None:
    chat.open()
    examples = chat.page.locator("#welcome .example")
    assert examples.count() >= 3
    chat.page.get_by_role("button", name="How do I treat a burn?").click()
    chat.wait_for_replies(1)
    assert chat.user_messages() == ["How do I treat a burn?"]
    assert chat.replies() == ["Fake reply to: How do I treat a burn?"]


def test_emergency_reply_shows_a_call_banner_with_the_number(chat: ChatPage) -> None:
    chat.open()
    chat.send("someone collapsed and is not breathing")
    chat.wait_for_replies(1)

    banner = chat.page.locator("#messages .message-model .emergency-banner")
    expect(banner).to_be_visible()
    call = banner.get_by_role("link", name="Call 112 now")
    expect(call).to_have_attribute("href", "tel:112")
    expect(chat.page.locator("#disclaimer")).to_contain_text("does not replace emergency services")
    expect(chat.page.locator("#disclaimer-number")).to_have_text("112")
    expect(chat.page.locator("#announcer")).to_contain_text("Emergency: call 112 now")
    chat.screenshot("emergency")

    # An ordinary question gets no banner.
    chat.send("How do I treat a graze?")
    chat.wait_for_replies(2)
    expect(chat.page.locator("#messages .message-model").last.locator(".emergency-banner")).to_have_count(0)


def transcript_status(stack: Stack, session_id: str) -> int:
    try:
        with urllib.request.urlopen(f"{stack.api.url}/v1/sessions/{session_id}", timeout=10) as response:
            json.load(response)
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_offline_guide_reply_gets_a_badge_and_the_final_text_wins(chat: ChatPage) -> None:
    # A canned answer in the API's own format: the real server only answers offline when Gemini
    # is down and FALLBACK=offline, which would change every error test in this suite.
    done = {
        "session_id": "S" * 32,
        "reply": "Offline guide: apply **firm pressure**.",
        "finish_reason": "STOP",
        "source": "offline",
        "emergency": False,
        "emergency_number": "999",
        "turn": 1,
        "client_message_id": "x",
        "created_at": "2025-06-14T09:41:00+00:00",
        "replayed": False,
    }
    body = (
        'event: delta\ndata: {"text": "Offline guide: apply "}\n\n'
        'event: delta\ndata: {"text": "something else entirely"}\n\n'
        f"event: done\ndata: {json.dumps(done)}\n\n"
    )
    chat.page.route(
        "**/v1/chat",
        lambda route: route.fulfill(
            status=200,
            body=body,
            headers={"Content-Type": "text/event-stream", "Access-Control-Allow-Origin": "*"},
        ),
    )
    chat.open()
    chat.send("Bleeding")
    chat.wait_for_replies(1)
    reply = chat.page.locator("#messages .message-model").last
    expect(reply.locator(".content")).to_have_text("Offline guide: apply firm pressure.")
    expect(reply.locator(".badge-offline")).to_have_text("Offline guide")
    # The emergency number the server uses replaces the default everywhere.
    expect(chat.page.locator("#disclaimer-number")).to_have_text("999")
    expect(chat.page.locator("#disclaimer-number")).to_have_attribute("href", "tel:999")
