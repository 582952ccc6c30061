"""Typed reads of environment variables for ``Settings``, each failing with a fix-it message.

Every read takes the variable's name, so a bad value raises ``SettingsError`` with a
message that names the variable, says what is wrong and what to write instead.
Unset and blank values read as the default.
"""

from __future__ import annotations

import re
from collections.abc import Mapping


class SettingsError(ValueError):
    """A setting is missing or malformed; the message says which variable to fix."""


# The safety settings' harm categories and thresholds (``SAFETY_SETTINGS``, read by ``Env.safety_settings``).
HARM_CATEGORIES = (
    "HARM_CATEGORY_HARASSMENT",
    "HARM_CATEGORY_HATE_SPEECH",
    "HARM_CATEGORY_SEXUALLY_EXPLICIT",
    "HARM_CATEGORY_DANGEROUS_CONTENT",
)
HARM_THRESHOLDS = (
    "BLOCK_LOW_AND_ABOVE",
    "BLOCK_MEDIUM_AND_ABOVE",
    "BLOCK_ONLY_HIGH",
    "BLOCK_NONE",
    "OFF",
)
SECRET_VERSION_PATTERN = re.compile(r"^projects/[^/]+/secrets/[^/]+/versions/[^/]+$")
# A phone number, optionally followed by a name in brackets: "116 123 (Samaritans)".
# No braces, so a value can never smuggle a placeholder into the guide's text.
CONTACT_LINE_PATTERN = re.compile(r"\+?[0-9][0-9 -]{2,19}(?: \([^(){}\n]{1,60}\))?")


class Env:
    """Typed reads of environment variables, each failing with a fix-it message."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def optional(self, name: str) -> str | None:
        value = self._environ.get(name, "").strip()
        return value or None

    def text(self, name: str, default: str) -> str:
        return self.optional(name) or default

    def choice(self, name: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(name, default)
        normalised = value.upper() if allowed[0].isupper() else value.lower()
        if normalised not in allowed:
            raise SettingsError(f"{name}={value!r} is not valid: use one of {', '.join(allowed)}.")
        return normalised

    def name(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,100}", value):
            raise SettingsError(f"{name}={value!r} is not valid: use letters, digits, '-' or '_' only.")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(
                f"{name}={raw!r} is not a whole number: set it to a number from {low} to {high}."
            ) from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value} is out of range: set it to a number from {low} to {high}.")
        return value

    def optional_integer(self, name: str, low: int, high: int) -> int | None:
        return None if self.optional(name) is None else self.integer(name, 0, low, high)

    def number(self, name: str, default: float, low: float, high: float) -> float:
        raw = self.optional(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r} is not a number: set it to a number from {low} to {high}.") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value} is out of range: set it to a number from {low} to {high}.")
        return value

    def location(self, name: str, default: str) -> str:
        value = self.text(name, default).lower()
        if not re.fullmatch(r"[a-z][a-z0-9-]{1,40}", value):
            raise SettingsError(f"{name}={value!r} is not a location: use a region such as europe-west1, or global.")
        return value

    def secret_version(self, name: str) -> str | None:
        value = self.optional(name)
        if value is not None and not SECRET_VERSION_PATTERN.match(value):
            raise SettingsError(
                f"{name} must name a secret version like projects/PROJECT/secrets/NAME/versions/latest."
            )
        return value

    def origins(self, name: str, default: str) -> tuple[str, ...]:
        # Lower case, as browsers send an Origin (RFC 6454): "https://Chat.Example.org" would never match.
        origins = tuple(o.strip().rstrip("/").lower() for o in self.text(name, default).split(",") if o.strip())
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
                raise SettingsError(
                    f"{name} has {origin!r}, which is not an origin: list origins like "
                    "https://chat.example.org,http://localhost:8000 (scheme, host and optional port, no path)."
                )
        return origins

    def emergency_number(self, name: str, default: str) -> str:
        value = self.text(name, default)
        if not re.fullmatch(r"[0-9+ ]{2,15}", value):
            raise SettingsError(f"{name}={value!r} is not a phone number: use digits such as 112, 911 or 999.")
        return value

    def contact_line(self, name: str, default: str | None) -> str | None:
        """A phone line people are told to call, `none` for no line, or the default when unset."""
        value = self.optional(name)
        if value is None:
            return default
        if value.lower() == "none":
            return None
        if not CONTACT_LINE_PATTERN.fullmatch(value):
            raise SettingsError(
                f"{name}={value!r} is not a phone line: write the number, optionally followed by its "
                "name in brackets, such as 116 123 (Samaritans); or none for no line."
            )
        return value

    def safety_settings(self, name: str, default: str) -> tuple[tuple[str, str], ...]:
        pairs = []
        for item in self.text(name, default).split(","):
            if not item.strip():
                continue
            category, _, threshold = (part.strip().upper() for part in item.partition("="))
            if category not in HARM_CATEGORIES or threshold not in HARM_THRESHOLDS:
                raise SettingsError(
                    f"{name} has {item.strip()!r}: write CATEGORY=THRESHOLD pairs separated by commas, "
                    f"with categories from {', '.join(HARM_CATEGORIES)} "
                    f"and thresholds from {', '.join(HARM_THRESHOLDS)}."
                )
            pairs.append((category, threshold))
        return tuple(pairs)
