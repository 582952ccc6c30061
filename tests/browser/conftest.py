"""Browser tests: Debian's Chromium driven by Playwright, against the real function server.

One fake Gemini, one function server (``functions-framework``) and one static
server for the page run for the whole session, on different loopback ports so
CORS is real. Every test gets a fresh browser context (empty localStorage) and
a reset fake.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Dialog, Page, Playwright, sync_playwright

from scripts.build_guide import build_guide
from tests import components
from tests.fakes.gemini import FakeGemini
from tests.servers import FunctionServer, StaticServer, function_env

ROOT = Path(__file__).resolve().parents[2]
STATIC_SITE = ROOT / "static_site"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
APT_TIMEOUT_SECONDS = 600
DEFAULT_TIMEOUT_MS = 10_000


def _missing_browser(reason: str) -> None:
    """Fail (the browser tests must run), or skip with the reason in view when SKIP_COMPONENTS names browser."""
    if "browser" in components.opted_out():
        warnings.warn(f"browser tests skipped: {reason}", pytest.PytestWarning, stacklevel=2)
    components.missing("browser", reason)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's Chromium, installed with apt-get when missing and we are root (Playwright cannot download here)."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        _missing_browser(f"{CHROMIUM} is missing; install it with `sudo apt-get install -y chromium`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=APT_TIMEOUT_SECONDS)
        if result.returncode != 0:
            _missing_browser(f"`{' '.join(command)}` failed: {result.stderr.strip()[-500:]}")
    if not CHROMIUM.exists():
        _missing_browser(f"apt-get installed chromium but {CHROMIUM} is still missing")
    return CHROMIUM


@dataclass
class Stack:
    """The running servers: the page's origin and the API's."""

    site: StaticServer
    api: FunctionServer
    site_dir: Path

    @property
    def page_url(self) -> str:
        return f"{self.site.url}/"


@pytest.fixture(scope="session")
def stack(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The static page and the real function server, on two origins, for the whole session."""
    work = tmp_path_factory.mktemp("browser")
    site_dir = work / "site"
    shutil.copytree(STATIC_SITE, site_dir)
    build_guide(site_dir)
    site = StaticServer(site_dir).start()
    env = function_env(
        gemini_server.base_url,
        FALLBACK="none",
        SQLITE_PATH=str(work / "chat.sqlite3"),
        ALLOWED_ORIGINS=site.url,
        # One attempt per request, so a scripted upstream error reaches the page at once.
        MODEL_MAX_ATTEMPTS="1",
    )
    api = FunctionServer(env, work / "function.log")
    (site_dir / "config.json").write_text(json.dumps({"apiBaseUrl": api.url}))
    try:
        api.start()
    except RuntimeError:
        site.stop()
        raise
    yield Stack(site=site, api=api, site_dir=site_dir)
    api.stop()
    site.stop()


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright, chromium_path: Path) -> Iterator[Browser]:
    browser = playwright_instance.chromium.launch(executable_path=str(chromium_path), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@dataclass
class PageLog:
    """What the page did that a test may need to assert never happened."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def csp_reports(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]


# Installed before any page script runs (and not subject to the page's CSP).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`);
});
"""


@dataclass
class ChatPage:
    """A browser page on the chat app, plus what it logged."""

    page: Page
    context: BrowserContext
    log: PageLog
    url: str

    def open(self) -> ChatPage:
        self.page.goto(self.url)
        self.page.wait_for_selector("html[data-ready='true']")
        return self

    def send(self, text: str) -> None:
        box = self.page.locator("#message")
        box.fill(text)
        box.press("Enter")

    def wait_for_replies(self, count: int) -> None:
        """Wait until `count` replies have finished (or stopped)."""
        self.page.wait_for_function(
            "n => document.querySelectorAll('#messages .message-model:not([aria-busy])').length >= n",
            arg=count,
        )
        self.page.wait_for_selector("#message:not([disabled])")

    def replies(self) -> list[str]:
        return self.page.locator("#messages .message-model .content").all_inner_texts()

    def user_messages(self) -> list[str]:
        return self.page.locator("#messages .message-user .user-text").all_inner_texts()

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=False)
        return path


@pytest.fixture
def fake_gemini(gemini_server: FakeGemini) -> FakeGemini:
    """The session's fake Gemini (tests/conftest.py), reset: unscripted requests echo the message."""
    gemini_server.reset()
    return gemini_server


def _new_chat_page(browser: Browser, stack: Stack, **context_options: Any) -> tuple[ChatPage, BrowserContext]:
    context = browser.new_context(**context_options)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    context.add_init_script(RECORD_CSP_VIOLATIONS)
    page = context.new_page()
    log = PageLog()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            log.console_errors.append(message.text)

    def on_dialog(dialog: Dialog) -> None:
        log.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    page.on("console", on_console)
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    page.on("dialog", on_dialog)
    return ChatPage(page=page, context=context, log=log, url=stack.page_url), context


@pytest.fixture
def chat(browser: Browser, stack: Stack, fake_gemini: FakeGemini) -> Iterator[ChatPage]:
    """A fresh desktop-sized page on the chat app, not yet opened."""
    chat_page, context = _new_chat_page(browser, stack, viewport={"width": 1280, "height": 800})
    yield chat_page
    context.close()
    assert not chat_page.log.page_errors, f"uncaught errors in the page: {chat_page.log.page_errors}"


@pytest.fixture
def phone_chat(browser: Browser, stack: Stack, fake_gemini: FakeGemini) -> Iterator[ChatPage]:
    """A fresh phone-sized page (360x740, touch) in dark mode, not yet opened."""
    chat_page, context = _new_chat_page(
        browser,
        stack,
        viewport={"width": 360, "height": 740},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        color_scheme="dark",
    )
    yield chat_page
    context.close()
    assert not chat_page.log.page_errors, f"uncaught errors in the page: {chat_page.log.page_errors}"
