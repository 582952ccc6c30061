#!/usr/bin/env bash
# Serves the chat function on http://127.0.0.1:8080 and the chat page on http://127.0.0.1:8000.
# Embedded defaults: SQLite history in .data/, Gemini when .env has a key, else the offline guide.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python scripts/serve.py "$@"
