"""The transfer-learning page's estimate: device, time and trainable parameters from a timing
probe, run as a job of the browser through the job runner (`cnnviz.jobs`), so that every piece
of background work is counted, stopped and freed in one place.

The probe waits in a lane of its own (`JobRunner.submit(lane=...)`): one probe at a time for
the whole server, so a class changing settings cannot pile up probes that compete with the
training runs, never behind a training run, and outside the browser's limit of runs. The
page's run does not wait for it: while it runs, a small fragment says so and looks again every
half second; once it has answered, the page reruns once and shows the estimate.
"""

from __future__ import annotations

import dataclasses

import streamlit as st

from cnnviz.data import BUILTIN, ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.jobs import JobHandle, JobState, Reporter, default_runner
from cnnviz.notation import duration
from cnnviz.store import DatasetRef, default_store, get_dataset, put_dataset, release_dataset
from cnnviz.train import Estimate, FinetuneConfig, estimate
from cnnviz.ui.errors import show_error
from cnnviz.ui.jobs import owner_key
from cnnviz.ui.transfer_learning.common import KEY

ESTIMATE = KEY + "estimate"  # session state: (the probe's key, its job)
LANE = "probe"
POLL_S = 0.5
TIMING = "Timing a few training steps for the estimate..."
QUEUED = "The server is timing other runs first: the estimate follows."
STORED = (
    "Another run already extracted this dataset's features with this backbone and these "
    "weights: this run reads them and trains its own head."
)


def probe(data: ImageDataset | DatasetRef, config: FinetuneConfig, *, report: Reporter) -> Estimate:
    """The job: `cnnviz.train.estimate` (seconds; it reports nothing, so once running it
    cannot be stopped, only forgotten). `data` by reference (cnnviz.store), as the page hands
    it: read from the store, released when the probe ends."""
    try:
        store = default_store()
    except OSError:  # a store folder this process cannot use: estimate as without features
        store = None
    if not isinstance(data, DatasetRef):
        return estimate(data, config, store)
    try:
        return estimate(get_dataset(data), config, store)
    finally:
        release_dataset(data)


def show_estimate(data: ImageDataset, config: FinetuneConfig) -> JobHandle:
    """Device, estimated time and trainable parameters, once the probe for these choices has
    run (once per choice: not again for a new seed or learning rate). A probe for choices
    since changed leaves the queue."""
    key = (id(data), dataclasses.replace(config, seed=0, lr=1e-3, head_lr_factor=10.0))
    held = st.session_state.get(ESTIMATE)
    # A stopped probe: the server freed the jobs of a browser it thought gone; time again.
    if held is None or held[0] != key or held[1].state is JobState.STOPPED:
        if held is not None:
            held[1].stop()  # queued: it leaves the queue; running: its answer is not read
        builtin = st.session_state.get(KEY + "source") in BUILTIN  # ships with the app
        try:
            ref = put_dataset(data, private=not builtin)
        except OSError:  # no store to be had: the probe takes the dataset itself
            ref = data
        try:
            handle = default_runner().submit(
                probe, ref, config, session=owner_key(), device=config.device, lane=LANE,
                tag=ESTIMATE,
            )  # fmt: skip
        except BaseException:
            if isinstance(ref, DatasetRef):
                release_dataset(ref)
            raise
        held = (key, handle)
        st.session_state[ESTIMATE] = held
    handle = held[1]
    if handle.state.finished:
        _draw_estimate(handle)
    else:
        st.fragment(_wait_for, run_every=POLL_S)(handle)
    return handle


def _wait_for(handle: JobHandle) -> None:
    """While the probe runs: a line saying so, and the page's one rerun once it has ended."""
    if handle.state.finished:
        st.rerun(scope="app")
    if handle.state is JobState.QUEUED:
        st.caption(QUEUED)
    else:
        st.caption(TIMING)


def _draw_estimate(handle: JobHandle) -> None:
    try:
        e = handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err)
        return
    # any other error is a bug: let it show
    cols = st.columns(3)
    cols[0].metric("Device", e.device_name)
    cols[1].metric(
        "Estimated time",
        duration(e.seconds),
        help=STORED if e.features_stored else None,
    )
    cols[2].metric(
        "Trainable parameters",
        f"{e.trainable_parameters:,}",
        help=f"Of {e.total_parameters:,} in all.",
    )


def estimated_seconds(probe: JobHandle | None) -> float | None:
    """The probe's estimate if it is ready (the queue shows the wait to those behind)."""
    if probe is None or probe.state is not JobState.DONE:
        return None
    return probe.result(timeout=0).seconds
