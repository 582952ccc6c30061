"""Model output is untrusted, the page runs under a strict CSP, and the API key never reaches the browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Request, Response, Route, expect

from tests.browser.conftest import ChatPage, Stack
from tests.fakes.gemini import Behaviour, FakeGemini
from tests.leaks import WATCHED

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(90)]

HOSTILE_REPLY = [
    "Here you go: <img src=x onerror=alert(1)> and ",
    "<script>alert(2)</script>\n\n",
    "1. Try [click](javascript:alert(3))\n",
    "2. Read [NHS](https://www.nhs.uk) or https://www.redcross.org/first-aid.\n",
    "3. **Stay <b>calm</b>** [mail](mailto:help@example.org) [data](data:text/html,<script>alert(4)</script>)",
]
CSP_DIRECTIVES = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self' http://127.0.0.1:* http://localhost:* https:",
    "base-uri 'none'",
    "form-action 'none'",
]


def test_hostile_reply_is_shown_as_text_and_runs_nothing(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=HOSTILE_REPLY, chunk_interval=0.05))
    chat.open()
    chat.send("Show me links")
    chat.wait_for_replies(1)
    chat.page.wait_for_timeout(300)  # time for any injected handler to have fired

    content = chat.page.locator("#messages .message-model .content")
    expect(content).to_contain_text("<img src=x onerror=alert(1)>")
    expect(content).to_contain_text("<script>alert(2)</script>")
    expect(content).to_contain_text("[click](javascript:alert(3))")
    messages = chat.page.locator("#messages")
    for selector in ("img", "script", "b", "iframe", "[onerror]", "a[href^='javascript']", "a[href^='data']"):
        expect(messages.locator(selector)).to_have_count(0)
    assert chat.log.dialogs == []
    assert chat.log.console_errors == []

    links = content.locator("a")
    expect(links).to_have_count(3)
    nhs = content.get_by_role("link", name="NHS")
    expect(nhs).to_have_attribute("href", "https://www.nhs.uk/")
    expect(nhs).to_have_attribute("target", "_blank")
    expect(nhs).to_have_attribute("rel", "noopener noreferrer")
    bare = content.get_by_role("link", name="https://www.redcross.org/first-aid")
    expect(bare).to_have_attribute("href", "https://www.redcross.org/first-aid")  # the full stop is not part of it
    expect(bare).to_have_attribute("rel", "noopener noreferrer")
    expect(content.get_by_role("link", name="mail")).to_have_attribute("href", "mailto:help@example.org")
    # The markdown around them still renders: a numbered list and bold text.
    expect(content.locator("ol > li")).to_have_count(3)
    expect(content.locator("strong")).to_have_text("Stay <b>calm</b>")


def test_page_declares_a_strict_csp_and_breaks_none_of_it(chat: ChatPage) -> None:
    chat.open()
    policy = chat.page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content") or ""
    for directive in CSP_DIRECTIVES:
        assert directive in policy
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert chat.page.locator("[style]").count() == 0
    assert chat.page.locator("script:not([src])").count() == 0

    chat.send("someone collapsed and is not breathing")
    chat.wait_for_replies(1)
    chat.page.reload()
    chat.page.wait_for_selector("#messages .message-model .content")
    chat.page.get_by_role("button", name="Delete conversation").click()
    chat.page.get_by_role("button", name="Delete", exact=True).click()
    expect(chat.page.locator("#welcome")).to_be_visible()

    assert chat.page.evaluate("window.__cspViolations") == []
    assert chat.log.csp_reports() == []
    assert chat.log.console_errors == []


def test_api_key_never_reaches_the_browser(chat: ChatPage, stack: Stack) -> None:
    seen: list[str] = []
    urls: list[str] = []
    pending: list[Response] = []

    def on_request(request: Request) -> None:
        seen.append(f"{request.url} {request.headers} {request.post_data or ''}")

    def record_api(route: Route) -> None:
        # API bodies are taken on the way in: a finished stream's body is not always kept by the browser.
        response = route.fetch()
        body = response.body()
        seen.append(f"{response.status} {response.headers} {body.decode('utf-8', 'replace')}")
        route.fulfill(response=response, body=body)

    def read_page_responses() -> None:
        for response in pending:
            urls.append(response.url)
            seen.append(f"{response.url} {response.status} {response.all_headers()}")
            if response.url.startswith(stack.site.url):
                seen.append(response.body().decode("utf-8", "replace"))
        pending.clear()
        seen.append(chat.page.content())
        seen.append(chat.page.evaluate("JSON.stringify({...localStorage})"))

    chat.context.on("request", on_request)
    chat.context.on("response", lambda response: pending.append(response))
    chat.context.route(f"{stack.api.url}/**", record_api)
    chat.open()
    chat.send("How do I treat a burn?")
    chat.wait_for_replies(1)
    read_page_responses()
    chat.page.reload()
    chat.page.wait_for_selector("#messages .message-model .content")
    read_page_responses()
    seen.append((stack.site_dir / "config.json").read_text())

    assert any(u.endswith("/v1/chat") for u in urls)
    assert any(u.endswith("/v1/session") for u in urls)  # the id travels in X-Session-Id, never in a URL
    assert not any("/v1/sessions/" in u for u in urls)
    assert any(u.endswith("config.json") for u in urls)
    assert sum("Fake reply to" in text for text in seen) >= 2  # the API bodies really were read
    for key in WATCHED:
        assert not [text[:200] for text in seen if key in text], "a test API key reached the browser"
    assert all(key not in stack.api.logs() for key in WATCHED)


MISLEADING_LINKS = (
    "1. [Call 112 now](tel:+19005550100)\n"
    "2. [Call 112](tel:112)\n"
    "3. See [https://www.nhs.uk/conditions/](https://nhs-uk.example.net/login)\n"
    "4. Or [www.redcross.org](https://www.redcross.org/take-a-class) and [NHS 111](https://111.nhs.uk/)\n"
    "5. Write to [help@nhs.uk](mailto:someone@example.net)"
)


def test_links_cannot_mislead(chat: ChatPage, fake_gemini: FakeGemini) -> None:
    fake_gemini.enqueue(Behaviour(chunks=[MISLEADING_LINKS]))
    chat.open()
    chat.send("Which number?")
    chat.wait_for_replies(1)
    content = chat.page.locator("#messages .message-model .content")
    # A call link only to the configured number: the other one is plain text.
    expect(content.locator("a[href^='tel:']")).to_have_count(1)
    expect(content.locator("a[href^='tel:']")).to_have_attribute("href", "tel:112")
    expect(content.locator("li").first).to_have_text("Call 112 now")
    # A link's text never shows a URL other than its target.
    fake = content.locator("a[href='https://nhs-uk.example.net/login']")
    expect(fake).to_have_text("https://nhs-uk.example.net/login")
    expect(content.locator("a[href='https://www.redcross.org/take-a-class']")).to_have_text("www.redcross.org")
    expect(content.get_by_role("link", name="NHS 111")).to_have_attribute("href", "https://111.nhs.uk/")
    expect(content.locator("a[href^='mailto:']")).to_have_text("someone@example.net")
    for link in content.locator("a").all():
        shown, href = link.inner_text(), link.get_attribute("href") or ""
        if shown.startswith("http"):
            assert shown.rstrip("/") == href.rstrip("/")
