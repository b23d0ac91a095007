"""One spelling: the libraries' own, US (torchvision and plotly write color, center, gray;
labeled, analyze, behavior, initialization follow).

Code, identifiers, docstrings, comments and user-facing strings follow them, so that a
student who reads `marker_color` next to our names never meets both spellings. The words are
matched as parts of words (`hex_col...r`, `CELL_COL...RS`), in any case. README.md, the
project's prose for readers, is left to its own editor and not searched.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import ROOT

# Spelled in pieces so that this file does not match itself. "analysis" is US too: only the
# verb's British forms count.
BRITISH = re.compile(
    "|".join(
        (
            "col" + "our",
            "cent" + "re",
            "gr" + "ey",
            "label" + "l",
            r"\banal" + r"ys(e|ed|ing)\b",
            "behavi" + "our",
            "initiali" + "s",
        )
    ),
    re.IGNORECASE,
)
TREES = ("cnnviz", "pages", "tests", "bench")
FILES = ("app.py",)
SUFFIXES = {".py", ".md", ".toml", ".json", ".txt", ".css", ".js", ".html"}


def source_files() -> list[Path]:
    found = [ROOT / f for f in FILES]
    for tree in TREES:
        found += [p for p in (ROOT / tree).rglob("*") if p.is_file() and p.suffix in SUFFIXES]
    return sorted(p for p in found if "__pycache__" not in p.parts)


def test_the_source_tree_is_searched() -> None:
    """The search sees the files it is meant to: a broken glob would pass on nothing."""
    files = {p.relative_to(ROOT).as_posix() for p in source_files()}
    assert {"app.py", "cnnviz/plots/style.py", "tests/test_spelling.py"} <= files
    assert len(files) > 100


def test_the_pattern_matches_word_parts_in_any_case() -> None:
    for word in ("col" + "ours", "CELL_COL" + "OURS", "Cent" + "res", "gr" + "eyscale"):
        assert BRITISH.search(word), word
    for word in ("label" + "led", "Anal" + "ysing", "anal" + "ysed", "behavi" + "our"):
        assert BRITISH.search(word), word
    for word in ("color", "CELL_COLORS", "centers", "grayscale", "central", "labeled"):
        assert not BRITISH.search(word), word
    for word in ("analysis", "analyze", "Analyzing", "behavior", "initialization"):
        assert not BRITISH.search(word), word


def test_no_british_spelling_in_the_source_tree() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in source_files()
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if BRITISH.search(line)
    ]
    assert not hits, "US spelling (color, center, gray):\n" + "\n".join(hits)
