"""The one way a page shows an error a student caused: the sentence, then what to do."""

from __future__ import annotations

import streamlit as st

from cnnviz.errors import CnnvizError


def show_error(err: Exception, *, warning: bool = False) -> None:
    """An error as an st.error (or st.warning): the student's sentence, then the hint."""
    text = str(err)
    hint = err.hint if isinstance(err, CnnvizError) else ""
    body = f"{text}\n\n**{hint}**" if hint else text
    (st.warning if warning else st.error)(body, icon=":material/error:")
