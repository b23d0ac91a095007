"""What the transfer-learning page's modules share: the widget-key prefix, the session's
temporary folder and which weights files its runs use.

Per-session files (an unpacked zip, an uploaded weights file) go into one `Workspace` kept in
st.session_state. When the session ends Streamlit drops its session state; the Workspace's
weakref finalizer then removes the folder, and at the latest the same finalizer runs at exit.
An uploaded weights file stays only while it is in use: the uploader holds it, or a run that
started from it is queued or running.
"""

from __future__ import annotations

import streamlit as st

from cnnviz.data import Workspace
from cnnviz.jobs import default_runner
from cnnviz.ui.jobs import owner_key

KEY = "transfer_learning_"
WORKSPACE = KEY + "workspace"
RUN_WEIGHTS = KEY + "run_weights"  # job id -> the weights file the run started from


def workspace() -> Workspace:
    """This session's temporary folder (made on first use)."""
    space = st.session_state.get(WORKSPACE)
    if space is None or space.closed:
        space = st.session_state[WORKSPACE] = Workspace()
    return space


def remember_run_weights(job_id: str, path: str) -> None:
    """The run `job_id` started from the weights file `path`: keep it until the run ends."""
    st.session_state.setdefault(RUN_WEIGHTS, {})[job_id] = path


def run_weights() -> set[str]:
    """The weights files of this session's runs that have not ended (queued or running)."""
    runs = st.session_state.get(RUN_WEIGHTS)
    if not runs:
        return set()
    live = {h.id for h in default_runner().jobs(owner_key()) if not h.state.finished}
    for job_id in [j for j in runs if j not in live]:
        del runs[job_id]
    return set(runs.values())
