"""The transfer-learning page's estimate: device, time and trainable parameters from a timing
probe that runs off the script thread."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor, wait

import streamlit as st

from cnnviz.data import ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.notation import duration
from cnnviz.train import Estimate, FinetuneConfig, estimate
from cnnviz.ui.errors import show_error
from cnnviz.ui.transfer_learning.common import KEY

# The timing probe runs off the script thread (a full fine-tune's probe takes seconds on a busy
# CPU): one probe at a time for the whole server, so a class changing settings cannot pile up
# probes that compete with the training jobs.
_PROBES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cnnviz-estimate")
ESTIMATE = KEY + "estimate"
# The longest one run waits for its probe: the probe itself takes under a second to a few
# seconds; more means it is queued behind other sessions' probes.
WAIT_S = 60.0


def show_estimate(data: ImageDataset, config: FinetuneConfig) -> Future[Estimate]:
    """Device, estimated time and trainable parameters, once the probe for these choices has
    run (once per choice: not again for a new seed or learning rate).

    The run waits for the probe here instead of polling it with an
    `st.fragment(run_every=...)`: a timed fragment rerun that reaches the server just after a
    widget's full rerun has finished on its script thread starts a new ScriptRunner, and
    Streamlit then drops every message of the finished run (AppSession ignores events from a
    non-current runner), so the browser never shows the click (a lost data-source click).
    cnnviz/server/fragment_race.py now closes that race for every fragment; waiting here also
    shows the estimate in the very run that asked for it."""
    key = (id(data), dataclasses.replace(config, seed=0, lr=1e-3, head_lr_factor=10.0))
    held = st.session_state.get(ESTIMATE)
    if held is None or held[0] != key:
        held = (key, _PROBES.submit(estimate, data, config))
        st.session_state[ESTIMATE] = held
    probe = held[1]
    if not probe.done():
        slot = st.empty()
        slot.caption("Timing a few training steps for the estimate...")
        # A click meanwhile starts a new run at once (fastReruns); this one ends at its next
        # st call once the probe is done.
        wait([probe], timeout=WAIT_S)
        slot.empty()
    if probe.done():
        _draw_estimate(probe)
    else:  # other sessions' probes are ahead of it: no timer, a button to look again
        st.caption("The server is busy timing other runs: the estimate is not ready yet.")
        st.button("Show the estimate", key=KEY + "estimate_again", icon=":material/refresh:")
    return probe


def _draw_estimate(probe: Future[Estimate]) -> None:
    err = probe.exception()
    if isinstance(err, CnnvizError):
        show_error(err)
        return
    e = probe.result()  # any other error is a bug: let it show
    cols = st.columns(3)
    cols[0].metric("Device", e.device_name)
    cols[1].metric("Estimated time", duration(e.seconds))
    cols[2].metric(
        "Trainable parameters",
        f"{e.trainable_parameters:,}",
        help=f"Of {e.total_parameters:,} in all.",
    )


def estimated_seconds(probe: Future[Estimate] | None) -> float | None:
    """The probe's estimate if it is ready (the queue shows the wait to those behind)."""
    if probe is None or not probe.done() or probe.exception() is not None:
        return None
    return probe.result().seconds
