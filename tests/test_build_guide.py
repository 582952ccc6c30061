"""The page's static copy of the offline guide is built from the function's own topic files."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from firstaid_chat.offline.knowledge import TOPICS_DIR, load_topics

from scripts.build_guide import LIST_FIELDS, build_guide, guide_document

FIELDS = {"slug", "title", "life_threatening", *LIST_FIELDS}


def test_guide_holds_every_topic_life_threatening_first(tmp_path: Path) -> None:
    path = build_guide(tmp_path)
    guide = json.loads(path.read_text(encoding="utf-8"))
    topics = {t.slug: t for t in load_topics()}
    entries = guide["topics"]
    assert sorted(e["slug"] for e in entries) == sorted(topics)
    urgent = [e["life_threatening"] for e in entries]
    assert urgent == sorted(urgent, reverse=True) and any(urgent) and not all(urgent)
    for entry in entries:
        assert set(entry) == FIELDS
        topic = topics[entry["slug"]]
        assert entry["title"] == topic.title
        assert entry["steps"] == list(topic.steps)  # the {emergency_number} placeholder is kept for the page
    assert guide["placeholder"] == "{emergency_number}"
    assert any("{emergency_number}" in e["steps"][0] for e in entries if e["life_threatening"])


@dataclass(frozen=True)
class _TopicWithMoreFields:
    """A topic as a later loader may return it: the page ignores what it does not know."""

    title: str
    slug: str
    life_threatening: bool
    keywords: tuple[str, ...]
    steps: tuple[str, ...]
    do_not: tuple[str, ...]
    call_emergency_when: tuple[str, ...]
    sources: tuple[str, ...]
    age_group: str
    translations: dict[str, str]


def test_fields_the_page_does_not_know_are_left_out() -> None:
    topic = _TopicWithMoreFields(
        "Nosebleed", "nosebleed", False, ("nose",), ("Lean forward.",), (), ("Bleeding over 20 minutes.",),
        ("NHS",), "adult", {"es": "Hemorragia nasal"},
    )
    document = guide_document([topic], "{emergency_number}")
    assert document["topics"] == [
        {
            "slug": "nosebleed",
            "title": "Nosebleed",
            "life_threatening": False,
            "keywords": ["nose"],
            "steps": ["Lean forward."],
            "do_not": [],
            "call_emergency_when": ["Bleeding over 20 minutes."],
            "sources": ["NHS"],
        }
    ]


def test_an_invalid_topic_file_fails_the_build_naming_the_file(tmp_path: Path) -> None:
    topics = tmp_path / "topics"
    shutil.copytree(TOPICS_DIR, topics)
    broken = topics / "nosebleed.toml"
    broken.write_text(broken.read_text(encoding="utf-8").replace('slug = "nosebleed"', 'slug = "nose"'))
    site = tmp_path / "site"
    site.mkdir()
    with pytest.raises(ValueError, match=r"nosebleed\.toml"):
        build_guide(site, topics)
    assert not (site / "guide.json").exists()
