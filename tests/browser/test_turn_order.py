"""One ordered conversation, on screen and on the server, when people press Stop, send again and Delete.

The server finishes and stores a reply after Stop; the page must not let the next
message overtake it, must never call a conversation it was just given "expired", and
a Delete must not be undone by the reply that was still being written.
"""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ChatPage, Stack
from tests.browser.test_conversation import stored_session, transcript_status
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

SLOW = Behaviour(chunks=["Cool the burn ", "under running water ", "for 20 minutes."], chunk_interval=0.8)


def stored_texts(stack: Stack, session_id: str) -> list[tuple[str, str]]:
    with urllib.request.urlopen(f"{stack.api.url}/v1/sessions/{session_id}", timeout=10) as response:
        return [(m["role"], m["text"]) for m in json.load(response)["messages"]]


def stop_while_streaming(chat: ChatPage) -> None:
    reply = chat.page.locator("#messages .message-model").last
    expect(reply.locator(".content")).to_contain_text("Cool the burn")
    chat.page.get_by_role("button", name="Stop").click()
    expect(reply.locator(".badge-stopped")).to_be_visible()


@pytest.mark.parametrize("existing", [False, True], ids=["new-chat", "existing-chat"])
def test_stop_then_send_keeps_one_ordered_conversation(
    chat: ChatPage, fake_gemini: FakeGemini, stack: Stack, existing: bool
) -> None:
    chat.open()
    if existing:
        chat.send("hello")
        chat.wait_for_replies(1)
    fake_gemini.enqueue(SLOW)
    chat.send("I burned my hand")
    stop_while_streaming(chat)
    chat.send("and now it has blistered")  # the stopped reply is still being written on the server

    expect(chat.page.locator("#session-notice")).to_contain_text("still being answered")
    chat.wait_for_replies(3 if existing else 2)
    expect(chat.page.locator("#session-notice")).to_be_hidden()
    expect(chat.page.locator("#messages")).not_to_contain_text("expired")
    session_id = stored_session(chat)
    assert session_id
    users = [text for role, text in stored_texts(stack, session_id) if role == "user"]
    assert users == [*(["hello"] if existing else []), "I burned my hand", "and now it has blistered"]
    # What the model was asked for the follow-up includes the stopped exchange, in order.
    last_contents = fake_gemini.requests[-1].body["contents"]
    asked = [part["text"] for content in last_contents for part in content["parts"] if content["role"] == "user"]
    assert asked[-2:] == ["I burned my hand", "and now it has blistered"]

    chat.page.reload()
    chat.wait_for_replies(3 if existing else 2)
    assert chat.user_messages() == users


def test_delete_after_stop_is_not_undone_by_the_reply_still_being_written(
    chat: ChatPage, fake_gemini: FakeGemini, stack: Stack
) -> None:
    chat.open()
    fake_gemini.enqueue(SLOW)
    chat.send("please forget this burn question")
    stop_while_streaming(chat)
    session_id = stored_session(chat)
    assert session_id
    chat.page.get_by_role("button", name="Delete conversation").click()
    chat.page.get_by_role("dialog", name="Delete this conversation?").get_by_role("button", name="Delete").click()
    expect(chat.page.locator("#session-notice")).to_have_text("The conversation was deleted.")
    assert transcript_status(stack, session_id) == 404
    time.sleep(3 * SLOW.chunk_interval + 0.5)  # the server has finished the reply it was writing
    assert transcript_status(stack, session_id) == 404
    assert stored_session(chat) is None
