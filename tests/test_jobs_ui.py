"""The job panel in a real Streamlit script (AppTest): a job started by a button, found again
after a refresh of the same browser (its owner key), stopped by the panel's button; another
browser that opens a link naming the job sees the page's default and one notice, and the URL
never carries the job."""

from __future__ import annotations

import time

from streamlit.testing.v1 import AppTest

from cnnviz.jobs import JobState, Progress, default_runner
from cnnviz.ui.jobs import _OWNER_STATE, FOREIGN_JOB, SESSION_PARAM, status_line

WAIT = 10.0
TAG = "jobs_test_job"


def app() -> None:
    import time

    import streamlit as st

    from cnnviz.errors import CnnvizError
    from cnnviz.jobs import Reporter, default_runner
    from cnnviz.ui.errors import show_error
    from cnnviz.ui.jobs import current_job, job_panel, owner_key, remember_job

    def forever(*, report: Reporter) -> None:
        step = 0
        while True:
            time.sleep(0.01)
            step += 1
            report(step=step, total=1_000_000, message="Training")

    runner = default_runner()
    handle = current_job(runner, "jobs_test_job")
    if st.button("Start", key="jobs_test_start"):
        try:
            job = runner.submit(forever, session=owner_key(), device="cpu")
            handle = remember_job(job, "jobs_test_job")
        except CnnvizError as err:
            show_error(err)
    if handle is not None:
        job_panel(handle, key="jobs_test_panel", draw=lambda p: st.caption(f"step {p.step}"))


def same_browser(owner: str) -> AppTest:
    """A new session (a refresh, another tab) of the browser whose owner key is `owner`: the
    gate's cookie gives every session of a browser that key; AppTest has no cookies, so the
    key is handed over the way owner_key() keeps it."""
    at = AppTest.from_function(app, default_timeout=60)
    at.session_state[_OWNER_STATE] = owner
    return at


def test_panel_survives_a_refresh_and_stops_the_job() -> None:
    at = AppTest.from_function(app, default_timeout=60)
    at.run()
    assert not at.progress
    at.button(key="jobs_test_start").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.query_params, "the URL must not carry the job or the owner"
    owner = at.session_state[_OWNER_STATE]
    handle = default_runner().latest(owner, TAG)
    assert handle is not None
    try:
        assert handle.state is JobState.RUNNING
        assert at.progress, "no progress bar for the running job"
        deadline = time.monotonic() + WAIT
        while handle.progress().step < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)

        # A refresh: a new Streamlit session of the same browser finds the job again.
        refreshed = same_browser(owner)
        refreshed.run()
        assert not refreshed.exception, [e.value for e in refreshed.exception]
        assert refreshed.progress, "the refreshed page lost the job"
        assert refreshed.progress[0].proto.text.startswith("Training: step ")
        shown = int(refreshed.caption[0].value.split()[-1])
        assert shown >= 1

        # Another browser opening a link that names the job (as older versions put it in the
        # address): the page's default, one notice, the parameters gone, the job untouched.
        stranger = AppTest.from_function(app, default_timeout=60)
        stranger.query_params[TAG] = handle.id
        stranger.query_params[SESSION_PARAM] = "whatever"
        stranger.run()
        assert not stranger.progress and not stranger.exception
        assert [i.value for i in stranger.info] == [FOREIGN_JOB]
        assert TAG not in stranger.query_params and SESSION_PARAM not in stranger.query_params
        assert not [b for b in stranger.button if b.key == "jobs_test_panel_stop"]
        stranger.run()  # a later run of the page (the estimate's rerun, a widget change)
        assert [i.value for i in stranger.info] == [FOREIGN_JOB], "the notice went at once"
        assert handle.state is JobState.RUNNING
        stranger.button(key="jobs_test_start").click().run()  # the stranger's own job
        try:
            stranger.run()
            shown = [i.value for i in stranger.info]  # (their job waits: one slot, taken)
            assert FOREIGN_JOB not in shown, "the notice outlived the stranger's own job"
            assert [b for b in stranger.button if b.key == "jobs_test_panel_stop"]
        finally:
            stranger.button(key="jobs_test_panel_stop").click().run()
        assert handle.state is JobState.RUNNING

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


def test_the_cap_counts_every_tab_of_a_browser() -> None:
    """Two tabs of one browser share its cap (CNNVIZ_JOBS_PER_SESSION, 2 by default): a third
    Start in a third tab is refused with the sentence, the first two jobs run."""
    first = AppTest.from_function(app, default_timeout=60)
    first.run()
    first.button(key="jobs_test_start").click().run()
    owner = first.session_state[_OWNER_STATE]
    tabs = [same_browser(owner) for _ in range(2)]
    try:
        tabs[0].run()
        tabs[0].button(key="jobs_test_start").click().run()
        assert not tabs[0].exception
        assert len([h for h in default_runner().jobs(owner) if not h.state.finished]) == 2
        tabs[1].run()
        tabs[1].button(key="jobs_test_start").click()
        tabs[1].run()
        assert not tabs[1].exception
        refused = " ".join(e.value for e in tabs[1].error)
        assert "one browser (all its tabs together) may have 2 at once" in refused, refused
        assert len([h for h in default_runner().jobs(owner) if not h.state.finished]) == 2
    finally:
        for h in default_runner().jobs(owner):
            h.stop()


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
