"""Renders offline first-aid replies as plain text with the light markdown the chat page shows."""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

from .knowledge import (
    CRISIS_LINE_PLACEHOLDER,
    EMERGENCY_NUMBER_PLACEHOLDER,
    POISON_CENTRE_PLACEHOLDER,
    Topic,
)

CONTACT_PHRASES_PATH = Path(__file__).resolve().parent / "contact_phrases.toml"


def compose_reply(
    topic: Topic,
    emergency_number: str,
    *,
    crisis_line: str | None = None,
    poison_centre: str | None = None,
) -> str:
    """Render `topic` as a reply: bold title, numbered steps, don'ts, when to call, sources.

    `crisis_line` and `poison_centre` are the configured numbers (settings
    CRISIS_LINE, POISON_CENTRE), or None when there is none: the text then says
    to find a local line or call the emergency number (see `fill_contacts`).
    """
    lines = [f"**{topic.title}**", ""]
    lines += [f"{number}. {step}" for number, step in enumerate(topic.steps, start=1)]
    if topic.do_not:
        lines += ["", "Do not:"]
        lines += [f"- {item}" for item in topic.do_not]
    if topic.call_emergency_when:
        lines += ["", f"Call {EMERGENCY_NUMBER_PLACEHOLDER} if:"]
        lines += [f"- {item}" for item in topic.call_emergency_when]
    source = f"Source: guidance from {_joined(topic.sources)}"
    if topic.guidelines:
        source += f", following {_joined(topic.guidelines)}"
    lines += ["", f"{source}."]
    text = fill_contacts("\n".join(lines), crisis_line=crisis_line, poison_centre=poison_centre)
    return fill_emergency_number(text, emergency_number)


def fill_emergency_number(text: str, emergency_number: str) -> str:
    """Put the configured number in place of `{emergency_number}`.

    str.replace rather than str.format: guidance text may contain other braces,
    and a number must never be able to inject formatting.
    """
    return text.replace(EMERGENCY_NUMBER_PLACEHOLDER, emergency_number)


def fill_contacts(text: str, *, crisis_line: str | None, poison_centre: str | None) -> str:
    """Put the crisis line and poison centre phrases in place of their placeholders.

    A configured number reads as, e.g., "the crisis line on 988 (...)"; None
    reads as a pointer to a local line or the emergency number, whose own
    placeholder `fill_emergency_number` fills afterwards. The phrases live in
    contact_phrases.toml. Values are inserted with str.replace, and settings
    reject braces in them, so a value can't smuggle in another placeholder.
    """
    phrases = _contact_phrases()
    for placeholder, key, number in (
        (CRISIS_LINE_PLACEHOLDER, "crisis_line", crisis_line),
        (POISON_CENTRE_PLACEHOLDER, "poison_centre", poison_centre),
    ):
        if placeholder in text:
            phrase = phrases[key]["missing"] if number is None else phrases[key]["configured"]
            text = text.replace(placeholder, phrase.replace("{number}", number or ""))
    return text


@functools.cache
def _contact_phrases() -> dict[str, dict[str, str]]:
    with CONTACT_PHRASES_PATH.open("rb") as file:
        data = tomllib.load(file)
    phrases: dict[str, dict[str, str]] = {}
    for key in ("crisis_line", "poison_centre"):
        entry = data.get(key)
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str) for k in ("configured", "missing")):
            raise ValueError(f"{CONTACT_PHRASES_PATH.name}: [{key}] needs 'configured' and 'missing' strings")
        if "{number}" not in entry["configured"] or EMERGENCY_NUMBER_PLACEHOLDER not in entry["missing"]:
            raise ValueError(
                f"{CONTACT_PHRASES_PATH.name}: [{key}] 'configured' must contain {{number}} and "
                f"'missing' {EMERGENCY_NUMBER_PLACEHOLDER}"
            )
        phrases[key] = {"configured": entry["configured"], "missing": entry["missing"]}
    return phrases


def _joined(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
