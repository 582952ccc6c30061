"""A small statistical second opinion on whether a message signals a threat to life.

The patterns (`detect.py`) name what they find and know when context switches
a match off, but they only catch the phrasings somebody wrote down. This
model reads character n-grams, so it also scores phrasings nobody listed
("feels like someone is standing on my chest"), in every language of the
training data. It is a logistic regression over TF-IDF weighted character
1-4-grams within words, trained offline by `scripts/train_detector.py` on the
development splits in tests/data/safety/ (never on a frozen split) and shipped
as the data file `classifier.tsv`: no library and no download at run time.

How `detect.assess` uses it: a message is an emergency when the patterns
find a life threat and the model gives it at least `veto_below`, or when the
model gives it at least `threshold` and no question, past, study or
hypothetical context frames it.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from .text import clauses, fold

MODEL_PATH = Path(__file__).resolve().parent / "classifier.tsv"


@dataclass(frozen=True)
class Model:
    """The trained model: per n-gram inverse document frequency and weight, intercept, n-gram sizes, thresholds."""

    idf: dict[str, float]
    weight: dict[str, float]
    intercept: float
    sizes: tuple[int, int]
    threshold: float
    veto_below: float


def prepared(message: str) -> str:
    """The text the model reads: the message's words, case-folded, Latin diacritics stripped, single spaces."""
    return " ".join(fold(token) for sentence in clauses(message, join_apostrophes=True) for token in sentence)


def ngrams(text: str, sizes: tuple[int, int]) -> list[str]:
    """Character n-grams of each word padded with a space, smallest size first (scikit-learn's `char_wb`)."""
    found: list[str] = []
    low, high = sizes
    for word in text.split():
        padded = f" {word} "
        for size in range(low, high + 1):
            if size > len(padded):
                break
            found.extend(padded[start : start + size] for start in range(len(padded) - size + 1))
    return found


@functools.cache
def model() -> Model:
    """Load `classifier.tsv` on first use (about 16,000 lines).

    Raises ValueError when a line is malformed or a setting is missing.
    """
    settings: dict[str, str] = {}
    idf: dict[str, float] = {}
    weight: dict[str, float] = {}
    for number, line in enumerate(MODEL_PATH.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        if parts[0] == "setting" and len(parts) == 3:
            settings[parts[1]] = parts[2]
        elif len(parts) == 3:
            gram = parts[0].replace("_", " ")
            idf[gram], weight[gram] = float(parts[1]), float(parts[2])
        else:
            raise ValueError(f"classifier.tsv:{number}: expected 3 tab-separated fields")
    try:
        low, high = (int(size) for size in settings["ngram_sizes"].split("-"))
        return Model(
            idf=idf,
            weight=weight,
            intercept=float(settings["intercept"]),
            sizes=(low, high),
            threshold=float(settings["threshold"]),
            veto_below=float(settings["veto_below"]),
        )
    except (KeyError, ValueError) as error:
        raise ValueError(f"classifier.tsv: missing or bad setting: {error}") from error


def probability(message: str) -> float:
    """The model's probability (0 to 1) that `message` signals a present threat to life."""
    found = model()
    counts = Counter(gram for gram in ngrams(prepared(message), found.sizes) if gram in found.idf)
    if not counts:
        return 1 / (1 + math.exp(-found.intercept))
    values = {gram: (1 + math.log(count)) * found.idf[gram] for gram, count in counts.items()}
    norm = math.sqrt(sum(value * value for value in values.values()))
    score = found.intercept + sum(found.weight[gram] * value / norm for gram, value in values.items())
    return 1 / (1 + math.exp(-score))
