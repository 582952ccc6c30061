"""Emergency detection, language identification and lead texts (firstaid_chat.safety)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from firstaid_chat.safety.detect import _compiled, assess, life_threat_signals, signals_life_threat
from firstaid_chat.safety.language import identify, languages, read
from firstaid_chat.safety.lead import emergency_lead, text
from firstaid_chat.safety.text import clauses, fold

DEV = Path(__file__).parent / "data" / "safety" / "dev"


# --- reading text in any script -----------------------------------------------------


def test_normalising_keeps_every_script_and_its_accents() -> None:
    assert clauses("Mon BÉBÉ respire plus!", join_apostrophes=False) == [["mon", "bébé", "respire", "plus"]]
    assert clauses("मेरा बच्चा सांस नहीं ले रहा", join_apostrophes=False) == [["मेरा", "बच्चा", "सांस", "नहीं", "ले", "रहा"]]
    assert clauses("ابني لا يتنفس", join_apostrophes=False) == [["ابني", "لا", "يتنفس"]]
    assert clauses("我爸爸晕倒了，没有呼吸。快！", join_apostrophes=False) == [["我爸爸晕倒了", "没有呼吸"], ["快"]]


def test_apostrophes_join_english_words_and_split_french_ones() -> None:
    assert clauses("he isn't breathing", join_apostrophes=True) == [["he", "isnt", "breathing"]]
    assert clauses("il s'étouffe", join_apostrophes=False) == [["il", "s", "étouffe"]]


def test_diacritics_are_stripped_only_from_latin_letters() -> None:
    assert fold("bébé") == "bebe"
    assert fold("kreissäge") == "kreissage"
    assert fold("साँस") == "साँस"
    assert fold("يَتَنَفَّس") == "يَتَنَفَّس"


def test_arabic_and_hindi_spelling_variants_read_the_same() -> None:
    assert read("أبني لا يتنفّس", "ar").forms[0] == read("ابني لا يتنفس", "ar").forms[0]
    assert read("साँस नही", "hi").forms[0] == read("सांस नहीं", "hi").forms[0]
    assert read("沒呼吸", "zh").forms[0] == read("没呼吸", "zh").forms[0]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("my dad is not breathing", "en"),
        ("mi hijo no respira", "es"),
        ("mon père ne respire plus", "fr"),
        ("mein Vater atmet nicht mehr", "de"),
        ("meu filho não está respirando", "pt"),
        ("मेरा बेटा सांस नहीं ले रहा", "hi"),
        ("mera beta saans nahi le raha hai", "hi-Latn"),
        ("ابني لا يتنفس", "ar"),
        ("我爸爸晕倒了没有呼吸", "zh"),
    ],
)
def test_language_is_identified_and_the_emergency_found(message: str, code: str) -> None:
    assert identify(message) == code
    found = assess(message)
    assert found.language == code
    assert found.emergency


def test_a_message_without_stop_words_takes_the_language_whose_patterns_fired() -> None:
    assert assess("jveux mourir").language == "fr"
    assert assess("jveux mourir").signals == ("self_harm",)


# --- what the probe found (the kinds, not only these strings) ----------------


@pytest.mark.parametrize(
    "message",
    [
        "hes gone limp and wont respond to me",
        "grandads speech is all weird and his arm went weak",
        "got stung by a bee and now i cant swallow and my face is puffing up",
        "found my toddler face down in the paddling pool",
        "shes been shaking and jerking on the floor for 10 minutes",
        "heavy bleeding",
        "she took 20 tablets",
        "i wanna die",
        "fell through the ice",
        "worst headache of my life",
        "my teacher collapsed in class and isnt breathing",
        "my friend collapsed at football training and isnt breathing",
        "hes choking what if he dies",
    ],
)
def test_life_threats_the_old_detector_missed_are_found(message: str) -> None:
    assert signals_life_threat(message), message


@pytest.mark.parametrize(
    "message",
    [
        "i nearly choked laughing at that video lol",
        "had a stroke 3 years ago",
        "drowning in paperwork",
        "signs of a heart attack",
        "what if someone chokes at dinner",
        "revising for my first aid exam: what do you do for a seizure",
        "this traffic is killing me",
        "my phone is dead",
    ],
)
def test_past_questions_idioms_and_study_are_not_emergencies(message: str) -> None:
    assert life_threat_signals(message) == [], message


def test_right_now_overrides_a_question_or_study_context() -> None:
    assert not signals_life_threat("what are the signs of a heart attack")
    assert signals_life_threat("signs of a heart attack right now, crushing chest pain, help me")
    assert signals_life_threat("im studying for my exam and my friend just collapsed and isnt breathing help me")


def test_a_past_event_in_another_sentence_does_not_switch_off_a_present_one() -> None:
    assert not signals_life_threat("my dad had a heart attack 3 years ago.")
    assert signals_life_threat("my dad had a heart attack 3 years ago. now he has crushing chest pain and is sweating")


def test_an_idiom_neither_fires_nor_hides_a_real_emergency() -> None:
    assert not signals_life_threat("im drowning in paperwork")
    assert signals_life_threat("im drowning in paperwork and my colleague just collapsed and isnt breathing")


def test_a_pets_emergency_is_not_a_call_for_an_ambulance() -> None:
    assert not signals_life_threat("my dog had a seizure")
    assert not signals_life_threat("mi perro se atraganto con un hueso")
    assert signals_life_threat("i tripped over the dog and my husband is not breathing")


def test_a_context_word_of_one_language_applies_to_english_words_in_another() -> None:
    assert not signals_life_threat("papa ko 3 saal pehle heart attack aaya tha")
    assert not signals_life_threat("stroke ke symptoms kya hote h")
    assert signals_life_threat("papa ko heart attack aa raha hai jaldi")


# --- every kind of life threat in every language is pinned by a development message --


def dev_messages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(DEV.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            found.setdefault(row["lang"], []).append((row["text"], row["label"]))
    return found


def test_every_kind_in_every_language_matches_a_development_message() -> None:
    by_language = dev_messages()
    unpinned = []
    for code in languages():
        forms = [form for message, _ in by_language[code] for form in read(message, code).forms]
        for kind, pattern, _ in _compiled(code).signals:
            if not any(pattern.search(form) for form in forms):
                unpinned.append((code, kind))
    assert unpinned == []


def test_every_pattern_alternative_is_pinned_by_a_message_or_listed_as_not_yet() -> None:
    from tests.safety_pins import alternatives, listed

    found = alternatives()
    allowed = listed()
    new_unpinned = [row for row, pinned in found.items() if not pinned and row not in allowed]
    assert new_unpinned == [], "a new pattern needs a development message it matches (python -m tests.safety_pins)"
    stale = sorted(row for row in allowed if found.get(row, True))
    assert stale == [], "pinned or gone: rewrite the list with python -m tests.safety_pins --write"
    print(f"pattern alternatives pinned by a development message: {sum(found.values())} of {len(found)}")


def test_the_detector_says_of_every_development_message_what_was_reviewed() -> None:
    from tests.safety_pins import recorded_verdicts, verdicts

    now, recorded = verdicts(), recorded_verdicts()
    changed = sorted(set(now) ^ set(recorded))
    assert changed == [], "verdicts changed: review, then python -m tests.safety_pins --write"


# --- lead texts ---------------------------------------------------------------------


def test_the_lead_is_in_the_persons_language_with_the_configured_number() -> None:
    assert emergency_lead(assess("mi hijo no respira"), "112").startswith("**Llame al 112 ahora**")
    assert emergency_lead(assess("ابني لا يتنفس"), "997").startswith("**اتصل بالرقم 997 الآن**")
    assert emergency_lead(assess("我爸爸晕倒了没有呼吸"), "120").startswith("**请立即拨打 120**")
    assert emergency_lead(assess("how do i treat a nosebleed"), "112") == ""


def test_self_harm_gets_the_crisis_line_when_one_is_configured() -> None:
    found = assess("quiero morir")
    assert found.lead == "self_harm"
    assert "024" in emergency_lead(found, "112", crisis_line="024")
    assert emergency_lead(found, "112").count("112") == 1
    assert "{crisis_line}" not in emergency_lead(found, "112")


def test_poisoning_gets_the_poison_centre_when_one_is_configured() -> None:
    found = assess("my toddler drank bleach")
    assert found.lead == "poisoning"
    assert "Poison centre: 0800 123" in emergency_lead(found, "999", poison_centre="0800 123")
    assert "Poison centre" not in emergency_lead(found, "999")


def test_a_configured_text_cannot_inject_formatting() -> None:
    assert text("en", "emergency", number="{crisis_line}").startswith("**Call {crisis_line} now**")


def test_an_unknown_language_falls_back_to_english() -> None:
    assert text("xx", "steps_in_english") == "_The steps below are in English._"


@pytest.mark.parametrize(
    "message",
    [
        "my mate took 20 paracetamol",
        "lol my mate took like 20 paracetamol as a joke is that bad",
        "he swallowed 15 ibuprofen",
        "我丈夫没有呼吸",
        "他没有呼吸",
    ],
)
def test_plain_reports_found_by_trying_the_product_are_emergencies(message: str) -> None:
    assert assess(message).emergency


def test_their_harmless_neighbours_are_not() -> None:
    assert not assess("i take 2 paracetamol for headaches").emergency


def test_a_question_whether_someone_still_breathes_matches_no_pattern_but_the_model_calls_it_likely() -> None:
    # "Is he still breathing?": the "no breath" pattern must not match it, but
    # asked in a first-aid chat it most likely comes from beside someone in
    # trouble, and the statistical model says so: the reply leads with the number.
    found = assess("他还有呼吸吗")
    assert found.signals == ()
    assert found.likely and found.lead == "emergency"
