"""The one way a page shows an error a student caused: the sentence, then what to do."""

from __future__ import annotations

import streamlit as st

from cnnviz.errors import CnnvizError
from cnnviz.ui.formulas import literal


def show_error(err: Exception, *, warning: bool = False) -> None:
    """An error as an st.error (or st.warning): the student's sentence, then the hint."""
    text = literal(str(err))  # layer paths and formulas hold '_' and '*': show them as written
    hint = literal(err.hint) if isinstance(err, CnnvizError) else ""
    body = f"{text}\n\n**{hint}**" if hint else text
    (st.warning if warning else st.error)(body, icon=":material/error:")
