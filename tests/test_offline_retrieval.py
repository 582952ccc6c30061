"""Unit tests for the offline first-aid mode: topics, retrieval, life-threat detection, replies."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from firstaid_chat.offline.common_words import COMMON_WORDS
from firstaid_chat.offline.compose import compose_reply
from firstaid_chat.offline.knowledge import EMERGENCY_NUMBER_PLACEHOLDER, Topic, load_topics
from firstaid_chat.offline.retrieval import TopicIndex, terms
from firstaid_chat.offline.text import SpellingCorrector
from firstaid_chat.safety.detect import signals_life_threat
from firstaid_chat.safety.lead import emergency_preamble

REQUIRED_SLUGS = {
    "cpr-adult",
    "cpr-child",
    "cpr-infant",
    "choking-adult",
    "choking-child",
    "choking-infant",
    "severe-bleeding",
    "shock",
    "burns-and-scalds",
    "chemical-burns",
    "electric-shock",
    "fractures",
    "sprains-and-strains",
    "head-injury",
    "spinal-injury",
    "stroke",
    "heart-attack",
    "anaphylaxis",
    "asthma-attack",
    "seizures",
    "low-blood-sugar",
    "fainting",
    "heat-exhaustion",
    "heat-stroke",
    "hypothermia",
    "frostbite",
    "poisoning",
    "overdose",
    "drowning",
    "nosebleed",
    "eye-injury",
    "chemical-in-eye",
    "insect-stings",
    "animal-bites",
    "snake-bites",
    "recovery-position",
    "when-to-call-emergency-services",
}
KNOWN_SOURCES = {
    "British Red Cross",
    "American Red Cross",
    "Resuscitation Council UK",
    "European Resuscitation Council",
    "American Heart Association",
    "St John Ambulance",
    "NHS",
    "Anaphylaxis UK",
    "Asthma + Lung UK",
    "Diabetes UK",
    "Epilepsy Action",
    "Royal Life Saving Society UK",
    "Samaritans",
    "Mind",
    "NICE",
    "UK Sepsis Trust",
    "Meningitis Research Foundation",
    "Royal College of Obstetricians and Gynaecologists",
    "American Academy of Pediatrics",
    "National Capital Poison Center",
    "Centers for Disease Control and Prevention",
    "Australian and New Zealand Committee on Resuscitation",
    "RNLI",
}

VALID_TOPIC = """\
title = "Nosebleed"
slug = "{slug}"
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
def topics() -> tuple[Topic, ...]:
    return load_topics()


@pytest.fixture(scope="module")
def by_slug(topics: tuple[Topic, ...]) -> dict[str, Topic]:
    return {topic.slug: topic for topic in topics}


@pytest.fixture(scope="module")
def index(topics: tuple[Topic, ...]) -> TopicIndex:
    return TopicIndex.build(topics)


def best_slug(index: TopicIndex, message: str) -> str | None:
    match = index.best(message)
    return match.topic.slug if match else None


def write_topic(directory: Path, slug: str, text: str) -> Path:
    path = directory / f"{slug}.toml"
    path.write_text(text, encoding="utf-8")
    return path


# --- the knowledge base -------------------------------------------------------------


def test_at_least_38_topics_load_with_required_fields(topics: tuple[Topic, ...]) -> None:
    assert len(topics) >= 38
    for topic in topics:
        assert topic.title, topic.slug
        assert topic.keywords, topic.slug
        assert topic.steps, topic.slug
        assert topic.sources, topic.slug
        assert topic.call_emergency_when, topic.slug


def test_every_topic_the_brief_names_is_present(by_slug: dict[str, Topic]) -> None:
    assert REQUIRED_SLUGS - set(by_slug) == set()


def test_every_life_threatening_topic_starts_with_calling_the_emergency_number(
    topics: tuple[Topic, ...],
) -> None:
    life_threatening = [topic for topic in topics if topic.life_threatening]
    assert len(life_threatening) >= 15
    for topic in life_threatening:
        first = topic.steps[0]
        assert EMERGENCY_NUMBER_PLACEHOLDER in first, topic.slug
        assert "call" in first.lower(), topic.slug


def test_every_topic_follows_recognised_first_aid_organisations(
    topics: tuple[Topic, ...],
) -> None:
    for topic in topics:
        assert set(topic.sources) <= KNOWN_SOURCES, topic.slug


def test_every_keyword_leaves_a_search_term(topics: tuple[Topic, ...]) -> None:
    # A keyword made only of stop words ("is it bad") would silently match nothing.
    empty = [(topic.slug, keyword) for topic in topics for keyword in topic.keywords if not terms(keyword)]
    assert empty == []


def test_no_topic_gives_a_medicine_dose_except_aspirin_for_a_heart_attack(
    topics: tuple[Topic, ...],
) -> None:
    # The low-blood-sugar topic gives an amount of sugary drink (ml): food, not medicine.
    dose = re.compile(r"\d+\s*(?:mg|ml|mcg|micrograms?|milligrams?)\b", re.IGNORECASE)
    with_doses = {topic.slug for topic in topics for text in (*topic.steps, *topic.do_not) if dose.search(text)}
    assert with_doses == {"heart-attack", "low-blood-sugar"}


def test_infant_choking_is_not_answered_with_abdominal_thrusts(
    by_slug: dict[str, Topic],
    index: TopicIndex,
) -> None:
    infant = by_slug["choking-infant"]
    assert not any("abdominal" in step.lower() for step in infant.steps)
    assert any("chest thrusts" in step.lower() for step in infant.steps)
    assert any("abdominal thrusts" in item.lower() for item in infant.do_not)
    for message in ("my baby is choking", "7 month old choking on food", "newborn choking"):
        assert best_slug(index, message) == "choking-infant", message


def test_adult_choking_gives_five_back_blows_then_five_abdominal_thrusts(
    by_slug: dict[str, Topic],
) -> None:
    steps = " ".join(by_slug["choking-adult"].steps).lower()
    assert steps.index("5 sharp blows") < steps.index("abdominal thrusts") < steps.index("up to 5.")


def test_adult_cpr_gives_current_rate_depth_ratio_and_aed(by_slug: dict[str, Topic]) -> None:
    steps = " ".join(by_slug["cpr-adult"].steps)
    for fact in ("100 to 120", "5 to 6 cm", "2 rescue breaths after every 30", "AED"):
        assert fact in steps, fact


def test_burns_are_cooled_for_20_minutes_and_never_iced_or_buttered(
    by_slug: dict[str, Topic],
) -> None:
    burns = by_slug["burns-and-scalds"]
    assert any("running water for 20 minutes" in step for step in burns.steps)
    assert any("cling film" in step for step in burns.steps)
    warnings = " ".join(burns.do_not).lower()
    assert "ice" in warnings
    assert "butter" in warnings


def test_severe_bleeding_keeps_embedded_objects_in(by_slug: dict[str, Topic]) -> None:
    bleeding = by_slug["severe-bleeding"]
    assert any("leave it in" in step for step in bleeding.steps)
    assert any("pull out" in item for item in bleeding.do_not)


def test_stroke_topic_teaches_fast(by_slug: dict[str, Topic]) -> None:
    first = by_slug["stroke"].steps[0]
    for word in ("Face", "Arm", "Speech", "Time"):
        assert word in first


# --- loading and validating topic files ---------------------------------------------


def test_loader_reads_a_valid_topic_file(tmp_path: Path) -> None:
    write_topic(tmp_path, "nosebleed", VALID_TOPIC.format(slug="nosebleed"))
    (topic,) = load_topics(tmp_path)
    assert topic.slug == "nosebleed"
    assert topic.steps == ("Lean forward.",)


def test_loader_rejects_topic_without_steps(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace('steps = ["Lean forward."]', "steps = []")
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"nosebleed\.toml: 'steps' must not be empty"):
        load_topics(tmp_path)


def test_loader_rejects_topic_with_a_missing_field(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace('sources = ["NHS"]\n', "")
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"nosebleed\.toml: missing field\(s\) sources"):
        load_topics(tmp_path)


def test_loader_rejects_misspelt_field_name(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace("do_not =", "dont =")
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"unknown field\(s\) dont"):
        load_topics(tmp_path)


def test_loader_rejects_keywords_that_are_not_a_list_of_strings(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace('["nosebleed"]', '"nosebleed"')
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"'keywords' must be a list of strings"):
        load_topics(tmp_path)


def test_loader_rejects_slug_that_differs_from_file_name(tmp_path: Path) -> None:
    write_topic(tmp_path, "nose-bleed", VALID_TOPIC.format(slug="nosebleed"))
    with pytest.raises(ValueError, match=r"nose-bleed\.toml: slug 'nosebleed' does not match"):
        load_topics(tmp_path)


def test_loader_rejects_life_threatening_topic_that_does_not_call_first(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace("life_threatening = false", "life_threatening = true")
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"first step must tell the user to call"):
        load_topics(tmp_path)


def test_loader_rejects_misspelt_placeholder(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace("Lean forward.", "Call {{emergency_numbr}}, then lean forward.")
    write_topic(tmp_path, "nosebleed", text)
    with pytest.raises(ValueError, match=r"unknown placeholder \{emergency_numbr\}"):
        load_topics(tmp_path)


def test_loader_rejects_invalid_toml_naming_the_file(tmp_path: Path) -> None:
    write_topic(tmp_path, "nosebleed", 'title = "unclosed\n')
    with pytest.raises(ValueError, match=r"nosebleed\.toml: invalid TOML"):
        load_topics(tmp_path)


def test_loader_accepts_call_emergency_when_written_as_one_string(tmp_path: Path) -> None:
    text = VALID_TOPIC.format(slug="nosebleed").replace(
        'call_emergency_when = ["They are struggling to breathe."]',
        'call_emergency_when = "They are struggling to breathe."',
    )
    write_topic(tmp_path, "nosebleed", text)
    (topic,) = load_topics(tmp_path)
    assert topic.call_emergency_when == ("They are struggling to breathe.",)


def test_loader_rejects_a_folder_without_topics(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no topic files"):
        load_topics(tmp_path)


# --- retrieval ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("my dad is clutching his chest", "heart-attack"),
        ("kid swallowed a coin and can't breathe", "choking-child"),
        ("bee sting and her throat is swelling", "anaphylaxis"),
        ("grandma fell and her wrist looks bent", "fractures"),
        ("i touched the pan and my hand is red and blistering", "burns-and-scalds"),
        ("my nose won't stop bleeding", "nosebleed"),
        ("how do I put someone in the recovery position", "recovery-position"),
    ],
)
def test_lay_description_finds_topic(index: TopicIndex, message: str, slug: str) -> None:
    assert best_slug(index, message) == slug


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("my husband is having a siezure", "seizures"),
        ("she is unconsious but breathing", "unconscious-breathing"),
        ("anaphalaxis after eating prawns", "anaphylaxis"),
        ("deep cut bleading everywhere", "severe-bleeding"),
        ("hypothermea after hours out in the cold", "hypothermia"),
        ("splinta in my thumb", "splinters"),
    ],
)
def test_misspelled_message_finds_topic(index: TopicIndex, message: str, slug: str) -> None:
    assert best_slug(index, message) == slug


@pytest.mark.parametrize(
    "message",
    [
        "what's the capital of France",
        "write me a poem",
        "hi",
        "how do I bake bread",
        "what's the weather",
        "should I buy bitcoin or ethereum",
        "help me with my maths homework",
        "",
        "???",
    ],
)
def test_off_topic_message_matches_nothing(index: TopicIndex, message: str) -> None:
    assert index.search(message) == []
    assert index.best(message) is None


@pytest.mark.parametrize(
    ("message", "slug"),
    [
        ("my baby is not breathing", "cpr-infant"),
        ("my 3 month old has stopped breathing", "cpr-infant"),
        ("toddler not breathing", "cpr-child"),
        ("my 7 year old is not breathing", "cpr-child"),
        ("my husband is not breathing", "cpr-adult"),
        ("not breathing", "cpr-adult"),
        ("my 15 year old is choking", "choking-adult"),
        ("my 2yo is choking", "choking-child"),
    ],
)
def test_age_cue_picks_the_infant_child_or_adult_version(
    index: TopicIndex,
    message: str,
    slug: str,
) -> None:
    assert best_slug(index, message) == slug


def test_message_about_a_pet_matches_nothing(index: TopicIndex) -> None:
    assert index.best("my dog ate some chocolate") is None
    assert index.best("my dog is having a seizure") is None


def test_message_about_a_person_hurt_by_an_animal_still_finds_topic(index: TopicIndex) -> None:
    assert best_slug(index, "my dog bit me on the hand") == "animal-bites"
    assert best_slug(index, "i tripped over the cat and broke my wrist") == "fractures"


def test_everyday_words_are_not_spell_corrected_into_first_aid_words() -> None:
    corrector = SpellingCorrector({"breath", "break", "throat", "blood", "convulsion"})
    for word in ("bread", "threat", "blond", "concussion"):
        assert word in COMMON_WORDS
        assert corrector.correct(word) == word
    assert corrector.correct("brreath") == "breath"


def test_search_returns_at_most_limit_matches_best_first(index: TopicIndex) -> None:
    matches = index.search("burnt my hand on a hot pan and the skin is blistering", limit=2)
    assert 1 <= len(matches) <= 2
    assert matches[0].topic.slug == "burns-and-scalds"
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)


def test_index_build_and_query_take_milliseconds(topics: tuple[Topic, ...]) -> None:
    started = time.perf_counter()
    index = TopicIndex.build(topics)
    build_ms = (time.perf_counter() - started) * 1000
    queries = [
        "my dad is clutching his chest",
        "kid swallowed a coin and cant breath",
        "whats the capital of france",
        "bee sting and her throat is swelling",
    ] * 25
    started = time.perf_counter()
    for query in queries:
        index.best(query)
    query_ms = (time.perf_counter() - started) * 1000 / len(queries)
    print(f"\nindex build: {build_ms:.2f} ms for {len(topics)} topics; query: {query_ms:.3f} ms on average")
    # Generous ceilings so a busy CI machine doesn't flake; typical figures are printed.
    assert build_ms < 100
    assert query_ms < 5


# --- life-threat detection ----------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        "he isnt breathing",
        "my dad collapsed in the kitchen",
        "blood everywhere it wont stop",
        "my dad is clutching his chest",
        "kid swallowed a coin and cant breath",
        "her face is drooping and her speech is slurred",
        "bee sting and her throat is swelling",
        "she took too many pills",
        "he's been having a seizure for 10 minutes",
        "man drowning in the lake",
        "his clothes caught fire",
        "got electrocuted by a cable",
        "i want to kill myself",
        "toddler drank bleach",
        "unconsious and wont wake up",
        "chokeing cant breath",
    ],
)
def test_life_threat_is_detected_in_casual_and_misspelt_messages(message: str) -> None:
    assert signals_life_threat(message) is True


@pytest.mark.parametrize(
    "message",
    [
        "how do I learn CPR for a course",
        "my heart breaks for you",
        "nosebleed",
        "my nose won't stop bleeding",
        "small cut on finger",
        "I'm not choking anymore, thanks",
        "this exam is killing me",
        "i fainted yesterday but i'm fine now",
        "how do i bake bread",
        "i feel a bit sad today",
        "adult tooth knocked out playing hockey",
        "my dog had a seizure",
    ],
)
def test_non_emergencies_do_not_signal_a_life_threat(message: str) -> None:
    assert signals_life_threat(message) is False


def test_suicidal_statement_is_a_life_threat_even_beside_study_words() -> None:
    assert signals_life_threat("i failed my exam and i want to end my life") is True


def test_emergency_preamble_leads_with_the_number_in_bold() -> None:
    line = emergency_preamble("112")
    assert line.startswith("**Call 112 now**")
    assert "\n" not in line


# --- composing replies --------------------------------------------------------------


def test_compose_substitutes_number(by_slug: dict[str, Topic]) -> None:
    reply = compose_reply(by_slug["cpr-adult"], "000")
    assert EMERGENCY_NUMBER_PLACEHOLDER not in reply
    assert "1. Call 000 now" in reply
    assert "Call 000 if:" in reply


def test_compose_renders_title_numbered_steps_do_nots_and_sources(
    by_slug: dict[str, Topic],
) -> None:
    topic = by_slug["nosebleed"]
    lines = compose_reply(topic, "999").splitlines()
    assert lines[0] == f"**{topic.title}**"
    assert lines[2] == f"1. {topic.steps[0]}"
    assert f"{len(topic.steps)}. {topic.steps[-1]}" in lines
    assert lines[lines.index("Do not:") + 1] == f"- {topic.do_not[0]}"
    assert lines[-1].startswith("Source: ")
    assert "NHS" in lines[-1]


def test_braces_in_guidance_or_number_do_not_break_composing() -> None:
    topic = Topic(
        title="Test {braces}",
        slug="test",
        keywords=("test",),
        life_threatening=True,
        steps=("Call {emergency_number} and say {this}.",),
        do_not=(),
        call_emergency_when=("{0} happens",),
        sources=("NHS",),
    )
    reply = compose_reply(topic, "{999}")
    assert "1. Call {999} and say {this}." in reply
    assert "- {0} happens" in reply
    assert "Do not:" not in reply


