"""The offline mode's first-aid knowledge: one human-editable TOML file per topic.

Each file in `topics/` is named after its slug and holds::

    title = "Choking (adult)"
    slug = "choking-adult"             # must equal the file name without .toml
    life_threatening = true
    keywords = ["choking", "can't breathe", ...]   # words lay people type
    steps = ["Call {emergency_number} now ...", ...]  # short imperatives, unnumbered
    do_not = ["Don't ...", ...]
    call_emergency_when = ["...", ...]  # or one string
    sources = ["Resuscitation Council UK", ...]  # organisations whose guidance it follows
    guidelines = ["ERC Guidelines 2025: First Aid", ...]  # guideline and edition (a year)
    review_by = 2027-10-01             # a TOML date: when a clinician must look again

Placeholders are filled in from config when a topic is rendered (see
`compose.py`): `{emergency_number}`, `{crisis_line}` and `{poison_centre}`;
any other `{...}` is rejected. A life-threatening topic's first step must
contain `{emergency_number}`, so the first thing a rescuer reads is to call
for help.

Procedures that differ by age share a stem and end in `-adult`, `-child` or
`-infant` (`cpr-adult`, `cpr-child`, `cpr-infant`); retrieval picks the member
that matches the age the message mentions.

Files are validated strictly at load time: a typo in a field name or a missing
placeholder is a bug in safety-critical text and must fail the tests, not
render quietly wrong.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TOPICS_DIR = Path(__file__).resolve().parent / "topics"
EMERGENCY_NUMBER_PLACEHOLDER = "{emergency_number}"
CRISIS_LINE_PLACEHOLDER = "{crisis_line}"
POISON_CENTRE_PLACEHOLDER = "{poison_centre}"
PLACEHOLDERS = (EMERGENCY_NUMBER_PLACEHOLDER, CRISIS_LINE_PLACEHOLDER, POISON_CENTRE_PLACEHOLDER)

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_LEADING_NUMBER = re.compile(r"^\s*\d+[.)]")
# A guideline is named with its edition, and an edition is a year.
_EDITION_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_EARLIEST_REVIEW = datetime.date(2025, 1, 1)
_LATEST_REVIEW = datetime.date(2035, 12, 31)
_STRING_LIST_FIELDS = ("keywords", "steps", "do_not", "sources", "guidelines")
_FIELDS = frozenset({"title", "slug", "life_threatening", "call_emergency_when", "review_by", *_STRING_LIST_FIELDS})
_MAY_BE_EMPTY = frozenset({"do_not"})


@dataclass(frozen=True)
class Topic:
    """One vetted first-aid topic, as a rescuer reads it and as retrieval indexes it.

    List fields are tuples so that a topic can't be changed after loading.
    `call_emergency_when` may be written as one string in the file; it is
    always a tuple here. `guidelines` names the guideline editions the text
    follows and `review_by` the date by which a clinician must review it; the
    loader requires both (the defaults only serve topics built in code).
    """

    title: str
    slug: str
    keywords: tuple[str, ...]
    life_threatening: bool
    steps: tuple[str, ...]
    do_not: tuple[str, ...]
    call_emergency_when: tuple[str, ...]
    sources: tuple[str, ...]
    guidelines: tuple[str, ...] = ()
    review_by: datetime.date | None = None


def load_topics(directory: Path | None = None) -> tuple[Topic, ...]:
    """Load and validate every `*.toml` topic in `directory` (default: the package's topics).

    Raises ValueError naming the file and the problem for the first invalid file.
    Topics come back sorted by slug, so the order never depends on the filesystem.
    """
    directory = TOPICS_DIR if directory is None else directory
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise ValueError(f"{directory}: no topic files (*.toml) found")
    return tuple(load_topic(path) for path in paths)


def load_topic(path: Path) -> Topic:
    """Load and validate a single topic file."""
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path.name}: invalid TOML: {error}") from error
    try:
        return _topic_from(data, path.stem)
    except ValueError as error:
        raise ValueError(f"{path.name}: {error}") from None


def _topic_from(data: dict[str, Any], stem: str) -> Topic:
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}")
    missing = sorted(_FIELDS - set(data))
    if missing:
        raise ValueError(f"missing field(s) {', '.join(missing)}")
    title = _string(data, "title")
    slug = _string(data, "slug")
    if slug != stem:
        raise ValueError(f"slug {slug!r} does not match the file name {stem!r}")
    if not isinstance(data["life_threatening"], bool):
        raise ValueError("'life_threatening' must be true or false")
    lists = {name: _string_list(data, name) for name in _STRING_LIST_FIELDS}
    when = data["call_emergency_when"]
    call_when = (
        (_string(data, "call_emergency_when"),)
        if isinstance(when, str)
        else (_string_list(data, "call_emergency_when"))
    )
    topic = Topic(
        title=title,
        slug=slug,
        keywords=lists["keywords"],
        life_threatening=data["life_threatening"],
        steps=lists["steps"],
        do_not=lists["do_not"],
        call_emergency_when=call_when,
        sources=lists["sources"],
        guidelines=lists["guidelines"],
        review_by=_review_date(data["review_by"]),
    )
    _check_text(topic)
    return topic


def _string(data: dict[str, Any], name: str) -> str:
    value = data[name]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name!r} must be a non-empty string")
    return value.strip()


def _string_list(data: dict[str, Any], name: str) -> tuple[str, ...]:
    value = data[name]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{name!r} must be a list of strings")
    items = tuple(item.strip() for item in value)
    if not items and name not in _MAY_BE_EMPTY:
        raise ValueError(f"{name!r} must not be empty")
    if any(not item for item in items):
        raise ValueError(f"{name!r} contains an empty string")
    return items


def _review_date(value: object) -> datetime.date:
    # tomllib gives a datetime for 2027-10-01T00:00, which is a datetime.date subclass.
    if not isinstance(value, datetime.date) or isinstance(value, datetime.datetime):
        raise ValueError("'review_by' must be a TOML date such as 2027-10-01 (no quotes, no time)")
    if not _EARLIEST_REVIEW <= value <= _LATEST_REVIEW:
        raise ValueError(f"'review_by' {value} is not between {_EARLIEST_REVIEW} and {_LATEST_REVIEW}")
    return value


def _check_text(topic: Topic) -> None:
    """Reject text that would render wrongly or put a life-threatening topic's call last."""
    texts = (topic.title, *topic.steps, *topic.do_not, *topic.call_emergency_when)
    for text in texts:
        for placeholder in _PLACEHOLDER.findall(text):
            if placeholder not in PLACEHOLDERS:
                raise ValueError(f"unknown placeholder {placeholder} (only {', '.join(PLACEHOLDERS)})")
    for guideline in topic.guidelines:
        if not _EDITION_YEAR.search(guideline):
            raise ValueError(f"guideline {guideline!r} names no edition: add its year")
    for step in topic.steps:
        if _LEADING_NUMBER.match(step):
            raise ValueError(f"step {step!r} is numbered; steps are numbered when rendered")
    if topic.life_threatening and EMERGENCY_NUMBER_PLACEHOLDER not in topic.steps[0]:
        raise ValueError(
            f"life-threatening topic: the first step must tell the user to call {EMERGENCY_NUMBER_PLACEHOLDER}"
        )
