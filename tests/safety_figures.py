"""Figures of the safety checks on the multilingual evaluation splits (tests/data/safety/).

Each split is a folder of JSON Lines files, one per language, each line
{"id", "lang", "text", "label", "topics", "note"?}: label is life_threat,
urgent, non_urgent or off_topic; topics the guide topics that would be a right
answer (empty when none). `dev/` is what the rules were tuned on; `frozen/`
was written blind, before tuning, and is only scored.

Recall is over life_threat messages; false alarms over non_urgent and
off_topic ones (urgent messages count for neither: calling may or may not be
right). Topic accuracy is top-1 in the acceptable list, over messages with
topics; "known" restricts it to messages whose acceptable list names at least
one topic the guide has.

Run `python -m tests.safety_figures dev` (from the repository root) for the
table and every miss.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "functions"))

from firstaid_chat.offline.knowledge import load_topics  # noqa: E402
from firstaid_chat.safety.detect import assess  # noqa: E402
from firstaid_chat.safety.retrieval import find_topic  # noqa: E402

SPLITS = ROOT / "tests" / "data" / "safety"
LANGUAGES = ("en", "es", "fr", "de", "pt", "hi", "hi-Latn", "ar", "zh")
LABELS = frozenset({"life_threat", "urgent", "non_urgent", "off_topic"})
QUIET = frozenset({"non_urgent", "off_topic"})


@dataclass(frozen=True)
class Example:
    """One labelled message."""

    id: str
    lang: str
    text: str
    label: str
    topics: tuple[str, ...]


@dataclass
class Figures:
    """Counts for one language (or all pooled)."""

    threats: int = 0
    caught: int = 0
    quiet: int = 0
    false_alarms: int = 0
    with_topics: int = 0
    topic_right: int = 0
    known: int = 0
    known_right: int = 0
    language_right: int = 0
    messages: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.threats if self.threats else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return self.false_alarms / self.quiet if self.quiet else 0.0

    def add(self, other: Figures) -> None:
        for name in (
            "threats",
            "caught",
            "quiet",
            "false_alarms",
            "with_topics",
            "topic_right",
            "known",
            "known_right",
            "language_right",
            "messages",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))


def load_split(split: str) -> list[Example]:
    """Every example of `split` ("dev" or "frozen"), checked for shape."""
    examples = []
    for path in sorted((SPLITS / split).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            row = json.loads(line)
            if row.get("label") not in LABELS or row.get("lang") not in LANGUAGES:
                raise ValueError(f"{path.name}:{number}: bad label or lang")
            examples.append(Example(row["id"], row["lang"], row["text"], row["label"], tuple(row.get("topics") or ())))
    return examples


def evaluate(examples: list[Example], guide_topics: frozenset[str]) -> dict[str, Figures]:
    """Figures per language, plus "all" pooled."""
    from firstaid_chat.offline.retrieval import default_index

    index = default_index()
    per: dict[str, Figures] = {}
    for example in examples:
        figures = per.setdefault(example.lang, Figures())
        figures.messages += 1
        found = assess(example.text)
        figures.language_right += found.language == example.lang
        if example.label == "life_threat":
            figures.threats += 1
            figures.caught += found.emergency
            if not found.emergency:
                figures.misses.append(f"missed  {example.id}: {example.text}")
        elif example.label in QUIET:
            figures.quiet += 1
            figures.false_alarms += found.emergency
            if found.emergency:
                figures.misses.append(f"alarm   {example.id} {list(found.signals)}: {example.text}")
        if example.topics:
            match = find_topic(example.text, found, index)
            slug = match.topic.slug if match else "none"
            right = slug in example.topics
            figures.with_topics += 1
            figures.topic_right += right
            if set(example.topics) & guide_topics:
                figures.known += 1
                figures.known_right += right
                if not right:
                    want = list(example.topics)
                    figures.misses.append(f"topic   {example.id} got {slug}, want {want}: {example.text}")
    pooled = Figures()
    for figures in per.values():
        pooled.add(figures)
    return {**{lang: per[lang] for lang in LANGUAGES if lang in per}, "all": pooled}


def report(split: str, figures: dict[str, Figures], *, misses: bool = False) -> str:
    """A table of the figures per language, and optionally every miss."""
    lines = [
        "",
        f"Safety evaluation, {split} split",
        f"  {'lang':<8} {'n':>4} {'lang-id':>7} {'threats':>7} {'recall':>6} {'quiet':>5} "
        f"{'alarms':>6} {'FA rate':>7} {'topics':>6} {'top-1':>5} {'known':>5} {'top-1':>5}",
    ]
    for lang, f in figures.items():
        topic = f.topic_right / f.with_topics if f.with_topics else 0.0
        known = f.known_right / f.known if f.known else 0.0
        lines.append(
            f"  {lang:<8} {f.messages:>4} {f.language_right / f.messages:>7.2f} {f.threats:>7} {f.recall:>6.3f} "
            f"{f.quiet:>5} {f.false_alarms:>6} {f.false_alarm_rate:>7.3f} {f.with_topics:>6} {topic:>5.2f} "
            f"{f.known:>5} {known:>5.2f}"
        )
    if misses:
        for lang, f in figures.items():
            if lang != "all" and f.misses:
                lines += [f"{lang}:", *(f"  {miss}" for miss in f.misses)]
    return "\n".join(lines)


def latency(examples: list[Example]) -> str:
    """Detection time per message, median and 99th percentile over the split (warm)."""
    for example in examples:
        assess(example.text)
    times = []
    for example in examples:
        start = time.perf_counter()
        assess(example.text)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    median, p99 = times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]
    return (
        f"detection latency over {len(times)} messages: "
        f"median {median:.2f} ms, p99 {p99:.2f} ms, max {times[-1]:.2f} ms"
    )


def unseen(examples: list[Example], seen: list[Example]) -> list[Example]:
    """The examples whose text does not also occur in `seen` (the writers reused some texts in both splits)."""
    texts = {example.text.casefold().strip() for example in seen}
    return [example for example in examples if example.text.casefold().strip() not in texts]


def subset_reports(split: str, examples: list[Example], guide: frozenset[str]) -> list[str]:
    """The reports on a split's telling subsets: held-out texts in no development split, dev's blind part."""
    if split == "frozen":
        fresh = unseen(examples, load_split("dev"))
        return [report(f"frozen, only the {len(fresh)} texts not also in dev", evaluate(fresh, guide))]
    if split == "frozen5":
        seen = [load_split(name) for name in ("dev", "frozen", "frozen2", "frozen3", "frozen4")]
        fresh = unseen(examples, [example for split_examples in seen for example in split_examples])
        return [report(f"{split}, only the {len(fresh)} texts in no development split", evaluate(fresh, guide))]
    if split == "dev":
        # dv-, dv3-, dv4-, dv5-, d6a- to d8b-: written blind;
        # own-, pins-, sole-: written by us or against the patterns.
        blind = [example for example in examples if example.id.startswith(("dv", "d6", "d7", "d8"))]
        return [report(f"dev, only the {len(blind)} messages written blind", evaluate(blind, guide))]
    return []


def main() -> None:
    split = sys.argv[1] if len(sys.argv) > 1 else "dev"
    examples = load_split(split)
    guide = frozenset(topic.slug for topic in load_topics())
    print(report(split, evaluate(examples, guide), misses=True))
    for text in subset_reports(split, examples, guide):
        print(text)
    print(latency(examples))


if __name__ == "__main__":
    main()
