"""Performance figures for the chat function: ``python -m bench`` (``--quick`` for a smoke run).

Everything runs locally against real components: the function in process and
under a real functions-framework server, the official Firestore emulator, SQLite,
and the fake Gemini and Secret Manager servers from ``tests/fakes``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUNCTIONS = ROOT / "functions"

# The function's package lives in functions/ (the deployed source root); tests/ holds the fakes.
for _path in (str(FUNCTIONS), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
