"""Build the chat page for a deployment: config.json, and App Check when a site key is given.

    python scripts/build_page.py --out DIR --api-base-url URL [--source static_site]
        [--app-check-site-key KEY --firebase-api-key K --firebase-app-id ID --firebase-project-id P]

Copies the page (``static_site/``) to ``DIR`` (unless it is already there) and writes
``config.json``. With an App Check site key (reCAPTCHA Enterprise) it also bundles the
page's part of Firebase's JS SDK from the pinned npm packages (run ``npm ci`` first)
with the pinned esbuild into ``DIR/vendor/`` (git-ignored, never committed), names the
Firebase app in ``config.json``, and lets the page's Content-Security-Policy load
reCAPTCHA Enterprise from Google (its script and its frame; the SDK itself is served
from the page's own origin). Exits non-zero with a message when something is missing.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "static_site"
SDK_ENTRY = ROOT / "scripts" / "page" / "firebase-app-check.mjs"
ESBUILD = ROOT / "node_modules" / ".bin" / "esbuild"
BUNDLE = Path("vendor") / "firebase-app-check.js"
# Where reCAPTCHA Enterprise loads its script and frame from (Google's documented CSP sources).
RECAPTCHA_SCRIPTS = "https://www.google.com/recaptcha/ https://www.gstatic.com/recaptcha/"
RECAPTCHA_FRAMES = "https://www.google.com/recaptcha/ https://recaptcha.google.com/recaptcha/"
SITE_KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{20,100}")


class BuildError(RuntimeError):
    """The page cannot be built; the message says what to fix."""


def bundle_sdk(out: Path) -> Path:
    """Bundle the SDK entry into ``out/vendor/`` with the pinned esbuild; the bundle's path."""
    if not ESBUILD.exists():
        raise BuildError(f"{ESBUILD} is missing: run `npm ci` in {ROOT} first")
    target = out / BUNDLE
    command = [
        str(ESBUILD), str(SDK_ENTRY), "--bundle", "--format=esm", "--minify", "--target=es2020",
        "--legal-comments=linked", f"--outfile={target}", "--log-level=warning",
    ]  # fmt: skip
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise BuildError(f"esbuild failed: {result.stderr.strip()[-1000:]}")
    return target


def allow_recaptcha(index_html: str) -> str:
    """The page with its CSP meta tag letting reCAPTCHA Enterprise's script and frame load."""
    pattern = re.compile(r'(<meta http-equiv="Content-Security-Policy" content=")([^"]*)(")')
    match = pattern.search(index_html)
    if match is None:
        raise BuildError("index.html has no Content-Security-Policy meta tag to extend")
    policy = re.sub(r"script-src ([^;]*)", lambda m: f"script-src {m.group(1)} {RECAPTCHA_SCRIPTS}", match.group(2))
    if "frame-src" not in policy:
        policy += f"; frame-src {RECAPTCHA_FRAMES}"
    return index_html[: match.start(2)] + policy + index_html[match.end(2) :]


def build(out: Path, api_base_url: str, app_check: dict[str, str] | None, source: Path = SITE) -> dict[str, object]:
    """Write the page from ``source`` to ``out`` (in place when they are the same); the config.json it wrote."""
    if out.resolve() != source.resolve():
        shutil.copytree(source, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("vendor"))
    # Keep what the deploy already wrote into config.json (the emergency number), then add to it.
    existing = out / "config.json"
    kept = json.loads(existing.read_text(encoding="utf-8")) if existing.exists() else {}
    config: dict[str, object] = {**kept, "apiBaseUrl": api_base_url}
    if app_check is not None:
        if not SITE_KEY_PATTERN.fullmatch(app_check["siteKey"]):
            raise BuildError("--app-check-site-key is not a reCAPTCHA Enterprise site key")
        missing = [name for name in ("apiKey", "appId", "projectId") if not app_check.get(name)]
        if missing:
            raise BuildError(f"App Check needs the Firebase web app's {', '.join(missing)}: see infra/README.md")
        bundle_sdk(out)
        config["appCheck"] = {
            "siteKey": app_check["siteKey"],
            "firebase": {name: app_check[name] for name in ("apiKey", "appId", "projectId")},
        }
        index = out / "index.html"
        index.write_text(allow_recaptcha(index.read_text(encoding="utf-8")), encoding="utf-8")
    (out / "config.json").write_text(json.dumps(config) + "\n", encoding="utf-8")
    return config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--source", type=Path, default=SITE, help="the page's files (default: static_site)")
    parser.add_argument("--api-base-url", required=True)
    parser.add_argument("--app-check-site-key", default="")
    parser.add_argument("--firebase-api-key", default="")
    parser.add_argument("--firebase-app-id", default="")
    parser.add_argument("--firebase-project-id", default="")
    args = parser.parse_args(argv)
    app_check = None
    if args.app_check_site_key:
        app_check = {
            "siteKey": args.app_check_site_key,
            "apiKey": args.firebase_api_key,
            "appId": args.firebase_app_id,
            "projectId": args.firebase_project_id,
        }
    try:
        build(args.out, args.api_base_url, app_check, args.source)
    except BuildError as exc:
        print(f"build_page: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
