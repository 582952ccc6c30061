"""The statistical second opinion of the emergency detector (safety/classifier.py).

The shipped model file must be exactly what scripts/train_detector.py makes
from the development splits, its run-time scoring must agree with
scikit-learn's, and no held-out message may be in its training data.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from firstaid_chat.safety import classifier
from firstaid_chat.safety.detect import Assessment, assess

from tests.safety_figures import load_split

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trainer() -> ModuleType:
    spec = importlib.util.spec_from_file_location("train_detector", ROOT / "scripts" / "train_detector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["train_detector"] = module
    spec.loader.exec_module(module)
    return module


def test_the_shipped_model_is_what_training_on_the_development_splits_makes(trainer: ModuleType) -> None:
    assert classifier.MODEL_PATH.read_text(encoding="utf-8") == trainer.train(), (
        "classifier.tsv differs from a retrain: run .venv/bin/python scripts/train_detector.py"
    )


def test_no_held_out_message_is_trained_on(trainer: ModuleType) -> None:
    trained = {text.casefold().strip() for text, _ in trainer.examples()}
    for split in trainer.HELD_OUT:
        held_out = load_split(split)
        assert held_out, split
        assert not [example.text for example in held_out if example.text.casefold().strip() in trained]
    assert not set(trainer.TRAINING) & set(trainer.HELD_OUT)


def test_run_time_scoring_agrees_with_scikit_learn(trainer: ModuleType) -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    data = trainer.examples()
    texts = [classifier.prepared(text) for text, _ in data]
    vectorizer = TfidfVectorizer(
        analyzer="char_wb", ngram_range=trainer.SIZES, min_df=2, sublinear_tf=True, lowercase=False
    )
    fitted = LogisticRegression(C=trainer.C, max_iter=5000, class_weight="balanced").fit(
        vectorizer.fit_transform(texts), [label for _, label in data]
    )
    probe = [*(example.text for example in load_split("frozen2")[:150]), "", "!!!", "x", "hi there"]
    expected = fitted.predict_proba(vectorizer.transform([classifier.prepared(text) for text in probe]))[:, 1]
    for text, want in zip(probe, expected, strict=True):
        # The file keeps six decimals of each weight.
        assert classifier.probability(text) == pytest.approx(want, abs=2e-4), text


def test_n_grams_are_those_of_each_padded_word() -> None:
    assert classifier.ngrams("ab c", (1, 3)) == [
        " ",
        "a",
        "b",
        " ",
        " a",
        "ab",
        "b ",
        " ab",
        "ab ",
        " ",
        "c",
        " ",
        " c",
        "c ",
        " c ",
    ]


def test_the_model_alone_calls_a_confident_unframed_message_an_emergency_and_not_a_framed_one() -> None:
    alone = assess("他还有呼吸吗")
    assert alone.signals == () and alone.likely and alone.emergency
    # The model alone would call this one (a remote past event frames it): the framing wins.
    framed = "he went blue and floppy 3 years ago"
    assert classifier.probability(framed) >= classifier.model().threshold
    assert assess(framed) == Assessment(language="en", signals=(), likely=False)


def test_the_model_vetoes_an_unlikely_match_but_never_talk_of_suicide(monkeypatch: pytest.MonkeyPatch) -> None:
    message = "i want to end my life, my dad collapsed and is not breathing"
    assert set(assess(message).signals) >= {"self_harm", "not_breathing"}
    monkeypatch.setattr(classifier, "probability", lambda _: classifier.model().veto_below / 2)
    assert assess(message).signals == ("self_harm",)
    monkeypatch.setattr(classifier, "probability", lambda _: classifier.model().veto_below)
    assert set(assess(message).signals) >= {"self_harm", "not_breathing"}


def test_a_malformed_model_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    broken = tmp_path / "classifier.tsv"
    broken.write_text("setting\tintercept\t0.1\nab\t1.0\n", encoding="utf-8")
    monkeypatch.setattr(classifier, "MODEL_PATH", broken)
    classifier.model.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"classifier\.tsv:2"):
            classifier.model()
        broken.write_text("setting\tintercept\t0.1\nab\t1.0\t2.0\n", encoding="utf-8")
        classifier.model.cache_clear()
        with pytest.raises(ValueError, match="missing or bad setting"):
            classifier.model()
    finally:
        classifier.model.cache_clear()


def test_the_model_alone_never_calls_a_one_word_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(classifier, "probability", lambda _: 0.99)
    for one_word in ("no", "नहीं", "救命", "ok"):
        assert assess(one_word) == Assessment(language=assess(one_word).language, signals=(), likely=False)
    assert assess("他还有呼吸吗").likely and assess("no way").likely
