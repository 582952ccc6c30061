"""Every script and language: right-to-left text, lists in any digits, input methods, the UI's language."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.conftest import ChatPage, Stack, _new_chat_page
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

ARABIC_QUESTION = "كيف أعالج الحرق؟"
ARABIC_REPLY = (
    "برّد الحرق فوراً:\n\n"
    "١. ضع الحرق تحت ماء جارٍ بارد لمدة ٢٠ دقيقة.\n"
    "٢. انزع الخواتم أو الملابس القريبة من الحرق.\n"
    "٣. غطِّ الحرق بغلاف بلاستيكي نظيف."
)

# Safari's order for a confirmed IME composition: compositionend, then keydown Enter with keyCode 229.
SAFARI_IME_ENTER = """() => {
  const box = document.querySelector('#message');
  box.focus();
  box.dispatchEvent(new CompositionEvent('compositionstart', {data: ''}));
  box.value = 'きゅうきゅうしゃ';
  box.dispatchEvent(new InputEvent('input', {data: 'きゅうきゅうしゃ', isComposing: true}));
  box.value = '救急車';
  box.dispatchEvent(new CompositionEvent('compositionend', {data: '救急車'}));
  const enter = new KeyboardEvent('keydown', {key: 'Enter', code: 'Enter', keyCode: 229, which: 229,
                                             isComposing: false, bubbles: true, cancelable: true});
  box.dispatchEvent(enter);
  return {keyCode: enter.keyCode, isComposing: enter.isComposing};
}"""


def direction(chat: ChatPage, selector: str) -> str:
    return str(chat.page.locator(selector).first.evaluate("el => getComputedStyle(el).direction"))


def test_arabic_conversation_reads_right_to_left_with_arabic_digit_list(
    chat: ChatPage, fake_gemini: FakeGemini
) -> None:
    fake_gemini.enqueue(Behaviour(chunks=[ARABIC_REPLY]))
    chat.open()
    chat.page.locator("#message").fill(ARABIC_QUESTION)
    assert direction(chat, "#message") == "rtl"  # the box follows what is typed in it
    chat.page.locator("#message").press("Enter")
    chat.wait_for_replies(1)

    assert direction(chat, "#messages .user-text") == "rtl"
    content = chat.page.locator("#messages .message-model .content")
    assert direction(chat, "#messages .message-model .content p") == "rtl"
    steps = content.locator("ol > li")
    expect(steps).to_have_count(3)
    assert direction(chat, "#messages .message-model .content ol") == "rtl"
    expect(steps.first).to_have_text("ضع الحرق تحت ماء جارٍ بارد لمدة ٢٠ دقيقة.")
    assert content.locator("ol").evaluate("el => getComputedStyle(el).listStyleType") == "arabic-indic"
    # The page around it stays in the UI's direction (English here).
    assert direction(chat, "body") == "ltr"
    chat.screenshot("arabic-reply")


def test_lists_numbered_in_other_digits_keep_their_numbers(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=["३. पहला\n४. दूसरा\n\n1、第一步\n2、第二步\n\n５．五\n６．六"]))
    chat.open()
    chat.send("steps")
    chat.wait_for_replies(1)
    lists = chat.page.locator("#messages .message-model .content ol")
    expect(lists).to_have_count(3)
    assert lists.evaluate_all("ls => ls.map(l => [l.start, l.children.length])") == [[3, 2], [1, 2], [5, 2]]
    assert lists.first.evaluate("el => getComputedStyle(el).listStyleType") == "devanagari"


def test_ime_confirm_enter_in_safari_order_does_not_send(chat: ChatPage) -> None:
    chat.open()
    fired = chat.page.evaluate(SAFARI_IME_ENTER)
    assert fired == {"keyCode": 229, "isComposing": False}  # the event really had Safari's shape
    chat.page.wait_for_timeout(300)
    expect(chat.page.locator("#messages li")).to_have_count(0)
    expect(chat.page.locator("#message")).to_have_value("救急車")
    # A real Enter afterwards sends.
    chat.page.locator("#message").press("Enter")
    chat.wait_for_replies(1)
    assert chat.user_messages() == ["救急車"]


def test_ui_language_follows_the_browser_and_the_switch(
    browser: Browser, stack: Stack, fake_gemini: FakeGemini
) -> None:
    chat, context = _new_chat_page(browser, stack, viewport={"width": 360, "height": 740}, locale="ar-EG")
    try:
        chat.open()
        html = chat.page.locator("html")
        expect(html).to_have_attribute("lang", "ar")
        expect(html).to_have_attribute("dir", "rtl")
        expect(chat.page.locator("#welcome-title")).to_have_text("كيف يمكنني المساعدة؟")
        expect(chat.page.locator("#language")).to_have_value("ar")
        assert chat.page.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll in RTL
        chat.screenshot("arabic-ui-phone")

        chat.page.locator("#language").select_option("es")
        expect(html).to_have_attribute("lang", "es")
        expect(html).to_have_attribute("dir", "ltr")
        expect(chat.page.locator("#welcome-title")).to_have_text("¿Cómo puedo ayudarte?")
        chat.page.reload()
        chat.page.wait_for_selector("html[data-ready='true']")
        expect(html).to_have_attribute("lang", "es")  # the choice is kept
        expect(chat.page.locator("#welcome-call")).to_contain_text("112")
        assert chat.log.page_errors == []
    finally:
        context.close()
