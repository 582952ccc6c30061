"""scripts/build_page.py: the page a deployment serves, with App Check when a site key is given."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import build_page

FIREBASE = {"apiKey": "AIzaTestWebApiKeyNotASecret", "appId": "1:1:web:1", "projectId": "demo"}
SITE_KEY = "6LcTestSiteKeyForAppCheckOnThePage0000"


def test_without_a_site_key_the_page_is_copied_with_its_api_url_only(tmp_path: Path) -> None:
    assert build_page.main(["--out", str(tmp_path / "site"), "--api-base-url", "https://api.example"]) == 0
    site = tmp_path / "site"
    assert json.loads((site / "config.json").read_text()) == {"apiBaseUrl": "https://api.example"}
    assert not (site / "vendor").exists()
    assert (site / "index.html").read_text() == (ROOT / "static_site" / "index.html").read_text()


def test_a_malformed_site_key_is_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--out", str(tmp_path / "site"), "--api-base-url", "https://api.example"]
    assert build_page.main([*args, "--app-check-site-key", "bad key!"]) == 1
    assert "--app-check-site-key" in capsys.readouterr().err


def test_a_page_without_a_csp_cannot_get_app_check(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "index.html").write_text("<!doctype html><title>x</title>")
    with pytest.raises(build_page.BuildError, match="Content-Security-Policy"):
        build_page.allow_recaptcha((source / "index.html").read_text())


def test_the_csp_admits_recaptcha_and_nothing_else_new() -> None:
    page = (ROOT / "static_site" / "index.html").read_text()
    patched = build_page.allow_recaptcha(page)
    assert "script-src 'self' https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/;" in patched
    assert "frame-src https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/" in patched
    assert patched.replace(build_page.RECAPTCHA_SCRIPTS, "").count("https://") == page.count("https://") + 2


def test_missing_npm_packages_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_page, "ESBUILD", tmp_path / "missing" / "esbuild")
    with pytest.raises(build_page.BuildError, match="npm ci"):
        build_page.build(tmp_path / "site", "https://api.example", {"siteKey": SITE_KEY, **FIREBASE})
