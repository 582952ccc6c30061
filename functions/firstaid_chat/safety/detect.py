"""Deterministic detection of messages that signal a threat to life, in every language we read.

When this fires, the reply leads with "call the emergency number now", before
any topic or model output, in both modes. It is plain code over data files
rather than a model so that it works offline, gives the same answer every
time, and can be read and reviewed by a speaker of each language.

How a message is checked, for each language it may be written in (the one
identified, plus English, which people mix into every language, plus any
other language of the same script whose stop words appear):

1. It is read the language's way (`language.read`): normalised, word forms
   mapped ("isn't" -> "not"), diacritics-free and spell-corrected forms beside it.
2. Idioms are blanked out ("drowning in paperwork", "me muero de risa"), so
   they can neither fire nor hide a real emergency elsewhere in the message.
3. Each kind of life threat (`signals.toml`) has patterns and "unless"
   patterns in `lang/<code>/emergency.toml`.
4. A match is switched off by its context only when nothing in the message
   says it is happening now ("right now", "help", "ahora"): a remote past
   event in the same sentence ("3 years ago"), a question for information
   or a hypothetical framing it in the same sentence ("signs of ...",
   "what if ..."), or study talk anywhere ("for my first aid exam"). Which
   contexts apply to which kind is in `signals.toml`; a hypothetical never
   switches off talk of suicide.

5. A statistical model (`classifier.py`) gives a second opinion: it vetoes
   a match it finds very unlikely, and on its own calls an emergency that no
   pattern matches (switched off or not) when it is confident and no context
   frames the message.

Recall matters more than precision: telling someone to call who didn't need
to is a small cost; missing a cardiac arrest is not.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import classifier
from .language import ENGLISH, Reading, identify, language_codes, languages, read, read_data, scores
from .text import clauses

SIGNALS_PATH = Path(__file__).resolve().parent / "signals.toml"
CONTEXTS = ("present", "past", "question", "study", "hypothetical", "idioms")
LEADS = frozenset({"emergency", "self_harm", "poisoning"})
_MACRO = re.compile(r"\{([A-Z_]+)\}")
WINDOW = 12  # words per window the model's veto also scores in a longer message
UNSURE_BELOW = 3  # stop words that make a Latin-script language sure enough to try it alone (with English)


@dataclass(frozen=True)
class Kind:
    """One kind of life threat, as `signals.toml` describes it."""

    id: str
    name: str
    switched_off_by: frozenset[str]
    lead: str
    topic_words: str
    vetoable: bool


@dataclass(frozen=True)
class Assessment:
    """What the safety check found in a message.

    `language` is the identified language's code (`lang/<code>/`); `signals`
    the ids of the kinds of life threat the patterns found (empty when none),
    in `signals.toml` order; `likely` whether the statistical model alone
    found one (no pattern names it).
    """

    language: str
    signals: tuple[str, ...]
    likely: bool = False

    @property
    def emergency(self) -> bool:
        """Whether the reply must lead with calling the emergency number."""
        return bool(self.signals) or self.likely

    @property
    def lead(self) -> str | None:
        """Which lead the reply gets: "self_harm", "poisoning", "emergency" or None."""
        leads = {kinds()[signal].lead for signal in self.signals}
        for lead in ("self_harm", "poisoning", "emergency"):
            if lead in leads:
                return lead
        return "emergency" if self.likely else None


@dataclass(frozen=True)
class _Compiled:
    """One language's emergency patterns, compiled."""

    signals: tuple[tuple[str, re.Pattern[str], re.Pattern[str] | None], ...]
    unless: dict[str, re.Pattern[str] | None]
    contexts: dict[str, re.Pattern[str] | None]
    pets: re.Pattern[str] | None
    people: re.Pattern[str] | None
    anywhere: bool  # questions and hypotheticals may follow what they frame (Hindi, Chinese)


@functools.cache
def kinds() -> dict[str, Kind]:
    """The kinds of life threat, in file order, loaded on first use."""
    with SIGNALS_PATH.open("rb") as file:
        data = tomllib.load(file)
    found = {}
    for key, value in data.items():
        lead = str(value["lead"])
        switched_off_by = frozenset(str(context) for context in value["switched_off_by"])
        if lead not in LEADS or not switched_off_by <= set(CONTEXTS):
            raise ValueError(f"signals.toml: [{key}] has an unknown lead or context")
        vetoable = value["vetoable"]
        if not isinstance(vetoable, bool):
            raise ValueError(f"signals.toml: [{key}] vetoable must be true or false")
        found[key] = Kind(key, str(value["name"]), switched_off_by, lead, str(value["topic_words"]), vetoable)
    return found


def assess(message: str) -> Assessment:
    """Identify the language of `message` and the life threats it signals (if any).

    Every language of the message's script is tried (short messages often
    have no stop word to tell "no respira" from "nao respira"), plus English,
    which people mix into every language; a match in one language is switched
    off by context words of any of them ("heart attack 3 saal pehle"). When
    the identified language found nothing but exactly one other did, and too
    few stop words made the identification sure, that one names the language
    of the reply ("jveux mourir", "quero me matar").
    """
    language = identify(message)
    codes = _candidates(message, language)
    contexts = [_compiled(code) for code in codes]
    found: dict[str, list[str]] = {}
    forms: list[str] = []
    silenced: set[str] = set()
    for code in codes:
        reading = read(message, code, correct=code == language)
        forms += reading.forms
        signals = _signals_in(reading, contexts, silenced)
        if signals:
            found[code] = signals
    if language not in found and len(found) == 1 and scores(message).get(language, 0) < UNSURE_BELOW:
        language = next(iter(found))
    every = {signal for signals in found.values() for signal in signals}
    chance = classifier.probability(message)
    trained = classifier.model()
    if chance < trained.veto_below and _every_sentence_below(message, trained.veto_below):
        every = {signal for signal in every if not kinds()[signal].vetoable}
    # A pattern switched off by its context ("not choking anymore") is not overruled.
    likely = (
        not every
        and not silenced
        and chance >= trained.threshold
        and _enough_to_judge(message)
        and not _framed(forms, contexts)
    )
    return Assessment(language, tuple(kind for kind in kinds() if kind in every), likely)


def signals_life_threat(message: str) -> bool:
    """Return True when `message` suggests someone's life may be in danger right now."""
    return assess(message).emergency


def life_threat_signals(message: str) -> list[str]:
    """Name the kinds of life threat `message` signals (empty when none), for logs and tests."""
    return [kinds()[signal].name for signal in assess(message).signals]


def _candidates(message: str, language: str) -> list[str]:
    """The identified language first, English, then the other languages of its script if unsure.

    Unsure: fewer than UNSURE_BELOW stop words decide, or another language has
    as many. Trying fewer languages keeps the first message of an instance
    cheap (each language's patterns are compiled on first use, ~40 ms each).
    """
    found = scores(message)
    best = found.get(language, 0)
    sure = best >= UNSURE_BELOW and sum(score == best for score in found.values()) == 1
    script = languages()[language].script
    others = [] if sure else sorted(lang.code for lang in languages().values() if lang.script == script)
    return list(dict.fromkeys([language, ENGLISH, *others]))


def _signals_in(reading: Reading, contexts: list[_Compiled], silenced: set[str]) -> list[str]:
    """The kinds whose patterns match `reading` and are not switched off; adds those switched off to `silenced`."""
    compiled = _compiled(reading.language)
    forms = [_without_idioms(form, contexts) for form in reading.forms]
    if _about_an_animal_only(forms[0], compiled):
        silenced.add("animal")
        return []
    present = any(_any(other.contexts["present"], forms) for other in contexts)
    found = []
    for signal, pattern, _ in compiled.signals:
        off = frozenset() if present else kinds()[signal].switched_off_by
        # What makes a match innocent in any of the languages tried ("stroke of luck").
        unless = [other.unless[signal] for other in contexts if other.unless[signal] is not None]
        matches = [(form, match) for form in forms for match in pattern.finditer(form)]
        if any(
            not _switched_off(match, form, forms, reading.clause_starts, off, unless, contexts)
            for form, match in matches
        ):
            found.append(signal)
        elif matches:
            silenced.add(signal)
    return found


def _switched_off(
    match: re.Match[str],
    form: str,
    forms: list[str],
    clause_starts: tuple[tuple[int, ...], ...],
    off: frozenset[str],
    unless: list[re.Pattern[str] | None],
    contexts: list[_Compiled],
) -> bool:
    """Whether the match's own sentence ("unless") or its context says it is not an emergency now.

    Context is looked for in every form of the message (as typed, without
    diacritics, spell-corrected), in the same sentence; "before the match"
    compares word positions, which every form shares.
    """
    own = forms.index(form)
    clause = max(0, bisect_right(clause_starts[own], match.start()) - 1)
    words_before = form[clause_starts[own][clause] : match.start()].count(" ")
    for other, starts in zip(forms, clause_starts, strict=True):
        begin = starts[clause]
        end = starts[clause + 1] if clause + 1 < len(starts) else len(other)
        if any(pattern is not None and pattern.search(other, begin, end) for pattern in unless):
            return True
        framed = ((name, lang.contexts[name], lang.anywhere) for name in off for lang in contexts)
        for context, pattern, anywhere in framed:
            if pattern is None:
                continue
            if context == "study":
                if pattern.search(other):
                    return True
            elif context == "past":
                if pattern.search(other, begin, end):
                    return True
            elif any(
                anywhere or other[begin : found.start()].count(" ") < words_before
                for found in pattern.finditer(other, begin, end)
            ):
                return True
    return False


def _every_sentence_below(message: str, bound: float) -> bool:
    """Whether the model scores every run of WINDOW words below `bound` too.

    A long message must not dilute the one sentence that matters ("what a
    lovely day" ten times, then "she is not breathing").
    """
    words = [word for sentence in clauses(message, join_apostrophes=True) for word in sentence]
    if len(words) <= WINDOW:
        return True
    starts = range(0, len(words) - WINDOW + WINDOW // 2, WINDOW // 2)
    return all(classifier.probability(" ".join(words[start : start + WINDOW])) < bound for start in starts)


def _enough_to_judge(message: str) -> bool:
    """Whether the model may call `message` an emergency on its own: two words at least.

    One word ("no", "नहीं") says too little for n-grams; the patterns still
    catch one-word emergencies ("drowning", "overdose"). Chinese is written
    without spaces: there, three characters or more.
    """
    if len(message.split()) >= 2:
        return True
    return sum("\u3400" <= char <= "\u9fff" for char in message) >= 3


def _framed(forms: list[str], contexts: list[_Compiled]) -> bool:
    """Whether a question, past, study, hypothetical or idiom context frames the message and nothing says now."""
    if any(_any(compiled.contexts["present"], forms) for compiled in contexts):
        return False
    framing = ("past", "question", "study", "hypothetical", "idioms")
    return any(_any(compiled.contexts[name], forms) for compiled in contexts for name in framing)


def _any(pattern: re.Pattern[str] | None, forms: list[str]) -> bool:
    return pattern is not None and any(pattern.search(form) for form in forms)


def without_idioms(message: str, code: str) -> str | None:
    """`message` as language `code` (and English) reads it, with its idioms left out, or None if it has none.

    "i nearly died laughing at that movie" -> "i nearly at that movie": what
    the detector ignores, the topic search should ignore too.
    """
    contexts = [_compiled(other) for other in dict.fromkeys((code, ENGLISH))]
    form = read(message, code).forms[0]
    blanked = _without_idioms(form, contexts)
    return None if blanked == form else " ".join(blanked.replace("~", " ").split())


def _without_idioms(form: str, contexts: list[_Compiled]) -> str:
    # Blanked rather than removed, so that sentence offsets stay valid.
    for compiled in contexts:
        idioms = compiled.contexts["idioms"]
        if idioms is not None:
            form = idioms.sub(lambda found: "~" * len(found.group()), form)
    return form


def _about_an_animal_only(form: str, compiled: _Compiled) -> bool:
    """A pet's emergency needs a vet, not a call to the human emergency number."""
    if compiled.pets is None or not compiled.pets.search(form):
        return False
    return compiled.people is None or not compiled.people.search(form)


@functools.cache
def _compiled(code: str) -> _Compiled:
    """Compile one language's patterns on first use rather than at import (cold starts)."""
    data = read_data(code, "emergency")
    boundaries = languages()[code].word_boundaries
    macros = {str(name): str(value) for name, value in data["macros"].items()}

    def compile_all(patterns: list[Any], where: str) -> re.Pattern[str] | None:
        if not patterns:
            return None
        # Patterns are read like messages (NFKC, the language's character
        # replacements), so "पड़" in a pattern matches "पड़" typed either way.
        chars = languages()[code].chars
        expanded = (unicodedata.normalize("NFKC", _expand(str(pattern), macros, where)) for pattern in patterns)
        parts = ["".join(chars.get(char, char) for char in part) for part in expanded]
        wrapped = [rf"(?<!\S)(?:{part})(?!\S)" if boundaries else f"(?:{part})" for part in parts]
        try:
            return re.compile("|".join(wrapped))
        except re.error as error:
            raise ValueError(f"lang/{code}/emergency.toml {where}: {error}") from error

    signals = []
    for kind in kinds():
        spec = data["signals"][kind]
        pattern = compile_all(spec["patterns"], f"signals.{kind}.patterns")
        if pattern is None:
            raise ValueError(f"lang/{code}/emergency.toml: signals.{kind} has no patterns")
        signals.append((kind, pattern, compile_all(spec["unless"], f"signals.{kind}.unless")))
    contexts = {name: compile_all(data["context"][name], f"context.{name}") for name in CONTEXTS}
    return _Compiled(
        signals=tuple(signals),
        unless={kind: found for kind, _, found in signals},
        contexts=contexts,
        pets=compile_all(data["animals"]["pets"], "animals.pets"),
        people=compile_all(data["animals"]["people"], "animals.people"),
        anywhere=languages()[code].framing_follows,
    )


def _expand(pattern: str, macros: dict[str, str], where: str) -> str:
    def replace(found: re.Match[str]) -> str:
        if found.group(1) not in macros:
            raise ValueError(f"{where}: unknown macro {found.group(0)}")
        return macros[found.group(1)]

    return _MACRO.sub(replace, pattern)


def compile_every_language() -> None:
    """Load and compile every language's patterns now (tests; a broken file raises ValueError)."""
    for code in language_codes():
        _compiled(code)
