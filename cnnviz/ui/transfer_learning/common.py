"""What the transfer-learning page's modules share: the widget-key prefix and the session's
temporary folder.

Per-session files (an unpacked zip, an uploaded weights file) go into one `Workspace` kept in
st.session_state. When the session ends Streamlit drops its session state; the Workspace's
weakref finalizer then removes the folder, and at the latest the same finalizer runs at exit.
"""

from __future__ import annotations

import streamlit as st

from cnnviz.data import Workspace

KEY = "transfer_learning_"
WORKSPACE = KEY + "workspace"


def workspace() -> Workspace:
    """This session's temporary folder (made on first use)."""
    space = st.session_state.get(WORKSPACE)
    if space is None or space.closed:
        space = st.session_state[WORKSPACE] = Workspace()
    return space
