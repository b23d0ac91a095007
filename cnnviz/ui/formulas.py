"""Formulas and text that st.markdown (and st.info, st.warning, ...) shows exactly as written."""

from __future__ import annotations

import re

import streamlit as st

# The characters CommonMark, Streamlit's LaTeX ($) or HTML read as markup inside a line (emphasis,
# code, links, tags, strikethrough, tables, headings). A backslash before ASCII punctuation is a
# valid CommonMark escape; '.', '-', '+' only matter at a line's start, where we never put text.
_MARKUP = re.compile(r"([\\`*_\[\]<>#|~$])")


# Streamlit turns these into arrows and symbols ('->' into '→') in plain text between spaces,
# escaped or not; in a code span they stay as written.
_TYPOGRAPHY = re.compile(r"(?<!\S)(<->|->|<-|--|>=|<=|~=)(?!\S)")


def literal(text: str) -> str:
    """`text` escaped for Markdown: '11*11*3*96' shows as written, not with '11' in italics, and
    '18.2% -> 15.4%' keeps its '->'."""
    parts = _TYPOGRAPHY.split(text)  # odd indices: the symbols Streamlit would replace
    return "".join(
        f"`{part}`" if i % 2 else _MARKUP.sub(r"\\\1", part) for i, part in enumerate(parts)
    )


def formula(text: str) -> str:
    """`text` as a Markdown code span: a formula in monospace, shown exactly as written."""
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def show_worked(rows: list[tuple[str, str]]) -> None:
    """Each quantity with its formula worked with the numbers, one per line."""
    st.markdown("  \n".join(f"**{literal(label)}:** {formula(text)}" for label, text in rows))
