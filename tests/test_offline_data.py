"""The offline guide's word lists are data files: a broken one must fail loudly, naming itself.

The lists (common_words.txt, stopwords.txt, subject.toml, word_forms.toml in
functions/firstaid_chat/offline/) are read once when the modules that use them
are imported; a missing file, a TOML syntax error or an entry the normaliser
could never produce is a bug in the data and must stop the function at
start-up with the file (and line or list) named, never match quietly wrong.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from firstaid_chat.offline import lexicon

from tests import components

OFFLINE_DIR = Path(lexicon.__file__).resolve().parent
SUBJECT_LISTS = ("infant", "child")


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------- word lists ----


def test_a_word_list_reads_one_word_a_line_without_comments_or_blanks(tmp_path: Path) -> None:
    path = write(tmp_path / "words.txt", "# a header\n#\nbread\n\n  cooking  \n# a note\n999\n")
    assert lexicon.read_words(path) == frozenset({"bread", "cooking", "999"})


def test_a_missing_word_list_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"common_words\.txt: cannot be read"):
        lexicon.read_words(tmp_path / "common_words.txt")


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("two words", "one word a line"),
        ("Bread", "lower-case letters and digits only"),
        ("don't", "lower-case letters and digits only"),
        ("bread # a note", "one word a line"),
    ],
)
def test_a_word_the_normaliser_never_produces_is_rejected_with_its_line(tmp_path: Path, line: str, reason: str) -> None:
    path = write(tmp_path / "stopwords.txt", f"# header\nthe\n{line}\n")
    with pytest.raises(ValueError, match=rf"stopwords\.txt:3: {line!r}.*{reason}"):
        lexicon.read_words(path)


def test_a_repeated_word_is_rejected_with_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "stopwords.txt", "the\na\nthe\n")
    with pytest.raises(ValueError, match=r"stopwords\.txt:3: 'the' repeats line 1"):
        lexicon.read_words(path)


def test_an_empty_word_list_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "stopwords.txt", "# only a header\n")
    with pytest.raises(ValueError, match=r"stopwords\.txt: holds no words"):
        lexicon.read_words(path)


# ------------------------------------------------------ tables of word lists ----


def test_word_lists_read_from_toml(tmp_path: Path) -> None:
    path = write(tmp_path / "subject.toml", 'infant = ["baby", "newborn"]\n# a comment\nchild = ["kid"]\n')
    assert lexicon.read_word_lists(path, SUBJECT_LISTS) == {
        "infant": frozenset({"baby", "newborn"}),
        "child": frozenset({"kid"}),
    }


def test_a_missing_toml_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"subject\.toml: cannot be read"):
        lexicon.read_word_lists(tmp_path / "subject.toml", SUBJECT_LISTS)


def test_a_toml_syntax_error_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "subject.toml", 'infant = ["baby", "newborn"\nchild = ["kid"]\n')
    with pytest.raises(ValueError, match=r"subject\.toml: not valid TOML"):
        lexicon.read_word_lists(path, SUBJECT_LISTS)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('infant = ["baby"]\n', r"subject\.toml: missing list\(s\) 'child'"),
        ('infant = ["baby"]\nchild = ["kid"]\nchlid = ["boy"]\n', r"subject\.toml: unknown list\(s\) 'chlid'"),
        ('infant = "baby"\nchild = ["kid"]\n', r"subject\.toml: infant must be a list of words"),
        ('infant = ["baby", 1]\nchild = ["kid"]\n', r"subject\.toml: infant must be a list of words"),
        ('infant = ["baby"]\nchild = []\n', r"subject\.toml: child holds no words"),
        ('infant = ["baby", "Baby Boy"]\nchild = ["kid"]\n', r"subject\.toml: infant: 'Baby Boy'"),
        ('infant = ["baby", "baby"]\nchild = ["kid"]\n', r"subject\.toml: infant: 'baby' is listed twice"),
    ],
)
def test_a_malformed_word_table_is_rejected_naming_file_and_list(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "subject.toml", text)
    with pytest.raises(ValueError, match=problem):
        lexicon.read_word_lists(path, SUBJECT_LISTS)


# ---------------------------------------------------------------- rewrites ----


def test_rewrites_read_phrases_as_word_tuples_and_words_as_a_mapping(tmp_path: Path) -> None:
    path = write(
        tmp_path / "word_forms.toml",
        '[phrases]\n"epi pen" = "epipen"\n"a bit" = ""\nnosebleed = "nose bleed"\n[words]\nisnt = "not"\n',
    )
    rewrites = lexicon.read_rewrites(path)
    assert rewrites.phrases == {("epi", "pen"): "epipen", ("a", "bit"): "", ("nosebleed",): "nose bleed"}
    assert rewrites.words == {"isnt": "not"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[phrases]\n"a b" = "c"\n', r"word_forms\.toml: needs exactly the tables \[phrases\] and \[words\]"),
        ('[phrases]\n"epi-pen" = "epipen"\n[words]\n', r"word_forms\.toml: \[phrases\] 'epi-pen'"),
        ('[phrases]\n"epi pen" = 1\n[words]\n', r"word_forms\.toml: \[phrases\] 'epi pen'"),
        ('[phrases]\n[words]\n"is not" = "not"\n', r"word_forms\.toml: \[words\] 'is not'"),
        ('[phrases]\n[words]\nisnt = "not at all"\n', r"word_forms\.toml: \[words\] 'isnt'"),
        ('[phrases]\n[words]\nisnt = ""\n', r"word_forms\.toml: \[words\] 'isnt'"),
        ('[phrases]\n"epi  pen" = "epipen"\n[words]\n', r"word_forms\.toml: \[phrases\] 'epi  pen'"),
        ('[phrases]\n"a" = "b"\n[words]\n"a" = "c"\n"a" = "d"\n', r"word_forms\.toml: not valid TOML"),
    ],
)
def test_a_malformed_rewrite_is_rejected_naming_file_and_entry(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path / "word_forms.toml", text)
    with pytest.raises(ValueError, match=problem):
        lexicon.read_rewrites(path)


def test_a_missing_rewrites_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"word_forms\.toml: cannot be read"):
        lexicon.read_rewrites(tmp_path / "word_forms.toml")


# ------------------------------------------------------ the packaged files ----


def data_files() -> list[str]:
    return sorted(
        str(path.relative_to(OFFLINE_DIR.parents[1]))
        for path in OFFLINE_DIR.rglob("*")
        if path.is_file() and path.suffix in (".txt", ".toml")
    )


def test_the_packaged_word_lists_load() -> None:
    """The modules read them at import; this names the lists so a rename is noticed here."""
    from firstaid_chat.offline import common_words, retrieval, subject, text

    assert {"bread", "concussion", "batter"} <= common_words.COMMON_WORDS
    assert {"the", "please", "baby", "mum"} <= retrieval.STOPWORDS
    assert "newborn" in subject.INFANT_WORDS and "puppy" in subject.PET_WORDS
    assert text.WORD_FORMS["didnt"] == "not"
    assert "severe" in text.KEPT_WHOLE and text.stem("severe") == "severe" != text.stem("severed")
    assert {"firstaid_chat/offline/common_words.txt", "firstaid_chat/offline/word_forms.toml"} <= set(data_files())


@pytest.mark.parametrize("name", ["common_words.txt", "stopwords.txt", "subject.toml", "word_forms.toml", "stems.toml"])
def test_importing_the_matcher_without_a_word_list_fails_naming_it(tmp_path: Path, name: str) -> None:
    """A copy of the package with one list deleted: the import itself fails, and says which file."""
    package = tmp_path / "firstaid_chat"
    package.mkdir()
    shutil.copy(OFFLINE_DIR.parent / "__init__.py", package / "__init__.py")
    shutil.copytree(OFFLINE_DIR, package / "offline", ignore=shutil.ignore_patterns("__pycache__"))
    (package / "offline" / name).unlink()
    result = subprocess.run(
        [sys.executable, "-c", "import firstaid_chat.offline.retrieval"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path)},
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert f"ValueError: {package / 'offline' / name}: cannot be read" in result.stderr


def test_every_data_file_of_the_guide_is_uploaded_with_the_function(tmp_path: Path) -> None:
    """gcloud's own reading of functions/.gcloudignore: the lists must ship with the code that reads them."""
    gcloud = shutil.which("gcloud")
    if gcloud is None:
        components.missing("gcloud", "gcloud is not on PATH")
    assert gcloud is not None
    functions_dir = OFFLINE_DIR.parents[1]
    result = subprocess.run(
        [gcloud, "meta", "list-files-for-upload", str(functions_dir)],
        capture_output=True,
        text=True,
        env={**os.environ, "CLOUDSDK_CONFIG": str(tmp_path / "gcloud-config")},
        timeout=90,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    missing = set(data_files()) - set(result.stdout.split())
    assert missing == set()
