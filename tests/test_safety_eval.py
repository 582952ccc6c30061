"""The safety checks on the multilingual evaluation splits: figures printed, bounds on the frozen split.

tests/data/safety/dev/ is what the rules were tuned on (written blind by a
separate pass, plus `own-*.jsonl`, written by the rules' author); frozen/ was
written blind before tuning and scored once with the rules final (pooled recall
0.885, false alarms 3.2%); the kinds of miss it showed were then fixed with new
development messages, so its figures now are optimistic and its bounds are a
regression guard. frozen2/ was written blind afterwards, by a writer who saw
neither the rules nor the other splits, and scored once with the rules as they
are: the honest estimate for new messages. It is never tuned on; its floors
below only stop later tuning from silently making held-out behaviour worse. Run with -s to see, per
language and split: life-threat recall, false alarms on non-urgent and
off-topic messages (urgent ones count for neither), topic accuracy (top-1 in
the acceptable list; "known" = messages naming at least one topic the guide
has), language identification, and detection latency. See tests/safety_figures.py.
"""

from __future__ import annotations

import pytest
from firstaid_chat.offline.knowledge import load_topics

from tests.safety_figures import LANGUAGES, SPLITS, Figures, evaluate, latency, load_split, report, unseen

RECALL_BOUND = {"en": 0.95} | {code: 0.90 for code in LANGUAGES if code != "en"}
FALSE_ALARM_BOUND = 0.03


def figures_of(split: str) -> dict[str, Figures]:
    if not any((SPLITS / split).glob("*.jsonl")):
        pytest.fail(f"tests/data/safety/{split}/ has no *.jsonl files")
    examples = load_split(split)
    guide = frozenset(topic.slug for topic in load_topics())
    figures = evaluate(examples, guide)
    print(report(split, figures, misses=split in ("frozen", "frozen2")))
    if split == "frozen":
        fresh = unseen(examples, load_split("dev"))
        print(report(f"frozen, only the {len(fresh)} texts not also in dev", evaluate(fresh, guide)))
    elif split == "dev":
        blind = [example for example in examples if not example.id.startswith("own")]
        print(report(f"dev, only the {len(blind)} messages written blind", evaluate(blind, guide)))
    print(latency(examples))
    return figures


@pytest.fixture(scope="module")
def dev() -> dict[str, Figures]:
    return figures_of("dev")


@pytest.fixture(scope="module")
def frozen() -> dict[str, Figures]:
    return figures_of("frozen")


@pytest.fixture(scope="module")
def frozen2() -> dict[str, Figures]:
    return figures_of("frozen2")


@pytest.mark.parametrize("split", ["dev", "frozen", "frozen2"])
def test_each_split_covers_every_language_with_threats_and_quiet_messages(split: str) -> None:
    examples = load_split(split)
    assert len(examples) >= 300
    for code in LANGUAGES:
        labels = [example.label for example in examples if example.lang == code]
        assert labels.count("life_threat") >= 10, (split, code)
        assert sum(label in ("non_urgent", "off_topic") for label in labels) >= 10, (split, code)


def test_no_frozen_message_was_copied_into_our_own_development_messages() -> None:
    # The split writers reused some texts (the probe messages, greetings)
    # in both splits; figures on the frozen texts not also in dev are printed too.
    own = [example for example in load_split("dev") if example.id.startswith("own")]
    assert unseen(own, load_split("frozen")) == own


def test_development_figures_are_printed(dev: dict[str, Figures]) -> None:
    assert set(dev) == {*LANGUAGES, "all"}


@pytest.mark.parametrize("code", LANGUAGES)
def test_frozen_life_threat_recall_meets_its_bound(frozen: dict[str, Figures], code: str) -> None:
    assert frozen[code].recall >= RECALL_BOUND[code], frozen[code].misses


@pytest.mark.parametrize("code", [*LANGUAGES, "all"])
def test_frozen_false_alarms_are_at_most_3_percent(frozen: dict[str, Figures], code: str) -> None:
    assert frozen[code].false_alarm_rate <= FALSE_ALARM_BOUND, frozen[code].misses


# Measured once on frozen2 with the rules as committed: pooled recall 0.871 (en 0.86, fr and de
# 0.75), false alarms 6.6%. Below the bounds: the detector does not yet generalise that far.
FROZEN2_RECALL_FLOOR = 0.85
FROZEN2_FALSE_ALARM_CEILING = 0.08


def test_held_out_figures_do_not_get_worse(frozen2: dict[str, Figures]) -> None:
    assert frozen2["all"].recall >= FROZEN2_RECALL_FLOOR, frozen2["all"].misses
    assert frozen2["all"].false_alarm_rate <= FROZEN2_FALSE_ALARM_CEILING, frozen2["all"].misses

