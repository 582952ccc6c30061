"""The offline guide's content against the 2025 guidance, its review metadata, and contact lines.

Each content test pins one decision from the clinical review (README, "Clinician review"):
if someone edits a topic back to the old advice, the test names what was lost.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from firstaid_chat.offline.compose import compose_reply
from firstaid_chat.offline.knowledge import (
    CRISIS_LINE_PLACEHOLDER,
    POISON_CENTRE_PLACEHOLDER,
    Topic,
    load_topics,
)
from firstaid_chat.offline.retrieval import TopicIndex

NEW_SLUGS = {
    "sepsis",
    "meningitis",
    "fever-in-baby",
    "emergency-childbirth",
    "amputation",
    "open-chest-wound",
    "high-blood-sugar",
    "alcohol-poisoning",
    "swallowed-object",
    "croup",
    "choking-alone",
    "dehydration-child",
    "thunderclap-headache",
    "carbon-monoxide",
    "crush-injury",
    "cold-water-immersion",
}

TOPIC = """\
title = "Nosebleed"
slug = "nosebleed"
life_threatening = false
keywords = ["nosebleed"]
steps = ["Lean forward."]
do_not = []
call_emergency_when = ["They are struggling to breathe."]
sources = ["NHS"]
guidelines = ["ERC Guidelines 2025: First Aid"]
review_by = 2027-10-01
"""


@pytest.fixture(scope="module")
def by_slug() -> dict[str, Topic]:
    return {topic.slug: topic for topic in load_topics()}


def text_of(topic: Topic) -> str:
    return " ".join((*topic.steps, *topic.do_not, *topic.call_emergency_when))


def load_one(tmp_path: Path, text: str) -> list[Topic]:
    (tmp_path / "nosebleed.toml").write_text(text, encoding="utf-8")
    return list(load_topics(tmp_path))


# --- every topic names its guidelines and a review date -----------------------------


def test_the_sixteen_new_topics_exist_with_their_exact_slugs(by_slug: dict[str, Topic]) -> None:
    assert NEW_SLUGS - set(by_slug) == set()
    assert len(by_slug) >= 64


def test_every_topic_names_a_dated_guideline_and_is_not_past_its_review_date(by_slug: dict[str, Topic]) -> None:
    # Failing here after a review_by date means: a clinician must review the topic, then move the date.
    today = datetime.date.today()
    for topic in by_slug.values():
        assert topic.guidelines, topic.slug
        assert topic.review_by is not None and topic.review_by > today, topic.slug


def test_resuscitation_topics_follow_the_2025_editions(by_slug: dict[str, Topic]) -> None:
    for slug in ("cpr-adult", "cpr-child", "cpr-infant", "choking-adult", "choking-child", "choking-infant"):
        assert any("2025" in guideline for guideline in by_slug[slug].guidelines), slug


def test_loader_reads_guidelines_and_review_date(tmp_path: Path) -> None:
    (topic,) = load_one(tmp_path, TOPIC)
    assert topic.guidelines == ("ERC Guidelines 2025: First Aid",)
    assert topic.review_by == datetime.date(2027, 10, 1)


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ('guidelines = ["ERC Guidelines 2025: First Aid"]\n', "", r"missing field\(s\) guidelines"),
        ("review_by = 2027-10-01\n", "", r"missing field\(s\) review_by"),
        ('"ERC Guidelines 2025: First Aid"', '"ERC Guidelines: First Aid"', "names no edition"),
        ("guidelines = [", "guidelines = [] # ", "'guidelines' must not be empty"),
        ("2027-10-01", '"2027-10-01"', "must be a TOML date"),
        ("2027-10-01", "2027-10-01T09:00:00", "must be a TOML date"),
        ("2027-10-01", "2099-01-01", "is not between"),
        ("Lean forward.", "Lean forward and call {poison_center}.", r"unknown placeholder \{poison_center\}"),
    ],
)
def test_loader_rejects_bad_review_metadata_and_placeholders(tmp_path: Path, old: str, new: str, error: str) -> None:
    assert old in TOPIC
    with pytest.raises(ValueError, match=rf"nosebleed\.toml: .*{error}"):
        load_one(tmp_path, TOPIC.replace(old, new, 1))


def test_loader_accepts_the_contact_placeholders(tmp_path: Path) -> None:
    text = TOPIC.replace("Lean forward.", "Call {crisis_line} or {poison_centre}.")
    (topic,) = load_one(tmp_path, text)
    assert CRISIS_LINE_PLACEHOLDER in topic.steps[0] and POISON_CENTRE_PLACEHOLDER in topic.steps[0]


# --- contact lines in replies --------------------------------------------------------


def test_suicidal_crisis_reply_gives_the_configured_crisis_line(by_slug: dict[str, Topic]) -> None:
    reply = compose_reply(by_slug["suicidal-crisis"], "999", crisis_line="116 123 (Samaritans)")
    assert "the crisis line on 116 123 (Samaritans)" in reply
    assert "{" not in reply


def test_without_a_crisis_line_the_reply_points_to_a_local_line_or_the_emergency_number(
    by_slug: dict[str, Topic],
) -> None:
    reply = compose_reply(by_slug["suicidal-crisis"], "112", crisis_line=None)
    assert "a local crisis or suicide prevention line (or 112 if you don't know one)" in reply
    assert "{" not in reply


def test_poisoning_reply_gives_the_poison_centre_or_a_local_one(by_slug: dict[str, Topic]) -> None:
    configured = compose_reply(by_slug["poisoning"], "911", poison_centre="1-800-222-1222 (Poison Help)")
    assert "call poisons advice on 1-800-222-1222 (Poison Help)" in configured
    missing = compose_reply(by_slug["poisoning"], "112")
    assert "a local poison centre (or 112 if you don't know its number)" in missing
    assert "{" not in configured + missing


def test_the_suicidal_crisis_and_poisoning_topics_use_the_contact_placeholders(by_slug: dict[str, Topic]) -> None:
    assert CRISIS_LINE_PLACEHOLDER in text_of(by_slug["suicidal-crisis"])
    for slug in ("poisoning", "overdose"):
        assert POISON_CENTRE_PLACEHOLDER in text_of(by_slug[slug]), slug


def test_reply_names_the_guideline_editions(by_slug: dict[str, Topic]) -> None:
    last = compose_reply(by_slug["cpr-infant"], "112").splitlines()[-1]
    assert last.startswith("Source: guidance from ")
    assert "following ERC Guidelines 2025: Paediatric Life Support" in last


def test_offline_api_uses_the_crisis_line_derived_from_the_emergency_number(make_client: Any) -> None:
    client = make_client(EMERGENCY_NUMBER="911", MODEL_PROVIDER="offline")
    body = client.post("/v1/chat", json={"message": "i want to kill myself"}).get_json()
    assert "988" in body["reply"]
    overridden = make_client(EMERGENCY_NUMBER="911", MODEL_PROVIDER="offline", CRISIS_LINE="none")
    reply = overridden.post("/v1/chat", json={"message": "i want to kill myself"}).get_json()["reply"]
    assert "988" not in reply and "a local crisis or suicide prevention line (or 911" in reply


# --- the review items ----------------------------------------------------------------


def test_anaphylaxis_gives_adrenaline_before_the_call_and_lies_them_flat(by_slug: dict[str, Topic]) -> None:
    topic = by_slug["anaphylaxis"]
    first = topic.steps[0].lower()
    assert first.index("adrenaline") < first.index("then call")
    assert "flat" in topic.steps[1] and "legs raised" in topic.steps[1]


def test_asthma_is_life_threatening_and_distinguishes_combination_inhalers(by_slug: dict[str, Topic]) -> None:
    topic = by_slug["asthma-attack"]
    assert topic.life_threatening
    steps = " ".join(topic.steps)
    assert "MART or AIR" in steps and "up to 6 puffs" in steps and "up to 10 puffs" in steps


def test_infant_cpr_uses_two_thumbs_or_one_heel_never_two_fingers(by_slug: dict[str, Topic]) -> None:
    steps = " ".join(by_slug["cpr-infant"].steps).lower()
    assert "two thumbs" in steps and "heel of one hand" in steps
    assert "two fingertips" not in steps and "two fingers" not in steps


def test_child_and_infant_cpr_fall_back_to_adult_aed_pads(by_slug: dict[str, Topic]) -> None:
    for slug in ("cpr-child", "cpr-infant"):
        assert "adult pads" in " ".join(by_slug[slug].steps), slug


def test_bleeding_puts_a_tourniquet_on_early_and_teaches_packing_and_improvising(by_slug: dict[str, Topic]) -> None:
    steps = " ".join(by_slug["severe-bleeding"].steps).lower()
    assert "tourniquet straight away" in steps
    assert "pack it" in steps and "improvise" in steps
    assert "pressure doesn't stop it" not in steps


def test_spinal_injury_tells_an_alert_person_to_keep_still_without_holding_the_head(
    by_slug: dict[str, Topic],
) -> None:
    steps = " ".join(by_slug["spinal-injury"].steps).lower()
    assert "keep still" in steps
    assert "hold it still" not in steps and "keep holding the head" not in steps


def test_low_blood_sugar_gives_an_amount_of_glucose(by_slug: dict[str, Topic]) -> None:
    assert "15 to 20 g" in " ".join(by_slug["low-blood-sugar"].steps)


def test_open_chest_wound_is_left_open_never_sealed(by_slug: dict[str, Topic]) -> None:
    topic = by_slug["open-chest-wound"]
    assert "open to the air" in " ".join(topic.steps)
    assert any("airtight" in item for item in topic.do_not)


def test_meningitis_teaches_the_glass_test_and_not_to_wait_for_a_rash(by_slug: dict[str, Topic]) -> None:
    text = text_of(by_slug["meningitis"])
    assert "glass" in text and "Don't wait for a rash" in text


def test_crush_injury_frees_the_person_whatever_the_time(by_slug: dict[str, Topic]) -> None:
    assert "however long they have been trapped" in text_of(by_slug["crush-injury"])


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("my baby has a rash that doesnt go away under a glass", "meningitis"),
        ("she's in labour on the bathroom floor and pushing", "emergency-childbirth"),
        ("fell through the ice", "cold-water-immersion"),
        ("worst headache of my life", "thunderclap-headache"),
        ("my toddler swallowed a button battery", "swallowed-object"),
        ("he's stuck under a fallen wall", "crush-injury"),
    ],
)
def test_new_topics_are_found_from_lay_messages(message: str, slug: str) -> None:
    match = TopicIndex.build(load_topics()).best(message)
    assert match is not None and match.topic.slug == slug


@pytest.mark.parametrize(
    "text",
    [
        '[crisis_line]\nconfigured = "the line on {number}"\n',
        '[crisis_line]\nconfigured = "the line"\nmissing = "{emergency_number}"\n'
        '[poison_centre]\nconfigured = "{number}"\nmissing = "{emergency_number}"\n',
    ],
)
def test_a_broken_contact_phrases_file_is_rejected_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    from firstaid_chat.offline import compose

    path = tmp_path / "contact_phrases.toml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(compose, "CONTACT_PHRASES_PATH", path)
    compose._contact_phrases.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"contact_phrases\.toml: \[crisis_line\]"):
            compose.fill_contacts("Call {crisis_line}.", crisis_line=None, poison_centre=None)
    finally:
        compose._contact_phrases.cache_clear()
