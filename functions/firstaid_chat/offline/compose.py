"""Renders offline first-aid replies as plain text with the light markdown the chat page shows."""

from __future__ import annotations

from .knowledge import EMERGENCY_NUMBER_PLACEHOLDER, Topic

# Shown when nothing matches, so the user learns what the offline mode covers.
EXAMPLE_TOPICS = (
    "CPR",
    "choking",
    "severe bleeding",
    "burns",
    "heart attack",
    "stroke",
    "severe allergic reaction",
    "seizures",
    "broken bones",
    "poisoning",
)


def compose_reply(topic: Topic, emergency_number: str) -> str:
    """Render `topic` as a reply: bold title, numbered steps, don'ts, when to call, sources."""
    lines = [f"**{topic.title}**", ""]
    lines += [f"{number}. {step}" for number, step in enumerate(topic.steps, start=1)]
    if topic.do_not:
        lines += ["", "Do not:"]
        lines += [f"- {item}" for item in topic.do_not]
    if topic.call_emergency_when:
        lines += ["", f"Call {EMERGENCY_NUMBER_PLACEHOLDER} if:"]
        lines += [f"- {item}" for item in topic.call_emergency_when]
    lines += ["", f"Source: guidance from {_joined(topic.sources)}."]
    return fill_emergency_number("\n".join(lines), emergency_number)


def no_match_reply(emergency_number: str) -> str:
    """The honest reply when a message matches no first-aid topic while offline."""
    return fill_emergency_number(
        "I can only help with first aid while I'm offline, and I couldn't match your "
        "message to a first-aid topic.\n\n"
        f"If someone is badly hurt or unwell, **call {EMERGENCY_NUMBER_PLACEHOLDER} now**.\n\n"
        f"I can help with, for example: {', '.join(EXAMPLE_TOPICS)}. "
        'Try describing what has happened in a few words, like "my dad is choking".',
        emergency_number,
    )


def fill_emergency_number(text: str, emergency_number: str) -> str:
    """Put the configured number in place of `{emergency_number}`.

    str.replace rather than str.format: guidance text may contain other braces,
    and a number must never be able to inject formatting.
    """
    return text.replace(EMERGENCY_NUMBER_PLACEHOLDER, emergency_number)


def _joined(names: tuple[str, ...]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"
