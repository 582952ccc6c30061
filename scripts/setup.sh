#!/usr/bin/env bash
# Creates .venv and installs the pinned Python dependencies; re-running is cheap when nothing changed.
# Checks the Python version first, and rebuilds a .venv that is broken or too old.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
NEW_ENOUGH='import sys; sys.exit(sys.version_info < (3, 11))'
if ! command -v "$PYTHON" >/dev/null; then
  echo "error: $PYTHON not found. Install Python 3.11 or newer, or set PYTHON=/path/to/python3.11." >&2
  exit 1
fi
if ! "$PYTHON" -c "$NEW_ENOUGH" 2>/dev/null; then
  echo "error: Python 3.11 or newer is needed, but $PYTHON is $("$PYTHON" -V 2>&1 || echo 'unusable')." >&2
  echo "Install a newer Python and run again with PYTHON=/path/to/python3.11 (or newer)." >&2
  exit 1
fi
# A .venv whose Python is gone, too old or without pip (a setup that stopped half-way) is rebuilt.
if [ -e .venv ] && ! { .venv/bin/python -c "$NEW_ENOUGH" && .venv/bin/python -m pip --version; } >/dev/null 2>&1; then
  echo "==> .venv is broken or was made with an older Python; rebuilding it"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  echo "==> Creating the virtual environment in .venv"
  if ! "$PYTHON" -m venv .venv; then
    rm -rf .venv
    echo "error: $PYTHON could not create a virtual environment (on Debian and Ubuntu: apt-get install python3-venv)." >&2
    exit 1
  fi
fi
stamp=.venv/.requirements.sha256
wanted=$(cat requirements-dev.txt functions/requirements.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "==> Installing Python dependencies (first run takes a minute)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
  echo "$wanted" > "$stamp"
fi
