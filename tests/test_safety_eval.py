"""The safety checks on the multilingual evaluation splits: figures printed, bounds and floors asserted.

Roles of the splits in tests/data/safety/ (each written blind, by writers who
saw neither the rules nor the other splits, except dev/own-*.jsonl):
- dev/: tuned on (patterns, and the training data of the n-gram model);
  blind6-*.jsonl is the newest blind development set.
- frozen/: scored once (0.885 recall, 3.2% false alarms), then tuned on; its
  issue bounds are a regression guard.
- frozen2/: scored once (0.871 / 6.6%), then retired into development (tuned
  on, and trained on); its floors are a regression guard.
- frozen3/: scored with the first rules-and-model detector (0.953 / 6.5%; the
  detector before the model: 0.815 / 10.0%) and twice more after further
  development (0.970 / 6.0%, 0.977 / 5.5%), then retired into development
  once frozen5/ was written; its floors are a regression guard.
- frozen4/: written blind beside two more development sets, scored once with
  the detector as committed: 0.966 / 4.0% (the detector before the model:
  0.779 / 8.0%); 0.970 / 4.5% after a later fix for short chat follow-ups;
  0.966 / 3.0% before it too was retired into development, once frozen5/
  was written; its floors are a regression guard.
- frozen5/: written blind beside a sixth development set (dev/blind6-*), in
  two halves by two writers, before any of the development since; scored
  once at its end: recall 0.987 (each language 0.935 or more), false alarms
  1.0% (2 of 192); 0.990 / 1.0% at a second scoring, after general fixes
  from a new user's trial of the service. The detector before that development scored 0.990 / 2.1%
  on it, so this split is easier than frozen3/ and frozen4/ were. Never tuned
  or trained on; the issue bounds are asserted on it.
  scripts/train_detector.py leaves out any text a held-out split shares with a
  development split. The floors stop later work from silently making held-out
  behaviour worse.

Run with -s to see, per language and split: life-threat recall, false alarms
on non-urgent and off-topic messages (urgent ones count for neither), topic
accuracy (top-1 in the acceptable list; "known" = messages naming at least one
topic the guide has), language identification, and detection latency. See
tests/safety_figures.py.
"""

from __future__ import annotations

import pytest
from firstaid_chat.offline.knowledge import load_topics

from tests.safety_figures import (
    LANGUAGES,
    SPLITS,
    Figures,
    evaluate,
    latency,
    load_split,
    report,
    subset_reports,
    unseen,
)

RECALL_BOUND = {"en": 0.95} | {code: 0.90 for code in LANGUAGES if code != "en"}
FALSE_ALARM_BOUND = 0.03


def figures_of(split: str) -> dict[str, Figures]:
    if not any((SPLITS / split).glob("*.jsonl")):
        pytest.fail(f"tests/data/safety/{split}/ has no *.jsonl files")
    examples = load_split(split)
    guide = frozenset(topic.slug for topic in load_topics())
    figures = evaluate(examples, guide)
    print(report(split, figures, misses=split in ("frozen", "frozen2")))
    for text in subset_reports(split, examples, guide):
        print(text)
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


@pytest.fixture(scope="module")
def frozen5() -> dict[str, Figures]:
    return figures_of("frozen5")


@pytest.fixture(scope="module")
def frozen3() -> dict[str, Figures]:
    return figures_of("frozen3")


@pytest.fixture(scope="module")
def frozen4() -> dict[str, Figures]:
    return figures_of("frozen4")


@pytest.mark.parametrize("split", ["dev", "frozen", "frozen2", "frozen3", "frozen4", "frozen5"])
def test_each_split_covers_every_language_with_threats_and_quiet_messages(split: str) -> None:
    examples = load_split(split)
    assert len(examples) >= 300
    for code in LANGUAGES:
        labels = [example.label for example in examples if example.lang == code]
        assert labels.count("life_threat") >= 10, (split, code)
        assert sum(label in ("non_urgent", "off_topic") for label in labels) >= 10, (split, code)


def test_no_frozen_message_was_copied_into_our_own_development_messages() -> None:
    # The split writers reused some texts (the issue's probe messages, greetings)
    # in both splits; figures on the frozen texts not also in dev are printed too.
    own = [example for example in load_split("dev") if example.id.startswith("own")]
    assert unseen(own, load_split("frozen")) == own
    assert unseen(own, load_split("frozen3")) == own
    assert unseen(own, load_split("frozen4")) == own
    # Three short texts of frozen5 ("mein akku ist tot") coincide with own messages written
    # before it existed; none written since (own15-, own16-) is in it.
    since = [example for example in own if example.id.startswith(("own15", "own16"))]
    assert since and unseen(since, load_split("frozen5")) == since
    assert len(own) - len(unseen(own, load_split("frozen5"))) == 3


@pytest.mark.parametrize("code", LANGUAGES)
def test_held_out_life_threat_recall_meets_the_issue_bound(frozen5: dict[str, Figures], code: str) -> None:
    assert frozen5[code].recall >= RECALL_BOUND[code], f"{code}: held-out recall under its bound"


def test_held_out_false_alarms_meet_the_issue_bound(frozen5: dict[str, Figures]) -> None:
    # Pooled, as the bound is stated: one false alarm in a language's 19 or 20 quiet messages is 5%.
    assert frozen5["all"].false_alarm_rate <= FALSE_ALARM_BOUND, "held-out false alarms over 3%"


def test_development_figures_are_printed(dev: dict[str, Figures]) -> None:
    assert set(dev) == {*LANGUAGES, "all"}


@pytest.mark.parametrize("code", LANGUAGES)
def test_frozen_life_threat_recall_meets_its_bound(frozen: dict[str, Figures], code: str) -> None:
    assert frozen[code].recall >= RECALL_BOUND[code], frozen[code].misses


@pytest.mark.parametrize("code", [*LANGUAGES, "all"])
def test_frozen_false_alarms_are_at_most_3_percent(frozen: dict[str, Figures], code: str) -> None:
    assert frozen[code].false_alarm_rate <= FALSE_ALARM_BOUND, frozen[code].misses


# frozen2, scored once with the rules as they were then: pooled recall 0.871, false alarms 6.6%.
# Now development data; these floors are far below its current figures and only catch a collapse.
FROZEN2_RECALL_FLOOR = 0.85
FROZEN2_FALSE_ALARM_CEILING = 0.08


def test_retired_held_out_figures_do_not_get_worse(frozen2: dict[str, Figures]) -> None:
    assert frozen2["all"].recall >= FROZEN2_RECALL_FLOOR, frozen2["all"].misses
    assert frozen2["all"].false_alarm_rate <= FROZEN2_FALSE_ALARM_CEILING, frozen2["all"].misses


# frozen3, scored once with the rules and the model as then committed: pooled recall 0.953 (en 0.924,
# de 0.897), false alarms 6.5% (hi 20%, ar 15%). Since retired into development (tuned and trained
# on); the floors, the first measured figures rounded down, only catch a collapse.
FROZEN3_RECALL_FLOOR = 0.95
FROZEN3_LANGUAGE_RECALL_FLOOR = 0.89
FROZEN3_FALSE_ALARM_CEILING = 0.07


def test_retired_frozen3_figures_do_not_get_worse(frozen3: dict[str, Figures]) -> None:
    assert frozen3["all"].recall >= FROZEN3_RECALL_FLOOR, "held-out recall fell"
    assert frozen3["all"].false_alarm_rate <= FROZEN3_FALSE_ALARM_CEILING, "held-out false alarms rose"
    assert min(frozen3[code].recall for code in LANGUAGES) >= FROZEN3_LANGUAGE_RECALL_FLOOR, "a language fell"


# frozen4, scored once with the detector as then committed: pooled recall 0.966 (en 0.939, hi-Latn
# 0.897), false alarms 4.0%. Since retired into development; the floors only catch a collapse.
FROZEN4_RECALL_FLOOR = 0.96
FROZEN4_LANGUAGE_RECALL_FLOOR = 0.89
FROZEN4_FALSE_ALARM_CEILING = 0.05


def test_retired_frozen4_figures_do_not_get_worse(frozen4: dict[str, Figures]) -> None:
    assert frozen4["all"].recall >= FROZEN4_RECALL_FLOOR, "held-out recall fell"
    assert frozen4["all"].false_alarm_rate <= FROZEN4_FALSE_ALARM_CEILING, "held-out false alarms rose"
    assert min(frozen4[code].recall for code in LANGUAGES) >= FROZEN4_LANGUAGE_RECALL_FLOOR, "a language fell"
