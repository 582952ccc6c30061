"""The chat page's main flows in a real browser: streaming, reload, new chat, delete, stop."""

from __future__ import annotations

import json
import re
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Route, expect

from scripts.build_guide import build_guide
from tests.browser.conftest import STATIC_SITE, ChatPage, Stack, _new_chat_page
from tests.fakes.gemini import Behaviour, FakeGemini, error
from tests.servers import FunctionServer, StaticServer, function_env

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


@pytest.fixture(scope="module")
def fallback_stack(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second function server as deployed by default: when Gemini fails, the offline guide answers.

    ``FALLBACK=offline`` (the session's server has ``none``, which the error tests need), one
    attempt per request, and a non-default ``EMERGENCY_NUMBER``; its page on its own origin.
    """
    work = tmp_path_factory.mktemp("fallback")
    site_dir = work / "site"
    shutil.copytree(STATIC_SITE, site_dir)
    build_guide(site_dir)
    site = StaticServer(site_dir).start()
    env = function_env(
        gemini_server.base_url,
        FALLBACK="offline",
        EMERGENCY_NUMBER="999",
        MODEL_MAX_ATTEMPTS="1",
        SQLITE_PATH=str(work / "chat.sqlite3"),
        ALLOWED_ORIGINS=site.url,
    )
    api = FunctionServer(env, work / "function.log")
    (site_dir / "config.json").write_text(json.dumps({"apiBaseUrl": api.url}))
    try:
        api.start()
        yield Stack(site=site, api=api, site_dir=site_dir)
    finally:
        api.stop()
        site.stop()


@pytest.fixture
def fallback_chat(browser: Browser, fallback_stack: Stack, fake_gemini: FakeGemini) -> Iterator[ChatPage]:
    chat_page, context = _new_chat_page(browser, fallback_stack, viewport={"width": 1280, "height": 800})
    yield chat_page
    context.close()
    assert not chat_page.log.page_errors, f"uncaught errors in the page: {chat_page.log.page_errors}"


def sse_events(body: str) -> list[tuple[str, dict[str, object]]]:
    """The ``(event, data)`` pairs of a server-sent events body (every frame here has one ``data:`` line)."""
    events = []
    for frame in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in frame.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_offline_guide_answer_when_gemini_fails_gets_a_badge_and_the_servers_text(
    fallback_chat: ChatPage, fallback_stack: Stack, fake_gemini: FakeGemini
) -> None:
    fake_gemini.enqueue(error(503, "overloaded", "UNAVAILABLE"))
    fallback_chat.open()
    with fallback_chat.page.expect_response(f"{fallback_stack.api.url}/v1/chat") as sent:
        fallback_chat.send("How do I stop a nosebleed?")
    fallback_chat.wait_for_replies(1)
    events = sse_events(sent.value.text())
    assert [name for name, _ in events][-1] == "done", events
    done = events[-1][1]
    assert len(fake_gemini.requests) == 1  # Gemini was asked, failed, and the guide answered
    assert done["source"] == "offline"
    reply_text = str(done["reply"])
    assert "nosebleed" in reply_text.lower()

    reply = fallback_chat.page.locator("#messages .message-model").last
    expect(reply.locator(".badge-offline")).to_have_text("Offline guide")
    # What is shown is the server's final text, as the page renders it, and nothing more.
    shown = reply.locator(".content").evaluate("node => node.textContent")
    rendered = fallback_chat.page.evaluate(
        "async text => (await import('./render.js')).renderMarkdown(text, document, {phoneNumbers: []}).textContent",
        reply_text,
    )
    assert shown == rendered
    assert plain(reply_text) == " ".join(reply.locator(".content").inner_text().split())
    # The emergency number the server uses replaces the page's default everywhere.
    number = str(done["emergency_number"])
    assert number != "112"
    expect(fallback_chat.page.locator("#disclaimer-number")).to_have_text(number)
    expect(fallback_chat.page.locator("#disclaimer-number")).to_have_attribute("href", f"tel:{number}")
    assert fallback_stack.api.unexpected_errors() == []


def plain(markdown: str) -> str:
    """The words of the light markdown the offline guide writes (emphasis, list markers dropped)."""
    lines = [re.sub(r"^\s*(?:\d+[.)]|[-*])\s+", "", line) for line in markdown.splitlines()]
    text = re.sub(r"\*\*|(?<!\w)_|_(?!\w)", "", " ".join(lines))
    return " ".join(text.split())


def test_the_final_reply_replaces_what_the_stream_showed(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    """The `done` event's reply is what stays on screen, whatever the deltas carried on the way.

    The real server's deltas always add up to its final reply, so the browser's own network
    layer rewrites them between the real server and the page: every delta's text becomes
    "garbled ", and the final event is left as the server sent it.
    """
    fake_gemini.enqueue(Behaviour(chunks=["Cool the burn ", "under cool running water."]))
    seen: list[str] = []

    def rewrite(route: Route) -> None:
        response = route.fetch()
        body = response.text()
        seen.append(body)
        garbled = re.sub(r'(event: delta\ndata: )\{.*?\}\n', r'\1{"text": "garbled "}\n', body)
        assert garbled != body
        route.fulfill(response=response, body=garbled)

    chat.page.route(re.compile(r".*/v1/chat$"), rewrite)
    chat.open()
    chat.send("How do I treat a burn?")
    reply = chat.page.locator("#messages .message-model").last
    expect(reply).not_to_have_attribute("aria-busy", "true")
    done = json.loads(seen[0].split("event: done\ndata: ", 1)[1].split("\n", 1)[0])
    assert done["reply"] == "Cool the burn under cool running water."
    expect(reply.locator(".content")).to_have_text(done["reply"])
