"""The job panel in a real Streamlit script (AppTest): a job started by a button, found again
after a refresh through the query parameters, stopped by the panel's button; a tab without the
jobs key does not find it."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from cnnviz.jobs import JobState, Progress, default_runner
from cnnviz.ui.jobs import SESSION_PARAM, status_line

WAIT = 10.0


def app() -> None:
    import time

    import streamlit as st

    from cnnviz.jobs import Reporter, default_runner
    from cnnviz.ui.jobs import current_job, job_panel, remember_job, session_key

    def forever(*, report: Reporter) -> None:
        step = 0
        while True:
            time.sleep(0.01)
            step += 1
            report(step=step, total=1_000_000, message="Training")

    runner = default_runner()
    handle = current_job(runner, "jobs_test_job")
    if st.button("Start", key="jobs_test_start"):
        job = runner.submit(forever, session=session_key(), device="cpu")
        handle = remember_job(job, "jobs_test_job")
    if handle is not None:
        job_panel(handle, key="jobs_test_panel", draw=lambda p: st.caption(f"step {p.step}"))


def test_panel_survives_a_refresh_and_stops_the_job() -> None:
    at = AppTest.from_function(app, default_timeout=60)
    at.run()
    assert not at.progress
    at.button(key="jobs_test_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    job_id = at.query_params["jobs_test_job"]
    session = at.query_params[SESSION_PARAM]
    handle = default_runner().get(session, job_id)
    try:
        assert handle.state is JobState.RUNNING
        assert at.progress, "no progress bar for the running job"
        deadline = time.monotonic() + WAIT
        while handle.progress().step < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)

        # A refresh: a new Streamlit session with the same URL finds the job again.
        refreshed = AppTest.from_function(app, default_timeout=60)
        refreshed.query_params.update(at.query_params)
        refreshed.run()
        assert not refreshed.exception, [e.value for e in refreshed.exception]
        assert refreshed.progress, "the refreshed page lost the job"
        assert refreshed.progress[0].proto.text.startswith("Training: step ")
        shown = int(refreshed.caption[0].value.split()[-1])
        assert shown >= 1

        # Another tab that only knows the job id (not this tab's key) finds nothing.
        stranger = AppTest.from_function(app, default_timeout=60)
        stranger.query_params["jobs_test_job"] = job_id
        stranger.run()
        assert not stranger.progress and not stranger.exception
        assert "jobs_test_job" not in stranger.query_params

        refreshed.button(key="jobs_test_panel_stop").click().run()
        asked = time.monotonic()
        assert handle.done(WAIT)
        assert time.monotonic() - asked < 2.0  # the stop bound, through the page
        assert handle.state is JobState.STOPPED
        refreshed.run()
        assert not refreshed.exception, [e.value for e in refreshed.exception]
        assert refreshed.progress[0].proto.text.startswith("Stopped after ")
        assert not [b for b in refreshed.button if b.key == "jobs_test_panel_stop"]
    finally:
        handle.stop()


def snapshot(state: JobState, **fields: object) -> Progress:
    base = {"step": 0, "total": None, "metrics": [], "message": "", "elapsed": 0.0, "eta": None}
    return Progress(state=state, **{**base, **fields})


def test_status_lines() -> None:
    queued = snapshot(JobState.QUEUED, position=2, wait=40.0)
    assert status_line(queued) == "Waiting for the CPU: number 2 in the queue, about 40 s to go."
    unknown = snapshot(JobState.QUEUED, position=1, wait=None)
    assert status_line(unknown) == "Waiting for the CPU: number 1 in the queue."

    assert status_line(snapshot(JobState.RUNNING)) == "Starting on the CPU."
    running = snapshot(
        JobState.RUNNING, step=30, total=120, message="Epoch 2", elapsed=65.0, eta=195.0
    )
    assert status_line(running) == (
        "Epoch 2: step 30 of 120, 1 min 05 s so far, about 3 min 15 s left."
    )
    assert status_line(snapshot(JobState.RUNNING, step=7, elapsed=3.0)) == "Step 7, 3 s so far."
    assert status_line(snapshot(JobState.DONE, elapsed=12.0)) == "Finished in 12 s."
    assert status_line(snapshot(JobState.STOPPED, elapsed=4.0)) == "Stopped after 4 s."
    failed = snapshot(JobState.FAILED, error="ValueError: bad batch")
    assert status_line(failed) == "Failed: ValueError: bad batch"
