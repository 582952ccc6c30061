"""The HTTP API (api.py), pinned where a mutation survived its tests.

Each test states one behaviour: what the client gets back (status, headers, body, SSE frames) or what
the log says. scripts/mutation.py lists the mutants they kill.
"""

from __future__ import annotations
