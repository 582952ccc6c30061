"""Optional caller verification in front of the API (AUTH_MODE)."""

from __future__ import annotations

from typing import Protocol

import flask


class Authenticator(Protocol):
    """Checks that a request comes from a genuine app; raises Unauthorized otherwise."""

    def verify(self, request: flask.Request) -> None: ...
