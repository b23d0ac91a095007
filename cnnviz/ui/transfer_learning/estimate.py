"""The transfer-learning page's estimate: device, time and trainable parameters from a timing
probe that runs off the script thread."""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor

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


def show_estimate(data: ImageDataset, config: FinetuneConfig) -> Future[Estimate]:
    """Device, estimated time and trainable parameters, once the probe for these choices has
    run (once per choice: not again for a new seed or learning rate)."""
    key = (id(data), dataclasses.replace(config, seed=0, lr=1e-3, head_lr_factor=10.0))
    held = st.session_state.get(ESTIMATE)
    if held is None or held[0] != key:
        held = (key, _PROBES.submit(estimate, data, config))
        st.session_state[ESTIMATE] = held
    probe = held[1]
    # Once a second, as the job panel: each timed run is a chance for a click to meet it.
    st.fragment(_estimate_panel, run_every=None if probe.done() else 1.0)(probe)
    return probe


def _estimate_panel(probe: Future[Estimate]) -> None:
    waited = ESTIMATE + "_waiting"
    if not probe.done():
        st.session_state[waited] = True
        st.caption("Timing a few training steps for the estimate...")
        return
    if st.session_state.pop(waited, False):
        st.rerun(scope="app")  # stops this panel's timer
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
