"""The page as Firebase Hosting serves it (the deploy's headers, its CSP naming only the API's
origin), served by the Firebase CLI's Hosting emulator and used in Chromium against the real function."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import _new_chat_page
from tests.fakes.gemini import FakeGemini
from tests.servers import FunctionServer, function_env
from tests.test_hosting import deployed_site, free_port, hosting_emulator

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]


@dataclass
class HostedStack:
    page_url: str


@pytest.fixture(scope="module")
def hosted(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostedStack]:
    work = tmp_path_factory.mktemp("hosted")
    api_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    with hosting_emulator(deployed_site(work, api_url), api_url, work) as page_url:
        env = function_env(gemini_server.base_url, SQLITE_PATH=str(work / "chat.sqlite3"), ALLOWED_ORIGINS=page_url)
        with FunctionServer(env, work / "function.log", port=api_port):
            yield HostedStack(page_url + "/")


def test_page_works_under_the_hosting_headers_with_no_csp_violation(
    browser: Browser, hosted: HostedStack, gemini_server: FakeGemini
) -> None:
    gemini_server.reset()
    chat, context = _new_chat_page(browser, hosted)  # type: ignore[arg-type]
    try:
        response = chat.page.goto(chat.url)
        assert response is not None
        chat.page.wait_for_selector("html[data-ready='true']")
        chat.send("How do I treat a burn?")
        chat.wait_for_replies(1)
        assert chat.page.evaluate("window.__cspViolations") == []
        assert chat.log.csp_reports() == []
        assert chat.log.page_errors == []
        assert chat.replies() == ["Fake reply to: How do I treat a burn?"]
        assert "connect-src 'self' http://127.0.0.1:" in response.headers["content-security-policy"]
    finally:
        context.close()
