"""Streamlit widgets shared by several pages (the only place in cnnviz that imports streamlit)."""

# Heavy imports happen once, here, during app.py's first run: plotly imports pandas lazily,
# and two sessions doing that at the same moment on a fresh server can meet a partially
# initialized pandas.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import streamlit as st
import torch  # noqa: F401
from streamlit.runtime.pages_manager import PagesManager

from cnnviz.ui import fragment_race, sweeper
from cnnviz.ui.errors import show_error

__all__ = ["show_error"]


def _route_through_app() -> None:
    """Make a first visit to a page's own URL go through app.py's st.navigation.

    Streamlit decides once per server, from the mere existence of pages/, to run a page
    script on its own ('pages directory' mode) until some session has run st.navigation. A
    student who opens /vgg first on a freshly started server would get the old automatic
    sidebar and none of app.py's set-up; switching the mode off and rerunning sends this very
    session through app.py instead.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_route_through_app()
sweeper.start()  # sessions that left are shut down and freed, not kept until the server stops
fragment_race.install()  # a job panel's timer rerun no longer drops the click's run before it
