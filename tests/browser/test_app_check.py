"""App Check on the page: Firebase's own JS SDK (bundled from npm) gets a token the function verifies.

The page is built the way a deployment with APP_CHECK_SITE_KEY builds it (scripts/build_page.py:
the SDK bundled from the pinned npm packages, the CSP opened to reCAPTCHA only). Two Google
services cannot be reached from here, so the browser's requests to them are answered locally:
reCAPTCHA Enterprise's script by a stand-in with the same calls, and App Check's token exchange
by an App Check token signed with a local key, which the function verifies against that key's
JWKS (as tests/test_auth.py does).
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Route

from tests import components
from tests.browser.conftest import ChatPage, Stack, _new_chat_page
from tests.fakes.gemini import FakeGemini
from tests.servers import FunctionServer, StaticServer, function_env
from tests.test_auth import APP_CHECK_CLAIMS, NUMBER, KeyServer

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
import build_page  # noqa: E402

SITE_KEY = "6LcTestSiteKeyForAppCheckOnThePage0000"
FIREBASE = {"apiKey": "AIzaTestWebApiKeyNotASecret", "appId": "1:123456789:web:abc123", "projectId": "demo-firstaid"}
EXCHANGE = (
    f"https://content-firebaseappcheck.googleapis.com/v1/projects/{FIREBASE['projectId']}/apps/"
    f"{FIREBASE['appId']}:exchangeRecaptchaEnterpriseToken*"
)
RECAPTCHA_SCRIPT = "https://www.google.com/recaptcha/enterprise.js*"
FAKE_RECAPTCHA = Path(__file__).with_name("fake_recaptcha_enterprise.js")


@dataclass
class Google:
    """What the page asked of Google's services, and the token the exchange hands out."""

    keys: KeyServer
    claims: dict[str, Any] = field(default_factory=lambda: dict(APP_CHECK_CLAIMS))
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    scripts: int = 0

    def install(self, page: Any) -> None:
        page.route(RECAPTCHA_SCRIPT, self._script)
        page.route(EXCHANGE, self._exchange)

    def _script(self, route: Route) -> None:
        self.scripts += 1
        route.fulfill(status=200, content_type="text/javascript", body=FAKE_RECAPTCHA.read_text())

    def _exchange(self, route: Route) -> None:
        if route.request.method == "OPTIONS":
            route.fulfill(status=204, headers=_cors())
            return
        self.exchanges.append(json.loads(route.request.post_data or "{}"))
        body = {"token": self.keys.token(**self.claims), "ttl": "3600s"}
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body), headers=_cors())


def _cors() -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": "*",
        "Access-Control-Allow-Headers": "*",
        "Access-Control-Allow-Methods": "*",
    }


@pytest.fixture(scope="module")
def app_check_stack(gemini_server: FakeGemini, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not build_page.ESBUILD.exists():
        components.missing("node", "node_modules is not installed (npm ci): the page's App Check SDK cannot be bundled")
    work = tmp_path_factory.mktemp("app-check")
    site_dir = work / "site"
    keys = KeyServer()
    build_page.build(site_dir, "http://127.0.0.1:1", {"siteKey": SITE_KEY, **FIREBASE})
    site = StaticServer(site_dir).start()
    env = function_env(
        gemini_server.base_url,
        SQLITE_PATH=str(work / "chat.sqlite3"),
        ALLOWED_ORIGINS=site.url,
        AUTH_MODE="app_check",
        FIREBASE_PROJECT_NUMBER=NUMBER,
        AUTH_KEYS_URL=f"{keys.url}/jwks",
    )
    api = FunctionServer(env, work / "function.log")
    config = json.loads((site_dir / "config.json").read_text())
    (site_dir / "config.json").write_text(json.dumps({**config, "apiBaseUrl": api.url}))
    try:
        api.start()
        stack = Stack(site=site, api=api, site_dir=site_dir)
        stack.keys = keys  # type: ignore[attr-defined]
        yield stack
    finally:
        api.stop()
        site.stop()
        keys.stop()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def google(app_check_stack: Stack) -> Google:
    return Google(app_check_stack.keys)  # type: ignore[attr-defined]


@pytest.fixture
def checked_chat(
    browser: Browser, app_check_stack: Stack, google: Google, gemini_server: FakeGemini
) -> Iterator[ChatPage]:
    gemini_server.reset()
    chat_page, context = _new_chat_page(browser, app_check_stack, viewport={"width": 1280, "height": 800})
    google.install(chat_page.page)
    yield chat_page
    context.close()
    assert not chat_page.log.page_errors, f"uncaught errors in the page: {chat_page.log.page_errors}"


def test_page_sends_an_app_check_token_the_function_accepts(
    checked_chat: ChatPage, google: Google, gemini_server: FakeGemini
) -> None:
    headers: list[str | None] = []
    checked_chat.page.on(
        "request", lambda r: headers.append(r.headers.get("x-firebase-appcheck")) if "/v1/chat" in r.url else None
    )
    checked_chat.open()
    checked_chat.send("How do I stop a nosebleed?")
    checked_chat.wait_for_replies(1)
    assert "nosebleed" in checked_chat.replies()[0].lower()
    assert len(gemini_server.requests) == 1
    assert google.scripts == 1
    assert google.exchanges == [{"recaptcha_enterprise_token": f"recaptcha-enterprise-token:{SITE_KEY}:fire_app_check"}]
    sent = [h for h in headers if h]
    assert sent and all(h.count(".") == 2 for h in sent), "a JWT in X-Firebase-AppCheck on every chat request"
    checked_chat.send("And if it does not stop?")
    checked_chat.wait_for_replies(2)
    assert len(google.exchanges) == 1, "the SDK reuses its token until it nears expiry"
    violations = checked_chat.page.evaluate("window.__cspViolations")
    assert violations == []
    assert checked_chat.log.csp_reports() == []


def test_a_token_for_another_project_is_refused_and_the_model_never_called(
    checked_chat: ChatPage, google: Google, gemini_server: FakeGemini
) -> None:
    google.claims = {**APP_CHECK_CLAIMS, "aud": ["projects/999"]}
    checked_chat.open()
    checked_chat.send("How do I stop a nosebleed?")
    checked_chat.page.wait_for_selector("#error:not([hidden])")
    assert gemini_server.requests == []
    assert len(google.exchanges) == 1


def test_without_app_check_the_page_never_loads_the_sdk(chat: ChatPage, stack: Stack) -> None:
    loaded: list[str] = []
    chat.page.on("request", lambda r: loaded.append(r.url))
    chat.open()
    chat.send("hi")
    chat.wait_for_replies(1)
    assert not [u for u in loaded if "vendor/" in u or "recaptcha" in u or "firebase" in u]
