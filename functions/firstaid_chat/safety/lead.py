"""The fixed texts a reply leads with, in the person's language (`lang/<code>/lead.toml`).

Every language file has the same keys (LEAD_KEYS); a language without a
folder falls back to English. Placeholders are filled in one pass, never with str.format: a configured
number or line must not be able to inject formatting.
"""

from __future__ import annotations

import functools
import re

from .detect import Assessment
from .language import ENGLISH, language_codes, read, read_data

LEAD_KEYS = (
    "emergency",  # the line before any reply to a message that signals a life threat
    "self_harm",  # the same for signs of suicide or self-harm
    "crisis_line",  # added to the self-harm lead when a crisis line is configured
    "poison_centre",  # added to the lead for poisoning or overdose when a poison centre is configured
    "no_match",  # the offline reply when no guide topic matches
    "fallback_notice",  # the note before an offline answer given because Gemini failed
    "budget_notice",  # the note before an offline answer given because the day's Gemini budget is spent
    "steps_in_english",  # the note before guide steps shown in English to someone writing in another language
    "blocked_reply",  # the reply when Gemini's filter blocks the message or withholds the whole reply
    "withheld_note",  # the note after part of a reply when a filter withheld the rest
    "cut_short_note",  # the note after a reply that reached the output token limit
    "follow_up",  # the note before guide steps found through the person's earlier message
    "closing_reply",  # the offline reply to a message that only closes a conversation ("thanks")
)
_PLACEHOLDER = re.compile(r"\{(number|crisis_line|poison_centre)\}")


@functools.cache
def texts(code: str) -> dict[str, str]:
    """The lead texts of language `code` (English when there is no such language)."""
    if code not in language_codes():
        code = ENGLISH
    data = read_data(code, "lead")
    missing = [key for key in LEAD_KEYS if not isinstance(data.get(key), str) or not data[key].strip()]
    if missing:
        raise ValueError(f"lang/{code}/lead.toml: missing or empty {', '.join(missing)}")
    return {key: str(data[key]) for key in LEAD_KEYS}


def text(code: str, key: str, *, number: str = "", crisis_line: str = "", poison_centre: str = "") -> str:
    """One lead text of language `code` with its placeholders filled.

    One pass over the text: a value that itself looks like a placeholder
    ("{crisis_line}") stays as written.
    """
    values = {"number": number, "crisis_line": crisis_line, "poison_centre": poison_centre}
    return _PLACEHOLDER.sub(lambda found: values[found.group(1)], texts(code)[key])


def emergency_lead(
    assessment: Assessment,
    number: str,
    *,
    crisis_line: str | None = None,
    poison_centre: str | None = None,
) -> str:
    """The paragraph that starts a reply to a message signalling a life threat ("" when none).

    In the message's language: call `number` now; for signs of self-harm, the
    self-harm lead and, when `crisis_line` is given, the line to talk to; for
    poisoning or overdose, the poison centre when `poison_centre` is given.
    Ends with a blank line, so the reply follows as its own paragraph.
    """
    kind = assessment.lead
    if kind is None:
        return ""
    code = assessment.language
    lines = [text(code, "self_harm" if kind == "self_harm" else "emergency", number=number)]
    if kind == "self_harm" and crisis_line:
        lines.append(text(code, "crisis_line", crisis_line=crisis_line))
    if kind == "poisoning" and poison_centre:
        lines.append(text(code, "poison_centre", poison_centre=poison_centre))
    return " ".join(lines) + "\n\n"


def closing_language(message: str, code: str) -> str | None:
    """The language in which `message` only closes a conversation ("thanks", "ok"), or None.

    Whole-message patterns of `lang/<code>/chat.toml`, tried in `code` (the
    identified language) first, then in every other language: a one-word
    "danke" or "obrigado" has no stop word to identify it by.
    """
    for candidate in dict.fromkeys((code if code in language_codes() else ENGLISH, *language_codes())):
        pattern = _closings(candidate)
        if any(pattern.fullmatch(form.strip()) for form in read(message, candidate).forms):
            return candidate
    return None


@functools.cache
def _closings(code: str) -> re.Pattern[str]:
    patterns = read_data(code, "chat").get("closings")
    if not isinstance(patterns, list) or not patterns or not all(isinstance(item, str) for item in patterns):
        raise ValueError(f"lang/{code}/chat.toml: closings must be a non-empty list of patterns")
    try:
        return re.compile("|".join(f"(?:{item})" for item in patterns))
    except re.error as error:
        raise ValueError(f"lang/{code}/chat.toml: {error}") from error


def emergency_preamble(number: str) -> str:
    """The English one-line emergency lead (kept for callers that know no language)."""
    return text(ENGLISH, "emergency", number=number)
