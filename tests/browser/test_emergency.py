"""In an emergency: the call button and the first step in view, a call button from the start, 44 px
targets, and a CPR rhythm at 110 a minute measured on the page's own clock."""

from __future__ import annotations

import json
import statistics
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import STATIC_SITE, ChatPage, Stack
from tests.fakes.gemini import Behaviour, FakeGemini

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

CPR_STEPS = [
    "Check for danger, then check whether they respond: shout and tap their shoulders.",
    "Open the airway: tilt the head back and lift the chin.",
    "Look, listen and feel for normal breathing for no more than 10 seconds.",
    "If they are not breathing normally, start CPR at once.",
    "Kneel beside them and put the heel of one hand in the centre of the chest.",
    "Put your other hand on top and interlock your fingers.",
    "Push down 5 to 6 cm, then let the chest come back up, 100 to 120 times a minute.",
    "Send someone for an AED (defibrillator) if one is near, and switch it on as soon as it arrives.",
    "Keep going until help takes over, the person starts breathing normally, or you are exhausted.",
]
CPR_REPLY = "Stay calm, help is on the way.\n\n" + "\n".join(f"{n}. {step}" for n, step in enumerate(CPR_STEPS, 1))
MESSAGE = "my husband collapsed and isn't breathing"
TARGET_PX = 44

# Where each thing sits in the viewport, and the part of the viewport the sticky header and dock leave free.
RECTS = """() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, height: r.height};
  };
  const reply = document.querySelector('#messages .message-model:last-child');
  return {
    call: box(reply.querySelector('.emergency-call')),
    firstStep: box(reply.querySelector('.content ol > li')),
    header: box(document.querySelector('.topbar')),
    dock: box(document.querySelector('.dock')),
    viewport: window.innerHeight,
    scrollable: document.documentElement.scrollHeight > window.innerHeight,
  };
}"""


def assert_in_view(rects: dict[str, Any], name: str) -> None:
    visible_top = rects["header"]["bottom"]
    visible_bottom = min(rects["dock"]["top"], rects["viewport"])
    box = rects[name]
    assert box["height"] > 0, f"{name} has no size"
    assert box["top"] >= visible_top - 0.5, f"{name} is above the visible area: {box} vs header {visible_top}"
    assert box["bottom"] <= visible_bottom + 0.5, f"{name} is below the visible area: {box} vs {visible_bottom}"


def send_emergency(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=[CPR_REPLY[i : i + 60] for i in range(0, len(CPR_REPLY), 60)]))
    chat.open()
    chat.send(MESSAGE)
    chat.wait_for_replies(1)


def test_call_button_and_first_step_stay_in_view_on_a_360_px_phone(
    phone_chat: ChatPage, fake_gemini: FakeGemini
) -> None:
    send_emergency(phone_chat, fake_gemini)
    rects = phone_chat.page.evaluate(RECTS)
    assert rects["scrollable"], "the reply must be longer than the screen for this to mean anything"
    assert_in_view(rects, "call")
    assert_in_view(rects, "firstStep")
    assert rects["call"]["height"] >= TARGET_PX
    phone_chat.screenshot("emergency-phone")


def test_call_button_and_first_step_stay_in_view_on_a_desktop(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    chat.page.set_viewport_size({"width": 1280, "height": 720})
    send_emergency(chat, fake_gemini)
    rects = chat.page.evaluate(RECTS)
    assert_in_view(rects, "call")
    assert_in_view(rects, "firstStep")


def test_a_long_reply_streams_in_below_its_first_step(phone_chat: ChatPage, fake_gemini: FakeGemini) -> None:
    pieces = [CPR_REPLY[i : i + 40] for i in range(0, len(CPR_REPLY), 40)]
    fake_gemini.enqueue(Behaviour(chunks=pieces, chunk_interval=0.08))
    phone_chat.open()
    phone_chat.send("How do I do chest compressions?")
    # Well past one screen, still streaming:
    phone_chat.page.wait_for_function(
        "() => document.querySelectorAll('#messages .message-model[aria-busy] .content ol > li').length >= 6"
    )
    reply_rects = RECTS.replace("reply.querySelector('.emergency-call')", "reply")  # no banner: the reply itself
    rects = phone_chat.page.evaluate(reply_rects)
    assert_in_view({**rects, "replyTop": {**rects["call"], "bottom": rects["call"]["top"]}}, "replyTop")
    phone_chat.wait_for_replies(1)
    assert_in_view(phone_chat.page.evaluate(reply_rects), "firstStep")


def test_start_screen_has_a_call_button_with_the_configured_number(phone_chat: ChatPage) -> None:
    phone_chat.open()
    call = phone_chat.page.locator("#welcome").get_by_role("link", name="Call 112")
    expect(call).to_have_attribute("href", "tel:112")
    expect(call).to_be_in_viewport()
    box = call.bounding_box()
    assert box is not None
    assert box["height"] >= TARGET_PX


def test_the_configured_numbers_are_the_ones_offered(chat: ChatPage, stack: Stack, fake_gemini: FakeGemini) -> None:
    config = {"apiBaseUrl": stack.api.url, "emergencyNumber": "999", "crisisNumber": "116 123"}
    chat.page.route("**/config.json", lambda route: route.fulfill(json=config))
    fake_gemini.enqueue(Behaviour(chunks=["Call [116 123](tel:116123) or [0800 555 0100](tel:08005550100)."]))
    chat.open()
    call = chat.page.locator("#welcome").get_by_role("link", name="Call 999")
    expect(call).to_have_attribute("href", "tel:999")
    chat.page.get_by_role("button", name="Open the first-aid guide").click()
    expect(chat.page.locator("#guide-call")).to_have_attribute("href", "tel:999")
    cpr = chat.page.locator("#guide-topics li[data-slug='cpr-adult']")
    expect(cpr.locator(".guide-steps > li").first.locator("a")).to_have_attribute("href", "tel:999")
    chat.send("Who can I talk to?")
    chat.wait_for_replies(1)
    links = chat.page.locator("#messages .message-model .content a")
    expect(links).to_have_count(1)  # the configured crisis line, not another number
    expect(links).to_have_attribute("href", "tel:116123")


def targets_smaller_than(page: Page, minimum: int) -> list[str]:
    """Visible buttons, selects, text boxes, summaries and call links smaller than `minimum` px either way."""
    return list(
        page.evaluate(
            """(minimum) => [...document.querySelectorAll(
                 'button, select, input, textarea, summary, a.call-button, a.emergency-call')]
               .filter((el) => el.getClientRects().length && getComputedStyle(el).visibility !== 'hidden')
               .filter((el) => !el.closest('.visually-hidden, .narrow-hidden'))
               .map((el) => [el, el.getBoundingClientRect()])
               .filter(([, r]) => r.height < minimum || r.width < minimum)
               .map(([el, r]) => `${el.tagName} ${el.id || el.className} ${r.width}x${r.height}`)""",
            minimum,
        )
    )


def test_touch_targets_are_at_least_44_px(phone_chat: ChatPage, fake_gemini: FakeGemini) -> None:
    phone_chat.open()
    assert targets_smaller_than(phone_chat.page, TARGET_PX) == []
    fake_gemini.enqueue(Behaviour(chunks=[CPR_REPLY]))
    phone_chat.send(MESSAGE)
    phone_chat.wait_for_replies(1)
    phone_chat.page.locator(".emergency-banner .rhythm-start").click()
    expect(phone_chat.page.locator("#rhythm")).to_be_visible()
    assert targets_smaller_than(phone_chat.page, TARGET_PX) == []
    phone_chat.page.get_by_role("button", name="Guide", exact=True).click()
    phone_chat.page.locator("#guide-topics summary").first.click()
    assert targets_smaller_than(phone_chat.page, TARGET_PX) == []


def beat_rate(page: Page, run_ms: int) -> float:
    """Compressions a minute over `run_ms` of the page's clock, from the beats the rhythm recorded."""
    first = page.evaluate("() => ({...document.querySelector('#rhythm').dataset})")
    page.clock.run_for(run_ms)
    last = page.evaluate("() => ({...document.querySelector('#rhythm').dataset})")
    beats = int(last["beats"]) - int(first["beats"])
    return 60_000 * beats / (float(last["lastBeat"]) - float(first["lastBeat"]))


def test_cpr_rhythm_runs_at_110_a_minute_with_breaths_prompts(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    chat.page.clock.install()
    fake_gemini.enqueue(Behaviour(chunks=[CPR_REPLY]))
    chat.open()
    chat.send(MESSAGE)
    chat.wait_for_replies(1)
    chat.page.locator(".emergency-banner").get_by_role("button", name="CPR rhythm").click()
    panel = chat.page.locator("#rhythm")
    expect(panel).to_be_visible()

    chat.page.locator("#rhythm-ratio").select_option("0")  # hands-only: a steady beat
    rate = beat_rate(chat.page, 30_000)
    assert abs(rate - 110) <= 2, rate
    expect(chat.page.locator("#rhythm-elapsed")).to_have_text("0:30")
    expect(chat.page.locator("#message")).to_be_enabled()  # the chat goes on beside it

    chat.page.locator("#rhythm-ratio").select_option("30")
    chat.page.clock.run_for(29 * 60_000 // 110)
    expect(chat.page.locator("#rhythm-prompt")).to_have_text("Push hard and fast")
    chat.page.clock.run_for(2 * 60_000 // 110)
    expect(chat.page.locator("#rhythm-count")).to_have_text("30")
    expect(chat.page.locator("#rhythm-prompt")).to_have_text("Give 2 rescue breaths")
    chat.page.clock.run_for(6_000)
    expect(chat.page.locator("#rhythm-prompt")).to_have_text("Push hard and fast")

    chat.page.get_by_role("button", name="Stop", exact=True).click()
    expect(panel).to_be_hidden()


def test_cpr_rhythm_keeps_its_rate_on_the_real_clock(chat: ChatPage) -> None:
    chat.open()
    chat.page.get_by_role("button", name="Guide", exact=True).click()
    chat.page.locator("#guide-topics li[data-slug='cpr-adult'] summary").click()
    chat.page.locator("#guide-topics li[data-slug='cpr-adult']").get_by_role("button", name="CPR rhythm").click()
    chat.page.locator("#rhythm-ratio").select_option("0")
    # Every beat's time on the page's clock, sampled for 4 s; the median gap between beats resists
    # the odd beat a busy machine delivers late (the next one is then early: the schedule holds).
    seen: dict[int, float] = {}
    for _ in range(100):
        data = chat.page.evaluate("() => ({...document.querySelector('#rhythm').dataset})")
        seen[int(data["beats"])] = float(data["lastBeat"])
        chat.page.wait_for_timeout(40)
    gaps = sorted(seen[n] - seen[n - 1] for n in seen if n - 1 in seen)
    assert len(gaps) >= 5, seen
    rate = 60_000 / statistics.median(gaps)
    assert abs(rate - 110) <= 2, (rate, gaps)


def test_the_banner_speaks_the_language_the_person_wrote_in(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    """The page is in English (the browser's language), the person writes in Spanish: the banner
    above the reply is in Spanish like the reply's own lead, marked lang="es"."""
    fake_gemini.enqueue(Behaviour(chunks=["Mantenga la calma."]))
    chat.open()
    chat.send("mi padre se desmayo y no respira")
    reply = chat.page.locator("#messages .message-model").last
    expect(reply).not_to_have_attribute("aria-busy", "true")
    strings = json.loads((STATIC_SITE / "i18n" / "es.json").read_text(encoding="utf-8"))
    banner = reply.locator(".emergency-banner")
    expect(banner.locator("strong")).to_have_text(strings["emergency_banner"])
    expect(banner.locator(".emergency-call")).to_have_text(strings["call_number_now"].replace("{number}", "112"))
    expect(banner).to_have_attribute("lang", "es")
    expect(reply.locator(".content")).to_contain_text("Llame al 112")
    assert chat.page.evaluate("document.documentElement.lang") == "en"
    # Reloaded from the stored conversation: the same.
    chat.page.reload()
    stored = chat.page.locator("#messages .message-model").last.locator(".emergency-banner")
    expect(stored.locator("strong")).to_have_text(strings["emergency_banner"])
    expect(stored).to_have_attribute("lang", "es")
