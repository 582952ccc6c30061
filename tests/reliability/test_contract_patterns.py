"""openapi.yaml's message schema and the server's validation accept exactly the same messages.

Strings go through JSON first, as they do on the wire: a surrogate pair becomes one character,
an unpaired surrogate stays one (the server keeps it as U+FFFD). Both sides then judge the same
decoded value.
"""

from __future__ import annotations

import json
import string

import pytest
from firstaid_chat.chat_request import validate_chat_fields
from firstaid_chat.errors import ChatError
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.reliability import report
from tests.test_openapi import SPEC, schema

pytestmark = pytest.mark.reliability
MAX_CHARS = SPEC["components"]["schemas"]["ChatRequest"]["properties"]["message"]["maxLength"]
VALIDATOR = schema("ChatRequest")  # a strict OAS 3.0 validator of the document as written
TRICKY = ["\x00", "\u2028", "\u2029", "\x85", "\x1c", "\x1f", "\ufeff", "\u200b", "\xa0", "\u3000", " ", "\t", "\n",
          "\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00", "\U0001f600", "a", "é"]  # fmt: skip
CHARACTERS = st.one_of(
    st.sampled_from(TRICKY),
    st.characters(categories=["Cs"]),  # unpaired surrogates, as "\udXXX" JSON escapes deliver them
    st.characters(categories=["Zs", "Zl", "Zp", "Cc"]),
    st.characters(),
)
PADDED = st.builds(
    lambda pad, core: pad + core,
    st.text(st.sampled_from(string.whitespace), max_size=3),
    st.text(CHARACTERS, max_size=4),
)
NEAR_THE_LIMIT = st.builds(  # where trimming before the length check used to matter
    lambda n, unit, tail: unit * n + tail,
    st.integers(MAX_CHARS - 3, MAX_CHARS + 3),
    st.sampled_from(["x", " ", "\U0001f600"]),
    st.sampled_from(["", " ", "\u2028", "y"]),
)
MESSAGES = st.one_of(st.text(CHARACTERS, max_size=12), PADDED, NEAR_THE_LIMIT)
checked = {"count": 0, "accepted": 0}


def spec_accepts(message: str) -> bool:
    return VALIDATOR.is_valid({"message": message})


def server_accepts(message: str) -> bool:
    try:
        validate_chat_fields({"message": message}, MAX_CHARS)
    except ChatError as exc:
        return not 400 <= exc.status < 500  # a rejection must be a 4xx: anything else counts as accepted
    return True


@settings(max_examples=1500, deadline=None)
@given(MESSAGES)
def test_spec_pattern_and_server_validation_agree_on_every_message(text: str) -> None:
    message = json.loads(json.dumps(text))  # what a JSON parser on either side sees
    checked["count"] += 1
    checked["accepted"] += server_accepts(message)
    assert spec_accepts(message) == server_accepts(message), repr(message)


@pytest.mark.parametrize(
    ("message", "accepted"),
    [("\x00", False), ("a\x00", False), ("\u2028", False), ("\ud800", True), ("\x1c", False),
     ("\U0001f600", True), ("\ufeff", True), (" a ", True), ("x" * MAX_CHARS + " ", False)],
)  # fmt: skip
def test_known_edge_messages(message: str, accepted: bool) -> None:
    assert spec_accepts(message) == server_accepts(message) == accepted


def test_every_character_the_server_trims_is_white_space_to_the_spec() -> None:
    singles = [chr(c) for c in range(0x3100)] + ["\U0001f600", "\U000e0020"]
    disagreements = [hex(ord(c)) for c in singles if spec_accepts(c) != server_accepts(c)]
    assert disagreements == []


def test_record_pattern_agreement() -> None:
    assert checked["count"] > 0
    report.add("fuzzing", "Hypothesis: openapi message pattern vs server validation (lone surrogates, NUL, U+2028, "
               "length edge)", f"{checked['count']} messages ({checked['accepted']} accepted), 0 disagreements; "
               "every code point below U+3100 checked alone")  # fmt: skip
