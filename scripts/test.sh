#!/usr/bin/env bash
# The whole test suite: lint, types, unit, emulator-backed, end-to-end and browser tests.
# Installs what it needs on a fresh machine (Python packages in .venv; Chromium and
# ShellCheck from Debian's packages when missing and running as root; the pinned
# Firebase CLI from the npm registry into infra/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v shellcheck >/dev/null || missing+=(shellcheck)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "==> Installing ${missing[*]} from Debian's packages"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Firebase CLI pinned in infra/package.json: the deployment tests check the page's
# Hosting configuration and the deploy's firebase commands with it, offline.
if command -v npm >/dev/null && { [ ! -x infra/node_modules/.bin/firebase ] ||
  [ infra/package-lock.json -nt infra/node_modules/.package-lock.json ]; }; then
  echo "==> Installing the pinned Firebase CLI into infra/node_modules"
  npm ci --prefix infra --no-audit --no-fund --ignore-scripts --loglevel=error
fi

echo "==> ruff"
.venv/bin/ruff check functions tests scripts bench
echo "==> mypy (strict, on the function's package)"
.venv/bin/mypy
echo "==> pytest"
.venv/bin/python -m pytest "$@"
