"""Streamlit widgets shared by several pages (with cnnviz/server/, the only place in cnnviz
that imports streamlit). Public `st.*` only: importing it changes nothing in Streamlit (the
server's patches are cnnviz/server/'s, applied by `cnnviz.server.install()`)."""

# Heavy imports happen once, here, during app.py's first run: plotly imports pandas lazily,
# and two sessions doing that at the same moment on a fresh server can meet a partially
# initialized pandas.
import pandas  # noqa: F401
import plotly.graph_objects  # noqa: F401
import torch  # noqa: F401

from cnnviz.ui.errors import show_error

__all__ = ["show_error"]
