"""The README's screenshots of each state of the page, at 360 px and 1280 px.

Runs only with ``UPDATE_DOCS_SCREENSHOT=1`` (it checks nothing the other tests don't):
``UPDATE_DOCS_SCREENSHOT=1 .venv/bin/python -m pytest tests/browser/test_docs_screenshots.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ROOT, ChatPage, Stack, _new_chat_page
from tests.browser.test_emergency import CPR_REPLY, MESSAGE
from tests.browser.test_languages import ARABIC_QUESTION, ARABIC_REPLY
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.environ.get("UPDATE_DOCS_SCREENSHOT") != "1", reason="set UPDATE_DOCS_SCREENSHOT=1"),
]

DOCS = ROOT / "docs"
SIZES = {"360": {"width": 360, "height": 740}, "1280": {"width": 1280, "height": 800}}


def welcome(chat: ChatPage, fake: FakeGemini) -> None:
    chat.open()


def emergency(chat: ChatPage, fake: FakeGemini) -> None:
    fake.enqueue(Behaviour(chunks=[CPR_REPLY]))
    chat.open()
    chat.send(MESSAGE)
    chat.wait_for_replies(1)
    chat.page.locator("#message").blur()


def rhythm(chat: ChatPage, fake: FakeGemini) -> None:
    emergency(chat, fake)
    chat.page.locator(".emergency-banner .rhythm-start").click()
    chat.page.wait_for_timeout(2500)
    chat.page.locator("#rhythm-toggle").blur()


def offline_guide(chat: ChatPage, fake: FakeGemini) -> None:
    chat.open()
    for _ in range(100):
        if chat.page.evaluate("() => Boolean(navigator.serviceWorker.controller)"):
            break
        chat.page.wait_for_timeout(100)
    chat.page.wait_for_timeout(500)
    chat.context.set_offline(True)
    chat.page.reload()
    expect(chat.page.locator("#guide-status")).to_be_visible()
    chat.page.locator("#guide-filter").fill("breathing")
    chat.page.locator("#guide-topics li:not([hidden]) summary").first.click()
    chat.page.locator("#guide-filter").blur()
    chat.page.evaluate("window.scrollTo(0, 0)")


def arabic(chat: ChatPage, fake: FakeGemini) -> None:
    fake.enqueue(Behaviour(chunks=[ARABIC_REPLY]))
    chat.open()
    chat.send(ARABIC_QUESTION)
    chat.wait_for_replies(1)
    chat.page.locator("#message").blur()


STATES: dict[str, tuple[Callable[[ChatPage, FakeGemini], None], str | None]] = {
    "welcome": (welcome, None),
    "emergency": (emergency, None),
    "cpr-rhythm": (rhythm, None),
    "offline-guide": (offline_guide, None),
    "arabic": (arabic, "ar-EG"),
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("state", STATES)
def test_screenshot(browser: Browser, stack: Stack, fake_gemini: FakeGemini, state: str, size: str) -> None:
    action, locale = STATES[state]
    options = {"viewport": SIZES[size], "locale": locale or "en-GB"}
    chat, context = _new_chat_page(browser, stack, **options)
    try:
        action(chat, fake_gemini)
        DOCS.mkdir(exist_ok=True)
        chat.page.screenshot(path=str(DOCS / f"page-{state}-{size}.png"))
    finally:
        context.close()
