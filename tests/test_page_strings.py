"""The page's UI strings: one file per language in static_site/i18n/, every language with every key."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

SITE = Path(__file__).resolve().parents[1] / "static_site"
I18N = SITE / "i18n"
LANGUAGES = ("en", "es", "fr", "de", "pt", "hi", "ar", "zh")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def strings(lang: str) -> dict[str, str]:
    data = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


class _Keys(HTMLParser):
    """The keys index.html asks for in data-i18n and data-i18n-attr."""

    def __init__(self) -> None:
        super().__init__()
        self.keys: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "data-i18n" and value:
                self.keys.add(value)
            elif name == "data-i18n-attr" and value:
                self.keys.update(pair.split(":")[1].strip() for pair in value.split(";") if ":" in pair)


def test_the_page_offers_exactly_the_eight_languages() -> None:
    assert sorted(p.stem for p in I18N.glob("*.json")) == sorted(LANGUAGES)
    script = (SITE / "i18n.js").read_text(encoding="utf-8")
    assert f"export const LANGUAGES = {json.dumps(list(LANGUAGES))};" in script
    options = re.findall(r'<option value="(\w+)" lang="\1">', (SITE / "index.html").read_text(encoding="utf-8"))
    assert options == list(LANGUAGES)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_language_has_every_key_with_the_same_placeholders(lang: str) -> None:
    english = strings("en")
    other = strings(lang)
    assert sorted(other) == sorted(english)
    for key, text in other.items():
        assert isinstance(text, str) and text.strip(), f"{lang}.json: {key} is empty"
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), f"{lang}.json: {key}"


def test_every_key_the_page_uses_exists() -> None:
    parser = _Keys()
    parser.feed((SITE / "index.html").read_text(encoding="utf-8"))
    used_in_scripts = {
        key
        for path in SITE.glob("*.js")
        for key in re.findall(r"\bt\(\s*\"(\w+)\"", path.read_text(encoding="utf-8"))
    }
    english = strings("en")
    assert parser.keys, "index.html names no keys"
    assert sorted((parser.keys | used_in_scripts) - set(english)) == []
