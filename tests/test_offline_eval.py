"""Evaluation of the offline first-aid mode on realistic messages (tests/data/firstaid_eval.jsonl).

Each line is {"message": ..., "topic": "<slug>" or "none", "life_threat": true|false}.
Run with -s to see the figures table and every miss.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from firstaid_chat.offline.knowledge import load_topics
from firstaid_chat.offline.retrieval import TopicIndex
from firstaid_chat.offline.text import normalise
from firstaid_chat.safety.detect import signals_life_threat

EVAL_PATH = Path(__file__).parent / "data" / "firstaid_eval.jsonl"


@dataclass(frozen=True)
class Example:
    """One labelled message from the evaluation set."""

    message: str
    topic: str
    life_threat: bool


@dataclass
class Figures:
    """What the offline mode got right and wrong on the evaluation set."""

    labelled: int = 0
    top1_correct: int = 0
    top3_correct: int = 0
    off_topic: int = 0
    off_topic_correct: int = 0
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    topic_misses: list[str] = field(default_factory=list)
    threat_misses: list[str] = field(default_factory=list)

    @property
    def top1_accuracy(self) -> float:
        return self.top1_correct / self.labelled

    @property
    def none_accuracy(self) -> float:
        return self.off_topic_correct / self.off_topic

    @property
    def threat_precision(self) -> float:
        flagged = self.true_positives + self.false_positives
        return self.true_positives / flagged if flagged else 0.0

    @property
    def threat_recall(self) -> float:
        return self.true_positives / (self.true_positives + self.false_negatives)


def load_examples() -> list[Example]:
    lines = EVAL_PATH.read_text(encoding="utf-8").splitlines()
    return [Example(**json.loads(line)) for line in lines if line.strip()]


def evaluate(index: TopicIndex, examples: list[Example]) -> Figures:
    figures = Figures()
    for example in examples:
        found = [match.topic.slug for match in index.search(example.message, limit=3)]
        top = found[0] if found else "none"
        if example.topic == "none":
            figures.off_topic += 1
            figures.off_topic_correct += top == "none"
        else:
            figures.labelled += 1
            figures.top1_correct += top == example.topic
            figures.top3_correct += example.topic in found
        if top != example.topic:
            figures.topic_misses.append(f"{example.message!r}: want {example.topic}, got {found}")
        flagged = signals_life_threat(example.message)
        figures.true_positives += flagged and example.life_threat
        figures.false_positives += flagged and not example.life_threat
        figures.false_negatives += example.life_threat and not flagged
        if flagged != example.life_threat:
            figures.threat_misses.append(f"{example.message!r}: want life_threat={example.life_threat}")
    return figures


def report(figures: Figures, examples: list[Example]) -> str:
    threats = sum(example.life_threat for example in examples)
    rows = [
        ("messages", f"{len(examples)}"),
        ("labelled with a topic", f"{figures.labelled}"),
        ("off-topic (none)", f"{figures.off_topic}"),
        ("signalling a life threat", f"{threats}"),
        ("top-1 accuracy (labelled)", f"{figures.top1_accuracy:.3f}"),
        ("top-3 accuracy (labelled)", f"{figures.top3_correct / figures.labelled:.3f}"),
        ("correct 'none' (off-topic)", f"{figures.none_accuracy:.3f}"),
        ("life-threat precision", f"{figures.threat_precision:.3f}"),
        ("life-threat recall", f"{figures.threat_recall:.3f}"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = ["", "Offline first-aid evaluation", *(f"  {n:<{width}}  {v}" for n, v in rows)]
    lines += ["Topic misses:", *(f"  {miss}" for miss in figures.topic_misses or ["(none)"])]
    lines += ["Life-threat misses:", *(f"  {miss}" for miss in figures.threat_misses or ["(none)"])]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def examples() -> list[Example]:
    return load_examples()


@pytest.fixture(scope="module")
def figures(examples: list[Example]) -> Figures:
    result = evaluate(TopicIndex.build(load_topics()), examples)
    print(report(result, examples))
    return result


def test_eval_set_is_large_and_covers_every_topic_twice(examples: list[Example]) -> None:
    counts = Counter(example.topic for example in examples)
    slugs = {topic.slug for topic in load_topics()}
    assert len(examples) >= 170
    assert sum(count for topic, count in counts.items() if topic != "none") >= 130
    assert counts["none"] >= 40
    assert set(counts) - {"none"} <= slugs, "labels must name real topics"
    assert {slug: counts[slug] for slug in slugs if counts[slug] < 2} == {}


def test_eval_messages_are_unique_and_not_pasted_into_keywords(examples: list[Example]) -> None:
    messages = [normalise(example.message) for example in examples]
    assert len(set(messages)) == len(messages)
    keywords = {normalise(keyword) for topic in load_topics() for keyword in topic.keywords}
    pasted = [message for message in messages if len(message.split()) >= 3 and message in keywords]
    assert pasted == []


def test_top1_accuracy_on_labelled_messages_is_at_least_90_percent(figures: Figures) -> None:
    assert figures.top1_accuracy >= 0.90


def test_off_topic_messages_match_nothing_at_least_95_percent_of_the_time(
    figures: Figures,
) -> None:
    assert figures.none_accuracy >= 0.95


def test_life_threat_recall_is_at_least_95_percent(figures: Figures) -> None:
    assert figures.threat_recall >= 0.95


def test_life_threat_precision_is_at_least_85_percent(figures: Figures) -> None:
    assert figures.threat_precision >= 0.85
