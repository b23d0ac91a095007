"""A page's side of a job: which browser tab it belongs to, finding it again after a refresh,
and a progress panel that redraws itself without rerunning the page.

    runner = default_runner()
    handle = current_job(runner, "finetune_job")           # after a refresh too
    if st.button("Train", key="finetune_train"):
        handle = remember_job(runner.submit(train, data, session=session_key()), "finetune_job")
    if handle:
        job_panel(handle, key="finetune_panel", draw=lambda p: st.plotly_chart(curves(p)))

The panel is an `st.fragment(run_every=...)`: while the job runs only the panel reruns, so a
widget change elsewhere never waits for training, and the job's thread never calls streamlit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import streamlit as st

from cnnviz.errors import JobNotFound
from cnnviz.jobs import JobHandle, JobRunner, JobState, Progress, devices
from cnnviz.notation import duration

SESSION_PARAM = "jobs"  # query parameter keeping this tab's jobs key across a refresh
_SESSION_STATE = "_cnnviz_jobs_session"


def session_key() -> str:
    """This tab's key for the runner, unguessable. A refresh starts a new Streamlit session, so
    the key also lives in the query parameters: a refresh (or the same URL) finds the jobs."""
    key = st.session_state.get(_SESSION_STATE) or st.query_params.get(SESSION_PARAM)
    if not key:
        key = secrets.token_urlsafe(16)
    st.session_state[_SESSION_STATE] = key
    if st.query_params.get(SESSION_PARAM) != key:
        st.query_params[SESSION_PARAM] = key
    return key


def remember_job(handle: JobHandle, param: str) -> JobHandle:
    """Keep the job's id in the query parameter `param` (the page's name as prefix)."""
    st.query_params[param] = handle.id
    return handle


def current_job(runner: JobRunner, param: str) -> JobHandle | None:
    """The job whose id is in the query parameter `param`, if this tab owns it and the server
    still keeps it; a stale id is dropped from the URL."""
    job_id = st.query_params.get(param)
    if not job_id:
        return None
    try:
        return runner.get(session_key(), job_id)
    except JobNotFound:
        del st.query_params[param]
        return None


def status_line(p: Progress) -> str:
    """One sentence for the job's state, as the panel writes it (the GPU by its name)."""
    device = devices.resolve(p.device).name
    match p.state:
        case JobState.QUEUED:
            wait = f", about {duration(p.wait)} to go" if p.wait is not None else ""
            return f"Waiting for the {device}: number {p.position} in the queue{wait}."
        case JobState.RUNNING if p.step == 0 and not p.message:
            return f"Starting on the {device}."
        case JobState.RUNNING:
            step = f"step {p.step:,} of {p.total:,}" if p.total else f"step {p.step:,}"
            left = f", about {duration(p.eta)} left" if p.eta is not None else ""
            done = f"{step}, {duration(p.elapsed)} so far{left}."
            return f"{p.message}: {done}" if p.message else done.capitalize()
        case JobState.DONE:
            return f"Finished in {duration(p.elapsed)}."
        case JobState.STOPPED:
            return f"Stopped after {duration(p.elapsed)}."
        case _:
            return f"Failed: {p.error}"


def job_panel(
    handle: JobHandle,
    *,
    key: str,
    run_every: float = 1.0,
    draw: Callable[[Progress], None] | None = None,
) -> Progress:
    """The job's state, a progress bar, a stop button and whatever `draw` adds (live curves),
    redrawn every `run_every` seconds while the job is queued or running. When the job ends
    the whole page reruns once, so it can show the results. The snapshot at the page's run."""
    progress = handle.progress()
    every = None if progress.state.finished else run_every
    st.fragment(_panel, run_every=every)(handle, key, draw)
    return progress


def _panel(handle: JobHandle, key: str, draw: Callable[[Progress], None] | None) -> None:
    p = handle.progress()
    seen = f"{key}_state"
    was = st.session_state.get(seen)
    st.session_state[seen] = p.state.value
    if p.state.finished and was in (JobState.QUEUED.value, JobState.RUNNING.value):
        st.rerun(scope="app")  # ended since the last redraw: the page shows the results
    text = status_line(p)
    if p.state is JobState.FAILED:
        st.error(text, icon=":material/error:")
    elif p.state is JobState.QUEUED:
        st.info(text, icon=":material/hourglass_top:")
    else:
        st.progress(p.fraction or (1.0 if p.state is JobState.DONE else 0.0), text=text)
    if not p.state.finished:
        label = "Leave the queue" if p.state is JobState.QUEUED else "Stop"
        st.button(label, key=f"{key}_stop", on_click=handle.stop, icon=":material/stop:")
    if draw is not None:
        draw(p)
