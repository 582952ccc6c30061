"""Keyboard use, landmarks and labels, phone width, dark mode, and the screenshots the README uses."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ROOT, ChatPage
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

DOCS_SCREENSHOT = ROOT / "docs" / "screenshot.png"
BURN_REPLY = (
    "Cool the burn straight away:\n\n"
    "1. Hold it under **cool running water for 20 minutes**.\n"
    "2. Remove jewellery or clothing near the burn, unless it is stuck to the skin.\n"
    "3. Cover it loosely with cling film or a clean plastic bag.\n\n"
    "Get medical help if the burn is larger than the person's hand, on the face, hands or genitals, "
    "or if the skin looks white or charred. More at [NHS: burns and scalds](https://www.nhs.uk/conditions/burns-and-scalds/)."
)


def background_luminance(page: Page) -> float:
    """Relative brightness (0 dark to 1 light) of the page background."""
    rgb = page.evaluate("getComputedStyle(document.body).backgroundColor.match(/\\d+/g).slice(0, 3).map(Number)")
    r, g, b = (channel / 255 for channel in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def focused_outline(page: Page, selector: str) -> str:
    return str(page.evaluate(f"getComputedStyle(document.querySelector('{selector}')).outlineStyle"))


def test_keyboard_alone_can_write_send_and_use_the_controls(chat: ChatPage) -> None:
    chat.open()
    page = chat.page
    for _ in range(15):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "message":
            break
    expect(page.locator("#message")).to_be_focused()
    assert focused_outline(page, "#composer") != "none"  # the focus ring is drawn around the box

    page.keyboard.type("My child swallowed a coin")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("What should I do?")
    expect(page.locator("#message")).to_have_value("My child swallowed a coin\nWhat should I do?")
    expect(page.locator("#messages li")).to_have_count(0)  # Shift+Enter did not send
    page.keyboard.press("Enter")

    chat.wait_for_replies(1)
    assert chat.user_messages() == ["My child swallowed a coin\nWhat should I do?"]
    expect(page.locator("#message")).to_be_focused()  # ready for the next message

    # The header buttons are reachable too, and show where focus is.
    for _ in range(10):
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") in ("delete-chat", "new-chat"):
            break
    assert page.evaluate("document.activeElement.matches(':focus-visible')")
    assert focused_outline(page, "#" + page.evaluate("document.activeElement.id")) == "solid"


def test_escape_stops_a_streaming_reply(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=["Lie them down ", "and raise ", "their legs."], chunk_interval=1.0))
    chat.open()
    chat.send("They feel faint")
    reply = chat.page.locator("#messages .message-model").last
    expect(reply.locator(".content")).to_contain_text("Lie them down")
    chat.page.keyboard.press("Escape")
    expect(reply.locator(".badge-stopped")).to_be_visible()
    expect(chat.page.locator("#message")).to_be_focused()


def test_landmarks_headings_and_labels(chat: ChatPage) -> None:
    chat.open()
    page = chat.page
    expect(page.get_by_role("banner")).to_have_count(1)
    expect(page.get_by_role("main")).to_have_count(1)
    expect(page.get_by_role("contentinfo")).to_contain_text("does not replace emergency services")
    expect(page.get_by_role("heading", level=1)).to_have_text("First-aid assistant")
    expect(page.get_by_role("textbox", name="Message")).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    expect(page.locator("[aria-live='polite']")).to_have_count(1)
    # Every button has a name.
    nameless = page.evaluate(
        "[...document.querySelectorAll('button')].filter(b => !(b.getAttribute('aria-label') || b.textContent.trim()))"
        ".map(b => b.outerHTML)"
    )
    assert nameless == []
    assert page.evaluate("document.documentElement.lang") == "en"


def test_phone_width_dark_mode_has_no_sideways_scroll(phone_chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(
        Behaviour(chunks=[BURN_REPLY + " https://example.org/a/very/long/path/that/keeps/going/and/going/" + "x" * 80])
    )
    phone_chat.open()
    page = phone_chat.page
    assert background_luminance(page) < 0.1
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    phone_chat.send("How do I treat a burn?")
    phone_chat.wait_for_replies(1)

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    rightmost = page.evaluate(
        "Math.max(...[...document.querySelectorAll('body *')].map(e => e.getBoundingClientRect().right))"
    )
    assert rightmost <= 360
    expect(page.locator("#disclaimer")).to_be_in_viewport()
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    text_color = page.evaluate("getComputedStyle(document.querySelector('.message-model .bubble')).color")
    assert text_color != "rgb(23, 32, 42)"  # light-mode text would be unreadable on the dark bubble
    phone_chat.screenshot("phone-dark")


def test_desktop_light_mode_screenshot(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=[BURN_REPLY]))
    chat.open()
    assert background_luminance(chat.page) > 0.9
    chat.screenshot("desktop-light-welcome")
    chat.send("How do I treat a burn?")
    chat.wait_for_replies(1)
    reply = chat.page.locator("#messages .message-model .content")
    expect(reply.locator("ol > li")).to_have_count(3)
    expect(reply.locator("strong")).to_have_text("cool running water for 20 minutes")
    chat.page.locator("#message").blur()
    path = chat.screenshot("desktop-light")
    if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS_SCREENSHOT)
