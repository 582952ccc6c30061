"""How the detector's code reads a message: sentences, long messages, framing, spelling, errors.

Written because mutations of safety/detect.py survived the data-driven tests
(scripts/mutation.sh safety.detect); each test states the behaviour it pins.
"""

from __future__ import annotations

import pytest
from firstaid_chat.safety import classifier, detect
from firstaid_chat.safety.detect import assess


def test_a_long_message_does_not_dilute_the_emergency_at_its_end() -> None:
    filler = "what a lovely day, " * 10
    found = assess(filler + "my daughter collapsed and is not breathing")
    assert "not_breathing" in found.signals


def test_the_model_veto_reads_every_window_of_a_long_message(monkeypatch: pytest.MonkeyPatch) -> None:
    words = ["calm"] * 30 + ["alarm"]
    monkeypatch.setattr(classifier, "probability", lambda text: 0.9 if "alarm" in text.split() else 0.0)
    assert not detect._every_sentence_below(" ".join(words), 0.1)
    assert detect._every_sentence_below(" ".join(["calm"] * 31), 0.1)
    assert detect._every_sentence_below(" ".join(["calm"] * 12), 0.1)


def test_context_in_a_later_sentence_does_not_switch_off_an_earlier_emergency() -> None:
    assert "not_breathing" in assess("my dad is not breathing. he had a heart attack 3 years ago").signals
    assert "severe_bleeding" in assess("he is bleeding heavily from his leg. his nose is fine").signals


def test_a_remote_past_in_a_middle_sentence_switches_off_its_own_match() -> None:
    assert not assess("hi. my grandad had a stroke 3 years ago. what should we watch for now").emergency


def test_a_misspelt_word_is_corrected_in_the_identified_language() -> None:
    assert assess("my dad is not breahting").signals == ("not_breathing",)


def test_an_unknown_macro_is_named_with_the_place_it_is_used() -> None:
    with pytest.raises(ValueError) as raised:
        detect._expand("{NOPE}", {}, "lang/xx/emergency.toml signals.x.patterns")
    assert str(raised.value) == "lang/xx/emergency.toml signals.x.patterns: unknown macro {NOPE}"


def test_the_model_alone_is_silenced_by_framing_unless_something_says_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "probability", lambda _: 0.95)
    assert assess("my friend is acting very strange").likely
    assert not assess("hypothetically my friend is acting very strange").likely
    assert assess("hypothetically my friend is acting very strange right now").likely


@pytest.mark.parametrize(
    ("message", "enough"),
    [
        ("help", False),  # one word: too little for the model alone to call an emergency
        ("abc", False),  # three Latin letters are one word, not three characters
        ("two words", True),
        ("救命", False),  # two CJK characters
        ("救命啊", True),  # three are enough (CJK is written without spaces)
        ("\u3400\u3400\u3400", True),  # the first and last CJK characters counted
        ("\u9fff\u9fff\u9fff", True),
    ],
)
def test_the_model_alone_judges_two_words_or_three_cjk_characters(message: str, enough: bool) -> None:
    from firstaid_chat.safety.detect import _enough_to_judge

    assert _enough_to_judge(message) is enough
