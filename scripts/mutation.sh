#!/usr/bin/env bash
# Mutation testing of the core modules (mutmut), one module at a time, printing each module's score:
#   bash scripts/mutation.sh                 # every core module (slow: see the README)
#   bash scripts/mutation.sh history errors  # some of them
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/mutation.py "$@"
