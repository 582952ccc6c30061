"""The safety package's language data: one folder per language, the same files and keys in each."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from firstaid_chat.safety import detect, lead
from firstaid_chat.safety.language import LANG_DIR, language_codes, languages

LANGUAGES = ("ar", "de", "en", "es", "fr", "hi", "hi-Latn", "pt", "zh")
FILES = ("chat.toml", "emergency.toml", "glossary.toml", "language.toml", "lead.toml")


def load(code: str, name: str) -> dict[str, object]:
    with (LANG_DIR / code / name).open("rb") as file:
        return tomllib.load(file)


def test_every_language_has_a_folder_with_the_same_files() -> None:
    assert language_codes() == tuple(sorted(LANGUAGES))
    for code in LANGUAGES:
        assert sorted(path.name for path in (LANG_DIR / code).iterdir()) == sorted(FILES), code


@pytest.mark.parametrize("name", FILES)
def test_every_language_file_has_the_same_top_level_keys(name: str) -> None:
    keys = {code: sorted(load(code, name)) for code in LANGUAGES}
    assert len({tuple(value) for value in keys.values()}) == 1, keys


def test_every_language_has_patterns_for_every_kind_and_every_context() -> None:
    kinds = set(detect.kinds())
    for code in LANGUAGES:
        data = load(code, "emergency.toml")
        signals = data["signals"]
        assert isinstance(signals, dict) and set(signals) == kinds, code
        for kind, spec in signals.items():
            assert set(spec) == {"patterns", "unless"}, (code, kind)
            assert spec["patterns"], (code, kind)
        assert set(data["context"]) == set(detect.CONTEXTS), code  # type: ignore[arg-type]
        assert set(data["animals"]) == {"pets", "people"}, code  # type: ignore[arg-type]


def test_every_lead_text_is_there_and_has_its_placeholder() -> None:
    needs = {"emergency": "{number}", "self_harm": "{number}", "no_match": "{number}"}
    needs |= {"crisis_line": "{crisis_line}", "poison_centre": "{poison_centre}"}
    for code in LANGUAGES:
        texts = lead.texts(code)
        assert set(texts) == set(lead.LEAD_KEYS), code
        for key, placeholder in needs.items():
            assert placeholder in texts[key], (code, key)
        assert "**" in texts["emergency"], code  # the call to action is bold in every language


def test_every_pattern_compiles() -> None:
    detect.compile_every_language()


def test_a_broken_pattern_is_reported_with_its_file_and_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from firstaid_chat.safety import language

    for code in LANGUAGES:
        shutil.copytree(LANG_DIR / code, tmp_path / code)
    path = tmp_path / "fr" / "emergency.toml"
    text = path.read_text(encoding="utf-8")
    broken = text.replace("'au fond de la piscine',", "'au fond de la (piscine',", 1)
    assert broken != text, "the pattern this test breaks is gone: pick another"
    path.write_text(broken, encoding="utf-8")
    monkeypatch.setattr(language, "LANG_DIR", tmp_path)
    detect._compiled.cache_clear()
    language.languages.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"lang/fr/emergency.toml signals.drowning.patterns"):
            detect.compile_every_language()
    finally:
        detect._compiled.cache_clear()
        language.languages.cache_clear()


def test_scripts_and_boundaries_are_declared() -> None:
    by_code = languages()
    assert {code for code, lang in by_code.items() if lang.script != "latin"} == {"ar", "hi", "zh"}
    assert {code for code, lang in by_code.items() if not lang.word_boundaries} == {"ar", "zh"}
