"""With no network after one visit, or with the API unreachable, the page opens the offline guide."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import ChatPage, Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

CACHE_READY = """async () => {
  if (!navigator.serviceWorker.controller) return false;
  const cache = await caches.open('firstaid-page-v1');
  return Boolean(await cache.match('guide.json')) && Boolean(await cache.match('./'));
}"""


def wait_for_offline_copy(chat: ChatPage) -> None:
    """Until the service worker controls the page and holds the page and the guide (bounded)."""
    for _ in range(100):
        if chat.page.evaluate(CACHE_READY):
            return
        chat.page.wait_for_timeout(100)
    raise AssertionError("the service worker never cached the page and the guide")


def test_with_the_network_cut_after_one_visit_the_guide_and_call_link_open(chat: ChatPage, stack: Stack) -> None:
    chat.open()
    wait_for_offline_copy(chat)
    chat.context.set_offline(True)

    chat.page.reload()
    chat.page.wait_for_selector("html[data-ready='true']")

    guide = chat.page.locator("#guide")
    expect(guide).to_be_visible()
    expect(chat.page.locator("#guide-status")).to_contain_text("You are offline")
    expect(guide.get_by_role("link", name="Call 112")).to_have_attribute("href", "tel:112")
    # Every topic the function knows, life-threatening ones first.
    expected = json.loads((stack.site_dir / "guide.json").read_text())["topics"]
    topics = chat.page.locator("#guide-topics > li")
    expect(topics).to_have_count(len(expected))
    urgent = [t["life_threatening"] for t in expected]
    assert urgent == sorted(urgent, reverse=True)
    classes = topics.evaluate_all("items => items.map(i => i.classList.contains('guide-urgent'))")
    assert classes == urgent
    assert any(urgent) and not all(urgent)

    chat.page.locator("#guide-filter").fill("burn")
    visible = chat.page.locator("#guide-topics > li:not([hidden])")
    expect(visible.first).to_be_visible()
    assert "burns-and-scalds" in visible.evaluate_all("items => items.map(i => i.dataset.slug)")
    burn = chat.page.locator("#guide-topics li[data-slug='burns-and-scalds']")
    burn.locator("summary").click()
    expect(burn.locator(".guide-steps > li").first).to_be_visible()
    chat.page.locator("#guide-filter").fill("zzzz no such thing")
    expect(chat.page.locator("#guide-empty")).to_be_visible()
    chat.screenshot("offline-guide")

    # The network returns: the page says so, and chat resumes.
    chat.context.set_offline(False)
    expect(chat.page.locator("#guide-status")).to_contain_text("back online")
    chat.send("How do I treat a burn?")
    chat.wait_for_replies(1)
    expect(guide).to_be_hidden()
    assert chat.replies() == ["Fake reply to: How do I treat a burn?"]
    # The chat API (another origin) never lands in the offline copy.
    cached = chat.page.evaluate("async () => (await (await caches.open('firstaid-page-v1')).keys()).map(r => r.url)")
    assert cached and all(url.startswith(stack.site.url) for url in cached), cached


def test_api_unreachable_while_online_opens_the_guide_and_retry_still_works(chat: ChatPage, stack: Stack) -> None:
    chat.context.route(f"{stack.api.url}/**", lambda route: route.abort("connectionrefused"))
    chat.open()
    chat.send("My friend has a nosebleed")

    expect(chat.page.locator("#guide")).to_be_visible()
    expect(chat.page.locator("#guide-status")).to_contain_text("cannot be reached")
    expect(chat.page.locator("#error-text")).to_have_text("The connection to the assistant was lost.")
    expect(chat.page.locator("#guide-topics li[data-slug='nosebleed']")).to_have_count(1)
    expect(chat.page.locator("#guide-call")).to_have_attribute("href", "tel:112")
    # The failure and its Retry sit above the guide.
    error_top = chat.page.locator("#error").bounding_box()
    guide_top = chat.page.locator("#guide").bounding_box()
    assert error_top and guide_top and error_top["y"] < guide_top["y"]
    expect(chat.page.locator("#message")).to_have_value("My friend has a nosebleed")

    chat.context.unroute(f"{stack.api.url}/**")
    chat.page.get_by_role("button", name="Retry").click()
    chat.wait_for_replies(1)
    expect(chat.page.locator("#guide")).to_be_hidden()
    assert chat.replies() == ["Fake reply to: My friend has a nosebleed"]


def test_guide_opens_from_the_start_screen_and_the_header(phone_chat: ChatPage) -> None:
    phone_chat.open()
    phone_chat.page.get_by_role("button", name="Open the first-aid guide").click()
    expect(phone_chat.page.locator("#guide")).to_be_visible()
    expect(phone_chat.page.locator("#guide-status")).to_be_hidden()  # opened by hand: nothing to explain
    expect(phone_chat.page.locator("#guide-topics > li").first).to_be_visible()
    phone_chat.screenshot("guide-phone")
    phone_chat.page.get_by_role("button", name="Back to chat").click()
    expect(phone_chat.page.locator("#welcome")).to_be_visible()


def test_a_stored_conversation_opened_offline_loads_when_the_network_returns(chat: ChatPage) -> None:
    chat.open()
    chat.send("How do I treat a graze?")
    chat.wait_for_replies(1)
    wait_for_offline_copy(chat)
    chat.context.set_offline(True)
    chat.page.reload()
    chat.page.wait_for_selector("html[data-ready='true']")
    expect(chat.page.locator("#guide")).to_be_visible()
    expect(chat.page.locator("#error-text")).to_have_text("Your conversation could not be loaded.")

    chat.context.set_offline(False)
    expect(chat.page.locator("#guide-status")).to_contain_text("back online")
    expect(chat.page.locator("#error")).to_be_hidden()
    chat.page.get_by_role("button", name="Back to chat").click()
    replies = chat.page.locator("#messages .message-model .content")
    expect(replies).to_have_text(["Fake reply to: How do I treat a graze?"])


def test_losing_the_network_mid_conversation_says_so_without_covering_the_chat(chat: ChatPage) -> None:
    chat.open()
    chat.send("Bee sting")
    chat.wait_for_replies(1)
    chat.context.set_offline(True)
    notice = chat.page.locator("#offline-notice")
    expect(notice).to_be_visible()
    expect(chat.page.locator("#messages .message-model")).to_be_visible()
    notice.get_by_role("button", name="Open the first-aid guide").click()
    expect(chat.page.locator("#guide")).to_be_visible()
    chat.context.set_offline(False)
    expect(notice).to_be_hidden()
