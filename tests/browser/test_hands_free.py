"""Hands-free: read-aloud on each reply and voice input, each hidden where the browser lacks it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ChatPage
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

# Records what the page asks the browser's real speechSynthesis to say (then lets it speak).
RECORD_SPEECH = """
window.__spoken = [];
const speak = window.speechSynthesis.speak.bind(window.speechSynthesis);
window.speechSynthesis.speak = (u) => { window.__spoken.push({text: u.text, lang: u.lang}); speak(u); };
"""
# A browser without speech: what Firefox (no recognition) or a locked-down WebView offers.
NO_SPEECH = """
for (const name of ['speechSynthesis', 'SpeechSynthesisUtterance', 'SpeechRecognition', 'webkitSpeechRecognition']) {
  Object.defineProperty(window, name, {value: undefined, configurable: true});
}
"""
# A microphone cannot be had headless: a recognition object that hears one sentence, as Chrome's reports it.
HEARS_A_SENTENCE = """
class FakeRecognition extends EventTarget {
  start() {
    window.__recognitionLang = this.lang;
    setTimeout(() => {
      const result = Object.assign([{transcript: 'someone is choking'}], {isFinal: true});
      this.dispatchEvent(Object.assign(new Event('result'), {results: [result]}));
      this.dispatchEvent(new Event('end'));
    }, 50);
  }
  stop() {}
}
Object.defineProperty(window, 'webkitSpeechRecognition', {value: FakeRecognition, configurable: true});
Object.defineProperty(window, 'SpeechRecognition', {value: undefined, configurable: true});
"""


def test_each_reply_can_be_read_aloud_in_its_language(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=["اضغط على الجرح بقوة."]))
    chat.context.add_init_script(RECORD_SPEECH)
    chat.open()
    chat.send("كيف أنظف جرحا صغيرا؟")  # "how do I clean a small cut?": no emergency lead
    chat.wait_for_replies(1)
    button = chat.page.locator("#messages .message-model").get_by_role("button", name="Read aloud")
    expect(button).to_be_visible()
    button.click()
    spoken = chat.page.evaluate("window.__spoken")
    assert spoken == [{"text": "اضغط على الجرح بقوة.", "lang": "ar"}]


def test_an_emergency_reply_is_read_aloud_call_first_as_separate_sentences(
    chat: ChatPage, fake_gemini: FakeGemini
) -> None:
    fake_gemini.enqueue(Behaviour(chunks=["اضغط على الجرح بقوة."]))
    chat.context.add_init_script(RECORD_SPEECH)
    chat.open()
    chat.send("نزيف")  # "bleeding": the reply leads with the call, in Arabic
    chat.wait_for_replies(1)
    chat.page.locator("#messages .message-model").get_by_role("button", name="Read aloud").click()
    [spoken] = chat.page.evaluate("window.__spoken")
    assert spoken["lang"] == "ar"
    assert spoken["text"].startswith("اتصل بالرقم 112")
    _, _, rest = spoken["text"].partition("\n")
    assert rest.strip().endswith("اضغط على الجرح بقوة.")


def test_speech_controls_are_hidden_where_the_browser_has_none(chat: ChatPage) -> None:
    chat.context.add_init_script(NO_SPEECH)
    chat.open()
    chat.send("Bee sting")
    chat.wait_for_replies(1)
    expect(chat.page.locator("#voice")).to_be_hidden()
    expect(chat.page.locator(".read-aloud")).to_have_count(0)
    assert chat.log.page_errors == []


def test_spoken_message_is_sent_and_its_reply_read_aloud(chat: ChatPage) -> None:
    chat.context.add_init_script(HEARS_A_SENTENCE)
    chat.context.add_init_script(RECORD_SPEECH)
    chat.open()
    chat.page.get_by_role("button", name="Speak your message").click()
    chat.wait_for_replies(1)
    assert chat.user_messages() == ["someone is choking"]
    assert chat.page.evaluate("window.__recognitionLang") == "en"
    expect(chat.page.locator("#messages .message-model .content")).to_contain_text("Fake reply to: someone is choking")
    spoken = chat.page.evaluate("window.__spoken")
    assert spoken and "Fake reply to: someone is choking" in spoken[-1]["text"]
