"""The page's Firebase Hosting configuration (firebase.json), checked offline with the pinned CLI.

- The CLI's own validator (the JSON schema firebase-tools checks firebase.json
  against) accepts the repository's file and the copy the deploy writes.
- The CLI's Hosting emulator, run for a demo- project (no account, no network),
  serves the deployed form of the page: every response carries the security
  headers, the Content-Security-Policy allows same-origin scripts and the API's
  origin and nothing inline, and the service worker, HTML and JSON are never
  served from a stale cache.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_infra import INFRA, REPO, offline_firebase_env, pinned_firebase

API_ORIGIN = "https://firstaid-chat-abc123-ew.a.run.app"
HOSTING_CONFIG = INFRA / "hosting-config.mjs"
VALIDATE = """
const { getValidator, getErrorMessage } = require("firebase-tools/lib/firebaseConfigValidate");
const validate = getValidator();
const config = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
if (!validate(config)) {
  for (const error of validate.errors) console.log(getErrorMessage(error));
  process.exit(1);
}
"""


def node() -> str:
    path = shutil.which("node")
    if path is None:
        pytest.skip("node is not installed")
    return path


def validate(config: Path) -> subprocess.CompletedProcess[str]:
    pinned_firebase()
    return subprocess.run(
        [node(), "-e", VALIDATE, str(config)],
        cwd=INFRA,
        capture_output=True,
        text=True,
        timeout=60,
    )


def render(out: Path, public: str = "site", site: str = "demo-firstaid", api_origin: str = API_ORIGIN) -> Path:
    """The configuration the deploy writes, from the repository's firebase.json."""
    subprocess.run(
        [node(), str(HOSTING_CONFIG), str(REPO / "firebase.json"), str(out), public, site, api_origin],
        check=True,
        timeout=60,
    )
    return out


def test_repository_and_deployed_configs_pass_the_cli_schema(tmp_path: Path) -> None:
    for config in (REPO / "firebase.json", render(tmp_path / "firebase.json")):
        result = validate(config)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_rejects_a_misspelt_setting(tmp_path: Path) -> None:
    config = json.loads((REPO / "firebase.json").read_text())
    config["hosting"]["header"] = config["hosting"].pop("headers")
    bad = tmp_path / "firebase.json"
    bad.write_text(json.dumps(config))
    result = validate(bad)
    assert result.returncode == 1
    assert "unknown property" in result.stdout


def test_hosting_config_without_a_connect_src_is_refused(tmp_path: Path) -> None:
    config = json.loads((REPO / "firebase.json").read_text())
    for rule in config["hosting"]["headers"]:
        rule["headers"] = [h for h in rule["headers"] if h["key"] != "Content-Security-Policy"]
    source = tmp_path / "firebase.json"
    source.write_text(json.dumps(config))
    result = subprocess.run(
        [node(), str(HOSTING_CONFIG), str(source), str(tmp_path / "out.json"), "site", "s", API_ORIGIN],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert "connect-src" in result.stderr
    assert not (tmp_path / "out.json").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def hosting_emulator(site: Path, api_origin: str, work: Path) -> Iterator[str]:
    """Serve the directory `site` as the deploy would (its firebase.json copy, CSP naming
    `api_origin`) with the Firebase CLI's Hosting emulator; yields the page's base URL."""
    firebase = pinned_firebase()
    config_path = render(work / "firebase.json", public=os.path.relpath(site, work), api_origin=api_origin)
    config = json.loads(config_path.read_text())
    port = free_port()
    config["emulators"] = {
        "hosting": {"host": "127.0.0.1", "port": port},
        "hub": {"host": "127.0.0.1", "port": free_port()},
        "logging": {"host": "127.0.0.1", "port": free_port()},
        "ui": {"enabled": False},
    }
    config_path.write_text(json.dumps(config))
    home = work / "home"
    env = offline_firebase_env(home)
    log_path = work / "emulator.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [
                firebase,
                "emulators:start",
                "--only",
                "hosting",
                "--project",
                "demo-firstaid",
                "--config",
                str(config_path),
            ],
            cwd=home,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "the Hosting emulator did not start in 60 s"
                try:
                    urllib.request.urlopen(url + "/", timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.1)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def deployed_site(work: Path, api_url: str) -> Path:
    """A copy of static_site/ as the deploy uploads it: config.json naming the API, the guide, a service worker."""
    site = work / "site"
    shutil.copytree(REPO / "static_site", site)
    (site / "config.json").write_text(json.dumps({"apiBaseUrl": api_url}))
    if not (site / "sw.js").exists():  # the page's service worker, where the page has none yet
        (site / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    if not (site / "guide.json").exists():
        (site / "guide.json").write_text('{"topics": []}\n')
    return site


@pytest.fixture(scope="module")
def hosting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    work = tmp_path_factory.mktemp("hosting")
    with hosting_emulator(deployed_site(work, API_ORIGIN), API_ORIGIN, work) as url:
        yield url


def headers_of(url: str) -> dict[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return {name.lower(): value for name, value in response.headers.items()}


def csp_directives(value: str) -> dict[str, list[str]]:
    directives = {}
    for directive in value.split(";"):
        name, *sources = directive.split()
        directives[name] = sources
    return directives


@pytest.mark.parametrize("path", ["/", "/index.html", "/app.js", "/styles.css", "/config.json", "/sw.js"])
def test_every_response_carries_the_security_headers(hosting: str, path: str) -> None:
    headers = headers_of(hosting + path)
    csp = csp_directives(headers["content-security-policy"])
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["worker-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'", API_ORIGIN]
    assert csp["frame-ancestors"] == ["'none'"]
    assert all("unsafe" not in source and "nonce" not in source for sources in csp.values() for source in sources)
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-content-type-options"] == "nosniff"
    assert "camera=()" in headers["permissions-policy"]


@pytest.mark.parametrize("path", ["/", "/index.html", "/config.json", "/guide.json", "/sw.js"])
def test_pages_config_guide_and_service_worker_are_revalidated(hosting: str, path: str) -> None:
    assert headers_of(hosting + path)["cache-control"] == "no-cache"


def test_scripts_and_styles_may_be_cached_briefly(hosting: str) -> None:
    assert headers_of(hosting + "/app.js")["cache-control"] == "public, max-age=300"
    assert headers_of(hosting + "/styles.css")["cache-control"] == "public, max-age=300"


@pytest.mark.parametrize("app_check", [False, True])
def test_hosting_policy_lets_app_check_through_only_when_it_is_on(tmp_path: Path, app_check: bool) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: install Node.js (scripts/test.sh does, as root)")
    out = tmp_path / "firebase.json"
    argv = [node, str(INFRA / "hosting-config.mjs"), str(REPO / "firebase.json"), str(out), "site", "demo"]
    argv.append("https://fn.example.run.app")
    if app_check:
        argv.append("app-check")
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    [policy] = [
        header["value"]
        for rule in json.loads(out.read_text())["hosting"]["headers"]
        for header in rule["headers"]
        if header["key"] == "Content-Security-Policy"
    ]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split("; ")}
    assert "https://fn.example.run.app" in directives["connect-src"]
    recaptcha = "https://www.google.com/recaptcha/"
    assert (recaptcha in directives["script-src"]) is app_check
    assert (recaptcha in directives.get("frame-src", [])) is app_check
    assert ("https://content-firebaseappcheck.googleapis.com" in directives["connect-src"]) is app_check
    assert "'unsafe-inline'" not in policy
