#!/usr/bin/env bash
# The whole test suite: lint, types, unit, emulator-backed, end-to-end and browser tests.
# Installs what it needs on a fresh machine (Python packages in .venv; npm packages with npm ci,
# including the pinned Firebase CLI into infra/node_modules; Chromium, ShellCheck and Node.js
# from Debian's packages when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v shellcheck >/dev/null || missing+=(shellcheck)
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> Installing ${missing[*]} from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

echo "==> npm ci (Redocly CLI for the spec lint; eventsource-parser for the JavaScript example)"
for dir in . examples/js; do
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
