"""The transfer-learning page's run: a job for this session, drawn live (curves, progress, stop)
by cnnviz.ui.jobs' panel, found again after a refresh."""

from __future__ import annotations

from concurrent.futures import Future

import streamlit as st

from cnnviz.data import ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.jobs import JobHandle, JobState, Progress, default_runner
from cnnviz.plots import transfer_learning as plots
from cnnviz.train import Estimate, FinetuneConfig, FinetuneResult, finetune
from cnnviz.ui.errors import show_error
from cnnviz.ui.jobs import current_job, job_panel, remember_job, session_key
from cnnviz.ui.transfer_learning.common import KEY
from cnnviz.ui.transfer_learning.estimate import estimated_seconds

JOB = KEY + "job"  # the query parameter holding the job's id
JOB_EPOCHS = KEY + "job_epochs"


def start(
    data: ImageDataset, config: FinetuneConfig, probe: Future[Estimate] | None
) -> JobHandle | None:
    """Submit the run for this session; errors (one job at a time) are shown."""
    try:
        handle = default_runner().submit(
            finetune, data, config, session=session_key(), estimate=estimated_seconds(probe)
        )
    except CnnvizError as err:
        show_error(err)
        return None
    st.session_state[JOB_EPOCHS] = config.epochs
    return remember_job(handle, JOB)


def job() -> JobHandle | None:
    """This tab's run, after a refresh too."""
    return current_job(default_runner(), JOB)


def live_panel(handle: JobHandle) -> Progress:
    """Progress bar, ETA, stop button and the curves, redrawn while the job runs."""
    epochs = st.session_state.get(JOB_EPOCHS)

    def draw(p: Progress) -> None:
        st.plotly_chart(plots.curves_figure(p.metrics, epochs), key=KEY + "curves")

    return job_panel(handle, key=KEY + "panel", draw=draw)


def finished_result(handle: JobHandle, progress: Progress) -> FinetuneResult | None:
    """The run's result once it is done (or stopped with what it had learned)."""
    if progress.state not in (JobState.DONE, JobState.STOPPED):
        return None
    try:
        return handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err, warning=True)
        return None
