"""A page's side of a job: which browser it belongs to, finding it again after a refresh or in
another tab of the same browser, and a progress panel that redraws itself without rerunning
the page.

    runner = default_runner()
    handle = current_job(runner, "finetune_job")           # after a refresh too
    if st.button("Train", key="finetune_train"):
        handle = remember_job(runner.submit(train, data, session=owner_key()), "finetune_job")
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
from cnnviz.jobs.owners import OWNERS
from cnnviz.notation import duration
from cnnviz.server import script_run
from cnnviz.server.access import BROWSER_COOKIE, owner_of

# Query parameters an older version kept a tab's jobs key and job ids in: a copied address
# carried them, and the job with them. They are dropped from any URL that still has them.
SESSION_PARAM = "jobs"
_OWNER_STATE = "_cnnviz_owner"  # the owner key, once worked out, for this session's reruns
_NOTICE_STATE = "_cnnviz_foreign_job_notice"
FOREIGN_JOB = (
    "The link you opened pointed at a job started in another browser. A job, its progress, "
    "its results and its trained model belong to the browser that started it: this page "
    "shows its defaults."
)


def owner_key() -> str:
    """This browser's key for the job runner: every tab of one browser shares it, a copied
    link does not carry it. It comes from the per-browser secret the server keeps in an
    HttpOnly cookie (`cnnviz.server.access.BROWSER_COOKIE`, set by the server's gate), hashed
    so that the runner never holds the secret itself. Without the gate (a bare `streamlit
    run`, AppTest) a secret of this session stands in: a refresh then starts afresh."""
    key = st.session_state.get(_OWNER_STATE)
    if key:
        return key
    cookie = st.context.cookies.get(BROWSER_COOKIE)
    if isinstance(cookie, str) and len(cookie) >= 16:  # (AppTest's context has no cookies)
        key = owner_of(cookie)
    else:
        key = "session-" + secrets.token_urlsafe(16)
    st.session_state[_OWNER_STATE] = key
    return key


def track_browser() -> str:
    """Record that this session (tab) belongs to this browser, so that the server can tell
    when a browser has gone (`cnnviz.jobs.owners`); app.py calls it on every run."""
    key = owner_key()
    session = script_run.session_id()
    if session is not None:
        OWNERS.seen(key, session)
    return key


def remember_job(handle: JobHandle, param: str) -> JobHandle:
    """Mark the job as this page's `param` job of its owner: `current_job(runner, param)`
    finds it again in any tab of the same browser, after a refresh too. Nothing goes into the
    URL: an address a student copies shows the view, never their job. A notice about a
    foreign link on this page has done its work once the student runs a job of their own."""
    handle.tag = param
    if st.session_state.get(_NOTICE_STATE) == param:
        del st.session_state[_NOTICE_STATE]
    return handle


def current_job(runner: JobRunner, param: str) -> JobHandle | None:
    """This browser's newest `param` job while the server keeps it. A URL that still names a
    job (an address copied from an older version) loses those parameters; when that job is
    not this browser's, the page says so and shows its defaults. The notice stays through
    the page's later runs (the estimate's rerun, a widget change) until the student starts
    a job of their own there: shown for one run only, the estimate's rerun a moment later
    took it away before anyone could read it."""
    _drop_job_params(runner, param)
    if st.session_state.get(_NOTICE_STATE) == param:
        st.info(FOREIGN_JOB, icon=":material/lock:")
    return runner.latest(owner_key(), param)


def _drop_job_params(runner: JobRunner, param: str) -> None:
    params = st.query_params
    job_id = params.get(param)
    if SESSION_PARAM in params:
        del params[SESSION_PARAM]
    if job_id is None:
        return
    del params[param]
    try:
        runner.get(owner_key(), job_id)
    except JobNotFound:
        st.session_state[_NOTICE_STATE] = param


def status_line(p: Progress) -> str:
    """One sentence for the job's state, as the panel writes it (the GPU by its name)."""
    device = devices.name_of(p.device)
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
