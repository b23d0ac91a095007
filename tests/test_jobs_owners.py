"""Which browsers are still here (cnnviz.jobs.owners), and the sweep that abandons the jobs of
those that have gone (cnnviz.server.sweeper.abandon_gone) against a real runner."""

from __future__ import annotations

import time

from cnnviz.jobs import JobState, Reporter, default_runner
from cnnviz.jobs.owners import OWNERS, Owners
from cnnviz.server import sweeper


def test_an_owner_is_gone_only_when_none_of_its_sessions_is_left() -> None:
    owners = Owners()
    owners.seen("alice", "tab1")
    owners.seen("alice", "tab2")
    owners.seen("bob", "tab3")
    assert owners.gone({"tab1", "tab2", "tab3"}) == []
    assert owners.gone({"tab2", "tab3"}) == []  # alice closed one tab: still here
    assert owners.gone({"tab3"}) == ["alice"]  # her last tab's reconnect window ran out
    assert len(owners) == 1
    assert owners.gone({"tab3"}) == []  # forgotten: said once
    owners.seen("bob", "tab4")  # a refresh: a new session of the same browser
    assert owners.gone({"tab4"}) == []
    assert owners.gone(set()) == ["bob"]


def forever(*, report: Reporter) -> None:
    step = 0
    while True:
        time.sleep(0.01)
        step += 1
        report(step=step)


def test_the_sweep_stops_the_jobs_of_a_browser_that_has_gone() -> None:
    runner = default_runner()
    OWNERS.gone(set())  # forget the browsers earlier tests' sessions registered
    OWNERS.seen("gone-browser", "gone-session")
    OWNERS.seen("present-browser", "present-session")
    gone = runner.submit(forever, session="gone-browser", device="cpu")
    here = runner.submit(forever, session="present-browser", device="cpu")
    try:
        assert sweeper.abandon_gone(None) == 0  # no server to ask: nothing is abandoned
        assert gone.state in (JobState.QUEUED, JobState.RUNNING)
        # The server's sessions: only the present browser's is left.
        assert sweeper.abandon_gone({"present-session"}) == 1
        assert gone.done(10) and gone.state is JobState.STOPPED
        assert runner.jobs("gone-browser") == []
        assert here.state in (JobState.QUEUED, JobState.RUNNING)
        assert sweeper.abandon_gone({"present-session"}) == 0
    finally:
        here.stop()
        gone.stop()
        OWNERS.gone(set())
