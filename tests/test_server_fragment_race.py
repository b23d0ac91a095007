"""The fragment-rerun race fix, on Streamlit's own AppSession: the end of a click's run, queued
on the event loop by a runner that has since stopped, still reaches the browser when a job
panel's timer rerun arrives in between; without the fix AppSession drops it."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar
from unittest.mock import MagicMock

import pytest
from streamlit.proto.ClientState_pb2 import ClientState
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.runtime import app_session
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.script_data import ScriptData
from streamlit.runtime.scriptrunner import ScriptRunnerEvent

from cnnviz.server import fragment_race
from tests.conftest import run_async

FINISHED = ForwardMsg.ScriptFinishedStatus.FINISHED_SUCCESSFULLY


class StoppedRunner:
    """A runner whose run has finished: it refuses reruns, as Streamlit's does once stopped."""

    def request_rerun(self, rerun_data: Any) -> bool:
        return False

    def request_stop(self) -> None:
        pass


class NewRunner:
    """Stands in for the ScriptRunner AppSession creates: records what it was asked to run."""

    created: ClassVar[list[NewRunner]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.rerun_data = kwargs["initial_rerun_data"]
        self.on_event = self
        self.accepted: list[Any] = []
        NewRunner.created.append(self)

    def connect(self, receiver: Any) -> None:
        pass

    def start(self) -> None:
        pass

    def request_rerun(self, rerun_data: Any) -> bool:
        self.accepted.append(rerun_data)
        return True

    def request_stop(self) -> None:
        pass


@pytest.fixture
def new_runners(monkeypatch: pytest.MonkeyPatch) -> list[NewRunner]:
    assert fragment_race.install()  # also done by cnnviz.server.install()
    NewRunner.created = []
    monkeypatch.setattr(app_session, "ScriptRunner", NewRunner)
    return NewRunner.created


def _session() -> AppSession:
    session = AppSession(
        script_data=ScriptData("app.py"),
        uploaded_file_manager=MagicMock(),
        script_cache=MagicMock(),
        message_enqueued_callback=None,
        user_info={},
    )
    session.has_fragment = lambda fragment_id: True  # type: ignore[method-assign]
    return session


def _finished_runs(session: AppSession) -> list[int]:
    return [
        m.script_finished
        for m in session._browser_queue.flush()
        if m.WhichOneof("type") == "script_finished"
    ]


async def _click_run_ends_then(client_state: ClientState) -> tuple[AppSession, StoppedRunner]:
    """A click's run has finished on its thread: its runner has stopped and its last event
    waits on the event loop when `client_state`'s rerun request is handled."""
    session = _session()
    stopped = StoppedRunner()
    session._scriptrunner = stopped  # type: ignore[assignment]
    session._on_scriptrunner_event(stopped, ScriptRunnerEvent.SCRIPT_STOPPED_WITH_SUCCESS)  # type: ignore[arg-type]
    session.request_rerun(client_state)
    for _ in range(5):  # let the event loop run what is queued
        await asyncio.sleep(0)
    return session, stopped


def test_a_timer_rerun_after_a_finished_run_keeps_that_runs_end(new_runners) -> None:
    timer = ClientState(fragment_id="job_panel", is_auto_rerun=True)
    session, _ = run_async(_click_run_ends_then(timer))
    assert _finished_runs(session) == [FINISHED]  # the click's run ended in the browser too
    assert [r.rerun_data.fragment_id for r in new_runners] == ["job_panel"]
    assert session._scriptrunner is new_runners[0]  # and the fragment ran after it


def test_a_full_rerun_starts_at_once(new_runners) -> None:
    """A click's own rerun replaces the stopped runner as before (it redraws every element)."""

    async def scenario() -> int:
        session = _session()
        session._scriptrunner = StoppedRunner()  # type: ignore[assignment]
        session.request_rerun(ClientState())
        return len(new_runners)  # before the loop ran anything

    created_at_once = run_async(scenario())
    assert created_at_once == 1
    assert new_runners[0].rerun_data.fragment_id is None


def test_a_newer_run_takes_the_waiting_fragment_rerun(new_runners) -> None:
    """A click's full run started while the timer rerun waited: the rerun joins its queue
    instead of replacing it (which would drop that run's messages in turn)."""

    async def scenario() -> AppSession:
        session = _session()
        session._scriptrunner = StoppedRunner()  # type: ignore[assignment]
        session.request_rerun(ClientState(fragment_id="job_panel", is_auto_rerun=True))
        assert not new_runners  # waiting behind the stopped runner's events
        session._scriptrunner = None  # fastReruns: a click's rerun replaces the runner
        session.request_rerun(ClientState())
        for _ in range(5):
            await asyncio.sleep(0)
        return session

    run_async(scenario())
    assert len(new_runners) == 1 and new_runners[0].rerun_data.fragment_id is None
    assert [d.fragment_id for d in new_runners[0].accepted] == ["job_panel"]


def test_the_internals_it_patches_have_the_recorded_shape() -> None:
    """What cnnviz/server/fragment_race.py relies on (streamlit 1.67,
    runtime/app_session.py): if Streamlit reshapes it, this fails before a class meets it."""
    import inspect

    from streamlit.runtime.app_session import AppSessionState
    from streamlit.runtime.scriptrunner import ScriptRunner

    create = inspect.unwrap(AppSession._create_scriptrunner)
    assert str(inspect.signature(create)) == "(self, initial_rerun_data: 'RerunData') -> 'None'"
    assert str(inspect.signature(AppSession.has_fragment)) == (
        "(self, fragment_id: 'str') -> 'bool'"
    )
    assert str(inspect.signature(ScriptRunner.request_rerun)) == (
        "(self, rerun_data: 'RerunData') -> 'bool'"
    )
    init = inspect.getsource(AppSession.__init__)
    for attribute in ("self._scriptrunner:", "self._event_loop =", "self._state ="):
        assert attribute in init
    assert AppSessionState.SHUTDOWN_REQUESTED
    # The race itself: events of a runner that is no longer current are dropped.
    handler = inspect.getsource(AppSession._handle_scriptrunner_event_on_event_loop)
    assert "sender is not self._scriptrunner" in handler
