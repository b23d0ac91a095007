"""The transfer-learning page's run: a job for this session, drawn live (curves, progress, stop)
by cnnviz.ui.jobs' panel, found again after a refresh; what it was started with, in words, so
its results can say which settings they belong to."""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import streamlit as st

from cnnviz.data import BUILTIN, ImageDataset
from cnnviz.errors import CnnvizError
from cnnviz.jobs import JobHandle, JobState, Progress, default_runner
from cnnviz.notation import counted
from cnnviz.plots import transfer_learning as plots
from cnnviz.store import put_dataset, release_dataset
from cnnviz.train import WEIGHTS, FinetuneConfig, FinetuneResult, finetune
from cnnviz.train.export import weights_name
from cnnviz.ui.errors import show_error
from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job
from cnnviz.ui.transfer_learning.common import KEY, remember_run_weights
from cnnviz.ui.transfer_learning.data import DATASET, SOURCES
from cnnviz.ui.transfer_learning.estimate import estimated_seconds
from cnnviz.ui.transfer_learning.setup import WEIGHT_NAMES

JOB = KEY + "job"  # the tag of this page's training job (cnnviz.ui.jobs)
JOB_EPOCHS = KEY + "job_epochs"
RUNS = KEY + "runs"  # job id -> RunRecord, this session's latest runs
KEPT_RUNS = 4
# Beside the Train button (not its tooltip, which would stay up over the heading for the run).
TRAIN_RULE = "One run at a time per student; the server queues runs when the device is busy."


@dataclass(frozen=True)
class RunRecord:
    """What a run was started with, beyond its config: the data and the starting weights in
    words, and the dataset itself (weakly: "is it still the one on the page?")."""

    data: str
    weights: str
    dataset: weakref.ref[ImageDataset]


def data_words(data: ImageDataset) -> str:
    """The page's dataset in words: 'Faces (built in): 200 images in 2 classes',
    'shapes.zip: 12 images in 2 classes'."""
    source = st.session_state.get(KEY + "source")
    name = SOURCES.get(source, "Uploaded data")
    held = st.session_state.get(DATASET)
    if source not in BUILTIN and held is not None and held[1] is data:
        files = [f for f, _ in held[0][0]]
        tops = {f.replace("\\", "/").split("/")[0] for f in files}
        if source == "zip" and files:
            name = files[0]
        elif len(tops) == 1:
            name = f"{tops.pop()}/ (a folder)"
    classes = counted(len(data.classes), "class", "classes")
    return f"{name}: {counted(len(data), 'image')} in {classes}"


def weights_words(weights: str) -> str:
    """The starting weights in words: 'ImageNet', 'Random initialization', or a file by the
    name it was uploaded under (the server's copy has a name of its own)."""
    held = st.session_state.get(KEY + "weights_path")
    if held is not None and held[1] == weights:
        return weights_name(held[0][0])
    return WEIGHT_NAMES.get(weights, weights_name(weights))


def export_weights(weights: str) -> str:
    """The weights as the saved file records them: the config's string, an uploaded file by
    the name it was uploaded under."""
    held = st.session_state.get(KEY + "weights_path")
    return weights_name(held[0][0] if held is not None and held[1] == weights else weights)


def run_record(handle: JobHandle) -> RunRecord | None:
    """What this session started the run with; None for a run found again after a refresh."""
    return st.session_state.get(RUNS, {}).get(handle.id)


def start(data: ImageDataset, config: FinetuneConfig, probe: JobHandle | None) -> JobHandle | None:
    """Submit the run for this session; errors (one job at a time) are shown. The job gets
    the dataset by reference: put in the store shared by the server's processes (once per
    content: a class on a built-in dataset shares one copy), released when the run ends (an
    upload then leaves the store; a built-in dataset stays for the next student)."""
    builtin = st.session_state.get(KEY + "source") in BUILTIN  # ships with the app: public
    try:
        ref = put_dataset(data, private=not builtin)
    except OSError:  # its words would name the server's folders
        show_error(
            CnnvizError(
                "The server could not keep the dataset for the run: its store is not writable "
                "or its disk is full.",
                "Tell the teacher (the folder is CNNVIZ_STORE); then press Train again.",
            )
        )
        return None
    try:
        handle = default_runner().submit(
            finetune, ref, config, session=owner_key(), estimate=estimated_seconds(probe)
        )
    except CnnvizError as err:
        release_dataset(ref)
        show_error(err)
        return None
    st.session_state[JOB_EPOCHS] = config.epochs
    if config.weights not in WEIGHTS:  # an uploaded file: kept until the run ends
        remember_run_weights(handle.id, config.weights)
    runs = st.session_state.setdefault(RUNS, {})
    runs[handle.id] = RunRecord(data_words(data), weights_words(config.weights), weakref.ref(data))
    for old in list(runs)[:-KEPT_RUNS]:
        del runs[old]
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
        result = handle.result(timeout=0)
    except CnnvizError as err:
        show_error(err, warning=True)
        return None
    if result.val_accuracy is None:  # stopped before its first epoch ended
        st.info(
            "The run was stopped before its first epoch finished: no accuracy to show yet. "
            "Press Train to start again.",
            icon=":material/info:",
        )
        return None
    return result
