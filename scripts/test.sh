#!/usr/bin/env bash
# The whole test suite: lint, types, unit, emulator-backed, end-to-end and browser tests.
# Installs what it needs on a fresh machine (Python packages in .venv; npm packages with npm ci,
# including the pinned Firebase CLI into infra/node_modules; Chromium, ShellCheck and Node.js
# from Debian's packages when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> Installing ${missing[*]} from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Every outside component the tests use must be here: a missing one fails the run at once (with how
# to get it) rather than skipping its tests, unless SKIP_COMPONENTS names it (tests/components.py).
# CI=true (any case) ignores SKIP_COMPONENTS: there, everything must run.
skip=",${SKIP_COMPONENTS:-},"
ci=false
if [ "${CI:-}" != "" ] && [ "${CI,,}" = true ]; then
  ci=true
  skip=",,"
fi
absent=0
require() {  # component, what is missing, how to get it, check command...
  local name=$1 what=$2 how=$3
  shift 3
  if [[ $skip != *",$name,"* ]] && ! "$@" >/dev/null 2>&1; then
    if [ "$ci" = true ]; then
      echo "error: $what is missing: $how (CI=true: every component must be present; SKIP_COMPONENTS is ignored)" >&2
    else
      echo "error: $what is missing: $how; or set SKIP_COMPONENTS=$name to skip the tests that need it" >&2
    fi
    absent=1
  fi
}
jar=${FIRESTORE_EMULATOR_JAR:-/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar}
require emulator "java (for the Firestore emulator)" "install Java 17 (apt-get install openjdk-17-jre-headless)" \
  command -v java
require emulator "the Firestore emulator ($jar)" "install it (gcloud components install \
cloud-firestore-emulator, or Debian package google-cloud-cli-firestore-emulator), or point FIRESTORE_EMULATOR_JAR \
at its jar" test -f "$jar"
require browser "Chromium (/usr/bin/chromium)" "install it (apt-get install chromium)" test -x /usr/bin/chromium
require gcloud "gcloud" "install the Google Cloud CLI (Debian package google-cloud-cli)" command -v gcloud
require shellcheck "shellcheck" "install ShellCheck (apt-get install shellcheck)" command -v shellcheck
require node "npm" "install Node.js 20+ and npm (apt-get install nodejs npm)" command -v npm
[ "$absent" = 0 ] || exit 1

bash scripts/setup.sh

echo "==> npm ci (Redocly CLI for the spec lint; eventsource-parser for the JavaScript example)"
for dir in . examples/js; do
  [[ $skip == *",node,"* ]] && ! command -v npm >/dev/null && break
  (cd "$dir" && npm ci --no-audit --no-fund --prefer-offline --loglevel=error >/dev/null)
done
# The Firebase CLI pinned in infra/package.json: the deployment tests check the page's
# Hosting configuration and the deploy's firebase commands with it, offline.
if command -v npm >/dev/null && { [ ! -x infra/node_modules/.bin/firebase ] ||
  [ infra/package-lock.json -nt infra/node_modules/.package-lock.json ]; }; then
  echo "==> Installing the pinned Firebase CLI into infra/node_modules"
  npm ci --prefix infra --no-audit --no-fund --ignore-scripts --loglevel=error
fi

echo "==> ruff"
.venv/bin/ruff check functions tests scripts bench examples
echo "==> mypy (strict, on the function's package)"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/python -m pytest "$@"
