"""The outside components some tests need, and what happens when one is missing.

A missing component fails its tests with a message saying how to get it, so that a green run
means every test ran. A machine that cannot run one opts out explicitly, naming it in
``SKIP_COMPONENTS`` (comma-separated: ``emulator``, ``browser``, ``gcloud``, ``shellcheck``,
``node``); those tests are then skipped with the reason shown. ``CI=true`` ignores the opt-out.
"""

from __future__ import annotations

import os

import pytest

HOW_TO_GET = {
    "emulator": "install Java 17 (`apt-get install openjdk-17-jre-headless`) and the Firestore emulator "
    "(`gcloud components install cloud-firestore-emulator`, or Debian package "
    "google-cloud-cli-firestore-emulator), or point FIRESTORE_EMULATOR_JAR at its jar",
    "browser": "install Chromium (`apt-get install chromium`; scripts/test.sh does it when run as root)",
    "gcloud": "install the Google Cloud CLI (Debian package google-cloud-cli from Google's apt repository)",
    "shellcheck": "install ShellCheck (`apt-get install shellcheck`)",
    "node": "install Node.js and npm (`apt-get install nodejs npm`), then `npm ci` (scripts/test.sh does both)",
}


def opted_out() -> set[str]:
    """The components named in SKIP_COMPONENTS (empty under CI=true, where everything must run)."""
    if os.environ.get("CI", "").lower() == "true":
        return set()
    return {name.strip() for name in os.environ.get("SKIP_COMPONENTS", "").split(",") if name.strip()}


def missing(component: str, reason: str) -> None:
    """Fail the test because ``component`` is missing, or skip it when the machine opted out."""
    if component not in HOW_TO_GET:
        raise ValueError(f"unknown component {component!r}")
    if component in opted_out():
        pytest.skip(f"{reason} (SKIP_COMPONENTS names {component})")
    if os.environ.get("CI", "").lower() == "true":
        advice = "CI=true: every component must be present, and SKIP_COMPONENTS is ignored"
    else:
        advice = f"or, on a machine that cannot run these tests, set SKIP_COMPONENTS={component} to skip them"
    pytest.fail(f"{reason}: {HOW_TO_GET[component]}; {advice}", pytrace=False)
